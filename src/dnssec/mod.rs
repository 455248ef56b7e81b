//! DNSSEC: keys in BIND's format (`key`), signing one RRset (`sign`), signing a zone's
//! static data with its denial chain (`zone`), and completing answers to DO queries
//! with signatures and proofs (`answer`).
pub mod answer;
pub mod key;
pub mod sign;
pub mod zone;
