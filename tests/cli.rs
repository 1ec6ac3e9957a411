//! The command line as users and CI run it: exit codes, staleness, and all-or-nothing writes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PLAT: &str = env!("CARGO_BIN_EXE_plat");

/// A copy of the repository's spec in a fresh folder of its own.
fn project(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("environments")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    fs::copy(repo.join("platform.toml"), dir.join("platform.toml")).unwrap();
    for entry in fs::read_dir(repo.join("environments")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(
            entry.path(),
            dir.join("environments").join(entry.file_name()),
        )
        .unwrap();
    }
    copy_dir(&repo.join("tenants"), &dir.join("tenants"));
    dir
}

/// Copies the files of a folder of the project (the fleet's instance files).
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// A project whose spec has a misspelt key (`replicaz`) in the auth service.
fn project_with_unknown_key(name: &str) -> PathBuf {
    let dir = project(name);
    let spec = fs::read_to_string(dir.join("platform.toml")).unwrap();
    let broken = spec.replace(
        "[services.auth-service]",
        "[services.auth-service]\nreplicaz = 2",
    );
    fs::write(dir.join("platform.toml"), broken).unwrap();
    dir
}

fn plat(dir: &Path, args: &[&str]) -> Output {
    Command::new(PLAT)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("plat exited by a signal")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every file below a folder with its bytes, for before/after comparisons.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn render_then_check_is_clean() {
    let dir = project("clean");
    let render = plat(&dir, &["render", "--all"]);
    assert_eq!(code(&render), 0, "{}", text(&render.stderr));
    assert!(text(&render.stdout).contains("rendered prod:"));
    let check = plat(&dir, &["check", "--all"]);
    assert_eq!(
        code(&check),
        0,
        "{}{}",
        text(&check.stdout),
        text(&check.stderr)
    );
    assert!(text(&check.stdout).contains("prod: up to date"));
}

#[test]
fn check_reports_stale_output_with_a_diff() {
    let dir = project("stale");
    assert_eq!(code(&plat(&dir, &["render"])), 0);
    let spec = fs::read_to_string(dir.join("platform.toml")).unwrap();
    fs::write(
        dir.join("platform.toml"),
        spec.replace("LOG_LEVEL = \"INFO\"", "LOG_LEVEL = \"WARNING\""),
    )
    .unwrap();
    fs::write(
        dir.join("generated/prod/kubernetes/extra.yaml"),
        "kind: Stray\n",
    )
    .unwrap();
    let check = plat(&dir, &["check", "--env", "prod"]);
    let out = text(&check.stdout);
    assert_eq!(code(&check), 1, "{out}");
    assert!(out.contains("prod: generated/ is stale"), "{out}");
    assert!(
        out.contains("-  LOG_LEVEL: INFO\n+  LOG_LEVEL: WARNING"),
        "{out}"
    );
    assert!(
        out.contains("not produced by the spec: generated/prod/kubernetes/extra.yaml"),
        "{out}"
    );
}

#[test]
fn a_failed_render_leaves_generated_untouched() {
    let dir = project("failed");
    assert_eq!(code(&plat(&dir, &["render"])), 0);
    let before = snapshot(&dir.join("generated"));
    let spec = fs::read_to_string(dir.join("platform.toml")).unwrap();
    fs::write(
        dir.join("platform.toml"),
        spec.replace(
            "replicas = 3\nsize = \"2C4G\"\ncomponent",
            "replicas = -1\nsize = \"2C4G\"\ncomponent",
        ),
    )
    .unwrap();
    let render = plat(&dir, &["render"]);
    assert_eq!(code(&render), 1);
    let err = text(&render.stderr);
    assert!(
        err.contains("P0104") && err.contains("platform.toml:"),
        "{err}"
    );
    assert!(err.contains("nothing written"), "{err}");
    assert_eq!(snapshot(&dir.join("generated")), before);
}

#[test]
fn broken_spec_is_a_finding_for_check() {
    let dir = project_with_unknown_key("broken");
    let check = plat(&dir, &["check"]);
    assert_eq!(code(&check), 1);
    let err = text(&check.stderr);
    assert!(
        err.contains("P0101") && err.contains("did you mean `replicas`?"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let dir = project("usage");
    assert_eq!(code(&plat(&dir, &["render", "--bogus"])), 2);
    assert_eq!(code(&plat(&dir, &["frobnicate"])), 2);
    assert_eq!(code(&plat(&dir, &["render", "--env", "dev", "--all"])), 2);
    let help = plat(&dir, &["--help"]);
    assert_eq!(code(&help), 0);
    assert!(
        text(&help.stdout)
            .contains("Exit codes: 0 clean, 1 findings or stale output, 2 usage or internal error")
    );
}

#[test]
fn unwritable_output_is_an_internal_error() {
    let dir = project("unwritable");
    fs::write(dir.join("blocker"), "a file where a folder should be").unwrap();
    let render = plat(&dir, &["render", "--out", "blocker/generated"]);
    assert_eq!(code(&render), 2, "{}", text(&render.stderr));
}

#[test]
fn unknown_environment_suggests_the_closest() {
    let dir = project("unknown-env");
    let render = plat(&dir, &["render", "--env", "prdo"]);
    assert_eq!(code(&render), 2, "a usage error");
    assert!(text(&render.stderr).contains("did you mean `prod`?"));
}

#[test]
fn rendering_twice_is_byte_identical() {
    let dir = project("twice");
    assert_eq!(code(&plat(&dir, &["render"])), 0);
    let first = snapshot(&dir.join("generated"));
    assert_eq!(code(&plat(&dir, &["render"])), 0);
    assert_eq!(snapshot(&dir.join("generated")), first);
}

/// The committed `generated/` must be what the committed spec renders to.
#[test]
fn committed_generated_is_up_to_date() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let check = plat(repo, &["check", "--all"]);
    assert_eq!(
        code(&check),
        0,
        "{}{}",
        text(&check.stdout),
        text(&check.stderr)
    );
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

#[test]
fn diff_base_previews_what_a_change_does_to_the_output() {
    let dir = project("preview");
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "base"]);
    let same = plat(&dir, &["diff", "--base", "HEAD"]);
    assert_eq!(code(&same), 0, "{}", text(&same.stderr));
    assert!(text(&same.stdout).contains("prod: 0 files added, 0 removed, 0 changed"));
    // Onboarding a tenant is one new file.
    fs::write(
        dir.join("tenants/wayne.toml"),
        "plan = \"pro\"\nvars = { display_name = \"Wayne\" }\n",
    )
    .unwrap();
    let changed = plat(&dir, &["diff", "--base", "HEAD", "--env", "prod"]);
    let out = text(&changed.stdout);
    assert_eq!(code(&changed), 1, "{out}");
    // The new tenant's file (six objects, its data claim and its object-storage credentials among
    // them; the fleet's one NetworkPolicy already covers it) is added, and the kustomization lists
    // it; MinIO's accounts gain the tenant's line and credentials, and the provisioning Job is a new
    // one (its name is a hash of what it provisions).
    assert!(
        out.starts_with(
            "prod: 1 files added, 0 removed, 2 changed; objects: 6 added, 1 removed, 2 changed"
        ),
        "{out}"
    );
    assert!(
        out.contains("+    astrbot-wayne saas-platform-tenants tenants/wayne\n"),
        "the tenant's account line: {out}"
    );
    assert!(
        out.contains("+++ b/generated/prod/kubernetes/fleets/astrbot/wayne.yaml"),
        "{out}"
    );
    assert!(!out.contains("dev:"), "only the chosen environment: {out}");
}

#[test]
fn github_format_prints_workflow_annotations() {
    let dir = project_with_unknown_key("github");
    let check = plat(&dir, &["check", "--format", "github"]);
    assert_eq!(code(&check), 1);
    let err = text(&check.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.starts_with("::error file=platform.toml,line="),
        "{line}"
    );
    assert!(line.contains(",title=plat P0101::unknown key `services.auth-service.replicaz`%0Ahelp: did you mean `replicas`?"), "{line}");
}

#[test]
fn json_format_is_one_document_with_locations() {
    let dir = project_with_unknown_key("json");
    let check = plat(&dir, &["check", "--format", "json"]);
    assert_eq!(code(&check), 1);
    let report: serde_json::Value =
        serde_json::from_slice(&check.stdout).expect("one JSON document on stdout");
    let finding = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "P0101")
        .unwrap();
    assert_eq!(finding["location"]["file"], "platform.toml");
    assert!(finding["location"]["line"].as_u64().unwrap() > 1);
    assert_eq!(report["summary"]["errors"], 1);
}

#[test]
fn diff_base_reads_the_extra_objects_at_the_revision() {
    let dir = project("preview-extra");
    let quota = "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: quota\n  namespace: {{ environment.namespace }}\nspec:\n  hard:\n    pods: \"50\"\n";
    fs::create_dir_all(dir.join("manifests/prod")).unwrap();
    fs::write(dir.join("manifests/prod/quota.yaml"), quota).unwrap();
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "base"]);
    let same = plat(&dir, &["diff", "--base", "HEAD", "--env", "prod"]);
    assert_eq!(code(&same), 0, "{}", text(&same.stdout));
    fs::write(
        dir.join("manifests/prod/quota.yaml"),
        quota.replace("\"50\"", "\"60\""),
    )
    .unwrap();
    let changed = plat(&dir, &["diff", "--base", "HEAD", "--env", "prod"]);
    let out = text(&changed.stdout);
    assert_eq!(code(&changed), 1, "{out}");
    assert!(
        out.starts_with(
            "prod: 0 files added, 0 removed, 1 changed; objects: 0 added, 0 removed, 1 changed"
        ),
        "{out}"
    );
    assert!(out.contains("+    pods: \"60\""), "{out}");
}
