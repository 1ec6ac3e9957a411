//! The output security checks (P0501–P0505) cover the pods operators build from plat's custom
//! resources (src/operator_pods.rs): the reference platform's RedisCluster and CloudNativePG Cluster
//! meet Pod Security "restricted", and the RedisCluster plat emitted before did not.

use std::path::Path;

use serde_json::{Value, json};

use plat::compile::{Selection, compile};
use plat::diag::{Diagnostic, Diagnostics};
use plat::lower::Object;
use plat::policy::OutputPolicy;
use plat::source::{Origin, Sources};
use plat::world::FsWorld;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The first object of a kind in the reference platform's prod output.
fn emitted(kind: &str) -> Value {
    let compilation = compile(
        &FsWorld::new(repo()),
        "platform.toml",
        &Selection::One("prod".into()),
    );
    assert!(!compilation.has_errors(), "{:#?}", compilation.diagnostics);
    compilation
        .outputs
        .iter()
        .flat_map(|(_, files)| files.files.iter())
        .filter(|(path, _)| path.starts_with("kubernetes/"))
        .flat_map(|(_, text)| plat::yaml::parse_yaml_stream(text).unwrap())
        .find(|v| v["kind"] == kind)
        .unwrap_or_else(|| panic!("prod emits no {kind}"))
}

fn security_findings(value: Value) -> Vec<Diagnostic> {
    let mut sources = Sources::default();
    let file = sources.add("platform.toml", "[redis]\n".into());
    let object = Object {
        value,
        origin: Origin::new(file, 0..7),
    };
    let mut diags = Diagnostics::default();
    OutputPolicy::default().check(&object, &mut diags);
    diags.into_sorted()
}

fn messages(findings: &[Diagnostic]) -> Vec<String> {
    findings
        .iter()
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect()
}

#[test]
fn the_reference_redis_cluster_and_postgres_cluster_pods_meet_restricted() {
    for kind in ["RedisCluster", "Cluster"] {
        let findings = security_findings(emitted(kind));
        assert!(findings.is_empty(), "{kind}: {:#?}", messages(&findings));
    }
}

/// What plat emitted before: a pod security context without a seccomp profile, and no container
/// security context for the leader, the follower or the exporter, which the operator copies unchanged
/// into pods that the namespace's "restricted" enforcement then refuses.
#[test]
fn the_former_redis_cluster_fails_for_leader_follower_and_exporter() {
    let mut old = emitted("RedisCluster");
    let spec = old["spec"].as_object_mut().unwrap();
    spec.insert(
        "podSecurityContext".into(),
        json!({ "runAsUser": 1000, "runAsNonRoot": true, "fsGroup": 1000 }),
    );
    spec.remove("redisLeader");
    spec.remove("redisFollower");
    let exporter = spec["redisExporter"].as_object_mut().unwrap();
    exporter.remove("securityContext");
    exporter.remove("resources");

    let found = messages(&security_findings(old));
    let name = emitted("RedisCluster")["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    for (pods, container) in [
        ("leader pods", format!("{name}-leader")),
        ("leader pods", "redis-exporter".to_string()),
        ("follower pods", format!("{name}-follower")),
        ("follower pods", "redis-exporter".to_string()),
    ] {
        assert!(
            found.iter().any(|m| m.starts_with("P0501")
                && m.contains(pods)
                && m.contains(&format!("container `{container}`"))
                && m.contains("seccompProfile.type: RuntimeDefault")
                && m.contains("capabilities.drop: [ALL]")),
            "no P0501 for {container} in {pods}: {found:#?}"
        );
    }
    assert!(
        found
            .iter()
            .any(|m| m.starts_with("P0503") && m.contains("`redis-exporter`")),
        "the exporter without limits: {found:#?}"
    );
}

#[test]
fn a_postgres_cluster_whose_security_context_replaces_the_operators_default_is_checked() {
    let mut cluster = emitted("Cluster");
    cluster["spec"]["securityContext"] = json!({ "runAsNonRoot": true });
    let found = messages(&security_findings(cluster.clone()));
    assert!(
        found.iter().any(|m| m.starts_with("P0501")
            && m.contains("instance pods")
            && m.contains("container `postgres`")
            && m.contains("allowPrivilegeEscalation: false")),
        "{found:#?}"
    );
    cluster["spec"]["imageName"] = json!("ghcr.io/cloudnative-pg/postgresql:latest");
    let found = messages(&security_findings(cluster));
    assert!(found.iter().any(|m| m.starts_with("P0502")), "{found:#?}");
}
