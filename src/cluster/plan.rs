//! The pure core of the cluster stage: what to apply in which order, the ApplySet bookkeeping,
//! normalisation, diffing, drift fields and their owners, prune selection. No client, no I/O: every
//! function here is unit-tested on plain JSON values.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::resources::split_api_version;

/// The field manager plat applies with; the name under which the cluster records what plat owns.
pub const FIELD_MANAGER: &str = "plat";
/// The spec location that produced an object (written by the lower stage).
pub const SOURCE_ANNOTATION: &str = crate::lower::SOURCE_ANNOTATION;
/// A hash of the manifest plat last applied. When it matches and the live object holds every field
/// of the manifest, applying again would change nothing, so diff and drift need no dry run for it.
pub const SPEC_HASH_ANNOTATION: &str = "plat.dev/spec-hash";
pub const APPLYSET_ID: &str = "applyset.kubernetes.io/id";
pub const APPLYSET_PART_OF: &str = "applyset.kubernetes.io/part-of";
pub const APPLYSET_TOOLING: &str = "applyset.kubernetes.io/tooling";
pub const APPLYSET_GROUP_KINDS: &str = "applyset.kubernetes.io/contains-group-kinds";
pub const APPLYSET_NAMESPACES: &str = "applyset.kubernetes.io/additional-namespaces";

/// `plat/<version>`: the ApplySet tooling annotation. Another tool's ApplySet is never touched.
pub fn tooling() -> String {
    format!("plat/{}", env!("CARGO_PKG_VERSION"))
}

/// A kind with its API group (no version: an object keeps its identity across versions).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKind {
    pub group: String,
    pub kind: String,
}

impl GroupKind {
    pub fn new(group: &str, kind: &str) -> Self {
        GroupKind {
            group: group.to_string(),
            kind: kind.to_string(),
        }
    }

    /// Parses the ApplySet form `Deployment.apps` (core kinds have no group: `Service`).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        Some(match text.split_once('.') {
            Some((kind, group)) => GroupKind::new(group, kind),
            None => GroupKind::new("", text),
        })
    }
}

impl fmt::Display for GroupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}.{}", self.kind, self.group)
        }
    }
}

/// The identity of an object in a cluster.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjKey {
    pub gk: GroupKind,
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for ObjKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.gk, self.name),
            None => write!(f, "{} {}", self.gk, self.name),
        }
    }
}

/// Apply order, after Flux's staged apply: what other objects need comes first, and the first
/// stage (definitions and namespaces) is waited for before the rest is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Definitions,
    Namespaces,
    ClusterWide,
    Identity,
    Config,
    Network,
    /// Jobs that run before the workloads they guard (migrations), waited for until complete.
    Hooks,
    Workloads,
    /// Services whose selector moves traffic to the other blue-green colour, after its health gate
    /// (assigned by `apply`, which knows the live selector).
    Switch,
    Dependents,
    Webhooks,
}

impl Stage {
    pub fn of(gk: &GroupKind) -> Stage {
        match (gk.group.as_str(), gk.kind.as_str()) {
            ("apiextensions.k8s.io", "CustomResourceDefinition") => Stage::Definitions,
            ("", "Namespace") => Stage::Namespaces,
            ("rbac.authorization.k8s.io", "ClusterRole" | "ClusterRoleBinding")
            | ("scheduling.k8s.io", "PriorityClass")
            | ("storage.k8s.io", "StorageClass")
            | ("networking.k8s.io", "IngressClass") => Stage::ClusterWide,
            ("", "ServiceAccount") | ("rbac.authorization.k8s.io", "Role" | "RoleBinding") => {
                Stage::Identity
            }
            (
                "",
                "ConfigMap" | "Secret" | "PersistentVolumeClaim" | "ResourceQuota" | "LimitRange",
            )
            | ("external-secrets.io", _)
            | ("barmancloud.cnpg.io", "ObjectStore") => Stage::Config,
            ("", "Service") | ("networking.k8s.io", "NetworkPolicy") => Stage::Network,
            ("autoscaling", _)
            | ("policy", "PodDisruptionBudget")
            | ("networking.k8s.io", "Ingress")
            | ("postgresql.cnpg.io", "ScheduledBackup") => Stage::Dependents,
            ("admissionregistration.k8s.io", _) => Stage::Webhooks,
            _ => Stage::Workloads,
        }
    }

    /// Whether the cluster must finish this stage (CRDs established, namespaces active) before the
    /// next one can be sent.
    pub fn must_settle(self) -> bool {
        matches!(self, Stage::Definitions | Stage::Namespaces)
    }
}

/// One object of the spec, ready to apply.
#[derive(Clone, Debug)]
pub struct DesiredObject {
    pub key: ObjKey,
    pub version: String,
    /// What is sent: the rendered manifest plus the ApplySet label and the spec hash annotation.
    pub manifest: Arc<Value>,
    /// `platform.toml#services.api-gateway`.
    pub source: Option<String>,
}

impl DesiredObject {
    pub fn stage(&self) -> Stage {
        if super::release::is_hook(self) {
            return Stage::Hooks;
        }
        Stage::of(&self.key.gk)
    }

    pub fn api_version(&self) -> String {
        super::resources::api_version(&self.key.gk.group, &self.version)
    }
}

/// The environment's objects: the Namespace, which is also the ApplySet parent, and the members.
#[derive(Clone, Debug)]
pub struct DesiredSet {
    pub namespace: String,
    pub applyset_id: String,
    pub parent: DesiredObject,
    pub members: Vec<DesiredObject>,
}

impl DesiredSet {
    /// The kinds the members have (what the parent's `contains-group-kinds` lists).
    pub fn group_kinds(&self) -> BTreeSet<GroupKind> {
        self.members.iter().map(|m| m.key.gk.clone()).collect()
    }

    /// The namespaces the members live in (the environment's first); the parent is cluster-scoped,
    /// so all of them are its `additional-namespaces`.
    pub fn namespaces(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self
            .members
            .iter()
            .filter_map(|m| m.key.namespace.clone())
            .collect();
        all.insert(self.namespace.clone());
        all
    }

    /// Parent and members, in apply order (stable within a stage).
    pub fn ordered(&self) -> Vec<&DesiredObject> {
        let mut all: Vec<&DesiredObject> = std::iter::once(&self.parent)
            .chain(self.members.iter())
            .collect();
        all.sort_by_key(|o| o.stage());
        all
    }

    pub fn keys(&self) -> BTreeSet<ObjKey> {
        std::iter::once(&self.parent)
            .chain(self.members.iter())
            .map(|o| o.key.clone())
            .collect()
    }
}

/// The ApplySet id of KEP-3659: `applyset-<base64url(sha256(name.namespace.kind.group))>-v1`.
pub fn applyset_id(name: &str, namespace: &str, kind: &str, group: &str) -> String {
    use base64::Engine as _;
    let digest = Sha256::digest(format!("{name}.{namespace}.{kind}.{group}").as_bytes());
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    format!("applyset-{encoded}-v1")
}

/// `Deployment.apps,Service`: sorted, comma separated.
pub fn format_group_kinds(kinds: &BTreeSet<GroupKind>) -> String {
    let mut texts: Vec<String> = kinds.iter().map(ToString::to_string).collect();
    texts.sort();
    texts.join(",")
}

pub fn parse_group_kinds(text: &str) -> BTreeSet<GroupKind> {
    text.split(',').filter_map(GroupKind::parse).collect()
}

/// Reads apiVersion, kind, namespace and name of a manifest, with an error naming what is missing.
pub fn key_of(manifest: &Value) -> Result<(ObjKey, String), String> {
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let api_version = text(&manifest["apiVersion"]).ok_or("an object has no apiVersion")?;
    let kind = text(&manifest["kind"]).ok_or("an object has no kind")?;
    let name = text(&manifest["metadata"]["name"])
        .ok_or_else(|| format!("a {kind} has no metadata.name"))?;
    let (group, version) = split_api_version(&api_version);
    let key = ObjKey {
        gk: GroupKind::new(group, &kind),
        namespace: text(&manifest["metadata"]["namespace"]),
        name,
    };
    Ok((key, version.to_string()))
}

/// Builds the set to apply from the rendered manifests of one environment. The environment's
/// Namespace becomes the ApplySet parent (see `docs/architecture.md`): it exists exactly once per
/// environment, is never pruned, and one GET of it answers both "does the namespace exist" and
/// "what did plat apply here before".
pub fn prepare(manifests: Vec<Value>, namespace: &str) -> Result<DesiredSet, String> {
    let id = applyset_id(namespace, "", "Namespace", "");
    let mut parent = None;
    let mut members = Vec::new();
    let mut seen = BTreeSet::new();
    for manifest in manifests {
        let (key, version) = key_of(&manifest)?;
        if !seen.insert(key.clone()) {
            return Err(format!("{key} appears twice in the rendered manifests"));
        }
        let source = manifest["metadata"]["annotations"][SOURCE_ANNOTATION]
            .as_str()
            .map(str::to_string);
        let is_parent = key.gk == GroupKind::new("", "Namespace") && key.name == namespace;
        let mut object = DesiredObject {
            key,
            version,
            manifest: manifest.into(),
            source,
        };
        stamp_hash(&mut object);
        if is_parent {
            parent = Some(object);
        } else {
            set_label(Arc::make_mut(&mut object.manifest), APPLYSET_PART_OF, &id);
            members.push(object);
        }
    }
    let parent = parent.ok_or_else(|| {
        format!("the rendered manifests have no Namespace `{namespace}` (the environment's namespace, which plat uses as ApplySet parent)")
    })?;
    let mut set = DesiredSet {
        namespace: namespace.to_string(),
        applyset_id: id,
        parent,
        members,
    };
    let kinds = set.group_kinds();
    set.parent.manifest = parent_manifest(&set, &kinds).into();
    Ok(set)
}

/// The parent as written with the given `contains-group-kinds` (the union of old and new kinds
/// while members are applied, the current kinds once pruning is done).
pub fn parent_manifest(set: &DesiredSet, kinds: &BTreeSet<GroupKind>) -> Value {
    let mut manifest = (*set.parent.manifest).clone();
    set_label(&mut manifest, APPLYSET_ID, &set.applyset_id);
    set_annotation(&mut manifest, APPLYSET_TOOLING, &tooling());
    set_annotation(
        &mut manifest,
        APPLYSET_GROUP_KINDS,
        &format_group_kinds(kinds),
    );
    // The parent is cluster-scoped, so every namespace its members live in is "additional".
    let namespaces: Vec<String> = set.namespaces().into_iter().collect();
    set_annotation(&mut manifest, APPLYSET_NAMESPACES, &namespaces.join(","));
    manifest
}

/// Stamps the manifest hash. A Secret's hash covers its structure but not its values (a hash of a
/// low-entropy secret could be guessed); its values are compared directly instead (`contained`).
fn stamp_hash(object: &mut DesiredObject) {
    let canonical = if object.key.gk == GroupKind::new("", "Secret") {
        let mut hashed = (*object.manifest).clone();
        for field in ["data", "stringData"] {
            if let Some(map) = hashed.get_mut(field).and_then(Value::as_object_mut) {
                map.values_mut().for_each(|v| *v = Value::Null);
            }
        }
        serde_json::to_vec(&hashed)
    } else {
        serde_json::to_vec(&*object.manifest)
    }
    .unwrap_or_default();
    let digest = Sha256::digest(&canonical);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    set_annotation(
        Arc::make_mut(&mut object.manifest),
        SPEC_HASH_ANNOTATION,
        &hex,
    );
}

fn metadata_map<'a>(manifest: &'a mut Value, field: &str) -> Option<&'a mut Map<String, Value>> {
    let metadata = manifest
        .as_object_mut()?
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let map = metadata
        .as_object_mut()?
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if !map.is_object() {
        *map = Value::Object(Map::new());
    }
    map.as_object_mut()
}

pub fn set_label(manifest: &mut Value, key: &str, value: &str) {
    if let Some(map) = metadata_map(manifest, "labels") {
        map.insert(key.to_string(), Value::String(value.to_string()));
    }
}

pub fn set_annotation(manifest: &mut Value, key: &str, value: &str) {
    if let Some(map) = metadata_map(manifest, "annotations") {
        map.insert(key.to_string(), Value::String(value.to_string()));
    }
}

pub fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["annotations"][key].as_str()
}

pub fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["labels"][key].as_str()
}

/// The namespaces the live parent says earlier applies used.
pub fn prior_namespaces(live_parent: &Value) -> BTreeSet<String> {
    annotation(live_parent, APPLYSET_NAMESPACES)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// What the live parent says about earlier applies, or why plat must not touch it.
pub fn prior_group_kinds(live_parent: &Value, id: &str) -> Result<BTreeSet<GroupKind>, String> {
    let name = live_parent["metadata"]["name"].as_str().unwrap_or("?");
    if let Some(tool) = annotation(live_parent, APPLYSET_TOOLING)
        && !tool.starts_with("plat/")
    {
        return Err(format!(
            "Namespace {name} is the parent of an ApplySet managed by `{tool}`; plat does not take over another tool's ApplySet"
        ));
    }
    match label(live_parent, APPLYSET_ID) {
        Some(live_id) if live_id != id => Err(format!(
            "Namespace {name} carries ApplySet id {live_id}, not the {id} plat computes for it; refusing to manage it"
        )),
        Some(_) => Ok(annotation(live_parent, APPLYSET_GROUP_KINDS)
            .map(parse_group_kinds)
            .unwrap_or_default()),
        None => Ok(BTreeSet::new()),
    }
}

// ---------------------------------------------------------------------------------------------
// Normalisation and comparison

/// Metadata the server owns or that records history rather than intent.
const SERVER_METADATA: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
];
const HISTORY_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    SPEC_HASH_ANNOTATION,
];

/// The object as a person compares it: no server bookkeeping, no status, and `{}`, `[]`, null and
/// absent all the same (they are, to the API server).
pub fn normalise(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in SERVER_METADATA {
                meta.remove(*field);
            }
            if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
                for key in HISTORY_ANNOTATIONS {
                    ann.remove(*key);
                }
            }
        }
    }
    drop_empty(&mut object);
    object
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn drop_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                drop_empty(child);
            }
            map.retain(|_, v| !is_empty(v));
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty),
        _ => {}
    }
}

/// Hides Secret values on both sides, keeping whether each key changed visible.
pub fn mask_secrets(gk: &GroupKind, spec: &mut Value, live: &mut Value) {
    if *gk != GroupKind::new("", "Secret") {
        return;
    }
    for field in ["data", "stringData"] {
        let live_values = live[field].as_object().cloned().unwrap_or_default();
        let spec_values = spec[field].as_object().cloned().unwrap_or_default();
        if let Some(map) = spec.get_mut(field).and_then(Value::as_object_mut) {
            for (key, value) in map.iter_mut() {
                *value = Value::String(mask_word(live_values.get(key), Some(value)).0);
            }
        }
        if let Some(map) = live.get_mut(field).and_then(Value::as_object_mut) {
            for (key, value) in map.iter_mut() {
                *value = Value::String(mask_word(Some(value), spec_values.get(key)).1);
            }
        }
    }
}

fn mask_word(live: Option<&Value>, spec: Option<&Value>) -> (String, String) {
    match (live, spec) {
        (Some(l), Some(s)) if l == s => ("(masked)".into(), "(masked)".into()),
        (Some(_), Some(_)) => ("(masked, new value)".into(), "(masked, old value)".into()),
        _ => ("(masked)".into(), "(masked)".into()),
    }
}

/// Whether every field of `want` is in `have` with the same value (lists item by item, same length).
pub fn contained(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w.iter().all(|(k, v)| match h.get(k) {
            Some(hv) => contained(v, hv),
            None => is_empty(v),
        }),
        (Value::Array(w), Value::Array(h)) => {
            w.len() == h.len() && w.iter().zip(h).all(|(a, b)| contained(a, b))
        }
        (Value::Number(a), Value::Number(b)) => a == b || a.as_f64() == b.as_f64(),
        (w, h) => w == h,
    }
}

/// Whether applying `desired` again would change nothing, decided without asking the server: the
/// live object records the same manifest hash (so plat's intent did not change and plat dropped no
/// field) and still holds every field of the manifest (so nobody changed one). When this says no,
/// the caller asks the server with a dry run; a "no" is never wrong, only more expensive.
pub fn unchanged_without_dry_run(desired: &DesiredObject, live: &Value) -> bool {
    let want = annotation(&desired.manifest, SPEC_HASH_ANNOTATION);
    if want.is_none() || want != annotation(live, SPEC_HASH_ANNOTATION) {
        return false;
    }
    if desired.key.gk == GroupKind::new("", "Secret") {
        return contained(&secret_view(&desired.manifest), &secret_view(live));
    }
    contained(&desired.manifest, live)
}

/// A Secret as the API server stores it: `stringData` folded into base64 `data`.
fn secret_view(secret: &Value) -> Value {
    use base64::Engine as _;
    let mut out = secret.clone();
    let Some(map) = out.as_object_mut() else {
        return out;
    };
    let string_data = map.remove("stringData");
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if let (Some(Value::Object(strings)), Some(data)) = (string_data, data.as_object_mut()) {
        for (k, v) in strings {
            let text = v.as_str().unwrap_or_default();
            let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
            data.insert(k, Value::String(encoded));
        }
    }
    out
}

/// A unified diff from the live object to what the spec makes of it (both normalised).
pub fn unified_diff(title: &str, live: Option<&Value>, spec: Option<&Value>) -> String {
    let text = |v: Option<&Value>| v.map(crate::yaml::to_yaml).unwrap_or_default();
    let (before, after) = (text(live), text(spec));
    similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{title} (live)"), &format!("{title} (spec)"))
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Drift: changed fields and who owns them

/// One field that differs between what the spec makes and the live object.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FieldChange {
    /// JSON pointer (RFC 6901), e.g. `/spec/replicas`.
    pub pointer: String,
    pub spec: Option<Value>,
    pub live: Option<Value>,
}

/// The fields where `spec` and `live` (both normalised) differ, leaves first-to-last in key order.
pub fn field_changes(spec: &Value, live: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk_changes("", Some(spec), Some(live), &mut out);
    out
}

fn walk_changes(
    pointer: &str,
    spec: Option<&Value>,
    live: Option<&Value>,
    out: &mut Vec<FieldChange>,
) {
    match (spec, live) {
        (Some(Value::Object(s)), Some(Value::Object(l))) => {
            let keys: BTreeSet<&String> = s.keys().chain(l.keys()).collect();
            for key in keys {
                let child = format!("{pointer}/{}", escape_pointer(key));
                walk_changes(&child, s.get(key), l.get(key), out);
            }
        }
        (Some(Value::Array(s)), Some(Value::Array(l))) if s.len() == l.len() => {
            for (i, (a, b)) in s.iter().zip(l).enumerate() {
                walk_changes(&format!("{pointer}/{i}"), Some(a), Some(b), out);
            }
        }
        (s, l) if s != l => out.push(FieldChange {
            pointer: pointer.to_string(),
            spec: s.cloned(),
            live: l.cloned(),
        }),
        _ => {}
    }
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn unescape_pointer(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// A field manager recorded in `metadata.managedFields`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Owner {
    pub manager: String,
    pub operation: String,
}

impl Owner {
    /// Who is behind a manager name, for the on-call reader.
    pub fn who(&self) -> &'static str {
        let m = self.manager.as_str();
        if m == FIELD_MANAGER {
            "plat"
        } else if m.starts_with("kubectl")
            || ["k9s", "Mozilla", "OpenLens", "Lens", "helm"].contains(&m)
        {
            "a person"
        } else {
            "a controller"
        }
    }
}

/// The managers that own the field at `pointer` of `live`, read from its managedFields.
pub fn field_owners(live: &Value, pointer: &str) -> Vec<Owner> {
    let segments: Vec<String> = pointer.split('/').skip(1).map(unescape_pointer).collect();
    let Some(entries) = live["metadata"]["managedFields"].as_array() else {
        return Vec::new();
    };
    entries
        .iter()
        .filter(|entry| owns(&entry["fieldsV1"], live, &segments))
        .map(|entry| Owner {
            manager: entry["manager"].as_str().unwrap_or("?").to_string(),
            operation: entry["operation"].as_str().unwrap_or("?").to_string(),
        })
        .collect()
}

/// Walks a fieldsV1 tree (`f:spec` → `f:replicas`, list items as `k:{…}`, `v:…` or `i:N`) along the
/// pointer. Reaching the end, or an empty set (an atomic value) on the way, means owned.
fn owns(fields: &Value, live: &Value, segments: &[String]) -> bool {
    let Some(map) = fields.as_object() else {
        return false;
    };
    let Some((segment, rest)) = segments.split_first() else {
        return true;
    };
    if map.is_empty() {
        return true;
    }
    let (key, next_live) = match live {
        Value::Array(items) => {
            let Some(item) = segment.parse::<usize>().ok().and_then(|i| items.get(i)) else {
                return false;
            };
            let Some(key) = map.keys().find(|k| item_matches(k, item, segment)) else {
                return false;
            };
            (key.clone(), item)
        }
        other => (
            format!("f:{segment}"),
            other.get(segment.as_str()).unwrap_or(&Value::Null),
        ),
    };
    match map.get(&key) {
        Some(child) => owns(child, next_live, rest),
        None => false,
    }
}

fn item_matches(key: &str, item: &Value, index: &str) -> bool {
    if let Some(json) = key.strip_prefix("k:") {
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(json) else {
            return false;
        };
        return fields.iter().all(|(k, v)| item.get(k) == Some(v));
    }
    if let Some(json) = key.strip_prefix("v:") {
        return serde_json::from_str::<Value>(json).ok().as_ref() == Some(item);
    }
    key.strip_prefix("i:") == Some(index)
}

// ---------------------------------------------------------------------------------------------
// Prune

/// A live object labelled as a member of plat's ApplySet.
#[derive(Clone, Debug)]
pub struct LiveMember {
    pub key: ObjKey,
    pub version: String,
    pub uid: String,
    /// The controller that owns it (an ownerReference with controller: true), if any.
    pub controller: Option<String>,
    /// The spec location that declared it when it was applied.
    pub source: Option<String>,
}

impl LiveMember {
    pub fn from_live(gk: &GroupKind, version: &str, object: &Value) -> Option<Self> {
        let meta = &object["metadata"];
        let controller = meta["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["controller"] == Value::Bool(true))
            .map(|r| {
                format!(
                    "{} {}",
                    r["kind"].as_str().unwrap_or("?"),
                    r["name"].as_str().unwrap_or("?")
                )
            });
        Some(LiveMember {
            key: ObjKey {
                gk: gk.clone(),
                namespace: meta["namespace"].as_str().map(str::to_string),
                name: meta["name"].as_str()?.to_string(),
            },
            version: version.to_string(),
            uid: meta["uid"].as_str().unwrap_or_default().to_string(),
            controller,
            source: annotation(object, SOURCE_ANNOTATION).map(str::to_string),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PruneDecision {
    Delete,
    /// Namespaces, CRDs and PersistentVolumeClaims hold data or other objects.
    Protected,
    /// Its controller will recreate or delete it; deleting it ourselves would fight the controller.
    ControllerOwned(String),
}

pub fn is_protected(gk: &GroupKind) -> bool {
    matches!(
        (gk.group.as_str(), gk.kind.as_str()),
        ("", "Namespace" | "PersistentVolumeClaim")
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
    )
}

/// What to do with each owned live object that the spec no longer has.
pub fn prune_decisions(
    live: &[LiveMember],
    desired: &BTreeSet<ObjKey>,
    allow_protected: bool,
) -> Vec<(LiveMember, PruneDecision)> {
    live.iter()
        .filter(|m| !desired.contains(&m.key))
        .map(|m| {
            let decision = if let Some(owner) = &m.controller {
                PruneDecision::ControllerOwned(owner.clone())
            } else if is_protected(&m.key.gk) && !allow_protected {
                PruneDecision::Protected
            } else {
                PruneDecision::Delete
            };
            (m.clone(), decision)
        })
        .collect()
}

/// Group-kinds of the desired set grouped with their objects, for request planning.
pub fn by_group_kind(objects: &[DesiredObject]) -> BTreeMap<GroupKind, Vec<&DesiredObject>> {
    let mut map: BTreeMap<GroupKind, Vec<&DesiredObject>> = BTreeMap::new();
    for o in objects {
        map.entry(o.key.gk.clone()).or_default().push(o);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifests() -> Vec<Value> {
        vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "api", "namespace": "prod",
                                "annotations": {"plat.dev/source": "platform.toml#services.api"}},
                   "spec": {"replicas": 3}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "prod"}}),
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "x.example.com"}}),
        ]
    }

    #[test]
    fn applyset_id_matches_kep_3659() {
        // A cluster-scoped parent as kubectl labels it (`<name>..<kind>.<group>`); the value was
        // checked against a parent kubectl wrote (its id starts `applyset-eGaq9sV3nwMTqoxo`).
        assert_eq!(
            applyset_id("sgs", "", "WorkspaceSet", "sgs.snucse.org"),
            "applyset-eGaq9sV3nwMTqoxoanOqvTcx-fUhHfmcx173gQrutHk-v1"
        );
        assert_eq!(
            applyset_id("mysecret", "myns", "Secret", ""),
            "applyset-A4JOA0Nu9IALV64lUktCtYHwWVLeGXDK9cxB9xiZbYU-v1"
        );
    }

    #[test]
    fn prepare_makes_the_namespace_the_parent_and_labels_members() {
        let set = prepare(manifests(), "prod").unwrap();
        assert_eq!(set.parent.key.gk.kind, "Namespace");
        assert_eq!(
            label(&set.parent.manifest, APPLYSET_ID),
            Some(set.applyset_id.as_str())
        );
        assert_eq!(
            annotation(&set.parent.manifest, APPLYSET_GROUP_KINDS),
            Some("CustomResourceDefinition.apiextensions.k8s.io,Deployment.apps,Service")
        );
        assert!(
            annotation(&set.parent.manifest, APPLYSET_TOOLING)
                .unwrap()
                .starts_with("plat/")
        );
        for m in &set.members {
            assert_eq!(
                label(&m.manifest, APPLYSET_PART_OF),
                Some(set.applyset_id.as_str())
            );
            assert!(annotation(&m.manifest, SPEC_HASH_ANNOTATION).is_some());
        }
        assert_eq!(
            set.members[0].source.as_deref(),
            Some("platform.toml#services.api")
        );
        assert_eq!(
            annotation(&set.parent.manifest, APPLYSET_NAMESPACES),
            Some("prod")
        );
        assert_eq!(prior_namespaces(&set.parent.manifest).len(), 1);
    }

    #[test]
    fn members_in_other_namespaces_are_additional_namespaces() {
        let mut m = manifests();
        m.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "logging"}}));
        m.push(json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "fluentd", "namespace": "logging"}}));
        let set = prepare(m, "prod").unwrap();
        assert_eq!(
            annotation(&set.parent.manifest, APPLYSET_NAMESPACES),
            Some("logging,prod")
        );
        // Only the environment's namespace is the parent; another Namespace is a member.
        assert!(
            set.members
                .iter()
                .any(|o| o.key.name == "logging" && label(&o.manifest, APPLYSET_PART_OF).is_some())
        );
    }

    #[test]
    fn prepare_refuses_duplicates_and_a_missing_namespace() {
        let mut twice = manifests();
        twice.push(twice[1].clone());
        assert!(prepare(twice, "prod").unwrap_err().contains("twice"));
        assert!(
            prepare(manifests(), "staging")
                .unwrap_err()
                .contains("no Namespace `staging`")
        );
        let bad = vec![json!({"kind": "Service", "metadata": {"name": "x"}})];
        assert!(prepare(bad, "prod").unwrap_err().contains("apiVersion"));
    }

    #[test]
    fn order_is_definitions_namespaces_then_by_kind() {
        let set = prepare(manifests(), "prod").unwrap();
        let kinds: Vec<&str> = set
            .ordered()
            .iter()
            .map(|o| o.key.gk.kind.as_str())
            .collect();
        assert_eq!(
            kinds,
            [
                "CustomResourceDefinition",
                "Namespace",
                "Service",
                "Deployment"
            ]
        );
        assert!(
            Stage::of(&GroupKind::new("autoscaling", "HorizontalPodAutoscaler")) > Stage::Workloads
        );
        assert!(Stage::of(&GroupKind::new("postgresql.cnpg.io", "Cluster")) == Stage::Workloads);
        assert!(
            Stage::of(&GroupKind::new("external-secrets.io", "ExternalSecret")) < Stage::Workloads
        );
    }

    #[test]
    fn group_kinds_round_trip() {
        let kinds = parse_group_kinds("Service,Deployment.apps, Cluster.postgresql.cnpg.io");
        assert!(kinds.contains(&GroupKind::new("postgresql.cnpg.io", "Cluster")));
        assert_eq!(
            format_group_kinds(&kinds),
            "Cluster.postgresql.cnpg.io,Deployment.apps,Service"
        );
        assert!(parse_group_kinds("").is_empty());
    }

    #[test]
    fn another_tools_applyset_is_refused() {
        let set = prepare(manifests(), "prod").unwrap();
        let mut live = (*set.parent.manifest).clone();
        assert_eq!(prior_group_kinds(&live, &set.applyset_id).unwrap().len(), 3);
        set_annotation(&mut live, APPLYSET_TOOLING, "kubectl/v1.33");
        assert!(
            prior_group_kinds(&live, &set.applyset_id)
                .unwrap_err()
                .contains("kubectl")
        );
        let mut other = (*set.parent.manifest).clone();
        set_label(&mut other, APPLYSET_ID, "applyset-other-v1");
        assert!(prior_group_kinds(&other, &set.applyset_id).is_err());
        let fresh = json!({"metadata": {"name": "prod"}});
        assert!(
            prior_group_kinds(&fresh, &set.applyset_id)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn normalise_drops_server_fields_and_empties() {
        let live = json!({
            "metadata": {"name": "a", "uid": "u", "resourceVersion": "7", "generation": 2,
                "creationTimestamp": "t", "managedFields": [{}], "labels": {},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}",
                                "plat.dev/spec-hash": "abc"}},
            "spec": {"replicas": 2, "template": {"metadata": {}}, "args": [], "x": null},
            "status": {"ready": true}
        });
        assert_eq!(
            normalise(&live),
            json!({"metadata": {"name": "a"}, "spec": {"replicas": 2}})
        );
    }

    #[test]
    fn secrets_are_masked_but_changes_stay_visible() {
        let gk = GroupKind::new("", "Secret");
        let mut spec = json!({"data": {"a": "c2VjcmV0", "b": "eA=="}});
        let mut live = json!({"data": {"a": "c2VjcmV0", "b": "eQ=="}});
        mask_secrets(&gk, &mut spec, &mut live);
        let text = format!("{spec}{live}");
        assert!(!text.contains("c2VjcmV0") && !text.contains("eA==") && !text.contains("eQ=="));
        assert_eq!(spec["data"]["a"], live["data"]["a"]);
        assert_ne!(spec["data"]["b"], live["data"]["b"]);
    }

    #[test]
    fn the_fast_path_needs_the_same_hash_and_every_field() {
        let set = prepare(manifests(), "prod").unwrap();
        let desired = &set.members[0];
        let mut live = (*desired.manifest).clone();
        live["metadata"]["uid"] = json!("u1");
        live["spec"]["progressDeadlineSeconds"] = json!(600);
        assert!(unchanged_without_dry_run(desired, &live));
        live["spec"]["replicas"] = json!(5);
        assert!(!unchanged_without_dry_run(desired, &live));
        let mut stale = (*desired.manifest).clone();
        set_annotation(&mut stale, SPEC_HASH_ANNOTATION, "0000");
        assert!(!unchanged_without_dry_run(desired, &stale));
    }

    #[test]
    fn secrets_use_the_fast_path_without_hashing_their_values() {
        let mut m = manifests();
        m.push(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "prod"},
                      "stringData": {"token": "hunter2"}}));
        let set = prepare(m.clone(), "prod").unwrap();
        let secret = set
            .members
            .iter()
            .find(|o| o.key.gk.kind == "Secret")
            .unwrap();
        // The server folds stringData into data.
        let mut live = (*secret.manifest).clone();
        live.as_object_mut().unwrap().remove("stringData");
        live["data"] = json!({"token": "aHVudGVyMg=="});
        assert!(unchanged_without_dry_run(secret, &live));
        live["data"]["token"] = json!("b3RoZXI=");
        assert!(!unchanged_without_dry_run(secret, &live));
        // The hash does not depend on the value.
        m.last_mut().unwrap()["stringData"]["token"] = json!("another value");
        let other = prepare(m, "prod").unwrap();
        let hash = |s: &DesiredSet| {
            annotation(&s.members.last().unwrap().manifest, SPEC_HASH_ANNOTATION)
                .map(str::to_string)
        };
        assert_eq!(hash(&set), hash(&other));
    }

    #[test]
    fn contained_treats_empty_as_absent_and_lists_by_position() {
        assert!(contained(
            &json!({"a": {}, "b": [1]}),
            &json!({"b": [1], "c": 2})
        ));
        assert!(!contained(&json!({"b": [1]}), &json!({"b": [1, 2]})));
        assert!(contained(&json!({"n": 1}), &json!({"n": 1.0})));
    }

    #[test]
    fn field_changes_name_json_pointers() {
        let spec = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "api", "image": "a:1"}]}}}, "metadata": {"labels": {"x/y": "1"}}});
        let live = json!({"spec": {"replicas": 5, "template": {"spec": {"containers": [{"name": "api", "image": "a:2"}]}}}, "metadata": {"labels": {}}});
        let changes = field_changes(&spec, &live);
        let pointers: Vec<&str> = changes.iter().map(|c| c.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/metadata/labels/x~1y",
                "/spec/replicas",
                "/spec/template/spec/containers/0/image"
            ]
        );
        assert_eq!(changes[1].spec, Some(json!(3)));
        assert_eq!(changes[1].live, Some(json!(5)));
        assert_eq!(changes[0].live, None);
    }

    #[test]
    fn owners_come_from_managed_fields() {
        let live = json!({
            "metadata": {"managedFields": [
                {"manager": "plat", "operation": "Apply", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"api\"}": {"f:image": {}, "f:name": {}}}}}}}},
                {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                {"manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}}}}
            ]},
            "spec": {"replicas": 5, "template": {"spec": {"containers": [{"name": "api", "image": "a:2"}]}}}
        });
        let replicas = field_owners(&live, "/spec/replicas");
        assert_eq!(replicas.len(), 1);
        assert_eq!(replicas[0].manager, "kubectl-edit");
        assert_eq!(replicas[0].who(), "a person");
        let image = field_owners(&live, "/spec/template/spec/containers/0/image");
        assert_eq!(image[0].manager, "plat");
        let rev = field_owners(
            &live,
            "/metadata/annotations/deployment.kubernetes.io~1revision",
        );
        assert_eq!(rev[0].who(), "a controller");
        assert!(field_owners(&live, "/spec/paused").is_empty());
    }

    #[test]
    fn prune_spares_protected_and_controller_owned_objects() {
        let member = |kind: &str, name: &str, controller: Option<&str>| LiveMember {
            key: ObjKey {
                gk: GroupKind::new("", kind),
                namespace: Some("prod".into()),
                name: name.into(),
            },
            version: "v1".into(),
            uid: format!("uid-{name}"),
            controller: controller.map(str::to_string),
            source: None,
        };
        let live = vec![
            member("Service", "kept", None),
            member("Service", "gone", None),
            member("PersistentVolumeClaim", "data", None),
            member("ConfigMap", "owned", Some("Cluster pg")),
        ];
        let desired: BTreeSet<ObjKey> = [live[0].key.clone()].into();
        let decisions = prune_decisions(&live, &desired, false);
        let summary: Vec<(&str, &PruneDecision)> = decisions
            .iter()
            .map(|(m, d)| (m.key.name.as_str(), d))
            .collect();
        assert_eq!(
            summary,
            [
                ("gone", &PruneDecision::Delete),
                ("data", &PruneDecision::Protected),
                (
                    "owned",
                    &PruneDecision::ControllerOwned("Cluster pg".into())
                ),
            ]
        );
        let with_flag = prune_decisions(&live, &desired, true);
        assert_eq!(with_flag[1].1, PruneDecision::Delete);
    }

    #[test]
    fn live_members_read_owner_references() {
        let obj = json!({"metadata": {"name": "x", "namespace": "prod", "uid": "1",
            "ownerReferences": [{"kind": "Cluster", "name": "pg", "controller": true}]}});
        let m = LiveMember::from_live(&GroupKind::new("", "ConfigMap"), "v1", &obj).unwrap();
        assert_eq!(m.controller.as_deref(), Some("Cluster pg"));
        assert_eq!(m.uid, "1");
    }

    #[test]
    fn unified_diff_shows_both_sides() {
        let diff = unified_diff(
            "Deployment prod/api",
            Some(&json!({"spec": {"replicas": 5}})),
            Some(&json!({"spec": {"replicas": 3}})),
        );
        assert!(diff.contains("-  replicas: 5"));
        assert!(diff.contains("+  replicas: 3"));
        assert!(diff.contains("(live)") && diff.contains("(spec)"));
    }
}
