//! Handing `spec.replicas` of a workload over to its HorizontalPodAutoscaler without the count
//! ever falling to the default of 1.
//!
//! When a workload gets an HPA, plat stops sending its `spec.replicas` (the HPA sets it). With
//! server-side apply, a field whose only manager stops sending it is removed, and defaulting then
//! puts `replicas: 1` back: the workload would drop to one pod at the moment it is meant to scale.
//! The server-side apply documentation's procedure avoids that: another field manager first
//! applies the field alone (here [`HANDOVER_MANAGER`], with the current count kept within the
//! HPA's bounds), so that when plat stops sending it the field still has an owner and keeps its
//! value; the HPA controller takes it over from there. A workload created together with its HPA is
//! created with the HPA's minimum, then handed over the same way.
//!
//! This module is pure: it decides, `apply.rs` sends.

use serde_json::{Value, json};

use super::plan::{DesiredObject, DesiredSet, FIELD_MANAGER, GroupKind, field_owners};

/// The field manager that holds `spec.replicas` between plat and the HPA controller.
pub const HANDOVER_MANAGER: &str = "plat-replicas-handover";

/// The replica bounds of the HPA that scales a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    pub min: i64,
    pub max: i64,
}

/// What to do before plat's own apply of a workload.
#[derive(Clone, Debug, PartialEq)]
pub enum Handover {
    /// Nothing: the workload has no HPA, still sends replicas, or the field is not plat's.
    None,
    /// The workload does not exist yet: create it with `replicas` (as plat), hand the field over,
    /// then apply it without the field.
    CreateThenHandOver { replicas: i64 },
    /// plat owns `spec.replicas` of the live workload: hand it over with this count first.
    HandOver { replicas: i64 },
}

fn is_scalable(gk: &GroupKind) -> bool {
    gk.group == "apps" && (gk.kind == "Deployment" || gk.kind == "StatefulSet")
}

/// The bounds of the HPA in the set that targets `object`, if any.
pub fn hpa_bounds(set: &DesiredSet, object: &DesiredObject) -> Option<Bounds> {
    if !is_scalable(&object.key.gk) {
        return None;
    }
    set.members
        .iter()
        .filter(|m| m.key.gk == GroupKind::new("autoscaling", "HorizontalPodAutoscaler"))
        .filter(|m| m.key.namespace == object.key.namespace)
        .find(|m| {
            let target = &m.manifest["spec"]["scaleTargetRef"];
            target["kind"] == object.key.gk.kind.as_str()
                && target["name"] == object.key.name.as_str()
        })
        .map(|hpa| {
            let min = hpa.manifest["spec"]["minReplicas"].as_i64().unwrap_or(1);
            let max = hpa.manifest["spec"]["maxReplicas"].as_i64().unwrap_or(min);
            Bounds {
                min,
                max: max.max(min),
            }
        })
}

/// Decides the hand-over for one workload from its manifest and live copy.
pub fn plan(bounds: Option<Bounds>, object: &DesiredObject, live: Option<&Value>) -> Handover {
    let Some(bounds) = bounds else {
        return Handover::None;
    };
    if !object.manifest["spec"]["replicas"].is_null() {
        return Handover::None;
    }
    let Some(live) = live else {
        return Handover::CreateThenHandOver {
            replicas: bounds.min,
        };
    };
    let plat_owns = field_owners(live, "/spec/replicas")
        .iter()
        .any(|o| o.manager == FIELD_MANAGER);
    if !plat_owns {
        return Handover::None;
    }
    let current = live["spec"]["replicas"].as_i64().unwrap_or(bounds.min);
    Handover::HandOver {
        replicas: current.clamp(bounds.min, bounds.max),
    }
}

/// The manifest plat creates a workload with before handing its replicas over.
pub fn with_replicas(object: &DesiredObject, replicas: i64) -> DesiredObject {
    let mut copy = object.clone();
    if let Some(spec) = std::sync::Arc::make_mut(&mut copy.manifest)["spec"].as_object_mut() {
        spec.insert("replicas".into(), json!(replicas));
    }
    copy
}

/// The apply body of a field manager that holds `spec.replicas` alone (the hand-over manager, and
/// the release manager of `release.rs`): identity and `spec.replicas` only.
pub fn replicas_only(object: &DesiredObject, replicas: i64) -> Value {
    let mut metadata = json!({"name": object.key.name});
    if let Some(ns) = &object.key.namespace {
        metadata["namespace"] = json!(ns);
    }
    json!({
        "apiVersion": object.manifest["apiVersion"],
        "kind": object.key.gk.kind,
        "metadata": metadata,
        "spec": {"replicas": replicas},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::plan::prepare;

    fn set(replicas: Option<i64>) -> DesiredSet {
        let mut deploy = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"selector": {}}
        });
        if let Some(r) = replicas {
            deploy["spec"]["replicas"] = json!(r);
        }
        let hpa = json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"minReplicas": 2, "maxReplicas": 4,
                     "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}
        });
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}});
        prepare(vec![ns, deploy, hpa], "ns").expect("set")
    }

    fn web(set: &DesiredSet) -> &DesiredObject {
        set.members
            .iter()
            .find(|m| m.key.gk.kind == "Deployment")
            .unwrap()
    }

    fn live(replicas: i64, manager: &str) -> Value {
        json!({
            "metadata": {"managedFields": [{
                "manager": manager, "operation": "Apply",
                "fieldsV1": {"f:spec": {"f:replicas": {}}}
            }]},
            "spec": {"replicas": replicas}
        })
    }

    #[test]
    fn a_new_workload_is_created_at_the_hpa_minimum() {
        let set = set(None);
        let bounds = hpa_bounds(&set, web(&set));
        assert_eq!(bounds, Some(Bounds { min: 2, max: 4 }));
        assert_eq!(
            plan(bounds, web(&set), None),
            Handover::CreateThenHandOver { replicas: 2 }
        );
    }

    #[test]
    fn plats_replicas_are_handed_over_within_the_bounds() {
        let set = set(None);
        let bounds = hpa_bounds(&set, web(&set));
        let keep = plan(bounds, web(&set), Some(&live(3, FIELD_MANAGER)));
        assert_eq!(keep, Handover::HandOver { replicas: 3 });
        let raise = plan(bounds, web(&set), Some(&live(1, FIELD_MANAGER)));
        assert_eq!(raise, Handover::HandOver { replicas: 2 });
        let cap = plan(bounds, web(&set), Some(&live(9, FIELD_MANAGER)));
        assert_eq!(cap, Handover::HandOver { replicas: 4 });
    }

    #[test]
    fn nothing_to_do_once_another_manager_owns_the_field_or_plat_sends_it() {
        let set_without = set(None);
        let bounds = hpa_bounds(&set_without, web(&set_without));
        let owned = live(3, "kube-controller-manager");
        assert_eq!(
            plan(bounds, web(&set_without), Some(&owned)),
            Handover::None
        );
        let set_with = set(Some(3));
        let bounds = hpa_bounds(&set_with, web(&set_with));
        let mine = live(3, FIELD_MANAGER);
        assert_eq!(plan(bounds, web(&set_with), Some(&mine)), Handover::None);
    }

    #[test]
    fn the_handover_body_holds_identity_and_replicas_only() {
        let set = set(None);
        let body = replicas_only(web(&set), 3);
        assert_eq!(
            body,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web", "namespace": "ns"}, "spec": {"replicas": 3}})
        );
    }
}
