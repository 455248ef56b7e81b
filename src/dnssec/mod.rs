//! DNSSEC: keys in BIND's format (`key`), and signing one RRset (`sign`).
pub mod key;
pub mod sign;
