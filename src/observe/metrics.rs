//! `[metrics]`: the metric families the workloads expose, which workloads expose them, and how they are
//! scraped (Prometheus Operator `ServiceMonitor`s whose `jobLabel` gives each target the job the alerts
//! select).

use serde_json::json;

use crate::decode::{Fields, Located, Named};
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
            selector_labels: Vec::new(),
            exposed_by: Vec::new(),
            families: Vec::new(),
        });
    };
    let mut f = Fields::open(node, "metrics", diags)?;
    let path = f.or("path", "/metrics".to_string(), diags);
    let port = f.or("port", "http".to_string(), diags);
    let interval = f.or("interval", "30s".to_string(), diags);
    let timeout = f.or("scrape_timeout", "10s".to_string(), diags);
    let selector_labels = f.named_of::<String>("selector_labels", diags);
    let exposed_by = f
        .opt::<Vec<Located<String>>>("exposed_by", diags)
        .map_or_else(Vec::new, |v| v.value);
    let families = f.named("families", diags, read_family);
    f.finish(diags).then_some(())?;
    Some(Metrics {
        path,
        port,
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
        }
    }
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
