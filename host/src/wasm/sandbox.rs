//! The WASI context of an instance: no capability unless the job grants it.
//!
//! Components built by standard toolchains (Rust's `wasm32-wasip2`,
//! componentize-py) import WASI interfaces even when the operator uses none,
//! so the host links WASI 0.2 — but with nothing behind it: no preopened
//! directories, no environment or arguments, no network, stdin empty,
//! stdout/stderr discarded. Clocks are frozen at 0 and randomness is a fixed
//! sequence, which also makes operators deterministic (replay after a
//! failure gives the same output). A job may grant:
//! - `clocks`: the real wall and monotonic clocks;
//! - `random`: real randomness;
//! - `stdio`: guest stdout/stderr to the host's stderr.
//!
//! Files and sockets are never granted to operators.

use std::time::Duration;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// A WASI context granting exactly `grants` (validated job capability names).
pub fn wasi_ctx(grants: &[String]) -> WasiCtx {
    let granted = |g: &str| grants.iter().any(|x| x == g);
    let mut b = WasiCtxBuilder::new();
    if !granted("clocks") {
        b.wall_clock(FrozenClock);
        b.monotonic_clock(FrozenClock);
    }
    if !granted("random") {
        let bytes: Vec<u8> = (0u8..=255)
            .map(|i| i.wrapping_mul(167).wrapping_add(13))
            .collect();
        b.secure_random(wasmtime_wasi::Deterministic::new(bytes.clone()));
        b.insecure_random(wasmtime_wasi::Deterministic::new(bytes));
        b.insecure_random_seed(0x5eed);
    }
    if granted("stdio") {
        // stdout too goes to stderr: the host's stdout may be a job's sink.
        b.stdout(std::io::stderr());
        b.stderr(std::io::stderr());
    }
    b.allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    b.build()
}
