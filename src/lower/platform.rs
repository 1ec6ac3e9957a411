//! Platform-wide objects: the Namespace, secret references and the Ingress.

use serde_json::{Value, json};

use super::{Ctx, Labels, Unit};
use crate::facts::database_credentials_name;
use crate::spec::{SecretAddressing, SecretProvider, StoreKind};

/// The Kubernetes version whose Pod Security Standards the namespace enforces.
pub const PSS_VERSION: &str = "v1.33";

fn platform_labels(ctx: &Ctx<'_>, component: &str) -> Labels {
    let name = ctx.spec.platform.name.as_str();
    Labels::standard(name, name, component, name, None)
}

pub fn namespace(ctx: &Ctx<'_>) -> Unit {
    let env = &ctx.spec.environment;
    let mut labels = platform_labels(ctx, "namespace").to_json();
    for mode in ["enforce", "audit", "warn"] {
        labels[format!("pod-security.kubernetes.io/{mode}")] = json!("restricted");
        labels[format!("pod-security.kubernetes.io/{mode}-version")] = json!(PSS_VERSION);
    }
    labels["plat.dev/environment"] = json!(env.name);
    let value = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": ctx.namespace,
            "labels": labels,
            "annotations": { super::SOURCE_ANNOTATION: ctx.source_of("environment.namespace", env.namespace.origin) },
        },
    });
    Unit {
        file: "namespace.yaml".into(),
        objects: vec![ctx.object(value, env.namespace.origin)],
    }
}

/// Secret values never pass through plat. With `existing`, workloads reference a Secret made by hand;
/// with `external-secrets`, plat writes ExternalSecret objects that name where each value lives.
pub fn secrets(ctx: &Ctx<'_>) -> Option<Unit> {
    let secrets = &ctx.spec.secrets;
    if secrets.provider != SecretProvider::ExternalSecrets || secrets.keys.is_empty() {
        return None;
    }
    let labels = platform_labels(ctx, "secrets");
    let data: Vec<Value> = secrets
        .keys
        .iter()
        .map(|k| json!({ "secretKey": k.value, "remoteRef": remote_ref(ctx, &k.value) }))
        .collect();
    let mut objects = vec![ctx.object(
        external_secret(
            ctx,
            &secrets.name,
            &labels,
            json!({ "name": secrets.name, "creationPolicy": "Owner" }),
            data,
        ),
        secrets.origin,
    )];
    objects.extend(database_credentials(ctx, &labels));
    Some(Unit {
        file: "platform/secrets.yaml".into(),
        objects,
    })
}

/// Where one value lives in the store, as the store addresses values (`secrets.addressing`).
pub(super) fn remote_ref(ctx: &Ctx<'_>, key: &str) -> Value {
    match ctx.spec.secrets.addressing {
        SecretAddressing::Key => json!({ "key": remote_key(ctx, key) }),
        SecretAddressing::Property => json!({
            "key": ctx.spec.secrets.remote_prefix.trim_end_matches('/'),
            "property": key,
        }),
    }
}

fn remote_key(ctx: &Ctx<'_>, key: &str) -> String {
    let prefix = ctx.spec.secrets.remote_prefix.trim_end_matches('/');
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}/{key}")
    }
}

pub(super) fn external_secret(
    ctx: &Ctx<'_>,
    name: &str,
    labels: &Labels,
    target: Value,
    data: Vec<Value>,
) -> Value {
    let secrets = &ctx.spec.secrets;
    let store = secrets
        .store
        .as_ref()
        .map(|s| s.value.clone())
        .unwrap_or_default();
    let mut secret = json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": ctx.metadata(name, labels, "secrets", secrets.origin),
        "spec": {
            "refreshInterval": secrets.refresh_interval,
            "secretStoreRef": { "name": store, "kind": secrets.store_kind },
        },
    });
    // Moved in, not through `json!` (which would serialize a copy): a batch of accounts has hundreds.
    secret["spec"]["target"] = target;
    secret["spec"]["data"] = Value::Array(data);
    secret
}

/// CloudNativePG wants the owner's credentials as a `kubernetes.io/basic-auth` Secret; it is made from
/// the same `DB_PASSWORD` the services read, so the two cannot drift apart.
fn database_credentials(ctx: &Ctx<'_>, labels: &Labels) -> Vec<super::Object> {
    let mut out = Vec::new();
    for store in &ctx.spec.stores {
        let StoreKind::Postgres(pg) = &store.value.kind else {
            continue;
        };
        let Some(key) = &pg.password_key else {
            continue;
        };
        let name = database_credentials_name(&store.value.name);
        let target = json!({
            "name": name,
            "creationPolicy": "Owner",
            "template": {
                "type": "kubernetes.io/basic-auth",
                "data": { "username": pg.owner, "password": "{{ .password }}" },
            },
        });
        let data =
            vec![json!({ "secretKey": "password", "remoteRef": remote_ref(ctx, &key.value) })];
        let value = external_secret(ctx, &name, labels, target, data);
        out.push(ctx.object(value, store.value.origin));
    }
    out
}

/// The backend port the Ingress sends to: the one it names, or the backend's first exposed port.
fn ingress_port(ctx: &Ctx<'_>, ingress: &crate::spec::Ingress) -> String {
    if let Some(port) = &ingress.port {
        return port.value.clone();
    }
    ctx.spec
        .workload(&ingress.backend)
        .and_then(|w| w.service_ports().next())
        .map_or_else(|| "http".to_string(), |p| p.name.clone())
}

pub fn ingress(ctx: &Ctx<'_>) -> Option<Unit> {
    let ingress = ctx.spec.ingress.as_ref()?;
    let mut annotations = json!({
        super::SOURCE_ANNOTATION: ctx.source_of("ingress", ingress.origin),
        "cert-manager.io/cluster-issuer": ingress.tls_issuer,
    });
    if let Some(rps) = ingress.rate_limit_rps {
        // ingress-nginx knows `limit-rps` (requests per second per client IP); the seed's `rate-limit`
        // annotation is not one ingress-nginx reads.
        annotations["nginx.ingress.kubernetes.io/limit-rps"] = json!(rps.to_string());
    }
    let labels = platform_labels(ctx, "ingress");
    let mut metadata = ctx.metadata(
        ctx.spec.platform.name.as_str(),
        &labels,
        "ingress",
        ingress.origin,
    );
    metadata["annotations"] = annotations;
    let value = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata,
        "spec": {
            "ingressClassName": ingress.class,
            "tls": [{ "hosts": [ingress.host.value], "secretName": ingress.tls_secret }],
            "rules": [{
                "host": ingress.host.value,
                "http": { "paths": [{
                    "path": "/",
                    "pathType": "Prefix",
                    "backend": { "service": { "name": ingress.backend.value, "port": { "name": ingress_port(ctx, ingress) } } },
                }] },
            }],
        },
    });
    Some(Unit {
        file: "platform/ingress.yaml".into(),
        objects: vec![ctx.object(value, ingress.origin)],
    })
}
