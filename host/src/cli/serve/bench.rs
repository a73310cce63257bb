//! `weir bench --only submit,density`: the host as a whole, measured
//! against a running `weir serve` (started by the benchmark as a child
//! process, driven through its API like the CLI does).
//!
//! - `submit`: time from `POST /v1/jobs` to the job's first record at its
//!   sink, 20 submissions of a generator → Wasm map+filter → file job (the
//!   first one of the component in this host reported apart: it links the
//!   component). Baseline: a standalone `weir run` of the same job on one
//!   record, from process start to exit (output written).
//! - `density`: `--jobs` idle jobs (a generator releasing one record a
//!   second, a Wasm map+filter, a discarding sink) in one host: its RSS and
//!   threads, memory per job, and the CPU the idle jobs cost. Baseline: the
//!   same host with no jobs.
//! - `fairness`: two tenants with equal `cpu_share`, one running 20
//!   CPU-bound jobs (a generator at full rate, a Wasm map+filter, a
//!   discarding sink) and one running a single such job: the CPU each
//!   tenant's jobs get over 10 s, read from the host's accounts. Baseline:
//!   what the single job would get if the host shared its CPU per job (or
//!   per thread) rather than per tenant, 1/21.

use crate::cli::client::Client;
use anyhow::{Context, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The benchmarks of this module (run only when named in `--only`).
pub const NAMES: [&str; 3] = ["submit", "density", "fairness"];

/// A `weir serve` child with its tenants.
struct Host {
    child: Child,
    _dir: tempfile::TempDir,
    /// The first tenant's client.
    client: Client,
    /// Every tenant's client, the first one's too.
    tenants: Vec<Client>,
}

impl Host {
    fn start(max_jobs: usize) -> anyhow::Result<Host> {
        Host::with_tenants(&["bench"], &format!("max_jobs = {max_jobs}\n"))
    }

    /// A host with tenants `names`, each with `quotas` (TOML lines).
    fn with_tenants(names: &[&str], quotas: &str) -> anyhow::Result<Host> {
        let dir = tempfile::tempdir()?;
        let mut config = "data_dir = \"data\"\n".to_string();
        let mut tokens = Vec::new();
        for name in names {
            let token = weir::control::tenants::new_token()?;
            config += &format!(
                "[[tenant]]\nname = \"{name}\"\ntoken_sha256 = \"{}\"\n[tenant.quotas]\n{quotas}",
                weir::control::tenants::hash_token(&token)
            );
            tokens.push(token);
        }
        std::fs::write(dir.path().join("host.toml"), config)?;
        let log = std::fs::File::create(dir.path().join("serve.log"))?;
        let child = Command::new(std::env::current_exe()?)
            .args(["serve", "--config", "host.toml", "--listen", "127.0.0.1:0"])
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting weir serve")?;
        let address = dir.path().join("data").join(super::ADDRESS_FILE);
        let started = Instant::now();
        let url = loop {
            if let Ok(a) = std::fs::read_to_string(&address)
                && a.ends_with('\n')
            {
                break a.trim().to_string();
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!(
                    "weir serve did not start: {}",
                    std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let tenants = tokens
            .into_iter()
            .map(|t| Client::new(&url, Some(t)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Host {
            child,
            _dir: dir,
            client: tenants[0].clone(),
            tenants,
        })
    }

    /// A field of /proc/PID/status, in its unit (kB for memory).
    fn proc_status(&self, field: &str) -> u64 {
        super::procfs::status_field(self.child.id(), field)
    }

    /// User + system CPU seconds of the host so far.
    fn cpu_secs(&self) -> f64 {
        super::procfs::cpu_seconds(self.child.id())
    }

    fn submit(&self, job: &str, component: &str) -> anyhow::Result<()> {
        submit_as(&self.client, job, component)
    }
}

fn submit_as(client: &Client, job: &str, component: &str) -> anyhow::Result<()> {
    client.json(
        "POST",
        "/v1/jobs",
        Some(json!({ "job": job, "components": { "op.wasm": component } })),
    )?;
    Ok(())
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run the named host benchmarks; `operator` is the map+filter component.
pub fn run(names: &[String], operator: &Path, jobs: usize) -> anyhow::Result<()> {
    let wasm: PathBuf = if operator.extension().is_some_and(|e| e == "wasm") {
        operator.to_path_buf()
    } else {
        weir::build::build(operator, weir::wasm::World::Transform)?
    };
    let component = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&wasm)?);
    println!("| benchmark | weir serve | baseline | ratio |\n|---|---|---|---|");
    if names.iter().any(|n| n == "submit") {
        submit(&wasm, &component)?;
    }
    if names.iter().any(|n| n == "density") {
        density(&component, jobs)?;
    }
    if names.iter().any(|n| n == "fairness") {
        fairness(&component)?;
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn submit(wasm: &Path, component: &str) -> anyhow::Result<()> {
    let host = Host::start(100)?;
    let job = |name: &str, rows: u64| {
        format!(
            "name = \"{name}\"\n[source]\ntype = \"datagen\"\nschema = \"transactions\"\nrows = {rows}\n\
             [[operators]]\nname = \"map-filter\"\ncomponent = \"op.wasm\"\n\
             [sink]\ntype = \"file\"\npath = \"out.jsonl\"\n[checkpoint]\ninterval = \"1s\"\n"
        )
    };
    let mut times = Vec::new();
    for i in 0..21 {
        let name = format!("s{i}");
        let t = Instant::now();
        host.submit(&job(&name, 1_000_000_000), component)?;
        loop {
            let s: Value = host.client.json("GET", &format!("/v1/jobs/{name}"), None)?;
            if s["records_out"].as_u64().is_some_and(|n| n > 0) {
                break;
            }
            if s["state"] != "running" && s["state"] != "starting" {
                bail!("benchmark job {name} ended: {s}");
            }
            if t.elapsed() > Duration::from_secs(60) {
                bail!("no output from {name} within 60 s");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        times.push(t.elapsed().as_secs_f64() * 1e3);
        host.client
            .json("POST", &format!("/v1/jobs/{name}/cancel"), None)?;
    }
    let first = times.remove(0);
    times.sort_by(f64::total_cmp);

    // Baseline: a standalone `weir run` of the same job on one record.
    let dir = tempfile::tempdir()?;
    std::fs::copy(wasm, dir.path().join("op.wasm"))?;
    std::fs::write(dir.path().join("job.toml"), job("standalone", 1))?;
    let mut standalone = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let out = Command::new(std::env::current_exe()?)
            .args(["run", "-q", "job.toml", "--fresh"])
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .output()?;
        if !out.status.success() {
            bail!("weir run: {}", String::from_utf8_lossy(&out.stderr));
        }
        standalone.push(t.elapsed().as_secs_f64() * 1e3);
    }
    standalone.sort_by(f64::total_cmp);
    let base = percentile(&standalone, 0.5);
    let p50 = percentile(&times, 0.5);
    println!(
        "| submit → first output, p50 / p99 of 20 (first of the component: {first:.0} ms) | {p50:.1} ms / {:.1} ms | `weir run` start → output written, median of 5: {base:.1} ms | {:.2}x |",
        percentile(&times, 0.99),
        base / p50
    );
    Ok(())
}

fn density(component: &str, jobs: usize) -> anyhow::Result<()> {
    let host = Host::start(jobs + 10)?;
    std::thread::sleep(Duration::from_secs(1));
    let (rss0, threads0) = (host.proc_status("VmRSS:"), host.proc_status("Threads:"));
    let t = Instant::now();
    for i in 0..jobs {
        let job = format!(
            "name = \"idle{i}\"\nbatch_size = 1\n[source]\ntype = \"datagen\"\nschema = \"transactions\"\nrows = 1000000000\nrate = 1\nseed = {i}\n\
             [[operators]]\nname = \"map-filter\"\ncomponent = \"op.wasm\"\n\
             [sink]\ntype = \"discard\"\n[checkpoint]\ninterval = \"60s\"\n"
        );
        host.submit(&job, component)
            .with_context(|| format!("submitting job {i} of {jobs}"))?;
    }
    let submit_secs = t.elapsed().as_secs_f64();
    // Settle, then measure memory and the idle jobs' CPU over 10 s.
    std::thread::sleep(Duration::from_secs(5));
    let list: Value = host.client.json("GET", "/v1/jobs", None)?;
    let running = list
        .as_array()
        .map_or(0, |a| a.iter().filter(|j| j["state"] == "running").count());
    if running != jobs {
        bail!("only {running} of {jobs} jobs are running");
    }
    let cpu0 = host.cpu_secs();
    std::thread::sleep(Duration::from_secs(10));
    let cpu = (host.cpu_secs() - cpu0) / 10.0;
    let (rss, threads) = (host.proc_status("VmRSS:"), host.proc_status("Threads:"));
    let per_job = (rss.saturating_sub(rss0)) as f64 / jobs as f64;
    println!(
        "| density: {jobs} idle jobs in one host (submitted in {submit_secs:.1} s) | RSS {:.0} MiB ({per_job:.0} KiB/job), {threads} threads, {:.1}% of a core | empty host: RSS {:.0} MiB, {threads0} threads | {:.2} GiB for {jobs} jobs |",
        rss as f64 / 1024.0,
        cpu * 100.0,
        rss0 as f64 / 1024.0,
        rss as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}

/// CPU seconds each of a tenant's running jobs used so far, summed.
fn tenant_cpu(client: &Client) -> anyhow::Result<(f64, usize)> {
    let list: Value = client.json("GET", "/v1/jobs", None)?;
    let jobs = list.as_array().context("job list")?;
    let mut cpu = 0.0;
    let mut running = 0;
    for j in jobs {
        if j["state"] == "running" {
            running += 1;
        }
        let id = j["id"].as_str().context("job id")?;
        let s: Value = client.json("GET", &format!("/v1/jobs/{id}"), None)?;
        cpu += s["cpu_seconds"].as_f64().unwrap_or(0.0);
    }
    Ok((cpu, running))
}

fn fairness(component: &str) -> anyhow::Result<()> {
    const MANY: usize = 20;
    // No rate cap: every job could use a core or more.
    let host = Host::with_tenants(
        &["many", "one"],
        &format!("max_jobs = {}\nmax_source_rate = 0\n", MANY + 1),
    )?;
    let job = |i: usize| {
        format!(
            "name = \"busy{i}\"\n[source]\ntype = \"datagen\"\nschema = \"transactions\"\nrows = 1000000000\nseed = {i}\n\
             [[operators]]\nname = \"map-filter\"\ncomponent = \"op.wasm\"\n\
             [sink]\ntype = \"discard\"\n[checkpoint]\ninterval = \"10s\"\n"
        )
    };
    for i in 0..MANY {
        submit_as(&host.tenants[0], &job(i), component)?;
    }
    submit_as(&host.tenants[1], &job(MANY), component)?;
    std::thread::sleep(Duration::from_secs(3));
    let (many0, running_many) = tenant_cpu(&host.tenants[0])?;
    let (one0, running_one) = tenant_cpu(&host.tenants[1])?;
    if running_many != MANY || running_one != 1 {
        bail!("{running_many} of {MANY} and {running_one} of 1 jobs are running");
    }
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    let (many1, _) = tenant_cpu(&host.tenants[0])?;
    let (one1, _) = tenant_cpu(&host.tenants[1])?;
    let secs = t.elapsed().as_secs_f64();
    let (many, one) = (many1 - many0, one1 - one0);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as f64;
    println!(
        "| fairness: tenant A runs {MANY} CPU-bound jobs, tenant B one, equal cpu_share; B's share of the CPU over {secs:.0} s | B {:.0}% ({one:.1} CPU-s), A {:.0}% ({many:.1} CPU-s); B's job had {:.0}% of the machine ({cores:.0} cores) | per-job sharing would give B 1/{} = {:.0}% | {:.1}x |",
        100.0 * one / (one + many),
        100.0 * many / (one + many),
        100.0 * one / (secs * cores),
        MANY + 1,
        100.0 / (MANY + 1) as f64,
        (one / (one + many)) * (MANY + 1) as f64,
    );
    Ok(())
}
