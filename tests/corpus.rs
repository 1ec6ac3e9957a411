//! The corpus of broken specs: every folder `tests/corpus/<case>/` is a small project
//! (`platform.toml`, `environments/*.toml`) that plat must reject, with `expected.txt` holding the
//! exact diagnostics it renders (`plat::diag::render_human`) and nothing else. A case compiles every
//! environment, or only the one named in its optional `env.txt`.
//!
//! To write or update the expected files after an intended change of the messages, run
//!
//!     PLAT_BLESS=1 cargo test --test corpus
//!
//! and review the diff of `tests/corpus/` before committing. Without `PLAT_BLESS=1` a case without
//! `expected.txt` fails: a new case must be blessed, and its output read, on purpose.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use plat::compile::{Compilation, SPEC_FILE, Selection, compile};
use plat::diag::{Severity, render_human};
use plat::world::MemoryWorld;

const EXPECTED: &str = "expected.txt";
const ENV_FILE: &str = "env.txt";
/// Truncation step of the fuzz test: a prime, so that cuts fall at varied places in each line.
const CUT_STEP: usize = 37;

/// One case folder: its project files (paths relative to the folder, `/`-separated, as bytes so
/// that non-UTF-8 input survives) and what to compile.
struct Case {
    name: String,
    dir: PathBuf,
    files: Vec<(String, Vec<u8>)>,
    selection: Selection,
}

impl Case {
    fn load(dir: PathBuf) -> Case {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut files = Vec::new();
        let mut selection = Selection::All;
        for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
            let entry = entry.unwrap();
            if !entry.file_type().is_file() {
                continue;
            }
            let relative = relative_path(&dir, entry.path());
            let bytes = std::fs::read(entry.path()).unwrap();
            match relative.as_str() {
                EXPECTED => {}
                ENV_FILE => {
                    let env = String::from_utf8(bytes).unwrap().trim().to_string();
                    selection = Selection::One(env);
                }
                _ => files.push((relative, bytes)),
            }
        }
        Case {
            name,
            dir,
            files,
            selection,
        }
    }

    fn world(&self) -> MemoryWorld {
        self.world_with(None)
    }

    /// The project, with one file optionally replaced (for the truncation fuzz).
    fn world_with(&self, replace: Option<(&str, &[u8])>) -> MemoryWorld {
        self.files.iter().fold(
            MemoryWorld::default(),
            |world, (path, bytes)| match replace {
                Some((p, b)) if p == path => world.with(path, b),
                _ => world.with(path, bytes.as_slice()),
            },
        )
    }

    fn compile(&self, world: &MemoryWorld) -> Compilation {
        compile(world, SPEC_FILE, &self.selection)
    }
}

fn relative_path(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap();
    let parts: Vec<_> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no cases in {}", root.display());
    dirs.into_iter().map(Case::load).collect()
}

fn blessing() -> bool {
    std::env::var("PLAT_BLESS").is_ok_and(|v| v == "1")
}

/// Checks one case; returns why it failed, if it did.
fn check_case(case: &Case) -> Result<(), String> {
    let compilation = case.compile(&case.world());
    if !compilation
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Error)
    {
        return Err("compiled without errors; a corpus case must be rejected".into());
    }
    let actual = render_human(&compilation.sources, &compilation.diagnostics);
    let path = case.dir.join(EXPECTED);
    if blessing() {
        std::fs::write(&path, &actual).unwrap();
        return Ok(());
    }
    let expected = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {EXPECTED} ({e}); run with PLAT_BLESS=1 to write it"))?;
    if expected == actual {
        return Ok(());
    }
    Err(format!(
        "rendered diagnostics differ from {EXPECTED} (PLAT_BLESS=1 rewrites it):\n{}",
        similar::TextDiff::from_lines(&expected, &actual)
            .unified_diff()
            .header("expected", "actual")
    ))
}

/// Runs every case before failing, so that one run shows every broken case.
#[test]
fn corpus_cases_render_their_expected_diagnostics() {
    let failures: Vec<String> = cases()
        .iter()
        .filter_map(|case| {
            check_case(case)
                .err()
                .map(|why| format!("case `{}`: {why}", case.name))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A cheap fuzz: every prefix of every input file (the overlays and `platform.toml`), cut every
/// `CUT_STEP` bytes so that cuts split UTF-8 characters and TOML tokens, must compile and render its
/// diagnostics without panicking.
#[test]
fn truncated_inputs_never_panic() {
    let mut panics = Vec::new();
    for case in cases() {
        for (path, bytes) in &case.files {
            for cut in (0..bytes.len()).step_by(CUT_STEP) {
                let world = case.world_with(Some((path, &bytes[..cut])));
                let run = || {
                    let compilation = case.compile(&world);
                    render_human(&compilation.sources, &compilation.diagnostics)
                };
                if catch_unwind(AssertUnwindSafe(run)).is_err() {
                    panics.push(format!("case `{}`: {path} cut at byte {cut}", case.name));
                }
            }
        }
    }
    assert!(
        panics.is_empty(),
        "compile panicked:\n{}",
        panics.join("\n")
    );
}
