//! Network policies derived from the topology: everything is denied, then DNS is allowed, then each
//! workload accepts traffic from whoever lists it in `talks_to` (and the ingress controller, the
//! monitoring namespace and kube-system where the spec says so) and sends only to what it lists.

use serde_json::{Value, json};

use super::services::Target;
use super::{Ctx, Labels, Unit};
use crate::facts::{
    ALERTMANAGER_MESH_PORT, ALERTMANAGER_WEB_PORT, AlertingFacts, Endpoint, UrlTarget,
    alertmanager_selector, fleet_instances_selector, workload_selector,
};
use crate::source::Origin;
use crate::spec::{Fleet, Workload};

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

/// The selectors of the workloads and fleets that list `target` in their `talks_to`.
fn clients_of(ctx: &Ctx<'_>, target: &str) -> Vec<Value> {
    let spec = ctx.spec;
    let lists =
        |talks_to: &[crate::decode::Located<String>]| talks_to.iter().any(|t| t.as_str() == target);
    let workloads = spec
        .workloads
        .iter()
        .filter(|w| lists(&w.value.talks_to))
        .map(|w| workload_selector(&w.name));
    let fleets = spec
        .fleets
        .iter()
        .filter(|f| lists(&f.value.template.talks_to))
        .map(|f| workload_selector(&f.name));
    workloads.chain(fleets).collect()
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

fn with_protocol(ports: &[(i64, &str)]) -> Value {
    json!(
        ports
            .iter()
            .map(|(p, proto)| json!({ "protocol": proto, "port": p }))
            .collect::<Vec<_>>()
    )
}

/// Egress to one endpoint: its pods on the ports they listen on, or its CIDRs outside the cluster.
fn to_endpoint(endpoint: &Endpoint) -> Value {
    let to: Vec<Value> = match &endpoint.selector {
        Some(selector) => vec![json!({ "podSelector": selector })],
        None => endpoint
            .cidrs
            .iter()
            .map(|c| json!({ "ipBlock": { "cidr": c } }))
            .collect(),
    };
    json!({ "to": to, "ports": with_protocol(&endpoint.ports) })
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
fn common_ingress(ctx: &Ctx<'_>, ports: &[i64]) -> Vec<Value> {
    let network = &ctx.spec.network;
    let mut rules = vec![from_namespace(&network.monitoring_namespace, ports)];
    if network.allow_from_kube_system {
        rules.push(from_namespace("kube-system", ports));
    }
    rules
}

fn egress_to(ctx: &Ctx<'_>, targets: &[crate::decode::Located<String>]) -> Vec<Value> {
    targets
        .iter()
        .filter_map(|t| ctx.inventory.endpoint(t))
        .map(to_endpoint)
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

/// The policy of one workload: its clients, the ingress controller when it is the Ingress backend,
/// whoever `reachable_from` names, and monitoring; egress to what it talks to.
pub fn workload_policy(ctx: &Ctx<'_>, t: &Target<'_>) -> Value {
    policy(
        ctx,
        &t.object_name,
        &t.labels,
        &format!("{}.talks_to", t.source),
        t.origin,
        rules_of(ctx, t.key, t.workload, workload_selector(t.key)),
    )
}

/// One policy for all of a fleet's instances: they share the template's ports and `talks_to` (a
/// plan changes only volumes), so one set of rules selects every instance's pods. 10,000 tenants
/// make one NetworkPolicy, not 10,000 identical ones for the API server and the network plugin.
pub fn fleet_policy(ctx: &Ctx<'_>, key: &str, fleet: &Fleet, origin: Origin) -> Value {
    let w = &fleet.template;
    let labels = Labels::standard(
        key,
        key,
        &w.component,
        ctx.spec.platform.name.as_str(),
        None,
    );
    policy(
        ctx,
        key,
        &labels,
        &format!("fleets.{key}.talks_to"),
        origin,
        rules_of(ctx, key, w, fleet_instances_selector(key)),
    )
}

fn rules_of(ctx: &Ctx<'_>, key: &str, w: &Workload, selector: Value) -> Rules {
    let ports: Vec<(i64, &str)> = w
        .ports()
        .iter()
        .map(|p| (p.port.value, p.protocol.transport()))
        .collect();
    let mut ingress = Vec::new();
    if !ports.is_empty() {
        let numbers: Vec<i64> = ports.iter().map(|(p, _)| *p).collect();
        if let Some(rule) = from_pods(clients_of(ctx, key), &numbers) {
            ingress.push(json!({ "from": rule["from"], "ports": with_protocol(&ports) }));
        }
        let backend = ctx
            .spec
            .ingress
            .as_ref()
            .is_some_and(|i| i.backend.as_str() == key);
        if backend {
            ingress.push(from_namespace(
                &ctx.spec.network.ingress_controller_namespace,
                &numbers,
            ));
        }
        for from in &w.reachable_from {
            ingress.push(reachable_rule(ctx, from, &ports));
        }
        ingress.extend(from_alertmanager(ctx, key));
        ingress.extend(common_ingress(ctx, &numbers));
    }
    Rules {
        selector,
        ingress,
        egress: egress_to(ctx, &w.talks_to),
    }
}

/// `internet` (any address, for a LoadBalancer), `ingress` (the ingress controller) or
/// `namespace:<name>`.
fn reachable_rule(ctx: &Ctx<'_>, from: &str, ports: &[(i64, &str)]) -> Value {
    let numbers: Vec<i64> = ports.iter().map(|(p, _)| *p).collect();
    match from {
        "internet" => {
            json!({ "from": [{ "ipBlock": { "cidr": "0.0.0.0/0" } }], "ports": with_protocol(ports) })
        }
        "ingress" => from_namespace(&ctx.spec.network.ingress_controller_namespace, &numbers),
        other => from_namespace(other.strip_prefix("namespace:").unwrap_or(other), &numbers),
    }
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
    /// Pods of plat's own that reach the store besides its clients (the accounts' provisioning Job).
    pub extra_ingress: Vec<Value>,
}

pub fn store_policy(ctx: &Ctx<'_>, p: StorePolicy<'_>) -> Value {
    let own = ctx.inventory.endpoint(p.target).expect("store is declared");
    let own_selector = own.selector.clone().unwrap_or_else(|| json!({}));
    let own_ports: Vec<i64> = own.ports.iter().map(|(p, _)| *p).collect();
    let self_rule =
        json!({ "from": [{ "podSelector": own_selector }], "ports": tcp(&p.peer_ports) });
    let mut ingress: Vec<Value> = from_pods(clients_of(ctx, p.target), &own_ports)
        .into_iter()
        .collect();
    // Databases that keep their backups in this store.
    for backer in backups_into(ctx, p.target) {
        ingress.push(json!({ "from": [{ "podSelector": backer }], "ports": tcp(&own_ports) }));
    }
    ingress.extend(p.extra_ingress);
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
        vec![json!({ "to": [{ "podSelector": own_selector }], "ports": tcp(&p.peer_ports) })];
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
        &format!("stores.{}", p.target),
        p.origin,
        Rules {
            selector: own_selector.clone(),
            ingress,
            egress,
        },
    )
}

/// Selectors of the PostgreSQL stores whose backups go to `store`.
fn backups_into(ctx: &Ctx<'_>, store: &str) -> Vec<Value> {
    ctx.spec
        .stores
        .iter()
        .filter(|s| match &s.value.kind {
            crate::spec::StoreKind::Postgres(pg) => {
                pg.backup.as_ref().is_some_and(|b| b.to.as_str() == store)
            }
            _ => false,
        })
        .map(|s| crate::facts::store_selector(&s.value))
        .collect()
}

/// Egress to the store named `key`, for a store that writes to another (backups).
pub fn egress_to_store(ctx: &Ctx<'_>, key: &str) -> Option<Value> {
    ctx.inventory.endpoint(key).map(to_endpoint)
}

/// A workload that receives the Alertmanager's webhooks accepts it on the port the URL leads to: its
/// pods when plat runs the Alertmanager, its namespace when an existing one gets the configuration.
fn from_alertmanager(ctx: &Ctx<'_>, key: &str) -> Vec<Value> {
    let Some(alerting) = crate::facts::alerting_facts(ctx.spec) else {
        return Vec::new();
    };
    let mut ports: Vec<i64> = ctx
        .inventory
        .destinations(ctx.spec)
        .iter()
        .filter_map(|t| match t {
            UrlTarget::Platform { endpoint, pod_port } if endpoint == key => Some(*pod_port),
            _ => None,
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    if ports.is_empty() {
        return Vec::new();
    }
    if alerting.managed {
        let from = json!([{ "podSelector": alertmanager_selector(&alerting.name) }]);
        vec![json!({ "from": from, "ports": tcp(&ports) })]
    } else {
        vec![from_namespace(&alerting.namespace, &ports)]
    }
}

/// The mesh port on both transports: Alertmanager peers gossip over TCP and UDP.
fn mesh_ports() -> Value {
    json!([
        { "protocol": "TCP", "port": ALERTMANAGER_MESH_PORT },
        { "protocol": "UDP", "port": ALERTMANAGER_MESH_PORT },
    ])
}

/// The policy of the Alertmanager plat runs: Prometheus (the monitoring namespace) posts alerts to the
/// web port, peers gossip on the mesh port, and it sends to the SMTP server, Slack and the webhooks of
/// `[alerting]`. A destination outside the cluster is any address on its port (a NetworkPolicy cannot
/// name a host); one inside goes to the pods or namespace its URL resolves to.
pub fn alertmanager_policy(
    ctx: &Ctx<'_>,
    alerting: &AlertingFacts,
    labels: &Labels,
    origin: Origin,
) -> Value {
    let own = alertmanager_selector(&alerting.name);
    let ingress = vec![
        from_namespace(
            &ctx.spec.network.monitoring_namespace,
            &[ALERTMANAGER_WEB_PORT],
        ),
        json!({ "from": [{ "podSelector": own }], "ports": mesh_ports() }),
    ];
    let mut egress = vec![json!({ "to": [{ "podSelector": own }], "ports": mesh_ports() })];
    for target in ctx.inventory.destinations(ctx.spec) {
        egress.extend(egress_to_destination(ctx, target));
    }
    policy(
        ctx,
        &format!("alertmanager-{}", alerting.name),
        labels,
        "alerting",
        origin,
        Rules {
            selector: own.clone(),
            ingress,
            egress,
        },
    )
}

fn egress_to_destination(ctx: &Ctx<'_>, target: &UrlTarget) -> Option<Value> {
    match target {
        UrlTarget::Outside { port, .. } => Some(json!({
            "to": [{ "ipBlock": { "cidr": "0.0.0.0/0" } }],
            "ports": tcp(&[*port]),
        })),
        UrlTarget::Platform { endpoint, pod_port } => {
            let selector = ctx.inventory.endpoint(endpoint)?.selector.clone()?;
            Some(json!({ "to": [{ "podSelector": selector }], "ports": tcp(&[*pod_port]) }))
        }
        UrlTarget::Namespace { namespace, port } => Some(json!({
            "to": [{ "namespaceSelector": match_labels(&[("kubernetes.io/metadata.name", namespace.as_str())]) }],
            "ports": tcp(&[*port]),
        })),
        UrlTarget::Nowhere { .. } => None,
    }
}
