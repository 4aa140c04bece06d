//! The reporting period: reading `begin`/`end` and deciding whether it is believable.
//!
//! Old and long periods are real (RFC 9990's own example is dated 1979, test reports sit
//! a few minutes after 1970, some reporters cover years) and are accepted with a
//! diagnostic. A period in the future is not: it would be attributed to days that have not
//! happened, and every per-day view would have to reach it. The one known reporter bug
//! that produces future values, milliseconds instead of seconds, is repaired when the
//! value divided by 1000 is a plausible time; anything else in the future is rejected.
//! The caller says what "now" is; the core never reads the clock.

use crate::diag::{DiagnosticCode as Code, Diagnostics, Error, ErrorKind, Severity};
use crate::model::DateRange;

/// 2000-01-01T00:00:00Z: earlier timestamps are accepted with a diagnostic, and a value
/// read as milliseconds must land after it to be believed.
const PLAUSIBLE_FROM: i64 = 946_684_800;
/// Spans longer than this are flagged (a daily report is 24 hours, often off by one).
const LONG_SPAN_SECS: i64 = 27 * 3600;
const RANGE: &str = "feedback/report_metadata/date_range";
const BEGIN: &str = "feedback/report_metadata/date_range/begin";
const END: &str = "feedback/report_metadata/date_range/end";

/// Reads and checks a reporting period. `now` is the time of ingestion and `future_secs`
/// how far after it a period may end (clock skew, a period that closes at midnight).
pub(crate) fn read(
    begin: Option<&str>,
    end: Option<&str>,
    now: i64,
    future_secs: u64,
    diags: &mut Diagnostics,
) -> Result<DateRange, Error> {
    let latest = now.saturating_add(i64::try_from(future_secs).unwrap_or(i64::MAX));
    let begin = timestamp(begin, BEGIN, latest, diags)?;
    let end = timestamp(end, END, latest, diags)?;
    let note = |diags: &mut Diagnostics, severity, raw: String| {
        diags.push(Code::DateRangeAnomaly, severity, RANGE, None, Some(&raw));
    };
    if end < begin {
        note(
            diags,
            Severity::Warning,
            format!("begin {begin} > end {end}"),
        );
    } else if end == begin {
        note(diags, Severity::Info, format!("begin == end == {begin}"));
    } else if end - begin > LONG_SPAN_SECS {
        note(diags, Severity::Info, format!("span of {} s", end - begin));
    }
    Ok(DateRange { begin, end })
}

/// Reads one epoch timestamp: a fraction is dropped and a future value that is a plausible
/// time in milliseconds is converted, each with a diagnostic; a value that is negative,
/// does not fit 64 bits, or lies after `latest` otherwise is an error.
fn timestamp(
    raw: Option<&str>,
    path: &'static str,
    latest: i64,
    diags: &mut Diagnostics,
) -> Result<i64, Error> {
    let invalid = |why: String| Err(Error::new(ErrorKind::InvalidDateRange, why));
    let Some(raw) = raw else {
        return invalid(format!("{path} is missing or empty"));
    };
    let (int_part, had_fraction) = match raw.split_once('.') {
        Some((int, frac)) if !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()) => {
            (int, true)
        }
        _ => (raw, false),
    };
    let digits = int_part.strip_prefix(['-', '+']).unwrap_or(int_part);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return invalid(format!("{path} is not a timestamp: {raw:?}"));
    }
    if int_part.starts_with('-') && digits.bytes().any(|b| b != b'0') {
        return invalid(format!("{path} is negative: {raw:?}"));
    }
    let Ok(value) = digits.parse::<i64>() else {
        return invalid(format!(
            "{path} is {raw:?}, too large for a timestamp (more than 64 bits)"
        ));
    };
    if had_fraction {
        diags.push(
            Code::TimestampRepaired,
            Severity::Warning,
            path,
            None,
            Some(raw),
        );
    }
    if value <= latest {
        if value < PLAUSIBLE_FROM {
            diags.push(
                Code::ImplausibleTimestamp,
                Severity::Warning,
                path,
                None,
                Some(raw),
            );
        }
        return Ok(value);
    }
    let seconds = value / 1000;
    if (PLAUSIBLE_FROM..=latest).contains(&seconds) {
        diags.push(
            Code::TimestampRepaired,
            Severity::Warning,
            path,
            None,
            Some(raw),
        );
        return Ok(seconds);
    }
    invalid(format!(
        "{path} is {raw:?}, in the future (after {latest}, the time of ingestion plus the \
         allowed clock skew), also when read as milliseconds"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30T00:00:00Z.
    const NOW: i64 = 1_796_083_200;
    const SKEW: u64 = 3 * 86_400;

    fn check(begin: &str, end: &str) -> Result<(i64, i64), String> {
        let mut diags = Diagnostics::default();
        read(Some(begin), Some(end), NOW, SKEW, &mut diags)
            .map(|r| (r.begin, r.end))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn past_and_long_periods_are_accepted_as_reported() {
        assert_eq!(
            check("1700000000", "1700086399"),
            Ok((1_700_000_000, 1_700_086_399))
        );
        assert_eq!(check("100", "200"), Ok((100, 200)));
        assert_eq!(check("0", "0"), Ok((0, 0)));
        assert_eq!(check("-0", "86400"), Ok((0, 86_400)));
        // A period covering three years, and one that is reversed, are kept.
        assert_eq!(
            check("1600000000", "1694608000"),
            Ok((1_600_000_000, 1_694_608_000))
        );
        assert_eq!(
            check("1700086399", "1700000000"),
            Ok((1_700_086_399, 1_700_000_000))
        );
    }

    #[test]
    fn milliseconds_are_converted_when_the_result_is_plausible() {
        assert_eq!(
            check("1700000000000", "1700086399999"),
            Ok((1_700_000_000, 1_700_086_399))
        );
        assert_eq!(
            check("1542801366.840", "1542887766"),
            Ok((1_542_801_366, 1_542_887_766))
        );
        // The end of the allowed skew is still believed; a second more is not.
        let latest = NOW + 3 * 86_400;
        assert_eq!(
            check(&NOW.to_string(), &latest.to_string()),
            Ok((NOW, latest))
        );
        assert!(check(&NOW.to_string(), &(latest + 1).to_string()).is_err());
    }

    #[test]
    fn future_and_oversized_values_are_rejected() {
        for (begin, end) in [
            ("9000000000000000000", "9000000000086399999"), // ms read: year 285,000
            ("99999000000", "99999086400"),                 // year 5138; as ms, 1973
            ("0", "2147483648"),                            // 2038
            ("999999999990223", "1542801366.840"),          // as ms, year 33658
            ("1700000000", "99999999999999999999"),         // more than 64 bits
            ("1700000000", "-5"),
            ("1700000000", "1.7e9"),
            ("1700000000", "."),
            ("1700000000", "-"),
        ] {
            let error = check(begin, end).expect_err(begin);
            assert!(error.starts_with("invalid_date_range"), "{error}");
        }
    }
}
