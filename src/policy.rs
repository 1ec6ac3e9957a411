//! Security checks on the output and on the spec: every workload, including the pods operators build
//! from plat's custom resources (`src/operator_pods.rs`), meets the Pod Security Standards
//! "restricted" profile, runs pinned images with limits, lives behind a default-deny NetworkPolicy,
//! and no secret value is ever written into the spec. The compiler's defaults pass by construction;
//! these checks keep it that way and catch what a spec or a later change would break.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::diag::{Diagnostic, Diagnostics};
use crate::lower::Object;
use crate::node::{Node, Value as NodeValue};
use crate::operator_pods::operator_pods;
use crate::validate::is_pinned;

/// Follows one environment's objects as they stream past.
#[derive(Default)]
pub struct OutputPolicy {
    /// Each namespace with workloads, and the spec entry of its first workload.
    namespaces_with_workloads: BTreeMap<String, crate::source::Origin>,
    namespaces_denied: BTreeSet<String>,
}

impl OutputPolicy {
    pub fn check(&mut self, object: &Object, diags: &mut Diagnostics) {
        let value = &object.value;
        let namespace = value["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if is_default_deny(value) {
            self.namespaces_denied.insert(namespace.clone());
        }
        if let Some(pod) = pod_spec(value) {
            self.namespaces_with_workloads
                .entry(namespace)
                .or_insert(object.origin);
            let name = format!("{} `{}`", object.kind(), object.name());
            check_pod(pod, &name, object, diags);
            return;
        }
        // Operators build pods from custom resources; those pods must meet the same standard.
        for pod in operator_pods(value) {
            self.namespaces_with_workloads
                .entry(namespace.clone())
                .or_insert(object.origin);
            let name = format!(
                "{} `{}` ({}, as its operator builds them)",
                object.kind(),
                object.name(),
                pod.role
            );
            check_pod(&pod.spec, &name, object, diags);
        }
    }

    /// Namespace-wide findings, once every object has been seen.
    pub fn finish(&self, diags: &mut Diagnostics) {
        for (namespace, origin) in &self.namespaces_with_workloads {
            if self.namespaces_denied.contains(namespace) {
                continue;
            }
            diags.push(
                Diagnostic::error(
                    "P0504",
                    format!("namespace `{namespace}` runs workloads but has no default-deny NetworkPolicy"),
                )
                .at(*origin, "a workload in that namespace")
                .help("every namespace plat deploys into denies all traffic first and allows what the topology needs"),
            );
        }
    }
}

fn is_default_deny(value: &Value) -> bool {
    let types = value["spec"]["policyTypes"].as_array();
    value["kind"] == "NetworkPolicy"
        && value["spec"]["podSelector"]
            .as_object()
            .is_some_and(|s| s.is_empty())
        && types.is_some_and(|t| {
            t.contains(&Value::from("Ingress")) && t.contains(&Value::from("Egress"))
        })
        && value["spec"].get("ingress").is_none()
        && value["spec"].get("egress").is_none()
}

/// The pod spec of a workload object, wherever its kind keeps it.
pub fn pod_spec(value: &Value) -> Option<&Value> {
    let spec = &value["spec"];
    let pod = match value["kind"].as_str()? {
        "Pod" => spec,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            &spec["template"]["spec"]
        }
        "CronJob" => &spec["jobTemplate"]["spec"]["template"]["spec"],
        _ => return None,
    };
    pod.is_object().then_some(pod)
}

fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"]
        .into_iter()
        .filter_map(|k| pod[k].as_array())
        .flatten()
}

fn check_pod(pod: &Value, name: &str, object: &Object, diags: &mut Diagnostics) {
    let pod_security = &pod["securityContext"];
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if pod[field] == true {
            diags.push(finding("P0505", object, format!("{name} uses {field}")));
        }
    }
    let host_paths: Vec<&str> = pod["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v.get("hostPath").is_some())
        .filter_map(|v| v["name"].as_str())
        .collect();
    if !host_paths.is_empty() {
        diags.push(finding(
            "P0505",
            object,
            format!("{name} mounts host paths ({})", host_paths.join(", ")),
        ));
    }
    for container in containers(pod) {
        check_container(container, pod_security, name, object, diags);
    }
}

fn check_container(
    container: &Value,
    pod_security: &Value,
    name: &str,
    object: &Object,
    diags: &mut Diagnostics,
) {
    let c = container["name"].as_str().unwrap_or("?");
    let sc = &container["securityContext"];
    let either = |key: &str| {
        if sc.get(key).is_some() {
            &sc[key]
        } else {
            &pod_security[key]
        }
    };
    let mut missing = Vec::new();
    if sc["allowPrivilegeEscalation"] != false {
        missing.push("allowPrivilegeEscalation: false");
    }
    if sc["privileged"] == true {
        missing.push("privileged: false");
    }
    let drops_all = sc["capabilities"]["drop"]
        .as_array()
        .is_some_and(|d| d.contains(&Value::from("ALL")));
    if !drops_all {
        missing.push("capabilities.drop: [ALL]");
    }
    if either("runAsNonRoot") != true {
        missing.push("runAsNonRoot: true");
    }
    let seccomp = either("seccompProfile")["type"].as_str().unwrap_or("");
    if seccomp != "RuntimeDefault" && seccomp != "Localhost" {
        missing.push("seccompProfile.type: RuntimeDefault");
    }
    if !missing.is_empty() {
        diags.push(finding(
            "P0501",
            object,
            format!(
                "{name}, container `{c}`, does not meet Pod Security \"restricted\": needs {}",
                missing.join(", ")
            ),
        ));
    }
    if !container["image"].as_str().is_some_and(is_pinned) {
        diags.push(finding(
            "P0502",
            object,
            format!("{name}, container `{c}`, runs an image without a pinned tag or digest"),
        ));
    }
    let limits = &container["resources"]["limits"];
    if limits.get("cpu").is_none() || limits.get("memory").is_none() {
        diags.push(finding(
            "P0503",
            object,
            format!("{name}, container `{c}`, has no CPU or memory limit"),
        ));
    }
}

fn finding(code: &'static str, object: &Object, message: String) -> Diagnostic {
    Diagnostic::error(code, message)
        .at(object.origin, "the spec entry that produces it")
        .help("change the spec (or plat's defaults) so the workload is hardened, or waive the check here with a reason: `[[waivers]] check = \"…\", at = \"…\", reason = \"…\"`")
}

/// Finds values in the spec that look like secrets rather than references to them.
pub fn scan_secret_literals(node: &Node, path: &str, diags: &mut Diagnostics) {
    let mut path = path.to_string();
    scan_node(node, &mut path, diags);
}

/// The scan of one node, with the dotted path of its keys in one buffer that grows and shrinks as
/// the walk goes (a large spec has a hundred thousand values).
fn scan_node(node: &Node, path: &mut String, diags: &mut Diagnostics) {
    match &node.value {
        NodeValue::Table(table) => {
            for (key, child) in &table.entries {
                let len = path.len();
                if len > 0 {
                    path.push('.');
                }
                path.push_str(&key.name);
                scan_node(child, path, diags);
                path.truncate(len);
            }
        }
        NodeValue::Array(items) => {
            for item in items {
                scan_node(item, path, diags);
            }
        }
        NodeValue::Integer(number) => {
            if let Some(why) = numeric_secret(path, *number) {
                diags.push(secret_finding(path, why, node));
            }
        }
        NodeValue::String(text) => {
            if let Some(why) = looks_like_secret(path, text) {
                diags.push(secret_finding(path, why, node));
            }
        }
        _ => {}
    }
}

fn secret_finding(path: &str, why: &str, node: &Node) -> Diagnostic {
    Diagnostic::error("P0401", format!("`{path}` looks like a secret value ({why})"))
        .at(node.origin, "a literal secret?")
        .help("never write secret values into the spec: list the key in `[secrets].keys` and reference it; the value lives in the secret store (a false positive can be waived: `[[waivers]] check = \"P0401\"` at this key, with the reason)")
}

/// Words in a key that say its value is a credential.
const SECRET_WORDS: [&str; 14] = [
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "private_key",
    "credential",
    "signing_key",
    "access_key",
    "auth_key",
    "bearer",
];

fn secret_sounding(key: &str) -> bool {
    SECRET_WORDS.iter().any(|w| contains_ignoring_case(key, w))
}

/// Whether `text` contains the lower-case ASCII `word`, in any case.
fn contains_ignoring_case(text: &str, word: &str) -> bool {
    text.as_bytes()
        .windows(word.len())
        .any(|window| window.eq_ignore_ascii_case(word.as_bytes()))
}

/// The last key of a path, which names what the value is.
fn last_key(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// A number under a secret-sounding key: a PIN or numeric password (`DB_PASS = 12345678`).
fn numeric_secret(path: &str, number: i64) -> Option<&'static str> {
    let digits = number.unsigned_abs().checked_ilog10().unwrap_or(0) + 1;
    (digits >= 4 && secret_sounding(last_key(path)) && !names_a_reference(path))
        .then_some("a numeric password")
}

/// Fields such as `tls_secret` or `password_secret_key` name a Secret or a key of one. Configuration
/// keys are environment variable names, so there `JWT_SECRET` holds a value.
fn names_a_reference(path: &str) -> bool {
    let key = last_key(path).as_bytes();
    let ends_with = |suffix: &str| {
        key.len() >= suffix.len()
            && key[key.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    !path.starts_with("config.")
        && (["_secret", "_secret_key", "_secret_name"]
            .iter()
            .any(|s| ends_with(s))
            || path.starts_with("secrets."))
}

/// Query parameters that carry a credential: `?token=…`, `&api_key=…`, `?sig=…`.
fn url_with_token(text: &str) -> bool {
    let Some((_, query)) = text
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('?'))
    else {
        return false;
    };
    query.split(['&', ';']).any(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = name.to_ascii_lowercase();
        value.len() >= 6
            && (secret_sounding(&name)
                || ["sig", "signature", "key", "auth", "code"].contains(&name.as_str()))
    })
}

/// Shannon entropy in bits per byte. Only asked of token-character (ASCII) text, so byte counts are
/// character counts; an array instead of a map keeps the secret scan cheap on large specs.
fn entropy(text: &str) -> f64 {
    let mut counts = [0usize; 256];
    for b in text.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = text.len() as f64;
    counts
        .iter()
        .filter(|&&k| k > 0)
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// A random-looking token whatever its key: long, of token characters, mixing upper case, lower case
/// and digits, and with the entropy of random text. Hex digests and UUIDs have no upper case;
/// names, paths and sentences have separators or too little entropy.
fn random_token(text: &str) -> bool {
    if text.len() < 24 {
        return false;
    }
    let token_chars = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+/=_-".contains(c));
    // A JSON pointer or file path (`/spec/template/…`) is words between slashes, not a token.
    let path_like = text.starts_with('/') || text.matches('/').count() >= 3;
    token_chars
        && !path_like
        && text.chars().any(|c| c.is_ascii_uppercase())
        && text.chars().any(|c| c.is_ascii_lowercase())
        && text.chars().any(|c| c.is_ascii_digit())
        && entropy(text) >= 4.0
}

/// Recognised credential shapes, then secret-sounding keys with a password-like value.
/// (Public for the extra objects of `manifests/`, whose strings are scanned the same way.)
pub fn looks_like_secret(path: &str, text: &str) -> Option<&'static str> {
    let prefixes = [
        ("AKIA", "an AWS access key"),
        ("ghp_", "a GitHub token"),
        ("github_pat_", "a GitHub token"),
        ("xoxb-", "a Slack token"),
        ("xoxp-", "a Slack token"),
        ("sk-", "an API key"),
        ("-----BEGIN", "a private key"),
        ("https://hooks.slack.com/services/T", "a Slack webhook URL"),
    ];
    if let Some((_, what)) = prefixes
        .iter()
        .find(|(p, _)| text.starts_with(p) && text.len() > p.len() + 8)
    {
        return Some(what);
    }
    if text.starts_with("eyJ") && text.matches('.').count() == 2 && text.len() > 30 {
        return Some("a JSON web token");
    }
    if url_with_password(text) {
        return Some("a URL with a password");
    }
    if url_with_token(text) {
        return Some("a URL with a credential in its query");
    }
    if random_token(text) {
        return Some("a random-looking token");
    }
    let in_config = path.starts_with("config.");
    // Outside `[config]` an upper-case value names a key of the secret store (`REDIS_PASSWORD`); in
    // `[config]` it is the value itself.
    let reads_as_key_name = || {
        !in_config
            && text
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    };
    (text.len() >= 6
        && secret_sounding(last_key(path))
        && !names_a_reference(path)
        && !reads_as_key_name())
    .then_some("a secret-sounding key with a literal value")
}

fn url_with_password(text: &str) -> bool {
    let Some((_, rest)) = text.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    authority
        .split_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

#[cfg(test)]
mod tests {

    #[test]
    fn paths_and_json_pointers_are_not_tokens() {
        assert!(!random_token(
            "/spec/template/spec/containers/0/securityContext/runAsNonRoot"
        ));
        assert!(random_token("Zk9qR2x1V3pXc0FiQ2RlRmc1Nzg5"));
    }
    use super::{looks_like_secret, random_token};

    #[test]
    fn recognises_secret_values() {
        assert!(looks_like_secret("config.JWT_SECRET", "s3cr3t-Value!x").is_some());
        assert!(
            looks_like_secret(
                "alerting.slack_url",
                "https://hooks.slack.com/services/T000/B000/XXXXXXXX"
            )
            .is_some()
        );
        assert!(looks_like_secret("config.DB_URL", "postgres://app:hunter22@db:5432/x").is_some());
        assert!(looks_like_secret("x.token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789").is_some());
    }

    #[test]
    fn recognises_secrets_by_value() {
        use super::numeric_secret;
        assert!(looks_like_secret("config.DB_PASS", "correct-horse").is_some());
        assert!(looks_like_secret("config.ADMIN_PWD", "HUNTER2HUNTER2").is_some());
        assert!(numeric_secret("config.DB_PASSWORD", 12345678).is_some());
        assert!(numeric_secret("config.DB_PORT", 5432).is_none());
        assert!(
            looks_like_secret(
                "alerting.receivers.x.webhook",
                "https://hooks.example.com/x?token=abcdef123456"
            )
            .is_some()
        );
        assert!(looks_like_secret("config.CALLBACK", "https://example.com/cb?page=2").is_none());
        assert!(looks_like_secret("config.ANYTHING", "Zk9qR2x1V3pXc0FiQ2RlRmc1Nzg5").is_some());
        let digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert!(looks_like_secret("config.CHECKSUM", digest).is_none());
        assert!(looks_like_secret("config.ID", "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b").is_none());
    }

    #[test]
    fn leaves_references_alone() {
        assert!(looks_like_secret("minio.access_key_secret_key", "MINIO_ACCESS_KEY").is_none());
        assert!(looks_like_secret("redis.password_secret_key", "REDIS_PASSWORD").is_none());
        assert!(looks_like_secret("secrets.keys", "JWT_SECRET").is_none());
        assert!(looks_like_secret("ingress.tls_secret", "saas-platform-tls").is_none());
        assert!(looks_like_secret("config.LOG_LEVEL", "INFO").is_none());
    }
}
