//! The editor schemas of the spec: `schemas/platform.schema.json` for `platform.toml`,
//! `schemas/overlay.schema.json` for `environments/<env>.toml` and `schemas/instance.schema.json` for a
//! fleet's instance files (`instances_from`), JSON Schema draft-07 (the draft Taplo and Even Better TOML
//! validate with), referenced from each spec file by a `#:schema` first line and from `.taplo.toml`
//! (which also covers instance files, since onboarding one should not need a directive).
//!
//! They are not written by hand: [`spec_schemas`] runs the spec readers on a sample with every table
//! ([`record`]), and every key, type, range, default, allowed value and required key in the schemas is
//! what a reader asked for. `tests/spec_schema.rs` fails when the committed files are stale.

pub mod record;

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::diag::{Diagnostics, Severity, render_human};
use crate::source::Sources;

pub const PLATFORM_SCHEMA_FILE: &str = "schemas/platform.schema.json";
pub const OVERLAY_SCHEMA_FILE: &str = "schemas/overlay.schema.json";
pub const INSTANCE_SCHEMA_FILE: &str = "schemas/instance.schema.json";

const SAMPLE_NAME: &str = "src/spec_schema/sample.toml";
const SAMPLE: &str = include_str!("sample.toml");
/// Taplo validates with draft-07 (its `jsonschema` crate predates 2019-09), so the schemas use nothing
/// newer: no `$defs`, `unevaluatedProperties` or `dependentRequired`.
const DRAFT: &str = "http://json-schema.org/draft-07/schema#";
/// The table each overlay must have and the base spec need not: where the environment runs.
const ENVIRONMENT: &str = "environment";

/// The schemas, as JSON values.
#[derive(Clone, Debug, PartialEq)]
pub struct SpecSchemas {
    pub platform: Value,
    pub overlay: Value,
    /// One instance of a fleet, as a file of the folder `instances_from` names.
    pub instance: Value,
}

impl SpecSchemas {
    /// Each schema's file (relative to the project root) and text, as committed.
    pub fn files(&self) -> [(&'static str, String); 3] {
        [
            (PLATFORM_SCHEMA_FILE, text(&self.platform)),
            (OVERLAY_SCHEMA_FILE, text(&self.overlay)),
            (INSTANCE_SCHEMA_FILE, text(&self.instance)),
        ]
    }

    /// Writes the files under `root`.
    pub fn write(&self, root: &Path) -> std::io::Result<()> {
        for (file, text) in self.files() {
            let path = root.join(file);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(path, text)?;
        }
        Ok(())
    }

    /// The files under `root` that are missing or differ from these schemas.
    pub fn stale(&self, root: &Path) -> Vec<&'static str> {
        self.files()
            .into_iter()
            .filter(|(file, text)| {
                std::fs::read_to_string(root.join(file)).ok().as_ref() != Some(text)
            })
            .map(|(file, _)| file)
            .collect()
    }
}

/// Records the schemas from the spec readers. Fails, naming each problem, when the sample no longer
/// reads cleanly or leaves part of the spec unexplored.
pub fn spec_schemas() -> Result<SpecSchemas, Vec<String>> {
    let mut raw = recorded()?;
    unify_probes(&mut raw);
    let mut problems = untyped(&raw, "");
    problems.extend(describe(&mut raw));
    if !problems.is_empty() {
        return Err(problems);
    }
    let instance = instance_schema(&raw).ok_or_else(|| {
        vec![format!(
            "`fleets.*.instances.*` is not in the schema: add an instance to {SAMPLE_NAME}"
        )]
    })?;
    Ok(SpecSchemas {
        platform: sorted(platform_schema(raw.clone())),
        overlay: sorted(overlay_schema(raw)),
        instance: sorted(instance),
    })
}

/// The schema text as committed: keys sorted, so that it does not depend on serde_json's map order.
pub fn text(schema: &Value) -> String {
    let mut text =
        serde_json::to_string_pretty(&sorted(schema.clone())).expect("JSON values serialize");
    text.push('\n');
    text
}

/// Runs the readers on the sample with recording on.
fn recorded() -> Result<Value, Vec<String>> {
    let mut sources = Sources::default();
    let file = sources.add(SAMPLE_NAME, SAMPLE.to_string());
    let mut diags = Diagnostics::default();
    let root = crate::load::parse(file, &sources, &mut diags);
    let recording = root.as_ref().map(|root| {
        record::record(root, || {
            crate::spec::read_spec(root, "sample", &mut diags);
        })
    });
    let findings: Vec<_> = diags
        .into_sorted()
        .into_iter()
        .filter(|d| d.severity != Severity::Waived)
        .collect();
    if !findings.is_empty() {
        let text = render_human(&sources, &findings);
        return Err(vec![format!(
            "{SAMPLE_NAME} must read without findings:\n{text}"
        )]);
    }
    let recording = recording.ok_or_else(|| vec![format!("{SAMPLE_NAME} did not load")])?;
    let unplaced = recording.unplaced.into_iter().map(|path| {
        format!(
            "`{path}`: a table read from a node no `Fields` call handed out; use `Fields::node`"
        )
    });
    let problems: Vec<String> = unplaced.collect();
    if problems.is_empty() {
        Ok(recording.schema)
    } else {
        Err(problems)
    }
}

/// The three probes of a probes table.
const PROBES: [&str; 3] = ["liveness", "readiness", "startup"];

/// Every probe (of a workload, a container, a fleet, `[defaults.probes.<protocol>]`) is read by one
/// reader, but the sample can give each slot only one action, or `false`: each slot gets the union of
/// what was recorded for any of them, so that Taplo checks every probe's table in full (a `readiness`
/// the sample turns off would otherwise accept any table).
fn unify_probes(schema: &mut Value) {
    let mut union = json!({});
    each_probes_table(schema, &mut |probes| {
        for slot in PROBES {
            record::merge(&mut union, probes[slot].clone());
        }
    });
    each_probes_table(schema, &mut |probes| {
        for slot in PROBES {
            let description = probes[slot].get("description").cloned();
            probes[slot] = union.clone();
            match description {
                Some(text) => probes[slot]["description"] = text,
                None => drop(
                    probes[slot]
                        .as_object_mut()
                        .map(|o| o.remove("description")),
                ),
            }
        }
    });
}

/// Calls `visit` with the `properties` of every table schema that holds the three probes.
fn each_probes_table(schema: &mut Value, visit: &mut dyn FnMut(&mut Value)) {
    let Value::Object(map) = schema else {
        return;
    };
    if let Some(properties) = map.get_mut("properties")
        && PROBES.iter().all(|p| properties.get(p).is_some())
    {
        visit(properties);
    }
    for child in map.values_mut() {
        each_probes_table(child, visit);
    }
}

/// Places whose schema the recording left open: a nested table or a named collection the sample
/// lacks, or a value a reader decodes by hand without [`crate::decode::describe`].
fn untyped(schema: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (key, child) in children(schema) {
        let child_path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let typed = child.get("type").is_some() || child.get("enum").is_some();
        if !typed {
            out.push(format!(
                "`{child_path}` has no type: add it to {SAMPLE_NAME}, or describe it in its reader"
            ));
        }
        out.extend(untyped(child, &child_path));
    }
    out
}

/// The sub-schemas of a schema with the path segment that leads to each: `name` for a property, `*`
/// for a named entry, `[]` for an item.
fn children(schema: &Value) -> Vec<(String, &Value)> {
    let mut out: Vec<(String, &Value)> = Vec::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        out.extend(properties.iter().map(|(k, v)| (k.clone(), v)));
    }
    if let Some(entry) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        out.push(("*".into(), entry));
    }
    if let Some(items) = schema.get("items") {
        out.push(("[]".into(), items));
    }
    out
}

/// Descriptions for the editor's hover, by path (`*` a named entry, `[]` an item). Types, ranges,
/// defaults and allowed values come from the readers; this adds only what the readers cannot say.
const DOCS: &[(&str, &str)] = &[
    (
        "platform",
        "The platform: `name` prefixes shared objects and is the `app.kubernetes.io/part-of` label; `team` owns it.",
    ),
    (
        "platform.name",
        "A DNS label: the prefix of shared objects and the part-of label.",
    ),
    (
        ENVIRONMENT,
        "Where this environment runs; written in each overlay (`environments/<env>.toml`).",
    ),
    (
        "environment.namespace",
        "The Kubernetes namespace of the environment (a DNS label).",
    ),
    (
        "environment.context",
        "The kube context this environment deploys to.",
    ),
    (
        "environment.cluster",
        "The cluster name stamped on logs and alerts; the context when absent.",
    ),
    (
        "environment.monitoring",
        "What observability the environment gets: basic, complete, production or comprehensive.",
    ),
    (
        "environment.data",
        "What data the environment holds, for people (\"test data\", \"real data\").",
    ),
    (
        "defaults",
        "Settings every workload shares: port, probes per protocol, preStop sleep, grace period, rolling update, run-as user, pull policy.",
    ),
    (
        "sizes",
        "Named sizes: `requests` and `limits` (`cpu`, `memory`); workloads, fleets and stores refer to a size by name.",
    ),
    (
        "services",
        "The workloads, by name (a DNS label), each of a `kind`: service (Deployment and Service, the default), worker, stateful, job, cron or daemon.",
    ),
    (
        "services.*.image",
        "A pinned image: a tag other than `latest`, or a digest.",
    ),
    (
        "services.*.next_image",
        "The image of the inactive colour, for blue-green releases.",
    ),
    ("services.*.size", "The name of a `[sizes]` entry."),
    (
        "services.*.talks_to",
        "What the workload calls: services, fleets, stores and external endpoints by name; the network policies follow from it.",
    ),
    (
        "services.*.secrets",
        "Keys of `[secrets].keys` mounted as files and announced as `KEY_FILE`.",
    ),
    (
        "services.*.autoscaling",
        "A HorizontalPodAutoscaler: `min_replicas`, `max_replicas` and a CPU or memory target.",
    ),
    (
        "release",
        "How services are released: `strategy` rolling or blue-green, and the `active` colour.",
    ),
    (
        "ingress",
        "The public entry: host, class, TLS issuer (cert-manager) and secret, rate limit and backend service.",
    ),
    ("ingress.backend", "The service behind the ingress."),
    (
        "network",
        "Namespaces of the ingress controller, monitoring and DNS; whether kube-system may reach the pods.",
    ),
    (
        "config",
        "Values of the platform ConfigMap; each may be a template over the platform's facts (`DB_HOST = \"{{ stores.db.host }}\"`).",
    ),
    (
        "secrets",
        "The Secret, by reference only: its name, provider, store and keys, never values.",
    ),
    (
        "secrets.keys",
        "The keys the Secret holds; services, data stores and alerting refer to them.",
    ),
    (
        "stores",
        "Named data stores: `kind` postgresql (CloudNativePG), redis-cluster (opstree), redis (one StatefulSet) or object-storage (MinIO); each exports host, port and more to templates.",
    ),
    (
        "stores.*.parameters",
        "PostgreSQL server parameters, passed to the cluster as strings.",
    ),
    (
        "stores.*.backup",
        "Base backups with WAL archiving to an object-storage store (`to`), on a cron schedule.",
    ),
    (
        "fleets",
        "Fleets, by name: a workload template run once per instance (a tenant, a customer), with plans and `max_instances`.",
    ),
    (
        "fleets.*.instances",
        "The instances, by id: `plan`, `size` and `vars` the template's env reads as `{{ instance.vars.<key> }}`; or one file each in the folder `instances_from` names.",
    ),
    (
        "fleets.*.plans",
        "Named overrides of the template for some instances: size, replicas, env.",
    ),
    (
        "network.external",
        "Endpoints outside the cluster (`cidrs`, `ports`) that `talks_to` may name; egress is allowed to them only.",
    ),
    (
        "services.*.ports",
        "Named ports: `port`, `service_port` (may differ), `protocol` (http, grpc, tcp, udp), `expose`; `port = N` is one http port.",
    ),
    (
        "services.*.probes",
        "`liveness`, `readiness`, `startup`: one of `http`, `grpc`, `tcp`, `exec` with timings, or `false`; defaults per protocol in `[defaults.probes]`.",
    ),
    (
        "services.*.env",
        "Variables: text or a template over the platform's facts (`{{ stores.db.host }}`), `{ config = \"KEY\" }`, or `{ secret = \"KEY\" }` (an explicit opt-in).",
    ),
    (
        "services.*.volumes",
        "Volumes by name: `empty`, `persistent` (a claim; one per pod on stateful workloads), `config` (files) or `secret` (keys), mounted at `path`.",
    ),
    (
        "stores.*.accounts",
        "Object storage: an account per client (a workload or fleet that talks to the store), limited to `bucket` and `prefix` (a template; `{{ instance.id }}` in a fleet).",
    ),
    (
        "metrics",
        "The metric families the workloads expose, who exposes them (`exposed_by`), and how Prometheus scrapes them.",
    ),
    (
        "alerts",
        "Alerts, by name: meanings (latency, error_rate, memory, instance_down) for which plat writes the PromQL, or custom PromQL.",
    ),
    (
        "slos",
        "Service level objectives: recording rules and multi-window, multi-burn-rate alerts.",
    ),
    (
        "alerting",
        "Alertmanager: the default receiver, grouping, SMTP, receivers and routes.",
    ),
    (
        "alerting.alertmanager",
        "Which Alertmanager runs the routing: `managed` (plat runs one in the platform's namespace) or `existing` (hand-off to the one named in `namespace`).",
    ),
    (
        "alerting.receivers",
        "Receivers, by name: e-mail, Slack and webhook (a URL, or a template over the facts); credentials are keys of `[secrets].keys`.",
    ),
    (
        "alerting.routes",
        "Routes in order: the first match wins unless it says `continue`.",
    ),
    (
        "alerting.routes.[].matchers",
        "Alertmanager matchers such as `severity=\"critical\"`.",
    ),
    (
        "health",
        "Alerts plat derives from what the platform runs: backups and WAL archiving, volumes, certificates, secret sync, restarting and unready pods.",
    ),
    (
        "dashboards",
        "Grafana dashboards: the overview, per-service dashboards and custom panels.",
    ),
    (
        "dashboards.panels",
        "Custom overview panels, by name; `expr` is PromQL, checked against `[metrics]`.",
    ),
    (
        "logging",
        "Log shipping: a Fluentd DaemonSet that tails container logs and sends them to Elasticsearch.",
    ),
    (
        "logging.fields",
        "The structured log schema the services write: field = type.",
    ),
    (
        "waivers",
        "Checks that do not apply at one place, each with the reason the output shows.",
    ),
];

/// Adds [`DOCS`] to the schema; returns the paths that name nothing, so that docs cannot go stale.
fn describe(schema: &mut Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, text) in DOCS {
        match at_path(schema, path) {
            Some(node) => node["description"] = json!(text),
            None => problems.push(format!(
                "`{path}` in DOCS (src/spec_schema/mod.rs) is not in the schema"
            )),
        }
    }
    problems
}

fn at_path<'v>(schema: &'v mut Value, path: &str) -> Option<&'v mut Value> {
    path.split('.')
        .try_fold(schema, |node, segment| match segment {
            "*" => node
                .get_mut("additionalProperties")
                .filter(|v| v.is_object()),
            "[]" => node.get_mut("items"),
            key => node.get_mut("properties")?.get_mut(key),
        })
}

/// The base spec: everything the readers require, except the environment, which the overlays give.
fn platform_schema(mut raw: Value) -> Value {
    drop_required(&mut raw, ENVIRONMENT);
    if let Some(environment) = raw["properties"].get_mut(ENVIRONMENT) {
        strip_required(environment);
    }
    add_init_keys(&mut raw);
    with_header(
        raw,
        "plat platform spec (platform.toml)",
        "The whole platform; each environments/<env>.toml overlays it. Generated from plat's spec readers.",
    )
}

/// An overlay: any part of the spec, none of it required (the merge with the base must be complete,
/// not the overlay), plus the `[environment]` it must have and the `[remove]` it may have.
fn overlay_schema(mut raw: Value) -> Value {
    let remove = remove_schema(&raw);
    let environment = raw["properties"][ENVIRONMENT].take();
    strip_required(&mut raw);
    raw["properties"][ENVIRONMENT] = environment;
    raw["properties"][crate::merge::REMOVE_KEY] = remove;
    raw["required"] = json!([ENVIRONMENT]);
    add_init_keys(&mut raw);
    with_header(
        raw,
        "plat environment overlay (environments/<env>.toml)",
        "One environment's differences from platform.toml, and its [environment]. Generated from plat's spec readers.",
    )
}

/// A fleet's instance file: what `[fleets.<name>.instances.<id>]` holds, as a file of its own.
fn instance_schema(raw: &Value) -> Option<Value> {
    let mut schema = raw.clone();
    let entry = at_path(&mut schema, "fleets.*.instances.*")?.take();
    entry.is_object().then(|| {
        with_header(
            entry,
            "plat fleet instance (a file of the folder `instances_from` names)",
            "One instance of a fleet: its id is the file name. Generated from plat's spec readers.",
        )
    })
}

/// `[remove]`: the named collections of the spec, each an array of entry names. Any other table path
/// is accepted too, as the merge accepts it.
fn remove_schema(raw: &Value) -> Value {
    let names = json!({ "type": "array", "items": { "type": "string" } });
    let mut properties = Map::new();
    for path in collections(raw, "") {
        let mut schema = names.clone();
        schema["description"] = json!(format!(
            "Entries of `[{path}]` to delete from the base spec."
        ));
        properties.insert(path, schema);
    }
    json!({
        "type": "object",
        "description": "Named entries to delete from the base spec before the overlay is merged, e.g. `services = [\"auth-service\"]`; a dotted key such as \"fleets.astrbot.instances\" names a nested table.",
        "properties": properties,
        "additionalProperties": names,
    })
}

/// The dotted paths of the tables of named entries, reached through plain tables only (a path through a
/// named entry would need the entry's name).
fn collections(schema: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return out;
    };
    for (key, child) in properties {
        let child_path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        if child
            .get("additionalProperties")
            .is_some_and(Value::is_object)
        {
            out.push(child_path);
        } else {
            out.extend(collections(child, &child_path));
        }
    }
    out
}

fn drop_required(schema: &mut Value, key: &str) {
    if let Some(Value::Array(required)) = schema.get_mut("required") {
        required.retain(|k| k != key);
    }
}

fn strip_required(schema: &mut Value) {
    if let Value::Object(map) = schema {
        map.remove("required");
        map.values_mut().for_each(strip_required);
    }
}

/// Taplo inserts a table's `initKeys` when it completes the table: the keys it must have.
fn add_init_keys(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    if let Some(required) = map
        .get("required")
        .filter(|r| r.as_array().is_some_and(|a| !a.is_empty()))
    {
        let required = required.clone();
        map.insert("x-taplo".into(), json!({ "initKeys": required }));
    }
    map.values_mut().for_each(add_init_keys);
}

fn with_header(mut schema: Value, title: &str, description: &str) -> Value {
    schema["$schema"] = json!(DRAFT);
    schema["$comment"] = json!(
        "Generated by `plat schema` from the spec readers (src/spec_schema/); do not edit. Stale copies fail tests/spec_schema.rs."
    );
    schema["title"] = json!(title);
    schema["description"] = json!(description);
    schema
}

/// The same value with every object's keys in sorted order.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_explores_the_whole_spec() {
        if let Err(problems) = spec_schemas() {
            panic!("{}", problems.join("\n"));
        }
    }

    #[test]
    fn overlays_need_only_the_environment() {
        let schemas = spec_schemas().unwrap();
        assert_eq!(schemas.overlay["required"], json!([ENVIRONMENT]));
        assert!(
            schemas.overlay["properties"]["services"]["additionalProperties"]
                .get("required")
                .is_none()
        );
        assert!(
            schemas.overlay["properties"][ENVIRONMENT]
                .get("required")
                .is_some()
        );
        let base_required = schemas.platform["required"].as_array().unwrap();
        assert!(!base_required.contains(&json!(ENVIRONMENT)));
        assert!(base_required.contains(&json!("platform")));
    }

    #[test]
    fn remove_offers_the_named_collections() {
        let schemas = spec_schemas().unwrap();
        let remove = &schemas.overlay["properties"]["remove"]["properties"];
        for path in [
            "services",
            "fleets",
            "stores",
            "sizes",
            "network.external",
            "alerting.receivers",
        ] {
            assert!(remove.get(path).is_some(), "{path}");
        }
        assert!(schemas.platform["properties"].get("remove").is_none());
    }
}
