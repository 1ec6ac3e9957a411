//! `[logging]` → Fluentd: every environment's `fluent.conf` reads back into the typed model and renders
//! to the same text; the pipeline is right for the tools that read it (CRI lines, the field the app
//! parser reads, the namespace glob, time formats, no removed parameters); the Kubernetes objects run
//! Fluentd where it can read the node's logs; and broken specs get located diagnostics.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use plat::compile::{Compilation, Selection, compile};
use plat::observe::fluentd::{self, Body, Config, Directive, tag_matches, tail_tag, time_accepts};
use plat::observe::logging::{LogFormat, TimestampFormat};
use plat::render::Files;
use plat::world::{FsWorld, MemoryWorld};

const CONF: &str = "fluentd/fluent.conf";
const MANIFEST: &str = "kubernetes/logging/fluentd.yaml";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn reference() -> Compilation {
    let compilation = compile(&FsWorld::new(repo()), "platform.toml", &Selection::All);
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
    assert!(compilation.outputs.len() >= 5);
    compilation
}

/// What an environment's overlay says about where it runs: (namespace, cluster).
fn environment(env: &str) -> (String, String) {
    let text = std::fs::read_to_string(repo().join(format!("environments/{env}.toml"))).unwrap();
    let overlay: toml::Table = toml::from_str(&text).unwrap();
    let e = overlay["environment"].as_table().unwrap();
    let namespace = e["namespace"].as_str().unwrap().to_string();
    let cluster = e
        .get("cluster")
        .or(e.get("context"))
        .unwrap()
        .as_str()
        .unwrap();
    (namespace, cluster.to_string())
}

fn conf(files: &Files) -> (&str, Config) {
    let text = files.get(CONF).expect("fluent.conf is rendered");
    let config = fluentd::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    (text, config)
}

fn objects(files: &Files) -> Vec<Value> {
    plat::yaml::parse_yaml_stream(files.get(MANIFEST).expect("the Fluentd manifests")).unwrap()
}

fn find<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

fn filter<'a>(config: &'a Config, plugin: &str) -> (&'a str, &'a Body) {
    config
        .filters()
        .into_iter()
        .find(|(_, b)| b.text("@type") == Some(plugin))
        .unwrap_or_else(|| panic!("no {plugin} filter"))
}

fn section<'a>(body: &'a Body, name: &str) -> &'a Body {
    &body
        .child(name)
        .unwrap_or_else(|| panic!("no <{name}>"))
        .body
}

/// The time formats of a `<parse>` section, in the order Fluentd tries them.
fn time_formats(parse: &Body) -> Vec<String> {
    let mut formats = vec![parse.text("time_format").unwrap().to_string()];
    match parse.get("time_format_fallbacks") {
        Some(fluentd::Value::List(items)) => {
            assert_eq!(
                parse.text("time_type"),
                Some("mixed"),
                "fallbacks need time_type mixed"
            );
            formats.extend(items.iter().cloned());
        }
        None => {}
        Some(other) => panic!("time_format_fallbacks must be a list, is {other:?}"),
    }
    formats
}

fn reads_all(formats: &[String], samples: &[String]) {
    for sample in samples {
        let accepted = formats.iter().any(|f| time_accepts(f, sample) == Ok(true));
        assert!(accepted, "{formats:?} do not read `{sample}`");
    }
}

/// Every parameter key anywhere in the configuration.
fn all_keys(config: &Config) -> Vec<String> {
    fn body_keys(body: &Body, out: &mut Vec<String>) {
        out.extend(body.params.iter().map(|p| p.key.clone()));
        for s in &body.sections {
            body_keys(&s.body, out);
        }
    }
    let mut out = Vec::new();
    for d in config.all() {
        if let Some(body) = d.body() {
            body_keys(body, &mut out);
        }
    }
    out
}

#[test]
fn every_environments_fluent_conf_round_trips_through_the_typed_model() {
    for (env, files) in &reference().outputs {
        let (text, config) = conf(files);
        assert_eq!(
            fluentd::render(&config),
            text,
            "{env}: render(parse(text)) differs"
        );
        assert_eq!(
            fluentd::parse(&fluentd::render(&config)).unwrap(),
            config,
            "{env}"
        );
    }
}

#[test]
fn the_committed_fluent_conf_is_the_rendered_one() {
    for (env, files) in &reference().outputs {
        let on_disk = std::fs::read_to_string(repo().join("generated").join(env).join(CONF))
            .unwrap_or_else(|e| panic!("generated/{env}/{CONF}: {e}; run `plat render --all`"));
        assert_eq!(
            on_disk,
            files.get(CONF).unwrap(),
            "generated/{env}/{CONF} is stale"
        );
    }
}

#[test]
fn the_tail_source_reads_cri_lines_and_skips_fluentds_own_logs() {
    for (env, files) in &reference().outputs {
        let (_, config) = conf(files);
        let tail = config
            .sources()
            .into_iter()
            .find(|b| b.text("@type") == Some("tail"))
            .unwrap_or_else(|| panic!("{env}: no tail source"));
        assert_eq!(
            tail.text("path"),
            Some("/var/log/containers/*.log"),
            "{env}"
        );
        assert_eq!(
            tail.text("pos_file"),
            Some("/var/lib/fluentd/containers.log.pos"),
            "{env}"
        );
        assert_eq!(tail.text("tag"), Some("kubernetes.*"), "{env}");
        let parse = section(tail, "parse");
        assert_eq!(
            parse.text("@type"),
            Some("cri"),
            "{env}: containerd writes CRI lines"
        );
        assert!(
            parse.get("format").is_none() && tail.get("format").is_none(),
            "{env}: `format` is the removed v0.12 syntax"
        );
        reads_all(&time_formats(parse), &LogFormat::Cri.time_samples());
        let Some(fluentd::Value::List(excluded)) = tail.get("exclude_path") else {
            panic!("{env}: exclude_path is a list");
        };
        let own = "/var/log/containers/fluentd-x7k2p_logging_fluentd-0123abcd.log";
        assert!(
            excluded.iter().any(|glob| glob_path_matches(glob, own)),
            "{env}: {excluded:?}"
        );
    }
}

/// `*` in a path glob: any run of characters other than `/`.
fn glob_path_matches(glob: &str, path: &str) -> bool {
    let parts: Vec<&str> = glob.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !path.starts_with(first) || !path.ends_with(last) || path.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &path[first.len()..path.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) if !rest[..i].contains('/') => rest = &rest[i + middle.len()..],
            _ => return false,
        }
    }
    !rest.contains('/')
}

#[test]
fn the_app_parser_reads_the_field_the_source_produced_for_the_platforms_pods_only() {
    for (env, files) in &reference().outputs {
        let (namespace, _) = environment(env);
        let (_, config) = conf(files);
        let (pattern, parser) = filter(&config, "parser");
        assert_eq!(
            parser.text("key_name"),
            Some("message"),
            "{env}: the cri parser leaves the line in `message`"
        );
        assert_eq!(
            parser.text("reserve_data"),
            Some("true"),
            "{env}: keep metadata and non-JSON lines"
        );
        let tag = |path: &str| tail_tag("kubernetes.*", path);
        let id = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
        let ours = tag(&format!(
            "/var/log/containers/api-gateway-7d4b9c-x2x4z_{namespace}_api-gateway-{id}.log"
        ));
        let theirs = tag(&format!(
            "/var/log/containers/coredns-5d78c-abcde_kube-system_coredns-{id}.log"
        ));
        let lookalike = tag(&format!(
            "/var/log/containers/{namespace}-x_default_app-{id}.log"
        ));
        assert!(
            tag_matches(pattern, &ours),
            "{env}: `{pattern}` misses {ours}"
        );
        assert!(
            !tag_matches(pattern, &theirs),
            "{env}: `{pattern}` takes {theirs}"
        );
        assert!(
            !tag_matches(pattern, &lookalike),
            "{env}: `{pattern}` takes {lookalike}"
        );
        let parse = section(parser, "parse");
        assert_eq!(parse.text("@type"), Some("json"));
        assert_eq!(parse.text("time_key"), Some("timestamp"));
        reads_all(&time_formats(parse), &TimestampFormat::Iso8601.samples());
        assert!(
            parse
                .text("types")
                .unwrap()
                .contains("processing_time_ms:integer")
        );
    }
}

#[test]
fn filters_run_in_order_and_stamp_the_environments_actual_name_and_cluster() {
    for (env, files) in &reference().outputs {
        let (_, cluster) = environment(env);
        let (text, config) = conf(files);
        let plugins: Vec<&str> = config
            .filters()
            .iter()
            .map(|(_, b)| b.text("@type").unwrap())
            .collect();
        assert_eq!(
            plugins,
            ["kubernetes_metadata", "parser", "record_transformer"],
            "{env}"
        );
        let (pattern, metadata) = filter(&config, "kubernetes_metadata");
        assert_eq!(pattern, "kubernetes.**");
        assert_eq!(metadata.text("@id"), Some("filter_kubernetes_metadata"));
        let (pattern, stamp) = filter(&config, "record_transformer");
        assert_eq!(pattern, "kubernetes.**");
        let record = section(stamp, "record");
        assert_eq!(record.text("environment"), Some(env.as_str()));
        assert_eq!(record.text("cluster"), Some(cluster.as_str()), "{env}");
        assert!(
            !text.contains("ENV["),
            "{env}: values are written, not read from the environment at run time"
        );
    }
}

#[test]
fn the_elasticsearch_output_matches_the_reference_without_removed_parameters() {
    for (env, files) in &reference().outputs {
        let (_, config) = conf(files);
        let matches = config.matches();
        let (pattern, es) = matches
            .iter()
            .find(|(_, b)| b.text("@type") == Some("elasticsearch"))
            .unwrap_or_else(|| panic!("{env}: no elasticsearch match"));
        assert_eq!(*pattern, "kubernetes.**");
        assert_eq!(
            es.text("host"),
            Some("elasticsearch.logging.svc.cluster.local")
        );
        assert_eq!(es.text("port"), Some("9200"));
        assert_eq!(es.text("scheme"), Some("http"));
        assert_eq!(es.text("index_name"), Some("k8s-logs"));
        let buffer = section(es, "buffer");
        assert_eq!(buffer.text("flush_interval"), Some("1s"));
        assert_eq!(
            buffer.text("flush_mode"),
            Some("interval"),
            "flush_interval applies in interval mode"
        );
        let keys = all_keys(&config);
        assert!(
            !keys.iter().any(|k| k == "type_name"),
            "{env}: Elasticsearch 8 has no mapping types"
        );
        assert!(
            !keys.iter().any(|k| k == "type" || k == "format"),
            "{env}: v0.12 syntax"
        );
        // Fluentd's own events are dropped in their label rather than shipped.
        assert!(
            config
                .directives
                .iter()
                .any(|d| matches!(d, Directive::Label { name, .. } if name == "@FLUENT_LOG"))
        );
    }
}

#[test]
fn the_daemon_set_runs_in_the_logging_namespace_on_every_node() {
    let compilation = reference();
    let (_, files) = compilation
        .outputs
        .iter()
        .find(|(e, _)| e == "prod")
        .unwrap();
    let objects = objects(files);
    let kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "NetworkPolicy",
            "DaemonSet"
        ]
    );
    for o in &objects {
        let cluster_scoped = ["Namespace", "ClusterRole", "ClusterRoleBinding"]
            .contains(&o["kind"].as_str().unwrap());
        assert_eq!(
            o["metadata"]["namespace"].is_null(),
            cluster_scoped,
            "{}",
            o["kind"]
        );
        if !cluster_scoped {
            assert_eq!(o["metadata"]["namespace"], "logging");
        }
        assert_eq!(
            o["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "plat"
        );
        assert!(
            o["metadata"]["annotations"]["plat.dev/source"]
                .as_str()
                .unwrap()
                .starts_with("platform.toml#logging")
        );
    }
    assert_eq!(
        find(&objects, "Namespace")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "privileged"
    );
    let rules = &find(&objects, "ClusterRole")["rules"];
    assert_eq!(
        rules,
        &serde_json::json!([{ "apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["get", "list", "watch"] }])
    );
    assert_eq!(
        find(&objects, "ConfigMap")["data"]["fluent.conf"].as_str(),
        files.get(CONF)
    );

    let ds = find(&objects, "DaemonSet");
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(
        pod["tolerations"],
        serde_json::json!([{ "operator": "Exists" }])
    );
    assert_eq!(pod["serviceAccountName"], "fluentd");
    let container = &pod["containers"][0];
    assert_eq!(
        container["image"],
        "fluent/fluentd-kubernetes-daemonset:v1.17.1-debian-elasticsearch8-1.0"
    );
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["capabilities"]["drop"],
        serde_json::json!(["ALL"])
    );
    assert!(container["resources"]["limits"]["memory"].is_string());
    let mounts = container["volumeMounts"].as_array().unwrap();
    let mount = |path: &str| {
        mounts
            .iter()
            .find(|m| m["mountPath"] == path)
            .unwrap_or_else(|| panic!("no mount at {path}"))
    };
    assert_eq!(mount("/var/log")["readOnly"], true);
    assert!(
        mount("/var/lib/fluentd")["readOnly"].is_null(),
        "positions and buffers are written"
    );
    let volumes = pod["volumes"].as_array().unwrap();
    let host_paths: Vec<&str> = volumes
        .iter()
        .filter_map(|v| v["hostPath"]["path"].as_str())
        .collect();
    assert_eq!(host_paths, ["/var/log", "/var/lib/fluentd"]);
    // A new fluent.conf rolls the pods.
    assert!(
        ds["spec"]["template"]["metadata"]["annotations"]["plat.dev/config-checksum"].is_string()
    );
    // One check per skip annotation, each with its reason.
    let annotations = ds["metadata"]["annotations"].as_object().unwrap();
    let skips: Vec<&str> = annotations
        .iter()
        .filter(|(k, _)| k.starts_with("checkov.io/skip"))
        .map(|(_, v)| v.as_str().unwrap())
        .collect();
    assert!(skips.len() >= 3);
    for skip in skips {
        let (id, reason) = skip.split_once('=').unwrap();
        assert!(id.starts_with("CKV_K8S_") && !id.contains(','), "{skip}");
        assert!(reason.len() > 20, "{skip}");
    }
}

// ------------------------------------------------------------------------------------------------
// Specs held in memory

const BASE: &str = r#"[platform]
name = "hello"

[sizes.small]
requests = { cpu = "250m", memory = "256Mi" }
limits = { cpu = "500m", memory = "512Mi" }

[services.web]
image = "ghcr.io/example/web:1.0.0"
replicas = 1
size = "small"

[secrets]
name = "hello-secrets"
provider = "external-secrets"
store = "vault"
remote_prefix = "hello/dev"
keys = ["ES_PASSWORD"]

# The output policy's findings that a node log collector cannot avoid, waived as platform.toml does.
[[waivers]]
check = "P0501"
at = "logging"
reason = "Fluentd runs as root to read the node's root-owned log files"

[[waivers]]
check = "P0504"
at = "logging"
reason = "the logging namespace's policies belong to the Elasticsearch stack"

[[waivers]]
check = "P0505"
at = "logging"
reason = "Fluentd reads the node's container logs through hostPath"

[logging]
image = "fluent/fluentd-kubernetes-daemonset:v1.17.1-debian-elasticsearch8-1.0"
size = "small"
"#;

const DEV: &str = r#"[environment]
namespace = "hello-dev"
context = "dev-cluster"
nodes = 1
monitoring = "basic"
"#;

const FIELDS: &str = r#"
[logging.fields]
timestamp = "timestamp"
level = "string"

[logging.elasticsearch]
host = "elasticsearch.logging.svc.cluster.local"
index = "k8s-logs"
"#;

fn compile_memory(logging: &str, overlay: &str) -> Compilation {
    let world = MemoryWorld::default()
        .with("platform.toml", format!("{BASE}{logging}"))
        .with("environments/dev.toml", format!("{DEV}{overlay}"));
    compile(&world, "platform.toml", &Selection::All)
}

/// `file:line:col` of each diagnostic with the code, and its first secondary label's location.
fn located(c: &Compilation, code: &str) -> Vec<(String, Option<String>)> {
    c.diagnostics
        .iter()
        .filter(|d| d.code == code)
        .map(|d| {
            let at = d
                .primary
                .as_ref()
                .map_or("-".into(), |l| c.sources.locate(l.origin));
            (at, d.secondary.first().map(|l| c.sources.locate(l.origin)))
        })
        .collect()
}

/// The 1-based line and column of the first occurrence of `needle` in `text`.
fn position(text: &str, needle: &str) -> String {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in the text"));
    let line = text[..offset].matches('\n').count() + 1;
    let col = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{line}:{col}")
}

#[test]
fn a_time_format_that_rejects_iso8601_is_reported_where_it_is_written() {
    let logging = format!("time_format = \"%Y-%m-%d %H:%M:%S\"\n{FIELDS}");
    let c = compile_memory(&logging, "");
    assert!(c.has_errors());
    let text = format!("{BASE}{logging}");
    let at = format!("platform.toml:{}", position(&text, "\"%Y-%m-%d %H:%M:%S\""));
    assert_eq!(located(&c, "P0341"), [(at, None)]);
    let d = c.diagnostics.iter().find(|d| d.code == "P0341").unwrap();
    assert!(d.message.contains("ISO 8601"), "{}", d.message);
    assert_eq!(
        d.notes[0],
        "rejected: 2024-05-01T12:00:00Z, 2024-05-01T12:00:00.123Z, 2024-05-01T12:00:00.123456Z and 6 more"
    );
    assert!(c.outputs.is_empty(), "a failed compile writes nothing");
}

#[test]
fn a_time_format_set_by_an_overlay_points_at_the_overlay_and_the_base() {
    let logging = format!("time_format = \"%iso8601\"\n{FIELDS}");
    let overlay = "\n[logging]\ntime_format = \"%Y-%m-%dT%H:%M:%S.%NZ\"\n";
    let c = compile_memory(&logging, overlay);
    let overlay_text = format!("{DEV}{overlay}");
    let at = format!(
        "environments/dev.toml:{}",
        position(&overlay_text, "\"%Y-%m-%dT%H:%M:%S.%NZ\"")
    );
    let base = format!(
        "platform.toml:{}",
        position(&format!("{BASE}{logging}"), "\"%iso8601\"")
    );
    assert_eq!(
        located(&c, "P0341"),
        [(at, Some(base))],
        "offsets like +08:00 are rejected"
    );
}

#[test]
fn accepted_time_formats_compile_and_are_written_as_given() {
    let logging = format!("time_format = \"%iso8601\"\n{FIELDS}");
    let c = compile_memory(&logging, "");
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let (_, config) = conf(&c.outputs[0].1);
    let parse = section(filter(&config, "parser").1, "parse");
    assert_eq!(time_formats(parse), ["%iso8601"]);
    assert!(parse.get("time_type").is_none());
}

#[test]
fn logging_findings_are_reported_together_each_with_its_code() {
    let logging = r#"namespace = "hello-dev"
time_format = "%d/%b/%Y"
timestamp_field = "ts"

[logging.source]
pos_file = "/var/log/fluentd.pos"

[logging.fields]
ts = "string"
cluster = "string"
count = "integr"

[logging.elasticsearch]
host = "http://es:9200"
port = 70000
index = "K8s"
flush_interval = "soon"
user = "fluentd"
password_secret = "ES_PASSWORD_"
"#;
    let c = compile_memory(logging, "");
    let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code).collect();
    // Reading stops at the unknown type; fix it and the cross-checks report the rest.
    assert_eq!(codes, ["P0342"]);
    let d = &c.diagnostics[0];
    assert_eq!(d.help.as_deref(), Some("did you mean `integer`?"));

    let c = compile_memory(&logging.replace("\"integr\"", "\"integer\""), "");
    let mut codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code).collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            "P0343", "P0344", "P0344", "P0344", "P0345", "P0346", "P0347", "P0348", "P0348",
            "P0349"
        ],
        "{:#?}",
        c.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>()
    );
    let secret = c.diagnostics.iter().find(|d| d.code == "P0345").unwrap();
    assert_eq!(secret.help.as_deref(), Some("did you mean `ES_PASSWORD`?"));
}

#[test]
fn docker_json_nodes_read_the_log_field_and_mount_dockers_containers() {
    let logging = format!("container_log_format = \"docker-json\"\n{FIELDS}");
    let c = compile_memory(&logging, "");
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let files = &c.outputs[0].1;
    let (text, config) = conf(files);
    assert_eq!(fluentd::render(&config), text);
    let parse = section(config.sources()[0], "parse");
    assert_eq!(parse.text("@type"), Some("json"));
    assert_eq!(parse.text("time_key"), Some("time"));
    reads_all(&time_formats(parse), &LogFormat::DockerJson.time_samples());
    assert_eq!(filter(&config, "parser").1.text("key_name"), Some("log"));
    let objects = objects(files);
    let pod = &find(&objects, "DaemonSet")["spec"]["template"]["spec"];
    assert!(
        pod["volumes"]
            .to_string()
            .contains("/var/lib/docker/containers")
    );
}

#[test]
fn credentials_come_from_a_secret_in_the_logging_namespace() {
    let logging = format!("{FIELDS}user = \"fluentd\"\npassword_secret = \"ES_PASSWORD\"\n");
    let c = compile_memory(&logging, "");
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let files = &c.outputs[0].1;
    let (text, config) = conf(files);
    assert_eq!(fluentd::render(&config), text, "embedded Ruby round-trips");
    let es = config.matches()[0].1;
    assert_eq!(es.text("user"), Some("fluentd"));
    assert_eq!(
        es.get("password"),
        Some(&fluentd::Value::Embedded(
            "File.read('/var/run/secrets/elasticsearch/ES_PASSWORD').strip".into()
        ))
    );
    let objects = objects(files);
    let secret = find(&objects, "ExternalSecret");
    assert_eq!(secret["metadata"]["namespace"], "logging");
    assert_eq!(
        secret["spec"]["data"][0]["remoteRef"]["key"],
        "hello/dev/ES_PASSWORD"
    );
    let pod = &find(&objects, "DaemonSet")["spec"]["template"]["spec"];
    assert!(pod["volumes"].to_string().contains("fluentd-elasticsearch"));
}

// ------------------------------------------------------------------------------------------------
// The real tools on the variants the reference platform does not use

fn tool(name: &str) -> PathBuf {
    common::tool(name)
}

#[test]
fn docker_json_with_credentials_passes_schema_validation_and_checkov() {
    let logging = format!(
        "container_log_format = \"docker-json\"\n{FIELDS}user = \"fluentd\"\npassword_secret = \"ES_PASSWORD\"\n"
    );
    let c = compile_memory(&logging, "");
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fluentd-variant");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("fluentd.yaml");
    std::fs::write(&file, c.outputs[0].1.get(MANIFEST).unwrap()).unwrap();

    let out = Command::new(tool("kubernetes-validate"))
        .args(["--strict", "--quiet", "-k", "1.33.0"])
        .arg(&file)
        .output()
        .unwrap();
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    for line in report.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            line.contains("Couldn't find schema for kind ExternalSecret "),
            "{line}"
        );
    }

    let out = Command::new(tool("checkov"))
        .env("CKV_SKIP_PACKAGE_UPDATE_CHECK", "true")
        .args([
            "--framework",
            "kubernetes",
            "--output",
            "json",
            "--quiet",
            "--soft-fail",
            "-f",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).expect("checkov writes JSON");
    assert_eq!(
        report["summary"]["failed"], 0,
        "{}",
        report["results"]["failed_checks"]
    );
}
