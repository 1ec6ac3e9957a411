//! Objects the server will not update in place: a change to a field it holds immutable (a
//! Service's cluster IP, a StatefulSet's claim templates or selector, a RoleBinding's role, a
//! claim's storage class). The server answers such an apply with 422 Invalid, as it answers a value
//! that is wrong everywhere; the two are told apart by a dry run of the same manifest as a new
//! object, which only the update rules refuse. Such an object is applied by deleting it and
//! creating it again: `plat apply --replace` does that for kinds where it loses nothing that cannot
//! be made again, and never for those that hold data or other objects.

use std::time::{Duration, Instant};

use kube::Client;
use kube::api::PropagationPolicy;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::live;
use super::plan::{DesiredObject, FIELD_MANAGER, GroupKind, ObjKey};
use super::resources::ResourceInfo;
use super::{Error, Result};

/// What replacing an object of a kind means.
#[derive(Clone, Debug, PartialEq)]
pub enum Policy {
    /// Deleted with `propagation` and created again; `cost` says what happens meanwhile.
    Replace {
        propagation: PropagationPolicy,
        cost: &'static str,
    },
    /// Never deleted by plat, for the reason given.
    Never(&'static str),
}

/// The policy for one object, from its kind and, for controllers, whether the new object would
/// adopt the old one's pods (the same selector).
pub fn policy(gk: &GroupKind, live: &Value, desired: &Value) -> Policy {
    let replace = |cost| Policy::Replace {
        propagation: PropagationPolicy::Background,
        cost,
    };
    match (gk.group.as_str(), gk.kind.as_str()) {
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") => {
            if live["spec"]["selector"] == desired["spec"]["selector"] {
                Policy::Replace {
                    propagation: PropagationPolicy::Orphan,
                    cost: "its pods keep running, and the new object adopts them and rolls them to its template",
                }
            } else {
                replace(
                    "its pods are deleted with it, since the new selector would not adopt them, and the new object starts its own",
                )
            }
        }
        ("", "Service") => replace(
            "its address and endpoints are gone until it is created again: new connections fail for that moment",
        ),
        ("batch", "Job") => replace("its pods are deleted with it, and it runs again"),
        ("batch", "CronJob") => replace("Jobs it started are deleted with it"),
        ("", "ConfigMap" | "Secret" | "ServiceAccount")
        | ("policy", "PodDisruptionBudget")
        | ("autoscaling", "HorizontalPodAutoscaler")
        | ("networking.k8s.io", "Ingress") => {
            replace("it is absent for a moment; what reads it meanwhile finds nothing")
        }
        ("networking.k8s.io", "NetworkPolicy") => {
            replace("its pods are not governed by it for a moment")
        }
        ("rbac.authorization.k8s.io", _) => {
            replace("its subjects lack its permissions for a moment")
        }
        ("", "PersistentVolumeClaim") => {
            Policy::Never("deleting a claim can delete its volume and the data on it")
        }
        ("", "Namespace") => Policy::Never("deleting a namespace deletes everything in it"),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            Policy::Never("deleting a CRD deletes every object of its kind")
        }
        _ => Policy::Never(
            "its controller may delete what it manages (a database, a cache, its pods and volumes) along with it",
        ),
    }
}

/// The name the fit-as-new dry run uses: short and valid for every kind's name rule, and not one
/// a spec would choose.
fn probe_name(key: &ObjKey) -> String {
    let digest = Sha256::digest(key.to_string().as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("plat-new-{hex}")
}

/// What the server makes of `object` as a new object (a dry-run apply of it under another name,
/// with its own name put back), or `None` when it refuses that too. A 422 of the update that this
/// passes came from the update rules (an immutable field).
pub async fn as_new(client: &Client, info: &ResourceInfo, object: &DesiredObject) -> Option<Value> {
    let key = ObjKey {
        name: probe_name(&object.key),
        ..object.key.clone()
    };
    let mut body = (*object.manifest).clone();
    body["metadata"]["name"] = json!(key.name);
    let write = live::Write {
        manager: FIELD_MANAGER,
        dry_run: true,
        force: true,
    };
    let mut preview = live::apply_as(client, info, &key, &body, write)
        .await
        .ok()?;
    preview["metadata"]["name"] = json!(object.key.name);
    Some(preview)
}

/// What the server said, and what replacing the object would take.
pub fn needs_replacement(key: &ObjKey, why: &str, policy: &Policy) -> String {
    match policy {
        Policy::Replace { cost, .. } => format!(
            "{why}. The server updates none of these fields in place: {key} must be deleted and \
             created again, which `plat apply --replace` does ({cost})"
        ),
        Policy::Never(reason) => format!(
            "{why}. The server updates none of these fields in place, and plat never deletes a {} \
             to replace it: {reason}. Change the spec back, or move the data and replace it by hand",
            key.gk.kind
        ),
    }
}

/// Deletes the live object (only if it is still the one observed) with the policy's propagation,
/// waits until it is gone, and applies the manifest as a new object.
pub async fn replace(
    client: &Client,
    info: &ResourceInfo,
    (object, live): (&DesiredObject, &Value),
    propagation: PropagationPolicy,
    (timeout, poll): (Duration, Duration),
) -> Result<()> {
    let key = &object.key;
    let uid = live["metadata"]["uid"].as_str().unwrap_or_default();
    live::delete_object(client, info, key, uid, Some(propagation)).await?;
    let deadline = Instant::now() + timeout;
    loop {
        let current = live::get(client, info, key.namespace.as_deref(), &key.name).await?;
        let gone = current.is_none_or(|c| c["metadata"]["uid"].as_str() != Some(uid));
        if gone {
            break;
        }
        if Instant::now() >= deadline {
            return Err(Error(format!(
                "{key} was deleted to be replaced but is still there after {}s (a finalizer, or \
                 no garbage collector to orphan its dependents); it is created again by the next \
                 apply once it is gone",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(poll).await;
    }
    live::apply(client, info, object, false, false)
        .await
        .map(|_| ())
        .map_err(|(_, e)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gk(group: &str, kind: &str) -> GroupKind {
        GroupKind::new(group, kind)
    }

    #[test]
    fn controllers_keep_their_pods_when_the_new_object_adopts_them() {
        let sts = gk("apps", "StatefulSet");
        let selector = json!({"spec": {"selector": {"matchLabels": {"app": "db"}}}});
        let other = json!({"spec": {"selector": {"matchLabels": {"app": "db2"}}}});
        assert!(matches!(
            policy(&sts, &selector, &selector),
            Policy::Replace {
                propagation: PropagationPolicy::Orphan,
                ..
            }
        ));
        assert!(matches!(
            policy(&sts, &selector, &other),
            Policy::Replace {
                propagation: PropagationPolicy::Background,
                ..
            }
        ));
    }

    #[test]
    fn what_holds_data_or_other_objects_is_never_replaced() {
        let none = Value::Null;
        for (group, kind) in [
            ("", "PersistentVolumeClaim"),
            ("", "Namespace"),
            ("apiextensions.k8s.io", "CustomResourceDefinition"),
            ("postgresql.cnpg.io", "Cluster"),
        ] {
            assert!(
                matches!(policy(&gk(group, kind), &none, &none), Policy::Never(_)),
                "{kind}"
            );
        }
        assert!(matches!(
            policy(&gk("", "Service"), &none, &none),
            Policy::Replace { .. }
        ));
    }

    #[test]
    fn the_probe_name_fits_every_kind() {
        let key = ObjKey {
            gk: gk("", "Service"),
            namespace: Some("saas-prod".into()),
            name: "a".repeat(63),
        };
        let name = probe_name(&key);
        assert!(
            crate::object_names::name_rule("Service", &name).is_ok(),
            "{name}"
        );
        assert_eq!(name, probe_name(&key));
    }

    #[test]
    fn the_message_says_what_replacing_costs_or_why_plat_will_not() {
        let key = ObjKey {
            gk: gk("", "Service"),
            namespace: Some("ns".into()),
            name: "web".into(),
        };
        let text = needs_replacement(
            &key,
            "spec.clusterIPs[0]: may not change once set",
            &policy(&key.gk, &Value::Null, &Value::Null),
        );
        assert!(text.contains("--replace") && text.contains("may not change once set"));
        let claim = ObjKey {
            gk: gk("", "PersistentVolumeClaim"),
            ..key
        };
        let text = needs_replacement(&claim, "spec: Forbidden", &Policy::Never("data"));
        assert!(
            text.contains("never deletes a PersistentVolumeClaim") && !text.contains("--replace")
        );
    }
}
