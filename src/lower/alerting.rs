//! The Alertmanager that runs the platform's routing (`[alerting.alertmanager]`): with `mode =
//! "managed"` a Prometheus Operator `Alertmanager` in the platform's namespace, beside the credentials it
//! mounts, with its NetworkPolicy; with `mode = "existing"` only the credentials, in the namespace of the
//! Alertmanager that gets the configuration. The configuration itself is written by
//! `observe::routing` from the same facts (`facts::alerting_facts`).

use serde_json::{Value, json};

use super::{Ctx, Labels, Unit};
use crate::facts::{AlertingFacts, alerting_facts};
use crate::kit::security::pod_security;
use crate::source::Origin;
use crate::spec::SecretProvider;

/// Where the objects are written, relative to `generated/<env>/kubernetes/`.
pub const FILE: &str = "monitoring/alertmanager.yaml";

/// What the Alertmanager container asks for without a `size`: it holds alerts and silences in memory
/// and its notification log on disk, a few MiB for a platform's alerts.
const DEFAULT_RESOURCES: (&str, &str, &str, &str) = ("50m", "128Mi", "200m", "256Mi");

/// How long silences and the notification log are kept (the operator's default).
const RETENTION: &str = "120h";

pub fn unit(ctx: &Ctx<'_>) -> Option<Unit> {
    let routing = ctx.spec.observe.routing.as_ref()?;
    let alerting = alerting_facts(ctx.spec)?;
    let origin = routing.alertmanager.origin.unwrap_or(routing.origin);
    let platform = ctx.spec.platform.name.as_str();
    let labels = Labels::standard("alertmanager", &alerting.name, "monitoring", platform, None);
    let mut objects = Vec::new();
    if let Some(secret) = credentials(ctx, &alerting, &labels) {
        objects.push(ctx.object(secret, ctx.spec.secrets.origin));
    }
    if alerting.managed {
        objects.push(ctx.object(alertmanager(ctx, &alerting, &labels, origin), origin));
        let policy = super::network::alertmanager_policy(ctx, &alerting, &labels, origin);
        objects.push(ctx.object(policy, origin));
    }
    (!objects.is_empty()).then(|| Unit {
        file: FILE.to_string(),
        objects,
    })
}

/// Only the keys the configuration reads, fetched into the Alertmanager's namespace. With `existing`
/// secrets this Secret is made by hand (the configuration's header lists its keys).
fn credentials(ctx: &Ctx<'_>, alerting: &AlertingFacts, labels: &Labels) -> Option<Value> {
    if ctx.spec.secrets.provider != SecretProvider::ExternalSecrets
        || alerting.secret_keys.is_empty()
    {
        return None;
    }
    let data: Vec<Value> = alerting
        .secret_keys
        .iter()
        .map(|k| json!({ "secretKey": k, "remoteRef": super::platform::remote_ref(ctx, k) }))
        .collect();
    let target = json!({ "name": alerting.credentials_secret, "creationPolicy": "Owner" });
    let mut secret =
        super::platform::external_secret(ctx, &alerting.credentials_secret, labels, target, data);
    secret["metadata"]["namespace"] = json!(alerting.namespace);
    secret["metadata"]["annotations"][super::SOURCE_ANNOTATION] =
        json!(ctx.source_of("alerting", ctx.spec.secrets.origin));
    Some(secret)
}

/// The operator builds a StatefulSet from this: its pods take `securityContext` unchanged (no default
/// is added) and harden each container themselves (`src/operator_pods.rs`); the configuration is the
/// Secret `observe::routing` writes, the credentials are mounted under `/etc/alertmanager/secrets/`.
fn alertmanager(ctx: &Ctx<'_>, alerting: &AlertingFacts, labels: &Labels, origin: Origin) -> Value {
    let spec = ctx.spec;
    let setup = &spec
        .observe
        .routing
        .as_ref()
        .expect("alerting facts come from [alerting]")
        .alertmanager;
    let resources = match setup.size.as_ref().and_then(|s| spec.size(s)) {
        Some(size) => super::workload::resources(size),
        None => {
            let (cpu, memory, cpu_limit, memory_limit) = DEFAULT_RESOURCES;
            json!({
                "requests": { "cpu": cpu, "memory": memory },
                "limits": { "cpu": cpu_limit, "memory": memory_limit },
            })
        }
    };
    let uid = spec.defaults.run_as_user;
    let mut am = json!({
        "replicas": setup.replicas,
        "configSecret": alerting.config_secret,
        "resources": resources,
        "retention": RETENTION,
        "portName": "web",
        "securityContext": pod_security(uid, uid, uid),
        // Alertmanager never calls the API server.
        "automountServiceAccountToken": false,
        // The operator sets the pods' name, instance and managed-by labels itself (its selector).
        "podMetadata": { "labels": {
            "app.kubernetes.io/part-of": ctx.spec.platform.name.value,
            "app.kubernetes.io/component": "monitoring",
        } },
    });
    if !alerting.secret_keys.is_empty() {
        am["secrets"] = json!([alerting.credentials_secret]);
    }
    if let Some(image) = &setup.image {
        am["image"] = json!(image.value);
    }
    json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Alertmanager",
        "metadata": ctx.metadata(&alerting.name, labels, "alerting.alertmanager", origin),
        "spec": am,
    })
}
