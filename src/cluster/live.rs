//! Reading the cluster: resolving kinds, listing plat's objects per kind with the ApplySet label
//! selector, dry runs. Shared by diff, drift and apply.
//!
//! Requests are kept few: built-in kinds need no discovery (see `resources.rs`); one GET of the
//! environment's Namespace (the ApplySet parent) says whether it exists and which kinds plat applied
//! before; one LIST per kind replaces a GET per object; only objects that may have changed get a dry
//! run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use futures::{StreamExt, TryStreamExt};
use kube::Client;
use kube::api::{
    DeleteParams, ListParams, Patch, PatchParams, Preconditions, PropagationPolicy,
    ValidationDirective,
};
use kube::core::Request;
use serde_json::Value;

use super::plan::{
    self, APPLYSET_PART_OF, DesiredObject, DesiredSet, FIELD_MANAGER, GroupKind, LiveMember,
    ObjKey, PruneDecision,
};
use super::replace;
use super::resources::{self, ResourceInfo};
use super::{Error, Result, api_error, status_code};

// ---------------------------------------------------------------------------------------------
// Requests

pub async fn get(
    client: &Client,
    info: &ResourceInfo,
    ns: Option<&str>,
    name: &str,
) -> Result<Option<Value>> {
    let req = Request::new(info.collection_path(ns))
        .get(name, &Default::default())
        .map_err(|e| Error(format!("cannot build GET {name}: {e}")))?;
    match client.request::<Value>(req).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if status_code(&e) == Some(404) => Ok(None),
        Err(e) => Err(api_error(&format!("GET {} {name}", info.kind), &e)),
    }
}

/// Lists objects of a kind with a label selector; `None` when the server does not serve the path.
///
/// `ns: None` lists across namespaces (one request for an environment with several). An identity
/// that may list only in its environment's namespaces (what `plat rbac` grants) is refused that
/// (403); then the kind is listed in each of `fallback`'s namespaces instead.
async fn list_raw(
    client: &Client,
    info: &ResourceInfo,
    (ns, selector): (Option<&str>, &str),
    fallback: &[String],
    owners: bool,
) -> Result<Option<Value>> {
    match list_request(client, info, (ns, selector), owners).await {
        Ok(v) => Ok(Some(v)),
        Err((Some(404), _)) => Ok(None),
        Err((Some(403), _)) if ns.is_none() && info.namespaced && !fallback.is_empty() => {
            list_each_namespace(client, info, selector, fallback, owners).await
        }
        Err((_, e)) => Err(e),
    }
}

async fn list_each_namespace(
    client: &Client,
    info: &ResourceInfo,
    selector: &str,
    namespaces: &[String],
    owners: bool,
) -> Result<Option<Value>> {
    let mut all = Vec::new();
    let mut kind = Value::Null;
    for ns in namespaces {
        match list_request(client, info, (Some(ns), selector), owners).await {
            Ok(mut list) => {
                kind = list["kind"].take();
                all.extend(items(list));
            }
            Err((Some(404), _)) => return Ok(None),
            Err((_, e)) => return Err(e),
        }
    }
    Ok(Some(list_value(kind, all)))
}

/// A list as the rest of the stage reads one. Built by hand: `json!` would serialize the items
/// into a second copy of them.
fn list_value(kind: Value, items: Vec<Value>) -> Value {
    let mut list = serde_json::Map::new();
    list.insert("kind".into(), kind);
    list.insert("items".into(), Value::Array(items));
    Value::Object(list)
}

/// `owners: false` leaves each object's `managedFields` out as the answer is parsed: they are often
/// larger than the object, and only apply and drift need them.
async fn list_request(
    client: &Client,
    info: &ResourceInfo,
    (ns, selector): (Option<&str>, &str),
    owners: bool,
) -> Result<Value, (Option<u16>, Error)> {
    let req = Request::new(info.collection_path(ns))
        .list(&ListParams::default().labels(selector))
        .map_err(|e| (None, Error(format!("cannot build LIST {}: {e}", info.kind))))?;
    let failed = |e: kube::Error| {
        (
            status_code(&e),
            api_error(&format!("LIST {}", info.group_kind()), &e),
        )
    };
    let text = client.request_text(req).await.map_err(failed)?;
    // Parsed on a thread of the blocking pool: a LIST of 10,000 objects takes a second to parse,
    // and the other LISTs' answers arrive meanwhile.
    let kind = info.group_kind();
    tokio::task::spawn_blocking(move || parse_list(&text, owners))
        .await
        .map_err(|e| (None, Error(format!("LIST {kind}: {e}"))))?
        .map_err(|e| {
            (
                None,
                Error(format!("LIST {kind}: the answer is not a list: {e}")),
            )
        })
}

fn parse_list(text: &str, owners: bool) -> serde_json::Result<Value> {
    if owners {
        serde_json::from_str(text)
    } else {
        serde_json::from_str::<slim::List>(text).map(slim::List::into_value)
    }
}

/// The items of a kind carrying the selector (none when the kind is not served).
pub async fn list(
    client: &Client,
    info: &ResourceInfo,
    ns: Option<&str>,
    selector: &str,
    fallback: &[String],
) -> Result<Vec<Value>> {
    let listed = list_raw(client, info, (ns, selector), fallback, true).await?;
    Ok(listed.map(|l| typed_items(l, info)).unwrap_or_default())
}

/// Server-side apply as field manager `plat`. Field validation is strict: an unknown or duplicated
/// field (of a built-in kind, or of a custom resource with a structural schema) is an error naming
/// the object and the field, not a warning.
///
/// `force` takes fields over from other field managers. Dry runs force, so that diff shows the
/// spec's end state; real writes force only with `--force-conflicts` (see `apply.rs`).
pub async fn apply(
    client: &Client,
    info: &ResourceInfo,
    object: &DesiredObject,
    dry_run: bool,
    force: bool,
) -> Result<Value, (Option<u16>, Error)> {
    let write = Write {
        manager: FIELD_MANAGER,
        dry_run,
        force,
    };
    apply_as(client, info, &object.key, &object.manifest, write).await
}

/// How one server-side apply is sent.
#[derive(Clone, Copy, Debug)]
pub struct Write<'a> {
    pub manager: &'a str,
    pub dry_run: bool,
    pub force: bool,
}

/// Server-side apply of `body` as `write.manager` (plat's own, or the replicas hand-over's).
pub async fn apply_as(
    client: &Client,
    info: &ResourceInfo,
    key: &ObjKey,
    body: &Value,
    write: Write<'_>,
) -> Result<Value, (Option<u16>, Error)> {
    let mut params = PatchParams::apply(write.manager);
    params.force = write.force;
    params.field_validation = Some(ValidationDirective::Strict);
    if write.dry_run {
        params = params.dry_run();
    }
    let req = Request::new(info.collection_path(key.namespace.as_deref()))
        .patch(&key.name, &params, &Patch::Apply(body))
        .map_err(|e| (None, Error(format!("cannot build PATCH {key}: {e}"))))?;
    let failed = |e: kube::Error| {
        let doing = format!("{}apply {key}", if write.dry_run { "dry-run " } else { "" });
        (status_code(&e), api_error(&doing, &e))
    };
    if write.dry_run {
        return client.request::<Value>(req).await.map_err(failed);
    }
    // A write's answer says only that it succeeded (Null): building 50,000 answers with their
    // managed fields into values would be seconds of the apply.
    client
        .request::<serde::de::IgnoredAny>(req)
        .await
        .map(|_| Value::Null)
        .map_err(failed)
}

/// Deletes an object only if it is still the one that was listed (UID precondition).
pub async fn delete(client: &Client, info: &ResourceInfo, member: &LiveMember) -> Result<()> {
    delete_object(client, info, &member.key, &member.uid, None).await
}

/// Deletes the object of `key` if its UID is still `uid`; `propagation` says what becomes of its
/// dependents (the server's default for the kind without one).
pub async fn delete_object(
    client: &Client,
    info: &ResourceInfo,
    key: &ObjKey,
    uid: &str,
    propagation: Option<PropagationPolicy>,
) -> Result<()> {
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        propagation_policy: propagation,
        ..DeleteParams::default()
    };
    let req = Request::new(info.collection_path(key.namespace.as_deref()))
        .delete(&key.name, &params)
        .map_err(|e| Error(format!("cannot build DELETE {key}: {e}")))?;
    match client.request::<Value>(req).await {
        Ok(_) => Ok(()),
        Err(e) if status_code(&e) == Some(404) => Ok(()),
        Err(e) => Err(api_error(&format!("delete {key}"), &e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Resolving kinds

/// How a kind is addressed, or why it cannot be.
#[derive(Clone, Debug)]
pub enum Resolution {
    Served(ResourceInfo),
    /// The cluster does not serve the kind: its CRD is not installed.
    Missing {
        crd: String,
        operator: Option<&'static str>,
    },
}

/// Resolves kinds: built-ins from the table, custom resources by a LIST with the default plural
/// (confirmed by the list's kind) and discovery only when that fails.
#[derive(Default)]
pub struct Resolver {
    discovered: Mutex<HashMap<String, Option<Vec<ResourceInfo>>>>,
}

impl Resolver {
    /// Discovery of one group-version (`/api/v1`, `/apis/apps/v1`); `None` when not served.
    async fn group_version(
        &self,
        client: &Client,
        group: &str,
        version: &str,
    ) -> Result<Option<Vec<ResourceInfo>>> {
        let gv = resources::api_version(group, version);
        if let Some(known) = self.discovered.lock().map_err(poisoned)?.get(&gv) {
            return Ok(known.clone());
        }
        let path = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{gv}")
        };
        let req = http::Request::get(&path)
            .body(Vec::new())
            .map_err(|e| Error(format!("cannot build GET {path}: {e}")))?;
        let found = match client.request::<Value>(req).await {
            Ok(list) => Some(parse_resource_list(group, version, &list)),
            Err(e) if status_code(&e) == Some(404) => None,
            Err(e) => return Err(api_error(&format!("discovery of {gv}"), &e)),
        };
        self.discovered
            .lock()
            .map_err(poisoned)?
            .insert(gv, found.clone());
        Ok(found)
    }

    /// The version to use for a kind known only by group and kind (a kind plat applied before
    /// that the spec no longer has).
    async fn preferred_version(&self, client: &Client, gk: &GroupKind) -> Result<Option<String>> {
        if let Some(info) = resources::builtin_any(&gk.group, &gk.kind) {
            return Ok(Some(info.version));
        }
        let path = format!("/apis/{}", gk.group);
        let req = http::Request::get(&path)
            .body(Vec::new())
            .map_err(|e| Error(format!("cannot build GET {path}: {e}")))?;
        match client.request::<Value>(req).await {
            Ok(group) => Ok(group["preferredVersion"]["version"]
                .as_str()
                .map(str::to_string)),
            Err(e) if status_code(&e) == Some(404) => Ok(None),
            Err(e) => Err(api_error(&format!("discovery of {}", gk.group), &e)),
        }
    }

    /// Lists plat's objects of one kind; resolves the kind on the way. `ns` is the one namespace
    /// to list in, or `None` across namespaces (then `fallback`, see [`list_raw`]).
    pub async fn list(
        &self,
        client: &Client,
        (gk, version): (&GroupKind, &str),
        (ns, fallback): (Option<&str>, &[String]),
        (selector, owners): (&str, bool),
        skip_builtin_list: bool,
    ) -> Result<(Resolution, Vec<Value>)> {
        if let Some(info) = resources::builtin(&gk.group, version, &gk.kind) {
            if skip_builtin_list && info.namespaced {
                return Ok((Resolution::Served(info), Vec::new()));
            }
            if let Some(list) = list_raw(client, &info, (ns, selector), fallback, owners).await? {
                let items = typed_items(list, &info);
                return Ok((Resolution::Served(info), items));
            }
        } else {
            let guess = ResourceInfo {
                group: gk.group.clone(),
                version: version.to_string(),
                kind: gk.kind.clone(),
                plural: resources::guess_plural(&gk.kind),
                namespaced: true,
            };
            if let Some(list) = list_raw(client, &guess, (ns, selector), fallback, owners).await?
                && list["kind"].as_str() == Some(&format!("{}List", gk.kind))
            {
                let items = typed_items(list, &guess);
                return Ok((Resolution::Served(guess), items));
            }
        }
        // The default plural was wrong, or the kind is not served: ask discovery.
        let served = self.group_version(client, &gk.group, version).await?;
        let Some(info) = served.into_iter().flatten().find(|r| r.kind == gk.kind) else {
            return Ok((missing(gk), Vec::new()));
        };
        let list = list_raw(client, &info, (ns, selector), fallback, owners).await?;
        let items = list.map(|l| typed_items(l, &info)).unwrap_or_default();
        Ok((Resolution::Served(info), items))
    }

    /// Forgets what discovery said (after CRDs were created).
    pub fn forget(&self) {
        if let Ok(mut map) = self.discovered.lock() {
            map.clear();
        }
    }
}

fn poisoned<T>(_: T) -> Error {
    Error("internal error: discovery cache poisoned".into())
}

fn missing(gk: &GroupKind) -> Resolution {
    Resolution::Missing {
        crd: format!("{}.{}", resources::guess_plural(&gk.kind), gk.group),
        operator: resources::operator_for(&gk.group),
    }
}

/// List items with apiVersion and kind filled in: items of built-in kinds come without them.
fn typed_items(list: Value, info: &ResourceInfo) -> Vec<Value> {
    let mut all = items(list);
    for object in &mut all {
        if let Some(map) = object.as_object_mut() {
            map.entry("apiVersion")
                .or_insert_with(|| Value::String(info.api_version()));
            map.entry("kind")
                .or_insert_with(|| Value::String(info.kind.clone()));
        }
    }
    all
}

fn items(list: Value) -> Vec<Value> {
    match list {
        Value::Object(mut map) => match map.remove("items") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn parse_resource_list(group: &str, version: &str, list: &Value) -> Vec<ResourceInfo> {
    list["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let plural = r["name"].as_str()?;
            let kind = r["kind"].as_str()?;
            // `deployments/status` and the like are subresources.
            (!plural.contains('/')).then(|| ResourceInfo {
                group: group.to_string(),
                version: version.to_string(),
                kind: kind.to_string(),
                plural: plural.to_string(),
                namespaced: r["namespaced"].as_bool().unwrap_or(true),
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Observing

/// The label every object plat renders carries; used to list namespaces together with the parent.
const MANAGED_BY_PLAT: &str = "app.kubernetes.io/managed-by=plat";

/// What to find out.
#[derive(Clone, Copy, Debug)]
pub struct ObserveOptions {
    /// Dry-run every object that may have changed (diff, drift, apply --dry-run).
    pub dry_run: bool,
    /// GET spec objects that the labelled LIST did not return: they may exist without plat's label
    /// (made by hand, or by another tool) and would be adopted rather than created.
    pub get_unlisted: bool,
    pub concurrency: usize,
    /// Keep the live objects' `managedFields` (drift names each changed field's owner; apply
    /// decides hand-overs from them). Diff drops them as they arrive: at 50,000 objects they are
    /// about half of what the live objects take in memory.
    pub owners: bool,
}

/// The state of one spec object in the cluster.
#[derive(Clone, Debug)]
pub enum State {
    /// Applying it would change nothing.
    Unchanged,
    /// Not in the cluster. `preview` is the dry-run result; `None` with a note when the server
    /// cannot validate it yet (its namespace or CRD is created by this apply).
    Create {
        preview: Option<Value>,
        note: Option<String>,
    },
    /// In the cluster and different (or, without a dry run, possibly different).
    Update { preview: Option<Value> },
    /// In the cluster, with a change the server makes only to a new object (an immutable field):
    /// `why` is the server's answer to the update, `preview` the dry run as a new object; see
    /// `replace.rs`.
    Replace { why: String, preview: Value },
    /// The server rejected the dry run.
    Invalid(String),
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub object: DesiredObject,
    pub live: Option<Value>,
    pub state: State,
}

/// A kind whose CRD is not installed.
#[derive(Clone, Debug)]
pub struct MissingKind {
    pub gk: GroupKind,
    pub crd: String,
    pub operator: Option<&'static str>,
    /// The CRD is part of this apply, so the kind will exist once stage 1 is done.
    pub pending: bool,
    pub objects: usize,
}

#[derive(Debug)]
pub struct Observation {
    pub namespace_exists: bool,
    pub prior_kinds: BTreeSet<GroupKind>,
    /// The parent first, then the members in apply order.
    pub entries: Vec<Entry>,
    pub prune: Vec<(LiveMember, PruneDecision)>,
    pub missing: Vec<MissingKind>,
    pub resources: HashMap<GroupKind, ResourceInfo>,
}

impl Observation {
    /// Kinds the parent lists once this apply is done: the spec's, plus kinds of owned objects that
    /// stay (not pruned).
    pub fn final_kinds(&self, set: &DesiredSet, pruned: &BTreeSet<ObjKey>) -> BTreeSet<GroupKind> {
        let mut kinds = set.group_kinds();
        for (member, _) in &self.prune {
            if !pruned.contains(&member.key) {
                kinds.insert(member.key.gk.clone());
            }
        }
        kinds
    }

    pub fn blocking_missing(&self) -> Vec<&MissingKind> {
        self.missing.iter().filter(|m| !m.pending).collect()
    }
}

/// CRDs in the set: (group, kind) they define.
fn crds_in(set: &DesiredSet) -> BTreeSet<GroupKind> {
    set.members
        .iter()
        .filter(|m| m.key.gk == GroupKind::new("apiextensions.k8s.io", "CustomResourceDefinition"))
        .filter_map(|m| {
            let spec = &m.object_spec();
            Some(GroupKind::new(
                spec["group"].as_str()?,
                spec["names"]["kind"].as_str()?,
            ))
        })
        .collect()
}

impl DesiredObject {
    fn object_spec(&self) -> Value {
        self.manifest["spec"].clone()
    }
}

/// Reads what the cluster has for the set.
pub async fn observe(
    client: &Client,
    resolver: &Resolver,
    set: &DesiredSet,
    opts: ObserveOptions,
) -> Result<Observation> {
    let ns_info =
        resources::builtin("", "v1", "Namespace").ok_or("internal error: no Namespace kind")?;
    // One LIST of plat's namespaces answers three questions at once: does the environment's namespace
    // (the ApplySet parent) exist, what did plat apply before, and which other namespaces plat owns.
    let managed = list(client, &ns_info, None, MANAGED_BY_PLAT, &[]).await?;
    let mut parent_live = managed
        .iter()
        .find(|n| n["metadata"]["name"] == set.namespace.as_str())
        .cloned();
    if parent_live.is_none() {
        // Not (yet) labelled by plat, or absent.
        parent_live = get(client, &ns_info, None, &set.namespace).await?;
    }
    let namespace_members: Vec<Value> = managed
        .into_iter()
        .filter(|n| plan::label(n, APPLYSET_PART_OF) == Some(set.applyset_id.as_str()))
        .collect();
    let namespace_exists = parent_live.is_some();
    let (prior_kinds, prior_namespaces) = match &parent_live {
        Some(live) => (
            plan::prior_group_kinds(live, &set.applyset_id)?,
            plan::prior_namespaces(live),
        ),
        None => (BTreeSet::new(), BTreeSet::new()),
    };
    let mut scope = set.namespaces();
    scope.extend(prior_namespaces);
    let mut listed = list_kinds(
        client,
        resolver,
        set,
        &prior_kinds,
        &scope,
        namespace_exists,
        (opts.concurrency, opts.owners),
    )
    .await?;
    listed.push((
        ns_info.group_kind(),
        Resolution::Served(ns_info.clone()),
        namespace_members,
    ));
    let pending = crds_in(set);
    let mut resources = HashMap::new();
    let mut missing = Vec::new();
    // Hashed, not ordered: each of 60,000 lookups would otherwise compare keys' strings 16 times.
    let mut live_by_key: HashMap<ObjKey, Value> = HashMap::with_capacity(set.members.len() + 1);
    let mut live_members = Vec::new();
    for (gk, resolution, objects) in listed {
        match resolution {
            Resolution::Served(info) => {
                for mut object in objects {
                    if !opts.owners
                        && let Some(metadata) = object["metadata"].as_object_mut()
                    {
                        metadata.remove("managedFields");
                    }
                    if let Some(member) = LiveMember::from_live(&gk, &info.version, &object) {
                        live_members.push(member.clone());
                        live_by_key.insert(member.key, object);
                    }
                }
                resources.insert(gk, info);
            }
            Resolution::Missing { crd, operator } => {
                let objects = set.members.iter().filter(|m| m.key.gk == gk).count();
                if objects > 0 {
                    missing.push(MissingKind {
                        pending: pending.contains(&gk),
                        gk,
                        crd,
                        operator,
                        objects,
                    });
                }
            }
        }
    }
    resources.insert(ns_info.group_kind(), ns_info.clone());
    let prune = plan::prune_decisions(&live_members, &set.keys(), false);
    if let Some(live) = parent_live {
        live_by_key.insert(set.parent.key.clone(), live);
    }
    let existing_namespaces = if opts.dry_run {
        existing_namespaces(client, &ns_info, set, &mut live_by_key).await?
    } else {
        BTreeSet::new()
    };
    let mut obs = Observation {
        namespace_exists,
        prior_kinds,
        entries: Vec::new(),
        prune,
        missing,
        resources,
    };
    let parent = DesiredObject {
        manifest: plan::parent_manifest(set, &obs.final_kinds(set, &BTreeSet::new())).into(),
        ..set.parent.clone()
    };
    let ordered: Vec<DesiredObject> = std::iter::once(parent)
        .chain(
            set.ordered()
                .into_iter()
                .filter(|o| o.key != set.parent.key)
                .cloned(),
        )
        .collect();
    let ctx = Classify {
        client,
        obs: &obs,
        existing_namespaces: &existing_namespaces,
        opts,
    };
    // Each live object goes to its entry by move: a copy is hundreds of MB at 50,000 objects.
    let paired: Vec<(DesiredObject, Option<Value>)> = ordered
        .into_iter()
        .map(|object| {
            let live = live_by_key.remove(&object.key);
            (object, live)
        })
        .collect();
    let entries = futures::stream::iter(paired)
        .map(|(object, live)| classify(&ctx, object, live))
        .buffered(opts.concurrency.max(1))
        .try_collect()
        .await?;
    obs.entries = entries;
    Ok(obs)
}

/// The namespaces of the set that exist: a dry run into a namespace that does not exist yet fails
/// (kubernetes#114141), so objects there are shown as to create without one.
async fn existing_namespaces(
    client: &Client,
    ns_info: &ResourceInfo,
    set: &DesiredSet,
    live_by_key: &mut HashMap<ObjKey, Value>,
) -> Result<BTreeSet<String>> {
    let mut existing = BTreeSet::new();
    for ns in set.namespaces() {
        let key = ObjKey {
            gk: ns_info.group_kind(),
            namespace: None,
            name: ns.clone(),
        };
        let live = match live_by_key.get(&key) {
            Some(l) => Some(l.clone()),
            None => get(client, ns_info, None, &ns).await?,
        };
        if let Some(l) = live {
            live_by_key.entry(key).or_insert(l);
            existing.insert(ns);
        }
    }
    Ok(existing)
}

type Listed = (GroupKind, Resolution, Vec<Value>);

/// One LIST per kind (the spec's kinds and the kinds plat applied before), in parallel: in the
/// environment's namespace when that is the only one, else across namespaces (still one request).
async fn list_kinds(
    client: &Client,
    resolver: &Resolver,
    set: &DesiredSet,
    prior: &BTreeSet<GroupKind>,
    scope: &BTreeSet<String>,
    namespace_exists: bool,
    (concurrency, owners): (usize, bool),
) -> Result<Vec<Listed>> {
    let mut kinds: BTreeMap<GroupKind, Option<String>> = BTreeMap::new();
    for m in &set.members {
        kinds.insert(m.key.gk.clone(), Some(m.version.clone()));
    }
    for gk in prior {
        kinds.entry(gk.clone()).or_insert(None);
    }
    // Namespaces were listed first (see `observe`).
    kinds.remove(&GroupKind::new("", "Namespace"));
    let selector = format!("{APPLYSET_PART_OF}={}", set.applyset_id);
    let single = scope.len() == 1;
    let ns = single.then_some(set.namespace.as_str());
    // Nothing namespaced can exist in a namespace that does not exist.
    let skip_namespaced_builtins = single && !namespace_exists;
    let fallback: Vec<String> = scope.iter().cloned().collect();
    let fallback = &fallback;
    futures::stream::iter(kinds)
        .map(|(gk, version)| {
            let selector = selector.clone();
            async move {
                let version = match version {
                    Some(v) => Some(v),
                    None => resolver.preferred_version(client, &gk).await?,
                };
                let Some(version) = version else {
                    return Ok((gk.clone(), missing(&gk), Vec::new()));
                };
                let (resolution, items) = resolver
                    .list(
                        client,
                        (&gk, &version),
                        (ns, fallback),
                        (&selector, owners),
                        skip_namespaced_builtins,
                    )
                    .await?;
                Ok((gk, resolution, items))
            }
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await
}

struct Classify<'a> {
    client: &'a Client,
    obs: &'a Observation,
    existing_namespaces: &'a BTreeSet<String>,
    opts: ObserveOptions,
}

/// Decides one object's state, asking the server only when the answer needs it.
async fn classify(
    ctx: &Classify<'_>,
    object: DesiredObject,
    mut live: Option<Value>,
) -> Result<Entry> {
    let (client, obs, opts) = (ctx.client, ctx.obs, ctx.opts);
    let gk = &object.key.gk;
    if let Some(m) = obs.missing.iter().find(|m| &m.gk == gk) {
        let note = if m.pending {
            format!("not validated: its CRD {} is created by this apply", m.crd)
        } else {
            format!("CRD {} is not installed", m.crd)
        };
        return Ok(Entry {
            object,
            live: None,
            state: State::Create {
                preview: None,
                note: Some(note),
            },
        });
    }
    if opts.dry_run
        && let Some(ns) = &object.key.namespace
        && !ctx.existing_namespaces.contains(ns)
    {
        let note = Some(format!(
            "not validated: namespace {ns} is created by this apply"
        ));
        return Ok(Entry {
            object,
            live: None,
            state: State::Create {
                preview: None,
                note,
            },
        });
    }
    let info = obs
        .resources
        .get(gk)
        .ok_or_else(|| Error(format!("internal error: {gk} was not resolved")))?;
    if live.is_none() && opts.get_unlisted {
        live = get(
            client,
            info,
            object.key.namespace.as_deref(),
            &object.key.name,
        )
        .await?;
    }
    if let Some(l) = &live
        && plan::unchanged_without_dry_run(&object, l)
    {
        return Ok(Entry {
            object,
            live,
            state: State::Unchanged,
        });
    }
    if !opts.dry_run {
        let state = match live {
            Some(_) => State::Update { preview: None },
            None => State::Create {
                preview: None,
                note: None,
            },
        };
        return Ok(Entry {
            object,
            live,
            state,
        });
    }
    let state = match apply(client, info, &object, true, true).await {
        Ok(preview) => compare(&object, live.as_ref(), preview),
        // A namespace being deleted, or made by hand between our GET and this dry run.
        Err((Some(404), e)) if live.is_none() => State::Create {
            preview: None,
            note: Some(format!("not validated: {e}")),
        },
        Err((Some(422), e)) if live.is_some() => match replace::as_new(client, info, &object).await
        {
            Some(preview) => State::Replace { why: e.0, preview },
            None => State::Invalid(e.0),
        },
        Err((_, e)) => State::Invalid(e.0),
    };
    Ok(Entry {
        object,
        live,
        state,
    })
}

fn compare(object: &DesiredObject, live: Option<&Value>, preview: Value) -> State {
    match live {
        None => State::Create {
            preview: Some(preview),
            note: None,
        },
        Some(l) => {
            let (mut a, mut b) = (plan::normalise(&preview), plan::normalise(l));
            plan::mask_secrets(&object.key.gk, &mut a, &mut b);
            if a == b {
                State::Unchanged
            } else {
                State::Update {
                    preview: Some(preview),
                }
            }
        }
    }
}

/// A LIST answer parsed without its objects' `managedFields` (see [`list_request`]).
mod slim {
    use std::fmt;

    use serde::de::{Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
    use serde_json::{Map, Value};

    #[derive(serde::Deserialize)]
    pub struct List {
        #[serde(default)]
        kind: Value,
        #[serde(default)]
        items: Vec<Object>,
    }

    impl List {
        /// The list as the rest of the cluster stage reads one: its kind and items.
        pub fn into_value(self) -> Value {
            super::list_value(self.kind, self.items.into_iter().map(|o| o.0).collect())
        }
    }

    /// An object whose `metadata.managedFields` is skipped, never built.
    pub struct Object(Value);

    impl<'de> Deserialize<'de> for Object {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(Level::Object).map(Object)
        }
    }

    /// Where the visitor is: the object, whose `metadata` it reads one level down, or that
    /// metadata, whose `managedFields` it skips.
    #[derive(Clone, Copy)]
    enum Level {
        Object,
        Metadata,
    }

    impl<'de> DeserializeSeed<'de> for Level {
        type Value = Value;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Level {
        type Value = Value;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a Kubernetes object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut out = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let value = match (self, key.as_str()) {
                    (Level::Metadata, "managedFields") => {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                    (Level::Object, "metadata") => map.next_value_seed(Level::Metadata)?,
                    _ => map.next_value::<Value>()?,
                };
                out.insert(key, value);
            }
            Ok(Value::Object(out))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_list_is_read_without_managed_fields_and_keeps_everything_else() {
            let text = r#"{"kind":"ServiceList","metadata":{"resourceVersion":"9"},
                "items":[{"metadata":{"name":"a","managedFields":[{"manager":"plat"}],
                "labels":{"x":"y"}},"spec":{"ports":[{"port":80}]}}]}"#;
            let list: List = serde_json::from_str(text).unwrap();
            let value = list.into_value();
            assert_eq!(value["kind"], "ServiceList");
            let item = &value["items"][0];
            assert_eq!(item["metadata"]["name"], "a");
            assert_eq!(item["metadata"]["labels"]["x"], "y");
            assert!(item["metadata"].get("managedFields").is_none());
            assert_eq!(item["spec"]["ports"][0]["port"], 80);
        }
    }
}
