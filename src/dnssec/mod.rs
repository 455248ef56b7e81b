//! DNSSEC: keys in BIND's format (`key`), signing one RRset (`sign`), and signing a
//! zone's static data with its denial chain (`zone`).
pub mod key;
pub mod sign;
pub mod zone;
