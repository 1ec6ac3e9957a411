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

pub(super) use crate::kit::placeholder::ID;
use crate::kit::placeholder::{PLACEHOLDER as MARK, slot_at, var_placeholder};

fn target<'a>(
    ctx: &Ctx<'a>,
    fleet_name: &'a str,
    fleet: &'a Fleet,
    id: &str,
    instance: &'a Instance,
    vars: &[(String, String)],
    origin: crate::source::Origin,
) -> Target<'a> {
    let plan = instance.plan.as_ref().and_then(|p| fleet.plan(p));
    let w = fleet.workload_of(plan);
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
/// placeholders render them, each cut into pieces once so that an instance is filled by copying.
struct Prototype {
    text: Filler,
    /// The checked (and patched) objects the text was made from.
    values: std::sync::Arc<[serde_json::Value]>,
    objects: Vec<(String, Filler)>,
    rendered: Vec<Filler>,
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
        if !fleet.value.instances.is_empty() {
            let policy = super::network::fleet_policy(ctx, &fleet.name, &fleet.value, fleet.origin);
            sink.manifests(Unit {
                file: format!("fleets/{}.yaml", fleet.name),
                objects: vec![ctx.object(policy, fleet.origin)],
            });
        }
    }
}

/// A text template of a fleet's env, and whether it uses instance values only bare (then a fill
/// gives exactly what rendering it for the instance would; see `facts::bare_instance_use`).
struct Template<'a> {
    source: &'a Located<String>,
    bare: bool,
}

/// The text templates of the main container's env and every plan's env.
fn templates_of(fleet: &Fleet) -> Vec<Template<'_>> {
    let plans = fleet.plans.iter().flat_map(|p| p.value.env.iter());
    fleet
        .template
        .main
        .env
        .iter()
        .chain(plans)
        .filter_map(|e| match &e.value {
            EnvValue::Text(t) if t.contains("{{") || t.contains("{%") => Some(Template {
                source: t,
                bare: crate::facts::bare_instance_use(t),
            }),
            _ => None,
        })
        .collect()
}

pub(super) fn placeholder_vars(instance: &Instance) -> Vec<(String, String)> {
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
    templates: &[Template<'_>],
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
        .map(|tpl| ctx.inventory.render(tpl.source, facts.as_ref()).ok())
        .collect::<Option<Vec<String>>>()?;
    let slots = vars.len() + 1;
    Some(Prototype {
        text: Filler::new(&crate::render::unit_text(&unit), slots),
        values: unit.objects.iter().map(|o| o.value.clone()).collect(),
        objects: unit
            .objects
            .iter()
            .map(|o| (o.kind().to_string(), Filler::new(o.name(), slots)))
            .collect(),
        rendered: rendered.iter().map(|r| Filler::new(r, slots)).collect(),
    })
}

fn instantiate(
    ctx: &Ctx<'_>,
    fleet: &Named<Fleet>,
    instance: &Named<Instance>,
    prototype: &Prototype,
    templates: &[Template<'_>],
) -> Option<super::Prerendered> {
    let id = instance.name.as_str();
    let vars = &instance.value.vars;
    let values = Values::new(
        std::iter::once(id)
            .chain(vars.iter().map(|(_, v)| v.as_str()))
            .collect(),
    )?;
    // Templates may transform a value (`| upper`); then the fill would be wrong, so those are
    // rendered for the instance and compared. A bare use of a value fills exactly.
    let mut facts = None;
    for (template, rendered) in templates.iter().zip(&prototype.rendered) {
        if template.bare {
            continue;
        }
        let facts = facts.get_or_insert_with(|| {
            instance_facts(
                &fleet.name,
                id,
                instance.value.plan.as_ref().map(|p| p.as_str()),
                vars,
            )
        });
        let real = ctx.inventory.render(template.source, Some(facts)).ok()?;
        if rendered.fill(&values, false)? != real {
            return None;
        }
    }
    let text = prototype.text.fill(&values, true)?;
    let objects = prototype
        .objects
        .iter()
        .map(|(k, n)| Some((k.clone(), n.fill(&values, false)?)))
        .collect::<Option<Vec<_>>>()?;
    Some(super::Prerendered {
        file: format!("fleets/{}/{id}.yaml", fleet.name),
        text,
        namespace: ctx.namespace.to_string(),
        objects,
        origin: instance.origin,
        filled: super::Filled {
            prototype: prototype.values.clone(),
            values: values.raw.iter().map(|v| v.to_string()).collect(),
        },
    })
}

/// One instance's values by slot (0 is the id, then each var in order), with what each becomes
/// where it is a whole YAML scalar and whether it may stand inside a longer plain string.
pub(super) struct Values<'a> {
    raw: Vec<&'a str>,
    scalar: Vec<String>,
    plain: Vec<bool>,
}

impl<'a> Values<'a> {
    /// `None` when a value could be mistaken for a placeholder or would break a line.
    pub(super) fn new(raw: Vec<&'a str>) -> Option<Self> {
        if raw.iter().any(|v| v.contains(MARK) || v.contains('\n')) {
            return None;
        }
        Some(Values {
            scalar: raw.iter().map(|v| crate::yaml::inline_scalar(v)).collect(),
            plain: raw.iter().map(|v| plain_safe(v)).collect(),
            raw,
        })
    }
}

/// A piece of prototype text: copied as it is, or a slot filled with an instance's value.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Text(std::ops::Range<usize>),
    /// `whole`: the placeholder is a whole YAML scalar (`key: placeholder` at the end of a line).
    Slot {
        slot: usize,
        whole: bool,
    },
}

/// Prototype text cut at its placeholders once, so that filling it per instance is copying.
pub(super) struct Filler {
    text: String,
    pieces: Vec<Piece>,
}

impl Filler {
    /// Cuts `text` at every placeholder of one of `slots` slots; anything else that merely
    /// looks like one stays text.
    pub(super) fn new(text: &str, slots: usize) -> Self {
        let mut pieces = Vec::new();
        let mut copied = 0;
        let mut from = 0;
        while let Some(found) = text[from..].find(MARK) {
            let at = from + found;
            let Some((slot, len)) = slot_at(&text[at..], slots) else {
                from = at + MARK.len();
                continue;
            };
            if copied < at {
                pieces.push(Piece::Text(copied..at));
            }
            let whole = text[..at].ends_with(": ") && text[at + len..].starts_with('\n');
            pieces.push(Piece::Slot { slot, whole });
            copied = at + len;
            from = copied;
        }
        if copied < text.len() {
            pieces.push(Piece::Text(copied..text.len()));
        }
        Filler {
            text: text.to_string(),
            pieces,
        }
    }

    /// The text with every slot filled. In YAML (`yaml`), a whole scalar takes the quoting its
    /// value needs; inside a longer string a value must be one that never changes the quoting
    /// (else `None`).
    pub(super) fn fill(&self, values: &Values<'_>, yaml: bool) -> Option<String> {
        // The exact length first: ten thousand instances' texts are held until they are written.
        let len: usize = self
            .pieces
            .iter()
            .map(|piece| match piece {
                Piece::Text(range) => range.len(),
                Piece::Slot { slot, whole: true } if yaml => values.scalar[*slot].len(),
                Piece::Slot { slot, .. } => values.raw[*slot].len(),
            })
            .sum();
        let mut out = String::with_capacity(len);
        for piece in &self.pieces {
            match piece {
                Piece::Text(range) => out.push_str(&self.text[range.clone()]),
                Piece::Slot { slot, whole: true } if yaml => out.push_str(&values.scalar[*slot]),
                Piece::Slot { slot, .. } if !yaml || values.plain[*slot] => {
                    out.push_str(values.raw[*slot])
                }
                Piece::Slot { .. } => return None,
            }
        }
        Some(out)
    }
}

/// Characters that never change how YAML quotes the string around them.
fn plain_safe(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(raw: &[&'a str]) -> Values<'a> {
        Values::new(raw.to_vec()).expect("plain values")
    }

    #[test]
    fn a_filler_copies_text_and_fills_every_slot() {
        let text = "name: app-zzplatidzz\nid: zzplatidzz\nregion: zzplatvar0zz\n";
        let filler = Filler::new(text, 2);
        let filled = filler.fill(&values(&["acme", "eu"]), true);
        assert_eq!(
            filled.as_deref(),
            Some("name: app-acme\nid: acme\nregion: eu\n")
        );
    }

    #[test]
    fn a_whole_scalar_takes_the_quoting_its_value_needs() {
        let filler = Filler::new("flag: zzplatvar0zz\n", 2);
        assert_eq!(
            filler.fill(&values(&["acme", "yes"]), true).as_deref(),
            Some("flag: \"yes\"\n")
        );
    }

    #[test]
    fn a_value_that_would_change_the_quoting_of_a_longer_string_refuses_the_fill() {
        let filler = Filler::new("url: http://zzplatvar0zz/x\n", 2);
        assert_eq!(filler.fill(&values(&["acme", "a b"]), true), None);
        // Outside YAML (an object's name, a rendered template) the value goes in as it is.
        assert_eq!(
            filler.fill(&values(&["acme", "a b"]), false).as_deref(),
            Some("url: http://a b/x\n")
        );
    }

    #[test]
    fn text_that_only_looks_like_a_placeholder_stays() {
        let text = "a: zzplatvar7zz zzplat-x zzplatidzz\n";
        let filler = Filler::new(text, 2);
        assert_eq!(
            filler.fill(&values(&["acme", "eu"]), false).as_deref(),
            Some("a: zzplatvar7zz zzplat-x acme\n")
        );
    }

    #[test]
    fn values_with_a_placeholder_or_a_line_break_are_not_filled() {
        assert!(Values::new(vec!["zzplatidzz"]).is_none());
        assert!(Values::new(vec!["a\nb"]).is_none());
    }
}
