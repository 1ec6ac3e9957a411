//! Tests against a real cluster (kind or k3d). Ignored by default: no cluster can be installed where
//! the regular suite runs. Run them with
//!
//! ```sh
//! PLAT_REAL_CONTEXT=k3d-plat cargo test --test cluster_real -- --ignored --test-threads=1
//! ```
//!
//! `PLAT_REAL_KUBECONFIG` names the kubeconfig (default `~/.kube/config`). They apply the minimal
//! example (`examples/minimal`, environment `dev`) into its namespace and delete that namespace at
//! the end. `.github/workflows/real-cluster.yml` runs them on k3d.

mod support;

use std::path::PathBuf;

use support::run_plat;

fn kubeconfig() -> PathBuf {
    std::env::var_os("PLAT_REAL_KUBECONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube/config")))
        .expect("set PLAT_REAL_KUBECONFIG or HOME")
}

fn context() -> String {
    std::env::var("PLAT_REAL_CONTEXT").expect("set PLAT_REAL_CONTEXT to the kind/k3d context")
}

fn plat(command: &str, extra: &[&str]) -> support::Run {
    let spec = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/minimal/platform.toml");
    let mut args: Vec<String> = vec![
        command.into(),
        "--env".into(),
        "dev".into(),
        "--spec".into(),
        spec.display().to_string(),
        "--kubeconfig".into(),
        kubeconfig().display().to_string(),
        "--context".into(),
        context(),
        "--allow-context-mismatch".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    run_plat(&args)
}

#[test]
#[ignore = "needs a real cluster: PLAT_REAL_CONTEXT=… cargo test --test cluster_real -- --ignored"]
fn apply_is_idempotent_and_diff_and_drift_are_clean_on_a_real_cluster() {
    let first = plat("apply", &["--wait", "--timeout", "5m"]);
    assert_eq!(first.code, 0, "{first:?}");
    // What only a real API server can say: defaulting and quantity canonicalisation leave the
    // dry-run result equal to the live object, so an unchanged spec shows no difference.
    let diff = plat("diff", &[]);
    assert_eq!(diff.code, 0, "{diff:?}");
    let drift = plat("drift", &["--format", "json"]);
    assert_eq!(drift.code, 0, "{drift:?}");
    let second = plat("apply", &[]);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(
        second.stdout.contains("0 created, 0 configured"),
        "{second:?}"
    );
}

#[test]
#[ignore = "needs a real cluster: PLAT_REAL_CONTEXT=… cargo test --test cluster_real -- --ignored"]
fn a_kubectl_edit_shows_as_drift_owned_by_kubectl_edit() {
    assert_eq!(plat("apply", &[]).code, 0);
    let status = std::process::Command::new("kubectl")
        .args([
            "--kubeconfig",
            &kubeconfig().display().to_string(),
            "--context",
            &context(),
        ])
        .args(["-n", "hello-dev", "scale", "deployment/web", "--replicas=3"])
        .status()
        .expect("kubectl");
    assert!(status.success());
    let drift = plat("drift", &[]);
    assert_eq!(drift.code, 1, "{drift:?}");
    assert!(drift.stdout.contains("/spec/replicas"), "{drift:?}");
    assert!(drift.stdout.contains("kubectl"), "{drift:?}");
    assert_eq!(plat("apply", &[]).code, 0);
    assert_eq!(plat("drift", &[]).code, 0);
}
