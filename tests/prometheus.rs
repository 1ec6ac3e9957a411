//! The generated Prometheus rules, proven with promtool: `promtool check rules` accepts every
//! environment's file, and `promtool test rules` shows that each alert fires when the seed's intent
//! says it should and stays silent when it should not, with series from several instances and status
//! codes. The expectations (labels, thresholds) are written here from the intent, not read from the
//! rules; only annotation texts are taken from the rules file and expanded.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn promtool() -> PathBuf {
    common::tool("promtool")
}

const ENVIRONMENTS: [&str; 5] = ["dev", "test", "staging", "prod", "dr"];

fn rules_text(env: &str) -> String {
    std::fs::read_to_string(
        repo()
            .join("generated")
            .join(env)
            .join("prometheus/rules.yaml"),
    )
    .unwrap()
}

fn rules(env: &str) -> Value {
    plat::yaml::parse_yaml_stream(&rules_text(env))
        .unwrap()
        .remove(0)
}

fn namespace(env: &str) -> String {
    let text = std::fs::read_to_string(
        repo()
            .join("generated")
            .join(env)
            .join("kubernetes/namespace.yaml"),
    )
    .unwrap();
    let docs = plat::yaml::parse_yaml_stream(&text).unwrap();
    docs[0]["metadata"]["name"].as_str().unwrap().to_string()
}

fn work_dir(env: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("promtool")
        .join(env);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rules.yaml"), rules_text(env)).unwrap();
    dir
}

/// The rule of an alert, for its annotation templates.
fn rule<'a>(rules: &'a Value, alert: &str) -> Option<&'a Value> {
    rules["groups"]
        .as_array()?
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .find(|r| r["alert"] == alert)
}

/// Expands the two template forms the rules use: `{{ $labels.x }}` and `{{ $value | humanizePercentage }}`.
fn expand(template: &str, labels: &Value, value_percent: &str) -> String {
    let mut out = template.replace("{{ $value | humanizePercentage }}", value_percent);
    for (k, v) in labels.as_object().unwrap() {
        out = out.replace(&format!("{{{{ $labels.{k} }}}}"), v.as_str().unwrap());
    }
    out
}

fn expected(rules: &Value, alert: &str, labels: Value, value_percent: &str) -> Value {
    let rule = rule(rules, alert).unwrap_or_else(|| panic!("no rule {alert}"));
    let annotations: serde_json::Map<String, Value> = rule["annotations"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                json!(expand(v.as_str().unwrap(), &labels, value_percent)),
            )
        })
        .collect();
    json!({ "exp_labels": labels, "exp_annotations": annotations })
}

fn series(name: &str, labels: &[(&str, &str)], values: &str) -> Value {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    json!({ "series": format!("{name}{{{}}}", labels.join(",")), "values": values })
}

/// Request counters of api-gateway: per (instance, status) an increase per minute.
fn requests(per_minute: &[(&str, &str, u32)], minutes: u32) -> Vec<Value> {
    per_minute
        .iter()
        .map(|(instance, status, n)| {
            series(
                "http_requests_total",
                &[
                    ("job", "api-gateway"),
                    ("service", "api-gateway"),
                    ("instance", instance),
                    ("status", status),
                    ("method", "GET"),
                    ("endpoint", "/v1/messages"),
                ],
                &format!("0+{n}x{minutes}"),
            )
        })
        .collect()
}

fn case(input: Vec<Value>, checks: Vec<Value>) -> Value {
    json!({ "interval": "1m", "input_series": input, "alert_rule_test": checks })
}

fn check(alert: &str, at: &str, alerts: Vec<Value>) -> Value {
    json!({ "eval_time": at, "alertname": alert, "exp_alerts": alerts })
}

fn error_rate_cases(rules: &Value) -> Vec<Value> {
    let labels = json!({ "severity": "critical", "job": "api-gateway", "service": "api-gateway" });
    vec![
        // 10 % of requests fail, spread over two instances and two 5xx codes: fires.
        case(
            requests(
                &[
                    ("a:8000", "200", 270),
                    ("a:8000", "500", 30),
                    ("b:8000", "200", 270),
                    ("b:8000", "503", 30),
                ],
                20,
            ),
            vec![check(
                "HighErrorRate",
                "10m",
                vec![expected(rules, "HighErrorRate", labels, "10%")],
            )],
        ),
        // 4 %: below the 5 % threshold.
        case(
            requests(
                &[
                    ("a:8000", "200", 288),
                    ("a:8000", "500", 12),
                    ("b:8000", "200", 288),
                    ("b:8000", "503", 12),
                ],
                20,
            ),
            vec![check("HighErrorRate", "10m", vec![])],
        ),
        // One quiet instance fails every request, but the service as a whole fails 0.17 %.
        case(
            requests(&[("a:8000", "200", 599), ("c:8000", "500", 1)], 20),
            vec![check("HighErrorRate", "10m", vec![])],
        ),
        // 4xx answers are the client's errors, not the service's.
        case(
            requests(&[("a:8000", "200", 300), ("a:8000", "404", 300)], 20),
            vec![check("HighErrorRate", "10m", vec![])],
        ),
    ]
}

fn latency_series(instance: &str, slow: bool) -> Vec<Value> {
    // Cumulative buckets: either every request is under 250 ms, or every one takes 0.5–1 s.
    [
        ("0.1", 0),
        ("0.25", if slow { 0 } else { 100 }),
        ("0.5", if slow { 0 } else { 100 }),
        ("1", 100),
        ("+Inf", 100),
    ]
    .iter()
    .map(|(le, n)| {
        series(
            "http_request_duration_seconds_bucket",
            &[
                ("job", "session-service"),
                ("service", "session-service"),
                ("instance", instance),
                ("le", le),
            ],
            &format!("0+{n}x20"),
        )
    })
    .collect()
}

fn latency_cases(rules: &Value) -> Vec<Value> {
    let labels =
        json!({ "severity": "warning", "job": "session-service", "service": "session-service" });
    let mut slow = latency_series("a:8000", true);
    slow.extend(latency_series("b:8000", true));
    let mut fast = latency_series("a:8000", false);
    fast.extend(latency_series("b:8000", false));
    vec![
        case(
            slow,
            vec![check(
                "HighAPILatency",
                "10m",
                vec![expected(rules, "HighAPILatency", labels, "")],
            )],
        ),
        case(fast, vec![check("HighAPILatency", "10m", vec![])]),
    ]
}

fn memory_cases(rules: &Value, ns: &str) -> Vec<Value> {
    let container = |pod: &str, metric: &str, value: u32| {
        series(
            metric,
            &[
                ("namespace", ns),
                ("pod", pod),
                ("container", "app"),
                ("id", "/kubepods/x"),
            ],
            &format!("{value}x20"),
        )
    };
    let labels =
        json!({ "severity": "warning", "namespace": ns, "pod": "busy", "container": "app" });
    vec![case(
        vec![
            container("busy", "container_memory_working_set_bytes", 950),
            container("busy", "container_spec_memory_limit_bytes", 1000),
            container("calm", "container_memory_working_set_bytes", 500),
            container("calm", "container_spec_memory_limit_bytes", 1000),
            // No limit (0): never divided by, never an alert.
            container("unbounded", "container_memory_working_set_bytes", 5000),
            container("unbounded", "container_spec_memory_limit_bytes", 0),
        ],
        vec![
            check("HighMemoryUsage", "4m", vec![]),
            check(
                "HighMemoryUsage",
                "10m",
                vec![expected(rules, "HighMemoryUsage", labels, "95%")],
            ),
        ],
    )]
}

fn instance_down_cases(rules: &Value) -> Vec<Value> {
    let up = |tenant: &str, values: &str| {
        let service = format!("astrbot-{tenant}");
        let instance = format!("{service}:8000");
        series(
            "up",
            &[
                ("job", "astrbot-instance"),
                ("service", &service),
                ("instance", &instance),
            ],
            values,
        )
    };
    let labels = json!({ "severity": "critical", "job": "astrbot-instance", "service": "astrbot-acme", "instance": "astrbot-acme:8000" });
    vec![case(
        vec![up("acme", "1 1 1 0 0 0 0 0 0 0"), up("globex", "1x10")],
        vec![
            check("AstrBotInstanceDown", "3m", vec![]),
            check(
                "AstrBotInstanceDown",
                "6m",
                vec![expected(rules, "AstrBotInstanceDown", labels, "")],
            ),
        ],
    )]
}

/// A tenant whose pod is Pending or evicted has no scrape target, so `up` never says it is down;
/// kube-state-metrics does: its Deployment wants a replica and has none available. A Deployment
/// scaled to zero on purpose, or one with its replica available, stays silent.
fn unavailable_deployment_cases(rules: &Value, ns: &str) -> Vec<Value> {
    let ksm = |metric: &str, deployment: &str, values: &str| {
        series(
            metric,
            &[
                ("job", "kube-state-metrics"),
                ("instance", "kube-state-metrics:8080"),
                ("namespace", ns),
                ("deployment", deployment),
            ],
            values,
        )
    };
    let labels = json!({
        "severity": "critical",
        "job": "astrbot-instance",
        "instance": "astrbot-hooli",
        "namespace": ns,
        "deployment": "astrbot-hooli",
    });
    vec![case(
        vec![
            ksm("kube_deployment_spec_replicas", "astrbot-hooli", "1x10"),
            ksm(
                "kube_deployment_status_replicas_available",
                "astrbot-hooli",
                "1 1 0 0 0 0 0 0 0 0",
            ),
            ksm("kube_deployment_spec_replicas", "astrbot-acme", "1x10"),
            ksm(
                "kube_deployment_status_replicas_available",
                "astrbot-acme",
                "1x10",
            ),
            ksm("kube_deployment_spec_replicas", "astrbot-globex", "0x10"),
            ksm(
                "kube_deployment_status_replicas_available",
                "astrbot-globex",
                "0x10",
            ),
            // A service's Deployment is not an AstrBot instance.
            ksm("kube_deployment_spec_replicas", "api-gateway", "1x10"),
            ksm(
                "kube_deployment_status_replicas_available",
                "api-gateway",
                "0x10",
            ),
        ],
        vec![
            check("AstrBotInstanceDown", "2m", vec![]),
            check(
                "AstrBotInstanceDown",
                "6m",
                vec![expected(rules, "AstrBotInstanceDown", labels, "")],
            ),
        ],
    )]
}

/// The alerts plat derives from what the platform runs (`[health]`), each with series that must fire
/// it and series that must not: a failed base backup, WAL archiving that fails or is stuck, a volume
/// filling up, the Ingress certificate close to expiry, an ExternalSecret that does not sync, a
/// container restarting too often and pods that stay unready or pending.
fn health_cases(rules: &Value, ns: &str) -> Vec<Value> {
    let pod_series = |metric: &str, pod: &str, extra: &[(&str, &str)], values: &str| {
        let mut labels = vec![("job", "cnpg"), ("namespace", ns), ("pod", pod)];
        labels.extend_from_slice(extra);
        series(metric, &labels, values)
    };
    let database = |severity: &str| json!({ "severity": severity, "namespace": ns, "database": "postgresql-cluster" });
    let plugin = "barman_cloud_cloudnative_pg_io";
    let backups = |failed: &str, available: &str| {
        vec![
            pod_series(
                &format!("{plugin}_last_failed_backup_timestamp"),
                "postgresql-cluster-1",
                &[],
                failed,
            ),
            pod_series(
                &format!("{plugin}_last_available_backup_timestamp"),
                "postgresql-cluster-1",
                &[],
                available,
            ),
        ]
    };
    let archiver = |failed: &str, archived: &str, ready: &str| {
        vec![
            pod_series(
                "cnpg_pg_stat_archiver_last_failed_time",
                "postgresql-cluster-1",
                &[],
                failed,
            ),
            pod_series(
                "cnpg_pg_stat_archiver_last_archived_time",
                "postgresql-cluster-1",
                &[],
                archived,
            ),
            pod_series(
                "cnpg_collector_pg_wal_archive_status",
                "postgresql-cluster-1",
                &[("value", "ready")],
                ready,
            ),
            pod_series(
                "cnpg_collector_pg_wal_archive_status",
                "postgresql-cluster-1",
                &[("value", "done")],
                "40x30",
            ),
        ]
    };
    let volume = |claim: &str, used: &str| {
        let labels = [
            ("job", "kubelet"),
            ("namespace", ns),
            ("persistentvolumeclaim", claim),
        ];
        vec![
            series("kubelet_volume_stats_used_bytes", &labels, used),
            series("kubelet_volume_stats_capacity_bytes", &labels, "100x20"),
        ]
    };
    let ksm = |metric: &str, labels: &[(&str, &str)], values: &str| {
        let mut all = vec![("job", "kube-state-metrics"), ("namespace", ns)];
        all.extend_from_slice(labels);
        series(metric, &all, values)
    };
    let mut cases = vec![
        // The last base backup failed after the last good one: it warns. A failure older than the
        // last good backup, and a cluster that never failed, stay silent.
        case(
            backups("2000x20", "1000x20"),
            vec![
                check("PostgresBackupFailed", "2m", vec![]),
                check(
                    "PostgresBackupFailed",
                    "10m",
                    vec![expected(
                        rules,
                        "PostgresBackupFailed",
                        database("warning"),
                        "",
                    )],
                ),
            ],
        ),
        case(
            [
                backups("2000x20", "3000x20"),
                vec![pod_series(
                    &format!("{plugin}_last_failed_backup_timestamp"),
                    "postgresql-cluster-2",
                    &[],
                    "0x20",
                )],
            ]
            .concat(),
            vec![check("PostgresBackupFailed", "10m", vec![])],
        ),
        // No base backup for more than `[health] backup_max_age` (26h): it warns after ten minutes.
        // A backup taken every minute (its timestamp follows the clock) stays silent.
        case(
            vec![pod_series(
                &format!("{plugin}_last_available_backup_timestamp"),
                "postgresql-cluster-1",
                &[],
                "0x1600",
            )],
            vec![
                check("PostgresBackupTooOld", "26h5m", vec![]),
                check(
                    "PostgresBackupTooOld",
                    "26h30m",
                    vec![expected(
                        rules,
                        "PostgresBackupTooOld",
                        database("warning"),
                        "",
                    )],
                ),
            ],
        ),
        case(
            vec![pod_series(
                &format!("{plugin}_last_available_backup_timestamp"),
                "postgresql-cluster-1",
                &[],
                "0+60x1600",
            )],
            vec![check("PostgresBackupTooOld", "26h30m", vec![])],
        ),
        // A failed archive newer than the last archived segment pages after ten minutes; so do
        // segments that wait to be archived; a healthy archiver is silent.
        case(
            archiver("2000x30", "1000x30", "0x30"),
            vec![
                check("PostgresWALArchivingFailing", "5m", vec![]),
                check(
                    "PostgresWALArchivingFailing",
                    "15m",
                    vec![expected(
                        rules,
                        "PostgresWALArchivingFailing",
                        database("critical"),
                        "",
                    )],
                ),
            ],
        ),
        case(
            archiver("1000x30", "2000x30", "3x30"),
            vec![check(
                "PostgresWALArchivingFailing",
                "15m",
                vec![expected(
                    rules,
                    "PostgresWALArchivingFailing",
                    database("critical"),
                    "",
                )],
            )],
        ),
        case(
            archiver("1000x30", "2000x30", "0x30"),
            vec![check("PostgresWALArchivingFailing", "15m", vec![])],
        ),
        // 90 % of a claim used warns; 50 % does not.
        case(
            [
                volume("data-minio-0", "90x20"),
                volume("data-minio-1", "50x20"),
            ]
            .concat(),
            vec![
                check("PersistentVolumeFillingUp", "2m", vec![]),
                check(
                    "PersistentVolumeFillingUp",
                    "10m",
                    vec![expected(
                        rules,
                        "PersistentVolumeFillingUp",
                        json!({ "severity": "warning", "namespace": ns, "persistentvolumeclaim": "data-minio-0" }),
                        "90%",
                    )],
                ),
            ],
        ),
        // The Ingress certificate five days from expiry warns (after an hour); another certificate of
        // the namespace is not the Ingress's.
        case(
            vec![
                series(
                    "certmanager_certificate_expiration_timestamp_seconds",
                    &[
                        ("job", "cert-manager"),
                        ("namespace", ns),
                        ("name", "saas-platform-tls"),
                    ],
                    "432000x200",
                ),
                series(
                    "certmanager_certificate_expiration_timestamp_seconds",
                    &[
                        ("job", "cert-manager"),
                        ("namespace", ns),
                        ("name", "other-tls"),
                    ],
                    "432000x200",
                ),
            ],
            vec![
                check("CertificateExpiringSoon", "30m", vec![]),
                check(
                    "CertificateExpiringSoon",
                    "2h",
                    vec![expected(
                        rules,
                        "CertificateExpiringSoon",
                        json!({ "severity": "warning", "namespace": ns, "name": "saas-platform-tls" }),
                        "",
                    )],
                ),
            ],
        ),
        case(
            vec![series(
                "certmanager_certificate_expiration_timestamp_seconds",
                &[
                    ("job", "cert-manager"),
                    ("namespace", ns),
                    ("name", "saas-platform-tls"),
                ],
                "5184000x200",
            )],
            vec![check("CertificateExpiringSoon", "2h", vec![])],
        ),
        // A container restarting every minute; one that restarted three times in the hour is fine.
        case(
            vec![
                ksm(
                    "kube_pod_container_status_restarts_total",
                    &[("pod", "api-gateway-1"), ("container", "api-gateway")],
                    "0+1x40",
                ),
                ksm(
                    "kube_pod_container_status_restarts_total",
                    &[("pod", "api-gateway-2"), ("container", "api-gateway")],
                    "0x10 3x30",
                ),
            ],
            vec![check(
                "PodRestartingOften",
                "30m",
                vec![expected(
                    rules,
                    "PodRestartingOften",
                    json!({ "severity": "warning", "namespace": ns, "pod": "api-gateway-1", "container": "api-gateway" }),
                    "",
                )],
            )],
        ),
        // An unready pod and a pending one warn after five minutes; a ready pod and a finished Job's
        // pod (unready, but Succeeded) do not.
        case(
            vec![
                ksm(
                    "kube_pod_status_ready",
                    &[("pod", "tenant-service-1"), ("condition", "false")],
                    "1x20",
                ),
                ksm(
                    "kube_pod_status_ready",
                    &[("pod", "tenant-service-2"), ("condition", "false")],
                    "0x20",
                ),
                ksm(
                    "kube_pod_status_ready",
                    &[("pod", "tenant-service-2"), ("condition", "true")],
                    "1x20",
                ),
                ksm(
                    "kube_pod_status_phase",
                    &[("pod", "astrbot-acme-1"), ("phase", "Pending")],
                    "1x20",
                ),
                ksm(
                    "kube_pod_status_ready",
                    &[("pod", "migrate-1"), ("condition", "false")],
                    "1x20",
                ),
                ksm(
                    "kube_pod_status_phase",
                    &[("pod", "migrate-1"), ("phase", "Succeeded")],
                    "1x20",
                ),
            ],
            vec![
                check("PodNotReady", "3m", vec![]),
                check(
                    "PodNotReady",
                    "8m",
                    vec![
                        expected(
                            rules,
                            "PodNotReady",
                            json!({ "severity": "warning", "namespace": ns, "pod": "astrbot-acme-1" }),
                            "",
                        ),
                        expected(
                            rules,
                            "PodNotReady",
                            json!({ "severity": "warning", "namespace": ns, "pod": "tenant-service-1" }),
                            "",
                        ),
                    ],
                ),
            ],
        ),
    ];
    // Environments whose secrets come from External Secrets: a Secret that does not sync warns.
    if rule(rules, "ExternalSecretSyncFailed").is_some() {
        let condition = |name: &str, status: &str, values: &str| {
            series(
                "externalsecret_status_condition",
                &[
                    ("job", "external-secrets"),
                    ("namespace", ns),
                    ("name", name),
                    ("condition", "Ready"),
                    ("status", status),
                ],
                values,
            )
        };
        cases.push(case(
            vec![
                condition("saas-platform-secrets", "False", "1x30"),
                condition("saas-platform-secrets", "True", "0x30"),
                condition("postgresql-cluster-app-credentials", "False", "0x30"),
                condition("postgresql-cluster-app-credentials", "True", "1x30"),
            ],
            vec![
                check("ExternalSecretSyncFailed", "5m", vec![]),
                check(
                    "ExternalSecretSyncFailed",
                    "15m",
                    vec![expected(rules, "ExternalSecretSyncFailed", json!({ "severity": "warning", "namespace": ns, "name": "saas-platform-secrets" }), "")],
                ),
            ],
        ));
    }
    // Environments that restore their database (dr): a restore check Job that failed and never
    // succeeded pages; one that failed once and then succeeded does not.
    if rule(rules, "PostgresRestoreCheckFailed").is_some() {
        let failed = "postgresql-cluster-restore-check-0badc0de";
        let retried = "postgresql-cluster-restore-check-600dc0de";
        cases.push(case(
            vec![
                ksm("kube_job_status_failed", &[("job_name", failed)], "1x10"),
                ksm("kube_job_status_succeeded", &[("job_name", failed)], "0x10"),
                ksm("kube_job_status_failed", &[("job_name", retried)], "1x10"),
                ksm(
                    "kube_job_status_succeeded",
                    &[("job_name", retried)],
                    "1x10",
                ),
            ],
            vec![check(
                "PostgresRestoreCheckFailed",
                "5m",
                vec![expected(
                    rules,
                    "PostgresRestoreCheckFailed",
                    json!({ "severity": "critical", "namespace": ns, "job_name": failed }),
                    "",
                )],
            )],
        ));
    }
    cases
}

fn slo_cases(rules: &Value) -> Vec<Value> {
    let labels = |severity: &str| json!({ "severity": severity, "slo": "api-availability", "job": "api-gateway" });
    vec![
        // 2 % errors burns a 0.1 % budget more than 14.4 times too fast: it pages, and it is a slow
        // burn (over 3 times) as well.
        case(
            requests(&[("a:8000", "200", 980), ("a:8000", "500", 20)], 120),
            vec![
                check("SLOErrorBudgetBurnFast", "1m", vec![]),
                check(
                    "SLOErrorBudgetBurnFast",
                    "90m",
                    vec![expected(
                        rules,
                        "SLOErrorBudgetBurnFast",
                        labels("critical"),
                        "",
                    )],
                ),
                check(
                    "SLOErrorBudgetBurnSlow",
                    "90m",
                    vec![expected(
                        rules,
                        "SLOErrorBudgetBurnSlow",
                        labels("warning"),
                        "",
                    )],
                ),
            ],
        ),
        // 0.5 % errors (5 times the budget rate): no page, but a ticket.
        case(
            requests(&[("a:8000", "200", 995), ("a:8000", "500", 5)], 200),
            vec![
                check("SLOErrorBudgetBurnFast", "3h", vec![]),
                check(
                    "SLOErrorBudgetBurnSlow",
                    "3h",
                    vec![expected(
                        rules,
                        "SLOErrorBudgetBurnSlow",
                        labels("warning"),
                        "",
                    )],
                ),
            ],
        ),
        // 0.05 % errors is within the objective: silence.
        case(
            requests(&[("a:8000", "200", 1999), ("a:8000", "500", 1)], 200),
            vec![
                check("SLOErrorBudgetBurnFast", "3h", vec![]),
                check("SLOErrorBudgetBurnSlow", "3h", vec![]),
            ],
        ),
    ]
}

/// The cluster each environment runs in, as its overlay names it (`cluster`, else the kube context).
fn intended_cluster(env: &str) -> &'static str {
    match env {
        "dev" => "dev-cluster",
        "test" => "test-cluster",
        "staging" => "staging-cluster",
        "prod" => "prod-main",
        "dr" => "dr",
        other => panic!("no cluster known for {other}"),
    }
}

/// Every alert says where it fires: the environment and the cluster.
fn stamp_origin(tests: &mut [Value], env: &str) {
    for test in tests {
        for check in test["alert_rule_test"].as_array_mut().unwrap() {
            for alert in check["exp_alerts"].as_array_mut().unwrap() {
                alert["exp_labels"]["environment"] = json!(env);
                alert["exp_labels"]["cluster"] = json!(intended_cluster(env));
            }
        }
    }
}

/// prod and dr run the same rules; only the origin labels tell their alerts apart.
#[test]
fn every_alert_is_stamped_with_its_environment_and_cluster() {
    for env in ENVIRONMENTS {
        let rules = rules(env);
        for group in rules["groups"].as_array().unwrap() {
            for rule in group["rules"].as_array().unwrap() {
                if rule.get("alert").is_none() {
                    assert!(rule["labels"].get("cluster").is_none(), "{env}: {rule}");
                    continue;
                }
                assert_eq!(rule["labels"]["environment"], env, "{env}: {rule}");
                assert_eq!(
                    rule["labels"]["cluster"],
                    intended_cluster(env),
                    "{env}: {rule}"
                );
            }
        }
    }
}

fn run_promtool(args: &[&str], dir: &Path) -> String {
    let output = Command::new(promtool())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "promtool {args:?} in {}:\n{text}",
        dir.display()
    );
    text
}

#[test]
fn promtool_accepts_every_rules_file() {
    for env in ENVIRONMENTS {
        let text = run_promtool(&["check", "rules", "rules.yaml"], &work_dir(env));
        assert!(text.contains("SUCCESS"), "{text}");
    }
}

#[test]
fn every_alert_fires_when_it_should_and_only_then() {
    for env in ENVIRONMENTS {
        let rules = rules(env);
        let mut tests = error_rate_cases(&rules);
        tests.extend(latency_cases(&rules));
        tests.extend(memory_cases(&rules, &namespace(env)));
        tests.extend(instance_down_cases(&rules));
        tests.extend(unavailable_deployment_cases(&rules, &namespace(env)));
        tests.extend(health_cases(&rules, &namespace(env)));
        if rule(&rules, "SLOErrorBudgetBurnFast").is_some() {
            tests.extend(slo_cases(&rules));
        }
        let covered: Vec<String> = tests
            .iter()
            .flat_map(|t| {
                t["alert_rule_test"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["alertname"].as_str().unwrap().to_string())
            })
            .collect();
        for group in rules["groups"].as_array().unwrap() {
            for alert in group["rules"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|r| r["alert"].as_str())
            {
                assert!(
                    covered.iter().any(|c| c == alert),
                    "{env}: alert {alert} has no unit test"
                );
            }
        }
        stamp_origin(&mut tests, env);
        let file =
            json!({ "rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests });
        let dir = work_dir(env);
        std::fs::write(dir.join("tests.yaml"), plat::yaml::to_yaml(&file)).unwrap();
        run_promtool(&["test", "rules", "tests.yaml"], &dir);
    }
}

/// The SLO alerts exist only where the monitoring level asks for them (not in basic dev).
#[test]
fn monitoring_levels_decide_the_slo_rules() {
    assert!(rule(&rules("dev"), "SLOErrorBudgetBurnFast").is_none());
    for env in ["test", "staging", "prod", "dr"] {
        assert!(
            rule(&rules(env), "SLOErrorBudgetBurnFast").is_some(),
            "{env}"
        );
    }
}
