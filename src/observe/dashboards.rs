//! `[dashboards]`: Grafana dashboards built from the same model as the scrape jobs.
//!
//! The overview (seed 4.1) and, above the `basic` monitoring level, one dashboard per scrape job are
//! derived from the declared metric families and jobs, and every query (custom panels' PromQL
//! included) is parsed and checked against them: a renamed metric, job or label becomes a located
//! error here instead of an empty panel in Grafana. Each dashboard is written as
//! `grafana/<uid>.json` and inside a ConfigMap that the Grafana dashboard sidecar picks up by label.

use std::collections::HashSet;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{Expr, LabelModifier, VectorSelector};
use promql_parser::util::{ExprVisitor, walk_expr};
use serde_json::{Value, json};

use crate::decode::{Fields, Located, Named};
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::kit::{Labels, fnv1a_hex};
use crate::node::Node;
use crate::observe::metrics::{self, Family, FamilyKind, Job};
use crate::output::{Ctx, Sink, Unit};
use crate::source::Origin;
use crate::spec::{MonitoringLevel, Spec};

/// The dashboard JSON model version plat writes (Grafana 10.4/11).
pub const SCHEMA_VERSION: u64 = 39;
/// The template variable every panel and target takes its data source from.
pub const DATASOURCE_VARIABLE: &str = "datasource";
/// Grafana lays panels out on a 24-column grid.
pub const GRID_COLUMNS: i64 = 24;
/// Series the dashboards may query although no `[metrics.families]` entry declares them, because the
/// workloads do not expose them: Prometheus writes `up` and `ALERTS` itself, and the exporters of
/// kube-prometheus-stack write the prefixed ones: cAdvisor (`container_`), kube-state-metrics
/// (`kube_`), node-exporter (`node_`), and Prometheus its `scrape_` series. The alerts accept the same.
pub const PLATFORM_METRICS: [&str; 2] = ["up", "ALERTS"];
pub const EXPORTER_PREFIXES: [&str; 4] = ["container_", "kube_", "node_", "scrape_"];

/// Whether a series comes from Prometheus or an exporter rather than from the workloads.
pub fn is_platform_metric(series: &str) -> bool {
    PLATFORM_METRICS.contains(&series) || EXPORTER_PREFIXES.iter().any(|p| series.starts_with(p))
}
/// Labels every scraped series carries besides its own: the target labels the Prometheus Operator
/// attaches to ServiceMonitor targets.
pub const TARGET_LABELS: [&str; 8] = [
    "__name__",
    "job",
    "instance",
    "namespace",
    "service",
    "pod",
    "container",
    "endpoint",
];

/// Grafana limits uids to 40 characters; plat also uses them in ConfigMap and file names.
const UID_MAX: usize = 40;
const PANEL_HEIGHT: i64 = 8;
/// Tags every per-service dashboard carries, besides the platform name, so the overview can link them.
const SERVICE_TAG: &str = "service";

/// The `[dashboards]` section; `section` is `None` when the spec has none: dashboards are opt-in.
#[derive(Clone, Debug, Default)]
pub struct Dashboards {
    pub section: Option<Section>,
}

#[derive(Clone, Debug)]
pub struct Section {
    /// The Grafana folder (the sidecar's `grafana_folder` annotation); none leaves it to Grafana.
    pub folder: Option<String>,
    /// Labels the Grafana sidecar selects dashboard ConfigMaps by.
    pub sidecar_labels: Vec<(String, String)>,
    /// Whether each scrape job gets a dashboard (above the `basic` monitoring level).
    pub per_service: bool,
    /// The request counter the built-in panels read (with method, endpoint, status and tenant labels).
    pub requests: Located<String>,
    /// The request latency histogram the built-in panels read.
    pub latency: Located<String>,
    /// The label of `requests` that names the tenant.
    pub tenant_label: Located<String>,
    pub overview: Overview,
    /// Custom panels appended to the overview.
    pub panels: Vec<Named<CustomPanel>>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct Overview {
    pub title: String,
    /// Where the title was written (the overview table when it was not).
    pub title_origin: Origin,
    /// `None`: `<platform>-overview`.
    pub uid: Option<Located<String>>,
    pub refresh: String,
    pub from: String,
    pub to: String,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct CustomPanel {
    pub title: String,
    pub kind: PanelKind,
    pub expr: Located<String>,
    pub legend: Option<String>,
    pub unit: Option<String>,
    pub width: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanelKind {
    Timeseries,
    Stat,
    Gauge,
    BarGauge,
    Table,
    Heatmap,
}

impl PanelKind {
    pub const NAMES: [&'static str; 6] = [
        "timeseries",
        "stat",
        "gauge",
        "bargauge",
        "table",
        "heatmap",
    ];

    fn parse(text: &str) -> Option<Self> {
        const ALL: [PanelKind; 6] = [
            PanelKind::Timeseries,
            PanelKind::Stat,
            PanelKind::Gauge,
            PanelKind::BarGauge,
            PanelKind::Table,
            PanelKind::Heatmap,
        ];
        ALL.into_iter().find(|k| k.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

// ---------------------------------------------------------------------------------------------------
// read

pub fn read(node: Option<&Node>, diags: &mut Diagnostics) -> Option<Dashboards> {
    let Some(node) = node else {
        return Some(Dashboards::default());
    };
    let mut f = Fields::open(node, "dashboards", diags)?;
    let origin = f.origin();
    let folder = f.opt::<String>("folder", diags).map(|v| v.value);
    let sidecar = f.named_of::<String>("sidecar_labels", diags);
    let per_service = f.or("per_service", true, diags);
    let requests = f.opt::<String>("requests", diags);
    let latency = f.opt::<String>("latency", diags);
    let tenant_label = f.opt::<String>("tenant_label", diags);
    let overview = read_overview(f.node("overview"), origin, diags);
    let panels = f.named("panels", diags, read_panel);
    f.finish(diags).then_some(())?;
    let default_at = |value: &str| Located {
        value: value.to_string(),
        origin,
        replaced: None,
    };
    Some(Dashboards {
        section: Some(Section {
            folder,
            sidecar_labels: sidecar_labels(sidecar),
            per_service,
            requests: requests.unwrap_or_else(|| default_at("http_requests_total")),
            latency: latency.unwrap_or_else(|| default_at("http_request_duration_seconds")),
            tenant_label: tenant_label.unwrap_or_else(|| default_at("tenant_id")),
            overview: overview?,
            panels,
            origin,
        }),
    })
}

/// kube-prometheus-stack's sidecar looks for `grafana_dashboard: "1"` unless told otherwise.
fn sidecar_labels(declared: Vec<Named<String>>) -> Vec<(String, String)> {
    if declared.is_empty() {
        return vec![("grafana_dashboard".into(), "1".into())];
    }
    declared.into_iter().map(|l| (l.name, l.value)).collect()
}

fn read_overview(
    node: Option<&Node>,
    section: Origin,
    diags: &mut Diagnostics,
) -> Option<Overview> {
    let mut overview = Overview {
        title: "Platform overview".into(),
        title_origin: section,
        uid: None,
        refresh: "30s".into(),
        from: "now-6h".into(),
        to: "now".into(),
        origin: section,
    };
    let Some(node) = node else {
        return Some(overview);
    };
    let mut f = Fields::open(node, "dashboards.overview", diags)?;
    overview.origin = node.origin;
    overview.title_origin = node.origin;
    let title = f.opt::<String>("title", diags);
    let uid = f.opt::<String>("uid", diags);
    let refresh = f.opt::<String>("refresh", diags);
    let time = f.node("time").map(|n| read_time(n, diags));
    f.finish(diags).then_some(())?;
    let mut ok = true;
    if let Some(uid) = &uid {
        ok &= valid_uid(uid, diags);
    }
    if let Some(refresh) = &refresh {
        ok &= valid(
            refresh,
            is_interval(refresh),
            "dashboards.overview.refresh",
            "a refresh interval such as \"30s\" or \"1m\"",
            diags,
        );
    }
    if let Some(title) = title {
        overview.title = title.value;
        overview.title_origin = title.origin;
    }
    if let Some(refresh) = refresh {
        overview.refresh = refresh.value;
    }
    if let Some(time) = time {
        (overview.from, overview.to) = time?;
    }
    overview.uid = uid;
    ok.then_some(overview)
}

/// `time = { from = "now-6h", to = "now" }`: the default time range, relative to now.
fn read_time(node: &Node, diags: &mut Diagnostics) -> Option<(String, String)> {
    let mut f = Fields::open(node, "dashboards.overview.time", diags)?;
    let from = f.opt::<String>("from", diags);
    let to = f.opt::<String>("to", diags);
    f.finish(diags).then_some(())?;
    let mut ok = true;
    for (key, value) in [("from", &from), ("to", &to)] {
        if let Some(value) = value {
            let path = format!("dashboards.overview.time.{key}");
            ok &= valid(
                value,
                is_relative_time(value),
                &path,
                "`now` or `now-<duration>` such as \"now-6h\"",
                diags,
            );
        }
    }
    ok.then(|| {
        (
            from.map_or_else(|| "now-6h".into(), |v| v.value),
            to.map_or_else(|| "now".into(), |v| v.value),
        )
    })
}

fn read_panel(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<CustomPanel> {
    let mut f = Fields::open(node, path, diags)?;
    let title = f.req::<String>("title", diags);
    let kind = f.choice("type", &PanelKind::NAMES, diags);
    let expr = f.req::<String>("expr", diags);
    let legend = f.opt::<String>("legend", diags).map(|v| v.value);
    let unit = f.opt::<String>("unit", diags).map(|v| v.value);
    let width = f
        .int("width", 1, GRID_COLUMNS, diags)
        .map_or(GRID_COLUMNS / 2, |w| w.value);
    f.finish(diags).then_some(())?;
    let kind = match kind {
        Some(kind) => panel_kind(&kind, path, diags)?,
        None => PanelKind::Timeseries,
    };
    Some(CustomPanel {
        title: title?.value,
        kind,
        expr: expr?,
        legend,
        unit,
        width,
    })
}

fn panel_kind(kind: &Located<String>, path: &str, diags: &mut Diagnostics) -> Option<PanelKind> {
    let parsed = PanelKind::parse(kind);
    if parsed.is_none() {
        let mut d = Diagnostic::error(
            "P0104",
            format!(
                "`{path}.type` must be one of {}, not `{}`",
                PanelKind::NAMES.join(", "),
                kind.value
            ),
        );
        if kind.value == "graph" {
            // The seed's dashboard uses it; Grafana 8 replaced it and Grafana 11 no longer ships it.
            d = d.help("the `graph` panel is gone from current Grafana: use `timeseries`");
        } else if let Some(close) = did_you_mean(kind, PanelKind::NAMES) {
            d = d.help(format!("did you mean `{close}`?"));
        }
        diags.push(kind.diagnostic(d, "unknown panel type"));
    }
    parsed
}

/// Grafana accepts more in a uid, but plat also names a ConfigMap and a file after it.
fn valid_uid(uid: &Located<String>, diags: &mut Diagnostics) -> bool {
    let ok = !uid.is_empty()
        && uid.len() <= UID_MAX
        && uid
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid(
        uid,
        ok,
        "dashboards.overview.uid",
        "at most 40 lowercase letters, digits and `-`",
        diags,
    )
}

fn valid(
    value: &Located<String>,
    ok: bool,
    path: &str,
    expected: &str,
    diags: &mut Diagnostics,
) -> bool {
    if !ok {
        let d = Diagnostic::error(
            "P0104",
            format!("`{path}`: `{}` is not {expected}", value.value),
        )
        .help(format!("write {expected}"));
        diags.push(value.diagnostic(d, "not valid here"));
    }
    ok
}

/// Grafana's refresh intervals: a whole number and one unit.
fn is_interval(text: &str) -> bool {
    is_duration(text, &["s", "m", "h", "d"])
}

/// `now`, `now-6h`, optionally rounded (`now-1d/d`), as Grafana's time picker writes them.
fn is_relative_time(text: &str) -> bool {
    const UNITS: [&str; 7] = ["s", "m", "h", "d", "w", "M", "y"];
    let (time, rounding) = text.split_once('/').unwrap_or((text, ""));
    let rounding_ok = rounding.is_empty() || UNITS.contains(&rounding);
    let time_ok = time == "now"
        || time
            .strip_prefix("now-")
            .is_some_and(|d| is_duration(d, &UNITS));
    rounding_ok && time_ok
}

/// A positive whole number followed by one of `units`.
fn is_duration(text: &str, units: &[&str]) -> bool {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.bytes().any(|b| b != b'0')
        && units.contains(&unit)
}

// ---------------------------------------------------------------------------------------------------
// the model: what the dashboards of one environment show

/// One dashboard before it becomes Grafana JSON.
#[derive(Clone, Debug)]
pub struct Board {
    pub uid: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub panels: Vec<Panel>,
    /// The spec entry that asked for it: the overview's uid, or the job's `metrics.exposed_by` entry.
    pub origin: Origin,
    pub title_origin: Origin,
    /// The key path named by the `plat.dev/source` annotation.
    pub source: String,
    /// Whether the overview links to the per-service dashboards.
    pub links_services: bool,
}

#[derive(Clone, Debug)]
pub struct Panel {
    pub title: String,
    pub kind: PanelKind,
    pub description: Option<String>,
    pub width: i64,
    pub height: i64,
    pub unit: Option<String>,
    pub style: Style,
    pub targets: Vec<Target>,
    /// Where problems with this panel's queries are reported, and the base value an overlay replaced.
    pub origin: Origin,
    pub replaced: Option<Origin>,
}

/// Presentation beyond the panel type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    /// Latency buckets: the histogram's `le` buckets, already counted by Prometheus.
    Buckets,
    /// 0/1 values shown as down/up (the `up` series).
    UpDown,
    /// A share of a limit: 0 to 1, with a line at 1.
    ShareOfLimit,
}

#[derive(Clone, Debug)]
pub struct Target {
    pub expr: String,
    pub legend: Option<String>,
    pub format: Format,
    pub instant: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    TimeSeries,
    Heatmap,
    Table,
}

impl Format {
    fn as_str(self) -> &'static str {
        match self {
            Format::TimeSeries => "time_series",
            Format::Heatmap => "heatmap",
            Format::Table => "table",
        }
    }
}

impl Target {
    fn range(expr: String, legend: &str) -> Self {
        Target {
            expr,
            legend: Some(legend.into()),
            format: Format::TimeSeries,
            instant: false,
        }
    }
}

impl Panel {
    fn new(title: &str, kind: PanelKind, width: i64, origin: Origin, targets: Vec<Target>) -> Self {
        Panel {
            title: title.into(),
            kind,
            description: None,
            width,
            height: PANEL_HEIGHT,
            unit: None,
            style: Style::Plain,
            targets,
            origin,
            replaced: None,
        }
    }

    fn unit(mut self, unit: &str) -> Self {
        self.unit = Some(unit.into());
        self
    }

    fn style(mut self, style: Style) -> Self {
        self.style = style;
        self
    }

    fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// A diagnostic at the spec value this panel's queries come from.
    fn diagnostic(&self, mut d: Diagnostic, label: String) -> Diagnostic {
        d = d.at(self.origin, label);
        match self.replaced {
            Some(base) => d.also(base, "the base value, replaced by the overlay"),
            None => d,
        }
    }
}

/// The dashboards of this environment, in a stable order: the overview, then one per scrape job when
/// `per_service` is on and the monitoring level is above `basic`.
pub fn boards(spec: &Spec) -> Vec<Board> {
    let Some(section) = &spec.observe.dashboards.section else {
        return Vec::new();
    };
    let queries = Queries::new(spec, section);
    let per_service = section.per_service && super::level(spec) > MonitoringLevel::Basic;
    let mut out = vec![overview(spec, section, &queries, per_service)];
    if per_service {
        out.extend(
            metrics::jobs(spec)
                .iter()
                .map(|job| service_board(spec, section, &queries, job)),
        );
    }
    out
}

fn overview(spec: &Spec, section: &Section, q: &Queries, links_services: bool) -> Board {
    let (uid, origin) = match &section.overview.uid {
        Some(uid) => (uid.value.clone(), uid.origin),
        None => (
            derived_uid(&spec.platform.name, "overview"),
            section.overview.origin,
        ),
    };
    let mut panels = vec![
        Panel::new(
            "API QPS by method and endpoint",
            PanelKind::Timeseries,
            12,
            section.requests.origin,
            vec![Target::range(q.qps(), "{{method}} {{endpoint}}")],
        )
        .unit("reqps"),
        Panel::new(
            "Response time distribution",
            PanelKind::Heatmap,
            12,
            section.latency.origin,
            vec![q.latency_buckets()],
        )
        .style(Style::Buckets)
        .describe("Requests per second in each latency bucket of the histogram."),
        Panel::new(
            "Active tenants",
            PanelKind::Stat,
            6,
            section.requests.origin,
            vec![Target::range(q.active_tenants(), "active tenants")],
        )
        .unit("none")
        .describe("Tenants that sent at least one request in the last 5 minutes."),
    ];
    for job in metrics::jobs(spec).iter().filter(|j| j.fleet) {
        panels.push(
            Panel::new(
                &format!("{} instance status", fleet_title(spec, &job.workload)),
                PanelKind::Table,
                18,
                section.overview.origin,
                vec![q.up_table(&job.name)],
            )
            .style(Style::UpDown),
        );
    }
    panels.extend(section.panels.iter().map(custom_panel));
    Board {
        uid,
        title: section.overview.title.clone(),
        title_origin: section.overview.title_origin,
        description: format!(
            "{}: traffic, latency, tenants and instances ({} environment).",
            spec.platform.name.value, spec.environment.name
        ),
        tags: vec![spec.platform.name.value.clone(), "overview".into()],
        panels,
        origin,
        source: "dashboards.overview".into(),
        links_services,
    }
}

fn custom_panel(panel: &Named<CustomPanel>) -> Panel {
    let p = &panel.value;
    let format = match p.kind {
        PanelKind::Heatmap => Format::Heatmap,
        PanelKind::Table => Format::Table,
        _ => Format::TimeSeries,
    };
    let target = Target {
        expr: p.expr.value.clone(),
        legend: p.legend.clone(),
        format,
        instant: p.kind == PanelKind::Table,
    };
    let mut out = Panel::new(&p.title, p.kind, p.width, p.expr.origin, vec![target]);
    out.unit = p.unit.clone();
    out.replaced = p.expr.replaced;
    out
}

/// Request rate, 5xx ratio, latency quantiles and memory against the limit of one scrape job.
fn service_board(spec: &Spec, section: &Section, q: &Queries, job: &Job) -> Board {
    let entry = spec
        .observe
        .metrics
        .exposed_by
        .iter()
        .find(|w| w.value == job.workload);
    let origin = entry.map_or(section.origin, |w| w.origin);
    let name = &job.name;
    let panels = vec![
        Panel::new(
            "Request rate by status",
            PanelKind::Timeseries,
            12,
            section.requests.origin,
            vec![Target::range(q.job_rate(name), "{{status}}")],
        )
        .unit("reqps"),
        Panel::new(
            "5xx ratio",
            PanelKind::Timeseries,
            12,
            section.requests.origin,
            vec![Target::range(q.job_errors(name), "5xx share")],
        )
        .unit("percentunit")
        .describe("Share of requests answered with a 5xx status."),
        Panel::new(
            "Latency p50 / p95 / p99",
            PanelKind::Timeseries,
            12,
            section.latency.origin,
            [0.5, 0.95, 0.99].map(|p| q.job_quantile(name, p)).into(),
        )
        .unit("s"),
        Panel::new(
            "Memory vs limit",
            PanelKind::Timeseries,
            12,
            // Only platform metrics: its problems belong to the job, not to `requests`.
            origin,
            vec![Target::range(q.memory_share(&job.workload), "{{pod}}")],
        )
        .unit("percentunit")
        .style(Style::ShareOfLimit)
        .describe(memory_description(spec, &job.workload)),
    ];
    Board {
        uid: derived_uid(&spec.platform.name, name),
        title: format!("{} / {name}", spec.platform.name.value),
        title_origin: origin,
        description: service_description(spec, job),
        tags: vec![spec.platform.name.value.clone(), SERVICE_TAG.into()],
        panels,
        origin,
        source: "dashboards.per_service".into(),
        links_services: false,
    }
}

fn fleet_title<'a>(spec: &'a Spec, fleet: &'a str) -> &'a str {
    spec.fleet(fleet)
        .and_then(|f| f.title.as_deref())
        .unwrap_or(fleet)
}

fn service_description(spec: &Spec, job: &Job) -> String {
    let what = match (spec.workload(&job.workload), spec.fleet(&job.workload)) {
        (Some(w), _) => w.description.clone().unwrap_or_default(),
        (None, Some(f)) => f
            .template
            .description
            .clone()
            .unwrap_or_else(|| format!("The instances of fleet `{}`", job.workload)),
        (None, None) => String::new(),
    };
    format!("Scrape job `{}`. {what}", job.name)
        .trim_end()
        .to_string()
}

/// Names the limit the spec sets, so the reader knows what 100% means.
fn memory_description(spec: &Spec, workload: &str) -> String {
    let size = match (spec.workload(workload), spec.fleet(workload)) {
        (Some(w), _) => Some(w.size.value.as_str()),
        (None, Some(f)) => Some(f.template.size.value.as_str()),
        (None, None) => None,
    };
    let limit = size.and_then(|s| spec.size(s).map(|z| (s, z.limits.memory.text.as_str())));
    match limit {
        Some((size, memory)) => format!("Working set of each pod as a share of its container memory limit ({memory}, size `{size}`); the kernel kills the container at 100%."),
        None => "Working set of each pod as a share of its container memory limit; the kernel kills the container at 100%.".into(),
    }
}

/// `<platform>-<name>`, shortened with a hash when it exceeds Grafana's 40 characters.
fn derived_uid(platform: &str, name: &str) -> String {
    let uid = format!("{platform}-{name}");
    if uid.len() <= UID_MAX {
        return uid;
    }
    let hash = fnv1a_hex(&[(uid.clone(), String::new())]);
    format!(
        "{}-{}",
        uid[..UID_MAX - 9].trim_end_matches('-'),
        &hash[..8]
    )
}

/// The PromQL of the built-in panels, scoped to this environment's namespace.
struct Queries<'a> {
    namespace: &'a str,
    requests: &'a str,
    latency: &'a str,
    tenant: &'a str,
    window: String,
}

impl<'a> Queries<'a> {
    fn new(spec: &'a Spec, section: &'a Section) -> Self {
        Queries {
            namespace: &spec.environment.namespace.value,
            requests: &section.requests.value,
            latency: &section.latency.value,
            tenant: &section.tenant_label.value,
            window: rate_window(&spec.observe.metrics.interval),
        }
    }

    fn select(&self, metric: &str, extra: &[(&str, &str, &str)]) -> String {
        let mut matchers = vec![format!("namespace=\"{}\"", escape(self.namespace))];
        matchers.extend(
            extra
                .iter()
                .map(|(label, op, value)| format!("{label}{op}\"{}\"", escape(value))),
        );
        format!("{metric}{{{}}}", matchers.join(", "))
    }

    fn qps(&self) -> String {
        format!(
            "sum by (method, endpoint) (rate({}[{}]))",
            self.select(self.requests, &[]),
            self.window
        )
    }

    fn latency_buckets(&self) -> Target {
        let bucket = format!("{}_bucket", self.latency);
        Target {
            expr: format!(
                "sum by (le) (rate({}[{}]))",
                self.select(&bucket, &[]),
                self.window
            ),
            legend: Some("{{le}}".into()),
            format: Format::Heatmap,
            instant: false,
        }
    }

    /// "Active" is the seed's definition: a request in the last 5 minutes, whatever the scrape interval.
    fn active_tenants(&self) -> String {
        let tenant = self.tenant;
        format!(
            "count(count by ({tenant}) (rate({}[5m]) > 0))",
            self.select(self.requests, &[(tenant, "!=", "")])
        )
    }

    fn up_table(&self, job: &str) -> Target {
        Target {
            expr: self.select("up", &[("job", "=", job)]),
            legend: None,
            format: Format::Table,
            instant: true,
        }
    }

    fn job_rate(&self, job: &str) -> String {
        format!(
            "sum by (status) (rate({}[{}]))",
            self.select(self.requests, &[("job", "=", job)]),
            self.window
        )
    }

    fn job_errors(&self, job: &str) -> String {
        let errors = self.select(self.requests, &[("job", "=", job), ("status", "=~", "5..")]);
        let all = self.select(self.requests, &[("job", "=", job)]);
        let w = &self.window;
        format!("sum(rate({errors}[{w}])) / sum(rate({all}[{w}]))")
    }

    fn job_quantile(&self, job: &str, quantile: f64) -> Target {
        let bucket = format!("{}_bucket", self.latency);
        let expr = format!(
            "histogram_quantile({quantile}, sum by (le) (rate({}[{}])))",
            self.select(&bucket, &[("job", "=", job)]),
            self.window
        );
        Target::range(expr, &format!("p{}", (quantile * 100.0).round()))
    }

    /// cAdvisor names the container, not the job: plat names each container after its workload.
    fn memory_share(&self, workload: &str) -> String {
        let used = self.select(
            "container_memory_working_set_bytes",
            &[("container", "=", workload)],
        );
        let limit = self.select(
            "container_spec_memory_limit_bytes",
            &[("container", "=", workload)],
        );
        format!("max by (pod) ({used}) / max by (pod) ({limit})")
    }
}

/// A rate needs at least two samples in its window; four scrape intervals (at least a minute) keep a
/// missed scrape from blanking the graph, as Grafana's `$__rate_interval` does.
fn rate_window(interval: &str) -> String {
    let seconds = promql_parser::util::parse_duration(interval).map_or(30, |d| d.as_secs().max(1));
    let window = (seconds * 4).max(60);
    if window.is_multiple_of(60) {
        format!("{}m", window / 60)
    } else {
        format!("{window}s")
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

// ---------------------------------------------------------------------------------------------------
// check

/// Cross-checks: every query parses (P0321), names declared metrics (P0322), selects existing jobs
/// (P0323) and uses labels its metrics carry (P0327); the built-in panels' families have the right type
/// (P0326); uids (P0324) and titles (P0325) are unique.
pub fn check(spec: &Spec, diags: &mut Diagnostics) {
    let Some(section) = &spec.observe.dashboards.section else {
        return;
    };
    // Panels that read a family of the wrong type would only repeat that error as unknown series.
    let mut wrong_type = Vec::new();
    let built_in = [
        (
            &section.requests,
            FamilyKind::Counter,
            "dashboards.requests",
        ),
        (
            &section.latency,
            FamilyKind::Histogram,
            "dashboards.latency",
        ),
    ];
    for (key, want, path) in built_in {
        if !check_family_type(spec, key, want, path, diags) {
            wrong_type.push(key.origin);
        }
    }
    let boards = boards(spec);
    check_unique(&boards, section, diags);
    let mut reporter = Reporter {
        diags,
        seen: HashSet::new(),
    };
    for board in &boards {
        for panel in board
            .panels
            .iter()
            .filter(|p| !wrong_type.contains(&p.origin))
        {
            for target in &panel.targets {
                check_query(spec, board, panel, &target.expr, &mut reporter);
            }
        }
    }
}

/// Reports each problem once: several panels read the same family, and one missing label would
/// otherwise be reported by each of them.
struct Reporter<'d> {
    diags: &'d mut Diagnostics,
    seen: HashSet<(&'static str, String, Option<Origin>)>,
}

impl Reporter<'_> {
    fn push(&mut self, d: Diagnostic) {
        let key = (
            d.code,
            d.message.clone(),
            d.primary.as_ref().map(|l| l.origin),
        );
        if self.seen.insert(key) {
            self.diags.push(d);
        }
    }
}

/// Whether the family a built-in panel reads has the type the panel's PromQL assumes.
fn check_family_type(
    spec: &Spec,
    name: &Located<String>,
    want: FamilyKind,
    path: &str,
    diags: &mut Diagnostics,
) -> bool {
    let Some(family) = spec
        .observe
        .metrics
        .families
        .iter()
        .find(|f| f.name == name.value)
    else {
        return true; // an undeclared family is reported by the query checks, at the same place
    };
    let ok = family.value.kind == want;
    if !ok {
        let d = Diagnostic::error(
            "P0326",
            format!(
                "`{path}` names `{}`, a {} family; the dashboards need a {}",
                name.value,
                kind_name(family.value.kind),
                kind_name(want)
            ),
        )
        .also(family.origin, "declared here")
        .help(format!(
            "name a {} family in `{path}`, or change the family's `type`",
            kind_name(want)
        ));
        diags.push(name.diagnostic(
            d,
            format!("the built-in panels read it as a {}", kind_name(want)),
        ));
    }
    ok
}

fn kind_name(kind: FamilyKind) -> &'static str {
    match kind {
        FamilyKind::Counter => "counter",
        FamilyKind::Gauge => "gauge",
        FamilyKind::Histogram => "histogram",
        FamilyKind::Summary => "summary",
    }
}

fn check_unique(boards: &[Board], section: &Section, diags: &mut Diagnostics) {
    for (i, board) in boards.iter().enumerate() {
        if let Some(first) = boards[..i].iter().find(|b| b.uid == board.uid) {
            diags.push(
                Diagnostic::error("P0324", format!("two dashboards have the uid `{}`", board.uid))
                    .at(first.origin, format!("dashboard `{}` has this uid", first.title))
                    .also(board.origin, format!("and so does dashboard `{}`", board.title))
                    .help("change `dashboards.overview.uid`; per-service dashboards are named `<platform>-<job>`"),
            );
        } else if let Some(first) = boards[..i].iter().find(|b| b.title == board.title) {
            let folder = section.folder.as_deref().unwrap_or("General");
            diags.push(
                Diagnostic::error("P0325", format!("two dashboards in folder `{folder}` are titled `{}`", board.title))
                    .at(first.title_origin, format!("dashboard `{}` has this title", first.uid))
                    .also(board.title_origin, format!("and so does dashboard `{}`", board.uid))
                    .help("change `dashboards.overview.title`: Grafana refuses a second dashboard of the same title in a folder"),
            );
        }
    }
}

fn check_query(spec: &Spec, board: &Board, panel: &Panel, expr: &str, out: &mut Reporter<'_>) {
    let where_ = format!("panel `{}` of dashboard `{}`", panel.title, board.uid);
    let parsed = match promql_parser::parser::parse(expr) {
        Ok(parsed) => parsed,
        Err(error) => {
            let d = Diagnostic::error("P0321", format!("the query of {where_} is not valid PromQL: {}", error.trim()))
                .help("check it with `promtool` or the Prometheus UI; Grafana variables such as `$__rate_interval` are not accepted here: write a duration");
            out.push(panel.diagnostic(d, "PromQL syntax error".into()));
            return;
        }
    };
    let query = Query::of(&parsed);
    for selector in &query.selectors {
        check_selector(spec, panel, selector, &where_, out);
    }
    for (labels, selectors) in &query.groupings {
        check_grouping(spec, panel, labels, selectors, &where_, out);
    }
}

fn check_selector(
    spec: &Spec,
    panel: &Panel,
    selector: &Selector,
    where_: &str,
    out: &mut Reporter<'_>,
) {
    let Some(metric) = &selector.metric else {
        return; // a selector by labels alone names no metric to check
    };
    match resolve(spec, metric) {
        Resolved::Unknown => {
            let d = Diagnostic::error(
                "P0322",
                format!(
                    "a dashboard queries `{metric}`, which no `[metrics.families]` entry declares"
                ),
            );
            let d = match did_you_mean(metric, series_names(spec).iter().map(String::as_str)) {
                Some(close) => d.help(format!("did you mean `{close}`?")),
                None => d.help(format!(
                    "declare it under `[metrics.families.{metric}]`, or query a declared family"
                )),
            };
            out.push(panel.diagnostic(d, format!("{where_} queries it")));
        }
        Resolved::Family(family, extra) => {
            for matcher in &selector.matchers {
                if !carries(family, extra, &matcher.name) {
                    out.push(missing_label(
                        panel,
                        metric,
                        family,
                        extra,
                        &matcher.name,
                        where_,
                    ));
                }
            }
        }
        Resolved::Platform => {}
    }
    check_jobs(spec, panel, selector, where_, out);
}

fn check_jobs(
    spec: &Spec,
    panel: &Panel,
    selector: &Selector,
    where_: &str,
    out: &mut Reporter<'_>,
) {
    let jobs: Vec<String> = metrics::jobs(spec).into_iter().map(|j| j.name).collect();
    for matcher in selector.matchers.iter().filter(|m| m.name == "job") {
        for job in selected_jobs(matcher) {
            if jobs.contains(&job) {
                continue;
            }
            let d = Diagnostic::error(
                "P0323",
                format!("a dashboard selects job `{job}`, which is no scrape job"),
            );
            let d = match did_you_mean(&job, jobs.iter().map(String::as_str)) {
                Some(close) => d.help(format!("did you mean `{close}`?")),
                None => d.help(format!(
                    "the jobs (from `metrics.exposed_by`): {}",
                    jobs.join(", ")
                )),
            };
            out.push(panel.diagnostic(d, format!("{where_} selects it")));
        }
    }
}

/// The job names a matcher asks for: `job="x"`, or the literal alternatives of `job=~"x|y"`. Other
/// regular expressions and negative matchers are not checked.
fn selected_jobs(matcher: &Matcher) -> Vec<String> {
    match &matcher.op {
        MatchOp::Equal => vec![matcher.value.clone()],
        MatchOp::Re(_)
            if matcher
                .value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_|".contains(&b)) =>
        {
            matcher
                .value
                .split('|')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        }
        _ => Vec::new(),
    }
}

/// `sum by (label)` over series none of which carry the label collapses them into one unlabelled
/// group: a typo there draws one line and no error.
fn check_grouping(
    spec: &Spec,
    panel: &Panel,
    labels: &[String],
    selectors: &[Selector],
    where_: &str,
    out: &mut Reporter<'_>,
) {
    let mut families = Vec::new();
    for selector in selectors {
        match selector.metric.as_deref().map(|m| (m, resolve(spec, m))) {
            Some((metric, Resolved::Family(family, extra))) => {
                families.push((metric, family, extra))
            }
            // Unknown metrics are reported on their own; platform metrics' labels are not declared.
            _ => return,
        }
    }
    let Some((metric, family, extra)) = families.first().copied() else {
        return;
    };
    for label in labels {
        if !families.iter().any(|(_, f, e)| carries(f, *e, label)) {
            out.push(missing_label(panel, metric, family, extra, label, where_));
        }
    }
}

fn missing_label(
    panel: &Panel,
    metric: &str,
    family: &Family,
    extra: Option<&str>,
    label: &str,
    where_: &str,
) -> Diagnostic {
    let mut carried: Vec<&str> = family
        .labels
        .iter()
        .map(String::as_str)
        .chain(extra)
        .collect();
    carried.extend(TARGET_LABELS.iter().skip(1));
    let d = Diagnostic::error(
        "P0327",
        format!("a dashboard uses label `{label}` of `{metric}`, which does not carry it"),
    );
    let d = match did_you_mean(label, carried.iter().copied()) {
        Some(close) => d.help(format!("did you mean `{close}`?")),
        None => d.help(format!("`{metric}` carries {}; add the label to the family's `labels` if the workloads write it", carried.join(", "))),
    };
    panel.diagnostic(d, format!("{where_} uses it"))
}

fn carries(family: &Family, extra: Option<&str>, label: &str) -> bool {
    TARGET_LABELS.contains(&label)
        || extra == Some(label)
        || family.labels.iter().any(|l| l == label)
}

/// What a series name in a query stands for.
enum Resolved<'a> {
    /// A declared family, and the label its series add (`le` of a bucket, `quantile` of a summary).
    Family(&'a Family, Option<&'static str>),
    Platform,
    Unknown,
}

/// Histograms are queried by their `_bucket`, `_sum` and `_count` series, never by the bare name;
/// summaries by the bare name (with `quantile`), `_sum` and `_count`.
fn resolve<'a>(spec: &'a Spec, series: &str) -> Resolved<'a> {
    if is_platform_metric(series) {
        return Resolved::Platform;
    }
    for family in &spec.observe.metrics.families {
        let f = &family.value;
        let hit = match f.kind {
            FamilyKind::Counter | FamilyKind::Gauge => (series == family.name).then_some(None),
            FamilyKind::Histogram => suffix_of(series, &family.name).and_then(|s| match s {
                "_bucket" => Some(Some("le")),
                "_sum" | "_count" => Some(None),
                _ => None,
            }),
            FamilyKind::Summary => suffix_of(series, &family.name).and_then(|s| match s {
                "" => Some(Some("quantile")),
                "_sum" | "_count" => Some(None),
                _ => None,
            }),
        };
        if let Some(extra) = hit {
            return Resolved::Family(f, extra);
        }
    }
    Resolved::Unknown
}

fn suffix_of<'s>(series: &'s str, family: &str) -> Option<&'s str> {
    series.strip_prefix(family)
}

/// Every series name a query may use, for did-you-mean.
fn series_names(spec: &Spec) -> Vec<String> {
    let mut names: Vec<String> = PLATFORM_METRICS.iter().map(|s| s.to_string()).collect();
    for family in &spec.observe.metrics.families {
        let suffixes: &[&str] = match family.value.kind {
            FamilyKind::Counter | FamilyKind::Gauge => &[""],
            FamilyKind::Histogram => &["_bucket", "_sum", "_count"],
            FamilyKind::Summary => &["", "_sum", "_count"],
        };
        names.extend(suffixes.iter().map(|s| format!("{}{s}", family.name)));
    }
    names
}

/// A vector selector: the metric it names and its label matchers.
#[derive(Clone, Debug)]
struct Selector {
    metric: Option<String>,
    matchers: Vec<Matcher>,
}

impl Selector {
    fn of(vs: &VectorSelector) -> Self {
        let by_name = vs
            .matchers
            .matchers
            .iter()
            .find(|m| m.name == "__name__" && m.op == MatchOp::Equal);
        Selector {
            metric: vs.name.clone().or_else(|| by_name.map(|m| m.value.clone())),
            matchers: vs
                .matchers
                .matchers
                .iter()
                .chain(vs.matchers.or_matchers.iter().flatten())
                .filter(|m| m.name != "__name__")
                .cloned()
                .collect(),
        }
    }
}

/// What the checks need from a parsed query: its selectors, and each `by (…)` grouping with the
/// selectors beneath it.
#[derive(Default)]
struct Query {
    selectors: Vec<Selector>,
    groupings: Vec<(Vec<String>, Vec<Selector>)>,
}

impl Query {
    fn of(expr: &Expr) -> Self {
        let mut query = Query::default();
        let _ = walk_expr(&mut query, expr);
        query
    }
}

impl ExprVisitor for Query {
    type Error = std::convert::Infallible;

    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, Self::Error> {
        match expr {
            Expr::VectorSelector(vs) => self.selectors.push(Selector::of(vs)),
            Expr::MatrixSelector(ms) => self.selectors.push(Selector::of(&ms.vs)),
            Expr::Aggregate(agg) => {
                // count_values makes a new label, and label_* functions rewrite them: nothing to check.
                let by = match &agg.modifier {
                    Some(LabelModifier::Include(labels))
                        if agg.op.to_string() != "count_values" =>
                    {
                        labels.labels.clone()
                    }
                    _ => Vec::new(),
                };
                let inner = Query::of(&agg.expr);
                if !by.is_empty() && !rewrites_labels(&agg.expr) {
                    self.groupings.push((by, inner.selectors));
                }
            }
            _ => {}
        }
        Ok(true)
    }
}

/// Whether a `label_replace` or `label_join` beneath makes labels the families do not declare.
fn rewrites_labels(expr: &Expr) -> bool {
    struct Finder(bool);
    impl ExprVisitor for Finder {
        type Error = std::convert::Infallible;
        fn pre_visit(&mut self, expr: &Expr) -> Result<bool, Self::Error> {
            if let Expr::Call(call) = expr {
                self.0 |= call.func.name.starts_with("label_");
            }
            Ok(true)
        }
    }
    let mut finder = Finder(false);
    let _ = walk_expr(&mut finder, expr);
    finder.0
}

// ---------------------------------------------------------------------------------------------------
// lower

/// Writes `grafana/<uid>.json` per dashboard and `kubernetes/monitoring/dashboards.yaml` with one
/// ConfigMap each for the Grafana sidecar.
pub fn lower(ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    let Some(section) = &ctx.spec.observe.dashboards.section else {
        return;
    };
    let mut objects = Vec::new();
    for board in boards(ctx.spec) {
        let text = render(&dashboard_json(ctx.spec, &board));
        objects.push(config_map(ctx, section, &board, &text));
        sink.file(format!("grafana/{}.json", board.uid), text);
    }
    sink.manifests(Unit {
        file: "monitoring/dashboards.yaml".into(),
        objects,
    });
}

/// Pretty JSON with two-space indentation and a final newline.
pub fn render(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values always serialize");
    text.push('\n');
    text
}

fn config_map(
    ctx: &Ctx<'_>,
    section: &Section,
    board: &Board,
    text: &str,
) -> crate::output::Object {
    let name = format!("grafana-dashboard-{}", board.uid);
    let mut labels = Labels::standard(
        "grafana-dashboard",
        &board.uid,
        "monitoring",
        &ctx.spec.platform.name,
        None,
    );
    for (key, value) in &section.sidecar_labels {
        labels = labels.with_owned(key, value);
    }
    let mut metadata = ctx.metadata(&name, &labels, &board.source, board.origin);
    if let Some(folder) = &section.folder {
        // kube-prometheus-stack's sidecar reads the folder from this annotation (`folderAnnotation`).
        metadata["annotations"]["grafana_folder"] = json!(folder);
    }
    let value = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": { format!("{}.json", board.uid): text },
    });
    ctx.object(value, board.origin)
}

/// The Grafana dashboard JSON model of one board.
pub fn dashboard_json(spec: &Spec, board: &Board) -> Value {
    let overview = spec
        .observe
        .dashboards
        .section
        .as_ref()
        .map(|s| &s.overview);
    let (refresh, from, to) = overview.map_or(("30s", "now-6h", "now"), |o| {
        (o.refresh.as_str(), o.from.as_str(), o.to.as_str())
    });
    let positions = layout(&board.panels);
    let panels: Vec<Value> = board
        .panels
        .iter()
        .zip(positions)
        .enumerate()
        .map(|(i, (panel, at))| panel_json(i + 1, panel, at))
        .collect();
    let links = if board.links_services {
        json!([{
            "type": "dashboards", "title": "Services", "tags": [spec.platform.name.value, SERVICE_TAG],
            "asDropdown": true, "includeVars": true, "keepTime": true,
        }])
    } else {
        json!([])
    };
    json!({
        "annotations": { "list": [] },
        "description": board.description,
        // Provisioned from git: edits in the UI would be lost at the next sync, so Grafana refuses them.
        "editable": false,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": null,
        "links": links,
        "panels": panels,
        "refresh": refresh,
        "schemaVersion": SCHEMA_VERSION,
        "tags": board.tags,
        "templating": { "list": [datasource_variable()] },
        "time": { "from": from, "to": to },
        "timepicker": {},
        "timezone": "browser",
        "title": board.title,
        "uid": board.uid,
        "version": 1,
        "weekStart": "",
    })
}

/// A data source variable over the Prometheus data sources: the same dashboard works in every Grafana,
/// whatever its Prometheus data source is called.
fn datasource_variable() -> Value {
    json!({
        "current": {},
        "hide": 0,
        "includeAll": false,
        "label": "Data source",
        "multi": false,
        "name": DATASOURCE_VARIABLE,
        "options": [],
        "query": "prometheus",
        "refresh": 1,
        "regex": "",
        "skipUrlSync": false,
        "type": "datasource",
    })
}

fn datasource() -> Value {
    json!({ "type": "prometheus", "uid": format!("${{{DATASOURCE_VARIABLE}}}") })
}

/// Places panels left to right on the 24-column grid; a panel that does not fit starts a new row below
/// the tallest panel of the current one, so no two rectangles overlap.
pub fn layout(panels: &[Panel]) -> Vec<(i64, i64)> {
    let (mut x, mut y, mut row_height) = (0, 0, 0);
    let mut out = Vec::with_capacity(panels.len());
    for panel in panels {
        let width = panel.width.clamp(1, GRID_COLUMNS);
        if x + width > GRID_COLUMNS {
            (x, y, row_height) = (0, y + row_height, 0);
        }
        out.push((x, y));
        x += width;
        row_height = row_height.max(panel.height);
    }
    out
}

fn panel_json(id: usize, panel: &Panel, (x, y): (i64, i64)) -> Value {
    let mut value = json!({
        "id": id,
        "type": panel.kind.as_str(),
        "title": panel.title,
        "datasource": datasource(),
        "gridPos": { "x": x, "y": y, "w": panel.width.clamp(1, GRID_COLUMNS), "h": panel.height },
        "targets": panel.targets.iter().enumerate().map(|(i, t)| target_json(i, t)).collect::<Vec<_>>(),
        "fieldConfig": { "defaults": field_defaults(panel), "overrides": overrides(panel.style) },
        "options": options(panel),
    });
    if let Some(description) = &panel.description {
        value["description"] = json!(description);
    }
    if panel.style == Style::UpDown {
        value["transformations"] = json!([{
            "id": "organize",
            "options": { "excludeByName": { "Time": true, "__name__": true }, "renameByName": {} },
        }]);
    }
    value
}

fn target_json(index: usize, target: &Target) -> Value {
    let ref_id = char::from(b'A' + (index % 26) as u8).to_string();
    json!({
        "datasource": datasource(),
        "editorMode": "code",
        "expr": target.expr,
        "format": target.format.as_str(),
        "instant": target.instant,
        "legendFormat": target.legend.as_deref().unwrap_or("__auto"),
        "range": !target.instant,
        "refId": ref_id,
    })
}

fn field_defaults(panel: &Panel) -> Value {
    let mut defaults = json!({});
    if let Some(unit) = &panel.unit {
        defaults["unit"] = json!(unit);
    }
    match panel.style {
        Style::UpDown => {
            defaults["mappings"] = json!([{
                "type": "value",
                "options": {
                    "0": { "color": "red", "index": 0, "text": "down" },
                    "1": { "color": "green", "index": 1, "text": "up" },
                },
            }]);
        }
        Style::ShareOfLimit => {
            defaults["min"] = json!(0);
            defaults["thresholds"] = json!({
                "mode": "absolute",
                "steps": [{ "color": "green", "value": null }, { "color": "red", "value": 1 }],
            });
            defaults["custom"] = json!({ "thresholdsStyle": { "mode": "line" } });
        }
        Style::Plain | Style::Buckets => {}
    }
    defaults
}

fn overrides(style: Style) -> Value {
    if style != Style::UpDown {
        return json!([]);
    }
    json!([{
        "matcher": { "id": "byName", "options": "Value" },
        "properties": [
            { "id": "displayName", "value": "status" },
            { "id": "custom.cellOptions", "value": { "type": "color-background" } },
        ],
    }])
}

fn options(panel: &Panel) -> Value {
    let reduce = json!({ "calcs": ["lastNotNull"], "fields": "", "values": false });
    match panel.kind {
        PanelKind::Timeseries => json!({
            "legend": { "calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": true },
            "tooltip": { "mode": "multi", "sort": "desc" },
        }),
        PanelKind::Stat => json!({
            "colorMode": "value", "graphMode": "area", "justifyMode": "auto", "orientation": "auto",
            "reduceOptions": reduce, "textMode": "auto",
        }),
        PanelKind::Gauge => {
            json!({ "reduceOptions": reduce, "showThresholdLabels": false, "showThresholdMarkers": true })
        }
        PanelKind::BarGauge => {
            json!({ "displayMode": "gradient", "orientation": "horizontal", "reduceOptions": reduce })
        }
        PanelKind::Table => json!({
            "cellHeight": "sm", "showHeader": true,
            "sortBy": if panel.style == Style::UpDown { json!([{ "desc": false, "displayName": "status" }]) } else { json!([]) },
        }),
        PanelKind::Heatmap => heatmap_options(panel),
    }
}

/// Prometheus already counts per bucket (`format: heatmap`), so Grafana must not bucket again.
fn heatmap_options(panel: &Panel) -> Value {
    let unit = if panel.style == Style::Buckets {
        "s"
    } else {
        "short"
    };
    json!({
        "calculate": false,
        "cellGap": 1,
        "color": { "exponent": 0.5, "fill": "dark-orange", "mode": "scheme", "reverse": false, "scale": "exponential", "scheme": "Oranges", "steps": 64 },
        "legend": { "show": true },
        "rowsFrame": { "layout": "auto" },
        "tooltip": { "mode": "single", "yHistogram": false },
        "yAxis": { "axisPlacement": "left", "unit": unit },
    })
}
