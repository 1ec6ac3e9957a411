//! `[metrics]`: the metric families the workloads expose, which workloads expose them, and how they are
//! scraped (Prometheus Operator `ServiceMonitor`s whose `jobLabel` gives each target the job the alerts
//! select).

use serde_json::json;

use crate::decode::{Fields, Located, Named, rule};
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::kit::Labels;
use crate::node::Node;
use crate::output::{Ctx, Sink, Unit};
use crate::spec::Spec;

pub use crate::facts::JOB_LABEL;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyKind {
    Counter,
    Gauge,
    Histogram,
    Summary,
}

impl FamilyKind {
    const NAMES: [&'static str; 4] = ["counter", "gauge", "histogram", "summary"];

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "counter" => FamilyKind::Counter,
            "gauge" => FamilyKind::Gauge,
            "histogram" => FamilyKind::Histogram,
            "summary" => FamilyKind::Summary,
            _ => return None,
        })
    }
}

/// One metric family, e.g. `http_requests_total` with its labels.
#[derive(Clone, Debug)]
pub struct Family {
    pub kind: FamilyKind,
    pub help: String,
    pub labels: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Metrics {
    pub path: String,
    pub port: String,
    pub interval: String,
    pub scrape_timeout: String,
    /// Where `port` is set; `None` for the default.
    pub port_origin: Option<crate::source::Origin>,
    /// Labels the Prometheus instance selects ServiceMonitors and PrometheusRules by.
    pub selector_labels: Vec<(String, String)>,
    /// Workloads and fleets that expose the families.
    pub exposed_by: Vec<Located<String>>,
    pub families: Vec<Named<Family>>,
}

pub fn read(node: Option<&Node>, diags: &mut Diagnostics) -> Option<Metrics> {
    let Some(node) = node else {
        return Some(Metrics {
            path: "/metrics".into(),
            port: "http".into(),
            interval: "30s".into(),
            scrape_timeout: "10s".into(),
            port_origin: None,
            selector_labels: Vec::new(),
            exposed_by: Vec::new(),
            families: Vec::new(),
        });
    };
    let mut f = Fields::open(node, "metrics", diags)?;
    let path = f.or("path", "/metrics".to_string(), diags);
    let port = f.or("port", "http".to_string(), diags);
    let port_origin = f.peek("port").map(|n| n.origin);
    let interval = f.or_rule("interval", "30s".into(), rule::PROMETHEUS_DURATION, diags);
    let timeout = f.or_rule(
        "scrape_timeout",
        "10s".into(),
        rule::PROMETHEUS_DURATION,
        diags,
    );
    let timeout_ok = check_scrape_timeout(&f, &interval, &timeout, diags);
    let selector_labels = f.named_of::<String>("selector_labels", diags);
    let exposed_by = f
        .opt::<Vec<Located<String>>>("exposed_by", diags)
        .map_or_else(Vec::new, |v| v.value);
    let families = f.named("families", diags, read_family);
    (f.finish(diags) && timeout_ok).then_some(())?;
    Some(Metrics {
        path,
        port,
        port_origin,
        interval,
        scrape_timeout: timeout,
        selector_labels: selector_labels
            .into_iter()
            .map(|l: Named<String>| (l.name, l.value))
            .collect(),
        exposed_by,
        families,
    })
}

/// A timeout longer than the interval is refused by Prometheus; reported at the timeout, or at the
/// interval when only that is set (the default timeout is then too long).
fn check_scrape_timeout(
    f: &Fields<'_>,
    interval: &str,
    timeout: &str,
    diags: &mut Diagnostics,
) -> bool {
    let (Ok(interval_ms), Ok(timeout_ms)) = (
        crate::rules::duration::prometheus(interval),
        crate::rules::duration::prometheus(timeout),
    ) else {
        return true;
    };
    let Err(broken) = crate::rules::duration::scrape_timeout(interval_ms, timeout_ms) else {
        return true;
    };
    let at = f
        .peek("scrape_timeout")
        .map(|n| (n.origin, "the timeout"))
        .or_else(|| {
            f.peek("interval")
                .map(|n| (n.origin, "shorter than the default timeout, 10s"))
        })
        .map_or((f.origin(), "the timeout"), |at| at);
    diags.push(
        Diagnostic::error(
            "P0319",
            format!(
                "`metrics.scrape_timeout` ({timeout}) {} ({interval})",
                broken.problem
            ),
        )
        .at(at.0, at.1)
        .help(format!(
            "it must be {}: shorten the timeout or lengthen the interval",
            broken.rule
        )),
    );
    false
}

fn read_family(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Family> {
    let mut f = Fields::open(node, path, diags)?;
    let kind = f.req_choice("type", &FamilyKind::NAMES, diags);
    let help = f.or("help", String::new(), diags);
    let labels = f
        .opt::<Vec<Located<String>>>("labels", diags)
        .map_or_else(Vec::new, |v| v.value);
    f.finish(diags).then_some(())?;
    let kind = kind?;
    let Some(parsed) = FamilyKind::parse(&kind) else {
        let mut d = Diagnostic::error(
            "P0104",
            format!(
                "`{path}.type` must be one of counter, gauge, histogram, summary, not `{}`",
                kind.value
            ),
        );
        if let Some(close) = did_you_mean(&kind, FamilyKind::NAMES) {
            d = d.help(format!("did you mean `{close}`?"));
        }
        diags.push(kind.diagnostic(d, "unknown metric type"));
        return None;
    };
    Some(Family {
        kind: parsed,
        help,
        labels: labels.into_iter().map(|l| l.value).collect(),
    })
}

/// A scrape job: what Prometheus calls the targets behind one ServiceMonitor.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub name: String,
    /// The `talks_to` name of the workload or fleet.
    pub workload: String,
    /// Whether its targets are the instances of a fleet.
    pub fleet: bool,
}

/// The jobs this spec's scrape configuration produces, in spec order.
pub fn jobs(spec: &Spec) -> Vec<Job> {
    spec.observe
        .metrics
        .exposed_by
        .iter()
        .map(|w| Job {
            name: job_of(spec, w),
            workload: w.value.clone(),
            fleet: spec.fleet(w).is_some(),
        })
        .collect()
}

/// The job name of a workload, or of a fleet's instances (the fleet's `job`).
pub fn job_of(spec: &Spec, workload: &str) -> String {
    match spec.fleet(workload) {
        Some(fleet) => crate::facts::fleet_job(workload, fleet),
        None => workload.to_string(),
    }
}

pub fn family<'a>(spec: &'a Spec, name: &str) -> Option<&'a Family> {
    spec.observe
        .metrics
        .families
        .iter()
        .find(|f| f.name == name)
        .map(|f| &f.value)
}

/// Every `exposed_by` entry names a workload or fleet.
pub fn check(spec: &Spec, diags: &mut Diagnostics) {
    let workloads: Vec<&str> = spec
        .workloads
        .iter()
        .map(|s| s.name.as_str())
        .chain(spec.fleets.iter().map(|f| f.name.as_str()))
        .collect();
    for entry in &spec.observe.metrics.exposed_by {
        if !workloads.contains(&entry.as_str()) {
            let mut d = Diagnostic::error(
                "P0204",
                format!(
                    "`metrics.exposed_by` names `{}`, which is no service or fleet",
                    entry.value
                ),
            );
            d = match did_you_mean(entry, workloads.iter().copied()) {
                Some(close) => d.help(format!("did you mean `{close}`?")),
                None => d.help(format!("declared: {}", workloads.join(", "))),
            };
            diags.push(entry.diagnostic(d, "no such workload"));
        } else {
            check_scrape_port(spec, entry, diags);
        }
    }
}

/// A ServiceMonitor scrapes the Service port named `metrics.port`; a workload without a Service, or
/// without a port of that name, would be scraped nowhere and its metrics silently missing.
fn check_scrape_port(spec: &Spec, entry: &Located<String>, diags: &mut Diagnostics) {
    let metrics = &spec.observe.metrics;
    let Some(workload) = spec
        .workload(entry)
        .or_else(|| spec.fleet(entry).map(|f| &f.template))
    else {
        return;
    };
    let names: Vec<&str> = workload.service_ports().map(|p| p.name.as_str()).collect();
    if workload.has_service() && names.contains(&metrics.port.as_str()) {
        return;
    }
    let (problem, help) = if workload.has_service() {
        let help = match did_you_mean(&metrics.port, names.iter().copied()) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!(
                "set `metrics.port` to the name of the port that serves {}; the Service ports of `{}` are {}",
                metrics.path,
                entry.value,
                names.join(", ")
            ),
        };
        (
            format!(
                "`metrics.port` is `{}`, but no Service port of `{}` has that name, so its metrics are never scraped",
                metrics.port, entry.value
            ),
            help,
        )
    } else {
        (
            format!(
                "`{}` is in `metrics.exposed_by` but has no Service, so its ServiceMonitor scrapes nothing",
                entry.value
            ),
            "only workloads with a Service (kind service or stateful, with an exposed port) can be scraped by a ServiceMonitor".to_string(),
        )
    };
    let mut d = Diagnostic::error("P0225", problem).help(help);
    d = match metrics.port_origin.filter(|_| workload.has_service()) {
        Some(port) => d
            .at(port, "the port name")
            .also(entry.origin, "exposed here"),
        None => d.at(entry.origin, "scraped nowhere"),
    };
    diags.push(d);
}

/// One ServiceMonitor per job, selecting the Services that carry its job label.
pub fn lower(ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    let spec = ctx.spec;
    let metrics = &spec.observe.metrics;
    let part_of = spec.platform.name.as_str();
    let objects = jobs(spec)
        .iter()
        .map(|job| {
            let mut labels = Labels::standard(&job.name, &job.name, "monitoring", part_of, None);
            for (k, v) in &metrics.selector_labels {
                labels = labels.with_owned(k, v);
            }
            let origin = spec
                .observe
                .metrics
                .exposed_by
                .iter()
                .find(|w| w.value == job.workload)
                .map_or(spec.platform.name.origin, |w| w.origin);
            let value = json!({
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "ServiceMonitor",
                "metadata": ctx.metadata(&job.name, &labels, "metrics.exposed_by", origin),
                "spec": {
                    "jobLabel": JOB_LABEL,
                    "selector": { "matchLabels": { JOB_LABEL: job.name } },
                    "namespaceSelector": { "matchNames": [ctx.namespace] },
                    "endpoints": [{
                        "port": metrics.port,
                        "path": metrics.path,
                        "interval": metrics.interval,
                        "scrapeTimeout": metrics.scrape_timeout,
                    }],
                },
            });
            ctx.object(value, origin)
        })
        .collect::<Vec<_>>();
    if !objects.is_empty() {
        sink.manifests(Unit {
            file: "monitoring/service-monitors.yaml".into(),
            objects,
        });
    }
}
