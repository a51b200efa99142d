//! Small helpers below every layer, with no dependency on any of them.

pub mod qvalue;
pub mod static_file;
pub mod timestamp;
