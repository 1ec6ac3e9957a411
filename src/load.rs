//! Stage 1, load: file bytes to a located [`Node`] tree. Syntax errors are all reported, with recovery.

use toml::de::{DeTable, DeValue};

use crate::diag::{Diagnostic, Diagnostics};
use crate::node::{Key, Node, Table, Value};
use crate::source::{FileId, Origin, Sources};

/// Deeper nesting than this is no spec anyone writes; refusing it keeps the recursive stages safe.
pub const MAX_DEPTH: usize = 48;
/// Larger files are refused before parsing (a 10,000-tenant spec is about 1 MiB).
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

/// Decodes the bytes of a file as UTF-8 text, reporting the first invalid byte.
pub fn decode_text(
    name: &str,
    bytes: Vec<u8>,
    sources: &mut Sources,
    diags: &mut Diagnostics,
) -> Option<FileId> {
    if bytes.len() > MAX_FILE_BYTES {
        let file = sources.add(name, String::new());
        diags.push(
            Diagnostic::error(
                "P0003",
                format!("`{name}` is too large ({} bytes)", bytes.len()),
            )
            .at(Origin::new(file, 0..0), "this file")
            .help(format!(
                "a spec file may have at most {MAX_FILE_BYTES} bytes"
            )),
        );
        return None;
    }
    match String::from_utf8(bytes) {
        Ok(text) => Some(sources.add(name, text)),
        Err(err) => {
            let valid = err.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(err.as_bytes()).into_owned();
            let file = sources.add(name, text);
            let at = Origin::new(file, valid..valid + 1);
            diags.push(
                Diagnostic::error("P0002", format!("`{name}` is not valid UTF-8"))
                    .at(at, format!("invalid byte at offset {valid}"))
                    .help("TOML files must be UTF-8; re-save the file as UTF-8"),
            );
            None
        }
    }
}

/// Parses one TOML file into a table node.
pub fn parse(file: FileId, sources: &Sources, diags: &mut Diagnostics) -> Option<Node> {
    let text = &sources.get(file).text;
    if let Some(offset) = too_deep(text) {
        diags.push(
            Diagnostic::error("P0004", "the file nests tables or arrays too deeply")
                .at(
                    Origin::new(file, offset..offset + 1),
                    "nesting exceeds the limit here",
                )
                .help(format!(
                    "plat accepts at most {MAX_DEPTH} levels of nesting"
                )),
        );
        return None;
    }
    let (table, errors) = DeTable::parse_recoverable(text);
    let failed = !errors.is_empty();
    for error in errors {
        let span = error.span().unwrap_or(0..0);
        let message = error.message().trim().to_string();
        diags.push(
            Diagnostic::error("P0001", format!("TOML syntax error: {message}"))
                .at(Origin::new(file, span), message)
                .help("see https://toml.io/en/v1.0.0 for the TOML syntax"),
        );
    }
    if failed {
        return None;
    }
    let span = table.span();
    let root = convert_table(file, table.into_inner());
    Some(Node {
        value: Value::Table(root),
        origin: Origin::new(file, span),
        replaced: None,
    })
}

fn convert_table(file: FileId, table: DeTable<'_>) -> Table {
    let entries = table
        .into_iter()
        .map(|(key, value)| {
            let key = Key {
                name: key.get_ref().to_string(),
                origin: Origin::new(file, key.span()),
            };
            (key, convert(file, value))
        })
        .collect();
    Table { entries }
}

fn convert(file: FileId, value: toml::Spanned<DeValue<'_>>) -> Node {
    let origin = Origin::new(file, value.span());
    let value = match value.into_inner() {
        DeValue::String(s) => Value::String(s.into_owned()),
        DeValue::Integer(i) => integer(i.as_str(), i.radix()),
        DeValue::Float(f) => float(f.as_str()),
        DeValue::Boolean(b) => Value::Bool(b),
        DeValue::Datetime(d) => Value::Datetime(d.to_string()),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .cloned()
                .map(|item| convert(file, item))
                .collect(),
        ),
        DeValue::Table(table) => Value::Table(convert_table(file, table)),
    };
    Node {
        value,
        origin,
        replaced: None,
    }
}

fn integer(digits: &str, radix: u32) -> Value {
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let (negative, body) = match clean.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, clean.trim_start_matches('+')),
    };
    let body = body
        .trim_start_matches("0x")
        .trim_start_matches("0o")
        .trim_start_matches("0b");
    match i64::from_str_radix(body, radix) {
        Ok(v) if negative => Value::Integer(-v),
        Ok(v) => Value::Integer(v),
        // Out of range for i64: keep it as a float so that range checks still report it.
        Err(_) => Value::Float(clean.parse().unwrap_or(f64::INFINITY)),
    }
}

fn float(text: &str) -> Value {
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let value = match clean.trim_start_matches('+') {
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        "nan" | "-nan" => f64::NAN,
        other => other.parse().unwrap_or(f64::NAN),
    };
    Value::Float(value)
}

/// Finds the first offset where brackets nest deeper than [`MAX_DEPTH`], skipping strings and comments.
/// Dotted keys nest tables too (`a.b.c = 1` is three levels deep, and so is `"a"."b"."c" = 1`): the
/// dots of the key being read are counted in one pass, so that a long line costs no more than a short one.
fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    // Dots of the key being read, or `None` after its `=` (a value: `1.5` is no nesting).
    let mut key_dots = Some(0usize);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => i = skip_to_eol(bytes, i),
            b'"' | b'\'' => i = skip_string(bytes, i),
            b'\n' => key_dots = Some(0),
            b'=' => key_dots = None,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
                key_dots = Some(0);
            }
            b',' => key_dots = Some(0),
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'.' => {
                if let Some(dots) = key_dots.as_mut() {
                    *dots += 1;
                    if depth + *dots + 1 > MAX_DEPTH {
                        return Some(i);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn skip_to_eol(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| start + p - 1)
}

fn skip_string(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let triple = bytes.get(start..start + 3) == Some(&[quote, quote, quote][..]);
    let mut i = start + if triple { 3 } else { 1 };
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' && quote == b'"' {
            i += 2;
            continue;
        }
        if b == b'\n' && !triple {
            return i - 1;
        }
        if b == quote && (!triple || bytes.get(i..i + 3) == Some(&[quote, quote, quote][..])) {
            return if triple { i + 2 } else { i };
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dotted(quoted: bool, n: usize) -> String {
        let keys: Vec<String> = (0..n)
            .map(|i| {
                if quoted {
                    format!("\"k{i}\"")
                } else {
                    format!("k{i}")
                }
            })
            .collect();
        format!("[config]\n{} = 1\n", keys.join("."))
    }

    #[test]
    fn dotted_keys_count_as_nesting_quoted_or_not() {
        assert_eq!(too_deep(&dotted(false, MAX_DEPTH - 1)), None);
        assert_eq!(too_deep(&dotted(true, MAX_DEPTH - 1)), None);
        assert!(too_deep(&dotted(false, MAX_DEPTH + 1)).is_some());
        assert!(too_deep(&dotted(true, MAX_DEPTH + 1)).is_some());
        let inline = format!(
            "x = {{ {} = 1 }}\n",
            (0..MAX_DEPTH)
                .map(|i| format!("'k{i}'"))
                .collect::<Vec<_>>()
                .join(".")
        );
        assert!(too_deep(&inline).is_some());
    }

    #[test]
    fn dots_in_values_are_not_nesting() {
        let floats = format!("x = [{}]\n", vec!["1.5"; 10_000].join(", "));
        assert_eq!(too_deep(&floats), None);
        assert_eq!(too_deep("a = 1.5\nb = \"a.b.c.d\"\n"), None);
    }
}
