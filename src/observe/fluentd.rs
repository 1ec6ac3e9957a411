//! A typed model of Fluentd's configuration (the v1 syntax of `fluent.conf`): directives (`system`,
//! `source`, `filter`, `match`, `label`), nested sections (`parse`, `record`, `buffer`, …) and
//! parameters; a renderer to text and a parser that reads the text back into the same structure.
//!
//! Two small matchers model how Fluentd reads what plat writes, so that tests and checks can prove it
//! instead of trusting it: [`time_accepts`] (the strptime subset Fluentd's time parsers use) and
//! [`tag_matches`] (Fluentd's tag globs, where `*` stays inside one dot-separated part).

use std::fmt::Write as _;

/// A whole `fluent.conf`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    pub directives: Vec<Directive>,
}

/// A top-level element. `filter`, `match` and `label` carry their tag pattern or label name.
#[derive(Clone, Debug, PartialEq)]
pub enum Directive {
    System(Body),
    Source(Body),
    Filter {
        pattern: String,
        body: Body,
    },
    Match {
        pattern: String,
        body: Body,
    },
    /// A label groups the filters and matches that events routed to it (`@label @NAME`) go through.
    Label {
        name: String,
        directives: Vec<Directive>,
    },
}

/// The inside of a directive or section: parameters first, then nested sections, as Fluentd's own
/// examples write them (Fluentd does not care about the order between the two).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Body {
    pub params: Vec<Param>,
    pub sections: Vec<Section>,
}

/// A nested section such as `<parse>`, `<record>` or `<buffer tag,time>`.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub name: String,
    pub arg: Option<String>,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub key: String,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    /// An `:array` parameter, written as a JSON array so that values containing commas survive.
    List(Vec<String>),
    /// Ruby that Fluentd evaluates while reading the file (`"#{…}"`). Only for what must not be in
    /// the file, such as a password read from a mounted Secret; never for values plat knows.
    Embedded(String),
}

impl Value {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
}

impl Directive {
    pub fn body(&self) -> Option<&Body> {
        match self {
            Directive::System(b) | Directive::Source(b) => Some(b),
            Directive::Filter { body, .. } | Directive::Match { body, .. } => Some(body),
            Directive::Label { .. } => None,
        }
    }

    /// The tag pattern of a filter or match.
    pub fn pattern(&self) -> Option<&str> {
        match self {
            Directive::Filter { pattern, .. } | Directive::Match { pattern, .. } => Some(pattern),
            _ => None,
        }
    }

    /// The plugin (`@type`) of the directive.
    pub fn plugin(&self) -> Option<&str> {
        self.body().and_then(|b| b.text("@type"))
    }

    fn element_name(&self) -> &'static str {
        match self {
            Directive::System(_) => "system",
            Directive::Source(_) => "source",
            Directive::Filter { .. } => "filter",
            Directive::Match { .. } => "match",
            Directive::Label { .. } => "label",
        }
    }
}

impl Body {
    pub fn new() -> Self {
        Body::default()
    }

    pub fn text_param(mut self, key: &str, value: impl Into<String>) -> Self {
        self.params.push(Param {
            key: key.to_string(),
            value: Value::Text(value.into()),
        });
        self
    }

    pub fn list_param(mut self, key: &str, values: Vec<String>) -> Self {
        self.params.push(Param {
            key: key.to_string(),
            value: Value::List(values),
        });
        self
    }

    pub fn embedded_param(mut self, key: &str, code: impl Into<String>) -> Self {
        self.params.push(Param {
            key: key.to_string(),
            value: Value::Embedded(code.into()),
        });
        self
    }

    pub fn section(mut self, section: Section) -> Self {
        self.sections.push(section);
        self
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.params.iter().find(|p| p.key == key).map(|p| &p.value)
    }

    pub fn text(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_text)
    }

    /// The first nested section called `name`.
    pub fn child(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }
}

impl Section {
    pub fn new(name: &str, body: Body) -> Self {
        Section {
            name: name.to_string(),
            arg: None,
            body,
        }
    }
}

impl Config {
    /// Every directive, with those inside labels, in file order.
    pub fn all(&self) -> Vec<&Directive> {
        fn walk<'a>(ds: &'a [Directive], out: &mut Vec<&'a Directive>) {
            for d in ds {
                out.push(d);
                if let Directive::Label { directives, .. } = d {
                    walk(directives, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.directives, &mut out);
        out
    }

    pub fn sources(&self) -> Vec<&Body> {
        self.directives
            .iter()
            .filter_map(|d| match d {
                Directive::Source(b) => Some(b),
                _ => None,
            })
            .collect()
    }

    /// Top-level filters (outside labels), in the order events pass through them.
    pub fn filters(&self) -> Vec<(&str, &Body)> {
        self.directives
            .iter()
            .filter_map(|d| match d {
                Directive::Filter { pattern, body } => Some((pattern.as_str(), body)),
                _ => None,
            })
            .collect()
    }

    /// Top-level matches (outside labels).
    pub fn matches(&self) -> Vec<(&str, &Body)> {
        self.directives
            .iter()
            .filter_map(|d| match d {
                Directive::Match { pattern, body } => Some((pattern.as_str(), body)),
                _ => None,
            })
            .collect()
    }
}

// ------------------------------------------------------------------------------------------------
// Rendering

const INDENT: &str = "  ";

/// Renders the configuration: two-space indentation, one blank line between top-level directives,
/// values quoted only when Fluentd would otherwise read something else.
pub fn render(config: &Config) -> String {
    let mut out = String::from(crate::render::HEADER);
    for directive in &config.directives {
        out.push('\n');
        render_directive(&mut out, directive, 0);
    }
    out
}

fn render_directive(out: &mut String, directive: &Directive, depth: usize) {
    let name = directive.element_name();
    let indent = INDENT.repeat(depth);
    let arg = match directive {
        Directive::Filter { pattern, .. } | Directive::Match { pattern, .. } => {
            Some(pattern.as_str())
        }
        Directive::Label { name, .. } => Some(name.as_str()),
        _ => None,
    };
    open_tag(out, &indent, name, arg);
    match directive {
        Directive::Label { directives, .. } => {
            for inner in directives {
                render_directive(out, inner, depth + 1);
            }
        }
        _ => render_body(out, directive.body().expect("not a label"), depth + 1),
    }
    let _ = writeln!(out, "{indent}</{name}>");
}

fn open_tag(out: &mut String, indent: &str, name: &str, arg: Option<&str>) {
    match arg {
        Some(arg) => {
            let _ = writeln!(out, "{indent}<{name} {}>", quote_arg(arg));
        }
        None => {
            let _ = writeln!(out, "{indent}<{name}>");
        }
    }
}

fn render_body(out: &mut String, body: &Body, depth: usize) {
    let indent = INDENT.repeat(depth);
    for param in &body.params {
        let _ = writeln!(
            out,
            "{indent}{} {}",
            quote_key(&param.key),
            render_value(&param.value)
        );
    }
    for section in &body.sections {
        open_tag(out, &indent, &section.name, section.arg.as_deref());
        render_body(out, &section.body, depth + 1);
        let _ = writeln!(out, "{indent}</{}>", section.name);
    }
}

fn render_value(value: &Value) -> String {
    match value {
        Value::Text(text) if is_plain(text) => text.clone(),
        Value::Text(text) => double_quoted(text),
        // `#` is written as `\u0023`: Fluentd evaluates `#{…}` even inside JSON strings.
        Value::List(items) => serde_json::to_string(items)
            .expect("strings serialize")
            .replace('#', "\\u0023"),
        Value::Embedded(code) => format!("\"#{{{code}}}\""),
    }
}

/// A value Fluentd reads back unchanged without quotes: not empty, no surrounding spaces, no `#`
/// (a comment after a space), no line breaks, and not starting with a quote or a JSON bracket.
fn is_plain(text: &str) -> bool {
    !text.is_empty()
        && text.trim() == text
        && !text.contains(['#', '\n', '\r', '\t'])
        && !text.starts_with(['"', '\'', '[', '{'])
}

fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            // `\#` keeps Fluentd from reading `#{` as embedded Ruby.
            '#' => out.push_str("\\#"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn quote_key(key: &str) -> String {
    if is_plain(key) && !key.contains([' ', '<', '>']) {
        key.to_string()
    } else {
        double_quoted(key)
    }
}

/// Tag patterns may hold several globs separated by spaces; only `>` and comments need quotes.
fn quote_arg(arg: &str) -> String {
    if is_plain(arg) && !arg.contains('>') {
        arg.to_string()
    } else {
        double_quoted(arg)
    }
}

// ------------------------------------------------------------------------------------------------
// Parsing

#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// One line of the file, classified.
enum Line {
    Open { name: String, arg: Option<String> },
    Close(String),
    Param(Param),
}

/// Reads a configuration in the v1 syntax: elements, parameters with plain, single- or double-quoted
/// and JSON array values, comments and blank lines. `@include` and multi-line values are not part of
/// the model and are reported.
pub fn parse(text: &str) -> Result<Config, ParseError> {
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let parsed = classify(trimmed).map_err(|message| ParseError { line, message })?;
        lines.push((line, parsed));
    }
    let mut cursor = Cursor { lines, at: 0 };
    let directives = cursor.directives(None)?;
    Ok(Config { directives })
}

struct Cursor {
    lines: Vec<(usize, Line)>,
    at: usize,
}

impl Cursor {
    fn error<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        let line = self
            .lines
            .get(self.at)
            .or(self.lines.last())
            .map_or(0, |(l, _)| *l);
        Err(ParseError {
            line,
            message: message.into(),
        })
    }

    /// Directives until the end of the file (top level) or the closing tag of a label.
    fn directives(&mut self, label: Option<&str>) -> Result<Vec<Directive>, ParseError> {
        let mut out = Vec::new();
        while let Some((_, line)) = self.lines.get(self.at) {
            match line {
                Line::Close(name) if label.is_some() && name == "label" => {
                    self.at += 1;
                    return Ok(out);
                }
                Line::Open { name, arg } => {
                    let (name, arg) = (name.clone(), arg.clone());
                    self.at += 1;
                    out.push(self.directive(&name, arg, label.is_some())?);
                }
                Line::Close(name) => return self.error(format!("unexpected `</{name}>`")),
                Line::Param(p) => {
                    return self.error(format!(
                        "parameter `{}` outside a directive is not supported",
                        p.key
                    ));
                }
            }
        }
        match label {
            Some(name) => self.error(format!("`<label {name}>` is not closed")),
            None => Ok(out),
        }
    }

    fn directive(
        &mut self,
        name: &str,
        arg: Option<String>,
        in_label: bool,
    ) -> Result<Directive, ParseError> {
        let needs_arg = matches!(name, "filter" | "match" | "label");
        if needs_arg && arg.is_none() {
            return self.error(format!("`<{name}>` needs a pattern or name"));
        }
        if !needs_arg && arg.is_some() {
            return self.error(format!("`<{name}>` takes no argument"));
        }
        if in_label && !matches!(name, "filter" | "match") {
            return self.error(format!("`<{name}>` cannot be inside a label"));
        }
        let arg = arg.unwrap_or_default();
        Ok(match name {
            "system" => Directive::System(self.body(name)?),
            "source" => Directive::Source(self.body(name)?),
            "filter" => Directive::Filter {
                pattern: arg,
                body: self.body(name)?,
            },
            "match" => Directive::Match {
                pattern: arg,
                body: self.body(name)?,
            },
            "label" => Directive::Label {
                directives: self.directives(Some(&arg))?,
                name: arg,
            },
            other => return self.error(format!("unknown directive `<{other}>`")),
        })
    }

    /// Parameters and sections until `</name>`.
    fn body(&mut self, name: &str) -> Result<Body, ParseError> {
        let mut body = Body::default();
        loop {
            let Some((_, line)) = self.lines.get(self.at) else {
                return self.error(format!("`<{name}>` is not closed"));
            };
            match line {
                Line::Close(closing) if closing == name => {
                    self.at += 1;
                    return Ok(body);
                }
                Line::Close(closing) => {
                    return self.error(format!("`</{closing}>` closes `<{name}>`"));
                }
                Line::Param(p) if !body.sections.is_empty() => {
                    return self.error(format!(
                        "parameter `{}` after a section: the model keeps parameters first",
                        p.key
                    ));
                }
                Line::Param(p) => {
                    body.params.push(p.clone());
                    self.at += 1;
                }
                Line::Open { name: inner, arg } => {
                    let (inner, arg) = (inner.clone(), arg.clone());
                    self.at += 1;
                    let section_body = self.body(&inner)?;
                    body.sections.push(Section {
                        name: inner,
                        arg,
                        body: section_body,
                    });
                }
            }
        }
    }
}

fn classify(line: &str) -> Result<Line, String> {
    if let Some(rest) = line.strip_prefix("</") {
        let (name, after) = rest
            .split_once('>')
            .ok_or_else(|| "`>` missing in the closing tag".to_string())?;
        expect_line_end(after)?;
        return Ok(Line::Close(name.trim().to_string()));
    }
    if let Some(rest) = line.strip_prefix('<') {
        return open_tag_line(rest);
    }
    if line.starts_with("@include") {
        return Err("`@include` is not part of the model".into());
    }
    let (key, rest) = read_key(line)?;
    let value = read_value(rest.trim_start())?;
    Ok(Line::Param(Param { key, value }))
}

fn open_tag_line(rest: &str) -> Result<Line, String> {
    let name_end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let name = &rest[..name_end];
    if name.is_empty() {
        return Err("an element needs a name".into());
    }
    let after = rest[name_end..].trim_start();
    let (arg, after) = if let Some(quoted) = after.strip_prefix('"') {
        let (text, after) = read_double_quoted(quoted)?;
        (Some(text), after.trim_start())
    } else {
        let close = after
            .find('>')
            .ok_or_else(|| format!("`>` missing after `<{name}`"))?;
        let arg = after[..close].trim_end();
        ((!arg.is_empty()).then(|| arg.to_string()), &after[close..])
    };
    let after = after
        .strip_prefix('>')
        .ok_or_else(|| format!("`>` missing after `<{name}`"))?;
    expect_line_end(after)?;
    Ok(Line::Open {
        name: name.to_string(),
        arg,
    })
}

fn read_key(line: &str) -> Result<(String, &str), String> {
    if let Some(quoted) = line.strip_prefix('"') {
        return read_double_quoted(quoted);
    }
    let end = line.find([' ', '\t']).unwrap_or(line.len());
    Ok((line[..end].to_string(), &line[end..]))
}

/// Whatever follows a value must be blanks or a comment.
fn expect_line_end(rest: &str) -> Result<(), String> {
    let rest = rest.trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        Err(format!("unexpected `{rest}` at the end of the line"))
    }
}

fn read_value(rest: &str) -> Result<Value, String> {
    if let Some(quoted) = rest.strip_prefix('"') {
        let (value, after) = read_double_quoted_value(quoted)?;
        expect_line_end(after)?;
        return Ok(value);
    }
    if let Some(quoted) = rest.strip_prefix('\'') {
        let (text, after) = read_single_quoted(quoted)?;
        expect_line_end(after)?;
        return Ok(Value::Text(text));
    }
    if rest.starts_with('[') {
        return read_list(rest);
    }
    if rest.starts_with('{') {
        return Err("JSON object values are not part of the model".into());
    }
    Ok(Value::Text(plain_value(rest)))
}

/// A plain value ends at a `#` that follows a blank (a comment), and loses trailing blanks.
fn plain_value(rest: &str) -> String {
    let mut end = rest.len();
    let bytes = rest.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && i > 0 && (bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
            end = i;
            break;
        }
    }
    rest[..end].trim_end().to_string()
}

fn read_list(rest: &str) -> Result<Value, String> {
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Vec<String>>();
    let items = match stream.next() {
        Some(Ok(items)) => items,
        Some(Err(e)) => return Err(format!("not a JSON array of strings: {e}")),
        None => return Err("empty value".into()),
    };
    expect_line_end(&rest[stream.byte_offset()..])?;
    Ok(Value::List(items))
}

/// A double-quoted value: text with escapes, or exactly one embedded `#{…}`.
fn read_double_quoted_value(quoted: &str) -> Result<(Value, &str), String> {
    if let Some(code_start) = quoted.strip_prefix("#{") {
        let close = embedded_end(code_start)?;
        let after = code_start[close + 1..]
            .strip_prefix('"')
            .ok_or("embedded Ruby mixed with text is not part of the model")?;
        return Ok((Value::Embedded(code_start[..close].to_string()), after));
    }
    let (text, after) = read_double_quoted(quoted)?;
    Ok((Value::Text(text), after))
}

/// The `}` that closes embedded code, counting nested braces.
fn embedded_end(code: &str) -> Result<usize, String> {
    let mut depth = 0usize;
    for (i, c) in code.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Ok(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    Err("embedded Ruby is not closed".into())
}

/// Reads up to the closing `"`, resolving Fluentd's escapes; returns the text and what follows.
fn read_double_quoted(quoted: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &quoted[i + 1..])),
            '#' if quoted[i + 1..].starts_with('{') => {
                return Err("embedded Ruby inside text is not part of the model".into());
            }
            '\\' => {
                let (_, escaped) = chars.next().ok_or("a `\\` ends the line")?;
                out.push(unescape(escaped)?);
            }
            c => out.push(c),
        }
    }
    Err("a double-quoted string is not closed on its line".into())
}

/// Fluentd's escapes in double-quoted strings: the usual control characters, and any symbol stands
/// for itself; an escaped letter or digit other than these is an error in Fluentd too.
fn unescape(c: char) -> Result<char, String> {
    Ok(match c {
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'f' => '\u{c}',
        'b' => '\u{8}',
        '0' => '\0',
        c if c.is_ascii_alphanumeric() => return Err(format!("unknown escape `\\{c}`")),
        c => c,
    })
}

fn read_single_quoted(quoted: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = quoted.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' => return Ok((out, &quoted[i + 1..])),
            '\\' if matches!(chars.peek(), Some((_, '\'' | '\\'))) => {
                out.push(chars.next().expect("peeked").1);
            }
            c => out.push(c),
        }
    }
    Err("a single-quoted string is not closed on its line".into())
}

// ------------------------------------------------------------------------------------------------
// Time formats

/// Why a time format cannot be checked.
#[derive(Clone, Debug, PartialEq)]
pub enum FormatError {
    /// A directive outside the subset plat models, e.g. `%b` or `%j`.
    Unsupported(String),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Piece {
    Literal(char),
    /// Blanks in the format match any run of blanks, also none.
    Blank,
    /// 1 to `max` digits whose value lies in `lo..=hi`; `signed` allows a leading sign (years).
    Number {
        max: usize,
        lo: u32,
        hi: u32,
        signed: bool,
    },
    /// Fractional seconds: 1 to `max` digits.
    Fraction {
        max: usize,
    },
    /// `Z`, or a sign, two digits, an optional `:` and two optional digits; `names` also allows a
    /// zone name such as `UTC` (`%Z`).
    Zone {
        names: bool,
    },
    /// Seconds since the epoch (`%s`).
    Epoch,
    /// Fluentd's `%iso8601` (Ruby's `Time.iso8601`), only as the whole format.
    Iso8601,
}

/// Does Fluentd's time parser, given `format`, read all of `value`?
///
/// Directives: `%Y %m %d %H %M %S %N %L %z %:z %Z %T %F %s %%`, widths such as `%3N`, and Fluentd's
/// `%iso8601`. Unlike strptime, the whole value must be read: Fluentd's parsers stop at the end of
/// the format and drop the rest, so a format without the fraction or the offset "succeeds" on
/// `…12:00:00.123+08:00` and files the event eight hours off. Such a format does not accept it.
pub fn time_accepts(format: &str, value: &str) -> Result<bool, FormatError> {
    let pieces = compile_format(format)?;
    Ok(match_pieces(&pieces, value))
}

fn compile_format(format: &str) -> Result<Vec<Piece>, FormatError> {
    if format == "%iso8601" {
        return Ok(vec![Piece::Iso8601]);
    }
    let mut pieces = Vec::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '%' => pieces.extend(directive(&mut chars)?),
            c if c.is_whitespace() => {
                if pieces.last() != Some(&Piece::Blank) {
                    pieces.push(Piece::Blank);
                }
            }
            c => pieces.push(Piece::Literal(c)),
        }
    }
    Ok(pieces)
}

fn number(max: usize, lo: u32, hi: u32) -> Piece {
    Piece::Number {
        max,
        lo,
        hi,
        signed: false,
    }
}

fn directive(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<Vec<Piece>, FormatError> {
    let mut width = String::new();
    while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
        width.push(*d);
        chars.next();
    }
    let colon = chars.next_if_eq(&':').is_some();
    let c = chars
        .next()
        .ok_or_else(|| FormatError::Unsupported("%".into()))?;
    let unsupported =
        || FormatError::Unsupported(format!("%{width}{}{c}", if colon { ":" } else { "" }));
    if colon && c != 'z' || !width.is_empty() && !matches!(c, 'N' | 'L') {
        return Err(unsupported());
    }
    let year = Piece::Number {
        max: 4,
        lo: 0,
        hi: 9999,
        signed: true,
    };
    Ok(match c {
        'Y' => vec![year],
        'm' => vec![number(2, 1, 12)],
        'd' => vec![number(2, 1, 31)],
        'H' => vec![number(2, 0, 23)],
        'M' => vec![number(2, 0, 59)],
        'S' => vec![number(2, 0, 60)],
        'N' | 'L' => {
            let max = width.parse().unwrap_or(9).clamp(1, 9);
            vec![Piece::Fraction { max }]
        }
        'z' => vec![Piece::Zone { names: false }],
        'Z' => vec![Piece::Zone { names: true }],
        'T' => vec![
            number(2, 0, 23),
            Piece::Literal(':'),
            number(2, 0, 59),
            Piece::Literal(':'),
            number(2, 0, 60),
        ],
        'F' => vec![
            year,
            Piece::Literal('-'),
            number(2, 1, 12),
            Piece::Literal('-'),
            number(2, 1, 31),
        ],
        's' => vec![Piece::Epoch],
        '%' => vec![Piece::Literal('%')],
        _ => return Err(unsupported()),
    })
}

fn match_pieces(pieces: &[Piece], value: &str) -> bool {
    let mut rest = value;
    for piece in pieces {
        match take(*piece, rest) {
            Some(after) => rest = after,
            None => return false,
        }
    }
    rest.is_empty()
}

/// Consumes one piece from the front of `s`, returning the rest.
fn take(piece: Piece, s: &str) -> Option<&str> {
    match piece {
        Piece::Literal(c) => s.strip_prefix(c),
        Piece::Blank => Some(s.trim_start()),
        Piece::Number {
            max,
            lo,
            hi,
            signed,
        } => {
            let s = if signed {
                s.strip_prefix(['+', '-']).unwrap_or(s)
            } else {
                s
            };
            let (n, rest) = digits(s, max)?;
            (lo..=hi).contains(&n).then_some(rest)
        }
        Piece::Fraction { max } => digits(s, max).map(|(_, rest)| rest),
        Piece::Zone { names } => zone(s, names),
        Piece::Epoch => digits(s.strip_prefix('-').unwrap_or(s), 19).map(|(_, rest)| rest),
        Piece::Iso8601 => iso8601(s.trim()).then_some(""),
    }
}

/// 1 to `max` leading ASCII digits and their value (saturating).
fn digits(s: &str, max: usize) -> Option<(u32, &str)> {
    let len = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if len == 0 {
        return None;
    }
    let value = s[..len].bytes().fold(0u32, |acc, b| {
        acc.saturating_mul(10).saturating_add(u32::from(b - b'0'))
    });
    Some((value, &s[len..]))
}

fn zone(s: &str, names: bool) -> Option<&str> {
    if let Some(rest) = s.strip_prefix(['Z', 'z']) {
        return Some(rest);
    }
    if let Some(rest) = s.strip_prefix(['+', '-']) {
        let (hours, rest) = digits(rest, 2)?;
        let rest = rest.strip_prefix(':').unwrap_or(rest);
        let rest = digits(rest, 2).map_or(rest, |(_, r)| r);
        return (hours <= 23).then_some(rest);
    }
    if names {
        let len = s.bytes().take_while(u8::is_ascii_alphabetic).count();
        return (len > 0).then(|| &s[len..]);
    }
    None
}

/// Ruby's `Time.iso8601`: `YYYY-MM-DDTHH:MM:SS`, an optional fraction, an optional `Z` or offset.
fn iso8601(s: &str) -> bool {
    let date_time = [
        number(4, 0, 9999),
        Piece::Literal('-'),
        number(2, 1, 12),
        Piece::Literal('-'),
        number(2, 1, 31),
        Piece::Literal('T'),
        number(2, 0, 23),
        Piece::Literal(':'),
        number(2, 0, 59),
        Piece::Literal(':'),
        number(2, 0, 60),
    ];
    let mut rest = s;
    for piece in date_time {
        match take(piece, rest) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    if let Some(r) = rest.strip_prefix('.') {
        match digits(r, usize::MAX) {
            Some((_, r)) => rest = r,
            None => return false,
        }
    }
    rest.is_empty() || zone(rest, false) == Some("")
}

// ------------------------------------------------------------------------------------------------
// Tags

/// Does Fluentd route `tag` to a directive whose pattern is `pattern`? Several globs separated by
/// blanks match if any does. In a glob, `*` matches within one tag part (no `.`), `**` matches any
/// number of parts (`a.**` also matches `a`), and `{x,y}` matches either.
pub fn tag_matches(pattern: &str, tag: &str) -> bool {
    pattern
        .split_whitespace()
        .any(|glob| glob == "**" || glob_matches(&compile_glob(glob), tag))
}

/// In-tail tags: `*` in the `tag` parameter is replaced by the file's path with `/` turned into `.`.
pub fn tail_tag(tag: &str, path: &str) -> String {
    let mut dotted = path.replace('/', ".");
    while dotted.contains("..") {
        dotted = dotted.replace("..", ".");
    }
    tag.replacen('*', dotted.trim_start_matches('.'), 1)
}

#[derive(Clone, Debug)]
enum Glob {
    Char(char),
    /// `*`: any run without a dot.
    Part,
    /// `**`: anything.
    Any,
    /// After `x.` and before `**`: the next character is a dot or the end (zero width).
    DotOrEnd,
    /// `**.`: the very start of the tag, or anything that ends in a dot.
    StartOrDotted,
    Either(Vec<Vec<Glob>>),
}

/// Mirrors Fluentd's `GlobMatchPattern`, which turns a glob into a regular expression: a dot is held
/// back until the next character shows whether it belongs to a `.**`.
fn compile_glob(glob: &str) -> Vec<Glob> {
    let chars: Vec<char> = glob.chars().collect();
    // `seqs` is the sequence being built at each brace depth; `alts` the finished alternatives.
    let mut seqs: Vec<Vec<Glob>> = vec![Vec::new()];
    let mut alts: Vec<Vec<Vec<Glob>>> = Vec::new();
    let (mut escape, mut dot, mut i) = (false, false, 0);
    while i < chars.len() {
        let c = chars[i];
        let current = seqs.last_mut().expect("one sequence at least");
        if escape {
            current.push(Glob::Char(c));
            escape = false;
            i += 1;
            continue;
        }
        if c == '*' && chars.get(i + 1) == Some(&'*') {
            if std::mem::take(&mut dot) {
                current.push(Glob::DotOrEnd);
            }
            if chars.get(i + 2) == Some(&'.') {
                current.push(Glob::StartOrDotted);
                i += 3;
            } else {
                current.push(Glob::Any);
                i += 2;
            }
            continue;
        }
        if std::mem::take(&mut dot) {
            current.push(Glob::Char('.'));
        }
        match c {
            '\\' => escape = true,
            '.' => dot = true,
            '*' => current.push(Glob::Part),
            '{' => {
                alts.push(Vec::new());
                seqs.push(Vec::new());
            }
            '}' | ',' if !alts.is_empty() => {
                let done = seqs.pop().expect("inside braces");
                let open = alts.last_mut().expect("inside braces");
                open.push(done);
                if c == ',' {
                    seqs.push(Vec::new());
                } else {
                    let either = Glob::Either(alts.pop().expect("inside braces"));
                    seqs.last_mut().expect("outer sequence").push(either);
                }
            }
            c => current.push(Glob::Char(c)),
        }
        i += 1;
    }
    while let Some(mut open) = alts.pop() {
        open.push(seqs.pop().expect("inside braces"));
        seqs.last_mut()
            .expect("outer sequence")
            .push(Glob::Either(open));
    }
    seqs.pop().expect("the outer sequence")
}

fn glob_matches(glob: &[Glob], tag: &str) -> bool {
    let chars: Vec<char> = tag.chars().collect();
    match_from(glob, &chars, 0, &mut |end| end == chars.len())
}

/// Backtracking match of `glob` against `tag[at..]`; `done` decides whether a match ending at a
/// position completes the whole pattern.
fn match_from(glob: &[Glob], tag: &[char], at: usize, done: &mut dyn FnMut(usize) -> bool) -> bool {
    let Some((first, rest)) = glob.split_first() else {
        return done(at);
    };
    let mut continue_at = |pos: usize| match_from(rest, tag, pos, done);
    match first {
        Glob::Char(c) => tag.get(at) == Some(c) && continue_at(at + 1),
        Glob::Part => {
            let run = tag[at..].iter().take_while(|c| **c != '.').count();
            (0..=run).any(|n| continue_at(at + n))
        }
        Glob::Any => (at..=tag.len()).any(continue_at),
        Glob::DotOrEnd => matches!(tag.get(at), None | Some('.')) && continue_at(at),
        Glob::StartOrDotted => {
            (at == 0 && continue_at(at))
                || (at..tag.len())
                    .filter(|&p| tag[p] == '.')
                    .any(|p| continue_at(p + 1))
        }
        Glob::Either(alternatives) => alternatives
            .iter()
            .any(|alt| match_from(alt, tag, at, &mut continue_at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Config {
        Config {
            directives: vec![
                Directive::System(Body::new().text_param("log_level", "info")),
                Directive::Source(
                    Body::new()
                        .text_param("@type", "tail")
                        .list_param("exclude_path", vec!["/a,b/*.log".into(), "#{x}".into()])
                        .section(Section::new(
                            "parse",
                            Body::new().text_param("@type", "cri"),
                        )),
                ),
                Directive::Label {
                    name: "@FLUENT_LOG".into(),
                    directives: vec![Directive::Match {
                        pattern: "fluent.**".into(),
                        body: Body::new().text_param("@type", "null"),
                    }],
                },
                Directive::Match {
                    pattern: "a.** b.{c,d}".into(),
                    body: Body::new()
                        .text_param("quote", "say \"hi\"")
                        .text_param("hash", "a # b #{ENV['X']}")
                        .text_param("spaces", "  padded  ")
                        .text_param("empty", "")
                        .text_param("single", "'x'")
                        .text_param("json_like", "[not a list")
                        .text_param("backslash", "\\d+\\.log$")
                        .text_param("newline", "a\nb\tc")
                        .embedded_param("password", "File.read('/s/P').strip")
                        .section(Section {
                            name: "buffer".into(),
                            arg: Some("tag,time".into()),
                            body: Body::new().text_param("flush_interval", "1s"),
                        }),
                },
            ],
        }
    }

    #[test]
    fn render_parse_render_is_stable_for_tricky_values() {
        let config = sample();
        let text = render(&config);
        let parsed = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(parsed, config);
        assert_eq!(render(&parsed), text);
    }

    #[test]
    fn values_are_quoted_only_when_needed() {
        let text = render(&sample());
        assert!(text.contains("\n  @type tail\n"));
        // Only a leading quote would be read as quoting; inside a value, quotes are text.
        assert!(text.contains("  quote say \"hi\"\n"), "{text}");
        assert!(text.contains("  single \"'x'\"\n"), "{text}");
        assert!(
            text.contains("  hash \"a \\# b \\#{ENV['X']}\"\n"),
            "{text}"
        );
        assert!(text.contains("  empty \"\"\n"));
        assert!(text.contains("  backslash \\d+\\.log$\n"));
        assert!(text.contains("  password \"#{File.read('/s/P').strip}\"\n"));
        assert!(
            text.contains(r#"exclude_path ["/a,b/*.log","\u0023{x}"]"#),
            "{text}"
        );
    }

    #[test]
    fn parser_reads_comments_single_quotes_and_plain_values() {
        let text = "# c\n<source>\n  @type tail # why\n  a 'it\\'s'\n  b x#y\n  c\n</source>\n";
        let config = parse(text).unwrap();
        let body = &config.sources()[0];
        assert_eq!(body.text("@type"), Some("tail"));
        assert_eq!(body.text("a"), Some("it's"));
        assert_eq!(body.text("b"), Some("x#y"));
        assert_eq!(body.text("c"), Some(""));
    }

    #[test]
    fn parser_reports_unclosed_and_mismatched_elements() {
        assert_eq!(parse("<source>\n  a b\n").unwrap_err().line, 2);
        assert!(parse("<source>\n</match>\n").is_err());
        assert!(parse("<match>\n</match>\n").is_err());
        assert!(parse("@include x.conf\n").is_err());
    }

    const ISO: &str = "%Y-%m-%dT%H:%M:%S.%N%z";

    #[test]
    fn time_formats_read_the_whole_value() {
        assert_eq!(time_accepts(ISO, "2024-05-01T12:00:00.123456Z"), Ok(true));
        assert_eq!(
            time_accepts(ISO, "2024-05-01T12:00:00.123456789+08:00"),
            Ok(true)
        );
        assert_eq!(time_accepts(ISO, "2024-05-01T12:00:00Z"), Ok(false));
        assert_eq!(
            time_accepts("%Y-%m-%dT%H:%M:%S%z", "2024-05-01T12:00:00+0800"),
            Ok(true)
        );
        // The seed's format: a space instead of `T`, and the rest would be dropped.
        assert_eq!(
            time_accepts("%Y-%m-%d %H:%M:%S", "2024-05-01T12:00:00Z"),
            Ok(false)
        );
        assert_eq!(
            time_accepts("%Y-%m-%dT%H:%M:%S", "2024-05-01T12:00:00.1Z"),
            Ok(false)
        );
        assert_eq!(
            time_accepts("%Y-%m-%dT%H:%M:%S.%NZ", "2024-05-01T12:00:00.1+08:00"),
            Ok(false)
        );
        assert_eq!(time_accepts("%F %T", "2024-05-01 12:00:60"), Ok(true));
        assert_eq!(time_accepts("%F %T", "2024-13-01 12:00:00"), Ok(false));
        assert_eq!(time_accepts("%d/%m/%Y %Z", "01/05/2024 UTC"), Ok(true));
        assert_eq!(time_accepts("%s", "1714564800"), Ok(true));
        assert_eq!(time_accepts("%3N", "1234"), Ok(false));
        assert!(time_accepts("%d/%b/%Y", "01/May/2024").is_err());
    }

    #[test]
    fn fluentds_iso8601_shortcut_takes_fractions_and_offsets() {
        for v in [
            "2024-05-01T12:00:00Z",
            "2024-05-01T12:00:00.5+08:00",
            "2024-05-01T12:00:00",
        ] {
            assert_eq!(time_accepts("%iso8601", v), Ok(true), "{v}");
        }
        assert_eq!(time_accepts("%iso8601", "2024-05-01 12:00:00Z"), Ok(false));
    }

    #[test]
    fn tag_globs_follow_fluentd() {
        let tag = "kubernetes.var.log.containers.api-7d9_production_api-0a1b.log";
        assert!(tag_matches("kubernetes.**", tag));
        assert!(tag_matches(
            "kubernetes.var.log.containers.*_production_*.log",
            tag
        ));
        assert!(!tag_matches(
            "kubernetes.var.log.containers.*_staging_*.log",
            tag
        ));
        assert!(
            !tag_matches("kubernetes.*", tag),
            "`*` stays inside one part"
        );
        assert!(tag_matches("a.** kubernetes.**", tag));
        assert!(tag_matches("a.**", "a"));
        assert!(!tag_matches("a.**", "ab"));
        assert!(tag_matches("**.b", "b") && tag_matches("**.b", "x.y.b"));
        assert!(tag_matches("a.{b,c}.d", "a.c.d") && !tag_matches("a.{b,c}.d", "a.e.d"));
        assert!(tag_matches("a.**.b", "a.b") && tag_matches("a.**.b", "a.x.y.b"));
        assert!(!tag_matches("a.**.b", "ab"));
        // The seed's `**saas-platform**` needs the text in the file name; pods are named after
        // their workload and the namespace is `production`, so it matches none of the services.
        let seed = "kubernetes.var.log.containers.**saas-platform**.log";
        assert!(!tag_matches(seed, tag));
    }

    #[test]
    fn tail_tags_replace_the_star_with_the_dotted_path() {
        assert_eq!(
            tail_tag("kubernetes.*", "/var/log/containers/a_b_c-1.log"),
            "kubernetes.var.log.containers.a_b_c-1.log"
        );
    }
}
