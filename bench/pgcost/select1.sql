-- The floor: one round trip and one (read-only) transaction.
SELECT 1;
