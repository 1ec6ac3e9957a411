//! Reading `[stores.<name>]`: named data stores of the kinds plat runs. Each kind offers only the
//! settings its operator or image honours.

use super::read::{config_value, enum_error};
use super::*;
use crate::decode::Fields;
use crate::diag::{Diagnostic, Diagnostics};
use crate::node::Node;

pub fn store(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Store> {
    let key = path.rsplit('.').next().unwrap_or(path);
    let mut f = Fields::open(node, path, diags)?;
    let kind = f.req_choice("kind", &StoreKind::NAMES, diags);
    let name = f.opt::<String>("name", diags);
    let size = f.req("size", diags);
    let image = f.req("image", diags);
    let storage_node = f.need("storage");
    let storage = storage(storage_node, &format!("{path}.storage"), &f, diags);
    let kind = kind?;
    let store_kind = match kind.as_str() {
        "postgresql" => postgres(&mut f, path, image, storage, diags)
            .map(|pg| StoreKind::Postgres(Box::new(pg))),
        "redis-cluster" => {
            redis_cluster(&mut f, image, storage, diags).map(StoreKind::RedisCluster)
        }
        "redis" => {
            let port = f.port("port", diags).map_or(6379, |p| p.value);
            Some(StoreKind::Redis(RedisSingle {
                image: image?,
                port,
                storage: storage?,
            }))
        }
        "object-storage" => {
            object_storage(&mut f, image, storage, diags).map(StoreKind::ObjectStorage)
        }
        _ => {
            diags.push(enum_error(
                &kind,
                &format!("{path}.kind"),
                &StoreKind::NAMES,
            ));
            None
        }
    };
    reject_foreign_keys(&mut f, node, path, kind.as_str(), diags);
    let ok = f.finish(diags);
    let store_kind = store_kind?;
    ok.then_some(())?;
    Some(Store {
        name: name.unwrap_or(Located {
            value: key.to_string(),
            origin: node.origin,
            replaced: None,
        }),
        size: size?,
        kind: store_kind,
        origin: node.origin,
    })
}

/// The keys only some kinds have.
const KIND_KEYS: [(&str, &[&str]); 4] = [
    (
        "postgresql",
        &[
            "instances",
            "database",
            "owner",
            "monitoring",
            "parameters",
            "backup",
            "recovery",
            "password_secret_key",
        ],
    ),
    (
        "redis-cluster",
        &["cluster_size", "exporter_image", "password_secret_key"],
    ),
    ("redis", &["port"]),
    (
        "object-storage",
        &[
            "replicas",
            "access_key_secret_key",
            "secret_key_secret_key",
            "accounts_image",
            "accounts",
            "replication",
        ],
    ),
];

/// A key of another kind is an error of its own ("does not apply"), not an unknown key: the reader
/// knows every store key, and says which kinds have it.
fn reject_foreign_keys(
    f: &mut Fields<'_>,
    node: &Node,
    path: &str,
    kind: &str,
    diags: &mut Diagnostics,
) {
    let own: &[&str] = KIND_KEYS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&[], |(_, keys)| keys);
    for (other, keys) in KIND_KEYS {
        for key in keys.iter().copied() {
            if own.contains(&key) || other == kind {
                continue;
            }
            if let Some(value) = f.node(key) {
                let kinds: Vec<&str> = KIND_KEYS
                    .iter()
                    .filter(|(_, ks)| ks.contains(&key))
                    .map(|(k, _)| *k)
                    .collect();
                diags.push(
                    Diagnostic::error(
                        "P0104",
                        format!("`{path}.{key}` does not apply to a `{kind}` store"),
                    )
                    .at(value.origin, "not a setting of this kind")
                    .also(node.origin, "this store")
                    .help(format!(
                        "`{key}` is a setting of {} stores; remove it or change `kind`",
                        kinds.join(", ")
                    )),
                );
            }
        }
    }
}

fn postgres(
    f: &mut Fields<'_>,
    path: &str,
    image: Option<Located<String>>,
    storage: Option<Storage>,
    diags: &mut Diagnostics,
) -> Option<Postgres> {
    // Keys of one kind are required of that kind only, so they are not `required` in the schema.
    let instances = f.int("instances", 1, 99, diags);
    if f.node("instances").is_none() {
        f.missing("instances", "an integer", diags);
    }
    let database = f.opt::<String>("database", diags);
    if database.is_none() && f.node("database").is_none() {
        f.missing("database", "a string", diags);
    }
    let owner = f.or("owner", "app".to_string(), diags);
    for key in ["database", "owner"] {
        if let Some(node) = f.node(key) {
            warn_quoted_name(node, &format!("{path}.{key}"), diags);
        }
    }
    let monitoring = f.or("monitoring", true, diags);
    let parameters = f.named("parameters", diags, config_value);
    let backup = f
        .node("backup")
        .map(|n| backup(n, &format!("{path}.backup"), diags));
    let recovery = f
        .node("recovery")
        .map(|n| recovery(n, &format!("{path}.recovery"), diags));
    let password_key = f.opt("password_secret_key", diags);
    Some(Postgres {
        instances: instances?,
        image: image?,
        database: database?.value,
        owner,
        storage: storage?,
        monitoring,
        parameters,
        backup: match backup {
            Some(b) => Some(b?),
            None => None,
        },
        recovery: match recovery {
            Some(r) => Some(r?),
            None => None,
        },
        password_key,
    })
}

fn redis_cluster(
    f: &mut Fields<'_>,
    image: Option<Located<String>>,
    storage: Option<Storage>,
    diags: &mut Diagnostics,
) -> Option<RedisCluster> {
    let cluster_size = f.int("cluster_size", 3, 99, diags);
    if f.node("cluster_size").is_none() {
        f.missing("cluster_size", "an integer of at least 3", diags);
    }
    let exporter = f.opt("exporter_image", diags);
    let password_key = f.opt("password_secret_key", diags);
    Some(RedisCluster {
        cluster_size: cluster_size?,
        image: image?,
        exporter_image: exporter,
        storage: storage?,
        password_key,
    })
}

fn object_storage(
    f: &mut Fields<'_>,
    image: Option<Located<String>>,
    storage: Option<Storage>,
    diags: &mut Diagnostics,
) -> Option<ObjectStorage> {
    let replicas = f.int("replicas", 1, 32, diags);
    if f.node("replicas").is_none() {
        f.missing("replicas", "an integer", diags);
    }
    let access = f.opt("access_key_secret_key", diags);
    let secret = f.opt("secret_key_secret_key", diags);
    for (key, value) in [
        ("access_key_secret_key", &access),
        ("secret_key_secret_key", &secret),
    ] {
        if value.is_none() && f.node(key).is_none() {
            f.missing(key, "a key of [secrets].keys", diags);
        }
    }
    let accounts_image = f.rule("accounts_image", crate::decode::rule::IMAGE, diags);
    let accounts_path = f.child_path("accounts");
    let clients = f.named("accounts", diags, read_account);
    let replication = f
        .node("replication")
        .map(|n| replication(n, &f.child_path("replication"), diags));
    let replication = match replication {
        Some(r) => Some(r?),
        None => None,
    };
    if let (Some(replication), None) = (&replication, f.peek("accounts_image")) {
        diags.push(
            Diagnostic::error("P0103", format!("`{}_image` is missing", accounts_path))
                .at(replication.origin, "replication is set up by a Job that runs the MinIO client")
                .help("set `accounts_image` to a pinned `mc` image, e.g. `quay.io/minio/mc:RELEASE.2025-04-16T18-13-26Z`"),
        );
        return None;
    }
    let accounts = match (accounts_image, clients.is_empty()) {
        (Some(image), _) => Some(Accounts {
            origin: image.origin,
            image,
            clients,
        }),
        (None, true) => None,
        (None, false) => {
            diags.push(
                Diagnostic::error("P0103", format!("`{}_image` is missing", accounts_path))
                    .at(clients[0].origin, "accounts are provisioned by a Job that runs the MinIO client")
                    .help("set `accounts_image` to a pinned `mc` image, e.g. `quay.io/minio/mc:RELEASE.2025-04-16T18-13-26Z`"),
            );
            return None;
        }
    };
    Some(ObjectStorage {
        replicas: replicas?,
        image: image?,
        storage: storage?,
        access_key: access?,
        secret_key: secret?,
        accounts,
        replication,
    })
}

/// `[stores.<name>.recovery]`: which environment's backups to restore, and to when.
fn recovery(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Recovery> {
    let mut f = Fields::open(node, path, diags)?;
    let environment = f.req_rule("environment", crate::decode::rule::DNS_LABEL, diags);
    let target_time = f.rule("target_time", crate::decode::rule::RFC3339, diags);
    let check_query = f.or("check_query", "SELECT 1".to_string(), diags);
    f.finish(diags).then_some(())?;
    Some(Recovery {
        environment: environment?,
        target_time,
        check_query,
        source: None,
        origin: node.origin,
    })
}

/// `[stores.<name>.replication]`: an external object store and the buckets copied there.
fn replication(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Replication> {
    let mut f = Fields::open(node, path, diags)?;
    let to = f.req::<String>("to", diags);
    let buckets = f.named_of_rule::<String>("buckets", crate::decode::rule::DNS_LABEL, diags);
    if f.node("buckets").is_none() {
        f.missing("buckets", "a table of local bucket = remote bucket", diags);
    }
    f.finish(diags).then_some(())?;
    Some(Replication {
        to: to?,
        buckets,
        origin: node.origin,
    })
}

fn read_account(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Account> {
    let mut f = Fields::open(node, path, diags)?;
    let bucket = f.req_rule("bucket", crate::decode::rule::DNS_LABEL, diags);
    let prefix = f.req::<String>("prefix", diags);
    f.finish(diags).then_some(())?;
    Some(Account {
        bucket: bucket?,
        prefix: prefix?,
    })
}

fn storage(
    node: Option<&Node>,
    path: &str,
    owner: &Fields<'_>,
    diags: &mut Diagnostics,
) -> Option<Storage> {
    let Some(node) = node else {
        diags.push(
            Diagnostic::error("P0103", format!("`{}.storage` is missing", owner.path))
                .at(owner.origin(), "this data store needs storage")
                .help("add `storage = { size = \"10Gi\", class = \"standard\" }`"),
        );
        return None;
    };
    let mut f = Fields::open(node, path, diags)?;
    let size = f.req("size", diags);
    let class = f.req_rule("class", crate::decode::rule::SUBDOMAIN, diags);
    f.finish(diags).then_some(())?;
    Some(Storage {
        size: size?,
        class: class?.value,
    })
}

fn backup(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Backup> {
    let mut f = Fields::open(node, path, diags)?;
    let schedule = f.req("schedule", diags);
    let retention = f.int("retention_days", 1, 3650, diags);
    let to = f.req("to", diags);
    let bucket = f.req::<String>("bucket", diags);
    let prefix = f.or("path", "postgresql".to_string(), diags);
    f.finish(diags).then_some(())?;
    Some(Backup {
        schedule: schedule?,
        retention_days: retention.map_or(7, |r| r.value),
        to: to?,
        bucket: bucket?.value,
        path: prefix,
        origin: node.origin,
    })
}

/// A database or owner name that PostgreSQL would need quoted everywhere (P0121, a warning: the
/// operator quotes it, the people and tools after it may not).
fn warn_quoted_name(node: &Node, path: &str, diags: &mut Diagnostics) {
    let crate::node::Value::String(text) = &node.value else {
        return;
    };
    if let Err(broken) = crate::rules::names::postgres_name(text) {
        diags.push(
            Diagnostic::warning("P0121", format!("`{path}` {}", broken.problem))
                .at(node.origin, "this name")
                .help(format!("write {}", broken.rule)),
        );
    }
}
