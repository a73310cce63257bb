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
const FAMILIES: [(&str, &str, &str); 13] = [
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
];

/// Render the metrics of `jobs`, all of tenant `tenant`.
pub fn render(jobs: &[Arc<Job>], tenant: &str) -> String {
    let mut out = String::new();
    let mut families: Vec<(&str, &str, &str, Vec<String>)> = FAMILIES
        .iter()
        .map(|(n, k, h)| (*n, *k, *h, Vec::new()))
        .collect();
    let (mut active, mut records, mut busy) = (0u64, 0u64, 0u64);
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
        if let Some(lag) = s.kafka_lag {
            put(9, lag.to_string());
        }
        if let Some(b) = &s.budgets {
            put(10, b.host_memory.used_bytes.to_string());
            put(11, b.disk.used_bytes.to_string());
        }
        put(12, format!("{:.6}", s.cpu_seconds));
        let running = s.state == weir::control::registry::State::Running;
        put(7, u8::from(running).to_string());
        if running {
            active += 1;
        }
        records += s.records_in;
        if let Some(r) = job.running() {
            for (op, ns) in r.plan.busy_ns() {
                busy += ns;
                families[8]
                    .3
                    .push(format!("{{{l},operator=\"{op}\"}} {:.6}", ns as f64 / 1e9));
            }
        }
    }
    for (name, kind, help, samples) in &families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for s in samples {
            let _ = writeln!(out, "{name}{s}");
        }
    }
    let t = format!("tenant=\"{tenant}\"");
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
