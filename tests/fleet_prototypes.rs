//! Fleet instances rendered from prototypes write exactly the bytes that lowering them one by one
//! writes, whatever their ids, plans and values (YAML-reserved words, quotes, colons, unicode,
//! multi-line text), sizes, source files and the templates that read them.

use std::collections::BTreeMap;

use serde_json::Value;

use plat::diag::Diagnostics;
use plat::lower::{Object, Path, Prerendered, Sink, Unit, lower_with};
use plat::source::Sources;

#[derive(Default)]
struct Collect(
    BTreeMap<String, String>,
    usize,
    BTreeMap<String, Vec<Value>>,
);

impl Sink for Collect {
    fn manifests(&mut self, unit: Unit) {
        self.0
            .insert(unit.file.clone(), plat::render::unit_text(&unit));
    }
    fn file(&mut self, path: String, text: String) {
        self.0.insert(path, text);
    }
    fn check_prototype(&mut self, _: &mut [Object]) -> bool {
        true
    }
    fn prerendered(&mut self, unit: Prerendered) {
        self.1 += 1;
        self.2.insert(unit.file.clone(), unit.filled.objects());
        self.0.insert(unit.file, unit.text);
    }
}

const TENANTS: &str = r#"
[fleets.astrbot.instances.yes]
plan = "pro"
vars = { display_name = "It's \"quoted\": yes # not a comment" }

[fleets.astrbot.instances.n]
plan = "standard"
vars = { display_name = "n" }

[fleets.astrbot.instances.null]
plan = "enterprise"
vars = { display_name = "中文 租户" }

[fleets.astrbot.instances.acme-2]
plan = "pro"
vars = { display_name = "Line one\nline two" }
size = "2C4G"

[fleets.astrbot.instances.on]
plan = "standard"
size = "2C4G"
vars = { display_name = "Plain" }

[fleets.astrbot.instances.zzplatidzzx]
plan = "pro"
vars = { display_name = "zzplatvar0zz" }

[fleets.astrbot.instances.7up]
plan = "pro"
vars = { display_name = "true" }
"#;

fn spec(overlay_tenants: &str) -> (Sources, plat::spec::Spec) {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = std::fs::read_to_string(repo.join("platform.toml")).unwrap();
    let overlay = std::fs::read_to_string(repo.join("environments/prod.toml")).unwrap();
    let mut sources = Sources::default();
    let mut diags = Diagnostics::default();
    let base_file = sources.add("platform.toml", format!("{base}{TENANTS}"));
    let overlay_file = sources.add(
        "environments/prod.toml",
        format!("{overlay}{overlay_tenants}"),
    );
    let mut root = plat::load::parse(base_file, &sources, &mut diags).unwrap();
    let overlay = plat::load::parse(overlay_file, &sources, &mut diags).unwrap();
    plat::merge::apply_overlay(&mut root, overlay, &mut diags);
    let spec = plat::spec::read_spec(&root, "prod", &mut diags).unwrap();
    assert!(!diags.has_errors(), "{diags:?}");
    (sources, spec)
}

#[test]
fn prototypes_write_the_same_bytes_as_one_by_one() {
    let (sources, spec) = spec(
        "\n[fleets.astrbot.instances.from-overlay]\nplan = \"pro\"\nvars = { display_name = \"y\" }\n",
    );
    let mut fast = Collect::default();
    let mut slow = Collect::default();
    lower_with(&spec, &sources, &mut fast, Path::Prototypes);
    lower_with(&spec, &sources, &mut slow, Path::OneByOne);
    assert!(
        fast.0.contains_key("fleets/astrbot/yes.yaml")
            && fast.0.contains_key("fleets/astrbot/from-overlay.yaml")
    );
    // Most instances take the fast path; the one whose values hold a placeholder does not.
    assert!(fast.1 >= 5, "only {} instances from prototypes", fast.1);
    assert_eq!(slow.1, 0);
    assert_eq!(
        fast.0.keys().collect::<Vec<_>>(),
        slow.0.keys().collect::<Vec<_>>()
    );
    for (path, text) in &slow.0 {
        assert_eq!(&fast.0[path], text, "{path} differs");
    }
    // The reserved words really needed quoting, so the test exercises the scalar rule.
    assert!(
        fast.0["fleets/astrbot/yes.yaml"].contains("- name: TENANT_ID\n          value: \"yes\"")
    );
}

/// The cluster stage takes a prerendered instance's objects as values instead of reading its YAML
/// back: they must be exactly what the YAML reads as, whatever the values (quoting, reserved words,
/// unicode).
#[test]
fn prototype_objects_as_values_are_what_their_text_reads_as() {
    let (sources, spec) = spec("");
    let mut fast = Collect::default();
    lower_with(&spec, &sources, &mut fast, Path::Prototypes);
    assert!(fast.2.len() >= 5, "only {} prerendered", fast.2.len());
    for (file, objects) in &fast.2 {
        let read = plat::yaml::parse_yaml_stream(&fast.0[file]).unwrap();
        assert_eq!(&read, objects, "{file}: the values differ from the text");
    }
    let quoted = &fast.2["fleets/astrbot/yes.yaml"];
    let text = serde_json::to_string(quoted).unwrap();
    assert!(text.contains(r#""value":"yes""#), "{text}");
    assert!(
        text.contains(r#"It's \"quoted\": yes # not a comment"#),
        "{text}"
    );
}
