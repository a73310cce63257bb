//! `weir run`: prepare, resume, run with progress lines, take savepoints
//! on SIGUSR1.

use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use weir::checkpoint::recovery::RecoveryOptions;
use weir::runtime::Metrics;

/// Options of `weir run`.
pub struct RunOptions {
    /// The job file.
    pub job: PathBuf,
    /// `--set` overrides.
    pub set: Vec<String>,
    /// No progress lines.
    pub quiet: bool,
    /// Where to start from.
    pub recovery: RecoveryOptions,
}

/// Run a job to completion.
pub fn run(opts: RunOptions) -> anyhow::Result<()> {
    let loaded = crate::cli::load_job(&opts.job, &opts.set)?;
    let name = loaded.spec.name.clone();
    let weir::control::start::Prepared {
        plan,
        coordinator,
        ctx,
        pid: _pid,
        resumed,
    } = weir::control::start::prepare(loaded, &opts.recovery)?;
    if let Some(r) = resumed {
        eprintln!("weir: job `{name}` {r}");
    }
    let metrics = Arc::new(Metrics::default());
    let swaps = ctx.swaps.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let summary = rt.block_on(async {
        let m = metrics.clone();
        let job_plan = plan.clone();
        let mut job_task =
            tokio::task::spawn_blocking(move || weir::runtime::run(job_plan, m, ctx));
        let mut ticker = tokio::time::interval(Duration::from_secs(2));
        ticker.tick().await;
        let mut usr1 =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())?;
        let mut usr2 =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined2())?;
        let (mut last_in, mut last_t) = (0u64, Duration::ZERO);
        let summary = loop {
            tokio::select! {
                done = &mut job_task => break done.context("job thread")??,
                _ = tokio::signal::ctrl_c() => {
                    drop(_pid.0.as_ref().map(std::fs::remove_file));
                    eprintln!("weir: interrupted; {} records in, {} out so far", metrics.input(), metrics.output());
                    std::process::exit(130);
                }
                _ = usr1.recv() => match &coordinator {
                    Some(c) => {
                        tracing::info!(job = %name, "savepoint requested");
                        c.request_savepoint();
                    }
                    None => tracing::warn!(job = %name, "savepoint requested, but the job has no [checkpoint] section"),
                },
                _ = usr2.recv() => if let Some(c) = &coordinator {
                    // Building the new version takes a while: off this loop
                    // and off the data path.
                    let (plan, c, swaps) = (plan.clone(), c.clone(), swaps.clone());
                    tokio::task::spawn_blocking(move || {
                        let dir = c.dir().to_path_buf();
                        crate::cli::swap::serve_request(&plan, &c, &swaps, &dir);
                    });
                },
                _ = ticker.tick(), if !opts.quiet => {
                    let (input, t) = (metrics.input(), metrics.elapsed());
                    let rate = (input - last_in) as f64 / (t - last_t).as_secs_f64().max(1e-3);
                    (last_in, last_t) = (input, t);
                    let wm = metrics.watermark.load(std::sync::atomic::Ordering::Relaxed);
                    let wm = if wm == i64::MIN { "-".to_string() } else { wm.to_string() };
                    let chk = coordinator
                        .as_ref()
                        .and_then(|c| c.last_completed())
                        .map(|c| format!("  checkpoint {} ({} ms)", c.epoch, c.duration.as_millis()))
                        .unwrap_or_default();
                    eprintln!("[{name}] {:>6.1}s  in {input} ({rate:.0}/s)  out {}  watermark {wm}{chk}{}", t.as_secs_f64(), metrics.output(), metrics.kafka_progress());
                }
            }
        };
        Ok::<_, anyhow::Error>(summary)
    });
    // A swap request still waiting for a barrier that will never come (the
    // input ended) must not keep the process alive: its client sees the
    // process end and says the swap did not happen.
    rt.shutdown_background();
    let summary = summary?;
    eprintln!("weir: job `{name}` finished: {summary}");
    Ok(())
}
