//! `plat rbac --env ENV`: the least-privilege RBAC a pipeline identity needs for `plat diff`,
//! `apply`, `apply --prune` and `drift` of one environment. Pure: from the environment's objects.
//!
//! What each request of the cluster stage needs (see `live.rs`):
//! - LIST of each kind with the ApplySet selector, GET of single objects: `get`, `list`;
//! - server-side apply and its dry run (diff, drift): `patch`, and `create` for objects that do not
//!   exist yet (an apply that creates is authorised as a create as well);
//! - prune and `--replace`: `delete` (never of Namespaces, which plat does not prune without
//!   --prune-protected and never replaces); `--replace` also dry-runs an apply under another name,
//!   which the `create` above covers;
//! - the health gate of a blue-green switch: `list` pods and `get` `pods/proxy`;
//! - a Role or ClusterRole plat writes may grant what the pipeline itself does not have: `escalate`
//!   on exactly those roles; a binding plat writes needs `bind` on exactly the roles it references.
//!
//! Cluster-wide: Namespaces (one LIST of plat's namespaces, the ApplySet parent) and the cluster-
//! scoped kinds of the environment, in a ClusterRole. Per namespace: a Role with the namespaced
//! kinds. With `--subject`, the bindings too, and the Namespaces themselves, so that an
//! administrator can apply the output once before the pipeline's first `plat apply`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::plan::{DesiredSet, GroupKind};
use super::resources;

/// Who the bindings name: `User:NAME`, `Group:NAME` or `ServiceAccount:NAMESPACE/NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    User(String),
    Group(String),
    ServiceAccount { namespace: String, name: String },
}

impl Subject {
    pub fn parse(text: &str) -> Result<Subject, String> {
        let (kind, name) = text.split_once(':').ok_or_else(|| {
            format!("`{text}`: expected User:NAME, Group:NAME or ServiceAccount:NAMESPACE/NAME")
        })?;
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("`{text}`: the subject has no name"));
        }
        match kind {
            "User" => Ok(Subject::User(name.into())),
            "Group" => Ok(Subject::Group(name.into())),
            "ServiceAccount" => {
                let (namespace, sa) = name
                    .split_once('/')
                    .ok_or_else(|| format!("`{text}`: a ServiceAccount is NAMESPACE/NAME"))?;
                Ok(Subject::ServiceAccount {
                    namespace: namespace.into(),
                    name: sa.into(),
                })
            }
            other => Err(format!(
                "`{text}`: unknown subject kind `{other}` (User, Group or ServiceAccount)"
            )),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Subject::User(name) => {
                json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name})
            }
            Subject::Group(name) => {
                json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name})
            }
            Subject::ServiceAccount { namespace, name } => {
                json!({"kind": "ServiceAccount", "name": name, "namespace": namespace})
            }
        }
    }
}

const WRITE: &[&str] = &["get", "list", "create", "patch", "delete"];

/// The plural of a kind: built-ins from the table, custom resources by the default rule (the one
/// `live.rs` tries first).
fn plural(gk: &GroupKind) -> String {
    resources::builtin_any(&gk.group, &gk.kind)
        .map(|info| info.plural)
        .unwrap_or_else(|| resources::guess_plural(&gk.kind))
}

fn is_namespaced(gk: &GroupKind, set: &DesiredSet) -> bool {
    match resources::builtin_any(&gk.group, &gk.kind) {
        Some(info) => info.namespaced,
        // A custom resource: namespaced when its objects have a namespace.
        None => set
            .members
            .iter()
            .any(|m| &m.key.gk == gk && m.key.namespace.is_some()),
    }
}

/// Rules for a set of kinds: one rule per API group, resources sorted, so the output is stable.
fn rules_for(kinds: &BTreeSet<GroupKind>, verbs: &[&str]) -> Vec<Value> {
    let mut by_group: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for gk in kinds {
        by_group.entry(&gk.group).or_default().insert(plural(gk));
    }
    by_group
        .into_iter()
        .map(|(group, plurals)| json!({"apiGroups": [group], "resources": plurals, "verbs": verbs}))
        .collect()
}

/// `escalate` on the roles plat writes and `bind` on the roles its bindings reference.
fn role_rules(set: &DesiredSet, namespace: Option<&str>) -> Vec<Value> {
    let (role_kind, binding_kind) = match namespace {
        Some(_) => ("Role", "RoleBinding"),
        None => ("ClusterRole", "ClusterRoleBinding"),
    };
    let here = |ns: &Option<String>| ns.as_deref() == namespace;
    let mut escalate: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut bind: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for m in &set.members {
        if m.key.gk.group != "rbac.authorization.k8s.io" {
            continue;
        }
        if m.key.gk.kind == role_kind && here(&m.key.namespace) {
            escalate
                .entry(plural_of_role(role_kind))
                .or_default()
                .insert(m.key.name.clone());
        }
        let is_binding = m.key.gk.kind == binding_kind && here(&m.key.namespace);
        if let (true, Some(role)) = (is_binding, m.manifest["roleRef"]["name"].as_str()) {
            let kind = m.manifest["roleRef"]["kind"].as_str().unwrap_or(role_kind);
            bind.entry(plural_of_role(kind))
                .or_default()
                .insert(role.to_string());
        }
    }
    let mut rules = Vec::new();
    for (verb, map) in [("escalate", escalate), ("bind", bind)] {
        for (resource, names) in map {
            rules.push(json!({
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": [resource],
                "resourceNames": names,
                "verbs": [verb],
            }));
        }
    }
    rules
}

/// The health gate of a blue-green switch (gate.rs) lists the colour's pods and asks each one over
/// HTTP through the API server's pod proxy: only in namespaces with a blue-green Service.
fn gate_rules(set: &DesiredSet, namespace: &str) -> Vec<Value> {
    let has_colours = set.members.iter().any(|m| {
        m.key.gk == GroupKind::new("", "Service")
            && m.key.namespace.as_deref() == Some(namespace)
            && m.manifest["spec"]["selector"][crate::lower::services::COLOR_LABEL].is_string()
    });
    if !has_colours {
        return Vec::new();
    }
    vec![
        json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}),
        json!({"apiGroups": [""], "resources": ["pods/proxy"], "verbs": ["get"]}),
    ]
}

fn plural_of_role(kind: &str) -> &'static str {
    if kind == "ClusterRole" {
        "clusterroles"
    } else {
        "roles"
    }
}

/// The objects `plat rbac` prints, in the order an administrator applies them.
pub fn objects(env: &str, set: &DesiredSet, subject: Option<&Subject>) -> Vec<Value> {
    let name = format!("plat-{env}");
    let namespace_gk = GroupKind::new("", "Namespace");
    let mut cluster_kinds = BTreeSet::new();
    let mut namespaced: BTreeMap<String, BTreeSet<GroupKind>> = BTreeMap::new();
    for m in &set.members {
        if m.key.gk == namespace_gk {
            continue;
        }
        match (&m.key.namespace, is_namespaced(&m.key.gk, set)) {
            (Some(ns), true) => {
                namespaced
                    .entry(ns.clone())
                    .or_default()
                    .insert(m.key.gk.clone());
            }
            _ => {
                cluster_kinds.insert(m.key.gk.clone());
            }
        }
    }
    // plat lists every namespaced kind of the environment in each of its namespaces (when it may
    // not list across namespaces), so each namespace's Role has all of them.
    let all_namespaced: BTreeSet<GroupKind> = namespaced.values().flatten().cloned().collect();
    let namespaced: BTreeMap<String, BTreeSet<GroupKind>> = set
        .namespaces()
        .into_iter()
        .map(|ns| (ns, all_namespaced.clone()))
        .collect();
    let mut cluster_rules = vec![json!({
        "apiGroups": [""], "resources": ["namespaces"],
        "verbs": ["get", "list", "create", "patch"],
    })];
    cluster_rules.extend(rules_for(&cluster_kinds, WRITE));
    cluster_rules.extend(role_rules(set, None));
    let labels = json!({"app.kubernetes.io/managed-by": "plat-rbac", "plat.dev/environment": env});
    let mut out = Vec::new();
    if subject.is_some() {
        for ns in namespaced.keys() {
            out.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
        }
    }
    out.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name, "labels": labels},
        "rules": cluster_rules,
    }));
    for (ns, kinds) in &namespaced {
        let mut rules = rules_for(kinds, WRITE);
        rules.extend(role_rules(set, Some(ns)));
        rules.extend(gate_rules(set, ns));
        out.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "rules": rules,
        }));
    }
    if let Some(subject) = subject {
        out.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [subject.to_json()],
        }));
        for ns in namespaced.keys() {
            out.push(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": name, "namespace": ns, "labels": labels},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": [subject.to_json()],
            }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::plan::prepare;

    fn set() -> DesiredSet {
        let objects = vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "app"}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "app"}}),
            json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "web", "namespace": "app"}}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "reader"}, "rules": []}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "reader"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "reader"}, "subjects": []}),
        ];
        prepare(objects, "app").expect("set")
    }

    #[test]
    fn namespaced_kinds_go_to_a_role_and_cluster_kinds_to_the_cluster_role() {
        let out = objects("dev", &set(), None);
        assert_eq!(out.len(), 2);
        let cluster = &out[0];
        assert_eq!(cluster["kind"], "ClusterRole");
        assert_eq!(cluster["rules"][0]["resources"], json!(["namespaces"]));
        assert_eq!(
            cluster["rules"][1],
            json!({"apiGroups": ["rbac.authorization.k8s.io"],
                   "resources": ["clusterrolebindings", "clusterroles"],
                   "verbs": ["get", "list", "create", "patch", "delete"]})
        );
        assert_eq!(cluster["rules"][2]["verbs"], json!(["escalate"]));
        assert_eq!(cluster["rules"][2]["resourceNames"], json!(["reader"]));
        assert_eq!(cluster["rules"][3]["verbs"], json!(["bind"]));
        let role = &out[1];
        assert_eq!(role["kind"], "Role");
        assert_eq!(role["metadata"]["namespace"], "app");
        let resources: Vec<&Value> = role["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["resources"])
            .collect();
        assert_eq!(
            resources,
            [
                &json!(["services"]),
                &json!(["deployments"]),
                &json!(["servicemonitors"])
            ]
        );
    }

    #[test]
    fn a_subject_adds_namespaces_and_bindings() {
        let subject = Subject::parse("User:pipeline").unwrap();
        let out = objects("dev", &set(), Some(&subject));
        let kinds: Vec<&str> = out.iter().map(|o| o["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "Namespace",
                "ClusterRole",
                "Role",
                "ClusterRoleBinding",
                "RoleBinding"
            ]
        );
        assert_eq!(out[3]["subjects"][0]["name"], "pipeline");
        assert!(Subject::parse("pipeline").is_err());
        assert!(Subject::parse("ServiceAccount:ci").is_err());
        assert_eq!(
            Subject::parse("ServiceAccount:ci/deployer").unwrap(),
            Subject::ServiceAccount {
                namespace: "ci".into(),
                name: "deployer".into()
            }
        );
    }
}
