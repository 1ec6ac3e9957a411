//! What the reference platform compiles to, checked by meaning rather than by bytes (the bytes are
//! checked by `plat check` against the committed `generated/`).

use serde_json::Value;

use plat::compile::{Selection, compile};
use plat::world::FsWorld;

/// Every object of one environment.
fn objects(env: &str) -> Vec<Value> {
    let compilation = compile(
        &FsWorld::new(env!("CARGO_MANIFEST_DIR")),
        "platform.toml",
        &Selection::One(env.into()),
    );
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
    let (_, files) = &compilation.outputs[0];
    files
        .files
        .iter()
        .filter(|(path, _)| path.starts_with("kubernetes/"))
        .flat_map(|(_, text)| plat::yaml::parse_yaml_stream(text).unwrap())
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn egress_selectors(policy: &Value) -> Vec<String> {
    policy["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rule| {
            rule["to"]
                .as_array()
                .unwrap()
                .iter()
                .map(|to| to["podSelector"].to_string())
        })
        .collect()
}

#[test]
fn network_policies_follow_the_topology() {
    let objects = objects("prod");
    let session = find(&objects, "NetworkPolicy", "session-service");
    assert_eq!(
        egress_selectors(session),
        vec![r#"{"matchLabels":{"cnpg.io/cluster":"postgresql-cluster"}}"#]
    );
    let message = find(&objects, "NetworkPolicy", "message-service");
    assert!(egress_selectors(message)[0].contains("redis-cluster-leader"));
    let auth = find(&objects, "NetworkPolicy", "auth-service");
    assert_eq!(
        auth["spec"]["egress"],
        serde_json::json!([]),
        "auth-service talks to nobody"
    );
    let gateway = find(&objects, "NetworkPolicy", "api-gateway");
    assert!(
        gateway.to_string().contains("ingress-nginx"),
        "the ingress controller reaches the gateway"
    );
    // A tenant is reached only by the services that talk to `astrbot`, and reaches only MinIO.
    let tenant = find(&objects, "NetworkPolicy", "astrbot");
    let from: Vec<String> = tenant["spec"]["ingress"][0]["from"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.to_string())
        .collect();
    assert_eq!(
        from,
        vec![r#"{"podSelector":{"matchLabels":{"app.kubernetes.io/name":"tenant-service"}}}"#]
    );
    assert!(egress_selectors(tenant)[0].contains("minio"));
    let deny = find(&objects, "NetworkPolicy", "default-deny-all");
    assert_eq!(deny["spec"]["podSelector"], serde_json::json!({}));
}

/// Whether a label selector (`matchLabels` and `matchExpressions`) selects these labels.
fn selects(selector: &Value, labels: &Value) -> bool {
    let equal = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let exist = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let value = labels.get(e["key"].as_str().unwrap());
            let listed = || {
                e["values"]
                    .as_array()
                    .is_some_and(|values| value.is_some_and(|v| values.contains(v)))
            };
            match e["operator"].as_str() {
                Some("Exists") => value.is_some(),
                Some("DoesNotExist") => value.is_none(),
                Some("In") => listed(),
                Some("NotIn") => !listed(),
                other => panic!("{other:?} is no label selector operator"),
            }
        });
    equal && exist
}

#[test]
fn one_policy_covers_every_tenant_and_no_tenant_takes_a_cluster_ip() {
    let objects = objects("prod");
    let instances: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            o["kind"] == "Deployment" && o["metadata"]["labels"]["plat.dev/instance"].is_string()
        })
        .collect();
    assert_eq!(instances.len(), 5, "the five tenants of prod");
    let policies: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "NetworkPolicy")
        .collect();
    let fleet = find(&objects, "NetworkPolicy", "astrbot");
    for deployment in &instances {
        let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
        assert!(
            selects(&fleet["spec"]["podSelector"], pod_labels),
            "the fleet's policy selects {}",
            deployment["metadata"]["name"]
        );
        // Only the fleet's policy and the namespace-wide ones select a tenant's pods.
        let selecting: Vec<&str> = policies
            .iter()
            .filter(|p| selects(&p["spec"]["podSelector"], pod_labels))
            .map(|p| p["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(selecting, ["default-deny-all", "allow-dns", "astrbot"]);
    }
    // No other pod of the environment carries the fleet's labels.
    for o in objects
        .iter()
        .filter(|o| o["kind"] == "Deployment" || o["kind"] == "StatefulSet")
    {
        let pod_labels = &o["spec"]["template"]["metadata"]["labels"];
        let is_instance = pod_labels["plat.dev/instance"].is_string();
        assert_eq!(
            selects(&fleet["spec"]["podSelector"], pod_labels),
            is_instance
        );
    }
    let services: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            o["kind"] == "Service" && o["metadata"]["labels"]["plat.dev/instance"].is_string()
        })
        .collect();
    assert_eq!(services.len(), 5);
    for service in services {
        assert_eq!(service["spec"]["clusterIP"], "None", "{service}");
    }
}

#[test]
fn configuration_is_derived_from_the_data_stores() {
    let objects = objects("prod");
    let config = &find(&objects, "ConfigMap", "saas-platform-config")["data"];
    assert_eq!(
        config["DB_HOST"],
        "postgresql-cluster-rw.production.svc.cluster.local"
    );
    assert_eq!(
        config["REDIS_HOST"],
        "redis-cluster-leader.production.svc.cluster.local"
    );
    assert_eq!(config["MAX_ASTRBOT_INSTANCES"], "1000");
    assert_eq!(config["API_RATE_LIMIT"], "1000");
    assert_eq!(config["TRACE_SAMPLING_RATE"], "0.1");
}

#[test]
fn no_secret_values_are_emitted() {
    for env in ["dev", "test", "staging", "prod", "dr"] {
        let objects = objects(env);
        // The one Secret is Alertmanager's configuration, which holds paths to credential files only.
        for secret in objects.iter().filter(|o| o["kind"] == "Secret") {
            assert_eq!(
                secret["metadata"]["name"], "alertmanager-saas-platform",
                "{env} emits a Secret"
            );
            let data = secret["stringData"].as_object().unwrap();
            assert_eq!(data.keys().collect::<Vec<_>>(), vec!["alertmanager.yaml"]);
            let config = data["alertmanager.yaml"].as_str().unwrap();
            for literal in ["api_url:", "smtp_auth_password:", "password:"] {
                assert!(
                    !config.contains(literal),
                    "{env}: alertmanager.yaml has {literal}"
                );
            }
            assert!(secret.get("data").is_none());
        }
        for secret in objects.iter().filter(|o| o["kind"] == "ExternalSecret") {
            for item in secret["spec"]["data"].as_array().unwrap() {
                assert!(
                    item["remoteRef"]["key"]
                        .as_str()
                        .unwrap()
                        .starts_with("saas-platform/")
                );
            }
        }
    }
}

#[test]
fn blue_green_runs_the_active_colour_and_scales_the_other_to_zero() {
    let objects = objects("prod");
    let blue = find(&objects, "Deployment", "tenant-service-blue");
    let green = find(&objects, "Deployment", "tenant-service-green");
    assert_eq!(blue["spec"]["replicas"], 2);
    assert_eq!(green["spec"]["replicas"], 0);
    let service = find(&objects, "Service", "tenant-service");
    assert_eq!(service["spec"]["selector"]["plat.dev/color"], "blue");
    let preview = find(&objects, "Service", "tenant-service-preview");
    assert_eq!(preview["spec"]["selector"]["plat.dev/color"], "green");
    // The autoscaler owns the gateway's replica count and targets the active colour.
    let hpa = find(&objects, "HorizontalPodAutoscaler", "api-gateway");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "api-gateway-blue");
    assert!(
        find(&objects, "Deployment", "api-gateway-blue")["spec"]
            .get("replicas")
            .is_none()
    );
}

#[test]
fn every_object_names_the_spec_entry_that_produced_it() {
    for object in objects("dev") {
        let source = object["metadata"]["annotations"]["plat.dev/source"]
            .as_str()
            .unwrap_or("");
        assert!(
            source.starts_with("platform.toml#")
                || source.starts_with("environments/dev.toml#")
                || source.starts_with("tenants/"),
            "{} {} has source {source:?}",
            object["kind"],
            object["metadata"]["name"]
        );
        assert_eq!(
            object["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "plat"
        );
    }
}

#[test]
fn backups_use_the_cloudnativepg_six_field_schedule() {
    let objects = objects("prod");
    let backup = find(&objects, "ScheduledBackup", "postgresql-cluster-nightly");
    assert_eq!(backup["spec"]["schedule"], "0 0 2 * * *");
}

/// CloudNativePG 1.31 removes the native `barmanObjectStore`: backups and WAL archiving go through the
/// Barman Cloud plugin, whose `ObjectStore` holds the destination and retention; the first base backup
/// is taken at once.
#[test]
fn backups_go_through_the_barman_cloud_plugin_with_an_immediate_first_backup() {
    let objects = objects("prod");
    let cluster = find(&objects, "Cluster", "postgresql-cluster");
    assert!(
        cluster["spec"].get("backup").is_none(),
        "no native barmanObjectStore: {}",
        cluster["spec"]["backup"]
    );
    let plugins = cluster["spec"]["plugins"].as_array().expect("spec.plugins");
    assert_eq!(plugins.len(), 1);
    assert_eq!(plugins[0]["name"], "barman-cloud.cloudnative-pg.io");
    assert_eq!(plugins[0]["isWALArchiver"], true);
    let store_name = plugins[0]["parameters"]["barmanObjectName"]
        .as_str()
        .unwrap();

    let store = find(&objects, "ObjectStore", store_name);
    assert_eq!(store["apiVersion"], "barmancloud.cnpg.io/v1");
    assert_eq!(store["spec"]["retentionPolicy"], "7d");
    let configuration = &store["spec"]["configuration"];
    assert_eq!(
        configuration["destinationPath"],
        "s3://saas-platform-backups/postgresql"
    );
    // prod's backups leave the cluster (seed 6.2): they must survive its loss.
    assert_eq!(
        configuration["endpointURL"],
        "https://s3.offsite.saas-platform.com"
    );
    assert_eq!(
        configuration["s3Credentials"]["accessKeyId"],
        serde_json::json!({ "name": "saas-platform-secrets", "key": "OFFSITE_ACCESS_KEY" })
    );
    let policy = find(&objects, "NetworkPolicy", "postgresql-cluster");
    assert!(
        policy["spec"]["egress"]
            .to_string()
            .contains(r#"{"ipBlock":{"cidr":"203.0.113.0/24"}}"#),
        "the instances reach the off-site store"
    );
    // Environments without an off-site store keep theirs in their own MinIO.
    let staging = self::objects("staging");
    let store = find(&staging, "ObjectStore", "postgresql-cluster-backup");
    assert_eq!(
        store["spec"]["configuration"]["endpointURL"],
        "http://minio.saas-staging.svc.cluster.local:9000"
    );

    let backup = find(&objects, "ScheduledBackup", "postgresql-cluster-nightly");
    assert_eq!(backup["spec"]["method"], "plugin");
    assert_eq!(
        backup["spec"]["pluginConfiguration"]["name"],
        "barman-cloud.cloudnative-pg.io"
    );
    assert_eq!(backup["spec"]["immediate"], true);
}

/// The reference store is Vault KV: one document per environment with a property per key. Without
/// `property`, External Secrets would hand every key the whole JSON document.
#[test]
fn external_secrets_address_each_value_as_a_property_of_the_store_document() {
    let objects = objects("prod");
    for name in [
        "saas-platform-secrets",
        "postgresql-cluster-app-credentials",
    ] {
        let secret = find(&objects, "ExternalSecret", name);
        for entry in secret["spec"]["data"].as_array().unwrap() {
            let remote = &entry["remoteRef"];
            assert_eq!(remote["key"], "saas-platform/prod", "{name}: {entry}");
            assert!(remote["property"].is_string(), "{name}: {entry}");
        }
    }
    let platform = find(&objects, "ExternalSecret", "saas-platform-secrets");
    assert!(
        platform["spec"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["remoteRef"]["property"] == e["secretKey"])
    );
    let database = find(
        &objects,
        "ExternalSecret",
        "postgresql-cluster-app-credentials",
    );
    assert_eq!(
        database["spec"]["data"][0]["remoteRef"]["property"],
        "DB_PASSWORD"
    );
}

/// The operators' namespaces are settings; opstree's documented install namespace is `ot-operators`.
#[test]
fn data_store_policies_admit_the_operators_from_their_configured_namespaces() {
    let objects = objects("prod");
    let admitted = |policy: &str| -> Vec<String> {
        find(&objects, "NetworkPolicy", policy)["spec"]["ingress"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|rule| rule["from"].as_array().unwrap().iter())
            .filter_map(|from| {
                from["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect()
    };
    assert!(
        admitted("redis-cluster").contains(&"ot-operators".to_string()),
        "{:?}",
        admitted("redis-cluster")
    );
    assert!(!admitted("redis-cluster").contains(&"redis-operator".to_string()));
    assert!(admitted("postgresql-cluster").contains(&"cnpg-system".to_string()));
}

/// The data stores are scraped by the platform's Prometheus: PodMonitors with its selector label
/// instead of CloudNativePG's deprecated `enablePodMonitor` (whose PodMonitor lacks that label), and
/// one for the Redis exporter sidecars.
#[test]
fn data_stores_are_scraped_through_pod_monitors_the_platform_prometheus_selects() {
    let objects = objects("prod");
    let cluster = find(&objects, "Cluster", "postgresql-cluster");
    assert!(
        cluster["spec"]["monitoring"]
            .get("enablePodMonitor")
            .is_none(),
        "{}",
        cluster["spec"]["monitoring"]
    );
    let postgres = find(&objects, "PodMonitor", "postgresql-cluster");
    assert_eq!(
        postgres["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    assert_eq!(
        postgres["spec"]["selector"]["matchLabels"]["cnpg.io/cluster"],
        "postgresql-cluster"
    );
    assert_eq!(
        postgres["spec"]["podMetricsEndpoints"][0]["port"],
        "metrics"
    );

    let redis = find(&objects, "PodMonitor", "redis-cluster");
    assert_eq!(
        redis["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    assert_eq!(
        redis["spec"]["selector"]["matchExpressions"][0]["values"],
        serde_json::json!(["redis-cluster-follower", "redis-cluster-leader"])
    );
    assert_eq!(
        redis["spec"]["podMetricsEndpoints"][0]["port"],
        "redis-exporter"
    );
}

const ENVIRONMENTS: [&str; 5] = ["dev", "test", "staging", "prod", "dr"];

/// The generated files of one environment, by path.
fn files(env: &str) -> Vec<(String, String)> {
    let compilation = compile(
        &FsWorld::new(env!("CARGO_MANIFEST_DIR")),
        "platform.toml",
        &Selection::One(env.into()),
    );
    assert!(!compilation.has_errors(), "{:?}", compilation.diagnostics);
    compilation.outputs[0].1.files.clone()
}

fn alertmanager_config(env: &str) -> Value {
    let (_, text) = files(env)
        .into_iter()
        .find(|(path, _)| path == "alertmanager/alertmanager.yaml")
        .expect("an Alertmanager configuration");
    plat::yaml::parse_yaml_stream(&text).unwrap().remove(0)
}

fn namespace_of(object: &Value) -> &str {
    object["metadata"]["namespace"].as_str().unwrap()
}

/// The Secrets an environment's output makes exist: plain Secrets and ExternalSecret targets.
fn secrets_made(objects: &[Value]) -> Vec<(String, String)> {
    objects
        .iter()
        .filter_map(|o| match o["kind"].as_str() {
            Some("Secret") => Some((
                namespace_of(o).into(),
                o["metadata"]["name"].as_str()?.into(),
            )),
            Some("ExternalSecret") => Some((
                namespace_of(o).into(),
                o["spec"]["target"]["name"].as_str()?.into(),
            )),
            _ => None,
        })
        .collect()
}

/// Does a rule's `ports` admit `port` over `protocol`?
fn rule_has_port(rule: &Value, port: i64, protocol: &str) -> bool {
    rule["ports"].as_array().is_some_and(|ports| {
        ports
            .iter()
            .any(|p| p["port"] == port && p["protocol"] == protocol)
    })
}

/// Alerting is wired (issue 10, item 2): an `Alertmanager` runs in the namespace of its configuration
/// Secret and of the credentials it mounts; the credentials Secret holds exactly the keys the
/// configuration reads as files, and no other; and its NetworkPolicy lets Prometheus in on 9093, the
/// peers gossip on 9094 over TCP and UDP, and lets it out to SMTP, Slack and the webhook's pods, whose
/// own policy admits it.
#[test]
fn alerting_is_wired_from_prometheus_to_every_receiver() {
    for env in ENVIRONMENTS {
        let objects = objects(env);
        let am = objects
            .iter()
            .find(|o| o["kind"] == "Alertmanager")
            .unwrap_or_else(|| panic!("{env}: no Alertmanager"));
        let ns = namespace_of(am);
        let config_secret = am["spec"]["configSecret"].as_str().unwrap();
        let secret = find(&objects, "Secret", config_secret);
        assert_eq!(
            namespace_of(secret),
            ns,
            "{env}: configuration beside the Alertmanager"
        );
        let made = secrets_made(&objects);
        let config = alertmanager_config(env);
        let text = plat::yaml::to_yaml(&config);
        let mounted: Vec<&str> = am["spec"]["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        for line in text
            .lines()
            .filter(|l| l.contains("/etc/alertmanager/secrets/"))
        {
            let path = line.split("/etc/alertmanager/secrets/").nth(1).unwrap();
            let (secret, _key) = path.split_once('/').unwrap();
            assert!(mounted.contains(&secret), "{env}: {secret} is not mounted");
            let provider_makes_it = made.contains(&(ns.to_string(), secret.to_string()));
            // dev makes its Secrets by hand; every other environment fetches them into the namespace.
            assert!(
                provider_makes_it || env == "dev",
                "{env}: nothing makes {ns}/{secret}"
            );
        }
        if env != "dev" {
            let credentials = objects
                .iter()
                .find(|o| {
                    o["kind"] == "ExternalSecret" && o["spec"]["target"]["name"] == mounted[0]
                })
                .unwrap();
            let keys: Vec<&str> = credentials["spec"]["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["secretKey"].as_str().unwrap())
                .collect();
            assert_eq!(
                keys,
                ["SMTP_PASSWORD", "SLACK_WEBHOOK_URL"],
                "{env}: only what routing reads"
            );
        }

        let policy = objects
            .iter()
            .find(|o| {
                o["kind"] == "NetworkPolicy"
                    && o["spec"]["podSelector"]["matchLabels"]["alertmanager"]
                        == am["metadata"]["name"]
            })
            .unwrap_or_else(|| panic!("{env}: no policy selects the Alertmanager pods"));
        let ingress = policy["spec"]["ingress"].as_array().unwrap();
        assert!(
            ingress.iter().any(
                |r| r["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                    == "monitoring"
                    && rule_has_port(r, 9093, "TCP")
            ),
            "{env}: Prometheus reaches 9093"
        );
        assert!(
            ingress
                .iter()
                .any(|r| rule_has_port(r, 9094, "TCP") && rule_has_port(r, 9094, "UDP")),
            "{env}: peers gossip on 9094"
        );
        let egress = policy["spec"]["egress"].as_array().unwrap();
        assert!(
            egress.iter().any(|r| rule_has_port(r, 9094, "UDP")),
            "{env}: to peers"
        );
        assert!(
            egress.iter().any(|r| rule_has_port(r, 587, "TCP")),
            "{env}: SMTP"
        );
        if env != "dev" {
            assert!(
                egress.iter().any(|r| rule_has_port(r, 443, "TCP")),
                "{env}: Slack"
            );
        }
        let manager = find(&objects, "NetworkPolicy", "astrbot-manager");
        assert!(
            egress.iter().any(
                |r| r["to"][0]["podSelector"] == manager["spec"]["podSelector"]
                    && rule_has_port(r, 8000, "TCP")
            ),
            "{env}: to the webhook's pods"
        );
        assert!(
            manager["spec"]["ingress"].as_array().unwrap().iter().any(
                |r| r["from"][0]["podSelector"] == policy["spec"]["podSelector"]
                    && rule_has_port(r, 8000, "TCP")
            ),
            "{env}: the webhook admits the Alertmanager"
        );
    }
}

/// Every webhook a receiver posts to inside the cluster is a Service of that environment, on a port
/// the Service has (issue 10, item 3: the seed's `astrbot-manager.saas-platform.svc` existed nowhere).
#[test]
fn every_in_cluster_webhook_reaches_a_service_of_its_environment() {
    for env in ENVIRONMENTS {
        let objects = objects(env);
        let config = alertmanager_config(env);
        let mut checked = 0;
        for receiver in config["receivers"].as_array().unwrap() {
            for hook in receiver["webhook_configs"].as_array().into_iter().flatten() {
                let url = hook["url"].as_str().unwrap();
                let (host, port) = plat::facts::url_host_port(url).unwrap();
                let inner = host
                    .strip_suffix(".svc.cluster.local")
                    .expect("an in-cluster URL");
                let (service, namespace) = inner.split_once('.').unwrap();
                let svc = find(&objects, "Service", service);
                assert_eq!(namespace_of(svc), namespace, "{env}: {url}");
                assert!(
                    svc["spec"]["ports"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p["port"] == port),
                    "{env}: {url}: the Service has no port {port}"
                );
                checked += 1;
            }
        }
        assert!(checked > 0, "{env}: no webhook checked");
    }
}

/// MinIO is scraped too (issue 10, item 13): a PodMonitor with the platform Prometheus's selector label
/// on MinIO's cluster metrics path, which the server serves without a token because the Prometheus auth
/// type is public (its policy admits the monitoring namespace on that port).
#[test]
fn object_storage_is_scraped_on_its_cluster_metrics_path() {
    for env in ENVIRONMENTS {
        let objects = objects(env);
        let monitor = find(&objects, "PodMonitor", "minio");
        assert_eq!(
            monitor["metadata"]["labels"]["release"],
            "kube-prometheus-stack"
        );
        let endpoint = &monitor["spec"]["podMetricsEndpoints"][0];
        assert_eq!(endpoint["path"], "/minio/v2/metrics/cluster");
        assert_eq!(endpoint["port"], "http");
        let minio = find(&objects, "StatefulSet", "minio");
        let env_vars = &minio["spec"]["template"]["spec"]["containers"][0]["env"];
        assert!(
            env_vars
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["name"] == "MINIO_PROMETHEUS_AUTH_TYPE" && e["value"] == "public"),
            "{env}"
        );
        for (key, value) in monitor["spec"]["selector"]["matchLabels"]
            .as_object()
            .unwrap()
        {
            assert_eq!(
                &minio["spec"]["template"]["metadata"]["labels"][key], value,
                "{env}: selects the pods"
            );
        }
    }
}

/// The alerts of seed 8.2 and the data stores exist in every environment, each with a runbook
/// (issue 10, item 13); `tests/prometheus.rs` proves with promtool when each fires.
#[test]
fn health_alerts_cover_backups_wal_volumes_certificates_secrets_and_pods() {
    for env in ENVIRONMENTS {
        let files = files(env);
        let rules = &files
            .iter()
            .find(|(p, _)| p == "prometheus/rules.yaml")
            .unwrap()
            .1;
        let mut expected = vec![
            "PostgresBackupFailed",
            "PostgresWALArchivingFailing",
            "PersistentVolumeFillingUp",
            "CertificateExpiringSoon",
            "PodRestartingOften",
            "PodNotReady",
        ];
        if env != "dev" {
            expected.push("ExternalSecretSyncFailed");
        }
        for alert in expected {
            assert!(rules.contains(&format!("alert: {alert}")), "{env}: {alert}");
            assert!(
                files
                    .iter()
                    .any(|(p, _)| *p == format!("runbooks/{alert}.md")),
                "{env}: runbook of {alert}"
            );
        }
        assert!(
            rules.contains("cnpg_collector_pg_wal_archive_status"),
            "{env}"
        );
        assert!(
            rules.contains("barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp"),
            "{env}"
        );
    }
}

/// dev's database can start (issue 10, item 10): with `existing` secrets nothing makes a Secret the
/// Cluster could name, so it names none and CloudNativePG generates `<cluster>-app`; the services read
/// the password there. Elsewhere the Cluster names the Secret its ExternalSecret makes. A single
/// instance keeps no disruption budget, which would block every node drain.
#[test]
fn every_database_can_bootstrap_and_a_single_instance_does_not_block_drains() {
    for env in ENVIRONMENTS {
        let objects = objects(env);
        let cluster = find(&objects, "Cluster", "postgresql-cluster");
        let made = secrets_made(&objects);
        let ns = namespace_of(cluster).to_string();
        let bootstrap = &cluster["spec"]["bootstrap"];
        let how = if env == "dr" { "recovery" } else { "initdb" };
        match bootstrap[how]["secret"]["name"].as_str() {
            Some(name) => assert!(
                made.contains(&(ns.clone(), name.into())),
                "{env}: nothing makes {name}"
            ),
            None => {
                assert_eq!(env, "dev");
                let session = find(&objects, "Deployment", "session-service");
                let volumes = session["spec"]["template"]["spec"]["volumes"].to_string();
                assert!(
                    volumes.contains(r#""secretName":"postgresql-cluster-app""#),
                    "{volumes}"
                );
            }
        }
        let single = cluster["spec"]["instances"] == 1;
        assert_eq!(cluster["spec"]["enablePDB"] == false, single, "{env}");
    }
}

/// No tenant holds MinIO's root credentials (issue 10, item 6): each instance reads its own account's
/// Secret under the same file names, the backups write with an account of their own, and the only
/// pods that mount the root keys are MinIO's and the Job that provisions the accounts, whose policy of
/// each account reaches only that account's bucket and prefix.
#[test]
fn tenants_and_backups_have_accounts_of_their_own_limited_to_their_prefix() {
    for env in ENVIRONMENTS {
        let objects = objects(env);
        let root_readers: Vec<String> = objects
            .iter()
            .filter(|o| o["spec"]["template"]["spec"]["volumes"].is_array())
            .filter(|o| {
                let volumes = o["spec"]["template"]["spec"]["volumes"].to_string();
                volumes.contains(r#""secretName":"saas-platform-secrets""#)
                    && volumes.contains(r#""key":"MINIO_SECRET_KEY""#)
            })
            .map(|o| {
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap(),
                    o["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect();
        // Where the tenants' bucket is replicated off-site, the Job that sets it up is the third.
        let replicated = root_readers
            .iter()
            .any(|r| r.starts_with("Job/minio-replication-"));
        assert_eq!(
            root_readers.len(),
            2 + usize::from(replicated),
            "{env}: {root_readers:?}"
        );
        assert_eq!(replicated, env == "prod", "{env}: {root_readers:?}");
        assert!(
            root_readers.contains(&"StatefulSet/minio".to_string()),
            "{env}: {root_readers:?}"
        );
        assert!(
            root_readers
                .iter()
                .any(|r| r.starts_with("Job/minio-accounts-")),
            "{env}: {root_readers:?}"
        );

        let acme = find(&objects, "Deployment", "astrbot-acme");
        let secrets = acme["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "secrets")
            .unwrap();
        let minio_from: Vec<&Value> = secrets["projected"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| {
                s["secret"]["items"]
                    .to_string()
                    .contains("MINIO_SECRET_KEY")
            })
            .map(|s| &s["secret"]["name"])
            .collect();
        assert_eq!(minio_from, vec!["astrbot-acme-minio"], "{env}: {secrets}");
        // Backups into the in-cluster MinIO write with an account of their own; prod's and dr's go
        // off-site, with the platform Secret's off-site keys.
        let off_site = matches!(env, "prod" | "dr");
        let store = find(&objects, "ObjectStore", "postgresql-cluster-backup");
        assert_eq!(
            store["spec"]["configuration"]["s3Credentials"]["accessKeyId"]["name"],
            if off_site {
                "saas-platform-secrets"
            } else {
                "postgresql-cluster-backup-minio"
            },
            "{env}"
        );
        // One line per account, from which the provisioning script writes each policy (its own
        // unit test runs the script and checks the policies it writes).
        let config = find(&objects, "ConfigMap", "minio-accounts");
        let listed = config["data"]["accounts"].as_str().unwrap();
        assert!(
            listed
                .lines()
                .any(|l| l == "astrbot-acme saas-platform-tenants tenants/acme"),
            "{listed}"
        );
        assert!(!listed.contains("s3:*"), "{listed}");
        let listed = config["data"]["accounts"].as_str().unwrap();
        assert_eq!(
            listed.contains("postgresql-cluster-backup saas-platform-backups"),
            !off_site,
            "{env}: {listed}"
        );
        if env != "dev" {
            let own = objects
                .iter()
                .find(|o| {
                    o["kind"] == "ExternalSecret" && o["metadata"]["name"] == "astrbot-acme-minio"
                })
                .unwrap_or_else(|| panic!("{env}: acme's credentials"));
            assert!(
                own.to_string().contains("object-storage/astrbot-acme"),
                "{env}"
            );
        }
    }
}

/// The DR environment is "restored backups" (seed 2.1, 6.2): its database bootstraps as a restore of
/// prod's off-site backups, through the Barman Cloud plugin, and writes its own backups under a server
/// name of its own; a Job checks the restored data; `DISASTER-RECOVERY.md` says what to do.
#[test]
fn dr_restores_the_database_from_prods_off_site_backups() {
    let objects = objects("dr");
    let cluster = find(&objects, "Cluster", "postgresql-cluster");
    let spec = &cluster["spec"];
    assert!(spec["bootstrap"]["initdb"].is_null());
    let recovery = &spec["bootstrap"]["recovery"];
    assert_eq!(recovery["database"], "saas_platform");
    let source = recovery["source"].as_str().unwrap();
    let external = spec["externalClusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == source)
        .expect("the recovery's source is an external cluster");
    assert_eq!(external["plugin"]["name"], "barman-cloud.cloudnative-pg.io");
    let parameters = &external["plugin"]["parameters"];
    assert_eq!(parameters["serverName"], "postgresql-cluster");
    let store = find(
        &objects,
        "ObjectStore",
        parameters["barmanObjectName"].as_str().unwrap(),
    );
    let prod = self::objects("prod");
    let prod_store = find(&prod, "ObjectStore", "postgresql-cluster-backup");
    for field in ["destinationPath", "endpointURL", "s3Credentials"] {
        assert_eq!(
            store["spec"]["configuration"][field], prod_store["spec"]["configuration"][field],
            "{field}"
        );
    }
    assert_eq!(
        spec["plugins"][0]["parameters"]["serverName"],
        "postgresql-cluster-dr"
    );
    let annotations = &cluster["metadata"]["annotations"];
    assert_eq!(
        annotations["plat.dev/restore-from"],
        "prod/postgresql-cluster"
    );
    assert_eq!(annotations["plat.dev/restore-point"], "latest");
    assert!(objects.iter().any(|o| {
        o["kind"] == "Job"
            && o["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("postgresql-cluster-restore-check-"))
    }));
    let runbook = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("generated/dr/DISASTER-RECOVERY.md"),
    )
    .unwrap();
    assert!(runbook.contains("environment `prod`"), "{runbook}");
    assert!(
        !std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("generated/prod/DISASTER-RECOVERY.md")
            .exists()
    );
    // Only prod's and dr's restores come from off-site; the others start empty.
    for env in ["dev", "test", "staging", "prod"] {
        let objects = self::objects(env);
        let cluster = find(&objects, "Cluster", "postgresql-cluster");
        assert!(cluster["spec"]["bootstrap"]["initdb"].is_object(), "{env}");
    }
}

/// The tenants' files are replicated off-site in prod (seed 6.2, file storage RPO < 5 min): a Job of
/// the MinIO client enables versioning and adds the bucket replication; MinIO's servers reach the
/// off-site store.
#[test]
fn prod_replicates_the_tenants_bucket_off_site() {
    let objects = objects("prod");
    let config = find(&objects, "ConfigMap", "minio-replication");
    assert_eq!(
        config["data"]["buckets"],
        "saas-platform-tenants saas-platform-tenants-replica\n"
    );
    assert!(objects.iter().any(|o| {
        o["kind"] == "Job"
            && o["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("minio-replication-"))
    }));
    let policy = find(&objects, "NetworkPolicy", "minio");
    assert!(
        policy["spec"]["egress"]
            .to_string()
            .contains("203.0.113.0/24")
    );
    let staging = self::objects("staging");
    assert!(
        !staging
            .iter()
            .any(|o| o["metadata"]["name"] == "minio-replication")
    );
}

/// Every environment with backups warns when the newest base backup is older than
/// `[health] backup_max_age`; dr pages when its restore check fails.
#[test]
fn backup_age_and_restore_check_alerts() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for env in ENVIRONMENTS {
        let rules =
            std::fs::read_to_string(root.join(format!("generated/{env}/prometheus/rules.yaml")))
                .unwrap();
        assert!(rules.contains("alert: PostgresBackupTooOld"), "{env}");
        assert_eq!(
            rules.contains("alert: PostgresRestoreCheckFailed"),
            env == "dr",
            "{env}"
        );
        assert!(
            root.join(format!("generated/{env}/runbooks/PostgresBackupTooOld.md"))
                .exists()
        );
    }
    assert!(
        root.join("generated/dr/runbooks/PostgresRestoreCheckFailed.md")
            .exists()
    );
}
