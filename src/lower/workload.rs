//! Pod templates with the platform's hardened defaults: Pod Security Standards "restricted", read-only
//! root file system with named writable paths, secrets as files, probes per protocol, graceful
//! shutdown. Every workload kind and every fleet instance builds its pods here.

use serde_json::{Map, Value, json};

use super::config::config_map_name;
use super::{Ctx, Labels};
use crate::decode::{Located, Named};
use crate::kit::security::{container_security, pod_security};
use crate::kit::{obj, object};
use crate::spec::{
    Container, EnvValue, Port, Probe, ProbeAction, ProbeSetting, Protocol, Size, Timings,
    VolumeKind, Workload, WorkloadKind,
};

/// Secrets are mounted as files (not environment variables, which leak into crash dumps and child
/// processes); each key `K` is announced to the program as `K_FILE`.
pub fn secrets_dir(ctx: &Ctx<'_>) -> String {
    format!("/var/run/secrets/{}", ctx.spec.platform.name.value)
}

/// The writable `/tmp` every container gets unless the spec mounts something there.
const TMP: &str = "/tmp";

/// What one pod template is made for: a workload, or one instance of a fleet.
pub struct PodInput<'a> {
    pub workload: &'a Workload,
    /// The workload's or fleet's spec name (what `talks_to` and the stores' accounts name).
    pub key: &'a str,
    /// The object name (ServiceAccount, per-object ConfigMaps and claims are named after it).
    pub object_name: &'a str,
    /// The main container's name.
    pub container_name: &'a str,
    pub labels: &'a Labels,
    pub size: &'a Size,
    /// A fleet plan's variables, which replace the template's of the same name.
    pub plan_env: &'a [Named<EnvValue>],
    /// `instance.*` for a fleet instance's templates.
    pub instance: Option<&'a Value>,
}

pub fn resources(size: &Size) -> Value {
    json!({
        "requests": { "cpu": size.requests.cpu.text, "memory": size.requests.memory.text },
        "limits": { "cpu": size.limits.cpu.text, "memory": size.limits.memory.text },
    })
}

/// Reads one timing of a probe.
type Timing = fn(&Timings) -> Option<i64>;

fn timings(probe: &mut Map<String, Value>, own: &Timings, default: Option<&Timings>) {
    let pick = |f: Timing| f(own).or_else(|| default.and_then(f));
    let fields: [(&str, Timing); 4] = [
        ("initialDelaySeconds", |t| t.initial_delay),
        ("periodSeconds", |t| t.period),
        ("timeoutSeconds", |t| t.timeout),
        ("failureThreshold", |t| t.failures),
    ];
    for (key, field) in fields {
        if let Some(v) = pick(field) {
            probe.insert(key.into(), json!(v));
        }
    }
}

/// The port a probe targets: the one it names, or the container's first.
pub fn probe_port<'p>(ports: &'p [Port], name: Option<&Located<String>>) -> Option<&'p Port> {
    match name {
        Some(n) => ports.iter().find(|p| p.name == n.value),
        None => ports.first(),
    }
}

fn action_json(action: &ProbeAction, ports: &[Port]) -> Option<(&'static str, Value)> {
    Some(match action {
        ProbeAction::Http {
            path,
            port,
            headers,
        } => {
            let port = probe_port(ports, port.as_ref())?;
            let mut get = json!({ "path": path, "port": port.name });
            if !headers.is_empty() {
                let h: Vec<Value> = headers
                    .iter()
                    .map(|(k, v)| json!({ "name": k, "value": v }))
                    .collect();
                get["httpHeaders"] = Value::Array(h);
            }
            ("httpGet", get)
        }
        // The gRPC probe takes a port number, not a name.
        ProbeAction::Grpc { port, service } => {
            let port = probe_port(ports, port.as_ref())?;
            let mut grpc = json!({ "port": port.port.value });
            if let Some(s) = service {
                grpc["service"] = json!(s);
            }
            ("grpc", grpc)
        }
        ProbeAction::Tcp { port } => {
            let port = probe_port(ports, port.as_ref())?;
            ("tcpSocket", json!({ "port": port.name }))
        }
        ProbeAction::Exec { command } => ("exec", json!({ "command": command })),
    })
}

/// The probe a container gets in one slot: its own, the platform default for its first port's
/// protocol, or none.
pub fn effective_probe<'a>(
    ctx: &'a Ctx<'_>,
    kind: WorkloadKind,
    container: &'a Container,
    setting: &'a ProbeSetting,
    slot: fn(&crate::spec::ProtocolProbes) -> &Option<Probe>,
) -> Option<(Option<&'a ProbeAction>, &'a Timings, Option<&'a Timings>)> {
    let protocol = container.ports.first().map(|p| p.protocol);
    let default = protocol
        .and_then(|p| ctx.spec.defaults.probes_for(p))
        .and_then(|d| slot(d).as_ref());
    match setting {
        ProbeSetting::Off(_) => None,
        ProbeSetting::Set(probe) => Some((
            probe
                .action
                .as_ref()
                .or(default.and_then(|d| d.action.as_ref())),
            &probe.timings,
            default.map(|d| &d.timings),
        )),
        ProbeSetting::Default => {
            let defaults_apply = matches!(
                kind,
                WorkloadKind::Service | WorkloadKind::Stateful | WorkloadKind::Daemon
            );
            let d = default.filter(|_| defaults_apply && protocol != Some(Protocol::Udp))?;
            Some((d.action.as_ref(), &d.timings, None))
        }
    }
}

fn probe_json(
    ctx: &Ctx<'_>,
    kind: WorkloadKind,
    container: &Container,
    setting: &ProbeSetting,
    slot: fn(&crate::spec::ProtocolProbes) -> &Option<Probe>,
) -> Option<Value> {
    let (action, own, default) = effective_probe(ctx, kind, container, setting, slot)?;
    // A probe without an action takes the protocol's default check on the first port.
    let fallback;
    let action = match action {
        Some(a) => a,
        None => {
            fallback = ProbeAction::Tcp { port: None };
            &fallback
        }
    };
    let (key, value) = action_json(action, &container.ports)?;
    let mut probe = Map::new();
    probe.insert(key.into(), value);
    timings(&mut probe, own, default);
    Some(Value::Object(probe))
}

/// Renders an env value; templates were checked by `validate`, so a failure here keeps the text.
fn text_value(ctx: &Ctx<'_>, text: &Located<String>, instance: Option<&Value>) -> String {
    ctx.inventory
        .render(text, instance)
        .unwrap_or_else(|_| text.value.clone())
}

fn env_json(ctx: &Ctx<'_>, name: &str, value: &EnvValue, input: &PodInput<'_>) -> Value {
    let instance = input.instance;
    match value {
        EnvValue::Text(t) => json!({ "name": name, "value": text_value(ctx, t, instance) }),
        EnvValue::Config(key) => json!({ "name": name, "valueFrom": { "configMapKeyRef": {
            "name": config_map_name(ctx.spec), "key": key.value,
        } } }),
        EnvValue::Secret(key) => {
            let (secret, key) = secret_source(ctx, input, &key.value);
            json!({ "name": name, "valueFrom": { "secretKeyRef": { "name": secret, "key": key } } })
        }
    }
}

/// Volume names for a container's writable paths: `tmp` for `/tmp`, `writable-<n>` for the others.
fn writable_paths(container: &Container) -> Vec<(String, String)> {
    let mut paths: Vec<String> = Vec::new();
    let mounts_tmp = container.mounts.iter().any(|m| m.path.value == TMP);
    if !mounts_tmp {
        paths.push(TMP.to_string());
    }
    paths.extend(
        container
            .writable
            .iter()
            .filter(|p| p.as_str() != TMP || mounts_tmp)
            .map(|p| p.value.clone()),
    );
    paths
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let name = if p == TMP {
                "tmp".to_string()
            } else {
                format!("writable-{i}")
            };
            (name, p)
        })
        .collect()
}

/// One container; `name` prefixes its writable volumes so that containers never share them.
fn container_json(
    ctx: &Ctx<'_>,
    input: &PodInput<'_>,
    name: &str,
    container: &Container,
    main: bool,
) -> Value {
    let w = input.workload;
    let defaults = &ctx.spec.defaults;
    let dir = secrets_dir(ctx);
    let mut env: Vec<Value> = container
        .secrets
        .iter()
        .map(|k| json!({ "name": format!("{}_FILE", k.value), "value": format!("{dir}/{}", k.value) }))
        .collect();
    let plan_env = if main { input.plan_env } else { &[] };
    for entry in &container.env {
        if plan_env.iter().any(|p| p.name == entry.name) {
            continue;
        }
        env.push(env_json(ctx, &entry.name, &entry.value, input));
    }
    for entry in plan_env {
        env.push(env_json(ctx, &entry.name, &entry.value, input));
    }
    let env_from = (main && w.platform_config)
        .then(|| json!([{ "configMapRef": { "name": config_map_name(ctx.spec) } }]));
    let mut mounts: Vec<Value> = writable_paths(container)
        .into_iter()
        .map(|(volume, path)| json!({ "name": format!("{}{volume}", prefix(name, main)), "mountPath": path }))
        .collect();
    if !container.secrets.is_empty() {
        mounts.push(json!({ "name": "secrets", "mountPath": dir, "readOnly": true }));
    }
    if main {
        for v in &w.volumes {
            if let Some(path) = &v.value.path {
                mounts.push(mount_json(
                    &v.name,
                    path,
                    v.value.read_only || read_only_kind(&v.value.kind),
                ));
            }
        }
    }
    for m in &container.mounts {
        mounts.push(mount_json(&m.volume, &m.path, m.read_only));
    }
    let ports: Vec<Value> = container
        .ports
        .iter()
        .map(|p| json!({ "name": p.name, "containerPort": p.port.value, "protocol": p.protocol.transport() }))
        .collect();
    let image = container
        .image
        .as_ref()
        .map_or(w.image.as_str(), |i| i.as_str());
    let size = container
        .size
        .as_ref()
        .and_then(|s| ctx.spec.size(s))
        .unwrap_or(input.size);
    let probes = &container.probes;
    let lifecycle =
        (main && !w.kind.runs_to_completion() && defaults.pre_stop_seconds > 0).then(|| {
            // The sleep action needs no shell in the image (Kubernetes 1.30+).
            json!({ "preStop": { "sleep": { "seconds": defaults.pre_stop_seconds } } })
        });
    let non_empty = |v: &[String]| (!v.is_empty()).then(|| json!(v));
    obj([
        ("name", Some(json!(name))),
        ("image", Some(json!(image))),
        ("imagePullPolicy", Some(json!(defaults.image_pull_policy))),
        ("command", non_empty(&container.command)),
        ("args", non_empty(&container.args)),
        (
            "workingDir",
            container.working_dir.as_ref().map(|d| json!(d)),
        ),
        ("ports", (!ports.is_empty()).then_some(Value::Array(ports))),
        ("env", (!env.is_empty()).then_some(Value::Array(env))),
        ("envFrom", env_from),
        ("resources", Some(resources(size))),
        (
            "startupProbe",
            probe_json(ctx, w.kind, container, &probes.startup, |d| &d.startup),
        ),
        (
            "livenessProbe",
            probe_json(ctx, w.kind, container, &probes.liveness, |d| &d.liveness),
        ),
        (
            "readinessProbe",
            probe_json(ctx, w.kind, container, &probes.readiness, |d| &d.readiness),
        ),
        ("lifecycle", lifecycle),
        ("securityContext", Some(security_context(w))),
        ("volumeMounts", Some(Value::Array(mounts))),
    ])
}

fn prefix(name: &str, main: bool) -> String {
    if main {
        String::new()
    } else {
        format!("{name}-")
    }
}

fn read_only_kind(kind: &VolumeKind) -> bool {
    matches!(kind, VolumeKind::Config { .. } | VolumeKind::Secret { .. })
}

fn mount_json(volume: &str, path: &Located<String>, read_only: bool) -> Value {
    let mut m = json!({ "name": volume, "mountPath": path.value });
    if read_only {
        m["readOnly"] = json!(true);
    }
    m
}

fn security_context(w: &Workload) -> Value {
    let mut sc = container_security(w.security.read_only_root);
    if w.security.run_as_user == Some(0) {
        sc["runAsNonRoot"] = json!(false);
    }
    sc
}

/// The name of a per-object resource: a claim or ConfigMap of `volume`.
pub fn volume_object_name(object_name: &str, volume: &str) -> String {
    format!("{object_name}-{volume}")
}

/// The Secret and key a key of `[secrets]` is read from (see `facts::secret_source`).
fn secret_source(ctx: &Ctx<'_>, input: &PodInput<'_>, key: &str) -> (String, String) {
    crate::facts::secret_source(ctx.spec, input.key, input.object_name, key)
}

/// The `secrets` volume: each key a file named after it. Keys that live in another Secret (a password
/// CloudNativePG generated) make it a projected volume of the Secrets involved, still one folder.
fn secrets_volume(ctx: &Ctx<'_>, input: &PodInput<'_>, keys: &[&str]) -> Value {
    let mut sources: Vec<(String, Vec<Value>)> = Vec::new();
    for key in keys {
        let (secret, source_key) = secret_source(ctx, input, key);
        let item = json!({ "key": source_key, "path": key });
        match sources.iter_mut().find(|(s, _)| *s == secret) {
            Some((_, items)) => items.push(item),
            None => sources.push((secret, vec![item])),
        }
    }
    if let [(secret, items)] = sources.as_slice() {
        return json!({
            "name": "secrets",
            "secret": { "secretName": secret, "items": items, "defaultMode": 0o440 },
        });
    }
    let projected: Vec<Value> = sources
        .into_iter()
        .map(|(name, items)| json!({ "secret": { "name": name, "items": items } }))
        .collect();
    json!({ "name": "secrets", "projected": { "sources": projected, "defaultMode": 0o440 } })
}

/// The pod's volumes: writable paths of every container, the secrets, and the workload's volumes
/// (persistent ones of a stateful workload are claim templates instead).
fn volumes_json(ctx: &Ctx<'_>, input: &PodInput<'_>) -> Value {
    let w = input.workload;
    let mut volumes = Vec::new();
    let containers = std::iter::once((input.container_name, &w.main, true)).chain(
        w.containers
            .iter()
            .map(|c| (c.name.as_str(), &c.value, false)),
    );
    let mut secret_keys: Vec<&Located<String>> = Vec::new();
    for (name, c, main) in containers {
        for (volume, path) in writable_paths(c) {
            let limit = if path == TMP { "256Mi" } else { "1Gi" };
            volumes.push(json!({ "name": format!("{}{volume}", prefix(name, main)), "emptyDir": { "sizeLimit": limit } }));
        }
        for k in &c.secrets {
            if !secret_keys.iter().any(|s| s.value == k.value) {
                secret_keys.push(k);
            }
        }
    }
    if !secret_keys.is_empty() {
        let keys: Vec<&str> = secret_keys.iter().map(|k| k.as_str()).collect();
        volumes.push(secrets_volume(ctx, input, &keys));
    }
    for v in &w.volumes {
        let name = v.name.as_str();
        let source = match &v.value.kind {
            VolumeKind::Empty { size_limit, memory } => {
                let mut dir = Map::new();
                if *memory {
                    dir.insert("medium".into(), json!("Memory"));
                }
                if let Some(limit) = size_limit {
                    dir.insert("sizeLimit".into(), json!(limit.text));
                }
                ("emptyDir", Value::Object(dir))
            }
            VolumeKind::Persistent { .. } if w.kind == WorkloadKind::Stateful => continue,
            VolumeKind::Persistent { .. } => (
                "persistentVolumeClaim",
                json!({ "claimName": volume_object_name(input.object_name, name) }),
            ),
            VolumeKind::Config { .. } => (
                "configMap",
                json!({ "name": volume_object_name(input.object_name, name), "defaultMode": 0o444 }),
            ),
            VolumeKind::Secret { keys } => {
                let items: Vec<Value> = keys
                    .iter()
                    .map(|k| json!({ "key": k.value, "path": k.value }))
                    .collect();
                (
                    "secret",
                    json!({ "secretName": ctx.spec.secrets.name, "items": items, "defaultMode": 0o440 }),
                )
            }
        };
        let mut volume = Map::new();
        volume.insert("name".into(), json!(name));
        volume.insert(source.0.into(), source.1);
        volumes.push(Value::Object(volume));
    }
    Value::Array(volumes)
}

fn spread(input: &PodInput<'_>) -> Option<Value> {
    let w = input.workload;
    if !w.kind.has_replicas() {
        return None;
    }
    let keys: Vec<&str> = if w.pod.spread.is_empty() {
        vec!["host"]
    } else {
        w.pod.spread.iter().map(String::as_str).collect()
    };
    // The colour label (blue-green) is part of the selector when present, so each colour spreads alone.
    let selector = input
        .labels
        .selector(&[super::services::COLOR_LABEL])
        .to_json();
    let constraints: Vec<Value> = keys
        .into_iter()
        .map(|k| {
            let key = if k == "zone" {
                "topology.kubernetes.io/zone"
            } else {
                "kubernetes.io/hostname"
            };
            let mut c =
                json!({ "maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway" });
            c["labelSelector"] = object([("matchLabels", selector.clone())]);
            c
        })
        .collect();
    Some(Value::Array(constraints))
}

fn pairs(items: &[(String, String)]) -> Option<Value> {
    (!items.is_empty())
        .then(|| Value::Object(items.iter().map(|(k, v)| (k.clone(), json!(v))).collect()))
}

/// A pod template: labels, the config checksum, the service account and the hardened pod settings.
pub fn pod_template(ctx: &Ctx<'_>, input: &PodInput<'_>) -> Value {
    let w = input.workload;
    let defaults = &ctx.spec.defaults;
    let uid = w.security.run_as_user.unwrap_or(defaults.run_as_user);
    let gid = w.security.run_as_group.unwrap_or(uid);
    let mut security = pod_security(uid, gid, w.security.fs_group.unwrap_or(gid));
    if uid == 0 {
        security["runAsNonRoot"] = json!(false);
    }
    let mut init = Vec::new();
    let mut containers = vec![container_json(
        ctx,
        input,
        input.container_name,
        &w.main,
        true,
    )];
    for c in &w.containers {
        let json = container_json(ctx, input, &c.name, &c.value, false);
        if c.value.init {
            init.push(json);
        } else {
            containers.push(json);
        }
    }
    let tolerations: Vec<Value> = w
        .pod
        .tolerations
        .iter()
        .map(|t| {
            obj([
                ("key", t.key.as_ref().map(|k| json!(k))),
                ("operator", Some(json!(t.operator))),
                ("value", t.value.as_ref().map(|v| json!(v))),
                ("effect", t.effect.as_ref().map(|e| json!(e))),
            ])
        })
        .collect();
    let restart = match w.kind {
        WorkloadKind::Job | WorkloadKind::Cron => Some(json!("OnFailure")),
        _ => None,
    };
    let spec = obj([
        ("serviceAccountName", Some(json!(input.object_name))),
        ("automountServiceAccountToken", Some(json!(w.account.token))),
        ("enableServiceLinks", Some(json!(false))),
        (
            "priorityClassName",
            w.pod.priority_class.as_ref().map(|p| json!(p)),
        ),
        ("restartPolicy", restart),
        (
            "terminationGracePeriodSeconds",
            Some(json!(
                w.pod
                    .termination_grace_seconds
                    .unwrap_or(defaults.termination_grace_seconds)
            )),
        ),
        ("nodeSelector", pairs(&w.pod.node_selector)),
        (
            "tolerations",
            (!tolerations.is_empty()).then_some(Value::Array(tolerations)),
        ),
        ("securityContext", Some(security)),
        (
            "initContainers",
            (!init.is_empty()).then_some(Value::Array(init)),
        ),
        ("containers", Some(Value::Array(containers))),
        ("volumes", Some(volumes_json(ctx, input))),
        ("topologySpreadConstraints", spread(input)),
    ]);
    let mut annotations = json!({ "plat.dev/config-checksum": ctx.config_hash() });
    for (k, v) in &w.pod.annotations {
        annotations[k] = json!(v);
    }
    let mut labels = input.labels.clone();
    for (k, v) in &w.pod.labels {
        labels = labels.with_owned(k, v);
    }
    let metadata = object([("annotations", annotations), ("labels", labels.to_json())]);
    object([("metadata", metadata), ("spec", spec)])
}

pub fn service_account(
    ctx: &Ctx<'_>,
    name: &str,
    labels: &Labels,
    source: &str,
    origin: crate::source::Origin,
    w: Option<&Workload>,
) -> Value {
    let mut account = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "automountServiceAccountToken": w.is_some_and(|w| w.account.token),
    });
    account["metadata"] = ctx.metadata(name, labels, source, origin);
    if let Some(w) = w {
        for (k, v) in &w.account.annotations {
            account["metadata"]["annotations"][k] = json!(v);
        }
    }
    account
}

/// checkov's CKV_K8S_43 wants every image pinned by digest. plat requires a pinned release tag or a
/// digest (P0206); where the spec uses a tag, the workload says so, with the reason, instead of failing.
pub fn waive_digest_check(metadata: &mut Value, images: &[&str]) {
    if images.iter().all(|i| i.contains("@sha256:")) {
        return;
    }
    metadata["annotations"]["checkov.io/skip1"] = json!(
        "CKV_K8S_43=images are pinned by release tag, which plat enforces (P0206); write image@sha256:... to pin by digest"
    );
}

/// checkov's CKV_K8S_35 wants secrets as files, which is plat's default; a variable from a secret is
/// an explicit opt-in of the spec (`env.X = { secret = "KEY" }`), and the workload says so.
pub fn waive_secret_env_check(metadata: &mut Value, w: &Workload) {
    let containers = std::iter::once(&w.main).chain(w.containers.iter().map(|c| &c.value));
    let opted_in = containers
        .flat_map(|c| c.env.iter())
        .any(|e| matches!(e.value, EnvValue::Secret(_)));
    if opted_in {
        metadata["annotations"]["checkov.io/skip2"] = json!(
            "CKV_K8S_35=the spec opts these secret keys into environment variables explicitly; plat mounts secrets as files by default"
        );
    }
}

/// Every image a workload's pods run.
pub fn images<'a>(w: &'a Workload, main: &'a str) -> Vec<&'a str> {
    let mut images = vec![main];
    images.extend(
        w.containers
            .iter()
            .filter_map(|c| c.value.image.as_ref().map(|i| i.as_str())),
    );
    images
}
