//! Output validation: every Kubernetes object plat emits is checked, as it streams past, against the
//! upstream JSON schema of its kind: Kubernetes 1.33 (strict) for built-in kinds, the operators' CRD
//! schemas for custom resources. The schemas are vendored under `schemas/` (sources, versions and how
//! to regenerate them: `schemas/README.md`) and embedded in the binary, so validation is pure and needs
//! no network. Each kind's validator is compiled once, on first use, and shared by every later object
//! and environment: a 10,000-tenant render compiles the Deployment schema once, not 10,000 times.

use std::sync::OnceLock;

use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use crate::diag::{Diagnostic, Diagnostics};
use crate::lower::Object;

/// One vendored schema and the kind it validates.
pub struct Schema {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// Path under `schemas/`.
    pub file: &'static str,
    text: &'static str,
}

macro_rules! schemas {
    ($($api_version:literal $kind:literal $file:literal;)*) => {
        /// Every vendored schema; `tests/schemas.rs` checks that this lists every file vendor.py writes.
        pub const SCHEMAS: &[Schema] = &[$(Schema {
            api_version: $api_version,
            kind: $kind,
            file: $file,
            text: include_str!(concat!("../schemas/", $file)),
        }),*];
    };
}

schemas! {
    "v1" "ConfigMap" "kubernetes-1.33.0/configmap-v1.json";
    "v1" "PersistentVolumeClaim" "kubernetes-1.33.0/persistentvolumeclaim-v1.json";
    "v1" "Namespace" "kubernetes-1.33.0/namespace-v1.json";
    "v1" "Secret" "kubernetes-1.33.0/secret-v1.json";
    "v1" "Service" "kubernetes-1.33.0/service-v1.json";
    "v1" "ServiceAccount" "kubernetes-1.33.0/serviceaccount-v1.json";
    "apps/v1" "DaemonSet" "kubernetes-1.33.0/daemonset-apps-v1.json";
    "apps/v1" "Deployment" "kubernetes-1.33.0/deployment-apps-v1.json";
    "apps/v1" "StatefulSet" "kubernetes-1.33.0/statefulset-apps-v1.json";
    "batch/v1" "CronJob" "kubernetes-1.33.0/cronjob-batch-v1.json";
    "batch/v1" "Job" "kubernetes-1.33.0/job-batch-v1.json";
    "autoscaling/v2" "HorizontalPodAutoscaler" "kubernetes-1.33.0/horizontalpodautoscaler-autoscaling-v2.json";
    "networking.k8s.io/v1" "Ingress" "kubernetes-1.33.0/ingress-networking-v1.json";
    "networking.k8s.io/v1" "NetworkPolicy" "kubernetes-1.33.0/networkpolicy-networking-v1.json";
    "policy/v1" "PodDisruptionBudget" "kubernetes-1.33.0/poddisruptionbudget-policy-v1.json";
    "v1" "ResourceQuota" "kubernetes-1.33.0/resourcequota-v1.json";
    "scheduling.k8s.io/v1" "PriorityClass" "kubernetes-1.33.0/priorityclass-scheduling-v1.json";
    "rbac.authorization.k8s.io/v1" "ClusterRole" "kubernetes-1.33.0/clusterrole-rbac-v1.json";
    "rbac.authorization.k8s.io/v1" "ClusterRoleBinding" "kubernetes-1.33.0/clusterrolebinding-rbac-v1.json";
    "monitoring.coreos.com/v1" "PrometheusRule" "prometheus-operator-0.93.0/prometheusrule-monitoring.coreos.com-v1.json";
    "monitoring.coreos.com/v1" "ServiceMonitor" "prometheus-operator-0.93.0/servicemonitor-monitoring.coreos.com-v1.json";
    "monitoring.coreos.com/v1" "PodMonitor" "prometheus-operator-0.93.0/podmonitor-monitoring.coreos.com-v1.json";
    "monitoring.coreos.com/v1" "Alertmanager" "prometheus-operator-0.93.0/alertmanager-monitoring.coreos.com-v1.json";
    "postgresql.cnpg.io/v1" "Cluster" "cloudnative-pg-1.30.0/cluster-postgresql.cnpg.io-v1.json";
    "postgresql.cnpg.io/v1" "ScheduledBackup" "cloudnative-pg-1.30.0/scheduledbackup-postgresql.cnpg.io-v1.json";
    "redis.redis.opstreelabs.in/v1beta2" "RedisCluster" "redis-operator-0.26.0/rediscluster-redis.redis.opstreelabs.in-v1beta2.json";
    "external-secrets.io/v1" "ExternalSecret" "external-secrets-2.9.0/externalsecret-external-secrets.io-v1.json";
    "barmancloud.cnpg.io/v1" "ObjectStore" "plugin-barman-cloud-0.14.0/objectstore-barmancloud.cnpg.io-v1.json";
}

/// A broken object can fail many rules at once (one per branch of a `oneOf`); the first few locate
/// the problem, the rest would bury it.
const MAX_ERRORS_PER_OBJECT: usize = 5;
/// Messages quote the offending value, which can be a whole object.
const MAX_MESSAGE_CHARS: usize = 240;

static VALIDATORS: [OnceLock<Validator>; SCHEMAS.len()] =
    [const { OnceLock::new() }; SCHEMAS.len()];

/// Checks one object against the schema of its kind: P0506 for each way it does not match, P0507 when
/// its kind has no schema. Every kind plat emits, built-in or custom, has one.
pub fn validate(object: &Object, diags: &mut Diagnostics) {
    let api_version = object.value["apiVersion"].as_str().unwrap_or("");
    let kind = object.kind();
    let Some(index) = find(api_version, kind) else {
        diags.push(no_schema(object, api_version));
        return;
    };
    let validator = validator(index);
    // The fast check first: almost every object is valid, and collecting errors costs more.
    if !validator.is_valid(&object.value) {
        report(object, &SCHEMAS[index], validator, diags);
    }
}

/// True when objects of this kind are validated.
pub fn is_known(api_version: &str, kind: &str) -> bool {
    find(api_version, kind).is_some()
}

/// The index in [`SCHEMAS`] of the schema for a kind.
fn find(api_version: &str, kind: &str) -> Option<usize> {
    SCHEMAS
        .iter()
        .position(|s| s.kind == kind && s.api_version == api_version)
}

/// Starts compiling every validator on another thread, once per process: compiling them is a fixed
/// cost of tens of milliseconds that overlaps with loading and reading the spec. A validator asked
/// for before its turn is compiled by whoever asks first; the other waits for it.
pub fn warm_up() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        std::thread::spawn(|| {
            (0..SCHEMAS.len()).for_each(|i| {
                validator(i);
            })
        });
    });
}

/// The compiled validator of a schema in [`SCHEMAS`], compiled on first use.
fn validator(index: usize) -> &'static Validator {
    VALIDATORS[index].get_or_init(|| compile(&SCHEMAS[index]))
}

/// The schemas are embedded and every one is compiled by a test, so a failure here is a defect of the
/// build, not of the spec: it panics rather than reporting a finding nobody could act on.
fn compile(schema: &Schema) -> Validator {
    let value: Value = serde_json::from_str(schema.text)
        .unwrap_or_else(|e| panic!("schemas/{} is not JSON: {e}", schema.file));
    jsonschema::draft202012::new(&value)
        .unwrap_or_else(|e| panic!("schemas/{} is not a valid schema: {e}", schema.file))
}

fn report(object: &Object, schema: &Schema, validator: &Validator, diags: &mut Diagnostics) {
    let errors: Vec<ValidationError> = validator.iter_errors(&object.value).collect();
    let shown = errors.len().min(MAX_ERRORS_PER_OBJECT);
    for (i, error) in errors.iter().take(shown).enumerate() {
        let mut d = mismatch(object, schema, error);
        if i + 1 == shown && errors.len() > shown {
            d = d.note(format!(
                "{} more schema errors in this object",
                errors.len() - shown
            ));
        }
        diags.push(d);
    }
}

fn mismatch(object: &Object, schema: &Schema, error: &ValidationError) -> Diagnostic {
    let pointer = error.instance_path().as_str();
    let at = if pointer.is_empty() {
        "at the top level".to_string()
    } else {
        format!("at `{pointer}`")
    };
    Diagnostic::error(
        "P0506",
        format!(
            "{} `{}` does not match its schema {at}: {}",
            object.kind(),
            object.name(),
            shorten(&error.to_string())
        ),
    )
    .at(object.origin, "this entry produces the object")
    .help(format!(
        "the API server would reject it (schema: schemas/{}); if a value of this entry reaches the \
         object unchanged, correct it, otherwise this is a bug in plat",
        schema.file
    ))
}

fn no_schema(object: &Object, api_version: &str) -> Diagnostic {
    Diagnostic::error(
        "P0507",
        format!(
            "{} `{}` has no schema to validate against: no {api_version} {} under schemas/",
            object.kind(),
            object.name(),
            object.kind()
        ),
    )
    .at(object.origin, "this entry produces the object")
    .help("every kind plat emits is validated: vendor its schema (schemas/README.md) and list it in src/schemas.rs")
}

fn shorten(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vendored_schema_compiles_and_names_its_kind() {
        for (i, schema) in SCHEMAS.iter().enumerate() {
            validator(i);
            let value: Value = serde_json::from_str(schema.text).unwrap();
            let props = &value["properties"];
            assert_eq!(props["kind"]["enum"][0], schema.kind, "{}", schema.file);
            assert_eq!(
                props["apiVersion"]["enum"][0], schema.api_version,
                "{}",
                schema.file
            );
        }
    }

    #[test]
    fn long_messages_are_cut() {
        assert_eq!(shorten("short"), "short");
        let long = "é".repeat(MAX_MESSAGE_CHARS + 10);
        assert_eq!(shorten(&long).chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
