//! One map operator whose behaviour the job's `config` selects, so the tests
//! can check the host's answer to each way an operator goes wrong.

use weir_guest::{Error, Event};

#[derive(serde::Deserialize)]
struct Config {
    /// "trap", "loop", "hoard", "recurse", "probe", "socket", "reject-odd",
    /// or anything else for identity.
    mode: String,
}

/// Misbehave as configured, on the first record.
#[weir_guest::map]
fn misbehave(event: Event) -> Result<Event, Error> {
    let cfg: Config = weir_guest::config()?;
    match cfg.mode.as_str() {
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
