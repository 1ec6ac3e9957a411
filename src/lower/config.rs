//! The platform ConfigMap: the spec's `[config]` values plus the connection settings derived from the
//! data stores, so that `DB_HOST` always names the database this spec deploys.

use serde_json::{Map, Value, json};

use super::{Ctx, Labels, Unit};
use crate::spec::Spec;

pub const MINIO_PORT: i64 = 9000;

/// Keys plat derives, with the spec path each comes from.
pub fn derived_keys(spec: &Spec) -> Vec<(String, String)> {
    derived(spec)
        .into_iter()
        .map(|(k, _, from)| (k, from))
        .collect()
}

fn derived(spec: &Spec) -> Vec<(String, String, String)> {
    let ns = spec.environment.namespace.as_str();
    let mut out = Vec::new();
    let mut add = |k: &str, v: String, from: &str| out.push((k.to_string(), v, from.to_string()));
    if let Some(pg) = &spec.postgresql {
        let host = pg
            .host
            .clone()
            .unwrap_or_else(|| postgres_host(&pg.name, ns));
        add("DB_HOST", host, "postgresql.host");
        add("DB_PORT", pg.port.to_string(), "postgresql.port");
        add("DB_NAME", pg.database.clone(), "postgresql.database");
        add("DB_USER", pg.owner.clone(), "postgresql.owner");
    }
    if let Some(redis) = &spec.redis {
        let host = redis
            .host
            .clone()
            .unwrap_or_else(|| format!("{}-leader.{ns}.svc.cluster.local", redis.name.value));
        add("REDIS_HOST", host, "redis.host");
        add("REDIS_PORT", redis.port.to_string(), "redis.port");
    }
    if let Some(minio) = &spec.minio {
        add(
            "MINIO_ENDPOINT",
            minio_endpoint(&minio.name, ns),
            "minio.name",
        );
    }
    if let Some(astrbot) = &spec.astrbot {
        add(
            "MAX_ASTRBOT_INSTANCES",
            astrbot.max_instances.value.to_string(),
            "astrbot.max_instances",
        );
    }
    add("ENVIRONMENT", spec.environment.name.clone(), "environment");
    out
}

/// CloudNativePG serves the primary through the `<cluster>-rw` Service.
pub fn postgres_host(cluster: &str, ns: &str) -> String {
    format!("{cluster}-rw.{ns}.svc.cluster.local")
}

pub fn minio_endpoint(name: &str, ns: &str) -> String {
    format!("http://{name}.{ns}.svc.cluster.local:{MINIO_PORT}")
}

/// All configuration values, sorted by key.
pub fn platform_config(spec: &Spec) -> Vec<(String, String)> {
    let mut items: Vec<(String, String)> =
        derived(spec).into_iter().map(|(k, v, _)| (k, v)).collect();
    items.extend(
        spec.config
            .iter()
            .map(|e| (e.name.clone(), e.value.value.clone())),
    );
    items.sort();
    items
}

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

impl Ctx<'_> {
    /// The checksum of the platform configuration; pods carry it so that they roll when it changes.
    pub fn config_hash(&self) -> &str {
        &self.config_hash
    }
}
