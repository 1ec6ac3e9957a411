//! Request shapes (tower-test, no server at all) and request counts (the fake API server).

mod support;

use http::{Method, Request, Response};
use http_body_util::BodyExt;
use kube::client::Body;
use plat::cluster::live;
use plat::cluster::plan::{DesiredObject, GroupKind, LiveMember, ObjKey};
use plat::cluster::resources;
use serde_json::{Value, json};
use support::{FakeApiServer, Project, full_cluster, kubectl_edit};

fn deployment() -> DesiredObject {
    DesiredObject {
        key: ObjKey {
            gk: GroupKind::new("apps", "Deployment"),
            namespace: Some("prod".into()),
            name: "api".into(),
        },
        version: "v1".into(),
        manifest: json!({"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": "api", "namespace": "prod"}, "spec": {"replicas": 2}})
        .into(),
        source: None,
    }
}

fn query(req: &Request<Body>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn has(q: &[(String, String)], k: &str, v: &str) -> bool {
    q.iter().any(|(a, b)| a == k && b == v)
}

fn json_response(value: &Value) -> Response<Body> {
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(value).unwrap()))
        .unwrap()
}

#[tokio::test]
async fn a_dry_run_apply_is_a_server_side_apply_patch_with_dry_run_all() {
    let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(mock, "default");
    let info = resources::builtin("apps", "v1", "Deployment").unwrap();
    let task =
        tokio::spawn(async move { live::apply(&client, &info, &deployment(), true, true).await });
    let (request, send) = handle.next_request().await.expect("a request");
    assert_eq!(request.method(), Method::PATCH);
    assert_eq!(
        request.uri().path(),
        "/apis/apps/v1/namespaces/prod/deployments/api"
    );
    let q = query(&request);
    assert!(has(&q, "dryRun", "All"), "{q:?}");
    assert!(has(&q, "fieldManager", "plat"), "{q:?}");
    assert!(has(&q, "force", "true"), "{q:?}");
    assert!(has(&q, "fieldValidation", "Strict"), "{q:?}");
    assert_eq!(
        request.headers().get("content-type").unwrap(),
        "application/apply-patch+yaml"
    );
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let sent: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sent["spec"]["replicas"], 2);
    // Only the fields the spec declares are sent (no status, no server defaults).
    assert!(sent.get("status").is_none());
    send.send_response(json_response(&sent));
    assert!(task.await.unwrap().is_ok());
}

#[tokio::test]
async fn a_real_apply_has_no_dry_run_and_does_not_force() {
    let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(mock, "default");
    let info = resources::builtin("apps", "v1", "Deployment").unwrap();
    let task =
        tokio::spawn(async move { live::apply(&client, &info, &deployment(), false, false).await });
    let (request, send) = handle.next_request().await.expect("a request");
    let q = query(&request);
    assert!(!q.iter().any(|(k, _)| k == "dryRun"), "{q:?}");
    assert!(
        has(&q, "fieldManager", "plat") && !q.iter().any(|(k, _)| k == "force"),
        "{q:?}"
    );
    send.send_response(json_response(&json!({"metadata": {"name": "api"}})));
    assert!(task.await.unwrap().is_ok());
}

#[tokio::test]
async fn prune_deletes_carry_a_uid_precondition() {
    let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(mock, "default");
    let info = resources::builtin("", "v1", "ConfigMap").unwrap();
    let member = LiveMember {
        key: ObjKey {
            gk: GroupKind::new("", "ConfigMap"),
            namespace: Some("prod".into()),
            name: "old".into(),
        },
        version: "v1".into(),
        uid: "0000-uid-1".into(),
        controller: None,
        source: None,
    };
    let task = tokio::spawn(async move { live::delete(&client, &info, &member).await });
    let (request, send) = handle.next_request().await.expect("a request");
    assert_eq!(request.method(), Method::DELETE);
    assert_eq!(
        request.uri().path(),
        "/api/v1/namespaces/prod/configmaps/old"
    );
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let options: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(options["preconditions"]["uid"], "0000-uid-1");
    send.send_response(json_response(
        &json!({"kind": "Status", "status": "Success"}),
    ));
    assert!(task.await.unwrap().is_ok());
}

#[tokio::test]
async fn a_uid_mismatch_is_reported_not_retried() {
    let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(mock, "default");
    let info = resources::builtin("", "v1", "ConfigMap").unwrap();
    let member = LiveMember {
        key: ObjKey {
            gk: GroupKind::new("", "ConfigMap"),
            namespace: Some("prod".into()),
            name: "old".into(),
        },
        version: "v1".into(),
        uid: "stale".into(),
        controller: None,
        source: None,
    };
    let task = tokio::spawn(async move { live::delete(&client, &info, &member).await });
    let (_, send) = handle.next_request().await.expect("a request");
    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409,
                        "message": "Precondition failed: UID in precondition: stale, UID in object meta: new"});
    send.send_response(
        Response::builder()
            .status(409)
            .body(Body::from(serde_json::to_vec(&status).unwrap()))
            .unwrap(),
    );
    let err = task.await.unwrap().unwrap_err();
    assert!(err.0.contains("409 Conflict: Precondition failed"), "{err}");
}

/// The kinds of an environment's set (members and the parent's Namespace kind).
fn kinds_of(project: &Project, env: &str) -> usize {
    let world = plat::world::FsWorld::new(&project.dir);
    let loaded =
        plat::cluster::load_environment(&world, "platform.toml", env).expect("environment loads");
    let mut kinds = loaded.set.group_kinds();
    kinds.insert(GroupKind::new("", "Namespace"));
    kinds.len()
}

#[test]
fn diff_of_the_reference_platform_needs_no_more_requests_than_kinds_plus_changed_objects() {
    let server = FakeApiServer::start(full_cluster());
    let project = Project::new("requests", &server);
    let applied = project.plat_env("prod", "apply", &[]);
    assert_eq!(applied.code, 0, "{applied:?}");
    let kinds = kinds_of(&project, "prod");

    server.clear_requests();
    let clean = project.plat_env("prod", "diff", &[]);
    assert_eq!(clean.code, 0, "{clean:?}");
    let unchanged_requests = server.requests().len();
    eprintln!("diff of prod, unchanged: {unchanged_requests} requests for {kinds} kinds");
    assert!(
        unchanged_requests <= kinds,
        "{unchanged_requests} requests > {kinds} kinds: {:#?}",
        server.requests()
    );
    assert!(server.requests().iter().all(|r| r.method == "GET"));

    let path = "/apis/apps/v1/namespaces/production/deployments/auth-service-blue";
    kubectl_edit(&server, path, &json!({"spec": {"replicas": 7}}));
    server.clear_requests();
    let changed = project.plat_env("prod", "diff", &[]);
    assert_eq!(changed.code, 1, "{changed:?}");
    let changed_requests = server.requests().len();
    eprintln!(
        "diff of prod, one object changed: {changed_requests} requests for {kinds} kinds + 1 changed object"
    );
    assert!(
        changed_requests <= kinds + 1,
        "{changed_requests} requests > {kinds} kinds + 1: {:#?}",
        server.requests()
    );

    // Drift reads the same way.
    server.clear_requests();
    assert_eq!(project.plat_env("prod", "drift", &[]).code, 1);
    assert!(server.requests().len() <= kinds + 1);
}
