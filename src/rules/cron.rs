//! Cron schedules in the five-field form (minute hour day-of-month month day-of-week) with the names
//! (`JAN`–`DEC`, `SUN`–`SAT`) and macros (`@daily` …) that cron and the operators' parsers accept.

use super::{Broken, Rule};

pub const CRON: &str = "a cron schedule: five fields, minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or JAN-DEC) day-of-week (0-7 or SUN-SAT), each `*`, a value, a range `a-b`, a list `a,b` or a step `*/n`; or a macro @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly";

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// The five fields a macro stands for.
pub fn expand_macro(text: &str) -> Option<&'static str> {
    Some(match text {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => return None,
    })
}

/// Five fields, names allowed; a macro is not five fields (see [`schedule`]).
pub fn five_fields(text: &str) -> Rule {
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(Broken::new(
            format!("has {} fields, not five", fields.len()),
            CRON,
        ));
    }
    let specs: [(&str, u32, u32, &[&str], u32); 5] = [
        ("minute", 0, 59, &[], 0),
        ("hour", 0, 23, &[], 0),
        ("day-of-month", 1, 31, &[], 0),
        ("month", 1, 12, &MONTHS, 1),
        ("day-of-week", 0, 7, &DAYS, 0),
    ];
    for (field, (what, lo, hi, names, first)) in fields.iter().zip(specs) {
        if !field_ok(field, lo, hi, names, first) {
            return Err(Broken::new(format!("has the {what} field `{field}`"), CRON));
        }
    }
    Ok(())
}

/// Five fields or a macro.
pub fn schedule(text: &str) -> Rule {
    match expand_macro(text.trim()) {
        Some(_) => Ok(()),
        None => five_fields(text),
    }
}

fn field_ok(field: &str, lo: u32, hi: u32, names: &[&str], first: u32) -> bool {
    let value = |v: &str| -> Option<u32> {
        let named = names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(v))
            .map(|i| i as u32 + first);
        named
            .or_else(|| v.parse().ok())
            .filter(|v| (lo..=hi).contains(v))
    };
    field.split(',').all(|part| {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (part, None),
        };
        let step_ok = step.is_none_or(|s| s.parse::<u32>().is_ok_and(|s| s > 0));
        let range_ok = range == "*"
            || match range.split_once('-') {
                Some((a, b)) => value(a).zip(value(b)).is_some_and(|(a, b)| a <= b),
                None => value(range).is_some(),
            };
        step_ok && range_ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        for ok in [
            "0 2 * * *",
            "*/15 * * * *",
            "0 9 * * MON-FRI",
            "0 0 1 JAN,jul *",
            "5 4 * * sun",
            "0 0 * * 7",
            "@daily",
        ] {
            assert_eq!(schedule(ok), Ok(()), "{ok}");
        }
        for bad in [
            "0 2 * *",
            "60 * * * *",
            "0 24 * * *",
            "0 0 0 * *",
            "0 0 * 13 *",
            "0 0 * * FUN",
            "*/0 * * * *",
            "0 0 * * FRI-MON",
            "@often",
        ] {
            assert!(schedule(bad).is_err(), "{bad}");
        }
        assert_eq!(
            five_fields("0 0 * * 8").unwrap_err().problem,
            "has the day-of-week field `8`"
        );
        assert!(five_fields("@daily").is_err());
    }
}
