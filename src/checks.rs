//! The catalogue of checks: every diagnostic code plat reports, with its severity, what it checks, why
//! it matters and an example that triggers it. `docs/checks.md` is generated from this table (a test
//! fails when it is stale), and waivers name checks by these codes.

use crate::diag::Severity;

pub struct Check {
    pub code: &'static str,
    pub severity: Severity,
    pub group: &'static str,
    pub title: &'static str,
    pub why: &'static str,
    /// A spec fragment (TOML) that triggers the check.
    pub example: &'static str,
}

const E: Severity = Severity::Error;
const W: Severity = Severity::Warning;

macro_rules! checks {
    ($($code:literal $sev:ident $group:literal $title:literal $why:literal $example:literal;)*) => {
        pub const CHECKS: &[Check] = &[$(Check {
            code: $code, severity: $sev, group: $group, title: $title, why: $why, example: $example,
        }),*];
    };
}

checks! {
    "P0001" E "input" "TOML syntax error" "A file that does not parse cannot say what the platform is; every syntax error is listed, with recovery." "replicas = = 3";
    "P0002" E "input" "File is not UTF-8" "TOML is UTF-8; other encodings would silently change names." "(a file saved as Latin-1)";
    "P0003" E "input" "File too large" "Refuses files over 64 MiB before reading them, so a mistaken path cannot exhaust memory." "(a 100 MiB file)";
    "P0004" E "input" "Nesting too deep" "Refuses nesting beyond 48 levels so that no input can overflow the stack." "x = [[[[[[ … ]]]]]]";
    "P0005" E "input" "Missing file or environment" "The spec or the named environment overlay does not exist; suggests the closest environment." "plat render --env prdo";
    "P0006" E "input" "Environment file name is not an environment name" "An overlay's name becomes the folder generated/<env>/ and a label value; it must be a DNS-1123 label." "environments/my dev.toml";
    "P0101" E "spec" "Unknown key" "A misspelt key would otherwise be ignored and its intent lost; suggests the closest known key." "[services.api]\nreplicaz = 2";
    "P0102" E "spec" "Wrong type" "A value of the wrong type cannot mean what was intended." "replicas = \"3\"";
    "P0103" E "spec" "Missing key" "A required setting has no default that would be right for everyone." "[services.api]\nreplicas = 2   # no image";
    "P0104" E "spec" "Invalid value" "The value is of the right type but impossible: out of range, unknown choice, bad quantity or schedule." "replicas = 0";
    "P0105" E "overlay" "Overlay replaces a table by a value" "An overlay may change values inside a table, not turn a table into a value or back." "# overlay\nservices = \"none\"";
    "P0106" E "overlay" "Removal of an unknown entry" "`[remove]` names an entry the base spec does not have: likely a typo." "[remove]\nservices = [\"auht-service\"]";
    "P0110" E "value rules" "Not a Kubernetes name" "Object names are DNS-1123 labels or subdomains (Secrets, storage and ingress classes, issuers, containers, volumes), checked on the final name once plat or an operator adds its suffix; data keys of ConfigMaps and Secrets are letters, digits, '-', '_' and '.'; the API server refuses anything else." "[secrets]\nname = \"platform_secrets\"";
    "P0111" E "value rules" "Not a label value" "Label values are at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit." "component = \"front end\"";
    "P0112" E "value rules" "Annotation too large" "The API server refuses an object whose annotations total more than 256 KiB; a description becomes one." "description = \"… 300 KB …\"";
    "P0113" E "value rules" "Not an int-or-string percentage" "maxSurge and maxUnavailable are a count or a whole percentage up to 100%, and not both zero." "[defaults]\nmax_surge = \"fifty\"";
    "P0114" E "value rules" "Not a duration of the tool that reads it" "Go durations (ExternalSecret refresh) are numbers with ns, us, ms, s, m or h." "refresh_interval = \"1 hour\"";
    "P0115" E "value rules" "Not an image reference" "The container runtime parses images by the distribution reference grammar: lower-case repositories, tags of word characters, '.' and '-', sha256 digests of 64 hex digits." "image = \"ghcr.io/Example/web:1.0+build\"";
    "P0116" E "value rules" "Not a host name" "An Ingress host is a lower-case DNS name without scheme, port or path." "[ingress]\nhost = \"https://api.example.com\"";
    "P0117" E "value rules" "Not a CIDR block" "A NetworkPolicy ipBlock is an address and a prefix length of at most 32 (IPv4) or 128 (IPv6)." "[network]\napi_server_cidr = \"10.0.0.0/33\"";
    "P0118" E "value rules" "Not an absolute path" "Mount paths and working directories are resolved from the container's root; the container runtime refuses a relative one and the pod never starts." "volumes.data = { type = \"empty\", path = \"data\" }";
    "P0119" E "value rules" "Not an HTTP header name" "A probe's header names are RFC 7230 tokens; the API server refuses a name with a space or ':'." "probes.readiness = { http = { headers = { \"X Probe\" = \"1\" } } }";
    "P0120" E "value rules" "Not a time-zone name" "A CronJob's time zone is a name of the IANA time-zone database, written as it is there (the API server loads it with Go's `time.LoadLocation`, which matches case); `Local` is refused, as it would mean the controller's own zone." "[services.report]\nkind = \"cron\"\ntime_zone = \"europe/berlin\"";
    "P0121" W "value rules" "PostgreSQL name that needs quoting" "A database's name and its owner become PostgreSQL identifiers. CloudNativePG quotes what it creates, but every migration, `psql` call and connection URL would have to quote a name with upper case, spaces or punctuation too, and PostgreSQL cuts a name longer than 63 bytes without a word: a lower-case letter or `_` first, then lower-case letters, digits and `_`." "[stores.main]\nkind = \"postgresql\"\ndatabase = \"Shop DB\"";
    "P0122" E "value rules" "Not an RFC 3339 timestamp" "A recovery's `target_time` is handed to PostgreSQL as `recovery_target_time`; without a date, a time and an offset (`Z` or ±HH:MM) it is refused, or read in the server's zone and restores to the wrong moment." "[stores.main.recovery]\nenvironment = \"primary\"\ntarget_time = \"2026-05-01 02:30\"";
    "P0202" E "spec" "Requests above limits" "Kubernetes rejects a container whose request exceeds its limit." "requests = { cpu = \"2\", memory = \"1Gi\" }\nlimits = { cpu = \"1\", memory = \"1Gi\" }";
    "P0203" E "spec" "Autoscaling range" "min_replicas above max_replicas cannot scale; replicas outside the range (a warning) is overridden by the autoscaler." "autoscaling = { min_replicas = 5, max_replicas = 2, cpu_percent = 70 }";
    "P0204" E "spec" "Unknown reference" "A `talks_to`, size, secret key, backend or job that does not exist would produce objects pointing at nothing." "talks_to = [\"sesion-service\"]";
    "P0205" E "spec" "More fleet instances than the ceiling" "Each instance of a fleet runs its own workload; the platform is sized for at most the fleet's `max_instances`." "max_instances = 2   # with 3 instances";
    "P0206" E "security" "Image not pinned" "`latest` or untagged images change under a running platform; rollbacks stop meaning anything." "image = \"registry/app:latest\"";
    "P0207" E "spec" "Invalid name" "Names become Kubernetes object names and DNS labels." "[services.Api_Gateway]";
    "P0208" E "spec" "Duplicate object" "Two spec entries would produce the same Kubernetes object, and one would overwrite the other." "[services.minio]   # collides with the object-storage store named minio";
        "P0209" E "spec" "Two environments in one namespace" "Each environment owns its namespace on its cluster and prunes what it did not render there; two environments sharing one would delete each other's objects." "# environments/staging.toml and environments/prod.toml\nnamespace = \"shop\"\ncontext = \"prod-cluster\"";
    "P0211" W "spec" "next_image without blue-green" "A next image is only deployed as the inactive colour of a blue-green release." "next_image = \"app:1.1.0\"   # with strategy = \"rolling\"";
    "P0212" W "spec" "More database instances than nodes" "Losing one node would lose several PostgreSQL replicas at once; the instance count promises more availability than the environment has." "# environments/test.toml\n[environment]\nnodes = 2\n[stores.postgresql]\ninstances = 3";
    "P0213" E "security" "Hardened defaults relaxed without a reason" "Running as root or with a writable root file system needs a reason a reviewer can read." "security = { run_as_user = 0 }   # no reason";
    "P0214" E "spec" "Unknown reference in a template" "A template (`env`, `[config]`) names a fact plat does not know; strict undefined refuses to render it empty, with did-you-mean." "DB_HOST = \"{{ stores.dbb.host }}\"";
    "P0215" E "spec" "Probe on a missing port" "A probe of a port the container does not declare never succeeds, so the pod never becomes ready." "probes.liveness = { http = { port = \"admin\" } }   # no port admin";
    "P0216" E "spec" "Probe of the wrong kind" "A gRPC probe speaks the gRPC health protocol; on an HTTP port it always fails. Jobs are not probed." "probes.readiness = { grpc = {} }   # first port is http";
    "P0217" E "spec" "Two ports with one number" "Kubernetes rejects a container that declares one port number twice for one protocol." "ports = { a = 8080, b = 8080 }";
    "P0218" E "spec" "Service settings on a kind without a Service" "Workers, jobs, cron jobs and daemons get no Service; a Service port or table for them would be silently lost." "kind = \"worker\"\nports = { http = { port = 8080, service_port = 80 } }";
    "P0219" E "spec" "Volume mounted twice" "Two mounts at one path, or one volume mounted twice in a container, are rejected by Kubernetes or hide each other." "volumes.a = { type = \"empty\", path = \"/data\" }\nvolumes.b = { type = \"empty\", path = \"/data\" }";
    "P0220" E "spec" "ReadWriteOnce volume shared by several pods" "A ReadWriteOnce claim attaches to one node; a second replica cannot start." "replicas = 3\nvolumes.data = { type = \"persistent\", size = \"1Gi\" }";
    "P0221" W "spec" "Scaled to zero" "A workload with zero replicas runs nothing; allowed, but said." "replicas = 0";
    "P0222" E "spec" "Setting that does not fit the workload kind" "A schedule without `kind = \"cron\"`, a cron without a schedule, a hook that is not a job, autoscaling without replicas, or a fleet of jobs would be dropped or rejected." "kind = \"worker\"\nschedule = \"0 3 * * *\"";
    "P0223" E "spec" "Rolling update with a ReadWriteOnce volume" "The new pod cannot attach the claim the old pod holds, so a rolling update never finishes; plat recreates instead." "strategy = \"rolling\"\nvolumes.data = { type = \"persistent\", size = \"1Gi\" }";
    "P0224" E "capacity" "Requests above the nodes' capacity" "At its peak (autoscaler maxima, rolling surge, the idle blue-green colour, every fleet instance, the stores' and log agents' pods) the environment asks for more CPU or memory than its nodes offer, so pods stay Pending; near the limit (a warning) one lost node is an outage." "[environment]\nnodes = 1\nnode_allocatable = { cpu = \"4\", memory = \"16Gi\" }";
    "P0225" E "spec" "Port setting that nothing applies" "A port the output never uses is a setting silently lost: a `service_port` on a port the Service does not expose or on a headless Service (no virtual IP translates it: clients reach the container's port), or a `[metrics] port` that names no Service port of a workload it scrapes (its metrics would never arrive)." "[metrics]\nport = \"metrics\"   # the workload's only port is http";
    "P0226" W "spec" "Job the cluster deletes after it finishes" "plat applies a Job by name (a hash of what it runs, so each version runs once). With `ttl_seconds_after_finished` the cluster deletes the finished Job; the next `plat apply` creates it again and it runs again, before the workloads it guards when it is a hook, and drift reports it missing in between." "[services.migrate]\nkind = \"job\"\nbefore = [\"web\"]\nttl_seconds_after_finished = 86400";
    "P0227" E "spec" "Recovery from an environment that does not back the store up" "`[stores.<name>.recovery] environment` must be another environment of the project whose same store is a PostgreSQL store with `backup`: otherwise there is nothing to restore and the cluster would never start." "[stores.main.recovery]\nenvironment = \"primray\"";
    "P0228" E "spec" "Recovery from backups kept inside the source's cluster" "A disaster-recovery environment restores what survives the loss of the source cluster; backups in an object-storage store of that same cluster are lost with it, and the recovering cluster could not reach them anyway. The source must back up to an external object store." "# primary: [stores.main.backup] to = \"files\"\n[stores.main.recovery]\nenvironment = \"primary\"";
    "P0229" E "spec" "Object-store target without an object store" "A backup's or replication's `to` names an external endpoint that declares no `object_store` (endpoint and credentials), so nothing says where or how to write; a replication needs an external object store, not an in-cluster one." "[network.external.api]\ncidrs = [\"0.0.0.0/0\"]\nports = [443]\n[stores.main.backup]\nto = \"api\"";
    "P0230" E "spec" "Replication of a bucket the store does not have" "A replicated bucket must be one the store's accounts or a database's backups use: a misspelt bucket would replicate nothing while the remote copy looks configured." "[stores.files.replication]\nto = \"offsite\"\nbuckets = { \"tenant\" = \"tenants-replica\" }   # the accounts use `tenants`";
    "P0231" E "spec" "Two environments archive backups in one place" "Two environments whose databases write base backups and WAL under the same server folder of one external object store (endpoint, bucket, path, server name) mix their archives; the second cannot even start archiving, and a restore would replay the other's WAL." "# environments/staging.toml and environments/prod.toml\n[stores.main.backup]\nto = \"offsite\"   # same bucket and path";
    "P0301" E "routing" "Unknown receiver" "A route or the default names a receiver that is not declared; alerts would be dropped by Alertmanager's config check." "[[alerting.routes]]\nreceiver = \"critcal-alerts\"";
    "P0302" W "routing" "Unused receiver" "A receiver no route uses and that is not the default never gets an alert." "[alerting.receivers.pager]   # no route names it";
    "P0303" E "routing" "Unreachable route" "Earlier routes without `continue` take every alert this route matches, so it never receives one (the seed's route order does this to AstrBotInstanceDown)." "# critical route first, without continue, then alertname=\"AstrBotInstanceDown\"";
    "P0304" W "routing" "Route matches no alert" "No alert of this environment carries the labels the route matches; it may be meant for alerts from outside plat." "matchers = [\"team=\\\"payments\\\"\"]";
    "P0305" E "routing" "Critical alert reaches only the default receiver" "A critical alert must reach someone who acts on it, not only the catch-all." "(a critical alert with no route for severity=\"critical\")";
    "P0306" E "routing" "Invalid matcher" "Matchers use Alertmanager's syntax, one per string; a bad regex would fail Alertmanager's config load." "matchers = [\"severity=critical, team=x\"]";
    "P0307" E "routing" "E-mail without SMTP" "An e-mail receiver needs `[alerting.smtp]` to send from." "email = [\"ops@example.com\"]   # no [alerting.smtp]";
    "P0308" E "routing" "Paging default receiver" "Basic environments drop paging receivers; the default receiver must always exist." "[alerting.receivers.default]\npaging = true";
    "P0309" E "routing" "Receiver URL points into the cluster at nothing declared" "A webhook to `<service>.<namespace>.svc[.cluster.local]` or a bare service name must reach a Service of the platform (on one of its ports) or a namespace the spec names; otherwise Alertmanager posts to a name no DNS resolves and the notifications are lost. A template over the facts (`{{ services.<name>.host }}`) cannot point at nothing." "webhook = \"http://astrbot-manager.saas-platform.svc.cluster.local/webhook/alert\"   # no such Service";
    "P0311" E "observability" "Alert selects a job nobody produces" "An alert on a job no scrape target has can never fire." "jobs = [\"astrbot\"]   # the job is astrbot-instance";
    "P0312" E "observability" "Alert needs an undeclared metric" "The built-in alert kinds read declared metric families with the labels they need." "kind = \"error_rate\"   # without http_requests_total{status}";
    "P0313" E "observability" "Alert without summary, description or runbook" "Whoever is paged needs to know what broke and what to do." "[alerts.X]\nkind = \"memory\"   # no runbook";
    "P0314" E "observability" "PromQL does not parse" "A rule Prometheus cannot load disables the whole rule file." "expr = \"sum by (job (up)\"";
    "P0315" W "observability" "PromQL reads an undeclared metric" "Usually a typo in a metric name; the alert would never fire." "expr = \"rate(http_request_total[5m]) > 1\"";
    "P0316" E "observability" "Unknown severity" "Routing matches on severity; an unknown one reaches only the default receiver." "severity = \"urgent\"";
    "P0317" E "observability" "Threshold or objective out of range" "Ratios are between 0 and 1, objectives between 0 and 100 percent; an objective below 1 is a fraction written for a percentage (0.999 for 99.9), which would promise almost nothing." "threshold = 5   # for error_rate";
    "P0318" E "observability" "Not a Prometheus duration" "Prometheus durations (scrape interval and timeout, an alert's window and `for`, an SLO's period, Alertmanager's group and repeat intervals) are integers each with a unit of ms, s, m, h, d, w or y, largest first; Prometheus refuses to load anything else." "for = \"5 minutes\"";
    "P0319" E "observability" "Scrape timeout longer than its interval" "Prometheus refuses a scrape configuration whose timeout exceeds its interval, so no target of the ServiceMonitor would be scraped." "[metrics]\ninterval = \"15s\"\nscrape_timeout = \"30s\"";
    "P0321" E "observability" "Dashboard PromQL does not parse" "Grafana would show an error instead of the panel." "expr = 'sum(rate(http_requests_total[5m])'   # in [dashboards.panels.x]";
    "P0322" E "observability" "Dashboard queries an undeclared metric" "Usually a typo or a renamed metric: the panel would stay empty." "expr = 'sum(rate(http_request_total[5m]))'";
    "P0323" E "observability" "Dashboard selects a job nobody produces" "A job no scrape target has makes an empty panel." "expr = 'up{job=\"wroker\"}'";
    "P0324" E "observability" "Two dashboards share a uid" "Grafana keeps one dashboard per uid; the other is silently replaced." "[dashboards.overview]\nuid = \"hello-web\"   # the dashboard of job web";
    "P0325" E "observability" "Two dashboards share a title in a folder" "Grafana refuses a second dashboard of the same title in a folder." "title = \"hello / worker\"   # the dashboard of job worker";
    "P0326" E "observability" "Built-in panels read a family of the wrong type" "The built-in PromQL assumes a counter for requests and a histogram for latency." "[dashboards]\nlatency = \"http_requests_total\"";
    "P0327" E "observability" "Dashboard uses a label its metric does not carry" "Matching or grouping by a missing label selects nothing or merges every series into one." "expr = 'sum by (tenant) (rate(http_requests_total[5m]))'";
    "P0341" E "logging" "Fluentd time format rejects the declared timestamps" "Fluentd must read the whole timestamp the services write; a format that rejects it, or stops before the fraction or offset, drops or misfiles events." "[logging]\ntime_format = \"%Y-%m-%d %H:%M:%S\"";
    "P0342" E "logging" "Unknown log field type" "The schema's types become Fluentd's type conversions; an unknown type cannot." "[logging.fields]\nlevel = \"strin\"";
    "P0343" E "logging" "Timestamp field not declared as a timestamp" "The event time comes from this field; it must be in the schema with type timestamp." "[logging]\ntimestamp_field = \"ts\"";
    "P0344" E "logging" "Elasticsearch output host, port or index invalid" "A scheme or port in the host, an out-of-range port or an index Elasticsearch refuses makes every flush fail." "[logging.elasticsearch]\nhost = \"http://es:9200\"";
    "P0345" E "logging" "Elasticsearch credentials not by reference" "The password is a key of [secrets].keys, with a user, from a store the logging namespace can read." "[logging.elasticsearch]\nuser = \"fluentd\"\npassword_secret = \"ES_PASSWORD_\"";
    "P0346" E "logging" "Log field collides with a pipeline field" "The pipeline adds environment, cluster, kubernetes, stream, @timestamp …; a service field of that name is overwritten." "[logging.fields]\nenvironment = \"string\"";
    "P0347" E "logging" "Time format directive plat cannot check" "plat proves time formats against sample timestamps; it cannot for directives it does not model." "[logging]\ntime_format = \"%d/%b/%Y\"";
    "P0348" E "logging" "Fluentd cannot run, read or write there" "hostPath and root are refused in the restricted namespace; the metadata filter needs /var/log/containers names; /var/log is read-only." "[logging.source]\npos_file = \"/var/log/fluentd.pos\"";
    "P0349" E "logging" "Flush interval is not a Fluentd duration" "Fluentd refuses to start with an invalid time value." "[logging.elasticsearch]\nflush_interval = \"soon\"";
    "P0401" E "security" "Secret value in the spec" "Secret values belong in the secret store; the spec and generated/ are in git." "[config]\nJWT_SECRET = \"hunter2-hunter2\"";
    "P0501" E "security" "Pod Security \"restricted\" not met" "The namespace enforces the restricted profile; a workload that does not meet it is refused by the API server. The pods operators build from plat's RedisCluster and CloudNativePG Cluster are checked as the operators build them (src/operator_pods.rs): the StatefulSets of a RedisCluster whose pods fail it get FailedCreate." "(a container without allowPrivilegeEscalation: false; a RedisCluster without a seccomp profile)";
    "P0502" E "security" "Workload image not pinned" "Every container image in the output must be pinned, whatever produced it." "(a container image without a tag)";
    "P0503" E "security" "Container without limits" "Without limits one container can starve its node." "(a container without resources.limits)";
    "P0504" E "security" "No default-deny NetworkPolicy" "Without it every pod reaches every other; the topology-derived policies only allow." "(workloads in a namespace without default-deny-all)";
    "P0505" E "security" "Host access" "hostPath, hostNetwork, hostPID and hostIPC break the isolation between pods and nodes." "(a DaemonSet mounting /var/log)";
    "P0508" E "security" "Object store's root credentials in an ordinary workload" "MinIO's root credentials read and delete every object of every client, the database backups included; only the store and the Job that provisions its accounts hold them. A client gets an account of its own whose policy reaches only its bucket and prefix (`[stores.<name>.accounts.<client>]`)." "[fleets.bot]\nsecrets = [\"MINIO_ACCESS_KEY\", \"MINIO_SECRET_KEY\"]   # no [stores.minio.accounts.bot]";
    "P0509" E "security" "Object-storage prefix with unsafe characters" "An account's prefix becomes part of its policy, written by the provisioning Job: it may hold S3's safe key characters only (letters, digits and `! - _ . * ' ( ) /`), so that no instance's value can widen or break the policy." "[stores.minio.accounts.bot]\nbucket = \"bots\"\nprefix = \"bots/{{ instance.vars.name }}/\"   # a name with a quote";
    "P0506" E "output schema" "Object does not match its upstream schema" "Every object is validated strictly against the JSON schema of its kind (Kubernetes 1.33, the operators' CRDs; vendored under schemas/); the API server would reject an unknown field, a wrong type or a missing required field. The finding names the object, the JSON pointer and the spec entry." "(a Deployment whose container says `nam:` for `name:`, at /spec/template/spec/containers/0)";
    "P0507" E "output schema" "Kind without a schema" "Every kind plat emits, built-in or custom, must have a vendored schema, so that no object escapes validation (schemas/README.md)." "(an object of a kind with no file under schemas/)";
    "P0701" E "patches" "Patch target matches nothing" "A patch whose kind, name, namespace or labels match no object of the environment changes nothing: usually a typo or an object that was renamed." "[[patches]]\ntarget = { kind = \"Deployment\", name = \"wbe\" }\nmerge = { metadata = { labels = { mesh = \"on\" } } }";
    "P0702" E "patches" "JSON Patch `test` failed" "A `test` operation guards a patch against an object that is not what the patch was written for; the whole patch is left out." "json = [{ op = \"test\", path = \"/spec/replicas\", value = 5 }]";
    "P0703" E "patches" "JSON Patch operation cannot apply" "An operation that is not RFC 6902, or whose path does not exist in the object, would apply nothing or the wrong thing; the whole patch is left out." "json = [{ op = \"replace\", path = \"/spec/replica\", value = 3 }]";
    "P0704" E "patches" "Patch makes the object invalid" "A patched object is validated against the schema of its kind like any other; the finding points at the patch, since plat's object was valid." "merge = { spec = { replicas = \"three\" } }";
    "P0705" E "security" "Patch writes secret values" "Secret values never go into the spec or generated/; a patch cannot write them into a Secret either." "target = { kind = \"Secret\", name = \"alertmanager-hello\" }\nmerge = { stringData = { password = \"…\" } }";
    "P0711" E "extra objects" "Template error in an extra object" "Templates in manifests/ are rendered with strict undefined: an unknown variable or attribute, or a syntax error, is an error at its place in the template, never an empty string." "name: {{ platform.nmae }}-quota";
    "P0712" E "extra objects" "Extra object is not valid YAML" "The rendered document must parse; the error is shown at the template's line." "metadata: {name: quota";
    "P0713" E "extra objects" "Extra document is not a Kubernetes object" "Each document must have apiVersion, kind and metadata.name to be applied, pruned and attributed." "kind: ResourceQuota   # no apiVersion";
    "P0714" W "extra objects" "Extra object of a kind without a schema" "plat validates what it can: a kind with no vendored schema (a custom resource whose CRD schema is not under schemas/) is applied unvalidated; vendor its schema or waive the finding at the file." "apiVersion: cert-manager.io/v1\nkind: Certificate";
    "P0715" E "security" "Secret value in an extra object" "Extra objects are committed and rendered into generated/: a Secret with data or a secret-looking string would put a credential in git." "kind: Secret\nstringData:\n  password: hunter2";
    "P0601" E "waivers" "Waiver of an unknown check" "A waiver must name a check in this catalogue." "[[waivers]]\ncheck = \"P9999\"";
    "P0602" W "waivers" "Waiver matches nothing" "A stale waiver hides nothing today and could hide something tomorrow." "[[waivers]]\ncheck = \"P0505\"\nat = \"services.api-gateway\"";
}

pub fn find(code: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.code == code)
}

/// `docs/checks.md`.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Checks\n\nEvery finding plat reports has a stable code. Errors fail `plat render` and `plat check`; \
         warnings fail `plat check`. A check can be waived at one place of the spec, with a reason that the \
         output shows:\n\n```toml\n[[waivers]]\ncheck = \"P0505\"\nat = \"logging\"\nreason = \"Fluentd reads the \
         nodes' container logs through hostPath /var/log\"\n```\n\nThis page is generated from `src/checks.rs`.\n",
    );
    let mut group = "";
    for check in CHECKS {
        if check.group != group {
            group = check.group;
            out.push_str(&format!("\n## {group}\n"));
        }
        out.push_str(&format!(
            "\n### {} {} ({})\n\n{}\n\n```toml\n{}\n```\n",
            check.code,
            check.title,
            check.severity.as_str(),
            check.why,
            check.example
        ));
    }
    out
}
