//! Fault injection for crash tests.
//!
//! A SIGKILL at a random moment rarely lands in the few microseconds
//! between two particular steps, so the steps that matter most for
//! exactly-once carry a named [`point`]: with `WEIR_FAULT=<name>` the
//! process aborts (like a crash: no unwinding, no flushing) the first time
//! it gets there, with `WEIR_FAULT=<name>@<n>` the n-th time. Unset, a
//! point costs one cached look-up.
//!
//! Points: `after-checkpoint-before-commit` (a checkpoint is durable, its
//! Kafka transaction and file parts not yet committed).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Abort here if `WEIR_FAULT` names this point (and this is its n-th visit).
pub fn point(name: &str) {
    static FAULT: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static VISITS: AtomicU64 = AtomicU64::new(0);
    let fault = FAULT.get_or_init(|| {
        let text = std::env::var("WEIR_FAULT").ok()?;
        Some(match text.split_once('@') {
            Some((n, at)) => (n.to_string(), at.parse().unwrap_or(1)),
            None => (text, 1),
        })
    });
    if let Some((point, at)) = fault
        && point == name
        && VISITS.fetch_add(1, Ordering::SeqCst) + 1 == *at
    {
        eprintln!("weir: WEIR_FAULT={name}@{at}: aborting here");
        std::process::abort();
    }
}
