//! The project's files as plat finds them on disk: overlays that are links, overlay names that cannot
//! be folders, output left behind, an `--out` folder plat did not write, and files it cannot read.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PLAT: &str = env!("CARGO_BIN_EXE_plat");

/// `examples/minimal/` in a fresh folder.
fn project(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("files")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("environments")).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal");
    fs::copy(example.join("platform.toml"), dir.join("platform.toml")).unwrap();
    for env in ["dev.toml", "prod.toml"] {
        fs::copy(
            example.join("environments").join(env),
            dir.join("environments").join(env),
        )
        .unwrap();
    }
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

fn all(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn an_overlay_may_be_a_symbolic_link() {
    let dir = project("symlink");
    let shared = dir.join("shared-staging.toml");
    fs::rename(dir.join("environments/prod.toml"), &shared).unwrap();
    std::os::unix::fs::symlink(&shared, dir.join("environments/staging.toml")).unwrap();
    let render = plat(&dir, &["render", "--all"]);
    assert_eq!(code(&render), 0, "{}", all(&render));
    assert!(dir.join("generated/staging/kustomization.yaml").is_file());
    let one = plat(&dir, &["check", "--env", "staging"]);
    assert_eq!(code(&one), 0, "{}", all(&one));
}

#[test]
fn check_reports_output_that_no_overlay_renders() {
    let dir = project("orphan");
    assert_eq!(code(&plat(&dir, &["render"])), 0);
    fs::remove_file(dir.join("environments/prod.toml")).unwrap();
    let check = plat(&dir, &["check"]);
    assert_eq!(code(&check), 1, "{}", all(&check));
    assert!(
        all(&check).contains("generated/prod/ is not rendered by any overlay (there is no `environments/prod.toml`); delete the folder"),
        "{}",
        all(&check)
    );
    let json = plat(&dir, &["check", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["stale"]["prod"]["orphaned"], true);
}

#[test]
fn an_overlay_name_must_be_an_environment_name() {
    let dir = project("overlay-name");
    fs::copy(
        dir.join("environments/dev.toml"),
        dir.join("environments/my dev.toml"),
    )
    .unwrap();
    let render = plat(&dir, &["render"]);
    assert_eq!(code(&render), 1, "{}", all(&render));
    assert!(all(&render).contains(
        "error[P0006]: `environments/my dev.toml`: the environment name `my dev` contains a space"
    ), "{}", all(&render));
    assert!(!dir.join("generated/my dev").exists());
}

#[test]
fn out_refuses_a_folder_plat_did_not_write() {
    let dir = project("foreign-out");
    let foreign = dir.join("site");
    fs::create_dir_all(foreign.join("dev")).unwrap();
    fs::write(foreign.join("dev/index.html"), "not plat's").unwrap();
    let render = plat(&dir, &["render", "--out", "site"]);
    assert_eq!(code(&render), 2, "{}", all(&render));
    assert!(
        all(&render).contains("has no .plat-output file"),
        "{}",
        all(&render)
    );
    assert_eq!(
        fs::read_to_string(foreign.join("dev/index.html")).unwrap(),
        "not plat's"
    );
    // A new folder is plat's from then on: rendering into it again is fine.
    assert_eq!(code(&plat(&dir, &["render", "--out", "fresh"])), 0);
    assert!(dir.join("fresh/.plat-output").is_file());
    assert_eq!(code(&plat(&dir, &["render", "--out", "fresh"])), 0);
}

#[test]
fn unreadable_input_and_empty_arguments_are_usage_errors() {
    let dir = project("usage");
    let missing = plat(&dir, &["check", "--spec", "nope.toml"]);
    assert_eq!(code(&missing), 2, "{}", all(&missing));
    assert!(
        all(&missing).contains("no such file: run plat in the project folder"),
        "{}",
        all(&missing)
    );
    let folder = plat(&dir, &["check", "--spec", "environments"]);
    assert_eq!(code(&folder), 2, "{}", all(&folder));
    assert_eq!(code(&plat(&dir, &["check", "--env", ""])), 2);
    let binary = dir.join("environments/dev.toml");
    fs::write(&binary, b"[environment]\nnamespace = \"\x1b[31mred\x07\"\n").unwrap();
    let check = plat(&dir, &["check", "--env", "dev"]);
    assert_eq!(code(&check), 1);
    let raw: Vec<char> = all(&check)
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(raw.is_empty(), "raw control characters: {raw:?}");
}
