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
    let defaults = defaults(f.node("defaults"), diags);
    let sizes = f.named("sizes", diags, size);
    let services = f.named("services", diags, service);
    let release = release(f.node("release"), diags);
    let ingress = f.node("ingress").map(|n| ingress(n, diags));
    let network = network(f.node("network"), diags);
    let config = f.named("config", diags, config_value);
    let secrets = secrets(f.node("secrets"), root, diags);
    let postgresql = f.node("postgresql").map(|n| postgres(n, diags));
    let redis = f.node("redis").map(|n| redis(n, diags));
    let minio = f.node("minio").map(|n| minio(n, diags));
    let astrbot = f.node("astrbot").map(|n| astrbot(n, diags));
    let tenants = f.named("tenants", diags, tenant);
    let observe = crate::observe::read(&mut f, diags);
    let waivers = f
        .opt::<Vec<Located<Waiver>>>("waivers", diags)
        .map_or_else(Vec::new, |w| w.value);
    let ok = f.finish(diags);
    if !ok || diags.has_errors() {
        return None;
    }
    Some(Spec {
        platform: platform.flatten()?,
        environment: env?,
        defaults: defaults?,
        sizes,
        services,
        release: release?,
        ingress: ingress.flatten(),
        network: network?,
        config,
        secrets: secrets?,
        postgresql: postgresql.flatten(),
        redis: redis.flatten(),
        minio: minio.flatten(),
        astrbot: astrbot.flatten(),
        tenants,
        observe: observe?,
        waivers: waivers.into_iter().map(|w| w.value).collect(),
    })
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
    let context = f.req("context", diags);
    let cluster = f.opt::<String>("cluster", diags);
    let nodes = f.int("nodes", 1, 10_000, diags);
    let monitoring = f.req_choice("monitoring", &MonitoringLevel::NAMES, diags);
    let data = f.or("data", String::new(), diags);
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
        origin: node.origin,
    })
}

fn probe(
    node: Option<&Node>,
    path: &str,
    default: Probe,
    diags: &mut Diagnostics,
) -> Option<Probe> {
    let Some(node) = node else {
        return Some(default);
    };
    let mut f = Fields::open(node, path, diags)?;
    let probe = Probe {
        path: f.or("path", default.path, diags),
        initial_delay: f
            .int("initial_delay_seconds", 0, 3600, diags)
            .map_or(default.initial_delay, |v| v.value),
        period: f
            .int("period_seconds", 1, 3600, diags)
            .map_or(default.period, |v| v.value),
        timeout: f
            .int("timeout_seconds", 1, 3600, diags)
            .map_or(default.timeout, |v| v.value),
        failures: f
            .int("failure_threshold", 1, 100, diags)
            .map_or(default.failures, |v| v.value),
    };
    f.finish(diags).then_some(probe)
}

fn defaults(node: Option<&Node>, diags: &mut Diagnostics) -> Option<Defaults> {
    let liveness = Probe {
        path: "/health".into(),
        initial_delay: 30,
        period: 10,
        timeout: 5,
        failures: 3,
    };
    let readiness = Probe {
        path: "/ready".into(),
        initial_delay: 5,
        period: 5,
        timeout: 3,
        failures: 3,
    };
    let builtin = Defaults {
        port: 8000,
        liveness: liveness.clone(),
        readiness: readiness.clone(),
        pre_stop_seconds: 15,
        termination_grace_seconds: 45,
        max_surge: "50%".into(),
        max_unavailable: "25%".into(),
        run_as_user: 10001,
        image_pull_policy: "Always".into(),
        revision_history: 5,
    };
    let Some(node) = node else {
        return Some(builtin);
    };
    let mut f = Fields::open(node, "defaults", diags)?;
    let port = f
        .int("port", 1, 65535, diags)
        .map_or(builtin.port, |v| v.value);
    let liveness = probe(f.node("liveness"), "defaults.liveness", liveness, diags);
    let readiness = probe(f.node("readiness"), "defaults.readiness", readiness, diags);
    let pre_stop = f
        .int("pre_stop_sleep_seconds", 0, 600, diags)
        .map_or(builtin.pre_stop_seconds, |v| v.value);
    let grace = f
        .int("termination_grace_period_seconds", 1, 3600, diags)
        .map_or(builtin.termination_grace_seconds, |v| v.value);
    let unavailable_at = f.peek("max_unavailable").map_or(f.origin(), |n| n.origin);
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
            .at(node.origin, format!("preStop sleeps {pre_stop}s but pods get {grace}s to stop"))
            .help("raise `termination_grace_period_seconds` above the preStop sleep"),
        );
    }
    ok.then_some(Defaults {
        port,
        liveness: liveness?,
        readiness: readiness?,
        pre_stop_seconds: pre_stop,
        termination_grace_seconds: grace,
        max_surge,
        max_unavailable,
        run_as_user,
        image_pull_policy: pull,
        revision_history: history,
    })
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

fn autoscaling(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Autoscaling> {
    let mut f = Fields::open(node, path, diags)?;
    let min = f.int("min_replicas", 1, 10_000, diags);
    let max = f.int("max_replicas", 1, 10_000, diags);
    let cpu = f.int("cpu_percent", 1, 1000, diags).map(|v| v.value);
    let memory = f.int("memory_percent", 1, 1000, diags).map(|v| v.value);
    if f.need("min_replicas").is_none() {
        f.missing("min_replicas", "an integer", diags);
    }
    if f.need("max_replicas").is_none() {
        f.missing("max_replicas", "an integer", diags);
    }
    f.finish(diags).then_some(())?;
    if cpu.is_none() && memory.is_none() {
        diags.push(
            crate::diag::Diagnostic::error("P0103", format!("`{path}` has no metric to scale on"))
                .at(node.origin, "autoscaling without a target")
                .help("set `cpu_percent`, `memory_percent` or both"),
        );
        return None;
    }
    Some(Autoscaling {
        min: min?,
        max: max?,
        cpu_percent: cpu,
        memory_percent: memory,
        origin: node.origin,
    })
}

fn service(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Service> {
    let name = path.rsplit('.').next().unwrap_or(path);
    let mut f = Fields::open(node, path, diags)?;
    let image = f.req("image", diags);
    let next_image = f.opt("next_image", diags);
    let replicas = f.int("replicas", 1, 10_000, diags);
    if f.need("replicas").is_none() {
        f.missing("replicas", "an integer of at least 1", diags);
    }
    let size = f.req("size", diags);
    let port = f.int("port", 1, 65535, diags).map(|v| v.value);
    let component = f.or_rule("component", "backend".to_string(), rule::LABEL_VALUE, diags);
    let description = f
        .rule("description", rule::ANNOTATION, diags)
        .map(|d| d.value);
    let talks_to = f
        .opt::<Vec<Located<String>>>("talks_to", diags)
        .map_or_else(Vec::new, |v| v.value);
    let secrets = f
        .opt::<Vec<Located<String>>>("secrets", diags)
        .map_or_else(Vec::new, |v| v.value);
    let autoscaling = f
        .node("autoscaling")
        .map(|n| autoscaling(n, &format!("{path}.autoscaling"), diags));
    let token = f.or("service_account_token", false, diags);
    let ok = f.finish(diags);
    check_dns_label(
        &Located {
            value: name.to_string(),
            origin: node.origin,
            replaced: None,
        },
        path,
        diags,
    );
    if !ok {
        return None;
    }
    Some(Service {
        image: image?,
        next_image,
        replicas: replicas?,
        size: size?,
        port: port.unwrap_or(0),
        component,
        description,
        talks_to,
        secrets,
        autoscaling: match autoscaling {
            Some(a) => Some(a?),
            None => None,
        },
        needs_service_account_token: token,
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
    f.finish(diags).then_some(())?;
    Some(Ingress {
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
    };
    f.finish(diags).then_some(network)
}

/// Configuration values are written as TOML strings, numbers or booleans and become ConfigMap strings.
fn config_value(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Located<String>> {
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
            remote_prefix: String::new(),
            refresh_interval: "1h".into(),
            keys: Vec::new(),
            origin: root.origin,
        });
    };
    let mut f = Fields::open(node, "secrets", diags)?;
    let name = f.req_rule("name", rule::SUBDOMAIN, diags);
    let provider = f.req_choice("provider", &PROVIDERS, diags);
    let store = f.opt("store", diags);
    let store_kind = f
        .choice("store_kind", &STORE_KINDS, diags)
        .map_or_else(|| "ClusterSecretStore".to_string(), |k| k.value);
    let remote_prefix = f.or("remote_prefix", String::new(), diags);
    let refresh = f.or_rule(
        "refresh_interval",
        "1h".to_string(),
        rule::GO_DURATION,
        diags,
    );
    let keys = f
        .opt::<Vec<Located<String>>>("keys", diags)
        .map_or_else(Vec::new, |k| k.value);
    f.finish(diags).then_some(())?;
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
    if !STORE_KINDS.contains(&store_kind.as_str()) {
        diags.push(
            crate::diag::Diagnostic::error("P0104", format!("`secrets.store_kind` must be SecretStore or ClusterSecretStore, not `{store_kind}`"))
                .at(node.origin, "unknown store kind"),
        );
        return None;
    }
    Some(Secrets {
        name: name?.value,
        provider,
        store,
        store_kind,
        remote_prefix,
        refresh_interval: refresh,
        keys,
        origin: node.origin,
    })
}

fn storage(
    node: Option<&Node>,
    path: &str,
    owner: &Fields<'_>,
    diags: &mut Diagnostics,
) -> Option<Storage> {
    let Some(node) = node else {
        diags.push(
            crate::diag::Diagnostic::error("P0103", format!("`{}.storage` is missing", owner.path))
                .at(owner.origin(), "this data store needs storage")
                .help("add `storage = { size = \"10Gi\", class = \"standard\" }`"),
        );
        return None;
    };
    let mut f = Fields::open(node, path, diags)?;
    let size = f.req("size", diags);
    let class = f.req_rule("class", rule::SUBDOMAIN, diags);
    f.finish(diags).then_some(())?;
    Some(Storage {
        size: size?,
        class: class?.value,
    })
}

fn backup(node: &Node, diags: &mut Diagnostics) -> Option<Backup> {
    let mut f = Fields::open(node, "postgresql.backup", diags)?;
    let schedule = f.req("schedule", diags);
    let retention = f.int("retention_days", 1, 3650, diags);
    let bucket = f.req::<String>("bucket", diags);
    let path = f.or("path", "postgresql".to_string(), diags);
    f.finish(diags).then_some(())?;
    Some(Backup {
        schedule: schedule?,
        retention_days: retention.map_or(7, |r| r.value),
        bucket: bucket?.value,
        path,
    })
}

fn postgres(node: &Node, diags: &mut Diagnostics) -> Option<Postgres> {
    let mut f = Fields::open(node, "postgresql", diags)?;
    let name = f.req("name", diags);
    let instances = f.int("instances", 1, 99, diags);
    let image = f.req("image", diags);
    let database = f.req::<String>("database", diags);
    let owner = f.or("owner", "app".to_string(), diags);
    let port = f.int("port", 1, 65535, diags).map_or(5432, |p| p.value);
    let host = f.opt::<String>("host", diags).map(|h| h.value);
    let size = f.req("size", diags);
    let storage_node = f.need("storage");
    let storage = storage(storage_node, "postgresql.storage", &f, diags);
    let monitoring = f.or("monitoring", true, diags);
    let parameters = f.named("parameters", diags, config_value);
    let backup = f.node("backup").map(|n| backup(n, diags));
    if f.need("instances").is_none() {
        f.missing("instances", "an integer", diags);
    }
    f.finish(diags).then_some(())?;
    Some(Postgres {
        name: name?,
        instances: instances?,
        image: image?,
        database: database?.value,
        owner,
        port,
        host,
        size: size?,
        storage: storage?,
        monitoring,
        parameters,
        backup: match backup {
            Some(b) => Some(b?),
            None => None,
        },
        origin: node.origin,
    })
}

fn redis(node: &Node, diags: &mut Diagnostics) -> Option<Redis> {
    let mut f = Fields::open(node, "redis", diags)?;
    let name = f.req("name", diags);
    let cluster_size = f.int("cluster_size", 3, 99, diags);
    let image = f.req("image", diags);
    let exporter = f.opt("exporter_image", diags);
    let port = f.int("port", 1, 65535, diags).map_or(6379, |p| p.value);
    let host = f.opt::<String>("host", diags).map(|h| h.value);
    let size = f.req("size", diags);
    let storage_node = f.need("storage");
    let storage = storage(storage_node, "redis.storage", &f, diags);
    let password_key = f.opt("password_secret_key", diags);
    if f.need("cluster_size").is_none() {
        f.missing("cluster_size", "an integer of at least 3", diags);
    }
    f.finish(diags).then_some(())?;
    Some(Redis {
        name: name?,
        cluster_size: cluster_size?,
        image: image?,
        exporter_image: exporter,
        port,
        host,
        size: size?,
        storage: storage?,
        password_key,
        origin: node.origin,
    })
}

fn minio(node: &Node, diags: &mut Diagnostics) -> Option<Minio> {
    let mut f = Fields::open(node, "minio", diags)?;
    let name = f.req("name", diags);
    let replicas = f.int("replicas", 1, 32, diags);
    let image = f.req("image", diags);
    let size = f.req("size", diags);
    let storage_node = f.need("storage");
    let storage = storage(storage_node, "minio.storage", &f, diags);
    let access = f.req("access_key_secret_key", diags);
    let secret = f.req("secret_key_secret_key", diags);
    if f.need("replicas").is_none() {
        f.missing("replicas", "an integer", diags);
    }
    f.finish(diags).then_some(())?;
    Some(Minio {
        name: name?,
        replicas: replicas?,
        image: image?,
        size: size?,
        storage: storage?,
        access_key: access?,
        secret_key: secret?,
        origin: node.origin,
    })
}

fn astrbot(node: &Node, diags: &mut Diagnostics) -> Option<AstrBot> {
    let mut f = Fields::open(node, "astrbot", diags)?;
    let image = f.req("image", diags);
    let size = f.req("size", diags);
    let port = f.int("port", 1, 65535, diags).map_or(0, |p| p.value);
    let max = f.int("max_instances", 1, 100_000, diags);
    let talks_to = f
        .opt::<Vec<Located<String>>>("talks_to", diags)
        .map_or_else(Vec::new, |v| v.value);
    let secrets = f
        .opt::<Vec<Located<String>>>("secrets", diags)
        .map_or_else(Vec::new, |v| v.value);
    if f.need("max_instances").is_none() {
        f.missing("max_instances", "an integer", diags);
    }
    f.finish(diags).then_some(())?;
    Some(AstrBot {
        image: image?,
        size: size?,
        port,
        max_instances: max?,
        talks_to,
        secrets,
        origin: node.origin,
    })
}

fn tenant(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Tenant> {
    let mut f = Fields::open(node, path, diags)?;
    let display_name = f.opt::<String>("display_name", diags).map(|d| d.value);
    let plan = f.or("plan", "standard".to_string(), diags);
    let size = f.opt("size", diags);
    f.finish(diags).then_some(Tenant {
        display_name,
        plan,
        size,
    })
}

fn enum_error(value: &Located<String>, path: &str, allowed: &[&str]) -> crate::diag::Diagnostic {
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
