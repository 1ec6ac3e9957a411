//! Resolving `[stores.<name>.recovery]`: the environment a store is restored from is another overlay of
//! the same project, so its backups are read from that environment's own spec (base and its overlay,
//! through the `World`), not repeated by hand. What the restore needs (the source's cluster name,
//! bucket, path and external object store) is stored in the recovery; what makes a restore
//! impossible is reported at the recovery's `environment` (P0227, P0228, P0229).

use crate::compile::{ENV_DIR, environments, load_file};
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::node::{Node, Value};
use crate::source::Sources;
use crate::spec::{RecoverySource, Spec, StoreKind};
use crate::world::World;

/// Top-level tables the source's backups cannot depend on, left out of its tree: a fleet's instances
/// are most of a large spec, and patches change objects, not the spec.
const SKIPPED: [&str; 2] = ["fleets", "patches"];

/// Fills in the `source` of every recovery of `spec`.
pub fn resolve(
    world: &dyn World,
    base: &Node,
    spec: &mut Spec,
    sources: &mut Sources,
    diags: &mut Diagnostics,
) {
    let own = spec.environment.name.clone();
    let wanted: Vec<(usize, crate::decode::Located<String>)> = spec
        .stores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &s.value.kind {
            StoreKind::Postgres(pg) => pg.recovery.as_ref().map(|r| (i, r.environment.clone())),
            _ => None,
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    let available = environments(world);
    let mut read: Vec<(String, Option<Spec>)> = Vec::new();
    for (index, env) in wanted {
        let key = spec.stores[index].name.clone();
        let path = format!("stores.{key}.recovery.environment");
        if env.value == own {
            diags.push(env.diagnostic(
                Diagnostic::error("P0227", format!("`{path}` names this environment, `{own}`"))
                    .help("name the environment whose backups this one restores, e.g. the production environment"),
                "restores from itself",
            ));
            continue;
        }
        if !available.contains(&env.value) {
            let d = Diagnostic::error(
                "P0227",
                format!(
                    "`{path}`: no environment `{}` (`{ENV_DIR}/{}.toml` does not exist)",
                    env.value, env.value
                ),
            );
            let d = match did_you_mean(&env.value, available.iter().map(String::as_str)) {
                Some(close) => d.help(format!("did you mean `{close}`?")),
                None => d.help(format!("environments: {}", available.join(", "))),
            };
            diags.push(env.diagnostic(d, "no such environment"));
            continue;
        }
        if !read.iter().any(|(name, _)| *name == env.value) {
            let source = read_source(world, base, &env.value, sources);
            read.push((env.value.clone(), source));
        }
        let source_spec = read
            .iter()
            .find(|(name, _)| *name == env.value)
            .and_then(|(_, s)| s.as_ref());
        let Some(source_spec) = source_spec else {
            diags.push(
                env.diagnostic(
                    Diagnostic::error(
                        "P0227",
                        format!(
                            "`{path}`: the spec of environment `{}` does not read",
                            env.value
                        ),
                    )
                    .help(format!(
                        "fix its errors first: `plat check --env {}`",
                        env.value
                    )),
                    "its backups cannot be known",
                ),
            );
            continue;
        };
        match source_of(source_spec, &key) {
            Ok(source) => {
                let keys = [&source.store.access_key, &source.store.secret_key]
                    .into_iter()
                    .chain(source.store.region.as_ref());
                let mut missing: Vec<&str> = keys
                    .filter(|k| !spec.secrets.keys.iter().any(|own| own.value == k.value))
                    .map(|k| k.value.as_str())
                    .collect();
                missing.dedup();
                if !missing.is_empty() {
                    diags.push(env.diagnostic(
                        Diagnostic::error(
                            "P0204",
                            format!(
                                "`{path}`: the object store `{}` of environment `{}` needs the secret keys {}, which this environment's `[secrets] keys` lack",
                                source.external,
                                env.value,
                                missing.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                            ),
                        )
                        .help("add them to `[secrets] keys`: the restore reads the backups with this environment's copy of those credentials"),
                        "credentials unknown here",
                    ));
                    continue;
                }
                if let StoreKind::Postgres(pg) = &mut spec.stores[index].value.kind
                    && let Some(recovery) = &mut pg.recovery
                {
                    recovery.source = Some(source);
                }
            }
            Err((code, problem, help)) => {
                diags.push(env.diagnostic(
                    Diagnostic::error(code, format!("`{path}`: {problem}")).help(help),
                    "nothing to restore from there",
                ));
            }
        }
    }
}

/// The source environment's spec without the tables its backups cannot depend on; `None` when it does
/// not read (its own compilation reports why).
fn read_source(world: &dyn World, base: &Node, env: &str, sources: &mut Sources) -> Option<Spec> {
    let mut quiet = Diagnostics::default();
    let overlay = load_file(world, &format!("{ENV_DIR}/{env}.toml"), sources, &mut quiet)?;
    let mut root = without(base);
    let overlay = without(&overlay);
    crate::merge::apply_overlay(&mut root, overlay, &mut quiet);
    crate::spec::read::read_spec(&root, env, &mut quiet)
}

fn without(node: &Node) -> Node {
    let mut node = match &node.value {
        Value::Table(table) => {
            let mut out = crate::node::Table::default();
            for (key, value) in &table.entries {
                if !SKIPPED.contains(&key.name.as_str()) {
                    out.entries.push((key.clone(), value.clone()));
                }
            }
            Node {
                value: Value::Table(out),
                origin: node.origin,
                replaced: node.replaced,
            }
        }
        _ => node.clone(),
    };
    node.replaced = None;
    node
}

type Refusal = (&'static str, String, String);

/// What the source environment says about the backups of its store `key`.
fn source_of(source: &Spec, key: &str) -> Result<RecoverySource, Refusal> {
    let env = &source.environment.name;
    let Some(store) = source.stores.iter().find(|s| s.name == key) else {
        return Err((
            "P0227",
            format!("environment `{env}` has no store `{key}`"),
            "a store is restored from the store of the same key in the source environment".into(),
        ));
    };
    let StoreKind::Postgres(pg) = &store.value.kind else {
        return Err((
            "P0227",
            format!("store `{key}` of environment `{env}` is not a PostgreSQL store"),
            "only PostgreSQL stores are restored from backups".into(),
        ));
    };
    let Some(backup) = &pg.backup else {
        return Err((
            "P0227",
            format!("store `{key}` of environment `{env}` has no backups"),
            format!(
                "give it `[stores.{key}.backup]` to an external object store in environment `{env}`"
            ),
        ));
    };
    if source.stores.iter().any(|s| s.name == backup.to.value) {
        return Err((
            "P0228",
            format!(
                "store `{key}` of environment `{env}` backs up to `{}`, a store inside that environment's cluster",
                backup.to.value
            ),
            format!(
                "back it up to an external object store (`[network.external.<name>.object_store]`) in environment `{env}`: backups inside its cluster are lost with it"
            ),
        ));
    }
    let external = source
        .network
        .external
        .iter()
        .find(|e| e.name == backup.to.value);
    let Some((external, store)) =
        external.and_then(|e| e.value.object_store.as_ref().map(|o| (e, o)))
    else {
        return Err((
            "P0229",
            format!(
                "store `{key}` of environment `{env}` backs up to `{}`, which is not an external object store there",
                backup.to.value
            ),
            format!(
                "declare `[network.external.{}.object_store]` for environment `{env}`",
                backup.to.value
            ),
        ));
    };
    let cluster = store_name(source, key);
    // A source that is itself a restore writes its backups under a server name of its own.
    let server = match &pg.recovery {
        Some(_) => crate::facts::own_server_name(&cluster, env),
        None => cluster.clone(),
    };
    Ok(RecoverySource {
        cluster,
        server,
        bucket: backup.bucket.clone(),
        path: backup.path.clone(),
        external: external.name.clone(),
        cidrs: external
            .value
            .cidrs
            .iter()
            .map(|c| c.value.clone())
            .collect(),
        ports: external.value.ports.clone(),
        store: store.clone(),
    })
}

fn store_name(spec: &Spec, key: &str) -> String {
    spec.store(key)
        .map(|s| s.name.value.clone())
        .unwrap_or_default()
}
