//! Durations in job files: `"250ms"`, `"10s"`, `"5m"`, `"1h"`, `"1d"`, or a
//! bare integer of milliseconds.

/// Parse a duration into milliseconds.
///
/// ```
/// use weir::time::parse_duration_ms;
/// assert_eq!(parse_duration_ms("1500ms"), Ok(1500));
/// assert_eq!(parse_duration_ms("2m"), Ok(120_000));
/// assert!(parse_duration_ms("soon").is_err());
/// ```
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num.parse().map_err(|_| {
        format!("`{text}` is not a duration; write e.g. \"500ms\", \"10s\", \"5m\", \"1h\"")
    })?;
    let scale = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => {
            return Err(format!(
                "unknown unit `{other}` in duration `{text}`; use ms, s, m, h or d"
            ));
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("duration `{text}` is too large"))
}
