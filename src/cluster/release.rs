//! Releases: migration hooks and blue-green switches, decided from the desired set and the live
//! objects. Pure: `gate.rs` and `apply.rs` send the requests.
//!
//! Hooks. A Job with `plat.dev/hook-before` is applied in its own stage, after the configuration
//! and network objects it needs and before every workload, and is waited for until it completed.
//! Its name carries a hash of what it runs, so a Job that already completed is unchanged and the
//! wait ends at once: a migration runs once per version. A failed hook stops the apply before the
//! workloads.
//!
//! Blue-green. The spec says which colour takes traffic (`release.active`); the main Service's
//! selector carries the colour. An apply that moves the selector is a switch: the Service is held
//! back until the workloads are applied and the colour it moves to has passed the health gate
//! (rolled out, every pod ready, each pod answering its HTTP readiness path through the API
//! server's pod proxy); a failed gate leaves the selector where it was. The colour that took
//! traffic until the switch must stay as it runs, so that rolling back is a switch to a warm
//! colour. The idle colour that runs `next_image` comes up at the active colour's live capacity,
//! written by field manager [`RELEASE_MANAGER`], so the spec declares no count for it and diff and
//! drift have nothing to report about it.

use serde_json::{Value, json};

use super::handover::hpa_bounds;
use super::plan::{DesiredObject, DesiredSet, GroupKind, ObjKey, annotation, field_owners};
use crate::lower::services::{CAPACITY_ANNOTATION, COLOR_LABEL, HOOK_ANNOTATION};

/// The field manager that holds the idle colour's `spec.replicas`.
pub const RELEASE_MANAGER: &str = "plat-release";

fn is_job(gk: &GroupKind) -> bool {
    gk.group == "batch" && gk.kind == "Job"
}

fn is_deployment(gk: &GroupKind) -> bool {
    gk.group == "apps" && gk.kind == "Deployment"
}

/// Whether an object is a hook: a Job that runs before the workloads it names.
pub fn is_hook(object: &DesiredObject) -> bool {
    is_job(&object.key.gk) && annotation(&object.manifest, HOOK_ANNOTATION).is_some()
}

/// The workloads a hook guards, as the spec names them.
pub fn guarded(object: &DesiredObject) -> Vec<&str> {
    annotation(&object.manifest, HOOK_ANNOTATION)
        .map(|list| list.split(',').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

/// Where a Job is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    Complete,
    Running(String),
    Failed(String),
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == kind && c["status"] == "True")
}

/// A Job's state from its conditions (the Job controller sets `Complete` or `Failed`, and before
/// them `SuccessCriteriaMet` or `FailureTarget` while its pods terminate).
pub fn job_state(job: &Value) -> JobState {
    if condition(job, "Complete").is_some() {
        return JobState::Complete;
    }
    if let Some(failed) = condition(job, "Failed").or_else(|| condition(job, "FailureTarget")) {
        let reason = failed["reason"].as_str().unwrap_or("Failed");
        let message = failed["message"].as_str().unwrap_or("");
        return JobState::Failed(format!("{reason}: {message}").trim_end_matches(": ").into());
    }
    let status = &job["status"];
    JobState::Running(format!(
        "{} active, {} succeeded, {} failed",
        status["active"].as_i64().unwrap_or(0),
        status["succeeded"].as_i64().unwrap_or(0),
        status["failed"].as_i64().unwrap_or(0)
    ))
}

// ---------------------------------------------------------------------------------------------
// Capacity of the idle colour

/// The Deployment whose capacity an idle colour copies, if it is one.
pub fn capacity_source(object: &DesiredObject) -> Option<ObjKey> {
    if !is_deployment(&object.key.gk) {
        return None;
    }
    annotation(&object.manifest, CAPACITY_ANNOTATION).map(|name| ObjKey {
        gk: object.key.gk.clone(),
        namespace: object.key.namespace.clone(),
        name: name.to_string(),
    })
}

fn hpa_of<'a>(set: &'a DesiredSet, target: &ObjKey) -> Option<&'a DesiredObject> {
    set.members.iter().find(|m| {
        m.key.gk == GroupKind::new("autoscaling", "HorizontalPodAutoscaler")
            && m.key.namespace == target.namespace
            && m.manifest["spec"]["scaleTargetRef"]["name"] == target.name.as_str()
    })
}

/// The replica count the idle colour comes up at: the larger of the active colour's live
/// `spec.replicas` and its HPA's `status.currentReplicas`, never below the HPA's minimum; the
/// spec's count (or the HPA's minimum) when the active colour is not live yet.
pub fn idle_capacity(
    set: &DesiredSet,
    idle: &DesiredObject,
    live_of: &dyn Fn(&ObjKey) -> Option<Value>,
) -> Option<i64> {
    let source = capacity_source(idle)?;
    let active = set.members.iter().find(|m| m.key == source);
    let bounds = active.and_then(|a| hpa_bounds(set, a));
    let live = live_of(&source).and_then(|l| l["spec"]["replicas"].as_i64());
    let current = hpa_of(set, &source)
        .and_then(|hpa| live_of(&hpa.key))
        .and_then(|l| l["status"]["currentReplicas"].as_i64());
    let declared = active.and_then(|a| a.manifest["spec"]["replicas"].as_i64());
    let observed = live.into_iter().chain(current).max();
    let count = observed.or(declared).or(bounds.map(|b| b.min)).unwrap_or(1);
    Some(count.max(bounds.map_or(0, |b| b.min)))
}

/// Whether the release manager holds `spec.replicas` of a live object.
pub fn release_owns_replicas(live: &Value) -> bool {
    field_owners(live, "/spec/replicas")
        .iter()
        .any(|o| o.manager == RELEASE_MANAGER)
}

// ---------------------------------------------------------------------------------------------
// Switches

/// A Service whose selector moves traffic from one colour to the other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch {
    pub service: ObjKey,
    pub from: String,
    pub to: String,
}

fn selector_color(selector: &Value) -> Option<&str> {
    selector[COLOR_LABEL].as_str()
}

/// The switch an apply of this Service would make, if it moves the colour of a live selector.
pub fn switch_of(object: &DesiredObject, live: Option<&Value>) -> Option<Switch> {
    if object.key.gk != GroupKind::new("", "Service") {
        return None;
    }
    let to = selector_color(&object.manifest["spec"]["selector"])?;
    let from = selector_color(&live?["spec"]["selector"])?;
    (from != to).then(|| Switch {
        service: object.key.clone(),
        from: from.to_string(),
        to: to.to_string(),
    })
}

fn selects(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| &labels[k] == v))
}

/// The Deployments of the set whose pods a selector picks (in the Service's namespace).
pub fn selected<'a>(
    set: &'a DesiredSet,
    namespace: &Option<String>,
    selector: &Value,
) -> Vec<&'a DesiredObject> {
    set.members
        .iter()
        .filter(|m| is_deployment(&m.key.gk) && &m.key.namespace == namespace)
        .filter(|m| {
            selects(
                selector,
                &m.manifest["spec"]["template"]["metadata"]["labels"],
            )
        })
        .collect()
}

/// The Deployments a switch moves traffic to.
pub fn targets<'a>(set: &'a DesiredSet, switch: &Switch) -> Vec<&'a DesiredObject> {
    let Some(service) = set.members.iter().find(|m| m.key == switch.service) else {
        return Vec::new();
    };
    selected(
        set,
        &service.key.namespace,
        &service.manifest["spec"]["selector"],
    )
}

fn images(pod_spec: &Value) -> Vec<(String, String)> {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|list| pod_spec[list].as_array().into_iter().flatten())
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").to_string(),
                c["image"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Why an apply may not make this switch, if it may not: the colour that takes traffic until the
/// switch must stay as it runs (not be scaled to zero, not get another image) in the same apply,
/// so that it is the warm colour a rollback switches back to.
pub fn switch_refusal(
    switch: &Switch,
    previous: &DesiredObject,
    live: Option<&Value>,
) -> Option<String> {
    let live = live?;
    let name = &previous.key;
    let who = format!(
        "{} moves traffic from {} to {}, but {name}, which takes the traffic until the switch,",
        switch.service, switch.from, switch.to
    );
    if previous.manifest["spec"]["replicas"] == json!(0) {
        return Some(format!(
            "{who} would be scaled to 0 in the same apply. Keep it warm for a rollback: set the \
             service's `next_image` to the image it runs now when you flip `release.active`, and \
             remove `next_image` in a later change to retire it"
        ));
    }
    let want = images(&previous.manifest["spec"]["template"]["spec"]);
    let have = images(&live["spec"]["template"]["spec"]);
    let changed: Vec<String> = want
        .iter()
        .filter_map(|(container, image)| {
            let old = have.iter().find(|(c, _)| c == container)?;
            (&old.1 != image).then(|| format!("{container}: {} -> {image}", old.1))
        })
        .collect();
    (!changed.is_empty()).then(|| {
        format!(
            "{who} would get another image ({}). When you flip `release.active`, swap `image` and \
             `next_image` too: the colour that takes traffic runs `image`, the idle one `next_image`",
            changed.join(", ")
        )
    })
}

// ---------------------------------------------------------------------------------------------
// The health gate

/// The HTTP check of a colour: its readiness probe's `httpGet`, asked of each pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCheck {
    pub scheme: String,
    pub port: String,
    pub path: String,
}

/// The HTTP check a Deployment's pods answer, from the first container's HTTP readiness probe (a
/// named port resolved to its number); `None` when the probe is not HTTP.
pub fn http_check(deployment: &Value) -> Option<HttpCheck> {
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let get = &container["readinessProbe"]["httpGet"];
    if get.is_null() {
        return None;
    }
    let port = match &get["port"] {
        Value::Number(n) => n.to_string(),
        Value::String(name) => container["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name.as_str())
            .map(|p| p["containerPort"].to_string())
            .unwrap_or_else(|| name.clone()),
        _ => return None,
    };
    Some(HttpCheck {
        scheme: get["scheme"].as_str().unwrap_or("HTTP").to_lowercase(),
        port,
        path: get["path"].as_str().unwrap_or("/").to_string(),
    })
}

fn pod_ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running" && condition(pod, "Ready").is_some()
}

/// The pods the gate asks over HTTP, or what it still waits for: every pod of the colour (that is
/// not being deleted) is Running and Ready, and there are as many as the Deployment wants, at
/// least one.
pub fn ready_pods(wanted: i64, pods: &[Value]) -> Result<Vec<String>, String> {
    let current: Vec<&Value> = pods
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect();
    let ready: Vec<String> = current
        .iter()
        .filter(|p| pod_ready(p))
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    let wanted = wanted.max(1);
    if ready.len() as i64 >= wanted && ready.len() == current.len() {
        Ok(ready)
    } else {
        Err(format!(
            "{} of {} pods ready, {wanted} wanted",
            ready.len(),
            current.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::plan::prepare;

    fn deployment(name: &str, color: &str, image: &str, replicas: Option<i64>) -> Value {
        let mut d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {
                "selector": {"matchLabels": {"app": "web", COLOR_LABEL: color}},
                "template": {
                    "metadata": {"labels": {"app": "web", COLOR_LABEL: color}},
                    "spec": {"containers": [{
                        "name": "web", "image": image,
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}}
                    }]}
                }
            }
        });
        if let Some(r) = replicas {
            d["spec"]["replicas"] = json!(r);
        }
        d
    }

    fn service(color: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "ns"},
               "spec": {"selector": {"app": "web", COLOR_LABEL: color}, "ports": [{"port": 80}]}})
    }

    fn set(idle_annotated: bool) -> DesiredSet {
        let mut green = deployment("web-green", "green", "app:2", None);
        if idle_annotated {
            green["metadata"]["annotations"] = json!({CAPACITY_ANNOTATION: "web-blue"});
        }
        let hpa = json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"minReplicas": 2, "maxReplicas": 6,
                     "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web-blue"}}
        });
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}});
        let blue = deployment("web-blue", "blue", "app:1", None);
        prepare(vec![ns, blue, green, hpa, service("green")], "ns").expect("set")
    }

    fn member<'a>(set: &'a DesiredSet, name: &str) -> &'a DesiredObject {
        set.members
            .iter()
            .find(|m| m.key.name == name && m.key.gk.kind != "HorizontalPodAutoscaler")
            .unwrap()
    }

    #[test]
    fn the_idle_colour_copies_the_larger_of_live_replicas_and_the_hpas_current_count() {
        let set = set(true);
        let idle = member(&set, "web-green");
        let live = |key: &ObjKey| match key.name.as_str() {
            "web-blue" => Some(json!({"spec": {"replicas": 4}})),
            "web" => Some(json!({"status": {"currentReplicas": 5}})),
            _ => None,
        };
        assert_eq!(idle_capacity(&set, idle, &live), Some(5));
        // Not live yet: the HPA's minimum.
        assert_eq!(idle_capacity(&set, idle, &|_| None), Some(2));
        // A live count below the minimum is raised to it.
        let low = |key: &ObjKey| (key.name == "web-blue").then(|| json!({"spec": {"replicas": 1}}));
        assert_eq!(idle_capacity(&set, idle, &low), Some(2));
        assert_eq!(idle_capacity(&set, member(&set, "web-blue"), &live), None);
    }

    #[test]
    fn a_switch_is_a_colour_change_of_a_live_selector_and_targets_that_colour() {
        let set = set(false);
        let svc = member(&set, "web");
        let live_blue = service("blue");
        let switch = switch_of(svc, Some(&live_blue)).expect("a switch");
        assert_eq!(
            (switch.from.as_str(), switch.to.as_str()),
            ("blue", "green")
        );
        let names: Vec<&str> = targets(&set, &switch)
            .iter()
            .map(|d| d.key.name.as_str())
            .collect();
        assert_eq!(names, ["web-green"]);
        assert_eq!(switch_of(svc, Some(&service("green"))), None);
        assert_eq!(switch_of(svc, None), None, "a new Service moves no traffic");
    }

    #[test]
    fn the_colour_that_takes_traffic_may_not_be_retired_or_reimaged_by_the_switch() {
        let switch = Switch {
            service: member(&set(false), "web").key.clone(),
            from: "blue".into(),
            to: "green".into(),
        };
        let live = deployment("web-blue", "blue", "app:1", Some(3));
        let one = |d: Value| {
            let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}});
            let set = prepare(vec![ns, d], "ns").unwrap();
            set.members[0].clone()
        };
        let keep = one(deployment("web-blue", "blue", "app:1", None));
        assert_eq!(switch_refusal(&switch, &keep, Some(&live)), None);
        let retire = one(deployment("web-blue", "blue", "app:1", Some(0)));
        let why = switch_refusal(&switch, &retire, Some(&live)).unwrap();
        assert!(why.contains("scaled to 0"), "{why}");
        let reimage = one(deployment("web-blue", "blue", "app:2", None));
        let why = switch_refusal(&switch, &reimage, Some(&live)).unwrap();
        assert!(why.contains("web: app:1 -> app:2"), "{why}");
    }

    #[test]
    fn the_gate_asks_the_readiness_path_of_every_pod_once_all_are_ready() {
        let d = deployment("web-green", "green", "app:2", Some(2));
        assert_eq!(
            http_check(&d),
            Some(HttpCheck {
                scheme: "http".into(),
                port: "8080".into(),
                path: "/ready".into()
            })
        );
        let pod = |name: &str, ready: bool| {
            json!({"metadata": {"name": name}, "status": {"phase": "Running",
                   "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
        };
        assert_eq!(
            ready_pods(2, &[pod("a", true), pod("b", true)]),
            Ok(vec!["a".to_string(), "b".to_string()])
        );
        assert!(ready_pods(2, &[pod("a", true), pod("b", false)]).is_err());
        assert!(ready_pods(2, &[pod("a", true)]).is_err());
        assert!(
            ready_pods(0, &[]).is_err(),
            "a colour without pods takes no traffic"
        );
    }

    #[test]
    fn job_states_follow_the_job_controllers_conditions() {
        let with = |kind: &str| json!({"status": {"conditions": [{"type": kind, "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}});
        assert_eq!(job_state(&with("Complete")), JobState::Complete);
        assert_eq!(
            job_state(&with("Failed")),
            JobState::Failed(
                "BackoffLimitExceeded: Job has reached the specified backoff limit".into()
            )
        );
        assert!(
            matches!(job_state(&json!({"status": {"active": 1}})), JobState::Running(m) if m.starts_with("1 active"))
        );
    }
}
