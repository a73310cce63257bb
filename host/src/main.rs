//! The `weir` command line.

mod cli;

/// mimalloc instead of glibc's malloc: records, keys and rows are many
/// small allocations made and freed on several worker threads at once,
/// where glibc's arenas contend on their locks (a quarter of Nexmark q4's
/// time went to malloc, free and the arena lock; BENCHMARKS.md). Built
/// without its transparent-huge-page advice (`no_thp`): with it, every
/// fresh page of a growing heap was a 2 MiB page zeroed by the kernel,
/// which cost Nexmark q4 more than glibc's locks had.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, bail};
use clap::Parser;
use cli::args::{CheckpointsCommand, Cli, Command, is_job_file};
use std::time::Duration;
use weir::wasm::WasmEngine;

fn init_logging(verbose: u8) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let default = match verbose {
        0 => "warn,weir=info",
        1 => "info,weir=debug",
        _ => "debug,weir=trace",
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(filter);
    // Served jobs' own logs (a no-op unless `weir serve` registers jobs).
    // Unfiltered here (it keeps INFO and above itself): a second per-layer
    // filter beside the EnvFilter made some warnings vanish from stderr.
    let jobs = weir::control::logs::JobLogLayer;
    tracing_subscriber::registry()
        .with(stderr)
        .with(jobs)
        .init();
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match dispatch(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run {
            job,
            set,
            quiet,
            fresh,
            from_savepoint,
            allow_dropped_state,
        } => cli::run::run(cli::run::RunOptions {
            job,
            set,
            quiet,
            recovery: weir::checkpoint::recovery::RecoveryOptions {
                fresh,
                from_savepoint,
                allow_dropped_state,
            },
        }),
        Command::Sql {
            script,
            set,
            quiet,
            print_job,
            fresh,
        } => {
            let Some(script) = script else {
                return cli::sql_shell::shell();
            };
            if print_job {
                let loaded = cli::load_job(&script, &set)?;
                print!("{}", toml::to_string(&loaded.spec)?);
                return Ok(());
            }
            cli::run::run(cli::run::RunOptions {
                job: script,
                set,
                quiet,
                recovery: weir::checkpoint::recovery::RecoveryOptions {
                    fresh,
                    from_savepoint: None,
                    allow_dropped_state: false,
                },
            })
        }
        Command::Savepoint {
            job,
            server,
            set,
            timeout,
        } => {
            if is_job_file(&job) {
                cli::savepoint::savepoint(job.as_ref(), &set, Duration::from_secs(timeout))
            } else {
                cli::client::savepoint(&server.client()?, &job)
            }
        }
        Command::Swap {
            job,
            server,
            operator,
            component,
            set,
            canary,
            canary_for,
            max_error_rate,
            timeout,
        } => {
            let duration_ms = canary_for
                .as_deref()
                .map(|d| {
                    weir::time::parse_duration_ms(d)
                        .map(|ms| ms.max(1) as u64)
                        .map_err(|e| anyhow::anyhow!("--canary-for: {e}"))
                })
                .transpose()?;
            if canary.is_none() && duration_ms.is_none() && max_error_rate != 0.0 {
                bail!(
                    "--max-error-rate applies to a canary: add --canary RECORDS or --canary-for DURATION"
                );
            }
            let canary = (canary.is_some() || duration_ms.is_some()).then_some(
                weir::control::swap::CanaryRequest {
                    records: canary.unwrap_or(0),
                    duration_ms,
                    max_error_rate,
                },
            );
            if is_job_file(&job) {
                cli::swap::swap(
                    job.as_ref(),
                    &set,
                    &operator,
                    &component,
                    canary,
                    Duration::from_secs(timeout),
                )
            } else {
                cli::client::swap(&server.client()?, &job, &operator, &component, canary)
            }
        }
        Command::Rollback {
            job,
            server,
            operator,
            set,
            timeout,
        } => {
            if is_job_file(&job) {
                cli::swap::rollback(job.as_ref(), &set, &operator, Duration::from_secs(timeout))
            } else {
                cli::client::rollback(&server.client()?, &job, &operator)
            }
        }
        Command::Serve { config, listen } => cli::serve::serve(&config, listen),
        Command::Token { hash } => {
            match hash {
                Some(t) => println!("{}", weir::control::tenants::hash_token(&t)),
                None => {
                    let token = weir::control::tenants::new_token()?;
                    println!("token:        {token}");
                    println!(
                        "token_sha256: {}",
                        weir::control::tenants::hash_token(&token)
                    );
                }
            }
            Ok(())
        }
        Command::Submit { job, server } => cli::client::submit(&server.client()?, &job),
        Command::List { server, json } => cli::client::list(&server.client()?, json),
        Command::Status { job, server, json } => cli::client::status(&server.client()?, &job, json),
        Command::Cancel { job, server } => cli::client::cancel(&server.client()?, &job),
        Command::Logs { job, server, tail } => cli::client::logs(&server.client()?, &job, tail),
        Command::Output { job, server, name } => {
            cli::client::output(&server.client()?, &job, &name)
        }
        Command::Build {
            project,
            world,
            output,
        } => {
            let wasm = weir::build::build(&project, world.into())?;
            let wasm = match output {
                Some(out) => {
                    std::fs::copy(&wasm, &out)
                        .with_context(|| format!("copying to {}", out.display()))?;
                    out
                }
                None => wasm,
            };
            // Check what was built, so a successful build is a usable component.
            let component = weir::wasm::LoadedComponent::load(
                WasmEngine::shared()?,
                "build",
                &wasm,
                cli::inspect::world_of(&wasm)?,
            )?;
            println!(
                "{} ({} world, weir:dataflow@{}, sha256 {})",
                wasm.display(),
                component.world,
                component.world.version(),
                &component.digest[..16]
            );
            Ok(())
        }
        Command::Validate {
            job,
            set,
            components,
        } => {
            let loaded = cli::load_job(&job, &set)?;
            if components {
                weir::plan::prepare(loaded, WasmEngine::shared()?)?;
            } else {
                cli::inspect::check_paths(&loaded)?;
            }
            println!("{}: ok", job.display());
            Ok(())
        }
        Command::Bench(mut args) => {
            // The host benchmarks start a `weir serve` and Nexmark runs
            // `weir sql` (both this binary) beside Flink; the rest are the
            // library's.
            let mut take = |names: &[&str]| -> Vec<String> {
                let taken: Vec<String> = args
                    .only
                    .iter()
                    .filter(|o| names.contains(&o.as_str()))
                    .cloned()
                    .collect();
                args.only.retain(|o| !taken.contains(o));
                taken
            };
            let host = take(&cli::serve::bench::NAMES);
            let nexmark = take(&[cli::nexmark_bench::NAME]);
            let (operator, jobs) = (args.operator.clone(), args.jobs);
            let options = cli::nexmark_bench::Options {
                events: args.records,
                parallelism: args.parallelism.clone(),
                queries: args.queries.clone(),
                repeat: args.repeat,
            };
            if (host.is_empty() && nexmark.is_empty()) || !args.only.is_empty() {
                weir::bench::run(args)?;
            }
            if !host.is_empty() {
                cli::serve::bench::run(&host, &operator, jobs)?;
            }
            if !nexmark.is_empty() {
                cli::nexmark_bench::run(&options)?;
            }
            Ok(())
        }
        Command::Checkpoints(CheckpointsCommand::List { dir }) => {
            cli::inspect::list_checkpoints(&dir)
        }
    }
}
