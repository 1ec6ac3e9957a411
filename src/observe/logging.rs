//! `[logging]`: the structured log schema the services write and the Fluentd pipeline that ships it
//! (seed 5). A DaemonSet tails every container's log on every node, adds Kubernetes metadata, parses
//! the platform's JSON lines, stamps the environment and cluster, and ships to Elasticsearch.
//!
//! The seed's hand-written `fluent.conf` reads JSON (`format json`) although containerd writes CRI
//! lines, parses times with `%Y-%m-%d %H:%M:%S` although structlog writes ISO 8601, selects the
//! platform's logs with `**saas-platform**` (which matches no pod: the namespace is in the file name,
//! the platform's name is not) and sets `type_name`, which Elasticsearch 8 removed. Here the config
//! is built from the typed model in [`super::fluentd`], derived from the spec, and its time formats
//! are checked against timestamps in the declared format.

use serde_json::{Value, json};

use super::fluentd::{self, Body, Config, Directive, Section};
use crate::decode::{Decode, Fields, Located, Named};
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::kit::Labels;
use crate::node::Node;
use crate::output::{Ctx, Object, Sink, Unit};
use crate::source::Origin;
use crate::spec::{SecretProvider, Spec};

/// The DaemonSet, its container, ServiceAccount and ConfigMap are all called this.
pub const NAME: &str = "fluentd";
const CONFIG_MAP: &str = "fluentd-config";
const CREDENTIALS: &str = "fluentd-elasticsearch";
const CONFIG_DIR: &str = "/fluentd/etc";
const CREDENTIALS_DIR: &str = "/var/run/secrets/elasticsearch";
/// Where the logs are read from; mounted read-only, so the position file must live elsewhere.
const LOG_DIR: &str = "/var/log";
/// The directory kubelet links every container's log into as `<pod>_<namespace>_<container>-<id>.log`;
/// the metadata filter and the namespace glob both read those names from the tag.
const CONTAINER_LOG_DIR: &str = "/var/log/containers";
/// Docker's json-file logs, which `/var/log/containers` links to on Docker nodes.
const DOCKER_CONTAINERS: &str = "/var/lib/docker/containers";
/// `monitor_agent` answers on this port; the probes ask it.
const MONITOR_PORT: i64 = 24220;

/// How the container runtime writes each line to the node's log files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// containerd and CRI-O: `<time> <stream> <P|F> <message>`.
    Cri,
    /// Docker's json-file driver: `{"log": …, "stream": …, "time": …}`.
    DockerJson,
}

impl LogFormat {
    const NAMES: [&'static str; 2] = ["cri", "docker-json"];

    fn parse(text: &str) -> Option<Self> {
        match text {
            "cri" => Some(LogFormat::Cri),
            "docker-json" => Some(LogFormat::DockerJson),
            _ => None,
        }
    }

    /// The record field that holds the application's line after the source parsed the runtime's.
    pub fn message_key(self) -> &'static str {
        match self {
            LogFormat::Cri => "message",
            LogFormat::DockerJson => "log",
        }
    }

    /// Timestamps as the runtime writes them: Go's RFC3339Nano, which trims trailing zeros of the
    /// fraction and drops it entirely on a whole second; Docker writes UTC, containerd its local zone.
    pub fn time_samples(self) -> Vec<String> {
        let mut samples = vec![
            "2024-05-01T12:00:00.123456789Z".to_string(),
            "2024-05-01T12:00:00.1Z".to_string(),
            "2024-05-01T12:00:00Z".to_string(),
        ];
        if self == LogFormat::Cri {
            samples.push("2024-05-01T20:00:00.5+08:00".to_string());
        }
        samples
    }
}

/// The timestamp formats services may declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampFormat {
    /// ISO 8601 with date and time, optional fractional seconds, and `Z` or an offset: what
    /// structlog's `TimeStamper(fmt="iso")` writes.
    Iso8601,
}

impl TimestampFormat {
    const NAMES: [&'static str; 1] = ["iso8601"];

    fn parse(text: &str) -> Option<Self> {
        (text == "iso8601").then_some(TimestampFormat::Iso8601)
    }

    pub fn name(self) -> &'static str {
        "ISO 8601"
    }

    /// Timestamps in this format, as services write them: Python's `isoformat()` leaves out a zero
    /// fraction, structlog writes `Z` in UTC, other loggers write milliseconds or an offset.
    pub fn samples(self) -> Vec<String> {
        let mut out = Vec::new();
        for zone in ["Z", "+08:00", "-05:30"] {
            for fraction in ["", ".123", ".123456"] {
                out.push(format!("2024-05-01T12:00:00{fraction}{zone}"));
            }
        }
        out
    }
}

/// The Fluentd time formats that read ISO 8601: with a fraction, then without. `%z` takes `Z` as
/// well as `+08:00`; `%N` takes 1 to 9 digits.
pub const ISO8601_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S.%N%z";
pub const ISO8601_TIME_FALLBACK: &str = "%Y-%m-%dT%H:%M:%S%z";

/// The types a log field may have, with the name Fluentd's `types` parameter uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    String,
    Integer,
    Float,
    Boolean,
    Timestamp,
}

impl FieldType {
    const NAMES: [&'static str; 5] = ["string", "integer", "float", "boolean", "timestamp"];

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "string" => FieldType::String,
            "integer" => FieldType::Integer,
            "float" => FieldType::Float,
            "boolean" => FieldType::Boolean,
            "timestamp" => FieldType::Timestamp,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The conversion in Fluentd's `types`; the timestamp is the event time, not a converted field.
    fn fluentd_type(self) -> Option<&'static str> {
        match self {
            FieldType::String => Some("string"),
            FieldType::Integer => Some("integer"),
            FieldType::Float => Some("float"),
            FieldType::Boolean => Some("bool"),
            FieldType::Timestamp => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    const NAMES: [&'static str; 2] = ["http", "https"];

    fn parse(text: &str) -> Option<Self> {
        match text {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Source {
    pub path: Located<String>,
    pub pos_file: Located<String>,
    pub read_from_head: bool,
}

#[derive(Clone, Debug)]
pub struct Timestamp {
    pub field: Located<String>,
    pub format: TimestampFormat,
    /// Fluentd's formats for the services' timestamps when the spec names them; derived otherwise.
    pub time_format: Option<Located<String>>,
    pub time_format_fallbacks: Vec<Located<String>>,
}

#[derive(Clone, Debug)]
pub struct Elasticsearch {
    pub host: Located<String>,
    pub port: Located<i64>,
    pub scheme: Scheme,
    pub index: Located<String>,
    pub flush_interval: Located<String>,
    pub user: Option<Located<String>>,
    /// A key of `[secrets].keys` holding the password; never the password itself.
    pub password_secret: Option<Located<String>>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct Logging {
    pub namespace: Located<String>,
    pub image: Located<String>,
    pub size: Located<String>,
    pub container_log_format: LogFormat,
    pub kubernetes_metadata: bool,
    pub source: Source,
    pub timestamp: Timestamp,
    /// The structured log schema, in spec order.
    pub fields: Vec<Named<FieldType>>,
    pub elasticsearch: Elasticsearch,
    pub origin: Origin,
}

// ------------------------------------------------------------------------------------------------
// Read

pub fn read(node: &Node, diags: &mut Diagnostics) -> Option<Logging> {
    let mut f = Fields::open(node, "logging", diags)?;
    let namespace = located_or(&mut f, "namespace", "logging", diags);
    let image = f.req::<String>("image", diags);
    let size = f.req::<String>("size", diags);
    let log_format = choice(
        &mut f,
        "container_log_format",
        &LogFormat::NAMES,
        LogFormat::parse,
        diags,
    );
    let kubernetes_metadata = f.or("kubernetes_metadata", true, diags);
    let timestamp = read_timestamp(&mut f, diags);
    let source = read_source(&mut f, diags);
    let fields = f.named("fields", diags, read_field);
    let elasticsearch = match f.need("elasticsearch") {
        Some(n) => read_elasticsearch(n, diags),
        None => {
            f.missing("elasticsearch", "a table with `host` and `index`", diags);
            None
        }
    };
    f.finish(diags).then_some(())?;
    Some(Logging {
        namespace,
        image: image?,
        size: size?,
        container_log_format: log_format?.unwrap_or(LogFormat::Cri),
        kubernetes_metadata,
        source: source?,
        timestamp: timestamp?,
        fields,
        elasticsearch: elasticsearch?,
        origin: node.origin,
    })
}

/// An optional string whose default is located at the table (where a diagnostic about it points).
fn located_or(
    f: &mut Fields<'_>,
    key: &'static str,
    default: &str,
    diags: &mut Diagnostics,
) -> Located<String> {
    f.opt::<String>(key, diags).unwrap_or_else(|| Located {
        value: default.to_string(),
        origin: f.origin(),
        replaced: None,
    })
}

/// An optional enumerated key: `Some(None)` when absent, `None` when invalid (reported).
fn choice<T>(
    f: &mut Fields<'_>,
    key: &'static str,
    names: &[&str],
    parse: fn(&str) -> Option<T>,
    diags: &mut Diagnostics,
) -> Option<Option<T>> {
    let path = f.child_path(key);
    let Some(value) = f.choice(key, names, diags) else {
        return Some(None);
    };
    if let Some(parsed) = parse(&value) {
        return Some(Some(parsed));
    }
    let mut d = Diagnostic::error(
        "P0104",
        format!(
            "`{path}` must be one of {}, not `{}`",
            names.join(", "),
            value.value
        ),
    );
    if let Some(close) = did_you_mean(&value, names.iter().copied()) {
        d = d.help(format!("did you mean `{close}`?"));
    }
    diags.push(value.diagnostic(d, "unknown value"));
    None
}

fn read_timestamp(f: &mut Fields<'_>, diags: &mut Diagnostics) -> Option<Timestamp> {
    let field = located_or(f, "timestamp_field", "timestamp", diags);
    let format = choice(
        f,
        "timestamp_format",
        &TimestampFormat::NAMES,
        TimestampFormat::parse,
        diags,
    );
    let time_format = f.opt::<String>("time_format", diags);
    let fallbacks = f.opt::<Vec<Located<String>>>("time_format_fallbacks", diags);
    Some(Timestamp {
        field,
        format: format?.unwrap_or(TimestampFormat::Iso8601),
        time_format,
        time_format_fallbacks: fallbacks.map_or_else(Vec::new, |v| v.value),
    })
}

fn read_source(f: &mut Fields<'_>, diags: &mut Diagnostics) -> Option<Source> {
    let default = |value: &str, origin| Located {
        value: value.to_string(),
        origin,
        replaced: None,
    };
    let Some(node) = f.node("source") else {
        let origin = f.origin();
        return Some(Source {
            path: default("/var/log/containers/*.log", origin),
            pos_file: default("/var/lib/fluentd/containers.log.pos", origin),
            read_from_head: true,
        });
    };
    let mut s = Fields::open(node, &f.child_path("source"), diags)?;
    let path = located_or(&mut s, "path", "/var/log/containers/*.log", diags);
    let pos_file = located_or(
        &mut s,
        "pos_file",
        "/var/lib/fluentd/containers.log.pos",
        diags,
    );
    let read_from_head = s.or("read_from_head", true, diags);
    s.finish(diags).then_some(())?;
    Some(Source {
        path,
        pos_file,
        read_from_head,
    })
}

fn read_field(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<FieldType> {
    crate::decode::describe(
        node,
        || serde_json::json!({ "type": "string", "enum": FieldType::NAMES }),
    );
    let text = String::decode(node, path, diags)?;
    if let Some(parsed) = FieldType::parse(&text) {
        return Some(parsed);
    }
    let mut d = Diagnostic::error("P0342", format!("`{path}` has the unknown type `{text}`"))
        .at(node.origin, "unknown field type")
        .help(match did_you_mean(&text, FieldType::NAMES) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!("field types: {}", FieldType::NAMES.join(", ")),
        });
    if let Some(base) = node.replaced {
        d = d.also(base, "the base value, replaced by the overlay");
    }
    diags.push(d);
    None
}

fn read_elasticsearch(node: &Node, diags: &mut Diagnostics) -> Option<Elasticsearch> {
    let mut f = Fields::open(node, "logging.elasticsearch", diags)?;
    let host = f.req::<String>("host", diags);
    let port = f.opt::<i64>("port", diags);
    let scheme = choice(&mut f, "scheme", &Scheme::NAMES, Scheme::parse, diags);
    let index = f.req::<String>("index", diags);
    let flush_interval = located_or(&mut f, "flush_interval", "5s", diags);
    let user = f.opt::<String>("user", diags);
    let password_secret = f.opt::<String>("password_secret", diags);
    let origin = f.origin();
    f.finish(diags).then_some(())?;
    Some(Elasticsearch {
        host: host?,
        port: port.unwrap_or(Located {
            value: 9200,
            origin,
            replaced: None,
        }),
        scheme: scheme?.unwrap_or(Scheme::Http),
        index: index?,
        flush_interval,
        user,
        password_secret,
        origin,
    })
}

// ------------------------------------------------------------------------------------------------
// Check

/// Cross-checks of `[logging]` against itself and the rest of the spec.
pub fn check(spec: &Spec, diags: &mut Diagnostics) {
    let Some(logging) = &spec.observe.logging else {
        return;
    };
    check_placement(spec, logging, diags);
    check_image_and_size(spec, logging, diags);
    check_schema(logging, diags);
    check_time_formats(logging, diags);
    check_output(&logging.elasticsearch, diags);
    check_credentials(spec, logging, diags);
}

/// Where Fluentd runs and what it reads and writes on the node (P0348).
fn check_placement(spec: &Spec, logging: &Logging, diags: &mut Diagnostics) {
    crate::spec::read::check_dns_label(&logging.namespace, "logging.namespace", diags);
    if logging.namespace.value == spec.environment.namespace.value {
        let d = Diagnostic::error("P0348", format!("Fluentd cannot run in the platform's namespace `{}`", logging.namespace.value))
            .also(spec.environment.namespace.origin, "the platform's namespace")
            .help("the platform's namespace enforces Pod Security \"restricted\", which forbids the hostPath volumes and the root user a log collector needs: use a namespace of its own such as `logging`");
        diags.push(logging.namespace.diagnostic(d, "Fluentd's namespace"));
    }
    let path = &logging.source.path;
    let in_container_dir = path
        .strip_prefix(CONTAINER_LOG_DIR)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|file| !file.is_empty() && !file.contains('/'));
    if !in_container_dir {
        let d = Diagnostic::error("P0348", format!("`logging.source.path` must name files in `{CONTAINER_LOG_DIR}/`, not `{}`", path.value))
            .help("the Kubernetes metadata filter and the namespace filter read the pod, namespace and container from those file names (`<pod>_<namespace>_<container>-<id>.log`): use `/var/log/containers/*.log`");
        diags.push(path.diagnostic(d, "outside /var/log/containers"));
    }
    let pos = &logging.source.pos_file;
    let under_logs = pos.starts_with(&format!("{LOG_DIR}/")) || pos.value == LOG_DIR;
    if !pos.starts_with('/') || pos.ends_with('/') || under_logs || parent_dir(pos) == "/" {
        let d = Diagnostic::error("P0348", format!("`logging.source.pos_file` cannot be `{}`", pos.value))
            .help(format!("name a file by its absolute path in a directory of its own outside `{LOG_DIR}` (which Fluentd mounts read-only), such as `/var/lib/fluentd/containers.log.pos`; the directory becomes a hostPath volume so positions survive restarts"));
        diags.push(pos.diagnostic(d, "not a writable place on the node"));
    }
}

/// The directory of an absolute file path (`/` for a file at the root).
fn parent_dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn check_image_and_size(spec: &Spec, logging: &Logging, diags: &mut Diagnostics) {
    let image = &logging.image;
    if image.trim().is_empty() || image.contains(char::is_whitespace) {
        let d = Diagnostic::error(
            "P0104",
            format!("logging: `{}` is not an image reference", image.value),
        );
        diags.push(image.diagnostic(d, "invalid image"));
    } else if !crate::validate::is_pinned(image) {
        let d = Diagnostic::error("P0206", format!("logging: image `{}` is not pinned", image.value))
            .help("name an exact version tag (`fluent/fluentd-kubernetes-daemonset:v1.17.1-debian-elasticsearch8-1.0`) or a digest");
        diags.push(image.diagnostic(d, "no pinned tag"));
    }
    let size = &logging.size;
    if spec.size(size).is_none() {
        let mut d = Diagnostic::error("P0204", format!("unknown size `{}`", size.value));
        if let Some(close) = did_you_mean(size, spec.sizes.iter().map(|s| s.name.as_str())) {
            d = d.help(format!("did you mean `{close}`?"));
        }
        diags.push(size.diagnostic(d, "no such size"));
    }
}

/// Fields the pipeline adds to every record; a service field of the same name would be overwritten
/// or would overwrite them.
fn added_fields(format: LogFormat) -> Vec<(&'static str, &'static str)> {
    let mut added = vec![
        ("environment", "the environment stamp"),
        ("cluster", "the cluster stamp"),
        ("kubernetes", "the Kubernetes metadata filter"),
        ("docker", "the Kubernetes metadata filter"),
        ("stream", "the container runtime's log format"),
        ("@timestamp", "the Elasticsearch output (the event time)"),
        ("@log_name", "the Elasticsearch output (the tag)"),
    ];
    if format == LogFormat::Cri {
        added.push(("logtag", "the CRI log format"));
    }
    added
}

/// The timestamp field is declared as a timestamp (P0343); no field collides with one the pipeline
/// adds (P0346).
fn check_schema(logging: &Logging, diags: &mut Diagnostics) {
    let ts = &logging.timestamp.field;
    match logging.fields.iter().find(|f| f.name == ts.value) {
        None => {
            let d = Diagnostic::error(
                "P0343",
                format!(
                    "the timestamp field `{}` is not in `logging.fields`",
                    ts.value
                ),
            )
            .help(format!(
                "declare it: `{} = \"timestamp\"` under `[logging.fields]`",
                ts.value
            ));
            diags.push(ts.diagnostic(d, "not declared"));
        }
        Some(field) if field.value != FieldType::Timestamp => {
            let d = Diagnostic::error(
                "P0343",
                format!(
                    "the timestamp field `{}` is declared as `{}`",
                    ts.value,
                    field.value.name()
                ),
            )
            .also(field.origin, "declared here")
            .help("give it the type `timestamp`: Fluentd takes the event time from it");
            diags.push(ts.diagnostic(d, "the timestamp field"));
        }
        Some(_) => {}
    }
    let added = added_fields(logging.container_log_format);
    for field in &logging.fields {
        if let Some((_, by)) = added.iter().find(|(name, _)| *name == field.name) {
            diags.push(
                Diagnostic::error("P0346", format!("log field `{}` collides with the field {by} adds", field.name))
                    .at(field.origin, "added by the pipeline too")
                    .help("rename the field in the services' logs and here; the pipeline adds: environment, cluster, kubernetes, docker, stream, logtag, @timestamp, @log_name"),
            );
        }
    }
}

/// Fluentd's time formats for the services' timestamps, and whether the spec named them.
fn app_time_formats(logging: &Logging) -> (String, Vec<String>) {
    let ts = &logging.timestamp;
    let named: Vec<&Located<String>> = ts
        .time_format
        .iter()
        .chain(&ts.time_format_fallbacks)
        .collect();
    match named.split_first() {
        Some((first, rest)) => (
            first.value.clone(),
            rest.iter().map(|f| f.value.clone()).collect(),
        ),
        None => (
            ISO8601_TIME_FORMAT.into(),
            vec![ISO8601_TIME_FALLBACK.into()],
        ),
    }
}

/// Every timestamp the services may write in the declared format must be read, whole, by one of the
/// formats the spec names (P0341); formats plat cannot model are reported instead (P0347).
fn check_time_formats(logging: &Logging, diags: &mut Diagnostics) {
    let ts = &logging.timestamp;
    let named: Vec<&Located<String>> = ts
        .time_format
        .iter()
        .chain(&ts.time_format_fallbacks)
        .collect();
    let Some(first) = named.first() else {
        return;
    };
    let mut checkable = true;
    for format in &named {
        if let Err(fluentd::FormatError::Unsupported(directive)) = fluentd::time_accepts(format, "")
        {
            checkable = false;
            let d = Diagnostic::error("P0347", format!("plat cannot check the time format directive `{directive}` in `{}`", format.value))
                .help(format!("use the directives plat models (%Y %m %d %H %M %S %N %L %z %Z %T %F %s), or remove the key to let plat derive the format for {}", ts.format.name()));
            diags.push(format.diagnostic(d, "unsupported directive"));
        }
    }
    if !checkable {
        return;
    }
    let rejected: Vec<String> = ts
        .format
        .samples()
        .into_iter()
        .filter(|sample| {
            !named
                .iter()
                .any(|f| fluentd::time_accepts(f, sample) == Ok(true))
        })
        .collect();
    if rejected.is_empty() {
        return;
    }
    let key = if ts.time_format.is_some() {
        "time_format"
    } else {
        "time_format_fallbacks"
    };
    let mut d = Diagnostic::error("P0341", format!("`logging.{key}` does not read the {} timestamps the services write", ts.format.name()))
        .help(format!("remove `time_format` and plat writes `{ISO8601_TIME_FORMAT}` with the fallback `{ISO8601_TIME_FALLBACK}`"))
        .note(format!("rejected: {}", abbreviated(&rejected, 3)))
        .note("Fluentd must read the whole timestamp: a format that stops before the fraction or the offset files events hours off");
    for other in named.iter().skip(1) {
        d = d.also(other.origin, "tried next, also rejects them");
    }
    diags.push(first.diagnostic(d, format!("rejects `{}`", rejected[0])));
}

/// The first `n` items, and how many more there are.
fn abbreviated(items: &[String], n: usize) -> String {
    let shown = items.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    match items.len().saturating_sub(n) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

/// The Elasticsearch output: a host name without scheme or port, a port, an index name
/// Elasticsearch accepts (P0344), and a Fluentd duration for the flush interval (P0349).
fn check_output(es: &Elasticsearch, diags: &mut Diagnostics) {
    if let Some(problem) = host_problem(&es.host) {
        let d = Diagnostic::error("P0344", format!("`logging.elasticsearch.host` `{}` {problem}", es.host.value))
            .help("write a DNS name such as `elasticsearch.logging.svc.cluster.local` or an IPv4 address; the scheme and port have keys of their own");
        diags.push(es.host.diagnostic(d, "not a host name"));
    }
    if let Err(broken) = crate::rules::network::port(es.port.value) {
        let d = Diagnostic::error(
            "P0344",
            format!("`logging.elasticsearch.port` {}", broken.problem),
        )
        .help(format!(
            "it must be {}; Elasticsearch listens on 9200 by default",
            broken.rule
        ));
        diags.push(es.port.diagnostic(d, "not a port"));
    }
    if let Some(problem) = index_problem(&es.index) {
        let d = Diagnostic::error("P0344", format!("`logging.elasticsearch.index` `{}` is not an Elasticsearch index name: {problem}", es.index.value))
            .help("index names are lower case, without spaces or any of \\ / * ? \" < > | , #, and do not start with -, _ or +");
        diags.push(es.index.diagnostic(d, "invalid index name"));
    }
    if !is_duration(&es.flush_interval) {
        let d = Diagnostic::error(
            "P0349",
            format!(
                "`logging.elasticsearch.flush_interval` `{}` is not a Fluentd duration",
                es.flush_interval.value
            ),
        )
        .help(
            "write a positive number of seconds with an optional unit s, m, h or d, such as `1s`",
        );
        diags.push(es.flush_interval.diagnostic(d, "not a duration"));
    }
}

fn host_problem(host: &str) -> Option<&'static str> {
    if host.contains("://") {
        return Some("contains a scheme");
    }
    if host.contains(':') {
        return Some("contains a port (or is an IPv6 address, which plat does not take here)");
    }
    let labels_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    (!labels_ok).then_some("is not a DNS name")
}

fn index_problem(index: &str) -> Option<&'static str> {
    if index.is_empty() || index.len() > 255 {
        return Some("empty or longer than 255 bytes");
    }
    if index.chars().any(|c| c.is_ascii_uppercase()) {
        return Some("upper-case letters");
    }
    if index
        .chars()
        .any(|c| c.is_whitespace() || "\\/*?\"<>|,#:".contains(c))
    {
        return Some("a forbidden character");
    }
    if index.starts_with(['-', '_', '+']) || index == "." || index == ".." {
        return Some("a forbidden first character");
    }
    None
}

/// Fluentd's time values: a number of seconds with an optional unit.
fn is_duration(text: &str) -> bool {
    let number = text.strip_suffix(['s', 'm', 'h', 'd']).unwrap_or(text);
    let well_formed = !number.is_empty()
        && !number.starts_with('.')
        && !number.ends_with('.')
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.matches('.').count() <= 1;
    well_formed && number.parse::<f64>().is_ok_and(|n| n > 0.0)
}

/// Credentials only by reference: the password is a key of `[secrets].keys`, with a user (P0345).
fn check_credentials(spec: &Spec, logging: &Logging, diags: &mut Diagnostics) {
    let es = &logging.elasticsearch;
    match (&es.user, &es.password_secret) {
        (Some(user), None) => {
            let d = Diagnostic::error("P0345", "`logging.elasticsearch.user` is set without `password_secret`")
                .help("name the key of `[secrets].keys` that holds the password: `password_secret = \"ELASTICSEARCH_PASSWORD\"`");
            diags.push(user.diagnostic(d, "a user without a password"));
        }
        (None, Some(secret)) => {
            let d = Diagnostic::error(
                "P0345",
                "`logging.elasticsearch.password_secret` is set without `user`",
            )
            .help("add the user Fluentd logs in as: `user = \"fluentd\"`");
            diags.push(secret.diagnostic(d, "a password without a user"));
        }
        _ => {}
    }
    let Some(secret) = &es.password_secret else {
        return;
    };
    let keys = &spec.secrets.keys;
    if !keys.iter().any(|k| k.value == secret.value) {
        let mut d = Diagnostic::error("P0345", format!("`logging.elasticsearch.password_secret` names `{}`, which is not in `[secrets].keys`", secret.value))
            .also(spec.secrets.origin, "the declared secret keys");
        d = match did_you_mean(secret, keys.iter().map(|k| k.as_str())) {
            Some(close) => d.help(format!("did you mean `{close}`?")),
            None => d.help("add the key to `[secrets].keys`; its value lives in the secret store, never in the spec"),
        };
        diags.push(secret.diagnostic(d, "no such secret key"));
    }
    let secrets = &spec.secrets;
    if secrets.provider == SecretProvider::ExternalSecrets
        && secrets.store_kind != "ClusterSecretStore"
    {
        let d = Diagnostic::error("P0345", format!("Fluentd's credentials need a ClusterSecretStore, but `[secrets].store_kind` is `{}`", secrets.store_kind))
            .at(secrets.store_kind_at, "the secret store's kind")
            .help(format!("a SecretStore serves only its own namespace; Fluentd runs in `{}`", logging.namespace.value));
        diags.push(d);
    }
}

// ------------------------------------------------------------------------------------------------
// Lower: fluent.conf

/// The Fluentd configuration for this environment, from the typed model.
pub fn fluent_conf(spec: &Spec) -> Option<Config> {
    let logging = spec.observe.logging.as_ref()?;
    let mut directives = vec![
        Directive::System(Body::new().text_param("log_level", "info")),
        tail_source(logging),
        // monitor_agent gives the probes an HTTP endpoint that answers while Fluentd's engine runs.
        Directive::Source(
            Body::new()
                .text_param("@type", "monitor_agent")
                .text_param("@id", "in_monitor_agent")
                .text_param("bind", "0.0.0.0")
                .text_param("port", MONITOR_PORT.to_string()),
        ),
    ];
    if logging.kubernetes_metadata {
        directives.push(Directive::Filter {
            pattern: "kubernetes.**".into(),
            body: Body::new()
                .text_param("@type", "kubernetes_metadata")
                .text_param("@id", "filter_kubernetes_metadata"),
        });
    }
    directives.push(app_parser(spec, logging));
    directives.push(stamp(spec));
    directives.push(elasticsearch(logging));
    // Fluentd's own log events go to this label; dropping them here keeps them out of the pipeline
    // (they still reach the container's stdout).
    directives.push(Directive::Label {
        name: "@FLUENT_LOG".into(),
        directives: vec![Directive::Match {
            pattern: "fluent.**".into(),
            body: Body::new()
                .text_param("@type", "null")
                .text_param("@id", "out_fluent_log"),
        }],
    });
    Some(Config { directives })
}

/// The time parameters of a `<parse>` section: one format, or `mixed` with fallbacks.
fn with_time_formats(mut body: Body, primary: &str, fallbacks: &[String]) -> Body {
    if !fallbacks.is_empty() {
        body = body.text_param("time_type", "mixed");
    }
    body = body.text_param("time_format", primary);
    if !fallbacks.is_empty() {
        body = body.list_param("time_format_fallbacks", fallbacks.to_vec());
    }
    body
}

/// Tails every container's log on the node, parsing the runtime's line format; skips Fluentd's own
/// logs, which would otherwise loop back (every shipping error would be shipped, and fail, again).
fn tail_source(logging: &Logging) -> Directive {
    let fallbacks = [ISO8601_TIME_FALLBACK.to_string()];
    let parse = match logging.container_log_format {
        // fluent-plugin-parser-cri, part of the fluentd-kubernetes-daemonset images. Its default
        // `%L` format fails on whole seconds, where Go's RFC3339Nano writes no fraction.
        LogFormat::Cri => Body::new()
            .text_param("@type", "cri")
            .text_param("keep_time_key", "false"),
        LogFormat::DockerJson => Body::new()
            .text_param("@type", "json")
            .text_param("time_key", "time"),
    };
    let parse = with_time_formats(parse, ISO8601_TIME_FORMAT, &fallbacks);
    let own_logs = format!(
        "{CONTAINER_LOG_DIR}/{NAME}-*_{}_{NAME}-*.log",
        logging.namespace.value
    );
    let source = &logging.source;
    Directive::Source(
        Body::new()
            .text_param("@type", "tail")
            .text_param("@id", "in_tail_container_logs")
            .text_param("path", source.path.value.clone())
            .list_param("exclude_path", vec![own_logs])
            .text_param("pos_file", source.pos_file.value.clone())
            .text_param("tag", "kubernetes.*")
            .text_param("read_from_head", source.read_from_head.to_string())
            // With a wildcard path, following inodes keeps a rotated file from being read twice.
            .text_param("follow_inodes", "true")
            .section(Section::new("parse", parse)),
    )
}

/// The tag glob of the platform's pods: in_tail's tag holds the file name
/// `<pod>_<namespace>_<container>-<id>.log`, and `*` matches within one dot-separated part.
pub fn platform_tag_pattern(namespace: &str) -> String {
    format!("kubernetes.var.log.containers.*_{namespace}_*.log")
}

/// Parses the services' JSON lines from the field the source parser left them in. Lines that are
/// not JSON keep their record (`reserve_data`) instead of going to an error label nobody reads.
fn app_parser(spec: &Spec, logging: &Logging) -> Directive {
    let (primary, fallbacks) = app_time_formats(logging);
    let types: Vec<String> = logging
        .fields
        .iter()
        .filter_map(|f| f.value.fluentd_type().map(|t| format!("{}:{t}", f.name)))
        .collect();
    let mut parse = Body::new()
        .text_param("@type", "json")
        .text_param("time_key", logging.timestamp.field.value.clone())
        .text_param("keep_time_key", "true");
    parse = with_time_formats(parse, &primary, &fallbacks);
    if !types.is_empty() {
        parse = parse.text_param("types", types.join(","));
    }
    Directive::Filter {
        pattern: platform_tag_pattern(&spec.environment.namespace),
        body: Body::new()
            .text_param("@type", "parser")
            .text_param("@id", "filter_platform_json")
            .text_param("key_name", logging.container_log_format.message_key())
            .text_param("reserve_data", "true")
            .text_param("remove_key_name_field", "true")
            .text_param("emit_invalid_record_to_error", "false")
            .section(Section::new("parse", parse)),
    }
}

/// The environment and cluster, written as values: nothing at run time has to supply them.
fn stamp(spec: &Spec) -> Directive {
    let env = &spec.environment;
    let record = Body::new()
        .text_param("environment", env.name.clone())
        .text_param("cluster", env.cluster.clone());
    Directive::Filter {
        pattern: "kubernetes.**".into(),
        body: Body::new()
            .text_param("@type", "record_transformer")
            .text_param("@id", "filter_stamp")
            .section(Section::new("record", record)),
    }
}

/// Ships to Elasticsearch through a file buffer on the node, so that an outage or a restart loses
/// nothing. No `type_name`: Elasticsearch 8 removed mapping types.
fn elasticsearch(logging: &Logging) -> Directive {
    let es = &logging.elasticsearch;
    let scheme = match es.scheme {
        Scheme::Http => "http",
        Scheme::Https => "https",
    };
    let mut body = Body::new()
        .text_param("@type", "elasticsearch")
        .text_param("@id", "out_elasticsearch")
        .text_param("host", es.host.value.clone())
        .text_param("port", es.port.value.to_string())
        .text_param("scheme", scheme)
        .text_param("index_name", es.index.value.clone())
        .text_param("include_timestamp", "true")
        .text_param("include_tag_key", "true")
        .text_param("tag_key", "@log_name")
        // Behind a Service, reloading would swap the Service address for pod addresses.
        .text_param("reload_connections", "false")
        .text_param("reload_on_failure", "false")
        .text_param("reconnect_on_error", "true");
    if let (Some(user), Some(secret)) = (&es.user, &es.password_secret) {
        body = body.text_param("user", user.value.clone()).embedded_param(
            "password",
            format!("File.read('{CREDENTIALS_DIR}/{}').strip", secret.value),
        );
    }
    let buffer = Body::new()
        .text_param("@type", "file")
        .text_param(
            "path",
            format!(
                "{}/buffer/elasticsearch",
                parent_dir(&logging.source.pos_file)
            ),
        )
        .text_param("flush_mode", "interval")
        .text_param("flush_interval", es.flush_interval.value.clone())
        .text_param("flush_thread_count", "2")
        .text_param("chunk_limit_size", "8MB")
        .text_param("total_limit_size", "512MB")
        .text_param("overflow_action", "block")
        .text_param("retry_type", "exponential_backoff")
        .text_param("retry_max_interval", "30s")
        .text_param("retry_forever", "true");
    Directive::Match {
        pattern: "kubernetes.**".into(),
        body: body.section(Section::new("buffer", buffer)),
    }
}

// ------------------------------------------------------------------------------------------------
// Lower: Kubernetes objects

/// `fluentd/fluent.conf`, and `kubernetes/logging/fluentd.yaml` with everything Fluentd runs with.
pub fn lower(ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    let Some(logging) = &ctx.spec.observe.logging else {
        return;
    };
    let Some(config) = fluent_conf(ctx.spec) else {
        return;
    };
    let text = fluentd::render(&config);
    let k = Kube::new(ctx, logging);
    let mut objects = vec![
        k.namespace(),
        k.service_account(),
        k.cluster_role(),
        k.cluster_role_binding(),
        k.config_map(&text),
    ];
    if let Some(secret) = k.credentials() {
        objects.push(secret);
    }
    objects.push(k.network_policy());
    objects.push(k.daemon_set(&text));
    sink.manifests(Unit {
        file: "logging/fluentd.yaml".into(),
        objects,
    });
    sink.file("fluentd/fluent.conf".into(), text);
}

/// Builds the objects; namespaced ones go to the logging namespace, not the platform's.
struct Kube<'a> {
    ctx: &'a Ctx<'a>,
    logging: &'a Logging,
    labels: Labels,
}

impl<'a> Kube<'a> {
    fn new(ctx: &'a Ctx<'a>, logging: &'a Logging) -> Self {
        let version = image_version(&logging.image);
        let labels = Labels::standard(
            NAME,
            NAME,
            "logging",
            &ctx.spec.platform.name,
            version.as_deref(),
        );
        Kube {
            ctx,
            logging,
            labels,
        }
    }

    fn metadata(&self, name: &str) -> Value {
        let mut metadata = self
            .ctx
            .metadata(name, &self.labels, "logging", self.logging.origin);
        metadata["namespace"] = json!(self.logging.namespace.value);
        metadata
    }

    /// Cluster-scoped objects have no namespace; their names carry the platform's so that they do
    /// not collide with another log collector's.
    fn cluster_metadata(&self) -> Value {
        let name = format!("{}-{NAME}", self.ctx.spec.platform.name.value);
        let mut metadata = self
            .ctx
            .metadata(&name, &self.labels, "logging", self.logging.origin);
        if let Some(m) = metadata.as_object_mut() {
            m.remove("namespace");
        }
        metadata
    }

    fn object(&self, value: Value) -> Object {
        self.ctx.object(value, self.logging.origin)
    }

    /// The logging namespace admits privileged pods: reading the node's logs needs hostPath and root.
    fn namespace(&self) -> Object {
        let mut metadata = self.ctx.metadata(
            &self.logging.namespace,
            &self.labels,
            "logging.namespace",
            self.logging.namespace.origin,
        );
        if let Some(m) = metadata.as_object_mut() {
            m.remove("namespace");
        }
        metadata["labels"]["pod-security.kubernetes.io/enforce"] = json!("privileged");
        self.ctx.object(
            json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": metadata }),
            self.logging.namespace.origin,
        )
    }

    fn service_account(&self) -> Object {
        self.object(json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": self.metadata(NAME),
            "automountServiceAccountToken": false,
        }))
    }

    /// What the Kubernetes metadata filter reads: pods and their namespaces, nothing else.
    fn cluster_role(&self) -> Object {
        self.object(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": self.cluster_metadata(),
            "rules": [{ "apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["get", "list", "watch"] }],
        }))
    }

    fn cluster_role_binding(&self) -> Object {
        let name = format!("{}-{NAME}", self.ctx.spec.platform.name.value);
        self.object(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": self.cluster_metadata(),
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name },
            "subjects": [{ "kind": "ServiceAccount", "name": NAME, "namespace": self.logging.namespace.value }],
        }))
    }

    fn config_map(&self, text: &str) -> Object {
        self.object(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": self.metadata(CONFIG_MAP),
            "data": { "fluent.conf": text },
        }))
    }

    /// The Elasticsearch password, fetched into the logging namespace by the External Secrets
    /// Operator; with `existing` secrets, the Secret `fluentd-elasticsearch` is made by hand there.
    fn credentials(&self) -> Option<Object> {
        let secret = self.logging.elasticsearch.password_secret.as_ref()?;
        let secrets = &self.ctx.spec.secrets;
        if secrets.provider != SecretProvider::ExternalSecrets {
            return None;
        }
        let prefix = secrets.remote_prefix.trim_end_matches('/');
        let remote = if prefix.is_empty() {
            secret.value.clone()
        } else {
            format!("{prefix}/{}", secret.value)
        };
        let store = secrets
            .store
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_default();
        Some(self.object(json!({
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": self.metadata(CREDENTIALS),
            "spec": {
                "refreshInterval": secrets.refresh_interval,
                "secretStoreRef": { "name": store, "kind": secrets.store_kind },
                "target": { "name": CREDENTIALS, "creationPolicy": "Owner" },
                "data": [{ "secretKey": secret.value, "remoteRef": { "key": remote } }],
            },
        })))
    }

    /// Fluentd takes no connections (the kubelet's probes from the node are always allowed) and
    /// reaches only DNS, the API server (for metadata) and Elasticsearch.
    fn network_policy(&self) -> Object {
        let network = &self.ctx.spec.network;
        let es = &self.logging.elasticsearch;
        let tcp = |ports: &[i64]| -> Vec<Value> {
            ports
                .iter()
                .map(|p| json!({ "protocol": "TCP", "port": p }))
                .collect()
        };
        let namespace = |name: &str| json!({ "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": name } } });
        let mut to_elasticsearch = json!({ "ports": tcp(&[es.port.value]) });
        // An in-cluster Service name says which namespace Elasticsearch runs in; anything else may be
        // anywhere.
        if let Some(ns) = service_namespace(&es.host) {
            to_elasticsearch["to"] = json!([namespace(ns)]);
        }
        let mut dns = namespace(&network.dns_namespace);
        dns["podSelector"] = json!({ "matchLabels": { "k8s-app": "kube-dns" } });
        self.object(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": self.metadata(NAME),
            "spec": {
                "podSelector": { "matchLabels": self.labels.selector(&[]).to_json() },
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [],
                "egress": [
                    { "to": [dns], "ports": [{ "protocol": "UDP", "port": 53 }, { "protocol": "TCP", "port": 53 }] },
                    { "to": [{ "ipBlock": { "cidr": network.api_server_cidr } }], "ports": tcp(&[443, 6443]) },
                    to_elasticsearch,
                ],
            },
        }))
    }

    fn daemon_set(&self, text: &str) -> Object {
        let mut metadata = self.metadata(NAME);
        waive_checks(&mut metadata, &self.logging.image);
        let selector = self.labels.selector(&[]).to_json();
        let checksum = crate::kit::fnv1a_hex(&[("fluent.conf".to_string(), text.to_string())]);
        self.object(json!({
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": metadata,
            "spec": {
                "selector": { "matchLabels": selector },
                "updateStrategy": { "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 1 } },
                "template": {
                    "metadata": {
                        "labels": self.labels.to_json(),
                        "annotations": { "plat.dev/config-checksum": checksum },
                    },
                    "spec": self.pod_spec(),
                },
            },
        }))
    }

    fn pod_spec(&self) -> Value {
        json!({
            "serviceAccountName": NAME,
            // The metadata filter calls the API server with this token.
            "automountServiceAccountToken": true,
            "enableServiceLinks": false,
            "terminationGracePeriodSeconds": 30,
            "securityContext": {
                "runAsUser": 0,
                "runAsGroup": 0,
                "runAsNonRoot": false,
                "seccompProfile": { "type": "RuntimeDefault" },
            },
            // Every node has logs, tainted ones included.
            "tolerations": [{ "operator": "Exists" }],
            "containers": [self.container()],
            "volumes": self.volumes(),
        })
    }

    fn container(&self) -> Value {
        let size = self.ctx.spec.size(&self.logging.size);
        let resources = size.map(|s| {
            json!({
                "requests": { "cpu": s.requests.cpu.text, "memory": s.requests.memory.text },
                "limits": { "cpu": s.limits.cpu.text, "memory": s.limits.memory.text },
            })
        });
        let probe = |delay: i64, period: i64| {
            json!({
                "httpGet": { "path": "/api/plugins.json", "port": "monitor" },
                "initialDelaySeconds": delay,
                "periodSeconds": period,
                "timeoutSeconds": 5,
                "failureThreshold": 3,
            })
        };
        json!({
            "name": NAME,
            "image": self.logging.image.value,
            "imagePullPolicy": self.ctx.spec.defaults.image_pull_policy,
            // The metadata filter watches only this node's pods when it knows the node.
            "env": [{ "name": "K8S_NODE_NAME", "valueFrom": { "fieldRef": { "fieldPath": "spec.nodeName" } } }],
            "ports": [{ "name": "monitor", "containerPort": MONITOR_PORT, "protocol": "TCP" }],
            "resources": resources,
            "livenessProbe": probe(30, 30),
            "readinessProbe": probe(5, 10),
            "securityContext": {
                "allowPrivilegeEscalation": false,
                "readOnlyRootFilesystem": true,
                "runAsNonRoot": false,
                "runAsUser": 0,
                "capabilities": { "drop": ["ALL"] },
                "seccompProfile": { "type": "RuntimeDefault" },
            },
            "volumeMounts": self.mounts(),
        })
    }

    /// The node's logs read-only; positions and buffers in a directory of their own on the node.
    fn mounts(&self) -> Value {
        let mut mounts = vec![
            json!({ "name": "varlog", "mountPath": LOG_DIR, "readOnly": true }),
            json!({ "name": "state", "mountPath": parent_dir(&self.logging.source.pos_file) }),
            json!({ "name": "config", "mountPath": CONFIG_DIR, "readOnly": true }),
            json!({ "name": "tmp", "mountPath": "/tmp" }),
        ];
        if self.logging.container_log_format == LogFormat::DockerJson {
            mounts.push(json!({ "name": "docker-containers", "mountPath": DOCKER_CONTAINERS, "readOnly": true }));
        }
        if self.logging.elasticsearch.password_secret.is_some() {
            mounts.push(
                json!({ "name": "credentials", "mountPath": CREDENTIALS_DIR, "readOnly": true }),
            );
        }
        json!(mounts)
    }

    fn volumes(&self) -> Value {
        let state = parent_dir(&self.logging.source.pos_file);
        let mut volumes = vec![
            json!({ "name": "varlog", "hostPath": { "path": LOG_DIR, "type": "Directory" } }),
            json!({ "name": "state", "hostPath": { "path": state, "type": "DirectoryOrCreate" } }),
            json!({ "name": "config", "configMap": { "name": CONFIG_MAP } }),
            json!({ "name": "tmp", "emptyDir": { "sizeLimit": "64Mi" } }),
        ];
        if self.logging.container_log_format == LogFormat::DockerJson {
            volumes.push(json!({ "name": "docker-containers", "hostPath": { "path": DOCKER_CONTAINERS, "type": "Directory" } }));
        }
        if let Some(secret) = &self.logging.elasticsearch.password_secret {
            volumes.push(json!({
                "name": "credentials",
                "secret": { "secretName": CREDENTIALS, "items": [{ "key": secret.value, "path": secret.value }], "defaultMode": 0o440 },
            }));
        }
        json!(volumes)
    }
}

/// The namespace of a Service address `<service>.<namespace>.svc[.<cluster domain>]`.
fn service_namespace(host: &str) -> Option<&str> {
    let mut parts = host.split('.');
    let (_, namespace, svc) = (parts.next()?, parts.next()?, parts.next()?);
    (svc == "svc").then_some(namespace)
}

/// The image tag as the version label, when it is a valid label value.
fn image_version(image: &str) -> Option<String> {
    let last = image.split('@').next()?.rsplit('/').next()?;
    let (_, tag) = last.split_once(':')?;
    let valid = tag.len() <= 63
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    valid.then(|| tag.to_string())
}

/// checkov's checks that a node log collector cannot pass, each waived on the DaemonSet with the
/// reason (one check per annotation, as checkov reads them).
fn waive_checks(metadata: &mut Value, image: &str) {
    let mut waivers = vec![
        (
            "CKV_K8S_23",
            "Fluentd runs as root: the container log files on the node are readable by root only",
        ),
        (
            "CKV_K8S_40",
            "Fluentd runs as root (UID 0): the container log files on the node are readable by root only",
        ),
        (
            "CKV_K8S_38",
            "the Kubernetes metadata filter reads pods and namespaces from the API server with this token",
        ),
    ];
    if !image.contains("@sha256:") {
        waivers.push(("CKV_K8S_43", "images are pinned by release tag, which plat enforces (P0206); write image@sha256:... to pin by digest"));
    }
    for (i, (check, reason)) in waivers.iter().enumerate() {
        metadata["annotations"][format!("checkov.io/skip{}", i + 1)] =
            json!(format!("{check}={reason}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_time_formats_read_every_declared_and_runtime_timestamp() {
        let formats = [ISO8601_TIME_FORMAT, ISO8601_TIME_FALLBACK];
        let accepts = |sample: &str| {
            formats
                .iter()
                .any(|f| fluentd::time_accepts(f, sample) == Ok(true))
        };
        let mut samples = TimestampFormat::Iso8601.samples();
        samples.extend(LogFormat::Cri.time_samples());
        samples.extend(LogFormat::DockerJson.time_samples());
        assert!(samples.contains(&"2024-05-01T12:00:00.123456Z".to_string()));
        assert!(samples.contains(&"2024-05-01T12:00:00+08:00".to_string()));
        for sample in samples {
            assert!(accepts(&sample), "{sample}");
        }
    }

    #[test]
    fn the_seeds_time_format_rejects_structlogs_timestamps() {
        let rejected: Vec<String> = TimestampFormat::Iso8601
            .samples()
            .into_iter()
            .filter(|s| fluentd::time_accepts("%Y-%m-%d %H:%M:%S", s) != Ok(true))
            .collect();
        assert_eq!(rejected.len(), 9);
    }

    #[test]
    fn durations_hosts_and_indices() {
        assert!(is_duration("1s") && is_duration("0.5") && is_duration("10m"));
        assert!(
            !is_duration("1 s") && !is_duration("0s") && !is_duration("s") && !is_duration("1.s")
        );
        assert_eq!(
            host_problem("elasticsearch.logging.svc.cluster.local"),
            None
        );
        assert_eq!(host_problem("10.0.0.1"), None);
        assert!(host_problem("http://es").is_some() && host_problem("es:9200").is_some());
        assert!(host_problem("").is_some() && host_problem("-es").is_some());
        assert_eq!(index_problem("k8s-logs"), None);
        assert!(
            index_problem("K8s").is_some()
                && index_problem("_x").is_some()
                && index_problem("a b").is_some()
        );
    }

    #[test]
    fn service_namespaces() {
        assert_eq!(
            service_namespace("elasticsearch.logging.svc.cluster.local"),
            Some("logging")
        );
        assert_eq!(service_namespace("es.search.svc"), Some("search"));
        assert_eq!(service_namespace("es.example.com"), None);
        assert_eq!(service_namespace("10.0.0.1"), None);
    }

    #[test]
    fn parent_dirs() {
        assert_eq!(
            parent_dir("/var/lib/fluentd/containers.log.pos"),
            "/var/lib/fluentd"
        );
        assert_eq!(parent_dir("/x.pos"), "/");
    }

    #[test]
    fn the_version_label_is_the_tag() {
        let image = "fluent/fluentd-kubernetes-daemonset:v1.17.1-debian-elasticsearch8-1.0";
        assert_eq!(
            image_version(image).as_deref(),
            Some("v1.17.1-debian-elasticsearch8-1.0")
        );
        assert_eq!(image_version("registry:5000/fluentd"), None);
    }
}
