//! Small helpers below every layer, with no dependency on any of them.

pub mod timestamp;
