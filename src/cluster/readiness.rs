//! When an applied object counts as ready, per kind. Pure: each rule reads the live object.

use serde_json::Value;

use super::plan::GroupKind;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not yet; the text says what is awaited.
    Waiting(String),
    /// Will not become ready without a change (e.g. a Deployment past its progress deadline).
    Failed(String),
}

/// The readiness rule for a kind, or `None` when objects of the kind are ready once applied.
pub fn readiness(gk: &GroupKind, object: &Value) -> Option<Readiness> {
    Some(match (gk.group.as_str(), gk.kind.as_str()) {
        ("apps", "Deployment") => deployment(object),
        ("apps", "StatefulSet") => statefulset(object),
        ("postgresql.cnpg.io", "Cluster") => condition_true(object, "Ready"),
        ("redis.redis.opstreelabs.in", "RedisCluster") => redis_cluster(object),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            condition_true(object, "Established")
        }
        ("", "Namespace") => namespace(object),
        _ => return None,
    })
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// `observedGeneration` must have caught up with `generation`; until then the status describes an
/// older spec and says nothing about the one just applied (kube-runtime's check omits this).
fn generation_observed(object: &Value) -> Option<Readiness> {
    let generation = int(&object["metadata"]["generation"]);
    let observed = int(&object["status"]["observedGeneration"]);
    (observed < generation).then(|| {
        Readiness::Waiting(format!(
            "controller has not seen generation {generation} yet (observed {observed})"
        ))
    })
}

/// kubectl's `rollout status` rules for a Deployment.
fn deployment(object: &Value) -> Readiness {
    if let Some(waiting) = generation_observed(object) {
        return waiting;
    }
    let status = &object["status"];
    let deadline_exceeded = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded");
    if deadline_exceeded {
        return Readiness::Failed("progress deadline exceeded".into());
    }
    let wanted = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let updated = int(&status["updatedReplicas"]);
    let replicas = int(&status["replicas"]);
    let available = int(&status["availableReplicas"]);
    if updated < wanted {
        return Readiness::Waiting(format!("{updated} of {wanted} replicas updated"));
    }
    if replicas > updated {
        return Readiness::Waiting(format!(
            "{} old replicas pending termination",
            replicas - updated
        ));
    }
    if available < updated {
        return Readiness::Waiting(format!(
            "{available} of {updated} updated replicas available"
        ));
    }
    Readiness::Ready
}

/// kubectl's `rollout status` rules for a StatefulSet (rolling updates without a partition, the only
/// strategy plat emits): every replica ready and updated, and the controller has made the new
/// revision the current one.
fn statefulset(object: &Value) -> Readiness {
    if let Some(waiting) = generation_observed(object) {
        return waiting;
    }
    let status = &object["status"];
    let wanted = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let ready = int(&status["readyReplicas"]);
    let updated = int(&status["updatedReplicas"]);
    if ready < wanted || updated < wanted {
        return Readiness::Waiting(format!(
            "{ready} of {wanted} replicas ready, {updated} updated"
        ));
    }
    let (current, update) = (&status["currentRevision"], &status["updateRevision"]);
    if update.is_string() && current != update {
        return Readiness::Waiting(format!(
            "rolling update to revision {} not complete",
            update.as_str().unwrap_or_default()
        ));
    }
    Readiness::Ready
}

fn condition_true(object: &Value, kind: &str) -> Readiness {
    let condition = object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == kind);
    match condition {
        Some(c) if c["status"] == "True" => Readiness::Ready,
        Some(c) => Readiness::Waiting(format!(
            "condition {kind} is {}{}",
            c["status"].as_str().unwrap_or("Unknown"),
            c["message"]
                .as_str()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )),
        None => Readiness::Waiting(format!("no {kind} condition yet")),
    }
}

/// The opstree operator sets no conditions, only `status.state`.
fn redis_cluster(object: &Value) -> Readiness {
    match object["status"]["state"].as_str() {
        Some("Ready") => Readiness::Ready,
        Some("Failed") => Readiness::Failed(format!(
            "state Failed{}",
            object["status"]["reason"]
                .as_str()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )),
        Some(state) => Readiness::Waiting(format!("state {state}")),
        None => Readiness::Waiting("no state yet".into()),
    }
}

fn namespace(object: &Value) -> Readiness {
    match object["status"]["phase"].as_str() {
        Some("Terminating") => Readiness::Failed("namespace is terminating".into()),
        _ => Readiness::Ready,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(generation: i64, status: Value) -> Value {
        json!({"metadata": {"generation": generation}, "spec": {"replicas": 3}, "status": status})
    }

    #[test]
    fn deployments_follow_kubectl_rollout_rules() {
        let gk = GroupKind::new("apps", "Deployment");
        let done = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3});
        assert_eq!(
            readiness(&gk, &deploy(2, done.clone())),
            Some(Readiness::Ready)
        );
        // Right after an apply the status still describes the previous generation.
        assert!(
            matches!(readiness(&gk, &deploy(3, done)), Some(Readiness::Waiting(m)) if m.contains("generation 3"))
        );
        let rolling = json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3});
        assert!(
            matches!(readiness(&gk, &deploy(2, rolling)), Some(Readiness::Waiting(m)) if m.contains("old replicas"))
        );
        let unavailable = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 1});
        assert!(matches!(
            readiness(&gk, &deploy(2, unavailable)),
            Some(Readiness::Waiting(_))
        ));
        let stuck = json!({"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]});
        assert!(matches!(
            readiness(&gk, &deploy(2, stuck)),
            Some(Readiness::Failed(_))
        ));
    }

    #[test]
    fn statefulsets_follow_kubectl_rollout_rules() {
        let gk = GroupKind::new("apps", "StatefulSet");
        let sts = |status: Value| json!({"metadata": {"generation": 2}, "spec": {"replicas": 2}, "status": status});
        let done = json!({"observedGeneration": 2, "readyReplicas": 2, "updatedReplicas": 2,
                          "currentRevision": "db-b", "updateRevision": "db-b"});
        assert_eq!(readiness(&gk, &sts(done)), Some(Readiness::Ready));
        let one_old = json!({"observedGeneration": 2, "readyReplicas": 2, "updatedReplicas": 1,
                             "currentRevision": "db-a", "updateRevision": "db-b"});
        assert!(
            matches!(readiness(&gk, &sts(one_old)), Some(Readiness::Waiting(m)) if m.contains("1 updated"))
        );
        let not_current = json!({"observedGeneration": 2, "readyReplicas": 2, "updatedReplicas": 2,
                                 "currentRevision": "db-a", "updateRevision": "db-b"});
        assert!(
            matches!(readiness(&gk, &sts(not_current)), Some(Readiness::Waiting(m)) if m.contains("db-b"))
        );
        let stale = json!({"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 2});
        assert!(matches!(
            readiness(&gk, &sts(stale)),
            Some(Readiness::Waiting(_))
        ));
    }

    #[test]
    fn operators_have_their_own_rules() {
        let cnpg = GroupKind::new("postgresql.cnpg.io", "Cluster");
        let ready = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(readiness(&cnpg, &ready), Some(Readiness::Ready));
        let not = json!({"status": {"conditions": [{"type": "Ready", "status": "False", "message": "creating primary"}]}});
        assert!(
            matches!(readiness(&cnpg, &not), Some(Readiness::Waiting(m)) if m.contains("creating primary"))
        );
        let redis = GroupKind::new("redis.redis.opstreelabs.in", "RedisCluster");
        assert_eq!(
            readiness(&redis, &json!({"status": {"state": "Ready"}})),
            Some(Readiness::Ready)
        );
        assert!(matches!(
            readiness(&redis, &json!({"status": {"state": "Bootstrap"}})),
            Some(Readiness::Waiting(_))
        ));
        assert!(readiness(&GroupKind::new("", "ConfigMap"), &json!({})).is_none());
    }
}
