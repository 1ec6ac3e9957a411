//! Disaster recovery: a PostgreSQL store with `[stores.<name>.recovery]` bootstraps as a restore of
//! another environment's backups (CloudNativePG `bootstrap.recovery` from an `externalClusters` entry
//! read through the Barman Cloud plugin), a Job checks the restored database with the spec's query,
//! and `DISASTER-RECOVERY.md` says how to bring the environment up. The source's facts (its cluster
//! name, bucket, path and external object store) were resolved by the compiler from that
//! environment's own spec (`crate::recovery`).

use std::fmt::Write;

use serde_json::{Value, json};

use super::datastores::{
    BARMAN_CLOUD_PLUGIN, backup_target, destination_path, external_credentials,
    sidecar_configuration,
};
use super::{Ctx, Labels, Object, Sink};
use crate::decode::Named;
use crate::facts::{
    POSTGRES_PORT, database_credentials_name, own_server_name, plat_makes_database_credentials,
    restore_check_prefix as check_job_prefix,
};
use crate::kit::security::{container_security, pod_security};
use crate::spec::{Postgres, Recovery, RecoverySource, Store, StoreKind};

/// The annotations a restored Cluster carries: where it was restored from, and to which point.
pub const RESTORE_FROM: &str = "plat.dev/restore-from";
pub const RESTORE_POINT: &str = "plat.dev/restore-point";

/// The file written beside the manifests of an environment that restores a store.
pub const RUNBOOK_FILE: &str = "DISASTER-RECOVERY.md";

/// The read-only `ObjectStore` that points at the source's backups.
pub fn recovery_store_name(cluster: &str) -> String {
    format!("{cluster}-recovery")
}

/// The name of the `externalClusters` entry the recovery reads from: the source's cluster and
/// environment.
fn origin_name(source: &RecoverySource, recovery: &Recovery) -> String {
    format!("{}-{}", source.cluster, recovery.environment.value)
}

pub fn restore_point(recovery: &Recovery) -> &str {
    recovery
        .target_time
        .as_ref()
        .map_or("latest", |t| t.value.as_str())
}

/// `bootstrap.recovery` in place of `initdb`, and the source as an external cluster through the plugin.
pub fn bootstrap(
    ctx: &Ctx<'_>,
    (cluster_spec, cluster): (&mut Value, &str),
    pg: &Postgres,
    recovery: &Recovery,
    source: &RecoverySource,
) {
    let origin = origin_name(source, recovery);
    let mut restore = json!({
        "source": origin,
        "database": pg.database,
        "owner": pg.owner,
    });
    if plat_makes_database_credentials(ctx.spec.secrets.provider, pg) {
        restore["secret"] = json!({ "name": database_credentials_name(cluster) });
    }
    if let Some(time) = &recovery.target_time {
        restore["recoveryTarget"] = json!({ "targetTime": time.value });
    }
    cluster_spec["bootstrap"] = json!({ "recovery": restore });
    cluster_spec["externalClusters"] = json!([{
        "name": origin,
        "plugin": {
            "name": BARMAN_CLOUD_PLUGIN,
            "parameters": {
                "barmanObjectName": recovery_store_name(cluster),
                "serverName": source.server,
            },
        },
    }]);
}

/// The `ObjectStore` of the source's backups. The restored cluster only reads it (it is an external
/// cluster, never its WAL archiver); the credentials should be read-only ones.
pub fn source_object_store(
    ctx: &Ctx<'_>,
    cluster: &str,
    entry: &Named<Store>,
    recovery: &Recovery,
    source: &RecoverySource,
    labels: &Labels,
) -> Value {
    let name = recovery_store_name(cluster);
    json!({
        "apiVersion": "barmancloud.cnpg.io/v1",
        "kind": "ObjectStore",
        "metadata": ctx.metadata(&name, labels, &format!("stores.{}.recovery", entry.name), recovery.origin),
        "spec": {
            "configuration": {
                "destinationPath": destination_path(&source.bucket, &source.path),
                "endpointURL": source.store.endpoint.value,
                "s3Credentials": external_credentials(ctx, &source.store),
                "wal": { "compression": "gzip" },
                "data": { "compression": "gzip" },
            },
            "instanceSidecarConfiguration": sidecar_configuration(),
        },
    })
}

/// The instance pods' egress to the source's object store, from the source's own declaration of it.
pub fn egress_to_source(source: &RecoverySource) -> Value {
    let to: Vec<Value> = source
        .cidrs
        .iter()
        .map(|c| json!({ "ipBlock": { "cidr": c } }))
        .collect();
    let ports: Vec<Value> = source
        .ports
        .iter()
        .map(|p| json!({ "protocol": "TCP", "port": p }))
        .collect();
    json!({ "to": to, "ports": ports })
}

pub fn annotate(metadata: &mut Value, recovery: &Recovery) {
    let Some(source) = &recovery.source else {
        return;
    };
    metadata["annotations"][RESTORE_FROM] =
        json!(format!("{}/{}", recovery.environment.value, source.cluster));
    metadata["annotations"][RESTORE_POINT] = json!(restore_point(recovery));
}

fn check_labels(ctx: &Ctx<'_>, cluster: &str, image: &str) -> Labels {
    Labels::standard(
        "restore-check",
        &check_job_prefix(cluster),
        "database",
        ctx.spec.platform.name.as_str(),
        crate::kit::version_of(image).as_deref(),
    )
}

/// The selector of a store's restore-check pods, for the database's own policy.
pub fn check_selector(ctx: &Ctx<'_>, cluster: &str, image: &str) -> Value {
    json!({ "matchLabels": check_labels(ctx, cluster, image).selector(&[]).to_json() })
}

/// Waits for the restored primary, then runs the check query; a query that fails or returns no row
/// fails the Job (and `PostgresRestoreCheckFailed` fires).
const CHECK_SCRIPT: &str = r#"set -eu
PGUSER="$(cat "$CREDENTIALS/username")"
PGPASSWORD="$(cat "$CREDENTIALS/password")"
export PGUSER PGPASSWORD
deadline=$(( $(date +%s) + WAIT_SECONDS ))
until pg_isready -q; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "the restored database did not accept connections in time" >&2
    exit 1
  fi
  sleep 10
done
rows="$(psql -X -v ON_ERROR_STOP=1 -At -c "$CHECK_QUERY")"
if [ -z "$rows" ]; then
  echo "the check query returned no row" >&2
  exit 1
fi
echo "restore check passed: $(printf '%s\n' "$rows" | head -n 1)"
"#;

/// How long the check waits for the restored database (a restore replays WAL for a while).
const WAIT_SECONDS: i64 = 7200;

const CHECK_RESOURCES: (&str, &str, &str, &str) = ("50m", "64Mi", "200m", "128Mi");

/// The restore check: a Job that connects to the restored cluster's primary (`<cluster>-rw`) as the
/// owner, with the credentials CloudNativePG bootstraps it with, and runs the check query; and its
/// NetworkPolicy (out to the database only).
pub fn check_objects(
    ctx: &Ctx<'_>,
    entry: &Named<Store>,
    pg: &Postgres,
    recovery: &Recovery,
) -> Vec<Object> {
    let Some(source) = &recovery.source else {
        return Vec::new();
    };
    let cluster = entry.value.name.as_str();
    let image = pg.image.value.as_str();
    let labels = check_labels(ctx, cluster, image);
    let at = format!("stores.{}.recovery", entry.name);
    let script = CHECK_SCRIPT.replace("WAIT_SECONDS", &WAIT_SECONDS.to_string());
    let hash = crate::kit::fnv1a_hex(&[
        ("script".into(), script.clone()),
        ("query".into(), recovery.check_query.clone()),
        ("image".into(), image.to_string()),
        ("source".into(), origin_name(source, recovery)),
        ("point".into(), restore_point(recovery).to_string()),
    ]);
    let name = format!("{}-{}", check_job_prefix(cluster), &hash[..8]);
    let secret = crate::facts::database_credentials_secret(ctx.spec.secrets.provider, cluster, pg);
    let uid = ctx.spec.defaults.run_as_user;
    let (cpu, memory, cpu_limit, memory_limit) = CHECK_RESOURCES;
    let container = json!({
        "name": "restore-check",
        "image": image,
        "imagePullPolicy": ctx.spec.defaults.image_pull_policy,
        "command": ["/bin/sh", "-c", script],
        "env": [
            { "name": "PGHOST", "value": format!("{cluster}-rw") },
            { "name": "PGPORT", "value": POSTGRES_PORT.to_string() },
            { "name": "PGDATABASE", "value": pg.database },
            { "name": "PGSSLMODE", "value": "require" },
            { "name": "PGCONNECT_TIMEOUT", "value": "10" },
            { "name": "HOME", "value": "/tmp" },
            { "name": "CREDENTIALS", "value": "/run/credentials" },
            { "name": "CHECK_QUERY", "value": recovery.check_query },
        ],
        "resources": {
            "requests": { "cpu": cpu, "memory": memory },
            "limits": { "cpu": cpu_limit, "memory": memory_limit },
        },
        "securityContext": container_security(true),
        "volumeMounts": [
            { "name": "credentials", "mountPath": "/run/credentials", "readOnly": true },
            { "name": "tmp", "mountPath": "/tmp" },
        ],
    });
    let mut metadata = ctx.metadata(&name, &labels, &at, recovery.origin);
    super::workload::waive_digest_check(&mut metadata, &[&pg.image]);
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": WAIT_SECONDS + 600,
            "template": {
                "metadata": { "labels": labels.to_json() },
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": false,
                    "enableServiceLinks": false,
                    "securityContext": pod_security(uid, uid, uid),
                    "containers": [container],
                    "volumes": [
                        { "name": "credentials", "secret": {
                            "secretName": secret,
                            "items": [
                                { "key": "username", "path": "username" },
                                { "key": "password", "path": "password" },
                            ],
                            "defaultMode": 0o440,
                        } },
                        { "name": "tmp", "emptyDir": { "sizeLimit": "64Mi" } },
                    ],
                },
            },
        },
    });
    let policy = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": ctx.metadata(&check_job_prefix(cluster), &labels, &at, recovery.origin),
        "spec": {
            "podSelector": { "matchLabels": labels.selector(&[]).to_json() },
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [{
                "to": [{ "podSelector": crate::facts::store_selector(&entry.value) }],
                "ports": [{ "protocol": "TCP", "port": POSTGRES_PORT }],
            }],
        },
    });
    vec![
        ctx.object(job, recovery.origin),
        ctx.object(policy, recovery.origin),
    ]
}

/// `DISASTER-RECOVERY.md` of an environment that restores stores: what comes from where, and the
/// steps, from the spec.
pub fn runbook(ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    let spec = ctx.spec;
    let restored: Vec<(&Named<Store>, &Postgres, &Recovery, &RecoverySource)> = spec
        .stores
        .iter()
        .filter_map(|s| match &s.value.kind {
            StoreKind::Postgres(pg) => {
                let recovery = pg.recovery.as_ref()?;
                Some((s, pg.as_ref(), recovery, recovery.source.as_ref()?))
            }
            _ => None,
        })
        .collect();
    if restored.is_empty() {
        return;
    }
    let env = &spec.environment;
    let ns = ctx.namespace;
    let context = env.context.value.as_str();
    let mut out = String::new();
    let _ = writeln!(out, "# Disaster recovery: environment `{}`\n", env.name);
    let _ = writeln!(
        out,
        "Generated by plat from the platform spec ({}, environment `{}`). Do not edit: change the spec and run `plat render`.\n",
        spec.platform.name.value, env.name
    );
    let _ = writeln!(
        out,
        "This environment starts its databases as restores of another environment's backups, kept in object stores outside that environment's cluster, so that they survive its loss. It deploys into namespace `{ns}` through the kube context `{context}`.\n"
    );
    let _ = writeln!(out, "## What is restored\n");
    let _ = writeln!(
        out,
        "| store | cluster | restored from | backups | restore point | check query |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for (entry, _, recovery, source) in &restored {
        let _ = writeln!(
            out,
            "| `{}` | `{}` | environment `{}`, cluster `{}` | `{}/{}` at {} (external endpoint `{}`) | {} | `{}` |",
            entry.name,
            entry.value.name.value,
            recovery.environment.value,
            source.cluster,
            destination_path(&source.bucket, &source.path),
            source.server,
            source.store.endpoint.value,
            source.external,
            match &recovery.target_time {
                Some(t) => format!("`{}`", t.value),
                None => "latest (the end of the archived WAL)".into(),
            },
            recovery.check_query.replace('|', "\\|"),
        );
    }
    let _ = writeln!(out);
    let own_backups: Vec<String> = restored
        .iter()
        .filter_map(|(entry, pg, _, _)| {
            let backup = pg.backup.as_ref()?;
            backup_target(ctx, &backup.to)?;
            let server = own_server_name(entry.value.name.as_str(), &env.name);
            Some(format!(
                "- `{}` writes its own backups to `{}` (store `{}`) under the server name `{server}`, never into the archive it was restored from.",
                entry.value.name.value,
                destination_path(&backup.bucket, &backup.path),
                backup.to.value,
            ))
        })
        .collect();
    if !own_backups.is_empty() {
        let _ = writeln!(out, "Once running:\n");
        for line in own_backups {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "## Steps\n");
    let _ = writeln!(
        out,
        "1. Make sure the source environment is really lost or must not take writes any more (a restore while it still writes forks the data). Its object store keeps the backups: check the latest base backup is recent enough for the restore point."
    );
    let mut keys: Vec<String> = restored
        .iter()
        .flat_map(|(_, _, _, source)| {
            [&source.store.access_key, &source.store.secret_key]
                .into_iter()
                .chain(source.store.region.as_ref())
                .map(|k| format!("`{}`", k.value))
        })
        .collect();
    keys.sort();
    keys.dedup();
    let _ = writeln!(
        out,
        "2. Apply this environment: `plat apply --env {}` (kube context `{context}`). This environment's secret store (`{}`) must hold {}, the credentials the restore reads the backups with.",
        env.name,
        spec.secrets.remote_prefix,
        keys.join(", ")
    );
    let mut step = 3;
    for (entry, _, _, _) in &restored {
        let cluster = entry.value.name.as_str();
        let _ = writeln!(
            out,
            "{step}. Wait for the Cluster: `kubectl --context {context} -n {ns} wait cluster/{cluster} --for=condition=Ready --timeout=2h`; follow the restore in `kubectl --context {context} -n {ns} get pods -l cnpg.io/cluster={cluster}` and the `{cluster}-1-full-recovery` pod's log."
        );
        step += 1;
        let prefix = check_job_prefix(cluster);
        let _ = writeln!(
            out,
            "{step}. Restore check: the Job `{prefix}-<hash>` connects to `{cluster}-rw` and runs the check query; `kubectl --context {context} -n {ns} wait job -l app.kubernetes.io/instance={prefix} --for=condition=Complete --timeout=2h`. If it fails, `PostgresRestoreCheckFailed` fires: read `kubectl --context {context} -n {ns} logs job/<name>`."
        );
        step += 1;
    }
    let host = spec
        .ingress
        .as_ref()
        .map(|i| format!("`{}`", i.host.value))
        .unwrap_or_else(|| "the platform's public names".into());
    let _ = writeln!(
        out,
        "{step}. Switch DNS: point {host} at this environment's ingress load balancer (`kubectl --context {context} -n {} get svc`), then verify from outside: the health endpoint answers and the dashboards show traffic in this environment.",
        spec.network.ingress_controller_namespace
    );
    let clusters: Vec<&str> = restored
        .iter()
        .filter(|(_, pg, _, _)| pg.backup.is_some())
        .map(|(entry, _, _, _)| entry.value.name.as_str())
        .collect();
    if !clusters.is_empty() {
        let commands: Vec<String> = clusters
            .iter()
            // kubectl takes no flag before a plugin's name ("flags cannot be placed before plugin
            // name"): the context and namespace follow the plugin's command.
            .map(|c| format!("`kubectl cnpg backup {c} --context {context} -n {ns} --method plugin --plugin-name {BARMAN_CLOUD_PLUGIN}`"))
            .collect();
        let _ = writeln!(
            out,
            "{}. Once traffic runs here, take a base backup at once ({}): until then this environment's own archive has nothing to restore from.",
            step + 1,
            commands.join(", ")
        );
    }
    sink.file(RUNBOOK_FILE.to_string(), out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the check script with a `pg_isready` that answers on its second call and a `psql` that
    /// prints `$ROWS` (or fails when `$FAIL` is set); returns whether the script succeeded.
    fn check(rows: &str, fail: bool) -> bool {
        use std::fs;
        let dir = std::env::temp_dir().join(format!(
            "plat-restore-check-{}-{}-{fail}",
            std::process::id(),
            rows.len()
        ));
        let _ = fs::remove_dir_all(&dir);
        for sub in ["bin", "credentials"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        fs::write(dir.join("credentials/username"), "owner").unwrap();
        fs::write(dir.join("credentials/password"), "secret").unwrap();
        let fakes = [
            (
                "pg_isready",
                "#!/bin/sh\nif [ -e \"$STATE\" ]; then exit 0; fi\ntouch \"$STATE\"; exit 2\n",
            ),
            (
                "psql",
                "#!/bin/sh\n[ \"$PGUSER:$PGPASSWORD\" = owner:secret ] || exit 3\n[ -z \"${FAIL:-}\" ] || exit 1\nprintf '%s' \"$ROWS\"\n",
            ),
            ("sleep", "#!/bin/sh\nexit 0\n"),
        ];
        for (name, text) in fakes {
            fs::write(dir.join("bin").join(name), text).unwrap();
        }
        let script = CHECK_SCRIPT.replace("WAIT_SECONDS", "600");
        let mut command = std::process::Command::new("sh");
        command
            .arg("-c")
            .arg(format!(
                "chmod +x bin/* && PATH=\"$PWD/bin:$PATH\" && {script}"
            ))
            .current_dir(&dir)
            .env("CREDENTIALS", dir.join("credentials"))
            .env("STATE", dir.join("ready"))
            .env("CHECK_QUERY", "SELECT 1")
            .env("ROWS", rows);
        if fail {
            command.env("FAIL", "1");
        }
        let ok = command.status().expect("sh runs").success();
        let _ = fs::remove_dir_all(&dir);
        ok
    }

    #[test]
    fn the_restore_check_waits_for_the_database_and_needs_a_row() {
        assert!(check("42", false));
        assert!(!check("", false), "no row is a failed check");
        assert!(!check("42", true), "a failing query is a failed check");
    }
}
