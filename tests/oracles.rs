//! The real tools as oracles on the committed `generated/` of every environment: `kubectl kustomize`,
//! `kubernetes-validate` (strict, against the upstream schemas of a pinned Kubernetes version) and
//! `checkov`. A missing tool fails the test with the command that installs it; nothing is skipped.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The oldest Kubernetes version plat supports; manifests must validate against its schemas.
const KUBERNETES_VERSION: &str = "1.33.0";

/// Custom resources whose schemas kubernetes-validate does not ship. Their operators' CRD schemas are
/// checked elsewhere; here the validator must name no other kind it cannot find.
const CUSTOM_KINDS: &[&str] = &[
    "ExternalSecret",
    "Cluster",
    "ScheduledBackup",
    "ObjectStore",
    "RedisCluster",
    "PrometheusRule",
    "ServiceMonitor",
    "PodMonitor",
    "Alertmanager",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tool(name: &str) -> PathBuf {
    common::tool(name)
}

/// The projects held to the oracles: the reference platform and the examples of other shapes.
const PROJECTS: [&str; 3] = [".", "examples/grpc-shop", "examples/stateful-web"];

/// Every committed `generated/<env>` of every project, as `<project>/generated/<env>` paths relative
/// to the repository.
fn environments() -> Vec<String> {
    let mut envs = Vec::new();
    for project in PROJECTS {
        let generated = repo().join(project).join("generated");
        let mut names: Vec<String> = std::fs::read_dir(&generated)
            .expect("generated/ exists; run `plat render`")
            .map(|e| e.unwrap())
            // The `.plat-output` marker sits beside the environments' folders.
            .filter(|e| e.file_type().unwrap().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert!(names.len() >= 2, "{project}: found only {names:?}");
        // `./generated/...` confuses checkov, which then reports nothing.
        let prefix = if project == "." {
            String::new()
        } else {
            format!("{project}/")
        };
        envs.extend(names.into_iter().map(|n| format!("{prefix}generated/{n}")));
    }
    assert!(
        envs.len() >= 9,
        "expected every environment, found {envs:?}"
    );
    envs
}

fn manifests(env: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(repo().join(env).join("kubernetes"))
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

fn run(command: &mut Command) -> Output {
    command.output().expect("the tool runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Counts documents that are objects (`kind:` at the top level) in the rendered files.
fn object_count(env: &str) -> usize {
    manifests(env)
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .filter(|l| l.starts_with("kind: "))
                .count()
        })
        .sum()
}

#[test]
fn kustomize_builds_every_environment_with_every_object() {
    let kubectl = tool("kubectl");
    for env in environments() {
        let output = run(Command::new(&kubectl)
            .arg("kustomize")
            .arg(repo().join(&env)));
        assert!(
            output.status.success(),
            "kubectl kustomize generated/{env}: {}",
            text(&output)
        );
        let built = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| l.starts_with("kind: "))
            .count();
        assert_eq!(
            built,
            object_count(&env),
            "kustomize output of {env} has a different object count"
        );
    }
}

#[test]
fn every_manifest_passes_strict_upstream_schema_validation() {
    let validator = tool("kubernetes-validate");
    for env in environments() {
        let output = run(Command::new(&validator)
            .args(["--strict", "--quiet", "-k", KUBERNETES_VERSION])
            .args(manifests(&env)));
        let report = text(&output);
        assert!(
            output.status.success(),
            "kubernetes-validate on {env}:\n{report}"
        );
        for line in report.lines().filter(|l| !l.trim().is_empty()) {
            let known = CUSTOM_KINDS
                .iter()
                .any(|k| line.contains(&format!("Couldn't find schema for kind {k} ")));
            assert!(known, "kubernetes-validate on {env} said: {line}");
        }
    }
}

/// The validator is strict: a field Kubernetes does not know fails it. Without this, the test above
/// could pass on a validator that accepts anything.
#[test]
fn the_schema_validator_rejects_an_unknown_field() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oracles");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  prots: []\n",
    )
    .unwrap();
    let output = run(Command::new(tool("kubernetes-validate"))
        .args(["--strict", "--quiet", "-k", KUBERNETES_VERSION])
        .arg(&bad));
    assert!(
        !output.status.success(),
        "an unknown field must fail: {}",
        text(&output)
    );
}

#[test]
fn checkov_finds_no_failed_check_and_every_skip_has_a_reason() {
    let checkov = tool("checkov");
    for env in environments() {
        let output = run(Command::new(&checkov)
            .env("CKV_SKIP_PACKAGE_UPDATE_CHECK", "true")
            .args([
                "--framework",
                "kubernetes",
                "--output",
                "json",
                "--quiet",
                "--soft-fail",
                "-d",
            ])
            .arg(repo().join(&env).join("kubernetes")));
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
                panic!(
                    "checkov output for {env} is not JSON ({e}): {}",
                    text(&output)
                )
            });
        let summary = &report["summary"];
        assert_eq!(
            summary["failed"],
            0,
            "checkov failed checks in {env}: {}",
            failed_checks(&report)
        );
        assert_eq!(
            summary["parsing_errors"], 0,
            "checkov could not parse {env}"
        );
        assert!(
            summary["passed"].as_u64().unwrap() > 50,
            "checkov ran too few checks on {env}: {summary}"
        );
        for skipped in report["results"]["skipped_checks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let reason = skipped["check_result"]["suppress_comment"]
                .as_str()
                .unwrap_or("");
            assert!(
                reason.len() > 20,
                "skip without a reason in {env}: {skipped}"
            );
        }
    }
}

fn failed_checks(report: &serde_json::Value) -> String {
    report["results"]["failed_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| format!("{} {}", c["check_id"], c["resource"]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `examples/minimal/` has a patch in the base, one in the prod overlay and extra objects
/// (`manifests/`): rendered, they pass the same oracles as plat's own output.
#[test]
fn the_minimal_example_with_patches_and_extra_objects_passes_the_oracles() {
    let world = plat::world::FsWorld::new(repo().join("examples/minimal"));
    let compilation =
        plat::compile::compile(&world, "platform.toml", &plat::compile::Selection::All);
    assert!(
        !compilation.has_findings(),
        "{}",
        plat::diag::render_human(&compilation.sources, &compilation.diagnostics)
    );
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oracles-minimal");
    let _ = std::fs::remove_dir_all(&out);
    plat::emit::write_all(&out, &compilation.outputs).unwrap();
    let prod = out.join("prod");
    let file = |path: &str| std::fs::read_to_string(prod.join(path)).unwrap();
    assert!(file("kubernetes/services/web.yaml").contains("linkerd.io/inject: enabled"));
    assert!(
        file("kubernetes/services/web.yaml")
            .contains("networking.gke.io/load-balancer-type: Internal")
    );
    assert!(file("kubernetes/manifests/quota.yaml").contains("kind: ResourceQuota"));
    assert!(file("kubernetes/manifests/prod/priority.yaml").contains("kind: PriorityClass"));

    let kubectl = run(Command::new(tool("kubectl")).arg("kustomize").arg(&prod));
    assert!(
        kubectl.status.success(),
        "kubectl kustomize: {}",
        text(&kubectl)
    );
    let built = String::from_utf8_lossy(&kubectl.stdout);
    for kind in [
        "kind: ResourceQuota",
        "kind: PriorityClass",
        "kind: Deployment",
    ] {
        assert!(built.contains(kind), "kustomize output has no {kind}");
    }

    let files: Vec<PathBuf> = walkdir::WalkDir::new(prod.join("kubernetes"))
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    let validate = run(Command::new(tool("kubernetes-validate"))
        .args(["--strict", "--quiet", "-k", KUBERNETES_VERSION])
        .args(&files));
    let report = text(&validate);
    assert!(validate.status.success(), "kubernetes-validate:\n{report}");
    assert!(
        report.trim().is_empty(),
        "every kind is validated: {report}"
    );

    let checkov = run(Command::new(tool("checkov"))
        .env("CKV_SKIP_PACKAGE_UPDATE_CHECK", "true")
        .args([
            "--framework",
            "kubernetes",
            "--output",
            "json",
            "--quiet",
            "--soft-fail",
            "-d",
        ])
        .arg(prod.join("kubernetes")));
    let report: serde_json::Value = serde_json::from_slice(&checkov.stdout)
        .unwrap_or_else(|e| panic!("checkov output is not JSON ({e}): {}", text(&checkov)));
    assert_eq!(report["summary"]["failed"], 0, "{}", failed_checks(&report));
    assert!(
        report["summary"]["passed"].as_u64().unwrap() > 20,
        "{}",
        report["summary"]
    );
}
