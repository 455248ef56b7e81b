//! Any bytes as a DNS message, over UDP and TCP, to a responder serving the demo zones:
//! a reply or nothing, never a panic.
#![no_main]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use hadns::config::Config;
use hadns::dns::{Local, Responder, Transport};
use hadns::draw::Draw;
use hadns::health::HealthTable;
use hadns::load::load;
use hadns::snapshot::Snapshot;
use libfuzzer_sys::fuzz_target;

fn served() -> &'static (Responder, Arc<Snapshot>) {
    static SERVED: OnceLock<(Responder, Arc<Snapshot>)> = OnceLock::new();
    SERVED.get_or_init(|| {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hadns.toml");
        let loaded = load(&config);
        let content = loaded.content.expect("the demo loads");
        let config: Config = loaded.config.expect("the demo config loads");
        let health = HealthTable::assumed(&content.checks);
        let responder = Responder::new(&config, false).expect("a responder");
        (responder, Arc::new(Snapshot::new(Arc::new(content), &health)))
    })
}

fuzz_target!(|data: &[u8]| {
    let (responder, snapshot) = served();
    let peer = std::net::IpAddr::from([192, 0, 2, 1]);
    let mut out = Vec::with_capacity(4096);
    for (transport, cache) in [(Transport::Udp, true), (Transport::Tcp, false)] {
        let mut local = Local::new(Draw::new(1), cache);
        // Twice: the second may be a replay from the answer cache.
        for _ in 0..2 {
            responder.handle(data, transport, peer, snapshot, &mut local, &mut out);
        }
    }
});
