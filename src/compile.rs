//! The pipeline: load → merge → read → validate → lower → render, for each environment. Pure: input
//! comes through a [`World`], output is returned as text.

use std::collections::HashMap;

use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::node::Node;
use crate::render::{Files, kustomization, unit_text};
use crate::source::{Origin, Sources};
use crate::world::World;
use crate::{load, lower, merge, policy, spec, validate, waivers};

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
}

/// What to compile.
#[derive(Clone, Debug)]
pub enum Selection {
    All,
    One(String),
}

/// The environments a project declares: the `.toml` files in `environments/`, sorted.
pub fn environments(world: &dyn World) -> Vec<String> {
    world
        .list(ENV_DIR)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|name| name.strip_suffix(".toml").map(str::to_string))
        .collect()
}

pub fn compile(world: &dyn World, spec_file: &str, selection: &Selection) -> Compilation {
    let mut out = Compilation::default();
    let mut diags = Diagnostics::default();
    let available = environments(world);
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
    if let Some(base) = base {
        for env in &chosen {
            let mut env_diags = Diagnostics::default();
            if let Some(files) = compile_env(
                world,
                &base,
                env,
                &available,
                &mut out.sources,
                &mut env_diags,
            ) {
                out.outputs.push((env.clone(), files));
            }
            per_env.push((env.clone(), env_diags));
        }
    }
    out.diagnostics = diags.into_sorted();
    out.diagnostics.extend(merge_shared(per_env));
    out
}

fn load_file(
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
                    .help("run plat in the project folder, or name the spec with `--spec FILE`"),
            );
            return None;
        }
    };
    let file = load::decode_text(path, bytes, sources, diags)?;
    load::parse(file, sources, diags)
}

fn compile_env(
    world: &dyn World,
    base: &Node,
    env: &str,
    available: &[String],
    sources: &mut Sources,
    diags: &mut Diagnostics,
) -> Option<Files> {
    if !available.iter().any(|a| a == env) {
        let mut d = Diagnostic::error(
            "P0005",
            format!("no environment `{env}`: `{ENV_DIR}/{env}.toml` does not exist"),
        );
        d = match did_you_mean(env, available.iter().map(String::as_str)) {
            Some(close) => d.help(format!("did you mean `{close}`?")),
            None => d.help(format!("environments: {}", available.join(", "))),
        };
        diags.push(d);
        return None;
    }
    let overlay = load_file(world, &format!("{ENV_DIR}/{env}.toml"), sources, diags)?;
    if !has_table(&overlay, "environment") {
        diags.push(
            Diagnostic::error("P0103", format!("`{ENV_DIR}/{env}.toml` has no `[environment]` table"))
                .at(Origin::new(overlay.origin.file, 0..0), "this overlay")
                .help("say where the environment runs: `[environment]` with namespace, context and monitoring"),
        );
        return None;
    }
    let mut root = base.clone();
    merge::apply_overlay(&mut root, overlay, diags);
    if diags.has_errors() {
        return None;
    }
    policy::scan_secret_literals(&root, "", diags);
    let mut spec = spec::read_spec(&root, env, diags)?;
    read_config_files(world, &mut spec, diags);
    validate::validate(&spec, diags);
    let mut used = vec![false; spec.waivers.len()];
    waivers::apply(&spec.waivers, &root, diags, &mut used);
    if diags.has_errors() {
        return None;
    }
    let files = lower_and_render(&spec, sources, diags);
    waivers::apply(&spec.waivers, &root, diags, &mut used);
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

/// Files of `config` volumes named by path are read here, where the compiler has its `World`.
fn read_config_files(world: &dyn World, spec: &mut spec::Spec, diags: &mut Diagnostics) {
    let templates = spec.fleets.iter_mut().map(|f| &mut f.value.template);
    let workloads = spec
        .workloads
        .iter_mut()
        .map(|w| &mut w.value)
        .chain(templates);
    for w in workloads {
        for v in &mut w.volumes {
            let spec::VolumeKind::Config { files } = &mut v.value.kind else {
                continue;
            };
            for f in files {
                let Some(path) = &f.file else { continue };
                match world.read(path).map(String::from_utf8) {
                    Ok(Ok(text)) => f.text = text,
                    Ok(Err(_)) => diags.push(
                        path.diagnostic(
                            Diagnostic::error("P0002", format!("`{}` is not UTF-8", path.value))
                                .help("a ConfigMap holds text; keep the file UTF-8"),
                            "this file",
                        ),
                    ),
                    Err(err) => diags.push(
                        path.diagnostic(
                            Diagnostic::error(
                                "P0005",
                                format!("cannot read `{}`: {err}", path.value),
                            )
                            .help(
                                "paths are relative to the project folder (where platform.toml is)",
                            ),
                            "named here",
                        ),
                    ),
                }
            }
        }
    }
}

fn has_table(node: &Node, key: &str) -> bool {
    matches!(&node.value, crate::node::Value::Table(t) if t.get(key).is_some())
}

/// Collects rendered files, checking that no two objects share a kind and name.
struct Renderer<'d> {
    files: Vec<(String, String)>,
    manifests: Vec<String>,
    seen: HashMap<(String, String), Origin>,
    policy: policy::OutputPolicy,
    diags: &'d mut Diagnostics,
}

impl Renderer<'_> {
    fn check_object(&mut self, object: &lower::Object) {
        self.policy.check(object, self.diags);
        crate::schemas::validate(object, self.diags);
    }

    /// Reports a second object of the same kind, namespace and name.
    fn register(&mut self, kind: &str, namespace: &str, name: &str, origin: Origin) {
        let key = (kind.to_string(), format!("{namespace}/{name}"));
        if let Some(first) = self.seen.get(&key) {
            self.diags.push(
                Diagnostic::error("P0208", format!("two objects are both {kind} `{name}`"))
                    .at(origin, "this entry produces it")
                    .also(*first, "and so does this one")
                    .help("rename one of the entries; object names must be unique per kind in a namespace"),
            );
        } else {
            self.seen.insert(key, origin);
        }
    }
}

impl lower::Sink for Renderer<'_> {
    fn manifests(&mut self, unit: lower::Unit) {
        for object in &unit.objects {
            self.check_object(object);
            let namespace = object.value["metadata"]["namespace"].as_str().unwrap_or("");
            self.register(object.kind(), namespace, object.name(), object.origin);
        }
        let path = format!("kubernetes/{}", unit.file);
        self.manifests.push(path.clone());
        self.files.push((path, unit_text(&unit)));
    }

    fn file(&mut self, path: String, text: String) {
        self.files.push((path, text));
    }

    fn check_prototype(&mut self, objects: &[lower::Object]) -> bool {
        let before = self.diags.len();
        for object in objects {
            self.check_object(object);
        }
        if self.diags.len() == before {
            return true;
        }
        self.diags.truncate(before);
        false
    }

    fn prerendered(&mut self, unit: lower::Prerendered) {
        for (kind, name) in &unit.objects {
            self.register(kind, &unit.namespace, name, unit.origin);
        }
        let path = format!("kubernetes/{}", unit.file);
        self.manifests.push(path.clone());
        self.files.push((path, unit.text));
    }
}

/// Lowers and renders unit by unit; the kustomization lists every manifest file.
fn lower_and_render(spec: &spec::Spec, sources: &Sources, diags: &mut Diagnostics) -> Files {
    let mut renderer = Renderer {
        files: Vec::new(),
        manifests: Vec::new(),
        seen: HashMap::new(),
        policy: policy::OutputPolicy::default(),
        diags,
    };
    let ctx = crate::output::Ctx::new(spec, sources);
    lower::lower_in(&ctx, &mut renderer, lower::Path::Prototypes);
    crate::observe::lower(&ctx, &mut renderer);
    renderer.policy.finish(renderer.diags);
    let mut files = renderer.files;
    files.push((
        "kustomization.yaml".to_string(),
        kustomization(&renderer.manifests),
    ));
    Files { files }
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
