//! The platform ConfigMap: the spec's `[config]` values, each evaluated as a template over the
//! platform's facts, so that `DB_HOST = "{{ stores.db.host }}"` always names the database this spec
//! deploys.

use serde_json::{Map, Value, json};

use super::{Ctx, Labels, Unit};
use crate::spec::Spec;

pub fn config_map_name(spec: &Spec) -> String {
    format!("{}-config", spec.platform.name.value)
}

pub fn config_unit(ctx: &Ctx<'_>, items: Vec<(String, String)>) -> Unit {
    let spec = ctx.spec;
    let part_of = spec.platform.name.as_str();
    let labels = Labels::standard(part_of, part_of, "config", part_of, None);
    let data: Map<String, Value> = items
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let value = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": ctx.metadata(&config_map_name(spec), &labels, "config", spec.platform.name.origin),
        "data": data,
    });
    Unit {
        file: "platform/config.yaml".into(),
        objects: vec![ctx.object(value, spec.platform.name.origin)],
    }
}
