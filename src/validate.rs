//! Stage 4, validate: rules that need the whole typed spec (references, ranges between values,
//! ceilings). Each rule has its own code; all findings are reported together.

use crate::decode::Located;
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::spec::{Spec, StoreKind, Strategy, read::check_dns_label};

pub fn validate(spec: &Spec, diags: &mut Diagnostics) {
    let inventory = crate::facts::Inventory::of(spec);
    check_sizes(spec, diags);
    check_workloads(spec, diags);
    crate::validate_workload::check(spec, &inventory, diags);
    check_images(spec, diags);
    check_ingress(spec, diags);
    check_fleets(spec, diags);
    check_config(spec, &inventory, diags);
    check_data_stores(spec, diags);
    crate::validate_accounts::check(spec, &inventory, diags);
    crate::capacity::check(spec, diags);
    crate::observe::check(spec, diags);
}

fn check_sizes(spec: &Spec, diags: &mut Diagnostics) {
    for size in &spec.sizes {
        let (requests, limits) = (&size.value.requests, &size.value.limits);
        check_not_above(&size.name, "cpu", &requests.cpu, &limits.cpu, diags);
        check_not_above(
            &size.name,
            "memory",
            &requests.memory,
            &limits.memory,
            diags,
        );
    }
}

fn check_not_above(
    size: &str,
    resource: &str,
    request: &Located<crate::spec::Quantity>,
    limit: &Located<crate::spec::Quantity>,
    diags: &mut Diagnostics,
) {
    if request.value.value > limit.value.value {
        let d = Diagnostic::error(
            "P0202",
            format!(
                "size `{size}` requests more {resource} ({}) than its limit ({})",
                request.text, limit.text
            ),
        )
        .also(limit.origin, "the limit")
        .help(
            "a container cannot request more than its limit; raise the limit or lower the request",
        );
        diags.push(request.diagnostic(d, "the request"));
    }
}

/// The names a `talks_to` list may refer to: workloads, fleets, stores and external endpoints.
pub fn known_targets(spec: &Spec) -> Vec<&str> {
    let workloads = spec.workloads.iter().map(|s| s.name.as_str());
    let fleets = spec.fleets.iter().map(|f| f.name.as_str());
    let stores = spec.stores.iter().map(|s| s.name.as_str());
    let external = spec.network.external.iter().map(|e| e.name.as_str());
    workloads
        .chain(fleets)
        .chain(stores)
        .chain(external)
        .collect()
}

pub fn check_reference(
    reference: &Located<String>,
    what: &str,
    candidates: &[&str],
    diags: &mut Diagnostics,
) -> bool {
    if candidates.contains(&reference.as_str()) {
        return true;
    }
    let mut d = Diagnostic::error("P0204", format!("unknown {what} `{}`", reference.value));
    d = match did_you_mean(reference, candidates.iter().copied()) {
        Some(close) => d.help(format!("did you mean `{close}`?")),
        None if candidates.is_empty() => d.help(format!("the spec declares no {what}")),
        None => d.help(format!("declared: {}", candidates.join(", "))),
    };
    diags.push(reference.diagnostic(d, format!("no such {what}")));
    false
}

pub fn check_size_ref(spec: &Spec, size: &Located<String>, diags: &mut Diagnostics) {
    let names: Vec<&str> = spec.sizes.iter().map(|s| s.name.as_str()).collect();
    check_reference(size, "size", &names, diags);
}

pub fn check_secret_refs(spec: &Spec, refs: &[Located<String>], diags: &mut Diagnostics) {
    let keys: Vec<&str> = spec.secrets.keys.iter().map(|k| k.as_str()).collect();
    for key in refs {
        check_reference(key, "secret key", &keys, diags);
    }
}

fn check_workloads(spec: &Spec, diags: &mut Diagnostics) {
    let targets = known_targets(spec);
    for service in &spec.workloads {
        let s = &service.value;
        check_size_ref(spec, &s.size, diags);
        check_secret_refs(spec, &s.main.secrets, diags);
        for target in &s.talks_to {
            if target.as_str() == service.name {
                diags.push(
                    target.diagnostic(
                        Diagnostic::error(
                            "P0204",
                            format!("service `{}` lists itself in `talks_to`", service.name),
                        )
                        .help("a service always reaches itself; remove the entry"),
                        "itself",
                    ),
                );
                continue;
            }
            check_reference(
                target,
                "service, fleet, data store or external endpoint",
                &targets,
                diags,
            );
        }
        if let Some(scaling) = &s.autoscaling {
            if scaling.min.value > scaling.max.value {
                let d = Diagnostic::error(
                    "P0203",
                    format!(
                        "service `{}`: autoscaling min_replicas ({}) is above max_replicas ({})",
                        service.name, scaling.min.value, scaling.max.value
                    ),
                )
                .also(scaling.max.origin, "max_replicas")
                .help("make min_replicas at most max_replicas");
                diags.push(scaling.min.diagnostic(d, "min_replicas"));
            } else if s.replicas.value < scaling.min.value || s.replicas.value > scaling.max.value {
                let d = Diagnostic::warning(
                    "P0203",
                    format!(
                        "service `{}`: replicas ({}) is outside the autoscaling range {}..{}",
                        service.name, s.replicas.value, scaling.min.value, scaling.max.value
                    ),
                )
                .help("with autoscaling, the HorizontalPodAutoscaler decides the replica count; set replicas inside its range");
                diags.push(s.replicas.diagnostic(d, "replicas"));
            }
        }
        if let Some(image) = &s.next_image
            && spec.release.strategy != Strategy::BlueGreen
        {
            diags.push(image.diagnostic(
                Diagnostic::warning("P0211", format!("service `{}` has a next_image but the release strategy is rolling", service.name))
                    .help("next_image is deployed to the inactive colour of a blue-green release; set `release.strategy = \"blue-green\"` or remove it"),
                "not deployed",
            ));
        }
    }
}

/// An image is pinned when it names a tag other than `latest`, or a digest.
pub fn is_pinned(image: &str) -> bool {
    // A digest counts only when it is one: `repo@sha256:` alone pins nothing.
    if image.contains('@') {
        return crate::rules::image::reference(image).is_ok_and(|r| r.digest.is_some());
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) => !tag.is_empty() && tag != "latest",
        None => false,
    }
}

pub fn check_image(image: &Located<String>, owner: &str, diags: &mut Diagnostics) {
    if image.trim().is_empty() || image.contains(char::is_whitespace) {
        diags.push(image.diagnostic(
            Diagnostic::error(
                "P0104",
                format!("{owner}: `{}` is not an image reference", image.value),
            ),
            "invalid image",
        ));
    } else if let Err(broken) = crate::rules::image::reference(image) {
        diags.push(
            image.diagnostic(
                Diagnostic::error(
                    "P0115",
                    format!("{owner}: image `{}` {}", image.value, broken.problem),
                )
                .help(format!("it must be {}", broken.rule)),
                "invalid image reference",
            ),
        );
    } else if !is_pinned(image) {
        diags.push(image.diagnostic(
            Diagnostic::error("P0206", format!("{owner}: image `{}` is not pinned", image.value))
                .help("name an exact version tag (`repo:1.4.2`) or a digest (`repo@sha256:…`); `latest` and untagged images change under you"),
            "no pinned tag",
        ));
    }
}

fn check_images(spec: &Spec, diags: &mut Diagnostics) {
    let workloads = spec
        .workloads
        .iter()
        .map(|w| (format!("service `{}`", w.name), &w.value))
        .chain(
            spec.fleets
                .iter()
                .map(|f| (format!("fleet `{}`", f.name), &f.value.template)),
        );
    for (owner, w) in workloads {
        check_image(&w.image, &owner, diags);
        if let Some(next) = &w.next_image {
            check_image(next, &owner, diags);
        }
        for c in &w.containers {
            if let Some(image) = &c.value.image {
                check_image(image, &format!("{owner}, container `{}`", c.name), diags);
            }
        }
    }
    for store in &spec.stores {
        let owner = format!("store `{}`", store.name);
        check_image(store.value.kind.image(), &owner, diags);
        if let StoreKind::RedisCluster(r) = &store.value.kind
            && let Some(exporter) = &r.exporter_image
        {
            check_image(exporter, &format!("{owner} exporter"), diags);
        }
    }
}

fn check_ingress(spec: &Spec, diags: &mut Diagnostics) {
    if let Some(ingress) = &spec.ingress {
        let names: Vec<&str> = spec
            .workloads
            .iter()
            .filter(|w| w.value.has_service())
            .map(|s| s.name.as_str())
            .collect();
        if check_reference(&ingress.backend, "service", &names, diags)
            && let Some(port) = &ingress.port
            && let Some(w) = spec.workload(&ingress.backend)
        {
            let ports: Vec<&str> = w.service_ports().map(|p| p.name.as_str()).collect();
            check_reference(port, "port of the backend", &ports, diags);
        }
    }
}

fn check_fleets(spec: &Spec, diags: &mut Diagnostics) {
    for fleet in &spec.fleets {
        let f = &fleet.value;
        let targets = known_targets(spec);
        check_size_ref(spec, &f.template.size, diags);
        check_secret_refs(spec, &f.template.main.secrets, diags);
        for target in &f.template.talks_to {
            check_reference(
                target,
                "service, fleet, data store or external endpoint",
                &targets,
                diags,
            );
        }
        let ceiling = f.max_instances.value;
        if f.instances.len() as i64 > ceiling {
            let first_over = &f.instances[ceiling as usize];
            let d = Diagnostic::error(
                "P0205",
                format!(
                    "fleet `{}` has {} instances but at most {ceiling} may run",
                    fleet.name,
                    f.instances.len(),
                ),
            )
            .at(
                first_over.origin,
                format!("instance number {} is over the ceiling", ceiling + 1),
            )
            .also(f.max_instances.origin, "the ceiling")
            .help(format!(
                "raise `fleets.{}.max_instances` (and the cluster's capacity) or remove instances",
                fleet.name
            ));
            diags.push(d);
        }
        let plans: Vec<&str> = f.plans.iter().map(|p| p.name.as_str()).collect();
        for plan in &f.plans {
            if let Some(size) = &plan.value.size {
                check_size_ref(spec, size, diags);
            }
        }
        let prefix = fleet.name.len() + 1;
        for instance in &f.instances {
            let name = Located {
                value: instance.name.clone(),
                origin: instance.origin,
                replaced: None,
            };
            let path = format!("fleets.{}.instances.{}", fleet.name, instance.name);
            if check_instance_id(&name, &path, diags) && instance.name.len() + prefix > 63 {
                diags.push(name.diagnostic(
                    Diagnostic::error("P0207", format!("instance id `{}` is too long", instance.name))
                        .help(format!("instance objects are named `{}-<id>`, which must fit in 63 characters: use at most {} characters", fleet.name, 63 - prefix)),
                    "too long",
                ));
            }
            if let Some(size) = &instance.value.size {
                check_size_ref(spec, size, diags);
            }
            if let Some(plan) = &instance.value.plan {
                check_reference(plan, "plan", &plans, diags);
            }
        }
    }
}

/// Instance ids follow the object name that carries them (`<fleet>-<id>`), so unlike other names they
/// may start with a digit.
fn check_instance_id(name: &Located<String>, path: &str, diags: &mut Diagnostics) -> bool {
    let n = name.as_str();
    let ok = !n.is_empty()
        && n.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && !n.ends_with('-')
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        diags.push(name.diagnostic(
            Diagnostic::error("P0207", format!("`{path}`: `{n}` is not a valid instance id"))
                .help("instance ids become part of object names: use lower-case letters, digits and '-', not ending with '-'"),
            "invalid name",
        ));
    }
    ok
}

/// Configuration keys become environment variables; values may be templates over the facts.
fn check_config(spec: &Spec, inventory: &crate::facts::Inventory, diags: &mut Diagnostics) {
    for entry in &spec.config {
        let key = &entry.name;
        let valid = key.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
            && key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            diags.push(
                Diagnostic::error(
                    "P0104",
                    format!("configuration key `{key}` is not an environment variable name"),
                )
                .at(entry.origin, "invalid key")
                .help("use upper-case letters, digits and '_', starting with a letter or '_'"),
            );
        }
        if let Err(d) = inventory.render(&entry.value, None) {
            diags.push(*d);
        }
    }
}

fn check_data_stores(spec: &Spec, diags: &mut Diagnostics) {
    let object_stores: Vec<&str> = spec
        .stores
        .iter()
        .filter(|s| matches!(s.value.kind, StoreKind::ObjectStorage(_)))
        .map(|s| s.name.as_str())
        .collect();
    for store in &spec.stores {
        let s = &store.value;
        check_dns_label(&s.name, &format!("stores.{}.name", store.name), diags);
        check_size_ref(spec, &s.size, diags);
        match &s.kind {
            StoreKind::Postgres(pg) => {
                check_instances_fit_nodes(spec, &pg.instances, diags);
                if let Some(key) = &pg.password_key {
                    check_secret_refs(spec, std::slice::from_ref(key), diags);
                }
                if let Some(backup) = &pg.backup {
                    check_cron(&backup.schedule, diags);
                    check_object_store_target(spec, &backup.to, &object_stores, diags);
                }
            }
            StoreKind::RedisCluster(r) => {
                if let Some(key) = &r.password_key {
                    check_secret_refs(spec, std::slice::from_ref(key), diags);
                }
            }
            StoreKind::Redis(_) => {}
            StoreKind::ObjectStorage(o) => {
                check_secret_refs(spec, &[o.access_key.clone(), o.secret_key.clone()], diags);
                if let Some(replication) = &o.replication {
                    check_replication(spec, &store.name, o, replication, diags);
                }
            }
        }
    }
    // An external object store's credentials are needed where something writes to it: an
    // environment that declares it but does not use it need not hold them.
    for external in &spec.network.external {
        if let Some(store) = &external.value.object_store
            && object_store_used(spec, &external.name)
        {
            let mut keys = vec![store.access_key.clone(), store.secret_key.clone()];
            keys.extend(store.region.clone());
            check_secret_refs(spec, &keys, diags);
        }
    }
}

/// Whether a backup or a replication of this spec writes to the external endpoint `name`.
fn object_store_used(spec: &Spec, name: &str) -> bool {
    spec.stores.iter().any(|s| match &s.value.kind {
        StoreKind::Postgres(pg) => pg.backup.as_ref().is_some_and(|b| b.to.value == name),
        StoreKind::ObjectStorage(o) => o.replication.as_ref().is_some_and(|r| r.to.value == name),
        _ => false,
    })
}

/// The external endpoints that declare an object store.
pub fn external_object_stores(spec: &Spec) -> Vec<&str> {
    spec.network
        .external
        .iter()
        .filter(|e| e.value.object_store.is_some())
        .map(|e| e.name.as_str())
        .collect()
}

/// A backup's `to`: an object-storage store of this spec, or an external endpoint with an
/// `object_store` (P0229 when the endpoint declares none).
fn check_object_store_target(
    spec: &Spec,
    to: &Located<String>,
    object_stores: &[&str],
    diags: &mut Diagnostics,
) {
    if object_stores.contains(&to.as_str()) || no_object_store(spec, to, diags) {
        return;
    }
    let mut candidates = object_stores.to_vec();
    candidates.extend(external_object_stores(spec));
    check_reference(to, "object store", &candidates, diags);
}

/// Reports (P0229) and returns true when `to` is an external endpoint without an `object_store`.
fn no_object_store(spec: &Spec, to: &Located<String>, diags: &mut Diagnostics) -> bool {
    let Some(external) = spec
        .network
        .external
        .iter()
        .find(|e| e.name == to.value && e.value.object_store.is_none())
    else {
        return false;
    };
    diags.push(
        to.diagnostic(
            Diagnostic::error(
                "P0229",
                format!("`{}` is an external endpoint without an object store", to.value),
            )
            .also(external.origin, "declared here, with `cidrs` and `ports` only")
            .help(format!(
                "add `[network.external.{}.object_store]` with `endpoint`, `access_key_secret_key` and `secret_key_secret_key`",
                to.value
            )),
            "no object store here",
        ),
    );
    true
}

/// The buckets an object-storage store holds: its accounts' and those of the backups written to it.
fn buckets_of(spec: &Spec, key: &str, store: &crate::spec::ObjectStorage) -> Vec<String> {
    let mut out: Vec<String> = store
        .accounts
        .iter()
        .flat_map(|a| a.clients.iter().map(|c| c.value.bucket.value.clone()))
        .collect();
    for s in &spec.stores {
        if let StoreKind::Postgres(pg) = &s.value.kind
            && let Some(backup) = pg.backup.as_ref().filter(|b| b.to.value == key)
        {
            out.push(backup.bucket.clone());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A replication goes to an external object store (P0229 for an endpoint without one or an in-cluster
/// store, P0204 for an unknown name) and copies buckets the store has (P0230).
fn check_replication(
    spec: &Spec,
    key: &str,
    store: &crate::spec::ObjectStorage,
    replication: &crate::spec::Replication,
    diags: &mut Diagnostics,
) {
    let to = &replication.to;
    if spec.stores.iter().any(|s| s.name == to.value) {
        diags.push(
            to.diagnostic(
                Diagnostic::error(
                    "P0229",
                    format!("`{}` is a store of this cluster, not an external object store", to.value),
                )
                .help("replicate to a `[network.external.<name>.object_store]` outside the cluster: a copy in the same cluster is lost with it"),
                "in the same cluster",
            ),
        );
    } else if !no_object_store(spec, to, diags) {
        check_reference(
            to,
            "external object store",
            &external_object_stores(spec),
            diags,
        );
    }
    let buckets = buckets_of(spec, key, store);
    for bucket in &replication.buckets {
        if buckets.contains(&bucket.name) {
            continue;
        }
        let mut d = Diagnostic::error(
            "P0230",
            format!("store `{key}` has no bucket `{}` to replicate", bucket.name),
        )
        .at(bucket.origin, "no such bucket");
        d = match did_you_mean(&bucket.name, buckets.iter().map(String::as_str)) {
            Some(close) => d.help(format!("did you mean `{close}`?")),
            None if buckets.is_empty() => d.help("the store's accounts and backups use no bucket"),
            None => d.help(format!("its buckets: {}", buckets.join(", "))),
        };
        diags.push(d);
    }
}

/// CloudNativePG spreads instances over nodes; with fewer nodes than instances, losing one node loses
/// several replicas at once, which the high availability the instance count asks for does not survive.
fn check_instances_fit_nodes(spec: &Spec, instances: &Located<i64>, diags: &mut Diagnostics) {
    let nodes = spec.environment.nodes;
    if instances.value > nodes {
        diags.push(
            instances.diagnostic(
                Diagnostic::warning(
                    "P0212",
                    format!(
                        "{} PostgreSQL instances on {nodes} node{} of environment `{}`",
                        instances.value,
                        if nodes == 1 { "" } else { "s" },
                        spec.environment.name
                    ),
                )
                .help("lower the store's `instances` to at most `environment.nodes`, or add nodes"),
                "more instances than nodes",
            ),
        );
    }
}

/// A five-field cron expression (names such as `MON-FRI` allowed), as the seed writes it. A
/// backup schedule becomes CloudNativePG's six-field form, so a macro is not taken here.
pub fn check_cron(schedule: &Located<String>, diags: &mut Diagnostics) {
    if crate::rules::cron::five_fields(schedule).is_err() {
        diags.push(schedule.diagnostic(
            Diagnostic::error("P0104", format!("`{}` is not a five-field cron schedule", schedule.value))
                .help("write minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\" for 02:00 every day"),
            "invalid schedule",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_images() {
        assert!(is_pinned("registry.example.com:5000/team/app:1.2.3"));
        let digest = format!("app@sha256:{}", "0".repeat(64));
        assert!(is_pinned(&digest));
        assert!(!is_pinned("app@sha256:"));
        assert!(!is_pinned("registry.example.com:5000/team/app"));
        assert!(!is_pinned("app:latest"));
        assert!(!is_pinned("app"));
    }
}
