//! The REST API (documented in `openapi.yaml` at the repository root).
//!
//! Every route needs `Authorization: Bearer <token>`; the token decides the
//! tenant, and a tenant only ever sees its own jobs: another tenant's job
//! answers exactly like a job that does not exist (404), so its existence
//! does not leak.

use super::admission::{self, AdmissionError, Submission};
use super::config::Tenant;
use super::jobs::{Job, Registry, RegistryError, State, start};
use super::metrics;
use crate::cli::swap::{self, CanaryRequest};
use axum::extract::{DefaultBodyLimit, Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir::checkpoint::recovery::RecoveryOptions;
use weir::runtime::versions::Versions;

/// Largest request body: components are uploaded inline (base64), and a
/// Python component is tens of megabytes.
const MAX_BODY: usize = 512 << 20;

/// What every handler shares.
pub struct Api {
    /// The jobs.
    pub registry: Registry,
    /// The tenants.
    pub tenants: Vec<Tenant>,
}

/// A refused or failed API call: status code and a message saying what to
/// do.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No token, or one no tenant has.
    #[error("{0}")]
    Unauthorized(String),
    /// No such job for this tenant.
    #[error("no job `{0}` (`weir list` shows your jobs)")]
    NotFound(String),
    /// The job is in a state that does not allow the call.
    #[error("{0}")]
    Conflict(String),
    /// The request is malformed or the job or component is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// Over a quota of the tenant.
    #[error("{0}")]
    Quota(String),
    /// The job did not answer in time.
    #[error("{0}")]
    Timeout(String),
    /// A failure of the host.
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Quota(_) => StatusCode::FORBIDDEN,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

impl From<AdmissionError> for ApiError {
    fn from(e: AdmissionError) -> Self {
        match e {
            AdmissionError::Invalid(m) => ApiError::Invalid(m),
            AdmissionError::Quota(_) => ApiError::Quota(e.to_string()),
            AdmissionError::Io(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Running(_) => ApiError::Conflict(e.to_string()),
            RegistryError::TooMany { .. } => ApiError::Quota(e.to_string()),
            RegistryError::Io { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

type Shared = Arc<Api>;

/// The routes.
pub fn router(api: Shared) -> Router {
    Router::new()
        .route("/v1/jobs", get(list).post(submit))
        .route("/v1/jobs/{id}", get(status))
        .route("/v1/jobs/{id}/cancel", post(cancel))
        .route("/v1/jobs/{id}/savepoint", post(savepoint))
        .route("/v1/jobs/{id}/swap", post(swap_op))
        .route("/v1/jobs/{id}/rollback", post(rollback))
        .route("/v1/jobs/{id}/logs", get(logs))
        .route("/v1/jobs/{id}/output", get(output))
        .route("/metrics", get(prometheus))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(api)
}

/// The tenant whose token the request carries.
fn authenticate<'a>(api: &'a Api, headers: &HeaderMap) -> Result<&'a Tenant, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "no API token: send `Authorization: Bearer <token>` (the CLI takes --token or WEIR_TOKEN)".into(),
            )
        })?;
    let digest: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(token.trim().as_bytes()).into()
    };
    // Compare every tenant's digest in full: the time taken does not say
    // how much of a digest matched.
    let mut found = None;
    for t in &api.tenants {
        let diff = t
            .token_sha256
            .iter()
            .zip(digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 {
            found = Some(t);
        }
    }
    found.ok_or_else(|| ApiError::Unauthorized("the API token is not valid".into()))
}

/// The caller's job `id`: authenticated, and not found when it is
/// another tenant's.
fn job_of(api: &Api, headers: &HeaderMap, id: &str) -> Result<Arc<Job>, ApiError> {
    let tenant = authenticate(api, headers)?;
    api.registry
        .get(&tenant.name, id)
        .ok_or_else(|| ApiError::NotFound(id.into()))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("handler panicked: {e}")))?
}

/// One job in `list` and `status`.
#[derive(Serialize)]
pub struct JobStatus {
    pub id: String,
    pub state: State,
    pub reason: Option<String>,
    pub submitted_ms: i64,
    pub ended_ms: Option<i64>,
    pub resumed: Option<String>,
    pub records_in: u64,
    pub records_out: u64,
    pub rate_in: f64,
    pub rate_out: f64,
    /// ms since the epoch; absent before the first.
    pub watermark: Option<i64>,
    /// Processing time minus watermark, ms.
    pub watermark_lag_ms: Option<i64>,
    /// Records in the Kafka source's partitions not read yet.
    pub kafka_lag: Option<i64>,
    pub last_checkpoint: Option<CheckpointStatus>,
    pub checkpoints: u64,
    pub operators: Vec<OperatorStatus>,
}

#[derive(Serialize)]
pub struct CheckpointStatus {
    pub epoch: u64,
    pub completed_ms: i64,
    pub duration_ms: u64,
    pub size_bytes: u64,
}

#[derive(Serialize)]
pub struct OperatorStatus {
    name: String,
    /// The live version's digest.
    digest: String,
    /// Every version, oldest first, the live one last.
    versions: Vec<weir::runtime::versions::Version>,
    busy_ms: u64,
}

/// Status of `job` now.
pub fn job_status(job: &Job) -> JobStatus {
    let record = job.record();
    let running = job.running();
    let (rate_in, rate_out) = if record.state == State::Running {
        job.rates()
    } else {
        (0.0, 0.0)
    };
    let mut s = JobStatus {
        id: job.id.clone(),
        state: record.state,
        reason: record.reason,
        submitted_ms: record.submitted_ms,
        ended_ms: record.ended_ms,
        resumed: None,
        records_in: 0,
        records_out: 0,
        rate_in,
        rate_out,
        watermark: None,
        watermark_lag_ms: None,
        kafka_lag: None,
        last_checkpoint: None,
        checkpoints: 0,
        operators: Vec::new(),
    };
    let Some(r) = running else {
        return s;
    };
    use std::sync::atomic::Ordering::Relaxed;
    s.resumed = r.resumed.clone();
    s.records_in = r.metrics.input();
    s.records_out = r.metrics.output();
    s.checkpoints = r.metrics.checkpoints.load(Relaxed);
    s.kafka_lag = Some(r.metrics.source_lag.load(Relaxed)).filter(|l| *l >= 0);
    let wm = r.metrics.watermark.load(Relaxed);
    if wm > i64::MIN && wm < i64::MAX {
        s.watermark = Some(wm);
        s.watermark_lag_ms = Some(weir::time::now_ms() - wm);
    }
    s.last_checkpoint = r.coordinator.last_completed().map(|c| CheckpointStatus {
        epoch: c.epoch,
        completed_ms: c.completed_ms,
        duration_ms: c.duration.as_millis() as u64,
        size_bytes: c.size,
    });
    let busy: std::collections::BTreeMap<String, u64> = r.plan.busy_ns().into_iter().collect();
    let history = Versions::new(r.coordinator.dir())
        .read()
        .unwrap_or_default();
    for (name, versions) in history {
        s.operators.push(OperatorStatus {
            digest: versions
                .last()
                .map(|v| v.digest.clone())
                .unwrap_or_default(),
            busy_ms: busy.get(&name).copied().unwrap_or(0) / 1_000_000,
            name,
            versions,
        });
    }
    s
}

async fn list(
    AxState(api): AxState<Shared>,
    headers: HeaderMap,
) -> Result<Json<Vec<JobStatus>>, ApiError> {
    let tenant = authenticate(&api, &headers)?;
    Ok(Json(
        api.registry
            .list(&tenant.name)
            .iter()
            .map(|j| job_status(j))
            .collect(),
    ))
}

async fn status(
    AxState(api): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<JobStatus>, ApiError> {
    let job = job_of(&api, &headers, &id)?;
    Ok(Json(job_status(&job)))
}

async fn submit(
    AxState(api): AxState<Shared>,
    headers: HeaderMap,
    Json(sub): Json<Submission>,
) -> Result<(StatusCode, Json<JobStatus>), ApiError> {
    let tenant = authenticate(&api, &headers)?.clone();
    let id = admission::job_id(&sub)?;
    blocking(move || {
        let job = api.registry.reserve(&tenant, &id)?;
        if let Err(e) = admission::admit(&tenant, &sub, &job.dir) {
            api.registry.discard(&job);
            return Err(e.into());
        }
        tracing::info!(tenant = %tenant.name, job = %job.internal, "submitted");
        match start(job.clone(), RecoveryOptions::default()) {
            Ok(()) => Ok((StatusCode::CREATED, Json(job_status(&job)))),
            // A job that cannot start (a component of the wrong world, a
            // job file the host refuses) is refused, not kept as failed.
            Err(reason) => {
                api.registry.discard(&job);
                Err(ApiError::Invalid(reason))
            }
        }
    })
    .await
}

async fn cancel(
    AxState(api): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<JobStatus>, ApiError> {
    let job = job_of(&api, &headers, &id)?;
    if !job.record().state.active() {
        return Err(ApiError::Conflict(format!(
            "job `{id}` is not running (it is {:?})",
            job.record().state
        )));
    }
    job.stop(State::Cancelled, "cancelled through the API".into());
    blocking(move || {
        let started = Instant::now();
        while job.record().state.active() {
            if started.elapsed() > Duration::from_secs(30) {
                return Err(ApiError::Timeout(format!(
                    "job `{}` did not stop within 30 s; it stops at its source's next poll",
                    job.id
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(Json(job_status(&job)))
    })
    .await
}

fn running_job(
    api: &Api,
    headers: &HeaderMap,
    id: &str,
) -> Result<(Arc<Job>, Arc<super::jobs::Running>), ApiError> {
    let job = job_of(api, headers, id)?;
    let state = job.record().state;
    match job.running() {
        Some(r) if state == State::Running => Ok((job, r)),
        _ => Err(ApiError::Conflict(format!(
            "job `{id}` is not running (it is {state:?})"
        ))),
    }
}

async fn savepoint(
    AxState(api): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (job, r) = running_job(&api, &headers, &id)?;
    blocking(move || {
        let _one = job.control.lock().unwrap_or_else(|p| p.into_inner());
        let before = r.coordinator.last_completed().map_or(0, |c| c.epoch);
        r.coordinator.request_savepoint();
        let started = Instant::now();
        loop {
            if let Some(c) = r.coordinator.last_completed()
                && c.epoch > before
                && let Some(path) = c.savepoint
            {
                return Ok(Json(json!({ "epoch": c.epoch, "path": path })));
            }
            if !job.record().state.active() {
                return Err(ApiError::Conflict(format!(
                    "job `{}` ended before the savepoint completed",
                    job.id
                )));
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(ApiError::Timeout(format!(
                    "no savepoint of job `{}` within 60 s; see `weir logs {}`",
                    job.id, job.id
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    })
    .await
}

/// `POST /v1/jobs/{id}/swap`.
#[derive(Deserialize)]
struct SwapBody {
    operator: String,
    /// The new component, base64.
    component: String,
    canary: Option<CanaryRequest>,
}

async fn swap_op(
    AxState(api): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<SwapBody>,
) -> Result<Json<swap::Answer>, ApiError> {
    let (job, r) = running_job(&api, &headers, &id)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&body.component)
        .map_err(|e| ApiError::Invalid(format!("component: not base64: {e}")))?;
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    let path = job.dir.join("components").join(format!("{digest}.wasm"));
    std::fs::write(&path, &bytes)
        .map_err(|e| ApiError::Internal(format!("{}: {e}", path.display())))?;
    let request = swap::Request {
        id: swap::new_id(),
        operator: body.operator,
        component: path,
        canary: body.canary,
        rollback: false,
    };
    run_swap(job, r, request).await
}

#[derive(Deserialize)]
struct RollbackBody {
    operator: String,
}

async fn rollback(
    AxState(api): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<RollbackBody>,
) -> Result<Json<swap::Answer>, ApiError> {
    let (job, r) = running_job(&api, &headers, &id)?;
    let versions = Versions::new(r.coordinator.dir());
    let previous = versions
        .previous(&body.operator)
        .map_err(|e| ApiError::Conflict(e.to_string()))?;
    let request = swap::Request {
        id: swap::new_id(),
        operator: body.operator,
        component: versions.component(&previous.digest),
        canary: None,
        rollback: true,
    };
    run_swap(job, r, request).await
}

async fn run_swap(
    job: Arc<Job>,
    r: Arc<super::jobs::Running>,
    request: swap::Request,
) -> Result<Json<swap::Answer>, ApiError> {
    blocking(move || {
        let _one = job.control.lock().unwrap_or_else(|p| p.into_inner());
        let dir = r.coordinator.dir().to_path_buf();
        let answer = swap::execute(&r.plan, &r.coordinator, &dir, request);
        match &answer.error {
            None => Ok(Json(answer)),
            Some(e) => Err(ApiError::Invalid(match &answer.canary {
                Some(c) => {
                    format!("swap refused, the old version keeps running: {e}\n  canary: {c}")
                }
                None => format!("swap refused, the old version keeps running: {e}"),
            })),
        }
    })
    .await
}

#[derive(Deserialize)]
struct LogQuery {
    /// Last lines to return. Default 200.
    tail: Option<usize>,
}

async fn logs(
    AxState(api): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<LogQuery>,
) -> Result<String, ApiError> {
    let job = job_of(&api, &headers, &id)?;
    let text = std::fs::read_to_string(job.dir.join("job.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = q.tail.unwrap_or(200);
    Ok(lines[lines.len().saturating_sub(tail)..].join("\n") + "\n")
}

#[derive(Deserialize)]
struct OutputQuery {
    /// `sink` (default), `dead_letter` or `late_output`.
    name: Option<String>,
}

async fn output(
    AxState(api): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<OutputQuery>,
) -> Result<Vec<u8>, ApiError> {
    let job = job_of(&api, &headers, &id)?;
    let name = q.name.unwrap_or_else(|| "sink".into());
    if !["sink", "dead_letter", "late_output"].contains(&name.as_str()) {
        return Err(ApiError::Invalid(format!(
            "output `{name}`: one of sink, dead_letter, late_output"
        )));
    }
    let path = job.dir.join("output").join(format!("{name}.jsonl"));
    std::fs::read(&path).map_err(|_| {
        ApiError::Conflict(format!(
            "job `{id}` has no `{name}` output to read: only file outputs are kept, from their first write on"
        ))
    })
}

async fn prometheus(
    AxState(api): AxState<Shared>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = authenticate(&api, &headers)?;
    let text = metrics::render(&api.registry.list(&tenant.name), &tenant.name);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}

#[cfg(test)]
mod tests {
    /// Every route the router serves is documented in openapi.yaml.
    #[test]
    fn openapi_documents_every_route() {
        let spec = include_str!("../../../../openapi.yaml");
        let source = include_str!("api.rs");
        let routes: Vec<&str> = source
            .split(".route(\"")
            .skip(1)
            .filter_map(|r| r.split('"').next())
            .collect();
        assert!(routes.len() >= 9, "{routes:?}");
        for r in routes {
            assert!(
                spec.contains(&format!("  {r}:")),
                "{r} is not in openapi.yaml"
            );
        }
    }
}
