//! The typed platform spec: what `platform.toml` plus one environment overlay mean.
//!
//! The model is a small vocabulary: workloads of a few kinds (`service`, `worker`, `stateful`, `job`,
//! `cron`, `daemon`) built from composable traits (ports, probes, env, volumes, exposure, scaling),
//! fleets (one instance of a workload template per entry, e.g. per tenant) and named data stores of
//! the kinds plat knows how to run. Nothing here names one platform: the reference platform is data.

mod quantity;
pub mod read;
mod read_fleet;
mod read_store;
mod read_workload;

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
    pub workloads: Vec<Named<Workload>>,
    pub fleets: Vec<Named<Fleet>>,
    pub stores: Vec<Named<Store>>,
    pub release: Release,
    pub ingress: Option<Ingress>,
    pub network: Network,
    /// `[config]`: values of the platform ConfigMap; each may be a template over the platform's facts.
    pub config: Vec<Named<Located<String>>>,
    pub secrets: Secrets,
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
    /// What each node offers pods (`kubectl describe node`: Allocatable), for the capacity check.
    pub node_allocatable: Option<NodeCapacity>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct NodeCapacity {
    pub cpu: Located<Quantity>,
    pub memory: Located<Quantity>,
    pub origin: Origin,
}

/// How a probe asks whether the container is alive or ready.
#[derive(Clone, Debug, PartialEq)]
pub enum ProbeAction {
    Http {
        path: String,
        /// A port name of the container; `None`: the container's first port.
        port: Option<Located<String>>,
        headers: Vec<(String, String)>,
    },
    Grpc {
        port: Option<Located<String>>,
        service: Option<String>,
    },
    Tcp {
        port: Option<Located<String>>,
    },
    Exec {
        command: Vec<String>,
    },
}

/// Probe timings; unset values come from the platform's defaults for the protocol, then Kubernetes'.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Timings {
    pub initial_delay: Option<i64>,
    pub period: Option<i64>,
    pub timeout: Option<i64>,
    pub failures: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// `None`: the default action for the protocol of the container's first port.
    pub action: Option<ProbeAction>,
    pub timings: Timings,
    pub origin: Origin,
}

/// One of a container's three probes: not said (platform default), turned off, or set.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum ProbeSetting {
    #[default]
    Default,
    Off(Origin),
    Set(Probe),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Probes {
    pub liveness: ProbeSetting,
    pub readiness: ProbeSetting,
    pub startup: ProbeSetting,
}

/// The platform's default probes for ports of one protocol.
#[derive(Clone, Debug)]
pub struct ProtocolProbes {
    pub liveness: Option<Probe>,
    pub readiness: Option<Probe>,
    pub startup: Option<Probe>,
}

/// Settings every workload shares unless it says otherwise.
#[derive(Clone, Debug)]
pub struct Defaults {
    /// The container port of a workload that declares none (`port = N` is the one-port shorthand).
    pub port: i64,
    /// Default probes per protocol (`http`, `grpc`, `tcp`); `udp` has none.
    pub probes: Vec<(Protocol, ProtocolProbes)>,
    pub pre_stop_seconds: i64,
    pub termination_grace_seconds: i64,
    pub max_surge: String,
    pub max_unavailable: String,
    pub run_as_user: i64,
    pub image_pull_policy: String,
    pub revision_history: i64,
}

impl Defaults {
    pub fn probes_for(&self, protocol: Protocol) -> Option<&ProtocolProbes> {
        self.probes
            .iter()
            .find(|(p, _)| *p == protocol)
            .map(|(_, probes)| probes)
    }
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

/// What Kubernetes objects a workload becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkloadKind {
    /// A Deployment behind a Service.
    Service,
    /// A Deployment without a Service; probes are optional.
    Worker,
    /// A StatefulSet with a headless Service and volume claim templates.
    Stateful,
    /// A Job that runs to completion (a hook before other workloads roll out).
    Job,
    /// A CronJob.
    Cron,
    /// A DaemonSet: one pod per node.
    Daemon,
}

impl WorkloadKind {
    pub const NAMES: [&'static str; 6] = ["service", "worker", "stateful", "job", "cron", "daemon"];

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "service" => WorkloadKind::Service,
            "worker" => WorkloadKind::Worker,
            "stateful" => WorkloadKind::Stateful,
            "job" => WorkloadKind::Job,
            "cron" => WorkloadKind::Cron,
            "daemon" => WorkloadKind::Daemon,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Kinds whose pods serve through a Service (and so need ports and get default probes).
    pub fn serves(self) -> bool {
        matches!(self, WorkloadKind::Service | WorkloadKind::Stateful)
    }

    /// Kinds whose pods run to completion: no probes, no Service, no disruption budget.
    pub fn runs_to_completion(self) -> bool {
        matches!(self, WorkloadKind::Job | WorkloadKind::Cron)
    }

    /// Kinds with a replica count.
    pub fn has_replicas(self) -> bool {
        matches!(
            self,
            WorkloadKind::Service | WorkloadKind::Worker | WorkloadKind::Stateful
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Grpc,
    Tcp,
    Udp,
}

impl Protocol {
    pub const NAMES: [&'static str; 4] = ["http", "grpc", "tcp", "udp"];

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "http" => Protocol::Http,
            "grpc" => Protocol::Grpc,
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The transport protocol Kubernetes knows.
    pub fn transport(self) -> &'static str {
        match self {
            Protocol::Udp => "UDP",
            _ => "TCP",
        }
    }
}

/// A named port of a container.
#[derive(Clone, Debug)]
pub struct Port {
    pub name: String,
    pub port: Located<i64>,
    /// The port the Service listens on; the container port unless said otherwise.
    pub service_port: i64,
    pub protocol: Protocol,
    /// Whether the Service exposes it.
    pub expose: bool,
    pub origin: Origin,
}

/// The value of one environment variable.
#[derive(Clone, Debug)]
pub enum EnvValue {
    /// A literal or a template over the platform's facts (`{{ stores.db.host }}`).
    Text(Located<String>),
    /// A key of the platform ConfigMap.
    Config(Located<String>),
    /// A key of the platform's secrets, as a variable: an explicit opt-in (files are the default).
    Secret(Located<String>),
}

/// What a container mounts: a volume of the workload at a path.
#[derive(Clone, Debug)]
pub struct Mount {
    pub volume: Located<String>,
    pub path: Located<String>,
    pub read_only: bool,
}

/// One container of a workload's pod: the main one, a sidecar or an init container.
#[derive(Clone, Debug)]
pub struct Container {
    pub image: Option<Located<String>>,
    pub size: Option<Located<String>>,
    pub ports: Vec<Port>,
    pub probes: Probes,
    pub env: Vec<Named<EnvValue>>,
    /// Secret keys mounted as files (each `K` announced as `K_FILE`).
    pub secrets: Vec<Located<String>>,
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub working_dir: Option<String>,
    /// Volumes of the workload mounted into this container besides those with a `path`.
    pub mounts: Vec<Mount>,
    /// Paths on the read-only root file system that get an empty, writable directory.
    pub writable: Vec<Located<String>>,
    /// An init container runs to completion before the others start.
    pub init: bool,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq)]
pub enum VolumeKind {
    /// An empty directory, in memory or on the node's disk.
    Empty {
        size_limit: Option<Located<Quantity>>,
        memory: bool,
    },
    /// A PersistentVolumeClaim; on stateful workloads a claim template (one per pod).
    Persistent {
        size: Located<Quantity>,
        class: Option<String>,
        access: Located<String>,
    },
    /// Files from inline text or from files of the repository, as a ConfigMap.
    Config { files: Vec<ConfigFile> },
    /// Keys of the platform's secrets as files.
    Secret { keys: Vec<Located<String>> },
}

/// One file of a `config` volume: inline `text`, or `file`, a path in the repository that the compile
/// step reads (the reader has no file access).
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigFile {
    pub name: String,
    pub text: String,
    pub file: Option<Located<String>>,
}

#[derive(Clone, Debug)]
pub struct Volume {
    pub kind: VolumeKind,
    /// Where the main container mounts it; `None`: only containers that name it in `mounts`.
    pub path: Option<Located<String>>,
    pub read_only: bool,
    pub origin: Origin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceType {
    ClusterIp,
    LoadBalancer,
    NodePort,
    Headless,
}

impl ServiceType {
    pub const NAMES: [&'static str; 4] = ["ClusterIP", "LoadBalancer", "NodePort", "headless"];

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "ClusterIP" => ServiceType::ClusterIp,
            "LoadBalancer" => ServiceType::LoadBalancer,
            "NodePort" => ServiceType::NodePort,
            "headless" => ServiceType::Headless,
            _ => return None,
        })
    }
}

/// How the workload's Service looks.
#[derive(Clone, Debug)]
pub struct Exposure {
    pub kind: ServiceType,
    pub annotations: Vec<(String, String)>,
    pub external_traffic_policy: Option<String>,
    pub origin: Option<Origin>,
}

#[derive(Clone, Debug, Default)]
pub struct Toleration {
    pub key: Option<String>,
    pub operator: String,
    pub value: Option<String>,
    pub effect: Option<String>,
}

/// Pod-level settings.
#[derive(Clone, Debug, Default)]
pub struct PodSettings {
    pub annotations: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub priority_class: Option<String>,
    pub node_selector: Vec<(String, String)>,
    pub tolerations: Vec<Toleration>,
    /// Topology keys to spread replicas over: `host`, `zone`.
    pub spread: Vec<String>,
    pub termination_grace_seconds: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct AccountSettings {
    pub annotations: Vec<(String, String)>,
    pub token: bool,
}

/// Who the containers run as. Anything short of "restricted" needs a reason.
#[derive(Clone, Debug, Default)]
pub struct Security {
    pub run_as_user: Option<i64>,
    pub run_as_group: Option<i64>,
    pub fs_group: Option<i64>,
    pub read_only_root: bool,
    pub reason: Option<String>,
    pub origin: Option<Origin>,
}

#[derive(Clone, Debug)]
pub struct CronSettings {
    pub schedule: Located<String>,
    pub time_zone: Option<String>,
    pub concurrency: String,
    pub successful_history: i64,
    pub failed_history: i64,
    pub starting_deadline: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct JobSettings {
    pub backoff_limit: i64,
    pub active_deadline: Option<i64>,
    /// Located: a Job the cluster deletes is one plat creates and runs again (P0226).
    pub ttl_after_finished: Option<Located<i64>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RolloutStrategy {
    Rolling,
    Recreate,
}

/// A workload: the main container plus what its pods, Service and scaling look like.
#[derive(Clone, Debug)]
pub struct Workload {
    pub kind: WorkloadKind,
    /// Where `kind` is set: the table when it is the default.
    pub kind_at: Origin,
    pub image: Located<String>,
    pub next_image: Option<Located<String>>,
    pub replicas: Located<i64>,
    pub size: Located<String>,
    pub component: String,
    pub description: Option<String>,
    pub main: Container,
    /// Sidecars and init containers, in spec order.
    pub containers: Vec<Named<Container>>,
    pub volumes: Vec<Named<Volume>>,
    pub exposure: Exposure,
    pub pod: PodSettings,
    pub account: AccountSettings,
    pub security: Security,
    pub autoscaling: Option<Autoscaling>,
    /// Workloads, stores, fleets and external endpoints this workload connects to.
    pub talks_to: Vec<Located<String>>,
    /// Who else may connect: `internet`, `ingress`, `namespace:<name>`.
    pub reachable_from: Vec<Located<String>>,
    pub strategy: Option<Located<RolloutStrategy>>,
    pub cron: Option<CronSettings>,
    pub job: JobSettings,
    /// A job's hook: the workloads that roll out only after it finished.
    pub before: Vec<Located<String>>,
    /// Whether the platform ConfigMap is loaded into the main container's environment.
    pub platform_config: bool,
    pub origin: Origin,
}

impl Workload {
    pub fn ports(&self) -> &[Port] {
        &self.main.ports
    }

    /// Ports the Service exposes.
    pub fn service_ports(&self) -> impl Iterator<Item = &Port> {
        self.main.ports.iter().filter(|p| p.expose)
    }

    pub fn has_service(&self) -> bool {
        self.kind.serves() && self.service_ports().next().is_some()
    }

    /// A Deployment with a claim that attaches to one node at a time cannot run its old and new pod
    /// at once: it is recreated, not rolled.
    pub fn needs_recreate(&self) -> bool {
        self.volumes.iter().any(|v| {
            matches!(&v.value.kind, VolumeKind::Persistent { access, .. } if access.as_str() != "ReadWriteMany")
        })
    }
}

/// A named override of a fleet's template for some of its instances.
#[derive(Clone, Debug)]
pub struct Plan {
    pub size: Option<Located<String>>,
    pub replicas: Option<Located<i64>>,
    pub env: Vec<Named<EnvValue>>,
    /// Volumes that replace the template's of the same name, or add to them.
    pub volumes: Vec<Named<Volume>>,
    /// The fleet's template with this plan's volumes in place (`None`: the plan has none).
    pub workload: Option<Box<Workload>>,
}

/// One instance of a fleet (e.g. one tenant).
#[derive(Clone, Debug)]
pub struct Instance {
    pub plan: Option<Located<String>>,
    pub size: Option<Located<String>>,
    /// Free values the template's env can read as `{{ instance.vars.<key> }}`.
    pub vars: Vec<(String, String)>,
}

/// What makes two instances' renders of a template that uses instance values only bare differ in
/// more than those values: the plan and the var keys.
pub type Family<'a> = (Option<&'a str>, Vec<&'a str>);

impl Instance {
    pub fn family(&self) -> Family<'_> {
        (
            self.plan.as_ref().map(|p| p.as_str()),
            self.vars.iter().map(|(k, _)| k.as_str()).collect(),
        )
    }
}

/// `[fleets.<name>]`: a workload template instantiated once per instance.
#[derive(Clone, Debug)]
pub struct Fleet {
    pub template: Workload,
    pub max_instances: Located<i64>,
    pub plans: Vec<Named<Plan>>,
    pub instances: Vec<Named<Instance>>,
    /// The scrape job of every instance (one job for the fleet).
    pub job: Option<String>,
    /// What people call the fleet's instances, for dashboards (the fleet's name unless said).
    pub title: Option<String>,
    pub origin: Origin,
}

impl Fleet {
    pub fn plan(&self, name: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.name == name).map(|p| &p.value)
    }

    /// Gives each plan with volumes its workload: the template, each of the plan's volumes replacing
    /// the template's of its name (in its place, so mounts keep their order) or added after them.
    pub fn settle_plans(&mut self) {
        for plan in &mut self.plans {
            let plan = &mut plan.value;
            plan.workload = (!plan.volumes.is_empty()).then(|| {
                let mut workload = self.template.clone();
                for v in &plan.volumes {
                    match workload.volumes.iter_mut().find(|t| t.name == v.name) {
                        Some(slot) => *slot = v.clone(),
                        None => workload.volumes.push(v.clone()),
                    }
                }
                Box::new(workload)
            });
        }
    }

    /// The workload an instance on `plan` runs: the template, with the plan's volumes if it has any.
    pub fn workload_of<'a>(&'a self, plan: Option<&'a Plan>) -> &'a Workload {
        plan.and_then(|p| p.workload.as_deref())
            .unwrap_or(&self.template)
    }
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
    /// The backend's port name; its first exposed port when not said.
    pub port: Option<Located<String>>,
    pub origin: Origin,
}

/// `[network.external.<name>]`: an endpoint outside the cluster that workloads may reach.
#[derive(Clone, Debug)]
pub struct External {
    pub cidrs: Vec<Located<String>>,
    pub ports: Vec<i64>,
    /// `[network.external.<name>.object_store]`: the endpoint is an S3-compatible object store.
    pub object_store: Option<ExternalObjectStore>,
    pub origin: Origin,
}

/// An S3-compatible object store outside the cluster (backups that survive the loss of the cluster,
/// replicas of the tenants' buckets). Its credentials are keys of `[secrets]`.
#[derive(Clone, Debug)]
pub struct ExternalObjectStore {
    /// An `https://` URL.
    pub endpoint: Located<String>,
    pub access_key: Located<String>,
    pub secret_key: Located<String>,
    pub region: Option<Located<String>>,
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
    pub external: Vec<Named<External>>,
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
    /// Where `store_kind` is set: the table when it is the default.
    pub store_kind_at: Origin,
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
    /// The object-storage store, or the external object store, that keeps the backups.
    pub to: Located<String>,
    pub bucket: String,
    pub path: String,
    pub origin: Origin,
}

/// `kind = "postgresql"`: a CloudNativePG `Cluster`. CloudNativePG always serves 5432.
#[derive(Clone, Debug)]
pub struct Postgres {
    pub instances: Located<i64>,
    pub image: Located<String>,
    pub database: String,
    pub owner: String,
    pub storage: Storage,
    pub monitoring: bool,
    pub parameters: Vec<Named<Located<String>>>,
    pub backup: Option<Backup>,
    /// `[stores.<name>.recovery]`: bootstrap from another environment's backups instead of `initdb`.
    pub recovery: Option<Recovery>,
    /// The secret key that holds the owner's password.
    pub password_key: Option<Located<String>>,
}

/// `[stores.<name>.recovery]`: the store starts as a restore of the same store's backups in another
/// environment (disaster recovery), up to `target_time` or the latest WAL.
#[derive(Clone, Debug)]
pub struct Recovery {
    /// The environment whose backups are restored.
    pub environment: Located<String>,
    /// RFC 3339; the latest point the archive reaches when absent.
    pub target_time: Option<Located<String>>,
    /// The SQL the restore check runs against the restored database.
    pub check_query: String,
    /// What the source environment's spec says about its backups, filled in by the compiler (which
    /// reads that environment through its `World`); `None` until then, or when it cannot be had.
    pub source: Option<RecoverySource>,
    pub origin: Origin,
}

/// The facts of the backups a recovery restores, taken from the source environment's spec.
#[derive(Clone, Debug)]
pub struct RecoverySource {
    /// The source's CloudNativePG cluster name.
    pub cluster: String,
    /// The Barman `serverName` its backups are written under (the cluster name, unless the source is
    /// itself a restore).
    pub server: String,
    pub bucket: String,
    pub path: String,
    /// The external endpoint (`[network.external.<name>]`) that holds them, and where it is.
    pub external: String,
    pub cidrs: Vec<String>,
    pub ports: Vec<i64>,
    pub store: ExternalObjectStore,
}

/// `[stores.<name>.replication]`: an object-storage store's buckets copied to an external object store.
#[derive(Clone, Debug)]
pub struct Replication {
    /// The external endpoint with an `object_store`.
    pub to: Located<String>,
    /// Local bucket → remote bucket.
    pub buckets: Vec<Named<String>>,
    pub origin: Origin,
}

/// `kind = "redis-cluster"`: an opstree `RedisCluster`.
#[derive(Clone, Debug)]
pub struct RedisCluster {
    pub cluster_size: Located<i64>,
    pub image: Located<String>,
    pub exporter_image: Option<Located<String>>,
    pub storage: Storage,
    pub password_key: Option<Located<String>>,
}

/// `kind = "redis"`: one Redis server as a StatefulSet with a data volume.
#[derive(Clone, Debug)]
pub struct RedisSingle {
    pub image: Located<String>,
    pub port: i64,
    pub storage: Storage,
}

/// `kind = "object-storage"`: MinIO as a StatefulSet.
#[derive(Clone, Debug)]
pub struct ObjectStorage {
    pub replicas: Located<i64>,
    pub image: Located<String>,
    pub storage: Storage,
    /// The root credentials: only MinIO itself and the job that provisions the accounts hold them.
    pub access_key: Located<String>,
    pub secret_key: Located<String>,
    /// Per-client accounts, each with a policy limited to its prefix (`[stores.<name>.accounts]`).
    pub accounts: Option<Accounts>,
    pub replication: Option<Replication>,
}

/// `accounts_image` (the MinIO client `mc`, run by the Job that provisions the accounts) and
/// `[stores.<name>.accounts.<client>]`, one per workload or fleet that talks to the store. The backups
/// of a PostgreSQL store into this store get an account of their own.
#[derive(Clone, Debug)]
pub struct Accounts {
    pub image: Located<String>,
    pub clients: Vec<Named<Account>>,
    pub origin: Origin,
}

/// Where one client may read and write: `bucket`, and `prefix` inside it (a template; in a fleet
/// `{{ instance.id }}` gives each instance its own).
#[derive(Clone, Debug)]
pub struct Account {
    pub bucket: Located<String>,
    pub prefix: Located<String>,
}

#[derive(Clone, Debug)]
pub enum StoreKind {
    /// Boxed: by far the largest kind.
    Postgres(Box<Postgres>),
    RedisCluster(RedisCluster),
    Redis(RedisSingle),
    ObjectStorage(ObjectStorage),
}

impl StoreKind {
    pub const NAMES: [&'static str; 4] = ["postgresql", "redis-cluster", "redis", "object-storage"];

    pub fn name(&self) -> &'static str {
        match self {
            StoreKind::Postgres(_) => "postgresql",
            StoreKind::RedisCluster(_) => "redis-cluster",
            StoreKind::Redis(_) => "redis",
            StoreKind::ObjectStorage(_) => "object-storage",
        }
    }

    pub fn image(&self) -> &Located<String> {
        match self {
            StoreKind::Postgres(s) => &s.image,
            StoreKind::RedisCluster(s) => &s.image,
            StoreKind::Redis(s) => &s.image,
            StoreKind::ObjectStorage(s) => &s.image,
        }
    }
}

/// `[stores.<name>]`: a data store; its key names it in `talks_to` and templates, `name` names its
/// objects (the key unless said otherwise).
#[derive(Clone, Debug)]
pub struct Store {
    pub name: Located<String>,
    pub size: Located<String>,
    pub kind: StoreKind,
    pub origin: Origin,
}

impl Spec {
    pub fn size(&self, name: &str) -> Option<&Size> {
        self.sizes.iter().find(|s| s.name == name).map(|s| &s.value)
    }

    pub fn workload(&self, name: &str) -> Option<&Workload> {
        self.workloads
            .iter()
            .find(|s| s.name == name)
            .map(|s| &s.value)
    }

    pub fn fleet(&self, name: &str) -> Option<&Fleet> {
        self.fleets
            .iter()
            .find(|s| s.name == name)
            .map(|s| &s.value)
    }

    pub fn store(&self, key: &str) -> Option<&Store> {
        self.stores.iter().find(|s| s.name == key).map(|s| &s.value)
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
