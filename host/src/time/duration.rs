//! Durations in job files: `"250ms"`, `"10s"`, `"5m"`, `"1h"`, `"1d"`, or a
//! bare integer of milliseconds.

/// A duration that could not be read, with what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// No number in front.
    #[error("`{0}` is not a duration; write e.g. \"500ms\", \"10s\", \"5m\", \"1h\"")]
    NotADuration(String),
    /// A unit weir does not know.
    #[error("unknown unit `{unit}` in duration `{text}`; use ms, s, m, h or d")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole text.
        text: String,
    },
    /// More milliseconds than fit.
    #[error("duration `{0}` is too large")]
    TooLarge(String),
}

/// Parse a duration into milliseconds.
///
/// ```
/// use weir::time::parse_duration_ms;
/// assert_eq!(parse_duration_ms("1500ms"), Ok(1500));
/// assert_eq!(parse_duration_ms("2m"), Ok(120_000));
/// assert!(parse_duration_ms("soon").is_err());
/// ```
pub fn parse_duration_ms(text: &str) -> Result<i64, DurationError> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| DurationError::NotADuration(text.into()))?;
    let scale = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => {
            return Err(DurationError::UnknownUnit {
                unit: other.into(),
                text: text.into(),
            });
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| DurationError::TooLarge(text.into()))
}
