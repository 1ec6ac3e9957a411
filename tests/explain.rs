//! `plat explain KIND/NAME`: the spec entry, the patches in order with their places, what they
//! change and the final object, on `examples/minimal/` (which has a patch in the base, one in the
//! prod overlay and extra objects). Snapshots in `tests/snapshots/`; review changes with
//! `cargo insta review` (or `INSTA_UPDATE=always`).

use std::path::{Path, PathBuf};
use std::process::Command;

use plat::explain::{explain, parse_object};
use plat::world::FsWorld;

fn minimal() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal")
}

fn explained(object: &str, env: Option<&str>) -> (String, bool) {
    let (kind, name) = parse_object(object).unwrap();
    let world = FsWorld::new(minimal());
    let explanation = explain(&world, "platform.toml", &kind, &name, env);
    for c in &explanation.compilations {
        assert!(!c.has_findings(), "{:?}", c.diagnostics);
    }
    (explanation.text, explanation.found)
}

#[test]
fn a_service_patched_by_the_prod_overlay() {
    let (text, found) = explained("Service/web", Some("prod"));
    assert!(found);
    insta::assert_snapshot!(text);
}

#[test]
fn an_extra_object_names_its_template() {
    let (text, found) = explained("ResourceQuota/hello-quota", Some("dev"));
    assert!(found);
    insta::assert_snapshot!(text);
}

#[test]
fn every_environment_without_env_and_a_missing_object_suggests_a_name() {
    let (text, found) = explained("PriorityClass/hello-critical", None);
    assert!(found, "it exists in prod");
    assert!(
        text.starts_with("PriorityClass/hello-critical: not in environment dev\n"),
        "{text}"
    );
    assert!(
        text.contains("PriorityClass/hello-critical in environment prod\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  produced by  manifests/prod/priority.yaml:2:1 (manifests/prod/priority.yaml)"
        ),
        "{text}"
    );

    let (text, found) = explained("Deployment/wbe", Some("dev"));
    assert!(!found);
    assert_eq!(
        text,
        "Deployment/wbe: not in environment dev (did you mean Deployment/web?)\n\n"
    );
}

#[test]
fn the_command_exits_0_when_found_1_when_not_and_2_on_a_bad_argument() {
    let run = |args: &[&str]| {
        let spec = minimal().join("platform.toml");
        let out = Command::new(env!("CARGO_BIN_EXE_plat"))
            .arg("explain")
            .args(args)
            .arg("--spec")
            .arg(&spec)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (code, stdout) = run(&["Deployment/web", "--env", "dev"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("1. platform.toml#patches[0] at platform.toml:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+        linkerd.io/inject: enabled"),
        "{stdout}"
    );
    assert_eq!(run(&["Deployment/nope", "--env", "dev"]).0, Some(1));
    assert_eq!(run(&["web"]).0, Some(2));
}
