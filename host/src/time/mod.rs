//! Event time: durations as users write them, and watermarks.

pub mod duration;
pub mod watermark;

pub use duration::{DurationError, parse_duration_ms};
pub use watermark::WatermarkTracker;

/// Processing time: the host's wall clock in ms since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The civil date (year, month 1–12, day 1–31, proleptic Gregorian) of
/// `days` since 1970-01-01: Howard Hinnant's `civil_from_days`.
///
/// ```
/// assert_eq!(weir::time::civil_from_days(19_675), (2023, 11, 14));
/// assert_eq!(weir::time::civil_from_days(-1), (1969, 12, 31));
/// ```
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Write `ms` (UTC, ms since the epoch) as SQL's `YYYY-MM-DD hh:mm:ss`
/// into `out`; returns its milliseconds within the second, which callers
/// write their own way (SQL's trimmed `.5`, or Nexmark's fixed `.500`).
///
/// ```
/// let mut out = Vec::new();
/// assert_eq!(weir::time::write_sql_seconds(&mut out, 1_700_000_000_500), 500);
/// assert_eq!(out, b"2023-11-14 22:13:20");
/// ```
pub fn write_sql_seconds(out: &mut Vec<u8>, ms: i64) -> i64 {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let secs = ms_of_day / 1000;
    if (0..10_000).contains(&year) {
        // Digit by digit: `write!` with its padding took most of the time
        // of writing a row with timestamps as JSON.
        let two = |v: i64| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
        let [y0, y1] = two(year / 100);
        let [y2, y3] = two(year % 100);
        let [m0, m1] = two(month);
        let [d0, d1] = two(day);
        let [h0, h1] = two(secs / 3600);
        let [n0, n1] = two(secs / 60 % 60);
        let [s0, s1] = two(secs % 60);
        out.extend_from_slice(&[
            y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1, b' ', h0, h1, b':', n0, n1, b':', s0, s1,
        ]);
    } else {
        use std::io::Write;
        let _ = write!(
            out,
            "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
    }
    ms_of_day % 1000
}

#[cfg(test)]
mod tests {
    #[test]
    fn sql_seconds_are_chronos() {
        // Years 0000 to 9999 (outside them, the year is written as Rust
        // writes a number, chrono with a sign).
        let mut ms = -62_167_219_200_000i64;
        while ms < 253_402_300_800_000 {
            let mut out = Vec::new();
            let frac = super::write_sql_seconds(&mut out, ms);
            let want = chrono::DateTime::from_timestamp_millis(ms).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                want.format("%Y-%m-%d %H:%M:%S").to_string(),
                "{ms}"
            );
            assert_eq!(frac, ms.rem_euclid(1000));
            ms += 987_654_321_123;
        }
    }
}
