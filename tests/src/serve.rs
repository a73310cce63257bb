//! A `weir serve` for tests: a host with tenants in a scratch data
//! directory, driven through the CLI (as users do) or raw HTTP (for the
//! auth tests), restartable over the same data.

use crate::{Run, weir_bin};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `weir serve` and its tenants' tokens.
pub struct Server {
    child: Option<Child>,
    /// Config and data.
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    tokens: Vec<(String, String)>,
}

/// The token tests give tenant `name` (their digests go into the config).
pub fn token_of(name: &str) -> String {
    format!("test-token-of-{name}-0123456789abcdef")
}

impl Server {
    /// Start a host with `tenants`: (name, extra TOML lines of its
    /// `[tenant.quotas]`).
    pub fn start(tenants: &[(&str, &str)]) -> Server {
        Self::start_with("", tenants)
    }

    /// Like [`Server::start`], with `head` (top-level settings of the host
    /// config) first.
    pub fn start_with(head: &str, tenants: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = format!("data_dir = \"data\"\n{head}\n");
        let mut tokens = Vec::new();
        for (name, quotas) in tenants {
            let token = token_of(name);
            let digest = crate::weir(&["token", "--hash", &token]).ok().stdout();
            config.push_str(&format!(
                "[[tenant]]\nname = \"{name}\"\ntoken_sha256 = \"{}\"\n[tenant.quotas]\n{quotas}\n",
                digest.trim()
            ));
            tokens.push((name.to_string(), token));
        }
        std::fs::write(dir.path().join("host.toml"), config).expect("config");
        let mut s = Server {
            child: None,
            dir,
            url: String::new(),
            tokens,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let address = self.dir.path().join("data/address");
        let _ = std::fs::remove_file(&address);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("serve.log"))
            .expect("serve.log");
        let child = Command::new(weir_bin())
            .args(["serve", "--config", "host.toml", "--listen", "127.0.0.1:0"])
            .current_dir(self.dir.path())
            .env("RUST_LOG", "warn,weir=info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start weir serve");
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Ok(a) = std::fs::read_to_string(&address)
                && a.ends_with('\n')
            {
                self.url = a.trim().to_string();
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("weir serve exited ({status}):\n{}", self.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "weir serve did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The host's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the host runs").id()
    }

    /// The host's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    /// Kill the host (SIGKILL, like a crash) and start it again over the
    /// same data.
    pub fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.spawn();
    }

    /// Tenant `tenant`'s token.
    pub fn token(&self, tenant: &str) -> &str {
        &self
            .tokens
            .iter()
            .find(|(n, _)| n == tenant)
            .expect("a tenant of this server")
            .1
    }

    /// `weir ARGS` as tenant `tenant`, in `dir`.
    pub fn cli_in(&self, dir: &Path, tenant: &str, args: &[&str]) -> Run {
        let output = Command::new(weir_bin())
            .args(args)
            .current_dir(dir)
            .env("WEIR_SERVER", &self.url)
            .env("WEIR_TOKEN", self.token(tenant))
            .env("RUST_LOG", "warn")
            .output()
            .expect("run weir");
        Run { output }
    }

    /// `weir ARGS` as tenant `tenant`.
    pub fn cli(&self, tenant: &str, args: &[&str]) -> Run {
        self.cli_in(&crate::repo(), tenant, args)
    }

    /// `weir status JOB --json` as `tenant`.
    pub fn status(&self, tenant: &str, job: &str) -> serde_json::Value {
        let out = self.cli(tenant, &["status", job, "--json"]).ok().stdout();
        serde_json::from_str(&out).expect("status JSON")
    }

    /// Wait until `tenant`'s job `job` satisfies `done`; its status then.
    pub fn wait_for(
        &self,
        tenant: &str,
        job: &str,
        timeout: Duration,
        what: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let started = Instant::now();
        loop {
            let s = self.status(tenant, job);
            if done(&s) {
                return s;
            }
            assert!(
                started.elapsed() < timeout,
                "job `{job}` of `{tenant}`: not {what} within {timeout:?}: {s:#}\nhost log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until the job has ended (finished, failed or cancelled).
    pub fn wait_ended(&self, tenant: &str, job: &str, timeout: Duration) -> serde_json::Value {
        self.wait_for(tenant, job, timeout, "ended", |s| {
            !matches!(s["state"].as_str(), Some("starting" | "running"))
        })
    }

    /// A raw HTTP request: (status code, body).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        let host = self.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(host).expect("connect");
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        if let Some(t) = token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        let body = body.unwrap_or("");
        if method == "POST" {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        req.push_str("\r\n");
        req.push_str(body);
        stream.write_all(req.as_bytes()).expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read");
        let code = answer
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("status code");
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (code, body)
    }

    /// The data directory.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
