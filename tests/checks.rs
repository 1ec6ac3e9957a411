//! The catalogue of checks: `docs/checks.md` is generated from it, every code the compiler reports is
//! in it, every check in it is triggered by some test, and the security and waiver checks are
//! triggered here by small broken specs.

use std::path::Path;

use plat::compile::{Selection, compile};
use plat::diag::Severity;
use plat::world::MemoryWorld;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const BASE: &str = r#"
[platform]
name = "hello"

[sizes.small]
requests = { cpu = "250m", memory = "256Mi" }
limits = { cpu = "500m", memory = "512Mi" }

[services.web]
image = "ghcr.io/example/web:1.0.0"
replicas = 2
size = "small"
"#;

const ENV: &str =
    "[environment]\nnamespace = \"hello-dev\"\ncontext = \"dev\"\nmonitoring = \"basic\"\n";

/// Codes and severities of compiling `BASE` plus `extra` with the dev overlay.
fn findings(extra: &str) -> Vec<(String, Severity, String)> {
    let world = MemoryWorld::default()
        .with("platform.toml", format!("{BASE}{extra}"))
        .with("environments/dev.toml", ENV);
    let compilation = compile(&world, "platform.toml", &Selection::All);
    compilation
        .diagnostics
        .iter()
        .map(|d| {
            let at = d
                .primary
                .as_ref()
                .map(|l| compilation.sources.locate(l.origin))
                .unwrap_or_default();
            (d.code.to_string(), d.severity, at)
        })
        .collect()
}

fn has(found: &[(String, Severity, String)], code: &str, severity: Severity) -> bool {
    found
        .iter()
        .any(|(c, s, at)| c == code && *s == severity && at.starts_with("platform.toml:"))
}

#[test]
fn the_base_spec_is_clean() {
    assert_eq!(findings(""), vec![]);
}

#[test]
fn secret_literals_are_rejected() {
    let found = findings(
        "\n[config]\nJWT_SECRET = \"hunter2-and-more\"\nDATABASE_URL = \"postgres://app:pw123456@db/x\"\n",
    );
    assert_eq!(
        found.iter().filter(|(c, _, _)| c == "P0401").count(),
        2,
        "{found:?}"
    );
}

#[test]
fn waivers_need_a_known_check_and_a_match() {
    let unknown = findings(
        "\n[[waivers]]\ncheck = \"P9999\"\nat = \"services.web\"\nreason = \"a reason long enough\"\n",
    );
    assert!(has(&unknown, "P0601", Severity::Error), "{unknown:?}");
    let stale = findings(
        "\n[[waivers]]\ncheck = \"P0505\"\nat = \"services.web\"\nreason = \"a reason long enough\"\n",
    );
    assert!(has(&stale, "P0602", Severity::Warning), "{stale:?}");
}

#[test]
fn a_waiver_turns_a_finding_into_a_shown_reason() {
    // An unpinned image is an error; waived at the service, it is shown as waived and passes.
    let waiver = |code: &str| {
        format!(
            "\n[[waivers]]\ncheck = \"{code}\"\nat = \"services.web\"\nreason = \"the registry pins this tag immutably\"\n"
        )
    };
    let spec = format!("{}{}", waiver("P0206"), waiver("P0502"));
    let world = MemoryWorld::default()
        .with(
            "platform.toml",
            format!("{}{spec}", BASE.replace(":1.0.0", "")),
        )
        .with("environments/dev.toml", ENV);
    let compilation = compile(&world, "platform.toml", &Selection::All);
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
    let text = plat::diag::render_human(&compilation.sources, &compilation.diagnostics);
    assert!(
        text.contains("waived[P0206]") && text.contains("the registry pins this tag immutably"),
        "{text}"
    );
}

/// The output checks, fed objects a spec cannot produce today (plat's defaults pass them), to prove
/// that each one can fail.
#[test]
fn output_security_checks_fire_on_unsafe_workloads() {
    let mut diags = plat::diag::Diagnostics::default();
    let mut sources = plat::source::Sources::default();
    let file = sources.add("platform.toml", "x".into());
    let origin = plat::source::Origin::new(file, 0..1);
    let unsafe_pod = serde_json::json!({
        "kind": "DaemonSet",
        "metadata": { "name": "agent", "namespace": "ops" },
        "spec": { "template": { "spec": {
            "hostNetwork": true,
            "volumes": [{ "name": "root", "hostPath": { "path": "/" } }],
            "containers": [{ "name": "agent", "image": "agent:latest", "securityContext": { "privileged": true } }],
        } } },
    });
    let mut policy = plat::policy::OutputPolicy::default();
    policy.check(
        &plat::lower::Object {
            value: unsafe_pod,
            origin,
        },
        &mut diags,
    );
    policy.finish(&mut diags);
    let codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
    for code in ["P0501", "P0502", "P0503", "P0504", "P0505"] {
        assert!(codes.contains(&code), "{code} not in {codes:?}");
    }
}

#[test]
fn docs_checks_md_is_generated_from_the_catalogue() {
    let path = repo().join("docs/checks.md");
    let fresh = plat::checks::markdown();
    if std::env::var_os("PLAT_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "docs/checks.md is stale: run `PLAT_BLESS=1 cargo test --test checks`"
    );
}

/// Every `"Pnnnn"` string literal in the given folder.
fn codes_in(dir: &Path) -> std::collections::BTreeSet<String> {
    let mut codes = std::collections::BTreeSet::new();
    for entry in walkdir::WalkDir::new(dir).into_iter().map(Result::unwrap) {
        if !entry.file_type().is_file() {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for (i, _) in text.match_indices('P') {
            let code = &text.as_bytes()[i..text.len().min(i + 5)];
            if code.len() == 5
                && code[1..].iter().all(u8::is_ascii_digit)
                && !text.as_bytes().get(i + 5).is_some_and(u8::is_ascii_digit)
            {
                codes.insert(String::from_utf8(code.to_vec()).unwrap());
            }
        }
    }
    codes
}

#[test]
fn every_reported_code_is_in_the_catalogue_and_every_check_is_reported() {
    let catalogue: std::collections::BTreeSet<String> = plat::checks::CHECKS
        .iter()
        .map(|c| c.code.to_string())
        .collect();
    let mut used = codes_in(&repo().join("src"));
    used.retain(|c| c != "P9999");
    let missing: Vec<_> = used.difference(&catalogue).collect();
    assert!(
        missing.is_empty(),
        "codes reported but not in src/checks.rs: {missing:?}"
    );
}

#[test]
fn every_check_is_triggered_by_a_test() {
    let tested = codes_in(&repo().join("tests"));
    let untested: Vec<&str> = plat::checks::CHECKS
        .iter()
        .map(|c| c.code)
        .filter(|c| !tested.contains(*c))
        .collect();
    assert!(
        untested.is_empty(),
        "checks with no test that triggers them: {untested:?}"
    );
}

const METRICS: &str = r#"
[metrics]
exposed_by = ["web"]

[metrics.families.http_requests_total]
type = "counter"
labels = ["status"]
"#;

fn alert(body: &str) -> String {
    format!("{METRICS}\n[alerts.Broken]\n{body}\n")
}

const DOCUMENTED: &str =
    "summary = \"s\"\ndescription = \"d\"\nrunbook = \"https://runbooks.example.com/x\"\n";

#[test]
fn alert_checks_fire_on_broken_alerts() {
    let cases = [
        (
            "P0311",
            format!(
                "kind = \"instance_down\"\njobs = [\"wbe\"]\nseverity = \"critical\"\n{DOCUMENTED}"
            ),
        ),
        (
            "P0312",
            format!("kind = \"latency\"\nthreshold = 0.5\nseverity = \"warning\"\n{DOCUMENTED}"),
        ),
        (
            "P0313",
            "kind = \"instance_down\"\nseverity = \"critical\"\n".to_string(),
        ),
        (
            "P0314",
            format!(
                "kind = \"custom\"\nexpr = \"sum by (job (up)\"\nseverity = \"critical\"\n{DOCUMENTED}"
            ),
        ),
        (
            "P0315",
            format!(
                "kind = \"custom\"\nexpr = \"rate(http_request_total[5m]) > 1\"\nseverity = \"critical\"\n{DOCUMENTED}"
            ),
        ),
        (
            "P0316",
            format!("kind = \"instance_down\"\nseverity = \"urgent\"\n{DOCUMENTED}"),
        ),
        (
            "P0317",
            format!(
                "kind = \"error_rate\"\nthreshold = 5.0\nseverity = \"critical\"\n{DOCUMENTED}"
            ),
        ),
        (
            "P0318",
            format!(
                "kind = \"instance_down\"\nfor = \"5 minutes\"\nseverity = \"critical\"\n{DOCUMENTED}"
            ),
        ),
    ];
    for (code, body) in cases {
        let found = findings(&alert(&body));
        assert!(
            found
                .iter()
                .any(|(c, _, at)| c == code && at.starts_with("platform.toml:")),
            "{code}: {found:?}"
        );
    }
}

#[test]
fn files_over_the_size_limit_are_refused_before_parsing() {
    let huge = "#".repeat(plat::load::MAX_FILE_BYTES + 1);
    let world = MemoryWorld::default()
        .with("platform.toml", huge)
        .with("environments/dev.toml", ENV);
    let compilation = compile(&world, "platform.toml", &Selection::All);
    assert!(
        compilation.diagnostics.iter().any(|d| d.code == "P0003"),
        "{:?}",
        compilation.diagnostics
    );
}

#[test]
fn more_database_instances_than_nodes_is_a_warning() {
    let spec = r#"
[stores.db]
kind = "postgresql"
instances = 3
image = "ghcr.io/cloudnative-pg/postgresql:16.4"
database = "app"
size = "small"
storage = { size = "1Gi", class = "standard" }
"#;
    let world = MemoryWorld::default()
        .with("platform.toml", format!("{BASE}{spec}"))
        .with("environments/dev.toml", format!("{ENV}nodes = 2\n"));
    let compilation = compile(&world, "platform.toml", &Selection::All);
    let found: Vec<_> = compilation
        .diagnostics
        .iter()
        .map(|d| (d.code, d.severity))
        .collect();
    assert!(found.contains(&("P0212", Severity::Warning)), "{found:?}");
    assert!(!compilation.has_errors(), "{found:?}");
}

#[test]
fn capacity_near_the_nodes_allocatable_is_a_warning_and_above_it_an_error() {
    // Peak: an autoscaler maximum of 6 plus a 50% surge (3 pods) of 500m each = 4.5 cores.
    let spec = r#"
[services.web]
image = "registry.example.com/shop/web:1.0.0"
replicas = 4
size = "small"
autoscaling = { min_replicas = 4, max_replicas = 6, cpu_percent = 70 }

[sizes.small]
requests = { cpu = "500m", memory = "1Gi" }
limits = { cpu = "1", memory = "2Gi" }
"#;
    let base = "[platform]\nname = \"shop\"\n[defaults]\nmax_surge = \"50%\"\n";
    let severity = |cpu: &str| {
        let world = MemoryWorld::default()
            .with("platform.toml", format!("{base}{spec}"))
            .with(
                "environments/dev.toml",
                format!("{ENV}node_allocatable = {{ cpu = \"{cpu}\", memory = \"64Gi\" }}\n"),
            );
        let compilation = compile(&world, "platform.toml", &Selection::All);
        compilation
            .diagnostics
            .iter()
            .find(|d| d.code == "P0224")
            .map(|d| d.severity)
    };
    assert_eq!(severity("4"), Some(Severity::Error));
    assert_eq!(severity("5"), Some(Severity::Warning));
    assert_eq!(severity("8"), None);
}

#[test]
fn a_description_over_the_annotation_limit_is_refused_at_its_line() {
    let long = "d".repeat(300_000);
    let found = findings(&format!("description = \"{long}\"\n"));
    assert!(
        found
            .iter()
            .any(|(c, s, at)| c == "P0112" && *s == Severity::Error && at == "platform.toml:13:15"),
        "{found:?}"
    );
    let fits = findings(&format!("description = \"{}\"\n", "d".repeat(1000)));
    assert!(!fits.iter().any(|(c, _, _)| c == "P0112"), "{fits:?}");
}

#[test]
fn values_the_tools_accept_are_not_rejected() {
    let ok = "component = \"front-end_v1.2\"\n\n[defaults]\nmax_surge = \"0%\"\nmax_unavailable = \"100%\"\n\n[network]\napi_server_cidr = \"fd00::/8\"\n";
    let found = findings(ok);
    assert!(
        found.iter().all(|(_, s, _)| *s != Severity::Error),
        "{found:?}"
    );
}

#[test]
fn secrets_are_found_by_their_values_and_a_false_positive_can_be_waived() {
    let spec = "\n[config]\nDB_PASS = 48151623\nADMIN_PWD = \"HUNTER2HUNTER2\"\nCALLBACK_URL = \"https://hooks.example.com/in?token=abc123def456\"\nBUILD_ID = \"Zk9qR2x1V3pXc0FiQ2RlRmc1Nzg5\"\nDB_PORT = 5432\n";
    let found = findings(spec);
    let secrets: Vec<&str> = found
        .iter()
        .filter(|(c, s, _)| c == "P0401" && *s == Severity::Error)
        .map(|(_, _, at)| at.as_str())
        .collect();
    assert_eq!(
        secrets,
        [
            "platform.toml:15:11",
            "platform.toml:16:13",
            "platform.toml:17:16",
            "platform.toml:18:12"
        ],
        "{found:?}"
    );
    let waived = findings(&format!(
        "{spec}\n[[waivers]]\ncheck = \"P0401\"\nat = \"config.BUILD_ID\"\nreason = \"a build identifier, random by design, not a credential\"\n"
    ));
    assert!(
        waived.iter().any(|(c, s, at)| c == "P0401"
            && *s == Severity::Waived
            && at == "platform.toml:18:12"),
        "{waived:?}"
    );
}

#[test]
fn a_database_name_that_needs_quoting_is_a_warning_at_its_value() {
    let spec = r#"
[stores.db]
kind = "postgresql"
instances = 1
image = "ghcr.io/cloudnative-pg/postgresql:16.4"
database = "Shop DB"
owner = "shop-owner"
size = "small"
storage = { size = "1Gi", class = "standard" }
"#;
    let found = findings(spec);
    let at = |line: &str| {
        found
            .iter()
            .any(|(c, s, at)| c == "P0121" && *s == Severity::Warning && at.starts_with(line))
    };
    assert!(at("platform.toml:18:12"), "database: {found:?}");
    assert!(at("platform.toml:19:9"), "owner: {found:?}");
    let plain = findings(
        &spec
            .replace("Shop DB", "shop")
            .replace("shop-owner", "shop_owner"),
    );
    assert!(!plain.iter().any(|(c, _, _)| c == "P0121"), "{plain:?}");
}

#[test]
fn a_job_the_cluster_deletes_after_it_finishes_is_a_warning_at_its_ttl() {
    let job = r#"
[services.migrate]
kind = "job"
image = "registry.example.com/hello/migrate:1.0.0"
size = "small"
before = ["web"]
ttl_seconds_after_finished = 86400
"#;
    let found = findings(job);
    assert!(
        found.iter().any(|(c, s, at)| c == "P0226"
            && *s == Severity::Warning
            && at == "platform.toml:19:30"),
        "{found:?}"
    );
    let kept = findings(&job.replace("ttl_seconds_after_finished = 86400\n", ""));
    assert!(!kept.iter().any(|(c, _, _)| c == "P0226"), "{kept:?}");
}
