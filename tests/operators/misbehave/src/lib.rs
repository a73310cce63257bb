//! One map operator whose behaviour the job's `config` selects, so the tests
//! can check the host's answer to each way an operator goes wrong.

use weir_guest::{Error, Event};

#[derive(serde::Deserialize)]
struct Config {
    /// "trap", "loop", "hoard", "recurse", "probe", "socket", "reject-odd",
    /// "flood", "open-file", "open-socket", "burn", or anything else for
    /// identity.
    mode: String,
    /// For "burn": loop iterations per record (CPU work that ends).
    #[serde(default)]
    iterations: u64,
}

/// Misbehave as configured, on the first record.
#[weir_guest::flat_map]
fn misbehave(event: Event) -> Result<Vec<Event>, Error> {
    let cfg: Config = weir_guest::config()?;
    match cfg.mode.as_str() {
        // Two thousand records out for each one in: more than the host's
        // default limit of 1000 per record.
        "flood" => Ok(vec![event; 2_000]),
        // A hostile operator that insists: it fails when the sandbox says no.
        "open-file" => {
            let text = std::fs::read_to_string("/etc/passwd")
                .map_err(|e| Error::msg(format_args!("open /etc/passwd: {e}")))?;
            panic!("read {} bytes of /etc/passwd", text.len())
        }
        "open-socket" => {
            std::net::TcpStream::connect("127.0.0.1:22")
                .map_err(|e| Error::msg(format_args!("connect 127.0.0.1:22: {e}")))?;
            panic!("connected to 127.0.0.1:22")
        }
        // Honest work: a fixed number of iterations per record.
        "burn" => {
            let mut x: u64 = event.timestamp as u64;
            for _ in 0..cfg.iterations {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            std::hint::black_box(x);
            Ok(vec![event])
        }
        other => one(event, other).map(|e| vec![e]),
    }
}

fn one(event: Event, mode: &str) -> Result<Event, Error> {
    match mode {
        "trap" => panic!("operator bug: index out of range"),
        "loop" => {
            let mut x: u64 = event.timestamp as u64;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        "hoard" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "recurse" => {
            let depth = dive(event.timestamp as u64);
            Err(Error::msg(format_args!("came back from depth {depth}")))
        }
        "socket" => {
            // A network connection, which the sandbox must refuse.
            let socket = match std::net::TcpStream::connect("127.0.0.1:9") {
                Ok(_) => "connected".to_string(),
                Err(e) => format!("denied: {e}"),
            };
            let mut out = event;
            out.set_json(&serde_json::json!({ "socket": socket }))?;
            Ok(out)
        }
        "probe" => {
            // What the sandbox lets through: clock, files, environment.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let file = match std::fs::read_to_string("/etc/hostname") {
                Ok(_) => "read".to_string(),
                Err(e) => format!("denied: {e}"),
            };
            let env = std::env::vars().count();
            let mut out = event;
            out.set_json(&serde_json::json!({ "now_secs": now, "file": file, "env_vars": env }))?;
            Ok(out)
        }
        "reject-odd" => {
            let v: serde_json::Value = event.json()?;
            match v["n"].as_i64() {
                Some(n) if n % 2 == 1 => Err(Error::msg(format_args!("odd n: {n}"))),
                _ => Ok(event),
            }
        }
        _ => Ok(event),
    }
}

/// Unbounded recursion: only the stack's end stops it.
#[allow(unconditional_recursion)] // the point of this mode
fn dive(n: u64) -> u64 {
    let frame = std::hint::black_box([n; 16]);
    dive(std::hint::black_box(frame[3]).wrapping_add(1)).wrapping_add(frame[7])
}
