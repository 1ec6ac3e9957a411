//! What the object-building stages (lower, observe) produce and where they hand it: objects grouped
//! into units (one file each), other files as text, and the context they all build in. Both stages
//! import this module; neither imports the other.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::facts::Inventory;
use crate::kit::Labels;
use crate::kit::fnv1a_hex;
use crate::kit::placeholder::{PLACEHOLDER, fill_plain};
use crate::source::{Origin, Sources};
use crate::spec::Spec;

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

/// What every stage that builds objects needs: the spec, the sources (to name spec locations), the
/// namespace, the inventory of facts and the rendered platform configuration.
pub struct Ctx<'a> {
    pub spec: &'a Spec,
    pub sources: &'a Sources,
    pub namespace: &'a str,
    pub inventory: Inventory,
    /// The platform ConfigMap's values, templates evaluated.
    pub config: Vec<(String, String)>,
    config_hash: String,
}

impl<'a> Ctx<'a> {
    pub fn new(spec: &'a Spec, sources: &'a Sources) -> Self {
        let inventory = Inventory::of(spec);
        let config = crate::facts::platform_config(spec, &inventory);
        Ctx {
            spec,
            sources,
            namespace: &spec.environment.namespace,
            config_hash: fnv1a_hex(&config),
            inventory,
            config,
        }
    }

    /// The checksum of the platform configuration; pods carry it so that they roll when it changes.
    pub fn config_hash(&self) -> &str {
        &self.config_hash
    }

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
    /// The same objects as values, for those who would otherwise parse `text` back.
    pub filled: Filled,
}

/// The objects of a unit rendered from a prototype, as values: the prototype's objects with each
/// placeholder replaced by the instance's value. Equal to what reading the unit's text gives (the
/// text is the same prototype filled in with the same values, each quoted as its place needs), at a
/// fraction of the cost: the cluster stage takes a 10,000-tenant environment's objects from here
/// instead of parsing 80 MB of YAML (`tests/fleet_prototypes.rs` proves the equality).
#[derive(Clone, Debug, PartialEq)]
pub struct Filled {
    /// Shared by the family's instances.
    pub prototype: Arc<[Value]>,
    /// By slot: the instance's id, then its values in order.
    pub values: Vec<String>,
}

impl Filled {
    pub fn objects(&self) -> Vec<Value> {
        self.prototype.iter().map(|o| self.fill(o)).collect()
    }

    fn fill(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.fill_str(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.fill(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.fill_str(k), self.fill(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn fill_str(&self, text: &str) -> String {
        if text.contains(PLACEHOLDER) {
            fill_plain(text, &self.values)
        } else {
            text.to_string()
        }
    }
}
