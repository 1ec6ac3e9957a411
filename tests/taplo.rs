//! The editor schemas (`schemas/*.schema.json`) checked by the real Taplo, the tool editors run them with
//! (Even Better TOML is Taplo): `taplo check` accepts every spec file of the repository and its examples,
//! `.taplo.toml` and the `#:schema` directives bind each kind of file to its schema, and Taplo rejects
//! the corpus cases the schema can see at the same line as plat.
//!
//! Taplo is built by `scripts/taplo/install.sh` (called by `.ci/install-oracles.sh`, which links it into
//! the oracles' bin folder). The tests fail, never skip, when it is missing; `PLAT_TAPLO` may name the
//! binary.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use plat::compile::{SPEC_FILE, Selection, compile};
use plat::diag::Severity;
use plat::spec_schema::{INSTANCE_SCHEMA_FILE, OVERLAY_SCHEMA_FILE, PLATFORM_SCHEMA_FILE};
use plat::world::MemoryWorld;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Taplo binary: `PLAT_TAPLO`, or `taplo` on the PATH. Panics, saying how to install it, when it
/// does not run.
fn taplo() -> PathBuf {
    let bin = std::env::var_os("PLAT_TAPLO").map_or_else(|| PathBuf::from("taplo"), PathBuf::from);
    let runs = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        runs,
        "`{}` does not run: install Taplo with `bash .ci/install-oracles.sh` (or `bash scripts/taplo/install.sh`) \
         and put /opt/plat-oracles/bin on the PATH, or set PLAT_TAPLO",
        bin.display()
    );
    bin
}

/// What one `taplo check` said.
struct Checked {
    accepted: bool,
    output: String,
}

impl Checked {
    /// Each error Taplo reports in `file` (a path as given to Taplo, or its end), in order: its message
    /// and line (one-based). Taplo repeats an error at other parts of the document its instance path
    /// touches (the keys of a table that lacks a key, the first line for an implicit table); the first
    /// place it gives is the value itself, the one an editor underlines first.
    fn errors_in(&self, file: &str) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let mut message: Option<&str> = None;
        for line in self.output.lines() {
            if let Some(text) = line.strip_prefix("error: ") {
                message = Some(text);
                continue;
            }
            let (Some((_, at)), Some(text)) = (line.split_once("┌─ "), message) else {
                continue;
            };
            message = None;
            if let Some(number) = line_of(at.trim(), file) {
                out.push((text.to_string(), number));
            }
        }
        out
    }

    /// Every line Taplo reports an error at in `file`.
    fn lines_in(&self, file: &str) -> BTreeSet<usize> {
        self.errors_in(file)
            .into_iter()
            .map(|(_, line)| line)
            .collect()
    }

    /// The first line of each error message: where Taplo puts the error itself.
    fn first_lines_in(&self, file: &str) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        self.errors_in(file)
            .into_iter()
            .filter(|(message, _)| seen.insert(message.clone()))
            .map(|(_, line)| line)
            .collect()
    }
}

/// The line of `path:line:column` when the path is `file` or ends with it.
fn line_of(at: &str, file: &str) -> Option<usize> {
    let mut parts = at.rsplitn(3, ':');
    let _column = parts.next()?;
    let line = parts.next()?.parse().ok()?;
    let path = parts.next()?;
    (path == file || path.ends_with(&format!("/{file}"))).then_some(line)
}

/// Runs `taplo check` in `dir` with `args`.
fn check(dir: &Path, args: &[&str]) -> Checked {
    let output = Command::new(taplo())
        .current_dir(dir)
        .args(["check", "--colors", "never"])
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run taplo");
    Checked {
        accepted: output.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// Checks `file` (relative to `dir`) against the schema file `schema` of the repository only, without a
/// configuration file.
fn check_with_schema(dir: &Path, file: &str, schema: &str) -> Checked {
    let url = format!("file://{}", root().join(schema).display());
    check(dir, &["--no-auto-config", "--schema", &url, file])
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// The fleets' instance folders of a project (`instances_from`), relative to it.
fn instance_folders(project: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(project.join("platform.toml")).expect("platform.toml");
    let spec: toml::Table = toml::from_str(&text).expect("platform.toml is TOML");
    let fleets = spec.get("fleets").and_then(toml::Value::as_table);
    fleets
        .into_iter()
        .flat_map(|fleets| fleets.values())
        .filter_map(|fleet| fleet.get("instances_from")?.as_str().map(str::to_string))
        .collect()
}

/// Every spec file of the repository and its examples, relative to the repository, with its schema.
fn spec_files() -> Vec<(String, &'static str)> {
    let mut projects = vec![root()];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("platform.toml").is_file())
        .collect();
    examples.sort();
    projects.extend(examples);
    let relative = |p: &Path| {
        p.strip_prefix(root())
            .expect("inside the repository")
            .to_string_lossy()
            .into_owned()
    };
    let mut out = Vec::new();
    for project in &projects {
        out.push((
            relative(&project.join("platform.toml")),
            PLATFORM_SCHEMA_FILE,
        ));
        for overlay in toml_files(&project.join("environments")) {
            out.push((relative(&overlay), OVERLAY_SCHEMA_FILE));
        }
        for folder in instance_folders(project) {
            for instance in toml_files(&project.join(folder)) {
                out.push((relative(&instance), INSTANCE_SCHEMA_FILE));
            }
        }
    }
    out
}

#[test]
fn taplo_accepts_every_spec_file_of_the_repository() {
    let files = spec_files();
    assert!(
        files.iter().any(|(_, s)| *s == INSTANCE_SCHEMA_FILE),
        "the reference platform's tenants are instance files"
    );
    let rejected: Vec<String> = files
        .iter()
        .filter_map(|(file, schema)| {
            let checked = check_with_schema(&root(), file, schema);
            (!checked.accepted).then(|| format!("{file} ({schema}):\n{}", checked.output))
        })
        .collect();
    assert!(
        rejected.is_empty(),
        "Taplo rejects:\n{}",
        rejected.join("\n")
    );
}

/// Run in the repository as an editor would (`.taplo.toml` found by itself, `#:schema` lines read),
/// Taplo checks exactly the spec files and accepts them.
#[test]
fn taplo_with_the_repository_configuration_accepts_the_specs() {
    let checked = check(&root(), &[]);
    assert!(checked.accepted, "{}", checked.output);
}

/// Each kind of spec file reaches its schema without a command-line schema: in a copy of the repository's
/// configuration and schemas, a file of each kind with an unknown key is rejected at that key's line.
#[test]
fn the_configuration_and_directives_bind_each_file_to_its_schema() {
    let dir = std::env::temp_dir().join(format!("plat-taplo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let project = dir.as_path();
    std::fs::create_dir_all(project).expect("temporary folder");
    std::fs::copy(root().join(".taplo.toml"), project.join(".taplo.toml")).expect("copy config");
    std::fs::create_dir_all(project.join("schemas")).expect("schemas/");
    for schema in [
        PLATFORM_SCHEMA_FILE,
        OVERLAY_SCHEMA_FILE,
        INSTANCE_SCHEMA_FILE,
    ] {
        std::fs::copy(root().join(schema), project.join(schema)).expect("copy schema");
    }
    let files = [
        (
            "platform.toml",
            "#:schema ./schemas/platform.schema.json\n[platform]\nname = \"p\"\nnmae = \"q\"\n",
            4,
        ),
        (
            "environments/dev.toml",
            "#:schema ../schemas/overlay.schema.json\n[environment]\nnamespace = \"dev\"\ncontext = \"kind-dev\"\nmonitoring = \"basic\"\nnodez = 1\n",
            6,
        ),
        // An instance file has no directive: onboarding a tenant is one short file.
        ("tenants/acme.toml", "plan = \"pro\"\nplna = \"pro\"\n", 2),
    ];
    for (file, text, _) in &files {
        let path = project.join(file);
        std::fs::create_dir_all(path.parent().expect("folder")).expect("folder");
        std::fs::write(path, text).expect("write");
    }
    let checked = check(project, &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!checked.accepted, "{}", checked.output);
    for (file, _, line) in files {
        assert_eq!(
            checked.first_lines_in(file),
            BTreeSet::from([line]),
            "{file}: {}",
            checked.output
        );
    }
}

// ------------------------------------------------------------------ the corpus: rejected at plat's line

/// Corpus cases whose finding the schema of one file can see: the file, its schema, and the code plat
/// reports there.
const SEEN: &[(&str, &str, &str, &str)] = &[
    (
        "unknown-key-top-level",
        "platform.toml",
        PLATFORM_SCHEMA_FILE,
        "P0101",
    ),
    (
        "unknown-key-in-service",
        "platform.toml",
        PLATFORM_SCHEMA_FILE,
        "P0101",
    ),
    (
        "missing-required-key",
        "platform.toml",
        PLATFORM_SCHEMA_FILE,
        "P0103",
    ),
    ("wrong-type", "platform.toml", PLATFORM_SCHEMA_FILE, "P0102"),
    (
        "replicas-zero-and-negative",
        "platform.toml",
        PLATFORM_SCHEMA_FILE,
        "P0104",
    ),
    (
        "unknown-release-strategy",
        "platform.toml",
        PLATFORM_SCHEMA_FILE,
        "P0104",
    ),
    (
        "unknown-monitoring-level",
        "environments/dev.toml",
        OVERLAY_SCHEMA_FILE,
        "P0104",
    ),
    (
        "overlay-wrong-type",
        "environments/dev.toml",
        OVERLAY_SCHEMA_FILE,
        "P0102",
    ),
    (
        "value-out-of-range",
        "platform.toml",
        PLATFORM_SCHEMA_FILE,
        "P0104",
    ),
    (
        "instance-file-unknown-key",
        "tenants/acme.toml",
        INSTANCE_SCHEMA_FILE,
        "P0101",
    ),
];

/// The lines of `file` where plat's errors for the case point, and those of the errors with `code`.
fn plat_lines(case: &Path, file: &str, code: &str) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let mut world = MemoryWorld::default();
    let mut selection = Selection::All;
    for entry in walkdir::WalkDir::new(case) {
        let entry = entry.expect("entry");
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(case).expect("inside the case");
        let name = relative.to_string_lossy().replace('\\', "/");
        let bytes = std::fs::read(entry.path()).expect("read");
        match name.as_str() {
            "expected.txt" => {}
            "env.txt" => {
                selection = Selection::One(String::from_utf8(bytes).expect("UTF-8").trim().into());
            }
            _ => world = world.with(&name, bytes),
        }
    }
    let compilation = compile(&world, SPEC_FILE, &selection);
    let mut all = BTreeSet::new();
    let mut coded = BTreeSet::new();
    for d in compilation.diagnostics.iter() {
        let Some(label) = d.primary.as_ref().filter(|_| d.severity == Severity::Error) else {
            continue;
        };
        let source = compilation.sources.get(label.origin.file);
        if source.name != file {
            continue;
        }
        let (line, _) = source.line_col(label.origin.start as usize);
        all.insert(line);
        if d.code == code {
            coded.insert(line);
        }
    }
    (all, coded)
}

#[test]
fn taplo_rejects_the_corpus_cases_the_schema_sees_at_plats_line() {
    let mut problems = Vec::new();
    for (case, file, schema, code) in SEEN {
        let dir = root().join("tests/corpus").join(case);
        let (plat_all, plat_coded) = plat_lines(&dir, file, code);
        if plat_coded.is_empty() {
            problems.push(format!("{case}: plat no longer reports {code} in {file}"));
            continue;
        }
        let checked = check_with_schema(&dir, file, schema);
        let (every, first) = (checked.lines_in(file), checked.first_lines_in(file));
        if checked.accepted || every.is_empty() {
            problems.push(format!("{case}: Taplo accepts {file}:\n{}", checked.output));
            continue;
        }
        // Each error where Taplo puts it is a line plat reports, and each of plat's findings of this
        // code is at a line Taplo reports.
        if !first.is_subset(&plat_all) || !plat_coded.is_subset(&every) {
            problems.push(format!(
                "{case}: Taplo reports {file} at lines {first:?} (and {every:?}), plat at {plat_all:?} ({code} at {plat_coded:?}):\n{}",
                checked.output
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
