//! One file per workload (and per fleet instance): ServiceAccount, the controller its kind asks for
//! (Deployment, two for a blue-green release; StatefulSet; DaemonSet; Job; CronJob), Service(s),
//! HorizontalPodAutoscaler, PodDisruptionBudget, the claims and ConfigMaps of its volumes, and its
//! NetworkPolicy.

use serde_json::{Map, Value, json};

use super::workload::{PodInput, images, pod_template, service_account, volume_object_name};
use super::{Ctx, Labels, Object, Unit, obj};
use crate::decode::Named;
use crate::facts::JOB_LABEL;
use crate::kit::version_of;
use crate::source::Origin;
use crate::spec::{
    Color, EnvValue, RolloutStrategy, ServiceType, Size, Strategy, VolumeKind, Workload,
    WorkloadKind,
};

pub const COLOR_LABEL: &str = "plat.dev/color";
/// A hook Job names the workloads that roll out only after it completed.
pub const HOOK_ANNOTATION: &str = "plat.dev/hook-before";
/// The idle colour of a blue-green release that runs `next_image` names the Deployment whose
/// live capacity it comes up at: the cluster stage reads that colour's current replica count (an
/// HPA may have moved it far from the spec's number) and sets it, so the spec declares no count.
pub const CAPACITY_ANNOTATION: &str = "plat.dev/capacity-of";

/// One concrete thing to lower: a workload, or one instance of a fleet.
pub struct Target<'a> {
    pub workload: &'a Workload,
    /// The spec name others use in `talks_to` (the workload's or the fleet's).
    pub key: &'a str,
    pub object_name: String,
    /// The main container's name.
    pub container_name: &'a str,
    pub source: String,
    pub origin: Origin,
    pub labels: Labels,
    pub size: &'a Size,
    pub replicas: i64,
    pub plan_env: &'a [Named<EnvValue>],
    pub instance: Option<Value>,
    /// The scrape job its Service carries, when its metrics are scraped.
    pub job: Option<String>,
    /// Whether it takes part in blue-green releases.
    pub blue_green: bool,
    pub file: String,
}

/// Whether `[metrics] exposed_by` names the workload or fleet.
pub fn exposes_metrics(ctx: &Ctx<'_>, key: &str) -> bool {
    ctx.spec
        .observe
        .metrics
        .exposed_by
        .iter()
        .any(|w| w.as_str() == key)
}

/// Labels of a workload's pods, without the colour.
pub fn workload_labels(
    ctx: &Ctx<'_>,
    name: &str,
    instance: &str,
    w: &Workload,
    image: &str,
) -> Labels {
    Labels::standard(
        name,
        instance,
        &w.component,
        ctx.spec.platform.name.as_str(),
        version_of(image).as_deref(),
    )
}

pub fn workload_unit(ctx: &Ctx<'_>, entry: &Named<Workload>) -> Unit {
    let (name, w) = (entry.name.as_str(), &entry.value);
    let size = ctx.spec.size(&w.size).expect("validated size reference");
    let target = Target {
        workload: w,
        key: name,
        object_name: name.to_string(),
        container_name: name,
        source: format!("services.{name}"),
        origin: entry.origin,
        labels: workload_labels(ctx, name, name, w, &w.image),
        size,
        replicas: w.replicas.value,
        plan_env: &[],
        instance: None,
        job: exposes_metrics(ctx, name).then(|| name.to_string()),
        blue_green: w.kind == WorkloadKind::Service
            && ctx.spec.release.strategy == Strategy::BlueGreen,
        file: format!("services/{name}.yaml"),
    };
    target_unit(ctx, &target)
}

/// The objects of one target, in a stable order.
pub fn target_unit(ctx: &Ctx<'_>, t: &Target<'_>) -> Unit {
    let w = t.workload;
    let mut objects = Vec::new();
    let push = |objects: &mut Vec<Object>, value: Value| objects.push(ctx.object(value, t.origin));
    push(
        &mut objects,
        service_account(ctx, &t.object_name, &t.labels, &t.source, t.origin, Some(w)),
    );
    for value in volume_objects(ctx, t) {
        push(&mut objects, value);
    }
    // Its own credentials on each object store where it has an account.
    for (store, object_storage, _) in crate::facts::accounts_of(ctx.spec, t.key) {
        objects.extend(super::accounts::client_credentials(
            ctx,
            &t.object_name,
            (store, object_storage),
            &t.labels,
            t.origin,
        ));
    }
    let active_color = t.blue_green.then_some(ctx.spec.release.active);
    match w.kind {
        WorkloadKind::Service | WorkloadKind::Worker => {
            for rollout in rollouts(ctx, t) {
                push(&mut objects, deployment(ctx, t, &rollout));
            }
        }
        WorkloadKind::Stateful => push(&mut objects, statefulset(ctx, t)),
        WorkloadKind::Daemon => push(&mut objects, daemonset(ctx, t)),
        WorkloadKind::Job => push(&mut objects, job(ctx, t)),
        WorkloadKind::Cron => push(&mut objects, cronjob(ctx, t)),
    }
    let selector = |color: Option<Color>| {
        let mut s = t.labels.selector(&[]);
        if let Some(c) = color {
            s = s.with(COLOR_LABEL, c.as_str());
        }
        s.to_json()
    };
    if w.has_service() {
        // The main Service carries the job label its ServiceMonitor selects; the preview Service does
        // not, so each pod is scraped once.
        let service_labels = match &t.job {
            Some(job) => t.labels.clone().with(JOB_LABEL, job),
            None => t.labels.clone(),
        };
        push(
            &mut objects,
            service(
                ctx,
                t,
                &t.object_name,
                &service_labels,
                selector(active_color),
                true,
            ),
        );
        if let Some(color) = active_color {
            // The preview Service reaches the inactive colour, for checks before the switch.
            let preview = format!("{}-preview", t.object_name);
            push(
                &mut objects,
                service(
                    ctx,
                    t,
                    &preview,
                    &t.labels,
                    selector(Some(color.other())),
                    false,
                ),
            );
        }
    }
    if let Some(scaling) = w.autoscaling.as_ref().filter(|_| w.kind.has_replicas()) {
        let target = match active_color {
            Some(color) => format!("{}-{}", t.object_name, color.as_str()),
            None => t.object_name.clone(),
        };
        push(&mut objects, hpa(ctx, t, &target, scaling));
    }
    let min_replicas = w.autoscaling.as_ref().map_or(t.replicas, |a| a.min.value);
    if w.kind.has_replicas() && min_replicas >= 2 {
        push(&mut objects, pdb(ctx, t, selector(active_color)));
    }
    // A fleet's instances share one policy (`network::fleet_policy`).
    if t.instance.is_none() {
        push(&mut objects, super::network::workload_policy(ctx, t));
    }
    Unit {
        file: t.file.clone(),
        objects,
    }
}

/// ConfigMaps of `config` volumes, and claims of `persistent` volumes (stateful workloads get claim
/// templates instead).
fn volume_objects(ctx: &Ctx<'_>, t: &Target<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    for v in &t.workload.volumes {
        let name = volume_object_name(&t.object_name, &v.name);
        let source = format!("{}.volumes.{}", t.source, v.name);
        match &v.value.kind {
            VolumeKind::Config { files } => {
                let data: Map<String, Value> = files
                    .iter()
                    .map(|f| (f.name.clone(), json!(f.text)))
                    .collect();
                let mut cm = json!({ "apiVersion": "v1", "kind": "ConfigMap" });
                cm["metadata"] = ctx.metadata(&name, &t.labels, &source, v.origin);
                cm["data"] = Value::Object(data);
                out.push(cm);
            }
            VolumeKind::Persistent { .. } if t.workload.kind == WorkloadKind::Stateful => {}
            VolumeKind::Persistent { .. } => {
                let mut claim = json!({ "apiVersion": "v1", "kind": "PersistentVolumeClaim" });
                claim["metadata"] = ctx.metadata(&name, &t.labels, &source, v.origin);
                claim["spec"] = claim_spec(&v.value.kind);
                out.push(claim);
            }
            _ => {}
        }
    }
    out
}

fn claim_spec(kind: &VolumeKind) -> Value {
    let VolumeKind::Persistent {
        size,
        class,
        access,
    } = kind
    else {
        return Value::Null;
    };
    obj([
        ("accessModes", Some(json!([access.value]))),
        ("storageClassName", class.as_ref().map(|c| json!(c))),
        (
            "resources",
            Some(json!({ "requests": { "storage": size.text } })),
        ),
    ])
}

/// One Deployment of a target, as the spec asks for it.
struct Rollout<'a> {
    name: String,
    image: &'a str,
    replicas: Option<i64>,
    color: Option<Color>,
    /// The Deployment whose live capacity this one copies (the idle colour with `next_image`).
    capacity_of: Option<String>,
}

/// Rolling: one Deployment named after the target. Blue-green: `<name>-blue` and `<name>-green`; the
/// active colour runs `image`; the inactive one runs `next_image` (a release being prepared, or the
/// previous version kept warm for a rollback) at the active colour's live capacity, and is scaled
/// to zero (retired) otherwise.
fn rollouts<'a>(ctx: &Ctx<'_>, t: &'a Target<'_>) -> Vec<Rollout<'a>> {
    let w = t.workload;
    let scaled_by_hpa = w.autoscaling.is_some();
    let replicas = (!scaled_by_hpa).then_some(t.replicas);
    if !t.blue_green {
        return vec![Rollout {
            name: t.object_name.clone(),
            image: &w.image,
            replicas,
            color: None,
            capacity_of: None,
        }];
    }
    let active = ctx.spec.release.active;
    let inactive_name = format!("{}-{}", t.object_name, active.other().as_str());
    let active_name = format!("{}-{}", t.object_name, active.as_str());
    let inactive = match &w.next_image {
        Some(next) => Rollout {
            name: inactive_name,
            image: next,
            replicas: None,
            color: Some(active.other()),
            capacity_of: Some(active_name.clone()),
        },
        None => Rollout {
            name: inactive_name,
            image: &w.image,
            replicas: Some(0),
            color: Some(active.other()),
            capacity_of: None,
        },
    };
    let active = Rollout {
        name: active_name,
        image: &w.image,
        replicas,
        color: Some(active),
        capacity_of: None,
    };
    let mut both = vec![active, inactive];
    both.sort_by_key(|r| r.name.clone());
    both
}

/// A target's metadata with its description and the digest waiver.
fn controller_metadata(
    ctx: &Ctx<'_>,
    t: &Target<'_>,
    name: &str,
    labels: &Labels,
    image: &str,
) -> Value {
    let mut metadata = ctx.metadata(name, labels, &t.source, t.origin);
    super::workload::waive_digest_check(&mut metadata, &images(t.workload, image));
    super::workload::waive_secret_env_check(&mut metadata, t.workload);
    if let Some(description) = &t.workload.description {
        metadata["annotations"]["plat.dev/description"] = json!(description);
    }
    metadata
}

fn template_for(ctx: &Ctx<'_>, t: &Target<'_>, labels: &Labels, image: &str) -> Value {
    let mut template = pod_template(
        ctx,
        &PodInput {
            workload: t.workload,
            key: t.key,
            object_name: &t.object_name,
            container_name: t.container_name,
            labels,
            size: t.size,
            plan_env: t.plan_env,
            instance: t.instance.as_ref(),
        },
    );
    template["spec"]["containers"][0]["image"] = json!(image);
    template
}

fn deployment(ctx: &Ctx<'_>, t: &Target<'_>, rollout: &Rollout<'_>) -> Value {
    let defaults = &ctx.spec.defaults;
    let w = t.workload;
    let mut labels = match version_of(rollout.image) {
        Some(v) => t.labels.clone().with("app.kubernetes.io/version", &v),
        None => t.labels.clone(),
    };
    let mut selector_keys: Vec<&str> = Vec::new();
    if let Some(color) = rollout.color {
        labels = labels.with(COLOR_LABEL, color.as_str());
        selector_keys.push(COLOR_LABEL);
    }
    let recreate = match &w.strategy {
        Some(s) => s.value == RolloutStrategy::Recreate,
        None => w.needs_recreate(),
    };
    let strategy = if recreate {
        json!({ "type": "Recreate" })
    } else {
        json!({
            "type": "RollingUpdate",
            "rollingUpdate": { "maxSurge": defaults.max_surge, "maxUnavailable": defaults.max_unavailable },
        })
    };
    let mut metadata = controller_metadata(ctx, t, &rollout.name, &labels, rollout.image);
    if let Some(of) = &rollout.capacity_of {
        metadata["annotations"][CAPACITY_ANNOTATION] = json!(of);
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": obj([
            ("replicas", rollout.replicas.map(|r| json!(r))),
            ("revisionHistoryLimit", Some(json!(defaults.revision_history))),
            ("selector", Some(json!({ "matchLabels": labels.selector(&selector_keys).to_json() }))),
            ("strategy", Some(strategy)),
            ("template", Some(template_for(ctx, t, &labels, rollout.image))),
        ]),
    })
}

fn statefulset(ctx: &Ctx<'_>, t: &Target<'_>) -> Value {
    let w = t.workload;
    let claims: Vec<Value> = w
        .volumes
        .iter()
        .filter(|v| matches!(v.value.kind, VolumeKind::Persistent { .. }))
        .map(|v| json!({ "metadata": { "name": v.name }, "spec": claim_spec(&v.value.kind) }))
        .collect();
    let replicas = w.autoscaling.is_none().then_some(t.replicas);
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": controller_metadata(ctx, t, &t.object_name, &t.labels, &w.image),
        "spec": obj([
            ("serviceName", Some(json!(t.object_name))),
            ("replicas", replicas.map(|r| json!(r))),
            ("revisionHistoryLimit", Some(json!(ctx.spec.defaults.revision_history))),
            ("selector", Some(json!({ "matchLabels": t.labels.selector(&[]).to_json() }))),
            ("template", Some(template_for(ctx, t, &t.labels, &w.image))),
            ("volumeClaimTemplates", (!claims.is_empty()).then_some(Value::Array(claims))),
        ]),
    })
}

fn daemonset(ctx: &Ctx<'_>, t: &Target<'_>) -> Value {
    let w = t.workload;
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": controller_metadata(ctx, t, &t.object_name, &t.labels, &w.image),
        "spec": {
            "revisionHistoryLimit": ctx.spec.defaults.revision_history,
            "selector": { "matchLabels": t.labels.selector(&[]).to_json() },
            "template": template_for(ctx, t, &t.labels, &w.image),
        },
    })
}

fn job_spec(ctx: &Ctx<'_>, t: &Target<'_>) -> Value {
    let job = &t.workload.job;
    obj([
        ("backoffLimit", Some(json!(job.backoff_limit))),
        (
            "activeDeadlineSeconds",
            job.active_deadline.map(|v| json!(v)),
        ),
        (
            "ttlSecondsAfterFinished",
            job.ttl_after_finished.as_ref().map(|v| json!(v.value)),
        ),
        (
            "template",
            Some(template_for(ctx, t, &t.labels, &t.workload.image)),
        ),
    ])
}

/// A Job's pod template is immutable, so each version of a job is a Job of its own: the name carries
/// a hash of what it runs, and a hook runs once per version.
pub fn job_name(t_name: &str, w: &Workload) -> String {
    let mut parts: Vec<(String, String)> = vec![("image".into(), w.image.value.clone())];
    parts.extend(
        w.main
            .command
            .iter()
            .map(|c| ("command".to_string(), c.clone())),
    );
    parts.extend(w.main.args.iter().map(|a| ("args".to_string(), a.clone())));
    let hash = super::fnv1a_hex(&parts);
    format!("{t_name}-{}", &hash[..8])
}

fn job(ctx: &Ctx<'_>, t: &Target<'_>) -> Value {
    let w = t.workload;
    let mut metadata =
        controller_metadata(ctx, t, &job_name(&t.object_name, w), &t.labels, &w.image);
    if !w.before.is_empty() {
        let before: Vec<&str> = w.before.iter().map(|b| b.as_str()).collect();
        metadata["annotations"][HOOK_ANNOTATION] = json!(before.join(","));
    }
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": job_spec(ctx, t),
    })
}

fn cronjob(ctx: &Ctx<'_>, t: &Target<'_>) -> Value {
    let w = t.workload;
    let cron = w
        .cron
        .as_ref()
        .expect("validated: cron workloads have a schedule");
    json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": controller_metadata(ctx, t, &t.object_name, &t.labels, &w.image),
        "spec": obj([
            ("schedule", Some(json!(cron.schedule.value))),
            ("timeZone", cron.time_zone.as_ref().map(|z| json!(z))),
            ("concurrencyPolicy", Some(json!(cron.concurrency))),
            ("successfulJobsHistoryLimit", Some(json!(cron.successful_history))),
            ("failedJobsHistoryLimit", Some(json!(cron.failed_history))),
            ("startingDeadlineSeconds", cron.starting_deadline.map(|v| json!(v))),
            ("jobTemplate", Some(json!({ "spec": job_spec(ctx, t) }))),
        ]),
    })
}

fn service(
    ctx: &Ctx<'_>,
    t: &Target<'_>,
    name: &str,
    labels: &Labels,
    selector: Value,
    main: bool,
) -> Value {
    let w = t.workload;
    let ports: Vec<Value> = w
        .service_ports()
        .map(|p| {
            json!({ "name": p.name, "port": p.service_port, "targetPort": p.name, "protocol": p.protocol.transport() })
        })
        .collect();
    let kind = if w.kind == WorkloadKind::Stateful {
        ServiceType::Headless
    } else {
        w.exposure.kind
    };
    let mut spec = Map::new();
    match kind {
        ServiceType::Headless => {
            spec.insert("clusterIP".into(), json!("None"));
            if w.kind == WorkloadKind::Stateful {
                spec.insert("publishNotReadyAddresses".into(), json!(true));
            }
        }
        ServiceType::ClusterIp => {
            spec.insert("type".into(), json!("ClusterIP"));
        }
        // Only the main Service takes outside traffic; the preview stays inside the cluster.
        ServiceType::LoadBalancer | ServiceType::NodePort if !main => {
            spec.insert("type".into(), json!("ClusterIP"));
        }
        ServiceType::LoadBalancer => {
            spec.insert("type".into(), json!("LoadBalancer"));
        }
        ServiceType::NodePort => {
            spec.insert("type".into(), json!("NodePort"));
        }
    }
    if main && let Some(policy) = &w.exposure.external_traffic_policy {
        spec.insert("externalTrafficPolicy".into(), json!(policy));
    }
    spec.insert("ports".into(), Value::Array(ports));
    spec.insert("selector".into(), selector);
    let mut metadata = ctx.metadata(name, labels, &t.source, t.origin);
    if main {
        for (k, v) in &w.exposure.annotations {
            metadata["annotations"][k] = json!(v);
        }
    }
    json!({ "apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": Value::Object(spec) })
}

fn hpa(ctx: &Ctx<'_>, t: &Target<'_>, target: &str, scaling: &crate::spec::Autoscaling) -> Value {
    let metric = |resource: &str, percent: i64| {
        json!({
            "type": "Resource",
            "resource": { "name": resource, "target": { "type": "Utilization", "averageUtilization": percent } },
        })
    };
    let mut metrics = Vec::new();
    if let Some(cpu) = scaling.cpu_percent {
        metrics.push(metric("cpu", cpu));
    }
    if let Some(memory) = scaling.memory_percent {
        metrics.push(metric("memory", memory));
    }
    let kind = if t.workload.kind == WorkloadKind::Stateful {
        "StatefulSet"
    } else {
        "Deployment"
    };
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": ctx.metadata(&t.object_name, &t.labels, &format!("{}.autoscaling", t.source), scaling.origin),
        "spec": {
            "scaleTargetRef": { "apiVersion": "apps/v1", "kind": kind, "name": target },
            "minReplicas": scaling.min.value,
            "maxReplicas": scaling.max.value,
            "metrics": metrics,
        },
    })
}

fn pdb(ctx: &Ctx<'_>, t: &Target<'_>, selector: Value) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": ctx.metadata(&t.object_name, &t.labels, &t.source, t.origin),
        "spec": { "maxUnavailable": 1, "selector": { "matchLabels": selector } },
    })
}
