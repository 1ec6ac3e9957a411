//! Stage 5, lower: the typed spec to Kubernetes objects, grouped into the files they are written to.
//!
//! Lowering streams: each group of objects (a service, a tenant, a data store) is handed to a sink as
//! soon as it is built, so that a 10,000-tenant platform never holds every object in memory at once.

pub mod config;
mod datastores;
mod labels;
mod network;
mod platform;
mod services;
mod tenants;
mod workload;

use serde_json::{Map, Value};

use crate::source::{Origin, Sources};
use crate::spec::Spec;

pub use labels::Labels;
pub use tenants::{PLACEHOLDER, Path};

/// One Kubernetes object and the spec location that produced it.
#[derive(Clone, Debug)]
pub struct Object {
    pub value: Value,
    pub origin: Origin,
}

impl Object {
    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }
}

/// The objects written to one file under `kubernetes/`.
#[derive(Clone, Debug)]
pub struct Unit {
    /// Path relative to `generated/<env>/kubernetes/`, e.g. `services/api-gateway.yaml`.
    pub file: String,
    pub objects: Vec<Object>,
}

/// What every lowering function needs: the spec, the sources (to name spec locations), the namespace.
pub struct Ctx<'a> {
    pub spec: &'a Spec,
    pub sources: &'a Sources,
    pub namespace: &'a str,
    config_hash: String,
}

impl<'a> Ctx<'a> {
    /// `metadata` with name, namespace, labels and the annotation naming the spec location.
    pub fn metadata(&self, name: &str, labels: &Labels, source: &str, origin: Origin) -> Value {
        // Built by moving values in: `json!` would copy every interpolated `Value` through serde.
        let mut annotations = Map::new();
        annotations.insert(
            SOURCE_ANNOTATION.into(),
            Value::String(self.source_of(source, origin)),
        );
        let mut metadata = Map::new();
        metadata.insert("name".into(), Value::String(name.to_string()));
        metadata.insert(
            "namespace".into(),
            Value::String(self.namespace.to_string()),
        );
        metadata.insert("labels".into(), labels.to_json());
        metadata.insert("annotations".into(), Value::Object(annotations));
        Value::Object(metadata)
    }

    /// `file#key.path`: the spec file that declared the entry and the key path inside it. Line numbers
    /// are left out on purpose: they move with every edit and would churn every object.
    pub fn source_of(&self, key_path: &str, origin: Origin) -> String {
        format!("{}#{key_path}", self.sources.file_name(origin.file))
    }

    pub fn object(&self, value: Value, origin: Origin) -> Object {
        Object { value, origin }
    }
}

pub const SOURCE_ANNOTATION: &str = "plat.dev/source";

/// Where lowering hands its results: Kubernetes objects by file, and other files (Prometheus rules,
/// Alertmanager configuration, dashboards, Fluentd configuration) as text.
pub trait Sink {
    fn manifests(&mut self, unit: Unit);
    /// A file at `path` relative to `generated/<env>/`.
    fn file(&mut self, path: String, text: String);
    /// Runs the per-object checks on the prototype of a family of units that differ only in names;
    /// true when it has no finding (and nothing is reported), so the family may be pre-rendered.
    /// The sink may change the prototype's objects (patches): the family's text is made from them.
    fn check_prototype(&mut self, objects: &mut [Object]) -> bool;
    /// A unit whose text was made from a checked prototype.
    fn prerendered(&mut self, unit: Prerendered);
    /// True when this instance must be lowered on its own instead of filled in from the prototype
    /// (a patch names one of its objects).
    fn lower_on_its_own(&self, _unit: &Prerendered) -> bool {
        false
    }
}

/// A unit rendered from a prototype: its text and the kinds and names of its objects.
#[derive(Clone, Debug)]
pub struct Prerendered {
    pub file: String,
    pub text: String,
    pub namespace: String,
    pub objects: Vec<(String, String)>,
    pub origin: Origin,
}

/// Lowers the spec, handing each unit to `sink` in a stable order.
pub fn lower(spec: &Spec, sources: &Sources, sink: &mut dyn Sink) {
    lower_with(spec, sources, sink, Path::Prototypes);
}

/// [`lower`], choosing how tenants are lowered (tests compare both ways).
pub fn lower_with(spec: &Spec, sources: &Sources, sink: &mut dyn Sink, tenants: Path) {
    let config = config::platform_config(spec);
    let ctx = Ctx {
        spec,
        sources,
        namespace: &spec.environment.namespace,
        config_hash: fnv1a_hex(&config),
    };
    sink.manifests(platform::namespace(&ctx));
    sink.manifests(config::config_unit(&ctx, config));
    if let Some(unit) = platform::secrets(&ctx) {
        sink.manifests(unit);
    }
    if let Some(unit) = platform::ingress(&ctx) {
        sink.manifests(unit);
    }
    sink.manifests(network::baseline(&ctx));
    for service in &spec.services {
        sink.manifests(services::service_unit(&ctx, service));
    }
    for unit in datastores::units(&ctx) {
        sink.manifests(unit);
    }
    tenants::lower_tenants(&ctx, sink, tenants);
    crate::observe::lower(&ctx, sink);
}

/// A short stable hash (FNV-1a, 64 bit) for checksum annotations; not for security.
pub fn fnv1a_hex(items: &[(String, String)]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in items {
        for byte in k.bytes().chain([0]).chain(v.bytes()).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// A JSON object from pairs, moving the values in (`json!` would copy interpolated values through serde).
pub fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// Builds a JSON object from pairs, skipping `None` values: keeps optional fields out of manifests.
pub fn obj(pairs: impl IntoIterator<Item = (&'static str, Option<Value>)>) -> Value {
    let map: Map<String, Value> = pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect();
    Value::Object(map)
}
