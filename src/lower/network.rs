//! Network policies derived from the topology: everything is denied, then DNS is allowed, then each
//! workload accepts traffic from whoever lists it in `talks_to` (and the ingress controller, the
//! monitoring namespace and kube-system where the spec says so) and sends only to what it lists.

use serde_json::{Value, json};

use super::config::MINIO_PORT;
use super::{Ctx, Labels, Unit};
use crate::source::Origin;
use crate::validate::ASTRBOT_TARGET;

pub const REDIS_BUS_PORT: i64 = 16379;
pub const REDIS_EXPORTER_PORT: i64 = 9121;
pub const POSTGRES_STATUS_PORT: i64 = 8000;
pub const POSTGRES_METRICS_PORT: i64 = 9187;

/// Something pods can talk to: a pod selector and the ports it serves.
pub struct Peer {
    pub selector: Value,
    pub ports: Vec<i64>,
}

fn tcp(ports: &[i64]) -> Value {
    json!(
        ports
            .iter()
            .map(|p| json!({ "protocol": "TCP", "port": p }))
            .collect::<Vec<_>>()
    )
}

fn match_labels(pairs: &[(&str, &str)]) -> Value {
    let map: serde_json::Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({ "matchLabels": map })
}

/// The pods behind a name that `talks_to` may use.
pub fn peer(ctx: &Ctx<'_>, target: &str) -> Option<Peer> {
    let spec = ctx.spec;
    if let Some(service) = spec.services.iter().find(|s| s.name == target) {
        return Some(Peer {
            selector: match_labels(&[("app.kubernetes.io/name", target)]),
            ports: vec![super::services::port_of(ctx, &service.value)],
        });
    }
    match target {
        "postgresql" => spec.postgresql.as_ref().map(|pg| Peer {
            selector: match_labels(&[("cnpg.io/cluster", pg.name.as_str())]),
            ports: vec![pg.port],
        }),
        "redis" => spec.redis.as_ref().map(|r| Peer {
            selector: redis_selector(&r.name),
            ports: vec![r.port],
        }),
        "minio" => spec.minio.as_ref().map(|m| Peer {
            selector: match_labels(&[
                ("app.kubernetes.io/name", "minio"),
                ("app.kubernetes.io/instance", m.name.as_str()),
            ]),
            ports: vec![MINIO_PORT],
        }),
        ASTRBOT_TARGET => spec.astrbot.as_ref().map(|a| Peer {
            selector: match_labels(&[("app.kubernetes.io/name", "astrbot")]),
            ports: vec![if a.port > 0 {
                a.port
            } else {
                spec.defaults.port
            }],
        }),
        _ => None,
    }
}

/// The opstree operator labels leader pods `app: <name>-leader` and followers `app: <name>-follower`.
fn redis_selector(name: &str) -> Value {
    json!({ "matchExpressions": [{
        "key": "app",
        "operator": "In",
        "values": [format!("{name}-follower"), format!("{name}-leader")],
    }] })
}

/// Selectors of the workloads that list `target` in their `talks_to`.
fn clients_of(ctx: &Ctx<'_>, target: &str) -> Vec<Value> {
    let spec = ctx.spec;
    let mut clients: Vec<Value> = spec
        .services
        .iter()
        .filter(|s| s.value.talks_to.iter().any(|t| t.as_str() == target))
        .map(|s| match_labels(&[("app.kubernetes.io/name", s.name.as_str())]))
        .collect();
    if let Some(astrbot) = &spec.astrbot
        && astrbot.talks_to.iter().any(|t| t.as_str() == target)
    {
        clients.push(match_labels(&[("app.kubernetes.io/name", "astrbot")]));
    }
    clients
}

fn from_pods(selectors: Vec<Value>, ports: &[i64]) -> Option<Value> {
    (!selectors.is_empty()).then(|| {
        let from: Vec<Value> = selectors
            .into_iter()
            .map(|s| json!({ "podSelector": s }))
            .collect();
        json!({ "from": from, "ports": tcp(ports) })
    })
}

fn from_namespace(namespace: &str, ports: &[i64]) -> Value {
    json!({
        "from": [{ "namespaceSelector": match_labels(&[("kubernetes.io/metadata.name", namespace)]) }],
        "ports": tcp(ports),
    })
}

fn to_peer(peer: &Peer) -> Value {
    json!({ "to": [{ "podSelector": peer.selector }], "ports": tcp(&peer.ports) })
}

/// What a policy selects and allows.
struct Rules {
    selector: Value,
    ingress: Vec<Value>,
    egress: Vec<Value>,
}

fn policy(
    ctx: &Ctx<'_>,
    name: &str,
    labels: &Labels,
    source: &str,
    origin: Origin,
    rules: Rules,
) -> Value {
    let Rules {
        selector,
        ingress,
        egress,
    } = rules;
    let mut policy = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "spec": { "policyTypes": ["Ingress", "Egress"] },
    });
    policy["metadata"] = ctx.metadata(name, labels, source, origin);
    policy["spec"]["podSelector"] = selector;
    policy["spec"]["ingress"] = Value::Array(ingress);
    policy["spec"]["egress"] = Value::Array(egress);
    policy
}

/// Ingress rules every application workload gets besides its clients: metrics scraping from the
/// monitoring namespace and, when the spec keeps the seed's rule, kube-system.
fn common_ingress(ctx: &Ctx<'_>, port: i64) -> Vec<Value> {
    let network = &ctx.spec.network;
    let mut rules = vec![from_namespace(&network.monitoring_namespace, &[port])];
    if network.allow_from_kube_system {
        rules.push(from_namespace("kube-system", &[port]));
    }
    rules
}

fn egress_to(ctx: &Ctx<'_>, targets: &[crate::decode::Located<String>]) -> Vec<Value> {
    targets
        .iter()
        .filter_map(|t| peer(ctx, t))
        .map(|p| to_peer(&p))
        .collect()
}

/// The namespace-wide default deny and the DNS allowance.
pub fn baseline(ctx: &Ctx<'_>) -> Unit {
    let env = &ctx.spec.environment;
    let name = ctx.spec.platform.name.as_str();
    let labels = Labels::standard(name, name, "network-policy", name, None);
    let origin = env.origin;
    let deny = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": ctx.metadata("default-deny-all", &labels, "network", origin),
        "spec": { "podSelector": {}, "policyTypes": ["Ingress", "Egress"] },
    });
    let dns_peer = json!({
        "namespaceSelector": match_labels(&[("kubernetes.io/metadata.name", ctx.spec.network.dns_namespace.as_str())]),
        "podSelector": match_labels(&[("k8s-app", "kube-dns")]),
    });
    let dns = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": ctx.metadata("allow-dns", &labels, "network", origin),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{
                "to": [dns_peer],
                "ports": [{ "protocol": "UDP", "port": 53 }, { "protocol": "TCP", "port": 53 }],
            }],
        },
    });
    Unit {
        file: "platform/network-policies.yaml".into(),
        objects: vec![ctx.object(deny, origin), ctx.object(dns, origin)],
    }
}

/// The policy of one service: its clients (and the ingress controller if it is the Ingress backend).
pub fn service_policy(
    ctx: &Ctx<'_>,
    name: &str,
    service: &crate::spec::Service,
    labels: &Labels,
    origin: Origin,
) -> Value {
    let port = super::services::port_of(ctx, service);
    let mut ingress: Vec<Value> = from_pods(clients_of(ctx, name), &[port])
        .into_iter()
        .collect();
    if ctx
        .spec
        .ingress
        .as_ref()
        .is_some_and(|i| i.backend.as_str() == name)
    {
        ingress.push(from_namespace(
            &ctx.spec.network.ingress_controller_namespace,
            &[port],
        ));
    }
    ingress.extend(common_ingress(ctx, port));
    let selector = match_labels(&[("app.kubernetes.io/name", name)]);
    policy(
        ctx,
        name,
        labels,
        &format!("services.{name}.talks_to"),
        origin,
        Rules {
            selector,
            ingress,
            egress: egress_to(ctx, &service.talks_to),
        },
    )
}

/// The policy of one tenant's AstrBot instance: reached by the services that talk to `astrbot`,
/// reaching what the template lists; tenants never reach each other.
pub fn tenant_policy(
    ctx: &Ctx<'_>,
    object_name: &str,
    tenant: &str,
    labels: &Labels,
    origin: Origin,
) -> Value {
    let astrbot = ctx.spec.astrbot.as_ref().expect("tenants need astrbot");
    let port = if astrbot.port > 0 {
        astrbot.port
    } else {
        ctx.spec.defaults.port
    };
    let mut ingress: Vec<Value> = from_pods(clients_of(ctx, ASTRBOT_TARGET), &[port])
        .into_iter()
        .collect();
    ingress.extend(common_ingress(ctx, port));
    let selector = match_labels(&[("app.kubernetes.io/instance", object_name)]);
    policy(
        ctx,
        object_name,
        labels,
        &format!("tenants.{tenant}"),
        origin,
        Rules {
            selector,
            ingress,
            egress: egress_to(ctx, &astrbot.talks_to),
        },
    )
}

/// A data store's policy: its clients, its own pods (replication), its operator, and metrics.
pub struct StorePolicy<'a> {
    pub name: &'a str,
    pub target: &'a str,
    pub labels: &'a Labels,
    pub origin: Origin,
    pub peer_ports: Vec<i64>,
    pub operator_namespace: Option<(&'a str, Vec<i64>)>,
    pub metrics_port: Option<i64>,
    pub needs_api_server: bool,
    pub extra_egress: Vec<Value>,
}

pub fn store_policy(ctx: &Ctx<'_>, p: StorePolicy<'_>) -> Value {
    let own = peer(ctx, p.target).expect("store is declared");
    let self_rule =
        json!({ "from": [{ "podSelector": own.selector }], "ports": tcp(&p.peer_ports) });
    let mut ingress: Vec<Value> = from_pods(clients_of(ctx, p.target), &own.ports)
        .into_iter()
        .collect();
    if p.target == "minio"
        && ctx
            .spec
            .postgresql
            .as_ref()
            .is_some_and(|pg| pg.backup.is_some())
        && let Some(pg) = peer(ctx, "postgresql")
    {
        ingress
            .push(json!({ "from": [{ "podSelector": pg.selector }], "ports": tcp(&[MINIO_PORT]) }));
    }
    ingress.push(self_rule.clone());
    if let Some((ns, ports)) = &p.operator_namespace {
        ingress.push(from_namespace(ns, ports));
    }
    if let Some(port) = p.metrics_port {
        ingress.push(from_namespace(
            &ctx.spec.network.monitoring_namespace,
            &[port],
        ));
    }
    let mut egress =
        vec![json!({ "to": [{ "podSelector": own.selector }], "ports": tcp(&p.peer_ports) })];
    if p.needs_api_server {
        egress.push(json!({
            "to": [{ "ipBlock": { "cidr": ctx.spec.network.api_server_cidr } }],
            "ports": tcp(&[443, 6443]),
        }));
    }
    egress.extend(p.extra_egress);
    policy(
        ctx,
        p.name,
        p.labels,
        p.target,
        p.origin,
        Rules {
            selector: own.selector.clone(),
            ingress,
            egress,
        },
    )
}

pub fn egress_to_minio(ctx: &Ctx<'_>) -> Option<Value> {
    peer(ctx, "minio").map(|p| to_peer(&p))
}
