//! The REST API (documented in `openapi.yaml` at the repository root).
//!
//! Every route needs `Authorization: Bearer <token>`, checked (and
//! rate-limited per address) by [`super::auth`] before a body is read; the
//! token decides the tenant, and a tenant only ever sees its own jobs:
//! another tenant's job answers exactly like a job that does not exist
//! (404), so its existence does not leak. Handlers that read files, decode
//! uploads or hash run on the blocking pool, never on the async workers.

use super::auth::authenticate;
use super::context::Api;
use super::error::ApiError;
use super::metrics;
use super::status::{JobStatus, job_detail, job_status};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State as AxState};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir::checkpoint::recovery::RecoveryOptions;
use weir::control::admission;
use weir::control::registry::{Job, State, start};
use weir::control::swap::{self, CanaryRequest};
use weir::control::tenants::Tenant;
use weir::runtime::versions::Versions;

type Shared = Arc<Api>;

/// The routes, behind authentication; bodies are bounded by the largest
/// upload quota (and by the caller's own before they are read).
pub fn router(api: Shared) -> Router {
    let max_body = api
        .tenants
        .iter()
        .map(|t| t.quotas.max_upload_bytes)
        .max()
        .unwrap_or(0)
        .min(usize::MAX as u64) as usize;
    Router::new()
        .route("/v1/jobs", get(list).post(submit))
        .route("/v1/jobs/{id}", get(status))
        .route("/v1/jobs/{id}/cancel", post(cancel))
        .route("/v1/jobs/{id}/savepoint", post(savepoint))
        .route("/v1/jobs/{id}/swap", post(swap_op))
        .route("/v1/jobs/{id}/rollback", post(rollback))
        .route("/v1/jobs/{id}/logs", get(logs))
        .route("/v1/jobs/{id}/history", get(history))
        .route("/v1/jobs/{id}/output", get(output))
        .route("/v1/stream", get(super::stream::stream))
        .route("/metrics", get(prometheus))
        .layer(DefaultBodyLimit::max(max_body))
        .route_layer(axum::middleware::from_fn_with_state(
            api.clone(),
            authenticate,
        ))
        .merge(
            // For any token, the admin's too; these take no body.
            Router::new()
                .route("/v1/whoami", get(super::admin::whoami))
                .route("/v1/admin/host", get(super::admin::host))
                .layer(DefaultBodyLimit::max(0))
                .route_layer(axum::middleware::from_fn_with_state(
                    api.clone(),
                    super::auth::authenticate_any,
                )),
        )
        .merge(super::dashboard::router())
        .with_state(api)
}

/// The caller's job `id`: not found when it is another tenant's.
fn job_of(api: &Api, tenant: &Tenant, id: &str) -> Result<Arc<Job>, ApiError> {
    api.registry
        .get(&tenant.name, id)
        .ok_or_else(|| ApiError::NotFound(id.escape_debug().to_string()))
}

type Caller = Extension<Arc<Tenant>>;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("handler panicked: {e}")))?
}

async fn list(
    AxState(api): AxState<Shared>,
    Extension(tenant): Caller,
) -> Result<Json<Vec<JobStatus>>, ApiError> {
    // Statuses read each job's version history from disk.
    blocking(move || {
        Ok(Json(
            api.registry
                .list(&tenant.name)
                .iter()
                .map(|j| job_status(j))
                .collect(),
        ))
    })
    .await
}

async fn status(
    AxState(api): AxState<Shared>,
    Extension(tenant): Caller,
    Path(id): Path<String>,
) -> Result<Json<JobStatus>, ApiError> {
    let job = job_of(&api, &tenant, &id)?;
    blocking(move || Ok(Json(job_detail(&job)))).await
}

async fn history(
    AxState(api): AxState<Shared>,
    Extension(tenant): Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<weir::control::history::Sample>>, ApiError> {
    let job = job_of(&api, &tenant, &id)?;
    Ok(Json(job.history.samples()))
}

async fn submit(
    AxState(api): AxState<Shared>,
    Extension(tenant): Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<JobStatus>), ApiError> {
    blocking(move || {
        // Decoding, checking, hashing and storing are all blocking work.
        let sub = admission::decode(&tenant, &body)?;
        drop(body);
        let spec = admission::check(&tenant, &sub)?;
        let id = admission::job_id(&sub)?;
        let job = api.registry.reserve(&tenant, &id)?;
        if let Err(e) = admission::store(&tenant, &sub, spec, &job.dir) {
            api.registry.discard(&job);
            return Err(e.into());
        }
        drop(sub);
        tracing::info!(tenant = %tenant.name, job = %job.internal, "submitted");
        match start(job.clone(), RecoveryOptions::default()) {
            Ok(()) => Ok((StatusCode::CREATED, Json(job_status(&job)))),
            // A job that cannot start (a component of the wrong world, a
            // job file the host refuses) is refused, not kept as failed.
            Err(reason) => {
                api.registry.discard(&job);
                Err(ApiError::Invalid(reason.to_string()))
            }
        }
    })
    .await
}

async fn cancel(
    AxState(api): AxState<Shared>,
    Extension(tenant): Caller,
    Path(id): Path<String>,
) -> Result<Json<JobStatus>, ApiError> {
    let job = job_of(&api, &tenant, &id)?;
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
    tenant: &Tenant,
    id: &str,
) -> Result<(Arc<Job>, Arc<weir::control::registry::Running>), ApiError> {
    let job = job_of(api, tenant, id)?;
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
    Extension(tenant): Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (job, r) = running_job(&api, &tenant, &id)?;
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
#[serde(deny_unknown_fields)]
struct SwapBody {
    operator: String,
    /// The new component, base64.
    component: String,
    canary: Option<CanaryRequest>,
}

/// Longest operator name accepted in a request (names in job files are
/// compared with it, never used as paths).
const MAX_OPERATOR_NAME: usize = 256;

fn check_operator_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.len() > MAX_OPERATOR_NAME || name.contains('\0') {
        return Err(ApiError::Invalid(format!(
            "operator name `{}`: 1-{MAX_OPERATOR_NAME} bytes, no NUL",
            name.escape_debug()
        )));
    }
    Ok(())
}

async fn swap_op(
    AxState(api): AxState<Shared>,
    Extension(tenant): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<swap::Answer>, ApiError> {
    let (job, r) = running_job(&api, &tenant, &id)?;
    let request = blocking(move || {
        let body: SwapBody = serde_json::from_slice(&body)
            .map_err(|e| ApiError::Invalid(format!("not a swap request: {e}")))?;
        check_operator_name(&body.operator)?;
        let size = (body.component.len() as u64).div_ceil(4) * 3;
        if size > tenant.quotas.max_component_bytes {
            return Err(ApiError::Quota(format!(
                "quota: the component is {size} bytes, more than tenant `{}` may upload (max_component_size = {} bytes)",
                tenant.name, tenant.quotas.max_component_bytes
            )));
        }
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
        Ok((
            job,
            swap::Request {
                id: swap::new_id(),
                operator: body.operator,
                component: path,
                canary: body.canary,
                rollback: false,
            },
        ))
    })
    .await?;
    run_swap(request.0, r, request.1).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    operator: String,
}

async fn rollback(
    AxState(api): AxState<Shared>,
    Extension(tenant): Caller,
    Path(id): Path<String>,
    Json(body): Json<RollbackBody>,
) -> Result<Json<swap::Answer>, ApiError> {
    let (job, r) = running_job(&api, &tenant, &id)?;
    check_operator_name(&body.operator)?;
    let request = blocking(move || {
        let versions = Versions::new(r.coordinator.dir());
        let previous = versions
            .previous(&body.operator)
            .map_err(|e| ApiError::Conflict(e.to_string()))?;
        Ok((
            r.clone(),
            swap::Request {
                id: swap::new_id(),
                operator: body.operator,
                component: versions.component(&previous.digest),
                canary: None,
                rollback: true,
            },
        ))
    })
    .await?;
    run_swap(job, request.0, request.1).await
}

async fn run_swap(
    job: Arc<Job>,
    r: Arc<weir::control::registry::Running>,
    request: swap::Request,
) -> Result<Json<swap::Answer>, ApiError> {
    blocking(move || {
        let _one = job.control.lock().unwrap_or_else(|p| p.into_inner());
        let dir = r.coordinator.dir().to_path_buf();
        let answer = swap::execute(&r.plan, &r.coordinator, &r.swaps, &dir, request);
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
#[serde(deny_unknown_fields)]
struct LogQuery {
    /// Last lines to return. Default 200.
    tail: Option<usize>,
}

async fn logs(
    AxState(api): AxState<Shared>,
    Extension(tenant): Caller,
    Path(id): Path<String>,
    Query(q): Query<LogQuery>,
) -> Result<String, ApiError> {
    let job = job_of(&api, &tenant, &id)?;
    blocking(move || {
        // The log is capped (it rotates at 8 MiB), so reading it whole is bounded.
        let text = std::fs::read_to_string(job.dir.join("job.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = q.tail.unwrap_or(200);
        Ok(lines[lines.len().saturating_sub(tail)..].join("\n") + "\n")
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputQuery {
    /// `sink` (default), `dead_letter`, `late_output`, or a named sink's
    /// name.
    name: Option<String>,
}

/// The outputs `GET /v1/jobs/{id}/output` serves: these, and named sinks,
/// whose names are letters, digits, `-` and `_` only, so a name never
/// becomes a path outside the job's `output/`.
const OUTPUTS: [&str; 3] = ["sink", "dead_letter", "late_output"];

async fn output(
    AxState(api): AxState<Shared>,
    Extension(tenant): Caller,
    Path(id): Path<String>,
    Query(q): Query<OutputQuery>,
) -> Result<axum::body::Body, ApiError> {
    let job = job_of(&api, &tenant, &id)?;
    let asked = q.name.unwrap_or_else(|| "sink".into());
    if !OUTPUTS.contains(&asked.as_str()) && !weir::job::valid_name(&asked) {
        return Err(ApiError::Invalid(format!(
            "output `{}`: one of sink, dead_letter, late_output, or a named sink",
            asked.escape_debug()
        )));
    }
    let name = &asked;
    let path = job.dir.join("output").join(format!("{name}.jsonl"));
    let file = tokio::fs::File::open(&path).await.map_err(|_| {
        ApiError::Conflict(format!(
            "job `{id}` has no `{name}` output to read: only file outputs are kept, from their first write on"
        ))
    })?;
    // Streamed: an output may be far larger than the host should hold.
    let chunks = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 256 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    Ok(axum::body::Body::from_stream(chunks))
}

async fn prometheus(
    AxState(api): AxState<Shared>,
    Extension(tenant): Caller,
) -> Result<impl IntoResponse, ApiError> {
    let text = blocking(move || {
        Ok(metrics::render(
            &api.registry.list(&tenant.name),
            &tenant.name,
        ))
    })
    .await?;
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
