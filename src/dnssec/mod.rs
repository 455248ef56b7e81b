//! DNSSEC: keys in BIND's format (`key`), and signing.
pub mod key;
