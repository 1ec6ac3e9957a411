//! Fleets: one unit per instance (`fleets/<fleet>/<id>.yaml`), each the fleet's workload template
//! lowered with the instance's name, plan and values.
//!
//! Instances that differ only in their values are lowered once per family as a checked prototype
//! with placeholders and filled in per instance, which is what makes 10,000 instances fast. A fill is
//! taken only when it provably gives the same text as lowering the instance itself: every template
//! of the instance must render to the prototype's rendering with the values substituted, and every
//! substituted value must keep the quoting of its place. Otherwise the instance goes one by one.

use super::services::{Target, exposes_metrics, target_unit};
use super::{Ctx, Unit};
use crate::decode::{Located, Named};
use crate::facts::{FLEET_INSTANCE_LABEL, fleet_job, instance_facts, instance_name};
use crate::kit::{Labels, version_of};
use crate::spec::{EnvValue, Fleet, Instance};

/// How instances are lowered: one by one, or from prototypes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// Every instance lowered to objects and rendered, as every other unit.
    OneByOne,
    /// Families of instances lowered once and filled in; a test proves both paths write the same bytes.
    Prototypes,
}

/// Placeholders: lower-case letters and digits only, so that every string containing them keeps the
/// quoting it has with a real instance id (ids are DNS labels), and unlikely in any spec value.
const ID: &str = "zzplatidzz";
/// What every placeholder contains: text with it stands for every instance of a family.
pub const PLACEHOLDER: &str = "zzplat";
const MARK: &str = PLACEHOLDER;

fn var_placeholder(index: usize) -> String {
    format!("zzplatvar{index}zz")
}

fn target<'a>(
    ctx: &Ctx<'a>,
    fleet_name: &'a str,
    fleet: &'a Fleet,
    id: &str,
    instance: &'a Instance,
    vars: &[(String, String)],
    origin: crate::source::Origin,
) -> Target<'a> {
    let w = &fleet.template;
    let plan = instance.plan.as_ref().and_then(|p| fleet.plan(p));
    let size_name = instance
        .size
        .as_ref()
        .or(plan.and_then(|p| p.size.as_ref()))
        .unwrap_or(&w.size);
    let size = ctx.spec.size(size_name).expect("validated size reference");
    let object_name = instance_name(fleet_name, id);
    let labels = Labels::standard(
        fleet_name,
        &object_name,
        &w.component,
        ctx.spec.platform.name.as_str(),
        version_of(&w.image).as_deref(),
    )
    .with(FLEET_INSTANCE_LABEL, id);
    let plan_name = instance.plan.as_ref().map(|p| p.as_str());
    Target {
        workload: w,
        key: fleet_name,
        container_name: fleet_name,
        source: format!("fleets.{fleet_name}.instances.{id}"),
        origin,
        labels,
        size,
        replicas: plan
            .and_then(|p| p.replicas.as_ref())
            .map_or(w.replicas.value, |r| r.value),
        plan_env: plan.map_or(&[], |p| p.env.as_slice()),
        instance: Some(instance_facts(fleet_name, id, plan_name, vars)),
        job: exposes_metrics(ctx, fleet_name).then(|| fleet_job(fleet_name, fleet)),
        blue_green: false,
        file: format!("fleets/{fleet_name}/{id}.yaml"),
        object_name,
    }
}

pub fn instance_unit(ctx: &Ctx<'_>, fleet: &Named<Fleet>, instance: &Named<Instance>) -> Unit {
    let t = target(
        ctx,
        &fleet.name,
        &fleet.value,
        &instance.name,
        &instance.value,
        &instance.value.vars,
        instance.origin,
    );
    target_unit(ctx, &t)
}

/// What makes two instances' files differ in more than their values.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FamilyKey {
    plan: Option<String>,
    size: Option<String>,
    vars: Vec<String>,
    file: crate::source::FileId,
}

impl FamilyKey {
    fn of(instance: &Named<Instance>) -> Self {
        FamilyKey {
            plan: instance.value.plan.as_ref().map(|p| p.value.clone()),
            size: instance.value.size.as_ref().map(|s| s.value.clone()),
            vars: instance.value.vars.iter().map(|(k, _)| k.clone()).collect(),
            file: instance.origin.file,
        }
    }
}

/// A family's prototype: its text, its objects' kinds and names, and its templates as the
/// placeholders render them.
struct Prototype {
    text: String,
    objects: Vec<(String, String)>,
    rendered: Vec<String>,
}

pub fn lower_fleets(ctx: &Ctx<'_>, sink: &mut dyn super::Sink, path: Path) {
    for fleet in &ctx.spec.fleets {
        let templates = templates_of(&fleet.value);
        let mut families: Vec<(FamilyKey, Option<Prototype>)> = Vec::new();
        for instance in &fleet.value.instances {
            let prerendered = (path == Path::Prototypes)
                .then(|| {
                    let key = FamilyKey::of(instance);
                    let index = match families.iter().position(|(k, _)| *k == key) {
                        Some(i) => i,
                        None => {
                            let prototype = prototype(ctx, fleet, instance, &templates, sink);
                            families.push((key, prototype));
                            families.len() - 1
                        }
                    };
                    let prototype = families[index].1.as_ref()?;
                    instantiate(ctx, fleet, instance, prototype, &templates)
                })
                .flatten();
            match prerendered {
                Some(unit) if !sink.lower_on_its_own(&unit) => sink.prerendered(unit),
                _ => sink.manifests(instance_unit(ctx, fleet, instance)),
            }
        }
    }
}

/// The text templates of the main container's env and every plan's env.
fn templates_of(fleet: &Fleet) -> Vec<&Located<String>> {
    let plans = fleet.plans.iter().flat_map(|p| p.value.env.iter());
    fleet
        .template
        .main
        .env
        .iter()
        .chain(plans)
        .filter_map(|e| match &e.value {
            EnvValue::Text(t) if t.contains("{{") || t.contains("{%") => Some(t),
            _ => None,
        })
        .collect()
}

fn placeholder_vars(instance: &Instance) -> Vec<(String, String)> {
    instance
        .vars
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.clone(), var_placeholder(i)))
        .collect()
}

/// The prototype of an instance's family, or `None` when its objects have findings (then every
/// instance of the family goes one by one, so that findings name the real instance).
fn prototype(
    ctx: &Ctx<'_>,
    fleet: &Named<Fleet>,
    instance: &Named<Instance>,
    templates: &[&Located<String>],
    sink: &mut dyn super::Sink,
) -> Option<Prototype> {
    let vars = placeholder_vars(&instance.value);
    let t = target(
        ctx,
        &fleet.name,
        &fleet.value,
        ID,
        &instance.value,
        &vars,
        instance.origin,
    );
    let facts = t.instance.clone();
    let mut unit = target_unit(ctx, &t);
    if !sink.check_prototype(&mut unit.objects) {
        return None;
    }
    let rendered = templates
        .iter()
        .map(|tpl| ctx.inventory.render(tpl, facts.as_ref()).ok())
        .collect::<Option<Vec<String>>>()?;
    Some(Prototype {
        text: crate::render::unit_text(&unit),
        objects: unit
            .objects
            .iter()
            .map(|o| (o.kind().to_string(), o.name().to_string()))
            .collect(),
        rendered,
    })
}

fn instantiate(
    ctx: &Ctx<'_>,
    fleet: &Named<Fleet>,
    instance: &Named<Instance>,
    prototype: &Prototype,
    templates: &[&Located<String>],
) -> Option<super::Prerendered> {
    let id = instance.name.as_str();
    let vars = &instance.value.vars;
    let values = |placeholder: &str| -> Option<String> {
        if placeholder == ID {
            return Some(id.to_string());
        }
        let index: usize = placeholder
            .strip_prefix("zzplatvar")?
            .strip_suffix("zz")?
            .parse()
            .ok()?;
        vars.get(index).map(|(_, v)| v.clone())
    };
    let values_ok = std::iter::once(id)
        .chain(vars.iter().map(|(_, v)| v.as_str()))
        .all(|v| !v.contains(MARK) && !v.contains('\n'));
    if !values_ok {
        return None;
    }
    // Templates may transform a value (`| upper`); then the fill would be wrong, so those are
    // rendered for the instance and compared. A bare use of a value fills exactly.
    let facts = instance_facts(
        &fleet.name,
        id,
        instance.value.plan.as_ref().map(|p| p.as_str()),
        vars,
    );
    for (template, rendered) in templates.iter().zip(&prototype.rendered) {
        if crate::facts::bare_instance_use(template) {
            continue;
        }
        let real = ctx.inventory.render(template, Some(&facts)).ok()?;
        if fill(rendered, &values, false)? != real {
            return None;
        }
    }
    let text = fill(&prototype.text, &values, true)?;
    let objects = prototype
        .objects
        .iter()
        .map(|(k, n)| Some((k.clone(), fill(n, &values, false)?)))
        .collect::<Option<Vec<_>>>()?;
    Some(super::Prerendered {
        file: format!("fleets/{}/{id}.yaml", fleet.name),
        text,
        namespace: ctx.namespace.to_string(),
        objects,
        origin: instance.origin,
    })
}

/// Text with every placeholder replaced, in one pass. In YAML (`yaml`), a placeholder that is a
/// whole scalar (`key: placeholder` at the end of a line) takes the quoting its value needs; inside
/// a longer string the value must be one that never changes the quoting (else `None`).
fn fill(text: &str, value: &dyn Fn(&str) -> Option<String>, yaml: bool) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 256);
    let mut rest = text;
    while let Some(at) = rest.find(MARK) {
        let tail = &rest[at..];
        let Some(end) = tail[MARK.len()..].find("zz").map(|e| e + MARK.len() + 2) else {
            out.push_str(&rest[..at + MARK.len()]);
            rest = &rest[at + MARK.len()..];
            continue;
        };
        let placeholder = &tail[..end];
        let Some(v) = value(placeholder) else {
            out.push_str(&rest[..at + MARK.len()]);
            rest = &rest[at + MARK.len()..];
            continue;
        };
        let after = &tail[end..];
        let whole = rest[..at].ends_with(": ") && after.starts_with('\n');
        out.push_str(&rest[..at]);
        if yaml && whole {
            out.push_str(&crate::yaml::inline_scalar(&v));
        } else if !yaml || plain_safe(&v) {
            out.push_str(&v);
        } else {
            return None;
        }
        rest = after;
    }
    out.push_str(rest);
    Some(out)
}

/// Characters that never change how YAML quotes the string around them.
fn plain_safe(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}
