//! A stateful fake Kubernetes API server for the cluster-stage tests, served over HTTP on 127.0.0.1
//! so that the real kube client path (kubeconfig, context, URL building, error parsing) runs.
//!
//! It implements what plat relies on and no more: discovery of the registered kinds only (an
//! unregistered CRD answers 404), GET and LIST with label selectors, server-side apply as
//! create-or-update that honours `dryRun`, `fieldManager` and `force`, JSON merge patches as
//! "updates" (what `kubectl edit` sends), managedFields per manager, resourceVersion, uid and
//! generation stamping, DELETE with UID preconditions, `metav1.Status` error bodies, and injected
//! latency and failures. Every request is recorded so tests can count and inspect them.
//!
//! Simplifications (documented, so nobody mistakes this for a real server): list items are merged
//! by `name` only; no defaulting, no validation beyond name and namespace; no watch; no finalizers.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};

/// One registered kind.
#[derive(Clone, Debug)]
pub struct Kind {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
}

impl Kind {
    pub fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        Kind {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced,
        }
    }

    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// The built-in kinds plat emits, plus CRD and Namespace.
pub fn builtin_kinds() -> Vec<Kind> {
    vec![
        Kind::new("", "v1", "Namespace", "namespaces", false),
        Kind::new("", "v1", "ConfigMap", "configmaps", true),
        Kind::new("", "v1", "Secret", "secrets", true),
        Kind::new("", "v1", "Service", "services", true),
        Kind::new("", "v1", "ServiceAccount", "serviceaccounts", true),
        Kind::new(
            "",
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            true,
        ),
        Kind::new("apps", "v1", "Deployment", "deployments", true),
        Kind::new("apps", "v1", "StatefulSet", "statefulsets", true),
        Kind::new("apps", "v1", "DaemonSet", "daemonsets", true),
        Kind::new("batch", "v1", "Job", "jobs", true),
        Kind::new("batch", "v1", "CronJob", "cronjobs", true),
        Kind::new(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            false,
        ),
        Kind::new(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
        ),
        Kind::new("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
        Kind::new(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
            true,
        ),
        Kind::new(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
        ),
        Kind::new(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            true,
        ),
        Kind::new(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
            true,
        ),
        Kind::new("networking.k8s.io", "v1", "Ingress", "ingresses", true),
        Kind::new(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        ),
    ]
}

pub fn cnpg_kinds() -> Vec<Kind> {
    vec![
        Kind::new("postgresql.cnpg.io", "v1", "Cluster", "clusters", true),
        Kind::new(
            "postgresql.cnpg.io",
            "v1",
            "ScheduledBackup",
            "scheduledbackups",
            true,
        ),
    ]
}

/// The Barman Cloud plugin of CloudNativePG, which the backups go through.
pub fn barman_cloud_kinds() -> Vec<Kind> {
    vec![Kind::new(
        "barmancloud.cnpg.io",
        "v1",
        "ObjectStore",
        "objectstores",
        true,
    )]
}

pub fn redis_kinds() -> Vec<Kind> {
    vec![Kind::new(
        "redis.redis.opstreelabs.in",
        "v1beta2",
        "RedisCluster",
        "redisclusters",
        true,
    )]
}

pub fn prometheus_operator_kinds() -> Vec<Kind> {
    vec![
        Kind::new(
            "monitoring.coreos.com",
            "v1",
            "ServiceMonitor",
            "servicemonitors",
            true,
        ),
        Kind::new(
            "monitoring.coreos.com",
            "v1",
            "PodMonitor",
            "podmonitors",
            true,
        ),
        Kind::new(
            "monitoring.coreos.com",
            "v1",
            "Alertmanager",
            "alertmanagers",
            true,
        ),
        Kind::new(
            "monitoring.coreos.com",
            "v1",
            "PrometheusRule",
            "prometheusrules",
            true,
        ),
    ]
}

pub fn external_secrets_kinds() -> Vec<Kind> {
    vec![Kind::new(
        "external-secrets.io",
        "v1",
        "ExternalSecret",
        "externalsecrets",
        true,
    )]
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Decoded query parameters.
    pub query: BTreeMap<String, String>,
    pub content_type: Option<String>,
    pub body: Option<Value>,
}

impl Recorded {
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "PATCH" | "POST" | "PUT" | "DELETE")
            && !self.query.contains_key("dryRun")
    }
}

/// Object identity in the store: (group, plural, namespace, name).
type Key = (String, String, String, String);

#[derive(Default)]
pub struct State {
    pub kinds: Vec<Kind>,
    pub objects: BTreeMap<Key, Value>,
    pub requests: Vec<Recorded>,
    rv: u64,
    uids: u64,
    /// Writes to the object `<plural>/<name>` fail with 500 (a failure midway).
    pub fail_writes_to: Option<String>,
    pub latency: Duration,
    /// Play the controllers: workloads report ready when read.
    pub auto_ready: bool,
}

impl State {
    fn kind_by_plural(&self, group: &str, version: &str, plural: &str) -> Option<Kind> {
        self.kinds
            .iter()
            .find(|k| k.group == group && k.version == version && k.plural == plural)
            .cloned()
    }

    fn namespace_exists(&self, ns: &str) -> bool {
        self.objects
            .contains_key(&(String::new(), "namespaces".into(), String::new(), ns.into()))
    }

    fn next_rv(&mut self) -> String {
        self.rv += 1;
        self.rv.to_string()
    }

    fn next_uid(&mut self) -> String {
        self.uids += 1;
        format!("00000000-0000-4000-8000-{:012}", self.uids)
    }
}

/// The running server; stops when dropped.
pub struct FakeApiServer {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeApiServer {
    /// Starts a server on 127.0.0.1 with an ephemeral port, serving the given kinds.
    pub fn start(kinds: Vec<Kind>) -> FakeApiServer {
        let state = Arc::new(Mutex::new(State {
            kinds,
            ..State::default()
        }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let served = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test runtime");
            rt.block_on(serve(served, rx, addr_tx));
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("fake API server did not start");
        FakeApiServer {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("fake state"))
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|s| s.requests.clone())
    }

    pub fn clear_requests(&self) {
        self.with(|s| s.requests.clear());
    }

    pub fn register(&self, kinds: Vec<Kind>) {
        self.with(|s| s.kinds.extend(kinds));
    }

    /// The stored object, if any.
    pub fn object(&self, group: &str, plural: &str, ns: &str, name: &str) -> Option<Value> {
        self.with(|s| {
            s.objects
                .get(&(group.into(), plural.into(), ns.into(), name.into()))
                .cloned()
        })
    }

    pub fn object_names(&self, group: &str, plural: &str) -> Vec<String> {
        self.with(|s| {
            s.objects
                .keys()
                .filter(|k| k.0 == group && k.1 == plural)
                .map(|k| k.3.clone())
                .collect()
        })
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    state: Arc<Mutex<State>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
    addr_tx: std::sync::mpsc::Sender<SocketAddr>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let _ = addr_tx.send(listener.local_addr().expect("local addr"));
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(code: StatusCode, body: &Value) -> Reply {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

/// A `metav1.Status` error body, as the real server sends (kube needs it to report the code).
fn status(code: u16, reason: &str, message: &str) -> Reply {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    });
    reply(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &body,
    )
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(query: Option<&str>) -> BTreeMap<String, String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

async fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = parse_query(req.uri().query());
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(status(400, "BadRequest", "cannot read body")),
    };
    let body: Option<Value> = if bytes.is_empty() {
        None
    } else {
        // Apply patches are YAML; plat (kube) sends JSON, which is YAML.
        serde_json::from_slice(&bytes).ok()
    };
    let latency = {
        let mut s = state.lock().expect("state");
        s.requests.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            content_type: content_type.clone(),
            body: body.clone(),
        });
        s.latency
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut s = state.lock().expect("state");
    Ok(route(
        &mut s,
        &method,
        &path,
        &query,
        content_type.as_deref(),
        body,
    ))
}

/// Where a path points.
struct Target {
    kind: Kind,
    namespace: String,
    name: Option<String>,
}

fn route(
    s: &mut State,
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    content_type: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group] => return api_group(s, group),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => {
            return status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            );
        }
    };
    if rest.is_empty() {
        return discovery(s, group, version);
    }
    let (namespace, plural, name) = match rest {
        ["namespaces", ns, plural, tail @ ..] if !tail.is_empty() || *plural != "status" => {
            (ns.to_string(), *plural, tail.first().map(|n| n.to_string()))
        }
        [plural, tail @ ..] => (String::new(), *plural, tail.first().map(|n| n.to_string())),
        [] => unreachable!(),
    };
    let Some(kind) = s.kind_by_plural(group, version, plural) else {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    };
    let target = Target {
        namespace: if kind.namespaced {
            namespace
        } else {
            String::new()
        },
        kind,
        name,
    };
    match (method, &target.name) {
        ("GET", None) => list(s, &target, query),
        ("GET", Some(_)) => get(s, &target),
        ("PATCH", Some(_)) => patch(s, &target, query, content_type, body),
        ("DELETE", Some(_)) => delete(s, &target, body),
        _ => status(
            405,
            "MethodNotAllowed",
            "the fake API server does not support this",
        ),
    }
}

fn discovery(s: &State, group: &str, version: &str) -> Reply {
    let resources: Vec<Value> = s
        .kinds
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .map(|k| {
            json!({"name": k.plural, "kind": k.kind, "namespaced": k.namespaced,
                        "verbs": ["get", "list", "patch", "delete"]})
        })
        .collect();
    if resources.is_empty() {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    reply(
        StatusCode::OK,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn api_group(s: &State, group: &str) -> Reply {
    let Some(kind) = s.kinds.iter().find(|k| k.group == group) else {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    };
    let gv = json!({"groupVersion": format!("{group}/{}", kind.version), "version": kind.version});
    reply(
        StatusCode::OK,
        &json!({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": [gv], "preferredVersion": gv}),
    )
}

fn key(target: &Target, name: &str) -> Key {
    (
        target.kind.group.clone(),
        target.kind.plural.clone(),
        target.namespace.clone(),
        name.to_string(),
    )
}

fn not_found(target: &Target, name: &str) -> Reply {
    let resource = if target.kind.group.is_empty() {
        target.kind.plural.clone()
    } else {
        format!("{}.{}", target.kind.plural, target.kind.group)
    };
    status(404, "NotFound", &format!("{resource} \"{name}\" not found"))
}

fn get(s: &mut State, target: &Target) -> Reply {
    let name = target.name.clone().unwrap_or_default();
    let auto = s.auto_ready;
    match s.objects.get_mut(&key(target, &name)) {
        Some(object) => {
            if auto {
                play_controller(&target.kind, object);
            }
            reply(StatusCode::OK, object)
        }
        None => not_found(target, &name),
    }
}

/// `a=b,c!=d,e,!f` (the subset of label selector syntax plat and kubectl use).
fn selector_matches(selector: &str, labels: &Value) -> bool {
    selector
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .all(|term| {
            let term = term.trim();
            let label = |k: &str| labels[k.trim()].as_str().map(str::to_string);
            if let Some((k, v)) = term.split_once("!=") {
                label(k).as_deref() != Some(v.trim())
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                label(k).as_deref() == Some(v.trim())
            } else if let Some(k) = term.strip_prefix('!') {
                label(k).is_none()
            } else {
                label(term).is_some()
            }
        })
}

fn list(s: &mut State, target: &Target, query: &BTreeMap<String, String>) -> Reply {
    let selector = query.get("labelSelector").cloned().unwrap_or_default();
    let auto = s.auto_ready;
    let items: Vec<Value> = s
        .objects
        .iter_mut()
        .filter(|(k, _)| {
            k.0 == target.kind.group
                && k.1 == target.kind.plural
                && (target.namespace.is_empty() || k.2 == target.namespace)
        })
        .filter(|(_, o)| selector_matches(&selector, &o["metadata"]["labels"]))
        .map(|(_, o)| {
            if auto {
                play_controller(&target.kind, o);
            }
            // Like the real server, list items of built-in kinds carry no apiVersion/kind.
            let mut item = o.clone();
            let builtin =
                !target.kind.group.contains('.') || target.kind.group.ends_with(".k8s.io");
            if let Some(map) = item.as_object_mut()
                && builtin
            {
                map.remove("apiVersion");
                map.remove("kind");
            }
            item
        })
        .collect();
    let rv = s.rv.to_string();
    reply(
        StatusCode::OK,
        &json!({"kind": format!("{}List", target.kind.kind), "apiVersion": target.kind.api_version(),
                "metadata": {"resourceVersion": rv}, "items": items}),
    )
}

fn delete(s: &mut State, target: &Target, body: Option<Value>) -> Reply {
    let name = target.name.clone().unwrap_or_default();
    let k = key(target, &name);
    let Some(object) = s.objects.get(&k).cloned() else {
        return not_found(target, &name);
    };
    if let Some(uid) = body
        .as_ref()
        .and_then(|b| b["preconditions"]["uid"].as_str())
        && object["metadata"]["uid"].as_str() != Some(uid)
    {
        return status(
            409,
            "Conflict",
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                object["metadata"]["uid"].as_str().unwrap_or("")
            ),
        );
    }
    s.objects.remove(&k);
    s.rv += 1;
    reply(StatusCode::OK, &object)
}

fn patch(
    s: &mut State,
    target: &Target,
    query: &BTreeMap<String, String>,
    content_type: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let name = target.name.clone().unwrap_or_default();
    let Some(body) = body else {
        return status(
            400,
            "BadRequest",
            "the body of the request was in an unknown format",
        );
    };
    let dry_run = query.get("dryRun").is_some_and(|v| v == "All");
    let manager = query.get("fieldManager").cloned().unwrap_or_default();
    if target.kind.namespaced && !s.namespace_exists(&target.namespace) {
        return status(
            404,
            "NotFound",
            &format!("namespaces \"{}\" not found", target.namespace),
        );
    }
    if !dry_run
        && s.fail_writes_to.as_deref() == Some(format!("{}/{name}", target.kind.plural).as_str())
    {
        return status(
            500,
            "InternalError",
            &format!("injected failure writing {name}"),
        );
    }
    let k = key(target, &name);
    let existing = s.objects.get(&k).cloned();
    let result = match content_type {
        Some("application/apply-patch+yaml") => {
            if manager.is_empty() {
                return status(
                    422,
                    "Invalid",
                    "fieldManager is required for apply requests",
                );
            }
            if body["metadata"]["name"].as_str() != Some(name.as_str()) {
                return status(
                    400,
                    "BadRequest",
                    "the name of the object does not match the URL",
                );
            }
            let force = query.get("force").is_some_and(|v| v == "true");
            match server_side_apply(existing.as_ref(), &body, &manager, force) {
                Ok(v) => v,
                Err(conflict) => return status(409, "Conflict", &conflict),
            }
        }
        Some("application/merge-patch+json") => {
            let Some(live) = &existing else {
                return not_found(target, &name);
            };
            merge_patch_update(
                live,
                &body,
                if manager.is_empty() {
                    "unknown"
                } else {
                    &manager
                },
            )
        }
        other => {
            return status(
                415,
                "UnsupportedMediaType",
                &format!("the fake API server does not support content type {other:?}"),
            );
        }
    };
    let stamped = stamp(s, &target.kind, existing.as_ref(), result);
    if !dry_run {
        if target.kind.kind == "CustomResourceDefinition" {
            register_crd(s, &stamped);
        }
        s.objects.insert(k, stamped.clone());
    }
    let code = if existing.is_none() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    reply(code, &stamped)
}

/// uid and creationTimestamp on create; generation +1 when the spec changes; resourceVersion +1 on
/// any change (an apply that changes nothing leaves the object as it was).
fn stamp(s: &mut State, kind: &Kind, existing: Option<&Value>, mut object: Value) -> Value {
    let meta = object["metadata"]
        .as_object_mut()
        .cloned()
        .unwrap_or_default();
    let mut meta = meta;
    match existing {
        None => {
            meta.insert("uid".into(), json!(s.next_uid()));
            meta.insert("creationTimestamp".into(), json!("2026-01-01T00:00:00Z"));
            meta.insert("generation".into(), json!(1));
            meta.insert("resourceVersion".into(), json!(s.next_rv()));
            object["metadata"] = Value::Object(meta);
            if kind.kind == "Namespace" {
                object["status"] = json!({"phase": "Active"});
            }
            object
        }
        Some(old) => {
            for field in ["uid", "creationTimestamp", "resourceVersion", "generation"] {
                if let Some(v) = old["metadata"].get(field) {
                    meta.insert(field.into(), v.clone());
                }
            }
            object["metadata"] = Value::Object(meta);
            if let Some(status) = old.get("status") {
                object["status"] = status.clone();
            }
            if &object == old {
                return object;
            }
            let spec_changed =
                without(&object, &["metadata", "status"]) != without(old, &["metadata", "status"]);
            if spec_changed {
                let generation = old["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
                object["metadata"]["generation"] = json!(generation);
            }
            object["metadata"]["resourceVersion"] = json!(s.next_rv());
            object
        }
    }
}

fn without(object: &Value, fields: &[&str]) -> Value {
    let mut o = object.clone();
    if let Some(map) = o.as_object_mut() {
        for f in fields {
            map.remove(*f);
        }
    }
    o
}

fn register_crd(s: &mut State, crd: &Value) {
    let spec = &crd["spec"];
    let (Some(group), Some(kind), Some(plural)) = (
        spec["group"].as_str(),
        spec["names"]["kind"].as_str(),
        spec["names"]["plural"].as_str(),
    ) else {
        return;
    };
    let version = spec["versions"][0]["name"].as_str().unwrap_or("v1");
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    s.kinds
        .push(Kind::new(group, version, kind, plural, namespaced));
    let k = (
        "apiextensions.k8s.io".to_string(),
        "customresourcedefinitions".to_string(),
        String::new(),
        crd["metadata"]["name"].as_str().unwrap_or("").to_string(),
    );
    let mut stored = crd.clone();
    stored["status"] = json!({"conditions": [{"type": "Established", "status": "True"}]});
    s.objects.insert(k, stored);
}

/// Sets the status a controller would once the object is rolled out.
fn play_controller(kind: &Kind, object: &mut Value) {
    let generation = object["metadata"]["generation"].clone();
    let replicas = object["spec"]["replicas"].as_i64().unwrap_or(1);
    match (kind.group.as_str(), kind.kind.as_str()) {
        ("apps", "Deployment") => {
            object["status"] = json!({"observedGeneration": generation, "replicas": replicas,
                "updatedReplicas": replicas, "availableReplicas": replicas, "readyReplicas": replicas});
        }
        ("apps", "StatefulSet") => {
            object["status"] = json!({"observedGeneration": generation, "replicas": replicas,
                "updatedReplicas": replicas, "readyReplicas": replicas});
        }
        ("postgresql.cnpg.io", "Cluster") => {
            object["status"] = json!({"conditions": [{"type": "Ready", "status": "True"}]});
        }
        ("redis.redis.opstreelabs.in", "RedisCluster") => {
            object["status"] = json!({"state": "Ready"});
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Field ownership (a simplified structured-merge-diff)

/// A field path in fieldsV1 notation: `f:spec`, `f:replicas`, `k:{"name":"api"}`.
type Path = Vec<String>;

const IDENTITY: &[&str] = &["apiVersion", "kind"];

fn item_key(item: &Value) -> Option<String> {
    item.get("name")
        .filter(|n| n.is_string())
        .map(|n| format!("k:{}", json!({"name": n})))
}

/// The leaf paths an object sets (what its manager owns after applying it).
fn field_set(object: &Value) -> BTreeSet<Path> {
    let mut out = BTreeSet::new();
    if let Some(map) = object.as_object() {
        for (k, v) in map {
            if IDENTITY.contains(&k.as_str()) || k == "status" {
                continue;
            }
            if k == "metadata" {
                for (mk, mv) in v.as_object().into_iter().flatten() {
                    if matches!(mk.as_str(), "labels" | "annotations") {
                        collect(mv, vec!["f:metadata".into(), format!("f:{mk}")], &mut out);
                    }
                }
                continue;
            }
            collect(v, vec![format!("f:{k}")], &mut out);
        }
    }
    out
}

fn collect(value: &Value, path: Path, out: &mut BTreeSet<Path>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let mut p = path.clone();
                p.push(format!("f:{k}"));
                collect(v, p, out);
            }
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(|i| item_key(i).is_some()) => {
            for item in items {
                let mut p = path.clone();
                p.push(item_key(item).unwrap_or_default());
                collect(item, p, out);
            }
        }
        _ => {
            out.insert(path);
        }
    }
}

fn to_fields_v1(set: &BTreeSet<Path>) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for segment in path {
            node = node
                .entry(segment.clone())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("fieldsV1 node");
        }
    }
    Value::Object(root)
}

fn from_fields_v1(fields: &Value) -> BTreeSet<Path> {
    fn walk(v: &Value, path: Path, out: &mut BTreeSet<Path>) {
        match v.as_object() {
            Some(map) if !map.is_empty() => {
                for (k, child) in map {
                    if k == "." {
                        continue;
                    }
                    let mut p = path.clone();
                    p.push(k.clone());
                    walk(child, p, out);
                }
            }
            _ => {
                if !path.is_empty() {
                    out.insert(path);
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(fields, Vec::new(), &mut out);
    out
}

fn value_at<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut node = object;
    for segment in path {
        node = if let Some(field) = segment.strip_prefix("f:") {
            node.get(field)?
        } else {
            node.as_array()?
                .iter()
                .find(|i| item_key(i).as_deref() == Some(segment.as_str()))?
        };
    }
    Some(node)
}

fn remove_at(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = object;
    for segment in parents {
        let next = if let Some(field) = segment.strip_prefix("f:") {
            node.get_mut(field)
        } else {
            node.as_array_mut().and_then(|a| {
                a.iter_mut()
                    .find(|i| item_key(i).as_deref() == Some(segment.as_str()))
            })
        };
        match next {
            Some(n) => node = n,
            None => return,
        }
    }
    if let Some(field) = last.strip_prefix("f:") {
        if let Some(map) = node.as_object_mut() {
            map.remove(field);
        }
    } else if let Some(items) = node.as_array_mut() {
        items.retain(|i| item_key(i).as_deref() != Some(last.as_str()));
    }
}

/// Merges `patch` into `base`: maps by key, lists of named items by name, anything else replaced.
fn merge_into(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(existing) => merge_into(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(p))
            if p.iter().all(|i| item_key(i).is_some())
                && b.iter().all(|i| item_key(i).is_some()) =>
        {
            let mut merged = Vec::new();
            for item in p {
                let k = item_key(item);
                match b.iter().find(|i| item_key(i) == k) {
                    Some(old) => {
                        let mut m = old.clone();
                        merge_into(&mut m, item);
                        merged.push(m);
                    }
                    None => merged.push(item.clone()),
                }
            }
            for old in b.iter() {
                if !p.iter().any(|i| item_key(i) == item_key(old)) {
                    merged.push(old.clone());
                }
            }
            *b = merged;
        }
        (b, p) => *b = p.clone(),
    }
}

fn managers(object: &Value) -> Vec<(String, String, BTreeSet<Path>)> {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["manager"].as_str().unwrap_or("").to_string(),
                e["operation"].as_str().unwrap_or("").to_string(),
                from_fields_v1(&e["fieldsV1"]),
            )
        })
        .collect()
}

fn write_managers(object: &mut Value, entries: Vec<(String, String, BTreeSet<Path>)>) {
    let list: Vec<Value> = entries
        .into_iter()
        .filter(|(_, _, set)| !set.is_empty())
        .map(|(manager, operation, set)| {
            json!({"manager": manager, "operation": operation, "apiVersion": object["apiVersion"].clone(),
                   "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(&set)})
        })
        .collect();
    object["metadata"]["managedFields"] = Value::Array(list);
}

fn server_side_apply(
    existing: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
) -> Result<Value, String> {
    let applied = field_set(config);
    let Some(live) = existing else {
        let mut object = config.clone();
        write_managers(
            &mut object,
            vec![(manager.to_string(), "Apply".into(), applied)],
        );
        return Ok(object);
    };
    let mut entries = managers(live);
    // Conflicts: another manager owns a field this apply sets to a different value.
    let mut conflicts = Vec::new();
    for (other, _, set) in &entries {
        if other == manager {
            continue;
        }
        for path in set.intersection(&applied) {
            if value_at(live, path) != value_at(config, path) {
                conflicts.push(format!("{} (owned by {other})", path.join(".")));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            conflicts.join(", ")
        ));
    }
    let mut object = live.clone();
    // Fields this manager applied before and no longer applies are removed, unless shared.
    let previous = entries
        .iter()
        .find(|(m, op, _)| m == manager && op == "Apply")
        .map(|(_, _, set)| set.clone())
        .unwrap_or_default();
    for path in previous.difference(&applied) {
        let shared = entries
            .iter()
            .any(|(m, _, set)| m != manager && set.contains(path));
        if !shared {
            remove_at(&mut object, path);
        }
    }
    let mut body = config.clone();
    if let Some(meta) = body["metadata"].as_object_mut() {
        meta.remove("managedFields");
    }
    merge_into(&mut object, &body);
    // Forced fields change hands; fields with equal values are shared.
    for (other, _, set) in entries.iter_mut() {
        if other != manager {
            set.retain(|p| !(applied.contains(p) && value_at(live, p) != value_at(config, p)));
        }
    }
    entries.retain(|(m, op, _)| !(m == manager && op == "Apply"));
    entries.insert(0, (manager.to_string(), "Apply".into(), applied));
    write_managers(&mut object, entries);
    Ok(object)
}

/// RFC 7386 merge patch as an update operation: the changed fields move to `manager`.
fn merge_patch_update(live: &Value, patch: &Value, manager: &str) -> Value {
    fn apply(target: &mut Value, patch: &Value) {
        match (target.as_object_mut(), patch.as_object()) {
            (Some(t), Some(p)) => {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        apply(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
            _ => *target = patch.clone(),
        }
    }
    let mut object = live.clone();
    apply(&mut object, patch);
    let touched = field_set(patch);
    let mut entries = managers(live);
    for (_, _, set) in entries.iter_mut() {
        set.retain(|p| !touched.contains(p));
    }
    match entries
        .iter_mut()
        .find(|(m, op, _)| m == manager && op == "Update")
    {
        Some((_, _, set)) => set.extend(touched),
        None => entries.push((manager.to_string(), "Update".into(), touched)),
    }
    write_managers(&mut object, entries);
    object
}
