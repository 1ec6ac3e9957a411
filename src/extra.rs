//! Extra objects: the escape hatch for what plat does not model (a ResourceQuota, a PriorityClass,
//! a cert-manager Certificate, an operator's custom resource). Every `.yaml`/`.yml` file in
//! `manifests/` (every environment) and `manifests/<env>/` (that environment only) is a minijinja
//! template of Kubernetes objects, rendered against [`template_context`] with strict undefined.
//!
//! Each document (the text between `---` lines) is rendered on its own, so that a template error
//! and a YAML error are located at their line in the template, not in rendered text nobody sees;
//! within a document a YAML error's line is the template's line as long as the document's tags add
//! or remove no lines. The objects then join plat's own: patched, validated against the vendored
//! schemas, security-checked, written to `generated/<env>/kubernetes/manifests/`, listed in the
//! kustomization and applied (and pruned) by the cluster stage, which attributes them to their file
//! through the `plat.dev/source` annotation.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Value as Json, json};

use crate::diag::{Diagnostic, Diagnostics};
use crate::lower::{Object, SOURCE_ANNOTATION, Unit};
use crate::source::{FileId, Origin, Sources};
use crate::spec::Spec;
use crate::world::World;

pub const DIR: &str = "manifests";

/// The extra objects of one environment, one unit per template file.
#[derive(Debug, Default)]
pub struct Extras {
    pub units: Vec<Unit>,
    /// The template files, so that the output checks know an object came from one.
    pub files: Vec<FileId>,
}

impl Extras {
    pub fn is_extra(&self, object: &Object) -> bool {
        self.files.contains(&object.origin.file)
    }
}

/// The template files for an environment: `manifests/*.yaml` then `manifests/<env>/*.yaml`, sorted.
pub fn template_paths(world: &dyn World, env: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for dir in [DIR.to_string(), format!("{DIR}/{env}")] {
        for name in world.list(&dir).unwrap_or_default() {
            if name.ends_with(".yaml") || name.ends_with(".yml") {
                paths.push(format!("{dir}/{name}"));
            }
        }
    }
    paths
}

/// Reads and renders every template of the environment; problems are reported, never fatal to the
/// others.
pub fn render(
    world: &dyn World,
    spec: &Spec,
    sources: &mut Sources,
    diags: &mut Diagnostics,
) -> Extras {
    let mut extras = Extras::default();
    let paths = template_paths(world, &spec.environment.name);
    if paths.is_empty() {
        return extras;
    }
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let context = template_context(spec);
    for path in paths {
        let bytes = match world.read(&path) {
            Ok(bytes) => bytes,
            Err(err) => {
                diags.push(Diagnostic::error(
                    "P0005",
                    format!("cannot read `{path}`: {err}"),
                ));
                continue;
            }
        };
        let Some(file) = crate::load::decode_text(&path, bytes, sources, diags) else {
            continue;
        };
        extras.files.push(file);
        let objects = render_file(&env, &context, file, sources, diags);
        extras.units.push(Unit {
            file: path.clone(),
            objects,
        });
    }
    extras
}

/// One document of a template file: its text and where it starts in the file.
struct Document<'t> {
    text: &'t str,
    start: usize,
}

/// Splits a file at its `---` lines (which are left out).
fn documents(text: &str) -> Vec<Document<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if is_separator(line) {
            out.push(Document {
                text: &text[start..offset],
                start,
            });
            start = offset + line.len();
        }
        offset += line.len();
    }
    out.push(Document {
        text: &text[start..],
        start,
    });
    out
}

fn is_separator(line: &str) -> bool {
    let line = line.trim_end();
    line == "---" || line.starts_with("--- #")
}

fn render_file(
    env: &Environment<'_>,
    context: &minijinja::Value,
    file: FileId,
    sources: &Sources,
    diags: &mut Diagnostics,
) -> Vec<Object> {
    let source = sources.get(file);
    let name = source.name.clone();
    let mut objects = Vec::new();
    for doc in documents(&source.text) {
        let rendered = match env.render_named_str(&name, doc.text, context.clone()) {
            Ok(text) => text,
            Err(err) => {
                diags.push(template_error(&err, &doc, file, &source.text));
                continue;
            }
        };
        let values = match crate::yaml::parse_yaml_located(&rendered) {
            Ok(values) => values,
            Err(err) => {
                diags.push(yaml_error(&err, &doc, file, &source.text));
                continue;
            }
        };
        let origin = first_content_line(&doc, file);
        for value in values {
            if let Some(object) = object_of(value, origin, &name, diags) {
                objects.push(object);
            }
        }
    }
    objects
}

fn template_error(
    err: &minijinja::Error,
    doc: &Document<'_>,
    file: FileId,
    text: &str,
) -> Diagnostic {
    let origin = match err.range() {
        Some(range) => {
            let end = range.end.min(doc.text.len());
            let start = range.start.min(end);
            Origin::new(file, doc.start + start..doc.start + end)
        }
        None => line_origin(doc, err.line().unwrap_or(1), 1, file, text),
    };
    let detail = err.detail().map_or(String::new(), |d| format!(": {d}"));
    Diagnostic::error("P0711", format!("template error in an extra object: {}{detail}", err.kind()))
        .at(origin, "here")
        .help("templates see `environment`, `platform`, `workloads`, `stores` and `fleets` (README, \"Extra objects\"); an undefined name or attribute is an error")
}

fn yaml_error(
    err: &crate::yaml::YamlError,
    doc: &Document<'_>,
    file: FileId,
    text: &str,
) -> Diagnostic {
    let origin = line_origin(
        doc,
        err.line.unwrap_or(1),
        err.column.unwrap_or(1),
        file,
        text,
    );
    Diagnostic::error(
        "P0712",
        format!("an extra object is not valid YAML: {}", err.message),
    )
    .at(origin, "here (line of the template)")
    .help("each document between `---` lines must be one YAML mapping: a Kubernetes object")
}

/// The origin of a one-based line and column of a document, clamped to the document.
fn line_origin(doc: &Document<'_>, line: usize, column: usize, file: FileId, text: &str) -> Origin {
    let mut offset = doc.start;
    for (i, l) in doc.text.split_inclusive('\n').enumerate() {
        if i + 1 == line.max(1) {
            let at = l
                .char_indices()
                .nth(column.saturating_sub(1))
                .map_or(l.trim_end().len(), |(i, _)| i);
            let end = l.trim_end().len().max(at);
            return Origin::new(file, offset + at..offset + end);
        }
        offset += l.len();
    }
    let end = (doc.start + doc.text.len()).min(text.len());
    Origin::new(file, end..end)
}

/// The document's first line that is neither blank nor a comment: where its object is named.
fn first_content_line(doc: &Document<'_>, file: FileId) -> Origin {
    let mut offset = doc.start;
    for line in doc.text.split_inclusive('\n') {
        let trimmed = line.trim();
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            return Origin::new(file, offset..offset + line.trim_end().len());
        }
        offset += line.len();
    }
    Origin::new(file, doc.start..doc.start)
}

/// A rendered document as an object, annotated with the file it came from.
fn object_of(
    mut value: Json,
    origin: Origin,
    file: &str,
    diags: &mut Diagnostics,
) -> Option<Object> {
    let has = |v: &Json, key: &str| v[key].as_str().is_some_and(|s| !s.is_empty());
    if !(has(&value, "apiVersion") && has(&value, "kind") && has(&value["metadata"], "name")) {
        diags.push(
            Diagnostic::error(
                "P0713",
                "an extra object needs `apiVersion`, `kind` and `metadata.name`",
            )
            .at(origin, "this document")
            .help("each document in manifests/ is one Kubernetes object"),
        );
        return None;
    }
    let metadata = value["metadata"].as_object_mut()?;
    let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
    if !annotations.is_object() {
        *annotations = json!({});
    }
    annotations[SOURCE_ANNOTATION] = Json::String(file.to_string());
    Some(Object { value, origin })
}

/// An extra object of a kind plat has no schema for: a warning that says what is missing.
pub fn unknown_kind(object: &Object, api_version: &str) -> Diagnostic {
    Diagnostic::warning(
        "P0714",
        format!(
            "extra object {} `{}` is not validated: no schema for {api_version} {} under schemas/",
            object.kind(),
            object.name(),
            object.kind()
        ),
    )
    .at(object.origin, "this object")
    .help("vendor the kind's schema (for a custom resource, its CRD's openAPIV3Schema; schemas/README.md) and list it in src/schemas.rs, or waive P0714 here with a reason")
}

/// The checks only extra objects need: plat's own objects hold no secret value by construction.
pub fn check_secrets(object: &Object, diags: &mut Diagnostics) {
    let value = &object.value;
    let name = format!("{} `{}`", object.kind(), object.name());
    if value["kind"] == "Secret" && value["apiVersion"] == "v1" {
        for field in ["data", "stringData"] {
            if value[field].as_object().is_some_and(|m| !m.is_empty()) {
                diags.push(
                    Diagnostic::error("P0715", format!("extra object {name} holds secret values in `{field}`"))
                        .at(object.origin, "a Secret with values")
                        .help("secret values never go into the repository: keep them in the secret store and reference them (an ExternalSecret as an extra object, or `[secrets]`)"),
                );
            }
        }
        return;
    }
    let mut found = Vec::new();
    scan(value, "", &mut found);
    for (path, why) in found {
        diags.push(
            Diagnostic::error("P0715", format!("extra object {name} has a secret-looking value at `{path}` ({why})"))
                .at(object.origin, "a literal secret?")
                .help("secret values never go into the repository: keep them in the secret store and reference them"),
        );
    }
}

fn scan(value: &Json, path: &str, found: &mut Vec<(String, &'static str)>) {
    match value {
        Json::Object(map) => {
            for (key, child) in map {
                scan(child, &format!("{path}/{key}"), found);
            }
        }
        Json::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                scan(child, &format!("{path}/{i}"), found);
            }
        }
        Json::String(text) => {
            // The spec scanner reads snake_case keys such as `tls_secret_name` as references to a
            // Secret; Kubernetes writes them in camelCase (`secretName`).
            let key = snake_case(path.rsplit('/').next().unwrap_or(""));
            if let Some(why) = crate::policy::looks_like_secret(&format!("_{key}"), text) {
                found.push((path.to_string(), why));
            }
        }
        _ => {}
    }
}

fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// What a template sees: the facts of the platform (`crate::facts`), the same that `env` and
/// `[config]` templates see: environment, platform, services, fleets, stores and external endpoints.
pub fn template_context(spec: &Spec) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(context_json(spec)))
}

/// [`template_context`] as JSON (also what `plat explain` and the tests read).
pub fn context_json(spec: &Spec) -> Json {
    let mut context = crate::facts::Inventory::of(spec).context().clone();
    // Extra objects may iterate over a fleet's instances; env templates see only their own.
    if let Some(Json::Object(fleets)) = context.get_mut("fleets") {
        for fleet in &spec.fleets {
            if let Some(facts) = fleets.get_mut(&fleet.name) {
                facts["instances"] = crate::facts::fleet_instances(spec, fleet);
            }
        }
    }
    Json::Object(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_at_separator_lines_and_keep_their_offsets() {
        let text = "a: 1\n---\nb: 2\n--- # two\nc: 3\n";
        let docs = documents(text);
        let parts: Vec<(&str, usize)> = docs.iter().map(|d| (d.text, d.start)).collect();
        assert_eq!(parts, [("a: 1\n", 0), ("b: 2\n", 9), ("c: 3\n", 24)]);
        assert_eq!(&text[24..28], "c: 3");
    }

    #[test]
    fn lines_of_a_document_map_to_the_file() {
        let mut sources = Sources::default();
        let text = "a: 1\n---\nb: 2\nc: [\n".to_string();
        let file = sources.add("m.yaml", text.clone());
        let docs = documents(&text);
        let origin = line_origin(&docs[1], 2, 4, file, &text);
        assert_eq!(&text[origin.range()], "[");
        // Past the end it stays in the document.
        let origin = line_origin(&docs[1], 9, 1, file, &text);
        assert_eq!(origin.start as usize, text.len());
    }
}
