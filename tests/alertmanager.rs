//! Alertmanager routing, proven by the real tool: every environment's `alertmanager.yaml` passes
//! `amtool check-config`, and `amtool config routes test` delivers each kind of alert where the platform
//! means it to go (seed 4.2, with its route order fixed so that its intent holds). The expectations come
//! from that intent, never from the generated file. A deliberately broken spec gets every routing
//! cross-check, each at its place in the spec.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use plat::compile::{Compilation, Selection, compile};
use plat::diag::{Severity, render_short};
use plat::world::{FsWorld, MemoryWorld};

const CONFIG: &str = "alertmanager/alertmanager.yaml";
const ENVIRONMENTS: [&str; 5] = ["dev", "dr", "prod", "staging", "test"];

fn amtool() -> PathBuf {
    common::tool("amtool")
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn short(compilation: &Compilation) -> String {
    compilation
        .diagnostics
        .iter()
        .map(|d| render_short(&compilation.sources, d))
        .collect()
}

/// Every environment's configuration, written to its own folder under `dir` (one per test, because the
/// tests of this file run in parallel).
fn configs(dir: &str) -> Vec<(String, PathBuf, String)> {
    let compilation = compile(
        &FsWorld::new(env!("CARGO_MANIFEST_DIR")),
        "platform.toml",
        &Selection::All,
    );
    assert!(!compilation.has_errors(), "{}", short(&compilation));
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("alertmanager")
        .join(dir);
    let out: Vec<(String, PathBuf, String)> = compilation
        .outputs
        .iter()
        .map(|(env, files)| {
            let config = files
                .get(CONFIG)
                .unwrap_or_else(|| panic!("{env} has no {CONFIG}"));
            let path = root.join(env).join("alertmanager.yaml");
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, config).unwrap();
            (env.clone(), path, config.to_string())
        })
        .collect();
    let names: Vec<&str> = out.iter().map(|(env, _, _)| env.as_str()).collect();
    assert_eq!(names, ENVIRONMENTS, "every environment is checked");
    out
}

/// Seed 2.1: dev has basic monitoring and does not page; every other environment pages.
fn pages(env: &str) -> bool {
    env != "dev"
}

/// Where each kind of alert must go, in routing-tree order (amtool prints and verifies receivers in that
/// order): critical alerts reach `critical-alerts`, `AstrBotInstanceDown` (critical) reaches
/// `astrbot-alerts` as well, warnings stay with `default`. Without paging, `critical-alerts` is left out
/// and its alerts go to `default`.
fn intended(pages: bool) -> Vec<(Vec<&'static str>, &'static str)> {
    let critical = if pages { "critical-alerts" } else { "default" };
    let astrbot = if pages {
        "astrbot-alerts,critical-alerts"
    } else {
        "astrbot-alerts,default"
    };
    vec![
        (
            vec![
                "alertname=HighErrorRate",
                "severity=critical",
                "service=api-gateway",
            ],
            critical,
        ),
        (
            vec![
                "alertname=AstrBotInstanceDown",
                "severity=critical",
                "job=astrbot-instance",
            ],
            astrbot,
        ),
        (
            vec!["alertname=SomeOtherOutage", "severity=critical"],
            critical,
        ),
        (
            vec![
                "alertname=HighAPILatency",
                "severity=warning",
                "service=api-gateway",
            ],
            "default",
        ),
        (
            vec!["alertname=HighMemoryUsage", "severity=warning"],
            "default",
        ),
        (vec!["alertname=Watchdog", "severity=none"], "default"),
    ]
}

/// `amtool config routes test --verify.receivers`: fails unless `labels` resolve to exactly `expected`.
fn routes_test(config: &Path, expected: &str, labels: &[&str]) -> Output {
    run(Command::new(amtool())
        .args(["config", "routes", "test"])
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--verify.receivers={expected}"))
        .args(labels))
}

#[test]
fn every_environment_passes_amtool_check_config() {
    for (env, path, config) in configs("check-config") {
        let output = run(Command::new(amtool()).arg("check-config").arg(&path));
        assert!(
            output.status.success(),
            "amtool check-config on {env}:\n{}",
            text(&output)
        );
        assert!(
            text(&output).contains("SUCCESS"),
            "{env}: {}",
            text(&output)
        );
        assert!(
            config.contains("matchers:") && !config.contains("match:"),
            "{env} uses `matchers:`"
        );
        assert_eq!(
            config.contains("no paging. Left out: critical-alerts"),
            !pages(&env),
            "{env}: the file says when paging receivers are left out"
        );
    }
}

#[test]
fn every_intended_routing_holds_in_every_environment() {
    for (env, path, _) in configs("routes") {
        for (labels, expected) in intended(pages(&env)) {
            let output = routes_test(&path, expected, &labels);
            assert!(
                output.status.success(),
                "{env}: {labels:?} should reach {expected}; amtool says:\n{}",
                text(&output)
            );
        }
    }
}

/// The hand-written order of the seed (critical first, without `continue`) loses `AstrBotInstanceDown`
/// for `astrbot-alerts`. amtool must see that (else the test above could pass on a tool that verifies
/// nothing), and plat must refuse that order with P0303 at the unreachable route.
#[test]
fn the_seeds_route_order_fails_amtool_and_plat() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("alertmanager/seed");
    std::fs::create_dir_all(&dir).unwrap();
    let seed = dir.join("alertmanager.yaml");
    std::fs::write(
        &seed,
        "route:\n  receiver: default\n  routes:\n  - receiver: critical-alerts\n    matchers: ['severity=\"critical\"']\n  - receiver: astrbot-alerts\n    matchers: ['alertname=\"AstrBotInstanceDown\"']\nreceivers:\n- name: default\n- name: critical-alerts\n- name: astrbot-alerts\n",
    )
    .unwrap();
    let labels = ["alertname=AstrBotInstanceDown", "severity=critical"];
    let output = routes_test(&seed, "astrbot-alerts,critical-alerts", &labels);
    assert!(
        !output.status.success(),
        "amtool must see the lost route: {}",
        text(&output)
    );

    let routes = "[[alerting.routes]]\nmatchers = ['severity=\"critical\"']\nreceiver = \"critical-alerts\"\n\n\
                  [[alerting.routes]]\nmatchers = ['alertname=\"AstrBotInstanceDown\"']\nreceiver = \"astrbot-alerts\"\n";
    let compilation = compile_memory(&seed_spec(routes));
    let found = located(&compilation);
    let shadowed: Vec<&(String, String, Severity)> =
        found.iter().filter(|f| f.0 == "P0303").collect();
    assert_eq!(shadowed.len(), 1, "{}", short(&compilation));
    let second = seed_spec(routes).rfind("[[alerting.routes]]").unwrap();
    assert_eq!(shadowed[0].1, position(&seed_spec(routes), second));
}

// ------------------------------------------------------------------------------------ broken specs

const BASE: &str = r#"[platform]
name = "shop"

[sizes.small]
requests = { cpu = "250m", memory = "256Mi" }
limits = { cpu = "500m", memory = "512Mi" }

[services.web]
image = "ghcr.io/example/web:1.0.0"
replicas = 1
size = "small"

[secrets]
name = "shop-secrets"
provider = "existing"
keys = ["SMTP_PASSWORD"]
"#;

const ENV: &str = "[environment]\nnamespace = \"shop\"\ncontext = \"prod-cluster\"\nnodes = 3\nmonitoring = \"production\"\n";

/// A valid spec with the reference platform's receivers, the alerts that matter, and `routes`.
fn seed_spec(routes: &str) -> String {
    format!(
        "{BASE}\n[alerts.AstrBotInstanceDown]\nkind = \"custom\"\nexpr = \"up == 0\"\nseverity = \"critical\"\n\
         summary = \"down\"\ndescription = \"down\"\nrunbook = \"https://runbooks.example.com/down\"\n\n\
         [alerting]\ndefault_receiver = \"default\"\n\n\
         [alerting.receivers.default]\nwebhook = \"http://hooks.example.com/default\"\n\n\
         [alerting.receivers.critical-alerts]\nwebhook = \"http://hooks.example.com/critical\"\npaging = true\n\n\
         [alerting.receivers.astrbot-alerts]\nwebhook = \"http://hooks.example.com/astrbot\"\n\n{routes}"
    )
}

fn compile_memory(spec: &str) -> Compilation {
    let world = MemoryWorld::default()
        .with("platform.toml", spec)
        .with("environments/prod.toml", ENV);
    compile(&world, "platform.toml", &Selection::All)
}

/// `(code, "file:line:col", severity)` of every diagnostic.
fn located(compilation: &Compilation) -> Vec<(String, String, Severity)> {
    compilation
        .diagnostics
        .iter()
        .map(|d| {
            let line = render_short(&compilation.sources, d);
            let at = line.split(": ").next().unwrap_or("").to_string();
            (d.code.to_string(), at, d.severity)
        })
        .collect()
}

/// `platform.toml:line:col` of a byte offset.
fn position(text: &str, offset: usize) -> String {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
    format!("platform.toml:{line}:{col}")
}

/// The position of `needle`, searched after `after`.
fn find(text: &str, after: &str, needle: &str) -> String {
    let start = text.find(after).unwrap_or_else(|| panic!("no {after:?}"));
    let offset = text[start..]
        .find(needle)
        .unwrap_or_else(|| panic!("no {needle:?} after {after:?}"))
        + start;
    position(text, offset)
}

const BROKEN: &str = r##"
[alerts.WebDown]
kind = "custom"
expr = "up == 0"
severity = "critical"
summary = "web is down"
description = "No target of web answers."
runbook = "https://runbooks.example.com/web-down"

[alerts.SlowPages]
kind = "custom"
expr = "vector(1)"
severity = "warning"
summary = "pages are slow"
description = "Pages take long."
runbook = "https://runbooks.example.com/slow-pages"

[alerting]
default_receiver = "team"

[alerting.receivers.team]
email = ["team@example.com"]
paging = true

[alerting.receivers.pager]
slack = { channel = "#pager", webhook_secret = "SLACK_URL" }
paging = true

[alerting.receivers.unused]
webhook = "http://hooks.example.com/unused"

[[alerting.routes]]
matchers = ['severity="warning"']
receiver = "team"

[[alerting.routes]]
matchers = ['alertname="SlowPages"']
receiver = "pager"

[[alerting.routes]]
matchers = ['alertname="NoSuchAlert"', 'severity=~"(critical"']
receiver = "pagr"
"##;

#[test]
fn a_broken_spec_gets_every_cross_check_at_its_place() {
    let spec = format!("{BASE}{BROKEN}");
    let compilation = compile_memory(&spec);
    let route = |n: usize| {
        let offset = spec.match_indices("[[alerting.routes]]").nth(n).unwrap().0;
        position(&spec, offset)
    };
    let error = Severity::Error;
    let mut expected = vec![
        ("P0204", find(&spec, "pager]", "\"SLACK_URL\""), error),
        ("P0301", find(&spec, "NoSuchAlert", "\"pagr\""), error),
        (
            "P0302",
            find(&spec, "[alerting.receivers.", "unused]"),
            Severity::Warning,
        ),
        ("P0303", route(1), error),
        ("P0304", route(2), Severity::Warning),
        (
            "P0305",
            find(&spec, "[alerts.WebDown]", "\"critical\""),
            error,
        ),
        ("P0306", find(&spec, "NoSuchAlert", "'severity=~"), error),
        (
            "P0307",
            find(&spec, "receivers.team]", "\"team@example.com\""),
            error,
        ),
        ("P0308", find(&spec, "receivers.team]", "true"), error),
    ];
    // Only this module's codes: the other observability checks have their own tests.
    let mut found: Vec<(String, String, Severity)> = located(&compilation)
        .into_iter()
        .filter(|f| f.0.starts_with("P030") || f.0 == "P0204")
        .collect();
    found.sort();
    expected.sort_by(|a, b| a.0.cmp(b.0));
    let expected: Vec<(String, String, Severity)> = expected
        .into_iter()
        .map(|(code, at, severity)| (code.to_string(), at, severity))
        .collect();
    assert_eq!(found, expected, "\n{}", short(&compilation));
}

/// Values that Alertmanager would refuse are stopped when the spec is read, at the value.
#[test]
fn invalid_values_are_located() {
    let spec = format!(
        "{BASE}\n[alerting]\ndefault_receiver = \"ops\"\ngroup_interval = \"0s\"\nrepeat_interval = \"1 hour\"\n\
         group_by = [\"alertname\", \"...\"]\n\n[alerting.smtp]\nsmarthost = \"smtp.example.com\"\nfrom = \"alerts\"\n\
         password_secret = \"SMTP_PASSWORD\"\n\n[alerting.receivers.ops]\nwebhook = \"ftp://x\"\n"
    );
    let compilation = compile_memory(&spec);
    let found = located(&compilation);
    let expected = [
        ("P0104", find(&spec, "group_interval", "\"0s\"")),
        ("P0318", find(&spec, "repeat_interval", "\"1 hour\"")),
        ("P0104", find(&spec, "group_by", "\"...\"")),
        ("P0104", find(&spec, "smarthost", "\"smtp.example.com\"")),
        ("P0104", find(&spec, "from =", "\"alerts\"")),
        ("P0103", find(&spec, "", "[alerting.smtp]")),
        ("P0104", find(&spec, "webhook", "\"ftp://x\"")),
    ];
    for (code, at) in &expected {
        assert!(
            found.iter().any(|f| f.0 == *code && f.1 == *at),
            "no {code} at {at}:\n{}",
            short(&compilation)
        );
    }
    assert_eq!(found.len(), expected.len(), "\n{}", short(&compilation));
}

/// A firing SLO page inhibits its symptoms: the latency and error-rate alerts on the SLO's job and the
/// SLO's own slow burn, in the same environment and cluster. Environments without SLOs (basic dev)
/// have no inhibit rules; amtool accepts every file (`every_environment_passes_amtool_check_config`).
#[test]
fn an_slo_page_inhibits_its_symptom_alerts() {
    for (env, path, config) in configs("inhibit") {
        let value = plat::yaml::parse_yaml_stream(&config).unwrap().remove(0);
        let rules = value["inhibit_rules"].as_array();
        if env == "dev" {
            assert!(rules.is_none(), "dev has no SLO alerts: {config}");
            continue;
        }
        let rules = rules.unwrap_or_else(|| panic!("{env} has no inhibit_rules"));
        assert_eq!(rules.len(), 1, "{env}: {rules:?}");
        let rule = &rules[0];
        assert_eq!(
            rule["source_matchers"],
            serde_json::json!([
                "alertname=\"SLOErrorBudgetBurnFast\"",
                "slo=\"api-availability\""
            ])
        );
        assert_eq!(
            rule["target_matchers"],
            serde_json::json!([
                "alertname=~\"HighAPILatency|HighErrorRate|SLOErrorBudgetBurnSlow\""
            ])
        );
        assert_eq!(
            rule["equal"],
            serde_json::json!(["job", "environment", "cluster"])
        );
        let output = run(Command::new(amtool()).arg("check-config").arg(&path));
        assert!(
            text(&output).contains("1 inhibit rules"),
            "{env}: {}",
            text(&output)
        );
    }
}

/// `mode = "existing"` hands the configuration to an Alertmanager that runs elsewhere: plat writes no
/// `Alertmanager` and no policy for pods it does not run, but puts the configuration Secret and the
/// credentials it reads into that Alertmanager's namespace (an Alertmanager mounts Secrets of its own
/// namespace only), and the in-cluster webhook's workload admits that namespace on the URL's port.
#[test]
fn a_hand_off_puts_configuration_and_credentials_in_the_alertmanagers_namespace() {
    let spec = format!(
        "{BASE}\n[services.handler]\nimage = \"ghcr.io/example/handler:1.0.0\"\nreplicas = 1\nsize = \"small\"\nport = 8080\n\n\
         [alerts.Down]\nkind = \"custom\"\nexpr = \"up == 0\"\nseverity = \"warning\"\n\
         summary = \"down\"\ndescription = \"down\"\nrunbook = \"https://runbooks.example.com/down\"\n\n\
         [alerting]\ndefault_receiver = \"ops\"\n\n\
         [alerting.alertmanager]\nmode = \"existing\"\nname = \"main\"\nnamespace = \"alerting\"\n\n\
         [alerting.smtp]\nsmarthost = \"smtp.example.com:587\"\nfrom = \"a@example.com\"\nusername = \"a@example.com\"\npassword_secret = \"SMTP_PASSWORD\"\n\n\
         [alerting.receivers.ops]\nemail = [\"ops@example.com\"]\n\
         webhook = \"http://{{{{ services.handler.host }}}}:{{{{ services.handler.port }}}}/alert\"\n"
    );
    let compilation = compile_memory(&spec);
    assert!(!compilation.has_errors(), "{}", short(&compilation));
    let files = &compilation.outputs[0].1.files;
    let objects: Vec<serde_json::Value> = files
        .iter()
        .filter(|(p, _)| p.starts_with("kubernetes/"))
        .flat_map(|(_, t)| plat::yaml::parse_yaml_stream(t).unwrap())
        .collect();
    assert!(!objects.iter().any(|o| o["kind"] == "Alertmanager"));
    let config = objects
        .iter()
        .find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == "alertmanager-main")
        .expect("the configuration Secret the Alertmanager `main` loads by default");
    assert_eq!(config["metadata"]["namespace"], "alerting");
    let text = config["stringData"]["alertmanager.yaml"].as_str().unwrap();
    assert!(
        text.contains("/etc/alertmanager/secrets/alertmanager-main-credentials/SMTP_PASSWORD"),
        "{text}"
    );
    assert!(
        text.contains("url: \"http://handler.shop.svc.cluster.local:8080/alert\""),
        "{text}"
    );
    let handler = objects
        .iter()
        .find(|o| o["kind"] == "NetworkPolicy" && o["metadata"]["name"] == "handler")
        .unwrap();
    let admits = handler["spec"]["ingress"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| {
            r["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                == "alerting"
                && r["ports"][0]["port"] == 8080
        });
    assert!(admits, "{}", handler["spec"]["ingress"]);
}
