//! A real PostgreSQL server for the tests, and a client to read what jobs
//! wrote.
//!
//! [`server`] returns `$WEIR_POSTGRES_URL` if set, else starts the
//! project's own server with `scripts/postgres.sh start` (a no-op when
//! `scripts/test.sh` already started it; installs Debian's `postgresql`
//! the first time). If no server can be had the test fails with the
//! script's output: PostgreSQL tests never skip.

use std::sync::OnceLock;

/// The URL of the test server, starting it if needed.
pub fn server() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(u) = std::env::var("WEIR_POSTGRES_URL") {
            return u;
        }
        let script = crate::repo().join("scripts/postgres.sh");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .arg("start")
            .output()
            .expect("run scripts/postgres.sh");
        assert!(
            out.status.success(),
            "could not start the test PostgreSQL server (scripts/postgres.sh start):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let url = std::process::Command::new("bash")
            .arg(&script)
            .arg("url")
            .output()
            .expect("run scripts/postgres.sh url");
        String::from_utf8_lossy(&url.stdout).trim().to_string()
    })
    .clone()
}

/// A client of the test server.
pub fn client() -> postgres::Client {
    postgres::Client::connect(&server(), postgres::NoTls).expect("connect to the test PostgreSQL")
}

/// A table name no other test (or earlier run) uses.
pub fn unique_table(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{name}_{}_{nanos}", std::process::id())
}
