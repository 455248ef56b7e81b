//! Any bytes as a zone file, read and built as `check` and `serve` do (in memory: the
//! reader and the zone builder, without a file system in the way): errors at file:line,
//! never a panic.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use hadns::diag::Diagnostics;
use hadns::zone::build::ZoneBuilder;
use hadns::zone::file::Reading;
use hadns::zone::parse::read_zone_text;
use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;

fn origin() -> &'static Name {
    static ORIGIN: OnceLock<Name> = OnceLock::new();
    ORIGIN.get_or_init(|| Name::from_ascii("example.com.").unwrap())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // $INCLUDE finds nothing in an empty directory, as no file is there.
    let reading = Reading::new(Path::new("/nonexistent-hadns-fuzz"), 1 << 20);
    let path = Path::new("/nonexistent-hadns-fuzz/example.com.zone");
    let mut diags = Diagnostics::default();
    let mut builder = ZoneBuilder::new(origin());
    read_zone_text(path, text, origin(), &reading, &mut diags, &mut builder);
    std::hint::black_box(builder.finish(path, &mut diags));
});
