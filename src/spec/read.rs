//! Stage 3, read: the merged node tree to a typed [`Spec`]. Every table reports unknown keys, every
//! value its type, and every problem is collected before giving up.

use super::*;
use crate::decode::{Fields, rule, type_error};
use crate::diag::Diagnostics;
use crate::node::{Node, Value};

/// The values of the enumerated keys: the readers check them, and the editor schema offers them.
const PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];
const STRATEGIES: [&str; 2] = ["rolling", "blue-green"];
const COLOURS: [&str; 2] = ["blue", "green"];
const PROVIDERS: [&str; 2] = ["existing", "external-secrets"];
const STORE_KINDS: [&str; 2] = ["SecretStore", "ClusterSecretStore"];
const ADDRESSINGS: [&str; 2] = ["key", "property"];

/// Reads the spec of one environment from the merged tree.
pub fn read_spec(root: &Node, environment: &str, diags: &mut Diagnostics) -> Option<Spec> {
    let mut f = Fields::open(root, "", diags)?;
    let platform = f.need("platform").map(|n| platform(n, diags));
    if platform.is_none() {
        f.missing("platform", "a table", diags);
    }
    let env = match f.need("environment") {
        Some(n) => environment_of(n, environment, diags),
        None => {
            f.missing(
                "environment",
                "a table (in the environment's overlay)",
                diags,
            );
            None
        }
    };
    let defaults = defaults(f.node("defaults"), root.origin, diags);
    let sizes = f.named("sizes", diags, size);
    let workloads = f.named("services", diags, super::read_workload::workload);
    let fleets = f.named("fleets", diags, super::read_fleet::fleet);
    let stores = f.named("stores", diags, super::read_store::store);
    let release = release(f.node("release"), diags);
    let ingress = f.node("ingress").map(|n| ingress(n, diags));
    let network = network(f.node("network"), diags);
    let config = f.named("config", diags, config_value);
    let secrets = secrets(f.node("secrets"), root, diags);
    let observe = crate::observe::read(&mut f, diags);
    let waivers = f
        .opt::<Vec<Located<Waiver>>>("waivers", diags)
        .map_or_else(Vec::new, |w| w.value);
    // `[[patches]]` of the base and the overlay add up, so src/patch.rs reads them before merging;
    // here they are only checked.
    if let Some(node) = f.node(crate::patch::KEY) {
        crate::decode::describe(node, crate::patch::schema);
        crate::patch::check(node, diags);
    }
    let ok = f.finish(diags);
    if !ok || diags.has_errors() {
        return None;
    }
    for (table, entries) in [
        (
            "services",
            workloads
                .iter()
                .map(|w| (&w.name, w.origin))
                .collect::<Vec<_>>(),
        ),
        (
            "fleets",
            fleets.iter().map(|f| (&f.name, f.origin)).collect(),
        ),
    ] {
        for (name, origin) in entries {
            let located = Located {
                value: name.clone(),
                origin,
                replaced: None,
            };
            check_dns_label(&located, &format!("{table}.{name}"), diags);
        }
    }
    if diags.has_errors() {
        return None;
    }
    let defaults = defaults?;
    let mut workloads = workloads;
    let mut fleets = fleets;
    let templates = fleets.iter_mut().map(|f| &mut f.value.template);
    for w in workloads.iter_mut().map(|w| &mut w.value).chain(templates) {
        default_port(w, &defaults);
    }
    Some(Spec {
        platform: platform.flatten()?,
        environment: env?,
        defaults,
        sizes,
        workloads,
        fleets,
        stores,
        release: release?,
        ingress: ingress.flatten(),
        network: network?,
        config,
        secrets: secrets?,
        observe: observe?,
        waivers: waivers.into_iter().map(|w| w.value).collect(),
    })
}

/// A serving workload that declares no port gets the platform's default port, as `http`.
fn default_port(w: &mut Workload, defaults: &Defaults) {
    if !w.kind.serves() || !w.main.ports.is_empty() {
        return;
    }
    let origin = w.origin;
    w.main.ports.push(Port {
        name: "http".into(),
        port: Located {
            value: defaults.port,
            origin,
            replaced: None,
        },
        service_port: defaults.port,
        protocol: Protocol::Http,
        expose: true,
        origin,
    });
}

fn platform(node: &Node, diags: &mut Diagnostics) -> Option<Platform> {
    let mut f = Fields::open(node, "platform", diags)?;
    let name = f.req("name", diags);
    let team = f.opt::<String>("team", diags).map(|t| t.value);
    f.finish(diags).then_some(())?;
    let name = name?;
    check_dns_label(&name, "platform.name", diags);
    Some(Platform { name, team })
}

fn environment_of(node: &Node, name: &str, diags: &mut Diagnostics) -> Option<Environment> {
    let mut f = Fields::open(node, "environment", diags)?;
    let namespace = f.req::<String>("namespace", diags);
    let context = f.req::<String>("context", diags).filter(|c| {
        // An empty context would make the cluster stage fall back to whatever context is current.
        let empty = c.trim().is_empty();
        if empty {
            diags.push(c.diagnostic(
                crate::diag::Diagnostic::error("P0104", "`environment.context` is empty")
                    .help("name the kube context this environment deploys to, as `kubectl config get-contexts` lists it"),
                "no context",
            ));
        }
        !empty
    });
    let cluster = f.opt::<String>("cluster", diags);
    let nodes = f.int("nodes", 1, 10_000, diags);
    let monitoring = f.req_choice("monitoring", &MonitoringLevel::NAMES, diags);
    let data = f.or("data", String::new(), diags);
    let allocatable = f
        .node("node_allocatable")
        .map(|n| node_capacity(n, "environment.node_allocatable", diags));
    let ok = f.finish(diags);
    let monitoring = monitoring.and_then(|m| {
        let level = MonitoringLevel::parse(&m);
        if level.is_none() {
            diags.push(enum_error(
                &m,
                "environment.monitoring",
                &MonitoringLevel::NAMES,
            ));
        }
        level
    });
    if let Some(ns) = &namespace {
        check_dns_label(ns, "environment.namespace", diags);
    }
    if !ok {
        return None;
    }
    let context: Located<String> = context?;
    Some(Environment {
        name: name.to_string(),
        cluster: cluster.map_or_else(|| context.value.clone(), |c| c.value),
        namespace: namespace?,
        context,
        nodes: nodes.map_or(1, |n| n.value),
        monitoring: monitoring?,
        data,
        node_allocatable: match allocatable {
            Some(a) => Some(a?),
            None => None,
        },
        origin: node.origin,
    })
}

/// `node_allocatable = { cpu = "7.5", memory = "28Gi" }`: what one node offers pods.
fn node_capacity(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<NodeCapacity> {
    let mut f = Fields::open(node, path, diags)?;
    let cpu = f.req("cpu", diags);
    let memory = f.req("memory", diags);
    f.finish(diags).then_some(())?;
    Some(NodeCapacity {
        cpu: cpu?,
        memory: memory?,
        origin: node.origin,
    })
}

/// `[defaults.probes.<protocol>]`: the probes a workload's first port of that protocol gets.
fn protocol_probes(
    node: Option<&Node>,
    path: &str,
    builtin: ProtocolProbes,
    diags: &mut Diagnostics,
) -> Option<ProtocolProbes> {
    let Some(node) = node else {
        return Some(builtin);
    };
    let mut f = Fields::open(node, path, diags)?;
    let read = |key: &'static str, f: &mut Fields<'_>, diags: &mut Diagnostics| {
        f.node_as(key, || serde_json::json!({ "type": "object" }))
            .map(|n| super::read_workload::probe(n, &format!("{path}.{key}"), diags))
    };
    let liveness = read("liveness", &mut f, diags);
    let readiness = read("readiness", &mut f, diags);
    let startup = read("startup", &mut f, diags);
    f.finish(diags).then_some(())?;
    let pick = |set: Option<Option<Probe>>, builtin: Option<Probe>| match set {
        Some(p) => p.map(Some),
        None => Some(builtin),
    };
    Some(ProtocolProbes {
        liveness: pick(liveness, builtin.liveness)?,
        readiness: pick(readiness, builtin.readiness)?,
        startup: pick(startup, builtin.startup)?,
    })
}

/// Without `[defaults.probes]`, a port is probed the one way that works for any server of its
/// protocol: a TCP connection for HTTP and TCP, the standard health service for gRPC.
fn builtin_probes(protocol: Protocol, origin: crate::source::Origin) -> ProtocolProbes {
    let probe = |action: ProbeAction| Probe {
        action: Some(action),
        timings: Timings::default(),
        origin,
    };
    let action = match protocol {
        Protocol::Grpc => ProbeAction::Grpc {
            port: None,
            service: None,
        },
        _ => ProbeAction::Tcp { port: None },
    };
    if protocol == Protocol::Udp {
        return ProtocolProbes {
            liveness: None,
            readiness: None,
            startup: None,
        };
    }
    ProtocolProbes {
        liveness: Some(probe(action.clone())),
        readiness: Some(probe(action)),
        startup: None,
    }
}

fn default_probes(
    node: Option<&Node>,
    origin: crate::source::Origin,
    diags: &mut Diagnostics,
) -> Option<Vec<(Protocol, ProtocolProbes)>> {
    let mut f = match node {
        Some(n) => Some(Fields::open(n, "defaults.probes", diags)?),
        None => None,
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (protocol, key) in [
        (Protocol::Http, "http"),
        (Protocol::Grpc, "grpc"),
        (Protocol::Tcp, "tcp"),
    ] {
        let node = f.as_mut().and_then(|f| f.node(key));
        let path = format!("defaults.probes.{key}");
        match protocol_probes(node, &path, builtin_probes(protocol, origin), diags) {
            Some(p) => out.push((protocol, p)),
            None => ok = false,
        }
    }
    out.push((Protocol::Udp, builtin_probes(Protocol::Udp, origin)));
    if let Some(f) = f {
        ok &= f.finish(diags);
    }
    ok.then_some(out)
}

fn defaults(
    node: Option<&Node>,
    root: crate::source::Origin,
    diags: &mut Diagnostics,
) -> Option<Defaults> {
    let origin = node.map_or(root, |n| n.origin);
    let builtin = Defaults {
        port: 8000,
        probes: Vec::new(),
        pre_stop_seconds: 15,
        termination_grace_seconds: 45,
        max_surge: "25%".into(),
        max_unavailable: "25%".into(),
        run_as_user: 10001,
        image_pull_policy: "Always".into(),
        revision_history: 5,
    };
    let Some(node) = node else {
        return Some(Defaults {
            probes: default_probes(None, origin, diags)?,
            ..builtin
        });
    };
    let mut f = Fields::open(node, "defaults", diags)?;
    let port = f.port("port", diags).map_or(builtin.port, |v| v.value);
    let probes = default_probes(f.node("probes"), origin, diags);
    let pre_stop = f
        .int("pre_stop_sleep_seconds", 0, 600, diags)
        .map_or(builtin.pre_stop_seconds, |v| v.value);
    let grace = f
        .int("termination_grace_period_seconds", 1, 3600, diags)
        .map_or(builtin.termination_grace_seconds, |v| v.value);
    let unavailable_at = f.peek("max_unavailable").map_or(f.origin(), |n| n.origin);
    // The sleep is what was set too long, unless only the grace period was written.
    let pre_stop_at = f
        .peek("pre_stop_sleep_seconds")
        .or_else(|| f.peek("termination_grace_period_seconds"))
        .map_or(f.origin(), |n| n.origin);
    let max_surge = f.or_rule("max_surge", builtin.max_surge, rule::INT_OR_PERCENT, diags);
    let max_unavailable = f.or_rule(
        "max_unavailable",
        builtin.max_unavailable,
        rule::INT_OR_PERCENT,
        diags,
    );
    crate::decode::check_surge(unavailable_at, &max_surge, &max_unavailable, diags);
    let run_as_user = f
        .int("run_as_user", 1, i64::from(u32::MAX), diags)
        .map_or(builtin.run_as_user, |v| v.value);
    let pull = f.choice("image_pull_policy", &PULL_POLICIES, diags);
    let history = f
        .int("revision_history_limit", 0, 100, diags)
        .map_or(builtin.revision_history, |v| v.value);
    let ok = f.finish(diags);
    let pull = match pull {
        Some(p) if !PULL_POLICIES.contains(&p.as_str()) => {
            diags.push(enum_error(&p, "defaults.image_pull_policy", &PULL_POLICIES));
            return None;
        }
        Some(p) => p.value,
        None => builtin.image_pull_policy,
    };
    if pre_stop >= grace {
        diags.push(
            crate::diag::Diagnostic::error(
                "P0104",
                "`defaults.pre_stop_sleep_seconds` must be shorter than the termination grace period",
            )
            .at(pre_stop_at, format!("preStop sleeps {pre_stop}s but pods get {grace}s to stop"))
            .help("raise `termination_grace_period_seconds` above the preStop sleep"),
        );
    }
    ok.then_some(Defaults {
        port,
        probes: probes?,
        pre_stop_seconds: pre_stop,
        termination_grace_seconds: grace,
        max_surge,
        max_unavailable,
        run_as_user,
        image_pull_policy: pull,
        revision_history: history,
    })
}

/// Reads a choice the caller already offered with [`Fields::choice`] into its enum, reporting an
/// unknown value with did-you-mean.
pub(super) fn parse_choice<T>(
    value: &Located<String>,
    path: &str,
    names: &[&str],
    parse: impl Fn(&str) -> Option<T>,
    diags: &mut Diagnostics,
) -> Option<T> {
    let parsed = parse(value.as_str());
    if parsed.is_none() {
        diags.push(enum_error(value, path, names));
    }
    parsed
}

fn resources(
    node: Option<&Node>,
    path: &str,
    table: &Fields<'_>,
    key: &str,
    diags: &mut Diagnostics,
) -> Option<Resources> {
    let Some(node) = node else {
        diags.push(
            crate::diag::Diagnostic::error("P0103", format!("`{}.{key}` is missing", table.path))
                .at(table.origin(), format!("this size needs `{key}`"))
                .help(format!("add `{key} = {{ cpu = \"1\", memory = \"2Gi\" }}`")),
        );
        return None;
    };
    let mut f = Fields::open(node, path, diags)?;
    let cpu = f.req("cpu", diags);
    let memory = f.req("memory", diags);
    f.finish(diags).then_some(())?;
    Some(Resources {
        cpu: cpu?,
        memory: memory?,
    })
}

fn size(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Size> {
    let mut f = Fields::open(node, path, diags)?;
    let requests_node = f.need("requests");
    let limits_node = f.need("limits");
    let requests = resources(
        requests_node,
        &format!("{path}.requests"),
        &f,
        "requests",
        diags,
    );
    let limits = resources(limits_node, &format!("{path}.limits"), &f, "limits", diags);
    f.finish(diags).then_some(())?;
    Some(Size {
        requests: requests?,
        limits: limits?,
    })
}

fn release(node: Option<&Node>, diags: &mut Diagnostics) -> Option<Release> {
    let mut release = Release {
        strategy: Strategy::Rolling,
        active: Color::Blue,
    };
    let Some(node) = node else {
        return Some(release);
    };
    let mut f = Fields::open(node, "release", diags)?;
    let strategy = f.choice("strategy", &STRATEGIES, diags);
    let active = f.choice("active", &COLOURS, diags);
    f.finish(diags).then_some(())?;
    if let Some(s) = strategy {
        release.strategy = match s.as_str() {
            "rolling" => Strategy::Rolling,
            "blue-green" => Strategy::BlueGreen,
            _ => {
                diags.push(enum_error(&s, "release.strategy", &STRATEGIES));
                return None;
            }
        };
    }
    if let Some(c) = active {
        release.active = match c.as_str() {
            "blue" => Color::Blue,
            "green" => Color::Green,
            _ => {
                diags.push(enum_error(&c, "release.active", &COLOURS));
                return None;
            }
        };
    }
    Some(release)
}

fn ingress(node: &Node, diags: &mut Diagnostics) -> Option<Ingress> {
    let mut f = Fields::open(node, "ingress", diags)?;
    let class = f.or_rule("class", "nginx".to_string(), rule::SUBDOMAIN, diags);
    let host = f.req_rule("host", rule::HOST, diags);
    let issuer = f.req_rule("tls_issuer", rule::SUBDOMAIN, diags);
    let secret = f.req_rule("tls_secret", rule::SUBDOMAIN, diags);
    let rate = f
        .int("rate_limit_rps", 1, 1_000_000, diags)
        .map(|v| v.value);
    let backend = f.req("backend", diags);
    let port = f.opt::<String>("port", diags);
    f.finish(diags).then_some(())?;
    Some(Ingress {
        port,
        class,
        host: host?,
        tls_issuer: issuer?.value,
        tls_secret: secret?.value,
        rate_limit_rps: rate,
        backend: backend?,
        origin: node.origin,
    })
}

fn network(node: Option<&Node>, diags: &mut Diagnostics) -> Option<Network> {
    let builtin = Network {
        ingress_controller_namespace: "ingress-nginx".into(),
        monitoring_namespace: "monitoring".into(),
        dns_namespace: "kube-system".into(),
        api_server_cidr: "0.0.0.0/0".into(),
        allow_from_kube_system: true,
        external: Vec::new(),
        cnpg_operator_namespace: "cnpg-system".into(),
        // The namespace of opstree's documented install (its Helm chart and manifests).
        redis_operator_namespace: "ot-operators".into(),
    };
    let Some(node) = node else {
        return Some(builtin);
    };
    let mut f = Fields::open(node, "network", diags)?;
    let network = Network {
        ingress_controller_namespace: f.or_rule(
            "ingress_controller_namespace",
            builtin.ingress_controller_namespace,
            rule::DNS_LABEL,
            diags,
        ),
        monitoring_namespace: f.or_rule(
            "monitoring_namespace",
            builtin.monitoring_namespace,
            rule::DNS_LABEL,
            diags,
        ),
        dns_namespace: f.or_rule(
            "dns_namespace",
            builtin.dns_namespace,
            rule::DNS_LABEL,
            diags,
        ),
        api_server_cidr: f.or_rule(
            "api_server_cidr",
            builtin.api_server_cidr,
            rule::CIDR,
            diags,
        ),
        allow_from_kube_system: f.or(
            "allow_from_kube_system",
            builtin.allow_from_kube_system,
            diags,
        ),
        external: f.named("external", diags, external),
        cnpg_operator_namespace: f.or(
            "cnpg_operator_namespace",
            builtin.cnpg_operator_namespace,
            diags,
        ),
        redis_operator_namespace: f.or(
            "redis_operator_namespace",
            builtin.redis_operator_namespace,
            diags,
        ),
    };
    f.finish(diags).then_some(network)
}

/// `[network.external.<name>]`: `cidrs` and `ports` outside the cluster.
fn external(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<External> {
    let mut f = Fields::open(node, path, diags)?;
    let cidrs = f.req::<Vec<Located<String>>>("cidrs", diags);
    let ports = f.req::<Vec<Located<i64>>>("ports", diags);
    let object_store = f
        .node("object_store")
        .map(|n| external_object_store(n, &format!("{path}.object_store"), diags));
    f.finish(diags).then_some(())?;
    let object_store = match object_store {
        Some(store) => Some(store?),
        None => None,
    };
    let cidrs = cidrs?;
    let mut valid = true;
    for cidr in &cidrs.value {
        valid &= crate::decode::check_rule(cidr, &format!("{path}.cidrs"), rule::CIDR, diags);
    }
    valid.then_some(())?;
    let mut out = Vec::new();
    for port in ports?.value {
        if let Err(broken) = crate::rules::network::port(port.value) {
            diags.push(
                port.diagnostic(
                    crate::diag::Diagnostic::error(
                        "P0104",
                        format!("`{path}.ports`: {}", broken.problem),
                    )
                    .help(format!("it must be {}", broken.rule)),
                    "not a port",
                ),
            );
            return None;
        }
        out.push(port.value);
    }
    Some(External {
        cidrs: cidrs.value,
        ports: out,
        object_store,
        origin: node.origin,
    })
}

/// `[network.external.<name>.object_store]`: an S3-compatible store at `endpoint` (HTTPS: the
/// credentials and the data cross networks plat does not control), with keys of `[secrets]`.
fn external_object_store(
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<crate::spec::ExternalObjectStore> {
    let mut f = Fields::open(node, path, diags)?;
    let endpoint = f.req::<String>("endpoint", diags);
    let access = f.req::<String>("access_key_secret_key", diags);
    let secret = f.req::<String>("secret_key_secret_key", diags);
    let region = f.opt::<String>("region_secret_key", diags);
    let ok = f.finish(diags);
    let endpoint = endpoint?;
    if let Err(problem) = crate::rules::network::https_url(&endpoint.value) {
        diags.push(
            endpoint.diagnostic(
                crate::diag::Diagnostic::error(
                    "P0104",
                    format!("`{path}.endpoint` {problem}"),
                )
                .help("write the store's HTTPS URL without a path, e.g. `https://s3.eu-central-1.amazonaws.com`"),
                "not an https URL",
            ),
        );
        return None;
    }
    ok.then_some(())?;
    Some(crate::spec::ExternalObjectStore {
        endpoint,
        access_key: access?,
        secret_key: secret?,
        region,
        origin: node.origin,
    })
}

/// Configuration values are written as TOML strings, numbers or booleans and become ConfigMap strings.
pub(super) fn config_value(
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<Located<String>> {
    crate::decode::describe(
        node,
        || serde_json::json!({ "type": ["string", "number", "boolean"] }),
    );
    let text = match &node.value {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Float(x) if x.is_finite() => x.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => {
            diags.push(type_error(node, path, "a string, number or boolean"));
            return None;
        }
    };
    Some(Located {
        value: text,
        origin: node.origin,
        replaced: node.replaced,
    })
}

fn secrets(node: Option<&Node>, root: &Node, diags: &mut Diagnostics) -> Option<Secrets> {
    let Some(node) = node else {
        return Some(Secrets {
            name: String::new(),
            provider: SecretProvider::Existing,
            store: None,
            store_kind: "ClusterSecretStore".into(),
            store_kind_at: root.origin,
            remote_prefix: String::new(),
            addressing: SecretAddressing::Key,
            refresh_interval: "1h".into(),
            keys: Vec::new(),
            origin: root.origin,
        });
    };
    let mut f = Fields::open(node, "secrets", diags)?;
    let name = f.req_rule("name", rule::SUBDOMAIN, diags);
    let provider = f.req_choice("provider", &PROVIDERS, diags);
    let store = f.opt("store", diags);
    let store_kind = f.choice("store_kind", &STORE_KINDS, diags);
    let store_kind_at = store_kind.as_ref().map_or(node.origin, |k| k.origin);
    let remote_prefix = f.or("remote_prefix", String::new(), diags);
    let addressing = f.choice("addressing", &ADDRESSINGS, diags);
    let refresh = f.or_rule(
        "refresh_interval",
        "1h".to_string(),
        rule::GO_DURATION,
        diags,
    );
    let keys = f
        .opt::<Vec<Located<String>>>("keys", diags)
        .map_or_else(Vec::new, |k| k.value);
    // Counted, not `all`: every broken key is reported.
    let broken_keys = keys
        .iter()
        .filter(|key| !crate::decode::check_rule(key, "secrets.keys", rule::DATA_KEY, diags))
        .count();
    let keys_ok = broken_keys == 0;
    (f.finish(diags) && keys_ok).then_some(())?;
    let provider = provider?;
    let provider = match provider.as_str() {
        "existing" => SecretProvider::Existing,
        "external-secrets" => SecretProvider::ExternalSecrets,
        _ => {
            diags.push(enum_error(&provider, "secrets.provider", &PROVIDERS));
            return None;
        }
    };
    if provider == SecretProvider::ExternalSecrets && store.is_none() {
        diags.push(
            crate::diag::Diagnostic::error("P0103", "`secrets.store` is missing")
                .at(node.origin, "the external-secrets provider needs a store")
                .help("name the (Cluster)SecretStore that holds the values: `store = \"vault-backend\"`"),
        );
        return None;
    }
    let addressing = match addressing.as_ref().map(|a| a.value.as_str()) {
        None | Some("key") => SecretAddressing::Key,
        Some("property") => SecretAddressing::Property,
        Some(_) => {
            let addressing = addressing.expect("matched Some");
            diags.push(enum_error(&addressing, "secrets.addressing", &ADDRESSINGS));
            return None;
        }
    };
    let store_kind = match store_kind {
        None => "ClusterSecretStore".to_string(),
        Some(kind) if STORE_KINDS.contains(&kind.as_str()) => kind.value,
        Some(kind) => {
            diags.push(enum_error(&kind, "secrets.store_kind", &STORE_KINDS));
            return None;
        }
    };
    Some(Secrets {
        name: name?.value,
        provider,
        store,
        store_kind,
        store_kind_at,
        remote_prefix,
        addressing,
        refresh_interval: refresh,
        keys,
        origin: node.origin,
    })
}

pub(super) fn enum_error(
    value: &Located<String>,
    path: &str,
    allowed: &[&str],
) -> crate::diag::Diagnostic {
    let mut d = value.diagnostic(
        crate::diag::Diagnostic::error(
            "P0104",
            format!(
                "`{path}` must be one of {}, not `{}`",
                allowed.join(", "),
                value.value
            ),
        ),
        "unknown value",
    );
    d = match crate::diag::did_you_mean(&value.value, allowed.iter().copied()) {
        Some(close) => d.help(format!("did you mean `{close}`?")),
        None => d.help(format!("use one of: {}", allowed.join(", "))),
    };
    d
}

/// Names become Kubernetes object names and DNS labels: lower-case letters, digits and '-', starting
/// with a letter, at most 63 characters.
pub fn check_dns_label(name: &Located<String>, path: &str, diags: &mut Diagnostics) -> bool {
    let n = name.as_str();
    let ok = !n.is_empty()
        && n.len() <= 63
        && n.starts_with(|c: char| c.is_ascii_lowercase())
        && !n.ends_with('-')
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        diags.push(name.diagnostic(
            crate::diag::Diagnostic::error("P0207", format!("`{path}`: `{n}` is not a valid name"))
                .help("names become Kubernetes object names: use lower-case letters, digits and '-', start with a letter, at most 63 characters"),
            "invalid name",
        ));
    }
    ok
}

impl crate::decode::Decode for Waiver {
    const EXPECTED: &'static str = "a table with check, at and reason";
    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let mut f = Fields::open(node, path, diags)?;
        let check = f.req("check", diags);
        let at = f.req("at", diags);
        let reason = f.req::<String>("reason", diags);
        f.finish(diags).then_some(())?;
        let reason = reason?;
        if reason.value.trim().len() < 10 {
            diags.push(
                reason.diagnostic(
                    crate::diag::Diagnostic::error(
                        "P0104",
                        format!("`{path}.reason` must say why the check does not apply"),
                    )
                    .help("a waiver is read by reviewers: give the reason in a sentence"),
                    "too short",
                ),
            );
            return None;
        }
        Some(Waiver {
            check: check?,
            at: at?,
            reason: reason.value,
            origin: node.origin,
        })
    }
}
