//! `plat apply --env ENV`: server-side apply in stages, ApplySet bookkeeping, prune, readiness.
//!
//! Order (KEP-3659 and Flux's staged apply): CRDs, then the Namespace, which is also the ApplySet
//! parent and is written listing the union of the kinds applied before and now, and both are waited
//! for; then the other objects stage by stage; then prune (only objects labelled as members, with a
//! UID precondition); then the parent again with the kinds that are left. Objects whose live state
//! already matches the spec are not written at all, so a second apply of an unchanged spec writes
//! nothing. A failure stops at the end of its stage, and the report says what was and was not
//! applied; because every step is idempotent, a re-run converges.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::Client;
use serde_json::Value;

use super::connect::Connection;
use super::gate;
use super::handover::{self, Handover};
use super::live::{self, Entry, Observation, ObserveOptions, Resolution, Resolver, State};
use super::plan::{
    self, APPLYSET_PART_OF, DesiredObject, DesiredSet, ObjKey, PruneDecision, Stage,
};
use super::progress::Progress;
use super::readiness::{Readiness, readiness};
use super::release::{self, Switch};
use super::resources::ResourceInfo;
use super::{Environment, Error, Result, replace, report};

#[derive(Clone, Debug)]
pub struct ApplyOptions {
    pub prune: bool,
    pub prune_protected: bool,
    pub wait: bool,
    pub timeout: Duration,
    pub dry_run: bool,
    pub concurrency: usize,
    pub poll: Duration,
    /// Take fields over that another field manager (a person, another tool) changed.
    pub force_conflicts: bool,
    /// Show one status line with the stage and counts instead of a line per object (a terminal).
    pub progress: bool,
    /// Delete and create again an object whose change the server makes only to a new object (an
    /// immutable field), where its kind allows (`replace.rs`).
    pub replace: bool,
}

/// What an apply did, for the report and for tests.
#[derive(Debug, Default)]
pub struct Outcome {
    pub created: Vec<ObjKey>,
    pub configured: Vec<ObjKey>,
    /// Deleted and created again (`--replace`).
    pub replaced: Vec<ObjKey>,
    pub unchanged: usize,
    pub failed: Vec<(ObjKey, String)>,
    pub not_attempted: Vec<ObjKey>,
    pub pruned: Vec<ObjKey>,
    pub kept: Vec<(ObjKey, String)>,
    pub errors: Vec<String>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.errors.is_empty()
    }

    fn summary(&self) -> String {
        let replaced = match self.replaced.len() {
            0 => String::new(),
            n => format!(" {n} replaced,"),
        };
        format!(
            "apply: {} created, {} configured,{replaced} {} unchanged, {} pruned, {} failed, {} not attempted",
            self.created.len(),
            self.configured.len(),
            self.unchanged,
            self.pruned.len(),
            self.failed.len(),
            self.not_attempted.len()
        )
    }
}

pub async fn run(
    conn: &Connection,
    env: &Environment,
    opts: &ApplyOptions,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let client = &conn.client;
    let resolver = Resolver::default();
    if opts.dry_run {
        return dry_run(client, &resolver, env, opts, out).await;
    }
    let observe = ObserveOptions {
        dry_run: false,
        get_unlisted: false,
        concurrency: opts.concurrency,
        owners: true,
    };
    let mut obs = live::observe(client, &resolver, &env.set, observe).await?;
    let mut outcome = Outcome::default();
    // Preflight: nothing is written while a kind cannot be applied.
    let blocking: Vec<String> = obs
        .blocking_missing()
        .into_iter()
        .map(report::missing_message)
        .collect();
    if !blocking.is_empty() {
        outcome.errors = blocking;
        outcome.not_attempted = obs.entries.iter().map(|e| e.object.key.clone()).collect();
        let _ = writeln!(out, "nothing applied: preflight failed");
        return Ok(outcome);
    }
    let switches = switches(&obs, &env.set);
    let refused = refusals(&obs, &env.set, &switches);
    if !refused.is_empty() {
        outcome.errors = refused;
        outcome.not_attempted = obs.entries.iter().map(|e| e.object.key.clone()).collect();
        let _ = writeln!(out, "nothing applied: the blue-green switch is not safe");
        return Ok(outcome);
    }
    let initial_kinds: BTreeSet<_> = env
        .set
        .group_kinds()
        .union(&obs.prior_kinds)
        .cloned()
        .collect();
    set_parent_manifest(&mut obs, &env.set, &initial_kinds);
    let mut progress = Progress::new(out, obs.entries.len(), opts.progress);
    let out = &mut progress;
    apply_stages(
        client,
        &resolver,
        &mut obs,
        (&env.set, &switches),
        opts,
        &mut outcome,
        out,
    )
    .await;
    if !outcome.ok() {
        out.finish();
        report_stop(&outcome, out);
        return Ok(outcome);
    }
    let pruned: BTreeSet<ObjKey> = if opts.prune {
        prune(client, &obs, &env.set, opts, &mut outcome, out).await
    } else {
        BTreeSet::new()
    };
    let final_kinds = obs.final_kinds(&env.set, &pruned);
    if final_kinds != initial_kinds {
        let parent = (&env.set, &final_kinds, opts.force_conflicts);
        write_parent(client, &obs, parent, &mut outcome, out).await;
    }
    out.finish();
    let _ = writeln!(out, "{}", outcome.summary());
    if outcome.ok()
        && opts.wait
        && let Err(e) = wait_ready(client, &obs, &env.set, opts, out).await
    {
        outcome.errors.push(e.0);
    }
    super::drop_in_background(obs);
    Ok(outcome)
}

async fn dry_run(
    client: &Client,
    resolver: &Resolver,
    env: &Environment,
    opts: &ApplyOptions,
    out: &mut dyn Write,
) -> Result<Outcome> {
    let observe = ObserveOptions {
        dry_run: true,
        get_unlisted: true,
        concurrency: opts.concurrency,
        owners: false,
    };
    let obs = live::observe(client, resolver, &env.set, observe).await?;
    let _ = write!(out, "{}", report::diff_text(&obs));
    let _ = writeln!(out, "dry run: nothing was changed");
    Ok(Outcome {
        errors: report::errors(&obs),
        ..Outcome::default()
    })
}

/// The parent is first written with the union of old and new kinds, so that an apply interrupted
/// half-way still lets the next one find (and prune) every member.
fn set_parent_manifest(obs: &mut Observation, set: &DesiredSet, kinds: &BTreeSet<plan::GroupKind>) {
    if let Some(entry) = obs
        .entries
        .iter_mut()
        .find(|e| e.object.key == set.parent.key)
    {
        entry.object.manifest = plan::parent_manifest(set, kinds).into();
        entry.state = match &entry.live {
            Some(live) if plan::unchanged_without_dry_run(&entry.object, live) => State::Unchanged,
            Some(_) => State::Update { preview: None },
            None => State::Create {
                preview: None,
                note: None,
            },
        };
    }
}

/// The blue-green switches this apply would make (Services whose live selector has the other
/// colour).
fn switches(obs: &Observation, set: &DesiredSet) -> Vec<Switch> {
    // The entries are the parent and the members: a scan of the members for each entry would be
    // quadratic (minutes at 60,000 objects).
    obs.entries
        .iter()
        .filter(|e| e.object.key != set.parent.key)
        .filter_map(|e| release::switch_of(&e.object, e.live.as_ref()))
        .collect()
}

/// Why a switch would not be safe: the colour that takes traffic until the switch would be retired
/// or changed in the same apply (release.rs).
fn refusals(obs: &Observation, set: &DesiredSet, switches: &[Switch]) -> Vec<String> {
    let mut refused = Vec::new();
    for switch in switches {
        let Some(live_service) = obs
            .entries
            .iter()
            .find(|e| e.object.key == switch.service)
            .and_then(|e| e.live.as_ref())
        else {
            continue;
        };
        let live_selector = &live_service["spec"]["selector"];
        for previous in release::selected(set, &switch.service.namespace, live_selector) {
            let live = live_of(obs, &previous.key);
            if let Some(why) = release::switch_refusal(switch, previous, live.as_ref()) {
                refused.push(why);
            }
        }
    }
    refused
}

fn live_of(obs: &Observation, key: &ObjKey) -> Option<Value> {
    obs.entries
        .iter()
        .find(|e| &e.object.key == key)
        .and_then(|e| e.live.clone())
}

/// The idle colour's capacity write is due when its live count differs from the one it copies, or
/// when the release manager does not hold the field yet: plat's manifest declares no count, and a
/// field its only manager stops sending would be removed and defaulted to 1.
fn capacity_due(obs: &Observation, set: &DesiredSet, entry: &Entry) -> Option<i64> {
    let count = release::idle_capacity(set, &entry.object, &|key| live_of(obs, key))?;
    let Some(live) = entry.live.as_ref() else {
        return Some(count);
    };
    let same = live["spec"]["replicas"].as_i64() == Some(count);
    (!same || !release::release_owns_replicas(live)).then_some(count)
}

async fn apply_stages(
    client: &Client,
    resolver: &Resolver,
    obs: &mut Observation,
    (set, switches): (&DesiredSet, &[Switch]),
    opts: &ApplyOptions,
    outcome: &mut Outcome,
    out: &mut Progress<'_>,
) {
    // Indices, not copies: at 50,000 objects every copy of the entries is hundreds of MB.
    let mut stages: BTreeMap<Stage, Vec<usize>> = BTreeMap::new();
    for (i, entry) in obs.entries.iter().enumerate() {
        let switching = switches.iter().any(|s| s.service == entry.object.key);
        let stage = if switching {
            Stage::Switch
        } else {
            entry.object.stage()
        };
        stages.entry(stage).or_default().push(i);
    }
    let keys = |obs: &Observation, members: &[usize]| -> Vec<ObjKey> {
        members
            .iter()
            .map(|i| obs.entries[*i].object.key.clone())
            .collect()
    };
    let mut stopped = false;
    for (stage, members) in stages {
        if stopped {
            outcome.not_attempted.extend(keys(obs, &members));
            continue;
        }
        if stage > Stage::Namespaces
            && let Err(e) = resolve_pending(client, resolver, obs, set).await
        {
            outcome.errors.push(e.0);
            outcome.not_attempted.extend(keys(obs, &members));
            stopped = true;
            continue;
        }
        out.stage(stage);
        if stage == Stage::Switch
            && let Err(e) = gate_switches(client, set, switches, opts, out).await
        {
            outcome.errors.push(e.0);
            outcome.not_attempted.extend(keys(obs, &members));
            stopped = true;
            continue;
        }
        let entries: Vec<&Entry> = members.iter().map(|i| &obs.entries[*i]).collect();
        let written = apply_stage(client, obs, set, &entries, opts, outcome, out).await;
        stopped = !outcome.ok();
        if !stopped && stage == Stage::Hooks {
            let hooks: Vec<&DesiredObject> =
                members.iter().map(|i| &obs.entries[*i].object).collect();
            let waits = (opts.timeout, opts.poll);
            if let Err(e) = gate::wait_hooks(client, &hooks, waits, out).await {
                outcome.errors.push(e.0);
                stopped = true;
            }
        }
        if !stopped
            && stage.must_settle()
            && !written.is_empty()
            && let Err(e) = settle(client, &written, opts).await
        {
            outcome.errors.push(e.0);
            stopped = true;
        }
    }
}

/// The health gate of every switch, before any Service moves.
async fn gate_switches(
    client: &Client,
    set: &DesiredSet,
    switches: &[Switch],
    opts: &ApplyOptions,
    out: &mut dyn Write,
) -> Result<()> {
    for switch in switches {
        let targets = release::targets(set, switch);
        let _ = writeln!(
            out,
            "switch {}: {} -> {}, gate first",
            switch.service, switch.from, switch.to
        );
        gate::health_gate(client, switch, &targets, (opts.timeout, opts.poll), out).await?;
    }
    Ok(())
}

/// Applies one stage's changed objects concurrently, reporting each as it is done; returns the
/// ones written.
async fn apply_stage(
    client: &Client,
    obs: &Observation,
    set: &DesiredSet,
    entries: &[&Entry],
    opts: &ApplyOptions,
    outcome: &mut Outcome,
    out: &mut Progress<'_>,
) -> Vec<(ObjKey, ResourceInfo)> {
    let todo: Vec<&Entry> = entries
        .iter()
        .copied()
        .filter(|e| !matches!(e.state, State::Unchanged) || capacity_due(obs, set, e).is_some())
        .collect();
    outcome.unchanged += entries.len() - todo.len();
    out.unchanged(entries.len() - todo.len());
    let mut results = futures::stream::iter(todo)
        .map(|entry| async move {
            let Some(info) = obs.resources.get(&entry.object.key.gk) else {
                return (
                    entry,
                    Err(Error(format!(
                        "{}: kind {} is not served",
                        entry.object.key, entry.object.key.gk
                    ))),
                );
            };
            let capacity = capacity_due(obs, set, entry);
            let result = apply_one(client, info, (set, capacity), entry, opts).await;
            (entry, result.map(|done| (done, info.clone())))
        })
        .buffer_unordered(opts.concurrency.max(1));
    let mut written = Vec::new();
    while let Some((entry, result)) = results.next().await {
        let key = entry.object.key.clone();
        match result {
            Ok((done, info)) => {
                let (verb, list) = match (done, entry.live.is_some()) {
                    (Done::Replaced, _) => ("replaced", &mut outcome.replaced),
                    (Done::Applied, true) => ("configured", &mut outcome.configured),
                    (Done::Applied, false) => ("created", &mut outcome.created),
                };
                out.written(verb, &key);
                list.push(key.clone());
                written.push((key, info));
            }
            Err(e) => {
                out.failed();
                let _ = writeln!(out, "failed {key}: {e}");
                outcome.failed.push((key, e.0));
            }
        }
    }
    written
}

/// Applies one object; a workload whose replicas go to an HPA is handed over first (handover.rs).
///
/// plat does not force by default: a field that another manager changed (a person's `kubectl
/// edit`, another tool) makes the server answer 409 Conflict, and the apply stops with the
/// fields and managers named, rather than silently overwriting that change. `--force-conflicts`
/// takes them back. The hand-over manager always forces: it only ever takes `spec.replicas` from
/// plat itself.
async fn apply_one(
    client: &Client,
    info: &ResourceInfo,
    (set, capacity): (&DesiredSet, Option<i64>),
    entry: &Entry,
    opts: &ApplyOptions,
) -> Result<Done> {
    let force = opts.force_conflicts;
    let object = &entry.object;
    let release_write =
        |replicas| apply_replicas_as(client, info, object, release::RELEASE_MANAGER, replicas);
    if let Some(replicas) = capacity {
        return apply_idle_colour(client, info, entry, replicas, force, release_write)
            .await
            .map(|_| Done::Applied);
    }
    // A colour that was idle and now takes traffic: its count goes back from the release manager
    // to plat's manifest, at the manifest's value, so plat's apply meets no conflict.
    let declared = object.manifest["spec"]["replicas"].as_i64();
    if let (Some(replicas), Some(live)) = (declared, entry.live.as_ref())
        && release::release_owns_replicas(live)
    {
        release_write(replicas).await?;
    }
    let bounds = handover::hpa_bounds(set, object);
    let hand_over =
        |replicas| apply_replicas_as(client, info, object, handover::HANDOVER_MANAGER, replicas);
    match handover::plan(bounds, object, entry.live.as_ref()) {
        Handover::None => {}
        Handover::CreateThenHandOver { replicas } => {
            let first = handover::with_replicas(object, replicas);
            live::apply(client, info, &first, false, force)
                .await
                .map_err(|e| conflict_hint(e, force))?;
            hand_over(replicas).await?;
        }
        Handover::HandOver { replicas } => {
            hand_over(replicas).await?;
        }
    }
    match live::apply(client, info, object, false, force).await {
        Ok(_) => Ok(Done::Applied),
        Err((Some(422), why)) if entry.live.is_some() => {
            replace_or_explain(client, info, entry, why, opts).await
        }
        Err(e) => Err(conflict_hint(e, force)),
    }
}

/// How an object was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Done {
    Applied,
    Replaced,
}

/// An update the server refused (422): when the manifest is valid as a new object, the change is
/// to a field the server holds immutable, and the object is replaced where `--replace` and its kind
/// allow; otherwise the error says what replacing would take, or why plat will not.
async fn replace_or_explain(
    client: &Client,
    info: &ResourceInfo,
    entry: &Entry,
    why: Error,
    opts: &ApplyOptions,
) -> Result<Done> {
    let (object, live) = (&entry.object, entry.live.as_ref().unwrap_or(&Value::Null));
    if replace::as_new(client, info, object).await.is_none() {
        return Err(why);
    }
    let policy = replace::policy(&object.key.gk, live, &object.manifest);
    match policy {
        replace::Policy::Replace { propagation, .. } if opts.replace => {
            let waits = (opts.timeout.min(Duration::from_secs(120)), opts.poll);
            replace::replace(client, info, (object, live), propagation, waits).await?;
            Ok(Done::Replaced)
        }
        _ => Err(Error(replace::needs_replacement(
            &object.key,
            &why.0,
            &policy,
        ))),
    }
}

/// The idle colour with `next_image`: created (if new) at the capacity it copies, then that count
/// written by the release manager, then plat's manifest, which declares no count.
/// Applies `spec.replicas` alone as `manager`, which always forces: the hand-over and release
/// managers only ever take the count from plat itself.
async fn apply_replicas_as(
    client: &Client,
    info: &ResourceInfo,
    object: &DesiredObject,
    manager: &'static str,
    replicas: i64,
) -> Result<Value> {
    let body = handover::replicas_only(object, replicas);
    let write = live::Write {
        manager,
        dry_run: false,
        force: true,
    };
    live::apply_as(client, info, &object.key, &body, write)
        .await
        .map_err(|(_, e)| e)
}

async fn apply_idle_colour<F, Fut>(
    client: &Client,
    info: &ResourceInfo,
    entry: &Entry,
    replicas: i64,
    force: bool,
    release_write: F,
) -> Result<Value>
where
    F: Fn(i64) -> Fut,
    Fut: std::future::Future<Output = Result<Value>>,
{
    let object = &entry.object;
    if entry.live.is_none() {
        let first = handover::with_replicas(object, replicas);
        live::apply(client, info, &first, false, force)
            .await
            .map_err(|e| conflict_hint(e, force))?;
    }
    let written = release_write(replicas).await?;
    if matches!(entry.state, State::Unchanged) {
        return Ok(written);
    }
    live::apply(client, info, object, false, force)
        .await
        .map_err(|e| conflict_hint(e, force))
}

/// A 409 of an apply that did not force: say what it means and what to do.
fn conflict_hint((code, error): (Option<u16>, Error), forced: bool) -> Error {
    if code == Some(409) && !forced {
        Error(format!(
            "{error}. Another field manager changed these fields; plat does not overwrite that \
             silently. Put the value in the spec, or run `plat apply --force-conflicts` to take \
             the fields back"
        ))
    } else {
        error
    }
}

/// Kinds whose CRD this apply created: resolve them now that the CRD is established.
async fn resolve_pending(
    client: &Client,
    resolver: &Resolver,
    obs: &mut Observation,
    set: &DesiredSet,
) -> Result<()> {
    let pending: Vec<_> = obs
        .missing
        .iter()
        .filter(|m| m.pending)
        .map(|m| m.gk.clone())
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    resolver.forget();
    let selector = format!("{APPLYSET_PART_OF}={}", set.applyset_id);
    for gk in pending {
        let version = set
            .members
            .iter()
            .find(|m| m.key.gk == gk)
            .map(|m| m.version.clone())
            .unwrap_or_default();
        match resolver
            .list(
                client,
                (&gk, &version),
                (Some(&set.namespace), &[]),
                (&selector, true),
                false,
            )
            .await?
            .0
        {
            Resolution::Served(info) => {
                obs.resources.insert(gk.clone(), info);
                obs.missing.retain(|m| m.gk != gk);
            }
            Resolution::Missing { crd, .. } => {
                return Err(Error(format!(
                    "{gk}: the CRD {crd} was applied but the kind is still not served"
                )));
            }
        }
    }
    Ok(())
}

/// Waits until the CRDs are established and the namespaces active (bounded).
async fn settle(
    client: &Client,
    written: &[(ObjKey, ResourceInfo)],
    opts: &ApplyOptions,
) -> Result<()> {
    let deadline = Instant::now() + opts.timeout.min(Duration::from_secs(120));
    for (key, info) in written {
        loop {
            let live = live::get(client, info, key.namespace.as_deref(), &key.name).await?;
            let state = live.as_ref().and_then(|l| readiness(&key.gk, l));
            match state {
                None | Some(Readiness::Ready) => break,
                Some(Readiness::Failed(why)) => return Err(Error(format!("{key}: {why}"))),
                Some(Readiness::Waiting(why)) if Instant::now() >= deadline => {
                    return Err(Error(format!("{key} did not become ready in time: {why}")));
                }
                Some(Readiness::Waiting(_)) => tokio::time::sleep(opts.poll).await,
            }
        }
    }
    Ok(())
}

fn report_stop(outcome: &Outcome, out: &mut dyn Write) {
    let _ = writeln!(out, "{}", outcome.summary());
    for (key, why) in &outcome.failed {
        let _ = writeln!(out, "  failed: {key}: {why}");
    }
    for key in &outcome.not_attempted {
        let _ = writeln!(out, "  not attempted: {key}");
    }
    let _ = writeln!(
        out,
        "apply stopped; nothing was pruned. Fix the cause and run the same command again: applied objects are left as they are and the rest is applied"
    );
}

/// Deletes owned objects that the spec no longer has; returns what was deleted.
async fn prune(
    client: &Client,
    obs: &Observation,
    set: &DesiredSet,
    opts: &ApplyOptions,
    outcome: &mut Outcome,
    out: &mut dyn Write,
) -> BTreeSet<ObjKey> {
    let members: Vec<_> = obs.prune.iter().map(|(m, _)| m.clone()).collect();
    let decisions = plan::prune_decisions(&members, &set.keys(), opts.prune_protected);
    let mut to_delete = Vec::new();
    for (member, decision) in decisions {
        match decision {
            PruneDecision::Delete => to_delete.push(member),
            PruneDecision::Protected => {
                let _ = writeln!(
                    out,
                    "kept {} (protected kind: add --prune-protected to delete it)",
                    member.key
                );
                outcome.kept.push((member.key, "protected".into()));
            }
            PruneDecision::ControllerOwned(owner) => {
                let _ = writeln!(out, "kept {} (controlled by {owner})", member.key);
                outcome
                    .kept
                    .push((member.key, format!("controlled by {owner}")));
            }
        }
    }
    let results: Vec<_> = futures::stream::iter(to_delete)
        .map(|member| async move {
            let result = match obs.resources.get(&member.key.gk) {
                Some(info) => live::delete(client, info, &member).await,
                None => Err(Error(format!("{}: kind not resolved", member.key))),
            };
            (member, result)
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    let mut pruned = BTreeSet::new();
    for (member, result) in results {
        match result {
            Ok(()) => {
                let _ = writeln!(out, "pruned {} (uid {})", member.key, member.uid);
                outcome.pruned.push(member.key.clone());
                pruned.insert(member.key);
            }
            Err(e) => {
                let _ = writeln!(out, "failed to prune {}: {e}", member.key);
                outcome.failed.push((member.key, e.0));
            }
        }
    }
    pruned
}

/// The parent with the kinds left after prune: (set, kinds, force).
async fn write_parent(
    client: &Client,
    obs: &Observation,
    (set, kinds, force): (&DesiredSet, &BTreeSet<plan::GroupKind>, bool),
    outcome: &mut Outcome,
    out: &mut dyn Write,
) {
    let parent = DesiredObject {
        manifest: plan::parent_manifest(set, kinds).into(),
        ..set.parent.clone()
    };
    let Some(info) = obs.resources.get(&parent.key.gk) else {
        return;
    };
    match live::apply(client, info, &parent, false, force).await {
        Ok(_) => {
            let _ = writeln!(
                out,
                "updated ApplySet parent {}: {}",
                parent.key,
                plan::format_group_kinds(kinds)
            );
        }
        Err((_, e)) => {
            let _ = writeln!(out, "failed to update the ApplySet parent: {e}");
            outcome.failed.push((parent.key, e.0));
        }
    }
}

/// Polls readiness (one LIST per kind with a readiness rule) until everything is ready, something
/// failed, or the timeout passes; the timeout error names what is still not ready.
async fn wait_ready(
    client: &Client,
    obs: &Observation,
    set: &DesiredSet,
    opts: &ApplyOptions,
    out: &mut dyn Write,
) -> Result<()> {
    let watched: BTreeSet<ObjKey> = set
        .members
        .iter()
        .filter(|m| readiness(&m.key.gk, &Value::Null).is_some())
        .map(|m| m.key.clone())
        .collect();
    if watched.is_empty() {
        return Ok(());
    }
    let kinds: BTreeSet<_> = watched.iter().map(|k| k.gk.clone()).collect();
    let selector = format!("{APPLYSET_PART_OF}={}", set.applyset_id);
    let start = Instant::now();
    let mut last = String::new();
    loop {
        let mut waiting: Vec<(ObjKey, String)> = Vec::new();
        for gk in &kinds {
            let info = obs
                .resources
                .get(gk)
                .ok_or_else(|| Error(format!("{gk}: kind not resolved")))?;
            let scope = (set.namespaces().len() == 1).then_some(set.namespace.as_str());
            let namespaces: Vec<String> = set.namespaces().into_iter().collect();
            let listed = live::list(client, info, scope, &selector, &namespaces).await?;
            let mut seen = BTreeSet::new();
            for object in listed {
                let Some(name) = object["metadata"]["name"].as_str() else {
                    continue;
                };
                let key = ObjKey {
                    gk: gk.clone(),
                    namespace: object["metadata"]["namespace"].as_str().map(str::to_string),
                    name: name.to_string(),
                };
                if !watched.contains(&key) {
                    continue;
                }
                seen.insert(key.clone());
                match readiness(gk, &object) {
                    Some(Readiness::Failed(why)) => {
                        return Err(Error(format!("{key} failed: {why}")));
                    }
                    Some(Readiness::Waiting(why)) => waiting.push((key, why)),
                    _ => {}
                }
            }
            for key in watched.iter().filter(|k| &k.gk == gk && !seen.contains(k)) {
                waiting.push((key.clone(), "not found".into()));
            }
        }
        let ready = watched.len() - waiting.len();
        let line = format!("waiting: {ready}/{} ready", watched.len());
        if waiting.is_empty() {
            let _ = writeln!(out, "ready: {}/{} objects", watched.len(), watched.len());
            return Ok(());
        }
        if line != last {
            let _ = writeln!(out, "{line}; next: {} ({})", waiting[0].0, waiting[0].1);
            last = line;
        }
        if start.elapsed() >= opts.timeout {
            let names: Vec<String> = waiting
                .iter()
                .map(|(k, why)| format!("{k} ({why})"))
                .collect();
            return Err(Error(format!(
                "not ready after {}s: {}",
                opts.timeout.as_secs(),
                names.join(", ")
            )));
        }
        tokio::time::sleep(opts.poll).await;
    }
}
