//! Verified tokens in memory, so that authentication adds no database round
//! trip to most requests. Keyed by the token's SHA-256; bounded; each entry
//! is trusted for at most `ttl` (10 s in production) and then verified
//! again, so a revocation made on another instance takes effect here within
//! `ttl`. The instance that revokes evicts at once ([`Cache::evict_token`]).
//! Unknown hashes are cached too (as `None`): a client retrying a deleted
//! token costs one query per `ttl`, not one per request.
//!
//! Pure data with the clock passed in, so the unit tests below need neither
//! a database nor a runtime.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use uuid::Uuid;

use super::scope::Scopes;
use super::token::TokenHash;

/// A token row as verification needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub token_id: Uuid,
    pub owner: std::sync::Arc<str>,
    pub scopes: Scopes,
    pub expires_at: Option<OffsetDateTime>,
}

struct Entry {
    /// `None`: no such token, or revoked.
    token: Option<Verified>,
    checked: Instant,
}

pub struct Cache {
    entries: HashMap<TokenHash, Entry>,
    max: usize,
    ttl: Duration,
}

impl Cache {
    pub fn new(max: usize, ttl: Duration) -> Cache {
        Cache {
            entries: HashMap::new(),
            max: max.max(1),
            ttl,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `Some(answer)` when an entry checked less than `ttl` ago exists;
    /// `None`: ask the database.
    pub fn get(&self, hash: &TokenHash, now: Instant) -> Option<Option<Verified>> {
        let e = self.entries.get(hash)?;
        (now.saturating_duration_since(e.checked) < self.ttl).then(|| e.token.clone())
    }

    pub fn insert(&mut self, hash: TokenHash, token: Option<Verified>, now: Instant) {
        if self.entries.len() >= self.max && !self.entries.contains_key(&hash) {
            // Stale entries go first; if every entry is fresh (a flood of
            // distinct tokens), any one: the bound holds either way.
            let ttl = self.ttl;
            self.entries
                .retain(|_, e| now.saturating_duration_since(e.checked) < ttl);
            if self.entries.len() >= self.max {
                if let Some(k) = self.entries.keys().next().copied() {
                    self.entries.remove(&k);
                }
            }
        }
        self.entries.insert(
            hash,
            Entry {
                token,
                checked: now,
            },
        );
    }

    /// Forgets tokens at once (they were revoked here): one pass over the
    /// entries however many ids (a revocation's whole lineage).
    pub fn evict_tokens(&mut self, ids: &[Uuid]) {
        let ids: std::collections::HashSet<&Uuid> = ids.iter().collect();
        self.entries
            .retain(|_, e| e.token.as_ref().is_none_or(|t| !ids.contains(&t.token_id)));
    }

    /// Forgets every token of an owner.
    pub fn evict_owner(&mut self, owner: &str) {
        self.entries
            .retain(|_, e| e.token.as_ref().is_none_or(|t| &*t.owner != owner));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(n: u128) -> Verified {
        Verified {
            token_id: Uuid::from_u128(n),
            owner: "o".into(),
            scopes: Scopes::default(),
            expires_at: None,
        }
    }

    fn hash(n: u8) -> TokenHash {
        [n; 32]
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let t0 = Instant::now();
        let mut c = Cache::new(10, Duration::from_secs(10));
        c.insert(hash(1), Some(verified(1)), t0);
        c.insert(hash(2), None, t0);
        assert_eq!(
            c.get(&hash(1), t0 + Duration::from_secs(9)),
            Some(Some(verified(1)))
        );
        assert_eq!(c.get(&hash(2), t0), Some(None));
        assert_eq!(c.get(&hash(1), t0 + Duration::from_secs(10)), None);
        assert_eq!(c.get(&hash(3), t0), None);
    }

    #[test]
    fn the_size_is_bounded() {
        let t0 = Instant::now();
        let mut c = Cache::new(8, Duration::from_secs(10));
        for n in 0..100u8 {
            c.insert(hash(n), Some(verified(n.into())), t0);
            assert!(c.len() <= 8);
        }
        // The newest is always kept.
        assert!(c.get(&hash(99), t0).is_some());
        // Stale entries make room first.
        let later = t0 + Duration::from_secs(11);
        c.insert(hash(200), None, later);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn eviction_by_token_and_owner() {
        let t0 = Instant::now();
        let mut c = Cache::new(8, Duration::from_secs(10));
        c.insert(hash(1), Some(verified(1)), t0);
        c.insert(hash(2), Some(verified(2)), t0);
        c.insert(hash(3), Some(verified(3)), t0);
        c.evict_tokens(&[Uuid::from_u128(1), Uuid::from_u128(3)]);
        assert_eq!(c.get(&hash(1), t0), None);
        assert_eq!(c.get(&hash(3), t0), None);
        assert!(c.get(&hash(2), t0).is_some());
        c.insert(hash(3), Some(verified(3)), t0);
        c.evict_owner("o");
        assert!(c.is_empty());
    }
}
