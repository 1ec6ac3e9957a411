//! Grafana dashboards: the reference platform's generated dashboards checked by structure (valid JSON
//! model, unique ids, a grid without overlaps, the data source variable, PromQL that parses and names
//! only declared metrics), the overview's panels, and broken specs that get each cross-check.

mod common;

use std::collections::HashSet;

use promql_parser::parser::Expr;
use promql_parser::util::{ExprVisitor, walk_expr};
use serde_json::{Value, json};

use plat::compile::{Compilation, Selection, compile};
use plat::diag::render_short;
use plat::observe::dashboards::{GRID_COLUMNS, SCHEMA_VERSION, is_platform_metric};
use plat::observe::metrics::FamilyKind;
use plat::render::Files;
use plat::spec::Spec;
use plat::world::{FsWorld, MemoryWorld};

const ENVIRONMENTS: [&str; 5] = ["dev", "test", "staging", "prod", "dr"];
const JOBS: [&str; 6] = [
    "api-gateway",
    "tenant-service",
    "session-service",
    "message-service",
    "auth-service",
    "astrbot-instance",
];

fn repository() -> FsWorld {
    FsWorld::new(env!("CARGO_MANIFEST_DIR"))
}

fn compiled() -> Compilation {
    let compilation = compile(&repository(), "platform.toml", &Selection::All);
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
    compilation
}

fn files<'c>(compilation: &'c Compilation, env: &str) -> &'c Files {
    &compilation
        .outputs
        .iter()
        .find(|(e, _)| e == env)
        .unwrap_or_else(|| panic!("no output for {env}"))
        .1
}

/// Every `grafana/<uid>.json` of one environment: (uid, text).
fn dashboards(files: &Files) -> Vec<(String, String)> {
    files
        .files
        .iter()
        .filter_map(|(path, text)| {
            Some((
                path.strip_prefix("grafana/")?
                    .strip_suffix(".json")?
                    .to_string(),
                text.clone(),
            ))
        })
        .collect()
}

/// The spec of one environment, read the way the compiler reads it.
fn spec_of(env: &str) -> Spec {
    let (_, diags, spec) = plat::compile::read_environment(&repository(), "platform.toml", env);
    assert!(diags.is_empty(), "{diags:?}");
    spec.expect("the reference spec reads")
}

/// The series names of the declared families (histograms by their `_bucket`, `_sum` and `_count`
/// series); the dashboards may also query Prometheus' and the exporters' series.
fn declared_series(spec: &Spec) -> HashSet<String> {
    let mut names = HashSet::new();
    for family in &spec.observe.metrics.families {
        let suffixes: &[&str] = match family.value.kind {
            FamilyKind::Counter | FamilyKind::Gauge => &[""],
            FamilyKind::Histogram => &["_bucket", "_sum", "_count"],
            FamilyKind::Summary => &["", "_sum", "_count"],
        };
        names.extend(suffixes.iter().map(|s| format!("{}{s}", family.name)));
    }
    names
}

/// The metric names a PromQL expression selects.
fn metric_names(expr: &Expr) -> Vec<String> {
    struct Names(Vec<String>);
    impl ExprVisitor for Names {
        type Error = ();
        fn pre_visit(&mut self, expr: &Expr) -> Result<bool, ()> {
            match expr {
                Expr::VectorSelector(vs) => self.0.extend(vs.name.clone()),
                Expr::MatrixSelector(ms) => self.0.extend(ms.vs.name.clone()),
                _ => {}
            }
            Ok(true)
        }
    }
    let mut names = Names(Vec::new());
    walk_expr(&mut names, expr).unwrap();
    names.0
}

fn panels(dashboard: &Value) -> &Vec<Value> {
    dashboard["panels"].as_array().expect("panels")
}

fn rect(panel: &Value) -> (i64, i64, i64, i64) {
    let g = &panel["gridPos"];
    let n = |k: &str| {
        g[k].as_i64()
            .unwrap_or_else(|| panic!("gridPos.{k} of {}", panel["title"]))
    };
    (n("x"), n("y"), n("w"), n("h"))
}

fn overlaps(a: (i64, i64, i64, i64), b: (i64, i64, i64, i64)) -> bool {
    a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3
}

fn check_grid(uid: &str, panels: &[Value]) {
    let mut ids = HashSet::new();
    for (i, panel) in panels.iter().enumerate() {
        let id = panel["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("{uid}: panel without a numeric id"));
        assert!(ids.insert(id), "{uid}: panel id {id} twice");
        let r = rect(panel);
        assert!(r.0 >= 0 && r.1 >= 0 && r.2 >= 1 && r.3 >= 1, "{uid}: {r:?}");
        assert!(
            r.0 + r.2 <= GRID_COLUMNS,
            "{uid}: panel {} leaves the 24-column grid",
            panel["title"]
        );
        for other in &panels[..i] {
            assert!(
                !overlaps(r, rect(other)),
                "{uid}: {} overlaps {}",
                panel["title"],
                other["title"]
            );
        }
    }
}

fn check_datasource(uid: &str, dashboard: &Value) {
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    let variable = variables
        .iter()
        .find(|v| v["name"] == "datasource")
        .unwrap_or_else(|| panic!("{uid}: no datasource variable"));
    assert_eq!(variable["type"], "datasource", "{uid}");
    assert_eq!(variable["query"], "prometheus", "{uid}");
    let uses_variable = json!({ "type": "prometheus", "uid": "${datasource}" });
    for panel in panels(dashboard) {
        assert_eq!(
            panel["datasource"], uses_variable,
            "{uid}: panel {}",
            panel["title"]
        );
        for target in panel["targets"].as_array().unwrap() {
            assert_eq!(
                target["datasource"], uses_variable,
                "{uid}: a target of {}",
                panel["title"]
            );
        }
    }
}

fn check_queries(uid: &str, dashboard: &Value, declared: &HashSet<String>) {
    for panel in panels(dashboard) {
        let targets = panel["targets"].as_array().unwrap();
        assert!(
            !targets.is_empty(),
            "{uid}: panel {} has no query",
            panel["title"]
        );
        let ref_ids: HashSet<&str> = targets
            .iter()
            .map(|t| t["refId"].as_str().unwrap())
            .collect();
        assert_eq!(
            ref_ids.len(),
            targets.len(),
            "{uid}: refIds of {} repeat",
            panel["title"]
        );
        for target in targets {
            let expr = target["expr"].as_str().unwrap();
            let parsed = promql_parser::parser::parse(expr)
                .unwrap_or_else(|e| panic!("{uid}: `{expr}` does not parse: {e}"));
            let names = metric_names(&parsed);
            assert!(!names.is_empty(), "{uid}: `{expr}` names no metric");
            for name in names {
                assert!(
                    declared.contains(&name) || is_platform_metric(&name),
                    "{uid}: `{expr}` queries undeclared `{name}`"
                );
            }
        }
    }
}

#[test]
fn every_dashboard_is_a_valid_grafana_dashboard() {
    let compilation = compiled();
    for env in ENVIRONMENTS {
        let declared = declared_series(&spec_of(env));
        let boards = dashboards(files(&compilation, env));
        assert!(!boards.is_empty(), "{env} has no dashboards");
        for (uid, text) in &boards {
            let dashboard: Value =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{env}/{uid}: {e}"));
            // Canonical text: what serde_json pretty-prints (sorted keys, two spaces), and a final newline.
            assert_eq!(
                text,
                &format!("{}\n", serde_json::to_string_pretty(&dashboard).unwrap()),
                "{env}/{uid}"
            );
            assert_eq!(
                dashboard["schemaVersion"],
                json!(SCHEMA_VERSION),
                "{env}/{uid}"
            );
            assert_eq!(
                dashboard["uid"],
                json!(uid),
                "{env}: the file is named after the uid"
            );
            assert!(
                uid.len() <= 40,
                "{uid}: Grafana uids have at most 40 characters"
            );
            assert!(
                dashboard["title"].as_str().is_some_and(|t| !t.is_empty()),
                "{env}/{uid}"
            );
            check_grid(uid, panels(&dashboard));
            check_datasource(uid, &dashboard);
            check_queries(uid, &dashboard, &declared);
        }
    }
}

#[test]
fn basic_monitoring_gets_the_overview_and_higher_levels_a_dashboard_per_job() {
    let compilation = compiled();
    let uids = |env: &str| -> Vec<String> {
        let mut uids: Vec<String> = dashboards(files(&compilation, env))
            .into_iter()
            .map(|(uid, _)| uid)
            .collect();
        uids.sort();
        uids
    };
    assert_eq!(uids("dev"), vec!["saas-platform-overview"]);
    let mut expected: Vec<String> = JOBS.iter().map(|j| format!("saas-platform-{j}")).collect();
    expected.push("saas-platform-overview".into());
    expected.sort();
    for env in ["test", "staging", "prod", "dr"] {
        assert_eq!(uids(env), expected, "{env}");
    }
}

#[test]
fn each_dashboard_ships_in_a_config_map_for_the_grafana_sidecar() {
    let compilation = compiled();
    for env in ENVIRONMENTS {
        let files = files(&compilation, env);
        let manifests = plat::yaml::parse_yaml_stream(
            files.get("kubernetes/monitoring/dashboards.yaml").unwrap(),
        )
        .unwrap();
        let boards = dashboards(files);
        assert_eq!(
            manifests.len(),
            boards.len(),
            "{env}: one ConfigMap per dashboard"
        );
        for (uid, text) in &boards {
            let map = manifests
                .iter()
                .find(|m| m["metadata"]["name"] == format!("grafana-dashboard-{uid}"))
                .unwrap_or_else(|| panic!("{env}: no ConfigMap for {uid}"));
            assert_eq!(map["kind"], "ConfigMap");
            let metadata = &map["metadata"];
            assert_eq!(metadata["labels"]["grafana_dashboard"], "1", "{env}/{uid}");
            assert_eq!(
                metadata["labels"]["app.kubernetes.io/managed-by"], "plat",
                "{env}/{uid}"
            );
            assert_eq!(
                metadata["annotations"]["grafana_folder"], "SaaS Platform",
                "{env}/{uid}"
            );
            assert!(
                metadata["annotations"]["plat.dev/source"]
                    .as_str()
                    .unwrap()
                    .starts_with("platform.toml#dashboards"),
                "{env}/{uid}"
            );
            assert_eq!(
                map["data"][format!("{uid}.json")],
                json!(text),
                "{env}/{uid}: the ConfigMap holds the file's text"
            );
        }
        let kustomization = files.get("kustomization.yaml").unwrap();
        assert!(
            kustomization.contains("- kubernetes/monitoring/dashboards.yaml"),
            "{env}"
        );
    }
}

#[test]
fn rendering_twice_gives_the_same_bytes() {
    let once = compiled();
    let twice = compiled();
    for env in ENVIRONMENTS {
        assert_eq!(
            dashboards(files(&once, env)),
            dashboards(files(&twice, env)),
            "{env}"
        );
    }
}

/// A panel as the overview test compares it: type, title, and each target's expr and format.
type PanelSummary = (String, String, Vec<(String, String)>);

fn panel_list(dashboard: &Value) -> Vec<PanelSummary> {
    panels(dashboard)
        .iter()
        .map(|p| {
            let targets = p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        t["expr"].as_str().unwrap().to_string(),
                        t["format"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (
                p["type"].as_str().unwrap().to_string(),
                p["title"].as_str().unwrap().to_string(),
                targets,
            )
        })
        .collect()
}

#[test]
fn the_overview_shows_the_seeds_panels_with_correct_promql() {
    let compilation = compiled();
    let (_, text) = dashboards(files(&compilation, "prod"))
        .into_iter()
        .find(|(uid, _)| uid == "saas-platform-overview")
        .unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(dashboard["title"], "SaaS platform overview");
    assert_eq!(dashboard["refresh"], "30s");
    assert_eq!(dashboard["time"], json!({ "from": "now-6h", "to": "now" }));
    let t = |kind: &str, title: &str, targets: &[(&str, &str)]| {
        (
            kind.to_string(),
            title.to_string(),
            targets
                .iter()
                .map(|(e, f)| (e.to_string(), f.to_string()))
                .collect::<Vec<_>>(),
        )
    };
    let expected = vec![
        t(
            "timeseries",
            "API QPS by method and endpoint",
            &[(
                r#"sum by (method, endpoint) (rate(http_requests_total{namespace="production"}[2m]))"#,
                "time_series",
            )],
        ),
        t(
            "heatmap",
            "Response time distribution",
            &[(
                r#"sum by (le) (rate(http_request_duration_seconds_bucket{namespace="production"}[2m]))"#,
                "heatmap",
            )],
        ),
        t(
            "stat",
            "Active tenants",
            &[(
                r#"count(count by (tenant_id) (rate(http_requests_total{namespace="production", tenant_id!=""}[5m]) > 0))"#,
                "time_series",
            )],
        ),
        t(
            "table",
            "AstrBot instance status",
            &[(
                r#"up{namespace="production", job="astrbot-instance"}"#,
                "table",
            )],
        ),
        t(
            "timeseries",
            "Busiest tenants (requests/s, top 10)",
            &[(
                r#"topk(10, sum by (tenant_id) (rate(http_requests_total{job="api-gateway", tenant_id!=""}[5m])))"#,
                "time_series",
            )],
        ),
    ];
    assert_eq!(panel_list(&dashboard), expected);
    // Below `basic`, the overview links the per-service dashboards by tag.
    assert_eq!(
        dashboard["links"][0]["tags"],
        json!(["saas-platform", "service"])
    );
}

#[test]
fn a_service_dashboard_shows_rate_errors_latency_and_memory() {
    let compilation = compiled();
    let (_, text) = dashboards(files(&compilation, "prod"))
        .into_iter()
        .find(|(uid, _)| uid == "saas-platform-api-gateway")
        .unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    let titles: Vec<&str> = panels(&dashboard)
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Request rate by status",
            "5xx ratio",
            "Latency p50 / p95 / p99",
            "Memory vs limit"
        ]
    );
    let exprs: Vec<String> = panels(&dashboard)
        .iter()
        .flat_map(|p| {
            p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["expr"].as_str().unwrap().to_string())
        })
        .collect();
    assert!(
        exprs
            .iter()
            .all(|e| e.contains(r#"namespace="production""#)),
        "{exprs:#?}"
    );
    assert!(
        exprs[..5]
            .iter()
            .all(|e| e.contains(r#"job="api-gateway""#)),
        "{exprs:#?}"
    );
    assert!(exprs[1].contains(r#"status=~"5..""#));
    assert!(exprs[3].starts_with("histogram_quantile(0.95, sum by (le)"));
    assert!(
        exprs[5].contains(r#"container="api-gateway""#),
        "cAdvisor names the container"
    );
    let memory = &panels(&dashboard)[3];
    assert!(
        memory["description"].as_str().unwrap().contains("4Gi"),
        "the limit from size 2C4G"
    );
}

// ---------------------------------------------------------------------------------------------------
// broken specs

const BASE: &str = r#"[platform]
name = "hello"

[sizes.small]
requests = { cpu = "250m", memory = "256Mi" }
limits = { cpu = "500m", memory = "512Mi" }

[services.web]
image = "ghcr.io/example/web:1.0.0"
replicas = 2
size = "small"

[services.worker]
image = "ghcr.io/example/worker:1.0.0"
replicas = 1
size = "small"

[metrics]
exposed_by = ["web", "worker"]
"#;

const FAMILIES: &str = r#"
[metrics.families.http_requests_total]
type = "counter"
labels = ["status", "method", "endpoint", "tenant_id"]

[metrics.families.http_request_duration_seconds]
type = "histogram"
labels = ["method", "endpoint"]
"#;

const ENVIRONMENT: &str = r#"[environment]
namespace = "hello"
context = "prod-cluster"
nodes = 3
monitoring = "complete"
"#;

/// Each finding of compiling `spec` as (code, line, message and help).
fn findings(spec: &str) -> Vec<(String, usize, String)> {
    let world = MemoryWorld::default()
        .with("platform.toml", spec)
        .with("environments/prod.toml", ENVIRONMENT);
    let compilation = compile(&world, "platform.toml", &Selection::One("prod".into()));
    compilation
        .diagnostics
        .iter()
        .map(|d| {
            let short = render_short(&compilation.sources, d);
            let (location, _) = short
                .split_once(": error[")
                .unwrap_or_else(|| panic!("unlocated: {short}"));
            let (file, rest) = location.split_once(':').unwrap();
            assert_eq!(file, "platform.toml", "{short}");
            let line: usize = rest.split(':').next().unwrap().parse().unwrap();
            (
                d.code.to_string(),
                line,
                format!("{} | {}", d.message, d.help.clone().unwrap_or_default()),
            )
        })
        .collect()
}

/// The 1-based line of the first line of `spec` that contains `needle`.
fn line_of(spec: &str, needle: &str) -> usize {
    spec.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` not in the spec"))
        + 1
}

#[test]
fn each_cross_check_is_reported_at_its_place() {
    let spec = format!(
        r#"{BASE}{FAMILIES}
[dashboards]

[dashboards.overview]
title = "hello / worker"
uid = "hello-web"

[dashboards.panels.broken]
title = "Broken"
expr = 'sum(rate(http_requests_total[5m])'

[dashboards.panels.misspelt-metric]
title = "Misspelt metric"
expr = 'sum(rate(http_request_total[5m]))'

[dashboards.panels.misspelt-job]
title = "Misspelt job"
expr = 'sum(rate(http_requests_total{{job="wroker"}}[5m]))'

[dashboards.panels.misspelt-label]
title = "Misspelt label"
expr = 'sum by (tenant) (rate(http_requests_total{{stauts="500"}}[5m]))'
"#
    );
    let found = findings(&spec);
    let codes: Vec<(&str, usize)> = found.iter().map(|(c, l, _)| (c.as_str(), *l)).collect();
    let label_line = line_of(&spec, "stauts");
    assert_eq!(
        codes,
        vec![
            ("P0325", line_of(&spec, "title = \"hello / worker\"")),
            ("P0324", line_of(&spec, "uid = \"hello-web\"")),
            (
                "P0321",
                line_of(&spec, "expr = 'sum(rate(http_requests_total[5m])'")
            ),
            ("P0322", line_of(&spec, "http_request_total")),
            ("P0323", line_of(&spec, "wroker")),
            ("P0327", label_line),
            ("P0327", label_line),
        ],
        "{found:#?}"
    );
    let text = |code: &str| -> Vec<&str> {
        found
            .iter()
            .filter(|(c, _, _)| c == code)
            .map(|(_, _, t)| t.as_str())
            .collect()
    };
    assert!(
        text("P0325")[0].contains("titled `hello / worker`"),
        "{found:#?}"
    );
    assert!(text("P0324")[0].contains("uid `hello-web`"), "{found:#?}");
    assert!(
        text("P0322")[0].contains("did you mean `http_requests_total`?"),
        "{found:#?}"
    );
    assert!(
        text("P0323")[0].contains("did you mean `worker`?"),
        "{found:#?}"
    );
    let labels = text("P0327");
    assert!(
        labels
            .iter()
            .any(|t| t.contains("`stauts`") && t.contains("did you mean `status`?")),
        "{found:#?}"
    );
    assert!(
        labels
            .iter()
            .any(|t| t.contains("`tenant`") && t.contains("did you mean `tenant_id`?")),
        "{found:#?}"
    );
}

#[test]
fn a_family_of_the_wrong_type_is_reported_once_at_the_dashboards_key() {
    let families = FAMILIES.replace("type = \"histogram\"", "type = \"summary\"");
    let spec =
        format!("{BASE}{families}\n[dashboards]\nlatency = \"http_request_duration_seconds\"\n");
    let found = findings(&spec);
    assert_eq!(found.len(), 1, "{found:#?}");
    let (code, line, text) = &found[0];
    assert_eq!(
        (code.as_str(), *line),
        ("P0326", line_of(&spec, "latency = "))
    );
    assert!(
        text.contains("a summary family; the dashboards need a histogram"),
        "{text}"
    );
}

#[test]
fn an_undeclared_family_is_reported_once_per_metric_at_the_section() {
    let spec = format!("{BASE}\n[dashboards]\nper_service = true\n");
    let found = findings(&spec);
    let section = line_of(&spec, "[dashboards]");
    let summary: Vec<(&str, usize)> = found.iter().map(|(c, l, _)| (c.as_str(), *l)).collect();
    // Three panels per dashboard read the counter and two the histogram: each is reported once.
    assert_eq!(
        summary,
        vec![("P0322", section), ("P0322", section)],
        "{found:#?}"
    );
    assert!(
        found[0].2.contains("`http_requests_total`")
            || found[1].2.contains("`http_requests_total`")
    );
}

#[test]
fn malformed_dashboard_settings_are_read_errors() {
    let spec = format!(
        "{BASE}{FAMILIES}\n[dashboards]\n\n[dashboards.overview]\nuid = \"Not_A_Uid\"\nrefresh = \"soon\"\ntime = {{ from = \"yesterday\" }}\n\n[dashboards.panels.x]\ntitle = \"X\"\ntype = \"graph\"\nexpr = \"up\"\n"
    );
    let found = findings(&spec);
    let summary: Vec<(&str, usize)> = found.iter().map(|(c, l, _)| (c.as_str(), *l)).collect();
    assert_eq!(
        summary,
        vec![
            ("P0104", line_of(&spec, "Not_A_Uid")),
            ("P0104", line_of(&spec, "soon")),
            ("P0104", line_of(&spec, "yesterday")),
            ("P0104", line_of(&spec, "graph")),
        ],
        "{found:#?}"
    );
}

#[test]
fn without_a_dashboards_section_nothing_is_generated() {
    let spec = format!("{BASE}{FAMILIES}");
    let world = MemoryWorld::default()
        .with("platform.toml", spec.as_str())
        .with("environments/prod.toml", ENVIRONMENT);
    let compilation = compile(&world, "platform.toml", &Selection::One("prod".into()));
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
    let files = &compilation.outputs[0].1;
    assert!(dashboards(files).is_empty());
    assert!(files.get("kubernetes/monitoring/dashboards.yaml").is_none());
}

// ---------------------------------------------------------------------------------------------------
// what the queries compute, proven with Prometheus's own engine (`promtool test rules`)

fn promtool() -> std::path::PathBuf {
    common::tool("promtool")
}

/// The expression of target `index` of the panel titled `title`.
fn expr_of(dashboard: &Value, title: &str, index: usize) -> String {
    let panel = panels(dashboard)
        .iter()
        .find(|p| p["title"] == title)
        .unwrap_or_else(|| panic!("no panel {title}"));
    panel["targets"][index]["expr"]
        .as_str()
        .unwrap()
        .to_string()
}

fn series(name: &str, labels: &[(&str, &str)], values: &str) -> Value {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    json!({ "series": format!("{name}{{{}}}", labels.join(",")), "values": values })
}

fn expect(expr: String, samples: &[(&str, f64)]) -> Value {
    let samples: Vec<Value> = samples
        .iter()
        .map(|(labels, value)| json!({ "labels": labels, "value": value }))
        .collect();
    json!({ "expr": expr, "eval_time": "10m", "exp_samples": samples })
}

/// Traffic of api-gateway in production: acme 1/s (200), globex 1/s (500), initech idle, and a tenant
/// of another namespace that must not count; latency half under 250 ms; two AstrBot targets, one
/// down; one pod at a quarter of its memory limit (the pod-level cgroup series has no container).
fn production_series() -> Vec<Value> {
    let request = |tenant: &str,
                   method: &str,
                   endpoint: &str,
                   status: &str,
                   namespace: &str,
                   values: &str| {
        let labels = [
            ("namespace", namespace),
            ("job", "api-gateway"),
            ("tenant_id", tenant),
            ("method", method),
            ("endpoint", endpoint),
            ("status", status),
        ];
        series("http_requests_total", &labels, values)
    };
    let bucket = |le: &str, values: &str| {
        series(
            "http_request_duration_seconds_bucket",
            &[
                ("namespace", "production"),
                ("job", "api-gateway"),
                ("le", le),
            ],
            values,
        )
    };
    let pod = [
        ("namespace", "production"),
        ("container", "api-gateway"),
        ("pod", "api-gateway-blue-1"),
    ];
    vec![
        request("acme", "GET", "/chat", "200", "production", "0+60x10"),
        request("globex", "GET", "/chat", "500", "production", "0+60x10"),
        request("initech", "POST", "/login", "200", "production", "100x10"),
        request("hooli", "GET", "/chat", "200", "saas-staging", "0+60x10"),
        bucket("0.25", "0+30x10"),
        bucket("0.5", "0+60x10"),
        bucket("+Inf", "0+60x10"),
        series(
            "up",
            &[
                ("namespace", "production"),
                ("job", "astrbot-instance"),
                ("instance", "10.0.0.1:8000"),
            ],
            "1x10",
        ),
        series(
            "up",
            &[
                ("namespace", "production"),
                ("job", "astrbot-instance"),
                ("instance", "10.0.0.2:8000"),
            ],
            "0x10",
        ),
        series("container_memory_working_set_bytes", &pod, "1073741824x10"),
        series(
            "container_memory_working_set_bytes",
            &[("namespace", "production"), ("pod", "api-gateway-blue-1")],
            "9999999999x10",
        ),
        series("container_spec_memory_limit_bytes", &pod, "4294967296x10"),
    ]
}

#[test]
fn the_generated_queries_compute_what_their_panels_say() {
    let compilation = compiled();
    let boards = dashboards(files(&compilation, "prod"));
    let board = |uid: &str| -> Value {
        serde_json::from_str(&boards.iter().find(|(u, _)| u == uid).unwrap().1).unwrap()
    };
    let overview = board("saas-platform-overview");
    let gateway = board("saas-platform-api-gateway");
    let tests = vec![
        expect(
            expr_of(&overview, "API QPS by method and endpoint", 0),
            &[
                (r#"{method="GET",endpoint="/chat"}"#, 2.0),
                (r#"{method="POST",endpoint="/login"}"#, 0.0),
            ],
        ),
        expect(
            expr_of(&overview, "Response time distribution", 0),
            &[
                (r#"{le="0.25"}"#, 0.5),
                (r#"{le="0.5"}"#, 1.0),
                (r#"{le="+Inf"}"#, 1.0),
            ],
        ),
        expect(expr_of(&overview, "Active tenants", 0), &[("{}", 2.0)]),
        expect(
            expr_of(&overview, "AstrBot instance status", 0),
            &[
                (
                    r#"up{namespace="production",job="astrbot-instance",instance="10.0.0.1:8000"}"#,
                    1.0,
                ),
                (
                    r#"up{namespace="production",job="astrbot-instance",instance="10.0.0.2:8000"}"#,
                    0.0,
                ),
            ],
        ),
        expect(
            expr_of(&gateway, "Request rate by status", 0),
            &[(r#"{status="200"}"#, 1.0), (r#"{status="500"}"#, 1.0)],
        ),
        expect(expr_of(&gateway, "5xx ratio", 0), &[("{}", 0.5)]),
        expect(
            expr_of(&gateway, "Latency p50 / p95 / p99", 0),
            &[("{}", 0.25)],
        ),
        expect(
            expr_of(&gateway, "Memory vs limit", 0),
            &[(r#"{pod="api-gateway-blue-1"}"#, 0.25)],
        ),
    ];
    let file = json!({
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [{ "interval": "1m", "input_series": production_series(), "promql_expr_test": tests }],
    });
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboards");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("queries.test.json");
    std::fs::write(&path, serde_json::to_string_pretty(&file).unwrap()).unwrap();
    let output = std::process::Command::new(promtool())
        .args(["test", "rules"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "promtool test rules:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn exporter_and_prometheus_series_need_no_declaration() {
    let spec = format!(
        "{BASE}{FAMILIES}\n[dashboards]\n\n[dashboards.panels.restarts]\ntitle = \"Restarts\"\nexpr = 'sum by (pod) (increase(kube_pod_container_status_restarts_total{{namespace=\"hello\"}}[1h])) + on (pod) group_left () (0 * max by (pod) (up))'\n"
    );
    assert_eq!(findings(&spec), Vec::new());
}
