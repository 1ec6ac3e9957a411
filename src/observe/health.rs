//! `[health]`: the alerts plat derives from what the platform runs rather than from what the services
//! measure (seed 8.2: pods that restart more than five times or stay unready for five minutes need
//! attention). Each alert exists only where its subject does:
//!
//! - a PostgreSQL store with backups: the Barman Cloud plugin's last failed base backup is newer than
//!   its last good one (`barman_cloud_cloudnative_pg_io_last_{failed,available}_backup_timestamp`,
//!   which CloudNativePG's instance manager exports for the plugin; its own
//!   `cnpg_collector_last_*_backup_timestamp` are deprecated and describe in-tree backups only); and
//!   WAL archiving failing (`cnpg_pg_stat_archiver_last_failed_time` after `…_last_archived_time`, from
//!   CloudNativePG's default monitoring queries) or stuck (`cnpg_collector_pg_wal_archive_status
//!   {value="ready"}`: segments waiting to be archived), which is what the database RPO rests on;
//! - claims (stores, persistent volumes): a volume filling up (`kubelet_volume_stats_*`);
//! - an Ingress with a cert-manager issuer: its certificate close to expiry (cert-manager's
//!   `certmanager_certificate_expiration_timestamp_seconds`; ingress-shim names the Certificate after
//!   the TLS Secret);
//! - secrets from External Secrets: an ExternalSecret that does not sync (`externalsecret_status_condition`);
//! - every platform: a container restarting too often and a pod unready for too long (kube-state-metrics).
//!
//! The rules go through the same stamping, routing simulation and runbook generation as `[alerts]`.

use serde_json::{Value, json};

use crate::decode::{Fields, Located};
use crate::diag::{Diagnostic, Diagnostics};
use crate::node::Node;
use crate::spec::{SecretProvider, Spec, StoreKind, VolumeKind};

use super::AlertInfo;

#[cfg(test)]
mod tests {
    #[test]
    fn runbook_pages_are_named_in_kebab_case() {
        let health = super::Health {
            runbook_base: crate::decode::Located {
                value: "https://runbooks.example.com/alerts/".into(),
                origin: crate::source::Origin::new(
                    crate::source::Sources::default().add("t", String::new()),
                    0..0,
                ),
                replaced: None,
            },
            restarts_per_hour: 5,
            unready_for: "5m".into(),
            volume_full: 0.85,
            certificate_days: 14,
            backup_max_age: "26h".into(),
            origin: crate::source::Origin::new(
                crate::source::Sources::default().add("t", String::new()),
                0..0,
            ),
        };
        assert_eq!(
            super::runbook_url(&health, "PostgresWALArchivingFailing"),
            "https://runbooks.example.com/alerts/postgres-wal-archiving-failing"
        );
        assert_eq!(
            super::runbook_url(&health, "PodNotReady"),
            "https://runbooks.example.com/alerts/pod-not-ready"
        );
    }
}

#[derive(Clone, Debug)]
pub struct Health {
    /// Where the runbooks are published; each alert's `runbook_url` is this plus its name in kebab case.
    pub runbook_base: Located<String>,
    /// A container that restarts more often than this within an hour needs attention.
    pub restarts_per_hour: i64,
    /// How long a pod may stay unready.
    pub unready_for: String,
    /// The share of a volume's capacity that warns.
    pub volume_full: f64,
    /// Days before a certificate expires that warn (cert-manager renews 30 days before, by default).
    pub certificate_days: i64,
    /// The age of the newest base backup that warns (a nightly backup and some slack).
    pub backup_max_age: String,
    pub origin: crate::source::Origin,
}

pub fn read(node: &Node, diags: &mut Diagnostics) -> Option<Health> {
    let mut f = Fields::open(node, "health", diags)?;
    let runbook_base = f.req::<String>("runbook_base", diags);
    let restarts = f.int("restarts_per_hour", 1, 1000, diags);
    let unready_for = f.or_rule(
        "unready_for",
        "5m".to_string(),
        crate::decode::rule::PROMETHEUS_DURATION,
        diags,
    );
    let volume_full = f.opt::<f64>("volume_full", diags);
    let certificate_days = f.int("certificate_days", 1, 365, diags);
    let backup_max_age = f.or_rule(
        "backup_max_age",
        "26h".to_string(),
        crate::decode::rule::PROMETHEUS_DURATION,
        diags,
    );
    let mut ok = f.finish(diags);
    if let Some(ratio) = volume_full
        .as_ref()
        .filter(|r| !(r.value > 0.0 && r.value < 1.0))
    {
        let d = Diagnostic::error(
            "P0317",
            format!(
                "`health.volume_full` must be between 0 and 1, not {}",
                ratio.value
            ),
        )
        .help("write the share of capacity that warns, e.g. `0.85`");
        diags.push(ratio.diagnostic(d, "not a share of capacity"));
        ok = false;
    }
    ok.then_some(())?;
    Some(Health {
        runbook_base: runbook_base?,
        restarts_per_hour: restarts.map_or(5, |r| r.value),
        unready_for,
        volume_full: volume_full.map_or(0.85, |r| r.value),
        certificate_days: certificate_days.map_or(14, |d| d.value),
        backup_max_age,
        origin: node.origin,
    })
}

/// One derived alert, with the first steps its runbook gives.
pub struct HealthAlert {
    pub name: &'static str,
    pub severity: &'static str,
    pub expr: String,
    pub for_: String,
    pub summary: String,
    pub description: String,
    pub steps: Vec<String>,
}

pub const BACKUP_FAILED: &str = "PostgresBackupFailed";
pub const BACKUP_TOO_OLD: &str = "PostgresBackupTooOld";
pub const RESTORE_CHECK: &str = "PostgresRestoreCheckFailed";
pub const WAL_ARCHIVING: &str = "PostgresWALArchivingFailing";
pub const VOLUME_FILLING: &str = "PersistentVolumeFillingUp";
pub const CERTIFICATE_EXPIRY: &str = "CertificateExpiringSoon";
pub const EXTERNAL_SECRET: &str = "ExternalSecretSyncFailed";
pub const RESTARTING: &str = "PodRestartingOften";
pub const NOT_READY: &str = "PodNotReady";

/// The derived alerts of this environment, in a stable order.
pub fn alerts(spec: &Spec) -> Vec<HealthAlert> {
    let Some(health) = &spec.observe.health else {
        return Vec::new();
    };
    let mut out = Vec::new();
    out.extend(database_alerts(spec, health));
    out.extend(restore_check(spec));
    if has_claims(spec) {
        out.push(volume_filling(spec, health));
    }
    if let Some(alert) = certificate_expiry(spec, health) {
        out.push(alert);
    }
    if let Some(alert) = external_secret_sync(spec) {
        out.push(alert);
    }
    out.push(restarting(spec, health));
    out.push(not_ready(spec, health));
    out
}

pub fn catalog(spec: &Spec) -> Vec<AlertInfo> {
    alerts(spec)
        .into_iter()
        .map(|a| AlertInfo {
            name: a.name.to_string(),
            labels: vec![("severity".into(), a.severity.into())],
        })
        .collect()
}

/// The rule group, or `None` when `[health]` is absent.
pub fn rule_group(spec: &Spec) -> Option<Value> {
    let health = spec.observe.health.as_ref()?;
    let rules: Vec<Value> = alerts(spec)
        .into_iter()
        .map(|a| {
            json!({
                "alert": a.name,
                "expr": a.expr,
                "for": a.for_,
                "labels": { "severity": a.severity },
                "annotations": {
                    "summary": a.summary,
                    "description": a.description,
                    "runbook_url": runbook_url(health, a.name),
                },
            })
        })
        .collect();
    Some(json!({ "name": format!("{}-health", spec.platform.name.value), "rules": rules }))
}

/// The first steps of a derived alert's runbook.
pub fn first_steps(spec: &Spec, name: &str) -> Option<Vec<String>> {
    alerts(spec)
        .into_iter()
        .find(|a| a.name == name)
        .map(|a| a.steps)
}

fn runbook_url(health: &Health, name: &str) -> String {
    // `PostgresWALArchivingFailing` → `postgres-wal-archiving-failing`: a capital starts a word unless it
    // continues an acronym.
    let chars: Vec<char> = name.chars().collect();
    let mut kebab = String::new();
    for (i, c) in chars.iter().enumerate() {
        let after_lower = i > 0 && !chars[i - 1].is_ascii_uppercase();
        let ends_acronym = i > 0
            && chars[i - 1].is_ascii_uppercase()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
        if c.is_ascii_uppercase() && (after_lower || ends_acronym) {
            kebab.push('-');
        }
        kebab.push(c.to_ascii_lowercase());
    }
    format!("{}/{kebab}", health.runbook_base.trim_end_matches('/'))
}

fn namespace(spec: &Spec) -> &str {
    spec.environment.namespace.as_str()
}

/// The CloudNativePG clusters with backups whose instances Prometheus scrapes.
fn backed_up_clusters(spec: &Spec) -> Vec<&str> {
    spec.stores
        .iter()
        .filter(|s| matches!(&s.value.kind, StoreKind::Postgres(pg) if pg.backup.is_some() && pg.monitoring))
        .map(|s| s.value.name.as_str())
        .collect()
}

/// A metric of the clusters' instance pods (`<cluster>-<n>`), as the highest value per cluster under the
/// label `database` (the instances of one cluster report the same backups).
fn per_database(metric: &str, clusters: &[&str], ns: &str, extra: &str) -> String {
    let pods = clusters.join("|");
    format!(
        "max by (namespace, database) (label_replace({metric}{{namespace=\"{ns}\",pod=~\"({pods})-[0-9]+\"{extra}}}, \"database\", \"$1\", \"pod\", \"(.+)-[0-9]+\"))"
    )
}

fn database_alerts(spec: &Spec, health: &Health) -> Vec<HealthAlert> {
    let clusters = backed_up_clusters(spec);
    if clusters.is_empty() {
        return Vec::new();
    }
    let ns = namespace(spec);
    let m = |metric: &str, extra: &str| per_database(metric, &clusters, ns, extra);
    let plugin = "barman_cloud_cloudnative_pg_io";
    let backup = HealthAlert {
        name: BACKUP_FAILED,
        severity: "warning",
        expr: format!(
            "{} > {}",
            m(&format!("{plugin}_last_failed_backup_timestamp"), ""),
            m(&format!("{plugin}_last_available_backup_timestamp"), "")
        ),
        for_: "5m".into(),
        summary: "A PostgreSQL base backup failed".into(),
        description: "The last base backup of {{ $labels.database }} failed after the last good one; restores start from an older backup and replay more WAL.".into(),
        steps: vec![
            format!("List the backups and their errors: `kubectl -n {ns} get backups.postgresql.cnpg.io -l cnpg.io/cluster=<database>` and `kubectl -n {ns} describe backup <name>`."),
            format!("Read the plugin sidecar's log on the primary: `kubectl -n {ns} logs <primary pod> -c plugin-barman-cloud`."),
            "Check that the object store answers and its credentials are valid (the ObjectStore's `status`); then take a backup at once with a `Backup` of `method: plugin`.".into(),
        ],
    };
    let wal = HealthAlert {
        name: WAL_ARCHIVING,
        severity: "critical",
        expr: format!(
            "{} > {} or {} > 0",
            m("cnpg_pg_stat_archiver_last_failed_time", ""),
            m("cnpg_pg_stat_archiver_last_archived_time", ""),
            m("cnpg_collector_pg_wal_archive_status", ",value=\"ready\"")
        ),
        for_: "10m".into(),
        summary: "PostgreSQL WAL archiving is failing".into(),
        description: "{{ $labels.database }} has not archived its WAL for 10 minutes (a failed archive is newer than the last good one, or segments wait to be archived): the database's recovery point falls behind.".into(),
        steps: vec![
            format!("Read the archiver's errors on the primary: `kubectl -n {ns} logs <primary pod> -c plugin-barman-cloud` and `kubectl -n {ns} exec <primary pod> -c postgres -- psql -c 'select * from pg_stat_archiver'`."),
            "Check the object store: reachable from the database pods (their NetworkPolicy), bucket present, credentials valid, space left.".into(),
            format!("Watch `pg_wal` grow: `kubectl -n {ns} exec <primary pod> -c postgres -- du -sh /var/lib/postgresql/data/pgdata/pg_wal`; a full volume stops the database."),
        ],
    };
    let max_age = &health.backup_max_age;
    let seconds = crate::rules::duration::prometheus(max_age).map_or(0, |ms| ms / 1000);
    let too_old = HealthAlert {
        name: BACKUP_TOO_OLD,
        severity: "warning",
        expr: format!(
            "time() - {} > {seconds}",
            m(&format!("{plugin}_last_available_backup_timestamp"), "")
        ),
        for_: "10m".into(),
        summary: format!("The newest PostgreSQL base backup is older than {max_age}"),
        description: format!("The newest base backup of {{{{ $labels.database }}}} is more than {max_age} old: a restore would replay that much WAL, or lose it if the archive is incomplete."),
        steps: vec![
            format!("Is the schedule running? `kubectl -n {ns} get scheduledbackups.postgresql.cnpg.io` (last schedule time) and `kubectl -n {ns} get backups.postgresql.cnpg.io -l cnpg.io/cluster=<database>`."),
            format!("Read the plugin sidecar's log on the primary: `kubectl -n {ns} logs <primary pod> -c plugin-barman-cloud`; check the ObjectStore's `status` and that the object store answers."),
            "Take a base backup at once with a `Backup` of `method: plugin` and watch it complete; PostgresBackupFailed says why one failed.".into(),
        ],
    };
    vec![backup, too_old, wal]
}

/// A restored database whose restore check Job failed: the Job failed a pod and never succeeded
/// (kube-state-metrics `kube_job_status_failed` and `kube_job_status_succeeded`).
fn restore_check(spec: &Spec) -> Option<HealthAlert> {
    let prefixes: Vec<String> = spec
        .stores
        .iter()
        .filter(|s| matches!(&s.value.kind, StoreKind::Postgres(pg) if pg.recovery.as_ref().is_some_and(|r| r.source.is_some())))
        .map(|s| crate::facts::restore_check_prefix(s.value.name.as_str()))
        .collect();
    if prefixes.is_empty() {
        return None;
    }
    let ns = namespace(spec);
    let sel = format!(
        "namespace=\"{ns}\",job_name=~\"({})-[0-9a-f]+\"",
        prefixes.join("|")
    );
    let by = "max by (namespace, job_name)";
    Some(HealthAlert {
        name: RESTORE_CHECK,
        severity: "critical",
        expr: format!(
            "{by} (kube_job_status_failed{{{sel}}}) > 0 unless on (namespace, job_name) {by} (kube_job_status_succeeded{{{sel}}}) > 0"
        ),
        for_: "1m".into(),
        summary: "The restored database failed its restore check".into(),
        description: "Job {{ $labels.job_name }} could not connect to the restored database or its check query failed: the restore is incomplete or restored the wrong data. Do not switch traffic to this environment.".into(),
        steps: vec![
            format!("Read why: `kubectl -n {ns} logs job/<job_name>` (the alert's `job_name`), and `kubectl -n {ns} describe job <job_name>`."),
            format!("Is the restore done? `kubectl -n {ns} get clusters.postgresql.cnpg.io` (phase, ready instances) and the log of the `<cluster>-1-full-recovery` pod: a missing base backup or WAL segment stops it."),
            "If the cluster is healthy, run the check query by hand with `kubectl cnpg psql <cluster>`; a restore point before the data the query expects needs a later `target_time`. Delete the Job to run the check again.".into(),
        ],
    })
}

fn has_claims(spec: &Spec) -> bool {
    let persistent = |w: &crate::spec::Workload| {
        w.volumes
            .iter()
            .any(|v| matches!(v.value.kind, VolumeKind::Persistent { .. }))
    };
    !spec.stores.is_empty()
        || spec.workloads.iter().any(|w| persistent(&w.value))
        || spec.fleets.iter().any(|f| persistent(&f.value.template))
}

fn volume_filling(spec: &Spec, health: &Health) -> HealthAlert {
    let ns = namespace(spec);
    let sel = format!("namespace=\"{ns}\"");
    let by = "max by (namespace, persistentvolumeclaim)";
    let ratio = super::slo::number(health.volume_full);
    HealthAlert {
        name: VOLUME_FILLING,
        severity: "warning",
        expr: format!(
            "{by} (kubelet_volume_stats_used_bytes{{{sel}}}) / {by} (kubelet_volume_stats_capacity_bytes{{{sel}}} > 0) > {ratio}"
        ),
        for_: "5m".into(),
        summary: format!("A volume is more than {}% full", percent(health.volume_full)),
        description: "Claim {{ $labels.persistentvolumeclaim }} is {{ $value | humanizePercentage }} full.".into(),
        steps: vec![
            format!("Find what fills it: `kubectl -n {ns} get pvc` and, in the pod that mounts it, `du -sh` of its directories."),
            "A database volume full of WAL means archiving is stuck: check PostgresWALArchivingFailing first.".into(),
            "Grow the claim through the spec (`storage.size` or the volume's `size`) if the storage class allows expansion; do not delete data to make room.".into(),
        ],
    }
}

fn percent(ratio: f64) -> String {
    super::slo::number(ratio * 100.0)
}

fn certificate_expiry(spec: &Spec, health: &Health) -> Option<HealthAlert> {
    let ingress = spec.ingress.as_ref().filter(|i| !i.tls_issuer.is_empty())?;
    let ns = namespace(spec);
    let days = health.certificate_days;
    let secret = &ingress.tls_secret;
    Some(HealthAlert {
        name: CERTIFICATE_EXPIRY,
        severity: "warning",
        expr: format!(
            "max by (namespace, name) (certmanager_certificate_expiration_timestamp_seconds{{namespace=\"{ns}\",name=\"{secret}\"}}) - time() < {}",
            days * 86_400
        ),
        for_: "1h".into(),
        summary: format!("The Ingress certificate expires within {days} days"),
        description: "Certificate {{ $labels.name }} has not been renewed and expires soon; cert-manager renews 30 days before expiry by default.".into(),
        steps: vec![
            format!("See why cert-manager did not renew: `kubectl -n {ns} describe certificate {secret}` and its CertificateRequest and Order."),
            "Check the issuer (`kubectl describe clusterissuer <issuer>`) and that the ACME challenge reaches the ingress controller.".into(),
            format!("Force a renewal once the cause is fixed: `cmctl renew -n {ns} {secret}`."),
        ],
    })
}

/// The namespaces plat writes ExternalSecrets into.
fn external_secret_namespaces(spec: &Spec) -> Vec<String> {
    let mut out = vec![namespace(spec).to_string()];
    if let Some(alerting) = crate::facts::alerting_facts(spec) {
        out.push(alerting.namespace);
    }
    if let Some(logging) = spec
        .observe
        .logging
        .as_ref()
        .filter(|l| l.elasticsearch.password_secret.is_some())
    {
        out.push(logging.namespace.value.clone());
    }
    out.sort();
    out.dedup();
    out
}

fn external_secret_sync(spec: &Spec) -> Option<HealthAlert> {
    if spec.secrets.provider != SecretProvider::ExternalSecrets {
        return None;
    }
    let namespaces = external_secret_namespaces(spec);
    let ns = match namespaces.as_slice() {
        [one] => format!("namespace=\"{one}\""),
        many => format!("namespace=~\"{}\"", many.join("|")),
    };
    let platform_ns = namespace(spec);
    Some(HealthAlert {
        name: EXTERNAL_SECRET,
        severity: "warning",
        expr: format!(
            "max by (namespace, name) (externalsecret_status_condition{{{ns},condition=\"Ready\",status=\"False\"}}) == 1"
        ),
        for_: "10m".into(),
        summary: "An ExternalSecret does not sync".into(),
        description: "ExternalSecret {{ $labels.namespace }}/{{ $labels.name }} is not Ready: its Secret is missing or stale, and pods that mount it may not start.".into(),
        steps: vec![
            format!("Read its condition: `kubectl -n {platform_ns} describe externalsecret <name>` (the namespace is the alert's)."),
            "Check the store (`kubectl describe clustersecretstore <store>`): reachable, authenticated, and the remote keys present at the paths the spec's `remote_prefix` and `addressing` name.".into(),
            "Fix the remote value or the reference in the spec; the operator retries at its refresh interval.".into(),
        ],
    })
}

fn restarting(spec: &Spec, health: &Health) -> HealthAlert {
    let ns = namespace(spec);
    let n = health.restarts_per_hour;
    HealthAlert {
        name: RESTARTING,
        severity: "warning",
        expr: format!(
            "max by (namespace, pod, container) (increase(kube_pod_container_status_restarts_total{{namespace=\"{ns}\"}}[1h])) > {n}"
        ),
        for_: "0s".into(),
        summary: format!("A container restarted more than {n} times in an hour"),
        description: format!("{{{{ $labels.pod }}}}/{{{{ $labels.container }}}} restarted more than {n} times in the last hour."),
        steps: vec![
            format!("Why did it stop? `kubectl -n {ns} describe pod <pod>` (last state: OOMKilled, Error, liveness probe failures)."),
            format!("Read the log of the run that died: `kubectl -n {ns} logs <pod> -c <container> --previous`."),
            "OOMKilled: compare with HighMemoryUsage and the size's limit; probe failures: check the probe's path and delays against the image.".into(),
        ],
    }
}

fn not_ready(spec: &Spec, health: &Health) -> HealthAlert {
    let ns = namespace(spec);
    let sel = format!("namespace=\"{ns}\"");
    let by = "max by (namespace, pod)";
    HealthAlert {
        name: NOT_READY,
        severity: "warning",
        expr: format!(
            "({by} (kube_pod_status_ready{{{sel},condition=\"false\"}}) == 1 or {by} (kube_pod_status_phase{{{sel},phase=~\"Pending|Unknown\"}}) == 1) unless on (namespace, pod) ({by} (kube_pod_status_phase{{{sel},phase=\"Succeeded\"}}) == 1)"
        ),
        for_: health.unready_for.clone(),
        summary: format!("A pod has not been ready for {}", health.unready_for),
        description: "{{ $labels.pod }} has been unready or pending for a while.".into(),
        steps: vec![
            format!("`kubectl -n {ns} describe pod <pod>`: Pending (no node fits, a claim not bound), or running with a failing readiness probe?"),
            format!("If it is Pending, compare the namespace's requests with the nodes: `kubectl describe nodes` and `kubectl -n {ns} get pvc`."),
            "If the readiness probe fails, read the container's log and try the probe's path from inside the pod.".into(),
        ],
    }
}
