//! The inventory: what plat knows about every workload, fleet, data store and external endpoint of a
//! spec (hosts, ports, selectors, scrape jobs), computed from the spec alone. Lowering, the network
//! policies and the observability sections read it, and templates (`env`, `[config]`) are evaluated
//! against it with strict undefined: `{{ stores.db.host }}`.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value, json};

use crate::decode::Located;
use crate::diag::{Diagnostic, did_you_mean};
use crate::kit::string_map;
use crate::spec::{Postgres, SecretProvider, Spec, Store, StoreKind, Workload};

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
    use super::{bare_instance_use, cluster_service, url_host_port};

    #[test]
    fn urls_name_a_host_and_port_and_cluster_names_a_service_and_namespace() {
        assert_eq!(
            url_host_port("http://Manager.prod.svc.cluster.local:8000/webhook"),
            Some(("manager.prod.svc.cluster.local".into(), 8000))
        );
        assert_eq!(
            url_host_port("https://hooks.example.com/x?y=1"),
            Some(("hooks.example.com".into(), 443))
        );
        assert_eq!(url_host_port("http://u@host/x"), Some(("host".into(), 80)));
        assert_eq!(url_host_port("ftp://host/x"), None);
        let service = |host: &str| cluster_service(host, "own");
        assert_eq!(service("manager"), Some(("manager".into(), "own".into())));
        assert_eq!(
            service("manager.prod.svc"),
            Some(("manager".into(), "prod".into()))
        );
        assert_eq!(
            service("manager.prod.svc.cluster.local"),
            Some(("manager".into(), "prod".into()))
        );
        assert_eq!(service("hooks.slack.com"), None);
    }

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
    /// Where the alerts go, worked out once: resolving a URL looks through every Service, and a
    /// fleet has one per instance.
    destinations: std::cell::OnceCell<Vec<UrlTarget>>,
}

pub fn service_host(name: &str, namespace: &str) -> String {
    format!("{name}.{namespace}.svc.cluster.local")
}

/// The name of the Secret CloudNativePG bootstraps the application owner from, when plat makes it.
pub fn database_credentials_name(cluster: &str) -> String {
    format!("{cluster}-app-credentials")
}

/// Whether plat makes a PostgreSQL store's owner credentials: an ExternalSecret from the store's
/// password key. Otherwise nothing would create a Secret the Cluster named and it could never start,
/// so the Cluster names none and CloudNativePG generates `<cluster>-app` itself.
pub fn plat_makes_database_credentials(provider: SecretProvider, pg: &Postgres) -> bool {
    provider == SecretProvider::ExternalSecrets && pg.password_key.is_some()
}

/// The Secret that holds a PostgreSQL store's owner credentials (`username`, `password`).
pub fn database_credentials_secret(
    provider: SecretProvider,
    cluster: &str,
    pg: &Postgres,
) -> String {
    if plat_makes_database_credentials(provider, pg) {
        database_credentials_name(cluster)
    } else {
        format!("{cluster}-app")
    }
}

/// Where a key of `[secrets]` really lives: with `existing` secrets, a PostgreSQL store's password key
/// is the password CloudNativePG generated (`<cluster>-app`, key `password`), so that the workloads
/// read the password the database has. `None`: the platform's Secret, under the key's own name.
pub fn generated_secret_key(spec: &Spec, key: &str) -> Option<(String, &'static str)> {
    if spec.secrets.provider != SecretProvider::Existing {
        return None;
    }
    spec.stores.iter().find_map(|s| match &s.value.kind {
        StoreKind::Postgres(pg) if pg.password_key.as_ref().is_some_and(|k| k.value == key) => {
            Some((format!("{}-app", s.value.name.value), "password"))
        }
        _ => None,
    })
}

/// A fleet instance's object name.
pub fn instance_name(fleet: &str, id: &str) -> String {
    format!("{fleet}-{id}")
}

/// The selector of a workload's pods.
pub fn workload_selector(name: &str) -> Value {
    json!({ "matchLabels": { NAME_LABEL: name } })
}

/// The selector of every instance's pods of a fleet: the fleet's name, and an instance id, which
/// only instances' pods carry.
pub fn fleet_instances_selector(fleet: &str) -> Value {
    json!({
        "matchLabels": { NAME_LABEL: fleet },
        "matchExpressions": [{ "key": FLEET_INSTANCE_LABEL, "operator": "Exists" }],
    })
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

fn store_facts(store: &Store, namespace: &str, provider: SecretProvider) -> Value {
    let name = store.name.as_str();
    let mut facts = json!({ "name": name, "kind": store.kind.name(), "namespace": namespace });
    let (host, port) = match &store.kind {
        StoreKind::Postgres(pg) => {
            facts["database"] = json!(pg.database);
            facts["user"] = json!(pg.owner);
            facts["credentials_secret"] = json!(database_credentials_secret(provider, name, pg));
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
            stores.insert(
                s.name.clone(),
                store_facts(&s.value, namespace, spec.secrets.provider),
            );
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
            destinations: std::cell::OnceCell::new(),
        }
    }

    /// [`alerting_destinations`] of the spec this inventory was made of, computed on first use.
    pub fn destinations(&self, spec: &Spec) -> &[UrlTarget] {
        self.destinations
            .get_or_init(|| alerting_destinations(spec, self))
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

/// The ports of a Prometheus Operator Alertmanager's pods: the web API Prometheus posts alerts to, and
/// the cluster (gossip) port its peers talk on over both TCP and UDP.
pub const ALERTMANAGER_WEB_PORT: i64 = 9093;
pub const ALERTMANAGER_MESH_PORT: i64 = 9094;

/// The Alertmanager that runs the platform's routing (`[alerting.alertmanager]`), as the objects and
/// policies that involve it name it.
#[derive(Clone, Debug)]
pub struct AlertingFacts {
    /// The `Alertmanager` resource.
    pub name: String,
    /// Where it runs, and so where its configuration and credentials must be.
    pub namespace: String,
    /// True when plat runs it (an `Alertmanager` in the platform's namespace); false for a hand-off.
    pub managed: bool,
    /// The Secret holding `alertmanager.yaml`: the operator's default name for the resource.
    pub config_secret: String,
    /// The Secret of the credential files (`spec.secrets`): only the keys the routing references, so
    /// that the Alertmanager never mounts the databases' or MinIO's keys. With External Secrets plat
    /// fetches it; with `existing` secrets it is made by hand, like the platform's Secret.
    pub credentials_secret: String,
    /// The keys of `[secrets]` the configuration reads as files, in order: the SMTP password and the
    /// Slack webhooks of the receivers this environment keeps.
    pub secret_keys: Vec<String>,
}

pub fn alerting_facts(spec: &Spec) -> Option<AlertingFacts> {
    let setup = &spec.observe.routing.as_ref()?.alertmanager;
    let name = setup
        .name
        .as_ref()
        .map_or_else(|| spec.platform.name.value.clone(), |n| n.value.clone());
    let namespace = setup.existing_namespace.as_ref().map_or_else(
        || spec.environment.namespace.value.clone(),
        |n| n.value.clone(),
    );
    let credentials_secret = format!("alertmanager-{name}-credentials");
    let routing = spec.observe.routing.as_ref()?;
    // Basic environments leave paging receivers out, and their keys with them.
    let smtp = routing
        .smtp
        .iter()
        .filter_map(|s| s.password_secret.as_ref());
    let slack = routing
        .receivers
        .iter()
        .filter(|r| !receiver_left_out(spec, r.value.pages()))
        .filter_map(|r| r.value.slack.as_ref().map(|s| &s.webhook_secret));
    let mut secret_keys: Vec<String> = Vec::new();
    for key in smtp.chain(slack) {
        if !secret_keys.contains(&key.value) {
            secret_keys.push(key.value.clone());
        }
    }
    Some(AlertingFacts {
        secret_keys,
        config_secret: format!("alertmanager-{name}"),
        managed: setup.existing_namespace.is_none(),
        name,
        namespace,
        credentials_secret,
    })
}

/// The pods the Prometheus Operator runs for the `Alertmanager` named `name` (its selector labels).
pub fn alertmanager_selector(name: &str) -> Value {
    json!({ "matchLabels": { NAME_LABEL: "alertmanager", "alertmanager": name } })
}

/// The host and port an http(s) URL names, the scheme's port when it names none.
pub fn url_host_port(url: &str) -> Option<(String, i64)> {
    let (rest, default_port) = match url.split_once("://") {
        Some(("http", rest)) => (rest, 80),
        Some(("https", rest)) => (rest, 443),
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<i64>().ok()?),
        None => (authority, default_port),
    };
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), port))
}

/// Where a host inside the cluster points: the cluster DNS names `<service>.<namespace>.svc`, with or
/// without `.cluster.local`, and a bare `<service>` in the client's own namespace. `None` for a host
/// outside the cluster.
pub fn cluster_service(host: &str, own_namespace: &str) -> Option<(String, String)> {
    if !host.contains('.') {
        return Some((host.to_string(), own_namespace.to_string()));
    }
    let inner = host
        .strip_suffix(".svc.cluster.local")
        .or_else(|| host.strip_suffix(".svc"))?;
    let (service, namespace) = inner.split_once('.').unwrap_or((inner, ""));
    Some((service.to_string(), namespace.to_string()))
}

/// A Service of the platform's namespace: its name, the endpoint (`talks_to` key) whose pods are
/// behind it, and its ports as (Service port, pod port).
pub struct PlatformService {
    pub name: String,
    pub endpoint: String,
    pub ports: Vec<(i64, i64)>,
}

/// Every Service plat writes into the platform's namespace (or its operators create there).
pub fn platform_services(spec: &Spec) -> Vec<PlatformService> {
    let mut out = Vec::new();
    for w in spec.workloads.iter().filter(|w| w.value.has_service()) {
        out.push(PlatformService {
            name: w.name.clone(),
            endpoint: w.name.clone(),
            ports: service_port_pairs(&w.value),
        });
    }
    for f in spec
        .fleets
        .iter()
        .filter(|f| f.value.template.has_service())
    {
        for i in &f.value.instances {
            out.push(PlatformService {
                name: instance_name(&f.name, &i.name),
                endpoint: f.name.clone(),
                ports: service_port_pairs(&f.value.template),
            });
        }
    }
    for s in &spec.stores {
        let store = &s.value;
        let name = store.name.as_str();
        let names: Vec<String> = match &store.kind {
            StoreKind::Postgres(_) => ["rw", "ro", "r"]
                .iter()
                .map(|suffix| format!("{name}-{suffix}"))
                .collect(),
            StoreKind::RedisCluster(_) => {
                vec![format!("{name}-leader"), format!("{name}-follower")]
            }
            StoreKind::Redis(_) | StoreKind::ObjectStorage(_) => vec![name.to_string()],
        };
        let ports: Vec<(i64, i64)> = store_ports(store).into_iter().map(|p| (p, p)).collect();
        for service in names {
            out.push(PlatformService {
                name: service,
                endpoint: s.name.clone(),
                ports: ports.clone(),
            });
        }
    }
    out
}

fn service_port_pairs(workload: &Workload) -> Vec<(i64, i64)> {
    workload
        .service_ports()
        .map(|p| (p.service_port, p.port.value))
        .collect()
}

/// The namespaces a spec names: the platform's and those of its ingress controller, monitoring, DNS,
/// operators, log agent and Alertmanager. A URL into any other namespace points at nothing declared.
pub fn declared_namespaces(spec: &Spec) -> Vec<String> {
    let network = &spec.network;
    let mut out = vec![
        spec.environment.namespace.value.clone(),
        network.ingress_controller_namespace.clone(),
        network.monitoring_namespace.clone(),
        network.dns_namespace.clone(),
        network.cnpg_operator_namespace.clone(),
        network.redis_operator_namespace.clone(),
        "kube-system".to_string(),
    ];
    if let Some(logging) = &spec.observe.logging {
        out.push(logging.namespace.value.clone());
    }
    if let Some(alerting) = alerting_facts(spec) {
        out.push(alerting.namespace);
    }
    out.sort();
    out.dedup();
    out
}

/// Where a URL an in-cluster client calls resolves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlTarget {
    /// Outside the cluster: the host and port.
    Outside { host: String, port: i64 },
    /// A Service of the platform: the endpoint behind it and the pod port the Service port leads to.
    Platform { endpoint: String, pod_port: i64 },
    /// Another declared namespace, whose Services plat does not know.
    Namespace { namespace: String, port: i64 },
    /// Into the cluster, at nothing declared: what is missing, and the closest declared name.
    Nowhere {
        problem: String,
        close: Option<String>,
    },
}

/// Resolves `url` as a client in `own_namespace` would; `None` when it is not an http(s) URL.
pub fn resolve_url(spec: &Spec, url: &str, own_namespace: &str) -> Option<UrlTarget> {
    let (host, port) = url_host_port(url)?;
    Some(resolve_host(spec, host, port, own_namespace))
}

/// Resolves a host and port as a client in `own_namespace` would.
pub fn resolve_host(spec: &Spec, host: String, port: i64, own_namespace: &str) -> UrlTarget {
    let Some((service, namespace)) = cluster_service(&host, own_namespace) else {
        return UrlTarget::Outside { host, port };
    };
    resolve_service(spec, &host, (&service, &namespace), port).unwrap_or_else(|t| t)
}

fn resolve_service(
    spec: &Spec,
    host: &str,
    (service, namespace): (&str, &str),
    port: i64,
) -> Result<UrlTarget, UrlTarget> {
    let (service, namespace) = (service.to_string(), namespace.to_string());
    let platform_namespace = spec.environment.namespace.as_str();
    if namespace != platform_namespace {
        let declared = declared_namespaces(spec);
        if declared.contains(&namespace) {
            return Ok(UrlTarget::Namespace { namespace, port });
        }
        let close =
            did_you_mean(&namespace, declared.iter().map(String::as_str)).map(str::to_string);
        return Err(UrlTarget::Nowhere {
            problem: format!(
                "`{host}` is in namespace `{namespace}`, which this environment does not declare"
            ),
            close,
        });
    }
    let services = platform_services(spec);
    let Some(found) = services.iter().find(|s| s.name == service) else {
        let close =
            did_you_mean(&service, services.iter().map(|s| s.name.as_str())).map(str::to_string);
        return Err(UrlTarget::Nowhere {
            problem: format!("no Service `{service}` in namespace `{namespace}`"),
            close,
        });
    };
    match found
        .ports
        .iter()
        .find(|(service_port, _)| *service_port == port)
    {
        Some((_, pod_port)) => Ok(UrlTarget::Platform {
            endpoint: found.endpoint.clone(),
            pod_port: *pod_port,
        }),
        None => {
            let ports: Vec<String> = found.ports.iter().map(|(p, _)| p.to_string()).collect();
            Err(UrlTarget::Nowhere {
                problem: format!(
                    "Service `{service}` has no port {port} (it has {})",
                    ports.join(", ")
                ),
                close: found.ports.first().map(|(p, _)| p.to_string()),
            })
        }
    }
}

/// The port Slack's incoming webhooks listen on; their URL is a secret, but always `https://hooks.slack.com/…`.
const SLACK_WEBHOOK_PORT: i64 = 443;

/// Whether an environment leaves a receiver out: basic environments do not page.
pub fn receiver_left_out(spec: &Spec, pages: bool) -> bool {
    pages && spec.environment.monitoring == crate::spec::MonitoringLevel::Basic
}

/// Where the Alertmanager sends notifications: the SMTP server, Slack and every webhook of the
/// receivers this environment keeps, resolved as the Alertmanager's namespace resolves them. A webhook
/// template that does not render is left out (validation reports it).
pub fn alerting_destinations(spec: &Spec, inventory: &Inventory) -> Vec<UrlTarget> {
    let (Some(routing), Some(alerting)) = (&spec.observe.routing, alerting_facts(spec)) else {
        return Vec::new();
    };
    let own = alerting.namespace.as_str();
    let mut out = Vec::new();
    if let Some((host, port)) = routing
        .smtp
        .as_ref()
        .and_then(|s| s.smarthost.rsplit_once(':'))
        .and_then(|(h, p)| Some((h.to_ascii_lowercase(), p.parse::<i64>().ok()?)))
    {
        out.push(resolve_host(spec, host, port, own));
    }
    for receiver in &routing.receivers {
        let r = &receiver.value;
        if receiver_left_out(spec, r.pages()) {
            continue;
        }
        if r.slack.is_some() {
            out.push(UrlTarget::Outside {
                host: "hooks.slack.com".into(),
                port: SLACK_WEBHOOK_PORT,
            });
        }
        if let Some(url) = r
            .webhook
            .as_ref()
            .and_then(|u| inventory.render(u, None).ok())
        {
            out.extend(resolve_url(spec, &url, own));
        }
    }
    let mut unique: Vec<UrlTarget> = Vec::new();
    for target in out {
        if !unique.contains(&target) {
            unique.push(target);
        }
    }
    unique
}

/// The object-storage stores on which `client` (a workload or fleet) has an account, with the account.
pub fn accounts_of<'s>(
    spec: &'s Spec,
    client: &str,
) -> Vec<(
    &'s Store,
    &'s crate::spec::ObjectStorage,
    &'s crate::spec::Account,
)> {
    spec.stores
        .iter()
        .filter_map(|s| match &s.value.kind {
            StoreKind::ObjectStorage(o) => {
                let account = o
                    .accounts
                    .as_ref()?
                    .clients
                    .iter()
                    .find(|c| c.name == client)?;
                Some((&s.value, o, &account.value))
            }
            _ => None,
        })
        .collect()
}

/// The Secret with the credentials of the account `account` (an object's name: a workload, a fleet
/// instance, a database's backups) on the store named `store`.
pub fn account_secret(account: &str, store: &str) -> String {
    format!("{account}-{store}")
}

/// The account a database's backups write with.
pub fn backup_account(cluster: &str) -> String {
    format!("{cluster}-backup")
}

/// Where a key of `[secrets]` is read from by the object `object_name` of the workload or fleet
/// `client`: the password CloudNativePG generated (`generated_secret_key`), the client's own account
/// on an object-storage store whose root keys it names, or the platform's Secret.
pub fn secret_source(spec: &Spec, client: &str, object_name: &str, key: &str) -> (String, String) {
    if let Some((secret, k)) = generated_secret_key(spec, key) {
        return (secret, k.to_string());
    }
    let own = accounts_of(spec, client)
        .into_iter()
        .find(|(_, o, _)| o.access_key.value == key || o.secret_key.value == key);
    match own {
        Some((store, _, _)) => (account_secret(object_name, &store.name), key.to_string()),
        None => (spec.secrets.name.clone(), key.to_string()),
    }
}

/// The name prefix of a restored store's restore-check Jobs (each is this and a hash of what it checks).
pub fn restore_check_prefix(cluster: &str) -> String {
    format!("{cluster}-restore-check")
}

/// The Barman server name a restored cluster writes its own backups under: its name and its
/// environment's, so that it never writes into the archive it was restored from.
pub fn own_server_name(cluster: &str, environment: &str) -> String {
    format!("{cluster}-{environment}")
}
