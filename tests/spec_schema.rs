//! The editor schemas (`schemas/*.schema.json`, see src/spec_schema/): committed as generated, valid for
//! every spec in the repository, and rejecting what the compiler's readers reject.
//!
//! `PLAT_BLESS=1 cargo test --test spec_schema` rewrites the committed schemas (as `plat schema` does).

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use plat::diag::{Diagnostic, Diagnostics};
use plat::source::Sources;
use plat::spec_schema::{OVERLAY_SCHEMA_FILE, PLATFORM_SCHEMA_FILE, SpecSchemas, spec_schemas};
use serde_json::Value;

/// A key no reader knows and that is close to none, so that the reader lists the keys it knows.
const UNKNOWN: &str = "qqqqqqqqqqqq";
const SAMPLE: &str = "src/spec_schema/sample.toml";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schemas() -> SpecSchemas {
    spec_schemas().unwrap_or_else(|problems| panic!("{}", problems.join("\n")))
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft7::new(schema).expect("a draft-07 schema")
}

/// What the validator says about `instance`, one line per error: the JSON pointer, then the message.
fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn toml_table(text: &str, name: &str) -> toml::Table {
    toml::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn json(table: &toml::Table) -> Value {
    serde_json::to_value(table).expect("TOML values are JSON values")
}

/// Runs plat's readers (load and read, as `plat check` does for one merged file) on `text`.
fn read(text: &str) -> Vec<Diagnostic> {
    let mut sources = Sources::default();
    let file = sources.add("sample.toml", text.to_string());
    let mut diags = Diagnostics::default();
    let root = plat::load::parse(file, &sources, &mut diags).expect("the text is TOML");
    plat::spec::read_spec(&root, "sample", &mut diags);
    diags.into_sorted()
}

// ------------------------------------------------------------------------------------ committed files

#[test]
fn the_committed_schemas_are_the_generated_ones() {
    let schemas = schemas();
    if std::env::var_os("PLAT_BLESS").is_some() {
        schemas.write(&root()).expect("write the schemas");
        return;
    }
    for (file, text) in schemas.files() {
        let committed = fs::read_to_string(root().join(file)).unwrap_or_default();
        if committed != text {
            let diff = similar::TextDiff::from_lines(&committed, &text)
                .unified_diff()
                .header(file, "generated")
                .to_string();
            panic!(
                "{file} is stale; run `cargo run -- schema` or `PLAT_BLESS=1 cargo test --test spec_schema`\n{diff}"
            );
        }
    }
}

#[test]
fn plat_schema_check_passes_on_the_repository_and_fails_on_a_stale_copy() {
    let run = |root: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_plat"))
            .args(["schema", "--check", "--root"])
            .arg(root)
            .status()
            .expect("run plat")
            .code()
    };
    assert_eq!(run(&root()), Some(0));
    let stale = std::env::temp_dir().join(format!("plat-schema-{}", std::process::id()));
    fs::create_dir_all(stale.join("schemas")).expect("a temporary folder");
    fs::write(stale.join(PLATFORM_SCHEMA_FILE), "{}").expect("write");
    assert_eq!(run(&stale), Some(1));
    let _ = fs::remove_dir_all(&stale);
}

#[test]
fn the_schemas_are_draft_07_schemas() {
    let schemas = schemas();
    for schema in [&schemas.platform, &schemas.overlay, &schemas.instance] {
        if let Err(e) = jsonschema::draft7::meta::validate(schema) {
            panic!("not a draft-07 schema: {e}");
        }
    }
}

// --------------------------------------------------------------------------- the repository's specs

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Platform,
    Overlay,
}

impl Kind {
    fn file(self) -> &'static str {
        match self {
            Kind::Platform => PLATFORM_SCHEMA_FILE,
            Kind::Overlay => OVERLAY_SCHEMA_FILE,
        }
    }

    fn schema(self, schemas: &SpecSchemas) -> &Value {
        match self {
            Kind::Platform => &schemas.platform,
            Kind::Overlay => &schemas.overlay,
        }
    }
}

/// The project folders of the repository: the reference platform and each example.
fn projects() -> Vec<PathBuf> {
    let mut out = vec![root()];
    let mut examples: Vec<PathBuf> = fs::read_dir(root().join("examples"))
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("platform.toml").is_file())
        .collect();
    examples.sort();
    out.extend(examples);
    out
}

/// Every spec file of the repository with the schema it is written against.
fn spec_files() -> Vec<(PathBuf, Kind)> {
    let mut out = Vec::new();
    for project in projects() {
        out.push((project.join("platform.toml"), Kind::Platform));
        let mut overlays: Vec<PathBuf> = fs::read_dir(project.join("environments"))
            .expect("environments/")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        overlays.sort();
        out.extend(overlays.into_iter().map(|p| (p, Kind::Overlay)));
    }
    out
}

#[test]
fn every_spec_names_its_schema_on_the_first_line() {
    for (path, kind) in spec_files() {
        let text = fs::read_to_string(&path).expect("read the spec");
        let first = text.lines().next().unwrap_or_default();
        let Some(target) = first.strip_prefix("#:schema ") else {
            panic!(
                "{}: the first line must be `#:schema <path to {}>`",
                path.display(),
                kind.file()
            );
        };
        let resolved = path.parent().expect("a folder").join(target.trim());
        assert_eq!(
            resolved.canonicalize().ok(),
            root().join(kind.file()).canonicalize().ok(),
            "{}: `{first}` should point to {}",
            path.display(),
            kind.file()
        );
    }
}

#[test]
fn every_spec_in_the_repository_is_valid() {
    let schemas = schemas();
    let validators = [Kind::Platform, Kind::Overlay].map(|k| validator(k.schema(&schemas)));
    let mut problems = Vec::new();
    for (path, kind) in spec_files() {
        let text = fs::read_to_string(&path).expect("read the spec");
        let instance = json(&toml_table(&text, &path.display().to_string()));
        let v = &validators[kind as usize];
        problems.extend(
            errors(v, &instance)
                .into_iter()
                .map(|e| format!("{}: {e}", path.display())),
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ------------------------------------------------------------------ what the compiler rejects, too

/// Corpus cases whose finding is in one file on its own: the schema of that file rejects it as well.
const REJECTED: &[(&str, &str, Kind, &str)] = &[
    (
        "unknown-key-top-level",
        "platform.toml",
        Kind::Platform,
        "P0101",
    ),
    (
        "unknown-key-in-service",
        "platform.toml",
        Kind::Platform,
        "P0101",
    ),
    (
        "missing-required-key",
        "platform.toml",
        Kind::Platform,
        "P0103",
    ),
    ("wrong-type", "platform.toml", Kind::Platform, "P0102"),
    (
        "replicas-zero-and-negative",
        "platform.toml",
        Kind::Platform,
        "P0104",
    ),
    (
        "unknown-release-strategy",
        "platform.toml",
        Kind::Platform,
        "P0104",
    ),
    (
        "unknown-monitoring-level",
        "environments/dev.toml",
        Kind::Overlay,
        "P0104",
    ),
    (
        "overlay-wrong-type",
        "environments/dev.toml",
        Kind::Overlay,
        "P0102",
    ),
];

#[test]
fn the_schemas_reject_the_corpus_cases_the_readers_reject() {
    let schemas = schemas();
    for (case, file, kind, code) in REJECTED {
        let dir = root().join("tests/corpus").join(case);
        let expected = fs::read_to_string(dir.join("expected.txt")).expect("expected.txt");
        assert!(
            expected.contains(&format!("error[{code}]")) && expected.contains(&format!("[{file}:")),
            "{case}: the compiler no longer reports {code} in {file}"
        );
        let text = fs::read_to_string(dir.join(file)).expect("the case's file");
        let instance = json(&toml_table(&text, case));
        assert!(
            !errors(&validator(kind.schema(&schemas)), &instance).is_empty(),
            "{case}: the schema accepts {file}, which the compiler rejects with {code}"
        );
    }
}

/// What one file's schema cannot know: a new entry that an overlay misspells is complete only once the
/// overlay is merged with the base, so the overlay schema accepts it and `plat check` reports it.
#[test]
fn an_overlay_schema_checks_one_file_not_the_merge() {
    let dir = root().join("tests/corpus/overlay-adds-misspelled-service");
    let text = fs::read_to_string(dir.join("environments/dev.toml")).expect("dev.toml");
    let instance = json(&toml_table(&text, "dev.toml"));
    assert!(errors(&validator(&schemas().overlay), &instance).is_empty());
}

#[test]
fn overlays_need_their_environment_and_nothing_else() {
    let schemas = schemas();
    let overlay = validator(&schemas.overlay);
    let environment = "[environment]\nnamespace = \"n\"\ncontext = \"c\"\nmonitoring = \"basic\"\n";
    assert!(errors(&overlay, &json(&toml_table(environment, "overlay"))).is_empty());
    let without = "[services.web]\nreplicas = 1\n";
    assert!(!errors(&overlay, &json(&toml_table(without, "overlay"))).is_empty());
    let removal = format!(
        "{environment}[remove]\ntenants = [\"acme\"]\n\"postgresql.parameters\" = [\"x\"]\n"
    );
    assert!(errors(&overlay, &json(&toml_table(&removal, "overlay"))).is_empty());
    let base = validator(&schemas.platform);
    let removal_in_base = json(&toml_table(
        "[platform]\nname = \"p\"\n[remove]\ntenants = []\n",
        "base",
    ));
    assert!(
        !errors(&base, &removal_in_base).is_empty(),
        "`[remove]` belongs to overlays"
    );
}

// ------------------------------------------------ the sample, key by key: schema and readers agree

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// A table of the sample that the schema closes (`additionalProperties: false`), with its schema.
struct Closed<'s> {
    steps: Vec<Step>,
    schema: &'s Value,
}

impl Closed<'_> {
    /// The path as plat's diagnostics write it: `alerting.routes[0]`.
    fn dotted(&self) -> String {
        let mut out = String::new();
        for step in &self.steps {
            match step {
                Step::Key(k) if out.is_empty() => out.push_str(k),
                Step::Key(k) => out.push_str(&format!(".{k}")),
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    /// The JSON pointer, as the validator reports instance paths.
    fn pointer(&self) -> String {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Key(k) => format!("/{k}"),
                Step::Index(i) => format!("/{i}"),
            })
            .collect()
    }

    fn key_path(&self, key: &str) -> String {
        match self.dotted() {
            d if d.is_empty() => key.to_string(),
            d => format!("{d}.{key}"),
        }
    }

    fn known(&self) -> BTreeSet<String> {
        self.schema["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .cloned()
            .collect()
    }
}

fn closed_tables<'s>(
    value: &toml::Value,
    schema: &'s Value,
    steps: Vec<Step>,
    out: &mut Vec<Closed<'s>>,
) {
    match value {
        toml::Value::Table(table) => {
            let entry = schema.get("additionalProperties");
            if entry == Some(&Value::Bool(false)) {
                out.push(Closed {
                    steps: steps.clone(),
                    schema,
                });
            }
            for (key, child) in table {
                let child_schema = match entry {
                    Some(entry) if entry.is_object() => Some(entry),
                    _ => schema.get("properties").and_then(|p| p.get(key)),
                };
                if let Some(child_schema) = child_schema {
                    let mut child_steps = steps.clone();
                    child_steps.push(Step::Key(key.clone()));
                    closed_tables(child, child_schema, child_steps, out);
                }
            }
        }
        toml::Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    let mut child_steps = steps.clone();
                    child_steps.push(Step::Index(i));
                    closed_tables(item, item_schema, child_steps, out);
                }
            }
        }
        _ => {}
    }
}

fn value_at<'t>(value: &'t mut toml::Value, steps: &[Step]) -> &'t mut toml::Value {
    steps.iter().fold(value, |value, step| match (step, value) {
        (Step::Key(k), toml::Value::Table(t)) => t.get_mut(k).expect("the walk found this key"),
        (Step::Index(i), toml::Value::Array(a)) => &mut a[*i],
        _ => unreachable!("the walk found a table or an array here"),
    })
}

/// The sample with `value` set at `key` of the table at `steps`, as TOML text and as JSON.
fn sample_with(
    sample: &toml::Table,
    steps: &[Step],
    key: &str,
    value: toml::Value,
) -> (String, Value) {
    let mut doc = toml::Value::Table(sample.clone());
    let toml::Value::Table(table) = value_at(&mut doc, steps) else {
        unreachable!("closed tables are tables")
    };
    table.insert(key.to_string(), value);
    let text = toml::to_string(&doc).expect("TOML serializes");
    let json = serde_json::to_value(&doc).expect("TOML values are JSON values");
    (text, json)
}

fn sample() -> toml::Table {
    let text = fs::read_to_string(root().join(SAMPLE)).expect("the sample");
    toml_table(&text, SAMPLE)
}

/// For every table of the sample that the schema closes, one unknown key: the readers report it, and
/// both schemas reject it at that table. The keys the reader lists as known are the schema's keys, so
/// every key a reader knows is in the schema and the schema knows no other.
#[test]
fn an_unknown_key_is_rejected_in_every_table_and_both_know_the_same_keys() {
    let schemas = schemas();
    let validators = [validator(&schemas.platform), validator(&schemas.overlay)];
    let sample = sample();
    let mut closed = Vec::new();
    closed_tables(
        &toml::Value::Table(sample.clone()),
        &schemas.platform,
        Vec::new(),
        &mut closed,
    );
    assert!(
        closed.len() > 40,
        "the walk found only {} tables",
        closed.len()
    );
    for table in &closed {
        let (text, instance) = sample_with(&sample, &table.steps, UNKNOWN, toml::Value::Integer(1));
        let unknown = table.key_path(UNKNOWN);
        let diagnostics = read(&text);
        let [d] = diagnostics.as_slice() else {
            panic!("`{unknown}`: expected one finding, got {diagnostics:#?}");
        };
        assert_eq!(
            (d.code, d.message.as_str()),
            ("P0101", format!("unknown key `{unknown}`").as_str())
        );
        let help = d.help.as_deref().unwrap_or_default();
        let known: BTreeSet<String> = help
            .strip_prefix("known keys here: ")
            .unwrap_or_else(|| panic!("`{unknown}`: the help lists no keys: {help}"))
            .split(", ")
            .map(str::to_string)
            .collect();
        assert_eq!(
            known,
            table.known(),
            "the keys of `{}`: reader (left) and schema (right)",
            table.dotted()
        );
        for v in &validators {
            let found = errors(v, &instance);
            assert!(
                found
                    .iter()
                    .any(|e| e.starts_with(&format!("{}: ", table.pointer()))),
                "`{unknown}`: the schema does not reject it at {}: {found:?}",
                table.pointer()
            );
        }
    }
}

/// Every key with allowed values, in every table of the sample that has it: the reader accepts each
/// value the schema offers and rejects one the schema does not, and so does the schema.
#[test]
fn enumerated_values_are_the_values_the_readers_accept() {
    let schemas = schemas();
    let platform = validator(&schemas.platform);
    let sample = sample();
    let mut closed = Vec::new();
    closed_tables(
        &toml::Value::Table(sample.clone()),
        &schemas.platform,
        Vec::new(),
        &mut closed,
    );
    let mut checked = BTreeSet::new();
    for table in &closed {
        for (key, schema) in table.schema["properties"].as_object().expect("properties") {
            if let Some(values) = schema.get("enum").and_then(Value::as_array) {
                check_enum(&platform, &sample, table, key, values);
                checked.insert(key.clone());
            }
        }
    }
    assert!(
        checked.len() >= 12,
        "only these keys have allowed values: {checked:?}"
    );
}

fn check_enum(
    platform: &jsonschema::Validator,
    sample: &toml::Table,
    table: &Closed<'_>,
    key: &str,
    values: &[Value],
) {
    let path = table.key_path(key);
    let pointer = format!("{}/{key}", table.pointer());
    let mentions = |diagnostics: &[Diagnostic]| {
        diagnostics
            .iter()
            .any(|d| d.message.contains(&format!("`{path}`")))
    };
    for value in values {
        let value = value.as_str().expect("allowed values are strings");
        let (text, instance) =
            sample_with(sample, &table.steps, key, toml::Value::String(value.into()));
        let diagnostics = read(&text);
        assert!(
            !mentions(&diagnostics),
            "`{path} = \"{value}\"`: the reader rejects it: {diagnostics:#?}"
        );
        let found = errors(platform, &instance);
        assert!(
            !found.iter().any(|e| e.starts_with(&format!("{pointer}: "))),
            "{found:?}"
        );
    }
    let (text, instance) = sample_with(
        sample,
        &table.steps,
        key,
        toml::Value::String(UNKNOWN.into()),
    );
    assert!(
        mentions(&read(&text)),
        "`{path} = \"{UNKNOWN}\"`: the reader accepts it"
    );
    let found = errors(platform, &instance);
    assert!(
        found.iter().any(|e| e.starts_with(&format!("{pointer}: "))),
        "`{path}`: {found:?}"
    );
}
