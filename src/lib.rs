//! hadns: an authoritative DNS server whose zones are files, with Route 53's routing
//! policies and health-checked failover.
//!
//! The modules, one line each (a module only looks down this list's arrows):
//! - `config`      — hadns.toml.
//! - `diag`        — problems at `file:line`.
//! - `watch`       — file stamps and the one polling loop that notices changes.
//! - `memory`      — the room left under the process's memory limits.
//! - `draw`        — the per-query randomness (and probe jitter).
//! - `coordinates` — positions on the Earth and the distance between them.
//! - `zone`        — zone files: lexer → parse → build → an immutable `ZoneSet`.
//! - `health`      — check definitions, probes (one module per kind), the engine that
//!   turns results into a `HealthTable`, its state files.
//! - `policy`      — policy files and the routing policies, one module each, behind one
//!   contract; `select`, the engine they share.
//! - `dnssec`      — keys in BIND's format (`keygen`, `ds`), signing.
//! - `client`      — who is asking and where: GeoIP, latency table, CIDR match, ECS scope.
//! - `load`        — config → zones + policies + client data → `Content`, for serve,
//!   check and reload alike.
//! - `snapshot`    — `Content` + what health decided → the `Snapshot` answered from,
//!   swapped atomically on reload and health change.
//! - `dns`         — bytes in, bytes out: request → edns → tsig → dispatch (query,
//!   transfer, notify, chaos) → lookup / cache → response.
//! - `server`      — sockets: UDP workers, TCP, the bounded accept loop.
//! - `http`        — the HTTP API: metrics, health checks, overrides, explain, reload.
//! - `cluster`     — gossip with the other nodes (sealed with the cluster key): shares
//!   observations and override writes with the health engine, compares zone files.
//! - `secondaries` — for zone transfers: serials that move with every change, NOTIFY.
//! - `reload`      — SIGHUP, file changes and the API: read again what changed, swap in.
//! - `route53`     — import from Route 53's JSON into zone + policy files, export a loaded
//!   zone back as a change batch.
//! - `metrics`     — metric names and the Prometheus exporter; a leaf the others call.
//! - `systemd`     — sd_notify.
//! - `cli`         — `hadns status` and `hadns explain`: the local API, for a terminal.

pub mod cli;
pub mod client;
pub mod cluster;
pub mod config;
pub mod coordinates;
pub mod diag;
pub mod dns;
pub mod dnssec;
pub mod draw;
pub mod health;
pub mod http;
pub mod load;
pub mod memory;
pub mod metrics;
pub mod policy;
pub mod reload;
pub mod route53;
pub mod secondaries;
pub mod server;
pub mod snapshot;
pub mod systemd;
pub mod watch;
pub mod zone;
