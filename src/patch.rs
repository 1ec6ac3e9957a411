//! `[[patches]]`: the escape hatch for a field or a label plat does not model. Each patch names a
//! target (a kind and a name, optionally a namespace, or a set of labels) and changes every object it
//! matches with a JSON merge patch (RFC 7386, written as a TOML table) or JSON Patch operations
//! (RFC 6902), both applied by the `json-patch` crate.
//!
//! Patches apply after lowering and before the output checks, so that a patched object is validated
//! against its schema and security-checked like any other: a patch cannot turn off what plat
//! enforces, only trigger the same finding (waivable the same way, at the spec entry of the object).
//! Patches of `platform.toml` apply in every environment, then those of the environment's overlay,
//! each in the order written.

use json_patch::{PatchErrorKind, PatchOperation};
use serde_json::{Map, Value as Json, json};

use crate::decode::{Fields, describe, type_error};
use crate::diag::{Diagnostic, Diagnostics};
use crate::lower::Object;
use crate::node::{Node, Value};
use crate::source::{Origin, Sources};

pub const KEY: &str = "patches";

/// One `[[patches]]` entry.
#[derive(Clone, Debug)]
pub struct Patch {
    pub target: Target,
    pub change: Change,
    /// The `[[patches]]` table.
    pub origin: Origin,
    /// `platform.toml#patches[0]`: how `plat explain` names it.
    pub label: String,
}

/// What a patch applies to: every given field must match.
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub labels: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub enum Change {
    /// RFC 7386.
    Merge(Json),
    /// RFC 6902, each operation with the place it was written.
    Operations(Vec<(PatchOperation, Origin)>),
}

/// Whether a target matches an object whose values may hold a fleet prototype's placeholders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    No,
    Yes,
    /// The answer depends on the instance the placeholder stands for.
    Depends,
}

impl Target {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(kind) = &self.kind {
            parts.push(kind.clone());
        }
        if let Some(name) = &self.name {
            parts.push(format!("`{name}`"));
        }
        if let Some(namespace) = &self.namespace {
            parts.push(format!("in namespace `{namespace}`"));
        }
        if !self.labels.is_empty() {
            let labels: Vec<String> = self
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            parts.push(format!("with labels {}", labels.join(",")));
        }
        parts.join(" ")
    }

    /// Matches `value`; `placeholder` marks text that stands for many instances (see
    /// `lower::PLACEHOLDER`), for which a name or label comparison cannot be decided.
    pub fn matches(&self, value: &Json, placeholder: Option<&str>) -> Match {
        let stands_in = |text: &str| placeholder.is_some_and(|p| text.contains(p));
        let metadata = &value["metadata"];
        if self
            .kind
            .as_ref()
            .is_some_and(|k| value["kind"].as_str() != Some(k))
        {
            return Match::No;
        }
        if self
            .namespace
            .as_ref()
            .is_some_and(|n| metadata["namespace"].as_str() != Some(n))
        {
            return Match::No;
        }
        let mut depends = false;
        if let Some(name) = &self.name {
            let actual = metadata["name"].as_str().unwrap_or("");
            if stands_in(actual) {
                depends = true;
            } else if actual != name {
                return Match::No;
            }
        }
        for (key, wanted) in &self.labels {
            let actual = metadata["labels"][key].as_str();
            match actual {
                Some(text) if stands_in(text) => depends = true,
                Some(text) if text == wanted => {}
                _ => return Match::No,
            }
        }
        if depends { Match::Depends } else { Match::Yes }
    }
}

/// Reads the patches of the base spec and of the overlay (the overlay's add to the base's: unlike
/// other arrays they do not replace). Problems are reported by the spec reader, which reads the
/// merged tree through [`check`]; only the base's patches that an overlay's replace there are
/// reported here.
pub fn read(base: &Node, overlay: &Node, sources: &Sources, diags: &mut Diagnostics) -> Vec<Patch> {
    let mut scratch = Diagnostics::default();
    let overlay_has_patches = patches_node(overlay).is_some();
    let base_diags = if overlay_has_patches {
        diags
    } else {
        &mut scratch
    };
    let mut patches = read_root(base, sources, base_diags);
    patches.extend(read_root(overlay, sources, &mut scratch));
    patches
}

/// The spec reader's part: reports every problem of the merged tree's `patches`.
pub fn check(node: &Node, diags: &mut Diagnostics) {
    read_items(node, "", diags);
}

fn patches_node(root: &Node) -> Option<&Node> {
    match &root.value {
        Value::Table(table) => table.get(KEY),
        _ => None,
    }
}

fn read_root(root: &Node, sources: &Sources, diags: &mut Diagnostics) -> Vec<Patch> {
    let Some(node) = patches_node(root) else {
        return Vec::new();
    };
    let file = sources.file_name(root.origin.file).to_string();
    read_items(node, &file, diags)
}

fn read_items(node: &Node, file: &str, diags: &mut Diagnostics) -> Vec<Patch> {
    let Value::Array(items) = &node.value else {
        diags.push(type_error(node, KEY, "an array of tables (`[[patches]]`)"));
        return Vec::new();
    };
    let mut patches = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{KEY}[{i}]");
        if let Some(mut patch) = read_patch(item, &path, diags) {
            patch.label = format!("{file}#{path}");
            patches.push(patch);
        }
    }
    patches
}

/// The overlay's `[[patches]]` replace the base's in the merged tree, which the spec's secret scan
/// reads; the base's apply all the same, so they are scanned here.
pub fn scan_base_secrets(base: &Node, diags: &mut Diagnostics) {
    if let Value::Table(table) = &base.value
        && let Some(node) = table.get(KEY)
    {
        crate::policy::scan_secret_literals(node, KEY, diags);
    }
}

/// What the editor schema says about `[[patches]]`.
pub fn schema() -> Json {
    json!({
        "type": "array",
        "items": {
            "type": "object",
            "required": ["target"],
            "additionalProperties": false,
            "properties": {
                "target": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "kind": { "type": "string" },
                        "name": { "type": "string" },
                        "namespace": { "type": "string" },
                        "labels": { "type": "object", "additionalProperties": { "type": "string" } }
                    }
                },
                "merge": { "type": "object", "description": "a JSON merge patch (RFC 7386)" },
                "json": { "type": "array", "description": "JSON Patch operations (RFC 6902)", "items": { "type": "object" } }
            }
        }
    })
}

fn read_patch(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Patch> {
    let mut f = Fields::open(node, path, diags)?;
    let target = f.need("target");
    let merge = f.node("merge");
    let operations = f.node("json");
    let ok = f.finish(diags);
    let target = match target {
        Some(t) => read_target(t, &format!("{path}.target"), diags),
        None => {
            diags.push(
                Diagnostic::error("P0103", format!("`{path}.target` is missing"))
                    .at(node.origin, "this patch needs a target")
                    .help("add `target = { kind = \"Deployment\", name = \"web\" }` or `target = { labels = { … } }`"),
            );
            None
        }
    };
    let change = match (merge, operations) {
        (Some(m), None) => read_merge(m, &format!("{path}.merge"), diags),
        (None, Some(o)) => read_operations(o, &format!("{path}.json"), diags),
        (Some(_), Some(o)) => {
            diags.push(
                Diagnostic::error("P0104", format!("`{path}` has both `merge` and `json`"))
                    .at(o.origin, "a second change")
                    .help("one patch is either a merge patch or a list of JSON Patch operations: split it in two"),
            );
            None
        }
        (None, None) => {
            diags.push(
                Diagnostic::error("P0103", format!("`{path}` changes nothing"))
                    .at(node.origin, "no `merge` or `json`")
                    .help("add `merge = { … }` (a JSON merge patch) or `json = [{ op = \"add\", path = \"/…\", value = … }]`"),
            );
            None
        }
    };
    ok.then_some(())?;
    Some(Patch {
        target: target?,
        change: change?,
        origin: node.origin,
        label: String::new(),
    })
}

fn read_target(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Target> {
    let mut f = Fields::open(node, path, diags)?;
    let kind = f.opt::<String>("kind", diags).map(|v| v.value);
    let name = f.opt::<String>("name", diags).map(|v| v.value);
    let namespace = f.opt::<String>("namespace", diags).map(|v| v.value);
    let labels = f
        .named_of::<String>("labels", diags)
        .into_iter()
        .map(|l| (l.name, l.value))
        .collect();
    f.finish(diags).then_some(())?;
    let target = Target {
        kind,
        name,
        namespace,
        labels,
    };
    let names_objects =
        (target.kind.is_some() && target.name.is_some()) || !target.labels.is_empty();
    if !names_objects {
        diags.push(
            Diagnostic::error("P0104", format!("`{path}` is too broad"))
                .at(node.origin, "needs a kind and a name, or labels")
                .help("name the objects: `{ kind = \"Deployment\", name = \"web\" }` (optionally `namespace`), or `{ labels = { \"app.kubernetes.io/name\" = \"web\" } }`"),
        );
        return None;
    }
    Some(target)
}

fn read_merge(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Change> {
    describe(node, || json!({ "type": "object" }));
    if !matches!(node.value, Value::Table(_)) {
        diags.push(type_error(node, path, "a table (a JSON merge patch)"));
        return None;
    }
    Some(Change::Merge(to_json(node)))
}

fn read_operations(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Change> {
    let Value::Array(items) = &node.value else {
        diags.push(type_error(node, path, "an array of JSON Patch operations"));
        return None;
    };
    let mut operations = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match serde_json::from_value::<PatchOperation>(to_json(item)) {
            Ok(op) => operations.push((op, item.origin)),
            Err(err) => {
                ok = false;
                diags.push(
                    Diagnostic::error("P0703", format!("`{path}[{i}]` is not a JSON Patch operation: {err}"))
                        .at(item.origin, "not an RFC 6902 operation")
                        .help("write `{ op = \"add\" | \"remove\" | \"replace\" | \"move\" | \"copy\" | \"test\", path = \"/a/b\", … }`; paths are JSON pointers and start with `/`"),
                );
            }
        }
    }
    ok.then_some(Change::Operations(operations))
}

/// A spec value as JSON: what a patch writes into an object.
pub fn to_json(node: &Node) -> Json {
    match &node.value {
        Value::String(s) | Value::Datetime(s) => Json::String(s.clone()),
        Value::Integer(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Bool(b) => Json::Bool(*b),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Table(table) => Json::Object(
            table
                .entries
                .iter()
                .map(|(k, v)| (k.name.clone(), to_json(v)))
                .collect::<Map<String, Json>>(),
        ),
    }
}

/// Applies the patches of one environment and remembers which matched something.
#[derive(Debug, Default)]
pub struct Patcher {
    pub patches: Vec<Patch>,
    matched: Vec<bool>,
}

impl Patcher {
    pub fn new(patches: Vec<Patch>) -> Self {
        let matched = vec![false; patches.len()];
        Patcher { patches, matched }
    }

    pub fn is_empty(&self) -> bool {
        self.patches.is_empty()
    }

    /// Applies every matching patch to `object`, in order, and returns the indices of those applied.
    /// A failing JSON Patch is reported at the operation and leaves the object as it was before it.
    pub fn apply(&mut self, object: &mut Object, diags: &mut Diagnostics) -> Vec<usize> {
        self.apply_matching(object, None, diags)
    }

    /// [`Patcher::apply`] on a fleet prototype whose names and labels hold `placeholder`. `None` when
    /// a label target cannot be decided for the prototype (the family is then lowered instance by
    /// instance); patches that name one instance are left to [`Patcher::names_any`].
    pub fn apply_to_prototype(
        &mut self,
        object: &mut Object,
        placeholder: &str,
        diags: &mut Diagnostics,
    ) -> Option<Vec<usize>> {
        let undecidable = self.patches.iter().any(|p| {
            !p.target.labels.is_empty()
                && p.target.matches(&object.value, Some(placeholder)) == Match::Depends
        });
        if undecidable {
            return None;
        }
        Some(self.apply_matching(object, Some(placeholder), diags))
    }

    /// True when a patch names one of these objects (kind and name): such an instance of a fleet is
    /// lowered on its own rather than filled in from the prototype.
    pub fn names_any(&self, objects: &[(String, String)]) -> bool {
        self.patches.iter().any(|p| {
            let target = &p.target;
            target.name.as_ref().is_some_and(|name| {
                objects
                    .iter()
                    .any(|(kind, n)| n == name && target.kind.as_ref().is_none_or(|k| k == kind))
            })
        })
    }

    fn apply_matching(
        &mut self,
        object: &mut Object,
        placeholder: Option<&str>,
        diags: &mut Diagnostics,
    ) -> Vec<usize> {
        let mut applied = Vec::new();
        for (i, patch) in self.patches.iter().enumerate() {
            if patch.target.matches(&object.value, placeholder) != Match::Yes {
                continue;
            }
            self.matched[i] = true;
            if apply_one(patch, object, diags) {
                applied.push(i);
            }
        }
        applied
    }

    /// Reports patches whose target matched no object of the environment.
    pub fn report_unmatched(&self, diags: &mut Diagnostics) {
        for (patch, matched) in self.patches.iter().zip(&self.matched) {
            if *matched {
                continue;
            }
            diags.push(
                Diagnostic::error(
                    "P0701",
                    format!("patch target {} matches no object", patch.target.describe()),
                )
                .at(patch.origin, "this patch changes nothing")
                .help("check the kind, name, namespace and labels against the output (`plat explain KIND/NAME` shows an object; generated/<env>/kubernetes/ lists them all)"),
            );
        }
    }

    /// Adds "patched here" to a finding about a patched object, so that a finding a patch caused
    /// points at it too (the primary label stays at the spec entry, where waivers apply).
    pub fn mention(&self, applied: &[usize], finding: &mut Diagnostic) {
        for &i in applied {
            finding.secondary.push(crate::diag::Label {
                origin: self.patches[i].origin,
                text: "patched here".to_string(),
            });
        }
    }

    /// A patch must not write secret values into a Secret: they would land in `generated/`.
    pub fn check_secret_change(
        &self,
        before: &Json,
        object: &Object,
        applied: &[usize],
        diags: &mut Diagnostics,
    ) {
        let value = &object.value;
        if value["kind"] != "Secret" || value["apiVersion"] != "v1" {
            return;
        }
        for field in ["data", "stringData"] {
            if value[field] == before[field] {
                continue;
            }
            let last = applied[applied.len() - 1];
            diags.push(
                Diagnostic::error("P0705", format!("a patch writes secret values into Secret `{}` (`{field}`)", object.name()))
                    .at(self.patches[last].origin, "this patch")
                    .also(object.origin, "the entry that produces the Secret")
                    .help("secret values never go into the spec or generated/: keep them in the secret store and reference them through `[secrets]`"),
            );
        }
    }

    /// Schema findings of a patched object belong to the patch that was applied last: the object was
    /// valid as plat built it.
    pub fn relocate_schema_findings(
        &self,
        applied: &[usize],
        object: &Object,
        findings: &mut [Diagnostic],
    ) {
        let Some(&last) = applied.last() else { return };
        for d in findings.iter_mut().filter(|d| d.code == "P0506") {
            d.code = "P0704";
            d.message = format!("patched {}", d.message);
            d.primary = Some(crate::diag::Label {
                origin: self.patches[last].origin,
                text: "this patch makes the object invalid".to_string(),
            });
            d.secondary.push(crate::diag::Label {
                origin: object.origin,
                text: "the entry that produces the object".to_string(),
            });
            d.help = Some(
                "the API server would reject the patched object: correct the patch's field names, types or values (`plat explain KIND/NAME` shows the object before and after)".to_string(),
            );
        }
    }
}

/// One patch on one object; false (with a finding) when a JSON Patch operation fails.
fn apply_one(patch: &Patch, object: &mut Object, diags: &mut Diagnostics) -> bool {
    match &patch.change {
        Change::Merge(merge) => {
            json_patch::merge(&mut object.value, merge);
            true
        }
        Change::Operations(operations) => {
            let ops: Vec<PatchOperation> = operations.iter().map(|(op, _)| op.clone()).collect();
            let Err(err) = json_patch::patch(&mut object.value, &ops) else {
                return true;
            };
            let at = operations
                .get(err.operation)
                .map_or(patch.origin, |(_, origin)| *origin);
            let name = format!("{} `{}`", object.kind(), object.name());
            let (code, message, help) = match err.kind {
                PatchErrorKind::TestFailed => (
                    "P0702",
                    format!(
                        "JSON Patch `test` failed on {name}: the value at `{}` is not the one expected",
                        err.path
                    ),
                    "the object is not what the patch expects (it changed, or the patch targets the wrong object): `plat explain KIND/NAME` shows it",
                ),
                _ => (
                    "P0703",
                    format!(
                        "JSON Patch operation on {name} cannot apply: {} (`{}`)",
                        err.kind, err.path
                    ),
                    "a path must exist for `remove`, `replace`, `move`, `copy` and `test`, and its parent for `add`; `-` appends to an array; escape `/` in a key as `~1` and `~` as `~0`",
                ),
            };
            diags.push(
                Diagnostic::error(code, message)
                    .at(at, "this operation")
                    .also(object.origin, "the entry that produces the object")
                    .help(help),
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn origin() -> Origin {
        let mut sources = Sources::default();
        let file: FileId = sources.add("x", String::new());
        Origin::new(file, 0..0)
    }

    fn deployment(name: &str, tenant: &str) -> Object {
        Object {
            value: json!({
                "kind": "Deployment",
                "metadata": { "name": name, "namespace": "ns", "labels": { "tenant": tenant } },
            }),
            origin: origin(),
        }
    }

    fn patch(target: Target, change: Change) -> Patch {
        Patch {
            target,
            change,
            origin: origin(),
            label: "p".into(),
        }
    }

    #[test]
    fn targets_match_by_kind_name_namespace_and_labels() {
        let d = deployment("web", "acme").value;
        let t = |kind: &str, name: &str| Target {
            kind: Some(kind.into()),
            name: Some(name.into()),
            ..Target::default()
        };
        assert_eq!(t("Deployment", "web").matches(&d, None), Match::Yes);
        assert_eq!(t("Service", "web").matches(&d, None), Match::No);
        assert_eq!(t("Deployment", "api").matches(&d, None), Match::No);
        let labels = Target {
            labels: vec![("tenant".into(), "acme".into())],
            ..Target::default()
        };
        assert_eq!(labels.matches(&d, None), Match::Yes);
        let prototype = deployment("t-zz", "zz").value;
        assert_eq!(labels.matches(&prototype, Some("zz")), Match::Depends);
        assert_eq!(
            t("Deployment", "t-acme").matches(&prototype, Some("zz")),
            Match::Depends
        );
    }

    #[test]
    fn a_failed_test_operation_leaves_the_object_unchanged_and_is_reported() {
        let ops: Vec<(PatchOperation, Origin)> = [
            json!({ "op": "add", "path": "/metadata/labels/mesh", "value": "on" }),
            json!({ "op": "test", "path": "/metadata/name", "value": "api" }),
        ]
        .into_iter()
        .map(|v| (serde_json::from_value(v).unwrap(), origin()))
        .collect();
        let target = Target {
            kind: Some("Deployment".into()),
            name: Some("web".into()),
            ..Target::default()
        };
        let mut patcher = Patcher::new(vec![patch(target, Change::Operations(ops))]);
        let mut object = deployment("web", "acme");
        let before = object.value.clone();
        let mut diags = Diagnostics::default();
        assert!(patcher.apply(&mut object, &mut diags).is_empty());
        assert_eq!(object.value, before);
        let codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["P0702"]);
        let mut diags = Diagnostics::default();
        patcher.report_unmatched(&mut diags);
        assert!(diags.is_empty(), "it matched");
    }

    #[test]
    fn merge_patches_add_replace_and_delete() {
        let target = Target {
            labels: vec![("tenant".into(), "acme".into())],
            ..Target::default()
        };
        let merge = json!({ "metadata": { "labels": { "tenant": null, "mesh": "on" } }, "spec": { "paused": true } });
        let mut patcher = Patcher::new(vec![patch(target, Change::Merge(merge))]);
        let mut object = deployment("web", "acme");
        let mut diags = Diagnostics::default();
        assert_eq!(patcher.apply(&mut object, &mut diags), [0]);
        assert_eq!(object.value["metadata"]["labels"], json!({ "mesh": "on" }));
        assert_eq!(object.value["spec"]["paused"], true);
    }
}
