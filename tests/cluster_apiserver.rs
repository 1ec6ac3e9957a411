//! The cluster scenarios of tests/cluster_e2e.rs, on a real kube-apiserver and etcd
//! (tests/support/real_apiserver.rs) with the operators' real CRDs installed. One server is shared by
//! the tests of this file; each test has its own environment (namespace, platform name, logging
//! namespace), so they do not see each other's objects.
//!
//! These tests fail, never skip, when the server cannot be built or started: run
//! `bash scripts/apiserver/build.sh` first (scripts/test.sh does).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use plat::cluster::apply::{self, ApplyOptions};
use plat::cluster::{Environment, connect, plan};
use serde_json::{Value, json};
use support::Project;
use support::real_apiserver::{RealServer, ServerOptions, shared};

/// A project whose dev environment lives in namespace `name` of the shared server.
fn project(name: &str) -> Project {
    Project::isolated(name, &shared().kubeconfig_text())
}

fn applied(name: &str) -> Project {
    let project = project(name);
    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    project
}

/// Collections plat writes to in one environment (namespaced kinds of the reference platform).
const COLLECTIONS: &[&str] = &[
    "/api/v1/namespaces/{ns}/configmaps",
    "/api/v1/namespaces/{ns}/secrets",
    "/api/v1/namespaces/{ns}/services",
    "/api/v1/namespaces/{ns}/serviceaccounts",
    "/apis/apps/v1/namespaces/{ns}/deployments",
    "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers",
    "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
    "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
    "/apis/postgresql.cnpg.io/v1/namespaces/{ns}/clusters",
    "/apis/postgresql.cnpg.io/v1/namespaces/{ns}/scheduledbackups",
    "/apis/redis.redis.opstreelabs.in/v1beta2/namespaces/{ns}/redisclusters",
    "/apis/monitoring.coreos.com/v1/namespaces/{ns}/servicemonitors",
    "/apis/monitoring.coreos.com/v1/namespaces/{ns}/prometheusrules",
];

/// `kind/name` → resourceVersion of every object plat labelled in the namespace, plus the
/// namespace itself.
fn resource_versions(server: &RealServer, ns: &str) -> BTreeMap<String, String> {
    let mut versions = BTreeMap::new();
    for collection in COLLECTIONS {
        let path = format!(
            "{}?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dplat",
            collection.replace("{ns}", ns)
        );
        let list = server.get(&path).unwrap_or_else(|| panic!("LIST {path}"));
        for item in list["items"].as_array().into_iter().flatten() {
            versions.insert(
                format!(
                    "{}/{}",
                    collection.rsplit('/').next().unwrap_or_default(),
                    item["metadata"]["name"].as_str().unwrap_or_default()
                ),
                item["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    let parent = server
        .get(&format!("/api/v1/namespaces/{ns}"))
        .expect("namespace");
    versions.insert(
        format!("namespaces/{ns}"),
        parent["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    );
    versions
}

fn deployment_path(ns: &str, name: &str) -> String {
    format!("/apis/apps/v1/namespaces/{ns}/deployments/{name}")
}

#[test]
fn first_diff_apply_then_a_clean_diff_and_a_second_apply_that_writes_nothing() {
    let server = shared();
    let ns = "real-first";
    let project = project(ns);

    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 1, "{diff:?}");
    assert!(
        diff.stdout.contains(&format!(
            "not validated: namespace {ns} is created by this apply"
        )),
        "{diff:?}"
    );
    assert!(
        server.get(&format!("/api/v1/namespaces/{ns}")).is_none(),
        "diff created the namespace"
    );

    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(&format!("created Namespace {ns}")),
        "{run:?}"
    );
    assert!(
        run.stdout.contains(&format!(
            "created Cluster.postgresql.cnpg.io {ns}/postgresql-cluster"
        )),
        "{run:?}"
    );
    let deploy = server
        .get(&deployment_path(ns, "auth-service"))
        .expect("deployment");
    assert_eq!(deploy["metadata"]["managedFields"][0]["manager"], "plat");
    assert_eq!(deploy["metadata"]["managedFields"][0]["operation"], "Apply");

    // What only a real server says: after its defaulting, quantity canonicalisation and
    // `stringData` handling, the dry run of the unchanged spec equals the live objects.
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 0, "perpetual diff on a real server: {diff:?}");
    assert!(diff.stdout.contains("0 to create, 0 to update"), "{diff:?}");
    let drift = project.plat("drift", &[]);
    assert_eq!(drift.code, 0, "{drift:?}");
    assert!(drift.stdout.contains("no drift"), "{drift:?}");

    let before = resource_versions(server, ns);
    assert!(before.len() > 30, "too few objects seen: {before:?}");
    let second = project.plat("apply", &[]);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(
        second.stdout.contains("0 created, 0 configured"),
        "{second:?}"
    );
    assert_eq!(
        resource_versions(server, ns),
        before,
        "a second apply of an unchanged spec wrote to the server"
    );
}

#[test]
fn a_changed_spec_is_diffed_by_a_server_dry_run_and_applied() {
    let server = shared();
    let ns = "real-changed";
    let project = applied(ns);
    project.replace(
        "environments/dev.toml",
        "[services.auth-service]\nreplicas = 1",
        "[services.auth-service]\nreplicas = 2",
    );
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 1, "{diff:?}");
    assert!(
        diff.stdout.contains("-  replicas: 1\n+  replicas: 2"),
        "{diff:?}"
    );
    // The dry run changed nothing.
    let live = server.get(&deployment_path(ns, "auth-service")).unwrap();
    assert_eq!(live["spec"]["replicas"], 1);
    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("configured Deployment.apps {ns}/auth-service")),
        "{run:?}"
    );
    let live = server.get(&deployment_path(ns, "auth-service")).unwrap();
    assert_eq!(live["spec"]["replicas"], 2);
    assert_eq!(live["metadata"]["generation"], 2);
    assert_eq!(project.plat("diff", &[]).code, 0);
}

#[test]
fn a_persons_kubectl_edit_is_drift_with_its_manager() {
    let server = shared();
    let ns = "real-edit";
    let project = applied(ns);
    server.kubectl_edit(
        &deployment_path(ns, "auth-service"),
        &json!({"spec": {"replicas": 5}}),
    );
    let drift = project.plat("drift", &[]);
    assert_eq!(drift.code, 1, "{drift:?}");
    assert!(
        drift
            .stdout
            .contains("/spec/replicas: spec 1, live 5; owned by kubectl-edit (a person, Update)"),
        "{drift:?}"
    );
    let report = project.plat("drift", &["--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&report.stdout).expect("JSON");
    assert_eq!(
        report["changed"][0]["fields"][0]["owners"][0]["manager"],
        "kubectl-edit"
    );

    // The real server's conflict, reported as such: plat does not force over a person's change.
    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stdout.contains("conflict with \"kubectl-edit\"")
            && run.stdout.contains(".spec.replicas"),
        "{run:?}"
    );
    assert!(run.stdout.contains("--force-conflicts"), "{run:?}");
    let live = server.get(&deployment_path(ns, "auth-service")).unwrap();
    assert_eq!(live["spec"]["replicas"], 5);
    let forced = project.plat("apply", &["--force-conflicts"]);
    assert_eq!(forced.code, 0, "{forced:?}");
    let live = server.get(&deployment_path(ns, "auth-service")).unwrap();
    assert_eq!(live["spec"]["replicas"], 1);
    assert_eq!(project.plat("drift", &[]).code, 0);
}

const EXTRA_SERVICE: &str = r#"
[services.reporting]
description = "Reports, removed again by the prune scenario"
image = "registry.saas-platform.com/saas/reporting:1.0.0"
replicas = 1
size = "1C2G"
"#;

#[test]
fn prune_deletes_a_removed_object_and_never_one_plat_does_not_own() {
    let server = shared();
    let ns = "real-prune";
    let project = project(ns);
    let original = std::fs::read_to_string(project.spec()).unwrap();
    project.append("platform.toml", EXTRA_SERVICE);
    assert_eq!(project.plat("apply", &[]).code, 0);
    assert!(server.get(&deployment_path(ns, "reporting")).is_some());

    // Objects in the same namespace that plat does not own: one made by hand, one labelled as a
    // member of another tool's ApplySet.
    let by_hand = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "made-by-hand", "namespace": ns,
                     "labels": {"app.kubernetes.io/managed-by": "plat"}},
        "data": {"a": "b"}
    });
    let (code, body) = server.apply_as(
        "kubectl",
        &format!("/api/v1/namespaces/{ns}/configmaps/made-by-hand"),
        &by_hand,
    );
    assert_eq!(code, 201, "{body}");
    let other_tool = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "other-tool", "namespace": ns,
                     "labels": {"applyset.kubernetes.io/part-of": "applyset-someoneelse-v1"}},
        "data": {"a": "b"}
    });
    let (code, body) = server.apply_as(
        "kubectl",
        &format!("/api/v1/namespaces/{ns}/configmaps/other-tool"),
        &other_tool,
    );
    assert_eq!(code, 201, "{body}");

    std::fs::write(project.spec(), original).unwrap();
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 1, "{diff:?}");
    assert!(
        diff.stdout.contains(&format!(
            "Deployment.apps {ns}/reporting (deleted by `plat apply --prune`)"
        )),
        "{diff:?}"
    );
    assert!(!diff.stdout.contains("made-by-hand"), "{diff:?}");
    assert!(!diff.stdout.contains("other-tool"), "{diff:?}");

    let run = project.plat("apply", &["--prune"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("pruned Deployment.apps {ns}/reporting")),
        "{run:?}"
    );
    assert!(server.get(&deployment_path(ns, "reporting")).is_none());
    assert!(
        server
            .get(&format!("/api/v1/namespaces/{ns}/services/reporting"))
            .is_none()
    );
    for name in ["made-by-hand", "other-tool"] {
        assert!(
            server
                .get(&format!("/api/v1/namespaces/{ns}/configmaps/{name}"))
                .is_some(),
            "prune deleted {name}, which plat does not own"
        );
    }
    assert!(server.get(&format!("/api/v1/namespaces/{ns}")).is_some());
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 0, "{diff:?}");
}

#[test]
fn an_apply_stopped_half_way_by_the_server_reports_it_and_a_rerun_converges() {
    let server = shared();
    let ns = "real-midway";
    let project = project(ns);
    // A Deployment made earlier by another tool with a different selector: the real server
    // reports the conflict with that tool's field manager, and the apply stops at its stage.
    server.must(
        support::real_apiserver::ADMIN,
        "POST",
        "/api/v1/namespaces",
        Some("application/json"),
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}).to_string(),
    );
    let blocker = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "session-service", "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"old": "selector"}},
            "template": {
                "metadata": {"labels": {"old": "selector"}},
                "spec": {"containers": [{"name": "c", "image": "registry.example/c:1"}]}
            }
        }
    });
    let (code, body) = server.apply_as(
        "legacy-tool",
        &deployment_path(ns, "session-service"),
        &blocker,
    );
    assert_eq!(code, 201, "{body}");

    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("failed Deployment.apps {ns}/session-service")),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains("conflict with \"legacy-tool\": .spec.selector"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains(&format!(
            "not attempted: HorizontalPodAutoscaler.autoscaling {ns}/api-gateway"
        )),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("apply stopped; nothing was pruned"),
        "{run:?}"
    );
    assert!(
        server
            .get(&format!(
                "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/api-gateway"
            ))
            .is_none()
    );

    // Someone removes the old Deployment; the same command converges.
    server.must(
        support::real_apiserver::ADMIN,
        "DELETE",
        &deployment_path(ns, "session-service"),
        None,
        "",
    );
    let rerun = project.plat("apply", &[]);
    assert_eq!(rerun.code, 0, "{rerun:?}");
    assert!(
        rerun
            .stdout
            .contains(&format!("created Deployment.apps {ns}/session-service")),
        "{rerun:?}"
    );
    assert!(
        !rerun
            .stdout
            .contains(&format!("Deployment.apps {ns}/auth-service")),
        "applied objects are not rewritten: {rerun:?}"
    );
    assert_eq!(project.plat("diff", &[]).code, 0);
}

#[test]
fn apply_dry_run_changes_nothing_on_the_server() {
    let server = shared();
    let ns = "real-dryrun";
    let project = applied(ns);
    project.replace(
        "environments/dev.toml",
        "[services.auth-service]\nreplicas = 1",
        "[services.auth-service]\nreplicas = 3",
    );
    let before = resource_versions(server, ns);
    let run = project.plat("apply", &["--dry-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("dry run: nothing was changed"),
        "{run:?}"
    );
    assert!(run.stdout.contains("+  replicas: 3"), "{run:?}");
    assert_eq!(resource_versions(server, ns), before);
}

#[test]
fn secret_values_are_masked_in_diff_and_drift() {
    let server = shared();
    let ns = "real-secret";
    let project = applied(ns);
    let list = server
        .get(&format!(
            "/api/v1/namespaces/{ns}/secrets?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dplat"
        ))
        .unwrap();
    let secret = &list["items"][0];
    let name = secret["metadata"]["name"].as_str().expect("a plat Secret");
    let key = secret["data"]
        .as_object()
        .and_then(|m| m.keys().next().cloned())
        .expect("a key");
    server.kubectl_edit(
        &format!("/api/v1/namespaces/{ns}/secrets/{name}"),
        &json!({"data": {key: "c3VwZXItc2VjcmV0LXZhbHVl"}}),
    );
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 1, "{diff:?}");
    let drift = project.plat("drift", &["--format", "json"]);
    assert_eq!(drift.code, 1, "{drift:?}");
    for out in [&diff.stdout, &drift.stdout] {
        assert!(
            !out.contains("c3VwZXItc2VjcmV0LXZhbHVl") && !out.contains("super-secret-value"),
            "a secret value was printed: {out}"
        );
    }
    assert!(diff.stdout.contains("(masked"), "{diff:?}");
}

#[test]
fn a_missing_crd_is_named_with_its_operator_and_nothing_is_written() {
    // A server of its own: this one has no operator installed yet.
    let server = RealServer::start(ServerOptions {
        without_crds: true,
        ..ServerOptions::default()
    });
    let ns = "real-nocrd";
    let project = Project::isolated(ns, &server.kubeconfig_text());
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 2, "{diff:?}");
    assert!(
        diff.stderr
            .contains("the CRD clusters.postgresql.cnpg.io is not installed"),
        "{diff:?}"
    );
    assert!(diff.stderr.contains("CloudNativePG"), "{diff:?}");
    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stdout.contains("nothing applied: preflight failed"),
        "{run:?}"
    );
    assert!(server.get(&format!("/api/v1/namespaces/{ns}")).is_none());

    server.install_crds();
    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(project.plat("diff", &[]).code, 0);
}

// ---------------------------------------------------------------------------------------------
// Through the library: sets of objects the reference platform does not render (a CRD of its own,
// a custom resource with a wrong field).

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn environment(ns: &str, mut objects: Vec<Value>) -> Environment {
    objects.insert(
        0,
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": ns, "labels": {"app.kubernetes.io/managed-by": "plat"}}}),
    );
    Environment {
        name: "dev".into(),
        context: "dev-cluster".into(),
        namespace: ns.into(),
        set: plan::prepare(objects, ns).expect("set"),
    }
}

fn options() -> ApplyOptions {
    ApplyOptions {
        prune: false,
        prune_protected: false,
        wait: false,
        timeout: Duration::from_secs(60),
        dry_run: false,
        concurrency: 4,
        poll: Duration::from_millis(100),
        force_conflicts: false,
        progress: false,
        replace: false,
    }
}

/// Applies `env` to the shared server as the administrator; returns the outcome and what was printed.
fn apply_env(env: &Environment) -> (apply::Outcome, String) {
    apply_env_with(env, &options())
}

fn apply_env_with(env: &Environment, opts: &ApplyOptions) -> (apply::Outcome, String) {
    let project = project(&env.namespace);
    runtime().block_on(async {
        let conn = connect::connect(Some(&project.kubeconfig), "dev-cluster")
            .await
            .expect("connect");
        let mut out = Vec::new();
        let outcome = apply::run(&conn, env, opts, &mut out).await.expect("apply");
        (outcome, String::from_utf8_lossy(&out).into_owned())
    })
}

/// `plat diff` of `env` on the shared server: the counts, the errors and what was printed.
fn diff_env(env: &Environment) -> (plat::cluster::report::Counts, Vec<String>, String) {
    let project = project(&env.namespace);
    runtime().block_on(async {
        let conn = connect::connect(Some(&project.kubeconfig), "dev-cluster")
            .await
            .expect("connect");
        let mut out = Vec::new();
        let (counts, errors) = plat::cluster::diff::run(&conn, env, 4, &mut out)
            .await
            .expect("diff");
        (counts, errors, String::from_utf8_lossy(&out).into_owned())
    })
}

fn service(ns: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns}, "spec": spec})
}

fn claim(ns: &str, class: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": ns},
           "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
                    "resources": {"requests": {"storage": "1Gi"}}}})
}

fn uid(server: &RealServer, path: &str) -> String {
    let live = server.get(path).unwrap_or_else(|| panic!("GET {path}"));
    live["metadata"]["uid"].as_str().expect("uid").to_string()
}

#[test]
fn an_immutable_field_is_replaced_only_on_request_and_never_for_a_claim() {
    let server = shared();
    let ns = "real-replace";
    let ports = json!([{"name": "http", "port": 80, "targetPort": "http"}]);
    let selector = json!({"app": "web"});
    let cluster_ip = service(
        ns,
        json!({"type": "ClusterIP", "ports": ports, "selector": selector}),
    );
    let (first, out) = apply_env(&environment(ns, vec![cluster_ip, claim(ns, "standard")]));
    assert!(first.ok(), "{first:?}\n{out}");
    let service_path = format!("/api/v1/namespaces/{ns}/services/web");
    let claim_path = format!("/api/v1/namespaces/{ns}/persistentvolumeclaims/data");
    let (service_uid, claim_uid) = (uid(server, &service_path), uid(server, &claim_path));

    // Headless: the server keeps a Service's cluster IP for its life. The diff says the object
    // must be replaced, and how, instead of failing the dry run.
    let headless = service(
        ns,
        json!({"clusterIP": "None", "ports": ports, "selector": selector}),
    );
    let env = environment(ns, vec![headless.clone(), claim(ns, "standard")]);
    let (counts, errors, text) = diff_env(&env);
    assert_eq!((counts.replace, counts.errors), (1, 0), "{text}");
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        text.contains(&format!("# Service {ns}/web: to replace."))
            && text.contains("may not change once set")
            && text.contains("`plat apply --replace`")
            && text.contains("+  clusterIP: None"),
        "{text}"
    );
    assert!(
        text.contains("diff: 0 to create, 0 to update, 1 to replace,"),
        "{text}"
    );

    // Without --replace the apply stops there and says what replacing costs; the Service is as it
    // was.
    let (refused, out) = apply_env(&env);
    assert!(!refused.ok(), "{out}");
    let (key, why) = &refused.failed[0];
    assert_eq!(key.to_string(), format!("Service {ns}/web"));
    assert!(
        why.contains("--replace") && why.contains("new connections fail"),
        "{why}"
    );
    assert_eq!(uid(server, &service_path), service_uid);

    // With --replace: deleted and created again, headless; then nothing is left to do.
    let replace = ApplyOptions {
        replace: true,
        ..options()
    };
    let (replaced, out) = apply_env_with(&env, &replace);
    assert!(replaced.ok(), "{replaced:?}\n{out}");
    assert_eq!(replaced.replaced.len(), 1, "{out}");
    assert!(out.contains(&format!("replaced Service {ns}/web")), "{out}");
    assert!(out.contains(" 1 replaced,"), "{out}");
    let live = server.get(&service_path).expect("the new Service");
    assert_ne!(live["metadata"]["uid"].as_str(), Some(service_uid.as_str()));
    assert_eq!(live["spec"]["clusterIP"], "None");
    let (counts, _, text) = diff_env(&env);
    assert!(!counts.differs(), "{text}");
    let (again, out) = apply_env_with(&env, &replace);
    assert!(
        again.ok() && again.replaced.is_empty() && again.configured.is_empty(),
        "{out}"
    );

    // A claim's storage class is immutable too, but a claim holds data: never replaced, even with
    // --replace.
    let env = environment(ns, vec![headless.clone(), claim(ns, "fast")]);
    let (kept, out) = apply_env_with(&env, &replace);
    assert!(!kept.ok(), "{out}");
    let (key, why) = &kept.failed[0];
    assert_eq!(key.to_string(), format!("PersistentVolumeClaim {ns}/data"));
    assert!(
        why.contains("never deletes a PersistentVolumeClaim")
            && !why.contains("`plat apply --replace`"),
        "{why}"
    );
    assert_eq!(uid(server, &claim_path), claim_uid);

    // A value wrong for any Service is the server's error as it is, not a replacement.
    let wrong = service(
        ns,
        json!({"clusterIP": "None", "ports": [{"name": "http", "port": 0}], "selector": selector}),
    );
    let env = environment(ns, vec![wrong, claim(ns, "standard")]);
    let (counts, errors, text) = diff_env(&env);
    assert_eq!((counts.replace, counts.errors), (0, 1), "{text}");
    assert!(errors[0].contains("spec.ports[0].port"), "{errors:?}");
    let (failed, out) = apply_env_with(&env, &replace);
    assert!(!failed.ok() && failed.replaced.is_empty(), "{out}");
    assert!(!failed.failed[0].1.contains("--replace"), "{failed:?}");
}

#[test]
fn a_crd_and_its_first_custom_resource_go_in_one_apply() {
    let server = shared();
    let ns = "real-crd-and-cr";
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.test.plat.invalid"},
        "spec": {
            "group": "test.plat.invalid",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}
                }}}
            }]
        }
    });
    let widget = json!({
        "apiVersion": "test.plat.invalid/v1", "kind": "Widget",
        "metadata": {"name": "first", "namespace": ns},
        "spec": {"size": 3}
    });
    let env = environment(ns, vec![crd, widget]);
    let (outcome, out) = apply_env(&env);
    assert!(outcome.ok(), "{outcome:?}\n{out}");
    assert!(
        out.contains(&format!("created Widget.test.plat.invalid {ns}/first")),
        "{out}"
    );
    let live = server
        .get(&format!(
            "/apis/test.plat.invalid/v1/namespaces/{ns}/widgets/first"
        ))
        .expect("the custom resource");
    assert_eq!(live["spec"]["size"], 3);
    // And again: nothing to write.
    let (again, out) = apply_env(&env);
    assert!(again.ok(), "{again:?}\n{out}");
    assert!(
        again.created.is_empty() && again.configured.is_empty(),
        "{out}"
    );
}

fn cnpg_cluster(ns: &str, name: &str, extra: Value) -> Value {
    let mut spec = json!({"instances": 1, "storage": {"size": "1Gi"}});
    for (k, v) in extra.as_object().into_iter().flatten() {
        spec[k] = v.clone();
    }
    json!({
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec
    })
}

#[test]
fn strict_field_validation_rejects_a_wrong_field_and_a_cel_rule_of_a_real_crd() {
    let ns = "real-strict";
    let wrong_field = cnpg_cluster(ns, "typo", json!({"instancez": 3}));
    // CloudNativePG's own rule: imageName and imageCatalogRef are mutually exclusive.
    let both_images = cnpg_cluster(
        ns,
        "two-images",
        json!({
            "imageName": "ghcr.io/cloudnative-pg/postgresql:17",
            "imageCatalogRef": {"apiGroup": "postgresql.cnpg.io", "kind": "ImageCatalog", "name": "pg", "major": 17}
        }),
    );
    let env = environment(ns, vec![wrong_field, both_images]);
    let (outcome, out) = apply_env(&env);
    assert!(!outcome.ok(), "{out}");
    let failed: BTreeMap<String, String> = outcome
        .failed
        .iter()
        .map(|(k, why)| (k.to_string(), why.clone()))
        .collect();
    let typo = &failed[&format!("Cluster.postgresql.cnpg.io {ns}/typo")];
    assert!(
        typo.contains(&format!("apply Cluster.postgresql.cnpg.io {ns}/typo"))
            && typo.contains(".spec.instancez: field not declared in schema"),
        "{typo}"
    );
    let cel = &failed[&format!("Cluster.postgresql.cnpg.io {ns}/two-images")];
    assert!(
        cel.contains("imageName and imageCatalogRef are mutually exclusive")
            && cel.contains("spec"),
        "{cel}"
    );
}

// ---------------------------------------------------------------------------------------------
// Least privilege: the pipeline identity has exactly what `plat rbac` prints.

/// Applies every object of a YAML stream as the administrator (server-side apply).
fn admin_apply_stream(server: &RealServer, text: &str) {
    for object in plat::yaml::parse_yaml_stream(text).expect("YAML stream") {
        let kind = object["kind"].as_str().expect("kind");
        let name = object["metadata"]["name"].as_str().expect("name");
        let ns = object["metadata"]["namespace"].as_str();
        let path = match (kind, ns) {
            ("Namespace", _) => format!("/api/v1/namespaces/{name}"),
            ("ClusterRole", _) => {
                format!("/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}")
            }
            ("ClusterRoleBinding", _) => {
                format!("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}")
            }
            ("Role", Some(ns)) => {
                format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/{name}")
            }
            ("RoleBinding", Some(ns)) => {
                format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/{name}")
            }
            other => panic!("unexpected object in plat rbac output: {other:?}"),
        };
        let (code, body) = server.apply_as("cluster-admin", &path, &object);
        assert!(code == 200 || code == 201, "{path}: {code} {body}");
    }
}

fn as_pipeline(project: &Project, command: &str, extra: &[&str]) -> support::Run {
    let mut args = vec!["--context", "pipeline", "--allow-context-mismatch"];
    args.extend_from_slice(extra);
    project.plat(command, &args)
}

#[test]
fn the_pipeline_identity_needs_only_what_plat_rbac_prints() {
    let server = shared();
    let ns = "real-rbac";
    let project = project(ns);
    let spec = project.spec().display().to_string();
    let rbac = support::run_plat(&[
        "rbac".into(),
        "--env".into(),
        "dev".into(),
        "--spec".into(),
        spec,
        "--subject".into(),
        format!("User:{}", support::real_apiserver::PIPELINE),
    ]);
    assert_eq!(rbac.code, 0, "{rbac:?}");
    assert!(rbac.stdout.contains("kind: ClusterRole\n"), "{rbac:?}");
    admin_apply_stream(server, &rbac.stdout);

    // Before anything: the pipeline cannot read another namespace's objects.
    let (code, _) = server
        .request(
            support::real_apiserver::PIPELINE,
            "GET",
            "/api/v1/namespaces/kube-system/secrets",
            None,
            "",
        )
        .expect("request");
    assert_eq!(code, 403);

    project.append("platform.toml", EXTRA_SERVICE);
    // The tenants start with a cluster IP each, to be replaced by headless Services below.
    let (headless, cluster_ip) = (
        "service = { type = \"headless\" }",
        "service = { type = \"ClusterIP\" }",
    );
    project.replace("platform.toml", headless, cluster_ip);
    let first = as_pipeline(&project, "apply", &[]);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(as_pipeline(&project, "diff", &[]).code, 0);
    assert_eq!(as_pipeline(&project, "drift", &[]).code, 0);
    let original = std::fs::read_to_string(project.spec())
        .unwrap()
        .replace(EXTRA_SERVICE, "");
    std::fs::write(project.spec(), original).unwrap();
    let prune = as_pipeline(&project, "apply", &["--prune"]);
    assert_eq!(prune.code, 0, "{prune:?}");
    assert!(
        prune
            .stdout
            .contains(&format!("pruned Deployment.apps {ns}/reporting")),
        "{prune:?}"
    );
    project.replace("platform.toml", cluster_ip, headless);
    let replace = as_pipeline(&project, "apply", &["--replace"]);
    assert_eq!(replace.code, 0, "{replace:?}");
    assert!(replace.stdout.contains(" 2 replaced,"), "{replace:?}");

    // Take one permission away: the error names the verb and the resource.
    let role_path = format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/plat-dev");
    let mut role = server.get(&role_path).expect("role");
    for rule in role["rules"].as_array_mut().unwrap() {
        if rule["resources"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("configmaps")))
        {
            rule["verbs"] = json!(["get", "list"]);
        }
    }
    role["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("managedFields");
    server.must(
        support::real_apiserver::ADMIN,
        "PUT",
        &role_path,
        Some("application/json"),
        &role.to_string(),
    );
    project.replace(
        "environments/dev.toml",
        "LOG_LEVEL = \"DEBUG\"",
        "LOG_LEVEL = \"INFO\"",
    );
    let denied = as_pipeline(&project, "apply", &[]);
    assert_eq!(denied.code, 2, "{denied:?}");
    let all = format!("{}{}", denied.stdout, denied.stderr);
    assert!(
        all.contains("User \"pipeline\" cannot patch resource \"configmaps\""),
        "{denied:?}"
    );
    assert!(
        all.contains("plat rbac"),
        "no hint at plat rbac: {denied:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Server-side apply semantics

const AUTOSCALED: &str = "replicas = 1\nautoscaling = { min_replicas = 1, max_replicas = 2, cpu_percent = 70, memory_percent = 80 }";

/// Every `spec.replicas` a watch saw of one Deployment.
fn replica_counts(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .filter(|e| e["type"] == "ADDED" || e["type"] == "MODIFIED")
        .map(|e| e["object"]["spec"]["replicas"].as_i64().expect("replicas"))
        .collect()
}

fn watch_gateway(
    server: &RealServer,
    ns: &str,
    from: Option<&str>,
) -> support::real_apiserver::Watch {
    let mut query = format!(
        "/apis/apps/v1/namespaces/{ns}/deployments?watch=1&fieldSelector=metadata.name%3Dapi-gateway"
    );
    if let Some(rv) = from {
        query.push_str(&format!("&resourceVersion={rv}"));
    }
    let watch = server.watch(&query);
    // Let the watch be established before the writes it must see.
    std::thread::sleep(Duration::from_millis(500));
    watch
}

#[test]
fn replicas_go_over_to_an_hpa_without_ever_falling_below_its_minimum() {
    let server = shared();
    let ns = "real-hpa";
    let project = project(ns);
    // First without an HPA: plat owns three replicas.
    project.replace(
        "platform.toml",
        "autoscaling = { min_replicas = 3, max_replicas = 10, cpu_percent = 70, memory_percent = 80 }\n",
        "",
    );
    project.replace("environments/dev.toml", AUTOSCALED, "replicas = 3");
    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let path = deployment_path(ns, "api-gateway");
    let live = server.get(&path).unwrap();
    assert_eq!(live["spec"]["replicas"], 3);
    let rv = live["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();

    // Then the HPA (2..4): plat stops sending replicas. Without the hand-over the server would
    // remove the field and default it to 1.
    project.replace(
        "environments/dev.toml",
        "[services.api-gateway]\nreplicas = 3",
        "[services.api-gateway]\nreplicas = 3\nautoscaling = { min_replicas = 2, max_replicas = 4, cpu_percent = 70, memory_percent = 80 }",
    );
    let watch = watch_gateway(server, ns, Some(&rv));
    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    std::thread::sleep(Duration::from_millis(500));
    let events = watch.stop();
    let counts = replica_counts(&events);
    assert!(
        !counts.is_empty(),
        "the watch saw no write: {events:?}\n{run:?}"
    );
    assert!(
        counts.iter().all(|&c| c >= 2),
        "replicas fell below the HPA minimum during the hand-over: {counts:?}"
    );
    let live = server.get(&path).unwrap();
    assert_eq!(live["spec"]["replicas"], 3);
    let owners: Vec<&str> = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["fieldsV1"]["f:spec"].get("f:replicas").is_some())
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(owners, ["plat-replicas-handover"], "{live}");
    // No fight afterwards: nothing to write, no diff, no drift.
    let again = project.plat("apply", &[]);
    assert!(
        again.stdout.contains("0 created, 0 configured"),
        "{again:?}"
    );
    assert_eq!(project.plat("diff", &[]).code, 0);
    assert_eq!(project.plat("drift", &[]).code, 0);
}

#[test]
fn a_workload_created_with_its_hpa_starts_at_the_hpa_minimum() {
    let server = shared();
    let ns = "real-hpa-new";
    let project = project(ns);
    project.replace(
        "environments/dev.toml",
        AUTOSCALED,
        "replicas = 2\nautoscaling = { min_replicas = 2, max_replicas = 4, cpu_percent = 70, memory_percent = 80 }",
    );
    let watch = watch_gateway(server, ns, None);
    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    std::thread::sleep(Duration::from_millis(500));
    let counts = replica_counts(&watch.stop());
    assert!(!counts.is_empty(), "the watch saw no write");
    assert!(counts.iter().all(|&c| c == 2), "{counts:?}");
    assert_eq!(project.plat("diff", &[]).code, 0);
    let again = project.plat("apply", &[]);
    assert!(
        again.stdout.contains("0 created, 0 configured"),
        "{again:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Throttling and a server that goes away

/// The number of requests the server answered 429 (from its own /metrics).
fn throttled_requests(server: &RealServer) -> u64 {
    let mut tries = 0;
    let text = loop {
        match server.request(support::real_apiserver::ADMIN, "GET", "/metrics", None, "") {
            Ok((200, text)) => break text,
            // The metrics request itself may be throttled.
            _ if tries < 50 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            other => panic!("GET /metrics: {other:?}"),
        }
    };
    text.lines()
        .filter(|l| l.starts_with("apiserver_request_total{") && l.contains("code=\"429\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[test]
fn a_throttled_server_answers_429_and_plat_backs_off_and_converges() {
    // One request at a time (readonly and mutating), without priority and fairness: what a busy
    // control plane looks like to a client. The server answers 429 with Retry-After.
    let server = RealServer::start(ServerOptions {
        apiserver_flags: vec![
            "--enable-priority-and-fairness=false".into(),
            "--max-requests-inflight=1".into(),
            "--max-mutating-requests-inflight=1".into(),
        ],
        ..ServerOptions::default()
    });
    let project = Project::isolated("real-throttled", &server.kubeconfig_text());
    let before = throttled_requests(&server);
    let run = project.plat("apply", &["--concurrency", "16"]);
    assert_eq!(run.code, 0, "{run:?}");
    let diff = project.plat("diff", &["--concurrency", "16"]);
    assert_eq!(diff.code, 0, "{diff:?}");
    let after = throttled_requests(&server);
    assert!(
        after > before,
        "the server never throttled (429 before {before}, after {after}): the test proves nothing"
    );
}

#[test]
fn a_server_that_goes_away_mid_apply_gives_a_clear_error_and_a_rerun_converges() {
    let server = RealServer::start(ServerOptions::default());
    let ns = "real-vanish";
    let project = Project::isolated(ns, &server.kubeconfig_text());
    let plat = std::thread::spawn({
        let project_dir = project.dir.clone();
        let kubeconfig = project.kubeconfig.clone();
        move || {
            support::run_plat(&[
                "apply".into(),
                "--env".into(),
                "dev".into(),
                "--spec".into(),
                project_dir.join("platform.toml").display().to_string(),
                "--kubeconfig".into(),
                kubeconfig.display().to_string(),
                "--concurrency".into(),
                "1".into(),
            ])
        }
    });
    // Stop the API server once the apply has begun writing (the namespace exists).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while server.get(&format!("/api/v1/namespaces/{ns}")).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the apply never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.stop_apiserver();
    let run = plat.join().expect("plat thread");
    assert_eq!(run.code, 2, "{run:?}");
    let all = format!("{}{}", run.stdout, run.stderr);
    // A request in flight sees the connection closed; later ones are refused. Either way plat
    // names the cause and says the server did not answer.
    assert!(
        all.contains("the API server did not answer (is it up and reachable?)")
            && [
                "Connection refused",
                "connection closed",
                "Connection reset",
                "peer closed connection"
            ]
            .iter()
            .any(|cause| all.contains(cause)),
        "not a clear connection error: {run:?}"
    );
    assert!(!all.contains("panicked"), "{run:?}");

    server.restart_apiserver();
    let rerun = project.plat("apply", &[]);
    assert_eq!(rerun.code, 0, "{rerun:?}");
    assert_eq!(project.plat("diff", &[]).code, 0);
}

// ---------------------------------------------------------------------------------------------
// Request counts on the real server

/// Every request the server has counted (its own `apiserver_request_total`), by verb, resource and
/// code.
fn requests_served(server: &RealServer) -> BTreeMap<String, u64> {
    let (code, text) = server
        .request(support::real_apiserver::ADMIN, "GET", "/metrics", None, "")
        .expect("GET /metrics");
    assert_eq!(code, 200, "GET /metrics");
    text.lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .filter_map(|l| {
            let (labels, value) = l.rsplit_once(' ')?;
            Some((labels.to_string(), value.parse::<f64>().ok()? as u64))
        })
        .collect()
}

/// The requests between two readings, without the second reading's own GET /metrics.
fn requests_between(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> (u64, Vec<String>) {
    let mut total = 0;
    let mut lines = Vec::new();
    for (labels, count) in after {
        // The API server's own controllers write now and then (the `kubernetes` Service's
        // endpoints, its identity lease, priority-and-fairness status); plat has none of these.
        const SERVER_OWN: &[&str] = &[
            "endpoints",
            "endpointslices",
            "leases",
            "flowschemas",
            "prioritylevelconfigurations",
        ];
        if SERVER_OWN
            .iter()
            .any(|r| labels.contains(&format!("resource=\"{r}\"")))
        {
            continue;
        }
        let delta = count - before.get(labels).copied().unwrap_or(0);
        let delta = if labels.contains("resource=\"\"") && labels.contains("verb=\"GET\"") {
            delta.saturating_sub(1)
        } else {
            delta
        };
        if delta > 0 {
            total += delta;
            lines.push(format!("{delta} {labels}"));
        }
    }
    (total, lines)
}

/// The kinds of the dev environment's set, plus Namespace (what one LIST each covers).
fn kinds_of(project: &Project) -> u64 {
    let world = plat::world::FsWorld::new(&project.dir);
    let loaded =
        plat::cluster::load_environment(&world, "platform.toml", "dev").expect("environment loads");
    let mut kinds = loaded.set.group_kinds();
    kinds.insert(plan::GroupKind::new("", "Namespace"));
    kinds.len() as u64
}

#[test]
fn a_no_op_diff_needs_one_request_per_kind_on_the_real_server() {
    // A server of its own, so that no other test's requests are counted.
    let server = RealServer::start(ServerOptions::default());
    let project = Project::isolated("real-count", &server.kubeconfig_text());
    assert_eq!(project.plat("apply", &[]).code, 0);
    let kinds = kinds_of(&project);
    // The environment spans two namespaces (its own and logging's), so each kind is one LIST across
    // namespaces for an administrator.
    let before = requests_served(&server);
    let start = std::time::Instant::now();
    let diff = project.plat("diff", &[]);
    let elapsed = start.elapsed();
    assert_eq!(diff.code, 0, "{diff:?}");
    let (noop, lines) = requests_between(&before, &requests_served(&server));
    eprintln!("no-op diff of dev: {noop} requests for {kinds} kinds in {elapsed:?}");
    assert!(noop <= kinds, "{noop} requests > {kinds} kinds: {lines:#?}");

    project.replace(
        "environments/dev.toml",
        "[services.auth-service]\nreplicas = 1",
        "[services.auth-service]\nreplicas = 2",
    );
    let before = requests_served(&server);
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 1, "{diff:?}");
    let (changed, lines) = requests_between(&before, &requests_served(&server));
    eprintln!("diff of dev with one changed object and one new: {changed} requests");
    // One dry run for the changed Deployment, one for its new PodDisruptionBudget (a new kind:
    // one more LIST), one for the ApplySet parent whose kinds change.
    assert!(
        changed <= kinds + 4,
        "{changed} requests > {kinds} kinds + 4: {lines:#?}"
    );
}

#[test]
fn the_reference_platforms_tenants_move_to_headless_services_with_replace() {
    let server = shared();
    let ns = "real-headless";
    let project = project(ns);
    let headless = "service = { type = \"headless\" }";
    let cluster_ip = "service = { type = \"ClusterIP\" }";
    // The tenants as they were applied before: a cluster IP each.
    project.replace("platform.toml", headless, cluster_ip);
    let before = project.plat("apply", &[]);
    assert_eq!(before.code, 0, "{before:?}");
    let path = |tenant: &str| format!("/api/v1/namespaces/{ns}/services/astrbot-{tenant}");
    let old_uid = uid(server, &path("acme"));

    project.replace("platform.toml", cluster_ip, headless);
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 1, "{diff:?}");
    for tenant in ["acme", "globex"] {
        assert!(
            diff.stdout
                .contains(&format!("# Service {ns}/astrbot-{tenant}: to replace.")),
            "{diff:?}"
        );
    }
    assert!(diff.stdout.contains(" 2 to replace,"), "{diff:?}");
    let stopped = project.plat("apply", &[]);
    assert_eq!(stopped.code, 2, "{stopped:?}");
    assert!(
        stopped.stdout.contains("`plat apply --replace`"),
        "{stopped:?}"
    );

    let replaced = project.plat("apply", &["--replace"]);
    assert_eq!(replaced.code, 0, "{replaced:?}");
    assert!(replaced.stdout.contains(" 2 replaced,"), "{replaced:?}");
    let live = server.get(&path("acme")).expect("the tenant's Service");
    assert_eq!(live["spec"]["clusterIP"], "None");
    assert_ne!(live["metadata"]["uid"].as_str(), Some(old_uid.as_str()));
    let clean = project.plat("diff", &[]);
    assert_eq!(clean.code, 0, "{clean:?}");
}
