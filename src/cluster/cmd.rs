//! The command-line side of the cluster stage: arguments, the runtime, exit codes, output.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::apply::{self, ApplyOptions};
use super::connect::{self, Connection, ContextSource};
use super::{Environment, Error, LoadError, diff, drift, load_environment, rbac, report};
use crate::diag::render_human;
use crate::world::FsWorld;

pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_DIFFERENCES: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// Which environment, which spec, which cluster.
#[derive(Args, Debug, Clone)]
pub struct ClusterArgs {
    /// The environment (the name of a file in environments/, without .toml).
    #[arg(long, short, value_name = "ENV")]
    pub env: String,
    /// The platform spec; its folder is the project root that holds environments/.
    #[arg(long, value_name = "FILE", default_value = "platform.toml")]
    pub spec: PathBuf,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// How to reach the cluster.
#[derive(Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// The kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]. The in-cluster config is
    /// never used implicitly.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kube context [default: the environment's `[environment] context`].
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Allow a --context other than the one the environment declares.
    #[arg(long)]
    pub allow_context_mismatch: bool,
    /// How many requests run at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

#[derive(Args, Debug, Clone)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Delete objects plat applied before that the spec no longer has (ApplySet members only).
    #[arg(long)]
    pub prune: bool,
    /// With --prune, also delete Namespaces, CRDs and PersistentVolumeClaims.
    #[arg(long, requires = "prune")]
    pub prune_protected: bool,
    /// Wait until the applied workloads are ready.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, e.g. 300s, 5m.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Take back fields that another field manager changed (a person's `kubectl edit`, another
    /// tool). Without it such a conflict stops the apply and names the fields and managers.
    #[arg(long)]
    pub force_conflicts: bool,
    /// Delete and create again an object whose change the server makes only to a new object (an
    /// immutable field, e.g. a Service's cluster IP or a StatefulSet's claim templates). Never a
    /// Namespace, claim, CRD or custom resource; controllers keep their pods when the new object
    /// adopts them.
    #[arg(long)]
    pub replace: bool,
    /// Show what would be applied (server-side dry run); change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How often readiness is polled, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000, hide = true)]
    pub poll_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DriftFormat {
    Human,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct DriftArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DriftFormat::Human)]
    pub format: DriftFormat,
}

/// `plat rbac`: only the spec is read; no cluster is contacted.
#[derive(Args, Debug, Clone)]
pub struct RbacArgs {
    /// The environment (the name of a file in environments/, without .toml).
    #[arg(long, short, value_name = "ENV")]
    pub env: String,
    /// The platform spec; its folder is the project root that holds environments/.
    #[arg(long, value_name = "FILE", default_value = "platform.toml")]
    pub spec: PathBuf,
    /// Also print the Namespaces and the bindings for this identity: User:NAME, Group:NAME or
    /// ServiceAccount:NAMESPACE/NAME.
    #[arg(long, value_name = "SUBJECT", value_parser = rbac::Subject::parse)]
    pub subject: Option<rbac::Subject>,
}

/// `300`, `300s`, `5m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 300s or 5m"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (use s, m or h)")),
    };
    Ok(Duration::from_secs(secs))
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error(format!("cannot start the async runtime: {e}")))
}

fn root_and_spec(spec: &Path) -> (PathBuf, String) {
    let root = match spec.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = spec.file_name().map_or_else(
        || "platform.toml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    (root, name)
}

/// Compiles the environment, or prints why not.
fn load(args: &ClusterArgs) -> Option<Environment> {
    let (root, spec) = root_and_spec(&args.spec);
    match load_environment(&FsWorld::new(root), &spec, &args.env) {
        Ok(env) => Some(env),
        Err(LoadError::Findings(c)) => {
            eprint!("{}", render_human(&c.sources, &c.diagnostics));
            eprintln!("plat: the spec has errors; nothing was sent to the cluster");
            None
        }
        Err(LoadError::Other(e)) => {
            eprintln!("plat: {e}");
            None
        }
    }
}

/// Chooses the context, connects and prints where plat is connected, before any request.
async fn open(command: &str, args: &ClusterArgs, env: &Environment) -> Result<Connection, Error> {
    let (context, source) = connect::choose_context(
        &env.context,
        args.connection.context.as_deref(),
        args.connection.allow_context_mismatch,
        &env.name,
    )?;
    let conn = connect::connect(args.connection.kubeconfig.as_deref(), &context).await?;
    eprintln!(
        "{}{}",
        report::header(
            command,
            &env.name,
            &conn.context,
            &conn.server,
            &env.namespace
        ),
        match source {
            ContextSource::Environment => " (context from the environment)",
            ContextSource::Flag if context != env.context =>
                " (--context, differs from the environment's)",
            ContextSource::Flag => "",
        }
    );
    Ok(conn)
}

fn print_errors(errors: &[String]) {
    for e in errors {
        eprintln!("error: {e}");
    }
}

pub fn run_diff(args: &ClusterArgs) -> u8 {
    let Some(env) = load(args) else {
        return EXIT_ERROR;
    };
    let result = runtime().and_then(|rt| {
        rt.block_on(async {
            let conn = open("diff", args, &env).await?;
            let mut stdout = std::io::stdout().lock();
            diff::run(
                &conn,
                &env,
                usize::from(args.connection.concurrency),
                &mut stdout,
            )
            .await
        })
    });
    super::drop_in_background(env);
    match result {
        Ok((_, errors)) if !errors.is_empty() => {
            print_errors(&errors);
            EXIT_ERROR
        }
        Ok((counts, _)) if counts.differs() => EXIT_DIFFERENCES,
        Ok(_) => EXIT_CLEAN,
        Err(e) => {
            eprintln!("plat: {e}");
            EXIT_ERROR
        }
    }
}

pub fn run_drift(args: &DriftArgs) -> u8 {
    let Some(env) = load(&args.cluster) else {
        return EXIT_ERROR;
    };
    let result = runtime().and_then(|rt| {
        rt.block_on(async {
            let conn = open("drift", &args.cluster, &env).await?;
            drift::run(
                &conn,
                &env,
                usize::from(args.cluster.connection.concurrency),
            )
            .await
        })
    });
    super::drop_in_background(env);
    let drift = match result {
        Ok(d) => d,
        Err(e) => {
            eprintln!("plat: {e}");
            return EXIT_ERROR;
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = match args.format {
        DriftFormat::Human => write!(stdout, "{}", report::drift_text(&drift)),
        DriftFormat::Json => writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&drift).unwrap_or_else(|_| "{}".into())
        ),
    };
    print_errors(&drift.errors);
    if !drift.errors.is_empty() {
        EXIT_ERROR
    } else if drift.has_drift() {
        EXIT_DIFFERENCES
    } else {
        EXIT_CLEAN
    }
}

pub fn run_apply(args: &ApplyArgs) -> u8 {
    let Some(env) = load(&args.cluster) else {
        return EXIT_ERROR;
    };
    let opts = ApplyOptions {
        prune: args.prune,
        prune_protected: args.prune_protected,
        wait: args.wait,
        timeout: args.timeout,
        dry_run: args.dry_run,
        concurrency: usize::from(args.cluster.connection.concurrency),
        poll: Duration::from_millis(args.poll_ms.max(10)),
        force_conflicts: args.force_conflicts,
        progress: std::io::IsTerminal::is_terminal(&std::io::stdout()),
        replace: args.replace,
    };
    let result = runtime().and_then(|rt| {
        rt.block_on(async {
            let conn = open("apply", &args.cluster, &env).await?;
            let mut stdout = std::io::stdout().lock();
            apply::run(&conn, &env, &opts, &mut stdout).await
        })
    });
    super::drop_in_background(env);
    match result {
        Ok(outcome) if outcome.ok() => EXIT_CLEAN,
        Ok(outcome) => {
            print_errors(&outcome.errors);
            EXIT_ERROR
        }
        Err(e) => {
            eprintln!("plat: {e}");
            EXIT_ERROR
        }
    }
}

pub fn run_rbac(args: &RbacArgs) -> u8 {
    let cluster = ClusterArgs {
        env: args.env.clone(),
        spec: args.spec.clone(),
        connection: ConnectionArgs {
            kubeconfig: None,
            context: None,
            allow_context_mismatch: false,
            concurrency: 1,
        },
    };
    let Some(env) = load(&cluster) else {
        return EXIT_ERROR;
    };
    let objects = rbac::objects(&env.name, &env.set, args.subject.as_ref());
    print!("{}", crate::yaml::to_yaml_stream(&objects));
    EXIT_CLEAN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("m").is_err());
    }
}
