//! Reading `[fleets.<name>]`: a workload template, its plans and its instances (written in the spec
//! or one file per instance in a folder, grafted into the tree by the load stage).

use super::read_workload::{env_value, volume, workload_fields};
use super::*;
use crate::decode::Fields;
use crate::diag::Diagnostics;
use crate::node::Node;

pub fn fleet(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Fleet> {
    let mut f = Fields::open(node, path, diags)?;
    let template = workload_fields(&mut f, node, path, diags);
    let max = f.int("max_instances", 1, 100_000, diags);
    if f.need("max_instances").is_none() {
        f.missing("max_instances", "an integer", diags);
    }
    let plans = f.named("plans", diags, plan);
    let instances = f.named("instances", diags, instance);
    // Read by the load stage, which grafts the folder's files into `instances`.
    let _ = f.opt::<String>("instances_from", diags);
    let job = f.opt::<String>("job", diags).map(|j| j.value);
    let title = f.opt::<String>("title", diags).map(|t| t.value);
    let ok = f.finish(diags);
    let template = template?;
    let mut fleet = Fleet {
        template,
        max_instances: max?,
        plans,
        instances,
        job,
        title,
        origin: node.origin,
    };
    fleet.settle_plans();
    ok.then_some(fleet)
}

fn plan(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Plan> {
    let mut f = Fields::open(node, path, diags)?;
    let size = f.opt("size", diags);
    let replicas = f.int("replicas", 0, 10_000, diags);
    let env = f.named("env", diags, env_value);
    let volumes = f.named("volumes", diags, volume);
    f.finish(diags).then_some(Plan {
        size,
        replicas,
        env,
        volumes,
        workload: None,
    })
}

fn instance(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Instance> {
    let mut f = Fields::open(node, path, diags)?;
    let plan = f.opt("plan", diags);
    let size = f.opt("size", diags);
    let vars = f
        .named_of::<String>("vars", diags)
        .into_iter()
        .map(|n| (n.name, n.value))
        .collect();
    f.finish(diags).then_some(Instance { plan, size, vars })
}
