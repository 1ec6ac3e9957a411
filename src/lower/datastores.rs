//! The data stores: PostgreSQL as a CloudNativePG `Cluster` (with its scheduled backup), Redis as an
//! opstree `RedisCluster`, and MinIO as a StatefulSet.

use serde_json::{Map, Value, json};

use super::config::{MINIO_PORT, minio_endpoint};
use super::labels::version_of;
use super::network::{
    POSTGRES_METRICS_PORT, POSTGRES_STATUS_PORT, REDIS_BUS_PORT, REDIS_EXPORTER_PORT, StorePolicy,
    egress_to_minio, store_policy,
};
use super::platform::database_credentials_name;
use super::workload::{container_security, pod_security, resources};
use super::{Ctx, Labels, Unit};
use crate::spec::{Backup, Minio, Postgres, Redis};

pub fn units(ctx: &Ctx<'_>) -> Vec<Unit> {
    let spec = ctx.spec;
    let mut units = Vec::new();
    if let Some(pg) = &spec.postgresql {
        units.push(postgres(ctx, pg));
    }
    if let Some(redis) = &spec.redis {
        units.push(redis_unit(ctx, redis));
    }
    if let Some(minio) = &spec.minio {
        units.push(minio_unit(ctx, minio));
    }
    units
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

fn postgres(ctx: &Ctx<'_>, pg: &Postgres) -> Unit {
    let labels = store_labels(ctx, "postgresql", &pg.name, "database", &pg.image);
    let size = ctx.spec.size(&pg.size).expect("validated size reference");
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
        "bootstrap": { "initdb": {
            "database": pg.database,
            "owner": pg.owner,
            "secret": { "name": database_credentials_name(&pg.name) },
        } },
        "resources": resources(size),
        "storage": { "size": pg.storage.size.text, "storageClass": pg.storage.class },
        "affinity": { "enablePodAntiAffinity": true, "topologyKey": "kubernetes.io/hostname" },
    });
    let mut objects = Vec::new();
    if let (Some(backup), Some(minio)) = (&pg.backup, &ctx.spec.minio) {
        cluster_spec["plugins"] = barman_cloud_plugin(pg);
        let store = backup_object_store(ctx, pg, backup, minio, &labels);
        objects.push(ctx.object(store, backup.schedule.origin));
    }
    let cluster = json!({
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": ctx.metadata(&pg.name, &labels, "postgresql", pg.origin),
        "spec": cluster_spec,
    });
    objects.insert(0, ctx.object(cluster, pg.origin));
    if pg.monitoring {
        // CloudNativePG's `monitoring.enablePodMonitor` is deprecated, and the PodMonitor it makes
        // lacks the labels the platform's Prometheus selects; plat writes its own.
        let selector = json!({ "matchLabels": { "cnpg.io/cluster": pg.name.value } });
        let monitor = pod_monitor(
            ctx,
            &pg.name,
            &labels,
            selector,
            "metrics",
            ("postgresql", pg.origin),
        );
        objects.push(ctx.object(monitor, pg.origin));
    }
    if let Some(backup) = &pg.backup {
        objects.push(ctx.object(
            scheduled_backup(ctx, pg, backup, &labels),
            backup.schedule.origin,
        ));
    }
    let policy = store_policy(
        ctx,
        StorePolicy {
            name: &pg.name,
            target: "postgresql",
            labels: &labels,
            origin: pg.origin,
            peer_ports: vec![pg.port, POSTGRES_STATUS_PORT],
            operator_namespace: Some((
                ctx.spec.network.cnpg_operator_namespace.as_str(),
                vec![POSTGRES_STATUS_PORT],
            )),
            metrics_port: pg.monitoring.then_some(POSTGRES_METRICS_PORT),
            needs_api_server: true,
            extra_egress: if pg.backup.is_some() {
                egress_to_minio(ctx).into_iter().collect()
            } else {
                Vec::new()
            },
        },
    );
    objects.push(ctx.object(policy, pg.origin));
    Unit {
        file: "data/postgresql.yaml".into(),
        objects,
    }
}

/// The name of the Barman Cloud plugin, as CloudNativePG's `plugins` and `pluginConfiguration` name it.
const BARMAN_CLOUD_PLUGIN: &str = "barman-cloud.cloudnative-pg.io";

/// What the plugin's sidecar in each instance pod asks for (it ships WAL files and base backups).
const BARMAN_SIDECAR_RESOURCES: (&str, &str, &str, &str) = ("100m", "128Mi", "500m", "512Mi");

fn backup_store_name(pg: &Postgres) -> String {
    format!("{}-backup", pg.name.value)
}

/// WAL archiving through the Barman Cloud plugin. CloudNativePG's native `barmanObjectStore` is
/// deprecated and removed in 1.31; the plugin reads the same configuration from an `ObjectStore`.
fn barman_cloud_plugin(pg: &Postgres) -> Value {
    json!([{
        "name": BARMAN_CLOUD_PLUGIN,
        "isWALArchiver": true,
        "parameters": { "barmanObjectName": backup_store_name(pg) },
    }])
}

/// Base backups and WAL archiving to the MinIO bucket, as a Barman Cloud `ObjectStore`. WAL archiving
/// is what meets the seed's database RPO (< 15 min), which a nightly dump alone cannot. The retention
/// policy lives here, not on the Cluster.
fn backup_object_store(
    ctx: &Ctx<'_>,
    pg: &Postgres,
    backup: &Backup,
    minio: &Minio,
    labels: &Labels,
) -> Value {
    let secret = &ctx.spec.secrets.name;
    let (cpu, memory, cpu_limit, memory_limit) = BARMAN_SIDECAR_RESOURCES;
    let name = backup_store_name(pg);
    json!({
        "apiVersion": "barmancloud.cnpg.io/v1",
        "kind": "ObjectStore",
        "metadata": ctx.metadata(&name, labels, "postgresql.backup", backup.schedule.origin),
        "spec": {
            "retentionPolicy": format!("{}d", backup.retention_days),
            "configuration": {
                "destinationPath": format!("s3://{}/{}", backup.bucket, backup.path.trim_matches('/')),
                "endpointURL": minio_endpoint(&minio.name, ctx.namespace),
                "s3Credentials": {
                    "accessKeyId": { "name": secret, "key": minio.access_key.value },
                    "secretAccessKey": { "name": secret, "key": minio.secret_key.value },
                },
                "wal": { "compression": "gzip" },
                "data": { "compression": "gzip" },
            },
            "instanceSidecarConfiguration": { "resources": {
                "requests": { "cpu": cpu, "memory": memory },
                "limits": { "cpu": cpu_limit, "memory": memory_limit },
            } },
        },
    })
}

/// CloudNativePG schedules take six fields (seconds first); the spec uses the five-field cron the seed
/// writes, so a leading `0` seconds field is added.
fn scheduled_backup(ctx: &Ctx<'_>, pg: &Postgres, backup: &Backup, labels: &Labels) -> Value {
    json!({
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "ScheduledBackup",
        "metadata": ctx.metadata(&format!("{}-nightly", pg.name.value), labels, "postgresql.backup", backup.schedule.origin),
        "spec": {
            "schedule": format!("0 {}", backup.schedule.value),
            "backupOwnerReference": "self",
            "cluster": { "name": pg.name.value },
            // The first base backup is taken at once: until then there is nothing to restore from.
            "immediate": true,
            "method": "plugin",
            "pluginConfiguration": { "name": BARMAN_CLOUD_PLUGIN },
        },
    })
}

fn redis_unit(ctx: &Ctx<'_>, redis: &Redis) -> Unit {
    let labels = store_labels(ctx, "redis", &redis.name, "cache", &redis.image);
    let size = ctx
        .spec
        .size(&redis.size)
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
    let cluster = json!({
        "apiVersion": "redis.redis.opstreelabs.in/v1beta2",
        "kind": "RedisCluster",
        "metadata": ctx.metadata(&redis.name, &labels, "redis", redis.origin),
        "spec": spec,
    });
    let policy = store_policy(
        ctx,
        StorePolicy {
            name: &redis.name,
            target: "redis",
            labels: &labels,
            origin: redis.origin,
            peer_ports: vec![redis.port, REDIS_BUS_PORT],
            operator_namespace: Some((
                ctx.spec.network.redis_operator_namespace.as_str(),
                vec![redis.port],
            )),
            metrics_port: redis.exporter_image.as_ref().map(|_| REDIS_EXPORTER_PORT),
            needs_api_server: false,
            extra_egress: Vec::new(),
        },
    );
    let mut objects = vec![
        ctx.object(cluster, redis.origin),
        ctx.object(policy, redis.origin),
    ];
    if redis.exporter_image.is_some() {
        // The operator's pods carry `app: <name>-leader` or `<name>-follower`; the exporter sidecar's
        // port is `redis-exporter`.
        let roles = ["leader", "follower"].map(|r| format!("{}-{r}", redis.name.value));
        let selector =
            json!({ "matchExpressions": [{ "key": "app", "operator": "In", "values": roles }] });
        let monitor = pod_monitor(
            ctx,
            &redis.name,
            &labels,
            selector,
            "redis-exporter",
            ("redis", redis.origin),
        );
        objects.push(ctx.object(monitor, redis.origin));
    }
    Unit {
        file: "data/redis.yaml".into(),
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
            "podMetricsEndpoints": [{ "port": port }],
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
    let mut redis_container = container_security();
    redis_container["readOnlyRootFilesystem"] = json!(false);
    for role in ["redisLeader", "redisFollower"] {
        spec[role] = json!({ "securityContext": redis_container });
    }
    if spec.get("redisExporter").is_some() {
        let (cpu, memory, cpu_limit, memory_limit) = REDIS_EXPORTER_RESOURCES;
        spec["redisExporter"]["securityContext"] = container_security();
        spec["redisExporter"]["resources"] = json!({
            "requests": { "cpu": cpu, "memory": memory },
            "limits": { "cpu": cpu_limit, "memory": memory_limit },
        });
    }
}

fn minio_unit(ctx: &Ctx<'_>, minio: &Minio) -> Unit {
    let name = minio.name.as_str();
    let labels = store_labels(ctx, "minio", name, "object-storage", &minio.image);
    let selector = labels.selector(&[]).to_json();
    let origin = minio.origin;
    let headless = format!("{name}-hl");
    let size = ctx
        .spec
        .size(&minio.size)
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
        "args": ["server", data_arg, "--address", format!(":{MINIO_PORT}"), "--certs-dir", "/tmp/certs"],
        // MinIO reads `MINIO_ROOT_*_FILE` from files under /run/secrets, so keys never sit in the
        // environment.
        "env": [
            { "name": "MINIO_ROOT_USER_FILE", "value": minio.access_key.value },
            { "name": "MINIO_ROOT_PASSWORD_FILE", "value": minio.secret_key.value },
        ],
        "ports": [{ "name": "http", "containerPort": MINIO_PORT, "protocol": "TCP" }],
        "resources": resources(size),
        "livenessProbe": { "httpGet": { "path": "/minio/health/live", "port": "http" }, "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3 },
        "readinessProbe": { "httpGet": { "path": "/minio/health/ready", "port": "http" }, "initialDelaySeconds": 5, "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3 },
        "securityContext": container_security(),
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
    let mut metadata = ctx.metadata(name, &labels, "minio", origin);
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
                    "securityContext": pod_security(ctx.spec.defaults.run_as_user),
                    "containers": [container],
                    "volumes": [
                        { "name": "tmp", "emptyDir": { "sizeLimit": "256Mi" } },
                        { "name": "credentials", "secret": credentials },
                    ],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": { "name": "data" },
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": minio.storage.class,
                    "resources": { "requests": { "storage": minio.storage.size.text } },
                },
            }],
        },
    });
    let service = |svc_name: &str, headless: bool| {
        let mut spec = json!({
            "selector": selector,
            "ports": [{ "name": "http", "port": MINIO_PORT, "targetPort": "http", "protocol": "TCP" }],
        });
        if headless {
            spec["clusterIP"] = json!("None");
            spec["publishNotReadyAddresses"] = json!(true);
        } else {
            spec["type"] = json!("ClusterIP");
        }
        json!({ "apiVersion": "v1", "kind": "Service", "metadata": ctx.metadata(svc_name, &labels, "minio", origin), "spec": spec })
    };
    let account = super::workload::service_account(ctx, name, &labels, "minio", origin, false);
    let policy = store_policy(
        ctx,
        StorePolicy {
            name,
            target: "minio",
            labels: &labels,
            origin,
            peer_ports: vec![MINIO_PORT],
            operator_namespace: None,
            metrics_port: Some(MINIO_PORT),
            needs_api_server: false,
            extra_egress: Vec::new(),
        },
    );
    let mut objects = vec![
        ctx.object(account, origin),
        ctx.object(statefulset, origin),
        ctx.object(service(name, false), origin),
        ctx.object(service(&headless, true), origin),
        ctx.object(policy, origin),
    ];
    if replicas >= 2 {
        let pdb = json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": ctx.metadata(name, &labels, "minio", origin),
            "spec": { "maxUnavailable": 1, "selector": { "matchLabels": selector } },
        });
        objects.push(ctx.object(pdb, origin));
    }
    Unit {
        file: "data/minio.yaml".into(),
        objects,
    }
}
