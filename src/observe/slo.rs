//! Service level objectives as the Google SRE workbook builds them: recording rules for the error
//! ratio over several windows, and multi-window, multi-burn-rate alerts (a fast burn pages, a slow
//! burn opens a ticket). Both alert conditions need a long and a short window to agree, so an alert
//! fires quickly on a real burn and stops soon after it ends.

use serde_json::{Value, json};

use super::alerts::{SLO_FAST_BURN, SLO_SLOW_BURN, Slo};
use crate::decode::Named;

pub const WINDOWS: [&str; 7] = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];

/// The recorded error-ratio series of one SLO over one window.
pub fn ratio_series(window: &str) -> String {
    format!("slo:sli_error:ratio_rate{window}")
}

/// The error budget as a ratio: 99.9 % → 0.001.
pub fn error_budget(slo: &Slo) -> String {
    number((100.0 - slo.objective.value) / 100.0)
}

/// A number without floating-point noise (0.000999999… → 0.001).
pub fn number(value: f64) -> String {
    let text = format!("{value:.9}");
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    if trimmed.is_empty() {
        "0".into()
    } else {
        trimmed.to_string()
    }
}

pub fn recording_group(slo: &Named<Slo>) -> Value {
    let job = &slo.value.job.value;
    let rules: Vec<Value> = WINDOWS
        .iter()
        .map(|w| {
            json!({
                "record": ratio_series(w),
                "expr": format!(
                    "sum(rate(http_requests_total{{job=\"{job}\",status=~\"5..\"}}[{w}])) / sum(rate(http_requests_total{{job=\"{job}\"}}[{w}]))"
                ),
                "labels": { "slo": slo.name, "job": job },
            })
        })
        .collect();
    json!({ "name": format!("slo-{}-recordings", slo.name), "rules": rules })
}

/// Burn-rate pairs (long window, short window, factor) from the SRE workbook, for a 30-day period.
const FAST: [(&str, &str, &str); 2] = [("1h", "5m", "14.4"), ("6h", "30m", "6")];
const SLOW: [(&str, &str, &str); 2] = [("1d", "2h", "3"), ("3d", "6h", "1")];

fn burn_condition(slo: &Named<Slo>, pairs: &[(&str, &str, &str)]) -> String {
    let budget = error_budget(&slo.value);
    let selector = format!("{{slo=\"{}\"}}", slo.name);
    pairs
        .iter()
        .map(|(long, short, factor)| {
            format!(
                "({long_s}{selector} > ({factor} * {budget}) and {short_s}{selector} > ({factor} * {budget}))",
                long_s = ratio_series(long),
                short_s = ratio_series(short)
            )
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

pub fn alert_group(slo: &Named<Slo>) -> Value {
    let objective = number(slo.value.objective.value);
    let job = &slo.value.job.value;
    let runbook = slo
        .value
        .runbook
        .as_ref()
        .map(|r| r.value.clone())
        .unwrap_or_default();
    let alert = |name: &str,
                 pairs: &[(&str, &str, &str)],
                 severity: &str,
                 for_: &str,
                 speed: &str| {
        json!({
            "alert": name,
            "expr": burn_condition(slo, pairs),
            "for": for_,
            "labels": { "severity": severity, "slo": slo.name, "job": job },
            "annotations": {
                "summary": format!("{job} is burning its {objective}% availability error budget {speed}"),
                "description": format!(
                    "The 5xx ratio of {job} would exhaust the {} error budget of SLO {} {speed} if it continued.",
                    slo.value.period, slo.name
                ),
                "runbook_url": runbook,
            },
        })
    };
    json!({
        "name": format!("slo-{}-alerts", slo.name),
        "rules": [
            alert(SLO_FAST_BURN, &FAST, "critical", "2m", "fast"),
            alert(SLO_SLOW_BURN, &SLOW, "warning", "15m", "slowly"),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn numbers_lose_float_noise() {
        assert_eq!(number((100.0 - 99.9) / 100.0), "0.001");
        assert_eq!(number(0.05), "0.05");
        assert_eq!(number(2.0), "2");
    }
}
