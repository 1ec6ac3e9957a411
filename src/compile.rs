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
    let base = load_file(world, spec_file, &mut out.sources, &mut diags);
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
    // Secret findings are kept apart while the spec is read (reading stops at earlier errors), so
    // that the spec's waivers can still apply to a false positive.
    let mut secrets = Diagnostics::default();
    policy::scan_secret_literals(&root, "", &mut secrets);
    let spec = spec::read_spec(&root, env, diags);
    diags.extend(secrets);
    let spec = spec?;
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
    lower::lower(spec, sources, &mut renderer);
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
