//! What standard secondaries are told: the SOA serial each zone serves moves forward on
//! every change of what they would transfer (a reload or a health change), never below
//! the file's serial and never backwards, across restarts too (`serials.json` beside
//! the health state file); and each change is sent to `[transfer] notify` as a NOTIFY
//! (RFC 1996), from the address hadns serves on, retried until acknowledged.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::serialize::binary::BinEncodable;
use serde::{Deserialize, Serialize};

use crate::dns::transfer::zone_view;
use crate::draw::Draw;
use crate::snapshot::{Journal, Serials, Snapshot, Version, ViewRecord};
use crate::zone::name_key;

/// Versions of a zone kept for IXFR.
const JOURNAL_VERSIONS: usize = 16;
/// Zones with more records than this are not journaled: an IXFR gets the whole zone.
const JOURNAL_MAX_RECORDS: usize = 100_000;
/// NOTIFY attempts before giving up on a secondary for one serial (about 90 s in all;
/// past that its SOA refresh timer takes over).
const NOTIFY_TRIES: u32 = 8;
/// The wait for an answer to the first attempt; doubled for each next one, to at most
/// `NOTIFY_WAIT_MAX`.
const NOTIFY_WAIT: Duration = Duration::from_millis(500);
const NOTIFY_WAIT_MAX: Duration = Duration::from_secs(30);

/// What a zone served last: its serial, the file's serial then, and a hash of the view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Served {
    serial: u32,
    file_serial: u32,
    view: u64,
}

pub struct Secondaries {
    state_file: PathBuf,
    /// By zone origin.
    served: Mutex<HashMap<String, Served>>,
    journal: Mutex<Journal>,
    /// Changes decided but not yet in service: announced once they are.
    pending: Mutex<Vec<(hickory_proto::rr::Name, u32)>>,
    notify: Vec<SocketAddr>,
    /// Signs NOTIFYs: the transfer key, when there is one.
    signer: Option<hickory_proto::rr::TSigner>,
    /// Where NOTIFYs come from: the first listen address of each family.
    sources: Vec<IpAddr>,
    runtime: tokio::runtime::Handle,
}

impl Secondaries {
    /// `state_file`: where serials are kept across restarts. Call inside the runtime.
    pub fn new(
        state_file: PathBuf,
        notify: Vec<SocketAddr>,
        signer: Option<hickory_proto::rr::TSigner>,
        listen: &[SocketAddr],
    ) -> Self {
        let served = std::fs::read(&state_file)
            .ok()
            .and_then(|b| serde_json::from_slice::<BTreeMap<String, Served>>(&b).ok())
            .map(|m| m.into_iter().collect())
            .unwrap_or_default();
        let mut sources: Vec<IpAddr> = Vec::new();
        for a in listen {
            if !sources.iter().any(|s| s.is_ipv4() == a.is_ipv4()) {
                sources.push(a.ip());
            }
        }
        Secondaries {
            state_file,
            served: Mutex::new(served),
            journal: Mutex::new(Journal::default()),
            pending: Mutex::new(Vec::new()),
            notify,
            signer,
            sources,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    fn save(&self, served: &HashMap<String, Served>) {
        let sorted: BTreeMap<_, _> = served.iter().collect();
        let bytes = serde_json::to_vec_pretty(&sorted).expect("plain data serializes");
        let tmp = self.state_file.with_extension("tmp");
        let written = self
            .state_file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&tmp, &bytes))
            .and_then(|()| std::fs::rename(&tmp, &self.state_file));
        if let Err(e) = written {
            tracing::warn!(
                "cannot save zone serials to {}: {e}",
                self.state_file.display()
            );
        }
    }

    /// Sends NOTIFY for `zone` at `serial` to every secondary, each until it answers.
    fn notify(&self, origin: &hickory_proto::rr::Name, serial: u32) {
        for &target in &self.notify {
            let Some(&source) = self
                .sources
                .iter()
                .find(|s| s.is_ipv4() == target.is_ipv4())
            else {
                tracing::warn!(%target, "no listen address of its family to send NOTIFY from");
                continue;
            };
            let packet = notify_packet(origin, self.signer.as_ref());
            let zone = origin.to_string();
            self.runtime.spawn(async move {
                match send_notify(source, target, &packet).await {
                    Ok(()) => tracing::debug!(zone, serial, %target, "NOTIFY acknowledged"),
                    Err(e) => tracing::warn!(zone, serial, %target, "NOTIFY not acknowledged: {e}"),
                }
            });
        }
    }
}

impl Serials for Secondaries {
    fn decide(&self, next: &mut Snapshot) {
        let mut served = self.served.lock().unwrap_or_else(|p| p.into_inner());
        let mut journal = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        let mut serials = Vec::with_capacity(next.zones.zones.len());
        let mut changed = false;
        for (i, zone) in next.zones.zones.iter().enumerate() {
            let origin = zone.origin.to_string();
            let records = view_records(next, i);
            let view = view_hash(&records);
            let now = match served.get(&origin) {
                Some(last) if last.view == view && last.file_serial == zone.serial => last.clone(),
                last => {
                    // Forward from both the file and what was served (RFC 1982 order).
                    let after_last = last.map(|l| l.serial.wrapping_add(1));
                    let serial = match after_last {
                        Some(s) if serial_gt(s, zone.serial) => s,
                        _ => zone.serial,
                    };
                    if last.is_some() {
                        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                        pending.push((zone.origin.clone(), serial));
                    }
                    Served {
                        serial,
                        file_serial: zone.serial,
                        view,
                    }
                }
            };
            changed |= served.get(&origin) != Some(&now);
            let versions = journal.by_zone.entry(origin.clone()).or_default();
            if versions.back().map(|v| v.serial) != Some(now.serial) {
                if records.len() > JOURNAL_MAX_RECORDS {
                    versions.clear();
                } else {
                    versions.push_back(Version {
                        serial: now.serial,
                        records: Arc::new(records),
                    });
                    while versions.len() > JOURNAL_VERSIONS {
                        versions.pop_front();
                    }
                }
            }
            serials.push(now.serial);
            served.insert(origin, now);
        }
        // Zones no longer served leave the journal.
        let origins: Vec<String> = next
            .zones
            .zones
            .iter()
            .map(|z| z.origin.to_string())
            .collect();
        journal.by_zone.retain(|o, _| origins.contains(o));
        if changed {
            self.save(&served);
        }
        next.set_serials(&serials);
        next.journal = journal.clone();
    }

    fn in_service(&self) {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        for (origin, serial) in pending {
            self.notify(&origin, serial);
        }
    }
}

/// Everything a transfer of zone `zone` carries but the SOA, one record each, sorted.
fn view_records(snapshot: &Snapshot, zone: usize) -> Vec<ViewRecord> {
    let mut out = Vec::new();
    for set in zone_view(snapshot, zone) {
        if set.rtype == hickory_proto::rr::RecordType::SOA {
            continue;
        }
        let owner_key = name_key(&set.owner);
        for rdata in set.rdatas.iter() {
            let mut key = owner_key.to_vec();
            key.extend_from_slice(&u16::from(set.rtype).to_be_bytes());
            key.extend(rdata.to_bytes().unwrap_or_default());
            out.push(ViewRecord {
                owner: set.owner.clone(),
                rtype: set.rtype,
                ttl: set.ttl,
                rdata: rdata.clone(),
                key: key.into(),
            });
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// A hash of a view: what decides whether the serial moves.
fn view_hash(records: &[ViewRecord]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for r in records {
        r.key.hash(&mut h);
        r.ttl.hash(&mut h);
    }
    h.finish()
}

/// RFC 1982: `a` is after `b`.
fn serial_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

/// A NOTIFY for `origin` (RFC 1996 §3.7): opcode NOTIFY, AA, the SOA question (the
/// secondary asks for the new serial itself), signed when a key is given.
fn notify_packet(
    origin: &hickory_proto::rr::Name,
    signer: Option<&hickory_proto::rr::TSigner>,
) -> Vec<u8> {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::RecordType;
    let id = (Draw::from_entropy().next_u64() & 0xffff) as u16;
    let mut m = Message::new(id, MessageType::Query, OpCode::Notify);
    m.metadata.authoritative = true;
    m.add_query(Query::query(origin.clone(), RecordType::SOA));
    if let Some(signer) = signer {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match signer.sign_message(&m, now) {
            Ok((tsig, _)) => {
                m.set_signature(tsig);
            }
            Err(e) => tracing::warn!("cannot sign NOTIFY: {e}"),
        }
    }
    m.to_vec().unwrap_or_default()
}

/// Sends `packet` from `source` to `target` until an answer with its ID comes back.
async fn send_notify(source: IpAddr, target: SocketAddr, packet: &[u8]) -> Result<(), String> {
    let socket = tokio::net::UdpSocket::bind(SocketAddr::new(source, 0))
        .await
        .map_err(|e| format!("cannot send from {source}: {e}"))?;
    let mut wait = NOTIFY_WAIT;
    let mut buf = [0u8; 512];
    for _ in 0..NOTIFY_TRIES {
        socket
            .send_to(packet, target)
            .await
            .map_err(|e| e.to_string())?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
                Ok(Ok((n, from))) if from == target && n >= 12 && buf[..2] == packet[..2] => {
                    return Ok(());
                }
                Ok(_) => continue,
                Err(_) => break,
            }
        }
        wait = (wait * 2).min(NOTIFY_WAIT_MAX);
    }
    Err(format!("no answer after {NOTIFY_TRIES} tries"))
}
