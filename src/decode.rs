//! The decoding toolkit: reads typed values out of located nodes, reporting wrong types, missing keys
//! and unknown keys (with did-you-mean) into the diagnostics sink instead of stopping at the first.

use std::ops::Deref;

use serde_json::{Value as Json, json};

use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::node::{Node, Table, Value};
use crate::source::Origin;
use crate::spec_schema::record::{self, Slot};

/// A decoded value with the place that set it, and the base value an overlay replaced.
#[derive(Clone, Debug, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub origin: Origin,
    pub replaced: Option<Origin>,
}

impl<T> Deref for Located<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> Located<T> {
    /// A diagnostic at this value, with a secondary label at the base value when an overlay set it.
    pub fn diagnostic(&self, mut d: Diagnostic, label: impl Into<String>) -> Diagnostic {
        d = d.at(self.origin, label);
        if let Some(base) = self.replaced {
            d = d.also(base, "the base value, replaced by the overlay");
        }
        d
    }
}

/// A named entry of a collection such as `[services.<name>]`.
#[derive(Clone, Debug)]
pub struct Named<T> {
    pub name: String,
    pub origin: Origin,
    pub value: T,
}

/// Something that can be read from a node.
pub trait Decode: Sized {
    /// What the value should be, for messages: "a string", "a positive integer".
    const EXPECTED: &'static str;
    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self>;

    /// The value's JSON Schema, for the editor schema (`plat schema`). Tables that `decode` reads with
    /// [`Fields`] keep the open default: their keys are recorded as `decode` asks for them.
    fn schema() -> Json {
        json!({})
    }

    /// The value as JSON, when it can be shown as a default in the editor schema.
    fn to_json(&self) -> Option<Json> {
        None
    }
}

/// Records the schema of a node that a reader decodes by hand instead of through [`Fields`]: what the
/// reader accepts there, for the editor schema. Does nothing unless a schema is being recorded.
pub fn describe(node: &Node, schema: impl FnOnce() -> Json) {
    record::describe(node, schema);
}

pub fn type_error(node: &Node, path: &str, expected: &str) -> Diagnostic {
    let d = Diagnostic::error(
        "P0102",
        format!(
            "`{path}` must be {expected}, not {}",
            node.value.type_name()
        ),
    )
    .at(node.origin, format!("expected {expected}"));
    match node.replaced {
        Some(base) => d.also(base, "the base value, replaced by the overlay"),
        None => d,
    }
}

pub fn invalid_value(node: &Node, path: &str, problem: &str, help: &str) -> Diagnostic {
    let d = Diagnostic::error("P0104", format!("`{path}`: {problem}"))
        .at(node.origin, problem.to_string())
        .help(help.to_string());
    match node.replaced {
        Some(base) => d.also(base, "the base value, replaced by the overlay"),
        None => d,
    }
}

impl Decode for String {
    const EXPECTED: &'static str = "a string";
    fn schema() -> Json {
        json!({ "type": "string" })
    }
    fn to_json(&self) -> Option<Json> {
        Some(json!(self))
    }
    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        match &node.value {
            Value::String(s) => Some(s.clone()),
            _ => {
                diags.push(type_error(node, path, Self::EXPECTED));
                None
            }
        }
    }
}

impl Decode for bool {
    const EXPECTED: &'static str = "a boolean";
    fn schema() -> Json {
        json!({ "type": "boolean" })
    }
    fn to_json(&self) -> Option<Json> {
        Some(json!(self))
    }
    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            _ => {
                diags.push(type_error(node, path, Self::EXPECTED));
                None
            }
        }
    }
}

impl Decode for i64 {
    const EXPECTED: &'static str = "an integer";
    fn schema() -> Json {
        json!({ "type": "integer" })
    }
    fn to_json(&self) -> Option<Json> {
        Some(json!(self))
    }
    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        match &node.value {
            Value::Integer(i) => Some(*i),
            _ => {
                diags.push(type_error(node, path, Self::EXPECTED));
                None
            }
        }
    }
}

impl Decode for f64 {
    const EXPECTED: &'static str = "a number";
    fn schema() -> Json {
        json!({ "type": "number" })
    }
    fn to_json(&self) -> Option<Json> {
        Some(json!(self))
    }
    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        match &node.value {
            Value::Integer(i) => Some(*i as f64),
            Value::Float(f) if f.is_finite() => Some(*f),
            Value::Float(_) => {
                diags.push(invalid_value(
                    node,
                    path,
                    "not a finite number",
                    "write a plain number",
                ));
                None
            }
            _ => {
                diags.push(type_error(node, path, Self::EXPECTED));
                None
            }
        }
    }
}

impl<T: Decode> Decode for Vec<Located<T>> {
    const EXPECTED: &'static str = "an array";
    fn schema() -> Json {
        json!({ "type": "array", "items": T::schema() })
    }
    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let Value::Array(items) = &node.value else {
            diags.push(type_error(node, path, Self::EXPECTED));
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match T::decode(item, &format!("{path}[{i}]"), diags) {
                Some(value) => out.push(Located {
                    value,
                    origin: item.origin,
                    replaced: item.replaced,
                }),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

/// An integer in a range; the range is part of the type's use, so it is checked by [`Fields::int`].
pub fn int_in(node: &Node, path: &str, min: i64, max: i64, diags: &mut Diagnostics) -> Option<i64> {
    // The loader keeps integers beyond i64 as floats so that they get a range error, not a type error.
    if let Value::Float(f) = node.value
        && f.fract() == 0.0
    {
        let problem = format!("must be between {min} and {max}, found {f:e}");
        diags.push(invalid_value(
            node,
            path,
            &problem,
            "change the value to one in range",
        ));
        return None;
    }
    let value = i64::decode(node, path, diags)?;
    if value < min || value > max {
        let problem = if max == i64::MAX {
            format!("must be at least {min}, found {value}")
        } else {
            format!("must be between {min} and {max}, found {value}")
        };
        diags.push(invalid_value(
            node,
            path,
            &problem,
            "change the value to one in range",
        ));
        return None;
    }
    Some(value)
}

fn integer_schema(min: i64, max: i64) -> Json {
    let mut schema = json!({ "type": "integer", "minimum": min });
    if max != i64::MAX {
        schema["maximum"] = json!(max);
    }
    schema
}

/// Reads the keys of one table, remembering which were asked for so that the rest can be reported
/// as unknown.
pub struct Fields<'n> {
    node: &'n Node,
    table: &'n Table,
    pub path: String,
    known: Vec<&'static str>,
    failed: bool,
    /// Where this table sits in the schema being recorded; `None` unless recording (`plat schema`).
    schema: Option<Slot>,
}

impl<'n> Fields<'n> {
    pub fn open(node: &'n Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        match &node.value {
            Value::Table(table) => Some(Fields {
                node,
                table,
                path: path.to_string(),
                known: Vec::new(),
                failed: false,
                schema: record::open(node, path),
            }),
            _ => {
                diags.push(type_error(node, path, "a table"));
                None
            }
        }
    }

    pub fn origin(&self) -> Origin {
        self.node.origin
    }

    pub fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The raw node of a key, marking it known. The reader that decodes it tells the schema what it is
    /// (by opening it with [`Fields::open`], or with [`describe`]).
    pub fn node(&mut self, key: &'static str) -> Option<&'n Node> {
        let node = self.lookup(key);
        self.record(key, || json!({}), node);
        node
    }

    /// The raw node of a key whose reader accepts `schema` (e.g. `false` or a table): recorded whether
    /// the sample has the key or not, and refined by the reader when it does.
    pub fn node_as(
        &mut self,
        key: &'static str,
        schema: impl FnOnce() -> Json,
    ) -> Option<&'n Node> {
        let node = self.lookup(key);
        self.record(key, schema, node);
        node
    }

    /// The raw node of a key the table must have; the caller reports it missing in its own words.
    pub fn need(&mut self, key: &'static str) -> Option<&'n Node> {
        self.record_required(key);
        self.node(key)
    }

    fn lookup(&mut self, key: &'static str) -> Option<&'n Node> {
        self.known.push(key);
        self.table.get(key)
    }

    /// `schema` is a closure so that reading without recording builds no JSON.
    fn record(&self, key: &str, schema: impl FnOnce() -> Json, node: Option<&Node>) {
        if let Some(table) = &self.schema {
            record::property(table, key, schema(), node);
        }
    }

    fn record_required(&self, key: &str) {
        if let Some(table) = &self.schema {
            record::required(table, key);
        }
    }

    /// An optional key.
    pub fn opt<T: Decode>(
        &mut self,
        key: &'static str,
        diags: &mut Diagnostics,
    ) -> Option<Located<T>> {
        let node = self.lookup(key);
        // Before decoding: a table inside (`[[waivers]]`) finds its place in the schema through `node`.
        self.record(key, T::schema, node);
        let node = node?;
        let path = self.child_path(key);
        match T::decode(node, &path, diags) {
            Some(value) => Some(Located {
                value,
                origin: node.origin,
                replaced: node.replaced,
            }),
            None => {
                self.failed = true;
                None
            }
        }
    }

    /// A required key: missing is reported at the table.
    pub fn req<T: Decode>(
        &mut self,
        key: &'static str,
        diags: &mut Diagnostics,
    ) -> Option<Located<T>> {
        self.record_required(key);
        if self.table.get(key).is_none() {
            self.record(key, T::schema, None);
            self.known.push(key);
            self.missing(key, T::EXPECTED, diags);
            return None;
        }
        self.opt(key, diags)
    }

    /// An optional key with a default.
    pub fn or<T: Decode>(&mut self, key: &'static str, default: T, diags: &mut Diagnostics) -> T {
        if self.schema.is_some()
            && let Some(value) = default.to_json()
        {
            self.record(key, || json!({ "default": value }), None);
        }
        self.opt(key, diags).map_or(default, |v| v.value)
    }

    /// An optional string that must be one of `names`. The reader still checks the value and reports
    /// it in its own words; `names` are the values it accepts, which the editor schema offers.
    pub fn choice(
        &mut self,
        key: &'static str,
        names: &[&str],
        diags: &mut Diagnostics,
    ) -> Option<Located<String>> {
        self.record(key, || json!({ "type": "string", "enum": names }), None);
        self.opt(key, diags)
    }

    /// A required string that must be one of `names` (see [`Fields::choice`]).
    pub fn req_choice(
        &mut self,
        key: &'static str,
        names: &[&str],
        diags: &mut Diagnostics,
    ) -> Option<Located<String>> {
        self.record(key, || json!({ "type": "string", "enum": names }), None);
        self.req(key, diags)
    }

    /// An integer in `min..=max`.
    pub fn int(
        &mut self,
        key: &'static str,
        min: i64,
        max: i64,
        diags: &mut Diagnostics,
    ) -> Option<Located<i64>> {
        let node = self.lookup(key);
        self.record(key, || integer_schema(min, max), node);
        let node = node?;
        let path = self.child_path(key);
        match int_in(node, &path, min, max, diags) {
            Some(value) => Some(Located {
                value,
                origin: node.origin,
                replaced: node.replaced,
            }),
            None => {
                self.failed = true;
                None
            }
        }
    }

    /// A port number (`rules::network::port`), reported at the value.
    pub fn port(&mut self, key: &'static str, diags: &mut Diagnostics) -> Option<Located<i64>> {
        let node = self.lookup(key);
        self.record(key, || integer_schema(1, 65535), node);
        let value = port_at(node?, &self.child_path(key), diags);
        self.failed |= value.is_none();
        value
    }

    /// A table of named entries whose names must follow `rule` (they become names in the output), each
    /// decoded by `entry`; a name that breaks the rule is reported at the name and its entry dropped.
    pub fn named_rule<T>(
        &mut self,
        key: &'static str,
        rule: ValueRule,
        diags: &mut Diagnostics,
        entry: impl FnMut(&Node, &str, &mut Diagnostics) -> Option<T>,
    ) -> Vec<Named<T>> {
        let path = self.child_path(key);
        // Every name is checked, also of an entry whose table does not read.
        let names_ok = match self.peek(key).map(|n| &n.value) {
            Some(Value::Table(table)) => table.entries.iter().fold(true, |ok, (name, _)| {
                let located = Located {
                    value: name.name.clone(),
                    origin: name.origin,
                    replaced: None,
                };
                check_rule(&located, &format!("{path}.{}", name.name), rule, diags) && ok
            }),
            _ => true,
        };
        self.failed |= !names_ok;
        let entries = self.named(key, diags, entry);
        entries
            .into_iter()
            .filter(|e| (rule.check)(&e.name).is_ok())
            .collect()
    }

    /// [`Fields::named_rule`] for entries that are each a `T`, such as annotations.
    pub fn named_of_rule<T: Decode>(
        &mut self,
        key: &'static str,
        rule: ValueRule,
        diags: &mut Diagnostics,
    ) -> Vec<Named<T>> {
        if let Some(table) = &self.schema {
            record::entries(table, key, T::schema(), None);
        }
        self.named_rule(key, rule, diags, T::decode)
    }

    /// A table of named entries, each decoded by `entry`.
    pub fn named<T>(
        &mut self,
        key: &'static str,
        diags: &mut Diagnostics,
        mut entry: impl FnMut(&Node, &str, &mut Diagnostics) -> Option<T>,
    ) -> Vec<Named<T>> {
        let node = self.lookup(key);
        if let Some(table) = &self.schema {
            record::entries(table, key, json!({}), node);
        }
        let Some(node) = node else {
            return Vec::new();
        };
        let path = self.child_path(key);
        let Value::Table(table) = &node.value else {
            diags.push(type_error(node, &path, "a table of named entries"));
            self.failed = true;
            return Vec::new();
        };
        let mut out = Vec::with_capacity(table.entries.len());
        for (name, value) in &table.entries {
            let entry_path = format!("{path}.{}", name.name);
            match entry(value, &entry_path, diags) {
                Some(value) => out.push(Named {
                    name: name.name.clone(),
                    origin: name.origin,
                    value,
                }),
                None => self.failed = true,
            }
        }
        out
    }

    /// A table of named entries that are each a `T`, such as `sidecar_labels = { name = "value" }`.
    pub fn named_of<T: Decode>(
        &mut self,
        key: &'static str,
        diags: &mut Diagnostics,
    ) -> Vec<Named<T>> {
        if let Some(table) = &self.schema {
            record::entries(table, key, T::schema(), None);
        }
        self.named(key, diags, T::decode)
    }

    pub fn missing(&mut self, key: &str, expected: &str, diags: &mut Diagnostics) {
        self.failed = true;
        diags.push(
            Diagnostic::error("P0103", format!("`{}` is missing", self.child_path(key)))
                .at(self.node.origin, format!("this table needs `{key}`"))
                .help(format!("add `{key} = …` ({expected})")),
        );
    }

    /// Reports keys nobody asked for. Returns false when anything in this table failed to decode.
    pub fn finish(self, diags: &mut Diagnostics) -> bool {
        if let Some(table) = &self.schema {
            record::close(table);
        }
        let mut ok = !self.failed;
        for (key, _) in &self.table.entries {
            if self.known.contains(&key.name.as_str()) {
                continue;
            }
            ok = false;
            let mut d = Diagnostic::error(
                "P0101",
                format!("unknown key `{}`", self.child_path(&key.name)),
            )
            .at(key.origin, "not a key plat knows here");
            d = match did_you_mean(&key.name, self.known.iter().copied()) {
                Some(close) => d.help(format!("did you mean `{close}`?")),
                None => d.help(format!("known keys here: {}", self.known.join(", "))),
            };
            diags.push(d);
        }
        ok
    }
}

/// A rule of the tool that reads a value (`src/rules/`), with the code plat reports it under.
#[derive(Clone, Copy)]
pub struct ValueRule {
    pub code: &'static str,
    pub check: fn(&str) -> crate::rules::Rule,
}

/// The value rules the readers apply, one per kind of value.
pub mod rule {
    use super::ValueRule;
    use crate::rules::{duration, image, names, network, numbers, paths, time};

    pub const DNS_LABEL: ValueRule = ValueRule {
        code: "P0110",
        check: names::dns1123_label,
    };
    pub const SUBDOMAIN: ValueRule = ValueRule {
        code: "P0110",
        check: names::dns1123_subdomain,
    };
    pub const LABEL_VALUE: ValueRule = ValueRule {
        code: "P0111",
        check: names::label_value,
    };
    pub const ANNOTATION_KEY: ValueRule = ValueRule {
        code: "P0111",
        check: names::annotation_key,
    };
    pub const LABEL_KEY: ValueRule = ValueRule {
        code: "P0111",
        check: names::label_key,
    };
    pub const ANNOTATION: ValueRule = ValueRule {
        code: "P0112",
        check: |text| names::annotations_size([("", text)]),
    };
    pub const INT_OR_PERCENT: ValueRule = ValueRule {
        code: "P0113",
        check: |text| numbers::percent(text).map(drop),
    };
    /// Under the observability section's code, which it had before the rules module.
    pub const PROMETHEUS_DURATION: ValueRule = ValueRule {
        code: "P0318",
        check: |text| duration::prometheus(text).map(drop),
    };
    pub const GO_DURATION: ValueRule = ValueRule {
        code: "P0114",
        check: |text| duration::go(text).map(drop),
    };
    pub const IMAGE: ValueRule = ValueRule {
        code: "P0115",
        check: |text| image::reference(text).map(drop),
    };
    pub const HOST: ValueRule = ValueRule {
        code: "P0116",
        check: network::host,
    };
    pub const CIDR: ValueRule = ValueRule {
        code: "P0117",
        check: network::cidr,
    };
    pub const DATA_KEY: ValueRule = ValueRule {
        code: "P0110",
        check: names::data_key,
    };
    pub const ABSOLUTE_PATH: ValueRule = ValueRule {
        code: "P0118",
        check: paths::absolute,
    };
    pub const HTTP_HEADER: ValueRule = ValueRule {
        code: "P0119",
        check: network::http_header_name,
    };
    pub const TIME_ZONE: ValueRule = ValueRule {
        code: "P0120",
        check: time::time_zone,
    };
    pub const POSTGRES_NAME: ValueRule = ValueRule {
        code: "P0121",
        check: names::postgres_name,
    };
    pub const RFC3339: ValueRule = ValueRule {
        code: "P0122",
        check: time::rfc3339,
    };
}

/// A port number by the rule of `rules::network::port`, at the value itself. Integers beyond i64 come
/// from the loader as floats, and get the same finding.
pub fn port_at(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Located<i64>> {
    let checked = match node.value {
        Value::Float(f) if f.fract() == 0.0 => Err(format!("{f:e} is not between 1 and 65535")),
        _ => {
            let number = i64::decode(node, path, diags)?;
            crate::rules::network::port(number)
                .map(|()| number)
                .map_err(|b| b.problem)
        }
    };
    match checked {
        Ok(value) => Some(Located {
            value,
            origin: node.origin,
            replaced: node.replaced,
        }),
        Err(problem) => {
            let help = format!("it must be {}", crate::rules::network::PORT);
            diags.push(invalid_value(node, path, &problem, &help));
            None
        }
    }
}

/// Checks a string against a value rule; the finding is at the value itself, with the rule as help.
pub fn check_rule(
    value: &Located<String>,
    path: &str,
    rule: ValueRule,
    diags: &mut Diagnostics,
) -> bool {
    let Err(broken) = (rule.check)(&value.value) else {
        return true;
    };
    diags.push(
        value.diagnostic(
            Diagnostic::error(rule.code, format!("`{path}` {}", broken.problem))
                .help(format!("it must be {}", broken.rule)),
            broken.problem.clone(),
        ),
    );
    false
}

/// A rolling update with neither surge nor unavailability cannot progress; reported at
/// `max_unavailable` (or its table, when only the default is zero).
pub fn check_surge(at: Origin, surge: &str, unavailable: &str, diags: &mut Diagnostics) {
    use crate::rules::numbers;
    let (Ok(surge), Ok(unavailable)) = (numbers::percent(surge), numbers::percent(unavailable))
    else {
        return;
    };
    if let Err(broken) = numbers::surge_and_unavailable(surge, unavailable) {
        diags.push(
            Diagnostic::error(
                "P0113",
                format!(
                    "`defaults.max_surge` and `defaults.max_unavailable` {}",
                    broken.problem
                ),
            )
            .at(at, "zero, and so is max_surge")
            .help(format!(
                "{}: the rollout could neither add nor remove a pod",
                broken.rule
            )),
        );
    }
}

impl<'n> Fields<'n> {
    /// The node of a key, without asking for it: for a finding about several keys.
    pub fn peek(&self, key: &str) -> Option<&'n Node> {
        self.table.get(key)
    }

    /// An optional string that must follow a rule of the tool that reads it.
    pub fn rule(
        &mut self,
        key: &'static str,
        rule: ValueRule,
        diags: &mut Diagnostics,
    ) -> Option<Located<String>> {
        let value = self.opt::<String>(key, diags)?;
        if check_rule(&value, &self.child_path(key), rule, diags) {
            return Some(value);
        }
        self.failed = true;
        None
    }

    /// A required string that must follow a rule of the tool that reads it.
    pub fn req_rule(
        &mut self,
        key: &'static str,
        rule: ValueRule,
        diags: &mut Diagnostics,
    ) -> Option<Located<String>> {
        let value = self.req::<String>(key, diags)?;
        if check_rule(&value, &self.child_path(key), rule, diags) {
            return Some(value);
        }
        self.failed = true;
        None
    }

    /// A string with a default that must follow a rule; the default is assumed to.
    pub fn or_rule(
        &mut self,
        key: &'static str,
        default: String,
        rule: ValueRule,
        diags: &mut Diagnostics,
    ) -> String {
        if self.schema.is_some() {
            let value = default.clone();
            self.record(key, || json!({ "default": value }), None);
        }
        self.rule(key, rule, diags).map_or(default, |v| v.value)
    }
}
