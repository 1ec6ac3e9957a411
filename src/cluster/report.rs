//! What diff, drift and apply print. Pure: observations in, text or JSON out.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use super::live::{Entry, MissingKind, Observation, State};
use super::plan::{self, FieldChange, LiveMember, Owner, PruneDecision};
use super::replace;

/// The header printed before anything else: where plat is about to look or write.
pub fn header(command: &str, env: &str, context: &str, server: &str, namespace: &str) -> String {
    format!(
        "plat {command}: environment {env}, context {context}, server {server}, namespace {namespace}"
    )
}

/// Counts shown at the end of diff and drift.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    /// Changes the server makes only by deleting and creating the object again.
    pub replace: usize,
    pub unchanged: usize,
    pub prune: usize,
    pub errors: usize,
}

impl Counts {
    pub fn of(obs: &Observation) -> Counts {
        let mut c = Counts {
            prune: obs.prune.len(),
            errors: obs.blocking_missing().len(),
            ..Counts::default()
        };
        for e in &obs.entries {
            match e.state {
                State::Unchanged => c.unchanged += 1,
                State::Create { .. } => c.create += 1,
                State::Update { .. } => c.update += 1,
                State::Replace { .. } => c.replace += 1,
                State::Invalid(_) => c.errors += 1,
            }
        }
        c
    }

    pub fn differs(&self) -> bool {
        self.create + self.update + self.replace + self.prune > 0
    }
}

pub fn missing_message(m: &MissingKind) -> String {
    let install = match m.operator {
        Some(op) => format!("install {op} first"),
        None => "install the operator that provides it first".to_string(),
    };
    format!(
        "{}: the CRD {} is not installed in this cluster ({} object{} of this kind); {install}",
        m.gk,
        m.crd,
        m.objects,
        if m.objects == 1 { "" } else { "s" }
    )
}

fn prune_line(member: &LiveMember, decision: &PruneDecision) -> String {
    let what = match decision {
        PruneDecision::Delete => "deleted by `plat apply --prune`".to_string(),
        PruneDecision::Protected => {
            "protected: deleted only with `--prune --prune-protected`".to_string()
        }
        PruneDecision::ControllerOwned(owner) => format!("kept: controlled by {owner}"),
    };
    format!("  {} ({what})", member.key)
}

/// The per-object comparison, normalised and with Secret values masked, under a heading line when
/// there is more to say than the diff (a creation the server could not validate yet, a replacement).
pub fn entry_diff(entry: &Entry) -> Option<String> {
    let title = entry.object.key.to_string();
    let (preview, heading) = match &entry.state {
        State::Unchanged | State::Invalid(_) => return None,
        State::Create { preview, note } => (
            preview.as_ref(),
            note.as_ref().map(|note| format!("to create ({note})")),
        ),
        State::Update { preview } => (preview.as_ref(), None),
        State::Replace { why, preview } => {
            let live = entry.live.as_ref().unwrap_or(&Value::Null);
            let policy = replace::policy(&entry.object.key.gk, live, &entry.object.manifest);
            let message = replace::needs_replacement(&entry.object.key, why, &policy);
            (Some(preview), Some(format!("to replace. {message}")))
        }
    };
    let mut spec = plan::normalise(preview.unwrap_or(&entry.object.manifest));
    let mut live = entry
        .live
        .as_ref()
        .map(plan::normalise)
        .unwrap_or(Value::Null);
    plan::mask_secrets(&entry.object.key.gk, &mut spec, &mut live);
    let mut out = String::new();
    if let Some(heading) = heading {
        let _ = writeln!(out, "# {title}: {heading}");
    }
    let live = (!live.is_null()).then_some(&live);
    out.push_str(&plan::unified_diff(&title, live, Some(&spec)));
    Some(out)
}

/// `plat diff`: a unified diff per object, prune candidates, errors, counts.
pub fn diff_text(obs: &Observation) -> String {
    let mut out = String::new();
    for entry in &obs.entries {
        if let Some(diff) = entry_diff(entry) {
            out.push_str(&diff);
        }
    }
    if !obs.prune.is_empty() {
        let _ = writeln!(out, "owned by plat and no longer in the spec:");
        for (member, decision) in &obs.prune {
            let _ = writeln!(out, "{}", prune_line(member, decision));
        }
    }
    for m in &obs.missing {
        if m.pending {
            let _ = writeln!(
                out,
                "pending: {} (its CRD {} is created by this apply)",
                m.gk, m.crd
            );
        }
    }
    let counts = Counts::of(obs);
    let replace = match counts.replace {
        0 => String::new(),
        n => format!(" {n} to replace,"),
    };
    let _ = writeln!(
        out,
        "diff: {} to create, {} to update,{replace} {} unchanged, {} to prune, {} error{}",
        counts.create,
        counts.update,
        counts.unchanged,
        counts.prune,
        counts.errors,
        if counts.errors == 1 { "" } else { "s" }
    );
    out
}

/// Errors of an observation (missing CRDs, rejected dry runs), one line each.
pub fn errors(obs: &Observation) -> Vec<String> {
    let mut out: Vec<String> = obs
        .blocking_missing()
        .into_iter()
        .map(missing_message)
        .collect();
    for e in &obs.entries {
        if let State::Invalid(msg) = &e.state {
            out.push(msg.clone());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Drift

#[derive(Clone, Debug, Serialize)]
pub struct DriftField {
    #[serde(flatten)]
    pub change: FieldChange,
    pub owners: Vec<OwnerView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct OwnerView {
    pub manager: String,
    pub operation: String,
    pub who: &'static str,
}

impl From<Owner> for OwnerView {
    fn from(o: Owner) -> Self {
        OwnerView {
            who: o.who(),
            manager: o.manager,
            operation: o.operation,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct DriftObject {
    pub object: String,
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<DriftField>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Drift {
    pub environment: String,
    pub context: String,
    pub namespace: String,
    pub missing: Vec<DriftObject>,
    pub not_in_spec: Vec<DriftObject>,
    pub changed: Vec<DriftObject>,
    pub errors: Vec<String>,
}

impl Drift {
    pub fn has_drift(&self) -> bool {
        !(self.missing.is_empty() && self.not_in_spec.is_empty() && self.changed.is_empty())
    }
}

/// The changed fields of an object with their owners in the live object.
pub fn drift_fields(entry: &Entry) -> Vec<DriftField> {
    let preview = match &entry.state {
        State::Update {
            preview: Some(preview),
        }
        | State::Replace { preview, .. } => preview,
        _ => return Vec::new(),
    };
    let Some(live) = &entry.live else {
        return Vec::new();
    };
    let mut spec = plan::normalise(preview);
    let mut live_n = plan::normalise(live);
    plan::mask_secrets(&entry.object.key.gk, &mut spec, &mut live_n);
    plan::field_changes(&spec, &live_n)
        .into_iter()
        .map(|change| {
            let owners = plan::field_owners(live, &change.pointer)
                .into_iter()
                .map(OwnerView::from)
                .collect();
            DriftField { change, owners }
        })
        .collect()
}

pub fn drift(obs: &Observation, environment: &str, context: &str, namespace: &str) -> Drift {
    let view = |e: &Entry, fields| DriftObject {
        object: e.object.key.to_string(),
        source: e.object.source.clone(),
        fields,
    };
    let mut d = Drift {
        environment: environment.into(),
        context: context.into(),
        namespace: namespace.into(),
        missing: Vec::new(),
        not_in_spec: Vec::new(),
        changed: Vec::new(),
        errors: errors(obs),
    };
    for e in &obs.entries {
        match &e.state {
            State::Create { .. } => d.missing.push(view(e, Vec::new())),
            State::Update { .. } | State::Replace { .. } => {
                d.changed.push(view(e, drift_fields(e)))
            }
            _ => {}
        }
    }
    for (member, _) in &obs.prune {
        d.not_in_spec.push(DriftObject {
            object: member.key.to_string(),
            source: member.source.clone(),
            fields: Vec::new(),
        });
    }
    d
}

fn short(value: &Option<Value>) -> String {
    match value {
        None => "(absent)".into(),
        Some(v) => {
            let text = v.to_string();
            if text.chars().count() > 80 {
                format!("{}…", text.chars().take(77).collect::<String>())
            } else {
                text
            }
        }
    }
}

fn owners_text(owners: &[OwnerView]) -> String {
    if owners.is_empty() {
        return "no manager owns it (removed, or never set)".into();
    }
    let parts: Vec<String> = owners
        .iter()
        .map(|o| format!("{} ({}, {})", o.manager, o.who, o.operation))
        .collect();
    format!("owned by {}", parts.join(", "))
}

pub fn drift_text(d: &Drift) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "drift in {} (namespace {}): {} changed, {} missing, {} not in the spec",
        d.environment,
        d.namespace,
        d.changed.len(),
        d.missing.len(),
        d.not_in_spec.len()
    );
    let source = |o: &DriftObject| {
        o.source
            .as_ref()
            .map(|s| format!("  [{s}]"))
            .unwrap_or_default()
    };
    for o in &d.changed {
        let _ = writeln!(out, "changed  {}{}", o.object, source(o));
        for f in &o.fields {
            let _ = writeln!(
                out,
                "  {}: spec {}, live {}; {}",
                f.change.pointer,
                short(&f.change.spec),
                short(&f.change.live),
                owners_text(&f.owners)
            );
        }
    }
    for o in &d.missing {
        let _ = writeln!(out, "missing  {}{}", o.object, source(o));
    }
    for o in &d.not_in_spec {
        let _ = writeln!(
            out,
            "not in the spec  {}{} (owned by plat; `plat apply --prune` deletes it)",
            o.object,
            source(o)
        );
    }
    if !d.has_drift() {
        let _ = writeln!(out, "no drift");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::plan::{DesiredObject, GroupKind, ObjKey};
    use serde_json::json;

    fn entry(state: State, live: Option<Value>) -> Entry {
        Entry {
            object: DesiredObject {
                key: ObjKey {
                    gk: GroupKind::new("apps", "Deployment"),
                    namespace: Some("dev".into()),
                    name: "api".into(),
                },
                version: "v1".into(),
                manifest: json!({"spec": {"replicas": 1}}).into(),
                source: Some("platform.toml#services.api".into()),
            },
            live,
            state,
        }
    }

    #[test]
    fn drift_names_pointer_values_owner_and_source() {
        let live = json!({"metadata": {"managedFields": [
            {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
            "spec": {"replicas": 5}});
        let e = entry(
            State::Update {
                preview: Some(json!({"spec": {"replicas": 1}})),
            },
            Some(live),
        );
        let obs = Observation {
            namespace_exists: true,
            prior_kinds: Default::default(),
            entries: vec![e],
            prune: vec![],
            missing: vec![],
            resources: Default::default(),
        };
        let d = drift(&obs, "dev", "dev-cluster", "dev");
        let text = drift_text(&d);
        assert!(
            text.contains(
                "/spec/replicas: spec 1, live 5; owned by kubectl-edit (a person, Update)"
            ),
            "{text}"
        );
        assert!(text.contains("[platform.toml#services.api]"));
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["changed"][0]["fields"][0]["pointer"], "/spec/replicas");
        assert_eq!(
            json["changed"][0]["fields"][0]["owners"][0]["manager"],
            "kubectl-edit"
        );
    }

    #[test]
    fn diff_text_counts_and_notes() {
        let created = entry(
            State::Create {
                preview: None,
                note: Some("not validated: namespace dev is created by this apply".into()),
            },
            None,
        );
        let obs = Observation {
            namespace_exists: false,
            prior_kinds: Default::default(),
            entries: vec![created],
            prune: vec![],
            missing: vec![],
            resources: Default::default(),
        };
        let text = diff_text(&obs);
        assert!(text.contains("to create (not validated: namespace dev"));
        assert!(text.contains("+  replicas: 1"));
        assert!(text.contains("diff: 1 to create, 0 to update, 0 unchanged, 0 to prune, 0 errors"));
    }

    #[test]
    fn a_missing_crd_names_the_operator() {
        let m = MissingKind {
            gk: GroupKind::new("postgresql.cnpg.io", "Cluster"),
            crd: "clusters.postgresql.cnpg.io".into(),
            operator: crate::cluster::resources::operator_for("postgresql.cnpg.io"),
            pending: false,
            objects: 1,
        };
        let text = missing_message(&m);
        assert!(
            text.contains("clusters.postgresql.cnpg.io") && text.contains("CloudNativePG"),
            "{text}"
        );
    }
}
