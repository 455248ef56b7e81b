//! hadns: an authoritative DNS server whose zones are files.
//!
//! The pipeline, each stage a module that only looks downstream:
//! `config` → `zone` (scan, parse, build: an immutable [`zone::ZoneSet`]) →
//! `dns` (parse a query, find the answer, encode it) → `server` (UDP and TCP sockets),
//! with `reload` swapping in a new zone set on SIGHUP or file change.

pub mod config;
pub mod diag;
pub mod dns;
pub mod geo;
pub mod health;
pub mod http;
pub mod load;
pub mod metrics;
pub mod policy;
pub mod reload;
pub mod server;
pub mod systemd;
pub mod zone;
