//! The single place in the project that reads and writes YAML.
//!
//! Writing is a hand-written emitter rather than a generic serializer because the
//! output must be fast (tens of megabytes per run), byte-for-byte deterministic, and
//! laid out the way Kubernetes users expect (kubectl style: sequence dashes at the
//! same column as their parent key). Its quoting is deliberately conservative: a
//! string is left unquoted only when both YAML 1.2 readers and YAML 1.1 readers
//! (go-yaml, which most Kubernetes tooling uses and which reads `yes`/`no`/`on`/`off`/
//! `y`/`n` as booleans) are certain to read it back as the same string.
//!
//! Reading goes through serde-saphyr.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// Writes one YAML document (no leading `---`) for a JSON value, ending with a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    write_yaml(&mut out, value);
    out
}

/// Appends one document to `out` (same text as [`to_yaml`]), to avoid allocations
/// when rendering many.
pub fn write_yaml(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) if !map.is_empty() => write_map(out, map, 0, false),
        Value::Array(items) if !items.is_empty() => write_seq(out, items, 0, false),
        scalar => write_scalar(out, scalar, 0),
    }
}

/// Writes several documents separated by `---\n` lines (a multi-document YAML
/// stream); each starts with `---\n`.
pub fn to_yaml_stream(values: &[Value]) -> String {
    let mut out = String::new();
    for value in values {
        out.push_str("---\n");
        write_yaml(&mut out, value);
    }
    out
}

/// Parses a (multi-document) YAML text into JSON values using serde-saphyr.
///
/// Empty documents (and documents that are just `null`) are skipped. Errors are a
/// one-line message that names the line and column when the parser knows them.
pub fn parse_yaml_stream(text: &str) -> Result<Vec<Value>, String> {
    // The default budget guards against hostile input by capping documents (1,024),
    // nodes and events, which a legitimate rendered platform (tens of thousands of
    // objects) exceeds. Our inputs are the user's own files and our own output, so
    // lift the size caps; the nesting-depth cap stays because it protects the stack.
    let budget = serde_saphyr::budget! {
        max_documents: usize::MAX,
        max_events: usize::MAX,
        max_nodes: usize::MAX,
        max_total_scalar_bytes: usize::MAX,
    };
    // Without the source snippet the message stays on one line and ends with
    // "at line L, column C", which suits callers that add their own context.
    let options = serde_saphyr::options! { with_snippet: false, budget: budget };
    serde_saphyr::from_multiple_with_options(text, options).map_err(|err| err.to_string())
}

/// A YAML syntax error: the message and the one-based line and column, when the parser knows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

/// [`parse_yaml_stream`] for text a person wrote (the extra objects of `manifests/`): the error keeps
/// its position, so that it can be located in the file it came from.
pub fn parse_yaml_located(text: &str) -> Result<Vec<Value>, YamlError> {
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_multiple_with_options(text, options).map_err(|err| {
        let at = err.location().filter(|l| l.line() > 0);
        YamlError {
            message: err.to_string(),
            line: at.map(|l| l.line() as usize),
            column: at.map(|l| l.column() as usize),
        }
    })
}

/// Spaces for indentation, pushed in slices so deep nesting needs no allocation.
const SPACES: &str = "                                                                ";

/// Longest key (in bytes, as written) emitted as an implicit `key: value` key. YAML
/// limits implicit keys to 1,024 characters; longer keys use the explicit `? key` form.
const MAX_IMPLICIT_KEY_LEN: usize = 1000;

fn push_indent(out: &mut String, mut width: usize) {
    while width > 0 {
        let chunk = width.min(SPACES.len());
        out.push_str(&SPACES[..chunk]);
        width -= chunk;
    }
}

/// Writes the entries of a non-empty map whose keys sit at column `indent`.
///
/// `inline_first` means the cursor already sits at that column (after a sequence
/// dash), so the first key must not be indented again.
fn write_map(out: &mut String, map: &Map<String, Value>, indent: usize, inline_first: bool) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !inline_first {
            push_indent(out, indent);
        }
        write_key(out, key, indent);
        write_entry_value(out, value, indent);
    }
}

/// Writes the items of a non-empty sequence whose dashes sit at column `indent`.
/// `inline_first` is as for [`write_map`].
fn write_seq(out: &mut String, items: &[Value], indent: usize, inline_first: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !inline_first {
            push_indent(out, indent);
        }
        out.push_str("- ");
        // Collections start on the dash line (compact form), their content two columns in.
        match item {
            Value::Object(map) if !map.is_empty() => write_map(out, map, indent + 2, true),
            Value::Array(inner) if !inner.is_empty() => write_seq(out, inner, indent + 2, true),
            scalar => write_scalar(out, scalar, indent),
        }
    }
}

/// Writes `key:` (or, for a key too long to be implicit, `? key` and a `:` line).
fn write_key(out: &mut String, key: &str, indent: usize) {
    let start = out.len();
    write_inline_string(out, key);
    if out.len() - start > MAX_IMPLICIT_KEY_LEN {
        out.insert_str(start, "? ");
        out.push('\n');
        push_indent(out, indent);
    }
    out.push(':');
}

/// Writes what follows `key:` for a map entry whose key sits at column `indent`.
fn write_entry_value(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, indent + 2, false);
        }
        // kubectl style: a sequence under a key puts its dashes at the key's column.
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent, false);
        }
        scalar => {
            out.push(' ');
            write_scalar(out, scalar, indent);
        }
    }
}

/// Writes a scalar (or an empty collection) and the newline that ends it. `indent` is
/// the column of the owning key or dash; block scalar lines go two columns deeper.
fn write_scalar(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number),
        Value::String(text) if fits_literal_block(text) => {
            write_literal_block(out, text, indent + 2);
            return; // the block writer ends its own lines
        }
        Value::String(text) => write_inline_string(out, text),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
    out.push('\n');
}

fn write_number(out: &mut String, number: &Number) {
    let start = out.len();
    write!(out, "{number}").expect("writing to a String cannot fail");
    if number.is_f64() {
        ensure_float_syntax(out, start);
    }
}

/// Makes the float written at `out[start..]` read back as a float everywhere.
///
/// serde_json writes integral floats as `100.0` but large or small ones as `1e+20`.
/// YAML 1.2 reads `1e+20` as a float, but YAML 1.1 floats need a `.` and a signed
/// exponent, so this turns `1e+20` into `1.0e+20` (and a bare `100` into `100.0`).
fn ensure_float_syntax(out: &mut String, start: usize) {
    let text = &out[start..];
    let exponent = text.find(['e', 'E']).map(|pos| start + pos);
    let mantissa_end = exponent.unwrap_or(out.len());
    if let Some(pos) = exponent
        && out.as_bytes().get(pos + 1).is_some_and(u8::is_ascii_digit)
    {
        out.insert(pos + 1, '+');
    }
    if !out[start..mantissa_end].contains('.') {
        out.insert_str(mantissa_end, ".0");
    }
}

/// A string as a one-line YAML scalar: plain when that is unambiguous, else double-quoted.
pub fn inline_scalar(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    write_inline_string(&mut out, text);
    out
}

/// Writes a string on one line: plain when that is unambiguous, else double-quoted.
fn write_inline_string(out: &mut String, text: &str) {
    if is_plain_safe(text) {
        out.push_str(text);
    } else {
        write_double_quoted(out, text);
    }
}

/// Words that some YAML reader resolves to a non-string when unquoted: YAML 1.1
/// booleans (go-yaml), YAML 1.2 booleans and null, and float spellings that
/// generic number parsers (Rust's and Go's) accept. Compared case-insensitively.
const RESERVED_WORDS: [&str; 12] = [
    "true", "false", "yes", "no", "on", "off", "y", "n", "null", "inf", "infinity", "nan",
];

/// Whether `text` can be written unquoted and still read back as this exact string.
///
/// Deliberately narrower than what YAML allows: only `[A-Za-z0-9_./-]`, starting with
/// a letter or `/`. That start rules out every number, date, timestamp, `.inf`/`.nan`
/// and indicator character in YAML 1.1 and 1.2; what remains ambiguous is a handful
/// of words.
fn is_plain_safe(text: &str) -> bool {
    let bytes = text.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == b'/')
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-'))
        && !RESERVED_WORDS
            .iter()
            .any(|word| text.eq_ignore_ascii_case(word))
}

/// Characters YAML does not allow raw in a document (or that YAML 1.1 reads as line
/// breaks: NEL, LS, PS), plus all ASCII control characters. These are escaped inside
/// double quotes and keep a string out of a literal block.
fn is_unsafe_raw(c: char) -> bool {
    matches!(
        c,
        '\0'..='\x1F' | '\x7F'..='\u{9F}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}'
    )
}

fn write_double_quoted(out: &mut String, text: &str) {
    out.push('"');
    // Copy runs of characters that need no escape in one go.
    let mut run_start = 0;
    for (i, c) in text.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\t' => "\\t",
            '\r' => "\\r",
            c if is_unsafe_raw(c) => "",
            _ => continue,
        };
        out.push_str(&text[run_start..i]);
        if escape.is_empty() {
            // Every unsafe character is in the Basic Multilingual Plane.
            write!(out, "\\u{:04X}", u32::from(c)).expect("writing to a String cannot fail");
        } else {
            out.push_str(escape);
        }
        run_start = i + c.len_utf8();
    }
    out.push_str(&text[run_start..]);
    out.push('"');
}

/// Whether a multi-line string can be written as a literal block (`|`, `|-`, `|+`)
/// and read back exactly.
///
/// Block scalars take their indentation from the first non-empty line, so that line
/// must not start with a space. Lines of only spaces are avoided because their
/// meaning depends on subtle indentation rules that readers get wrong, and strings
/// with no content line at all are left to quoting.
fn fits_literal_block(text: &str) -> bool {
    if !text.contains('\n') || text.chars().any(|c| c != '\n' && is_unsafe_raw(c)) {
        return false;
    }
    let body = text.trim_end_matches('\n');
    let mut lines = body.split('\n').filter(|line| !line.is_empty());
    let Some(first) = lines.next() else {
        return false;
    };
    !first.starts_with(' ')
        && std::iter::once(first)
            .chain(lines)
            .all(|line| line.bytes().any(|b| b != b' '))
}

/// Writes the header (`|`, `|-` or `|+`) and the lines of a literal block whose
/// content sits at column `content_indent`.
fn write_literal_block(out: &mut String, text: &str, content_indent: usize) {
    let body = text.trim_end_matches('\n');
    let trailing_newlines = text.len() - body.len();
    // The chomping indicator says how many trailing newlines belong to the value.
    out.push_str(match trailing_newlines {
        0 => "|-\n",
        1 => "|\n",
        _ => "|+\n",
    });
    for line in body.split('\n') {
        if !line.is_empty() {
            push_indent(out, content_indent);
            out.push_str(line);
        }
        out.push('\n');
    }
    // With `|+` the value keeps every trailing newline: the body's own line break is
    // written above, the rest become empty lines.
    for _ in 1..trailing_newlines {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Strings that trip up YAML emitters: YAML 1.1 booleans, numbers, dates,
    /// indicators, whitespace, escapes, unicode and multi-line texts.
    fn tricky_strings() -> Vec<String> {
        let fixed = [
            "yes",
            "No",
            "NO",
            "on",
            "On",
            "OFF",
            "off",
            "y",
            "Y",
            "n",
            "N",
            "true",
            "True",
            "FALSE",
            "null",
            "Null",
            "NULL",
            "~",
            "",
            " ",
            "inf",
            "Infinity",
            "nan",
            "NaN",
            ".inf",
            "-.inf",
            "+.inf",
            ".nan",
            ".NaN",
            "1.0",
            "0.1",
            "1e3",
            "1E3",
            "e3",
            "1e+3",
            "0x1F",
            "0o17",
            "0b101",
            "012",
            "0",
            "-1",
            "+1",
            "1_000",
            "1:20",
            "190:20:30",
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10 -5",
            " lead",
            "trail ",
            "a: b",
            "a:b",
            "a:",
            "- x",
            "-",
            "--",
            "---",
            "...",
            "#x",
            "x #y",
            "x#y",
            "@x",
            "`x",
            "{a}",
            "[a]",
            "a,b",
            "*a",
            "&a",
            "!a",
            "!!str",
            "%a",
            "|",
            ">",
            "|-",
            "?",
            "? x",
            "'q'",
            "\"q\"",
            "q'q",
            "a\"b",
            "back\\slash",
            "<<",
            "=",
            "/",
            "/var/lib",
            "app.kubernetes.io/name",
            "a b",
            "a  b",
            "tab\there",
            "cr\rlf",
            "bell\u{7}",
            "nul\0",
            "del\u{7F}",
            "nel\u{85}",
            "ls\u{2028}ps\u{2029}",
            "bom\u{FEFF}",
            "\u{FFFE}\u{FFFF}",
            "日本語のテキスト",
            "emoji 🚀",
            "ümlaut",
            "nginx:1.25",
            "v1",
            "apps/v1",
            "x1e3",
            "E",
            "e",
            "a-b_c.d/e",
            // Multi-line texts.
            "line1\nline2",
            "line1\nline2\n",
            "line1\nline2\n\n",
            "line1\nline2\n\n\n",
            "line1\n\nline3\n",
            "\nleading blank\n",
            "\n\nleading blanks",
            "  indented first\nsecond\n",
            "\n  indented after blank\n",
            "first\n  indented second\n",
            "first\n   \nspaces-only line\n",
            "trailing spaces  \nnext\n",
            "\n",
            "\n\n",
            "a\r\nb\r\n",
            "tab\tinside\nblock\n",
            "# not a comment\n---\n...\n- not a list\nkey: value\n",
            "unicode 日本\nemoji 🚀\n",
            "quote \" and \\ backslash\n",
        ];
        let mut strings: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
        strings.push("k".repeat(1500));
        strings
    }

    fn tricky_values() -> Vec<Value> {
        let strings: Vec<Value> = tricky_strings().into_iter().map(Value::from).collect();
        let as_keys: Map<String, Value> = tricky_strings()
            .into_iter()
            .enumerate()
            .map(|(i, s)| (s, Value::from(i)))
            .collect();
        let as_values: Map<String, Value> = tricky_strings()
            .into_iter()
            .enumerate()
            .map(|(i, s)| (format!("key{i}"), Value::from(s)))
            .collect();
        let mut values = vec![
            Value::Array(strings.clone()),
            Value::Object(as_keys),
            Value::Object(as_values.clone()),
            json!({ "items": [as_values] }),
            json!({ "outer": [[strings.clone()]] }),
            json!([
                0, 1, -1, 42, i64::MIN, i64::MAX, u64::MAX,
                0.0, -0.0, 0.1, -2.5, 100.0, 1e15, 1e16, 1e20, 1e-7, 5e-324,
                f64::MAX, f64::MIN_POSITIVE, 123456789.125,
                true, false, null, {}, [], [[]], [{}], [[], {}], {"a": {}}, {"a": []}
            ]),
            json!({
                "a": {"b": {"c": {"d": {"e": [1, [2, [3, [4, {"f": [{"g": null}]}]]]]}}}},
                "seqs": [[1, 2], [[3], [4, 5]], [], [[]], [{}]],
                "maps_in_seq": [
                    {"first_map": {"x": 1}, "then": 2},
                    {"first_seq": [1, 2], "then": "x"},
                    {"first_block": "a\nb\n", "then": [{"deep": "c\nd"}]},
                    {"only": {}},
                    {"empty_list": []}
                ],
                "blocks": ["x\ny", "x\ny\n", "x\ny\n\n", [["nested\nblock\n"]]],
                "long_key_map": { "k".repeat(1200): {"inner": [1, {"z": "y"}]} },
                "long_key_seq": { "q".repeat(1200): [1, 2] },
                "long_key_block": { "r".repeat(1200): "a\nb\n" },
            }),
        ];
        // Every tricky string and empty collection also as a whole document.
        values.extend(strings);
        values.extend([json!({}), json!([]), json!(true), json!(-7), json!(2.5)]);
        values
    }

    fn assert_round_trips(value: &Value) {
        let text = to_yaml(value);
        let parsed = parse_yaml_stream(&text)
            .unwrap_or_else(|err| panic!("emitted YAML does not parse: {err}\n{text}"));
        assert_eq!(
            parsed,
            vec![value.clone()],
            "round trip changed the value:\n{text}"
        );
    }

    #[test]
    fn tricky_values_round_trip() {
        for value in tricky_values() {
            assert_round_trips(&value);
        }
    }

    #[test]
    fn tricky_values_round_trip_as_one_stream() {
        let values = tricky_values();
        let parsed = parse_yaml_stream(&to_yaml_stream(&values)).unwrap();
        assert_eq!(parsed, values);
    }

    #[test]
    fn deep_nesting_round_trips() {
        let mut value = json!("leaf\ntext\n");
        for depth in 0..30 {
            value = if depth % 3 == 0 {
                json!([value, depth])
            } else if depth % 3 == 1 {
                json!({ "k": value, "n": depth })
            } else {
                json!([{ "first": value }])
            };
        }
        assert_round_trips(&value);
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        for text in [
            "yes", "No", "on", "OFF", "y", "N", "null", "~", "", "1.0", "0x1F", "012",
        ] {
            let expected = format!("{}\n", serde_json::to_string(text).unwrap());
            assert_eq!(to_yaml(&json!(text)), expected);
        }
        assert_eq!(to_yaml(&json!("a b")), "\"a b\"\n");
        assert_eq!(
            to_yaml(&json!("bell\u{7}\u{85}")),
            "\"bell\\u0007\\u0085\"\n"
        );
        assert_eq!(to_yaml(&json!("日本")), "\"日本\"\n");
    }

    #[test]
    fn unambiguous_strings_are_plain() {
        for text in [
            "nginx",
            "app.kubernetes.io/name",
            "/var/run",
            "v1",
            "yesterday",
            "x_1-2",
        ] {
            assert_eq!(to_yaml(&json!(text)), format!("{text}\n"));
        }
    }

    #[test]
    fn floats_always_read_back_as_floats() {
        let value = json!([1.0, 100.0, 1e20, 1e-7, -2.5]);
        assert_eq!(
            to_yaml(&value),
            "- 1.0\n- 100.0\n- 1.0e+20\n- 1.0e-7\n- -2.5\n"
        );
        assert_round_trips(&value);
    }

    #[test]
    fn literal_blocks_pick_chomping_from_trailing_newlines() {
        let value = json!({ "a": "x\n\ny", "b": "x\n", "c": "x\n\n" });
        assert_eq!(
            to_yaml(&value),
            "a: |-\n  x\n\n  y\nb: |\n  x\nc: |+\n  x\n\n"
        );
        // A first line that starts with a space would confuse indentation detection.
        assert_eq!(to_yaml(&json!({"a": " x\ny"})), "a: \" x\\ny\"\n");
    }

    #[test]
    fn deployment_layout_is_pinned() {
        let deployment = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "labels": { "app.kubernetes.io/name": "web", "tier": "frontend" },
                "annotations": {}
            },
            "spec": {
                "replicas": 3,
                "template": {
                    "spec": {
                        "containers": [{
                            "name": "web",
                            "image": "nginx:1.25",
                            "args": ["--port", "8080"],
                            "env": [{ "name": "DEBUG", "value": "false" }],
                            "ports": [{ "containerPort": 8080, "protocol": "TCP" }],
                            "resources": { "limits": { "cpu": "500m", "memory": "128Mi" } }
                        }],
                        "volumes": []
                    }
                }
            }
        });
        let expected = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  annotations: {}
  labels:
    app.kubernetes.io/name: web
    tier: frontend
  name: web
spec:
  replicas: 3
  template:
    spec:
      containers:
      - args:
        - \"--port\"
        - \"8080\"
        env:
        - name: DEBUG
          value: \"false\"
        image: \"nginx:1.25\"
        name: web
        ports:
        - containerPort: 8080
          protocol: TCP
        resources:
          limits:
            cpu: \"500m\"
            memory: \"128Mi\"
      volumes: []
";
        assert_eq!(to_yaml(&deployment), expected);
        assert_round_trips(&deployment);
    }

    #[test]
    fn configmap_with_script_layout_is_pinned() {
        let config_map = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": "scripts" },
            "data": { "run.sh": "#!/bin/sh\nset -eu\n\nexec app\n", "empty": "" }
        });
        let expected = "\
apiVersion: v1
data:
  empty: \"\"
  run.sh: |
    #!/bin/sh
    set -eu

    exec app
kind: ConfigMap
metadata:
  name: scripts
";
        assert_eq!(to_yaml(&config_map), expected);
        assert_round_trips(&config_map);
    }

    #[test]
    fn nested_collections_in_sequences_stay_compact() {
        let value = json!([[1, [2, 3]], { "a": { "b": 1 }, "c": [2] }, [{ "d": [] }]]);
        let expected = "\
- - 1
  - - 2
    - 3
- a:
    b: 1
  c:
  - 2
- - d: []
";
        assert_eq!(to_yaml(&value), expected);
        assert_round_trips(&value);
    }

    #[test]
    fn stream_starts_each_document_with_a_separator() {
        let values = [json!({ "a": 1 }), json!(["x"]), json!("s")];
        assert_eq!(to_yaml_stream(&values), "---\na: 1\n---\n- x\n---\ns\n");
        assert_eq!(to_yaml_stream(&[]), "");
        let mut out = String::from("# header\n");
        write_yaml(&mut out, &values[0]);
        assert_eq!(out, "# header\na: 1\n");
    }

    #[test]
    fn parses_multi_document_streams() {
        let text = "---\na: 1\n---\n- x\n- z\n---\n---\nb: yes\n---\n";
        assert_eq!(
            parse_yaml_stream(text).unwrap(),
            vec![json!({ "a": 1 }), json!(["x", "z"]), json!({ "b": true })]
        );
        assert_eq!(parse_yaml_stream("a: 1\n---\nb: 2\n").unwrap().len(), 2);
        assert_eq!(parse_yaml_stream("").unwrap(), Vec::<Value>::new());
        assert_eq!(parse_yaml_stream("---\n").unwrap(), Vec::<Value>::new());
    }

    #[test]
    fn parses_more_documents_than_the_default_budget_allows() {
        let values: Vec<Value> = (0..2000).map(|i| json!({ "n": i })).collect();
        assert_eq!(parse_yaml_stream(&to_yaml_stream(&values)).unwrap(), values);
    }

    #[test]
    fn parse_errors_name_the_position() {
        let err = parse_yaml_stream("a: 1\nb: [\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}
