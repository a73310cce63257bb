//! Ceilings on what a tenant's job file may ask for.
//!
//! Every setting of a job that costs the host something — memory, disk,
//! CPU, threads, state lifetime — is held to a ceiling in the tenant's
//! [`Quotas`]. [`check`] runs on the typed, validated job and returns the
//! first setting over its ceiling, with the ceiling, so `weir submit` can
//! say exactly what to change. [`fill`] then writes the quota's value into
//! every such setting the job left at its default, so what runs is what
//! was checked.

use super::tenants::Quotas;
use crate::job::{JobSpec, SourceSpec, parse_bytes};
use crate::time::parse_duration_ms;

/// A setting over its ceiling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "quota: {setting} = {asked} is more than tenant `{tenant}` may use ({quota} = {limit}); lower it, or ask the host's operator for a higher quota"
)]
pub struct OverCap {
    /// The tenant.
    pub tenant: String,
    /// The job setting, as written in a job file.
    pub setting: String,
    /// What the job asked for.
    pub asked: String,
    /// The quota that holds it.
    pub quota: &'static str,
    /// The quota's value.
    pub limit: String,
}

struct Checker<'a> {
    tenant: &'a str,
}

impl Checker<'_> {
    fn at_most<T: PartialOrd + std::fmt::Display>(
        &self,
        setting: &str,
        asked: T,
        quota: &'static str,
        limit: T,
    ) -> Result<(), OverCap> {
        if asked > limit {
            return Err(OverCap {
                tenant: self.tenant.to_string(),
                setting: setting.to_string(),
                asked: asked.to_string(),
                quota,
                limit: limit.to_string(),
            });
        }
        Ok(())
    }

    /// A duration setting (text as written) against a limit in ms.
    fn duration(
        &self,
        setting: &str,
        text: &str,
        quota: &'static str,
        limit_ms: i64,
    ) -> Result<(), OverCap> {
        // Validation already refused what does not parse.
        let ms = parse_duration_ms(text).unwrap_or(i64::MAX);
        self.at_most(setting, Ms(ms), quota, Ms(limit_ms))
    }

    /// A size setting (text as written) against a limit in bytes.
    fn bytes(
        &self,
        setting: &str,
        text: &str,
        quota: &'static str,
        limit: u64,
    ) -> Result<(), OverCap> {
        let asked = parse_bytes(text).map(|b| b as u64).unwrap_or(u64::MAX);
        self.at_most(setting, Bytes(asked), quota, Bytes(limit))
    }
}

/// Milliseconds, shown as such.
#[derive(PartialEq, PartialOrd)]
struct Ms(i64);
impl std::fmt::Display for Ms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ms", self.0)
    }
}

/// Bytes, shown as such.
#[derive(PartialEq, PartialOrd)]
struct Bytes(u64);
impl std::fmt::Display for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

/// The job's stages as the runtime builds them: the source with its
/// operator chain, the keyed stage if any, and the sink.
/// A job graph: the source, its fan-out, each stage and the sink.
pub fn stages(spec: &JobSpec) -> usize {
    if spec.stages.is_empty() {
        2 + usize::from(spec.window.is_some() || spec.keyed.is_some())
    } else {
        3 + spec.stages.len()
    }
}

/// The Wasm operators of a job.
pub fn operators(spec: &JobSpec) -> usize {
    spec.wasm_operators().len()
}

/// The first setting of `spec` over a ceiling of `quotas`.
pub fn check(spec: &JobSpec, tenant: &str, q: &Quotas) -> Result<(), OverCap> {
    let c = Checker { tenant };
    c.at_most(
        "parallelism",
        spec.parallelism,
        "max_parallelism",
        q.max_parallelism,
    )?;
    c.at_most(
        "batch_size",
        spec.batch_size,
        "max_batch_size",
        q.max_batch_size,
    )?;
    c.at_most(
        "operators",
        operators(spec),
        "max_operators",
        q.max_operators,
    )?;
    c.at_most("stages", stages(spec), "max_stages", q.max_stages)?;
    for (_, at, source) in spec.all_sources() {
        let rate = match source {
            SourceSpec::File { rate, .. } => Some(*rate),
            SourceSpec::Datagen(d) => Some(d.rate),
            _ => None,
        };
        if let Some(rate) = rate
            && q.max_source_rate > 0
            && rate > 0
        {
            c.at_most(
                &format!("{at}.rate"),
                rate,
                "max_source_rate",
                q.max_source_rate,
            )?;
        }
    }
    let l = &spec.limits;
    c.bytes("limits.memory", &l.memory, "memory", q.memory_bytes as u64)?;
    c.duration(
        "limits.call_timeout",
        &l.call_timeout,
        "call_timeout",
        q.call_timeout_ms,
    )?;
    c.at_most(
        "limits.max_output_per_record",
        l.max_output_per_record,
        "max_output_per_record",
        q.max_output_per_record,
    )?;
    c.bytes(
        "limits.max_output_bytes",
        &l.max_output_bytes,
        "max_output_bytes",
        q.max_output_bytes,
    )?;
    for (setting, asked, quota, limit) in [
        (
            "limits.host_memory",
            &l.host_memory,
            "host_memory",
            q.host_memory_bytes,
        ),
        ("limits.disk", &l.disk, "disk", q.disk_bytes),
        ("limits.log_rate", &l.log_rate, "log_rate", q.log_rate_bytes),
    ] {
        if let Some(asked) = asked {
            c.bytes(setting, asked, quota, limit)?;
        }
    }
    if let Some(cp) = &spec.checkpoint {
        c.duration(
            "checkpoint.interval",
            &cp.interval,
            "max_checkpoint_interval",
            q.max_checkpoint_interval_ms,
        )?;
    }
    let windows = spec.window.iter().map(|w| ("window".to_string(), w)).chain(
        spec.stages.iter().enumerate().filter_map(|(i, s)| {
            s.window
                .as_ref()
                .map(|w| (format!("stages[{i}].window"), w))
        }),
    );
    for (i, s) in spec.stages.iter().enumerate() {
        let Some(j) = &s.join else { continue };
        // What a join holds grows with its window or interval.
        if let Some(size) = &j.size {
            c.duration(
                &format!("stages[{i}].join.size"),
                size,
                "max_window",
                q.max_window_ms,
            )?;
            if let Some(slide) = &j.slide {
                let size = parse_duration_ms(size).unwrap_or(i64::MAX);
                let slide = parse_duration_ms(slide).unwrap_or(1).max(1);
                c.at_most(
                    &format!("stages[{i}].join.slide (windows per record: size / slide)"),
                    size / slide,
                    "max_window_slides",
                    q.max_window_slides,
                )?;
            }
        }
        for (name, bound) in [("lower", &j.lower), ("upper", &j.upper)] {
            if let Some(b) = bound {
                let ms = crate::job::parse_signed_duration_ms(b).unwrap_or(i64::MAX);
                c.duration(
                    &format!("stages[{i}].join.{name}"),
                    &format!("{}ms", ms.unsigned_abs()),
                    "max_window",
                    q.max_window_ms,
                )?;
            }
        }
    }
    for (at, w) in windows {
        for (setting, value) in [("size", &w.size), ("gap", &w.gap)] {
            if let Some(v) = value {
                c.duration(&format!("{at}.{setting}"), v, "max_window", q.max_window_ms)?;
            }
        }
        let slide = match w.kind.as_str() {
            "sliding" => &w.slide,
            "cumulate" => &w.step,
            _ => &None,
        };
        if let (Some(size), Some(slide)) = (&w.size, slide) {
            let size = parse_duration_ms(size).unwrap_or(i64::MAX);
            let slide = parse_duration_ms(slide).unwrap_or(1).max(1);
            c.at_most(
                &format!(
                    "{at}.{} (windows per record: size / it)",
                    if w.kind == "cumulate" {
                        "step"
                    } else {
                        "slide"
                    }
                ),
                size / slide,
                "max_window_slides",
                q.max_window_slides,
            )?;
        }
        c.duration(
            &format!("{at}.allowed_lateness"),
            &w.allowed_lateness,
            "max_allowed_lateness",
            q.max_allowed_lateness_ms,
        )?;
    }
    Ok(())
}

/// Give every costly setting the job left at weir's default its tenant's
/// ceiling instead (a served job runs under its quotas, not under `weir
/// run`'s defaults), and an unthrottled source the rate ceiling.
pub fn fill(spec: &mut JobSpec, q: &Quotas, asked_limits: &toml::Table) {
    let l = &mut spec.limits;
    let given = |k: &str| asked_limits.contains_key(k);
    if !given("memory") {
        l.memory = q.memory_bytes.to_string();
    }
    if !given("call_timeout") {
        l.call_timeout = format!("{}ms", q.call_timeout_ms);
    }
    if !given("max_output_per_record") {
        l.max_output_per_record = q.max_output_per_record;
    }
    if !given("max_output_bytes") {
        l.max_output_bytes = q.max_output_bytes.to_string();
    }
    l.host_memory
        .get_or_insert_with(|| q.host_memory_bytes.to_string());
    l.disk.get_or_insert_with(|| q.disk_bytes.to_string());
    l.log_rate
        .get_or_insert_with(|| q.log_rate_bytes.to_string());
    if q.max_source_rate > 0 {
        for (_, source) in spec.all_sources_mut() {
            match source {
                SourceSpec::File { rate, .. } if *rate == 0 => *rate = q.max_source_rate,
                SourceSpec::Datagen(d) if d.rate == 0 => d.rate = q.max_source_rate,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(extra: &str) -> JobSpec {
        toml::from_str(&format!(
            "name = \"j\"\n{extra}\n[source]\ntype = \"datagen\"\nschema = \"bids\"\nrows = 1\n[sink]\ntype = \"discard\"\n"
        ))
        .unwrap()
    }

    fn over(extra: &str) -> OverCap {
        check(&job(extra), "t", &Quotas::defaults()).unwrap_err()
    }

    #[test]
    fn each_costly_setting_has_a_ceiling_named_in_the_refusal() {
        for (extra, setting, quota) in [
            ("batch_size = 100000", "batch_size", "max_batch_size"),
            ("parallelism = 64", "parallelism", "max_parallelism"),
            (
                "[limits]\nmax_output_per_record = 5000",
                "limits.max_output_per_record",
                "max_output_per_record",
            ),
            (
                "[limits]\nmax_output_bytes = \"1GiB\"",
                "limits.max_output_bytes",
                "max_output_bytes",
            ),
            (
                "[limits]\nhost_memory = \"8GiB\"",
                "limits.host_memory",
                "host_memory",
            ),
            (
                "[limits]\ncall_timeout = \"1h\"",
                "limits.call_timeout",
                "call_timeout",
            ),
            (
                "[checkpoint]\ninterval = \"1h\"",
                "checkpoint.interval",
                "max_checkpoint_interval",
            ),
        ] {
            let e = over(extra);
            assert_eq!((e.setting.as_str(), e.quota), (setting, quota), "{extra}");
            assert!(e.to_string().contains(&e.limit), "{e}");
        }
    }

    #[test]
    fn windows_are_held_to_their_state_lifetime() {
        let window = |w: &str| {
            format!(
                "[key_by]\nfield = \"u\"\n[event_time]\nfield = \"ts\"\n[late_output]\ntype = \"discard\"\n[window]\n{w}\naggregates = [{{ fn = \"count\" }}]"
            )
        };
        let e = check(
            &job_with_window(&window("type = \"tumbling\"\nsize = \"30d\"")),
            "t",
            &Quotas::defaults(),
        )
        .unwrap_err();
        assert_eq!(e.quota, "max_window");
        let e = check(
            &job_with_window(&window("type = \"sliding\"\nsize = \"1d\"\nslide = \"1s\"")),
            "t",
            &Quotas::defaults(),
        )
        .unwrap_err();
        assert_eq!(e.quota, "max_window_slides");
        let e = check(
            &job_with_window(&window(
                "type = \"session\"\ngap = \"1m\"\nallowed_lateness = \"30d\"",
            )),
            "t",
            &Quotas::defaults(),
        )
        .unwrap_err();
        assert_eq!(e.quota, "max_allowed_lateness");
    }

    fn job_with_window(tables: &str) -> JobSpec {
        // Tables after the top-level keys, sink and source last.
        toml::from_str(&format!(
            "name = \"j\"\n[source]\ntype = \"datagen\"\nschema = \"bids\"\nrows = 1\n[sink]\ntype = \"discard\"\n{tables}\n"
        ))
        .unwrap()
    }

    #[test]
    fn defaults_are_filled_with_the_quota_and_the_filled_job_passes() {
        let mut spec = job("");
        let q = Quotas::defaults();
        fill(&mut spec, &q, &toml::Table::new());
        assert_eq!(spec.limits.host_memory.as_deref(), Some("268435456"));
        let SourceSpec::Datagen(d) = &spec.source else {
            panic!()
        };
        assert_eq!(d.rate, q.max_source_rate);
        assert_eq!(check(&spec, "t", &q), Ok(()));
    }
}
