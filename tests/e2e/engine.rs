//! Engine-level behaviour, through the library.

use weir::wasm::{LoadedComponent, WasmEngine, World};

#[test]
fn a_second_engine_loads_compiled_code_from_the_cache_instead_of_recompiling() {
    let wasm = weir::build::build(
        &weir_e2e::repo().join("tests/operators/misbehave"),
        World::Transform,
    )
    .expect("build operator");
    let cache = tempfile::tempdir().expect("tempdir");
    let first = WasmEngine::new(Some(cache.path().to_path_buf())).expect("engine");
    LoadedComponent::load(&first, "op", &wasm, World::Transform).expect("load");
    assert_eq!(first.cache_stats().0, 0, "a fresh cache cannot hit");
    // The cache is written by a background worker: give it a moment.
    let second = WasmEngine::new(Some(cache.path().to_path_buf())).expect("engine");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        LoadedComponent::load(&second, "op", &wasm, World::Transform).expect("load");
        if second.cache_stats().0 > 0 || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(
        second.cache_stats().0 > 0,
        "no cache hit: {:?}",
        second.cache_stats()
    );
}

#[test]
fn the_digest_identifies_the_component() {
    let wasm = weir::build::build(
        &weir_e2e::repo().join("tests/operators/misbehave"),
        World::Transform,
    )
    .expect("build operator");
    let engine = WasmEngine::new(None).expect("engine");
    let a = LoadedComponent::load(&engine, "op", &wasm, World::Transform).expect("load");
    let bytes = std::fs::read(&wasm).expect("read");
    use sha2_check::hex_sha256;
    assert_eq!(a.digest, hex_sha256(&bytes));
}

mod sha2_check {
    /// SHA-256 via the system's `sha256sum`, independent of weir's code.
    pub fn hex_sha256(bytes: &[u8]) -> String {
        use std::io::Write;
        let mut child = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("sha256sum");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(bytes)
            .expect("write");
        let out = child.wait_with_output().expect("wait");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    }
}
