//! Gateway API durations (GEP-2257): one to four `<1-5 digits><h|m|s|ms>` parts, e.g. `1h2m`,
//! `500ms`.

use std::time::Duration;

/// Parses a GEP-2257 duration.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?} (expected e.g. \"1h2m3s\" or \"500ms\")");
    let mut rest = text;
    let mut total = Duration::ZERO;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 5 {
            return Err(bad());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else if rest.starts_with('h') {
            (Duration::from_secs(3600), 1)
        } else if rest.starts_with('m') {
            (Duration::from_secs(60), 1)
        } else if rest.starts_with('s') {
            (Duration::from_secs(1), 1)
        } else {
            return Err(bad());
        };
        rest = &rest[len..];
        let value = u32::try_from(value).map_err(|_| bad())?;
        total += unit * value;
        parts += 1;
        if parts > 4 {
            return Err(bad());
        }
    }
    if parts == 0 {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gep_2257_durations() {
        let ms = Duration::from_millis;
        let cases = [
            ("0s", Some(ms(0))),
            ("500ms", Some(ms(500))),
            ("1h2m3s", Some(ms(3_723_000))),
            ("1m500ms", Some(ms(60_500))),
            ("99999h", Some(Duration::from_secs(99_999 * 3600))),
            ("1h1h1h1h", Some(Duration::from_secs(4 * 3600))),
            ("1h1h1h1h1h", None),
            ("", None),
            ("100000s", None),
            ("1.5s", None),
            ("-1s", None),
            ("10", None),
            ("1d", None),
            ("s", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).ok(), expected, "{text}");
        }
    }
}
