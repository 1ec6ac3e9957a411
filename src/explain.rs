//! `plat explain KIND/NAME [--env ENV]`: where an object came from. For each environment, the spec
//! entry (or extra object template) that produced it, each patch applied to it in order with its
//! location, what the patches changed, and the final object as it is written.

use crate::compile::{Compilation, Trace, compile_traced, environments};
use crate::diag::did_you_mean;
use crate::world::World;

/// What `plat explain` prints, and whether the object was found.
pub struct Explanation {
    pub text: String,
    pub found: bool,
    /// The compilations, for their findings.
    pub compilations: Vec<Compilation>,
}

/// `KIND/NAME` split, or why not.
pub fn parse_object(text: &str) -> Result<(String, String), String> {
    match text.split_once('/') {
        Some((kind, name)) if !kind.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((kind.to_string(), name.to_string()))
        }
        _ => Err(format!(
            "`{text}` is not KIND/NAME (for example Deployment/web)"
        )),
    }
}

/// Explains an object in the given environment, or in every environment when `env` is `None`.
pub fn explain(
    world: &dyn World,
    spec_file: &str,
    kind: &str,
    name: &str,
    env: Option<&str>,
) -> Explanation {
    let envs: Vec<String> = match env {
        Some(env) => vec![env.to_string()],
        None => environments(world),
    };
    let mut text = String::new();
    let mut found = false;
    let mut compilations = Vec::new();
    for env in envs {
        let mut trace = Trace {
            kind: kind.to_string(),
            name: name.to_string(),
            found: Vec::new(),
        };
        let compilation = compile_traced(world, spec_file, &env, &mut trace);
        if trace.found.is_empty() {
            text.push_str(&not_found(&compilation, &env, kind, name));
        } else {
            found = true;
            for traced in &trace.found {
                text.push_str(&describe(&compilation, &env, kind, name, traced));
            }
        }
        compilations.push(compilation);
    }
    Explanation {
        text,
        found,
        compilations,
    }
}

fn describe(
    compilation: &Compilation,
    env: &str,
    kind: &str,
    name: &str,
    traced: &crate::compile::Traced,
) -> String {
    let sources = &compilation.sources;
    let namespace = traced.after["metadata"]["namespace"].as_str();
    let mut out = format!("{kind}/{name} in environment {env}");
    if let Some(ns) = namespace {
        out.push_str(&format!(", namespace {ns}"));
    }
    out.push('\n');
    let annotation = traced.before["metadata"]["annotations"][crate::lower::SOURCE_ANNOTATION]
        .as_str()
        .unwrap_or("");
    out.push_str(&format!(
        "  produced by  {} ({annotation})\n",
        sources.locate(traced.origin)
    ));
    if traced.patches.is_empty() {
        out.push_str("  patches      none\n");
    } else {
        for (i, (label, origin)) in traced.patches.iter().enumerate() {
            let heading = if i == 0 {
                "  patches    "
            } else {
                "             "
            };
            out.push_str(&format!(
                "{heading}  {}. {label} at {}\n",
                i + 1,
                sources.locate(*origin)
            ));
        }
    }
    out.push_str(&format!("  written to   generated/{env}/{}\n", traced.file));
    if compilation.has_errors() {
        out.push_str(
            "  (the environment has errors: `plat check` lists them; nothing is written)\n",
        );
    }
    if !traced.patches.is_empty() {
        let before = crate::yaml::to_yaml(&traced.before);
        let after = crate::yaml::to_yaml(&traced.after);
        out.push_str("what the patches change:\n");
        let diff = similar::TextDiff::from_lines(&before, &after);
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(2)
                .header("as plat built it", "patched")
                .to_string(),
        );
    }
    out.push_str("the object:\n");
    out.push_str(&crate::yaml::to_yaml(&traced.after));
    out.push('\n');
    out
}

fn not_found(compilation: &Compilation, env: &str, kind: &str, name: &str) -> String {
    let mut out = format!("{kind}/{name}: not in environment {env}");
    let candidates: Vec<String> = compilation
        .outputs
        .iter()
        .flat_map(|(_, files)| files.files.iter())
        .filter(|(path, _)| path.starts_with("kubernetes/"))
        .filter_map(|(_, text)| crate::yaml::parse_yaml_stream(text).ok())
        .flatten()
        .filter_map(|o| {
            Some(format!(
                "{}/{}",
                o["kind"].as_str()?,
                o["metadata"]["name"].as_str()?
            ))
        })
        .collect();
    let wanted = format!("{kind}/{name}");
    if let Some(close) = did_you_mean(&wanted, candidates.iter().map(String::as_str)) {
        out.push_str(&format!(" (did you mean {close}?)"));
    } else if compilation.outputs.is_empty() {
        out.push_str(" (it did not compile: `plat check` lists the errors)");
    }
    out.push_str("\n\n");
    out
}
