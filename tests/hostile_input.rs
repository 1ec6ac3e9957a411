//! Input no one would write on purpose, through the binary as a user runs it: a line longer than any
//! terminal, control bytes. Every output format must report it, at its place, without panicking and
//! without handing a raw control byte to the terminal.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PLAT: &str = env!("CARGO_BIN_EXE_plat");
const FORMATS: [&str; 3] = ["human", "json", "github"];

/// `examples/minimal/` in a fresh folder, with `platform.toml` replaced by `spec`.
fn project(name: &str, spec: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("hostile")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("environments")).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal");
    for env in ["dev.toml", "prod.toml"] {
        fs::copy(
            example.join("environments").join(env),
            dir.join("environments").join(env),
        )
        .unwrap();
    }
    fs::write(dir.join("platform.toml"), spec).unwrap();
    dir
}

fn minimal_spec() -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/minimal/platform.toml"))
        .unwrap()
}

fn check(dir: &Path, format: &str) -> Output {
    Command::new(PLAT)
        .args(["check", "--format", format])
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Control characters other than line feed, which a terminal would act on.
fn raw_controls(bytes: &[u8]) -> Vec<char> {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect()
}

#[test]
fn a_value_past_column_65535_is_reported_in_every_format() {
    let long = "y".repeat(70_000);
    let spec = minimal_spec().replace(
        "description = \"The web application\"",
        &format!("description = \"{long}\nreplicaz = 1"),
    );
    let dir = project("long-line", spec.as_bytes());
    for format in FORMATS {
        let output = check(&dir, format);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        assert_eq!(output.status.code(), Some(1), "{format}: {stderr}");
        let all = format!("{stdout}{stderr}");
        assert!(all.contains("P0001"), "{format}: no syntax error in {all}");
        assert!(!all.contains("panicked"), "{format}: {all}");
        assert!(
            all.len() < 20_000,
            "{format}: {} bytes of output",
            all.len()
        );
    }
    let human = String::from_utf8_lossy(&check(&dir, "human").stderr).into_owned();
    assert!(
        human.contains("…yyyy"),
        "the long line is cut around the value:\n{human}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&check(&dir, "json").stdout).expect("one JSON document");
    let location = &json["diagnostics"][0]["location"];
    assert_eq!(location["file"], "platform.toml");
    assert!(location["column"].as_u64().unwrap() > 65_535, "{location}");
}

#[test]
fn control_bytes_never_reach_the_terminal() {
    let spec = minimal_spec().replace(
        "[services.web]",
        "[services.web]\n\"repl\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}icaz\" = 2",
    );
    let dir = project("control-bytes", spec.as_bytes());
    for format in FORMATS {
        let output = check(&dir, format);
        assert_eq!(output.status.code(), Some(1), "{format}");
        let all = [output.stdout, output.stderr].concat();
        assert!(
            // TOML allows no control character but tab in a key, a string or a comment.
            String::from_utf8_lossy(&all).contains("P0001"),
            "{format}: {}",
            String::from_utf8_lossy(&all)
        );
        assert_eq!(raw_controls(&all), Vec::<char>::new(), "{format}");
    }
    let human = String::from_utf8_lossy(&check(&dir, "human").stderr).into_owned();
    assert!(
        human.contains("\"repl␛]0;owned␇␛[2J\u{fffd}icaz\" = 2"),
        "{human}"
    );
}
