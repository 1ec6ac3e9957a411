//! Numbers that Kubernetes reads as int-or-string: a Deployment's `maxSurge` and `maxUnavailable`, a
//! PodDisruptionBudget's `minAvailable`.

use super::{Broken, Rule};

pub const INT_OR_PERCENT: &str = "an int-or-string: a non-negative integer, or a whole percentage from 0% to 100% (such as `25%`)";
pub const SURGE_AND_UNAVAILABLE: &str =
    "a rolling update needs room to move: maxSurge and maxUnavailable may not both be zero";

/// An int-or-string count or percentage, as written in the spec (strings are percentages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Amount {
    Count(i64),
    Percent(u8),
}

impl Amount {
    pub fn is_zero(self) -> bool {
        matches!(self, Amount::Count(0) | Amount::Percent(0))
    }
}

/// A percentage string such as `25%`.
pub fn percent(text: &str) -> Result<Amount, Broken> {
    let broken = |problem: String| Broken::new(problem, INT_OR_PERCENT);
    let Some(number) = text.strip_suffix('%') else {
        return Err(broken("is neither an integer nor a percentage".into()));
    };
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
        return Err(broken("is not a whole percentage".into()));
    }
    match number.parse::<u8>() {
        Ok(p) if p <= 100 => Ok(Amount::Percent(p)),
        _ => Err(broken("is more than 100%".into())),
    }
}

/// A count.
pub fn count(value: i64) -> Result<Amount, Broken> {
    if value < 0 {
        return Err(Broken::new(format!("{value} is negative"), INT_OR_PERCENT));
    }
    Ok(Amount::Count(value))
}

/// maxSurge and maxUnavailable together.
pub fn surge_and_unavailable(surge: Amount, unavailable: Amount) -> Rule {
    if surge.is_zero() && unavailable.is_zero() {
        return Err(Broken::new("are both zero", SURGE_AND_UNAVAILABLE));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_and_counts() {
        assert_eq!(percent("25%"), Ok(Amount::Percent(25)));
        assert_eq!(percent("100%"), Ok(Amount::Percent(100)));
        assert_eq!(percent("0%"), Ok(Amount::Percent(0)));
        for bad in ["fifty", "150%", "%", "2.5%", "-5%", "25"] {
            assert!(percent(bad).is_err(), "{bad}");
        }
        assert_eq!(count(1), Ok(Amount::Count(1)));
        assert!(count(-1).is_err());
    }

    #[test]
    fn surge_and_unavailable_not_both_zero() {
        assert!(surge_and_unavailable(Amount::Count(0), Amount::Percent(0)).is_err());
        assert_eq!(
            surge_and_unavailable(Amount::Percent(25), Amount::Count(0)),
            Ok(())
        );
    }
}
