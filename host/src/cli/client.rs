//! The CLI as a client of `weir serve`: `submit`, `list`, `status`, `swap`,
//! `rollback`, `savepoint`, `cancel`, `logs`, `output`.
//!
//! The server comes from `--server` or `WEIR_SERVER` (default
//! `http://127.0.0.1:7878`), the tenant's token from `--token` or
//! `WEIR_TOKEN`.

use anyhow::{Context, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use weir::control::swap::short;
use weir::wasm::World;

/// Where the server is and who we are.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client of `server` with `token`.
    pub fn new(server: &str, token: Option<String>) -> anyhow::Result<Client> {
        let token = token.context(
            "no API token: pass --token or set WEIR_TOKEN (your tenant's token from the host's operator)",
        )?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(600)))
            .build()
            .new_agent();
        Ok(Client {
            base: server.trim_end_matches('/').to_string(),
            token,
            agent,
        })
    }

    /// Call the API; the body of a 2xx answer, or its error as an error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Vec<u8>> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let sent = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            (_, Some(b)) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(b),
            (_, None) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_empty(),
        };
        let mut response = sent.with_context(|| {
            format!(
                "cannot reach weir serve at {} (is it running? see --server / WEIR_SERVER)",
                self.base
            )
        })?;
        let status = response.status();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .context("reading the answer")?;
        if status.is_success() {
            return Ok(bytes);
        }
        let message = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["error"].as_str().map(String::from))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        bail!("{message} (HTTP {})", status.as_u16())
    }

    /// `GET path` and copy a 2xx answer's body to `out` as it arrives,
    /// however large.
    fn download(&self, path: &str, out: &mut impl std::io::Write) -> anyhow::Result<()> {
        let url = format!("{}{path}", self.base);
        let mut response = self
            .agent
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .with_context(|| {
                format!(
                    "cannot reach weir serve at {} (is it running? see --server / WEIR_SERVER)",
                    self.base
                )
            })?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            let bytes = response
                .body_mut()
                .with_config()
                .limit(1 << 20)
                .read_to_vec()
                .context("reading the answer")?;
            let message = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v["error"].as_str().map(String::from))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            bail!("{message} (HTTP {status})");
        }
        let mut body = response.body_mut().with_config().limit(u64::MAX).reader();
        std::io::copy(&mut body, out).context("reading the answer")?;
        Ok(())
    }

    /// Call the API and parse its JSON answer.
    pub fn json(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let bytes = self.call(method, path, body)?;
        serde_json::from_slice(&bytes).context("the server's answer is not JSON")
    }
}

fn b64(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A component to upload: a `.wasm` file as it is, a project built first.
fn component_bytes(path: &Path, world: World) -> anyhow::Result<String> {
    if path.is_dir() {
        let wasm = weir::build::build(path, world)?;
        return b64(&wasm);
    }
    b64(path)
}

/// `weir submit JOB.toml`: upload the job, its components (building
/// projects first) and a file source's input; print the job's status.
pub fn submit(c: &Client, job: &Path) -> anyhow::Result<()> {
    // A SQL script, or a job file that holds one (`sql = """…"""`), goes
    // as the job file it makes.
    let raw = std::fs::read_to_string(job).with_context(|| format!("reading {}", job.display()))?;
    let text = if crate::cli::is_sql(job)
        || toml::from_str::<toml::Table>(&raw).is_ok_and(|doc| weir::sql::holds_sql(&doc))
    {
        toml::to_string(&crate::cli::load_job(job, &[])?.spec)?
    } else {
        raw
    };
    // Checked here as the host will run it: with a [checkpoint] section,
    // which the host adds when the file has none.
    let has_checkpoint = toml::from_str::<toml::Table>(&text)
        .map(|t| t.contains_key("checkpoint"))
        .unwrap_or(true);
    let overrides = if has_checkpoint {
        vec![]
    } else {
        vec!["checkpoint.interval=10s".to_string()]
    };
    let loaded = crate::cli::load_job(job, &overrides)?;
    let spec = &loaded.spec;
    let mut components = BTreeMap::new();
    for (at, op) in spec.wasm_operators() {
        let world = if at.ends_with("keyed") {
            World::Keyed
        } else if at.ends_with("window.aggregate") {
            World::Aggregate
        } else {
            World::Transform
        };
        let written = op.component.to_string_lossy().to_string();
        let bytes = component_bytes(&loaded.resolve(&op.component), world)
            .with_context(|| format!("component of operator `{}`", op.name))?;
        components.insert(written, bytes);
    }
    let mut files = BTreeMap::new();
    for (_, _, source) in spec.all_sources() {
        if let weir::job::SourceSpec::File { path, .. } = source {
            files.insert(
                path.to_string_lossy().to_string(),
                b64(&loaded.resolve(path))?,
            );
        }
    }
    let status = c.json(
        "POST",
        "/v1/jobs",
        Some(json!({ "job": text, "components": components, "files": files })),
    )?;
    println!(
        "submitted job `{}`: {}",
        status["id"].as_str().unwrap_or_default(),
        status["state"].as_str().unwrap_or_default()
    );
    Ok(())
}

/// `weir list`.
pub fn list(c: &Client, as_json: bool) -> anyhow::Result<()> {
    let jobs = c.json("GET", "/v1/jobs", None)?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&jobs)?);
        return Ok(());
    }
    println!(
        "{:<24} {:<10} {:>12} {:>12} {:>10}  reason",
        "job", "state", "in", "out", "in/s"
    );
    for j in jobs.as_array().into_iter().flatten() {
        println!(
            "{:<24} {:<10} {:>12} {:>12} {:>10.0}  {}",
            j["id"].as_str().unwrap_or_default(),
            j["state"].as_str().unwrap_or_default(),
            j["records_in"],
            j["records_out"],
            j["rate_in"].as_f64().unwrap_or(0.0),
            j["reason"]
                .as_str()
                .map(|r| r.lines().next().unwrap_or_default())
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// `weir status JOB`.
pub fn status(c: &Client, id: &str, as_json: bool) -> anyhow::Result<()> {
    let s = c.json("GET", &format!("/v1/jobs/{id}"), None)?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    println!("job        {id}");
    println!("state      {}", s["state"].as_str().unwrap_or_default());
    if let Some(r) = s["reason"].as_str() {
        println!("reason     {}", r.replace('\n', "\n           "));
    }
    if let Some(r) = s["resumed"].as_str() {
        println!("started    {r}");
    }
    println!(
        "records    in {} ({:.0}/s), out {} ({:.0}/s)",
        s["records_in"],
        s["rate_in"].as_f64().unwrap_or(0.0),
        s["records_out"],
        s["rate_out"].as_f64().unwrap_or(0.0)
    );
    if let Some(w) = s["watermark"].as_i64() {
        println!(
            "watermark  {w} (lag {} ms)",
            s["watermark_lag_ms"].as_i64().unwrap_or(0)
        );
    }
    if let Some(cp) = s["last_checkpoint"].as_object() {
        println!(
            "checkpoint {} ({} bytes, {} ms)",
            cp["epoch"], cp["size_bytes"], cp["duration_ms"]
        );
    }
    for op in s["operators"].as_array().into_iter().flatten() {
        let versions = op["versions"].as_array().map_or(0, Vec::len);
        println!(
            "operator   {} {} ({} version(s), busy {} ms)",
            op["name"].as_str().unwrap_or_default(),
            short(op["digest"].as_str().unwrap_or_default()),
            versions,
            op["busy_ms"]
        );
    }
    Ok(())
}

/// `weir cancel JOB`.
pub fn cancel(c: &Client, id: &str) -> anyhow::Result<()> {
    let s = c.json("POST", &format!("/v1/jobs/{id}/cancel"), None)?;
    println!("job `{id}`: {}", s["state"].as_str().unwrap_or_default());
    Ok(())
}

/// `weir savepoint JOB` against a server.
pub fn savepoint(c: &Client, id: &str) -> anyhow::Result<()> {
    let s = c.json("POST", &format!("/v1/jobs/{id}/savepoint"), None)?;
    println!("{}", s["path"].as_str().unwrap_or_default());
    Ok(())
}

/// `weir swap JOB OPERATOR COMPONENT` against a server.
pub fn swap(
    c: &Client,
    id: &str,
    operator: &str,
    component: &Path,
    canary: Option<weir::control::swap::CanaryRequest>,
) -> anyhow::Result<()> {
    // The world is the server's to check; a project is built as a
    // transform unless its Cargo.toml says otherwise (Rust crates do).
    let bytes = component_bytes(component, World::Transform)?;
    let a = c.json(
        "POST",
        &format!("/v1/jobs/{id}/swap"),
        Some(json!({ "operator": operator, "component": bytes, "canary": canary })),
    )?;
    report_swap(id, operator, &a);
    Ok(())
}

/// `weir rollback JOB OPERATOR` against a server.
pub fn rollback(c: &Client, id: &str, operator: &str) -> anyhow::Result<()> {
    let a = c.json(
        "POST",
        &format!("/v1/jobs/{id}/rollback"),
        Some(json!({ "operator": operator })),
    )?;
    report_swap(id, operator, &a);
    Ok(())
}

fn report_swap(id: &str, operator: &str, a: &Value) {
    if let Some(c) = a["canary"].as_str() {
        println!("canary: {c}");
    }
    let digest = a["digest"].as_str().unwrap_or_default();
    println!(
        "operator `{operator}` of job `{id}` is now {} (live after checkpoint barrier {})",
        short(digest),
        a["epoch"]
    );
}

/// `weir logs JOB`.
pub fn logs(c: &Client, id: &str, tail: usize) -> anyhow::Result<()> {
    let text = c.call("GET", &format!("/v1/jobs/{id}/logs?tail={tail}"), None)?;
    print!("{}", String::from_utf8_lossy(&text));
    Ok(())
}

/// `weir output JOB`.
pub fn output(c: &Client, id: &str, name: &str) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    c.download(&format!("/v1/jobs/{id}/output?name={name}"), &mut out)?;
    use std::io::Write;
    out.flush()?;
    Ok(())
}
