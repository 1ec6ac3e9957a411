//! Observability from the same spec as the workloads: metrics and scraping, alerts and SLOs
//! (Prometheus rules), routing (Alertmanager), dashboards (Grafana) and log shipping (Fluentd).
//!
//! Each section has one module with the same three parts: `read` (the spec section, with located
//! diagnostics), `check` (cross-checks against the rest of the spec) and `lower` (objects and files).

pub mod alerts;
pub mod dashboards;
pub mod fluentd;
pub mod health;
pub mod logging;
pub mod metrics;
pub mod promql;
pub mod routing;
pub mod runbooks;
pub mod slo;

use crate::decode::{Fields, Named};
use crate::diag::Diagnostics;
use crate::output::{Ctx, Sink};
use crate::spec::{MonitoringLevel, Spec};

/// The observability sections of the spec.
#[derive(Clone, Debug)]
pub struct Observability {
    pub metrics: metrics::Metrics,
    pub alerts: Vec<Named<alerts::Alert>>,
    pub slos: Vec<Named<alerts::Slo>>,
    pub routing: Option<routing::Routing>,
    pub dashboards: dashboards::Dashboards,
    pub logging: Option<logging::Logging>,
    /// `[health]`: the alerts derived from what the platform runs.
    pub health: Option<health::Health>,
}

/// Reads the sections from the root table.
pub fn read(root: &mut Fields<'_>, diags: &mut Diagnostics) -> Option<Observability> {
    let metrics = metrics::read(root.node("metrics"), diags);
    let alerts = root.named("alerts", diags, alerts::read_alert);
    let slos = root.named("slos", diags, alerts::read_slo);
    let routing = root.node("alerting").map(|n| routing::read(n, diags));
    let dashboards = dashboards::read(root.node("dashboards"), diags);
    let logging = root.node("logging").map(|n| logging::read(n, diags));
    let health = root.node("health").map(|n| health::read(n, diags));
    Some(Observability {
        metrics: metrics?,
        alerts,
        slos,
        routing: routing.map_or(Some(None), |r| r.map(Some))?,
        dashboards: dashboards?,
        logging: logging.map_or(Some(None), |l| l.map(Some))?,
        health: health.map_or(Some(None), |h| h.map(Some))?,
    })
}

/// Cross-checks between the observability sections and the workloads.
pub fn check(spec: &Spec, diags: &mut Diagnostics) {
    metrics::check(spec, diags);
    alerts::check(spec, diags);
    routing::check(spec, diags);
    dashboards::check(spec, diags);
    logging::check(spec, diags);
}

pub fn lower(ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    metrics::lower(ctx, sink);
    alerts::lower(ctx, sink);
    routing::lower(ctx, sink);
    runbooks::lower(ctx, sink);
    dashboards::lower(ctx, sink);
    logging::lower(ctx, sink);
}

/// The monitoring level decides what an environment gets (seed 2.1: dev basic … prod comprehensive).
pub fn level(spec: &Spec) -> MonitoringLevel {
    spec.environment.monitoring
}

/// An alert as routing sees it: its name and the labels it carries.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertInfo {
    pub name: String,
    pub labels: Vec<(String, String)>,
}

/// Every alert this environment's rules can fire, with its labels, for routing checks and tests.
pub fn alert_catalog(spec: &Spec) -> Vec<AlertInfo> {
    alerts::catalog(spec)
}
