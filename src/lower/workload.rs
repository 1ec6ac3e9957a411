//! Pod templates with the platform's hardened defaults: Pod Security Standards "restricted", read-only
//! root file system, secrets as files, probes, graceful shutdown.

use serde_json::{Value, json};

use super::{Ctx, Labels, config::config_map_name, obj, object};
use crate::decode::Located;
use crate::spec::{Probe, Size};

/// Secrets are mounted as files (not environment variables, which leak into crash dumps and child
/// processes); each key `K` is announced to the program as `K_FILE`.
pub fn secrets_dir(ctx: &Ctx<'_>) -> String {
    format!("/var/run/secrets/{}", ctx.spec.platform.name.value)
}

/// What differs between the workloads plat runs.
pub struct ContainerSpec<'a> {
    pub name: &'a str,
    pub image: &'a str,
    pub port: i64,
    pub size: &'a Size,
    pub probes: Option<(&'a Probe, &'a Probe)>,
    pub secret_keys: &'a [Located<String>],
    /// Extra ConfigMaps loaded into the environment after the platform's.
    pub extra_config_maps: Vec<String>,
}

pub fn resources(size: &Size) -> Value {
    json!({
        "requests": { "cpu": size.requests.cpu.text, "memory": size.requests.memory.text },
        "limits": { "cpu": size.limits.cpu.text, "memory": size.limits.memory.text },
    })
}

fn http_probe(probe: &Probe) -> Value {
    json!({
        "httpGet": { "path": probe.path, "port": "http" },
        "initialDelaySeconds": probe.initial_delay,
        "periodSeconds": probe.period,
        "timeoutSeconds": probe.timeout,
        "failureThreshold": probe.failures,
    })
}

pub fn container_security() -> Value {
    json!({
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "runAsNonRoot": true,
        "capabilities": { "drop": ["ALL"] },
        "seccompProfile": { "type": "RuntimeDefault" },
    })
}

pub fn pod_security(uid: i64) -> Value {
    json!({
        "runAsNonRoot": true,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": { "type": "RuntimeDefault" },
    })
}

/// The application container.
pub fn container(ctx: &Ctx<'_>, c: &ContainerSpec<'_>) -> Value {
    let defaults = &ctx.spec.defaults;
    let dir = secrets_dir(ctx);
    let env: Vec<Value> = c
        .secret_keys
        .iter()
        .map(|k| json!({ "name": format!("{}_FILE", k.value), "value": format!("{dir}/{}", k.value) }))
        .collect();
    let mut env_from = vec![json!({ "configMapRef": { "name": config_map_name(ctx.spec) } })];
    env_from.extend(
        c.extra_config_maps
            .iter()
            .map(|n| json!({ "configMapRef": { "name": n } })),
    );
    let mut mounts = vec![json!({ "name": "tmp", "mountPath": "/tmp" })];
    if !c.secret_keys.is_empty() {
        mounts.push(json!({ "name": "secrets", "mountPath": dir, "readOnly": true }));
    }
    obj([
        ("name", Some(json!(c.name))),
        ("image", Some(json!(c.image))),
        ("imagePullPolicy", Some(json!(defaults.image_pull_policy))),
        (
            "ports",
            Some(json!([{ "name": "http", "containerPort": c.port, "protocol": "TCP" }])),
        ),
        ("env", (!env.is_empty()).then_some(Value::Array(env))),
        ("envFrom", Some(Value::Array(env_from))),
        ("resources", Some(resources(c.size))),
        ("livenessProbe", c.probes.map(|(l, _)| http_probe(l))),
        ("readinessProbe", c.probes.map(|(_, r)| http_probe(r))),
        (
            "lifecycle",
            (defaults.pre_stop_seconds > 0).then(|| {
                // The sleep action needs no shell in the image (Kubernetes 1.30+).
                json!({ "preStop": { "sleep": { "seconds": defaults.pre_stop_seconds } } })
            }),
        ),
        ("securityContext", Some(container_security())),
        ("volumeMounts", Some(Value::Array(mounts))),
    ])
}

/// Volumes for a container built by [`container`].
pub fn volumes(ctx: &Ctx<'_>, secret_keys: &[Located<String>]) -> Value {
    let mut volumes = vec![json!({ "name": "tmp", "emptyDir": { "sizeLimit": "256Mi" } })];
    if !secret_keys.is_empty() {
        let items: Vec<Value> = secret_keys
            .iter()
            .map(|k| json!({ "key": k.value, "path": k.value }))
            .collect();
        volumes.push(json!({
            "name": "secrets",
            "secret": { "secretName": ctx.spec.secrets.name, "items": items, "defaultMode": 0o440 },
        }));
    }
    json!(volumes)
}

/// A pod template: labels, the config checksum, the service account and the hardened pod settings.
pub fn pod_template(
    ctx: &Ctx<'_>,
    labels: &Labels,
    service_account: &str,
    automount_token: bool,
    container: Value,
    volumes: Value,
) -> Value {
    let defaults = &ctx.spec.defaults;
    // The colour label (blue-green) is part of the selector when present, so each colour spreads alone.
    let selector = labels.selector(&[super::services::COLOR_LABEL]).to_json();
    let mut spread = json!({
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "ScheduleAnyway",
    });
    spread["labelSelector"] = object([("matchLabels", selector)]);
    let mut spec = json!({
        "serviceAccountName": service_account,
        "automountServiceAccountToken": automount_token,
        "enableServiceLinks": false,
        "terminationGracePeriodSeconds": defaults.termination_grace_seconds,
    });
    spec["securityContext"] = pod_security(defaults.run_as_user);
    spec["containers"] = Value::Array(vec![container]);
    spec["volumes"] = volumes;
    spec["topologySpreadConstraints"] = Value::Array(vec![spread]);
    let mut metadata = json!({ "annotations": { "plat.dev/config-checksum": ctx.config_hash() } });
    metadata["labels"] = labels.to_json();
    object([("metadata", metadata), ("spec", spec)])
}

pub fn service_account(
    ctx: &Ctx<'_>,
    name: &str,
    labels: &Labels,
    source: &str,
    origin: crate::source::Origin,
    automount: bool,
) -> Value {
    let mut account = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "automountServiceAccountToken": automount,
    });
    account["metadata"] = ctx.metadata(name, labels, source, origin);
    account
}

pub fn cluster_ip_service(
    ctx: &Ctx<'_>,
    name: &str,
    labels: &Labels,
    selector: Value,
    port: i64,
    source: &str,
    origin: crate::source::Origin,
) -> Value {
    let mut service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "spec": {
            "type": "ClusterIP",
            "ports": [{ "name": "http", "port": port, "targetPort": "http", "protocol": "TCP" }],
        },
    });
    service["metadata"] = ctx.metadata(name, labels, source, origin);
    service["spec"]["selector"] = selector;
    service
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
