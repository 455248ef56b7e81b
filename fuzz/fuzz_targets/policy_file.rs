//! Any bytes as the policy file beside a valid zone: errors at file:line, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

const ZONE: &str = "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 hostmaster 1 2 3 4 5\n NS ns1\nns1 A 192.0.2.1\nmail A 192.0.2.2\n";

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir(dir.path().join("zones")).unwrap();
    std::fs::write(dir.path().join("zones/example.com.zone"), ZONE).unwrap();
    std::fs::write(dir.path().join("zones/example.com.toml"), data).unwrap();
    std::fs::write(
        dir.path().join("hadns.toml"),
        "[server]\nlisten = [\"127.0.0.1:5399\"]\nzones_dir = \"zones\"\n[[region]]\nid = \"eu-west\"\nlocation = { lat = 53.3, lon = -6.3 }\n",
    )
    .unwrap();
    let loaded = hadns::load::load(&dir.path().join("hadns.toml"));
    std::hint::black_box(loaded.diags);
});
