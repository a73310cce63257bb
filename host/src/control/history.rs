//! The last 15 minutes of each served job, a sample a second: what the
//! dashboard's charts show as soon as a job's page opens (and what a
//! reload does not lose).
//!
//! A sample takes 24 bytes, and a job that stays idle keeps only the first
//! and the latest sample of its idle stretch: a thousand idle jobs hold a
//! few samples each, not 900.

use crate::runtime::metrics::{LATENCY_BUCKETS, Metrics};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Samples kept: one a second for 15 minutes.
pub const SAMPLES: usize = 15 * 60;

/// One second of a job.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// Records per second read.
    pub rate_in: f64,
    /// Records per second written.
    pub rate_out: f64,
    /// Processing time minus its watermark, ms.
    pub watermark_lag_ms: Option<i64>,
    /// End-to-end latency of the rows its sinks took since the sample
    /// before: the bounds at or under which half and 99% of them fall, ms
    /// (`None` without rows, or past the last bound).
    pub latency_p50_ms: Option<f64>,
    /// The same for 99% of them.
    pub latency_p99_ms: Option<f64>,
}

/// A [`Sample`] as kept: seconds since the epoch, rates and latency as
/// `f32` (NaN: none), the lag in ms (`i32::MIN`: none; clamped).
#[derive(Debug, Clone, Copy)]
struct Kept {
    at_s: u32,
    rate_in: f32,
    rate_out: f32,
    lag_ms: i32,
    p50: f32,
    p99: f32,
}

impl Kept {
    fn of(s: &Sample) -> Kept {
        let f = |v: Option<f64>| v.map_or(f32::NAN, |v| v as f32);
        Kept {
            at_s: (s.at_ms / 1000).clamp(0, u32::MAX as i64) as u32,
            rate_in: s.rate_in as f32,
            rate_out: s.rate_out as f32,
            lag_ms: s.watermark_lag_ms.map_or(i32::MIN, |l| {
                l.clamp(i32::MIN as i64 + 1, i32::MAX as i64) as i32
            }),
            p50: f(s.latency_p50_ms),
            p99: f(s.latency_p99_ms),
        }
    }

    fn sample(&self) -> Sample {
        let f = |v: f32| (!v.is_nan()).then_some(v as f64);
        Sample {
            at_ms: self.at_s as i64 * 1000,
            rate_in: self.rate_in as f64,
            rate_out: self.rate_out as f64,
            watermark_lag_ms: (self.lag_ms != i32::MIN).then_some(self.lag_ms as i64),
            latency_p50_ms: f(self.p50),
            latency_p99_ms: f(self.p99),
        }
    }

    /// Nothing read, written or delivered.
    fn idle(&self) -> bool {
        self.rate_in == 0.0 && self.rate_out == 0.0 && self.p50.is_nan()
    }
}

/// A job's samples, oldest first.
#[derive(Default)]
pub struct History {
    samples: Mutex<VecDeque<Kept>>,
    /// The latency histogram at the sample before (cumulative counts).
    last_latency: Mutex<Option<Vec<u64>>>,
}

impl History {
    /// Take a sample of a running job whose counters are `metrics`, with
    /// its rates `(in, out)` now.
    pub fn sample(&self, metrics: &Metrics, rates: (f64, f64)) {
        use std::sync::atomic::Ordering::Relaxed;
        let now = crate::time::now_ms();
        let wm = metrics.watermark.load(Relaxed);
        let (cumulative, _, _) = metrics.latency.snapshot();
        let before = lock(&self.last_latency).replace(cumulative.clone());
        let delta: Vec<u64> = match before {
            // A restarted job's counters start again from zero.
            Some(b) if b.last() <= cumulative.last() => {
                cumulative.iter().zip(&b).map(|(a, b)| a - b).collect()
            }
            _ => cumulative,
        };
        let s = Sample {
            at_ms: now,
            rate_in: rates.0,
            rate_out: rates.1,
            watermark_lag_ms: (wm > i64::MIN && wm < i64::MAX).then(|| now - wm),
            latency_p50_ms: quantile_ms(&delta, 0.5),
            latency_p99_ms: quantile_ms(&delta, 0.99),
        };
        let kept = Kept::of(&s);
        let mut samples = lock(&self.samples);
        // The middle of an idle stretch is not kept: its first sample and
        // its latest say it all.
        let n = samples.len();
        if kept.idle() && n >= 2 && samples[n - 1].idle() && samples[n - 2].idle() {
            samples[n - 1] = kept;
        } else {
            if n == SAMPLES {
                samples.pop_front();
            }
            samples.push_back(kept);
        }
        // Older than 15 minutes (an idle stretch's first sample may be).
        let oldest = kept.at_s.saturating_sub(SAMPLES as u32);
        while samples.front().is_some_and(|k| k.at_s < oldest) {
            samples.pop_front();
        }
    }

    /// Every sample kept, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        lock(&self.samples).iter().map(Kept::sample).collect()
    }
}

/// The bound (ms) at or under which share `q` of the rows counted in
/// `cumulative` (per bound of [`LATENCY_BUCKETS`], then all) fall.
fn quantile_ms(cumulative: &[u64], q: f64) -> Option<f64> {
    let total = *cumulative.last()?;
    if total == 0 {
        return None;
    }
    let want = ((q * total as f64).ceil() as u64).max(1);
    let i = cumulative.iter().position(|c| *c >= want)?;
    LATENCY_BUCKETS.get(i).map(|b| b * 1000.0)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn samples_keep_fifteen_minutes_and_latency_is_of_the_last_second() {
        let m = Metrics::default();
        let h = History::default();
        h.sample(&m, (1.0, 2.0));
        assert_eq!(h.samples()[0].latency_p50_ms, None, "no rows yet");
        m.latency.record(Duration::from_millis(3), 100);
        h.sample(&m, (1.0, 2.0));
        assert_eq!(h.samples()[1].latency_p99_ms, Some(5.0));
        // The next second's rows alone: slow ones.
        m.latency.record(Duration::from_millis(700), 100);
        h.sample(&m, (1.0, 2.0));
        let s = &h.samples()[2];
        assert_eq!(
            (s.latency_p50_ms, s.latency_p99_ms),
            (Some(1000.0), Some(1000.0))
        );
        for _ in 0..SAMPLES {
            h.sample(&m, (3.0, 4.0));
        }
        let all = h.samples();
        assert_eq!(all.len(), SAMPLES);
        assert!(all.iter().all(|s| s.rate_in == 3.0 && s.rate_out == 4.0));
        assert_eq!(all[0].latency_p50_ms, None, "no rows in those seconds");
    }

    #[test]
    fn an_idle_stretch_keeps_its_first_and_latest_samples() {
        let m = Metrics::default();
        let h = History::default();
        h.sample(&m, (5.0, 5.0));
        for _ in 0..100 {
            h.sample(&m, (0.0, 0.0));
        }
        assert_eq!(h.samples().len(), 3, "busy, first idle, latest idle");
        h.sample(&m, (7.0, 0.0));
        let all = h.samples();
        assert_eq!(all.len(), 4);
        assert_eq!(all[3].rate_in, 7.0);
        assert_eq!(std::mem::size_of::<Kept>(), 24);
    }
}
