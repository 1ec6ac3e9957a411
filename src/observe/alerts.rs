//! `[alerts.<name>]` and `[slos.<name>]`: what should page or warn, as meanings (a latency quantile
//! above a threshold, an error ratio, memory near its limit, a target down) or as PromQL, and the
//! service level objectives that become recording rules and multi-window, multi-burn-rate alerts.

use crate::decode::{Fields, Located, Named, rule};
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::node::Node;
use crate::output::{Ctx, Sink};
use crate::spec::{MonitoringLevel, Spec};

use super::AlertInfo;

#[derive(Clone, Debug, PartialEq)]
pub enum AlertKind {
    /// The `quantile` of request latency above `threshold` seconds.
    Latency { quantile: f64 },
    /// The share of 5xx responses above `threshold`.
    ErrorRate,
    /// Container memory (working set) above `threshold` of its limit.
    Memory,
    /// A scrape target of the jobs is down.
    InstanceDown,
    /// Hand-written PromQL.
    Custom { expr: Located<String> },
}

impl AlertKind {
    pub const NAMES: [&'static str; 5] =
        ["latency", "error_rate", "memory", "instance_down", "custom"];
}

#[derive(Clone, Debug)]
pub struct Alert {
    pub kind: AlertKind,
    /// Where `kind` is set.
    pub kind_at: crate::source::Origin,
    pub threshold: Option<Located<f64>>,
    pub window: String,
    pub for_: String,
    pub severity: Located<String>,
    pub summary: Option<Located<String>>,
    pub description: Option<Located<String>>,
    pub runbook: Option<Located<String>>,
    /// The jobs the alert watches; empty means every job that exposes the metric it needs.
    pub jobs: Vec<Located<String>>,
    /// The lowest monitoring level that gets this alert.
    pub min_level: MonitoringLevel,
    pub origin: crate::source::Origin,
}

/// A service level objective on the ratio of non-5xx requests.
#[derive(Clone, Debug)]
pub struct Slo {
    pub job: Located<String>,
    pub objective: Located<f64>,
    pub period: String,
    pub runbook: Option<Located<String>>,
    pub min_level: MonitoringLevel,
    pub origin: crate::source::Origin,
}

fn level_of(
    value: Option<Located<String>>,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<MonitoringLevel> {
    let Some(value) = value else {
        return Some(MonitoringLevel::Basic);
    };
    let level = MonitoringLevel::parse(&value);
    if level.is_none() {
        let mut d = Diagnostic::error(
            "P0104",
            format!(
                "`{path}.min_level` must be one of {}, not `{}`",
                MonitoringLevel::NAMES.join(", "),
                value.value
            ),
        );
        if let Some(close) = did_you_mean(&value, MonitoringLevel::NAMES) {
            d = d.help(format!("did you mean `{close}`?"));
        }
        diags.push(value.diagnostic(d, "unknown level"));
    }
    level
}

pub fn read_alert(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Alert> {
    let mut f = Fields::open(node, path, diags)?;
    let kind = f.req_choice("kind", &AlertKind::NAMES, diags);
    let quantile = f.opt::<f64>("quantile", diags);
    let expr = f.opt::<String>("expr", diags);
    let threshold = f.opt::<f64>("threshold", diags);
    let window = f.or_rule("window", "5m".into(), rule::PROMETHEUS_DURATION, diags);
    let for_ = f.or_rule("for", "0s".into(), rule::PROMETHEUS_DURATION, diags);
    let severity = f.req::<String>("severity", diags);
    let summary = f.opt("summary", diags);
    let description = f.opt("description", diags);
    let runbook = f.opt("runbook", diags);
    let jobs = f
        .opt::<Vec<Located<String>>>("jobs", diags)
        .map_or_else(Vec::new, |v| v.value);
    let min_level = f.choice("min_level", &MonitoringLevel::NAMES, diags);
    f.finish(diags).then_some(())?;
    let min_level = level_of(min_level, path, diags)?;
    let kind = kind?;
    let parsed = match kind.as_str() {
        "latency" => AlertKind::Latency {
            quantile: quantile.map_or(0.95, |q| q.value),
        },
        "error_rate" => AlertKind::ErrorRate,
        "memory" => AlertKind::Memory,
        "instance_down" => AlertKind::InstanceDown,
        "custom" => match expr {
            Some(expr) => AlertKind::Custom { expr },
            None => {
                diags.push(
                    Diagnostic::error("P0103", format!("`{path}.expr` is missing"))
                        .at(node.origin, "a custom alert needs its PromQL")
                        .help("add `expr = \"…\"`, a PromQL expression that returns the series that fire"),
                );
                return None;
            }
        },
        _ => {
            let mut d = Diagnostic::error(
                "P0104",
                format!(
                    "`{path}.kind` must be one of {}, not `{}`",
                    AlertKind::NAMES.join(", "),
                    kind.value
                ),
            );
            if let Some(close) = did_you_mean(&kind, AlertKind::NAMES) {
                d = d.help(format!("did you mean `{close}`?"));
            }
            diags.push(kind.diagnostic(d, "unknown alert kind"));
            return None;
        }
    };
    let needs_threshold = matches!(
        parsed,
        AlertKind::Latency { .. } | AlertKind::ErrorRate | AlertKind::Memory
    );
    if needs_threshold && threshold.is_none() {
        diags.push(
            Diagnostic::error("P0103", format!("`{path}.threshold` is missing"))
                .at(
                    node.origin,
                    format!("a {} alert needs a threshold", kind.value),
                )
                .help("latency: seconds; error_rate and memory: a ratio between 0 and 1"),
        );
        return None;
    }
    Some(Alert {
        kind: parsed,
        kind_at: kind.origin,
        threshold,
        window,
        for_,
        severity: severity?,
        summary,
        description,
        runbook,
        jobs,
        min_level,
        origin: node.origin,
    })
}

pub fn read_slo(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Slo> {
    let mut f = Fields::open(node, path, diags)?;
    let job = f.req("job", diags);
    let objective = f.req::<f64>("objective", diags);
    let period = f.or_rule("period", "30d".into(), rule::PROMETHEUS_DURATION, diags);
    let runbook = f.opt("runbook", diags);
    let min_level = f.choice("min_level", &MonitoringLevel::NAMES, diags);
    f.finish(diags).then_some(())?;
    let min_level = level_of(min_level, path, diags)?;
    Some(Slo {
        job: job?,
        objective: objective?,
        period,
        runbook,
        min_level,
        origin: node.origin,
    })
}

/// The alerts of this environment (those whose `min_level` its monitoring level reaches).
pub fn active_alerts(spec: &Spec) -> impl Iterator<Item = &Named<Alert>> {
    let level = super::level(spec);
    spec.observe
        .alerts
        .iter()
        .filter(move |a| a.value.min_level <= level)
}

pub fn active_slos(spec: &Spec) -> impl Iterator<Item = &Named<Slo>> {
    let level = super::level(spec);
    spec.observe
        .slos
        .iter()
        .filter(move |s| s.value.min_level <= level)
}

pub fn catalog(spec: &Spec) -> Vec<AlertInfo> {
    let mut out: Vec<AlertInfo> = active_alerts(spec)
        .map(|a| AlertInfo {
            name: a.name.clone(),
            labels: vec![("severity".into(), a.value.severity.value.clone())],
        })
        .collect();
    out.extend(slo_alert_catalog(spec));
    out.extend(super::health::catalog(spec));
    out
}

/// The alerts the SLOs add: a fast burn pages, a slow burn opens a ticket.
pub fn slo_alert_catalog(spec: &Spec) -> Vec<AlertInfo> {
    active_slos(spec)
        .flat_map(|slo| {
            [(SLO_FAST_BURN, "critical"), (SLO_SLOW_BURN, "warning")].map(|(name, severity)| {
                AlertInfo {
                    name: name.to_string(),
                    labels: vec![
                        ("severity".into(), severity.into()),
                        ("slo".into(), slo.name.clone()),
                    ],
                }
            })
        })
        .collect()
}

pub const SLO_FAST_BURN: &str = "SLOErrorBudgetBurnFast";
pub const SLO_SLOW_BURN: &str = "SLOErrorBudgetBurnSlow";
pub const SEVERITIES: [&str; 3] = ["critical", "warning", "info"];

/// The metric each built-in alert kind reads, and the label it needs besides `job`.
fn needs(
    kind: &AlertKind,
) -> Option<(
    &'static str,
    super::metrics::FamilyKind,
    Option<&'static str>,
)> {
    use super::metrics::FamilyKind::{Counter, Histogram};
    match kind {
        AlertKind::Latency { .. } => Some(("http_request_duration_seconds", Histogram, None)),
        AlertKind::ErrorRate => Some(("http_requests_total", Counter, Some("status"))),
        _ => None,
    }
}

pub fn check(spec: &Spec, diags: &mut Diagnostics) {
    let jobs: Vec<String> = super::metrics::jobs(spec)
        .into_iter()
        .map(|j| j.name)
        .collect();
    for alert in &spec.observe.alerts {
        check_alert(spec, alert, &jobs, diags);
    }
    for slo in &spec.observe.slos {
        check_job_reference(&slo.value.job, &jobs, diags);
        check_objective(slo, diags);
        check_family(
            spec,
            "http_requests_total",
            super::metrics::FamilyKind::Counter,
            Some("status"),
            slo.value.origin,
            &slo.name,
            diags,
        );
    }
}

/// Objectives are percentages (the error budget is `100 - objective` percent); a value below 1 is
/// almost surely a fraction, 0.999 for 99.9, which would promise almost nothing.
fn check_objective(slo: &Named<Slo>, diags: &mut Diagnostics) {
    let objective = &slo.value.objective;
    let (problem, help, label) = match objective.value {
        v if v > 0.0 && v < 1.0 => (
            format!(
                "SLO `{}`: the objective {v} is a percentage, so it promises {v} % availability",
                slo.name
            ),
            format!(
                "objectives are percentages, not fractions: did you mean `{}`?",
                super::slo::number(v * 100.0)
            ),
            "a fraction?",
        ),
        v if v > 0.0 && v < 100.0 => return,
        _ => (
            format!(
                "SLO `{}`: the objective must be a percentage between 0 and 100",
                slo.name
            ),
            "write the target availability, e.g. 99.9".to_string(),
            "out of range",
        ),
    };
    diags.push(objective.diagnostic(Diagnostic::error("P0317", problem).help(help), label));
}

fn check_alert(spec: &Spec, alert: &Named<Alert>, jobs: &[String], diags: &mut Diagnostics) {
    let a = &alert.value;
    let name = &alert.name;
    for (field, value) in [
        ("summary", &a.summary),
        ("description", &a.description),
        ("runbook", &a.runbook),
    ] {
        if value.is_none() {
            diags.push(
                Diagnostic::error("P0313", format!("alert `{name}` has no {field}"))
                    .at(a.origin, format!("add `{field} = …`"))
                    .help("every alert carries a summary, a description and a runbook link, so that whoever is paged knows what to do"),
            );
        }
    }
    if !SEVERITIES.contains(&a.severity.as_str()) {
        let mut d = Diagnostic::error(
            "P0316",
            format!(
                "alert `{name}`: severity must be one of {}, not `{}`",
                SEVERITIES.join(", "),
                a.severity.value
            ),
        );
        if let Some(close) = did_you_mean(&a.severity, SEVERITIES) {
            d = d.help(format!("did you mean `{close}`?"));
        }
        diags.push(a.severity.diagnostic(d, "unknown severity"));
    }
    check_threshold(alert, diags);
    for job in &a.jobs {
        check_job_reference(job, jobs, diags);
    }
    if let Some((metric, kind, label)) = needs(&a.kind) {
        check_family(spec, metric, kind, label, a.kind_at, name, diags);
    }
    if let AlertKind::Custom { expr } = &a.kind {
        check_custom(expr, name, jobs, spec, diags);
    }
}

fn check_threshold(alert: &Named<Alert>, diags: &mut Diagnostics) {
    let Some(threshold) = &alert.value.threshold else {
        return;
    };
    let (ok, what) = match alert.value.kind {
        AlertKind::Latency { quantile } => (
            threshold.value > 0.0 && quantile > 0.0 && quantile < 1.0,
            "a latency in seconds above 0 (and a quantile between 0 and 1)",
        ),
        AlertKind::ErrorRate | AlertKind::Memory => (
            threshold.value > 0.0 && threshold.value < 1.0,
            "a ratio between 0 and 1",
        ),
        _ => (true, ""),
    };
    if !ok {
        diags.push(
            threshold.diagnostic(
                Diagnostic::error(
                    "P0317",
                    format!("alert `{}`: the threshold must be {what}", alert.name),
                )
                .help("0.05 means 5%"),
                "out of range",
            ),
        );
    }
}

fn check_job_reference(job: &Located<String>, jobs: &[String], diags: &mut Diagnostics) {
    if jobs.iter().any(|j| j == job.as_str()) {
        return;
    }
    let mut d = Diagnostic::error(
        "P0311",
        format!("no scrape target produces job `{}`", job.value),
    );
    d = match did_you_mean(job, jobs.iter().map(String::as_str)) {
        Some(close) => d.help(format!("did you mean `{close}`?")),
        None => d.help(format!(
            "jobs come from `metrics.exposed_by`: {}",
            jobs.join(", ")
        )),
    };
    diags.push(job.diagnostic(d, "no such job"));
}

fn check_family(
    spec: &Spec,
    metric: &str,
    kind: super::metrics::FamilyKind,
    label: Option<&str>,
    origin: crate::source::Origin,
    owner: &str,
    diags: &mut Diagnostics,
) {
    let problem = match super::metrics::family(spec, metric) {
        None => format!("needs the metric `{metric}`, which `[metrics.families]` does not declare"),
        Some(f) if f.kind != kind => format!(
            "needs `{metric}` to be a {kind:?}, but it is declared a {:?}",
            f.kind
        ),
        Some(f) if label.is_some_and(|l| !f.labels.iter().any(|x| x == l)) => {
            format!(
                "needs `{metric}` to carry the label `{}`",
                label.unwrap_or_default()
            )
        }
        Some(_) => return,
    };
    diags.push(
        Diagnostic::error("P0312", format!("`{owner}` {problem}"))
            .at(origin, "reads it")
            .help(format!(
                "declare `[metrics.families.{metric}]` with the type and labels the services expose"
            )),
    );
}

fn check_custom(
    expr: &Located<String>,
    name: &str,
    jobs: &[String],
    spec: &Spec,
    diags: &mut Diagnostics,
) {
    let parsed = match super::promql::parse(expr) {
        Ok(parsed) => parsed,
        Err(err) => {
            let message = err.lines().next().unwrap_or("").to_string();
            diags.push(expr.diagnostic(
                Diagnostic::error("P0314", format!("alert `{name}`: the PromQL does not parse: {message}"))
                    .help("check parentheses, label matchers (`{job=\"x\"}`) and range selectors (`[5m]`)"),
                "invalid PromQL",
            ));
            return;
        }
    };
    for selector in super::promql::selectors(&parsed) {
        for job in super::promql::named_jobs(&selector) {
            if !jobs.contains(&job) {
                let located = Located {
                    value: job.clone(),
                    origin: expr.origin,
                    replaced: expr.replaced,
                };
                check_job_reference(&located, jobs, diags);
            }
        }
        if let Some(metric) = &selector.metric {
            let declared = super::metrics::family(spec, base_family(metric)).is_some();
            let external = super::dashboards::is_platform_metric(metric);
            if !declared && !external {
                diags.push(expr.diagnostic(
                    Diagnostic::warning("P0315", format!("alert `{name}` reads `{metric}`, which `[metrics.families]` does not declare"))
                        .help("declare the family, or check the metric name"),
                    "undeclared metric",
                ));
            }
        }
    }
}

/// `x_bucket`, `x_sum` and `x_count` belong to the histogram `x`.
fn base_family(metric: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| metric.strip_suffix(suffix))
        .unwrap_or(metric)
}

pub fn lower(ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    let groups = rule_groups(ctx.spec);
    if groups.is_empty() {
        return;
    }
    let file = serde_json::json!({ "groups": groups });
    let mut text = String::from(crate::render::HEADER);
    crate::yaml::write_yaml(&mut text, &file);
    sink.file("prometheus/rules.yaml".into(), text);
    let spec = ctx.spec;
    let part_of = spec.platform.name.as_str();
    let mut labels = crate::kit::Labels::standard(part_of, part_of, "monitoring", part_of, None);
    for (k, v) in &spec.observe.metrics.selector_labels {
        labels = labels.with_owned(k, v);
    }
    let origin = spec
        .observe
        .alerts
        .first()
        .map_or(spec.platform.name.origin, |a| a.origin);
    let rule = serde_json::json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": ctx.metadata(part_of, &labels, "alerts", origin),
        "spec": { "groups": groups },
    });
    sink.manifests(crate::output::Unit {
        file: "monitoring/prometheus-rules.yaml".into(),
        objects: vec![ctx.object(rule, origin)],
    });
}

/// The rule groups: the alerts, then each SLO's recording rules and burn-rate alerts.
pub fn rule_groups(spec: &Spec) -> Vec<serde_json::Value> {
    let mut groups = Vec::new();
    let alerts: Vec<serde_json::Value> = active_alerts(spec).map(|a| alert_rule(spec, a)).collect();
    if !alerts.is_empty() {
        groups.push(serde_json::json!({ "name": format!("{}-alerts", spec.platform.name.value), "rules": alerts }));
    }
    for slo in active_slos(spec) {
        groups.push(super::slo::recording_group(slo));
        groups.push(super::slo::alert_group(slo));
    }
    groups.extend(super::health::rule_group(spec));
    for group in &mut groups {
        stamp_origin(spec, group);
    }
    groups
}

/// The labels every alert carries to say where it fires: without them prod and dr look identical in
/// Alertmanager, and `group_by: [cluster]` groups by a label no series has.
pub fn origin_labels(spec: &Spec) -> [(&'static str, String); 2] {
    [
        ("environment", spec.environment.name.clone()),
        ("cluster", spec.environment.cluster.clone()),
    ]
}

/// Adds the origin labels to every alerting rule of a group (recording rules keep their series as
/// they are: the labels belong to the alert, not to the data).
fn stamp_origin(spec: &Spec, group: &mut serde_json::Value) {
    let Some(rules) = group["rules"].as_array_mut() else {
        return;
    };
    for rule in rules.iter_mut().filter(|r| r.get("alert").is_some()) {
        for (key, value) in origin_labels(spec) {
            rule["labels"][key] = serde_json::json!(value);
        }
    }
}

/// Alertmanager inhibit rules: while an SLO's fast burn pages, the alerts that are its symptoms (the
/// latency and error-rate alerts on the same job, and the SLO's slow burn) stay quiet, so the person
/// on call gets one page about the cause rather than several about its effects. One rule per SLO.
pub fn inhibit_rules(spec: &Spec) -> Vec<serde_json::Value> {
    active_slos(spec)
        .map(|slo| {
            let job = &slo.value.job.value;
            let mut symptoms: Vec<String> = active_alerts(spec)
                .filter(|a| {
                    matches!(
                        a.value.kind,
                        AlertKind::Latency { .. } | AlertKind::ErrorRate
                    )
                })
                .filter(|a| alert_jobs(spec, &a.value).contains(job))
                .map(|a| a.name.clone())
                .collect();
            symptoms.push(SLO_SLOW_BURN.to_string());
            symptoms.sort();
            serde_json::json!({
                "source_matchers": [
                    format!("alertname=\"{SLO_FAST_BURN}\""),
                    format!("slo=\"{}\"", slo.name),
                ],
                "target_matchers": [format!("alertname=~\"{}\"", symptoms.join("|"))],
                "equal": ["job", "environment", "cluster"],
            })
        })
        .collect()
}

/// `job="a"` for one job, `job=~"a|b"` for several.
pub fn job_matcher(jobs: &[String]) -> String {
    match jobs {
        [one] => format!("job=\"{one}\""),
        many => format!("job=~\"{}\"", many.join("|")),
    }
}

/// The jobs an alert watches: its own list, or every job that exposes the metric families.
fn alert_jobs(spec: &Spec, alert: &Alert) -> Vec<String> {
    if alert.jobs.is_empty() {
        super::metrics::jobs(spec)
            .into_iter()
            .map(|j| j.name)
            .collect()
    } else {
        alert.jobs.iter().map(|j| j.value.clone()).collect()
    }
}

/// The PromQL of an alert. Aggregations keep `job` and `service` (the ServiceMonitor's target label)
/// and sum over instances and status codes before dividing, so one busy instance cannot hide or fake
/// a platform-wide ratio.
pub fn expression(spec: &Spec, alert: &Alert) -> String {
    let jobs = job_matcher(&alert_jobs(spec, alert));
    let threshold = alert.threshold.as_ref().map_or(0.0, |t| t.value);
    let w = &alert.window;
    match &alert.kind {
        AlertKind::Latency { quantile } => format!(
            "histogram_quantile({quantile}, sum by (job, service, le) (rate(http_request_duration_seconds_bucket{{{jobs}}}[{w}]))) > {threshold}"
        ),
        AlertKind::ErrorRate => format!(
            "sum by (job, service) (rate(http_requests_total{{{jobs},status=~\"5..\"}}[{w}])) / sum by (job, service) (rate(http_requests_total{{{jobs}}}[{w}])) > {threshold}"
        ),
        AlertKind::Memory => {
            let ns = &spec.environment.namespace.value;
            let sel = format!("namespace=\"{ns}\",container!=\"\",container!=\"POD\"");
            // The working set is what the kernel's OOM killer counts; containers without a limit
            // (limit 0) are left out instead of dividing by zero.
            format!(
                "max by (namespace, pod, container) (container_memory_working_set_bytes{{{sel}}}) / max by (namespace, pod, container) (container_spec_memory_limit_bytes{{{sel}}} > 0) > {threshold}"
            )
        }
        AlertKind::InstanceDown => instance_down(spec, &alert_jobs(spec, alert)),
        AlertKind::Custom { expr } => expr.value.clone(),
    }
}

/// A target that answers no scrape (`up == 0`), or, from kube-state-metrics, a Deployment of the job
/// that wants replicas and has none available: a pod that is Pending or evicted has no target at all,
/// so `up` alone never fires for it. The second part names the Deployment as `instance` and carries
/// the job, so both read alike in the annotations and the routing.
fn instance_down(spec: &Spec, jobs: &[String]) -> String {
    let ns = &spec.environment.namespace.value;
    let mut parts = vec![format!("up{{{}}} == 0", job_matcher(jobs))];
    for job in super::metrics::jobs(spec)
        .into_iter()
        .filter(|j| jobs.contains(&j.name))
    {
        let deployments = deployments_of(&job);
        let sel = format!("namespace=\"{ns}\",deployment=~\"{deployments}\"");
        parts.push(format!(
            "label_replace(label_replace((kube_deployment_spec_replicas{{{sel}}} > 0) unless on (namespace, deployment) (kube_deployment_status_replicas_available{{{sel}}} > 0), \"instance\", \"$1\", \"deployment\", \"(.+)\"), \"job\", \"{}\", \"\", \"\")",
            job.name
        ));
    }
    parts.join(" or ")
}

/// The Deployments a job's targets run as: one per instance for a fleet (`<fleet>-<id>`), the
/// workload's own (and its blue-green colours) otherwise.
fn deployments_of(job: &super::metrics::Job) -> String {
    let workload = &job.workload;
    if job.fleet {
        format!("{workload}-.+")
    } else {
        format!("{workload}(-blue|-green)?")
    }
}

fn alert_rule(spec: &Spec, alert: &Named<Alert>) -> serde_json::Value {
    let a = &alert.value;
    let mut annotations = serde_json::Map::new();
    for (key, value) in [
        ("summary", &a.summary),
        ("description", &a.description),
        ("runbook_url", &a.runbook),
    ] {
        if let Some(v) = value {
            annotations.insert(key.into(), serde_json::json!(v.value));
        }
    }
    serde_json::json!({
        "alert": alert.name,
        "expr": expression(spec, a),
        "for": a.for_,
        "labels": { "severity": a.severity.value },
        "annotations": annotations,
    })
}
