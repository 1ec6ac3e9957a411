//! The command line: `plat render` and `plat check`. Exit codes: 0 clean, 1 findings or stale output,
//! 2 usage or internal error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::compile::{Compilation, Selection, compile};
use crate::diag::{Severity, render_human};
use crate::emit;
use crate::excerpt::printable;
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
    /// Compare an environment with its cluster: a server-side dry run per object (0 none, 1 differences, 2 error).
    Diff(DiffArgs),
    /// Server-side apply an environment to its cluster, in stages; --prune, --wait, --dry-run.
    Apply(crate::cluster::cmd::ApplyArgs),
    /// Report drift between the spec and the cluster, with who changed each field (0 none, 1 drift, 2 error).
    Drift(crate::cluster::cmd::DriftArgs),
    /// Print the least-privilege Role/ClusterRole (and bindings for --subject) a pipeline needs for diff, apply, prune and drift.
    Rbac(crate::cluster::cmd::RbacArgs),
    /// Write the editor schemas (schemas/*.schema.json) from the spec readers; --check fails when stale.
    Schema(SchemaArgs),
    /// Show where an object comes from: its spec entry, each patch applied in order, the final object.
    Explain(ExplainArgs),
}

/// `plat explain KIND/NAME`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The object, as KIND/NAME (e.g. Deployment/web).
    #[arg(value_name = "KIND/NAME")]
    pub object: String,
    /// Only this environment [default: every environment].
    #[arg(long, short, value_name = "ENV")]
    pub env: Option<String>,
    /// The platform spec; its folder is the project root that holds environments/.
    #[arg(long, value_name = "FILE", default_value = "platform.toml")]
    pub spec: PathBuf,
}

/// `plat schema`: the JSON schemas that `#:schema` lines in the spec files point editors to.
#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// The project root: the schemas go to <DIR>/schemas/.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
    /// Write nothing; exit 1 when the files differ from what this plat generates.
    #[arg(long)]
    pub check: bool,
}

/// `plat diff`: against the cluster (the environment's context).
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The environment: required against a cluster; with --base, only this environment.
    #[arg(long, short, value_name = "ENV")]
    pub env: Option<String>,
    /// Preview a pull request instead: render the spec at this git revision and in the working tree
    /// and diff the generated outputs (no cluster).
    #[arg(long, value_name = "REF", conflicts_with_all = ["kubeconfig", "context", "allow_context_mismatch"])]
    pub base: Option<String>,
    /// The platform spec; its folder is the project root that holds environments/.
    #[arg(long, value_name = "FILE", default_value = "platform.toml")]
    pub spec: PathBuf,
    #[command(flatten)]
    pub connection: crate::cluster::cmd::ConnectionArgs,
}

impl DiffArgs {
    /// The cluster flags, when the diff is against a cluster.
    fn cluster(&self) -> Option<crate::cluster::cmd::ClusterArgs> {
        Some(crate::cluster::cmd::ClusterArgs {
            env: self.env.clone()?,
            spec: self.spec.clone(),
            connection: self.connection.clone(),
        })
    }
}

#[derive(Args, Debug)]
pub struct Target {
    /// Only this environment (the name of a file in environments/, without .toml).
    #[arg(long, short, value_name = "ENV", conflicts_with = "all", value_parser = clap::builder::NonEmptyStringValueParser::new())]
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
    /// How findings are printed: for people, as one JSON document, or as GitHub Actions annotations.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Github,
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
        Command::Diff(args) => match (&args.base, args.cluster()) {
            (Some(base), _) => preview(base, &args),
            (None, Some(cluster)) => crate::cluster::cmd::run_diff(&cluster),
            (None, None) => {
                eprintln!(
                    "plat diff: give --env ENV (against its cluster) or --base REF (a preview of the generated output)"
                );
                EXIT_ERROR
            }
        },
        Command::Apply(args) => crate::cluster::cmd::run_apply(&args),
        Command::Drift(args) => crate::cluster::cmd::run_drift(&args),
        Command::Rbac(args) => crate::cluster::cmd::run_rbac(&args),
        Command::Schema(args) => schema(&args),
        Command::Explain(args) => explain(&args),
    };
    ExitCode::from(code)
}

fn schema(args: &SchemaArgs) -> u8 {
    let schemas = match crate::spec_schema::spec_schemas() {
        Ok(schemas) => schemas,
        Err(problems) => {
            eprintln!(
                "error: the schemas cannot be generated:\n{}",
                problems.join("\n")
            );
            return EXIT_ERROR;
        }
    };
    if args.check {
        let stale = schemas.stale(&args.root);
        for file in &stale {
            eprintln!("stale: {file} (run `plat schema`)");
        }
        return if stale.is_empty() {
            EXIT_CLEAN
        } else {
            EXIT_FINDINGS
        };
    }
    match schemas.write(&args.root) {
        Ok(()) => EXIT_CLEAN,
        Err(err) => {
            eprintln!(
                "error: cannot write the schemas under {}: {err}",
                args.root.display()
            );
            EXIT_ERROR
        }
    }
}

fn explain(args: &ExplainArgs) -> u8 {
    let (kind, name) = match crate::explain::parse_object(&args.object) {
        Ok(parts) => parts,
        Err(err) => {
            eprintln!("plat explain: {err}");
            return EXIT_ERROR;
        }
    };
    let target = Target {
        env: args.env.clone(),
        all: false,
        spec: args.spec.clone(),
        out: None,
        format: Format::Human,
    };
    let world = FsWorld::new(target.root());
    let explanation = crate::explain::explain(
        &world,
        &target.spec_name(),
        &kind,
        &name,
        args.env.as_deref(),
    );
    for compilation in &explanation.compilations {
        if compilation.has_errors() {
            report(compilation, &target);
        }
    }
    print!("{}", explanation.text);
    if explanation.found {
        EXIT_CLEAN
    } else {
        EXIT_FINDINGS
    }
}

fn compile_target(target: &Target) -> Compilation {
    let world = FsWorld::new(target.root());
    compile(&world, &target.spec_name(), &target.selection())
}

fn report(compilation: &Compilation, target: &Target) {
    let format = target.format;
    let diagnostics = &compilation.diagnostics;
    if diagnostics.is_empty() || format == Format::Json {
        return;
    }
    let text = match format {
        Format::Github => crate::report::github(&compilation.sources, diagnostics, &target.root()),
        _ => render_human(&compilation.sources, diagnostics),
    };
    let count = |s: Severity| diagnostics.iter().filter(|d| d.severity == s).count();
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "{text}");
    let _ = writeln!(
        stderr,
        "{}",
        summary(
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Waived)
        )
    );
}

/// Exit 1 for findings in the spec, 2 when the input itself could not be had.
fn findings_exit(compilation: &Compilation) -> u8 {
    if compilation.is_usage_error() {
        EXIT_ERROR
    } else {
        EXIT_FINDINGS
    }
}

fn summary(errors: usize, warnings: usize, waived: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "plat: {}, {}, {waived} waived",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

fn render(target: &Target) -> u8 {
    let compilation = compile_target(target);
    report(&compilation, target);
    if target.format == Format::Json {
        print_json(&compilation, serde_json::json!({}));
    }
    if compilation.has_errors() {
        eprintln!("plat: nothing written; generated/ is unchanged");
        return findings_exit(&compilation);
    }
    let out = target.out_dir();
    if let Err(err) = emit::write_all(&out, &compilation.outputs) {
        eprintln!(
            "plat: cannot write {}: {}",
            printable(&out.display().to_string()),
            printable(&err.to_string())
        );
        return EXIT_ERROR;
    }
    let mut stdout = std::io::stdout().lock();
    for (env, files) in &compilation.outputs {
        let _ = writeln!(
            stdout,
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
    report(&compilation, target);
    if compilation.has_errors() {
        if target.format == Format::Json {
            print_json(&compilation, serde_json::json!({}));
        }
        return findings_exit(&compilation);
    }
    let out = target.out_dir();
    let mut stale_envs = serde_json::Map::new();
    let mut stdout = std::io::stdout().lock();
    for (env, files) in &compilation.outputs {
        let staleness = match emit::compare(&out, env, files) {
            Ok(s) => s,
            Err(err) => {
                eprintln!("plat: cannot read {}: {err}", out.join(env).display());
                return EXIT_ERROR;
            }
        };
        let text = match target.format {
            Format::Human => staleness_human(env, files.files.len(), &staleness),
            Format::Github => staleness_github(env, &staleness),
            Format::Json => String::new(),
        };
        let _ = write!(stdout, "{text}");
        if !staleness.is_clean() {
            stale_envs.insert(env.clone(), staleness_json(&staleness));
        }
    }
    if target.env.is_none() {
        let rendered: Vec<String> = compilation.outputs.iter().map(|(e, _)| e.clone()).collect();
        match emit::orphans(&out, &rendered) {
            Ok(orphans) => {
                for env in orphans {
                    let _ = write!(stdout, "{}", orphan_text(&env, target.format));
                    stale_envs.insert(env, serde_json::json!({ "orphaned": true }));
                }
            }
            Err(err) => {
                eprintln!(
                    "plat: cannot read {}: {err}",
                    printable(&out.display().to_string())
                );
                return EXIT_ERROR;
            }
        }
    }
    let stale = !stale_envs.is_empty();
    if target.format == Format::Json {
        print_json(&compilation, serde_json::Value::Object(stale_envs));
    } else if stale {
        let _ = writeln!(stdout, "run `plat render` and commit generated/");
    }
    if stale || compilation.has_findings() {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }
}

fn staleness_human(env: &str, count: usize, staleness: &emit::Staleness) -> String {
    if staleness.is_clean() {
        return format!("{env}: up to date ({count} files)\n");
    }
    let mut out = format!(
        "{env}: generated/ is stale: {} changed, {} missing, {} not produced by the spec\n",
        staleness.changed.len(),
        staleness.missing.len(),
        staleness.extra.len()
    );
    for path in &staleness.missing {
        out.push_str(&format!("  missing: generated/{env}/{path}\n"));
    }
    for path in &staleness.extra {
        out.push_str(&format!(
            "  not produced by the spec: generated/{env}/{path}\n"
        ));
    }
    for (_, diff) in &staleness.changed {
        out.push_str(diff);
    }
    out
}

/// A folder of generated/ that no overlay renders.
fn orphan_text(env: &str, format: Format) -> String {
    let env = printable(env);
    let what = format!(
        "generated/{env}/ is not rendered by any overlay (there is no `environments/{env}.toml`); delete the folder"
    );
    match format {
        Format::Human => format!("{what}\n"),
        Format::Github => crate::report::github_stale(
            &format!("generated/{env}"),
            "is not rendered by any overlay; delete it",
        ),
        Format::Json => String::new(),
    }
}

fn staleness_github(env: &str, staleness: &emit::Staleness) -> String {
    let annotate = |path: &String, what: &str| {
        crate::report::github_stale(&format!("generated/{env}/{path}"), what)
    };
    let changed = staleness
        .changed
        .iter()
        .map(|(p, _)| annotate(p, "differs from what the spec renders"));
    let missing = staleness.missing.iter().map(|p| annotate(p, "is missing"));
    let extra = staleness
        .extra
        .iter()
        .map(|p| annotate(p, "is not produced by the spec"));
    changed.chain(missing).chain(extra).collect()
}

fn staleness_json(staleness: &emit::Staleness) -> serde_json::Value {
    serde_json::json!({
        "changed": staleness.changed.iter().map(|(p, diff)| serde_json::json!({ "path": p, "diff": diff })).collect::<Vec<_>>(),
        "missing": staleness.missing,
        "extra": staleness.extra,
    })
}

/// One JSON document on stdout: the findings and, for `check`, the stale files per environment.
fn print_json(compilation: &Compilation, stale: serde_json::Value) {
    let mut report = crate::report::json_report(&compilation.sources, &compilation.diagnostics);
    report["environments"] = compilation
        .outputs
        .iter()
        .map(|(env, _)| serde_json::json!(env))
        .collect();
    report["stale"] = stale;
    let _ = writeln!(
        std::io::stdout().lock(),
        "{}",
        crate::report::json_text(&report)
    );
}

/// `plat diff --base REF`: what the working tree changes in generated/ compared with REF.
fn preview(base: &str, args: &DiffArgs) -> u8 {
    let target = Target {
        env: args.env.clone(),
        all: false,
        spec: args.spec.clone(),
        out: None,
        format: Format::Human,
    };
    let selection = target.selection();
    let head = compile_target(&target);
    report(&head, &target);
    if head.has_errors() {
        return EXIT_FINDINGS;
    }
    let before =
        match crate::preview::compile_at(&target.root(), base, &target.spec_name(), &selection) {
            Ok(c) => c,
            Err(err) => {
                eprintln!("plat diff: {err}");
                return EXIT_ERROR;
            }
        };
    if before.has_errors() {
        eprintln!(
            "plat diff: note: the spec at {base} does not compile; its environments count as empty"
        );
    }
    let (text, changed) = crate::preview::preview(&before, &head, &selection);
    let _ = write!(std::io::stdout().lock(), "{text}");
    if changed { EXIT_FINDINGS } else { EXIT_CLEAN }
}

fn display_dir(path: &Path) -> String {
    path.display().to_string()
}
