//! The named data stores: PostgreSQL as a CloudNativePG `Cluster` (with its scheduled backup), Redis
//! as an opstree `RedisCluster` or a single StatefulSet, and MinIO object storage as a StatefulSet.

use serde_json::{Map, Value, json};

use super::network::{StorePolicy, egress_to_store, store_policy};
use super::workload::resources;
use super::{Ctx, Labels, Unit};
use crate::decode::Named;
use crate::facts::{
    OBJECT_STORAGE_PORT, POSTGRES_METRICS_PORT, POSTGRES_PORT, POSTGRES_STATUS_PORT,
    REDIS_BUS_PORT, REDIS_EXPORTER_PORT, REDIS_PORT, account_secret, backup_account,
    database_credentials_name, own_server_name, plat_makes_database_credentials, service_host,
};
use crate::kit::security::{container_security, pod_security};
use crate::kit::version_of;
use crate::spec::{
    Backup, ExternalObjectStore, ObjectStorage, Postgres, RedisCluster, RedisSingle, Storage,
    Store, StoreKind,
};

pub fn units(ctx: &Ctx<'_>) -> Vec<Unit> {
    ctx.spec
        .stores
        .iter()
        .map(|entry| {
            let store = &entry.value;
            match &store.kind {
                StoreKind::Postgres(pg) => postgres(ctx, entry, pg),
                StoreKind::RedisCluster(r) => redis_unit(ctx, entry, r),
                StoreKind::Redis(r) => redis_single(ctx, entry, r),
                StoreKind::ObjectStorage(o) => minio_unit(ctx, entry, o),
            }
        })
        .collect()
}

pub fn object_storage_endpoint(name: &str, ns: &str) -> String {
    format!("http://{}:{OBJECT_STORAGE_PORT}", service_host(name, ns))
}

fn store_labels(ctx: &Ctx<'_>, kind: &str, name: &str, component: &str, image: &str) -> Labels {
    Labels::standard(
        kind,
        name,
        component,
        ctx.spec.platform.name.as_str(),
        version_of(image).as_deref(),
    )
}

fn postgres(ctx: &Ctx<'_>, entry: &Named<Store>, pg: &Postgres) -> Unit {
    let store = &entry.value;
    let name = store.name.as_str();
    let labels = store_labels(ctx, "postgresql", name, "database", &pg.image);
    let size = ctx
        .spec
        .size(&store.size)
        .expect("validated size reference");
    let parameters: Map<String, Value> = pg
        .parameters
        .iter()
        .map(|p| (p.name.clone(), json!(p.value.value)))
        .collect();
    let mut cluster_spec = json!({
        "instances": pg.instances.value,
        "imageName": pg.image.value,
        "primaryUpdateStrategy": "unsupervised",
        "postgresql": { "parameters": parameters },
        "bootstrap": { "initdb": { "database": pg.database, "owner": pg.owner } },
        "resources": resources(size),
        "storage": { "size": pg.storage.size.text, "storageClass": pg.storage.class },
        "affinity": { "enablePodAntiAffinity": true, "topologyKey": "kubernetes.io/hostname" },
    });
    if plat_makes_database_credentials(ctx.spec.secrets.provider, pg) {
        cluster_spec["bootstrap"]["initdb"]["secret"] =
            json!({ "name": database_credentials_name(name) });
    }
    if pg.instances.value == 1 {
        // A single instance's disruption budget forbids evicting it, so no node could be drained.
        cluster_spec["enablePDB"] = json!(false);
    }
    let mut extra = Vec::new();
    if let Some((backup, target)) = pg
        .backup
        .as_ref()
        .and_then(|b| backup_target(ctx, &b.to).map(|t| (b, t)))
    {
        // A cluster restored from another environment's backups writes its own under a server name
        // of its own, so that it never writes into the archive it was restored from.
        let server = pg
            .recovery
            .as_ref()
            .map(|_| own_server_name(name, &ctx.spec.environment.name));
        cluster_spec["plugins"] = barman_cloud_plugin(name, server.as_deref());
        let store = backup_object_store(
            ctx,
            name,
            &format!("stores.{}.backup", entry.name),
            backup,
            &target,
            &labels,
        );
        extra.push(ctx.object(store, backup.schedule.origin));
        if let BackupTarget::InCluster(store_name, objects) = target
            && objects.accounts.is_some()
        {
            let target = ctx
                .spec
                .stores
                .iter()
                .find(|s| s.value.name.value == store_name);
            extra.extend(target.and_then(|t| {
                super::accounts::client_credentials(
                    ctx,
                    &backup_account(name),
                    (&t.value, objects),
                    &labels,
                    backup.origin,
                )
            }));
        }
    }
    if let Some(recovery) = &pg.recovery
        && let Some(source) = &recovery.source
    {
        super::recovery::bootstrap(ctx, (&mut cluster_spec, name), pg, recovery, source);
        extra.push(ctx.object(
            super::recovery::source_object_store(ctx, name, entry, recovery, source, &labels),
            recovery.origin,
        ));
    }
    let source = format!("stores.{}", entry.name);
    let mut metadata = ctx.metadata(name, &labels, &source, store.origin);
    if let Some(recovery) = pg.recovery.as_ref().filter(|r| r.source.is_some()) {
        super::recovery::annotate(&mut metadata, recovery);
    }
    let cluster = json!({
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": metadata,
        "spec": cluster_spec,
    });
    let mut objects = vec![ctx.object(cluster, store.origin)];
    objects.extend(extra);
    if pg.monitoring {
        // CloudNativePG's `monitoring.enablePodMonitor` is deprecated, and the PodMonitor it makes
        // lacks the labels the platform's Prometheus selects; plat writes its own.
        let selector = json!({ "matchLabels": { "cnpg.io/cluster": name } });
        let monitor = pod_monitor(
            ctx,
            name,
            &labels,
            selector,
            "metrics",
            (&source, store.origin),
        );
        objects.push(ctx.object(monitor, store.origin));
    }
    if let Some(backup) = &pg.backup {
        objects.push(ctx.object(
            scheduled_backup(ctx, name, &source, backup, &labels),
            backup.schedule.origin,
        ));
    }
    let restore_check = pg.recovery.as_ref().filter(|r| r.source.is_some());
    if let Some(recovery) = restore_check {
        objects.extend(super::recovery::check_objects(ctx, entry, pg, recovery));
    }
    let policy = store_policy(
        ctx,
        StorePolicy {
            name,
            target: &entry.name,
            labels: &labels,
            origin: store.origin,
            peer_ports: vec![POSTGRES_PORT, POSTGRES_STATUS_PORT],
            operator_namespace: Some((
                ctx.spec.network.cnpg_operator_namespace.as_str(),
                vec![POSTGRES_STATUS_PORT],
            )),
            metrics_port: pg.monitoring.then_some(POSTGRES_METRICS_PORT),
            needs_api_server: true,
            extra_egress: pg
                .backup
                .as_ref()
                .and_then(|b| egress_to_store(ctx, &b.to))
                .into_iter()
                .chain(
                    pg.recovery
                        .as_ref()
                        .and_then(|r| r.source.as_ref())
                        .map(super::recovery::egress_to_source),
                )
                .fold(Vec::new(), |mut rules, rule| {
                    // A restored cluster that backs up to the store it restores from needs one rule.
                    if !rules.contains(&rule) {
                        rules.push(rule);
                    }
                    rules
                }),
            extra_ingress: restore_check
                .map(|_| {
                    json!({
                        "from": [{ "podSelector": super::recovery::check_selector(ctx, name, &pg.image) }],
                        "ports": [{ "protocol": "TCP", "port": POSTGRES_PORT }],
                    })
                })
                .into_iter()
                .collect(),
        },
    );
    objects.push(ctx.object(policy, store.origin));
    Unit {
        file: format!("data/{}.yaml", entry.name),
        objects,
    }
}

/// The name of the Barman Cloud plugin, as CloudNativePG's `plugins` and `pluginConfiguration` name it.
pub(super) const BARMAN_CLOUD_PLUGIN: &str = "barman-cloud.cloudnative-pg.io";

/// What the plugin's sidecar in each instance pod asks for (it ships WAL files and base backups).
const BARMAN_SIDECAR_RESOURCES: (&str, &str, &str, &str) = ("100m", "128Mi", "500m", "512Mi");

pub(super) fn backup_store_name(cluster: &str) -> String {
    format!("{cluster}-backup")
}

/// Where a database's backups go: an object-storage store of the platform, or an object store
/// outside the cluster.
pub(super) enum BackupTarget<'a> {
    InCluster(&'a str, &'a ObjectStorage),
    External(&'a ExternalObjectStore),
}

pub(super) fn backup_target<'a>(ctx: &Ctx<'a>, to: &str) -> Option<BackupTarget<'a>> {
    let spec = ctx.spec;
    if let Some(s) = spec.stores.iter().find(|s| s.name == to) {
        return match &s.value.kind {
            StoreKind::ObjectStorage(o) => Some(BackupTarget::InCluster(s.value.name.as_str(), o)),
            _ => None,
        };
    }
    spec.network
        .external
        .iter()
        .find(|e| e.name == to)
        .and_then(|e| e.value.object_store.as_ref())
        .map(BackupTarget::External)
}

/// WAL archiving through the Barman Cloud plugin. CloudNativePG's native `barmanObjectStore` is
/// deprecated and removed in 1.31; the plugin reads the same configuration from an `ObjectStore`.
/// Without `serverName` the plugin writes under the cluster's name.
fn barman_cloud_plugin(cluster: &str, server: Option<&str>) -> Value {
    let mut parameters = json!({ "barmanObjectName": backup_store_name(cluster) });
    if let Some(server) = server {
        parameters["serverName"] = json!(server);
    }
    json!([{
        "name": BARMAN_CLOUD_PLUGIN,
        "isWALArchiver": true,
        "parameters": parameters,
    }])
}

/// The `s3Credentials` of an object store outside the cluster: keys of the platform's Secret.
pub(super) fn external_credentials(ctx: &Ctx<'_>, store: &ExternalObjectStore) -> Value {
    let secret = ctx.spec.secrets.name.as_str();
    let mut credentials = json!({
        "accessKeyId": { "name": secret, "key": store.access_key.value },
        "secretAccessKey": { "name": secret, "key": store.secret_key.value },
    });
    if let Some(region) = &store.region {
        credentials["region"] = json!({ "name": secret, "key": region.value });
    }
    credentials
}

/// Base backups and WAL archiving to an object store, as a Barman Cloud `ObjectStore`. WAL
/// archiving is what meets the seed's database RPO (< 15 min), which a nightly dump alone cannot. The
/// retention policy lives here, not on the Cluster.
fn backup_object_store(
    ctx: &Ctx<'_>,
    cluster: &str,
    source: &str,
    backup: &Backup,
    target: &BackupTarget<'_>,
    labels: &Labels,
) -> Value {
    let (endpoint, credentials) = match target {
        BackupTarget::InCluster(store_name, objects) => {
            // With accounts, the backups write with their own, limited to their bucket and path.
            let secret = match &objects.accounts {
                Some(_) => account_secret(&backup_account(cluster), store_name),
                None => ctx.spec.secrets.name.clone(),
            };
            (
                object_storage_endpoint(store_name, ctx.namespace),
                json!({
                    "accessKeyId": { "name": secret, "key": objects.access_key.value },
                    "secretAccessKey": { "name": secret, "key": objects.secret_key.value },
                }),
            )
        }
        BackupTarget::External(store) => (
            store.endpoint.value.clone(),
            external_credentials(ctx, store),
        ),
    };
    let name = backup_store_name(cluster);
    json!({
        "apiVersion": "barmancloud.cnpg.io/v1",
        "kind": "ObjectStore",
        "metadata": ctx.metadata(&name, labels, source, backup.schedule.origin),
        "spec": {
            "retentionPolicy": format!("{}d", backup.retention_days),
            "configuration": {
                "destinationPath": destination_path(&backup.bucket, &backup.path),
                "endpointURL": endpoint,
                "s3Credentials": credentials,
                "wal": { "compression": "gzip" },
                "data": { "compression": "gzip" },
            },
            "instanceSidecarConfiguration": sidecar_configuration(),
        },
    })
}

pub(super) fn destination_path(bucket: &str, path: &str) -> String {
    format!("s3://{bucket}/{}", path.trim_matches('/'))
}

/// What the plugin's sidecar in each instance pod is given.
pub(super) fn sidecar_configuration() -> Value {
    let (cpu, memory, cpu_limit, memory_limit) = BARMAN_SIDECAR_RESOURCES;
    json!({ "resources": {
        "requests": { "cpu": cpu, "memory": memory },
        "limits": { "cpu": cpu_limit, "memory": memory_limit },
    } })
}

/// CloudNativePG schedules take six fields (seconds first); the spec uses the five-field cron the seed
/// writes, so a leading `0` seconds field is added.
fn scheduled_backup(
    ctx: &Ctx<'_>,
    name: &str,
    source: &str,
    backup: &Backup,
    labels: &Labels,
) -> Value {
    json!({
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "ScheduledBackup",
        "metadata": ctx.metadata(&format!("{name}-nightly"), labels, &format!("{source}.backup"), backup.schedule.origin),
        "spec": {
            "schedule": format!("0 {}", backup.schedule.value),
            "backupOwnerReference": "self",
            "cluster": { "name": name },
            // The first base backup is taken at once: until then there is nothing to restore from.
            "immediate": true,
            "method": "plugin",
            "pluginConfiguration": { "name": BARMAN_CLOUD_PLUGIN },
        },
    })
}

fn redis_unit(ctx: &Ctx<'_>, entry: &Named<Store>, redis: &RedisCluster) -> Unit {
    let store = &entry.value;
    let name = store.name.as_str();
    let labels = store_labels(ctx, "redis", name, "cache", &redis.image);
    let size = ctx
        .spec
        .size(&store.size)
        .expect("validated size reference");
    let mut kubernetes_config = json!({
        "image": redis.image.value,
        "imagePullPolicy": ctx.spec.defaults.image_pull_policy,
        "resources": resources(size),
    });
    if let Some(key) = &redis.password_key {
        kubernetes_config["redisSecret"] =
            json!({ "name": ctx.spec.secrets.name, "key": key.value });
    }
    let mut spec = json!({
        "clusterSize": redis.cluster_size.value,
        "clusterVersion": "v7",
        "persistenceEnabled": true,
        "kubernetesConfig": kubernetes_config,
        "storage": { "volumeClaimTemplate": { "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": { "requests": { "storage": redis.storage.size.text } },
            "storageClassName": redis.storage.class,
        } } },
    });
    if let Some(exporter) = &redis.exporter_image {
        spec["redisExporter"] = json!({ "enabled": true, "image": exporter.value });
    }
    harden_redis_pods(&mut spec);
    let source = format!("stores.{}", entry.name);
    let cluster = json!({
        "apiVersion": "redis.redis.opstreelabs.in/v1beta2",
        "kind": "RedisCluster",
        "metadata": ctx.metadata(name, &labels, &format!("stores.{}", entry.name), store.origin),
        "spec": spec,
    });
    let policy = store_policy(
        ctx,
        StorePolicy {
            name,
            target: &entry.name,
            labels: &labels,
            origin: store.origin,
            peer_ports: vec![REDIS_PORT, REDIS_BUS_PORT],
            operator_namespace: Some((
                ctx.spec.network.redis_operator_namespace.as_str(),
                vec![REDIS_PORT],
            )),
            metrics_port: redis.exporter_image.as_ref().map(|_| REDIS_EXPORTER_PORT),
            needs_api_server: false,
            extra_egress: Vec::new(),
            extra_ingress: Vec::new(),
        },
    );
    let mut objects = vec![
        ctx.object(cluster, store.origin),
        ctx.object(policy, store.origin),
    ];
    if redis.exporter_image.is_some() {
        // The operator's pods carry `app: <name>-leader` or `<name>-follower`; the exporter sidecar's
        // port is `redis-exporter`.
        let selector = crate::facts::store_selector(store);
        let monitor = pod_monitor(
            ctx,
            name,
            &labels,
            selector,
            "redis-exporter",
            (&source, store.origin),
        );
        objects.push(ctx.object(monitor, store.origin));
    }
    Unit {
        file: format!("data/{}.yaml", entry.name),
        objects,
    }
}

/// A PodMonitor for the pods an operator runs, labelled for the platform's Prometheus
/// (`[metrics] selector_labels`, as the ServiceMonitors are).
fn pod_monitor(
    ctx: &Ctx<'_>,
    name: &str,
    labels: &Labels,
    selector: Value,
    port: &str,
    (source, origin): (&str, crate::source::Origin),
) -> Value {
    pod_monitor_at(ctx, name, labels, selector, (port, None), (source, origin))
}

/// [`pod_monitor`] on a path other than `/metrics`.
fn pod_monitor_at(
    ctx: &Ctx<'_>,
    name: &str,
    labels: &Labels,
    selector: Value,
    (port, path): (&str, Option<&str>),
    (source, origin): (&str, crate::source::Origin),
) -> Value {
    let mut endpoint = json!({ "port": port });
    if let Some(path) = path {
        endpoint["path"] = json!(path);
    }
    let mut labels = labels.clone();
    for (k, v) in &ctx.spec.observe.metrics.selector_labels {
        labels = labels.with_owned(k, v);
    }
    json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": ctx.metadata(name, &labels, source, origin),
        "spec": {
            "selector": selector,
            "namespaceSelector": { "matchNames": [ctx.namespace] },
            "podMetricsEndpoints": [endpoint],
        },
    })
}

/// The UID of the `redis` user in the opstree Redis images.
const REDIS_UID: i64 = 1000;

/// What the Redis exporter sidecar asks for: it is a small Go process that scrapes one local Redis.
const REDIS_EXPORTER_RESOURCES: (&str, &str, &str, &str) = ("50m", "64Mi", "100m", "128Mi");

/// Makes the pods the opstree operator builds meet Pod Security "restricted". The operator copies
/// `podSecurityContext` into the pods and each role's and the exporter's `securityContext` into their
/// containers unchanged, adding no default of its own (`src/operator_pods.rs`), so every field the
/// profile requires is set here. The Redis container keeps a writable root: the image's entrypoint
/// writes its configuration under /etc/redis. The exporter gets limits like every container (P0503).
fn harden_redis_pods(spec: &mut Value) {
    spec["podSecurityContext"] = json!({
        "runAsUser": REDIS_UID,
        "runAsGroup": REDIS_UID,
        "runAsNonRoot": true,
        "fsGroup": REDIS_UID,
        "seccompProfile": { "type": "RuntimeDefault" },
    });
    let mut redis_container = container_security(true);
    redis_container["readOnlyRootFilesystem"] = json!(false);
    for role in ["redisLeader", "redisFollower"] {
        spec[role] = json!({ "securityContext": redis_container });
    }
    if spec.get("redisExporter").is_some() {
        let (cpu, memory, cpu_limit, memory_limit) = REDIS_EXPORTER_RESOURCES;
        spec["redisExporter"]["securityContext"] = container_security(true);
        spec["redisExporter"]["resources"] = json!({
            "requests": { "cpu": cpu, "memory": memory },
            "limits": { "cpu": cpu_limit, "memory": memory_limit },
        });
    }
}

/// The `data` claim template of a store's StatefulSet: one ReadWriteOnce claim per pod.
fn data_claim_template(storage: &Storage) -> Value {
    json!({
        "metadata": { "name": "data" },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": storage.class,
            "resources": { "requests": { "storage": storage.size.text } },
        },
    })
}

/// Pods of the stores plat runs itself run as the platform's user, owning their volumes.
fn platform_pod_security(ctx: &Ctx<'_>) -> Value {
    let uid = ctx.spec.defaults.run_as_user;
    pod_security(uid, uid, uid)
}

/// A store's ClusterIP Service, or its headless one (`Some(publish_not_ready)`), on one named port.
fn store_service(
    metadata: Value,
    selector: &Value,
    (port_name, port): (&str, i64),
    headless: Option<bool>,
) -> Value {
    let mut spec = json!({
        "selector": selector,
        "ports": [{ "name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP" }],
    });
    match headless {
        Some(publish_not_ready) => {
            spec["clusterIP"] = json!("None");
            if publish_not_ready {
                spec["publishNotReadyAddresses"] = json!(true);
            }
        }
        None => spec["type"] = json!("ClusterIP"),
    }
    json!({ "apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec })
}

/// MinIO's cluster metrics (capacity, drives and nodes offline, health), served by every node.
const MINIO_METRICS_PATH: &str = "/minio/v2/metrics/cluster";

fn minio_unit(ctx: &Ctx<'_>, entry: &Named<Store>, minio: &ObjectStorage) -> Unit {
    let store = &entry.value;
    let name = store.name.as_str();
    let source = format!("stores.{}", entry.name);
    let labels = store_labels(ctx, "object-storage", name, "object-storage", &minio.image);
    let selector = labels.selector(&[]).to_json();
    let origin = store.origin;
    let headless = format!("{name}-hl");
    let size = ctx
        .spec
        .size(&store.size)
        .expect("validated size reference");
    let replicas = minio.replicas.value;
    // One server serves a single drive; several form a distributed set addressed through the headless
    // Service (MinIO's `{0...N}` expansion).
    let data_arg = if replicas > 1 {
        format!(
            "http://{name}-{{0...{}}}.{headless}.{}.svc.cluster.local/data",
            replicas - 1,
            ctx.namespace
        )
    } else {
        "/data".to_string()
    };
    let secrets_dir = "/run/secrets";
    let container = json!({
        "name": "minio",
        "image": minio.image.value,
        "imagePullPolicy": ctx.spec.defaults.image_pull_policy,
        "args": ["server", data_arg, "--address", format!(":{OBJECT_STORAGE_PORT}"), "--certs-dir", "/tmp/certs"],
        // MinIO reads `MINIO_ROOT_*_FILE` from files under /run/secrets, so keys never sit in the
        // environment.
        "env": [
            { "name": "MINIO_ROOT_USER_FILE", "value": minio.access_key.value },
            { "name": "MINIO_ROOT_PASSWORD_FILE", "value": minio.secret_key.value },
            // MinIO's metrics want a bearer token by default, a JWT that `mc admin prometheus
            // generate` signs with the root credentials and that never expires: one more root
            // credential to keep. Public metrics carry no object data, and the store's
            // NetworkPolicy admits only its clients and the monitoring namespace.
            { "name": "MINIO_PROMETHEUS_AUTH_TYPE", "value": "public" },
        ],
        "ports": [{ "name": "http", "containerPort": OBJECT_STORAGE_PORT, "protocol": "TCP" }],
        "resources": resources(size),
        "livenessProbe": { "httpGet": { "path": "/minio/health/live", "port": "http" }, "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3 },
        "readinessProbe": { "httpGet": { "path": "/minio/health/ready", "port": "http" }, "initialDelaySeconds": 5, "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3 },
        "securityContext": container_security(true),
        "volumeMounts": [
            { "name": "data", "mountPath": "/data" },
            { "name": "tmp", "mountPath": "/tmp" },
            { "name": "credentials", "mountPath": secrets_dir, "readOnly": true },
        ],
    });
    let credentials = json!({
        "secretName": ctx.spec.secrets.name,
        "items": [
            { "key": minio.access_key.value, "path": minio.access_key.value },
            { "key": minio.secret_key.value, "path": minio.secret_key.value },
        ],
        "defaultMode": 0o440,
    });
    let mut metadata = ctx.metadata(name, &labels, &source, origin);
    super::workload::waive_digest_check(&mut metadata, &[&minio.image]);
    let statefulset = json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata,
        "spec": {
            "serviceName": headless,
            "replicas": replicas,
            "podManagementPolicy": "Parallel",
            "selector": { "matchLabels": selector },
            "template": {
                "metadata": { "labels": labels.to_json() },
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": false,
                    "enableServiceLinks": false,
                    "securityContext": platform_pod_security(ctx),
                    "containers": [container],
                    "volumes": [
                        { "name": "tmp", "emptyDir": { "sizeLimit": "256Mi" } },
                        { "name": "credentials", "secret": credentials },
                    ],
                },
            },
            "volumeClaimTemplates": [data_claim_template(&minio.storage)],
        },
    });
    // MinIO's distributed set finds its peers through the headless Service before they are ready.
    let service = |svc_name: &str, headless: bool| {
        let metadata = ctx.metadata(svc_name, &labels, &source, origin);
        store_service(
            metadata,
            &selector,
            ("http", OBJECT_STORAGE_PORT),
            headless.then_some(true),
        )
    };
    let account = super::workload::service_account(ctx, name, &labels, &source, origin, None);
    let policy = store_policy(
        ctx,
        StorePolicy {
            name,
            target: &entry.name,
            labels: &labels,
            origin,
            peer_ports: vec![OBJECT_STORAGE_PORT],
            operator_namespace: None,
            metrics_port: Some(OBJECT_STORAGE_PORT),
            needs_api_server: false,
            // MinIO's servers copy the replicated buckets' objects to the remote store themselves.
            extra_egress: minio
                .replication
                .as_ref()
                .and_then(|r| egress_to_store(ctx, &r.to))
                .into_iter()
                .collect(),
            extra_ingress: minio
                .accounts
                .as_ref()
                .map(|_| {
                    json!({
                        "from": [{ "podSelector": super::accounts::provisioning_selector(ctx, store) }],
                        "ports": [{ "protocol": "TCP", "port": OBJECT_STORAGE_PORT }],
                    })
                })
                .into_iter()
                .chain(minio.replication.as_ref().map(|_| {
                    json!({
                        "from": [{ "podSelector": super::accounts::replication_selector(ctx, store) }],
                        "ports": [{ "protocol": "TCP", "port": OBJECT_STORAGE_PORT }],
                    })
                }))
                .collect(),
        },
    );
    let mut objects = vec![
        ctx.object(account, origin),
        ctx.object(statefulset, origin),
        ctx.object(service(name, false), origin),
        ctx.object(service(&headless, true), origin),
        ctx.object(policy, origin),
    ];
    objects.extend(super::accounts::provisioning(
        ctx,
        (&entry.name, store, minio),
        &object_storage_endpoint(name, ctx.namespace),
    ));
    objects.extend(super::accounts::replication(
        ctx,
        (&entry.name, store, minio),
        &object_storage_endpoint(name, ctx.namespace),
    ));
    let monitor = pod_monitor_at(
        ctx,
        name,
        &labels,
        json!({ "matchLabels": selector }),
        ("http", Some(MINIO_METRICS_PATH)),
        (&source, origin),
    );
    objects.push(ctx.object(monitor, origin));
    if replicas >= 2 {
        let pdb = json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": ctx.metadata(name, &labels, &source, origin),
            "spec": { "maxUnavailable": 1, "selector": { "matchLabels": selector } },
        });
        objects.push(ctx.object(pdb, origin));
    }
    Unit {
        file: format!("data/{}.yaml", entry.name),
        objects,
    }
}

/// One Redis server: a StatefulSet of one with its data on a claim. The upstream image's entrypoint
/// changes owners and drops to its `redis` user only when started as root; started as any other
/// user it runs the server directly, and `fsGroup` makes the claim writable. Redis writes nothing
/// outside `--dir`.
fn redis_single(ctx: &Ctx<'_>, entry: &Named<Store>, redis: &RedisSingle) -> Unit {
    let store = &entry.value;
    let name = store.name.as_str();
    let source = format!("stores.{}", entry.name);
    let origin = store.origin;
    let labels = store_labels(ctx, "redis", name, "cache", &redis.image);
    let selector = labels.selector(&[]).to_json();
    let size = ctx
        .spec
        .size(&store.size)
        .expect("validated size reference");
    let port = redis.port;
    let probe = |delay: i64| {
        json!({ "exec": { "command": ["redis-cli", "-p", port.to_string(), "ping"] },
                "initialDelaySeconds": delay, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3 })
    };
    let container = json!({
        "name": "redis",
        "image": redis.image.value,
        "imagePullPolicy": ctx.spec.defaults.image_pull_policy,
        "args": ["redis-server", "--port", port.to_string(), "--dir", "/data", "--appendonly", "yes"],
        "ports": [{ "name": "redis", "containerPort": port, "protocol": "TCP" }],
        "resources": resources(size),
        "livenessProbe": probe(15),
        "readinessProbe": probe(5),
        "securityContext": container_security(true),
        "volumeMounts": [
            { "name": "data", "mountPath": "/data" },
            { "name": "tmp", "mountPath": "/tmp" },
        ],
    });
    let mut metadata = ctx.metadata(name, &labels, &source, origin);
    super::workload::waive_digest_check(&mut metadata, &[&redis.image]);
    let statefulset = json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata,
        "spec": {
            "serviceName": format!("{name}-hl"),
            "replicas": 1,
            "selector": { "matchLabels": selector },
            "template": {
                "metadata": { "labels": labels.to_json() },
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": false,
                    "enableServiceLinks": false,
                    "securityContext": platform_pod_security(ctx),
                    "containers": [container],
                    "volumes": [{ "name": "tmp", "emptyDir": { "sizeLimit": "64Mi" } }],
                },
            },
            "volumeClaimTemplates": [data_claim_template(&redis.storage)],
        },
    });
    let service = |svc_name: &str, headless: bool| {
        let metadata = ctx.metadata(svc_name, &labels, &source, origin);
        store_service(
            metadata,
            &selector,
            ("redis", port),
            headless.then_some(false),
        )
    };
    let account = super::workload::service_account(ctx, name, &labels, &source, origin, None);
    let policy = store_policy(
        ctx,
        StorePolicy {
            name,
            target: &entry.name,
            labels: &labels,
            origin,
            peer_ports: vec![port],
            operator_namespace: None,
            metrics_port: None,
            needs_api_server: false,
            extra_egress: Vec::new(),
            extra_ingress: Vec::new(),
        },
    );
    Unit {
        file: format!("data/{}.yaml", entry.name),
        objects: vec![
            ctx.object(account, origin),
            ctx.object(statefulset, origin),
            ctx.object(service(name, false), origin),
            ctx.object(service(&format!("{name}-hl"), true), origin),
            ctx.object(policy, origin),
        ],
    }
}
