//! One file per tenant: the AstrBot instance's ConfigMap, ServiceAccount, Deployment, Service and
//! NetworkPolicy.

use serde_json::{Value, json};

use super::labels::version_of;
use super::network::tenant_policy;
use super::workload::{
    ContainerSpec, cluster_ip_service, container, pod_template, service_account, volumes,
};
use super::{Ctx, Labels, Unit};
use crate::decode::Named;
use crate::observe::metrics::{ASTRBOT_JOB, JOB_LABEL};
use crate::spec::Tenant;
use crate::validate::TENANT_PREFIX;

pub const TENANT_LABEL: &str = "plat.dev/tenant";

pub fn tenant_unit(ctx: &Ctx<'_>, entry: &Named<Tenant>) -> Unit {
    let astrbot = ctx
        .spec
        .astrbot
        .as_ref()
        .expect("validated: tenants need astrbot");
    let (tenant, t) = (entry.name.as_str(), &entry.value);
    let name = format!("{TENANT_PREFIX}{tenant}");
    let source = format!("tenants.{tenant}");
    let origin = entry.origin;
    let part_of = ctx.spec.platform.name.as_str();
    let labels = Labels::standard(
        "astrbot",
        &name,
        "chatbot",
        part_of,
        version_of(&astrbot.image).as_deref(),
    )
    .with(TENANT_LABEL, tenant);
    let size_name = t
        .size
        .as_ref()
        .map_or(astrbot.size.as_str(), |s| s.as_str());
    let size = ctx.spec.size(size_name).expect("validated size reference");
    let port = if astrbot.port > 0 {
        astrbot.port
    } else {
        ctx.spec.defaults.port
    };

    let mut config = json!({
        "TENANT_ID": tenant,
        "TENANT_PLAN": t.plan,
        "OBJECT_STORE_PREFIX": format!("tenants/{tenant}/"),
    });
    if let Some(display) = &t.display_name {
        config["TENANT_DISPLAY_NAME"] = json!(display);
    }
    let config_map = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": ctx.metadata(&name, &labels, &source, origin),
        "data": config,
    });
    let c = ContainerSpec {
        name: "astrbot",
        image: &astrbot.image,
        port,
        size,
        probes: Some((&ctx.spec.defaults.liveness, &ctx.spec.defaults.readiness)),
        secret_keys: &astrbot.secrets,
        extra_config_maps: vec![name.clone()],
    };
    let template = pod_template(
        ctx,
        &labels,
        &name,
        false,
        container(ctx, &c),
        volumes(ctx, &astrbot.secrets),
    );
    let mut metadata = ctx.metadata(&name, &labels, &source, origin);
    super::workload::waive_digest_check(&mut metadata, &[&astrbot.image]);
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": ctx.spec.defaults.revision_history,
            "selector": { "matchLabels": labels.selector(&[]).to_json() },
            // One instance per tenant: start the new pod before stopping the old one.
            "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": 1, "maxUnavailable": 0 } },
            "template": template,
        },
    });
    let selector: Value = labels.selector(&[]).to_json();
    let service_labels = if super::services::exposes_metrics(ctx, crate::validate::ASTRBOT_TARGET) {
        labels.clone().with(JOB_LABEL, ASTRBOT_JOB)
    } else {
        labels.clone()
    };
    let objects = vec![
        ctx.object(config_map, origin),
        ctx.object(
            service_account(ctx, &name, &labels, &source, origin, false),
            origin,
        ),
        ctx.object(deployment, origin),
        ctx.object(
            cluster_ip_service(ctx, &name, &service_labels, selector, port, &source, origin),
            origin,
        ),
        ctx.object(tenant_policy(ctx, &name, tenant, &labels, origin), origin),
    ];
    Unit {
        file: format!("tenants/{tenant}.yaml"),
        objects,
    }
}
