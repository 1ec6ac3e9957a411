//! One file per service: ServiceAccount, Deployment (two for a blue-green release), Service(s),
//! HorizontalPodAutoscaler and PodDisruptionBudget.

use serde_json::{Value, json};

use super::labels::version_of;
use super::workload::{
    ContainerSpec, cluster_ip_service, container, pod_template, service_account, volumes,
};
use super::{Ctx, Labels, Object, Unit, obj};
use crate::decode::Named;
use crate::observe::metrics::JOB_LABEL;
use crate::spec::{Color, Service, Strategy};

pub const COLOR_LABEL: &str = "plat.dev/color";

/// Whether `[metrics] exposed_by` names the workload.
pub fn exposes_metrics(ctx: &Ctx<'_>, workload: &str) -> bool {
    ctx.spec
        .observe
        .metrics
        .exposed_by
        .iter()
        .any(|w| w.as_str() == workload)
}

pub fn port_of(ctx: &Ctx<'_>, service: &Service) -> i64 {
    if service.port > 0 {
        service.port
    } else {
        ctx.spec.defaults.port
    }
}

/// Labels of a service's pods, without the colour.
pub fn service_labels(ctx: &Ctx<'_>, name: &str, service: &Service, image: &str) -> Labels {
    let part_of = ctx.spec.platform.name.as_str();
    Labels::standard(
        name,
        name,
        &service.component,
        part_of,
        version_of(image).as_deref(),
    )
}

/// One Deployment of a service, as the spec asks for it.
struct Rollout<'a> {
    name: String,
    image: &'a str,
    replicas: Option<i64>,
    color: Option<Color>,
}

pub fn service_unit(ctx: &Ctx<'_>, entry: &Named<Service>) -> Unit {
    let (name, service) = (entry.name.as_str(), &entry.value);
    let source = format!("services.{name}");
    let origin = entry.origin;
    let base_labels = service_labels(ctx, name, service, &service.image);
    let mut objects = Vec::new();
    let push = |objects: &mut Vec<Object>, value: Value| objects.push(ctx.object(value, origin));

    push(
        &mut objects,
        service_account(
            ctx,
            name,
            &base_labels,
            &source,
            origin,
            service.needs_service_account_token,
        ),
    );
    let rollouts = rollouts(ctx, name, service);
    for rollout in &rollouts {
        push(
            &mut objects,
            deployment(ctx, name, service, rollout, &source, origin),
        );
    }
    let port = port_of(ctx, service);
    let active_color = match ctx.spec.release.strategy {
        Strategy::BlueGreen => Some(ctx.spec.release.active),
        Strategy::Rolling => None,
    };
    let selector = |color: Option<Color>| {
        let mut s = base_labels.selector(&[]);
        if let Some(c) = color {
            s = s.with(COLOR_LABEL, c.as_str());
        }
        s.to_json()
    };
    // The main Service carries the job label its ServiceMonitor selects; the preview Service does not,
    // so each pod is scraped once.
    let service_labels = if exposes_metrics(ctx, name) {
        base_labels.clone().with(JOB_LABEL, name)
    } else {
        base_labels.clone()
    };
    push(
        &mut objects,
        cluster_ip_service(
            ctx,
            name,
            &service_labels,
            selector(active_color),
            port,
            &source,
            origin,
        ),
    );
    if let Some(color) = active_color {
        // The preview Service reaches the inactive colour, for checks before the switch.
        let preview = format!("{name}-preview");
        push(
            &mut objects,
            cluster_ip_service(
                ctx,
                &preview,
                &base_labels,
                selector(Some(color.other())),
                port,
                &source,
                origin,
            ),
        );
    }
    let target = match active_color {
        Some(color) => format!("{name}-{}", color.as_str()),
        None => name.to_string(),
    };
    if let Some(scaling) = &service.autoscaling {
        push(
            &mut objects,
            hpa(ctx, name, &target, &base_labels, scaling, &source),
        );
    }
    let min_replicas = service
        .autoscaling
        .as_ref()
        .map_or(service.replicas.value, |a| a.min.value);
    if min_replicas >= 2 {
        push(
            &mut objects,
            pdb(
                ctx,
                name,
                &base_labels,
                selector(active_color),
                &source,
                origin,
            ),
        );
    }
    push(
        &mut objects,
        super::network::service_policy(ctx, name, service, &base_labels, origin),
    );
    Unit {
        file: format!("services/{name}.yaml"),
        objects,
    }
}

/// Rolling: one Deployment named after the service. Blue-green: `<name>-blue` and `<name>-green`; the
/// active colour runs `image`, the inactive one runs `next_image` when a release is being prepared and
/// is scaled to zero otherwise.
fn rollouts<'a>(ctx: &Ctx<'_>, name: &str, service: &'a Service) -> Vec<Rollout<'a>> {
    let scaled_by_hpa = service.autoscaling.is_some();
    let replicas = (!scaled_by_hpa).then_some(service.replicas.value);
    match ctx.spec.release.strategy {
        Strategy::Rolling => vec![Rollout {
            name: name.to_string(),
            image: &service.image,
            replicas,
            color: None,
        }],
        Strategy::BlueGreen => {
            let active = ctx.spec.release.active;
            let inactive = match &service.next_image {
                Some(next) => Rollout {
                    name: format!("{name}-{}", active.other().as_str()),
                    image: next,
                    replicas: Some(service.replicas.value),
                    color: Some(active.other()),
                },
                None => Rollout {
                    name: format!("{name}-{}", active.other().as_str()),
                    image: &service.image,
                    replicas: Some(0),
                    color: Some(active.other()),
                },
            };
            let active = Rollout {
                name: format!("{name}-{}", active.as_str()),
                image: &service.image,
                replicas,
                color: Some(active),
            };
            let mut both = vec![active, inactive];
            both.sort_by_key(|r| r.name.clone());
            both
        }
    }
}

fn deployment(
    ctx: &Ctx<'_>,
    name: &str,
    service: &Service,
    rollout: &Rollout<'_>,
    source: &str,
    origin: crate::source::Origin,
) -> Value {
    let defaults = &ctx.spec.defaults;
    let mut labels = service_labels(ctx, name, service, rollout.image);
    let mut selector_keys: Vec<&str> = Vec::new();
    if let Some(color) = rollout.color {
        labels = labels.with(COLOR_LABEL, color.as_str());
        selector_keys.push(COLOR_LABEL);
    }
    let size = ctx
        .spec
        .size(&service.size)
        .expect("validated size reference");
    let spec_container = ContainerSpec {
        name,
        image: rollout.image,
        port: port_of(ctx, service),
        size,
        probes: Some((&defaults.liveness, &defaults.readiness)),
        secret_keys: &service.secrets,
        extra_config_maps: Vec::new(),
    };
    let template = pod_template(
        ctx,
        &labels,
        name,
        service.needs_service_account_token,
        container(ctx, &spec_container),
        volumes(ctx, &service.secrets),
    );
    let mut metadata = ctx.metadata(&rollout.name, &labels, source, origin);
    super::workload::waive_digest_check(&mut metadata, &[rollout.image]);
    if let Some(description) = &service.description {
        metadata["annotations"]["plat.dev/description"] = json!(description);
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": obj([
            ("replicas", rollout.replicas.map(|r| json!(r))),
            ("revisionHistoryLimit", Some(json!(defaults.revision_history))),
            ("selector", Some(json!({ "matchLabels": labels.selector(&selector_keys).to_json() }))),
            ("strategy", Some(json!({
                "type": "RollingUpdate",
                "rollingUpdate": { "maxSurge": defaults.max_surge, "maxUnavailable": defaults.max_unavailable },
            }))),
            ("template", Some(template)),
        ]),
    })
}

fn hpa(
    ctx: &Ctx<'_>,
    name: &str,
    target: &str,
    labels: &Labels,
    scaling: &crate::spec::Autoscaling,
    source: &str,
) -> Value {
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
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": ctx.metadata(name, labels, &format!("{source}.autoscaling"), scaling.origin),
        "spec": {
            "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": target },
            "minReplicas": scaling.min.value,
            "maxReplicas": scaling.max.value,
            "metrics": metrics,
        },
    })
}

fn pdb(
    ctx: &Ctx<'_>,
    name: &str,
    labels: &Labels,
    selector: Value,
    source: &str,
    origin: crate::source::Origin,
) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": ctx.metadata(name, labels, source, origin),
        "spec": { "maxUnavailable": 1, "selector": { "matchLabels": selector } },
    })
}
