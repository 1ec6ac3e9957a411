//! Patches (`[[patches]]`) and extra objects (`manifests/`): what they change, and that neither can
//! smuggle a privileged container, an unpinned image or a secret value past the checks.

use std::path::Path;

use plat::compile::{Compilation, Selection, compile};
use plat::diag::Severity;
use plat::world::MemoryWorld;
use serde_json::Value;

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
"#;

const ENV: &str =
    "[environment]\nnamespace = \"hello-dev\"\ncontext = \"dev\"\nmonitoring = \"basic\"\n";

/// Compiles `BASE` plus `spec` with the dev overlay and the given extra files.
fn compile_with(spec: &str, files: &[(&str, &str)]) -> Compilation {
    let world = files.iter().fold(
        MemoryWorld::default()
            .with("platform.toml", format!("{BASE}{spec}"))
            .with("environments/dev.toml", ENV),
        |world, (path, text)| world.with(path, *text),
    );
    compile(&world, "platform.toml", &Selection::All)
}

/// Code, severity, `file:line:col` of the primary label, and the files of the secondary labels.
fn findings(c: &Compilation) -> Vec<(String, Severity, String, Vec<String>)> {
    c.diagnostics
        .iter()
        .map(|d| {
            let at = d
                .primary
                .as_ref()
                .map(|l| c.sources.locate(l.origin))
                .unwrap_or_default();
            let also = d
                .secondary
                .iter()
                .map(|l| c.sources.locate(l.origin))
                .collect();
            (d.code.to_string(), d.severity, at, also)
        })
        .collect()
}

fn codes(c: &Compilation) -> Vec<String> {
    c.diagnostics.iter().map(|d| d.code.to_string()).collect()
}

fn objects(c: &Compilation, env: &str) -> Vec<Value> {
    let (_, files) = c.outputs.iter().find(|(e, _)| e == env).expect("output");
    files
        .files
        .iter()
        .filter(|(p, _)| p.starts_with("kubernetes/"))
        .flat_map(|(_, text)| plat::yaml::parse_yaml_stream(text).unwrap())
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn a_merge_patch_and_json_patch_operations_change_the_output() {
    let c = compile_with(
        r#"
[[patches]]
target = { kind = "Deployment", name = "web" }
merge = { metadata = { labels = { "mesh.example.com/member" = "true" } }, spec = { revisionHistoryLimit = 3 } }

[[patches]]
target = { labels = { "app.kubernetes.io/name" = "web" }, kind = "Service" }
json = [{ op = "add", path = "/metadata/annotations/lb.example.com~1internal", value = "true" }]
"#,
        &[],
    );
    assert_eq!(findings(&c), vec![]);
    let objects = objects(&c, "dev");
    let deployment = find(&objects, "Deployment", "web");
    assert_eq!(
        deployment["metadata"]["labels"]["mesh.example.com/member"],
        "true"
    );
    assert_eq!(deployment["spec"]["revisionHistoryLimit"], 3);
    let service = find(&objects, "Service", "web");
    assert_eq!(
        service["metadata"]["annotations"]["lb.example.com/internal"],
        "true"
    );
}

#[test]
fn a_patch_cannot_smuggle_a_privileged_container_and_the_finding_is_waivable_as_before() {
    let patch = r#"
[[patches]]
target = { kind = "Deployment", name = "web" }
json = [
  { op = "add", path = "/spec/template/spec/containers/0/securityContext/privileged", value = true },
  { op = "replace", path = "/spec/template/spec/containers/0/securityContext/runAsNonRoot", value = false },
]
"#;
    let c = compile_with(patch, &[]);
    let found = findings(&c);
    let p0501 = found
        .iter()
        .find(|f| f.0 == "P0501")
        .unwrap_or_else(|| panic!("P0501 for the patched Deployment: {found:?}"));
    assert_eq!(p0501.1, Severity::Error);
    // At the spec entry (where waivers apply), and pointing at the patch.
    assert!(p0501.2.starts_with("platform.toml:9:"), "{p0501:?}");
    assert!(
        p0501.3.iter().any(|at| at.starts_with("platform.toml:14:")),
        "{p0501:?}"
    );
    let message = &c
        .diagnostics
        .iter()
        .find(|d| d.code == "P0501")
        .unwrap()
        .message;
    assert!(message.contains("privileged: false"), "{message}");
    assert!(message.contains("runAsNonRoot: true"), "{message}");
    assert!(c.outputs.is_empty(), "nothing is written");

    let waived = compile_with(
        &format!(
            "{patch}\n[[waivers]]\ncheck = \"P0501\"\nat = \"services.web\"\nreason = \"the web tier needs a privileged sidecar for the test\"\n"
        ),
        &[],
    );
    assert!(!waived.has_errors(), "{:?}", findings(&waived));
    assert!(
        waived
            .diagnostics
            .iter()
            .any(|d| d.code == "P0501" && d.severity == Severity::Waived)
    );
}

#[test]
fn a_patch_cannot_unpin_an_image() {
    let c = compile_with(
        r#"
[[patches]]
target = { kind = "Deployment", name = "web" }
json = [{ op = "replace", path = "/spec/template/spec/containers/0/image", value = "ghcr.io/example/web:latest" }]
"#,
        &[],
    );
    assert!(
        codes(&c).contains(&"P0502".to_string()),
        "{:?}",
        findings(&c)
    );
    assert!(c.outputs.is_empty());
}

#[test]
fn a_patch_cannot_write_a_secret_value() {
    // Into a ConfigMap: the spec's secret scan reads the patch.
    let c = compile_with(
        r#"
[[patches]]
target = { kind = "ConfigMap", name = "hello-config" }
merge = { data = { DB_PASSWORD = "correct-horse-battery" } }
"#,
        &[],
    );
    let found = findings(&c);
    assert!(
        found
            .iter()
            .any(|f| f.0 == "P0401" && f.2.starts_with("platform.toml:")),
        "{found:?}"
    );
    // Into a Secret, whatever the value looks like.
    let secret =
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api-keys\n  namespace: hello-dev\n";
    let c = compile_with(
        r#"
[[patches]]
target = { kind = "Secret", name = "api-keys" }
merge = { stringData = { key = "x" } }
"#,
        &[("manifests/secret.yaml", secret)],
    );
    let found = findings(&c);
    assert!(
        found
            .iter()
            .any(|f| f.0 == "P0705" && f.2.starts_with("platform.toml:")),
        "{found:?}"
    );
    assert!(c.outputs.is_empty());
}

const QUOTA: &str = "apiVersion: v1
kind: ResourceQuota
metadata:
  name: {{ platform.name }}-quota
  namespace: {{ environment.namespace }}
spec:
  hard:
    pods: \"{{ 10 * environment.nodes }}\"
    limits.cpu: \"{{ services.web.replicas }}\"
";

#[test]
fn extra_objects_are_rendered_annotated_and_listed_in_the_kustomization() {
    let c = compile_with(
        "",
        &[
            ("manifests/quota.yaml", QUOTA),
            (
                "manifests/prod/only.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: prod-only\n  namespace: x\n",
            ),
        ],
    );
    assert_eq!(findings(&c), vec![]);
    let objects = objects(&c, "dev");
    let quota = find(&objects, "ResourceQuota", "hello-quota");
    assert_eq!(quota["metadata"]["namespace"], "hello-dev");
    assert_eq!(quota["spec"]["hard"]["pods"], "10");
    assert_eq!(quota["spec"]["hard"]["limits.cpu"], "2");
    assert_eq!(
        quota["metadata"]["annotations"]["plat.dev/source"],
        "manifests/quota.yaml"
    );
    assert!(
        !objects.iter().any(|o| o["metadata"]["name"] == "prod-only"),
        "manifests/prod/ is for prod only"
    );
    let (_, files) = &c.outputs[0];
    let kustomization = files.get("kustomization.yaml").unwrap();
    assert!(
        kustomization.contains("- kubernetes/manifests/quota.yaml"),
        "{kustomization}"
    );
}

#[test]
fn patches_apply_to_extra_objects_and_a_bad_one_is_located_at_the_patch() {
    let c = compile_with(
        r#"
[[patches]]
target = { kind = "ResourceQuota", name = "hello-quota" }
merge = { spec = { hard = { services = "5" } } }
"#,
        &[("manifests/quota.yaml", QUOTA)],
    );
    assert_eq!(findings(&c), vec![]);
    let objects = objects(&c, "dev");
    assert_eq!(
        find(&objects, "ResourceQuota", "hello-quota")["spec"]["hard"]["services"],
        "5"
    );
    let c = compile_with(
        r#"
[[patches]]
target = { kind = "ResourceQuota", name = "hello-quota" }
merge = { spec = { hardd = { services = "5" } } }
"#,
        &[("manifests/quota.yaml", QUOTA)],
    );
    let found = findings(&c);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "P0704");
    assert!(found[0].2.starts_with("platform.toml:14:"), "{found:?}");
    assert!(
        found[0]
            .3
            .iter()
            .any(|a| a.starts_with("manifests/quota.yaml:1:")),
        "{found:?}"
    );
}

#[test]
fn an_extra_object_cannot_smuggle_a_privileged_container_an_unpinned_image_or_a_secret() {
    let deployment = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: debug
  namespace: {{ environment.namespace }}
spec:
  selector:
    matchLabels: {app: debug}
  template:
    metadata:
      labels: {app: debug}
    spec:
      hostNetwork: true
      containers:
        - name: shell
          image: busybox
          securityContext:
            privileged: true
";
    let secret = "apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: hello-dev
stringData:
  password: hunter2-hunter2
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: hello-dev
data:
  GITHUB: ghp_0123456789abcdefghijklmnopqrstuvwxyz
";
    let c = compile_with(
        "",
        &[
            ("manifests/debug.yaml", deployment),
            ("manifests/secret.yaml", secret),
        ],
    );
    let found = findings(&c);
    for (code, at) in [
        ("P0501", "manifests/debug.yaml:1:"),
        ("P0502", "manifests/debug.yaml:1:"),
        ("P0503", "manifests/debug.yaml:1:"),
        ("P0505", "manifests/debug.yaml:1:"),
        ("P0715", "manifests/secret.yaml:1:"),
        ("P0715", "manifests/secret.yaml:9:"),
    ] {
        assert!(
            found
                .iter()
                .any(|f| f.0 == code && f.1 == Severity::Error && f.2.starts_with(at)),
            "no {code} at {at}: {found:?}"
        );
    }
    assert!(c.outputs.is_empty());
}

#[test]
fn a_kind_without_a_schema_is_a_warning_waivable_at_its_file() {
    let certificate = "apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: web
  namespace: {{ environment.namespace }}
spec:
  secretName: web-tls
  dnsNames: [web.example.com]
  issuerRef: {name: letsencrypt, kind: ClusterIssuer}
";
    let c = compile_with("", &[("manifests/cert.yaml", certificate)]);
    let found = findings(&c);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "P0714");
    assert_eq!(found[0].1, Severity::Warning);
    assert!(found[0].2.starts_with("manifests/cert.yaml:1:"));
    let message = &c.diagnostics[0].message;
    assert!(
        message.contains("no schema for cert-manager.io/v1 Certificate"),
        "{message}"
    );

    let waived = compile_with(
        "\n[[waivers]]\ncheck = \"P0714\"\nat = \"manifests/cert.yaml\"\nreason = \"cert-manager publishes no CRD schema we vendor yet\"\n",
        &[("manifests/cert.yaml", certificate)],
    );
    assert!(!waived.has_findings(), "{:?}", findings(&waived));
}

#[test]
fn an_extra_object_that_collides_with_a_generated_one_is_reported() {
    let c = compile_with(
        "",
        &[(
            "manifests/web.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: hello-dev\nspec:\n  ports: [{port: 80}]\n",
        )],
    );
    assert_eq!(codes(&c), ["P0208"]);
}

/// The reference platform, with text appended to `platform.toml`.
fn reference(extra: &str) -> Compilation {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = std::fs::read_to_string(root.join("platform.toml")).unwrap();
    let env = std::fs::read_to_string(root.join("environments/dev.toml")).unwrap();
    let mut world = MemoryWorld::default()
        .with("platform.toml", format!("{spec}\n{extra}"))
        .with("environments/dev.toml", env);
    for entry in std::fs::read_dir(root.join("tenants")).unwrap() {
        let path = entry.unwrap().path();
        let name = format!("tenants/{}", path.file_name().unwrap().to_string_lossy());
        world = world.with(&name, std::fs::read(&path).unwrap());
    }
    compile(&world, "platform.toml", &Selection::All)
}

fn tenant_file(c: &Compilation, tenant: &str) -> String {
    let (_, files) = &c.outputs[0];
    files
        .get(&format!("kubernetes/fleets/astrbot/{tenant}.yaml"))
        .unwrap()
        .to_string()
}

#[test]
fn a_fleet_wide_patch_changes_every_instance_and_a_named_one_only_its_own() {
    let c = reference(
        r#"
[[patches]]
target = { kind = "Deployment", labels = { "app.kubernetes.io/name" = "astrbot" } }
merge = { metadata = { annotations = { "fleet.example.com/wave" = "1" } } }

[[patches]]
target = { kind = "Deployment", name = "astrbot-acme" }
merge = { spec = { template = { metadata = { annotations = { "debug.example.com/trace" = "on" } } } } }
"#,
    );
    assert!(!c.has_errors(), "{:?}", findings(&c));
    let acme = tenant_file(&c, "acme");
    let globex = tenant_file(&c, "globex");
    assert!(acme.contains("fleet.example.com/wave"), "{acme}");
    assert!(globex.contains("fleet.example.com/wave"), "{globex}");
    assert!(acme.contains("debug.example.com/trace"), "{acme}");
    assert!(!globex.contains("debug.example.com/trace"), "{globex}");
    // The instance patched on its own is rendered exactly like the prototype's instances but for
    // its patch: removing the annotation line leaves the same shape as a sibling.
    let shape = |text: &str, tenant: &str| text.replace(tenant, "T").lines().count();
    assert_eq!(shape(&acme, "acme") - 1, shape(&globex, "globex"));
}

#[test]
fn a_patch_selecting_one_instance_by_its_fleet_label_changes_only_that_instance() {
    let c = reference(
        r#"
[[patches]]
target = { kind = "Deployment", labels = { "plat.dev/instance" = "globex" } }
json = [{ op = "replace", path = "/spec/replicas", value = 2 }]
"#,
    );
    assert!(!c.has_errors(), "{:?}", findings(&c));
    let objects = objects(&c, "dev");
    let replicas = |name: &str| find(&objects, "Deployment", name)["spec"]["replicas"].clone();
    assert_eq!(replicas("astrbot-globex"), 2);
    assert_eq!(replicas("astrbot-acme"), 1);
}
