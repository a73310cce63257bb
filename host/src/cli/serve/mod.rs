//! `weir serve`: one long-running host for many tenants' jobs, controlled
//! through a REST API (`openapi.yaml`) whose client is the `weir` CLI
//! (`weir submit`, `list`, `status`, `swap`, `rollback`, `savepoint`,
//! `cancel`, `logs`, `output`).
//!
//! Jobs run in this process, each on threads of its own, with its Wasm
//! instances held to its tenant's quotas (memory per instance, CPU time per
//! call) — so a job whose operator loops, hoards memory, traps or floods
//! its output fails alone, with the reason in its status, while every
//! other job goes on. Jobs that were running when the host stopped resume
//! from their latest checkpoints when it starts again.
//!
//! The control plane itself — tenants, admission, caps, the job registry,
//! starting jobs, live swap — is the library's [`weir::control`]; what
//! lives here is the edge: HTTP routes and authentication (errors become
//! HTTP statuses), status and metrics rendering, and the host's own
//! benchmarks.

pub mod admin;
pub mod api;
pub mod auth;
pub mod bench;
pub mod context;
pub mod dashboard;
pub mod error;
pub mod limiter;
pub mod metrics;
pub mod procfs;
pub mod status;
pub mod stream;

use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Name of the file in the data directory holding the address the API
/// listens on (useful with `--listen 127.0.0.1:0`).
pub const ADDRESS_FILE: &str = "address";

/// Run the host until interrupted.
pub fn serve(config_path: &Path, listen: Option<String>) -> anyhow::Result<()> {
    let cfg = weir::control::tenants::load(config_path)?;
    weir::control::tenants::set_cpu_shares(&cfg.tenants);
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("creating {}", cfg.data_dir.display()))?;
    let registry = weir::control::registry::Registry::open(&cfg.data_dir)?;
    let addr = listen.unwrap_or(cfg.listen.clone());
    let api = Arc::new(context::Api {
        registry,
        tenants: cfg.tenants.into_iter().map(Arc::new).collect(),
        limiter: limiter::AuthLimiter::new(
            cfg.auth_max_failures,
            Duration::from_millis(cfg.auth_window_ms.max(1) as u64),
        ),
        admin: cfg.admin_token_sha256,
        streams: Default::default(),
    });
    admin::started();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let local = listener.local_addr()?;
        let address_file = cfg.data_dir.join(ADDRESS_FILE);
        std::fs::write(&address_file, format!("http://{local}\n"))
            .with_context(|| format!("writing {}", address_file.display()))?;
        eprintln!(
            "weir: serving {} tenant(s) on http://{local} (data in {})",
            api.tenants.len(),
            cfg.data_dir.display()
        );
        {
            let api = api.clone();
            tokio::task::spawn_blocking(move || weir::control::registry::resume_all(&api.registry));
        }
        {
            let api = api.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    let api = api.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        weir::control::registry::enforce_quotas(&api.registry, &api.tenants);
                        weir::control::registry::sample_all(&api.registry);
                    })
                    .await;
                }
            });
        }
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
        };
        axum::serve(
            listener,
            api::router(api.clone())
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving the API")?;
        let running = api
            .registry
            .all()
            .iter()
            .filter(|j| j.record().state.active())
            .count();
        eprintln!(
            "weir: stopping; {running} running job(s) resume from their latest checkpoints when the host starts again"
        );
        Ok::<_, anyhow::Error>(())
    })?;
    // Job threads are not joined: they end with the process, as in a
    // crash, which their checkpoints are made for.
    std::process::exit(0)
}
