//! `read`: scans and queries.

pub mod known_types;
