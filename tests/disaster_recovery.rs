//! Disaster recovery on a small spec: backups to an object store outside the cluster, an environment
//! that bootstraps its database from another environment's backups (CloudNativePG `recovery` through
//! the Barman Cloud plugin), the restore check and its alert, the replication of object-storage buckets,
//! and the findings that make a restore impossible.

use serde_json::Value;

use plat::compile::{Compilation, Selection, compile};
use plat::world::MemoryWorld;

const BASE: &str = r#"
[platform]
name = "shop"

[sizes.small]
requests = { cpu = "100m", memory = "128Mi" }
limits = { cpu = "200m", memory = "256Mi" }

[services.web]
image = "registry.example.com/shop/web:1.0.0"
replicas = 2
size = "small"
talks_to = ["shop-db", "files"]

[secrets]
name = "shop-secrets"
provider = "external-secrets"
store = "vault"
remote_prefix = "shop"
keys = ["DB_PASSWORD", "FILES_ACCESS_KEY", "FILES_SECRET_KEY", "OFFSITE_ACCESS_KEY", "OFFSITE_SECRET_KEY", "OFFSITE_REGION"]

[stores.shop-db]
kind = "postgresql"
name = "shop-db"
instances = 1
image = "ghcr.io/cloudnative-pg/postgresql:16.4"
database = "shop"
owner = "shop"
password_secret_key = "DB_PASSWORD"
size = "small"
storage = { size = "1Gi", class = "standard" }

[stores.shop-db.backup]
schedule = "0 2 * * *"
to = "files"
bucket = "shop-backups"
path = "db"

[stores.files]
kind = "object-storage"
replicas = 1
image = "quay.io/minio/minio:RELEASE.2025-04-22T22-12-26Z"
size = "small"
storage = { size = "1Gi", class = "standard" }
access_key_secret_key = "FILES_ACCESS_KEY"
secret_key_secret_key = "FILES_SECRET_KEY"
accounts_image = "quay.io/minio/mc:RELEASE.2025-04-16T18-13-26Z"

[stores.files.accounts.web]
bucket = "uploads"
prefix = "web"

[network.external.offsite]
cidrs = ["203.0.113.0/24"]
ports = [443]

[network.external.offsite.object_store]
endpoint = "https://s3.offsite.example.com"
access_key_secret_key = "OFFSITE_ACCESS_KEY"
secret_key_secret_key = "OFFSITE_SECRET_KEY"
region_secret_key = "OFFSITE_REGION"

[health]
runbook_base = "https://runbooks.example.com"
"#;

const MAIN: &str = r#"
[environment]
namespace = "shop"
context = "main-cluster"
monitoring = "complete"

[stores.shop-db.backup]
to = "offsite"

[stores.files.replication]
to = "offsite"
buckets = { "uploads" = "uploads-replica" }
"#;

const STANDBY: &str = r#"
[environment]
namespace = "shop"
context = "standby-cluster"
monitoring = "complete"

[stores.shop-db.recovery]
environment = "main"
check_query = "SELECT count(*) FROM orders"

[stores.shop-db.backup]
to = "offsite"
"#;

fn world(base: &str, main: &str, standby: &str) -> MemoryWorld {
    MemoryWorld::default()
        .with("platform.toml", base.to_string())
        .with("environments/main.toml", main.to_string())
        .with("environments/standby.toml", standby.to_string())
}

fn compiled(main: &str, standby: &str) -> Compilation {
    let compilation = compile(
        &world(BASE, main, standby),
        "platform.toml",
        &Selection::All,
    );
    assert!(
        !compilation.has_errors(),
        "{}",
        plat::diag::render_human(&compilation.sources, &compilation.diagnostics)
    );
    compilation
}

fn objects(compilation: &Compilation, env: &str) -> Vec<Value> {
    let files = &compilation
        .outputs
        .iter()
        .find(|(name, _)| name == env)
        .expect("environment compiled")
        .1;
    files
        .files
        .iter()
        .filter(|(path, _)| path.starts_with("kubernetes/") && path.ends_with(".yaml"))
        .flat_map(|(_, text)| plat::yaml::parse_yaml_stream(text).unwrap())
        .collect()
}

fn file<'a>(compilation: &'a Compilation, env: &str, path: &str) -> Option<&'a str> {
    compilation
        .outputs
        .iter()
        .find(|(name, _)| name == env)
        .and_then(|(_, files)| files.get(path))
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn codes(compilation: &Compilation) -> Vec<&'static str> {
    compilation.diagnostics.iter().map(|d| d.code).collect()
}

#[test]
fn backups_to_an_external_object_store_use_its_endpoint_and_the_platform_secret() {
    let compilation = compiled(MAIN, STANDBY);
    let main = objects(&compilation, "main");
    let store = find(&main, "ObjectStore", "shop-db-backup");
    let config = &store["spec"]["configuration"];
    assert_eq!(config["endpointURL"], "https://s3.offsite.example.com");
    assert_eq!(config["destinationPath"], "s3://shop-backups/db");
    let credentials = &config["s3Credentials"];
    assert_eq!(credentials["accessKeyId"]["name"], "shop-secrets");
    assert_eq!(credentials["accessKeyId"]["key"], "OFFSITE_ACCESS_KEY");
    assert_eq!(credentials["secretAccessKey"]["key"], "OFFSITE_SECRET_KEY");
    assert_eq!(credentials["region"]["key"], "OFFSITE_REGION");
    // The source keeps writing under its own cluster name.
    let cluster = find(&main, "Cluster", "shop-db");
    assert!(cluster["spec"]["plugins"][0]["parameters"]["serverName"].is_null());
    assert!(cluster["spec"]["bootstrap"]["initdb"].is_object());
    // The instances reach the external store and no longer the in-cluster one.
    let policy = find(&main, "NetworkPolicy", "shop-db");
    let egress = policy["spec"]["egress"].to_string();
    assert!(egress.contains("203.0.113.0/24"), "{egress}");
}

#[test]
fn the_standby_bootstraps_from_the_main_environments_backups() {
    let compilation = compiled(MAIN, STANDBY);
    let standby = objects(&compilation, "standby");
    let cluster = find(&standby, "Cluster", "shop-db");
    let spec = &cluster["spec"];
    assert!(spec["bootstrap"]["initdb"].is_null());
    let recovery = &spec["bootstrap"]["recovery"];
    assert_eq!(recovery["source"], "shop-db-main");
    assert_eq!(recovery["database"], "shop");
    assert_eq!(recovery["owner"], "shop");
    assert_eq!(recovery["secret"]["name"], "shop-db-app-credentials");
    assert!(recovery["recoveryTarget"].is_null());
    let external = &spec["externalClusters"][0];
    assert_eq!(external["name"], "shop-db-main");
    assert_eq!(external["plugin"]["name"], "barman-cloud.cloudnative-pg.io");
    assert_eq!(
        external["plugin"]["parameters"]["barmanObjectName"],
        "shop-db-recovery"
    );
    assert_eq!(external["plugin"]["parameters"]["serverName"], "shop-db");
    // Its own backups never write into the archive it restores from.
    let own = &spec["plugins"][0]["parameters"];
    assert_eq!(own["barmanObjectName"], "shop-db-backup");
    assert_eq!(own["serverName"], "shop-db-standby");
    let annotations = &cluster["metadata"]["annotations"];
    assert_eq!(annotations["plat.dev/restore-from"], "main/shop-db");
    assert_eq!(annotations["plat.dev/restore-point"], "latest");
    let source = find(&standby, "ObjectStore", "shop-db-recovery");
    let config = &source["spec"]["configuration"];
    assert_eq!(config["destinationPath"], "s3://shop-backups/db");
    assert_eq!(config["endpointURL"], "https://s3.offsite.example.com");
    assert_eq!(
        config["s3Credentials"]["accessKeyId"]["key"],
        "OFFSITE_ACCESS_KEY"
    );
    assert!(source["spec"]["retentionPolicy"].is_null());
    let runbook = file(&compilation, "standby", "DISASTER-RECOVERY.md").expect("runbook");
    for expected in [
        "environment `main`, cluster `shop-db`",
        "s3://shop-backups/db/shop-db",
        "latest",
        "SELECT count(*) FROM orders",
        "plat apply --env standby",
        "wait cluster/shop-db",
        "shop-db-restore-check",
        "Switch DNS",
        // kubectl refuses flags before a plugin's name.
        "`kubectl cnpg backup shop-db --context ",
    ] {
        assert!(runbook.contains(expected), "{expected}:\n{runbook}");
    }
    assert!(file(&compilation, "main", "DISASTER-RECOVERY.md").is_none());
}

#[test]
fn a_target_time_stops_the_restore_there() {
    let standby = STANDBY.replace(
        "environment = \"main\"",
        "environment = \"main\"\ntarget_time = \"2026-05-01T02:30:00+08:00\"",
    );
    let compilation = compiled(MAIN, &standby);
    let objects = objects(&compilation, "standby");
    let cluster = find(&objects, "Cluster", "shop-db");
    assert_eq!(
        cluster["spec"]["bootstrap"]["recovery"]["recoveryTarget"]["targetTime"],
        "2026-05-01T02:30:00+08:00"
    );
    assert_eq!(
        cluster["metadata"]["annotations"]["plat.dev/restore-point"],
        "2026-05-01T02:30:00+08:00"
    );
}

#[test]
fn the_restore_check_job_runs_the_query_against_the_restored_primary() {
    let compilation = compiled(MAIN, STANDBY);
    let standby = objects(&compilation, "standby");
    let job = standby
        .iter()
        .find(|o| {
            o["kind"] == "Job"
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("shop-db-restore-check-"))
        })
        .expect("restore check job");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "ghcr.io/cloudnative-pg/postgresql:16.4");
    let env = container["env"].to_string();
    assert!(env.contains("shop-db-rw"), "{env}");
    assert!(env.contains("SELECT count(*) FROM orders"), "{env}");
    let volumes = job["spec"]["template"]["spec"]["volumes"].to_string();
    assert!(volumes.contains("shop-db-app-credentials"), "{volumes}");
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    // The database admits it, and it reaches only the database.
    let db_policy = find(&standby, "NetworkPolicy", "shop-db");
    assert!(
        db_policy["spec"]["ingress"]
            .to_string()
            .contains("shop-db-restore-check")
    );
    let own = find(&standby, "NetworkPolicy", "shop-db-restore-check");
    assert_eq!(own["spec"]["egress"].as_array().unwrap().len(), 1);
    // A different query is a different Job, so that it runs again.
    let other = compiled(MAIN, &STANDBY.replace("FROM orders", "FROM customers"));
    let renamed = objects(&other, "standby")
        .into_iter()
        .filter(|o| o["kind"] == "Job")
        .any(|o| o["metadata"]["name"] == job["metadata"]["name"]);
    assert!(!renamed, "the job name must change with its query");
    // No restore check where nothing is restored.
    let main = objects(&compilation, "main");
    assert!(!main.iter().any(|o| {
        o["metadata"]["name"]
            .as_str()
            .is_some_and(|n| n.contains("restore-check"))
    }));
}

#[test]
fn alerts_for_old_backups_everywhere_and_failed_restore_checks_where_restored() {
    let compilation = compiled(MAIN, STANDBY);
    for env in ["main", "standby"] {
        let rules = file(&compilation, env, "prometheus/rules.yaml").expect("rules");
        assert!(rules.contains("PostgresBackupTooOld"), "{env}");
        assert!(
            rules.contains("barman_cloud_cloudnative_pg_io_last_available_backup_timestamp"),
            "{env}"
        );
        // 26 hours by default.
        assert!(rules.contains("> 93600"), "{env}");
        assert!(file(&compilation, env, "runbooks/PostgresBackupTooOld.md").is_some());
    }
    let standby = file(&compilation, "standby", "prometheus/rules.yaml").unwrap();
    assert!(standby.contains("PostgresRestoreCheckFailed"));
    assert!(standby.contains("kube_job_status_failed"));
    assert!(standby.contains("shop-db-restore-check"));
    assert!(
        file(
            &compilation,
            "standby",
            "runbooks/PostgresRestoreCheckFailed.md"
        )
        .is_some()
    );
    let main = file(&compilation, "main", "prometheus/rules.yaml").unwrap();
    assert!(!main.contains("PostgresRestoreCheckFailed"));
    let base = BASE.replace(
        "runbook_base = \"https://runbooks.example.com\"",
        "runbook_base = \"https://runbooks.example.com\"\nbackup_max_age = \"2h\"",
    );
    let shorter = compile(
        &world(&base, MAIN, STANDBY),
        "platform.toml",
        &Selection::All,
    );
    assert!(!shorter.has_errors());
    let rules = shorter.outputs[0].1.get("prometheus/rules.yaml").unwrap();
    assert!(rules.contains("> 7200"), "{rules}");
}

#[test]
fn buckets_are_replicated_to_the_external_object_store_by_an_idempotent_job() {
    let compilation = compiled(MAIN, STANDBY);
    let main = objects(&compilation, "main");
    let config = find(&main, "ConfigMap", "files-replication");
    assert_eq!(config["data"]["buckets"], "uploads uploads-replica\n");
    let script = config["data"]["replicate.sh"].as_str().unwrap();
    for command in [
        "mc version enable \"store/$bucket\"",
        "mc version enable \"remote/$target\"",
        "mc replicate add --remote-bucket \"remote/$target\"",
        "mc replicate ls --json",
    ] {
        assert!(script.contains(command), "{command}");
    }
    let job = main
        .iter()
        .find(|o| {
            o["kind"] == "Job"
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("files-replication-"))
        })
        .expect("replication job");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["image"],
        "quay.io/minio/mc:RELEASE.2025-04-16T18-13-26Z"
    );
    assert!(
        container["env"]
            .to_string()
            .contains("https://s3.offsite.example.com")
    );
    let volumes = job["spec"]["template"]["spec"]["volumes"].to_string();
    assert!(volumes.contains("OFFSITE_ACCESS_KEY"), "{volumes}");
    let policy = find(&main, "NetworkPolicy", "files-replication");
    assert!(
        policy["spec"]["egress"]
            .to_string()
            .contains("203.0.113.0/24")
    );
    // MinIO's servers copy the objects: they reach the external store too.
    let store_policy = find(&main, "NetworkPolicy", "files");
    assert!(
        store_policy["spec"]["egress"]
            .to_string()
            .contains("203.0.113.0/24")
    );
    // Another bucket map is another Job.
    let other = MAIN.replace("uploads-replica", "uploads-copy");
    let changed = compiled(&other, STANDBY);
    let again = objects(&changed, "main");
    assert!(
        !again
            .iter()
            .any(|o| o["kind"] == "Job" && o["metadata"]["name"] == job["metadata"]["name"])
    );
    // The standby does not replicate.
    let standby = objects(&compilation, "standby");
    assert!(
        !standby
            .iter()
            .any(|o| o["metadata"]["name"] == "files-replication")
    );
}

#[test]
fn output_is_deterministic_and_names_no_secret_value() {
    let first = compiled(MAIN, STANDBY);
    let second = compiled(MAIN, STANDBY);
    assert_eq!(
        format!("{:?}", first.outputs),
        format!("{:?}", second.outputs)
    );
}

#[test]
fn restoring_from_an_unknown_environment_or_from_itself_is_refused() {
    let unknown = STANDBY.replace("environment = \"main\"", "environment = \"mian\"");
    let compilation = compile(
        &world(BASE, MAIN, &unknown),
        "platform.toml",
        &Selection::All,
    );
    assert!(codes(&compilation).contains(&"P0227"));
    let d = compilation
        .diagnostics
        .iter()
        .find(|d| d.code == "P0227")
        .unwrap();
    assert_eq!(d.help.as_deref(), Some("did you mean `main`?"));
    assert!(d.primary.is_some(), "located at the environment");
    let itself = STANDBY.replace("environment = \"main\"", "environment = \"standby\"");
    let compilation = compile(
        &world(BASE, MAIN, &itself),
        "platform.toml",
        &Selection::All,
    );
    assert!(codes(&compilation).contains(&"P0227"));
}

#[test]
fn restoring_from_backups_inside_the_source_cluster_is_refused() {
    let main = MAIN.replace("[stores.shop-db.backup]\nto = \"offsite\"\n", "");
    let compilation = compile(
        &world(BASE, &main, STANDBY),
        "platform.toml",
        &Selection::All,
    );
    assert!(
        codes(&compilation).contains(&"P0228"),
        "{:?}",
        codes(&compilation)
    );
}

#[test]
fn restoring_without_the_credentials_of_the_source_store_is_refused() {
    let main = format!(
        "{MAIN}\n[secrets]\nkeys = [\"DB_PASSWORD\", \"FILES_ACCESS_KEY\", \"FILES_SECRET_KEY\", \"OFFSITE_ACCESS_KEY\", \"OFFSITE_SECRET_KEY\", \"OFFSITE_REGION\", \"MAIN_REGION\"]\n\n[network.external.offsite.object_store]\nregion_secret_key = \"MAIN_REGION\"\n"
    );
    let compilation = compile(
        &world(BASE, &main, STANDBY),
        "platform.toml",
        &Selection::All,
    );
    let d = compilation
        .diagnostics
        .iter()
        .find(|d| d.code == "P0204" && d.message.contains("`MAIN_REGION`"));
    assert!(d.is_some(), "{:?}", compilation.diagnostics);
}

#[test]
fn a_target_time_that_is_not_rfc3339_is_refused() {
    let standby = STANDBY.replace(
        "environment = \"main\"",
        "environment = \"main\"\ntarget_time = \"yesterday 02:30\"",
    );
    let compilation = compile(
        &world(BASE, MAIN, &standby),
        "platform.toml",
        &Selection::All,
    );
    assert!(codes(&compilation).contains(&"P0122"));
}

#[test]
fn object_store_targets_must_be_object_stores() {
    let base = BASE.replace(
        "[network.external.offsite]",
        "[network.external.api]\ncidrs = [\"192.0.2.0/24\"]\nports = [443]\n\n[network.external.offsite]",
    );
    let main = MAIN
        .replace(
            "[stores.shop-db.backup]\nto = \"offsite\"",
            "[stores.shop-db.backup]\nto = \"api\"",
        )
        .replace("\"uploads\" = ", "\"upload\" = ");
    let compilation = compile(
        &world(&base, &main, STANDBY),
        "platform.toml",
        &Selection::One("main".into()),
    );
    let found = codes(&compilation);
    assert!(found.contains(&"P0229"), "{found:?}");
    assert!(found.contains(&"P0230"), "{found:?}");
    let in_cluster = MAIN.replace(
        "[stores.files.replication]\nto = \"offsite\"",
        "[stores.files.replication]\nto = \"files\"",
    );
    let compilation = compile(
        &world(BASE, &in_cluster, STANDBY),
        "platform.toml",
        &Selection::All,
    );
    assert!(codes(&compilation).contains(&"P0229"));
    let http = BASE.replace(
        "https://s3.offsite.example.com",
        "http://s3.offsite.example.com",
    );
    let compilation = compile(
        &world(&http, MAIN, STANDBY),
        "platform.toml",
        &Selection::All,
    );
    assert!(codes(&compilation).contains(&"P0104"));
}

/// The restored Cluster and both ObjectStores validate, in process, against the vendored CloudNativePG
/// and Barman Cloud plugin CRD schemas, which refuse a misspelt field of the same objects.
#[test]
fn the_recovery_objects_validate_against_the_vendored_crds() {
    use plat::diag::Diagnostics;
    use plat::lower::Object;
    use plat::source::{Origin, Sources};
    let compilation = compiled(MAIN, STANDBY);
    let standby = objects(&compilation, "standby");
    let mut sources = Sources::default();
    let file = sources.add("platform.toml", "x = 1\n".into());
    let origin = Origin::new(file, 0..1);
    let check = |value: Value| {
        let mut diags = Diagnostics::default();
        plat::schemas::validate(&Object { value, origin }, &mut diags);
        diags.into_sorted()
    };
    let cluster = find(&standby, "Cluster", "shop-db").clone();
    for object in [
        cluster.clone(),
        find(&standby, "ObjectStore", "shop-db-recovery").clone(),
        find(&standby, "ObjectStore", "shop-db-backup").clone(),
    ] {
        let found = check(object.clone());
        assert!(
            found.is_empty(),
            "{}: {found:?}",
            object["metadata"]["name"]
        );
    }
    let mut broken = cluster;
    broken["spec"]["externalClusters"][0]["plugin"]["barmanObjectName"] = "x".into();
    broken["spec"]["bootstrap"]["recovery"]["recoveryTarget"] = serde_json::json!({ "time": "x" });
    let found = check(broken);
    assert!(found.iter().any(|d| d.code == "P0506"), "{found:?}");
}

/// An environment that is not a restore but backs up to the same archive as another (same store,
/// bucket, path and cluster name) is refused (P0231); the restored standby writes under its own server
/// name and shares nothing.
#[test]
fn two_environments_may_not_archive_in_one_place() {
    let copy = STANDBY.replace(
        "[stores.shop-db.recovery]\nenvironment = \"main\"\ncheck_query = \"SELECT count(*) FROM orders\"\n",
        "",
    );
    let compilation = compile(&world(BASE, MAIN, &copy), "platform.toml", &Selection::All);
    let d = compilation
        .diagnostics
        .iter()
        .find(|d| d.code == "P0231")
        .unwrap_or_else(|| panic!("{:?}", codes(&compilation)));
    assert!(
        d.message
            .contains("https://s3.offsite.example.com/shop-backups/db/shop-db"),
        "{}",
        d.message
    );
    assert!(!codes(&compiled(MAIN, STANDBY)).contains(&"P0231"));
    let elsewhere = copy.replace(
        "[stores.shop-db.backup]\nto = \"offsite\"",
        "[stores.shop-db.backup]\nto = \"offsite\"\npath = \"standby-db\"",
    );
    let compilation = compile(
        &world(BASE, MAIN, &elsewhere),
        "platform.toml",
        &Selection::All,
    );
    assert!(!compilation.has_errors(), "{:?}", codes(&compilation));
}

/// An environment that declares the external object store but writes nothing to it need not hold its
/// credentials; one that backs up there must (P0204).
#[test]
fn the_object_store_credentials_are_needed_only_where_it_is_used() {
    let keys =
        "\n[secrets]\nkeys = [\"DB_PASSWORD\", \"FILES_ACCESS_KEY\", \"FILES_SECRET_KEY\"]\n";
    let dev = format!(
        "[environment]\nnamespace = \"shop-dev\"\ncontext = \"dev-cluster\"\nmonitoring = \"basic\"\n{keys}"
    );
    let world = world(BASE, MAIN, STANDBY).with("environments/dev.toml", dev.clone());
    let compilation = compile(&world, "platform.toml", &Selection::One("dev".into()));
    assert!(!compilation.has_errors(), "{:?}", codes(&compilation));
    let main = format!("{MAIN}{keys}");
    let world = world_with_main(&main);
    let compilation = compile(&world, "platform.toml", &Selection::One("main".into()));
    let missing = compilation
        .diagnostics
        .iter()
        .filter(|d| d.code == "P0204" && d.message.contains("OFFSITE_"))
        .count();
    assert_eq!(missing, 3, "{:?}", compilation.diagnostics);
}

fn world_with_main(main: &str) -> MemoryWorld {
    world(BASE, main, STANDBY)
}
