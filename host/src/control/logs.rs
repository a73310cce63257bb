//! Per-job logs: every tracing event with a `job` field (host tasks, the
//! swap machinery, guest `log` calls) of a served job goes to that job's
//! `job.log`, tagged `host` or `guest`, so a tenant reads its own job's log
//! and nothing else. Files are capped (rotated once at [`MAX_LOG`]), so a
//! guest that logs without end fills no disk.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, RwLock};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// Bytes a job's log grows to before it is rotated to `job.log.1`.
pub const MAX_LOG: u64 = 8 << 20;

/// Where each served job's log goes, by the job's internal name.
#[derive(Default)]
pub struct JobLogs {
    files: RwLock<HashMap<String, Mutex<PathBuf>>>,
}

/// The process's job logs (empty unless `weir serve` registers jobs).
pub fn job_logs() -> &'static JobLogs {
    static LOGS: OnceLock<JobLogs> = OnceLock::new();
    LOGS.get_or_init(JobLogs::default)
}

impl JobLogs {
    /// Send job `name`'s events to `path`.
    pub fn register(&self, name: &str, path: PathBuf) {
        self.files
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), Mutex::new(path));
    }

    /// Append a line to job `name`'s log.
    pub fn write(&self, name: &str, line: &str) {
        let files = self.files.read().unwrap_or_else(|p| p.into_inner());
        let Some(path) = files.get(name) else {
            return;
        };
        let path = path.lock().unwrap_or_else(|p| p.into_inner());
        if std::fs::metadata(&*path).is_ok_and(|m| m.len() > MAX_LOG) {
            let _ = std::fs::rename(&*path, path.with_extension("log.1"));
        }
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&*path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Write a host line to a job's log (lifecycle events of `weir serve`).
pub fn host_line(job: &str, level: &str, message: &str) {
    job_logs().write(job, &format!("{} {level:<5} host  {message}", now()));
}

fn now() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let secs = (ms / 1000) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::time::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// The tracing layer that feeds [`job_logs`].
pub struct JobLogLayer;

#[derive(Default)]
struct Fields {
    job: Option<String>,
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "job" => self.job = Some(value.to_string()),
            "message" => self.message = value.to_string(),
            name => self.rest.push_str(&format!(" {name}={value}")),
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "job" => self.job = Some(format!("{value:?}").trim_matches('"').to_string()),
            "message" => self.message = format!("{value:?}"),
            name => self.rest.push_str(&format!(" {name}={value:?}")),
        }
    }
}

impl<S: Subscriber> Layer<S> for JobLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() > tracing::Level::INFO {
            return;
        }
        let logs = job_logs();
        if logs.files.read().map(|f| f.is_empty()).unwrap_or(true) {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let Some(job) = fields.job else {
            return;
        };
        let meta = event.metadata();
        let tag = if meta.target() == "weir::guest" {
            "guest"
        } else {
            "host"
        };
        logs.write(
            &job,
            &format!(
                "{} {:<5} {tag:<5} {}{}",
                now(),
                meta.level(),
                fields.message,
                fields.rest
            ),
        );
    }
}
