//! End-to-end scenarios of `plat diff`, `plat apply` and `plat drift` against the stateful fake API
//! server (tests/support/fake_apiserver.rs), through the real binary, kubeconfig and kube client.

mod support;

use serde_json::json;
use support::{FakeApiServer, Project, full_cluster, kubectl_edit, writes};

const NS: &str = "saas-dev";

fn deployment_path(name: &str) -> String {
    format!("/apis/apps/v1/namespaces/{NS}/deployments/{name}")
}

/// A cluster with the reference dev environment applied.
fn applied(name: &str) -> (FakeApiServer, Project) {
    let server = FakeApiServer::start(full_cluster());
    let project = Project::new(name, &server);
    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    (server, project)
}

#[test]
fn first_apply_creates_the_namespace_first_and_everything_else_after() {
    let server = FakeApiServer::start(full_cluster());
    let project = Project::new("first", &server);

    // Before anything exists, diff shows every object as to create; the namespace does not exist
    // yet, so objects in it are "not validated" rather than errors.
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 1, "{diff:?}");
    assert!(
        diff.stdout.contains(&format!(
            "not validated: namespace {NS} is created by this apply"
        )),
        "{diff:?}"
    );
    assert!(
        diff.stdout
            .contains("0 to update, 0 unchanged, 0 to prune, 0 errors"),
        "{diff:?}"
    );
    assert!(
        writes(&server).is_empty(),
        "diff wrote: {:?}",
        writes(&server)
    );
    // The context and the server are printed before anything.
    assert!(
        diff.stderr.starts_with(
            "plat diff: environment dev, context dev-cluster, server http://127.0.0.1:"
        ),
        "{diff:?}"
    );

    server.clear_requests();
    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(&format!("created Namespace {NS}")),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains(&format!("created Deployment.apps {NS}/auth-service")),
        "{run:?}"
    );
    let w = writes(&server);
    assert!(
        w[0].path.ends_with(&format!("/namespaces/{NS}")),
        "first write is the namespace: {:?}",
        w[0]
    );
    for r in &w {
        assert_eq!(r.method, "PATCH");
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/apply-patch+yaml")
        );
        let manager = r.query.get("fieldManager").map(String::as_str);
        if manager == Some("plat-replicas-handover") {
            // The HPA hand-over of api-gateway's replicas (src/cluster/handover.rs) forces, and
            // only ever takes the field from plat.
            assert!(r.path.ends_with("/deployments/api-gateway"), "{r:?}");
            continue;
        }
        assert_eq!(manager, Some("plat"));
        // plat does not force: a field another manager changed is a conflict, not overwritten.
        assert_eq!(r.query.get("force"), None);
    }
    // ApplySet: the namespace is the parent, every other object a labelled member.
    let ns = server.object("", "namespaces", "", NS).expect("namespace");
    let id = ns["metadata"]["labels"]["applyset.kubernetes.io/id"]
        .as_str()
        .expect("applyset id");
    assert!(
        ns["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"]
            .as_str()
            .unwrap()
            .contains("Deployment.apps")
    );
    let deploy = server
        .object("apps", "deployments", NS, "auth-service")
        .expect("deployment");
    assert_eq!(
        deploy["metadata"]["labels"]["applyset.kubernetes.io/part-of"],
        id
    );
    assert_eq!(deploy["metadata"]["managedFields"][0]["manager"], "plat");
}

#[test]
fn a_second_apply_of_an_unchanged_spec_writes_nothing_and_diff_is_clean() {
    let (server, project) = applied("noop");
    server.clear_requests();
    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        writes(&server).is_empty(),
        "unexpected writes: {:?}",
        writes(&server)
    );
    assert!(run.stdout.contains("0 created, 0 configured"), "{run:?}");
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 0, "{diff:?}");
    assert!(diff.stdout.contains("0 to create, 0 to update"), "{diff:?}");
    let drift = project.plat("drift", &[]);
    assert_eq!(drift.code, 0, "{drift:?}");
    assert!(drift.stdout.contains("no drift"), "{drift:?}");
}

#[test]
fn a_changed_spec_shows_in_diff_and_apply_converges() {
    let (server, project) = applied("changed");
    project.replace(
        "environments/dev.toml",
        "[services.auth-service]\nreplicas = 1",
        "[services.auth-service]\nreplicas = 2",
    );
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 1, "{diff:?}");
    assert!(
        diff.stdout
            .contains(&format!("--- Deployment.apps {NS}/auth-service (live)")),
        "{diff:?}"
    );
    assert!(
        diff.stdout.contains("-  replicas: 1\n+  replicas: 2"),
        "{diff:?}"
    );
    // Two replicas also bring a PodDisruptionBudget (a new kind, so the ApplySet parent changes too).
    assert!(
        diff.stdout.contains(&format!(
            "+++ PodDisruptionBudget.policy {NS}/auth-service (spec)"
        )),
        "{diff:?}"
    );
    assert!(
        diff.stdout.contains("diff: 1 to create, 2 to update"),
        "{diff:?}"
    );
    // The diff came from a dry run, which changed nothing.
    let dry: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.query.contains_key("dryRun"))
        .collect();
    assert!(!dry.is_empty() && dry.iter().all(|r| r.query["dryRun"] == "All"));
    assert_eq!(
        server
            .object("apps", "deployments", NS, "auth-service")
            .unwrap()["spec"]["replicas"],
        1
    );

    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("configured Deployment.apps {NS}/auth-service")),
        "{run:?}"
    );
    assert!(run.stdout.contains("1 created, 2 configured"), "{run:?}");
    let deploy = server
        .object("apps", "deployments", NS, "auth-service")
        .unwrap();
    assert_eq!(deploy["spec"]["replicas"], 2);
    assert_eq!(deploy["metadata"]["generation"], 2);
    assert_eq!(project.plat("diff", &[]).code, 0);
}

#[test]
fn a_persons_edit_is_drift_attributed_to_kubectl_edit() {
    let (server, project) = applied("edit");
    kubectl_edit(
        &server,
        &deployment_path("auth-service"),
        &json!({"spec": {"replicas": 5}}),
    );
    let drift = project.plat("drift", &[]);
    assert_eq!(drift.code, 1, "{drift:?}");
    assert!(
        drift.stdout.contains(&format!(
            "changed  Deployment.apps {NS}/auth-service  [platform.toml#services.auth-service]"
        )),
        "{drift:?}"
    );
    assert!(
        drift
            .stdout
            .contains("/spec/replicas: spec 1, live 5; owned by kubectl-edit (a person, Update)"),
        "{drift:?}"
    );

    let json_run = project.plat("drift", &["--format", "json"]);
    assert_eq!(json_run.code, 1, "{json_run:?}");
    let report: serde_json::Value = serde_json::from_str(&json_run.stdout).expect("drift JSON");
    let field = &report["changed"][0]["fields"][0];
    assert_eq!(field["pointer"], "/spec/replicas");
    assert_eq!(field["spec"], 1);
    assert_eq!(field["live"], 5);
    assert_eq!(field["owners"][0]["manager"], "kubectl-edit");
    assert_eq!(field["owners"][0]["who"], "a person");
    assert_eq!(
        report["changed"][0]["source"],
        "platform.toml#services.auth-service"
    );

    // Apply does not overwrite a person's change silently: it stops on the conflict ...
    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.contains("409 Conflict"), "{run:?}");
    assert!(run.stdout.contains("kubectl-edit"), "{run:?}");
    assert!(run.stdout.contains("--force-conflicts"), "{run:?}");
    assert_eq!(
        server
            .object("apps", "deployments", NS, "auth-service")
            .unwrap()["spec"]["replicas"],
        5
    );
    // ... and takes the field back when told to; drift is gone.
    assert_eq!(project.plat("apply", &["--force-conflicts"]).code, 0);
    assert_eq!(
        server
            .object("apps", "deployments", NS, "auth-service")
            .unwrap()["spec"]["replicas"],
        1
    );
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
fn a_service_removed_from_the_spec_is_pruned_with_uid_preconditions() {
    let server = FakeApiServer::start(full_cluster());
    let project = Project::new("prune", &server);
    let original = std::fs::read_to_string(project.spec()).unwrap();
    project.append("platform.toml", EXTRA_SERVICE);
    assert_eq!(project.plat("apply", &[]).code, 0);
    assert!(
        server
            .object("apps", "deployments", NS, "reporting")
            .is_some()
    );

    std::fs::write(project.spec(), original).unwrap();
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 1, "{diff:?}");
    assert!(
        diff.stdout
            .contains("owned by plat and no longer in the spec:"),
        "{diff:?}"
    );
    assert!(
        diff.stdout.contains(&format!(
            "Deployment.apps {NS}/reporting (deleted by `plat apply --prune`)"
        )),
        "{diff:?}"
    );
    let drift = project.plat("drift", &[]);
    assert!(
        drift
            .stdout
            .contains(&format!("not in the spec  Deployment.apps {NS}/reporting")),
        "{drift:?}"
    );

    // Without --prune nothing is deleted.
    assert_eq!(project.plat("apply", &[]).code, 0);
    assert!(
        server
            .object("apps", "deployments", NS, "reporting")
            .is_some()
    );

    server.clear_requests();
    let run = project.plat("apply", &["--prune"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("pruned Deployment.apps {NS}/reporting")),
        "{run:?}"
    );
    assert!(
        server
            .object("apps", "deployments", NS, "reporting")
            .is_none()
    );
    assert!(server.object("", "services", NS, "reporting").is_none());
    let deletes: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert!(!deletes.is_empty());
    for d in &deletes {
        let uid = d
            .body
            .as_ref()
            .and_then(|b| b["preconditions"]["uid"].as_str());
        assert!(
            uid.is_some_and(|u| !u.is_empty()),
            "delete without UID precondition: {d:?}"
        );
    }
    // The namespace (protected) and other objects are still there; diff is clean.
    assert!(server.object("", "namespaces", "", NS).is_some());
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 0, "{diff:?}");
}

#[test]
fn a_missing_crd_is_an_error_that_names_it_and_its_operator_and_nothing_is_written() {
    let mut kinds = support::fake_apiserver::builtin_kinds();
    kinds.extend(support::fake_apiserver::barman_cloud_kinds());
    kinds.extend(support::fake_apiserver::redis_kinds());
    kinds.extend(support::fake_apiserver::prometheus_operator_kinds());
    let server = FakeApiServer::start(kinds);
    let project = Project::new("crd", &server);
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 2, "{diff:?}");
    assert!(
        diff.stderr
            .contains("the CRD clusters.postgresql.cnpg.io is not installed"),
        "{diff:?}"
    );
    assert!(diff.stderr.contains("CloudNativePG"), "{diff:?}");
    assert!(
        diff.stderr.contains("scheduledbackups.postgresql.cnpg.io"),
        "{diff:?}"
    );

    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stdout.contains("nothing applied: preflight failed"),
        "{run:?}"
    );
    assert!(
        writes(&server).is_empty(),
        "apply wrote despite the failed preflight: {:?}",
        writes(&server)
    );

    // Once the operator is installed, apply goes through.
    server.register(support::fake_apiserver::cnpg_kinds());
    assert_eq!(project.plat("apply", &[]).code, 0);
}

#[test]
fn a_failure_midway_reports_what_was_applied_and_a_rerun_converges() {
    let server = FakeApiServer::start(full_cluster());
    let project = Project::new("midway", &server);
    // The CloudNativePG Cluster is applied with the workloads; the HPA and friends come after.
    server.with(|s| s.fail_writes_to = Some("clusters/postgresql-cluster".into()));
    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stdout.contains(&format!(
            "failed Cluster.postgresql.cnpg.io {NS}/postgresql-cluster"
        )),
        "{run:?}"
    );
    assert!(
        run.stdout.contains(&format!(
            "not attempted: HorizontalPodAutoscaler.autoscaling {NS}/api-gateway"
        )),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("apply stopped; nothing was pruned"),
        "{run:?}"
    );
    assert!(server.object("", "namespaces", "", NS).is_some());
    assert!(
        server
            .object("autoscaling", "horizontalpodautoscalers", NS, "api-gateway")
            .is_none()
    );

    server.with(|s| s.fail_writes_to = None);
    let rerun = project.plat("apply", &[]);
    assert_eq!(rerun.code, 0, "{rerun:?}");
    assert!(
        rerun.stdout.contains(&format!(
            "created Cluster.postgresql.cnpg.io {NS}/postgresql-cluster"
        )),
        "{rerun:?}"
    );
    assert!(
        !rerun
            .stdout
            .contains(&format!("Deployment.apps {NS}/auth-service")),
        "applied objects are not rewritten: {rerun:?}"
    );
    assert_eq!(project.plat("diff", &[]).code, 0);
}

#[test]
fn a_wrong_context_is_refused_before_any_request() {
    let server = FakeApiServer::start(full_cluster());
    let project = Project::new("context", &server);
    let run = project.plat("apply", &["--context", "other-cluster"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--allow-context-mismatch"), "{run:?}");
    assert!(
        server.requests().is_empty(),
        "requests were sent: {:?}",
        server.requests()
    );

    let unknown = project.plat(
        "diff",
        &["--context", "nowhere", "--allow-context-mismatch"],
    );
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("no context `nowhere`"),
        "{unknown:?}"
    );

    let allowed = project.plat(
        "apply",
        &["--context", "other-cluster", "--allow-context-mismatch"],
    );
    assert_eq!(allowed.code, 0, "{allowed:?}");
    assert!(
        allowed.stderr.contains("context other-cluster"),
        "{allowed:?}"
    );
}

#[test]
fn wait_reports_ready_workloads_and_names_what_is_not_ready_at_the_timeout() {
    let server = FakeApiServer::start(full_cluster());
    let project = Project::new("wait", &server);
    let run = project.plat("apply", &["--wait", "--timeout", "2s", "--poll-ms", "100"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("not ready after 2s"), "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("Deployment.apps {NS}/auth-service")),
        "{run:?}"
    );
    assert!(run.stdout.contains("waiting: "), "{run:?}");

    server.with(|s| s.auto_ready = true);
    let ready = project.plat("apply", &["--wait", "--timeout", "10s", "--poll-ms", "100"]);
    assert_eq!(ready.code, 0, "{ready:?}");
    assert!(ready.stdout.contains("ready: "), "{ready:?}");
}

#[test]
fn apply_dry_run_changes_nothing() {
    let server = FakeApiServer::start(full_cluster());
    let project = Project::new("dryrun", &server);
    let run = project.plat("apply", &["--dry-run"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("dry run: nothing was changed"),
        "{run:?}"
    );
    assert!(writes(&server).is_empty());
}

#[test]
fn secret_values_are_never_printed() {
    let (server, project) = applied("secret");
    let secrets = server.object_names("", "secrets");
    let Some(name) = secrets.first() else {
        return; // the reference platform has no Secret in this environment
    };
    let path = format!("/api/v1/namespaces/{NS}/secrets/{name}");
    let (code, body) = support::http(&server, "GET", &path, "application/json", "");
    assert_eq!(code, 200, "{body}");
    let live: serde_json::Value = serde_json::from_str(&body).unwrap();
    let field = if live["data"].is_object() {
        "data"
    } else {
        "stringData"
    };
    let key = live[field]
        .as_object()
        .and_then(|m| m.keys().next().cloned())
        .expect("a secret key");
    kubectl_edit(
        &server,
        &path,
        &json!({field: {key.clone(): "c3VwZXItc2VjcmV0LXZhbHVl"}}),
    );
    let diff = project.plat("diff", &[]);
    let drift = project.plat("drift", &["--format", "json"]);
    for out in [&diff.stdout, &drift.stdout] {
        assert!(
            !out.contains("c3VwZXItc2VjcmV0LXZhbHVl"),
            "a secret value was printed: {out}"
        );
    }
    assert!(diff.stdout.contains("(masked"), "{diff:?}");
}

/// Extra objects of the escape hatch (`manifests/`): a namespaced quota and a cluster-wide
/// priority class, both templates.
const QUOTA: &str = "apiVersion: v1
kind: ResourceQuota
metadata:
  name: {{ platform.name }}-quota
  namespace: {{ environment.namespace }}
spec:
  hard:
    pods: \"{{ 20 * environment.nodes }}\"
";

const PRIORITY: &str = "apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: {{ platform.name }}-{{ environment.name }}-critical
value: 100000
globalDefault: false
";

/// A patch of an object plat generates.
const MESH_PATCH: &str = r#"
[[patches]]
target = { kind = "Deployment", name = "auth-service" }
merge = { metadata = { labels = { "mesh.example.com/member" = "true" } } }
"#;

fn with_escape_hatches(name: &str) -> (FakeApiServer, Project) {
    let server = FakeApiServer::start(full_cluster());
    server.register(vec![
        support::Kind::new("", "v1", "ResourceQuota", "resourcequotas", true),
        support::Kind::new(
            "scheduling.k8s.io",
            "v1",
            "PriorityClass",
            "priorityclasses",
            false,
        ),
    ]);
    let project = Project::new(name, &server);
    std::fs::create_dir_all(project.dir.join("manifests/dev")).unwrap();
    std::fs::write(project.dir.join("manifests/quota.yaml"), QUOTA).unwrap();
    std::fs::write(project.dir.join("manifests/dev/priority.yaml"), PRIORITY).unwrap();
    project.append("platform.toml", MESH_PATCH);
    (server, project)
}

#[test]
fn patched_and_extra_objects_are_diffed_and_applied_in_their_stage() {
    let (server, project) = with_escape_hatches("escape-apply");
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 1, "{diff:?}");
    for object in [
        format!("ResourceQuota {NS}/saas-platform-quota"),
        "PriorityClass.scheduling.k8s.io saas-platform-dev-critical".to_string(),
    ] {
        assert!(diff.stdout.contains(&object), "{object}: {diff:?}");
    }

    server.clear_requests();
    let run = project.plat("apply", &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let quota = server
        .object("", "resourcequotas", NS, "saas-platform-quota")
        .expect("the quota is applied");
    assert_eq!(quota["spec"]["hard"]["pods"], "20");
    assert_eq!(
        quota["metadata"]["annotations"]["plat.dev/source"],
        "manifests/quota.yaml"
    );
    assert!(
        quota["metadata"]["labels"]["applyset.kubernetes.io/part-of"].is_string(),
        "a member of the ApplySet: {quota}"
    );
    let deployment = server
        .object("apps", "deployments", NS, "auth-service")
        .unwrap();
    assert_eq!(
        deployment["metadata"]["labels"]["mesh.example.com/member"],
        "true"
    );
    // Stages by kind: the namespace, then the cluster-wide priority class, then configuration
    // (the quota) before the workloads.
    let writes = writes(&server);
    let position = |part: &str| {
        writes
            .iter()
            .position(|r| r.path.contains(part))
            .unwrap_or_else(|| panic!("no write to {part}: {writes:?}"))
    };
    assert!(position("/priorityclasses/") < position("/resourcequotas/"));
    assert!(position("/resourcequotas/") < position("/deployments/"));
    assert!(position(&format!("/namespaces/{NS}")) < position("/priorityclasses/"));

    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 0, "{diff:?}");
}

#[test]
fn drift_of_an_extra_object_names_its_file_and_prune_removes_it_when_the_file_is_deleted() {
    let (server, project) = with_escape_hatches("escape-prune");
    assert_eq!(project.plat("apply", &[]).code, 0);
    kubectl_edit(
        &server,
        &format!("/api/v1/namespaces/{NS}/resourcequotas/saas-platform-quota"),
        &json!({"spec": {"hard": {"pods": "99"}}}),
    );
    let drift = project.plat("drift", &[]);
    assert_eq!(drift.code, 1, "{drift:?}");
    assert!(
        drift.stdout.contains(&format!(
            "changed  ResourceQuota {NS}/saas-platform-quota  [manifests/quota.yaml]"
        )),
        "{drift:?}"
    );
    // The person's change is another manager's field: taking it back is an explicit choice.
    assert_eq!(project.plat("apply", &["--force-conflicts"]).code, 0);
    assert_eq!(project.plat("drift", &[]).code, 0);

    std::fs::remove_file(project.dir.join("manifests/quota.yaml")).unwrap();
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 1, "{diff:?}");
    assert!(
        diff.stdout.contains(&format!(
            "ResourceQuota {NS}/saas-platform-quota (deleted by `plat apply --prune`)"
        )),
        "{diff:?}"
    );
    let run = project.plat("apply", &["--prune"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        server
            .object("", "resourcequotas", NS, "saas-platform-quota")
            .is_none()
    );
    // The other extra object and the patched one stay.
    assert!(
        server
            .object(
                "scheduling.k8s.io",
                "priorityclasses",
                "",
                "saas-platform-dev-critical"
            )
            .is_some()
    );
    assert_eq!(project.plat("diff", &[]).code, 0);
}
