//! Stage 4, validate: rules that need the whole typed spec (references, ranges between values,
//! ceilings). Each rule has its own code; all findings are reported together.

use crate::decode::Located;
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::spec::{Spec, Strategy, read::check_dns_label};

/// Names a service's `talks_to` may use besides other services.
pub const ASTRBOT_TARGET: &str = "astrbot";

pub fn validate(spec: &Spec, diags: &mut Diagnostics) {
    check_sizes(spec, diags);
    check_services(spec, diags);
    check_images(spec, diags);
    check_ingress(spec, diags);
    check_tenants(spec, diags);
    check_config_keys(spec, diags);
    check_data_stores(spec, diags);
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

/// The names a `talks_to` list may refer to.
fn known_targets(spec: &Spec) -> Vec<&str> {
    let mut names: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
    if spec.postgresql.is_some() {
        names.push("postgresql");
    }
    if spec.redis.is_some() {
        names.push("redis");
    }
    if spec.minio.is_some() {
        names.push("minio");
    }
    if spec.astrbot.is_some() {
        names.push(ASTRBOT_TARGET);
    }
    names
}

fn check_reference(
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

fn check_size_ref(spec: &Spec, size: &Located<String>, diags: &mut Diagnostics) {
    let names: Vec<&str> = spec.sizes.iter().map(|s| s.name.as_str()).collect();
    check_reference(size, "size", &names, diags);
}

fn check_secret_refs(spec: &Spec, refs: &[Located<String>], diags: &mut Diagnostics) {
    let keys: Vec<&str> = spec.secrets.keys.iter().map(|k| k.as_str()).collect();
    for key in refs {
        check_reference(key, "secret key", &keys, diags);
    }
}

fn check_services(spec: &Spec, diags: &mut Diagnostics) {
    let targets = known_targets(spec);
    for service in &spec.services {
        let s = &service.value;
        check_size_ref(spec, &s.size, diags);
        check_secret_refs(spec, &s.secrets, diags);
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
            check_reference(target, "service or data store", &targets, diags);
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

fn check_image(image: &Located<String>, owner: &str, diags: &mut Diagnostics) {
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
    for service in &spec.services {
        let owner = format!("service `{}`", service.name);
        check_image(&service.value.image, &owner, diags);
        if let Some(next) = &service.value.next_image {
            check_image(next, &owner, diags);
        }
    }
    if let Some(pg) = &spec.postgresql {
        check_image(&pg.image, "postgresql", diags);
    }
    if let Some(redis) = &spec.redis {
        check_image(&redis.image, "redis", diags);
        if let Some(exporter) = &redis.exporter_image {
            check_image(exporter, "redis exporter", diags);
        }
    }
    if let Some(minio) = &spec.minio {
        check_image(&minio.image, "minio", diags);
    }
    if let Some(astrbot) = &spec.astrbot {
        check_image(&astrbot.image, "astrbot", diags);
    }
}

fn check_ingress(spec: &Spec, diags: &mut Diagnostics) {
    if let Some(ingress) = &spec.ingress {
        let names: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
        check_reference(&ingress.backend, "service", &names, diags);
    }
}

/// Tenant object names are `astrbot-<tenant>`, so tenant names leave room for the prefix.
pub const TENANT_PREFIX: &str = "astrbot-";

fn check_tenants(spec: &Spec, diags: &mut Diagnostics) {
    let Some(astrbot) = &spec.astrbot else {
        if let Some(first) = spec.tenants.first() {
            diags.push(
                Diagnostic::error(
                    "P0103",
                    "tenants are declared but `[astrbot]`, their instance template, is missing",
                )
                .at(first.origin, "first tenant")
                .help("add an `[astrbot]` table with the instance image, size and max_instances"),
            );
        }
        return;
    };
    check_size_ref(spec, &astrbot.size, diags);
    check_secret_refs(spec, &astrbot.secrets, diags);
    let targets = known_targets(spec);
    for target in &astrbot.talks_to {
        check_reference(target, "service or data store", &targets, diags);
    }
    let ceiling = astrbot.max_instances.value;
    if spec.tenants.len() as i64 > ceiling {
        let first_over = &spec.tenants[ceiling as usize];
        let d = Diagnostic::error(
            "P0205",
            format!(
                "{} tenants are declared but at most {ceiling} AstrBot instance{} may run",
                spec.tenants.len(),
                if ceiling == 1 { "" } else { "s" }
            ),
        )
        .at(
            first_over.origin,
            format!("tenant number {} is over the ceiling", ceiling + 1),
        )
        .also(astrbot.max_instances.origin, "the ceiling")
        .help("raise `astrbot.max_instances` (and the cluster's capacity) or remove tenants");
        diags.push(d);
    }
    for tenant in &spec.tenants {
        let name = Located {
            value: tenant.name.clone(),
            origin: tenant.origin,
            replaced: None,
        };
        let path = format!("tenants.{}", tenant.name);
        if check_tenant_name(&name, &path, diags) && tenant.name.len() + TENANT_PREFIX.len() > 63 {
            diags.push(name.diagnostic(
                Diagnostic::error("P0207", format!("tenant name `{}` is too long", tenant.name))
                    .help(format!("tenant objects are named `{TENANT_PREFIX}<tenant>`, which must fit in 63 characters: use at most {} characters", 63 - TENANT_PREFIX.len())),
                "too long",
            ));
        }
        if let Some(size) = &tenant.value.size {
            check_size_ref(spec, size, diags);
        }
    }
}

/// Configuration keys become environment variables.
fn check_config_keys(spec: &Spec, diags: &mut Diagnostics) {
    let derived = crate::lower::config::derived_keys(spec);
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
        if let Some((_, from)) = derived.iter().find(|(k, _)| k == key) {
            diags.push(
                Diagnostic::error("P0210", format!("configuration key `{key}` is derived from `{from}` and cannot be set by hand"))
                    .at(entry.origin, "set by hand")
                    .help(format!("change `{from}` instead, or remove this key")),
            );
        }
    }
}

fn check_data_stores(spec: &Spec, diags: &mut Diagnostics) {
    if let Some(pg) = &spec.postgresql {
        check_dns_label(&pg.name, "postgresql.name", diags);
        check_size_ref(spec, &pg.size, diags);
        check_instances_fit_nodes(spec, &pg.instances, diags);
        if let Some(backup) = &pg.backup {
            check_cron(&backup.schedule, diags);
            if spec.minio.is_none() {
                diags.push(
                    Diagnostic::error(
                        "P0204",
                        "postgresql.backup needs `[minio]` to store backups in",
                    )
                    .at(backup.schedule.origin, "backup declared here")
                    .help("declare `[minio]` or remove the backup"),
                );
            }
        }
    }
    if let Some(redis) = &spec.redis {
        check_dns_label(&redis.name, "redis.name", diags);
        check_size_ref(spec, &redis.size, diags);
        if let Some(key) = &redis.password_key {
            check_secret_refs(spec, std::slice::from_ref(key), diags);
        }
    }
    if let Some(minio) = &spec.minio {
        check_dns_label(&minio.name, "minio.name", diags);
        check_size_ref(spec, &minio.size, diags);
        check_secret_refs(
            spec,
            &[minio.access_key.clone(), minio.secret_key.clone()],
            diags,
        );
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
                .help("lower `postgresql.instances` to at most `environment.nodes`, or add nodes"),
                "more instances than nodes",
            ),
        );
    }
}

/// A tenant's id is a DNS-1123 label (it may start with a digit: its objects are named
/// `astrbot-<tenant>`, which starts with a letter).
fn check_tenant_name(name: &Located<String>, path: &str, diags: &mut Diagnostics) -> bool {
    let Err(broken) = crate::rules::names::dns1123_label(&name.value) else {
        return true;
    };
    diags.push(
        name.diagnostic(
            Diagnostic::error(
                "P0207",
                format!("`{path}`: `{}` is not a valid name", name.value),
            )
            .help(format!(
                "tenant ids become object names and labels: {}",
                broken.rule
            )),
            "invalid name",
        ),
    );
    false
}

/// A five-field cron expression (names such as `MON-FRI` allowed), as the seed writes it. The
/// schedule becomes CloudNativePG's six-field form, so a macro is not taken here.
fn check_cron(schedule: &Located<String>, diags: &mut Diagnostics) {
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
