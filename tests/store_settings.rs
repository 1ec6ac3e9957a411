//! How the secret store addresses values (`[secrets] addressing`) decides each ExternalSecret
//! `remoteRef`; a value plat does not know is a located error.

use serde_json::Value;

use plat::compile::{Selection, compile};
use plat::world::MemoryWorld;

const BASE: &str = r#"
[platform]
name = "hello"

[sizes.small]
requests = { cpu = "250m", memory = "256Mi" }
limits = { cpu = "500m", memory = "512Mi" }

[services.web]
image = "ghcr.io/example/web:1.0.0"
replicas = 2
size = "small"
secrets = ["API_TOKEN"]

[secrets]
name = "hello-secrets"
provider = "external-secrets"
store = "vault-backend"
remote_prefix = "hello/dev"
keys = ["API_TOKEN"]
"#;

const ENV: &str =
    "[environment]\nnamespace = \"hello-dev\"\ncontext = \"dev\"\nmonitoring = \"basic\"\n";

fn compile_with(addressing: &str) -> plat::compile::Compilation {
    let world = MemoryWorld::default()
        .with("platform.toml", format!("{BASE}{addressing}"))
        .with("environments/dev.toml", ENV);
    compile(&world, "platform.toml", &Selection::All)
}

fn remote_refs(addressing: &str) -> Vec<Value> {
    let compilation = compile_with(addressing);
    assert!(!compilation.has_errors(), "{:#?}", compilation.diagnostics);
    compilation
        .outputs
        .iter()
        .flat_map(|(_, files)| files.files.iter())
        .filter(|(path, _)| path.starts_with("kubernetes/"))
        .flat_map(|(_, text)| plat::yaml::parse_yaml_stream(text).unwrap())
        .filter(|v| v["kind"] == "ExternalSecret")
        .flat_map(|v| v["spec"]["data"].as_array().unwrap().clone())
        .map(|entry| entry["remoteRef"].clone())
        .collect()
}

#[test]
fn by_default_each_key_is_its_own_remote_secret() {
    let refs = remote_refs("");
    assert_eq!(
        refs,
        vec![serde_json::json!({ "key": "hello/dev/API_TOKEN" })]
    );
}

#[test]
fn a_document_store_gets_one_key_and_a_property_per_value() {
    let refs = remote_refs("addressing = \"property\"\n");
    assert_eq!(
        refs,
        vec![serde_json::json!({ "key": "hello/dev", "property": "API_TOKEN" })]
    );
}

#[test]
fn an_unknown_addressing_is_a_located_error() {
    let compilation = compile_with("addressing = \"json\"\n");
    let d = compilation
        .diagnostics
        .iter()
        .find(|d| d.code == "P0104")
        .unwrap_or_else(|| panic!("{:#?}", compilation.diagnostics));
    assert!(d.message.contains("secrets.addressing"), "{}", d.message);
    let at = compilation
        .sources
        .locate(d.primary.as_ref().unwrap().origin);
    assert!(at.starts_with("platform.toml:21:"), "{at}");
}
