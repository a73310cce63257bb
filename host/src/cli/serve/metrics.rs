//! `GET /metrics`: the caller's jobs in Prometheus' text format.
//!
//! Per job: records in and out, watermark lag, the last checkpoint's
//! duration and size (the job's state size as checkpointed), busy time per
//! operator, CPU on the workers; per tenant: jobs by state, records, Wasm
//! busy time (its CPU use in guests) and CPU on the workers.

use super::status::job_status;
use std::fmt::Write;
use std::sync::Arc;
use weir::control::registry::Job;

/// Per-job families: name, type, help (samples are added by index).
const FAMILIES: [(&str, &str, &str); 24] = [
    (
        "weir_job_records_in_total",
        "counter",
        "Records read by the job's source.",
    ),
    (
        "weir_job_records_out_total",
        "counter",
        "Records written to the job's sink.",
    ),
    (
        "weir_job_watermark_lag_seconds",
        "gauge",
        "Processing time minus the job's watermark.",
    ),
    (
        "weir_job_checkpoint_duration_seconds",
        "gauge",
        "Duration of the job's last checkpoint.",
    ),
    (
        "weir_job_checkpoint_size_bytes",
        "gauge",
        "Bytes in the job's last checkpoint.",
    ),
    (
        "weir_job_state_size_bytes",
        "gauge",
        "The job's state as of its last checkpoint.",
    ),
    (
        "weir_job_checkpoints_total",
        "counter",
        "Checkpoints the job completed since it (re)started.",
    ),
    ("weir_job_running", "gauge", "1 while the job runs."),
    (
        "weir_operator_busy_seconds_total",
        "counter",
        "Time spent in calls of the operator's Wasm instances.",
    ),
    (
        "weir_job_kafka_lag_records",
        "gauge",
        "Records in the Kafka source's partitions not read yet.",
    ),
    (
        "weir_job_host_memory_bytes",
        "gauge",
        "Host memory the job holds (state, timers, windows, batches in flight), charged to its budget.",
    ),
    (
        "weir_job_disk_bytes",
        "gauge",
        "Disk the job fills (RocksDB, checkpoints, outputs, log), charged to its budget.",
    ),
    (
        "weir_job_cpu_seconds_total",
        "counter",
        "CPU the job's tasks used on the host's workers since it (re)started.",
    ),
    (
        "weir_job_restarts_total",
        "counter",
        "Times the job resumed from its checkpoints after the host restarted.",
    ),
    (
        "weir_stage_records_in_total",
        "counter",
        "Rows a stage's operator took, summed over its subtasks.",
    ),
    (
        "weir_stage_records_out_total",
        "counter",
        "Rows a stage emitted, summed over its subtasks.",
    ),
    (
        "weir_stage_busy_seconds_total",
        "counter",
        "Time a stage's subtasks spent in its operator.",
    ),
    (
        "weir_stage_idle_seconds_total",
        "counter",
        "Time a stage's subtasks waited for input.",
    ),
    (
        "weir_stage_backpressured_seconds_total",
        "counter",
        "Time a stage's subtasks waited for room downstream (a reader behind).",
    ),
    (
        "weir_stage_watermark_lag_seconds",
        "gauge",
        "Processing time minus a stage's watermark (the lowest of its subtasks').",
    ),
    (
        "weir_stage_checkpoint_alignment_seconds_total",
        "counter",
        "Time checkpoint barriers waited at a stage's subtasks for every input's barrier.",
    ),
    (
        "weir_stage_checkpoint_barriers_total",
        "counter",
        "Checkpoint barriers a stage's subtasks aligned.",
    ),
    (
        "weir_job_kafka_partition_lag_records",
        "gauge",
        "Records in one partition of the job's Kafka source not read yet.",
    ),
    (
        "weir_job_checkpoints_failed_total",
        "counter",
        "Checkpoints of the job that failed since it (re)started.",
    ),
];

/// Render the metrics of `jobs`, all of tenant `tenant`.
pub fn render(jobs: &[Arc<Job>], tenant: &str) -> String {
    let mut out = String::new();
    let mut families: Vec<(&str, &str, &str, Vec<String>)> = FAMILIES
        .iter()
        .map(|(n, k, h)| (*n, *k, *h, Vec::new()))
        .collect();
    let (mut active, mut records, mut busy, mut memory) = (0u64, 0u64, 0u64, 0u64);
    let mut latency = Vec::new();
    for job in jobs {
        let s = job_status(job);
        let l = format!("tenant=\"{tenant}\",job=\"{}\"", job.id);
        let mut put = |i: usize, v: String| families[i].3.push(format!("{{{l}}} {v}"));
        put(0, s.records_in.to_string());
        put(1, s.records_out.to_string());
        if let Some(lag) = s.watermark_lag_ms {
            put(2, format!("{:.3}", lag as f64 / 1000.0));
        }
        if let Some(c) = &s.last_checkpoint {
            put(3, format!("{:.3}", c.duration_ms as f64 / 1000.0));
            put(4, c.size_bytes.to_string());
            put(5, c.size_bytes.to_string());
        }
        put(6, s.checkpoints.to_string());
        put(23, s.checkpoints_failed.to_string());
        if let Some(lag) = s.kafka_lag {
            put(9, lag.to_string());
        }
        if let Some(b) = &s.budgets {
            put(10, b.host_memory.used_bytes.to_string());
            put(11, b.disk.used_bytes.to_string());
        }
        put(12, format!("{:.6}", s.cpu_seconds));
        put(13, job.record().restarts.to_string());
        let running = s.state == weir::control::registry::State::Running;
        put(7, u8::from(running).to_string());
        if running {
            active += 1;
        }
        records += s.records_in;
        if let Some(b) = &s.budgets {
            memory += b.host_memory.used_bytes;
        }
        if let Some(r) = job.running() {
            for (op, ns) in r.plan.busy_ns() {
                busy += ns;
                families[8]
                    .3
                    .push(format!("{{{l},operator=\"{op}\"}} {:.6}", ns as f64 / 1e9));
            }
            use std::sync::atomic::Ordering::Relaxed;
            let now = weir::time::now_ms();
            for (stage, m) in r.metrics.stages() {
                let mut put = |i: usize, v: String| {
                    families[i].3.push(format!("{{{l},stage=\"{stage}\"}} {v}"))
                };
                let secs = |a: &std::sync::atomic::AtomicU64| {
                    format!("{:.6}", a.load(Relaxed) as f64 / 1e9)
                };
                put(14, m.records_in.load(Relaxed).to_string());
                put(15, m.records_out.load(Relaxed).to_string());
                put(16, secs(&m.busy_ns));
                put(17, secs(&m.idle_ns));
                put(18, secs(&m.backpressure_ns));
                if let Some(wm) = m.watermark() {
                    put(19, format!("{:.3}", (now - wm) as f64 / 1000.0));
                }
                put(20, secs(&m.alignment_ns));
                put(21, m.barriers.load(Relaxed).to_string());
            }
            latency.push((l.clone(), r.metrics.latency.snapshot()));
            for (topic, partition, lag) in r
                .metrics
                .partition_lag
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
            {
                families[22].3.push(format!(
                    "{{{l},topic=\"{topic}\",partition=\"{partition}\"}} {lag}"
                ));
            }
        }
    }
    for (name, kind, help, samples) in &families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for s in samples {
            let _ = writeln!(out, "{name}{s}");
        }
    }
    let _ = writeln!(
        out,
        "# HELP weir_job_latency_seconds End-to-end latency of the rows the job's sinks take: time since the source read them.\n# TYPE weir_job_latency_seconds histogram"
    );
    for (l, (cumulative, sum, count)) in latency {
        for (bound, c) in weir::runtime::metrics::LATENCY_BUCKETS
            .iter()
            .zip(&cumulative)
        {
            let _ = writeln!(
                out,
                "weir_job_latency_seconds_bucket{{{l},le=\"{bound}\"}} {c}"
            );
        }
        let _ = writeln!(
            out,
            "weir_job_latency_seconds_bucket{{{l},le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(out, "weir_job_latency_seconds_sum{{{l}}} {sum:.6}");
        let _ = writeln!(out, "weir_job_latency_seconds_count{{{l}}} {count}");
    }
    let t = format!("tenant=\"{tenant}\"");
    let _ = writeln!(
        out,
        "# HELP weir_tenant_host_memory_bytes Host memory the tenant's running jobs hold, charged to their budgets.\n# TYPE weir_tenant_host_memory_bytes gauge\nweir_tenant_host_memory_bytes{{{t}}} {memory}"
    );
    let _ = writeln!(
        out,
        "# HELP weir_tenant_jobs_running Jobs the tenant runs.\n# TYPE weir_tenant_jobs_running gauge\nweir_tenant_jobs_running{{{t}}} {active}"
    );
    let _ = writeln!(
        out,
        "# HELP weir_tenant_records_in_total Records read by the tenant's jobs.\n# TYPE weir_tenant_records_in_total counter\nweir_tenant_records_in_total{{{t}}} {records}"
    );
    let _ = writeln!(
        out,
        "# HELP weir_tenant_wasm_busy_seconds_total Time the tenant's operators spent in Wasm calls.\n# TYPE weir_tenant_wasm_busy_seconds_total counter\nweir_tenant_wasm_busy_seconds_total{{{t}}} {:.6}",
        busy as f64 / 1e9
    );
    let _ = writeln!(
        out,
        "# HELP weir_tenant_cpu_seconds_total CPU the tenant's jobs used on the host's workers (shared by `cpu_share`).\n# TYPE weir_tenant_cpu_seconds_total counter\nweir_tenant_cpu_seconds_total{{{t}}} {:.6}",
        weir::control::tenants::pool_account(tenant).cpu_ns() as f64 / 1e9
    );
    out
}

#[cfg(test)]
mod tests {
    /// Every family the host renders, by the names in its `# TYPE` lines.
    fn rendered() -> Vec<String> {
        let text = super::render(&[], "t");
        let mut names: Vec<String> = super::FAMILIES
            .iter()
            .map(|(n, ..)| n.to_string())
            .chain(
                text.lines()
                    .filter_map(|l| l.strip_prefix("# TYPE "))
                    .filter_map(|l| l.split(' ').next())
                    .map(str::to_string),
            )
            .collect();
        names.sort();
        names.dedup();
        names
    }

    #[test]
    fn every_family_is_documented_and_the_grafana_dashboard_reads_only_real_ones() {
        let names = rendered();
        assert!(
            names.contains(&"weir_job_latency_seconds".to_string()),
            "{names:?}"
        );
        let doc = include_str!("../../../../docs/metrics.md");
        for n in &names {
            assert!(
                doc.contains(&format!("`{n}`")),
                "{n} is not in docs/metrics.md"
            );
        }
        let grafana: serde_json::Value =
            serde_json::from_str(include_str!("../../../../docs/grafana/weir.json"))
                .expect("the Grafana dashboard is JSON");
        let mut used = 0;
        for panel in grafana["panels"].as_array().expect("panels") {
            for target in panel["targets"].as_array().expect("targets") {
                let expr = target["expr"].as_str().expect("expr");
                for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                    if !word.starts_with("weir_") {
                        continue;
                    }
                    let family = ["_bucket", "_sum", "_count"]
                        .iter()
                        .find_map(|s| word.strip_suffix(s))
                        .filter(|f| names.iter().any(|n| n == f))
                        .unwrap_or(word);
                    assert!(
                        names.iter().any(|n| n == family),
                        "the Grafana dashboard reads {word}, which the host does not render"
                    );
                    used += 1;
                }
            }
        }
        assert!(used >= 20, "{used}");
    }
}
