//! The pods that operators build from plat's custom resources, modelled from the operators' sources so
//! that the output security checks (`src/policy.rs`, P0501–P0505) see what will run, not only what plat
//! writes as Deployments and StatefulSets.
//!
//! Each model copies exactly the fields the operator copies from the custom resource into its pod
//! template, and the defaults it fills in where the resource leaves them out:
//!
//! - opstree redis-operator 0.26.0 (`internal/k8sutils/redis-cluster.go`, `statefulset.go`): one
//!   StatefulSet per role (`leader`, `follower`); the pod's `securityContext` is
//!   `spec.podSecurityContext` unchanged; the Redis container takes `kubernetesConfig.image`, the
//!   role's `securityContext` unchanged and the role's `resources` or else `kubernetesConfig.resources`;
//!   the `redis-exporter` sidecar (when `redisExporter.enabled`) takes `redisExporter.image`,
//!   `.securityContext` and `.resources`; an enabled `initContainer` and `sidecars` likewise (the
//!   `init-config` container behind the operator's `GenerateConfigInInitContainer` feature gate, off by
//!   default, runs the operator's image with `initContainer.securityContext` and is not modelled);
//!   `spec.hostNetwork` reaches the pod. No default is added to any security field.
//! - CloudNativePG 1.30.0 (`pkg/specs/pods.go`, `containers.go`): the pod's `securityContext` is
//!   `spec.podSecurityContext` with `runAsUser`, `runAsGroup` and `seccompProfile` filled in (26, 26,
//!   `spec.seccompProfile` or RuntimeDefault), or, without one, a default with `runAsNonRoot: true`; the
//!   `postgres` container runs `spec.imageName` with `spec.resources`, and its `securityContext` is
//!   `spec.securityContext` (seccomp filled in) or else a hardened default (no privilege escalation,
//!   all capabilities dropped, non-root, read-only root, RuntimeDefault). The operator's own
//!   `bootstrap-controller` init container is left out: its image is the operator's, not the spec's.
//! - Prometheus Operator 0.93.0 (`pkg/alertmanager/statefulset.go`, `pkg/operator/config_reloader.go`):
//!   one StatefulSet per `Alertmanager`; the pod's `securityContext` is `spec.securityContext` unchanged
//!   (no default), `automountServiceAccountToken` and `hostNetwork` likewise; the `alertmanager`
//!   container runs `spec.image` (else the operator's default, `quay.io/prometheus/alertmanager:v0.33.1`)
//!   with `spec.resources`, and it, the `config-reloader` sidecar and the `init-config-reloader` init
//!   container get a fixed context (no privilege escalation, read-only root, all capabilities dropped);
//!   the reloaders run the operator's own `prometheus-config-reloader` image with the operator's
//!   default resources (10m CPU and 50Mi, requests and limits); `spec.containers` and
//!   `spec.initContainers` are merged in by name.

use serde_json::{Value, json};

/// One pod template an operator builds from a custom resource.
pub struct OperatorPod {
    /// What the pods are, for messages: `leader pods`, `instance pods`.
    pub role: &'static str,
    /// The pod spec as the operator writes it (only the fields it takes from the resource).
    pub spec: Value,
}

/// The pods the operator of this object builds, or nothing when it is not an operator's resource.
pub fn operator_pods(object: &Value) -> Vec<OperatorPod> {
    match (object["apiVersion"].as_str(), object["kind"].as_str()) {
        (Some("redis.redis.opstreelabs.in/v1beta2"), Some("RedisCluster")) => redis_cluster_pods(
            object["metadata"]["name"].as_str().unwrap_or(""),
            &object["spec"],
        ),
        (Some("postgresql.cnpg.io/v1"), Some("Cluster")) => {
            vec![cnpg_instance_pod(&object["spec"])]
        }
        (Some("monitoring.coreos.com/v1"), Some("Alertmanager")) => {
            vec![alertmanager_pod(&object["spec"])]
        }
        _ => Vec::new(),
    }
}

/// The user and group CloudNativePG runs PostgreSQL as when the resource does not say.
const CNPG_POSTGRES_UID: i64 = 26;

fn redis_cluster_pods(name: &str, spec: &Value) -> Vec<OperatorPod> {
    [
        ("leader pods", "redisLeader", "leader"),
        ("follower pods", "redisFollower", "follower"),
    ]
    .into_iter()
    .map(|(role, field, suffix)| OperatorPod {
        role,
        spec: redis_pod(spec, &spec[field], &format!("{name}-{suffix}")),
    })
    .collect()
}

/// `statefulset` is the operator's name for the role's StatefulSet, `<resource>-<role>`, which also
/// names the Redis container.
fn redis_pod(spec: &Value, role: &Value, statefulset: &str) -> Value {
    let config = &spec["kubernetesConfig"];
    let resources = present(&role["resources"]).unwrap_or(&config["resources"]);
    let mut containers = vec![container(
        statefulset.to_string(),
        &config["image"],
        &role["securityContext"],
        resources,
    )];
    let exporter = &spec["redisExporter"];
    if exporter["enabled"] == true {
        containers.push(container(
            "redis-exporter".into(),
            &exporter["image"],
            &exporter["securityContext"],
            &exporter["resources"],
        ));
    }
    if let Some(sidecars) = spec["sidecars"].as_array() {
        containers.extend(sidecars.iter().cloned());
    }
    let mut pod = json!({ "containers": containers });
    copy_if_present(&mut pod, "securityContext", &spec["podSecurityContext"]);
    copy_if_present(&mut pod, "hostNetwork", &spec["hostNetwork"]);
    let init = &spec["initContainer"];
    if init["enabled"] == true {
        pod["initContainers"] = json!([container(
            format!("init{statefulset}"),
            &init["image"],
            &init["securityContext"],
            &init["resources"],
        )]);
    }
    pod
}

fn cnpg_instance_pod(spec: &Value) -> OperatorPod {
    let seccomp = present(&spec["seccompProfile"])
        .cloned()
        .unwrap_or_else(|| json!({ "type": "RuntimeDefault" }));
    let pod_security = match present(&spec["podSecurityContext"]) {
        None => json!({
            "runAsNonRoot": true,
            "runAsUser": CNPG_POSTGRES_UID,
            "runAsGroup": CNPG_POSTGRES_UID,
            "fsGroup": CNPG_POSTGRES_UID,
            "seccompProfile": seccomp,
        }),
        Some(defined) => {
            let mut defined = defined.clone();
            fill(&mut defined, "runAsUser", json!(CNPG_POSTGRES_UID));
            fill(&mut defined, "runAsGroup", json!(CNPG_POSTGRES_UID));
            fill(&mut defined, "seccompProfile", seccomp.clone());
            defined
        }
    };
    let container_security = match present(&spec["securityContext"]) {
        None => json!({
            "allowPrivilegeEscalation": false,
            "privileged": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "capabilities": { "drop": ["ALL"] },
            "seccompProfile": seccomp,
        }),
        Some(defined) => {
            let mut defined = defined.clone();
            fill(&mut defined, "seccompProfile", seccomp);
            defined
        }
    };
    let postgres = container(
        "postgres".into(),
        &spec["imageName"],
        &container_security,
        &spec["resources"],
    );
    OperatorPod {
        role: "instance pods",
        spec: json!({ "securityContext": pod_security, "containers": [postgres] }),
    }
}

/// The Alertmanager image the Prometheus Operator 0.93.0 runs when the resource names none.
const ALERTMANAGER_DEFAULT_IMAGE: &str = "quay.io/prometheus/alertmanager:v0.33.1";
/// The config reloader the Prometheus Operator 0.93.0 adds to every Alertmanager pod.
const CONFIG_RELOADER_IMAGE: &str =
    "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.0";

fn alertmanager_pod(spec: &Value) -> OperatorPod {
    let hardened = json!({
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "capabilities": { "drop": ["ALL"] },
    });
    let reloader_resources = json!({
        "requests": { "cpu": "10m", "memory": "50Mi" },
        "limits": { "cpu": "10m", "memory": "50Mi" },
    });
    let image = present(&spec["image"])
        .cloned()
        .unwrap_or_else(|| json!(ALERTMANAGER_DEFAULT_IMAGE));
    let reloader = |name: &str| {
        container(
            name.into(),
            &json!(CONFIG_RELOADER_IMAGE),
            &hardened,
            &reloader_resources,
        )
    };
    let mut containers = vec![
        container("alertmanager".into(), &image, &hardened, &spec["resources"]),
        reloader("config-reloader"),
    ];
    let mut init = vec![reloader("init-config-reloader")];
    merge_by_name(&mut containers, &spec["containers"]);
    merge_by_name(&mut init, &spec["initContainers"]);
    let mut pod = json!({ "containers": containers, "initContainers": init });
    copy_if_present(&mut pod, "securityContext", &spec["securityContext"]);
    copy_if_present(
        &mut pod,
        "automountServiceAccountToken",
        &spec["automountServiceAccountToken"],
    );
    copy_if_present(&mut pod, "hostNetwork", &spec["hostNetwork"]);
    OperatorPod {
        role: "Alertmanager pods",
        spec: pod,
    }
}

/// The operator's strategic merge of `spec.containers` into its own: a container of the same name
/// has its fields replaced one by one, another is added.
fn merge_by_name(containers: &mut Vec<Value>, extra: &Value) {
    for given in extra.as_array().into_iter().flatten() {
        match containers.iter_mut().find(|c| c["name"] == given["name"]) {
            Some(existing) => {
                if let (Some(target), Some(fields)) = (existing.as_object_mut(), given.as_object())
                {
                    for (k, v) in fields {
                        target.insert(k.clone(), v.clone());
                    }
                }
            }
            None => containers.push(given.clone()),
        }
    }
}

fn container(name: String, image: &Value, security: &Value, resources: &Value) -> Value {
    let mut c = json!({ "name": name });
    copy_if_present(&mut c, "image", image);
    copy_if_present(&mut c, "securityContext", security);
    copy_if_present(&mut c, "resources", resources);
    c
}

fn present(value: &Value) -> Option<&Value> {
    (!value.is_null()).then_some(value)
}

fn copy_if_present(target: &mut Value, key: &str, value: &Value) {
    if let Some(v) = present(value) {
        target[key] = v.clone();
    }
}

fn fill(target: &mut Value, key: &str, value: Value) {
    if target.get(key).is_none() {
        target[key] = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_roles_take_their_own_security_context_and_fall_back_to_shared_resources() {
        let object = json!({
            "apiVersion": "redis.redis.opstreelabs.in/v1beta2",
            "kind": "RedisCluster",
            "metadata": { "name": "cache" },
            "spec": {
                "kubernetesConfig": { "image": "redis:7", "resources": { "limits": { "cpu": "1" } } },
                "podSecurityContext": { "runAsUser": 1000 },
                "redisLeader": { "securityContext": { "runAsNonRoot": true } },
                "redisFollower": { "resources": { "limits": { "cpu": "2" } } },
                "redisExporter": { "enabled": true, "image": "exporter:1" },
            },
        });
        let pods = operator_pods(&object);
        assert_eq!(pods.len(), 2);
        let leader = &pods[0].spec;
        assert_eq!(leader["securityContext"]["runAsUser"], 1000);
        assert_eq!(
            leader["containers"][0]["securityContext"]["runAsNonRoot"],
            true
        );
        assert_eq!(leader["containers"][0]["resources"]["limits"]["cpu"], "1");
        assert_eq!(leader["containers"][0]["name"], "cache-leader");
        assert_eq!(leader["containers"][1]["name"], "redis-exporter");
        assert!(leader["containers"][1].get("securityContext").is_none());
        let follower = &pods[1].spec;
        assert!(follower["containers"][0].get("securityContext").is_none());
        assert_eq!(follower["containers"][0]["resources"]["limits"]["cpu"], "2");
    }

    #[test]
    fn cnpg_fills_in_its_hardened_defaults_but_keeps_a_given_security_context() {
        let cluster = |spec: Value| json!({ "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "spec": spec });
        let default = &operator_pods(&cluster(json!({ "imageName": "pg:17" })))[0].spec;
        assert_eq!(default["securityContext"]["runAsNonRoot"], true);
        let sc = &default["containers"][0]["securityContext"];
        assert_eq!(sc["capabilities"]["drop"][0], "ALL");
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");

        let given = cluster(json!({ "securityContext": { "privileged": true } }));
        let sc = &operator_pods(&given)[0].spec["containers"][0]["securityContext"];
        assert_eq!(sc["privileged"], true);
        assert!(sc.get("capabilities").is_none());
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    }

    #[test]
    fn alertmanager_pods_take_the_pod_context_unchanged_and_harden_their_containers() {
        let am = |spec: Value| json!({ "apiVersion": "monitoring.coreos.com/v1", "kind": "Alertmanager", "spec": spec });
        let bare = &operator_pods(&am(json!({})))[0].spec;
        assert!(
            bare.get("securityContext").is_none(),
            "no default pod context"
        );
        assert_eq!(bare["containers"][0]["image"], ALERTMANAGER_DEFAULT_IMAGE);
        assert_eq!(bare["containers"][1]["name"], "config-reloader");
        assert_eq!(
            bare["initContainers"][0]["securityContext"]["capabilities"]["drop"][0],
            "ALL"
        );
        let given = am(json!({
            "securityContext": { "runAsNonRoot": true },
            "image": "am:1",
            "containers": [{ "name": "alertmanager", "securityContext": { "privileged": true } }],
        }));
        let pod = &operator_pods(&given)[0].spec;
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(pod["containers"][0]["image"], "am:1");
        assert_eq!(pod["containers"][0]["securityContext"]["privileged"], true);
    }

    #[test]
    fn other_kinds_have_no_operator_pods() {
        assert!(operator_pods(&json!({ "apiVersion": "v1", "kind": "Service" })).is_empty());
    }
}

/// An object an operator creates for one of plat's custom resources, beside the pods: plat never writes
/// it, but its name is derived from the resource's and shares the namespace with plat's objects.
#[derive(Clone, Debug, PartialEq)]
pub struct OperatorObject {
    pub kind: &'static str,
    pub name: String,
    /// Who creates it, for messages: `the CloudNativePG operator`.
    pub by: &'static str,
}

/// The named objects the operator of this resource creates (from the operators' sources, as for the
/// pods above): CloudNativePG's Services `<cluster>-rw`, `-ro`, `-r`, its Secrets `<cluster>-ca`,
/// `-server`, `-replication` (and `-app` without a bootstrap secret), the restore Job `<cluster>-1-full-recovery` of a
/// cluster bootstrapped by recovery, and the instance pods `<cluster>-<n>`; the redis-operator's
/// StatefulSets and Services `<cluster>-leader` and `-follower`, their `-headless` and `-additional`
/// Services and the pods `<cluster>-<role>-<n>`. Empty for any other object.
pub fn operator_objects(object: &Value) -> Vec<OperatorObject> {
    let name = object["metadata"]["name"].as_str().unwrap_or("");
    match (object["apiVersion"].as_str(), object["kind"].as_str()) {
        (Some("postgresql.cnpg.io/v1"), Some("Cluster")) => cnpg_objects(name, &object["spec"]),
        (Some("redis.redis.opstreelabs.in/v1beta2"), Some("RedisCluster")) => {
            redis_cluster_objects(name, &object["spec"])
        }
        _ => Vec::new(),
    }
}

const CNPG: &str = "the CloudNativePG operator";
const REDIS: &str = "the redis-operator";

fn cnpg_objects(cluster: &str, spec: &Value) -> Vec<OperatorObject> {
    let object = |kind, suffix: &str| OperatorObject {
        kind,
        name: format!("{cluster}-{suffix}"),
        by: CNPG,
    };
    let mut out: Vec<OperatorObject> = ["rw", "ro", "r"]
        .into_iter()
        .map(|s| object("Service", s))
        .collect();
    out.extend(
        ["ca", "server", "replication"]
            .into_iter()
            .map(|s| object("Secret", s)),
    );
    // The owner's credentials are `<cluster>-app` unless the resource names a Secret of its own.
    let bootstrap = &spec["bootstrap"];
    let recovery = bootstrap["recovery"].is_object();
    let named = if recovery {
        &bootstrap["recovery"]
    } else {
        &bootstrap["initdb"]
    };
    if named["secret"]["name"].is_null() {
        out.push(object("Secret", "app"));
    }
    // A cluster restored from a backup starts with the Job that restores the first instance.
    if recovery {
        out.push(object("Job", "1-full-recovery"));
    }
    // Instances are numbered from 1; the last one has the longest name.
    let instances = spec["instances"].as_u64().unwrap_or(1);
    out.push(object("Pod", &instances.to_string()));
    out
}

fn redis_cluster_objects(cluster: &str, spec: &Value) -> Vec<OperatorObject> {
    let size = spec["clusterSize"].as_u64().unwrap_or(1).max(1);
    let mut out = Vec::new();
    for role in ["leader", "follower"] {
        let object = |kind, name: String| OperatorObject {
            kind,
            name,
            by: REDIS,
        };
        let base = format!("{cluster}-{role}");
        out.push(object("StatefulSet", base.clone()));
        out.push(object("Service", base.clone()));
        out.push(object("Service", format!("{base}-headless")));
        out.push(object("Service", format!("{base}-additional")));
        out.push(object("Pod", format!("{base}-{}", size - 1)));
    }
    out
}

#[cfg(test)]
mod object_tests {
    use super::*;

    #[test]
    fn operators_name_their_objects_after_the_resource() {
        let cluster = json!({
            "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
            "metadata": { "name": "main" },
            "spec": { "instances": 3, "bootstrap": { "initdb": { "secret": { "name": "main-app-credentials" } } } },
        });
        let names: Vec<(&str, String)> = operator_objects(&cluster)
            .into_iter()
            .map(|o| (o.kind, o.name))
            .collect();
        assert!(names.contains(&("Service", "main-rw".into())));
        assert!(names.contains(&("Pod", "main-3".into())));
        assert!(!names.contains(&("Secret", "main-app".into())), "{names:?}");
        assert!(!names.iter().any(|(kind, _)| *kind == "Job"), "{names:?}");
        // A restored cluster: its bootstrap secret is the recovery's, and a Job restores it.
        let restored = json!({
            "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
            "metadata": { "name": "main" },
            "spec": { "instances": 1, "bootstrap": { "recovery": { "source": "origin", "secret": { "name": "main-app-credentials" } } } },
        });
        let names: Vec<(&str, String)> = operator_objects(&restored)
            .into_iter()
            .map(|o| (o.kind, o.name))
            .collect();
        assert!(
            names.contains(&("Job", "main-1-full-recovery".into())),
            "{names:?}"
        );
        assert!(!names.contains(&("Secret", "main-app".into())), "{names:?}");
        let redis = json!({
            "apiVersion": "redis.redis.opstreelabs.in/v1beta2", "kind": "RedisCluster",
            "metadata": { "name": "cache" }, "spec": { "clusterSize": 3 },
        });
        let names: Vec<String> = operator_objects(&redis)
            .into_iter()
            .map(|o| o.name)
            .collect();
        assert!(names.contains(&"cache-leader-headless".to_string()));
        assert!(names.contains(&"cache-follower-2".to_string()));
        assert!(operator_objects(&json!({ "kind": "Deployment" })).is_empty());
    }
}
