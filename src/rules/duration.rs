//! Durations as the tools read them: Prometheus (`5m`, `1h30m`, units ms s m h d w y, no fractions),
//! Go's `time.ParseDuration` (Alertmanager's timers are Prometheus durations too; Go's allows
//! fractions and ns us µs ms s m h) and Kubernetes' Go form for probe and timeout fields.

use super::Broken;

pub const PROMETHEUS: &str = "a Prometheus duration: one or more integers each followed by a unit, largest first, of ms, s, m, h, d, w, y (such as `30s`, `5m`, `1h30m`)";
pub const GO: &str = "a Go duration: one or more numbers (fractions allowed) each followed by a unit of ns, us, µs, ms, s, m, h (such as `300ms`, `1.5h`, `2h45m`)";

const PROMETHEUS_UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
];

/// A Prometheus duration, in milliseconds.
pub fn prometheus(text: &str) -> Result<u64, Broken> {
    let broken = |problem: &str| Broken::new(problem, PROMETHEUS);
    if text.is_empty() {
        return Err(broken("is empty"));
    }
    if text == "0" {
        return Ok(0);
    }
    let mut rest = text;
    let mut total: u64 = 0;
    let mut last_rank = usize::MAX;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 && last_rank != usize::MAX && rest.starts_with(char::is_alphabetic) {
            // `5min`: `5m` read, then letters that are no unit.
            return Err(broken("has a unit Prometheus does not know"));
        }
        if digits == 0 {
            return Err(broken("needs a number before each unit"));
        }
        let number: u64 = rest[..digits].parse().map_err(|_| broken("is too large"))?;
        rest = &rest[digits..];
        // `ms` before `m`, so that `5ms` is five milliseconds.
        let Some((rank, (unit, factor))) =
            PROMETHEUS_UNITS
                .iter()
                .enumerate()
                .rev()
                .find(|(_, (unit, _))| {
                    rest.starts_with(unit) && !(*unit == "m" && rest.starts_with("ms"))
                })
        else {
            return Err(broken("has no unit, or one Prometheus does not know"));
        };
        if rank <= last_rank && last_rank != usize::MAX {
            return Err(broken("repeats a unit or puts a smaller one first"));
        }
        last_rank = rank;
        rest = &rest[unit.len()..];
        total = number
            .checked_mul(*factor)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| broken("is too large"))?;
    }
    Ok(total)
}

pub const SCRAPE_TIMEOUT: &str = "a scrape timeout no longer than its scrape interval (Prometheus refuses the configuration otherwise)";

/// Prometheus refuses a scrape configuration whose timeout exceeds its interval; both in milliseconds.
pub fn scrape_timeout(interval_ms: u64, timeout_ms: u64) -> super::Rule {
    if timeout_ms <= interval_ms {
        return Ok(());
    }
    Err(Broken::new(
        "is longer than the scrape interval",
        SCRAPE_TIMEOUT,
    ))
}

/// A Go duration, in nanoseconds (fractions kept to the nanosecond).
pub fn go(text: &str) -> Result<f64, Broken> {
    let broken = |problem: &str| Broken::new(problem, GO);
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    if body == "0" {
        return Ok(0.0);
    }
    if body.is_empty() {
        return Err(broken("is empty"));
    }
    let mut rest = body;
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_len = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.')
                .len();
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| broken("needs a number before each unit"))?;
        rest = &rest[number_len..];
        let unit_len = rest.len()
            - rest
                .trim_start_matches(|c: char| !c.is_ascii_digit() && c != '.')
                .len();
        let factor = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(broken("has a number without a unit")),
            _ => return Err(broken("has a unit Go does not know")),
        };
        total += number * factor;
        rest = &rest[unit_len..];
    }
    Ok(if text.starts_with('-') { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_durations() {
        assert_eq!(prometheus("30s"), Ok(30_000));
        assert_eq!(prometheus("5m"), Ok(300_000));
        assert_eq!(prometheus("1h30m"), Ok(5_400_000));
        assert_eq!(prometheus("250ms"), Ok(250));
        assert_eq!(prometheus("1w"), Ok(604_800_000));
        assert_eq!(prometheus("0"), Ok(0));
        for bad in [
            "",
            "30 seconds",
            "1.5h",
            "5",
            "m",
            "30m1h",
            "5m5m",
            "-5m",
            "5M",
        ] {
            assert!(prometheus(bad).is_err(), "{bad}");
        }
        assert_eq!(prometheus("30 seconds").unwrap_err().rule, PROMETHEUS);
    }

    #[test]
    fn scrape_timeouts() {
        assert_eq!(scrape_timeout(30_000, 10_000), Ok(()));
        assert_eq!(scrape_timeout(30_000, 30_000), Ok(()));
        assert_eq!(
            scrape_timeout(10_000, 30_000).unwrap_err().rule,
            SCRAPE_TIMEOUT
        );
    }

    #[test]
    fn go_durations() {
        assert_eq!(go("300ms"), Ok(3e8));
        assert_eq!(go("1.5h"), Ok(5400e9));
        assert_eq!(go("2h45m"), Ok(9900e9));
        assert_eq!(go("-1s"), Ok(-1e9));
        for bad in ["", "5", "1d", "ten s", "1.2.3s"] {
            assert!(go(bad).is_err(), "{bad}");
        }
    }
}
