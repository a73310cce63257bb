//! Fuzz targets for the parsers that read what a tenant sends: the job file
//! (parser, validator, quota caps, admission), the JSON field extractor
//! (held to agree with `serde_json`), checkpoint metadata, and the API's
//! submission decoding.
//!
//! They run on stable Rust, inside `cargo test`: each target starts from
//! its committed corpus (`host/fuzz/corpus/<target>/`), mutates inputs at
//! random (bit flips, interesting bytes, insertions, deletions, duplicated
//! ranges, splices between inputs, dictionary words) and checks that the
//! code under test neither panics nor breaks its properties. Each runs for
//! `WEIR_FUZZ_SECS` seconds (default 2; `scripts/fuzz.sh` and CI run 60 and
//! more) from seed `WEIR_FUZZ_SEED` (default: the clock, printed). A failing
//! input is written to `host/fuzz/crashes/<target>/` and named in the
//! failure, with the command that replays it; fixed ones join the corpus.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A small, fast, seedable generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

const INTERESTING: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b'"', b'\\', b'{', b'}', b'[', b']', b'=', b'.', b'\n', b'-', b'0',
    b'9',
];

/// One random change to `data`.
fn mutate(rng: &mut Rng, data: &mut Vec<u8>, corpus: &[Vec<u8>], dict: &[&[u8]]) {
    let len = data.len();
    match rng.below(8) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = INTERESTING[rng.below(INTERESTING.len())];
        }
        2 => {
            let i = rng.below(len + 1);
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            data.splice(i..i, bytes);
        }
        3 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(32));
            data.drain(i..i + n);
        }
        4 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(64));
            let copy = data[i..i + n].to_vec();
            let at = rng.below(len + 1);
            data.splice(at..at, copy);
        }
        5 if !corpus.is_empty() => {
            let other = &corpus[rng.below(corpus.len())];
            if !other.is_empty() {
                let from = rng.below(other.len());
                let to = from + rng.below(other.len() - from) + 1;
                let at = rng.below(len + 1);
                let cut = at + rng.below(len - at + 1);
                data.splice(at..cut, other[from..to].iter().copied());
            }
        }
        6 if !dict.is_empty() => {
            let word = dict[rng.below(dict.len())];
            let at = rng.below(len + 1);
            data.splice(at..at, word.iter().copied());
        }
        _ => {
            // Repeat a byte many times: long names, deep nesting.
            if len > 0 {
                let i = rng.below(len);
                let n = 1 + rng.below(256);
                let b = data[i];
                data.splice(i..i, std::iter::repeat_n(b, n));
            }
        }
    }
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The committed corpus of `target`.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let corpus: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).expect("corpus file"))
        .collect();
    assert!(!corpus.is_empty(), "{}: no corpus", dir.display());
    corpus
}

/// Run `check` on the corpus, then on mutants until the time is up.
fn fuzz(target: &str, dict: &[&[u8]], check: impl Fn(&[u8], &mut Rng)) {
    let secs: u64 = std::env::var("WEIR_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let seed: u64 = std::env::var("WEIR_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
        | 1;
    let corpus = corpus(target);
    let mut rng = Rng(seed);
    let started = Instant::now();
    let deadline = Duration::from_secs(secs);
    let mut runs = 0u64;
    let mut run = |input: &[u8], rng: &mut Rng| {
        runs += 1;
        let mut inner = Rng(rng.next() | 1);
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(input, &mut inner))) {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let dir = fuzz_dir().join("crashes").join(target);
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join(format!("crash-{seed}-{runs}"));
            let _ = std::fs::write(&file, input);
            panic!(
                "fuzz target `{target}` failed on {} (seed {seed}): {what}\n  replay: add it to host/fuzz/corpus/{target}/ and run `cargo test -p weir --test fuzz {target}`",
                file.display()
            );
        }
    };
    for input in &corpus {
        run(input, &mut rng);
    }
    while started.elapsed() < deadline {
        let mut input = corpus[rng.below(corpus.len())].clone();
        for _ in 0..1 + rng.below(6) {
            mutate(&mut rng, &mut input, &corpus, dict);
        }
        input.truncate(1 << 16);
        run(&input, &mut rng);
    }
    eprintln!(
        "fuzz {target}: {runs} runs in {:.1} s (seed {seed})",
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------
// Target 1: job files — parse, validate, cap, admit, round-trip.

fn tenant() -> weir::control::tenants::Tenant {
    let mut quotas = weir::control::tenants::Quotas::defaults();
    quotas.kafka_topic_prefixes = vec!["t.".into()];
    quotas.grants = vec!["clocks".into()];
    weir::control::tenants::Tenant {
        name: "t".into(),
        token_sha256: [0; 32],
        quotas,
        kafka_properties: Default::default(),
    }
}

#[test]
fn job_file() {
    let dict: &[&[u8]] = &[
        b"[source]",
        b"[sink]",
        b"[window]",
        b"[keyed]",
        b"[[operators]]",
        b"[limits]",
        b"[checkpoint]",
        b"[key_by]",
        b"[event_time]",
        b"[state]",
        b"type = \"kafka\"",
        b"type = \"session\"",
        b"size = \"1ms\"",
        b"slide = \"0s\"",
        b"gap = \"9999999d\"",
        b"parallelism = 0",
        b"batch_size = 18446744073709551615",
        b"memory = \"99999999GiB\"",
        b"properties = { \"group.id\" = \"x\" }",
        b"allowed_lateness = \"-1s\"",
        b"\"\\u0000\"",
        b"rate = 0",
        b"retain = 0",
    ];
    let t = tenant();
    fuzz("job_file", dict, |input, _| {
        let text = String::from_utf8_lossy(input);
        let Ok(spec) = toml::from_str::<weir::job::JobSpec>(&text) else {
            return;
        };
        let problems = weir::job::validate(&spec);
        for p in &problems {
            assert!(
                !p.at.is_empty() && !p.message.is_empty(),
                "a problem says where and what"
            );
        }
        if problems.is_empty() {
            let _ = weir::control::caps::check(&spec, "t", &t.quotas);
            // What the host stores is what it checked: a job written back
            // reads as the same job.
            let again = toml::to_string(&spec).expect("a valid job serializes");
            let reread: weir::job::JobSpec = toml::from_str(&again)
                .unwrap_or_else(|e| panic!("a stored job does not parse: {e}\n{again}"));
            assert!(weir::job::validate(&reread).is_empty(), "{again}");
            assert_eq!(toml::to_string(&reread).expect("serializes"), again);
        }
        let sub = weir::control::admission::Submission {
            job: text.into_owned(),
            components: Default::default(),
            files: Default::default(),
        };
        if let Ok(checked) = weir::control::admission::check(&t, &sub) {
            // Whatever passed admission is within every cap.
            weir::control::caps::check(&checked, "t", &t.quotas)
                .unwrap_or_else(|e| panic!("admitted over a cap: {e}"));
            assert!(weir::job::validate(&checked).is_empty());
        }
    });
}

// ---------------------------------------------------------------------
// Target 2: the JSON field extractor agrees with serde_json.

/// A random JSON value as text, with escaped and duplicate member names.
fn gen_json(rng: &mut Rng, depth: usize, out: &mut String) {
    const NAMES: &[&str] = &[
        "a", "b", "ts", "\\u0061", "a\\\"b", "\\\\", "\\u0074s", "é", "", "a b",
    ];
    match if depth > 3 {
        rng.below(4)
    } else {
        rng.below(7)
    } {
        0 => out.push_str(&format!("{}", rng.next() as i64 >> rng.below(60))),
        1 => out.push_str(&format!("{:e}", (rng.next() as f64) / 7.0)),
        2 => out.push_str(
            [
                "true",
                "false",
                "null",
                "-0",
                "1.5e-3",
                "\"x\\ny\"",
                "\"}\"",
            ][rng.below(7)],
        ),
        3 => out.push_str(&format!("\"{}\"", NAMES[rng.below(NAMES.len())])),
        4 => {
            out.push('[');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                gen_json(rng, depth + 1, out);
            }
            out.push(']');
        }
        _ => {
            out.push('{');
            for i in 0..rng.below(6) {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(if rng.chance(3) { " " } else { "" });
                out.push_str(&format!("\"{}\"", NAMES[rng.below(NAMES.len())]));
                out.push(':');
                gen_json(rng, depth + 1, out);
            }
            out.push('}');
        }
    }
}

/// Check every member path of `doc` (when it is a valid JSON object)
/// against serde_json, and that nothing panics on anything.
fn check_json(doc: &[u8]) {
    for path in ["a", "ts", "a.b", "b.a", "", "a b"] {
        let _ = weir::json::field(doc, path);
        let _ = weir::json::number(doc, path);
        let _ = weir::json::integer(doc, path);
        let _ = weir::json::key(doc, path);
    }
    let Ok(serde_json::Value::Object(top)) = serde_json::from_slice::<serde_json::Value>(doc)
    else {
        return;
    };
    // Every member and member of a member, by its dotted path.
    let mut paths: Vec<(Vec<&str>, &serde_json::Value)> = Vec::new();
    for (k, v) in &top {
        paths.push((vec![k.as_str()], v));
        if let serde_json::Value::Object(inner) = v {
            for (k2, v2) in inner {
                paths.push((vec![k.as_str(), k2.as_str()], v2));
            }
        }
    }
    for (parts, expected) in paths {
        // A name with a dot in it cannot be named by a dotted path.
        if parts.iter().any(|p| p.contains('.')) {
            continue;
        }
        let path = parts.join(".");
        let raw = weir::json::field(doc, &path)
            .unwrap_or_else(|| panic!("`{path}` not found in {}", String::from_utf8_lossy(doc)));
        let got: serde_json::Value = serde_json::from_slice(raw)
            .unwrap_or_else(|e| panic!("`{path}`: {e}: {}", String::from_utf8_lossy(raw)));
        assert_eq!(
            &got,
            expected,
            "`{path}` in {}",
            String::from_utf8_lossy(doc)
        );
    }
}

#[test]
fn json_field() {
    let dict: &[&[u8]] = &[
        b"\\u0061",
        b"\\\"",
        b"\"a\":",
        b"\"ts\":",
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b"1e999",
        b"-",
        b"\"\\ud800\"",
    ];
    fuzz("json_field", dict, |input, rng| {
        check_json(input);
        let mut doc = String::new();
        gen_json(rng, 0, &mut doc);
        check_json(doc.as_bytes());
    });
}

// ---------------------------------------------------------------------
// Target 3: checkpoint metadata — a damaged file is an error, never a panic
// or a path outside the checkpoint.

#[test]
fn checkpoint_metadata() {
    let dict: &[&[u8]] = &[
        b"\"files\":",
        b"\"name\":\"../x\"",
        b"\"name\":\"/etc/passwd\"",
        b"\"size\":18446744073709551615",
        b"\"format\":1",
        b"\"job_data\":",
        b"null",
        b"{}",
    ];
    fuzz("checkpoint_metadata", dict, |input, _| {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("state.bin"), b"0123456789").expect("write");
        std::fs::write(dir.path().join("_metadata"), input).expect("write");
        if let Ok(info) = weir::checkpoint::storage::load_dir(dir.path(), None, None) {
            for f in &info.metadata.files {
                let p = Path::new(&f.name);
                assert!(
                    p.is_relative()
                        && !p
                            .components()
                            .any(|c| matches!(c, std::path::Component::ParentDir)),
                    "a checkpoint names a file outside itself: {}",
                    f.name
                );
            }
            let _ = serde_json::from_value::<weir::checkpoint::JobData>(info.metadata.job_data);
        }
    });
}

// ---------------------------------------------------------------------
// Target 4: the body of `POST /v1/jobs`.

#[test]
fn api_submission() {
    let dict: &[&[u8]] = &[
        b"\"job\":",
        b"\"components\":",
        b"\"files\":",
        b"\\n[source]\\n",
        b"\"AAAA\"",
        b"\"@@@\"",
        b"name = \\\"..\\\"",
        b"{\"x\":1}",
    ];
    let t = tenant();
    let admit = |body: &[u8]| {
        if let Ok(sub) = weir::control::admission::decode(&t, body) {
            match weir::control::admission::check(&t, &sub) {
                Ok(spec) => {
                    assert!(
                        weir::control::tenants::valid_name(&spec.name),
                        "{}",
                        spec.name
                    );
                }
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
    };
    fuzz("api_submission", dict, |input, rng| {
        admit(input);
        // Mutated bytes rarely stay JSON: also send the mutant as the job
        // text and as an upload name of a well-formed body.
        let text = String::from_utf8_lossy(input).into_owned();
        let name = if rng.chance(2) {
            text.clone()
        } else {
            "op.wasm".into()
        };
        let body = serde_json::json!({
            "job": text,
            "components": { name: "AGFzbQ0AAQA=" },
            "files": { "input.jsonl": "e30K" },
        });
        admit(body.to_string().as_bytes());
    });
}
