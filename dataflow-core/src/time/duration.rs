//! Durations as users write them on the command line and in window specs: `500ms`, `30s`, `10m`,
//! `1h`, `1d`.

use std::time::Duration;

/// `duration` in whole milliseconds, at least 1 (a window or delay of zero is meaningless).
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Writes `ms` milliseconds as [`parse_duration`] reads them, in the largest unit that divides it
/// exactly: `3600000` → `1h`, `90000` → `90s`, `1500` → `1500ms`.
pub fn format_millis(ms: u64) -> String {
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms > 0 && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// Parses a duration written `500ms`, `30s`, `10m`, `1h` or `1d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: write 500ms, 30s, 10m, 1h or 1d"))?;
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "`{text}` has no known unit: write 500ms, 30s, 10m, 1h or 1d"
            ));
        }
    };
    if value == 0 {
        return Err(format!("`{text}` is zero: a duration must be positive"));
    }
    Ok(Duration::from_millis(value.saturating_mul(unit_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_they_parse() {
        for ms in [
            1,
            999,
            1000,
            1500,
            60_000,
            90_000,
            3_600_000,
            86_400_000,
            172_800_000,
        ] {
            let text = format_millis(ms);
            assert_eq!(
                parse_duration(&text).unwrap().as_millis() as u64,
                ms,
                "{text}"
            );
        }
        assert_eq!(format_millis(3_600_000), "1h");
        assert_eq!(format_millis(90_000), "90s");
    }
}
