//! The inventory: what plat knows about every workload, fleet, data store and external endpoint of a
//! spec (hosts, ports, selectors, scrape jobs), computed from the spec alone. Lowering, the network
//! policies and the observability sections read it, and templates (`env`, `[config]`) are evaluated
//! against it with strict undefined: `{{ stores.db.host }}`.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value, json};

use crate::decode::Located;
use crate::diag::{Diagnostic, did_you_mean};
use crate::kit::string_map;
use crate::spec::{Spec, Store, StoreKind, Workload};

/// The label every pod of plat carries with its workload (or fleet, or store) name.
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// Fleet instances carry their id under this label.
pub const FLEET_INSTANCE_LABEL: &str = "plat.dev/instance";
/// The Service label whose value Prometheus uses as the `job` of every target behind it.
pub const JOB_LABEL: &str = "plat.dev/job";

/// CloudNativePG always serves PostgreSQL on 5432; its instance manager's status port is 8000.
pub const POSTGRES_PORT: i64 = 5432;
pub const POSTGRES_STATUS_PORT: i64 = 8000;
pub const POSTGRES_METRICS_PORT: i64 = 9187;
pub const REDIS_PORT: i64 = 6379;
pub const REDIS_BUS_PORT: i64 = 16379;
pub const REDIS_EXPORTER_PORT: i64 = 9121;
pub const OBJECT_STORAGE_PORT: i64 = 9000;

#[cfg(test)]
mod tests {
    use super::bare_instance_use;

    #[test]
    fn bare_uses_of_instance_facts() {
        assert!(bare_instance_use("tenants/{{ instance.id }}/"));
        assert!(bare_instance_use(
            "{{ instance.vars.display_name }} on {{ stores.db.host }}"
        ));
        assert!(!bare_instance_use("{{ instance.id | upper }}"));
        assert!(!bare_instance_use("{{ instance.vars['display name'] }}"));
        assert!(!bare_instance_use("{% if instance.plan %}x{% endif %}"));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointKind {
    Workload,
    Fleet,
    Store,
    External,
}

/// Something `talks_to` can name.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub key: String,
    pub kind: EndpointKind,
    /// The pods behind it (a label selector), or `None` for an external endpoint.
    pub selector: Option<Value>,
    /// The ports its pods listen on (what a client's egress and its own ingress allow), with the
    /// transport protocol.
    pub ports: Vec<(i64, &'static str)>,
    /// Outside the cluster: CIDRs.
    pub cidrs: Vec<String>,
}

/// The facts of one spec.
pub struct Inventory {
    pub endpoints: Vec<Endpoint>,
    context: Map<String, Value>,
    jinja: minijinja::Value,
    /// Templates compiled once, by their text: a fleet's env templates render once per instance.
    templates: std::cell::RefCell<Environment<'static>>,
}

pub fn service_host(name: &str, namespace: &str) -> String {
    format!("{name}.{namespace}.svc.cluster.local")
}

/// The name of the Secret CloudNativePG bootstraps the application owner from.
pub fn database_credentials_name(cluster: &str) -> String {
    format!("{cluster}-app-credentials")
}

/// A fleet instance's object name.
pub fn instance_name(fleet: &str, id: &str) -> String {
    format!("{fleet}-{id}")
}

/// The selector of a workload's pods.
pub fn workload_selector(name: &str) -> Value {
    json!({ "matchLabels": { NAME_LABEL: name } })
}

/// The selector of a store's pods, as its operator or plat labels them.
pub fn store_selector(store: &Store) -> Value {
    let name = store.name.as_str();
    match &store.kind {
        StoreKind::Postgres(_) => json!({ "matchLabels": { "cnpg.io/cluster": name } }),
        // The opstree operator labels leader pods `app: <name>-leader`, followers `<name>-follower`.
        StoreKind::RedisCluster(_) => json!({ "matchExpressions": [{
            "key": "app",
            "operator": "In",
            "values": [format!("{name}-follower"), format!("{name}-leader")],
        }] }),
        StoreKind::Redis(_) | StoreKind::ObjectStorage(_) => {
            json!({ "matchLabels": { NAME_LABEL: store.kind.name(), INSTANCE_LABEL: name } })
        }
    }
}

/// The ports a store's clients connect to.
pub fn store_ports(store: &Store) -> Vec<i64> {
    match &store.kind {
        StoreKind::Postgres(_) => vec![POSTGRES_PORT],
        StoreKind::RedisCluster(_) => vec![REDIS_PORT],
        StoreKind::Redis(r) => vec![r.port],
        StoreKind::ObjectStorage(_) => vec![OBJECT_STORAGE_PORT],
    }
}

fn store_facts(store: &Store, namespace: &str) -> Value {
    let name = store.name.as_str();
    let mut facts = json!({ "name": name, "kind": store.kind.name(), "namespace": namespace });
    let (host, port) = match &store.kind {
        StoreKind::Postgres(pg) => {
            facts["database"] = json!(pg.database);
            facts["user"] = json!(pg.owner);
            facts["credentials_secret"] = json!(database_credentials_name(name));
            (
                service_host(&format!("{name}-rw"), namespace),
                POSTGRES_PORT,
            )
        }
        StoreKind::RedisCluster(_) => (
            service_host(&format!("{name}-leader"), namespace),
            REDIS_PORT,
        ),
        StoreKind::Redis(r) => (service_host(name, namespace), r.port),
        StoreKind::ObjectStorage(_) => (service_host(name, namespace), OBJECT_STORAGE_PORT),
    };
    if matches!(store.kind, StoreKind::ObjectStorage(_)) {
        facts["endpoint"] = json!(format!("http://{host}:{port}"));
    }
    facts["host"] = json!(host);
    facts["port"] = json!(port);
    facts
}

fn workload_facts(name: &str, workload: &Workload, namespace: &str) -> Value {
    let ports: Map<String, Value> = workload
        .service_ports()
        .map(|p| (p.name.clone(), json!(p.service_port)))
        .collect();
    let mut facts = json!({
        "name": name,
        "kind": workload.kind.as_str(),
        "namespace": namespace,
        "image": workload.image.value,
        "replicas": workload.replicas.value,
        "component": workload.component,
    });
    if workload.has_service() {
        facts["host"] = json!(service_host(name, namespace));
        if let Some(first) = workload.service_ports().next() {
            facts["port"] = json!(first.service_port);
        }
        facts["ports"] = Value::Object(ports);
    }
    facts
}

fn pod_ports(workload: &Workload) -> Vec<(i64, &'static str)> {
    workload
        .ports()
        .iter()
        .map(|p| (p.port.value, p.protocol.transport()))
        .collect()
}

impl Inventory {
    pub fn of(spec: &Spec) -> Inventory {
        let namespace = spec.environment.namespace.as_str();
        let mut endpoints = Vec::new();
        let mut services = Map::new();
        for w in &spec.workloads {
            services.insert(w.name.clone(), workload_facts(&w.name, &w.value, namespace));
            endpoints.push(Endpoint {
                key: w.name.clone(),
                kind: EndpointKind::Workload,
                selector: Some(workload_selector(&w.name)),
                ports: pod_ports(&w.value),
                cidrs: Vec::new(),
            });
        }
        let mut fleets = Map::new();
        for f in &spec.fleets {
            let port = f
                .value
                .template
                .service_ports()
                .next()
                .map(|p| p.service_port);

            fleets.insert(
                f.name.clone(),
                json!({
                    "name": f.name,
                    "namespace": namespace,
                    "image": f.value.template.image.value,
                    "port": port,
                    "max_instances": f.value.max_instances.value,
                    "instances": f.value.instances.len(),
                    "job": fleet_job(&f.name, &f.value),
                }),
            );
            endpoints.push(Endpoint {
                key: f.name.clone(),
                kind: EndpointKind::Fleet,
                selector: Some(workload_selector(&f.name)),
                ports: pod_ports(&f.value.template),
                cidrs: Vec::new(),
            });
        }
        let mut stores = Map::new();
        for s in &spec.stores {
            stores.insert(s.name.clone(), store_facts(&s.value, namespace));
            endpoints.push(Endpoint {
                key: s.name.clone(),
                kind: EndpointKind::Store,
                selector: Some(store_selector(&s.value)),
                ports: store_ports(&s.value)
                    .into_iter()
                    .map(|p| (p, "TCP"))
                    .collect(),
                cidrs: Vec::new(),
            });
        }
        let mut external = Map::new();
        for e in &spec.network.external {
            let cidrs: Vec<String> = e.value.cidrs.iter().map(|c| c.value.clone()).collect();
            external.insert(
                e.name.clone(),
                json!({ "name": e.name, "cidrs": cidrs, "ports": e.value.ports }),
            );
            endpoints.push(Endpoint {
                key: e.name.clone(),
                kind: EndpointKind::External,
                selector: None,
                ports: e.value.ports.iter().map(|p| (*p, "TCP")).collect(),
                cidrs,
            });
        }
        let env = &spec.environment;
        let mut context = Map::new();
        context.insert(
            "platform".into(),
            json!({ "name": spec.platform.name.value, "team": spec.platform.team }),
        );
        context.insert(
            "environment".into(),
            json!({
                "name": env.name,
                "namespace": namespace,
                "cluster": env.cluster,
                "context": env.context.value,
                "nodes": env.nodes,
                "monitoring": env.monitoring.as_str(),
            }),
        );
        context.insert("services".into(), Value::Object(services));
        context.insert("fleets".into(), Value::Object(fleets));
        context.insert("stores".into(), Value::Object(stores));
        context.insert("external".into(), Value::Object(external));
        // Converted once: a template's render then costs no copy of the facts, however many
        // instances the fleets have.
        let jinja = minijinja::Value::from(minijinja::value::Serde(&context));
        let mut templates = Environment::new();
        templates.set_undefined_behavior(UndefinedBehavior::Strict);
        Inventory {
            endpoints,
            context,
            jinja,
            templates: std::cell::RefCell::new(templates),
        }
    }

    pub fn endpoint(&self, key: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.key == key)
    }

    /// The facts templates see, as JSON (for documentation and the extra-object templates).
    pub fn context(&self) -> &Map<String, Value> {
        &self.context
    }

    /// Evaluates a value that may be a template. `instance` adds `instance.*` for fleet templates.
    /// Text without `{{` or `{%` is returned as it is.
    pub fn render(
        &self,
        text: &Located<String>,
        instance: Option<&Value>,
    ) -> Result<String, Box<Diagnostic>> {
        if !text.contains("{{") && !text.contains("{%") {
            return Ok(text.value.clone());
        }
        let jinja = match instance {
            Some(instance) => minijinja::context! {
                instance => minijinja::Value::from(minijinja::value::Serde(instance)),
                ..self.jinja.clone()
            },
            None => self.jinja.clone(),
        };
        let explain = |e: minijinja::Error| {
            let mut context = self.context.clone();
            if let Some(instance) = instance {
                context.insert("instance".into(), instance.clone());
            }
            Box::new(self.template_error(text, &e, &Value::Object(context)))
        };
        let mut env = self.templates.borrow_mut();
        if env.get_template(text.as_str()).is_err() {
            env.add_template_owned(text.value.clone(), text.value.clone())
                .map_err(explain)?;
        }
        let template = env.get_template(text.as_str()).map_err(explain)?;
        template.render(jinja).map_err(explain)
    }

    fn template_error(
        &self,
        text: &Located<String>,
        error: &minijinja::Error,
        context: &Value,
    ) -> Diagnostic {
        let unknown = env_paths(text.as_str())
            .into_iter()
            .find_map(|path| missing_segment(context, &path));
        let mut d = Diagnostic::error(
            "P0214",
            match &unknown {
                Some((path, _)) => format!("unknown reference `{path}` in a template"),
                None => format!(
                    "template error: {}",
                    error.detail().unwrap_or(&error.to_string())
                ),
            },
        );
        d = text.diagnostic(d, "in this value");
        match unknown {
            Some((_, Some(close))) => d.help(format!("did you mean `{close}`?")),
            Some((_, None)) | None => d.help(
                "templates see platform, environment, services, fleets, stores, external (and instance in a fleet): see the README",
            ),
        }
    }
}

/// All configuration values, sorted by key; templates were checked by `validate`.
pub fn platform_config(spec: &Spec, inventory: &Inventory) -> Vec<(String, String)> {
    let mut items: Vec<(String, String)> = spec
        .config
        .iter()
        .map(|e| {
            let value = inventory
                .render(&e.value, None)
                .unwrap_or_else(|_| e.value.value.clone());
            (e.name.clone(), value)
        })
        .collect();
    items.sort();
    items
}

/// Every instance of a fleet with its object name, plan, host and port: for the templates of extra
/// objects, which may iterate over them. Kept out of [`Inventory`], whose context every `env`
/// template renders against, so that a 10,000-instance fleet costs no per-render copy.
pub fn fleet_instances(spec: &Spec, fleet: &crate::decode::Named<crate::spec::Fleet>) -> Value {
    let namespace = spec.environment.namespace.as_str();
    let port = fleet
        .value
        .template
        .service_ports()
        .next()
        .map(|p| p.service_port);
    let instances: Vec<Value> = fleet
        .value
        .instances
        .iter()
        .map(|i| {
            let name = instance_name(&fleet.name, &i.name);
            json!({
                "id": i.name,
                "name": name,
                "plan": i.value.plan.as_ref().map(|p| p.value.clone()),
                "host": service_host(&name, namespace),
                "port": port,
            })
        })
        .collect();
    Value::Array(instances)
}

/// Whether every use of `instance` in a template is a bare `{{ instance.id }}`, `{{ instance.name }}`,
/// `{{ instance.plan }}` or `{{ instance.vars.<key> }}`: then the template's output for an instance is
/// its output for a placeholder instance with the values put in, and it renders for every instance
/// that has the same plan and the same var keys. Anything else (a filter, a test, a loop) is not.
pub fn bare_instance_use(source: &str) -> bool {
    if source.contains("{%") && source.contains("instance") {
        return false;
    }
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            return false;
        };
        let expr = rest[start + 2..start + len].trim();
        if expr.contains("instance") {
            let bare = match expr.strip_prefix("instance.") {
                Some("id" | "name" | "plan") => true,
                Some(other) => other.strip_prefix("vars.").is_some_and(|key| {
                    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                }),
                None => false,
            };
            if !bare {
                return false;
            }
        }
        rest = &rest[start + len + 2..];
    }
    true
}

/// The scrape job of a fleet's instances: one job for the whole fleet.
pub fn fleet_job(name: &str, fleet: &crate::spec::Fleet) -> String {
    fleet.job.clone().unwrap_or_else(|| name.to_string())
}

/// The dotted variable paths a template reads (`stores.db.host`), as minijinja sees them.
fn env_paths(source: &str) -> Vec<String> {
    let env = Environment::new();
    let Ok(template) = env.template_from_str(source) else {
        return Vec::new();
    };
    let mut paths: Vec<String> = template.undeclared_variables(true).into_iter().collect();
    paths.sort();
    paths
}

/// The first segment of `path` that the context does not have, with the closest sibling.
fn missing_segment(context: &Value, path: &str) -> Option<(String, Option<String>)> {
    let mut at = context;
    let mut walked = Vec::new();
    for segment in path.split('.') {
        walked.push(segment);
        match at.get(segment) {
            Some(next) => at = next,
            None => {
                let close = at.as_object().and_then(|map| {
                    did_you_mean(segment, map.keys().map(String::as_str)).map(|c| {
                        let mut p = walked[..walked.len() - 1].to_vec();
                        p.push(c);
                        p.join(".")
                    })
                });
                return Some((walked.join("."), close));
            }
        }
    }
    None
}

/// A fleet instance as its templates see it.
pub fn instance_facts(
    fleet: &str,
    id: &str,
    plan: Option<&str>,
    vars: &[(String, String)],
) -> Value {
    json!({
        "id": id,
        "name": instance_name(fleet, id),
        "plan": plan,
        "vars": string_map(vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    })
}
