//! Capacity: the sum of what an environment's pods request, at the worst moment a normal operation
//! reaches (autoscalers at their maximum, a rolling update's surge, a blue-green release's idle colour
//! warmed up, every instance of every fleet, the operators' pods of the stores, one log agent per
//! node), against the allocatable CPU and memory the environment says its nodes have.

use crate::diag::{Diagnostic, Diagnostics};
use crate::spec::{Size, Spec, StoreKind, Strategy, Workload, WorkloadKind};

/// Above this share of the allocatable capacity the environment has no room left for a node to fail.
const NEAR: f64 = 0.85;

/// CPU cores and memory bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Demand {
    pub cpu: f64,
    pub memory: f64,
}

impl Demand {
    fn of(size: &Size, pods: f64) -> Demand {
        Demand {
            cpu: size.requests.cpu.value.value * pods,
            memory: size.requests.memory.value.value * pods,
        }
    }

    fn add(&mut self, other: Demand) {
        self.cpu += other.cpu;
        self.memory += other.memory;
    }
}

/// Extra pods a rolling update starts: `max_surge` of the replicas, rounded up as Kubernetes does.
fn surge(spec: &Spec, replicas: i64) -> f64 {
    let text = spec.defaults.max_surge.trim();
    let extra = match text.strip_suffix('%') {
        Some(percent) => percent
            .parse::<f64>()
            .map_or(0.0, |p| (replicas as f64 * p / 100.0).ceil()),
        None => text.parse::<f64>().unwrap_or(0.0),
    };
    extra.min(replicas as f64)
}

/// The pods of one workload at its peak, with their sizes.
fn workload_demand(
    spec: &Spec,
    w: &Workload,
    size_name: &str,
    replicas: i64,
    fleet: bool,
) -> Demand {
    let Some(size) = spec.size(size_name) else {
        return Demand::default();
    };
    let peak = w.autoscaling.as_ref().map_or(replicas, |a| a.max.value);
    let pods = match w.kind {
        WorkloadKind::Daemon => spec.environment.nodes as f64,
        WorkloadKind::Job | WorkloadKind::Cron => 1.0,
        _ => {
            let recreate = w.needs_recreate();
            let surge = if recreate { 0.0 } else { surge(spec, peak) };
            let idle_colour = !fleet
                && w.kind == WorkloadKind::Service
                && spec.release.strategy == Strategy::BlueGreen
                && w.next_image.is_some();
            peak as f64 + surge + if idle_colour { replicas as f64 } else { 0.0 }
        }
    };
    let mut demand = Demand::of(size, pods);
    for c in &w.containers {
        let sidecar = c
            .value
            .size
            .as_ref()
            .and_then(|s| spec.size(s))
            .unwrap_or(size);
        if !c.value.init {
            demand.add(Demand::of(sidecar, pods));
        }
    }
    demand
}

/// What the environment's pods request at their peak.
pub fn demand(spec: &Spec) -> Demand {
    let mut total = Demand::default();
    for w in &spec.workloads {
        total.add(workload_demand(
            spec,
            &w.value,
            &w.value.size,
            w.value.replicas.value,
            false,
        ));
    }
    for fleet in &spec.fleets {
        let f = &fleet.value;
        for instance in &f.instances {
            let plan = instance.value.plan.as_ref().and_then(|p| f.plan(p));
            let size = instance
                .value
                .size
                .as_ref()
                .or(plan.and_then(|p| p.size.as_ref()))
                .unwrap_or(&f.template.size);
            let replicas = plan
                .and_then(|p| p.replicas.as_ref())
                .map_or(f.template.replicas.value, |r| r.value);
            total.add(workload_demand(spec, &f.template, size, replicas, true));
        }
    }
    for store in &spec.stores {
        let Some(size) = spec.size(&store.value.size) else {
            continue;
        };
        let pods = match &store.value.kind {
            StoreKind::Postgres(pg) => pg.instances.value,
            // The opstree operator runs `clusterSize` leaders and as many followers.
            StoreKind::RedisCluster(r) => 2 * r.cluster_size.value,
            StoreKind::Redis(_) => 1,
            StoreKind::ObjectStorage(o) => o.replicas.value,
        };
        total.add(Demand::of(size, pods as f64));
    }
    if let Some(size) = spec
        .observe
        .logging
        .as_ref()
        .and_then(|l| spec.size(&l.size))
    {
        total.add(Demand::of(size, spec.environment.nodes as f64));
    }
    total
}

/// An error above the environment's allocatable capacity, a warning near it.
pub fn check(spec: &Spec, diags: &mut Diagnostics) {
    let env = &spec.environment;
    let Some(node) = &env.node_allocatable else {
        return;
    };
    let need = demand(spec);
    let nodes = env.nodes as f64;
    let have = Demand {
        cpu: node.cpu.value.value * nodes,
        memory: node.memory.value.value * nodes,
    };
    let gib = |bytes: f64| bytes / 1024f64.powi(3);
    let line = |what: &str, need: f64, have: f64, unit: &str| {
        format!("{what}: {need:.1}{unit} requested at peak of {have:.1}{unit} allocatable")
    };
    let cpu = line("CPU", need.cpu, have.cpu, " cores");
    let memory = line("memory", gib(need.memory), gib(have.memory), " GiB");
    let share = (need.cpu / have.cpu).max(need.memory / have.memory);
    let summary = format!(
        "environment `{}` needs {:.0}% of its {} {} capacity",
        env.name,
        share * 100.0,
        env.nodes,
        if env.nodes == 1 { "node's" } else { "nodes'" }
    );
    let help = "peak = autoscaler maxima, a rolling update's surge, the idle blue-green colour, every fleet instance, the stores' pods and one log agent per node: add nodes, raise `node_allocatable`, or lower sizes and replicas";
    let d = if share > 1.0 {
        Diagnostic::error("P0224", summary)
    } else if share > NEAR {
        Diagnostic::warning("P0224", summary)
    } else {
        return;
    };
    diags.push(
        d.at(node.origin, "the nodes' allocatable capacity")
            .note(cpu)
            .note(memory)
            .help(help),
    );
}
