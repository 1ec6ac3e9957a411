//! Output validation against the vendored schemas (src/schemas.rs): the reference platform's objects
//! all validate, and broken objects are reported as P0506 with the JSON pointer and the spec entry
//! that produced them; a kind without a schema is P0507.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use plat::compile::{Selection, compile};
use plat::diag::{Diagnostic, Diagnostics, Severity};
use plat::lower::Object;
use plat::schemas::{SCHEMAS, validate};
use plat::source::{Origin, Sources};
use plat::world::FsWorld;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A spec file for the objects to point at, and the origin of its second line.
fn spec_origin() -> (Sources, Origin) {
    let mut sources = Sources::default();
    let text = "[services.web]\nreplicas = 2\n";
    let file = sources.add("platform.toml", text.into());
    (sources, Origin::new(file, 15..27))
}

fn check(value: Value) -> (Sources, Origin, Vec<Diagnostic>) {
    let (sources, origin) = spec_origin();
    let mut diags = Diagnostics::default();
    validate(&Object { value, origin }, &mut diags);
    (sources, origin, diags.into_sorted())
}

/// The messages of the P0506 findings on `value`, each checked to point at the spec entry.
fn mismatches(value: Value) -> Vec<String> {
    let (sources, origin, diags) = check(value);
    for d in &diags {
        assert_eq!(d.code, "P0506", "{d:?}");
        assert_eq!(d.severity, Severity::Error);
        let primary = d.primary.as_ref().expect("a spec location");
        assert_eq!(primary.origin, origin);
        assert_eq!(sources.locate(primary.origin), "platform.toml:2:1");
    }
    diags.into_iter().map(|d| d.message).collect()
}

fn assert_found(messages: &[String], pointer: &str, words: &str) {
    assert!(
        messages
            .iter()
            .any(|m| m.contains(&format!("at `{pointer}`")) && m.contains(words)),
        "no finding at {pointer} saying {words:?} in {messages:#?}"
    );
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "web", "namespace": "shop", "labels": { "app": "web" } },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": "ghcr.io/example/web:1.0.0" }] },
            },
        },
    })
}

#[test]
fn every_object_of_every_environment_validates() {
    // The reference platform and the examples emit every kind plat knows between them.
    let mut validated = BTreeSet::new();
    let mut objects = 0;
    for project in [".", "examples/grpc-shop", "examples/stateful-web"] {
        objects += validate_every_object(project, &mut validated);
    }
    assert!(objects > 400, "only {objects} objects");
    let expected: BTreeSet<(String, String)> = SCHEMAS
        .iter()
        .map(|s| (s.api_version.to_string(), s.kind.to_string()))
        .collect();
    assert_eq!(validated, expected, "kinds emitted vs kinds with a schema");
}

/// Compiles one project, checks each of its objects one by one, and returns how many there were.
fn validate_every_object(project: &str, validated: &mut BTreeSet<(String, String)>) -> usize {
    let compilation = compile(
        &FsWorld::new(repo().join(project)),
        "platform.toml",
        &Selection::All,
    );
    let schema_findings: Vec<_> = compilation
        .diagnostics
        .iter()
        .filter(|d| d.code == "P0506" || d.code == "P0507")
        .collect();
    assert!(schema_findings.is_empty(), "{schema_findings:#?}");
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);

    // The same objects, checked one by one: every vendored schema is exercised, and every kind
    // emitted, custom resources included, has a schema.
    let mut objects = 0;
    for (_, files) in &compilation.outputs {
        for (path, text) in &files.files {
            if !path.starts_with("kubernetes/") {
                continue;
            }
            for value in plat::yaml::parse_yaml_stream(text).unwrap() {
                let key = (
                    value["apiVersion"].as_str().unwrap().to_string(),
                    value["kind"].as_str().unwrap().to_string(),
                );
                let (_, _, diags) = check(value);
                assert!(diags.is_empty(), "{path}: {diags:#?}");
                objects += 1;
                validated.insert(key);
            }
        }
    }
    objects
}

#[test]
fn a_valid_object_has_no_findings() {
    assert_eq!(mismatches(deployment()), Vec::<String>::new());
}

#[test]
fn an_unknown_field_is_reported_with_its_pointer_and_spec_entry() {
    let mut broken = deployment();
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = json!("Always");
    let messages = mismatches(broken);
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_found(
        &messages,
        "/spec/template/spec/containers/0",
        "imagePullPolicyy",
    );
    assert!(
        messages[0].starts_with("Deployment `web` does not match its schema"),
        "{}",
        messages[0]
    );
}

#[test]
fn a_wrong_type_is_reported() {
    let mut broken = deployment();
    broken["spec"]["replicas"] = json!("2");
    assert_found(&mismatches(broken), "/spec/replicas", "is not of type");
}

#[test]
fn a_missing_required_field_is_reported() {
    let mut broken = deployment();
    broken["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("name");
    assert_found(
        &mismatches(broken),
        "/spec/template/spec/containers/0",
        "\"name\" is a required property",
    );
}

#[test]
fn the_message_and_help_name_the_object_and_the_schema() {
    let mut broken = deployment();
    broken["metadata"]["labelz"] = json!({});
    let (sources, _, diags) = check(broken);
    let short = plat::diag::render_short(&sources, &diags[0]);
    assert_eq!(
        short,
        "platform.toml:2:1: error[P0506]: Deployment `web` does not match its schema at `/metadata`: \
         Additional properties are not allowed ('labelz' was unexpected)\n"
    );
    let help = diags[0].help.as_deref().unwrap();
    assert!(
        help.contains("schemas/kubernetes-1.33.0/deployment-apps-v1.json"),
        "{help}"
    );
}

#[test]
fn a_badly_broken_object_reports_its_first_errors_only() {
    let mut broken = deployment();
    let containers: Vec<Value> = (0..8)
        .map(|i| json!({ "name": format!("c{i}"), "image": "x:1", "bogus": i }))
        .collect();
    broken["spec"]["template"]["spec"]["containers"] = json!(containers);
    let (_, _, diags) = check(broken);
    assert_eq!(diags.len(), 5, "{diags:#?}");
    assert!(
        diags.iter().any(|d| d
            .notes
            .iter()
            .any(|n| n == "3 more schema errors in this object")),
        "{diags:#?}"
    );
}

#[test]
fn prometheus_rule_with_a_wrong_field_is_reported() {
    let rule = json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": { "name": "shop", "namespace": "shop" },
        "spec": { "groups": [{ "name": "shop", "rules": [{ "alert": "Down", "expr": "up == 0", "for": "5m" }] }] },
    });
    assert_eq!(mismatches(rule.clone()), Vec::<String>::new());
    let mut broken = rule;
    broken["spec"]["groups"][0]["rules"][0]["severity"] = json!("critical");
    assert_found(&mismatches(broken), "/spec/groups/0/rules/0", "severity");
}

#[test]
fn service_monitor_with_a_wrong_field_is_reported() {
    let monitor = json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": { "name": "web", "namespace": "shop" },
        "spec": {
            "endpoints": [{ "port": "http", "path": "/metrics", "interval": "30s" }],
            "selector": { "matchLabels": { "app": "web" } },
        },
    });
    assert_eq!(mismatches(monitor.clone()), Vec::<String>::new());
    let mut broken = monitor;
    broken["spec"]["endpoints"][0]["intervall"] = json!("30s");
    assert_found(&mismatches(broken), "/spec/endpoints/0", "intervall");
    let wrong_type = monitor_with_port(json!(["http"]));
    assert_found(
        &mismatches(wrong_type),
        "/spec/endpoints/0/port",
        "is not of type",
    );
}

fn monitor_with_port(port: Value) -> Value {
    json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": { "name": "web" },
        "spec": { "endpoints": [{ "port": port }], "selector": {} },
    })
}

#[test]
fn a_kind_without_a_schema_is_reported() {
    let class = json!({ "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": { "name": "nightly" }, "provisioner": "x" });
    let (sources, origin, diags) = check(class);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].code, "P0507");
    assert!(
        diags[0].message.contains("StorageClass `nightly`")
            && diags[0].message.contains("storage.k8s.io/v1"),
        "{}",
        diags[0].message
    );
    assert_eq!(
        sources.locate(diags[0].primary.as_ref().unwrap().origin),
        sources.locate(origin)
    );
    // A known kind at an API version without a schema is no better.
    let (_, _, diags) = check(
        json!({ "apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": { "name": "web" } }),
    );
    assert_eq!(diags.iter().map(|d| d.code).collect::<Vec<_>>(), ["P0507"]);
}

#[test]
fn every_vendored_schema_file_is_in_the_table() {
    let listed: BTreeSet<String> = SCHEMAS.iter().map(|s| s.file.to_string()).collect();
    let mut vendored = BTreeSet::new();
    for dir in std::fs::read_dir(repo().join("schemas")).unwrap() {
        let dir = dir.unwrap();
        if !dir.file_type().unwrap().is_dir() {
            continue;
        }
        let name = dir.file_name().to_string_lossy().to_string();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            vendored.insert(format!(
                "{name}/{}",
                entry.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    assert_eq!(listed, vendored);
}

/// The first object of a kind that the reference platform's prod environment emits.
fn emitted(kind: &str) -> Value {
    let compilation = compile(
        &FsWorld::new(repo()),
        "platform.toml",
        &Selection::One("prod".into()),
    );
    for (_, files) in &compilation.outputs {
        for (path, text) in &files.files {
            if !path.starts_with("kubernetes/") {
                continue;
            }
            let found = plat::yaml::parse_yaml_stream(text)
                .unwrap()
                .into_iter()
                .find(|v| v["kind"] == kind);
            if let Some(value) = found {
                return value;
            }
        }
    }
    panic!("prod emits no {kind}");
}

/// Each custom kind plat emits: the real object validates, and a misspelt field and a wrong type are
/// each reported at their JSON pointer, against the spec entry that produced the object.
fn assert_custom_kind_is_validated(kind: &str, misspelt: (&str, &str), wrong_type: (&str, Value)) {
    let object = emitted(kind);
    assert_eq!(mismatches(object.clone()), Vec::<String>::new(), "{kind}");

    let (parent, key) = misspelt;
    let mut broken = object.clone();
    broken
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("{kind} has no {parent}"))[key] = json!("x");
    let messages = mismatches(broken);
    assert_found(&messages, parent, &format!("'{key}' was unexpected"));

    let (pointer, value) = wrong_type;
    let mut broken = object;
    *broken
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{kind} has no {pointer}")) = value;
    let messages = mismatches(broken);
    assert!(
        messages
            .iter()
            .any(|m| m.contains(&format!("at `{pointer}`"))),
        "{kind}: no finding at {pointer} in {messages:#?}"
    );
}

#[test]
fn cloudnative_pg_cluster_is_validated() {
    assert_custom_kind_is_validated(
        "Cluster",
        ("/spec/storage", "sizee"),
        ("/spec/instances", json!("3")),
    );
}

#[test]
fn cloudnative_pg_scheduled_backup_is_validated() {
    assert_custom_kind_is_validated(
        "ScheduledBackup",
        ("/spec/cluster", "nam"),
        ("/spec/method", json!("pg_dump")),
    );
}

#[test]
fn barman_cloud_object_store_is_validated() {
    assert_custom_kind_is_validated(
        "ObjectStore",
        ("/spec/configuration", "destinationPat"),
        ("/spec/retentionPolicy", json!("7 days")),
    );
}

#[test]
fn pod_monitor_is_validated() {
    assert_custom_kind_is_validated(
        "PodMonitor",
        ("/spec/podMetricsEndpoints/0", "prot"),
        ("/spec/podMetricsEndpoints", json!({ "port": "metrics" })),
    );
}

#[test]
fn redis_cluster_is_validated() {
    assert_custom_kind_is_validated(
        "RedisCluster",
        ("/spec/kubernetesConfig", "imagePullPolicyy"),
        ("/spec/clusterSize", json!("3")),
    );
}

#[test]
fn external_secret_is_validated() {
    assert_custom_kind_is_validated(
        "ExternalSecret",
        ("/spec/data/0/remoteRef", "propertyy"),
        ("/spec/secretStoreRef/kind", json!("Vault")),
    );
}

#[test]
fn prometheus_rule_and_service_monitor_are_validated_against_the_operators_release() {
    assert_custom_kind_is_validated(
        "PrometheusRule",
        ("/spec/groups/0", "intervall"),
        ("/spec/groups/0/rules", json!({})),
    );
    assert_custom_kind_is_validated(
        "ServiceMonitor",
        ("/spec/endpoints/0", "scrapeTimeoutt"),
        ("/spec/endpoints/0/port", json!(["http"])),
    );
}

#[test]
fn alertmanager_is_validated() {
    assert_custom_kind_is_validated(
        "Alertmanager",
        ("/spec", "configSecrett"),
        ("/spec/replicas", json!("2")),
    );
}
