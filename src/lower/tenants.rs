//! One file per tenant: the AstrBot instance's ConfigMap, ServiceAccount, Deployment, Service and
//! NetworkPolicy.

use serde_json::{Value, json};

use super::labels::version_of;
use super::network::tenant_policy;
use super::workload::{
    ContainerSpec, cluster_ip_service, container, pod_template, service_account, volumes,
};
use super::{Ctx, Labels, Unit, object};
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
    let mut config_map = json!({ "apiVersion": "v1", "kind": "ConfigMap" });
    config_map["metadata"] = ctx.metadata(&name, &labels, &source, origin);
    config_map["data"] = config;
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
    let mut deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": ctx.spec.defaults.revision_history,
            // One instance per tenant: start the new pod before stopping the old one.
            "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": 1, "maxUnavailable": 0 } },
        },
    });
    deployment["metadata"] = metadata;
    deployment["spec"]["selector"] = object([("matchLabels", labels.selector(&[]).to_json())]);
    deployment["spec"]["template"] = template;
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

/// How tenants are lowered: one by one, or from prototypes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// Every tenant lowered to objects and rendered, as every other unit.
    OneByOne,
    /// Tenants differ only in their name, plan and display name: each family of tenants (same size,
    /// same source file, with or without a display name) is lowered once with placeholders, checked
    /// once, rendered once, and every tenant's file is the prototype's text with its values filled
    /// in. A 10,000-tenant platform renders in a fraction of the time; a test proves both paths write
    /// the same bytes.
    Prototypes,
}

/// Placeholders: lower-case letters only, so that every string containing them keeps the quoting
/// it has with a real tenant name (names are DNS labels), and unlikely in any spec value.
const NAME: &str = "zzplattenantzz";
/// What every placeholder contains: text with it stands for every instance of a family.
pub const PLACEHOLDER: &str = "zzplat";
const PLAN: &str = "zzplatplanzz";
const DISPLAY: &str = "zzplatdisplayzz";

pub fn lower_tenants(ctx: &Ctx<'_>, sink: &mut dyn super::Sink, path: Path) {
    let mut prototypes: Vec<(PrototypeKey, Option<String>)> = Vec::new();
    for tenant in &ctx.spec.tenants {
        let key = PrototypeKey::of(tenant);
        let fast = path == Path::Prototypes && !needs_one_by_one(tenant);
        let prototype = if fast {
            let index = match prototypes.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    prototypes.push((key.clone(), prototype_text(ctx, tenant, sink)));
                    prototypes.len() - 1
                }
            };
            prototypes[index].1.as_deref()
        } else {
            None
        };
        match prototype.map(|text| instantiate(ctx, tenant, text)) {
            Some(unit) if !sink.lower_on_its_own(&unit) => sink.prerendered(unit),
            _ => sink.manifests(tenant_unit(ctx, tenant)),
        }
    }
}

/// What makes two tenants' files differ in more than their values.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PrototypeKey {
    size: Option<String>,
    display: bool,
    file: crate::source::FileId,
}

impl PrototypeKey {
    fn of(tenant: &Named<Tenant>) -> Self {
        PrototypeKey {
            size: tenant.value.size.as_ref().map(|s| s.value.clone()),
            display: tenant.value.display_name.is_some(),
            file: tenant.origin.file,
        }
    }
}

/// Values that contain a placeholder cannot be filled in safely; such a tenant goes one by one.
fn needs_one_by_one(tenant: &Named<Tenant>) -> bool {
    let values = [
        Some(tenant.name.as_str()),
        Some(tenant.value.plan.as_str()),
        tenant.value.display_name.as_deref(),
    ];
    // Multi-line values are written as literal blocks, which a one-line placeholder cannot become.
    values
        .into_iter()
        .flatten()
        .any(|v| v.contains("zzplat") || v.contains('\n'))
}

/// The prototype's text, or `None` when its objects have findings (then every tenant of the family
/// goes one by one, so that findings name the real tenant).
fn prototype_text(
    ctx: &Ctx<'_>,
    tenant: &Named<Tenant>,
    sink: &mut dyn super::Sink,
) -> Option<String> {
    let placeholder = Named {
        name: NAME.to_string(),
        origin: tenant.origin,
        value: Tenant {
            display_name: tenant
                .value
                .display_name
                .as_ref()
                .map(|_| DISPLAY.to_string()),
            plan: PLAN.to_string(),
            size: tenant.value.size.clone(),
        },
    };
    let mut unit = tenant_unit(ctx, &placeholder);
    sink.check_prototype(&mut unit.objects)
        .then(|| crate::render::unit_text(&unit))
}

fn instantiate(ctx: &Ctx<'_>, tenant: &Named<Tenant>, prototype: &str) -> super::Prerendered {
    let name = tenant.name.as_str();
    let text = fill(prototype, &|placeholder, whole| {
        // Whole scalars take the quoting their value needs (a tenant called `yes` is quoted); inside
        // longer strings a DNS label never changes the quoting.
        let value = match placeholder {
            NAME => name,
            PLAN => tenant.value.plan.as_str(),
            _ => tenant.value.display_name.as_deref().unwrap_or_default(),
        };
        if whole {
            crate::yaml::inline_scalar(value)
        } else {
            value.to_string()
        }
    });
    let object_name = format!("{TENANT_PREFIX}{name}");
    let kinds = [
        "ConfigMap",
        "ServiceAccount",
        "Deployment",
        "Service",
        "NetworkPolicy",
    ];
    super::Prerendered {
        file: format!("tenants/{name}.yaml"),
        text,
        namespace: ctx.namespace.to_string(),
        objects: kinds
            .iter()
            .map(|k| (k.to_string(), object_name.clone()))
            .collect(),
        origin: tenant.origin,
    }
}

/// The prototype's text with every placeholder replaced, in one pass. `value(placeholder, whole)`
/// gives the text for a placeholder that is a whole scalar (`key: placeholder` at the end of a line)
/// or part of a longer string.
fn fill(prototype: &str, value: &dyn Fn(&str, bool) -> String) -> String {
    let mut out = String::with_capacity(prototype.len() + 256);
    let mut rest = prototype;
    while let Some(at) = rest.find("zzplat") {
        let Some(placeholder) = [NAME, PLAN, DISPLAY]
            .into_iter()
            .find(|p| rest[at..].starts_with(p))
        else {
            out.push_str(&rest[..at + 6]);
            rest = &rest[at + 6..];
            continue;
        };
        let after = &rest[at + placeholder.len()..];
        let whole = rest[..at].ends_with(": ") && after.starts_with('\n');
        out.push_str(&rest[..at]);
        out.push_str(&value(placeholder, whole));
        rest = after;
    }
    out.push_str(rest);
    out
}
