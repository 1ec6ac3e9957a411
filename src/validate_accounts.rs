//! Object-storage accounts and root credentials: a store's root keys in an ordinary workload (P0508),
//! and accounts that name a client of the store with a prefix that renders.

use crate::decode::Located;
use crate::diag::{Diagnostic, Diagnostics};
use crate::spec::{Spec, StoreKind};
use crate::validate::{check_image, check_reference};

pub fn check(spec: &Spec, inventory: &crate::facts::Inventory, diags: &mut Diagnostics) {
    check_root_credentials(spec, diags);
    check_accounts(spec, inventory, diags);
}

/// Every key of `[secrets]` a workload's containers read: mounted files, variables, secret volumes.
fn secret_uses(w: &crate::spec::Workload) -> Vec<&Located<String>> {
    let containers = std::iter::once(&w.main).chain(w.containers.iter().map(|c| &c.value));
    let mut uses: Vec<&Located<String>> = Vec::new();
    for c in containers {
        uses.extend(c.secrets.iter());
        uses.extend(c.env.iter().filter_map(|e| match &e.value {
            crate::spec::EnvValue::Secret(key) => Some(key),
            _ => None,
        }));
    }
    for v in &w.volumes {
        if let crate::spec::VolumeKind::Secret { keys } = &v.value.kind {
            uses.extend(keys.iter());
        }
    }
    uses
}

/// An object store's root credentials belong to the store and to the Job that provisions its
/// accounts: in an ordinary workload they let any one client read or delete every other client's
/// objects and the backups (P0508). A client with an account on the store reads its own credentials
/// under the same key names instead, so its uses are fine.
fn check_root_credentials(spec: &Spec, diags: &mut Diagnostics) {
    let roots: Vec<(&str, &crate::spec::Store, &crate::spec::ObjectStorage)> = spec
        .stores
        .iter()
        .filter_map(|s| match &s.value.kind {
            StoreKind::ObjectStorage(o) => Some((s.name.as_str(), &s.value, o)),
            _ => None,
        })
        .collect();
    let clients = spec
        .workloads
        .iter()
        .map(|w| (w.name.as_str(), &w.value))
        .chain(
            spec.fleets
                .iter()
                .map(|f| (f.name.as_str(), &f.value.template)),
        );
    for (client, workload) in clients {
        for key in secret_uses(workload) {
            let Some((store, root, _)) = roots.iter().find(|(_, _, o)| {
                o.access_key.value == key.value || o.secret_key.value == key.value
            }) else {
                continue;
            };
            let has_account = crate::facts::accounts_of(spec, client)
                .iter()
                .any(|(s, _, _)| std::ptr::eq(*s, *root));
            if has_account {
                continue;
            }
            let d = Diagnostic::error(
                "P0508",
                format!("`{client}` reads `{}`, a root credential of object store `{store}`", key.value),
            )
            .help(format!(
                "give `{client}` an account of its own, limited to its prefix: `[stores.{store}.accounts.{client}]` with `bucket` and `prefix` (and `accounts_image`); it then reads its own credentials under the same key names"
            ));
            diags.push(key.diagnostic(d, "the store's root credential"));
        }
    }
}

/// An account belongs to a workload or fleet that talks to the store, and its prefix renders (for
/// every instance of a fleet).
fn check_accounts(spec: &Spec, inventory: &crate::facts::Inventory, diags: &mut Diagnostics) {
    for store in &spec.stores {
        let StoreKind::ObjectStorage(o) = &store.value.kind else {
            continue;
        };
        let Some(accounts) = &o.accounts else {
            continue;
        };
        check_image(
            &accounts.image,
            &format!("stores.{}.accounts_image", store.name),
            diags,
        );
        let clients: Vec<&str> = spec
            .workloads
            .iter()
            .filter(|w| w.value.talks_to.iter().any(|t| t.value == store.name))
            .map(|w| w.name.as_str())
            .chain(
                spec.fleets
                    .iter()
                    .filter(|f| {
                        f.value
                            .template
                            .talks_to
                            .iter()
                            .any(|t| t.value == store.name)
                    })
                    .map(|f| f.name.as_str()),
            )
            .collect();
        for account in &accounts.clients {
            let located = Located {
                value: account.name.clone(),
                origin: account.origin,
                replaced: None,
            };
            if !check_reference(
                &located,
                &format!("`{}` client", store.name),
                &clients,
                diags,
            ) {
                continue;
            }
            let prefix = &account.value.prefix;
            let render = |instance: Option<&serde_json::Value>, who: &str| {
                let text = inventory.render(prefix, instance)?;
                match text.chars().find(|&c| !prefix_safe(c)) {
                    Some(c) => Err(Box::new(unsafe_prefix(prefix, who, c))),
                    None => Ok(()),
                }
            };
            // A template that uses instance values only bare renders for every instance of a
            // plan and set of var keys when it renders for one.
            let bare = crate::facts::bare_instance_use(prefix);
            let mut seen: Vec<crate::spec::Family<'_>> = Vec::new();
            let result = match spec.fleets.iter().find(|f| f.name == account.name) {
                Some(fleet) => fleet.value.instances.iter().try_for_each(|i| {
                    let plan = i.value.plan.as_ref().map(|p| p.as_str());
                    let family = i.value.family();
                    if bare && seen.contains(&family) {
                        // The family renders; what differs is the values it puts in.
                        let used = i
                            .value
                            .vars
                            .iter()
                            .filter(|(k, _)| prefix.contains(&format!("vars.{k}")));
                        let values =
                            std::iter::once(i.name.as_str()).chain(used.map(|(_, v)| v.as_str()));
                        return match values.flat_map(str::chars).find(|&c| !prefix_safe(c)) {
                            Some(c) => Err(Box::new(unsafe_prefix(prefix, &i.name, c))),
                            None => Ok(()),
                        };
                    }
                    seen.push(family);
                    let facts =
                        crate::facts::instance_facts(&fleet.name, &i.name, plan, &i.value.vars);
                    render(Some(&facts), &i.name)
                }),
                None => render(None, ""),
            };
            if let Err(d) = result {
                diags.push(*d);
            }
        }
    }
}

/// Characters an account's prefix may hold: S3's safe characters for object keys, which the
/// provisioning script writes into the policy's JSON as they are.
fn prefix_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!-_.*'()/".contains(c)
}

/// `instance`: the fleet instance whose prefix it is, if any.
fn unsafe_prefix(prefix: &Located<String>, instance: &str, c: char) -> Diagnostic {
    let shown = if instance.is_empty() {
        String::new()
    } else {
        format!(" of instance `{instance}`")
    };
    prefix.diagnostic(
        Diagnostic::error(
            "P0509",
            format!("the account prefix{shown} holds `{}`, which is not a safe key character", c.escape_default()),
        )
        .help("a prefix is letters, digits and `! - _ . * ' ( ) /` (S3's safe characters for object keys): it becomes part of the account's policy"),
        "this prefix",
    )
}
