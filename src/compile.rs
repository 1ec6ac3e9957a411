//! The pipeline: load → merge → read → validate → lower → render, for each environment. Pure: input
//! comes through a [`World`], output is returned as text.

use std::collections::HashMap;

use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::node::Node;
use crate::render::{Files, kustomization, unit_text};
use crate::source::{Origin, Sources};
use crate::world::World;
use crate::{extra, load, lower, merge, patch, policy, spec, validate, waivers};

pub const SPEC_FILE: &str = "platform.toml";
pub const ENV_DIR: &str = "environments";

/// The result of compiling some environments of one project.
#[derive(Debug, Default)]
pub struct Compilation {
    pub sources: Sources,
    /// Rendered files per environment, for the environments that compiled.
    pub outputs: Vec<(String, Files)>,
    /// Every finding, each reported once even when several environments share it.
    pub diagnostics: Vec<Diagnostic>,
}

impl Compilation {
    /// Errors or warnings: what makes `plat check` fail (waived findings do not).
    pub fn has_findings(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity != crate::diag::Severity::Waived)
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == crate::diag::Severity::Error)
    }

    /// A missing or unreadable file, or an environment that does not exist: the command was given
    /// the wrong thing (exit 2), not a spec with findings.
    pub fn is_usage_error(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| USAGE_CODES.contains(&d.code))
    }
}

/// Codes that mean the input could not be had at all.
pub const USAGE_CODES: [&str; 1] = ["P0005"];

/// What to compile.
#[derive(Clone, Debug)]
pub enum Selection {
    All,
    One(String),
}

/// The environments a project declares: the `.toml` files in `environments/`, sorted.
pub fn environments(world: &dyn World) -> Vec<String> {
    overlay_names(world)
        .into_iter()
        .filter(|name| crate::rules::names::dns1123_label(name).is_ok())
        .collect()
}

fn overlay_names(world: &dyn World) -> Vec<String> {
    world
        .list(ENV_DIR)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|name| name.strip_suffix(".toml").map(str::to_string))
        .collect()
}

/// An overlay's name becomes the folder `generated/<env>/` and a label value: a name with a space, a
/// slash or upper case would make a folder nobody can address or a label the API server refuses.
fn check_overlay_names(world: &dyn World, diags: &mut Diagnostics) {
    for name in overlay_names(world) {
        if let Err(broken) = crate::rules::names::dns1123_label(&name) {
            diags.push(
                Diagnostic::error(
                    "P0006",
                    format!(
                        "`{ENV_DIR}/{name}.toml`: the environment name `{name}` {}",
                        broken.problem
                    ),
                )
                .help(format!(
                    "rename the file; an environment name must be {}",
                    broken.rule
                )),
            );
        }
    }
}

/// Says what an I/O error means for the user, beyond the operating system's words.
pub fn explain_io(err: &std::io::Error) -> &'static str {
    match err.kind() {
        std::io::ErrorKind::NotFound => {
            "no such file: run plat in the project folder, or name the spec with `--spec FILE`"
        }
        std::io::ErrorKind::PermissionDenied => {
            "plat may not read it: check the file's permissions and owner"
        }
        std::io::ErrorKind::IsADirectory => "that is a folder; name a file",
        std::io::ErrorKind::InvalidData => "the file could not be read as data",
        _ => "the operating system could not read the file",
    }
}

pub fn compile(world: &dyn World, spec_file: &str, selection: &Selection) -> Compilation {
    compile_inner(world, spec_file, selection, None)
}

/// One object's way through the output stage, for `plat explain` (src/explain.rs).
#[derive(Debug, Default)]
pub struct Trace {
    pub kind: String,
    pub name: String,
    pub found: Vec<Traced>,
}

/// One object that matched a [`Trace`].
#[derive(Debug, Clone)]
pub struct Traced {
    /// The unit's path under `generated/<env>/`.
    pub file: String,
    /// The spec entry (or extra object template) that produced it.
    pub origin: Origin,
    /// The patches applied to it, in order: their names and places.
    pub patches: Vec<(String, Origin)>,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

impl Trace {
    fn wants(&self, kind: &str, name: &str) -> bool {
        self.kind == kind && self.name == name
    }
}

/// [`compile`] of one environment, recording how the objects `trace` names were made.
pub fn compile_traced(
    world: &dyn World,
    spec_file: &str,
    env: &str,
    trace: &mut Trace,
) -> Compilation {
    compile_inner(
        world,
        spec_file,
        &Selection::One(env.to_string()),
        Some(trace),
    )
}

fn compile_inner(
    world: &dyn World,
    spec_file: &str,
    selection: &Selection,
    mut trace: Option<&mut Trace>,
) -> Compilation {
    crate::schemas::warm_up();
    let mut out = Compilation::default();
    let mut diags = Diagnostics::default();
    let available = environments(world);
    check_overlay_names(world, &mut diags);
    let chosen: Vec<String> = match selection {
        Selection::All => available.clone(),
        Selection::One(env) => vec![env.clone()],
    };
    if chosen.is_empty() {
        diags.push(
            Diagnostic::error(
                "P0005",
                format!("no environments: `{ENV_DIR}/` has no `.toml` files"),
            )
            .help(format!(
                "add an overlay such as `{ENV_DIR}/dev.toml` with an `[environment]` table"
            )),
        );
    }
    let mut base = load_file(world, spec_file, &mut out.sources, &mut diags);
    if let Some(base) = &mut base {
        graft_instances(world, base, &mut out.sources, &mut diags);
    }
    let mut per_env: Vec<(String, Diagnostics)> = Vec::new();
    let mut placements = Vec::new();
    if let Some(base) = base {
        // The last environment takes the base tree itself, so that it is freed before lowering.
        let mut base = Some(base);
        for (i, env) in chosen.iter().enumerate() {
            let tree = if i + 1 == chosen.len() {
                std::borrow::Cow::Owned(base.take().expect("only the last environment takes it"))
            } else {
                std::borrow::Cow::Borrowed(base.as_ref().expect("taken by the last environment"))
            };
            let mut env_diags = Diagnostics::default();
            if !available.contains(env) {
                env_diags.push(unknown_environment(env, &available));
                per_env.push((env.clone(), env_diags));
                continue;
            }
            if let Some(files) = compile_env(
                world,
                tree,
                env,
                &mut out.sources,
                &mut env_diags,
                trace.as_deref_mut(),
                &mut placements,
            ) {
                out.outputs.push((env.clone(), files));
            }
            per_env.push((env.clone(), env_diags));
        }
    }
    check_shared_namespaces(&placements, &mut diags);
    check_shared_archives(&placements, &mut diags);
    out.diagnostics = diags.into_sorted();
    out.diagnostics.extend(merge_shared(per_env));
    out
}

/// Where an environment deploys: its namespace on its cluster (the `cluster` key, else the context),
/// and the archives it writes its databases' backups to outside the cluster.
struct Placement {
    env: String,
    namespace: crate::decode::Located<String>,
    context: String,
    cluster: String,
    archives: Vec<(String, crate::decode::Located<String>)>,
}

/// The backup archives of a spec's PostgreSQL stores in external object stores, each as the URL of
/// its server folder (endpoint, bucket, path, Barman server name), with the backup's `to`.
fn external_archives(spec: &spec::Spec) -> Vec<(String, crate::decode::Located<String>)> {
    let mut out = Vec::new();
    for store in &spec.stores {
        let spec::StoreKind::Postgres(pg) = &store.value.kind else {
            continue;
        };
        let Some(backup) = &pg.backup else {
            continue;
        };
        let Some(external) = spec
            .network
            .external
            .iter()
            .find(|e| e.name == backup.to.value)
            .and_then(|e| e.value.object_store.as_ref())
        else {
            continue;
        };
        let cluster = store.value.name.as_str();
        let server = match &pg.recovery {
            Some(_) => crate::facts::own_server_name(cluster, &spec.environment.name),
            None => cluster.to_string(),
        };
        let url = format!(
            "{}/{}/{}/{server}",
            external.endpoint.value.trim_end_matches('/'),
            backup.bucket,
            backup.path.trim_matches('/')
        );
        out.push((url, backup.to.clone()));
    }
    out
}

/// Two environments that archive a database under the same server folder of one object store would
/// mix their WAL and base backups, and a restore would replay the other's: reported at the later
/// environment's backup.
fn check_shared_archives(placements: &[Placement], diags: &mut Diagnostics) {
    for (i, later) in placements.iter().enumerate() {
        for (url, to) in &later.archives {
            let Some((earlier, (_, there))) = placements[..i].iter().find_map(|p| {
                p.archives
                    .iter()
                    .find(|(other, _)| other == url)
                    .map(|a| (p, a))
            }) else {
                continue;
            };
            diags.push(
                to.diagnostic(
                    Diagnostic::error(
                        "P0231",
                        format!(
                            "environments `{}` and `{}` both archive backups at `{url}`",
                            earlier.env, later.env
                        ),
                    )
                    .also(there.origin, format!("`{}` archives there too", earlier.env))
                    .help("give each environment its own bucket or `path` in the object store, or its own store: a restore would replay the other environment's WAL"),
                    "the same archive",
                ),
            );
        }
    }
}

/// Two environments in one namespace of one cluster would apply and prune each other's objects (the
/// namespace is each one's ApplySet parent): reported at the later overlay's namespace.
fn check_shared_namespaces(placements: &[Placement], diags: &mut Diagnostics) {
    for (i, later) in placements.iter().enumerate() {
        let Some(earlier) = placements[..i].iter().find(|p| {
            p.namespace.value == later.namespace.value
                && (p.cluster == later.cluster || p.context == later.context)
        }) else {
            continue;
        };
        let same = if earlier.context == later.context {
            format!("the kube context `{}`", later.context)
        } else {
            format!("the cluster `{}`", later.cluster)
        };
        diags.push(
            later.namespace.diagnostic(
                Diagnostic::error(
                    "P0209",
                    format!(
                        "environments `{}` and `{}` both render the namespace `{}` on {same}",
                        earlier.env, later.env, later.namespace.value
                    ),
                )
                .also(earlier.namespace.origin, format!("`{}` deploys here too", earlier.env))
                .help("give each environment its own namespace, or its own cluster and context: each environment prunes what it did not render from its namespace"),
                "the same namespace",
            ),
        );
    }
}

fn unknown_environment(env: &str, available: &[String]) -> Diagnostic {
    let d = Diagnostic::error(
        "P0005",
        format!("no environment `{env}`: `{ENV_DIR}/{env}.toml` does not exist"),
    );
    match did_you_mean(env, available.iter().map(String::as_str)) {
        Some(close) => d.help(format!("did you mean `{close}`?")),
        None => d.help(format!("environments: {}", available.join(", "))),
    }
}

pub(crate) fn load_file(
    world: &dyn World,
    path: &str,
    sources: &mut Sources,
    diags: &mut Diagnostics,
) -> Option<Node> {
    let bytes = match world.read(path) {
        Ok(bytes) => bytes,
        Err(err) => {
            diags.push(
                Diagnostic::error("P0005", format!("cannot read `{path}`: {err}"))
                    .help(explain_io(&err)),
            );
            return None;
        }
    };
    let file = load::decode_text(path, bytes, sources, diags)?;
    load::parse(file, sources, diags)
}

fn compile_env(
    world: &dyn World,
    base: std::borrow::Cow<'_, Node>,
    env: &str,
    sources: &mut Sources,
    diags: &mut Diagnostics,
    trace: Option<&mut Trace>,
    placements: &mut Vec<Placement>,
) -> Option<Files> {
    let overlay = load_file(world, &format!("{ENV_DIR}/{env}.toml"), sources, diags)?;
    if !has_table(&overlay, "environment") {
        diags.push(
            Diagnostic::error("P0103", format!("`{ENV_DIR}/{env}.toml` has no `[environment]` table"))
                .at(Origin::new(overlay.origin.file, 0..0), "this overlay")
                .help("say where the environment runs: `[environment]` with namespace, context and monitoring"),
        );
        return None;
    }
    let patches = patch::read(&base, &overlay, sources, diags);
    let overlay_patches = has_table_or_key(&overlay, patch::KEY);
    let mut root: Node = (*base).clone();
    merge::apply_overlay(&mut root, overlay, diags);
    if diags.has_errors() {
        return None;
    }
    // Secret findings are kept apart while the spec is read (reading stops at earlier errors), so
    // that the spec's waivers can still apply to a false positive.
    let mut secrets = Diagnostics::default();
    policy::scan_secret_literals(&root, "", &mut secrets);
    if overlay_patches {
        // The merged tree holds the overlay's patches; the base's apply too and are scanned here.
        patch::scan_base_secrets(&base, &mut secrets);
    }
    let spec = spec::read_spec(&root, env, diags);
    diags.extend(secrets);
    let mut spec = spec?;
    placements.push(Placement {
        env: env.to_string(),
        namespace: spec.environment.namespace.clone(),
        context: spec.environment.context.value.clone(),
        cluster: spec.environment.cluster.clone(),
        archives: external_archives(&spec),
    });
    read_config_files(world, &mut spec, diags);
    crate::recovery::resolve(world, &base, &mut spec, sources, diags);
    validate::validate(&spec, diags);
    let mut used = vec![false; spec.waivers.len()];
    let scope = waivers::Scope::of(&base, &root, &spec.waivers);
    // The trees are not needed from here on; a large fleet's are megabytes each, and freeing
    // them node by node takes a while, so another thread does it while this one lowers.
    let base = match base {
        std::borrow::Cow::Owned(tree) => Some(tree),
        std::borrow::Cow::Borrowed(_) => None,
    };
    std::thread::spawn(move || drop((root, base)));
    waivers::apply(&spec.waivers, &scope, diags, &mut used);
    waivers::explain_replaced(&scope, diags);
    if diags.has_errors() {
        return None;
    }
    let extras = extra::render(world, &spec, sources, diags);
    let patcher = patch::Patcher::new(patches);
    let files = lower_and_render(&spec, sources, patcher, extras, diags, trace);
    waivers::apply(&spec.waivers, &scope, diags, &mut used);
    waivers::apply_to_files(&spec.waivers, sources, diags, &mut used);
    waivers::explain_replaced(&scope, diags);
    waivers::report_unused(&spec.waivers, &used, diags);
    (!diags.has_errors()).then_some(files)
}

/// The typed spec of one environment, read as `compile` reads it (instance files grafted, the overlay
/// merged, config files read), without validating or lowering it: for tools that need the spec
/// itself, such as the cluster stage and tests.
pub fn read_environment(
    world: &dyn World,
    spec_file: &str,
    env: &str,
) -> (Sources, Diagnostics, Option<spec::Spec>) {
    let mut sources = Sources::default();
    let mut diags = Diagnostics::default();
    let spec = (|| {
        let mut root = load_file(world, spec_file, &mut sources, &mut diags)?;
        graft_instances(world, &mut root, &mut sources, &mut diags);
        let overlay = load_file(
            world,
            &format!("{ENV_DIR}/{env}.toml"),
            &mut sources,
            &mut diags,
        )?;
        merge::apply_overlay(&mut root, overlay, &mut diags);
        let mut spec = spec::read_spec(&root, env, &mut diags)?;
        read_config_files(world, &mut spec, &mut diags);
        Some(spec)
    })();
    (sources, diags, spec)
}

/// `[fleets.<name>] instances_from = "tenants"`: each `tenants/<id>.toml` becomes
/// `fleets.<name>.instances.<id>`, before overlays are merged so that an overlay can still change or
/// remove one. Onboarding an instance is then a one-file change.
pub fn graft_instances(
    world: &dyn World,
    base: &mut Node,
    sources: &mut Sources,
    diags: &mut Diagnostics,
) {
    use crate::node::{Key, Table, Value};
    let Value::Table(root) = &mut base.value else {
        return;
    };
    let Some(fleets) = root.entries.iter_mut().find(|(k, _)| k.name == "fleets") else {
        return;
    };
    let Value::Table(fleets) = &mut fleets.1.value else {
        return;
    };
    for (_, fleet) in &mut fleets.entries {
        let Value::Table(table) = &mut fleet.value else {
            continue;
        };
        let Some(from) = table.get("instances_from") else {
            continue;
        };
        let Value::String(dir) = &from.value else {
            continue;
        };
        let (dir, origin) = (dir.trim_end_matches('/').to_string(), from.origin);
        let names = match world.list(&dir) {
            Ok(names) => names,
            Err(err) => {
                diags.push(
                    Diagnostic::error("P0005", format!("cannot read the instance folder `{dir}`: {err}"))
                        .at(origin, "named here")
                        .help("create the folder with one `<id>.toml` file per instance, or remove `instances_from`"),
                );
                continue;
            }
        };
        let mut grafted = Vec::new();
        for name in names.iter().filter(|n| n.ends_with(".toml")) {
            let id = name.trim_end_matches(".toml").to_string();
            let path = format!("{dir}/{name}");
            if let Some(node) = load_file(world, &path, sources, diags) {
                let key = Key {
                    name: id,
                    origin: Origin::new(node.origin.file, 0..0),
                };
                grafted.push((key, node));
            }
        }
        let instances = table
            .entries
            .iter_mut()
            .find(|(k, _)| k.name == "instances");
        match instances {
            Some((_, node)) => {
                if let Value::Table(t) = &mut node.value {
                    t.entries.extend(grafted);
                }
            }
            None => table.entries.push((
                Key {
                    name: "instances".into(),
                    origin,
                },
                Node {
                    value: Value::Table(Table { entries: grafted }),
                    origin,
                    replaced: None,
                },
            )),
        }
    }
}

/// Files of `config` volumes named by path are read here, where the compiler has its `World`;
/// then fleets' plans are given their workloads again, with the files' text.
fn read_config_files(world: &dyn World, spec: &mut spec::Spec, diags: &mut Diagnostics) {
    let fleets = spec.fleets.iter_mut().flat_map(|f| {
        let plans = f
            .value
            .plans
            .iter_mut()
            .flat_map(|p| p.value.volumes.iter_mut());
        f.value.template.volumes.iter_mut().chain(plans)
    });
    let volumes = spec
        .workloads
        .iter_mut()
        .flat_map(|w| w.value.volumes.iter_mut())
        .chain(fleets);
    for v in volumes {
        let spec::VolumeKind::Config { files } = &mut v.value.kind else {
            continue;
        };
        for f in files {
            if let Some(path) = &f.file {
                match world.read(path).map(String::from_utf8) {
                    Ok(Ok(text)) => f.text = text,
                    Ok(Err(_)) => diags.push(not_utf8(path)),
                    Err(err) => diags.push(unreadable(path, &err)),
                }
            }
        }
    }
    for fleet in &mut spec.fleets {
        fleet.value.settle_plans();
    }
}

fn not_utf8(path: &crate::decode::Located<String>) -> Diagnostic {
    path.diagnostic(
        Diagnostic::error("P0002", format!("`{}` is not UTF-8", path.value))
            .help("a ConfigMap holds text; keep the file UTF-8"),
        "this file",
    )
}

fn unreadable(path: &crate::decode::Located<String>, err: &std::io::Error) -> Diagnostic {
    path.diagnostic(
        Diagnostic::error("P0005", format!("cannot read `{}`: {err}", path.value))
            .help("paths are relative to the project folder (where platform.toml is)"),
        "named here",
    )
}

fn has_table(node: &Node, key: &str) -> bool {
    has_table_or_key(node, key)
}

/// True when the table `node` has `key`.
fn has_table_or_key(node: &Node, key: &str) -> bool {
    matches!(&node.value, crate::node::Value::Table(t) if t.get(key).is_some())
}

/// Collects rendered files, checking that no two objects share a kind and name.
struct Renderer<'d> {
    files: Vec<(String, String)>,
    filled: std::collections::HashMap<String, lower::Filled>,
    manifests: Vec<String>,
    /// Every object so far, by kind, namespace and name joined with NUL (no name holds one), with a
    /// fast hash (a large fleet registers tens of thousands): its spec entry, and the operator that
    /// creates it when plat does not.
    seen: foldhash::HashMap<String, (Origin, Option<&'static str>)>,
    /// The buffer the key of each lookup is built in, so that only a new key allocates.
    key: String,
    policy: policy::OutputPolicy,
    patcher: patch::Patcher,
    extra_files: Vec<crate::source::FileId>,
    diags: &'d mut Diagnostics,
    trace: Option<&'d mut Trace>,
}

impl Renderer<'_> {
    /// Patches an object, then runs the output checks on what is written.
    fn check_object(&mut self, object: &mut lower::Object) -> Vec<usize> {
        let applied = self.patch(object, None).unwrap_or_default();
        self.check_patched(object, &applied);
        applied
    }

    fn traces(&self, object: &lower::Object) -> bool {
        self.trace
            .as_ref()
            .is_some_and(|t| t.wants(object.kind(), object.name()))
    }

    /// Applies the patches (to a fleet prototype when `placeholder` is given; `None` when the
    /// prototype cannot stand for its instances).
    fn patch(
        &mut self,
        object: &mut lower::Object,
        placeholder: Option<&str>,
    ) -> Option<Vec<usize>> {
        if self.patcher.is_empty() {
            return Some(Vec::new());
        }
        // Only a Secret's values are compared before and after: no copy of every other object.
        let before = (object.kind() == "Secret").then(|| object.value.clone());
        let applied = match placeholder {
            Some(p) => self.patcher.apply_to_prototype(object, p, self.diags)?,
            None => self.patcher.apply(object, self.diags),
        };
        if let Some(before) = before.filter(|_| !applied.is_empty()) {
            self.patcher
                .check_secret_change(&before, object, &applied, self.diags);
        }
        Some(applied)
    }

    fn check_patched(&mut self, object: &lower::Object, applied: &[usize]) {
        let before = self.diags.len();
        self.policy.check(object, self.diags);
        let is_extra = self.extra_files.contains(&object.origin.file);
        let api_version = object.value["apiVersion"].as_str().unwrap_or("");
        if is_extra && !crate::schemas::is_known(api_version, object.kind()) {
            self.diags.push(extra::unknown_kind(object, api_version));
        } else {
            let mut schema = Diagnostics::default();
            crate::schemas::validate(object, &mut schema);
            let mut found: Vec<Diagnostic> = schema.into_sorted();
            self.patcher
                .relocate_schema_findings(applied, object, &mut found);
            found.into_iter().for_each(|d| self.diags.push(d));
        }
        if is_extra {
            extra::check_secrets(object, self.diags);
        }
        if !applied.is_empty() {
            let mut findings: Vec<&mut Diagnostic> = self.diags.iter_mut().skip(before).collect();
            for d in findings.iter_mut().filter(|d| d.code != "P0704") {
                self.patcher.mention(applied, d);
            }
        }
    }

    /// Checks an object's final name and reports a second object of the same kind, namespace and
    /// name; then does the same for the objects its operator creates from it.
    fn register_object(&mut self, value: &serde_json::Value, origin: Origin) {
        let kind = value["kind"].as_str().unwrap_or("");
        let namespace = value["metadata"]["namespace"].as_str().unwrap_or("");
        let name = value["metadata"]["name"].as_str().unwrap_or("");
        self.register(kind, namespace, name, origin, None);
        for derived in crate::operator_pods::operator_objects(value) {
            self.register(
                derived.kind,
                namespace,
                &derived.name,
                origin,
                Some(derived.by),
            );
        }
    }

    /// `by` names the operator that creates the object, when plat does not write it.
    fn register(
        &mut self,
        kind: &str,
        namespace: &str,
        name: &str,
        origin: Origin,
        by: Option<&'static str>,
    ) {
        crate::object_names::check(kind, name, by, origin, self.diags);
        self.key.clear();
        for part in [kind, "\0", namespace, "\0", name] {
            self.key.push_str(part);
        }
        let Some(&(first, first_by)) = self.seen.get(self.key.as_str()) else {
            self.seen.insert(self.key.clone(), (origin, by));
            return;
        };
        let label = |by: Option<&str>, plat: &'static str| match by {
            Some(by) => format!("{by} creates it for this entry"),
            None => plat.to_string(),
        };
        let help = if by.or(first_by).is_some() {
            "rename the entry: an operator creates objects named after its resource in the same namespace, and one would overwrite the other"
        } else {
            "rename one of the entries; object names must be unique per kind in a namespace"
        };
        // The entry plat names the object after comes first: that is the name to change.
        let ((at, at_by), (other, other_by)) = if by.is_some() && first_by.is_none() {
            ((first, first_by), (origin, by))
        } else {
            ((origin, by), (first, first_by))
        };
        self.diags.push(
            Diagnostic::error("P0208", format!("two objects are both {kind} `{name}`"))
                .at(at, label(at_by, "this entry produces it"))
                .also(other, label(other_by, "and so does this one"))
                .help(help),
        );
    }
}

impl lower::Sink for Renderer<'_> {
    fn manifests(&mut self, mut unit: lower::Unit) {
        let path = format!("kubernetes/{}", unit.file);
        for object in &mut unit.objects {
            let before = self.traces(object).then(|| object.value.clone());
            let applied = self.check_object(object);
            if let (Some(before), Some(trace)) = (before, self.trace.as_deref_mut()) {
                trace.found.push(Traced {
                    file: path.clone(),
                    origin: object.origin,
                    patches: applied
                        .iter()
                        .map(|&i| {
                            let p = &self.patcher.patches[i];
                            (p.label.clone(), p.origin)
                        })
                        .collect(),
                    before,
                    after: object.value.clone(),
                });
            }
            self.register_object(&object.value, object.origin);
        }
        self.manifests.push(path.clone());
        self.files.push((path, unit_text(&unit)));
    }

    fn file(&mut self, path: String, text: String) {
        self.files.push((path, text));
    }

    fn check_prototype(&mut self, objects: &mut [lower::Object]) -> bool {
        let before = self.diags.len();
        for object in objects {
            let Some(applied) = self.patch(object, Some(lower::PLACEHOLDER)) else {
                self.diags.truncate(before);
                return false;
            };
            self.check_patched(object, &applied);
        }
        if self.diags.len() == before {
            return true;
        }
        self.diags.truncate(before);
        false
    }

    fn prerendered(&mut self, unit: lower::Prerendered) {
        for (kind, name) in &unit.objects {
            self.register(kind, &unit.namespace, name, unit.origin, None);
        }
        let path = format!("kubernetes/{}", unit.file);
        self.manifests.push(path.clone());
        self.filled.insert(path.clone(), unit.filled);
        self.files.push((path, unit.text));
    }

    fn lower_on_its_own(&self, unit: &lower::Prerendered) -> bool {
        let traced = self
            .trace
            .as_ref()
            .is_some_and(|t| unit.objects.iter().any(|(kind, name)| t.wants(kind, name)));
        traced || self.patcher.names_any(&unit.objects)
    }
}

/// Lowers and renders unit by unit, then the extra objects; the kustomization lists every manifest
/// file.
fn lower_and_render(
    spec: &spec::Spec,
    sources: &Sources,
    patcher: patch::Patcher,
    extras: extra::Extras,
    diags: &mut Diagnostics,
    trace: Option<&mut Trace>,
) -> Files {
    let mut renderer = Renderer {
        files: Vec::new(),
        filled: std::collections::HashMap::new(),
        manifests: Vec::new(),
        seen: foldhash::HashMap::default(),
        key: String::new(),
        policy: policy::OutputPolicy::default(),
        patcher,
        extra_files: extras.files,
        diags,
        trace,
    };
    let ctx = crate::output::Ctx::new(spec, sources);
    lower::lower_in(&ctx, &mut renderer, lower::Path::Prototypes);
    crate::observe::lower(&ctx, &mut renderer);
    for unit in extras.units {
        lower::Sink::manifests(&mut renderer, unit);
    }
    renderer.policy.finish(renderer.diags);
    renderer.patcher.report_unmatched(renderer.diags);
    let mut files = renderer.files;
    files.push((
        "kustomization.yaml".to_string(),
        kustomization(&renderer.manifests),
    ));
    Files {
        files,
        filled: renderer.filled,
    }
}

/// A problem in the base spec shows up in every environment; report it once and say where it applies.
fn merge_shared(per_env: Vec<(String, Diagnostics)>) -> Vec<Diagnostic> {
    let total = per_env.len();
    let mut merged: Vec<(Diagnostic, Vec<String>)> = Vec::new();
    // The same finding is the same code and message at the same place; an index keeps this linear.
    let mut index: HashMap<(&'static str, String, Option<Origin>), usize> = HashMap::new();
    for (env, diags) in per_env {
        for d in diags.into_sorted() {
            let key = (
                d.code,
                d.message.clone(),
                d.primary.as_ref().map(|l| l.origin),
            );
            match index.get(&key) {
                Some(&i) => merged[i].1.push(env.clone()),
                None => {
                    index.insert(key, merged.len());
                    merged.push((d, vec![env.clone()]));
                }
            }
        }
    }
    merged
        .into_iter()
        .map(|(d, envs)| {
            if total > 1 && envs.len() < total {
                d.note(format!(
                    "in environment{} {}",
                    if envs.len() > 1 { "s" } else { "" },
                    envs.join(", ")
                ))
            } else {
                d
            }
        })
        .collect()
}
