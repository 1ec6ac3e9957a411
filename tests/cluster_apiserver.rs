//! The cluster scenarios of tests/cluster_e2e.rs, on a real kube-apiserver and etcd
//! (tests/support/real_apiserver.rs) with the operators' real CRDs installed. One server is shared by
//! the tests of this file; each test has its own environment (namespace, platform name, logging
//! namespace), so they do not see each other's objects.
//!
//! These tests fail, never skip, when the server cannot be built or started: run
//! `bash scripts/apiserver/build.sh` first (scripts/test.sh does).

mod support;

use std::collections::BTreeMap;

use serde_json::json;
use support::Project;
use support::real_apiserver::{RealServer, shared};

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
        run.stdout
            .contains(&format!("created Cluster.postgresql.cnpg.io {ns}/postgresql-cluster")),
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
    assert!(second.stdout.contains("0 created, 0 configured"), "{second:?}");
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
    // A Deployment made earlier by another tool with a different selector: the selector is
    // immutable, so the real server refuses plat's apply of it and the apply stops at its stage.
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
    assert!(run.stdout.contains("field is immutable"), "{run:?}");
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
    assert!(run.stdout.contains("dry run: nothing was changed"), "{run:?}");
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
