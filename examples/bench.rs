//! Scale benchmark: how long a full render of one environment takes, and how much memory it needs, as
//! the number of tenants grows.
//!
//! Run with `cargo run --release --example bench [-- SIZES...]` (default sizes: 100 1000 10000).
//!
//! For each size N the spec is the repository's own `platform.toml` with the AstrBot fleet's instance
//! files replaced by N generated instances in the spec (and `fleets.astrbot.max_instances` raised so
//! the ceiling check passes),
//! written to `target/bench/<N>/` next to a copy of `environments/prod.toml`. Each measurement runs in
//! a fresh child process (this executable in its hidden `child` mode) so that the peak RSS the kernel
//! reports belongs to that size alone. See `docs/benchmark.md`.
//!
//! `cargo run --release --example bench -- cluster [TENANTS] [--concurrency N]` measures the cluster
//! stage instead: the first `plat apply` of the 10,000-tenant `prod` and a no-op `plat diff` of it
//! against a real kube-apiserver and etcd (`scripts/apiserver/build.sh`), started as the tests start
//! them (`tests/support/real_apiserver.rs`): wall time, requests the server counted, peak memory.

#[path = "bench_cluster/mod.rs"]
mod cluster;
#[allow(dead_code)]
#[path = "../tests/support/real_apiserver.rs"]
mod real_apiserver;

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use plat::compile::{Selection, compile};
use plat::emit::write_all;
use plat::world::FsWorld;

const DEFAULT_SIZES: [usize; 3] = [100, 1_000, 10_000];
const RUNS: usize = 3;
const ENV: &str = "prod";

/// The targets: a 10,000-tenant render within 0.5 s and 150 MB, and time per tenant at 10,000 within
/// 2x of that at 1,000 (no worse than linear growth, beyond noise).
const TARGET_TENANTS: usize = 10_000;
const TARGET_SECONDS: f64 = 0.5;
const TARGET_PEAK_MB: f64 = 150.0;
const LINEARITY_BASE: usize = 1_000;
const LINEARITY_FACTOR: f64 = 2.0;

/// The line the child prints its measurement on, so that the parent can find it among other output.
const RESULT_TAG: &str = "bench-result";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("child") => match args.get(1) {
            Some(dir) => child(Path::new(dir)),
            None => Err("usage: bench child <dir>".into()),
        },
        Some("cluster") => cluster::parent(&args[1..]),
        Some("cluster-child") => cluster::child(&args[1..]),
        _ => parent(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench: {err}");
            ExitCode::from(2)
        }
    }
}

// ------------------------------------------------------------------------------------------ child

/// One measurement of one render, as the child reports it.
#[derive(Clone, Copy, Debug, Default)]
struct Measurement {
    compile_seconds: f64,
    write_seconds: f64,
    /// User plus system CPU time of the whole child; far below the wall time when the machine is busy
    /// with other work or the render waits for the disk.
    cpu_seconds: f64,
    peak_kb: u64,
    objects: usize,
    files: usize,
    bytes: usize,
}

impl Measurement {
    fn seconds(&self) -> f64 {
        self.compile_seconds + self.write_seconds
    }

    fn to_line(self) -> String {
        format!(
            "{RESULT_TAG} compile={} write={} cpu={} peak_kb={} objects={} files={} bytes={}",
            self.compile_seconds,
            self.write_seconds,
            self.cpu_seconds,
            self.peak_kb,
            self.objects,
            self.files,
            self.bytes
        )
    }

    fn parse(line: &str) -> Option<Measurement> {
        let mut m = Measurement::default();
        for field in line.strip_prefix(RESULT_TAG)?.split_whitespace() {
            let (key, value) = field.split_once('=')?;
            match key {
                "compile" => m.compile_seconds = value.parse().ok()?,
                "write" => m.write_seconds = value.parse().ok()?,
                "cpu" => m.cpu_seconds = value.parse().ok()?,
                "peak_kb" => m.peak_kb = value.parse().ok()?,
                "objects" => m.objects = value.parse().ok()?,
                "files" => m.files = value.parse().ok()?,
                "bytes" => m.bytes = value.parse().ok()?,
                _ => return None,
            }
        }
        Some(m)
    }
}

/// Renders `prod` of the project in `dir` into `dir/generated/`, exactly as `plat render` would, and
/// prints the measurement.
fn child(dir: &Path) -> Result<(), String> {
    let start = Instant::now();
    let compilation = compile(
        &FsWorld::new(dir),
        "platform.toml",
        &Selection::One(ENV.into()),
    );
    if compilation.has_errors() {
        let text = plat::diag::render_human(&compilation.sources, &compilation.diagnostics);
        return Err(format!("the generated spec does not compile:\n{text}"));
    }
    let compiled = Instant::now();
    write_all(&dir.join("generated"), &compilation.outputs)
        .map_err(|err| format!("cannot write {}: {err}", dir.display()))?;
    let written = Instant::now();

    let files = || compilation.outputs.iter().flat_map(|(_, f)| &f.files);
    let measurement = Measurement {
        compile_seconds: (compiled - start).as_secs_f64(),
        write_seconds: (written - compiled).as_secs_f64(),
        cpu_seconds: cpu_seconds()?,
        peak_kb: peak_rss_kb()?,
        objects: files().map(|(_, text)| count_documents(text)).sum(),
        files: files().count(),
        bytes: files().map(|(_, text)| text.len()).sum(),
    };
    println!("{}", measurement.to_line());
    Ok(())
}

/// The process's peak resident set size (`VmHWM`), in kB, as Linux reports it.
fn peak_rss_kb() -> Result<u64, String> {
    let status = fs::read_to_string("/proc/self/status")
        .map_err(|err| format!("cannot read /proc/self/status: {err}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM in /proc/self/status".into())
}

/// The process's user plus system CPU time, from `/proc/self/stat` (fields 14 and 15, in clock ticks
/// of 1/100 s on Linux).
fn cpu_seconds() -> Result<f64, String> {
    cpu_seconds_of("self")
}

/// The CPU time of process `pid` (a number, or `self`).
fn cpu_seconds_of(pid: &str) -> Result<f64, String> {
    const TICKS_PER_SECOND: f64 = 100.0;
    let path = format!("/proc/{pid}/stat");
    let stat = fs::read_to_string(&path).map_err(|err| format!("cannot read {path}: {err}"))?;
    // The command name (field 2) may hold spaces; the fields after it are space-separated numbers.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: Option<Vec<u64>> = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse().ok())
        .collect();
    match ticks.as_deref() {
        Some([user, system]) => Ok((user + system) as f64 / TICKS_PER_SECOND),
        _ => Err(format!("cannot read the CPU times in {path}")),
    }
}

/// Objects in a multi-document YAML file; a kustomization has no separators and counts as none.
fn count_documents(text: &str) -> usize {
    text.lines().filter(|line| *line == "---").count()
}

// ----------------------------------------------------------------------------------------- parent

/// The measurements of one size.
struct Row {
    tenants: usize,
    /// The run with the median total time; its phases and counts are the ones reported.
    median: Measurement,
    peak_kb: u64,
}

impl Row {
    fn us_per_tenant(&self) -> f64 {
        self.median.seconds() * 1e6 / self.tenants as f64
    }

    fn peak_mb(&self) -> f64 {
        self.peak_kb as f64 * 1024.0 / 1e6
    }
}

fn parent(args: &[String]) -> Result<(), String> {
    let sizes = parse_sizes(args)?;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe =
        std::env::current_exe().map_err(|err| format!("cannot find this executable: {err}"))?;
    if cfg!(debug_assertions) {
        eprintln!("bench: warning: a debug build; run with `cargo run --release --example bench`");
    }
    let bench = repo.join("target").join("bench");
    let trash = bench.join("trash");
    let mut rows = Vec::new();
    for &tenants in &sizes {
        let dir = bench.join(tenants.to_string());
        prepare(repo, &dir, tenants)?;
        let runs = (0..RUNS)
            .map(|_| run_child(&exe, &dir, &trash))
            .collect::<Result<Vec<_>, _>>()?;
        // Every run's time, so that noise from other work on the machine shows.
        let times: Vec<String> = runs.iter().map(|m| format!("{:.3}", m.seconds())).collect();
        let row = summarize(tenants, runs);
        eprintln!(
            "bench: {tenants} tenants: {} s, {:.1} MB peak",
            times.join(" / "),
            row.peak_mb()
        );
        rows.push(row);
    }
    print!("{}", table(&rows));
    print!("{}", verdicts(&rows));
    // Clean-up is not part of any measurement, and a leftover folder is harmless.
    if let Err(err) = fs::remove_dir_all(&trash)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        eprintln!("bench: warning: cannot remove {}: {err}", trash.display());
    }
    Ok(())
}

fn parse_sizes(args: &[String]) -> Result<Vec<usize>, String> {
    if args.is_empty() {
        return Ok(DEFAULT_SIZES.to_vec());
    }
    args.iter()
        .map(|a| match a.replace('_', "").parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "`{a}` is not a tenant count; usage: bench [SIZES...]"
            )),
        })
        .collect()
}

/// Writes the project for `tenants` tenants into `dir`.
fn prepare(repo: &Path, dir: &Path, tenants: usize) -> Result<(), String> {
    let io = |what: &Path| {
        let what = what.display().to_string();
        move |err: std::io::Error| format!("{what}: {err}")
    };
    let base = repo.join("platform.toml");
    let text = fs::read_to_string(&base).map_err(io(&base))?;
    let spec = scaled_spec(&text, tenants)?;
    let envs = dir.join("environments");
    fs::create_dir_all(&envs).map_err(io(&envs))?;
    fs::write(dir.join("platform.toml"), spec).map_err(io(dir))?;
    let overlay = repo.join("environments").join(format!("{ENV}.toml"));
    let text = fs::read_to_string(&overlay).map_err(io(&overlay))?;
    // Thousands of tenants do not fit on prod's five nodes, and the capacity check says so; the
    // benchmark measures the render, so the environment states no node capacity.
    let text: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("node_allocatable"))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(envs.join(format!("{ENV}.toml")), text).map_err(io(&overlay))?;
    Ok(())
}

/// Each run writes into a fresh `generated/`: the previous run's output is renamed into `trash`
/// rather than deleted, and `trash` is removed only after the last measurement. On ext4 without a
/// journal, a file created within minutes of deleting thousands of others is slow to create (the
/// inode allocator skips each recently freed inode), which would charge the render for the
/// benchmark's own clean-up.
fn set_aside(dir: &Path, trash: &Path) -> Result<(), String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let out = dir.join("generated");
    if !out.exists() {
        return Ok(());
    }
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let aside = trash.join(format!("{}-{n}", std::process::id()));
    fs::create_dir_all(trash)
        .and_then(|()| fs::rename(&out, &aside))
        .map_err(|err| format!("cannot move {} aside: {err}", out.display()))
}

fn run_child(exe: &Path, dir: &Path, trash: &Path) -> Result<Measurement, String> {
    set_aside(dir, trash)?;
    let output = Command::new(exe)
        .arg("child")
        .arg(dir)
        .output()
        .map_err(|err| format!("cannot start {}: {err}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "the child for {} failed ({}):\n{}{}",
            dir.display(),
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    stdout
        .lines()
        .find_map(Measurement::parse)
        .ok_or_else(|| format!("the child printed no measurement:\n{stdout}"))
}

/// The median run by total time, and the largest peak RSS of all runs.
fn summarize(tenants: usize, mut runs: Vec<Measurement>) -> Row {
    let peak_kb = runs.iter().map(|m| m.peak_kb).max().unwrap_or(0);
    runs.sort_by(|a, b| a.seconds().total_cmp(&b.seconds()));
    Row {
        tenants,
        median: runs[runs.len() / 2],
        peak_kb,
    }
}

// ------------------------------------------------------------------------------- the scaled spec

/// The base spec with the AstrBot fleet's instances replaced by `tenants` generated ones and its
/// ceiling raised to fit them. Line-based on purpose: the rest of the text stays byte for byte the repository's.
fn scaled_spec(base: &str, tenants: usize) -> Result<String, String> {
    let mut out = String::with_capacity(base.len() + tenants * 80);
    let mut raised = false;
    for (table, line) in lines_with_tables(base) {
        let trimmed = line.trim_start();
        if table.starts_with("fleets.astrbot.instances.") {
            continue;
        }
        // The generated instances replace the repository's instance files.
        if table == "fleets.astrbot" && trimmed.starts_with("instances_from") {
            continue;
        }
        if table == "fleets.astrbot" && trimmed.starts_with("max_instances") {
            let current = trimmed
                .split(['=', '#'])
                .nth(1)
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| format!("cannot read `{trimmed}`"))?;
            let _ = writeln!(out, "max_instances = {}", current.max(tenants));
            raised = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !raised {
        return Err("the base platform.toml has no `fleets.astrbot.max_instances`".into());
    }
    append_tenants(&mut out, tenants);
    Ok(out)
}

/// Each line of a TOML text with the name of the table it stands in (`""` before the first header).
/// Line-based, which the repository's spec is written for: a header on a line of its own.
fn lines_with_tables(text: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut table = "";
    text.lines().map(move |line| {
        if let Some(header) = line.trim_start().strip_prefix('[') {
            table = header.split(']').next().unwrap_or("");
        }
        (table, line)
    })
}

/// Tenants shaped like the repository's: a display name, a mix of plans, every tenth on a larger size.
fn append_tenants(out: &mut String, tenants: usize) {
    const PLANS: [&str; 3] = ["standard", "pro", "enterprise"];
    for i in 0..tenants {
        let _ = writeln!(out, "\n[fleets.astrbot.instances.t{i:05}]");
        let _ = writeln!(out, "vars = {{ display_name = \"Tenant {i}\" }}");
        let _ = writeln!(out, "plan = \"{}\"", PLANS[i % PLANS.len()]);
        if i % 10 == 9 {
            let _ = writeln!(out, "size = \"2C4G\"");
        }
    }
}

// ---------------------------------------------------------------------------------------- report

fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{:>8} {:>8} {:>9} {:>10} {:>9} {:>9} {:>9} {:>7} {:>8} {:>10}",
        "tenants",
        "files",
        "objects",
        "MB written",
        "median s",
        "compile s",
        "write s",
        "cpu s",
        "peak MB",
        "µs/tenant"
    );
    for row in rows {
        let m = &row.median;
        let _ = writeln!(
            out,
            "{:>8} {:>8} {:>9} {:>10.1} {:>9.3} {:>9.3} {:>9.3} {:>7.2} {:>8.1} {:>10.1}",
            row.tenants,
            m.files,
            m.objects,
            m.bytes as f64 / 1e6,
            m.seconds(),
            m.compile_seconds,
            m.write_seconds,
            m.cpu_seconds,
            row.peak_mb(),
            row.us_per_tenant()
        );
    }
    out
}

fn verdicts(rows: &[Row]) -> String {
    let find = |n: usize| rows.iter().find(|r| r.tenants == n);
    let mut out = String::from("\n");
    match find(TARGET_TENANTS) {
        Some(row) => {
            let _ = writeln!(
                out,
                "{} time: {:.3} s for {TARGET_TENANTS} tenants (target ≤ {TARGET_SECONDS} s)",
                verdict(row.median.seconds() <= TARGET_SECONDS),
                row.median.seconds()
            );
            let _ = writeln!(
                out,
                "{} memory: {:.1} MB peak for {TARGET_TENANTS} tenants (target ≤ {TARGET_PEAK_MB} MB)",
                verdict(row.peak_mb() <= TARGET_PEAK_MB),
                row.peak_mb()
            );
        }
        None => {
            let _ = writeln!(
                out,
                "SKIPPED time and memory: {TARGET_TENANTS} tenants were not measured"
            );
        }
    }
    match (find(LINEARITY_BASE), find(TARGET_TENANTS)) {
        (Some(base), Some(big)) => {
            let ratio = big.us_per_tenant() / base.us_per_tenant();
            let _ = writeln!(
                out,
                "{} linearity: {:.1} µs/tenant at {TARGET_TENANTS} is {ratio:.2}x the {:.1} at {LINEARITY_BASE} (target ≤ {LINEARITY_FACTOR}x)",
                verdict(ratio <= LINEARITY_FACTOR),
                big.us_per_tenant(),
                base.us_per_tenant()
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "SKIPPED linearity: needs {LINEARITY_BASE} and {TARGET_TENANTS} tenants"
            );
        }
    }
    out
}

fn verdict(held: bool) -> &'static str {
    if held { "OK    " } else { "MISSED" }
}
