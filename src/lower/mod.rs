//! Stage 5, lower: the typed spec to Kubernetes objects, grouped into the files they are written to.
//!
//! Lowering streams: each group of objects (a service, a tenant, a data store) is handed to a sink as
//! soon as it is built, so that a 10,000-tenant platform never holds every object in memory at once.

mod accounts;
mod alerting;
pub mod config;
mod datastores;
mod fleets;
mod network;
mod platform;
mod recovery;
pub mod services;
mod workload;

use crate::output::Ctx;
use crate::source::Sources;
use crate::spec::Spec;

pub use crate::kit::placeholder::PLACEHOLDER;
pub use crate::kit::{Labels, fnv1a_hex, obj, object};
pub use crate::output::{Filled, Object, Prerendered, SOURCE_ANNOTATION, Sink, Unit};
pub use fleets::Path;

/// Lowers the spec, handing each unit to `sink` in a stable order.
pub fn lower(spec: &Spec, sources: &Sources, sink: &mut dyn Sink) {
    lower_with(spec, sources, sink, Path::Prototypes);
}

/// [`lower`], choosing how fleet instances are lowered (tests compare both ways).
pub fn lower_with(spec: &Spec, sources: &Sources, sink: &mut dyn Sink, instances: Path) {
    let ctx = Ctx::new(spec, sources);
    lower_in(&ctx, sink, instances);
}

/// Lowers the spec in a context the caller made (and may reuse for the observability sections).
pub fn lower_in(ctx: &Ctx<'_>, sink: &mut dyn Sink, instances: Path) {
    let (spec, ctx) = (ctx.spec, ctx);
    sink.manifests(platform::namespace(ctx));
    sink.manifests(config::config_unit(ctx, ctx.config.clone()));
    if let Some(unit) = platform::secrets(ctx) {
        sink.manifests(unit);
    }
    if let Some(unit) = platform::ingress(ctx) {
        sink.manifests(unit);
    }
    sink.manifests(network::baseline(ctx));
    if let Some(unit) = alerting::unit(ctx) {
        sink.manifests(unit);
    }
    for workload in &spec.workloads {
        sink.manifests(services::workload_unit(ctx, workload));
    }
    for unit in datastores::units(ctx) {
        sink.manifests(unit);
    }
    recovery::runbook(ctx, sink);
    fleets::lower_fleets(ctx, sink, instances);
}
