//! A bounded, seeded mutation fuzz of the whole front end (load → merge → read → validate, and lower
//! and render when a mutant still compiles), with every output format rendered: no input may make plat
//! panic. It runs in `cargo test` for a fixed budget, so CI runs it on every change.
//!
//! Seeds: the repository's `platform.toml` with its `dev` overlay, `examples/minimal/`, and every file
//! of `tests/fuzz-corpus/` (inputs that once found a bug, or reach a guard: each is first compiled as
//! it is, then mutated). Each mutant applies one to three edits (cut, duplicate or swap lines, insert
//! a hostile token, replace a value) to the spec or the overlay.
//!
//! `PLAT_FUZZ_ITERATIONS` (default 300) and `PLAT_FUZZ_SEED` (default fixed) change the budget and the
//! run; a panicking mutant is written to `target/tmp/fuzz-failures/` to be added to the corpus.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use plat::compile::{SPEC_FILE, Selection, compile};
use plat::diag::render_human;
use plat::world::MemoryWorld;

const DEFAULT_ITERATIONS: u64 = 500;
const DEFAULT_SEED: u64 = 0x5eed_0f91_a7e5;
const OVERLAY: &str = "environments/dev.toml";

/// Tokens that break TOML or reach plat's guards and value rules.
const TOKENS: &[&str] = &[
    "\"",
    "'",
    "\"\"\"",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    ".",
    ",",
    "\n",
    "#",
    "\\",
    "\\u",
    "\u{0}",
    "\u{1b}[2J",
    "\u{85}",
    "é",
    "\u{fffd}",
    "-",
    "_",
    " ",
    "\t",
    "\r",
    "0",
    "-1",
    "9223372036854775808",
    "1e400",
    "-0.0",
    "nan",
    "inf",
    "0x",
    "1979-05-27T07:32:00Z",
    "true",
    "a.b.c.d.e.f.g.h",
    "\"a.b\".\"c.d\"",
    "[remove]",
    "[[waivers]]",
    "services",
    "tenants",
    "environment",
    "latest",
    "@sha256:",
    "ghcr.io/A/b:1+2",
    "150%",
    "30 seconds",
    "/33",
    "http://",
    "*/5 * * * *",
    "MON-FRI",
    "@daily",
];

/// Values that stress the readers: wrong types, extremes, hostile strings.
const VALUES: &[&str] = &[
    "\"\"",
    "0",
    "-1",
    "1.5",
    "true",
    "[]",
    "{}",
    "[1, \"a\"]",
    "{ a = 1 }",
    "\"x y\"",
    "\"UPPER\"",
    "\"a_b\"",
    "\"fifty\"",
    "\"150%\"",
    "\"30 seconds\"",
    "\"10.0.0.0/33\"",
    "\"http://host\"",
    "\"ghcr.io/A/b:1\"",
    "\"x@sha256:\"",
    "\"0 0 * * MON\"",
    "\"@weekly\"",
    "9223372036854775807",
    "1e308",
    "\"\\u0000\"",
    "1979-05-27",
];

/// splitmix64: small, seeded, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// A project to mutate: the spec and the `dev` overlay.
#[derive(Clone)]
struct Project {
    name: String,
    spec: Vec<u8>,
    overlay: Vec<u8>,
}

impl Project {
    fn world(&self) -> MemoryWorld {
        MemoryWorld::default()
            .with(SPEC_FILE, self.spec.clone())
            .with(OVERLAY, self.overlay.clone())
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The seeds: the reference platform, the minimal example and the corpus (each a spec, with the
/// minimal example's overlay).
fn seeds() -> Vec<Project> {
    let minimal = repo().join("examples/minimal");
    let minimal_overlay = read(&minimal.join(OVERLAY));
    let mut projects = vec![
        Project {
            name: "platform.toml".into(),
            spec: read(&repo().join(SPEC_FILE)),
            overlay: read(&repo().join(OVERLAY)),
        },
        Project {
            name: "examples/minimal".into(),
            spec: read(&minimal.join(SPEC_FILE)),
            overlay: minimal_overlay.clone(),
        },
    ];
    let corpus = repo().join("tests/fuzz-corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .expect("tests/fuzz-corpus/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in tests/fuzz-corpus/");
    for file in files {
        projects.push(Project {
            name: format!(
                "tests/fuzz-corpus/{}",
                file.file_name().unwrap().to_string_lossy()
            ),
            spec: read(&file),
            overlay: minimal_overlay.clone(),
        });
    }
    projects
}

/// Line boundaries (start offsets) of a text.
fn line_starts(bytes: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect()
}

/// One random edit of `bytes`.
fn mutate(bytes: &mut Vec<u8>, rng: &mut Rng) {
    let at = rng.below(bytes.len() + 1);
    match rng.below(7) {
        0 => bytes
            .splice(at..at, rng.pick(TOKENS).bytes())
            .for_each(drop),
        1 => {
            let end = (at + rng.below(64)).min(bytes.len());
            bytes.drain(at..end);
        }
        2 => bytes.truncate(at),
        3 => {
            // Replace the value after an `=` on a random line.
            let starts = line_starts(bytes);
            let line = starts[rng.below(starts.len())];
            let end = bytes[line..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(bytes.len(), |p| line + p);
            if let Some(eq) = bytes[line..end].iter().position(|b| *b == b'=') {
                let value = format!(" {}", rng.pick(VALUES));
                bytes
                    .splice(line + eq + 1..end, value.bytes())
                    .for_each(drop);
            }
        }
        4 => {
            // Duplicate a line: repeated keys and tables.
            let starts = line_starts(bytes);
            let i = rng.below(starts.len());
            let end = starts.get(i + 1).copied().unwrap_or(bytes.len());
            let line = bytes[starts[i]..end].to_vec();
            bytes.splice(end..end, line).for_each(drop);
        }
        5 => {
            // A very long value: columns past what a terminal or a format width can hold.
            let long = format!("\"{}\"", "x".repeat(66_000 + rng.below(8_000)));
            bytes.splice(at..at, long.bytes()).for_each(drop);
        }
        _ => {
            // Move a line elsewhere: keys land in other tables.
            let starts = line_starts(bytes);
            let i = rng.below(starts.len());
            let end = starts.get(i + 1).copied().unwrap_or(bytes.len());
            let line: Vec<u8> = bytes.drain(starts[i]..end).collect();
            let to = rng.below(bytes.len() + 1);
            bytes.splice(to..to, line).for_each(drop);
        }
    }
}

fn mutant(seed: &Project, rng: &mut Rng) -> Project {
    let mut project = seed.clone();
    for _ in 0..1 + rng.below(3) {
        if rng.below(4) == 0 {
            mutate(&mut project.overlay, rng);
        } else {
            mutate(&mut project.spec, rng);
        }
    }
    project
}

/// Compiles and renders the findings in every format; `Err` with the panic message if anything panicked.
fn run(project: &Project) -> Result<(), String> {
    let world = project.world();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let compilation = compile(&world, SPEC_FILE, &Selection::One("dev".into()));
        let human = render_human(&compilation.sources, &compilation.diagnostics);
        let json = plat::report::json_report(&compilation.sources, &compilation.diagnostics);
        let github = plat::report::github(
            &compilation.sources,
            &compilation.diagnostics,
            Path::new("."),
        );
        (
            human.len(),
            plat::report::json_text(&json).len(),
            github.len(),
        )
    }));
    outcome.map(drop).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

fn keep_failure(project: &Project, iteration: u64) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("mutant-{iteration}.toml"));
    std::fs::write(&path, &project.spec).unwrap();
    std::fs::write(
        dir.join(format!("mutant-{iteration}.overlay.toml")),
        &project.overlay,
    )
    .unwrap();
    path
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn the_corpus_as_it_is_never_panics() {
    let failures: Vec<String> = seeds()
        .iter()
        .filter_map(|p| run(p).err().map(|why| format!("{}: {why}", p.name)))
        .collect();
    assert!(failures.is_empty(), "panics:\n{}", failures.join("\n"));
}

#[test]
fn seeded_mutants_never_panic() {
    let iterations = env_u64("PLAT_FUZZ_ITERATIONS", DEFAULT_ITERATIONS);
    let seed = env_u64("PLAT_FUZZ_SEED", DEFAULT_SEED);
    let seeds = seeds();
    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    for iteration in 0..iterations {
        let project = mutant(&seeds[rng.below(seeds.len())], &mut rng);
        if let Err(why) = run(&project) {
            let kept = keep_failure(&project, iteration);
            failures.push(format!(
                "iteration {iteration} (seed {seed}): {why}; input in {}",
                kept.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {iterations} mutants panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
