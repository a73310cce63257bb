//! `GET /v1/stream`: the caller's jobs, once a second, as server-sent
//! events — what the dashboard draws, without polling. Each event is one
//! JSON object: `time_ms`, `jobs` (every job's status, as `GET /v1/jobs`)
//! and, with `?job=ID`, `job` (that job's status with its graph, stages
//! and checkpoints, as `GET /v1/jobs/{id}`).
//!
//! A tenant holds at most [`MAX_STREAMS`] streams at once: each costs the
//! host a status snapshot a second.

use super::context::Api;
use super::error::ApiError;
use super::status::{job_detail, job_status};
use axum::extract::{Extension, Query, State as AxState};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use weir::control::tenants::Tenant;

/// Streams one tenant may hold open at once.
pub const MAX_STREAMS: usize = 8;

/// How often a stream sends.
const EVERY: Duration = Duration::from_secs(1);

/// One open stream, counted until dropped.
struct Held {
    count: Arc<Api>,
    tenant: String,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut m = self.count.streams.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
        }
    }
}

#[derive(Deserialize)]
pub struct StreamQuery {
    job: Option<String>,
}

/// The handler.
pub async fn stream(
    AxState(api): AxState<Arc<Api>>,
    Extension(tenant): Extension<Arc<Tenant>>,
    Query(q): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>, ApiError> {
    {
        let mut m = api.streams.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(tenant.name.clone()).or_default();
        if *n >= MAX_STREAMS {
            return Err(ApiError::Quota(format!(
                "tenant `{}` has {MAX_STREAMS} status streams open, the most it may: close one (a dashboard tab) first",
                tenant.name
            )));
        }
        *n += 1;
    }
    let held = Held {
        count: api.clone(),
        tenant: tenant.name.clone(),
    };
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = (held, tick, tenant, q.job);
    let events = futures_util::stream::unfold(state, |(held, mut tick, tenant, job)| async move {
        tick.tick().await;
        let api = held.count.clone();
        let (t, j) = (tenant.clone(), job.clone());
        // Statuses read each job's version history from disk.
        let data = tokio::task::spawn_blocking(move || snapshot(&api, &t, j.as_deref()))
            .await
            .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }));
        let event = Event::default().data(data.to_string());
        Some((Ok(event), (held, tick, tenant, job)))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

fn snapshot(api: &Api, tenant: &Tenant, job: Option<&str>) -> serde_json::Value {
    let jobs = api.registry.list(&tenant.name);
    let detail = job.and_then(|id| api.registry.get(&tenant.name, id));
    serde_json::json!({
        "time_ms": weir::time::now_ms(),
        "jobs": jobs.iter().map(|j| job_status(j)).collect::<Vec<_>>(),
        "job": detail.map(|j| job_detail(&j)),
    })
}
