//! Any bytes as a zone file, loaded as `check` and `serve` load it: errors at
//! file:line, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir(dir.path().join("zones")).unwrap();
    std::fs::write(dir.path().join("zones/example.com.zone"), data).unwrap();
    std::fs::write(
        dir.path().join("hadns.toml"),
        "[server]\nlisten = [\"127.0.0.1:5399\"]\nzones_dir = \"zones\"\n",
    )
    .unwrap();
    let loaded = hadns::load::load(&dir.path().join("hadns.toml"));
    std::hint::black_box(loaded.diags);
});
