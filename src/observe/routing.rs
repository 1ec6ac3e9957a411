//! `[alerting]`: Alertmanager receivers and routes.
//!
//! The spec names receivers (e-mail, Slack, webhook) and an ordered list of routes. plat writes
//! `generated/<env>/alertmanager/alertmanager.yaml` and the same text as the Secret the Prometheus
//! Operator reads. Before that, `check` simulates Alertmanager's routing of every alert this
//! environment's rules can fire, so that a route shadowed by an earlier one is an error at the route
//! rather than a silent gap in on-call. (The seed's hand-written config has exactly that gap: its critical
//! route comes first and has no `continue`, so `AstrBotInstanceDown`, which is critical, never reaches
//! `astrbot-alerts`.)
//!
//! Credentials are never values: the SMTP password and Slack webhooks are keys of `[secrets]`, written as
//! `*_file` paths into the folder where the Prometheus Operator mounts the Secrets an `Alertmanager`
//! lists in `spec.secrets`.
//!
//! Codes: P0204 unknown secret key; P0301 unknown receiver; P0302 unused receiver (warning); P0303 route
//! that no alert can reach because earlier routes take them all; P0304 route that matches no alert of the
//! environment (warning); P0305 critical alert that reaches only the default receiver; P0306 matcher
//! syntax; P0307 e-mail without `[alerting.smtp]`; P0308 default receiver that pages.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value, json};

use crate::decode::{Fields, Located, Named, rule, type_error};
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::facts::AlertingFacts;
use crate::kit::{Labels, obj};
use crate::node::{Node, Value as NodeValue};
use crate::output::{Ctx, Sink, Unit};
use crate::source::Origin;
use crate::spec::{MonitoringLevel, Spec};

use super::AlertInfo;

/// Where the configuration is written, relative to `generated/<env>/`.
pub const CONFIG_FILE: &str = "alertmanager/alertmanager.yaml";
/// The in-cluster form, relative to `generated/<env>/kubernetes/`.
pub const MANIFEST_FILE: &str = "monitoring/alertmanager-config.yaml";
/// The key of the configuration inside the Secret, as the Prometheus Operator expects it.
pub const CONFIG_KEY: &str = "alertmanager.yaml";
/// Where the Prometheus Operator mounts each Secret named in an `Alertmanager`'s `spec.secrets`:
/// `<dir>/<secret name>/<key>`.
pub const SECRETS_DIR: &str = "/etc/alertmanager/secrets";
/// The severity that must reach someone besides the default receiver.
pub const CRITICAL: &str = "critical";

#[derive(Clone, Debug)]
pub struct Routing {
    /// The root route's receiver: whatever no route claims ends here.
    pub default_receiver: Located<String>,
    pub group_by: Vec<Located<String>>,
    pub timings: Timings,
    pub smtp: Option<Smtp>,
    pub receivers: Vec<Named<Receiver>>,
    /// Children of the root route, in order: the first match wins unless it says `continue`.
    pub routes: Vec<Route>,
    /// Which Alertmanager runs this configuration.
    pub alertmanager: AlertmanagerSetup,
    pub origin: Origin,
}

/// `[alerting.alertmanager]`: plat runs a Prometheus Operator `Alertmanager` in the platform's namespace
/// (`mode = "managed"`, the default), or hands its configuration to an existing one (`mode =
/// "existing"`, with its `name` and `namespace`): then plat writes only the configuration Secret and
/// the credentials into that namespace, because an Alertmanager mounts Secrets of its own namespace only.
#[derive(Clone, Debug, Default)]
pub struct AlertmanagerSetup {
    /// The `Alertmanager` resource's name; the platform's name when unset.
    pub name: Option<Located<String>>,
    /// `Some` for a hand-off to an existing Alertmanager in that namespace.
    pub existing_namespace: Option<Located<String>>,
    /// Pods of a managed Alertmanager; two or more form a cluster that deduplicates notifications.
    pub replicas: i64,
    /// The Alertmanager image of a managed one; the operator's default when unset.
    pub image: Option<Located<String>>,
    /// A size of `[sizes]` for a managed one's Alertmanager container.
    pub size: Option<Located<String>>,
    pub origin: Option<Origin>,
}

const ALERTMANAGER_MODES: [&str; 2] = ["managed", "existing"];

/// Alertmanager's grouping timers; unset ones are inherited (or Alertmanager's defaults at the root).
#[derive(Clone, Debug, Default)]
pub struct Timings {
    pub group_wait: Option<Located<String>>,
    pub group_interval: Option<Located<String>>,
    pub repeat_interval: Option<Located<String>>,
}

#[derive(Clone, Debug)]
pub struct Smtp {
    pub smarthost: Located<String>,
    pub from: Located<String>,
    pub username: Option<Located<String>>,
    /// A key of `[secrets].keys`; the value is never in the spec.
    pub password_secret: Option<Located<String>>,
    pub require_tls: bool,
}

#[derive(Clone, Debug)]
pub struct Receiver {
    pub email: Vec<Located<String>>,
    pub slack: Option<Slack>,
    pub webhook: Option<Located<String>>,
    /// Whether resolved notifications are sent; plat writes it on every integration, because
    /// Alertmanager's own default differs between them (true for webhooks, false otherwise).
    pub send_resolved: bool,
    /// A paging receiver wakes people; basic environments leave it out (see [`folds_paging`]).
    pub paging: Option<Located<bool>>,
}

impl Receiver {
    pub fn pages(&self) -> bool {
        self.paging.as_ref().is_some_and(|p| p.value)
    }
}

#[derive(Clone, Debug)]
pub struct Slack {
    pub channel: Located<String>,
    /// A key of `[secrets].keys` holding the incoming-webhook URL (Alertmanager's `api_url_file`).
    pub webhook_secret: Located<String>,
}

#[derive(Clone, Debug)]
pub struct Route {
    /// Alertmanager matcher strings such as `severity="critical"`; checked in [`check`], so that one
    /// run reports a bad matcher together with every other finding.
    pub matchers: Vec<Located<String>>,
    pub receiver: Located<String>,
    pub continue_: bool,
    pub group_by: Option<Vec<Located<String>>>,
    pub timings: Timings,
    pub origin: Origin,
}

// ------------------------------------------------------------------------------------------------ read

pub fn read(node: &Node, diags: &mut Diagnostics) -> Option<Routing> {
    let mut f = Fields::open(node, "alerting", diags)?;
    let default_receiver = f.req::<String>("default_receiver", diags);
    let group_by = f.opt::<Vec<Located<String>>>("group_by", diags);
    let timings = read_timings(&mut f, diags);
    let smtp = f.node("smtp").map(|n| read_smtp(n, diags));
    let receivers = f.named("receivers", diags, read_receiver);
    let routes = f.node("routes").map(|n| read_routes(n, diags));
    let alertmanager = match f.node("alertmanager") {
        Some(n) => read_alertmanager(n, diags),
        None => Some(AlertmanagerSetup {
            replicas: 1,
            ..AlertmanagerSetup::default()
        }),
    };
    let ok = f.finish(diags);
    let group_by = group_by.map_or_else(Vec::new, |g| g.value);
    let group_by_ok = valid_group_by(&group_by, "alerting.group_by", diags);
    (ok && group_by_ok).then_some(())?;
    Some(Routing {
        default_receiver: default_receiver?,
        group_by,
        timings: timings?,
        smtp: smtp.map_or(Some(None), |s| s.map(Some))?,
        receivers,
        routes: routes.map_or(Some(Vec::new()), |r| r)?,
        alertmanager: alertmanager?,
        origin: node.origin,
    })
}

fn read_alertmanager(node: &Node, diags: &mut Diagnostics) -> Option<AlertmanagerSetup> {
    let path = "alerting.alertmanager";
    let mut f = Fields::open(node, path, diags)?;
    let mode = f.choice("mode", &ALERTMANAGER_MODES, diags);
    let name = f.rule("name", crate::decode::rule::DNS_LABEL, diags);
    let namespace = f.rule("namespace", crate::decode::rule::DNS_LABEL, diags);
    let replicas = f.int("replicas", 1, 9, diags);
    let image = f.rule("image", crate::decode::rule::IMAGE, diags);
    let size = f.opt::<String>("size", diags);
    let mut ok = f.finish(diags);
    let existing = match mode.as_ref().map(|m| m.as_str()) {
        None | Some("managed") => false,
        Some("existing") => true,
        Some(other) => {
            let d = Diagnostic::error("P0104", format!("`{path}.mode`: unknown mode `{other}`"))
                .help("write `managed` (plat runs the Alertmanager) or `existing` (hand-off to one that runs)");
            diags.push(mode.as_ref().expect("a mode").diagnostic(d, "not a mode"));
            return None;
        }
    };
    let pod_setting = (replicas.as_ref().map(|r| r.origin))
        .or(image.as_ref().map(|i| i.origin))
        .or(size.as_ref().map(|s| s.origin));
    ok &= alertmanager_keys_fit(existing, &namespace, pod_setting, node.origin, diags);
    ok.then_some(())?;
    Some(AlertmanagerSetup {
        name,
        existing_namespace: if existing { namespace } else { None },
        replicas: replicas.map_or(1, |r| r.value),
        image,
        size,
        origin: Some(node.origin),
    })
}

/// A hand-off names the namespace it hands to and sets nothing about pods plat does not run; a managed
/// Alertmanager runs in the platform's namespace, where the credentials are.
fn alertmanager_keys_fit(
    existing: bool,
    namespace: &Option<Located<String>>,
    pod_setting: Option<Origin>,
    table: Origin,
    diags: &mut Diagnostics,
) -> bool {
    if existing && namespace.is_none() {
        diags.push(
            Diagnostic::error("P0103", "`alerting.alertmanager.namespace` is missing")
                .at(
                    table,
                    "a hand-off to an existing Alertmanager needs its namespace",
                )
                .help(
                    "set `namespace` (and `name`) of the Alertmanager that runs, e.g. `monitoring`",
                ),
        );
        return false;
    }
    if let (false, Some(ns)) = (existing, namespace) {
        let d = Diagnostic::error("P0104", "`alerting.alertmanager.namespace`: a managed Alertmanager runs in the platform's namespace")
            .help("leave `namespace` out, or set `mode = \"existing\"` to hand the configuration to an Alertmanager in that namespace");
        diags.push(ns.diagnostic(d, "only with mode = \"existing\""));
        return false;
    }
    if let (true, Some(at)) = (existing, pod_setting) {
        diags.push(
                Diagnostic::error("P0104", "`alerting.alertmanager`: `replicas`, `image` and `size` are settings of a managed Alertmanager")
                    .at(at, "plat does not run an existing Alertmanager")
                    .help("remove it, or set `mode = \"managed\"`"),
            );
        return false;
    }
    true
}

fn read_timings(f: &mut Fields<'_>, diags: &mut Diagnostics) -> Option<Timings> {
    let group_wait = duration(f, "group_wait", false, diags);
    let group_interval = duration(f, "group_interval", true, diags);
    let repeat_interval = duration(f, "repeat_interval", true, diags);
    Some(Timings {
        group_wait: group_wait?,
        group_interval: group_interval?,
        repeat_interval: repeat_interval?,
    })
}

/// An optional duration in Alertmanager's syntax; `None` when it is present and invalid.
fn duration(
    f: &mut Fields<'_>,
    key: &'static str,
    nonzero: bool,
    diags: &mut Diagnostics,
) -> Option<Option<Located<String>>> {
    let Some(value) = f.opt::<String>(key, diags) else {
        return Some(None);
    };
    let path = f.child_path(key);
    if !crate::decode::check_rule(&value, &path, rule::PROMETHEUS_DURATION, diags) {
        return None;
    }
    let ok = value_ok(
        &value,
        &path,
        zero_problem(&value, nonzero),
        "Alertmanager refuses a zero group or repeat interval: write a duration such as `5m` or `4h`",
        diags,
    );
    ok.then_some(Some(value))
}

/// Alertmanager (Prometheus `model.ParseDuration`, the rule of [`rule::PROMETHEUS_DURATION`]) rejects
/// a zero group or repeat interval.
fn zero_problem(text: &str, nonzero: bool) -> Option<String> {
    let zero = crate::rules::duration::prometheus(text) == Ok(0);
    (nonzero && zero).then(|| "must be longer than zero".to_string())
}

fn read_smtp(node: &Node, diags: &mut Diagnostics) -> Option<Smtp> {
    let mut f = Fields::open(node, "alerting.smtp", diags)?;
    let smarthost = f.req::<String>("smarthost", diags);
    let from = f.req::<String>("from", diags);
    let username = f.opt::<String>("username", diags);
    let password_secret = f.opt::<String>("password_secret", diags);
    let require_tls = f.or("require_tls", true, diags);
    let origin = f.origin();
    let mut ok = f.finish(diags);
    if let Some(host) = &smarthost {
        ok &= value_ok(
            host,
            "alerting.smtp.smarthost",
            smarthost_problem(host),
            "write `host:port`, e.g. `smtp.gmail.com:587`",
            diags,
        );
    }
    if let Some(from) = &from {
        ok &= value_ok(
            from,
            "alerting.smtp.from",
            email_problem(from),
            "write one address such as `alerts@example.com`",
            diags,
        );
    }
    ok &= credentials_paired(username.is_some(), password_secret.is_some(), origin, diags);
    ok.then_some(())?;
    Some(Smtp {
        smarthost: smarthost?,
        from: from?,
        username,
        password_secret,
        require_tls,
    })
}

/// SMTP authentication needs both halves; one alone fails only when the first alert is mailed.
fn credentials_paired(
    username: bool,
    password: bool,
    table: Origin,
    diags: &mut Diagnostics,
) -> bool {
    let missing = match (username, password) {
        (true, false) => "password_secret",
        (false, true) => "username",
        _ => return true,
    };
    diags.push(
        Diagnostic::error("P0103", format!("`alerting.smtp.{missing}` is missing"))
            .at(table, format!("SMTP authentication needs `{missing}` too"))
            .help(
                "set both `username` and `password_secret` (a key of `[secrets].keys`), or neither",
            ),
    );
    false
}

fn read_receiver(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Receiver> {
    let mut f = Fields::open(node, path, diags)?;
    let email = f
        .opt::<Vec<Located<String>>>("email", diags)
        .map_or_else(Vec::new, |e| e.value);
    let slack_path = f.child_path("slack");
    let slack = f.node("slack").map(|n| read_slack(n, &slack_path, diags));
    let webhook = f.opt::<String>("webhook", diags);
    let send_resolved = f.or("send_resolved", false, diags);
    let paging = f.opt::<bool>("paging", diags);
    let mut ok = f.finish(diags);
    for address in &email {
        ok &= value_ok(
            address,
            &format!("{path}.email"),
            email_problem(address),
            "write one address per entry, e.g. `ops@example.com`",
            diags,
        );
    }
    // A template over the facts is checked once it is rendered (`check_webhooks`).
    if let Some(url) = webhook.as_ref().filter(|u| !is_template(u)) {
        ok &= value_ok(
            url,
            &format!("{path}.webhook"),
            url_problem(url),
            "write an http:// or https:// URL",
            diags,
        );
    }
    ok.then_some(())?;
    Some(Receiver {
        email,
        slack: slack.map_or(Some(None), |s| s.map(Some))?,
        webhook,
        send_resolved,
        paging,
    })
}

fn read_slack(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Slack> {
    let mut f = Fields::open(node, path, diags)?;
    let channel = f.req::<String>("channel", diags);
    let webhook_secret = f.req::<String>("webhook_secret", diags);
    f.finish(diags).then_some(())?;
    Some(Slack {
        channel: channel?,
        webhook_secret: webhook_secret?,
    })
}

fn read_routes(node: &Node, diags: &mut Diagnostics) -> Option<Vec<Route>> {
    crate::decode::describe(node, || json!({ "type": "array" }));
    let NodeValue::Array(items) = &node.value else {
        diags.push(type_error(
            node,
            "alerting.routes",
            "an array of tables (`[[alerting.routes]]`)",
        ));
        return None;
    };
    let mut routes = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match read_route(item, &format!("alerting.routes[{i}]"), diags) {
            Some(route) => routes.push(route),
            None => ok = false,
        }
    }
    ok.then_some(routes)
}

fn read_route(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Route> {
    let mut f = Fields::open(node, path, diags)?;
    let matchers = f
        .opt::<Vec<Located<String>>>("matchers", diags)
        .map_or_else(Vec::new, |m| m.value);
    let receiver = f.req::<String>("receiver", diags);
    let continue_ = f.or("continue", false, diags);
    let group_by = f
        .opt::<Vec<Located<String>>>("group_by", diags)
        .map(|g| g.value);
    let timings = read_timings(&mut f, diags);
    let mut ok = f.finish(diags);
    if let Some(labels) = &group_by {
        ok &= valid_group_by(labels, &format!("{path}.group_by"), diags);
    }
    ok.then_some(())?;
    Some(Route {
        matchers,
        receiver: receiver?,
        continue_,
        group_by,
        timings: timings?,
        origin: node.origin,
    })
}

/// Label names, or `...` alone (group by every label), as Alertmanager accepts them.
fn valid_group_by(labels: &[Located<String>], path: &str, diags: &mut Diagnostics) -> bool {
    let wildcard = labels.iter().any(|l| l.value == "...");
    let mut ok = true;
    for (i, label) in labels.iter().enumerate() {
        let repeated = labels[..i].iter().any(|l| l.value == label.value);
        let problem = if repeated {
            Some(format!("`{}` is listed twice", label.value))
        } else if label.value == "..." {
            (labels.len() > 1)
                .then(|| "`...` (every label) cannot be combined with other labels".to_string())
        } else {
            label_name_problem(label)
        };
        ok &= value_ok(
            label,
            path,
            problem,
            if wildcard {
                "write `[\"...\"]` alone"
            } else {
                "write a label name such as `alertname`"
            },
            diags,
        );
    }
    ok
}

fn label_name_problem(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    (!(first_ok && rest_ok)).then(|| format!("`{name}` is not a label name"))
}

fn smarthost_problem(text: &str) -> Option<String> {
    let ok = text
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
    (!ok).then(|| format!("`{text}` is not `host:port`"))
}

fn email_problem(text: &str) -> Option<String> {
    let ok = text.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && !text.contains(|c: char| c.is_whitespace() || c == ',')
    });
    (!ok).then(|| format!("`{text}` is not one e-mail address"))
}

fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

fn url_problem(text: &str) -> Option<String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| {
        !r.is_empty() && !r.starts_with('/') && !text.contains(char::is_whitespace)
    });
    (!ok).then(|| format!("`{text}` is not an http(s) URL"))
}

/// Reports `problem` (if any) at the value as an invalid value; true when there was none.
fn value_ok(
    value: &Located<String>,
    path: &str,
    problem: Option<String>,
    help: &str,
    diags: &mut Diagnostics,
) -> bool {
    let Some(problem) = problem else {
        return true;
    };
    let d = Diagnostic::error("P0104", format!("`{path}`: {problem}")).help(help.to_string());
    diags.push(value.diagnostic(d, problem));
    false
}

// ------------------------------------------------------------------------------------------ matchers

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One Alertmanager matcher, parsed as Alertmanager 0.25 parses the strings of a `matchers:` list.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    /// The anchored expression of `=~` and `!~`, as Alertmanager compiles it: `^(?:value)$`.
    regex: Option<Regex>,
}

impl Matcher {
    pub fn parse(text: &str) -> Result<Matcher, String> {
        static MATCHER: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$")
                .expect("valid regex")
        });
        let single = single_matcher(text)?;
        let caps = MATCHER.captures(single).ok_or_else(|| {
            format!("`{text}` is not `label=\"value\"` with one of =, !=, =~, !~")
        })?;
        let op = match &caps[2] {
            "=" => MatchOp::Equal,
            "!=" => MatchOp::NotEqual,
            "=~" => MatchOp::Regex,
            _ => MatchOp::NotRegex,
        };
        let value = unquote(&caps[3])?;
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(anchored(&value)?),
            _ => None,
        };
        Ok(Matcher {
            name: caps[1].to_string(),
            op,
            value,
            regex,
        })
    }

    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            (_, None) => unreachable!("regex matchers are compiled when parsed"),
        }
    }

    /// The canonical text, value always quoted and escaped the way Alertmanager unescapes it.
    pub fn to_alertmanager(&self) -> String {
        let mut value = String::with_capacity(self.value.len());
        for c in self.value.chars() {
            match c {
                '\\' => value.push_str("\\\\"),
                '"' => value.push_str("\\\""),
                '\n' => value.push_str("\\n"),
                c => value.push(c),
            }
        }
        format!("{}{}\"{value}\"", self.name, self.op.as_str())
    }

    /// Whether an alert with `labels` matches. A label the alert is not known to carry (its rule does not
    /// set it; the series or external labels may) makes the answer unknown rather than a guess.
    fn eval(&self, labels: &[(String, String)]) -> Truth {
        match labels.iter().find(|(k, _)| *k == self.name) {
            Some((_, v)) if self.matches(v) => Truth::Yes,
            Some(_) => Truth::No,
            None => Truth::Maybe,
        }
    }
}

/// Alertmanager splits each `matchers:` entry on commas outside quotes (and drops one pair of braces);
/// plat wants one matcher per entry, so that each is located and reported on its own.
fn single_matcher(text: &str) -> Result<&str, String> {
    let inner = text.trim();
    let inner = inner.strip_prefix('{').unwrap_or(inner);
    let inner = inner.strip_suffix('}').unwrap_or(inner);
    let (mut quoted, mut escaped) = (false, false);
    for c in inner.chars() {
        match c {
            ',' if !quoted => {
                return Err(format!(
                    "`{text}` holds more than one matcher: write one matcher per string"
                ));
            }
            '"' if !escaped => quoted = !quoted,
            '\\' => {
                escaped = !escaped;
                continue;
            }
            _ => {}
        }
        escaped = false;
    }
    Ok(inner)
}

/// Alertmanager's unescaping: an optional pair of double quotes, `\"`, `\\` and `\n` escapes, and no
/// other unescaped double quote.
fn unquote(raw: &str) -> Result<String, String> {
    let (body, mut expect_quote) = match raw.strip_prefix('"') {
        Some(rest) => (rest, true),
        None => (raw, false),
    };
    let mut value = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some() => match chars.next() {
                Some('n') => value.push('\n'),
                Some(e @ ('"' | '\\')) => value.push(e),
                Some(other) => {
                    value.push('\\');
                    value.push(other);
                }
                None => {}
            },
            '"' if expect_quote && chars.peek().is_none() => expect_quote = false,
            '"' => {
                return Err(format!(
                    "the value `{raw}` contains an unescaped double quote"
                ));
            }
            c => value.push(c),
        }
    }
    if expect_quote {
        return Err(format!("the value `{raw}` has no closing double quote"));
    }
    Ok(value)
}

fn anchored(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|err| {
        let text = err.to_string();
        let reason = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("invalid");
        format!(
            "`{pattern}` is not a valid regular expression ({})",
            reason.trim().trim_start_matches("error: ")
        )
    })
}

// ------------------------------------------------------------------------------------------ simulation

/// Three-valued truth: the catalog knows an alert's name and rule labels, not every label it will carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Truth {
    No,
    Maybe,
    Yes,
}

/// A route with its matchers parsed; a matcher that does not parse is unknown (`None`).
struct Step<'r> {
    route: &'r Route,
    matchers: Vec<Option<Matcher>>,
}

impl Step<'_> {
    fn eval(&self, labels: &[(String, String)]) -> Truth {
        self.matchers
            .iter()
            .map(|m| m.as_ref().map_or(Truth::Maybe, |m| m.eval(labels)))
            .min()
            .unwrap_or(Truth::Yes)
    }
}

fn steps(routes: &[Route]) -> Vec<Step<'_>> {
    routes
        .iter()
        .map(|route| Step {
            route,
            matchers: route
                .matchers
                .iter()
                .map(|m| Matcher::parse(m).ok())
                .collect(),
        })
        .collect()
}

/// One alert's way through the routes, as Alertmanager walks the children of a route: every child in
/// order, stopping after the first match that does not say `continue`.
struct Walk {
    /// Whether each route's matchers match the alert.
    matched: Vec<Truth>,
    /// Whether the alert gets to each route and matches it (the route then notifies its receiver).
    reached: Vec<Truth>,
    /// The route that certainly stopped the alert before each route, if one did.
    stopped_by: Vec<Option<usize>>,
}

fn walk(steps: &[Step<'_>], labels: &[(String, String)]) -> Walk {
    let mut out = Walk {
        matched: Vec::with_capacity(steps.len()),
        reached: Vec::with_capacity(steps.len()),
        stopped_by: Vec::with_capacity(steps.len()),
    };
    let (mut stopped, mut maybe_stopped) = (None, false);
    for (i, step) in steps.iter().enumerate() {
        let matched = step.eval(labels);
        let reached = match (stopped, matched) {
            (Some(_), _) | (None, Truth::No) => Truth::No,
            (None, Truth::Yes) if !maybe_stopped => Truth::Yes,
            _ => Truth::Maybe,
        };
        out.matched.push(matched);
        out.reached.push(reached);
        out.stopped_by.push(stopped);
        if !step.route.continue_ && stopped.is_none() {
            match matched {
                Truth::Yes => stopped = Some(i),
                Truth::Maybe => maybe_stopped = true,
                Truth::No => {}
            }
        }
    }
    out
}

/// The labels routing sees on an alert: its rule's labels and `alertname`.
fn alert_labels(alert: &AlertInfo) -> Vec<(String, String)> {
    let mut labels = alert.labels.clone();
    if !labels.iter().any(|(k, _)| k == "alertname") {
        labels.push(("alertname".into(), alert.name.clone()));
    }
    labels
}

// ----------------------------------------------------------------------------------------------- check

pub fn check(spec: &Spec, diags: &mut Diagnostics) {
    let Some(routing) = &spec.observe.routing else {
        return;
    };
    check_secret_keys(spec, routing, diags);
    check_receiver_refs(routing, diags);
    check_unused_receivers(routing, diags);
    check_email_needs_smtp(routing, diags);
    check_default_does_not_page(routing, diags);
    check_matchers(routing, diags);
    check_webhooks(spec, routing, diags);
    if let Some(size) = &routing.alertmanager.size {
        crate::validate::check_size_ref(spec, size, diags);
    }
    let alerts = super::alert_catalog(spec);
    let steps = steps(&routing.routes);
    let walks: Vec<Walk> = alerts
        .iter()
        .map(|a| walk(&steps, &alert_labels(a)))
        .collect();
    check_reachability(&steps, &alerts, &walks, diags);
    check_critical_escalates(spec, routing, &steps, &alerts, &walks, diags);
}

fn check_secret_keys(spec: &Spec, routing: &Routing, diags: &mut Diagnostics) {
    let keys: Vec<&str> = spec.secrets.keys.iter().map(|k| k.as_str()).collect();
    let smtp = routing
        .smtp
        .iter()
        .filter_map(|s| s.password_secret.as_ref());
    let slack = routing
        .receivers
        .iter()
        .filter_map(|r| r.value.slack.as_ref())
        .map(|s| &s.webhook_secret);
    for reference in smtp.chain(slack) {
        if keys.contains(&reference.as_str()) {
            continue;
        }
        let d = Diagnostic::error("P0204", format!("unknown secret key `{}`", reference.value));
        let d = match did_you_mean(reference, keys.iter().copied()) {
            Some(close) => d.help(format!("did you mean `{close}`?")),
            None => d.help(format!(
                "add `{}` to `[secrets].keys`; the value stays in the secret store",
                reference.value
            )),
        };
        diags.push(reference.diagnostic(d, "no such key in [secrets].keys"));
    }
}

/// A webhook URL, rendered when it is a template over the facts (`{{ services.x.host }}`).
fn webhook_url(
    inventory: &crate::facts::Inventory,
    url: &Located<String>,
) -> Result<String, Box<Diagnostic>> {
    inventory.render(url, None)
}

/// Every webhook must be an http(s) URL once rendered, and one that points into the cluster
/// (`<service>.<namespace>.svc`, `….svc.cluster.local` or a bare `<service>`) must reach a Service this
/// spec declares, or a namespace it names: otherwise the notifications go nowhere, and nobody learns of
/// it until an incident (P0309).
fn check_webhooks(spec: &Spec, routing: &Routing, diags: &mut Diagnostics) {
    let Some(alerting) = crate::facts::alerting_facts(spec) else {
        return;
    };
    let inventory = crate::facts::Inventory::of(spec);
    for receiver in &routing.receivers {
        let Some(url) = &receiver.value.webhook else {
            continue;
        };
        let rendered = match webhook_url(&inventory, url) {
            Ok(rendered) => rendered,
            Err(d) => {
                diags.push(*d);
                continue;
            }
        };
        let path = format!("alerting.receivers.{}.webhook", receiver.name);
        if is_template(url) {
            let problem = url_problem(&rendered);
            if !value_ok(
                url,
                &path,
                problem,
                "the template must render an http:// or https:// URL",
                diags,
            ) {
                continue;
            }
        }
        let Some(crate::facts::UrlTarget::Nowhere { problem, close }) =
            crate::facts::resolve_url(spec, &rendered, &alerting.namespace)
        else {
            continue;
        };
        let d = Diagnostic::error(
            "P0309",
            format!(
                "receiver `{}` posts into the cluster, to nothing declared: {problem}",
                receiver.name
            ),
        );
        let d = match close {
            Some(close) => d.help(format!(
                "did you mean `{close}`? A Service of the platform is best named by a template, e.g. \"http://{{{{ services.<name>.host }}}}:{{{{ services.<name>.port }}}}/…\""
            )),
            None => d.help("declare the workload that receives it, or name one by a template such as \"http://{{ services.<name>.host }}:{{ services.<name>.port }}/…\""),
        };
        let d = if is_template(url) {
            d.note(format!("the template renders `{rendered}`"))
        } else {
            d
        };
        diags.push(url.diagnostic(d, "resolves to no declared Service"));
    }
}

fn receiver_names(routing: &Routing) -> Vec<&str> {
    routing.receivers.iter().map(|r| r.name.as_str()).collect()
}

fn check_receiver_refs(routing: &Routing, diags: &mut Diagnostics) {
    let names = receiver_names(routing);
    let references = std::iter::once(&routing.default_receiver)
        .chain(routing.routes.iter().map(|r| &r.receiver));
    for reference in references {
        if names.contains(&reference.as_str()) {
            continue;
        }
        let d = Diagnostic::error("P0301", format!("unknown receiver `{}`", reference.value));
        let d = match did_you_mean(reference, names.iter().copied()) {
            Some(close) => d.help(format!("did you mean `{close}`?")),
            None if names.is_empty() => d.help("declare it as `[alerting.receivers.<name>]`"),
            None => d.help(format!("declared: {}", names.join(", "))),
        };
        diags.push(reference.diagnostic(d, "no such receiver"));
    }
}

/// A receiver nobody routes to is dead configuration, usually the other half of a misspelt route.
fn check_unused_receivers(routing: &Routing, diags: &mut Diagnostics) {
    for receiver in &routing.receivers {
        let used = routing.default_receiver.value == receiver.name
            || routing
                .routes
                .iter()
                .any(|r| r.receiver.value == receiver.name);
        if !used {
            diags.push(
                Diagnostic::warning("P0302", format!("receiver `{}` is not used", receiver.name))
                    .at(receiver.origin, "no route sends alerts here")
                    .help("route to it from `[[alerting.routes]]`, make it the `default_receiver`, or remove it"),
            );
        }
    }
}

/// Alertmanager refuses an e-mail integration when no SMTP server is set.
fn check_email_needs_smtp(routing: &Routing, diags: &mut Diagnostics) {
    if routing.smtp.is_some() {
        return;
    }
    for receiver in &routing.receivers {
        if let Some(first) = receiver.value.email.first() {
            let d = Diagnostic::error(
                "P0307",
                format!(
                    "receiver `{}` sends e-mail, but `[alerting.smtp]` is missing",
                    receiver.name
                ),
            )
            .help("add `[alerting.smtp]` with `smarthost` and `from`");
            diags.push(first.diagnostic(d, "needs an SMTP server"));
        }
    }
}

/// Basic environments send paging routes to the default receiver, so the default itself cannot page.
fn check_default_does_not_page(routing: &Routing, diags: &mut Diagnostics) {
    let default = routing
        .receivers
        .iter()
        .find(|r| r.name == routing.default_receiver.value);
    let Some(paging) = default
        .and_then(|r| r.value.paging.as_ref())
        .filter(|p| p.value)
    else {
        return;
    };
    let d = Diagnostic::error("P0308", format!("the default receiver `{}` pages", routing.default_receiver.value))
        .also(routing.default_receiver.origin, "the default receiver")
        .help("keep the default quiet and route what should page to a separate receiver with `paging = true`");
    diags.push(paging.diagnostic(d, "paging = true"));
}

fn check_matchers(routing: &Routing, diags: &mut Diagnostics) {
    for matcher in routing.routes.iter().flat_map(|r| &r.matchers) {
        if let Err(problem) = Matcher::parse(matcher) {
            let d = Diagnostic::error("P0306", format!("invalid matcher: {problem}"))
                .help("write Alertmanager matchers such as `severity=\"critical\"`, `alertname=~\"High.*\"` or `team!=\"db\"`");
            diags.push(matcher.diagnostic(d, "not a valid matcher"));
        }
    }
}

/// Routes that no alert of this environment can reach: matched by none (a warning: the route may be for
/// alerts from elsewhere), or matched only by alerts an earlier route always takes first (an error).
fn check_reachability(
    steps: &[Step<'_>],
    alerts: &[AlertInfo],
    walks: &[Walk],
    diags: &mut Diagnostics,
) {
    if alerts.is_empty() {
        return;
    }
    for (i, step) in steps.iter().enumerate() {
        let matching: Vec<usize> = (0..alerts.len())
            .filter(|&a| walks[a].matched[i] != Truth::No)
            .collect();
        let path = format!("alerting.routes[{i}]");
        let Some(&first) = matching.first() else {
            diags.push(no_alert_matches(step, &path, alerts));
            continue;
        };
        if matching.iter().all(|&a| walks[a].reached[i] == Truth::No) {
            let names: Vec<&str> = matching.iter().map(|&a| alerts[a].name.as_str()).collect();
            let blocker = walks[first].stopped_by[i].map(|b| steps[b].route);
            diags.push(shadowed(step, &path, &names, blocker));
        }
    }
}

fn no_alert_matches(step: &Step<'_>, path: &str, alerts: &[AlertInfo]) -> Diagnostic {
    let names: Vec<&str> = alerts.iter().map(|a| a.name.as_str()).collect();
    Diagnostic::warning(
        "P0304",
        format!(
            "`{path}` (receiver `{}`) matches no alert of this environment",
            step.route.receiver.value
        ),
    )
    .at(step.route.origin, "no alert matches this route")
    .help("compare the matchers with the alerts' names (`alertname`) and labels (`severity`)")
    .note(format!("the alerts: {}", names.join(", ")))
}

fn shadowed(step: &Step<'_>, path: &str, names: &[&str], blocker: Option<&Route>) -> Diagnostic {
    let mut d = Diagnostic::error(
        "P0303",
        format!(
            "`{path}` (receiver `{}`) is never reached: every alert it matches ({}) stops at an earlier route",
            step.route.receiver.value,
            names.join(", ")
        ),
    )
    .at(step.route.origin, "unreachable route")
    .help("move this route above the earlier one, or set `continue = true` on the earlier route");
    if let Some(blocker) = blocker {
        d = d.also(
            blocker.origin,
            "this route matches first and has no `continue`",
        );
    }
    d
}

/// Whether a critical alert certainly ends at the default receiver only. Checked before paging
/// receivers are folded, so that basic environments, which fold them on purpose, are held to the same
/// routes as the others.
fn check_critical_escalates(
    spec: &Spec,
    routing: &Routing,
    steps: &[Step<'_>],
    alerts: &[AlertInfo],
    walks: &[Walk],
    diags: &mut Diagnostics,
) {
    let default = routing.default_receiver.as_str();
    for (alert, walk) in alerts.iter().zip(walks) {
        if !alert
            .labels
            .iter()
            .any(|(k, v)| k == "severity" && v == CRITICAL)
        {
            continue;
        }
        let escalates = steps
            .iter()
            .zip(&walk.reached)
            .any(|(s, r)| *r != Truth::No && s.route.receiver.value != default);
        if !escalates {
            diags.push(not_escalated(spec, routing, &alert.name));
        }
    }
}

fn not_escalated(spec: &Spec, routing: &Routing, name: &str) -> Diagnostic {
    let d = Diagnostic::error("P0305", format!("critical alert `{name}` reaches only the default receiver `{}`", routing.default_receiver.value))
        .help("add a route whose matchers match it (e.g. `severity=\"critical\"`) to a receiver that escalates");
    match spec.observe.alerts.iter().find(|a| a.name == name) {
        Some(alert) => alert
            .value
            .severity
            .diagnostic(d, "critical")
            .also(routing.default_receiver.origin, "it ends here"),
        None => d.at(
            routing.default_receiver.origin,
            format!("`{name}` ends here"),
        ),
    }
}

// ----------------------------------------------------------------------------------------------- lower

/// Basic environments do not page (seed 2.1: dev has basic monitoring): the routes to paging receivers
/// deliver to the default receiver instead, and the paging receivers are left out.
pub fn folds_paging(spec: &Spec) -> bool {
    super::level(spec) == MonitoringLevel::Basic
}

/// The receivers left out of this environment's configuration.
fn folded<'r>(spec: &Spec, routing: &'r Routing) -> Vec<&'r str> {
    if !folds_paging(spec) {
        return Vec::new();
    }
    routing
        .receivers
        .iter()
        .filter(|r| r.value.pages())
        .map(|r| r.name.as_str())
        .collect()
}

pub fn lower(ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    let (Some(routing), Some(alerting)) = (
        &ctx.spec.observe.routing,
        crate::facts::alerting_facts(ctx.spec),
    ) else {
        return;
    };
    let text = config_text(ctx, routing, &alerting);
    sink.manifests(config_secret(ctx, routing, &alerting, &text));
    sink.file(CONFIG_FILE.to_string(), text);
}

/// `alertmanager.yaml` with a header saying where it comes from and what this environment leaves out.
fn config_text(ctx: &Ctx<'_>, routing: &Routing, alerting: &AlertingFacts) -> String {
    let spec = ctx.spec;
    let folded = folded(spec, routing);
    let mut out = String::from(crate::render::HEADER);
    out.push_str(&format!(
        "# Alertmanager configuration of environment `{}`, from {}.\n",
        spec.environment.name,
        ctx.source_of("alerting", routing.origin)
    ));
    out.push_str(&runs_where(alerting));
    if !alerting.secret_keys.is_empty() {
        out.push_str(&format!(
            "# Credentials ({}) are files of Secret `{}` in namespace `{}`,\n# mounted by the Alertmanager (its `spec.secrets`){}.\n",
            alerting.secret_keys.join(", "),
            alerting.credentials_secret,
            alerting.namespace,
            match spec.secrets.provider {
                crate::spec::SecretProvider::ExternalSecrets => "; an ExternalSecret fetches only these keys",
                crate::spec::SecretProvider::Existing => "; make it by hand with these keys, like every Secret of this environment",
            },
        ));
    }
    if !folded.is_empty() {
        out.push_str(&format!(
            "# Monitoring level {}: no paging. Left out: {} (paging = true); the routes to it\n\
             # deliver to `{}` instead.\n",
            super::level(spec).as_str(),
            folded.join(", "),
            routing.default_receiver.value
        ));
    }
    out.push_str(&crate::yaml::to_yaml(&config(ctx, routing, alerting)));
    out
}

/// Which Alertmanager loads this file, and how Prometheus finds it.
fn runs_where(alerting: &AlertingFacts) -> String {
    let who = if alerting.managed {
        format!(
            "# Loaded by the Alertmanager `{}` plat runs in namespace `{}` (kubernetes/monitoring/alertmanager.yaml).\n",
            alerting.name, alerting.namespace
        )
    } else {
        format!(
            "# Handed to the existing Alertmanager `{}` in namespace `{}`: its `spec.configSecret` must be `{}`.\n",
            alerting.name, alerting.namespace, alerting.config_secret
        )
    };
    format!(
        "{who}# Prometheus sends alerts to it through the operator's Service `alertmanager-operated`, port `web`, in\n# namespace `{}` (the Prometheus resource's `spec.alerting.alertmanagers`).\n",
        alerting.namespace
    )
}

/// The configuration as Alertmanager reads it.
fn config(ctx: &Ctx<'_>, routing: &Routing, alerting: &AlertingFacts) -> Value {
    let spec = ctx.spec;
    let folded = folded(spec, routing);
    let receivers: Vec<Value> = routing
        .receivers
        .iter()
        .filter(|r| !folded.contains(&r.name.as_str()))
        .map(|r| receiver_json(ctx, alerting, r))
        .collect();
    obj([
        (
            "global",
            routing.smtp.as_ref().map(|s| global_json(alerting, s)),
        ),
        ("route", Some(root_route_json(routing, &folded))),
        ("receivers", Some(Value::Array(receivers))),
        ("inhibit_rules", inhibit_rules_json(spec)),
    ])
}

fn inhibit_rules_json(spec: &Spec) -> Option<Value> {
    let rules = super::alerts::inhibit_rules(spec);
    (!rules.is_empty()).then_some(Value::Array(rules))
}

fn secret_file(alerting: &AlertingFacts, key: &str) -> String {
    format!("{SECRETS_DIR}/{}/{key}", alerting.credentials_secret)
}

fn global_json(alerting: &AlertingFacts, smtp: &Smtp) -> Value {
    obj([
        ("smtp_smarthost", Some(json!(smtp.smarthost.value))),
        ("smtp_from", Some(json!(smtp.from.value))),
        (
            "smtp_auth_username",
            smtp.username.as_ref().map(|u| json!(u.value)),
        ),
        (
            "smtp_auth_password_file",
            smtp.password_secret
                .as_ref()
                .map(|k| json!(secret_file(alerting, k))),
        ),
        ("smtp_require_tls", Some(json!(smtp.require_tls))),
    ])
}

fn receiver_json(ctx: &Ctx<'_>, alerting: &AlertingFacts, receiver: &Named<Receiver>) -> Value {
    let r = &receiver.value;
    let resolved = r.send_resolved;
    let email = (!r.email.is_empty()).then(|| {
        let to: Vec<&str> = r.email.iter().map(|e| e.as_str()).collect();
        json!([{ "to": to.join(", "), "send_resolved": resolved }])
    });
    let slack = r.slack.as_ref().map(|s| {
        json!([{ "api_url_file": secret_file(alerting, &s.webhook_secret), "channel": s.channel.value, "send_resolved": resolved }])
    });
    let webhook = r.webhook.as_ref().map(|url| {
        // Checked by `check_webhooks`: a template renders.
        let url = webhook_url(&ctx.inventory, url).unwrap_or_else(|_| url.value.clone());
        json!([{ "url": url, "send_resolved": resolved }])
    });
    obj([
        ("name", Some(json!(receiver.name))),
        ("email_configs", email),
        ("slack_configs", slack),
        ("webhook_configs", webhook),
    ])
}

fn root_route_json(routing: &Routing, folded: &[&str]) -> Value {
    let routes: Vec<Value> = routing
        .routes
        .iter()
        .map(|r| route_json(routing, r, folded))
        .collect();
    let mut value = timings_json(&routing.timings);
    value["receiver"] = json!(routing.default_receiver.value);
    if !routing.group_by.is_empty() {
        value["group_by"] = labels_json(&routing.group_by);
    }
    if !routes.is_empty() {
        value["routes"] = Value::Array(routes);
    }
    value
}

fn route_json(routing: &Routing, route: &Route, folded: &[&str]) -> Value {
    let receiver = if folded.contains(&route.receiver.as_str()) {
        &routing.default_receiver
    } else {
        &route.receiver
    };
    let mut value = timings_json(&route.timings);
    value["receiver"] = json!(receiver.value);
    if !route.matchers.is_empty() {
        let matchers: Vec<String> = route
            .matchers
            .iter()
            .map(|m| Matcher::parse(m).map_or_else(|_| m.value.clone(), |m| m.to_alertmanager()))
            .collect();
        value["matchers"] = json!(matchers);
    }
    if route.continue_ {
        value["continue"] = json!(true);
    }
    if let Some(group_by) = &route.group_by {
        value["group_by"] = labels_json(group_by);
    }
    value
}

fn timings_json(t: &Timings) -> Value {
    let text = |d: &Option<Located<String>>| d.as_ref().map(|d| json!(d.value));
    obj([
        ("group_wait", text(&t.group_wait)),
        ("group_interval", text(&t.group_interval)),
        ("repeat_interval", text(&t.repeat_interval)),
    ])
}

fn labels_json(labels: &[Located<String>]) -> Value {
    json!(labels.iter().map(|l| l.as_str()).collect::<Vec<_>>())
}

/// The in-cluster form: the Secret `alertmanager-<name>` that a Prometheus Operator `Alertmanager`
/// named `<name>` loads by default (key `alertmanager.yaml`), in the Alertmanager's namespace, beside
/// the credentials Secret it lists in `spec.secrets` so that the `*_file` credentials are mounted.
///
/// Why a Secret rather than an `AlertmanagerConfig` (monitoring.coreos.com/v1alpha1): the Secret holds the
/// very text that `amtool` verifies, so the routing tree in the cluster is the one that was tested. An
/// `AlertmanagerConfig` is merged by the operator under someone else's root route with an extra
/// `namespace` matcher on every route and cannot set the global SMTP settings, so the simulated and tested
/// tree would not be the one that runs. The Secret holds no secret values: credentials are file paths.
fn config_secret(ctx: &Ctx<'_>, routing: &Routing, alerting: &AlertingFacts, text: &str) -> Unit {
    let spec = ctx.spec;
    let platform = spec.platform.name.as_str();
    let labels = Labels::standard("alertmanager", &alerting.name, "monitoring", platform, None);
    let mut metadata = ctx.metadata(&alerting.config_secret, &labels, "alerting", routing.origin);
    // An Alertmanager reads its configuration from its own namespace only.
    metadata["namespace"] = json!(alerting.namespace);
    let value = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "stringData": { CONFIG_KEY: text },
    });
    Unit {
        file: MANIFEST_FILE.to_string(),
        objects: vec![ctx.object(value, routing.origin)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Matcher {
        Matcher::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn matchers_parse_as_alertmanager_parses_them() {
        let m = parse(r#"severity="critical""#);
        assert_eq!(
            (m.name.as_str(), m.op, m.value.as_str()),
            ("severity", MatchOp::Equal, "critical")
        );
        assert_eq!(parse("severity = critical").value, "critical");
        assert_eq!(parse(r#"{team!="db"}"#).op, MatchOp::NotEqual);
        assert_eq!(parse(r#"a="x\"y\\z""#).value, "x\"y\\z");
        assert_eq!(parse(r#"a="x,y""#).value, "x,y");
        let re = parse(r#"alertname=~"High.*""#);
        assert!(
            re.matches("HighErrorRate") && !re.matches("xHigh"),
            "regexes are anchored"
        );
        assert!(parse(r#"alertname!~"High.*""#).matches("AstrBotInstanceDown"));
    }

    #[test]
    fn bad_matchers_are_refused() {
        for bad in [
            r#"severity=="critical""#,
            r#"1abc="x""#,
            r#"a="x"y""#,
            r#"a="x"#,
            r#"a=~"(x""#,
            r#"a="1",b="2""#,
            "severity",
        ] {
            assert!(Matcher::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn canonical_text_round_trips() {
        for text in [
            r#"a="x\"y""#,
            r#"a=~"x|y""#,
            r#"a!="""#,
            "a=\"line\\nbreak\"",
        ] {
            let m = parse(text);
            let again = parse(&m.to_alertmanager());
            assert_eq!((again.name, again.op, again.value), (m.name, m.op, m.value));
        }
    }

    #[test]
    fn group_and_repeat_intervals_are_longer_than_zero() {
        assert!(zero_problem("0s", true).is_some());
        assert!(zero_problem("0", true).is_some());
        assert_eq!(zero_problem("0s", false), None);
        assert_eq!(zero_problem("5m", true), None);
    }

    fn route(matchers: &[&str], receiver: &str, continue_: bool) -> Route {
        let origin = Origin::new(
            crate::source::Sources::default().add("t", String::new()),
            0..0,
        );
        let located = |v: &str| Located {
            value: v.to_string(),
            origin,
            replaced: None,
        };
        Route {
            matchers: matchers.iter().map(|m| located(m)).collect(),
            receiver: located(receiver),
            continue_,
            group_by: None,
            timings: Timings::default(),
            origin,
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_first_match_stops_unless_it_continues() {
        let seed = [
            route(&[r#"severity="critical""#], "critical", false),
            route(&[r#"alertname="Down""#], "astrbot", false),
        ];
        let down = labels(&[("alertname", "Down"), ("severity", "critical")]);
        let w = walk(&steps(&seed), &down);
        assert_eq!(w.reached, vec![Truth::Yes, Truth::No]);
        assert_eq!(w.stopped_by[1], Some(0));
        let fixed = [
            route(&[r#"alertname="Down""#], "astrbot", true),
            route(&[r#"severity="critical""#], "critical", false),
        ];
        assert_eq!(
            walk(&steps(&fixed), &down).reached,
            vec![Truth::Yes, Truth::Yes]
        );
    }

    #[test]
    fn an_unknown_label_neither_matches_nor_stops_for_certain() {
        let routes = [
            route(&[r#"team="db""#], "db", false),
            route(&[r#"severity="critical""#], "critical", false),
        ];
        let w = walk(
            &steps(&routes),
            &labels(&[("alertname", "X"), ("severity", "critical")]),
        );
        assert_eq!(w.reached, vec![Truth::Maybe, Truth::Maybe]);
    }
}
