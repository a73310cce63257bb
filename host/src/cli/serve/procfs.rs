//! What Linux says of a process (`/proc/<pid>/status` and `stat`): the
//! host's own usage for the admin view, and a served host's in benchmarks.

/// A number field of `/proc/<pid>/status` (`VmRSS:` in KiB, `Threads:`);
/// 0 when unknown.
pub fn status_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// User + system CPU seconds of process `pid` so far.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the whole line, in clock
    // ticks (100 per second on Linux).
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) as f64 / 100.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_threads_memory_and_cpu() {
        let me = std::process::id();
        assert!(super::status_field(me, "Threads:") >= 1);
        assert!(super::status_field(me, "VmRSS:") > 0);
        // Spin for 50 ms: more than a clock tick of CPU.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
        }
        assert!(super::cpu_seconds(me) > 0.0);
        assert_eq!(super::status_field(me, "NoSuchField:"), 0);
    }
}
