//! Any bytes as the policy file beside a valid zone, read and checked as `check` and
//! `serve` do (in memory, without a file system in the way): errors at file:line, never
//! a panic.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use hadns::config::Region;
use hadns::coordinates::Coordinates;
use hadns::diag::Diagnostics;
use hadns::policy::file::{read_policy_text, Context};
use hadns::zone::file::Reading;
use hadns::zone::load::PlainIndex;
use hadns::zone::name_key;
use hickory_proto::rr::{Name, RecordType};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    origin: Name,
    regions: Vec<Region>,
    plain: PlainIndex,
}

/// The zone beside it: its apex (SOA, NS), ns1 and mail (A).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let origin = Name::from_ascii("example.com.").unwrap();
        let zone: std::sync::Arc<Path> = Path::new("example.com.zone").into();
        let mut plain = PlainIndex::default();
        for (name, types) in [
            ("example.com.", &[RecordType::SOA, RecordType::NS][..]),
            ("ns1.example.com.", &[RecordType::A][..]),
            ("mail.example.com.", &[RecordType::A][..]),
        ] {
            let key = name_key(&Name::from_ascii(name).unwrap());
            let at = types.iter().map(|t| (*t, zone.clone(), 3)).collect();
            plain.insert(key, at);
        }
        Fixture {
            origin,
            regions: vec![Region {
                id: "eu-west".into(),
                location: Coordinates { lat: 53.3, lon: -6.3 },
            }],
            plain,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let f = fixture();
    let reading = Reading::new(Path::new("/nonexistent-hadns-fuzz"), 1 << 20);
    let cx = Context {
        origin: &f.origin,
        reading: &reading,
        regions: &f.regions,
        plain: &f.plain,
    };
    let mut diags = Diagnostics::default();
    let path = Path::new("example.com.toml");
    std::hint::black_box(read_policy_text(path, text, &cx, &mut diags));
});
