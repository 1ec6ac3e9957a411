//! Per-client object-storage accounts (`[stores.<name>.accounts]`): every workload, fleet instance and
//! database backup that writes to a MinIO store gets its own user, whose policy reaches only its bucket
//! and prefix, so that one tenant cannot read or delete another's objects or the backups. MinIO's root
//! credentials stay with MinIO and with the Job that provisions the accounts.
//!
//! The credentials are references like every secret: each account's pair lives in the secret store at
//! `<remote_prefix>/object-storage/<account>` (properties, or keys, `access_key` and `secret_key`, as
//! `[secrets].addressing` says). plat writes, per account, an ExternalSecret `<account>-<store>` that
//! its client mounts under the store's key names (so the client's files keep their names), and, per
//! batch of at most 250 accounts (a ConfigMap or Secret holds at most 1 MiB; ten thousand tenants make
//! 64 batches), one ExternalSecret with the batch's accounts for its provisioning Job, a ConfigMap
//! with each account's policy and the script, and the Job (named after a hash of what it provisions,
//! so a new account or a changed prefix runs its batch's Job again; `mc` is idempotent: policies are replaced, users' secrets
//! set again, attachments already in effect kept). With `existing` secrets these Secrets are made by
//! hand with the same names and keys.

use serde_json::{Value, json};

use super::{Ctx, Labels, Object};
use crate::facts::{account_secret, backup_account, instance_facts, instance_name};
use crate::kit::security::{container_security, pod_security};
use crate::spec::{ObjectStorage, SecretAddressing, SecretProvider, Store, StoreKind};

/// One account: its name (the object it belongs to) and where it may write.
pub struct Account {
    pub name: String,
    pub bucket: String,
    pub prefix: String,
}

/// What the provisioning Job asks for: `mc` runs a few admin calls per account.
const JOB_RESOURCES: (&str, &str, &str, &str) = ("50m", "64Mi", "200m", "128Mi");

/// The accounts of the object-storage store with spec key `key`: each client's (one per fleet
/// instance), then each database's backups into it.
pub fn accounts(ctx: &Ctx<'_>, key: &str, store: &ObjectStorage) -> Vec<Account> {
    let Some(accounts) = &store.accounts else {
        return Vec::new();
    };
    let spec = ctx.spec;
    let mut out = Vec::new();
    for client in &accounts.clients {
        let prefix_of = |instance: Option<&Value>| {
            ctx.inventory
                .render(&client.value.prefix, instance)
                .unwrap_or_else(|_| client.value.prefix.value.clone())
        };
        let account = |name: String, prefix: String| Account {
            name,
            bucket: client.value.bucket.value.clone(),
            prefix,
        };
        match spec.fleets.iter().find(|f| f.name == client.name) {
            Some(fleet) => {
                let prefixes = instance_prefixes(ctx, fleet, &client.value.prefix);
                for (i, prefix) in fleet.value.instances.iter().zip(prefixes) {
                    out.push(account(instance_name(&fleet.name, &i.name), prefix));
                }
            }
            None => out.push(account(client.name.clone(), prefix_of(None))),
        }
    }
    for s in &spec.stores {
        if let StoreKind::Postgres(pg) = &s.value.kind
            && let Some(backup) = pg.backup.as_ref().filter(|b| b.to.value == key)
        {
            out.push(Account {
                name: backup_account(&s.value.name),
                bucket: backup.bucket.clone(),
                prefix: backup.path.clone(),
            });
        }
    }
    out
}

/// Where an account's credential lives in the secret store.
fn account_remote_ref(ctx: &Ctx<'_>, account: &str, field: &str) -> Value {
    let prefix = ctx.spec.secrets.remote_prefix.trim_end_matches('/');
    let document = if prefix.is_empty() {
        format!("object-storage/{account}")
    } else {
        format!("{prefix}/object-storage/{account}")
    };
    let mut reference = serde_json::Map::new();
    match ctx.spec.secrets.addressing {
        SecretAddressing::Key => {
            reference.insert("key".into(), Value::String(format!("{document}/{field}")));
        }
        SecretAddressing::Property => {
            reference.insert("key".into(), Value::String(document));
            reference.insert("property".into(), Value::String(field.to_string()));
        }
    }
    Value::Object(reference)
}

fn external_secrets(ctx: &Ctx<'_>) -> bool {
    ctx.spec.secrets.provider == SecretProvider::ExternalSecrets
}

/// The ExternalSecret of one account for its client: the store's own key names, the account's values.
pub fn client_credentials(
    ctx: &Ctx<'_>,
    account: &str,
    (store, objects): (&Store, &ObjectStorage),
    labels: &Labels,
    origin: crate::source::Origin,
) -> Option<Object> {
    if !external_secrets(ctx) {
        return None;
    }
    let name = account_secret(account, &store.name);
    let data = vec![
        json!({ "secretKey": objects.access_key.value, "remoteRef": account_remote_ref(ctx, account, "access_key") }),
        json!({ "secretKey": objects.secret_key.value, "remoteRef": account_remote_ref(ctx, account, "secret_key") }),
    ];
    let target = json!({ "name": name, "creationPolicy": "Owner" });
    let mut value = super::platform::external_secret(ctx, &name, labels, target, data);
    value["metadata"]["annotations"][super::SOURCE_ANNOTATION] = json!(ctx.source_of(
        &format!("stores.{}.accounts", store_key(ctx, store)),
        origin
    ));
    Some(ctx.object(value, origin))
}

/// The spec key of a store (what `talks_to` and the accounts' source name).
/// Each instance's prefix, the template rendered for it. A template that uses instance values
/// only bare is rendered once per plan and set of var keys, with placeholders, and filled in (as
/// fleets' prototypes are), which is what keeps ten thousand tenants' accounts cheap.
fn instance_prefixes(
    ctx: &Ctx<'_>,
    fleet: &crate::decode::Named<crate::spec::Fleet>,
    template: &crate::decode::Located<String>,
) -> Vec<String> {
    use super::fleets::{Filler, ID, Values, placeholder_vars};
    let render = |id: &str, plan: Option<&str>, vars: &[(String, String)]| {
        let facts = instance_facts(&fleet.name, id, plan, vars);
        ctx.inventory
            .render(template, Some(&facts))
            .unwrap_or_else(|_| template.value.clone())
    };
    let bare = crate::facts::bare_instance_use(template);
    let mut families: Vec<(crate::spec::Family<'_>, Filler)> = Vec::new();
    let mut out = Vec::with_capacity(fleet.value.instances.len());
    for i in &fleet.value.instances {
        let plan = i.value.plan.as_ref().map(|p| p.as_str());
        let values = Values::new(
            std::iter::once(i.name.as_str())
                .chain(i.value.vars.iter().map(|(_, v)| v.as_str()))
                .collect(),
        );
        let (Some(values), true) = (values, bare) else {
            out.push(render(&i.name, plan, &i.value.vars));
            continue;
        };
        let key = i.value.family();
        let index = families
            .iter()
            .position(|(k, _)| *k == key)
            .unwrap_or_else(|| {
                let vars = placeholder_vars(&i.value);
                let filler = Filler::new(&render(ID, plan, &vars), vars.len() + 1);
                families.push((key, filler));
                families.len() - 1
            });
        match families[index].1.fill(&values, false) {
            Some(prefix) => out.push(prefix),
            None => out.push(render(&i.name, plan, &i.value.vars)),
        }
    }
    out
}

fn store_key<'a>(ctx: &Ctx<'a>, store: &Store) -> &'a str {
    ctx.spec
        .stores
        .iter()
        .find(|s| std::ptr::eq(&s.value, store))
        .map_or("", |s| s.name.as_str())
}

/// The IAM policy of one account, as the provisioning script writes it: list its prefix, read and
/// write objects under it, nothing else. (The tests run the script and compare.)
#[cfg(test)]
fn policy(account: &Account) -> Value {
    let prefix = account.prefix.trim_matches('/');
    let bucket = format!("arn:aws:s3:::{}", account.bucket);
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetBucketLocation"],
                "Resource": [bucket],
            },
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [bucket],
                "Condition": { "StringLike": { "s3:prefix": [prefix, format!("{prefix}/*")] } },
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                "Resource": [format!("{bucket}/{prefix}/*")],
            },
        ],
    })
}

/// Provisions every account listed in `$CONFIG/accounts` (`<account> <bucket> <prefix>` per line).
/// Each policy is written here from its bucket and prefix, so that the ConfigMap holds one short line
/// per account rather than a policy each (ten thousand tenants' policies would not fit in 1 MiB);
/// the spec's checks keep buckets and prefixes to characters that need no escaping in JSON.
const SCRIPT: &str = r#"#!/bin/sh
# Generated by plat. One MinIO user per account, each with the policy of the same name, which reaches
# only its bucket and prefix. Idempotent: policies are replaced, secrets set again, attachments kept.
set -eu
work="${TMPDIR:-/tmp}"
mkdir -p "$work/mc" "$work/policies"
mc() { command mc --config-dir "$work/mc" --quiet "$@"; }
mc alias set store "$ENDPOINT" "$(cat "$ROOT/access-key")" "$(cat "$ROOT/secret-key")" >/dev/null
while read -r account bucket prefix; do
  policy="$work/policies/$account.json"
  printf '{"Statement":[{"Action":["s3:GetBucketLocation"],"Effect":"Allow","Resource":["arn:aws:s3:::%s"]},{"Action":["s3:ListBucket"],"Condition":{"StringLike":{"s3:prefix":["%s","%s/*"]}},"Effect":"Allow","Resource":["arn:aws:s3:::%s"]},{"Action":["s3:GetObject","s3:PutObject","s3:DeleteObject","s3:AbortMultipartUpload","s3:ListMultipartUploadParts"],"Effect":"Allow","Resource":["arn:aws:s3:::%s/%s/*"]}],"Version":"2012-10-17"}' \
    "$bucket" "$prefix" "$prefix" "$bucket" "$bucket" "$prefix" > "$policy"
  mc mb --ignore-existing "store/$bucket"
  mc admin policy create store "$account" "$policy"
  user="$(cat "$ACCOUNTS/$account.access_key")"
  mc admin user add store "$user" "$(cat "$ACCOUNTS/$account.secret_key")"
  mc admin policy attach store "$account" --user "$user"
done < "$CONFIG/accounts"
"#;

/// At most this many accounts go into one ConfigMap, credentials Secret and Job: a ConfigMap or a
/// Secret holds at most 1 MiB, and a policy is about 600 bytes, so ten thousand tenants need batches.
const BATCH: usize = 250;

/// The objects of a store's accounts: per batch the ConfigMap, the Job's credentials and the Job;
/// one NetworkPolicy for every batch's pods.
pub fn provisioning(
    ctx: &Ctx<'_>,
    (key, store, objects): (&str, &Store, &ObjectStorage),
    endpoint: &str,
) -> Vec<Object> {
    let Some(setup) = &objects.accounts else {
        return Vec::new();
    };
    let name = format!("{}-accounts", store.name.value);
    let labels = Labels::standard(
        "object-storage-accounts",
        &name,
        "object-storage",
        ctx.spec.platform.name.as_str(),
        None,
    );
    let at = (format!("stores.{key}.accounts"), setup.origin);
    let batches = batches(accounts(ctx, key, objects));
    let mut out = Vec::new();
    for (index, batch) in batches.iter().enumerate() {
        if batch.is_empty() && batches.len() > 1 {
            continue;
        }
        let batch_name = match batches.len() {
            1 => name.clone(),
            _ => format!("{name}-{index}"),
        };
        out.extend(batch_objects(
            ctx,
            (&batch_name, batch),
            (objects, endpoint),
            &labels,
            (&at.0, at.1),
        ));
    }
    out.push(ctx.object(job_policy(ctx, &name, store, &labels, (&at.0, at.1)), at.1));
    out
}

/// The accounts in batches of at most [`BATCH`], each account in the batch its name's hash picks,
/// so that a new account changes one batch (and re-runs one Job), not every batch after it. The
/// number of batches is a power of two: it changes, and accounts move, only when it doubles.
fn batches(accounts: Vec<Account>) -> Vec<Vec<Account>> {
    let count = accounts.len().div_ceil(BATCH).max(1).next_power_of_two();
    let mut out: Vec<Vec<Account>> = (0..count).map(|_| Vec::new()).collect();
    for account in accounts {
        let hash = crate::kit::fnv1a_hex(&[(account.name.clone(), String::new())]);
        let hash = u64::from_str_radix(&hash, 16);
        let index = usize::try_from(hash.unwrap_or(0) % count as u64).unwrap_or(0);
        out[index].push(account);
    }
    out
}
/// One batch's objects: its policies and script, its accounts' credentials, and its Job.
fn batch_objects(
    ctx: &Ctx<'_>,
    (name, accounts): (&str, &[Account]),
    (objects, endpoint): (&ObjectStorage, &str),
    labels: &Labels,
    (source, origin): (&str, crate::source::Origin),
) -> Vec<Object> {
    let setup = objects.accounts.as_ref().expect("accounts");
    let mut data = serde_json::Map::new();
    data.insert("provision.sh".into(), json!(SCRIPT));
    let list: String = accounts
        .iter()
        .map(|a| format!("{} {} {}\n", a.name, a.bucket, a.prefix.trim_matches('/')))
        .collect();
    data.insert("accounts".into(), json!(list));
    let mut hashed: Vec<(String, String)> = data
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    hashed.push(("image".into(), setup.image.value.clone()));
    let hash = crate::kit::fnv1a_hex(&hashed);
    let config = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": ctx.metadata(name, labels, source, origin),
        "data": data,
    });
    let mut out = vec![ctx.object(config, origin)];
    if external_secrets(ctx) {
        let entries: Vec<Value> = accounts
            .iter()
            .flat_map(|a| {
                ["access_key", "secret_key"].map(|field| {
                    let mut entry = serde_json::Map::new();
                    entry.insert("remoteRef".into(), account_remote_ref(ctx, &a.name, field));
                    entry.insert(
                        "secretKey".into(),
                        Value::String(format!("{}.{field}", a.name)),
                    );
                    Value::Object(entry)
                })
            })
            .collect();
        let target = json!({ "name": name, "creationPolicy": "Owner" });
        let mut secret = super::platform::external_secret(ctx, name, labels, target, entries);
        secret["metadata"]["annotations"][super::SOURCE_ANNOTATION] =
            json!(ctx.source_of(source, origin));
        out.push(ctx.object(secret, origin));
    }
    out.push(ctx.object(
        job(
            ctx,
            (name, &hash[..8]),
            objects,
            endpoint,
            labels,
            (source, origin),
        ),
        origin,
    ));
    out
}

fn job(
    ctx: &Ctx<'_>,
    (name, hash): (&str, &str),
    objects: &ObjectStorage,
    endpoint: &str,
    labels: &Labels,
    (source, origin): (&str, crate::source::Origin),
) -> Value {
    let setup = objects.accounts.as_ref().expect("accounts");
    mc_job(
        ctx,
        McJob {
            name,
            hash,
            container: "provision",
            image: &setup.image,
            env: &[("ENDPOINT", endpoint)],
            secrets: vec![
                (
                    "root",
                    credentials_volume(ctx, &objects.access_key.value, &objects.secret_key.value),
                ),
                (
                    "accounts",
                    json!({ "secretName": name, "defaultMode": 0o440 }),
                ),
            ],
            labels,
            at: (source, origin),
        },
    )
}

/// A Job that runs `/config/<container>.sh` of ConfigMap `name` with the MinIO client, as the
/// accounts and replication Jobs do: the same pod, security, resources and scratch space. `env`
/// comes first, then `HOME` and `CONFIG`, then one variable per secret volume (its name in upper
/// case, the folder it is mounted read-only at, `/run/<volume>`).
struct McJob<'a> {
    name: &'a str,
    hash: &'a str,
    container: &'a str,
    image: &'a crate::decode::Located<String>,
    env: &'a [(&'a str, &'a str)],
    secrets: Vec<(&'a str, Value)>,
    labels: &'a Labels,
    at: (&'a str, crate::source::Origin),
}

fn mc_job(ctx: &Ctx<'_>, job: McJob<'_>) -> Value {
    let uid = ctx.spec.defaults.run_as_user;
    let (cpu, memory, cpu_limit, memory_limit) = JOB_RESOURCES;
    let folder = |volume: &str| format!("/run/{volume}");
    let env: Vec<Value> =
        job.env
            .iter()
            .map(|(k, v)| json!({ "name": k, "value": v }))
            .chain([
                json!({ "name": "HOME", "value": "/tmp" }),
                json!({ "name": "CONFIG", "value": "/config" }),
            ])
            .chain(job.secrets.iter().map(
                |(volume, _)| json!({ "name": volume.to_uppercase(), "value": folder(volume) }),
            ))
            .collect();
    let mounts: Vec<Value> = std::iter::once(
        json!({ "name": "config", "mountPath": "/config", "readOnly": true }),
    )
    .chain(job.secrets.iter().map(
        |(volume, _)| json!({ "name": volume, "mountPath": folder(volume), "readOnly": true }),
    ))
    .chain([json!({ "name": "tmp", "mountPath": "/tmp" })])
    .collect();
    let volumes: Vec<Value> = std::iter::once(
        json!({ "name": "config", "configMap": { "name": job.name, "defaultMode": 0o444 } }),
    )
    .chain(
        job.secrets
            .iter()
            .map(|(volume, secret)| json!({ "name": volume, "secret": secret })),
    )
    .chain([json!({ "name": "tmp", "emptyDir": { "sizeLimit": "64Mi" } })])
    .collect();
    let container = json!({
        "name": job.container,
        "image": job.image.value,
        "imagePullPolicy": ctx.spec.defaults.image_pull_policy,
        "command": ["/bin/sh", format!("/config/{}.sh", job.container)],
        "env": env,
        "resources": {
            "requests": { "cpu": cpu, "memory": memory },
            "limits": { "cpu": cpu_limit, "memory": memory_limit },
        },
        "securityContext": container_security(true),
        "volumeMounts": mounts,
    });
    let (source, origin) = job.at;
    let mut metadata = ctx.metadata(
        &format!("{}-{}", job.name, job.hash),
        job.labels,
        source,
        origin,
    );
    super::workload::waive_digest_check(&mut metadata, &[job.image]);
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": 6,
            "template": {
                "metadata": { "labels": job.labels.to_json() },
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": false,
                    "enableServiceLinks": false,
                    "securityContext": pod_security(uid, uid, uid),
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    })
}

/// A volume of the platform Secret's two keys of an object store's credentials, as the files
/// `access-key` and `secret-key`.
fn credentials_volume(ctx: &Ctx<'_>, access: &str, secret: &str) -> Value {
    json!({
        "secretName": ctx.spec.secrets.name,
        "items": [
            { "key": access, "path": "access-key" },
            { "key": secret, "path": "secret-key" },
        ],
        "defaultMode": 0o440,
    })
}

/// The provisioning pods: out to the store's admin API only.
fn job_policy(
    ctx: &Ctx<'_>,
    name: &str,
    store: &Store,
    labels: &Labels,
    (source, origin): (&str, crate::source::Origin),
) -> Value {
    let ports: Vec<Value> = crate::facts::store_ports(store)
        .into_iter()
        .map(|p| json!({ "protocol": "TCP", "port": p }))
        .collect();
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": ctx.metadata(name, labels, source, origin),
        "spec": {
            "podSelector": { "matchLabels": labels.selector(&[]).to_json() },
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [{ "to": [{ "podSelector": crate::facts::store_selector(store) }], "ports": ports }],
        },
    })
}

/// Sets up the replication of `$CONFIG/buckets` (`<local bucket> <remote bucket>` per line) to the
/// external object store: versioning on both sides (bucket replication needs it), then one rule per
/// bucket unless the bucket already replicates to that remote bucket. MinIO's servers then copy every
/// new object, its versions and deletions, and the objects that were there before.
const REPLICATION_SCRIPT: &str = r#"#!/bin/sh
# Generated by plat. Idempotent: buckets and versioning are kept, a rule is added once.
set -eu
work="${TMPDIR:-/tmp}"
mkdir -p "$work/mc"
mc() { command mc --config-dir "$work/mc" --quiet "$@"; }
mc alias set store "$ENDPOINT" "$(cat "$ROOT/access-key")" "$(cat "$ROOT/secret-key")" >/dev/null
mc alias set remote "$REMOTE_ENDPOINT" "$(cat "$REMOTE/access-key")" "$(cat "$REMOTE/secret-key")" >/dev/null
while read -r bucket target; do
  mc mb --ignore-existing "store/$bucket"
  mc mb --ignore-existing "remote/$target"
  mc version enable "store/$bucket"
  mc version enable "remote/$target"
  if mc replicate ls --json "store/$bucket" | grep -q ":$target\""; then
    echo "store/$bucket already replicates to $target"
  else
    mc replicate add --remote-bucket "remote/$target" \
      --replicate "delete,delete-marker,existing-objects" "store/$bucket"
  fi
done < "$CONFIG/buckets"
"#;

/// The replication of a store's buckets to an external object store: the list and script, the Job
/// (named by a hash of what it does, so that it runs again when that changes) and its policy (out to
/// the store and the external endpoint).
pub fn replication(
    ctx: &Ctx<'_>,
    (key, store, objects): (&str, &Store, &ObjectStorage),
    endpoint: &str,
) -> Vec<Object> {
    let (Some(replication), Some(setup)) = (&objects.replication, &objects.accounts) else {
        return Vec::new();
    };
    let Some(remote) = ctx
        .spec
        .network
        .external
        .iter()
        .find(|e| e.name == replication.to.value)
        .and_then(|e| e.value.object_store.as_ref())
    else {
        return Vec::new();
    };
    let name = format!("{}-replication", store.name.value);
    let labels = Labels::standard(
        "object-storage-replication",
        &name,
        "object-storage",
        ctx.spec.platform.name.as_str(),
        None,
    );
    let source = format!("stores.{key}.replication");
    let origin = replication.origin;
    let list: String = replication
        .buckets
        .iter()
        .map(|b| format!("{} {}\n", b.name, b.value))
        .collect();
    let hash = crate::kit::fnv1a_hex(&[
        ("replicate.sh".into(), REPLICATION_SCRIPT.to_string()),
        ("buckets".into(), list.clone()),
        ("image".into(), setup.image.value.clone()),
        ("remote".into(), remote.endpoint.value.clone()),
        (
            "keys".into(),
            format!("{} {}", remote.access_key.value, remote.secret_key.value),
        ),
    ]);
    let config = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": ctx.metadata(&name, &labels, &source, origin),
        "data": { "replicate.sh": REPLICATION_SCRIPT, "buckets": list },
    });
    let job = mc_job(
        ctx,
        McJob {
            name: &name,
            hash: &hash[..8],
            container: "replicate",
            image: &setup.image,
            env: &[
                ("ENDPOINT", endpoint),
                ("REMOTE_ENDPOINT", &remote.endpoint.value),
            ],
            secrets: vec![
                (
                    "root",
                    credentials_volume(ctx, &objects.access_key.value, &objects.secret_key.value),
                ),
                (
                    "remote",
                    credentials_volume(ctx, &remote.access_key.value, &remote.secret_key.value),
                ),
            ],
            labels: &labels,
            at: (&source, origin),
        },
    );
    // Out to the store and to the external endpoint, as `talks_to` would allow them.
    let egress: Vec<Value> = [key, replication.to.value.as_str()]
        .into_iter()
        .filter_map(|target| super::network::egress_to_store(ctx, target))
        .collect();
    let policy = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": ctx.metadata(&name, &labels, &source, origin),
        "spec": {
            "podSelector": { "matchLabels": labels.selector(&[]).to_json() },
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": egress,
        },
    });
    vec![
        ctx.object(config, origin),
        ctx.object(job, origin),
        ctx.object(policy, origin),
    ]
}

/// The selector of a store's replication pods, for the store's own policy.
pub fn replication_selector(ctx: &Ctx<'_>, store: &Store) -> Value {
    let name = format!("{}-replication", store.name.value);
    let labels = Labels::standard(
        "object-storage-replication",
        &name,
        "object-storage",
        ctx.spec.platform.name.as_str(),
        None,
    );
    json!({ "matchLabels": labels.selector(&[]).to_json() })
}

/// The selector of a store's provisioning pods, for the store's own policy.
pub fn provisioning_selector(ctx: &Ctx<'_>, store: &Store) -> Value {
    let name = format!("{}-accounts", store.name.value);
    let platform = ctx.spec.platform.name.as_str();
    let labels = Labels::standard(
        "object-storage-accounts",
        &name,
        "object-storage",
        platform,
        None,
    );
    json!({ "matchLabels": labels.selector(&[]).to_json() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(n: usize) -> Vec<Account> {
        (0..n)
            .map(|i| Account {
                name: format!("bot-t{i:05}"),
                bucket: "tenants".into(),
                prefix: format!("tenants/t{i:05}"),
            })
            .collect()
    }

    fn names(batches: &[Vec<Account>]) -> Vec<Vec<String>> {
        batches
            .iter()
            .map(|b| b.iter().map(|a| a.name.clone()).collect())
            .collect()
    }

    /// Runs the provisioning script with `sh` and an `mc` that keeps the policies it is given.
    fn provision(accounts: &[Account]) -> std::collections::BTreeMap<String, Value> {
        use std::fs;
        let dir = std::env::temp_dir().join(format!("plat-accounts-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for sub in ["config", "root", "accounts", "bin", "out", "tmp"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        fs::write(dir.join("config/provision.sh"), SCRIPT).unwrap();
        let list: String = accounts
            .iter()
            .map(|a| format!("{} {} {}\n", a.name, a.bucket, a.prefix.trim_matches('/')))
            .collect();
        fs::write(dir.join("config/accounts"), list).unwrap();
        for key in ["access-key", "secret-key"] {
            fs::write(dir.join("root").join(key), "root").unwrap();
        }
        for a in accounts {
            for field in ["access_key", "secret_key"] {
                fs::write(dir.join(format!("accounts/{}.{field}", a.name)), &a.name).unwrap();
            }
        }
        // `mc --config-dir D --quiet admin policy create store NAME FILE` keeps FILE as NAME.
        let fake = "#!/bin/sh\nshift 3\nif [ \"$1 $2 $3\" = \"admin policy create\" ]; then cp \"$6\" \"$OUT/$5.json\"; fi\n";
        fs::write(dir.join("bin/mc"), fake).unwrap();
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg("chmod +x bin/mc && PATH=\"$PWD/bin:$PATH\" sh config/provision.sh")
            .current_dir(&dir)
            .env("ENDPOINT", "http://127.0.0.1:9000")
            .env("CONFIG", dir.join("config"))
            .env("ROOT", dir.join("root"))
            .env("ACCOUNTS", dir.join("accounts"))
            .env("OUT", dir.join("out"))
            .env("TMPDIR", dir.join("tmp"))
            .status()
            .expect("sh runs");
        assert!(status.success(), "the provisioning script failed");
        let policies = fs::read_dir(dir.join("out"))
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let name = path.file_stem().unwrap().to_string_lossy().into_owned();
                let text = fs::read_to_string(&path).unwrap();
                (
                    name,
                    serde_json::from_str(&text).expect("the script writes JSON"),
                )
            })
            .collect();
        let _ = fs::remove_dir_all(&dir);
        policies
    }

    #[test]
    fn the_script_writes_each_account_the_policy_of_its_bucket_and_prefix() {
        let mut accounts = numbered(3);
        accounts.push(Account {
            name: "db-backup".into(),
            bucket: "backups".into(),
            prefix: "/clusters/db/".into(),
        });
        let written = provision(&accounts);
        assert_eq!(written.len(), accounts.len());
        for account in &accounts {
            assert_eq!(written[&account.name], policy(account), "{}", account.name);
        }
        let text = written["bot-t00001"].to_string();
        assert!(
            text.contains("arn:aws:s3:::tenants/tenants/t00001/*"),
            "{text}"
        );
        assert!(!text.contains("t00002"), "{text}");
    }

    /// Runs the replication script twice with an `mc` that logs its calls and keeps the rules added:
    /// versioning on both sides, one rule per bucket, and none added again.
    #[test]
    fn the_replication_script_enables_versioning_and_adds_each_rule_once() {
        use std::fs;
        let dir = std::env::temp_dir().join(format!("plat-replication-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for sub in ["config", "root", "remote", "bin", "tmp"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        fs::write(dir.join("config/replicate.sh"), REPLICATION_SCRIPT).unwrap();
        fs::write(
            dir.join("config/buckets"),
            "tenants tenants-copy\nfiles files-copy\n",
        )
        .unwrap();
        for sub in ["root", "remote"] {
            for key in ["access-key", "secret-key"] {
                fs::write(dir.join(sub).join(key), "k").unwrap();
            }
        }
        // `mc --config-dir D --quiet CMD…`: logs CMD…; `replicate add` records the rule, which
        // `replicate ls --json` then shows as MinIO does, by the remote bucket's ARN.
        let fake = r#"#!/bin/sh
shift 3
echo "$*" >> "$LOG"
if [ "$1 $2" = "replicate add" ]; then
  bucket="$(echo "$4" | cut -d/ -f2)"; src="$(echo "$7" | cut -d/ -f2)"
  echo "{\"Destination\":{\"Bucket\":\"arn:minio:replication::0:$bucket\"}}" >> "$RULES.$src"
fi
if [ "$1 $2" = "replicate ls" ]; then
  src="$(echo "$4" | cut -d/ -f2)"; cat "$RULES.$src" 2>/dev/null || true
fi
"#;
        fs::write(dir.join("bin/mc"), fake).unwrap();
        let run = || {
            let status = std::process::Command::new("sh")
                .arg("-c")
                .arg("chmod +x bin/mc && PATH=\"$PWD/bin:$PATH\" sh config/replicate.sh")
                .current_dir(&dir)
                .env("ENDPOINT", "http://127.0.0.1:9000")
                .env("REMOTE_ENDPOINT", "https://s3.example.com")
                .env("CONFIG", dir.join("config"))
                .env("ROOT", dir.join("root"))
                .env("REMOTE", dir.join("remote"))
                .env("LOG", dir.join("log"))
                .env("RULES", dir.join("rules"))
                .env("TMPDIR", dir.join("tmp"))
                .status()
                .expect("sh runs");
            assert!(status.success(), "the replication script failed");
        };
        run();
        run();
        let log = fs::read_to_string(dir.join("log")).unwrap();
        let _ = fs::remove_dir_all(&dir);
        for call in [
            "version enable store/tenants",
            "version enable remote/tenants-copy",
            "version enable store/files",
            "version enable remote/files-copy",
        ] {
            assert_eq!(
                log.lines().filter(|l| *l == call).count(),
                2,
                "{call}: {log}"
            );
        }
        let adds: Vec<&str> = log
            .lines()
            .filter(|l| l.starts_with("replicate add"))
            .collect();
        assert_eq!(
            adds,
            [
                "replicate add --remote-bucket remote/tenants-copy --replicate delete,delete-marker,existing-objects store/tenants",
                "replicate add --remote-bucket remote/files-copy --replicate delete,delete-marker,existing-objects store/files",
            ],
            "{log}"
        );
    }

    #[test]
    fn a_few_accounts_make_one_batch() {
        assert_eq!(batches(numbered(5)).len(), 1);
        assert_eq!(batches(Vec::new()).len(), 1);
    }

    #[test]
    fn ten_thousand_accounts_fit_in_batches_far_below_the_size_limit() {
        let batches = batches(numbered(10_000));
        assert_eq!(batches.len(), 64);
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 10_000);
        // 1 MiB over about 600 bytes of policy each: a batch must stay well below 1,700 accounts.
        let largest = batches.iter().map(Vec::len).max().unwrap_or(0);
        assert!(largest <= 2 * BATCH, "largest batch: {largest}");
    }

    #[test]
    fn a_new_account_changes_one_batch_only() {
        let before = names(&batches(numbered(1_100)));
        let mut more = numbered(1_100);
        more.push(Account {
            name: "bot-newcomer".into(),
            bucket: "tenants".into(),
            prefix: "tenants/newcomer".into(),
        });
        let after = names(&batches(more));
        assert_eq!(before.len(), after.len());
        let changed = before.iter().zip(&after).filter(|(b, a)| b != a).count();
        assert_eq!(changed, 1);
    }
}
