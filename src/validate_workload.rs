//! Validation of the workload model: ports, probes, env, volumes, kinds and hooks, for every
//! workload and fleet template. Each rule has its own code (docs/checks.md).

use crate::decode::{Located, Named};
use crate::diag::{Diagnostic, Diagnostics};
use crate::facts::{Inventory, instance_facts};
use crate::spec::{
    Container, EnvValue, ProbeAction, ProbeSetting, Protocol, RolloutStrategy, ServiceType, Spec,
    VolumeKind, Workload, WorkloadKind,
};
use crate::validate::{check_cron, check_reference};

pub fn check(spec: &Spec, inventory: &Inventory, diags: &mut Diagnostics) {
    let workloads: Vec<&str> = spec.workloads.iter().map(|w| w.name.as_str()).collect();
    for entry in &spec.workloads {
        let path = format!("services.{}", entry.name);
        check_workload(spec, &entry.value, &path, diags);
        check_env(spec, inventory, &entry.value, None, diags);
        for hook in &entry.value.before {
            if check_reference(hook, "workload", &workloads, diags) && hook.as_str() == entry.name {
                diags.push(
                    hook.diagnostic(
                        Diagnostic::error(
                            "P0204",
                            format!("job `{}` runs before itself", entry.name),
                        )
                        .help("`before` names the workloads that wait for this job"),
                        "itself",
                    ),
                );
            }
        }
    }
    for fleet in &spec.fleets {
        let path = format!("fleets.{}", fleet.name);
        let w = &fleet.value.template;
        check_workload(spec, w, &path, diags);
        check_plan_volumes(spec, &fleet.value, &path, diags);
        if !matches!(
            w.kind,
            WorkloadKind::Service | WorkloadKind::Worker | WorkloadKind::Stateful
        ) {
            diags.push(
                Diagnostic::error(
                    "P0222",
                    format!("fleet `{}` is of kind `{}`", fleet.name, w.kind.as_str()),
                )
                .at(w.kind_at, "not a long-running kind")
                .help("fleet instances are long-running: use kind service, worker or stateful"),
            );
        }
        // Every instance's templates must render: `instance.*` differs per instance. When every
        // template uses instance values only bare, one instance per plan and set of var keys stands
        // for all of them.
        let all_bare = env_templates(w, &fleet.value.plans).all(crate::facts::bare_instance_use);
        let mut seen: Vec<crate::spec::Family<'_>> = Vec::new();
        for instance in &fleet.value.instances {
            let plan = instance.value.plan.as_ref().map(|p| p.as_str());
            if all_bare {
                let family = instance.value.family();
                if seen.contains(&family) {
                    continue;
                }
                seen.push(family);
            }
            let facts = instance_facts(&fleet.name, &instance.name, plan, &instance.value.vars);
            let plan_env = plan
                .and_then(|p| fleet.value.plan(p))
                .map(|p| p.env.as_slice());
            if !check_env(
                spec,
                inventory,
                w,
                Some((&facts, plan_env.unwrap_or(&[]))),
                diags,
            ) {
                break;
            }
        }
        if fleet.value.instances.is_empty() {
            check_env(spec, inventory, w, None, diags);
        }
    }
}

/// A plan's volumes are checked in the workload they make, with the template's: a mount path
/// taken twice, or a one-node claim on a plan with several replicas. What the template alone
/// already gets wrong is reported once, for the template.
fn check_plan_volumes(
    spec: &Spec,
    fleet: &crate::spec::Fleet,
    path: &str,
    diags: &mut Diagnostics,
) {
    let mut own = Diagnostics::default();
    check_volumes(spec, &fleet.template, path, &mut own);
    let known: Vec<(&str, Option<crate::source::Origin>)> = own
        .iter()
        .map(|d| (d.code, d.primary.as_ref().map(|l| l.origin)))
        .collect();
    for plan in &fleet.plans {
        let Some(w) = plan.value.workload.as_deref() else {
            continue;
        };
        let mut found = Diagnostics::default();
        let mut w = w.clone();
        if let Some(replicas) = &plan.value.replicas {
            w.replicas = replicas.clone();
        }
        check_volumes(spec, &w, &format!("{path}.plans.{}", plan.name), &mut found);
        for d in found.into_sorted() {
            let key = (d.code, d.primary.as_ref().map(|l| l.origin));
            if !known.contains(&key) {
                diags.push(d);
            }
        }
    }
}

fn check_workload(spec: &Spec, w: &Workload, path: &str, diags: &mut Diagnostics) {
    check_kind_settings(w, path, diags);
    check_ports(&w.main, path, diags);
    check_probes(w, &w.main, path, diags);
    for c in &w.containers {
        let cpath = format!("{path}.containers.{}", c.name);
        check_ports(&c.value, &cpath, diags);
        check_probes(w, &c.value, &cpath, diags);
        if let Some(size) = &c.value.size {
            crate::validate::check_size_ref(spec, size, diags);
        }
        crate::validate::check_secret_refs(spec, &c.value.secrets, diags);
    }
    check_volumes(spec, w, path, diags);
    if w.kind.has_replicas() && w.replicas.value == 0 {
        diags.push(
            w.replicas.diagnostic(
                Diagnostic::warning("P0221", format!("`{path}` is scaled to zero replicas")).help(
                    "nothing of it runs; remove the workload if it is not meant to come back",
                ),
                "zero replicas",
            ),
        );
    }
}

fn check_kind_settings(w: &Workload, path: &str, diags: &mut Diagnostics) {
    match (&w.cron, w.kind) {
        (None, WorkloadKind::Cron) => diags.push(
            Diagnostic::error(
                "P0222",
                format!("`{path}` is a cron workload without a schedule"),
            )
            .at(w.origin, "cron workload")
            .help("add `schedule = \"0 3 * * *\"` (minute hour day month weekday)"),
        ),
        (Some(c), kind) if kind != WorkloadKind::Cron => diags.push(
            c.schedule.diagnostic(
                Diagnostic::error(
                    "P0222",
                    format!("`{path}` has a schedule but is of kind `{}`", kind.as_str()),
                )
                .help("only `kind = \"cron\"` runs on a schedule"),
                "not a cron workload",
            ),
        ),
        (Some(c), _) => check_cron(&c.schedule, diags),
        _ => {}
    }
    if let (WorkloadKind::Job, Some(ttl)) = (w.kind, &w.job.ttl_after_finished) {
        diags.push(ttl.diagnostic(
            Diagnostic::warning(
                "P0226",
                format!("`{path}` is deleted by the cluster {}s after it finishes", ttl.value),
            )
            .help("plat applies the Job by name: once the cluster deletes it, the next `plat apply` creates it and it runs again (a hook before the workloads it guards), and drift reports it missing meanwhile; leave `ttl_seconds_after_finished` out, and a new version of the job gets a new name"),
            "deleted after it finishes",
        ));
    }
    if !w.before.is_empty() && w.kind != WorkloadKind::Job {
        diags.push(
            w.before[0].diagnostic(
                Diagnostic::error("P0222", format!("`{path}.before` is only for jobs")).help(
                    "a hook is a `kind = \"job\"` workload that runs before the ones it names",
                ),
                "not a job",
            ),
        );
    }
    if w.autoscaling.is_some() && !w.kind.has_replicas() {
        diags.push(
            Diagnostic::error(
                "P0222",
                format!("`{path}` of kind `{}` cannot autoscale", w.kind.as_str()),
            )
            .at(
                w.autoscaling.as_ref().map_or(w.origin, |a| a.origin),
                "autoscaling",
            )
            .help("only service, worker and stateful workloads have replicas to scale"),
        );
    }
    let serves = w.kind.serves();
    if !serves {
        let exposed = w.main.ports.iter().find(|p| p.service_port != p.port.value);
        if let Some(port) = exposed {
            diags.push(
                Diagnostic::error(
                    "P0218",
                    format!("`{path}` of kind `{}` has a Service port", w.kind.as_str()),
                )
                .at(port.origin, "service_port")
                .help("only service and stateful workloads get a Service; remove `service_port`"),
            );
        }
        if let Some(origin) = w.exposure.origin {
            diags.push(
                Diagnostic::error(
                    "P0218",
                    format!(
                        "`{path}` of kind `{}` has a `service` table",
                        w.kind.as_str()
                    ),
                )
                .at(origin, "no Service is made for this kind")
                .help("only service and stateful workloads get a Service; remove the table"),
            );
        }
    }
    check_headless_ports(w, path, diags);
}

/// A headless Service has no virtual IP, so nothing translates its port: DNS names the pods and
/// clients connect to the container's port. A `service_port` that differs would be what the facts
/// (and so every client's configuration) say, and nothing would listen there.
fn check_headless_ports(w: &Workload, path: &str, diags: &mut Diagnostics) {
    let headless = w.kind == WorkloadKind::Stateful || w.exposure.kind == ServiceType::Headless;
    if !w.kind.serves() || !headless {
        return;
    }
    for port in w
        .main
        .ports
        .iter()
        .filter(|p| p.service_port != p.port.value)
    {
        diags.push(
            Diagnostic::error(
                "P0225",
                format!(
                    "`{path}.ports.{}.service_port` is {}, but the Service is headless: clients reach the pods on {}",
                    port.name, port.service_port, port.port.value
                ),
            )
            .at(port.origin, "service_port")
            .help("a headless Service translates no port; remove `service_port`, or give the Service a cluster IP"),
        );
    }
}

fn check_ports(c: &Container, path: &str, diags: &mut Diagnostics) {
    for (i, p) in c.ports.iter().enumerate() {
        if let Some(first) = c.ports[..i].iter().find(|q| {
            q.port.value == p.port.value && q.protocol.transport() == p.protocol.transport()
        }) {
            diags.push(
                Diagnostic::error("P0217", format!("`{path}`: ports `{}` and `{}` are both {}", first.name, p.name, p.port.value))
                    .at(p.origin, "second")
                    .also(first.origin, "first")
                    .help("a container port number can serve one port entry; remove one or change its number"),
            );
        }
        let valid_name = p.name.len() <= 15
            && p.name.starts_with(|ch: char| ch.is_ascii_lowercase())
            && p.name
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-');
        if !valid_name {
            diags.push(
                Diagnostic::error("P0207", format!("`{path}`: port name `{}` is not valid", p.name))
                    .at(p.origin, "invalid port name")
                    .help("Kubernetes port names are at most 15 lower-case letters, digits and '-', starting with a letter"),
            );
        }
    }
}

fn check_probes(w: &Workload, c: &Container, path: &str, diags: &mut Diagnostics) {
    let slots = [
        ("liveness", &c.probes.liveness),
        ("readiness", &c.probes.readiness),
        ("startup", &c.probes.startup),
    ];
    for (slot, setting) in slots {
        let ProbeSetting::Set(probe) = setting else {
            continue;
        };
        if w.kind.runs_to_completion() {
            diags.push(
                Diagnostic::error(
                    "P0216",
                    format!("`{path}.probes.{slot}` on a `{}` workload", w.kind.as_str()),
                )
                .at(probe.origin, "runs to completion")
                .help("jobs and cron jobs are not probed; remove the probe"),
            );
            continue;
        }
        let (port_ref, grpc) = match &probe.action {
            Some(ProbeAction::Http { port, .. }) | Some(ProbeAction::Tcp { port }) => {
                (port.as_ref(), false)
            }
            Some(ProbeAction::Grpc { port, .. }) => (port.as_ref(), true),
            Some(ProbeAction::Exec { .. }) => continue,
            None => (None, false),
        };
        let port = match port_ref {
            Some(name) => {
                let names: Vec<&str> = c.ports.iter().map(|p| p.name.as_str()).collect();
                if !check_reference(name, "port", &names, diags) {
                    continue;
                }
                c.ports.iter().find(|p| p.name == name.value)
            }
            None => c.ports.first(),
        };
        let Some(port) = port else {
            diags.push(
                Diagnostic::error(
                    "P0215",
                    format!("`{path}.probes.{slot}` probes a port the container does not have"),
                )
                .at(probe.origin, "no port to probe")
                .help("declare the port in `ports`, or use an `exec` probe"),
            );
            continue;
        };
        if grpc && port.protocol != Protocol::Grpc {
            diags.push(
                Diagnostic::error(
                    "P0216",
                    format!(
                        "`{path}.probes.{slot}` is a gRPC probe on the {} port `{}`",
                        port.protocol.as_str(),
                        port.name
                    ),
                )
                .at(probe.origin, "gRPC probe")
                .also(port.origin, "not a grpc port")
                .help("probe a `protocol = \"grpc\"` port, or use an http or tcp probe"),
            );
        }
    }
}

fn check_volumes(spec: &Spec, w: &Workload, path: &str, diags: &mut Diagnostics) {
    let names: Vec<&str> = w.volumes.iter().map(|v| v.name.as_str()).collect();
    let mut paths: Vec<&Located<String>> = Vec::new();
    let seen_path = |p: &'_ Located<String>,
                     diags: &mut Diagnostics,
                     paths: &mut Vec<&Located<String>>| {
        if let Some(first) = paths.iter().find(|q| q.value == p.value) {
            diags.push(
                p.diagnostic(
                    Diagnostic::error("P0219", format!("`{path}`: two mounts at `{}`", p.value))
                        .also(first.origin, "first mount")
                        .help("a path can hold one volume; mount the second elsewhere"),
                    "second mount",
                ),
            );
            return false;
        }
        true
    };
    for v in &w.volumes {
        if let Some(p) = &v.value.path
            && seen_path(p, diags, &mut paths)
        {
            paths.push(p);
        }
        match &v.value.kind {
            VolumeKind::Secret { keys } => crate::validate::check_secret_refs(spec, keys, diags),
            VolumeKind::Persistent { access, .. } if w.kind != WorkloadKind::Stateful => {
                check_shared_claim(w, path, &v.name, access, diags);
            }
            _ => {}
        }
    }
    for p in &w.main.writable {
        if seen_path(p, diags, &mut paths) {
            paths.push(p);
        }
    }
    let containers = std::iter::once(("main", &w.main))
        .chain(w.containers.iter().map(|c| (c.name.as_str(), &c.value)));
    for (_, c) in containers {
        let mut mounted: Vec<&str> = Vec::new();
        for m in &c.mounts {
            if !check_reference(&m.volume, "volume", &names, diags) {
                continue;
            }
            let main_mount = std::ptr::eq(c, &w.main)
                && w.volumes
                    .iter()
                    .any(|v| v.name == m.volume.value && v.value.path.is_some());
            if mounted.contains(&m.volume.as_str()) || main_mount {
                diags.push(m.volume.diagnostic(
                    Diagnostic::error("P0219", format!("`{path}`: volume `{}` is mounted twice in one container", m.volume.value))
                        .help("mount a volume once per container; use its `path` or a `mounts` entry, not both"),
                    "mounted again",
                ));
            }
            mounted.push(&m.volume);
        }
    }
}

/// A ReadWriteOnce claim is attached to one node: several replicas of a Deployment cannot share it,
/// and a rolling update would start the new pod before the old one lets go.
fn check_shared_claim(
    w: &Workload,
    path: &str,
    volume: &str,
    access: &Located<String>,
    diags: &mut Diagnostics,
) {
    if access.as_str() == "ReadWriteMany" {
        return;
    }
    let max = w
        .autoscaling
        .as_ref()
        .map_or(w.replicas.value, |a| a.max.value);
    if max > 1 || w.kind == WorkloadKind::Daemon {
        diags.push(
            Diagnostic::error("P0220", format!("`{path}`: the {} volume `{volume}` is shared by more than one pod", access.value))
                .at(access.origin, "one pod at a time")
                .help("use `kind = \"stateful\"` for a claim per pod, `access = \"ReadWriteMany\"` storage, or one replica"),
        );
    }
    if let Some(strategy) = &w.strategy
        && strategy.value == RolloutStrategy::Rolling
        && w.needs_recreate()
    {
        diags.push(strategy.diagnostic(
            Diagnostic::error("P0223", format!("`{path}` rolls while holding the {} volume `{volume}`", access.value))
                .help("a rolling update starts the new pod while the old one holds the claim, so it never starts: remove `strategy` (plat recreates) or use ReadWriteMany storage"),
            "rolling update",
        ));
    }
}

/// The text templates of a fleet template's containers and plans.
fn env_templates<'a>(
    w: &'a Workload,
    plans: &'a [Named<crate::spec::Plan>],
) -> impl Iterator<Item = &'a str> + 'a {
    let containers = std::iter::once(&w.main).chain(w.containers.iter().map(|c| &c.value));
    containers
        .flat_map(|c| c.env.iter())
        .chain(plans.iter().flat_map(|p| p.value.env.iter()))
        .filter_map(|e| match &e.value {
            EnvValue::Text(t) => Some(t.as_str()),
            _ => None,
        })
}

/// Env references: config keys, secret keys, and templates (rendered with the instance's facts).
/// Returns false when it found a problem.
fn check_env(
    spec: &Spec,
    inventory: &Inventory,
    w: &Workload,
    instance: Option<(&serde_json::Value, &[Named<EnvValue>])>,
    diags: &mut Diagnostics,
) -> bool {
    let before = diags.len();
    let config: Vec<&str> = spec.config.iter().map(|c| c.name.as_str()).collect();
    let keys: Vec<&str> = spec.secrets.keys.iter().map(|k| k.as_str()).collect();
    let plan_env = instance.map_or(&[][..], |(_, p)| p);
    let containers = std::iter::once(&w.main).chain(w.containers.iter().map(|c| &c.value));
    for c in containers {
        for entry in c.env.iter().chain(plan_env) {
            match &entry.value {
                EnvValue::Text(text) => {
                    if let Err(d) = inventory.render(text, instance.map(|(f, _)| f)) {
                        diags.push(*d);
                    }
                }
                EnvValue::Config(key) => {
                    check_reference(key, "configuration key", &config, diags);
                }
                EnvValue::Secret(key) => {
                    check_reference(key, "secret key", &keys, diags);
                }
            }
        }
    }
    diags.len() == before
}
