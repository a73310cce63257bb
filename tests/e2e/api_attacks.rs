//! `weir serve`'s API under attack: failed tokens are rate-limited per
//! address (and logged), bodies are bounded before they are read, names
//! cannot leave a job's directory, and uploads are decoded and hashed off
//! the async workers, so a big one does not stall other tenants' calls.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use weir_e2e::serve::Server;

/// Send raw request bytes; the status code and body of the answer.
fn raw(s: &Server, request: &[u8]) -> (u16, String) {
    let host = s.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream.write_all(request).expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).to_string();
    let code = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

#[test]
fn failed_tokens_are_rate_limited_per_address_and_logged() {
    let s = Server::start_with(
        "auth_max_failures = 3\nauth_window = \"3s\"",
        &[("acme", "")],
    );
    let good = s.token("acme").to_string();
    assert_eq!(s.http("GET", "/v1/jobs", Some(&good), None).0, 200);
    for _ in 0..3 {
        assert_eq!(s.http("GET", "/v1/jobs", Some("guess"), None).0, 401);
    }
    // Blocked: every request from this address, a valid token too (or a
    // guess that hit would show).
    let (code, body) = s.http("GET", "/v1/jobs", Some(&good), None);
    assert_eq!(code, 429, "{body}");
    assert!(body.contains("too many failed authentications"), "{body}");
    assert_eq!(s.http("GET", "/v1/jobs", Some("guess"), None).0, 429);
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(
        s.http("GET", "/v1/jobs", Some(&good), None).0,
        200,
        "the block ends with its window"
    );
    let log = s.log();
    assert!(
        log.contains("failed authentication") && log.contains("127.0.0.1"),
        "failures are logged with the address:\n{log}"
    );
    assert!(
        log.contains("refusing every request from this address"),
        "{log}"
    );
}

#[test]
fn bodies_are_bounded_before_they_are_read() {
    let s = Server::start(&[("acme", "max_upload = \"1MiB\"")]);
    let token = s.token("acme");
    let host = s.url.trim_start_matches("http://").to_string();
    // A body of 10 GB is announced and never sent: the answer comes at once.
    for (auth, expected) in [
        (format!("Authorization: Bearer {token}\r\n"), 413),
        (String::new(), 401),
    ] {
        let started = Instant::now();
        let (code, body) = raw(
            &s,
            format!(
                "POST /v1/jobs HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{{\"job\":"
            )
            .as_bytes(),
        );
        assert_eq!(code, expected, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "answered only after {:?}",
            started.elapsed()
        );
        if expected == 413 {
            assert!(body.contains("max_upload"), "{body}");
        }
    }
    // Chunked, with no length: cut off at the limit.
    let chunk = "A".repeat(1 << 20);
    let mut req = format!(
        "POST /v1/jobs HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    for _ in 0..3 {
        req.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    req.push_str("0\r\n\r\n");
    let (code, _) = raw(&s, req.as_bytes());
    assert_eq!(
        code, 413,
        "a body without a length is cut at the largest upload quota"
    );
}

#[test]
fn names_cannot_leave_the_jobs_directory() {
    let s = Server::start(&[("acme", "")]);
    let token = s.token("acme").to_string();
    let job = |name: &str| {
        serde_json::json!({
            "job": format!("name = \"{name}\"\n[source]\ntype = \"datagen\"\nschema = \"bids\"\nrows = 10\n[sink]\ntype = \"file\"\npath = \"out.jsonl\"\n")
        })
        .to_string()
    };
    for name in [
        "../../escape",
        "/etc/passwd",
        "a\\u0000b",
        &"x".repeat(65),
        "a.b",
    ] {
        let (code, body) = s.http("POST", "/v1/jobs", Some(&token), Some(&job(name)));
        assert_eq!(code, 422, "{name}: {body}");
        assert!(body.contains("name"), "{name}: {body}");
    }
    assert!(
        !s.data().join("tenants/escape").exists() && !s.dir.path().join("escape").exists(),
        "nothing was written outside"
    );
    // A real job, then paths that try to leave it.
    let (code, body) = s.http("POST", "/v1/jobs", Some(&token), Some(&job("ok")));
    assert_eq!(code, 201, "{body}");
    for path in [
        "/v1/jobs/..%2F..%2F..%2Fetc",
        "/v1/jobs/%2E%2E",
        "/v1/jobs/ok%00",
        &format!("/v1/jobs/{}", "y".repeat(1000)),
        "/v1/jobs/..%2Fok/logs",
    ] {
        let (code, body) = s.http("GET", path, Some(&token), None);
        assert_eq!(code, 404, "{path}: {body}");
    }
    for name in ["../../../../etc/passwd", "sink/../../job.toml", "%00"] {
        let (code, body) = s.http(
            "GET",
            &format!("/v1/jobs/ok/output?name={name}"),
            Some(&token),
            None,
        );
        assert_eq!(code, 422, "{name}: {body}");
        assert!(!body.contains("root:"), "{body}");
    }
}

#[test]
fn a_big_upload_does_not_stall_other_calls() {
    let s = Server::start(&[("big", ""), ("other", "")]);
    let (big, other) = (s.token("big").to_string(), s.token("other").to_string());
    // 120 MB of base64 to decode and hash, twice at once: more than the
    // API's two async workers could do without blocking everyone.
    let body = |i: usize| {
        serde_json::json!({
            "job": format!("name = \"big{i}\"\n[[operators]]\nname = \"op\"\ncomponent = \"op.wasm\"\n[source]\ntype = \"datagen\"\nschema = \"bids\"\nrows = 1\n[sink]\ntype = \"discard\"\n"),
            "components": { "op.wasm": "AAAA".repeat(30_000_000) },
        })
        .to_string()
    };
    let uploads: Vec<_> = (0..2)
        .map(|i| {
            let (s_url, big, body) = (s.url.clone(), big.clone(), body(i));
            std::thread::spawn(move || {
                let host = s_url.trim_start_matches("http://").to_string();
                let mut stream = TcpStream::connect(&host).expect("connect");
                let head = format!(
                    "POST /v1/jobs HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {big}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).expect("send");
                stream.write_all(body.as_bytes()).expect("send");
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                answer
            })
        })
        .collect();
    let uploading = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        assert_eq!(s.http("GET", "/v1/jobs", Some(&other), None).0, 200);
        slowest = slowest.max(started.elapsed());
        std::thread::sleep(Duration::from_millis(50));
    }
    for u in uploads {
        let answer = u.join().expect("upload");
        assert!(
            answer.starts_with("HTTP/1.1 422"),
            "{}",
            &answer[..answer.len().min(300)]
        );
    }
    let uploads_took = uploading.elapsed();
    eprintln!(
        "slowest call beside two 120 MB uploads: {slowest:?} (the uploads took {uploads_took:?})"
    );
    // A stalled call would wait out the rest of an upload (here about a
    // second and more); a machine busy with other tests slows the calls
    // and the uploads alike, so the bound grows with the uploads' time.
    let bound = Duration::from_millis(500).max(uploads_took / 2);
    assert!(
        slowest < bound,
        "another tenant's call took {slowest:?}, beside uploads that took {uploads_took:?}"
    );
}
