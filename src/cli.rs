//! The command line: `plat render` and `plat check`. Exit codes: 0 clean, 1 findings or stale output,
//! 2 usage or internal error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::compile::{Compilation, Selection, compile};
use crate::diag::{Severity, render_human};
use crate::emit;
use crate::world::FsWorld;

#[derive(Parser, Debug)]
#[command(
    name = "plat",
    version,
    about = "Compile one typed platform spec into Kubernetes manifests, per environment",
    long_about = "plat reads `platform.toml` and one overlay per environment in `environments/`, checks \
                  them, and writes `generated/<env>/`: Kubernetes manifests and a kustomization.\n\n\
                  Exit codes: 0 clean, 1 findings or stale output, 2 usage or internal error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Render the spec into generated/<env>/ (all environments unless --env is given).
    Render(Target),
    /// Validate the spec, render in memory and fail when generated/ differs (prints a unified diff).
    Check(Target),
}

#[derive(Args, Debug)]
pub struct Target {
    /// Only this environment (the name of a file in environments/, without .toml).
    #[arg(long, short, value_name = "ENV", conflicts_with = "all")]
    pub env: Option<String>,
    /// Every environment in environments/ (the default).
    #[arg(long)]
    pub all: bool,
    /// The platform spec; its folder is the project root that holds environments/.
    #[arg(long, value_name = "FILE", default_value = "platform.toml")]
    pub spec: PathBuf,
    /// Where the output goes [default: generated/ next to the spec].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl Target {
    fn selection(&self) -> Selection {
        match &self.env {
            Some(env) => Selection::One(env.clone()),
            None => Selection::All,
        }
    }

    fn root(&self) -> PathBuf {
        match self.spec.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn spec_name(&self) -> String {
        self.spec.file_name().map_or_else(
            || "platform.toml".into(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    fn out_dir(&self) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| self.root().join("generated"))
    }
}

pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

pub fn run(cli: Cli) -> ExitCode {
    let code = match cli.command {
        Command::Render(target) => render(&target),
        Command::Check(target) => check(&target),
    };
    ExitCode::from(code)
}

fn compile_target(target: &Target) -> Compilation {
    let world = FsWorld::new(target.root());
    compile(&world, &target.spec_name(), &target.selection())
}

fn report(compilation: &Compilation) {
    if compilation.diagnostics.is_empty() {
        return;
    }
    let text = render_human(&compilation.sources, &compilation.diagnostics);
    let errors = compilation
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = compilation.diagnostics.len() - errors;
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "{text}");
    let _ = writeln!(stderr, "{}", summary(errors, warnings));
}

fn summary(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "plat: {}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

fn render(target: &Target) -> u8 {
    let compilation = compile_target(target);
    report(&compilation);
    if compilation.has_errors() {
        eprintln!("plat: nothing written; generated/ is unchanged");
        return EXIT_FINDINGS;
    }
    let out = target.out_dir();
    if let Err(err) = emit::write_all(&out, &compilation.outputs) {
        eprintln!("plat: cannot write {}: {err}", out.display());
        return EXIT_ERROR;
    }
    for (env, files) in &compilation.outputs {
        println!(
            "rendered {env}: {} files, {} bytes in {}",
            files.files.len(),
            files.total_bytes(),
            display_dir(&out.join(env))
        );
    }
    EXIT_CLEAN
}

fn check(target: &Target) -> u8 {
    let compilation = compile_target(target);
    report(&compilation);
    if compilation.has_errors() {
        return EXIT_FINDINGS;
    }
    let out = target.out_dir();
    let mut stale = false;
    let mut stdout = std::io::stdout().lock();
    for (env, files) in &compilation.outputs {
        let staleness = match emit::compare(&out, env, files) {
            Ok(s) => s,
            Err(err) => {
                eprintln!("plat: cannot read {}: {err}", out.join(env).display());
                return EXIT_ERROR;
            }
        };
        if staleness.is_clean() {
            let _ = writeln!(stdout, "{env}: up to date ({} files)", files.files.len());
            continue;
        }
        stale = true;
        let _ = writeln!(
            stdout,
            "{env}: generated/ is stale: {} changed, {} missing, {} not produced by the spec",
            staleness.changed.len(),
            staleness.missing.len(),
            staleness.extra.len()
        );
        for path in &staleness.missing {
            let _ = writeln!(stdout, "  missing: generated/{env}/{path}");
        }
        for path in &staleness.extra {
            let _ = writeln!(stdout, "  not produced by the spec: generated/{env}/{path}");
        }
        for (_, diff) in &staleness.changed {
            let _ = write!(stdout, "{diff}");
        }
    }
    if stale {
        let _ = writeln!(stdout, "run `plat render` and commit generated/");
    }
    if stale || !compilation.diagnostics.is_empty() {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }
}

fn display_dir(path: &Path) -> String {
    path.display().to_string()
}
