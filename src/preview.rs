//! `plat diff --base REF`: what a pull request changes in the generated output. The spec is rendered as
//! it stands at a git revision and as it stands in the working tree, and the outputs are compared per
//! environment: counts first (files and Kubernetes objects added, removed, changed), then the diffs.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use similar::TextDiff;

use crate::compile::{Compilation, Selection, compile};
use crate::render::Files;
use crate::world::{MemoryWorld, World};

/// Reads the project as it is at `rev`, through git, into memory: every file of the project folder
/// but the output (instance folders and config files are input too).
pub fn world_at(root: &Path, rev: &str, spec_file: &str) -> Result<MemoryWorld, String> {
    let mut world = MemoryWorld::default();
    world = world.with(
        spec_file,
        git(root, &["show", &format!("{rev}:./{spec_file}")])?,
    );
    let listing = git(root, &["ls-tree", "-r", "--name-only", rev, "."]).unwrap_or_default();
    for path in String::from_utf8_lossy(&listing).lines() {
        // The output, build products and tooling folders (`.git`, `.github`) are no input.
        let skipped = path == spec_file
            || path.starts_with("generated/")
            || path.starts_with("target/")
            || path.starts_with('.');
        if skipped {
            continue;
        }
        world = world.with(path, git(root, &["show", &format!("{rev}:./{path}")])?);
    }
    // The extra objects' templates (src/extra.rs): `manifests/*.yaml` and `manifests/<env>/*.yaml`.
    let listing = git(
        root,
        &[
            "ls-tree",
            "-r",
            "--name-only",
            rev,
            &format!("{}/", crate::extra::DIR),
        ],
    )
    .unwrap_or_default();
    for path in String::from_utf8_lossy(&listing)
        .lines()
        .filter(|p| p.ends_with(".yaml") || p.ends_with(".yml"))
        .filter(|p| p.matches('/').count() <= 2)
    {
        world = world.with(path, git(root, &["show", &format!("{rev}:./{path}")])?);
    }
    Ok(world)
}

fn git(root: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(output.stdout)
}

/// The objects of a rendered file, by `Kind/name`, with their YAML text.
fn objects(text: &str) -> BTreeMap<String, String> {
    crate::yaml::parse_yaml_stream(text)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|doc| {
            let key = format!(
                "{}/{}",
                doc["kind"].as_str()?,
                doc["metadata"]["name"].as_str()?
            );
            Some((key, crate::yaml::to_yaml(&doc)))
        })
        .collect()
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub files: [usize; 3],
    pub objects: [usize; 3],
}

/// Counts and diffs of one environment, base → head.
pub fn compare(env: &str, base: Option<&Files>, head: Option<&Files>) -> (Counts, String) {
    let empty = Files::default();
    let (base, head) = (base.unwrap_or(&empty), head.unwrap_or(&empty));
    let mut counts = Counts::default();
    let mut diffs = String::new();
    let paths: std::collections::BTreeSet<&str> = base
        .files
        .iter()
        .chain(&head.files)
        .map(|(p, _)| p.as_str())
        .collect();
    for path in paths {
        let (old, new) = (base.get(path).unwrap_or(""), head.get(path).unwrap_or(""));
        if old == new {
            continue;
        }
        let slot = if old.is_empty() {
            0
        } else if new.is_empty() {
            1
        } else {
            2
        };
        counts.files[slot] += 1;
        if path.starts_with("kubernetes/") {
            count_objects(&objects(old), &objects(new), &mut counts.objects);
        }
        let label = |side: &str| format!("{side}/generated/{env}/{path}");
        let diff = TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(3)
            .header(&label("a"), &label("b"))
            .to_string();
        diffs.push_str(&diff);
    }
    (counts, diffs)
}

fn count_objects(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    counts: &mut [usize; 3],
) {
    counts[0] += new.keys().filter(|k| !old.contains_key(*k)).count();
    counts[1] += old.keys().filter(|k| !new.contains_key(*k)).count();
    counts[2] += new
        .iter()
        .filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
        .count();
}

/// The whole preview as text, and whether anything differs.
pub fn preview(base: &Compilation, head: &Compilation, selection: &Selection) -> (String, bool) {
    let envs: std::collections::BTreeSet<&String> = base
        .outputs
        .iter()
        .chain(&head.outputs)
        .map(|(e, _)| e)
        .collect();
    let find = |c: &'_ Compilation, env: &str| {
        c.outputs
            .iter()
            .find(|(e, _)| e == env)
            .map(|(_, f)| f.clone())
    };
    let mut summary = String::new();
    let mut diffs = String::new();
    let mut changed = false;
    for env in envs {
        if let Selection::One(only) = selection
            && only != env
        {
            continue;
        }
        let (counts, diff) = compare(env, find(base, env).as_ref(), find(head, env).as_ref());
        changed |= counts != Counts::default();
        let [fa, fr, fc] = counts.files;
        let [oa, or, oc] = counts.objects;
        summary.push_str(&format!(
            "{env}: {fa} files added, {fr} removed, {fc} changed; objects: {oa} added, {or} removed, {oc} changed\n"
        ));
        diffs.push_str(&diff);
    }
    (format!("{summary}\n{diffs}"), changed)
}

/// Compiles the project at `rev` (diagnostics of the base are the base's business: shown as a note).
pub fn compile_at(
    root: &Path,
    rev: &str,
    spec_file: &str,
    selection: &Selection,
) -> Result<Compilation, String> {
    let world = world_at(root, rev, spec_file)?;
    Ok(compile(&world as &dyn World, spec_file, selection))
}
