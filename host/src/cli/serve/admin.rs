//! Who is signed in (`GET /v1/whoami`, for the dashboard), and the host
//! admin's view (`GET /v1/admin/host`): every tenant's usage against its
//! quotas and the host's own CPU, memory and threads — no tenant's jobs,
//! records or outputs. The admin's token is `admin_token_sha256` in the
//! host config; without one, nobody has this view.

use super::auth::Caller;
use super::context::Api;
use super::error::ApiError;
use super::status::job_status;
use axum::Json;
use axum::extract::{Extension, State as AxState};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// Who a token belongs to.
#[derive(Serialize)]
pub struct WhoAmI {
    /// `tenant` or `admin`.
    pub kind: &'static str,
    /// The tenant's name.
    pub tenant: Option<String>,
}

pub async fn whoami(Extension(caller): Extension<Caller>) -> Json<WhoAmI> {
    Json(match caller {
        Caller::Tenant(t) => WhoAmI {
            kind: "tenant",
            tenant: Some(t.name.clone()),
        },
        Caller::Admin => WhoAmI {
            kind: "admin",
            tenant: None,
        },
    })
}

/// The host and its tenants.
#[derive(Serialize)]
pub struct HostUsage {
    pub uptime_s: u64,
    /// CPU the process used since it started (user + system).
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    pub threads: u64,
    pub cores: usize,
    pub jobs_running: usize,
    pub tenants: Vec<TenantUsage>,
}

/// One tenant's usage against its quotas.
#[derive(Serialize)]
pub struct TenantUsage {
    pub name: String,
    pub cpu_share: u64,
    /// CPU its jobs used on the workers since the host started.
    pub cpu_seconds: f64,
    pub jobs_running: usize,
    pub jobs: usize,
    pub max_jobs: usize,
    /// Host memory its running jobs hold, and the most each may.
    pub host_memory_bytes: u64,
    pub host_memory_per_job: u64,
    /// Disk its running jobs fill, and the most each may.
    pub disk_bytes: u64,
    pub disk_per_job: u64,
    /// Records per second its jobs read now.
    pub rate_in: f64,
}

/// When the host started (for uptime).
pub fn started() -> Instant {
    static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *STARTED.get_or_init(Instant::now)
}

pub async fn host(
    AxState(api): AxState<Arc<Api>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<HostUsage>, ApiError> {
    if !matches!(caller, Caller::Admin) {
        return Err(ApiError::Forbidden(
            "only the host admin (admin_token_sha256 in the host config) sees the host's usage"
                .into(),
        ));
    }
    tokio::task::spawn_blocking(move || Json(usage(&api)))
        .await
        .map_err(|e| ApiError::Internal(format!("handler panicked: {e}")))
}

fn usage(api: &Api) -> HostUsage {
    let me = std::process::id();
    let mut running = 0;
    let tenants = api
        .tenants
        .iter()
        .map(|t| {
            let jobs = api.registry.list(&t.name);
            let mut u = TenantUsage {
                name: t.name.clone(),
                cpu_share: t.quotas.cpu_share,
                cpu_seconds: weir::control::tenants::pool_account(&t.name).cpu_ns() as f64 / 1e9,
                jobs_running: 0,
                jobs: jobs.len(),
                max_jobs: t.quotas.max_jobs,
                host_memory_bytes: 0,
                host_memory_per_job: t.quotas.host_memory_bytes,
                disk_bytes: 0,
                disk_per_job: t.quotas.disk_bytes,
                rate_in: 0.0,
            };
            for j in &jobs {
                let s = job_status(j);
                if s.state.active() {
                    u.jobs_running += 1;
                }
                if let Some(b) = &s.budgets {
                    u.host_memory_bytes += b.host_memory.used_bytes;
                    u.disk_bytes += b.disk.used_bytes;
                }
                u.rate_in += s.rate_in;
            }
            running += u.jobs_running;
            u
        })
        .collect();
    HostUsage {
        uptime_s: started().elapsed().as_secs(),
        cpu_seconds: super::procfs::cpu_seconds(me),
        rss_bytes: super::procfs::status_field(me, "VmRSS:") * 1024,
        threads: super::procfs::status_field(me, "Threads:"),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        jobs_running: running,
        tenants,
    }
}
