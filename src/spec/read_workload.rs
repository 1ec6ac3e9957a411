//! Reading workloads: `[services.<name>]` and fleet templates share these readers, and so do the
//! sidecars and init containers of `containers`.

use super::read::{enum_error, parse_choice};
use super::*;
use crate::decode::{Fields, check_rule, describe, rule, type_error};
use crate::diag::{Diagnostic, Diagnostics};
use crate::node::{Node, Value};

const ACCESS_MODES: [&str; 3] = ["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"];
const VOLUME_TYPES: [&str; 4] = ["empty", "persistent", "config", "secret"];
const CONCURRENCY: [&str; 3] = ["Allow", "Forbid", "Replace"];
const STRATEGIES: [&str; 2] = ["rolling", "recreate"];
const TRAFFIC_POLICIES: [&str; 2] = ["Cluster", "Local"];
const SPREAD_KEYS: [&str; 2] = ["host", "zone"];
const TOLERATION_OPERATORS: [&str; 2] = ["Equal", "Exists"];
const TOLERATION_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// Reads one workload table.
pub fn workload(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Workload> {
    let mut f = Fields::open(node, path, diags)?;
    let w = workload_fields(&mut f, node, path, diags);
    let ok = f.finish(diags);
    ok.then_some(w).flatten()
}

/// The keys of a workload, read from an open table so that a fleet can add keys of its own.
pub fn workload_fields(
    f: &mut Fields<'_>,
    node: &Node,
    path: &str,
    diags: &mut Diagnostics,
) -> Option<Workload> {
    let kind_at = f.peek("kind").map_or(node.origin, |n| n.origin);
    let kind = f.choice("kind", &WorkloadKind::NAMES, diags).map(|k| {
        parse_choice(
            &k,
            &format!("{path}.kind"),
            &WorkloadKind::NAMES,
            WorkloadKind::parse,
            diags,
        )
    });
    let kind = match kind {
        Some(None) => None,
        Some(Some(k)) => Some(k),
        None => Some(WorkloadKind::Service),
    };
    let image = f.req("image", diags);
    let next_image = f.opt("next_image", diags);
    let replicas = f.int("replicas", 0, 10_000, diags);
    let size = f.req("size", diags);
    let component = f.or_rule("component", "backend".to_string(), rule::LABEL_VALUE, diags);
    let description = f
        .rule("description", rule::ANNOTATION, diags)
        .map(|d| d.value);
    let main = container_fields(f, path, diags, false);
    let containers = f.named_rule("containers", rule::DNS_LABEL, diags, container);
    let volumes = f.named_rule("volumes", rule::DNS_LABEL, diags, volume);
    let exposure = f
        .node("service")
        .map(|n| exposure(n, &format!("{path}.service"), diags));
    let pod = f.node("pod").map(|n| pod(n, &format!("{path}.pod"), diags));
    let account = f
        .node("service_account")
        .map(|n| account(n, &format!("{path}.service_account"), diags));
    let security = f
        .node("security")
        .map(|n| security(n, &format!("{path}.security"), diags));
    let autoscaling = f
        .node("autoscaling")
        .map(|n| autoscaling(n, &format!("{path}.autoscaling"), diags));
    let talks_to = strings(f, "talks_to", diags);
    let reachable_from = strings(f, "reachable_from", diags);
    let strategy = f.choice("strategy", &STRATEGIES, diags).and_then(|s| {
        let value = match s.as_str() {
            "rolling" => RolloutStrategy::Rolling,
            "recreate" => RolloutStrategy::Recreate,
            _ => {
                diags.push(enum_error(&s, &format!("{path}.strategy"), &STRATEGIES));
                return None;
            }
        };
        Some(Located {
            value,
            origin: s.origin,
            replaced: s.replaced,
        })
    });
    let cron = cron_fields(f, path, diags);
    let job = JobSettings {
        backoff_limit: f.int("backoff_limit", 0, 100, diags).map_or(3, |v| v.value),
        active_deadline: f
            .int("active_deadline_seconds", 1, 31_536_000, diags)
            .map(|v| v.value),
        ttl_after_finished: f.int("ttl_seconds_after_finished", 0, 31_536_000, diags),
    };
    let before = strings(f, "before", diags);
    let platform_config = f.or("platform_config", true, diags);
    let kind = kind?;
    let replicas = replicas.unwrap_or(Located {
        value: 1,
        origin: node.origin,
        replaced: None,
    });
    Some(Workload {
        kind,
        kind_at,
        image: image?,
        next_image,
        replicas,
        size: size?,
        component,
        description,
        main: main?,
        containers,
        volumes,
        exposure: match exposure {
            Some(e) => e?,
            None => Exposure {
                kind: if kind == WorkloadKind::Stateful {
                    ServiceType::Headless
                } else {
                    ServiceType::ClusterIp
                },
                annotations: Vec::new(),
                external_traffic_policy: None,
                origin: None,
            },
        },
        pod: pod.flatten().unwrap_or_default(),
        account: account.flatten().unwrap_or_default(),
        security: match security {
            Some(s) => s?,
            None => Security {
                read_only_root: true,
                ..Security::default()
            },
        },
        autoscaling: match autoscaling {
            Some(a) => Some(a?),
            None => None,
        },
        talks_to,
        reachable_from,
        strategy,
        cron,
        job,
        before,
        platform_config,
        origin: node.origin,
    })
}

fn strings(f: &mut Fields<'_>, key: &'static str, diags: &mut Diagnostics) -> Vec<Located<String>> {
    f.opt::<Vec<Located<String>>>(key, diags)
        .map_or_else(Vec::new, |v| v.value)
}

/// Paths inside the container, each checked at its place.
fn absolute_paths(
    f: &mut Fields<'_>,
    key: &'static str,
    diags: &mut Diagnostics,
) -> Vec<Located<String>> {
    let path = f.child_path(key);
    strings(f, key, diags)
        .into_iter()
        .filter(|p| check_rule(p, &path, rule::ABSOLUTE_PATH, diags))
        .collect()
}

/// Annotations: keys as Kubernetes takes them (the label-key syntax), each at its place.
fn annotations_map(
    f: &mut Fields<'_>,
    key: &'static str,
    diags: &mut Diagnostics,
) -> Vec<(String, String)> {
    f.named_of_rule::<String>(key, rule::ANNOTATION_KEY, diags)
        .into_iter()
        .map(|n| (n.name, n.value))
        .collect()
}

fn plain_strings(f: &mut Fields<'_>, key: &'static str, diags: &mut Diagnostics) -> Vec<String> {
    strings(f, key, diags)
        .into_iter()
        .map(|s| s.value)
        .collect()
}

/// A sidecar or init container under `containers.<name>`.
fn container(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Container> {
    let mut f = Fields::open(node, path, diags)?;
    let c = container_fields(&mut f, path, diags, true);
    f.finish(diags).then_some(c).flatten()
}

/// The keys every container has. For the main container, image and size are the workload's.
fn container_fields(
    f: &mut Fields<'_>,
    path: &str,
    diags: &mut Diagnostics,
    own_image: bool,
) -> Option<Container> {
    let (image, size, init) = if own_image {
        (
            f.req("image", diags),
            f.opt("size", diags),
            f.or("init", false, diags),
        )
    } else {
        (None, None, false)
    };
    let ports = ports(f, path, diags);
    let probes = f
        .node_as("probes", || serde_json::json!({ "type": "object" }))
        .map(|n| probes(n, &format!("{path}.probes"), diags));
    let env = f.named("env", diags, env_value);
    let secrets = strings(f, "secrets", diags);
    let command = plain_strings(f, "command", diags);
    let args = plain_strings(f, "args", diags);
    let working_dir = f
        .rule("working_dir", rule::ABSOLUTE_PATH, diags)
        .map(|w| w.value);
    let mounts = f.named("mounts", diags, mount);
    let writable = absolute_paths(f, "writable", diags);
    Some(Container {
        image: if own_image { Some(image?) } else { None },
        size,
        ports: ports?,
        probes: match probes {
            Some(p) => p?,
            None => Probes::default(),
        },
        env,
        secrets,
        command,
        args,
        working_dir,
        mounts: mounts
            .into_iter()
            .map(|m| Mount {
                volume: Located {
                    value: m.name,
                    origin: m.origin,
                    replaced: None,
                },
                path: m.value.0,
                read_only: m.value.1,
            })
            .collect(),
        writable,
        init,
        origin: f.origin(),
    })
}

/// `mounts.<volume> = "/path"` or `{ path = "/path", read_only = true }`.
fn mount(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<(Located<String>, bool)> {
    describe(node, || serde_json::json!({ "type": ["string", "object"] }));
    if let Value::String(text) = &node.value {
        let at = located(text.clone(), node);
        return check_rule(&at, path, rule::ABSOLUTE_PATH, diags).then_some((at, false));
    }
    let mut f = Fields::open(node, path, diags)?;
    let at = f.req_rule("path", rule::ABSOLUTE_PATH, diags);
    let read_only = f.or("read_only", false, diags);
    f.finish(diags).then_some(())?;
    Some((at?, read_only))
}

fn located<T>(value: T, node: &Node) -> Located<T> {
    Located {
        value,
        origin: node.origin,
        replaced: node.replaced,
    }
}

/// `port = N` (one `http` port) or `ports.<name> = { port, service_port, protocol, expose }`.
fn ports(f: &mut Fields<'_>, path: &str, diags: &mut Diagnostics) -> Option<Vec<Port>> {
    let short = f.port("port", diags);
    let long = f.named("ports", diags, port);
    if let Some(short) = short {
        if !long.is_empty() {
            diags.push(
                short
                    .diagnostic(
                        Diagnostic::error(
                            "P0104",
                            format!("`{path}` sets both `port` and `ports`"),
                        ),
                        "the one-port shorthand",
                    )
                    .help("`port = N` is short for one `http` port: keep either it or the `ports` table"),
            );
            return None;
        }
        return Some(vec![Port {
            name: "http".into(),
            service_port: short.value,
            port: short.clone(),
            protocol: Protocol::Http,
            expose: true,
            origin: short.origin,
        }]);
    }
    Some(
        long.into_iter()
            .map(|n| Port {
                name: n.name,
                ..n.value
            })
            .collect(),
    )
}

fn port(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Port> {
    describe(
        node,
        || serde_json::json!({ "type": ["integer", "object"] }),
    );
    if let Value::Integer(_) = node.value {
        let number = crate::decode::port_at(node, path, diags)?.value;
        return Some(Port {
            name: String::new(),
            port: located(number, node),
            service_port: number,
            protocol: Protocol::Http,
            expose: true,
            origin: node.origin,
        });
    }
    let mut f = Fields::open(node, path, diags)?;
    let number = f.port("port", diags);
    if f.need("port").is_none() {
        f.missing("port", "the container port, 1 to 65535", diags);
    }
    let service_port = f.port("service_port", diags);
    let protocol = f.choice("protocol", &Protocol::NAMES, diags);
    let expose = f.or("expose", true, diags);
    let mut ok = f.finish(diags);
    if let Some(service_port) = service_port.as_ref().filter(|_| !expose) {
        ok = false;
        diags.push(service_port.diagnostic(
            Diagnostic::error(
                "P0225",
                format!("`{path}.service_port` is set, but the port is not exposed (`expose = false`), so no Service uses it"),
            )
            .help("remove `service_port`, or expose the port on the Service"),
            "never applied",
        ));
    }
    let service_port = service_port.map(|v| v.value);
    let protocol = match protocol {
        Some(p) => parse_choice(
            &p,
            &format!("{path}.protocol"),
            &Protocol::NAMES,
            Protocol::parse,
            diags,
        )?,
        None => Protocol::Http,
    };
    let number = number?;
    ok.then_some(Port {
        name: String::new(),
        service_port: service_port.unwrap_or(number.value),
        port: number,
        protocol,
        expose,
        origin: node.origin,
    })
}

fn probes(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Probes> {
    let mut f = Fields::open(node, path, diags)?;
    let slot = || serde_json::json!({ "type": ["object", "boolean"] });
    let liveness = probe_setting(
        f.node_as("liveness", slot),
        &format!("{path}.liveness"),
        diags,
    );
    let readiness = probe_setting(
        f.node_as("readiness", slot),
        &format!("{path}.readiness"),
        diags,
    );
    let startup = probe_setting(
        f.node_as("startup", slot),
        &format!("{path}.startup"),
        diags,
    );
    f.finish(diags).then_some(())?;
    Some(Probes {
        liveness: liveness?,
        readiness: readiness?,
        startup: startup?,
    })
}

/// `false` turns a probe off; a table sets it.
fn probe_setting(node: Option<&Node>, path: &str, diags: &mut Diagnostics) -> Option<ProbeSetting> {
    let Some(node) = node else {
        return Some(ProbeSetting::Default);
    };
    describe(
        node,
        || serde_json::json!({ "anyOf": [{ "const": false }, { "type": "object" }] }),
    );
    match &node.value {
        Value::Bool(false) => Some(ProbeSetting::Off(node.origin)),
        Value::Bool(true) => {
            diags.push(type_error(node, path, "`false` or a probe table").help(
                "a probe is on by default; write a table to change it or `false` to turn it off",
            ));
            None
        }
        _ => probe(node, path, diags).map(ProbeSetting::Set),
    }
}

/// A probe: at most one of `http`, `grpc`, `tcp`, `exec`, plus timings.
pub fn probe(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Probe> {
    let mut f = Fields::open(node, path, diags)?;
    let mut actions = Vec::new();
    let table = || serde_json::json!({ "type": "object" });
    if let Some(n) = f.node_as("http", table) {
        actions.push((n.origin, http_action(n, &format!("{path}.http"), diags)));
    }
    if let Some(n) = f.node_as("grpc", table) {
        actions.push((n.origin, grpc_action(n, &format!("{path}.grpc"), diags)));
    }
    if let Some(n) = f.node_as("tcp", table) {
        actions.push((n.origin, tcp_action(n, &format!("{path}.tcp"), diags)));
    }
    if let Some(command) = f.opt::<Vec<Located<String>>>("exec", diags) {
        let command: Vec<String> = command.value.into_iter().map(|c| c.value).collect();
        actions.push((node.origin, Some(ProbeAction::Exec { command })));
    }
    let timings = Timings {
        initial_delay: f
            .int("initial_delay_seconds", 0, 3600, diags)
            .map(|v| v.value),
        period: f.int("period_seconds", 1, 3600, diags).map(|v| v.value),
        timeout: f.int("timeout_seconds", 1, 3600, diags).map(|v| v.value),
        failures: f.int("failure_threshold", 1, 100, diags).map(|v| v.value),
    };
    let ok = f.finish(diags);
    if actions.len() > 1 {
        diags.push(
            Diagnostic::error("P0104", format!("`{path}` has more than one action"))
                .at(actions[1].0, "second action")
                .also(actions[0].0, "first action")
                .help("a probe checks one way: keep one of `http`, `grpc`, `tcp` and `exec`"),
        );
        return None;
    }
    let action = match actions.pop() {
        Some((_, action)) => Some(action?),
        None => None,
    };
    ok.then_some(Probe {
        action,
        timings,
        origin: node.origin,
    })
}

fn port_ref(f: &mut Fields<'_>, diags: &mut Diagnostics) -> Option<Located<String>> {
    f.opt::<String>("port", diags)
}

fn http_action(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<ProbeAction> {
    let mut f = Fields::open(node, path, diags)?;
    let probe_path = f.or("path", "/".to_string(), diags);
    let port = port_ref(&mut f, diags);
    let headers = f
        .named_of_rule::<String>("headers", rule::HTTP_HEADER, diags)
        .into_iter()
        .map(|n| (n.name, n.value))
        .collect();
    f.finish(diags).then_some(ProbeAction::Http {
        path: probe_path,
        port,
        headers,
    })
}

fn grpc_action(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<ProbeAction> {
    let mut f = Fields::open(node, path, diags)?;
    let port = port_ref(&mut f, diags);
    let service = f.opt::<String>("service", diags).map(|s| s.value);
    f.finish(diags)
        .then_some(ProbeAction::Grpc { port, service })
}

fn tcp_action(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<ProbeAction> {
    let mut f = Fields::open(node, path, diags)?;
    let port = port_ref(&mut f, diags);
    f.finish(diags).then_some(ProbeAction::Tcp { port })
}

/// `NAME = "text or {{ template }}"`, a number or boolean, `{ config = "KEY" }` or
/// `{ secret = "KEY" }`.
pub fn env_value(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<EnvValue> {
    describe(
        node,
        || serde_json::json!({ "type": ["string", "number", "boolean", "object"] }),
    );
    let text = match &node.value {
        Value::String(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Float(x) if x.is_finite() => Some(x.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Table(_) => None,
        _ => {
            diags.push(type_error(node, path, "a string, number, boolean or table"));
            return None;
        }
    };
    if let Some(text) = text {
        return Some(EnvValue::Text(located(text, node)));
    }
    let mut f = Fields::open(node, path, diags)?;
    let config = f.opt::<String>("config", diags);
    let secret = f.opt::<String>("secret", diags);
    f.finish(diags).then_some(())?;
    match (config, secret) {
        (Some(c), None) => Some(EnvValue::Config(c)),
        (None, Some(s)) => Some(EnvValue::Secret(s)),
        _ => {
            diags.push(
                Diagnostic::error("P0104", format!("`{path}` must name one source"))
                    .at(node.origin, "config or secret?")
                    .help("write `{ config = \"KEY\" }` for a [config] value or `{ secret = \"KEY\" }` for a secret key"),
            );
            None
        }
    }
}

pub(super) fn volume(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Volume> {
    let mut f = Fields::open(node, path, diags)?;
    let kind = f.req_choice("type", &VOLUME_TYPES, diags);
    let at = f.rule("path", rule::ABSOLUTE_PATH, diags);
    let read_only = f.or("read_only", false, diags);
    let size_limit = f.opt("size_limit", diags);
    let memory = f.or("memory", false, diags);
    let size = f.opt("size", diags);
    let class = f.rule("class", rule::SUBDOMAIN, diags).map(|c| c.value);
    let access = f.choice("access", &ACCESS_MODES, diags);
    let files = f.named("files", diags, config_file);
    let keys = strings(&mut f, "keys", diags);
    // Where each key a volume type may not have is set, for a finding at that key.
    let set_at = |key: &str| f.peek(key).map(|n| n.origin);
    let (size_at, size_limit_at) = (set_at("size"), set_at("size_limit"));
    let ok = f.finish(diags);
    if let Some(a) = &access
        && !ACCESS_MODES.contains(&a.as_str())
    {
        diags.push(enum_error(a, &format!("{path}.access"), &ACCESS_MODES));
        return None;
    }
    let kind = kind?;
    let extra = |key: &str, set: Option<Origin>, diags: &mut Diagnostics| {
        if let Some(at) = set {
            diags.push(
                Diagnostic::error(
                    "P0104",
                    format!(
                        "`{path}.{key}` does not apply to a volume of type `{}`",
                        kind.value
                    ),
                )
                .at(at, "not a setting of this type")
                .help("remove the key, or change the volume's `type`"),
            );
        }
    };
    let volume_kind = match kind.as_str() {
        "empty" => {
            extra("size", size_at, diags);
            VolumeKind::Empty { size_limit, memory }
        }
        "persistent" => {
            extra("size_limit", size_limit_at, diags);
            let Some(size) = size else {
                diags.push(
                    Diagnostic::error("P0103", format!("`{path}.size` is missing"))
                        .at(node.origin, "a persistent volume needs a size")
                        .help("add `size = \"10Gi\"`"),
                );
                return None;
            };
            VolumeKind::Persistent {
                size,
                class,
                access: access.unwrap_or(Located {
                    value: "ReadWriteOnce".into(),
                    origin: node.origin,
                    replaced: None,
                }),
            }
        }
        "config" => {
            let written = matches!(&node.value, Value::Table(t) if t.get("files").is_some());
            if files.is_empty() && !written {
                diags.push(
                    Diagnostic::error("P0103", format!("`{path}.files` is missing"))
                        .at(node.origin, "a config volume needs files")
                        .help("add `files = { \"app.conf\" = { text = \"…\" } }` or `{ file = \"config/app.conf\" }`"),
                );
                return None;
            }
            VolumeKind::Config {
                files: files
                    .into_iter()
                    .map(|n| ConfigFile {
                        name: n.name,
                        ..n.value
                    })
                    .collect(),
            }
        }
        "secret" => {
            let written = matches!(&node.value, Value::Table(t) if t.get("keys").is_some());
            if keys.is_empty() && !written {
                diags.push(
                    Diagnostic::error("P0103", format!("`{path}.keys` is missing"))
                        .at(node.origin, "a secret volume needs keys")
                        .help("name the keys of [secrets] to mount: `keys = [\"TLS_KEY\"]`"),
                );
                return None;
            }
            VolumeKind::Secret { keys }
        }
        _ => {
            diags.push(enum_error(&kind, &format!("{path}.type"), &VOLUME_TYPES));
            return None;
        }
    };
    ok.then_some(Volume {
        kind: volume_kind,
        path: at,
        read_only,
        origin: node.origin,
    })
}

fn config_file(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<ConfigFile> {
    let mut f = Fields::open(node, path, diags)?;
    let text = f.opt::<String>("text", diags);
    let file = f.opt::<String>("file", diags);
    f.finish(diags).then_some(())?;
    match (text, file) {
        (Some(t), None) => Some(ConfigFile {
            name: String::new(),
            text: t.value,
            file: None,
        }),
        (None, Some(file)) => Some(ConfigFile {
            name: String::new(),
            text: String::new(),
            file: Some(file),
        }),
        _ => {
            diags.push(
                Diagnostic::error("P0104", format!("`{path}` needs exactly one of `text` and `file`"))
                    .at(node.origin, "this file")
                    .help("write the content inline with `text = \"…\"` or name a repository file with `file = \"config/app.conf\"`"),
            );
            None
        }
    }
}

fn exposure(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Exposure> {
    let mut f = Fields::open(node, path, diags)?;
    let kind = f.choice("type", &ServiceType::NAMES, diags);
    let annotations = annotations_map(&mut f, "annotations", diags);
    let policy = f.choice("external_traffic_policy", &TRAFFIC_POLICIES, diags);
    f.finish(diags).then_some(())?;
    let kind = match kind {
        Some(k) => parse_choice(
            &k,
            &format!("{path}.type"),
            &ServiceType::NAMES,
            ServiceType::parse,
            diags,
        )?,
        None => ServiceType::ClusterIp,
    };
    if let Some(p) = &policy {
        if !TRAFFIC_POLICIES.contains(&p.as_str()) {
            diags.push(enum_error(
                p,
                &format!("{path}.external_traffic_policy"),
                &TRAFFIC_POLICIES,
            ));
            return None;
        }
        if !matches!(kind, ServiceType::LoadBalancer | ServiceType::NodePort) {
            diags.push(
                p.diagnostic(
                    Diagnostic::error("P0104", format!("`{path}.external_traffic_policy` needs a LoadBalancer or NodePort Service")),
                    "only for external traffic",
                )
                .help("Kubernetes rejects an external traffic policy on a ClusterIP Service: set `type` or remove the key"),
            );
            return None;
        }
    }
    Some(Exposure {
        kind,
        annotations,
        external_traffic_policy: policy.map(|p| p.value),
        origin: Some(node.origin),
    })
}

fn pod(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<PodSettings> {
    let mut f = Fields::open(node, path, diags)?;
    let annotations = annotations_map(&mut f, "annotations", diags);
    let labels = labels_map(&mut f, "labels", diags);
    let priority_class = f
        .rule("priority_class", rule::SUBDOMAIN, diags)
        .map(|p| p.value);
    let node_selector = labels_map(&mut f, "node_selector", diags);
    let tolerations = f
        .opt::<Vec<Located<TolerationEntry>>>("tolerations", diags)
        .map_or_else(Vec::new, |t| {
            t.value.into_iter().map(|t| t.value.0).collect()
        });
    let spread = strings(&mut f, "spread", diags);
    let grace = f
        .int("termination_grace_period_seconds", 1, 3600, diags)
        .map(|v| v.value);
    f.finish(diags).then_some(())?;
    for key in &spread {
        if !SPREAD_KEYS.contains(&key.as_str()) {
            diags.push(enum_error(key, &format!("{path}.spread"), &SPREAD_KEYS));
            return None;
        }
    }
    Some(PodSettings {
        annotations,
        labels,
        priority_class,
        node_selector,
        tolerations,
        spread: spread.into_iter().map(|s| s.value).collect(),
        termination_grace_seconds: grace,
    })
}

/// One toleration, read as a table of `[[…tolerations]]`.
pub struct TolerationEntry(Toleration);

impl crate::decode::Decode for TolerationEntry {
    const EXPECTED: &'static str = "a table with key, operator, value and effect";
    fn schema() -> serde_json::Value {
        serde_json::json!({ "type": "object" })
    }
    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let mut f = Fields::open(node, path, diags)?;
        let key = f.opt::<String>("key", diags).map(|k| k.value);
        let operator = f.choice("operator", &TOLERATION_OPERATORS, diags);
        let value = f.opt::<String>("value", diags).map(|v| v.value);
        let effect = f.choice("effect", &TOLERATION_EFFECTS, diags);
        f.finish(diags).then_some(())?;
        if let Some(o) = &operator
            && !TOLERATION_OPERATORS.contains(&o.as_str())
        {
            diags.push(enum_error(
                o,
                &format!("{path}.operator"),
                &TOLERATION_OPERATORS,
            ));
            return None;
        }
        if let Some(e) = &effect
            && !TOLERATION_EFFECTS.contains(&e.as_str())
        {
            diags.push(enum_error(
                e,
                &format!("{path}.effect"),
                &TOLERATION_EFFECTS,
            ));
            return None;
        }
        Some(TolerationEntry(Toleration {
            key,
            operator: operator.map_or_else(|| "Equal".to_string(), |o| o.value),
            value,
            effect: effect.map(|e| e.value),
        }))
    }
}

fn account(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<AccountSettings> {
    let mut f = Fields::open(node, path, diags)?;
    let annotations = annotations_map(&mut f, "annotations", diags);
    let token = f.or("token", false, diags);
    f.finish(diags)
        .then_some(AccountSettings { annotations, token })
}

fn security(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Security> {
    let mut f = Fields::open(node, path, diags)?;
    let user = f.int("run_as_user", 0, i64::from(u32::MAX), diags);
    let group = f
        .int("run_as_group", 0, i64::from(u32::MAX), diags)
        .map(|v| v.value);
    let fs_group = f
        .int("fs_group", 0, i64::from(u32::MAX), diags)
        .map(|v| v.value);
    let read_only_root = f.or("read_only_root_filesystem", true, diags);
    let reason = f.opt::<String>("reason", diags).map(|r| r.value);
    f.finish(diags).then_some(())?;
    let relaxed = user.as_ref().is_some_and(|u| u.value == 0) || !read_only_root;
    if relaxed && reason.as_deref().is_none_or(|r| r.trim().len() < 10) {
        diags.push(
            Diagnostic::error("P0213", format!("`{path}` relaxes the hardened defaults without a reason"))
                .at(node.origin, "root or a writable root file system")
                .help("say why the image cannot run as non-root with a read-only root (`reason = \"…\"`), or use `writable` paths and a non-root user"),
        );
        return None;
    }
    Some(Security {
        run_as_user: user.map(|u| u.value),
        run_as_group: group,
        fs_group,
        read_only_root,
        reason,
        origin: Some(node.origin),
    })
}

pub fn autoscaling(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Autoscaling> {
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
            Diagnostic::error("P0103", format!("`{path}` has no metric to scale on"))
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

/// The CronJob keys: only a `cron` workload may have a schedule.
fn cron_fields(f: &mut Fields<'_>, path: &str, diags: &mut Diagnostics) -> Option<CronSettings> {
    let schedule = f.opt::<String>("schedule", diags);
    let time_zone = f
        .rule("time_zone", crate::decode::rule::TIME_ZONE, diags)
        .map(|t| t.value);
    let concurrency = f.choice("concurrency_policy", &CONCURRENCY, diags);
    let successful = f
        .int("successful_jobs_history", 0, 100, diags)
        .map_or(3, |v| v.value);
    let failed = f
        .int("failed_jobs_history", 0, 100, diags)
        .map_or(1, |v| v.value);
    let deadline = f
        .int("starting_deadline_seconds", 1, 86_400, diags)
        .map(|v| v.value);
    let concurrency = match concurrency {
        Some(c) if !CONCURRENCY.contains(&c.as_str()) => {
            diags.push(enum_error(
                &c,
                &format!("{path}.concurrency_policy"),
                &CONCURRENCY,
            ));
            return None;
        }
        Some(c) => c.value,
        None => "Forbid".into(),
    };
    let schedule = schedule?;
    Some(CronSettings {
        schedule,
        time_zone,
        concurrency,
        successful_history: successful,
        failed_history: failed,
        starting_deadline: deadline,
    })
}

/// Labels as Kubernetes takes them: keys (an optional DNS prefix and a name) and values, each checked
/// at its own place.
fn labels_map(
    f: &mut Fields<'_>,
    key: &'static str,
    diags: &mut Diagnostics,
) -> Vec<(String, String)> {
    let path = f.child_path(key);
    let entries = f.named_of::<String>(key, diags);
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let name = Located {
            value: entry.name.clone(),
            origin: entry.origin,
            replaced: None,
        };
        let value = Located {
            value: entry.value.clone(),
            origin: entry.origin,
            replaced: None,
        };
        let entry_path = format!("{path}.{}", entry.name);
        let key_ok = check_rule(&name, &entry_path, rule::LABEL_KEY, diags);
        let value_ok = check_rule(&value, &entry_path, rule::LABEL_VALUE, diags);
        if key_ok && value_ok {
            out.push((entry.name, entry.value));
        }
    }
    out
}
