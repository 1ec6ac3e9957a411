//! The typed platform spec: what `platform.toml` plus one environment overlay mean.

mod quantity;
pub mod read;

pub use quantity::{Quantity, QuantityKind};
pub use read::read_spec;

use crate::decode::{Located, Named};
use crate::source::Origin;

/// The whole platform for one environment.
#[derive(Clone, Debug)]
pub struct Spec {
    pub platform: Platform,
    pub environment: Environment,
    pub defaults: Defaults,
    pub sizes: Vec<Named<Size>>,
    pub services: Vec<Named<Service>>,
    pub release: Release,
    pub ingress: Option<Ingress>,
    pub network: Network,
    pub config: Vec<Named<Located<String>>>,
    pub secrets: Secrets,
    pub postgresql: Option<Postgres>,
    pub redis: Option<Redis>,
    pub minio: Option<Minio>,
    pub astrbot: Option<AstrBot>,
    pub tenants: Vec<Named<Tenant>>,
    pub observe: crate::observe::Observability,
    pub waivers: Vec<Waiver>,
}

#[derive(Clone, Debug)]
pub struct Platform {
    pub name: Located<String>,
    pub team: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MonitoringLevel {
    Basic,
    Complete,
    Production,
    Comprehensive,
}

impl MonitoringLevel {
    pub const NAMES: [&'static str; 4] = ["basic", "complete", "production", "comprehensive"];

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "basic" => MonitoringLevel::Basic,
            "complete" => MonitoringLevel::Complete,
            "production" => MonitoringLevel::Production,
            "comprehensive" => MonitoringLevel::Comprehensive,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// What an overlay's `[environment]` table says: where this environment runs.
#[derive(Clone, Debug)]
pub struct Environment {
    /// From the overlay's file name.
    pub name: String,
    pub namespace: Located<String>,
    pub context: Located<String>,
    pub cluster: String,
    pub nodes: i64,
    pub monitoring: MonitoringLevel,
    pub data: String,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct Probe {
    pub path: String,
    pub initial_delay: i64,
    pub period: i64,
    pub timeout: i64,
    pub failures: i64,
}

/// Settings every service shares unless it says otherwise.
#[derive(Clone, Debug)]
pub struct Defaults {
    pub port: i64,
    pub liveness: Probe,
    pub readiness: Probe,
    pub pre_stop_seconds: i64,
    pub termination_grace_seconds: i64,
    pub max_surge: String,
    pub max_unavailable: String,
    pub run_as_user: i64,
    pub image_pull_policy: String,
    pub revision_history: i64,
}

#[derive(Clone, Debug)]
pub struct Resources {
    pub cpu: Located<Quantity>,
    pub memory: Located<Quantity>,
}

#[derive(Clone, Debug)]
pub struct Size {
    pub requests: Resources,
    pub limits: Resources,
}

#[derive(Clone, Debug)]
pub struct Autoscaling {
    pub min: Located<i64>,
    pub max: Located<i64>,
    pub cpu_percent: Option<i64>,
    pub memory_percent: Option<i64>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct Service {
    pub image: Located<String>,
    pub next_image: Option<Located<String>>,
    pub replicas: Located<i64>,
    pub size: Located<String>,
    pub port: i64,
    pub component: String,
    pub description: Option<String>,
    pub talks_to: Vec<Located<String>>,
    pub secrets: Vec<Located<String>>,
    pub autoscaling: Option<Autoscaling>,
    pub needs_service_account_token: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Rolling,
    BlueGreen,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    Blue,
    Green,
}

impl Color {
    pub fn as_str(self) -> &'static str {
        match self {
            Color::Blue => "blue",
            Color::Green => "green",
        }
    }

    pub fn other(self) -> Color {
        match self {
            Color::Blue => Color::Green,
            Color::Green => Color::Blue,
        }
    }
}

/// How new versions of the services reach users.
#[derive(Clone, Debug)]
pub struct Release {
    pub strategy: Strategy,
    pub active: Color,
}

#[derive(Clone, Debug)]
pub struct Ingress {
    pub class: String,
    pub host: Located<String>,
    pub tls_issuer: String,
    pub tls_secret: String,
    pub rate_limit_rps: Option<i64>,
    pub backend: Located<String>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct Network {
    pub ingress_controller_namespace: String,
    pub monitoring_namespace: String,
    pub dns_namespace: String,
    /// CIDR that reaches the Kubernetes API server, for operators' pods that need it.
    pub api_server_cidr: String,
    pub allow_from_kube_system: bool,
    /// Where the CloudNativePG operator runs (it reaches the instances' status port).
    pub cnpg_operator_namespace: String,
    /// Where the opstree redis-operator runs (it reaches Redis to form the cluster).
    pub redis_operator_namespace: String,
}

/// How the secret store addresses one value, which decides an ExternalSecret's `remoteRef`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretAddressing {
    /// Each key is its own remote secret, `<remote_prefix>/<KEY>`, whose whole value is the value
    /// (plain-text secrets).
    Key,
    /// One remote secret, `<remote_prefix>`, a JSON document with one property per key (Vault KV and
    /// JSON secrets: without `property` the whole document would arrive as the value).
    Property,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretProvider {
    /// A Secret created outside plat; plat only references it.
    Existing,
    /// An ExternalSecret that the External Secrets Operator fills from a store.
    ExternalSecrets,
}

#[derive(Clone, Debug)]
pub struct Secrets {
    pub name: String,
    pub provider: SecretProvider,
    pub store: Option<Located<String>>,
    pub store_kind: String,
    pub remote_prefix: String,
    pub addressing: SecretAddressing,
    pub refresh_interval: String,
    pub keys: Vec<Located<String>>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct Storage {
    pub size: Located<Quantity>,
    pub class: String,
}

#[derive(Clone, Debug)]
pub struct Backup {
    pub schedule: Located<String>,
    pub retention_days: i64,
    pub bucket: String,
    pub path: String,
}

#[derive(Clone, Debug)]
pub struct Postgres {
    pub name: Located<String>,
    pub instances: Located<i64>,
    pub image: Located<String>,
    pub database: String,
    pub owner: String,
    pub port: i64,
    pub host: Option<String>,
    pub size: Located<String>,
    pub storage: Storage,
    pub monitoring: bool,
    pub parameters: Vec<Named<Located<String>>>,
    pub backup: Option<Backup>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct Redis {
    pub name: Located<String>,
    pub cluster_size: Located<i64>,
    pub image: Located<String>,
    pub exporter_image: Option<Located<String>>,
    pub port: i64,
    pub host: Option<String>,
    pub size: Located<String>,
    pub storage: Storage,
    pub password_key: Option<Located<String>>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct Minio {
    pub name: Located<String>,
    pub replicas: Located<i64>,
    pub image: Located<String>,
    pub size: Located<String>,
    pub storage: Storage,
    pub access_key: Located<String>,
    pub secret_key: Located<String>,
    pub origin: Origin,
}

/// The template of the per-tenant AstrBot instances.
#[derive(Clone, Debug)]
pub struct AstrBot {
    pub image: Located<String>,
    pub size: Located<String>,
    pub port: i64,
    pub max_instances: Located<i64>,
    pub talks_to: Vec<Located<String>>,
    pub secrets: Vec<Located<String>>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct Tenant {
    pub display_name: Option<String>,
    pub plan: String,
    pub size: Option<Located<String>>,
}

impl Spec {
    pub fn size(&self, name: &str) -> Option<&Size> {
        self.sizes.iter().find(|s| s.name == name).map(|s| &s.value)
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.name == name)
            .map(|s| &s.value)
    }
}

/// `[[waivers]]`: one check switched off at one place, with the reason shown in the output.
#[derive(Clone, Debug)]
pub struct Waiver {
    pub check: Located<String>,
    /// A key path such as `logging` or `services.api-gateway`.
    pub at: Located<String>,
    pub reason: String,
    pub origin: Origin,
}
