//! Measured round-trip times from client networks to regions (`[routing]
//! latency_table`), matched by longest prefix.

use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;

use ipnet::IpNet;

use crate::diag::{Diagnostic, Diagnostics};

/// Measured round-trip times from client networks to regions: lines of
/// `client_prefix,region,rtt_ms`, matched by longest prefix.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyTable {
    /// Sorted by prefix length, longest first.
    rows: Vec<(IpNet, String, f64)>,
}

impl LatencyTable {
    /// Reads the table; problems go to `diags` at their line. `regions` are the ids
    /// declared in hadns.toml.
    pub fn read(path: &Path, regions: &[&str], diags: &mut Diagnostics) -> LatencyTable {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::error(
                    path,
                    1,
                    format!("cannot read the latency table: {e}"),
                ));
                return LatencyTable::default();
            }
        };
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let row = match fields.as_slice() {
                [net, region, rtt] => IpNet::from_str(net)
                    .map_err(|_| format!("bad client prefix {net:?}"))
                    .and_then(|net| {
                        let rtt: f64 = rtt
                            .parse()
                            .ok()
                            .filter(|r: &f64| r.is_finite() && *r >= 0.0)
                            .ok_or(format!("bad rtt_ms {rtt:?}"))?;
                        if !regions.contains(region) {
                            return Err(format!("unknown region {region:?}"));
                        }
                        Ok((net.trunc(), region.to_string(), rtt))
                    }),
                _ => Err("expected client_prefix,region,rtt_ms".to_string()),
            };
            match row {
                Ok(r) => rows.push(r),
                Err(m) => diags.push(Diagnostic::error(path, i + 1, m)),
            }
        }
        // Longest prefixes first, the rows of each network together.
        rows.sort_by_key(|r| (std::cmp::Reverse(r.0.prefix_len()), r.0));
        LatencyTable { rows }
    }

    /// The rows of the longest prefix that covers the client (and is no longer than the
    /// client's own prefix).
    pub fn lookup(&self, addr: IpAddr, client_prefix: u8) -> Option<Measured<'_>> {
        let first = self
            .rows
            .iter()
            .position(|(net, _, _)| net.prefix_len() <= client_prefix && net.contains(&addr))?;
        let best = self.rows[first].0;
        // Rows of one network are adjacent (sorted so at load).
        let len = self.rows[first..]
            .iter()
            .take_while(|r| r.0 == best)
            .count();
        Some(Measured {
            prefix: best.prefix_len(),
            rows: &self.rows[first..first + len],
        })
    }
}

/// What the latency table says for one client.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured<'t> {
    /// The matched prefix's length: the ECS scope of an answer it decided.
    pub prefix: u8,
    rows: &'t [(IpNet, String, f64)],
}

impl Measured<'_> {
    /// The round-trip time to `region`, if the table lists it for this client.
    pub fn rtt(&self, region: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|(_, r, _)| r == region)
            .map(|&(_, _, rtt)| rtt)
    }
}
