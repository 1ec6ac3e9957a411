//! The cluster stage at scale: the first `plat apply` of a many-tenant `prod` and a no-op `plat diff`
//! of it, against a real kube-apiserver and etcd on this machine.
//!
//! Each plat run is a fresh child process (this executable as `bench cluster-child ARGS…`, which runs
//! plat's command line in process and then prints its wall time and peak RSS), so the memory belongs
//! to that run alone. Requests are the server's own count (`apiserver_request_total` of `/metrics`)
//! between two readings, without the server's own controllers' writes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use clap::Parser;

use super::real_apiserver::{ADMIN, RealServer, ServerOptions};
use super::{
    ENV, RESULT_TAG, cpu_seconds, cpu_seconds_of, lines_with_tables, peak_rss_kb, prepare,
};

const DEFAULT_TENANTS: usize = 10_000;
/// The targets: a no-op diff in at most one request per kind (plus one per changed object: none
/// here) and 10 s; a first apply within 120 s.
const DIFF_SECONDS: f64 = 10.0;
const APPLY_SECONDS: f64 = 120.0;

/// Runs plat's command line with `args` and prints the wall time and peak RSS.
pub fn child(args: &[String]) -> Result<(), String> {
    let argv = std::iter::once("plat".to_string()).chain(args.iter().cloned());
    let cli = plat::cli::Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let code = plat::cli::run(cli);
    let seconds = start.elapsed().as_secs_f64();
    let code = if code == std::process::ExitCode::SUCCESS {
        0
    } else {
        1
    };
    println!(
        "{RESULT_TAG} seconds={seconds} peak_kb={} cpu={} code={code}",
        peak_rss_kb()?,
        cpu_seconds()?
    );
    Ok(())
}

struct Run {
    seconds: f64,
    peak_kb: u64,
    /// CPU seconds of plat, then of each server process, during the run.
    cpu: Vec<(String, f64)>,
    requests: u64,
    by_verb: BTreeMap<String, u64>,
}

fn parse_child(stdout: &str) -> Option<(f64, u64, f64, u8)> {
    let line = stdout.lines().find(|l| l.starts_with(RESULT_TAG))?;
    let mut fields = BTreeMap::new();
    for field in line.split_whitespace().skip(1) {
        let (k, v) = field.split_once('=')?;
        fields.insert(k, v);
    }
    Some((
        fields.get("seconds")?.parse().ok()?,
        fields.get("peak_kb")?.parse().ok()?,
        fields.get("cpu")?.parse().ok()?,
        fields.get("code")?.parse().ok()?,
    ))
}

/// The server's request counters, by their label set.
fn requests_served(server: &RealServer) -> Result<BTreeMap<String, u64>, String> {
    let (code, text) = server.request(ADMIN, "GET", "/metrics", None, "")?;
    if code != 200 {
        return Err(format!("GET /metrics answered {code}"));
    }
    Ok(text
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .filter_map(|l| {
            let (labels, value) = l.rsplit_once(' ')?;
            Some((labels.to_string(), value.parse::<f64>().ok()? as u64))
        })
        .collect())
}

fn label<'a>(labels: &'a str, name: &str) -> &'a str {
    labels
        .split_once(&format!("{name}=\""))
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or("", |(value, _)| value)
}

/// Requests between two readings (by verb), without the server's own controllers and the second
/// reading's own GET /metrics.
fn between(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> (u64, BTreeMap<String, u64>) {
    const SERVER_OWN: &[&str] = &[
        "endpoints",
        "endpointslices",
        "leases",
        "flowschemas",
        "prioritylevelconfigurations",
        // A Service's cluster IP is an IPAddress object the server creates itself.
        "ipaddresses",
    ];
    let mut total = 0;
    let mut by_verb = BTreeMap::new();
    for (labels, count) in after {
        // plat never watches: WATCH requests are the server's own informers reconnecting.
        if SERVER_OWN.contains(&label(labels, "resource")) || label(labels, "verb") == "WATCH" {
            continue;
        }
        let mut delta = count - before.get(labels).copied().unwrap_or(0);
        if label(labels, "resource").is_empty() && label(labels, "verb") == "GET" {
            delta = delta.saturating_sub(1);
        }
        if delta > 0 {
            total += delta;
            *by_verb
                .entry(label(labels, "verb").to_string())
                .or_insert(0) += delta;
        }
    }
    (total, by_verb)
}

fn run_plat(server: &RealServer, args: &[String]) -> Result<Run, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let before = requests_served(server)?;
    let server_cpu_before = server_cpu(server)?;
    let output = Command::new(&exe)
        .arg("cluster-child")
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let after = requests_served(server)?;
    let server_cpu_after = server_cpu(server)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let (seconds, peak_kb, plat_cpu, code) = parse_child(&stdout).ok_or_else(|| {
        format!(
            "plat {args:?} printed no measurement ({}):\n{}\n{}",
            output.status,
            tail(&stdout),
            tail(&String::from_utf8_lossy(&output.stderr))
        )
    })?;
    if code != 0 {
        let failures: Vec<&str> = stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("failed"))
            .take(10)
            .collect();
        return Err(format!(
            "plat {args:?} failed:\n{}\n{}\n{}",
            failures.join("\n"),
            tail(&stdout),
            tail(&String::from_utf8_lossy(&output.stderr))
        ));
    }
    let (requests, by_verb) = between(&before, &after);
    let mut cpu = vec![("plat".to_string(), plat_cpu)];
    for ((name, after), (_, before)) in server_cpu_after.into_iter().zip(server_cpu_before) {
        cpu.push((name, after - before));
    }
    Ok(Run {
        seconds,
        peak_kb,
        cpu,
        requests,
        by_verb,
    })
}

/// The CPU seconds each server process has used so far.
fn server_cpu(server: &RealServer) -> Result<Vec<(String, f64)>, String> {
    server
        .pids()
        .into_iter()
        .map(|(name, pid)| Ok((name, cpu_seconds_of(&pid.to_string())?)))
        .collect()
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn kinds_of(dir: &Path) -> Result<(usize, usize), String> {
    let world = plat::world::FsWorld::new(dir);
    let loaded = plat::cluster::load_environment(&world, "platform.toml", ENV)
        .map_err(|e| format!("the environment does not load: {e:?}"))?;
    let mut kinds = loaded.set.group_kinds();
    kinds.insert(plat::cluster::plan::GroupKind::new("", "Namespace"));
    Ok((kinds.len(), loaded.set.members.len() + 1))
}

/// What `bench cluster` was asked to measure.
struct Arguments {
    tenants: usize,
    concurrency: u16,
    /// The type of the fleet instances' Services instead of the spec's (`ClusterIP` measures what a
    /// cluster IP per tenant costs the API server).
    instance_service: Option<String>,
}

fn arguments(args: &[String]) -> Result<Arguments, String> {
    let mut tenants = DEFAULT_TENANTS;
    let mut concurrency = 4u16;
    let mut instance_service = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--instance-service" {
            let value = it.next().ok_or("--instance-service needs a Service type")?;
            instance_service = Some(value.clone());
        } else if arg == "--concurrency" {
            let value = it.next().ok_or("--concurrency needs a number")?;
            concurrency = value
                .parse()
                .map_err(|_| format!("`{value}`: not a number"))?;
        } else {
            tenants = arg
                .replace('_', "")
                .parse()
                .map_err(|_| format!("`{arg}`: not a tenant count"))?;
        }
    }
    Ok(Arguments {
        tenants,
        concurrency,
        instance_service,
    })
}

/// Sets the AstrBot fleet's Service type: the template's `service` line is replaced, or added
/// right after the `[fleets.astrbot]` header.
fn set_instance_service(dir: &Path, kind: &str) -> Result<(), String> {
    let path = dir.join("platform.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let line = format!("service = {{ type = \"{kind}\" }}");
    let mut out = String::with_capacity(text.len() + line.len());
    let mut done = false;
    for (table, l) in lines_with_tables(&text) {
        let trimmed = l.trim_start();
        if table == "fleets.astrbot" && trimmed.starts_with("service ") {
            continue;
        }
        out.push_str(l);
        out.push('\n');
        if trimmed == "[fleets.astrbot]" {
            out.push_str(&line);
            out.push('\n');
            done = true;
        }
    }
    if !done {
        return Err("the spec has no [fleets.astrbot] table".into());
    }
    std::fs::write(&path, out).map_err(|e| e.to_string())
}

pub fn parent(args: &[String]) -> Result<(), String> {
    let Arguments {
        tenants,
        concurrency,
        instance_service,
    } = arguments(args)?;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = repo.join("target/bench").join(format!("cluster-{tenants}"));
    let _ = std::fs::remove_dir_all(&dir);
    prepare(repo, &dir, tenants)?;
    if let Some(kind) = &instance_service {
        set_instance_service(&dir, kind)?;
    }
    let (kinds, objects) = kinds_of(&dir)?;
    let services = match &instance_service {
        Some(kind) => format!(", the instances' Services {kind}"),
        None => String::new(),
    };
    println!(
        "{tenants} tenants: {objects} objects of {kinds} kinds in environment {ENV}{services}"
    );

    let started = Instant::now();
    // With `--instance-service ClusterIP` every tenant's Service takes a cluster IP: the tests' /24
    // of Service IPs would be full after 250 of them.
    let server = RealServer::start(ServerOptions {
        apiserver_flags: vec!["--service-cluster-ip-range=10.0.0.0/16".into()],
        ..ServerOptions::default()
    });
    println!(
        "real kube-apiserver and etcd up with the CRDs installed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let kubeconfig = dir.join("kubeconfig.yaml");
    std::fs::write(&kubeconfig, server.kubeconfig_text()).map_err(|e| e.to_string())?;
    let common = |command: &str| -> Vec<String> {
        vec![
            command.into(),
            "--env".into(),
            ENV.into(),
            "--spec".into(),
            dir.join("platform.toml").display().to_string(),
            "--kubeconfig".into(),
            kubeconfig.display().to_string(),
            "--concurrency".into(),
            concurrency.to_string(),
        ]
    };
    let apply = run_plat(&server, &common("apply"))?;
    let diff = run_plat(&server, &common("diff"))?;
    report(kinds, concurrency, &apply, &diff);
    Ok(())
}

fn report(kinds: usize, concurrency: u16, apply: &Run, diff: &Run) {
    println!("\n| run | wall s | requests | peak MB | CPU s | requests by verb |");
    println!("|---|---:|---:|---:|---|---|");
    for (name, run) in [("first apply", apply), ("no-op diff", diff)] {
        let verbs: Vec<String> = run
            .by_verb
            .iter()
            .map(|(v, n)| format!("{v} {n}"))
            .collect();
        let cpu: Vec<String> = run
            .cpu
            .iter()
            .map(|(who, seconds)| format!("{who} {seconds:.1}"))
            .collect();
        println!(
            "| {name} (concurrency {concurrency}) | {:.1} | {} | {:.1} | {} | {} |",
            run.seconds,
            run.requests,
            run.peak_kb as f64 * 1024.0 / 1e6,
            cpu.join(", "),
            verbs.join(", ")
        );
    }
    let verdict = |held: bool| if held { "held" } else { "MISSED" };
    println!(
        "\nno-op diff: {} requests for {kinds} kinds (target ≤ {kinds}): {}; {:.1} s (target ≤ {DIFF_SECONDS} s): {}",
        diff.requests,
        verdict(diff.requests <= kinds as u64),
        diff.seconds,
        verdict(diff.seconds <= DIFF_SECONDS)
    );
    println!(
        "first apply: {:.1} s (target ≤ {APPLY_SECONDS} s): {}",
        apply.seconds,
        verdict(apply.seconds <= APPLY_SECONDS)
    );
}
