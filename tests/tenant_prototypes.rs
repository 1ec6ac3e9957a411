//! Tenants rendered from prototypes write exactly the bytes that lowering them one by one writes,
//! whatever their names, plans and display names (YAML-reserved words, quotes, colons, unicode,
//! multi-line text), sizes and source files.

use std::collections::BTreeMap;

use plat::diag::Diagnostics;
use plat::lower::{Object, Path, Prerendered, Sink, Unit, lower_with};
use plat::source::Sources;

#[derive(Default)]
struct Collect(BTreeMap<String, String>);

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
        self.0.insert(unit.file, unit.text);
    }
}

const TENANTS: &str = r#"
[tenants.yes]
plan = "no"
display_name = "It's \"quoted\": yes # not a comment"

[tenants.n]
plan = "123"

[tenants.null]
plan = "true"
display_name = "中文 租户"

[tenants.acme-2]
plan = "pro"
display_name = "Line one\nline two"
size = "2C4G"

[tenants.on]
plan = "with: colon"
size = "2C4G"
display_name = "Plain"

[tenants.zzplattenantzzx]
plan = "pro"
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
    let (sources, spec) = spec("\n[tenants.from-overlay]\nplan = \"off\"\ndisplay_name = \"y\"\n");
    let mut fast = Collect::default();
    let mut slow = Collect::default();
    lower_with(&spec, &sources, &mut fast, Path::Prototypes);
    lower_with(&spec, &sources, &mut slow, Path::OneByOne);
    assert!(
        fast.0.contains_key("tenants/yes.yaml") && fast.0.contains_key("tenants/from-overlay.yaml")
    );
    assert_eq!(
        fast.0.keys().collect::<Vec<_>>(),
        slow.0.keys().collect::<Vec<_>>()
    );
    for (path, text) in &slow.0 {
        assert_eq!(&fast.0[path], text, "{path} differs");
    }
    // The reserved words really needed quoting, so the test exercises the scalar rule.
    assert!(fast.0["tenants/yes.yaml"].contains("TENANT_ID: \"yes\""));
}
