//! Machine-readable findings: JSON for tools and GitHub Actions workflow commands, which GitHub shows
//! as annotations on the pull request's lines.

use serde_json::{Value, json};

use crate::diag::{Diagnostic, Label, Severity};
use crate::excerpt::printable;
use crate::source::Sources;

/// `file`, one-based `line` and `column`, and the end, of a label.
fn position(sources: &Sources, label: &Label) -> Value {
    let file = sources.get(label.origin.file);
    let (line, column) = file.line_col(label.origin.start as usize);
    let (end_line, end_column) = file.line_col(label.origin.end as usize);
    json!({
        "file": file.name,
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
        "label": label.text,
    })
}

pub fn diagnostic_json(sources: &Sources, d: &Diagnostic) -> Value {
    json!({
        "code": d.code,
        "severity": d.severity.as_str(),
        "message": d.message,
        "location": d.primary.as_ref().map(|l| position(sources, l)),
        "related": d.secondary.iter().map(|l| position(sources, l)).collect::<Vec<_>>(),
        "help": d.help,
        "notes": d.notes,
    })
}

/// A JSON document as text in which no control character is raw: serde_json escapes C0 controls but
/// writes DEL and the C1 controls as they are, which a terminal may act on. They occur only inside
/// strings, where `\u` escapes mean the same.
pub fn json_text(value: &Value) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    if !text.chars().any(|c| c.is_control() && c > '\u{1f}') {
        return text;
    }
    text.chars()
        .map(|c| match c {
            '\u{7f}'..='\u{9f}' => format!("\\u{:04x}", c as u32),
            _ => c.to_string(),
        })
        .collect()
}

pub fn json_report(sources: &Sources, diagnostics: &[Diagnostic]) -> Value {
    let count = |s: Severity| diagnostics.iter().filter(|d| d.severity == s).count();
    json!({
        "diagnostics": diagnostics.iter().map(|d| diagnostic_json(sources, d)).collect::<Vec<_>>(),
        "summary": {
            "errors": count(Severity::Error),
            "warnings": count(Severity::Warning),
            "waived": count(Severity::Waived),
        },
    })
}

/// Escapes a workflow command's message (GitHub's rules: `%`, CR and LF).
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value (also `:` and `,`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// One `::error file=…,line=…,col=…::message` line per finding. File names are relative to the spec's
/// folder; `root` makes them relative to where plat runs, which is what GitHub expects.
pub fn github(sources: &Sources, diagnostics: &[Diagnostic], root: &std::path::Path) -> String {
    diagnostics
        .iter()
        .map(|d| github_line(sources, d, root))
        .collect()
}

fn github_line(sources: &Sources, d: &Diagnostic, root: &std::path::Path) -> String {
    let command = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Waived => "notice",
    };
    let mut properties = vec![format!(
        "title={}",
        escape_property(&format!("plat {}", d.code))
    )];
    if let Some(label) = &d.primary {
        let file = sources.get(label.origin.file);
        let (line, col) = file.line_col(label.origin.start as usize);
        let (end_line, end_col) = file.line_col(label.origin.end as usize);
        let path = if root == std::path::Path::new(".") {
            file.name.clone()
        } else {
            root.join(&file.name).display().to_string()
        };
        properties.insert(0, format!("file={}", escape_property(&printable(&path))));
        properties.insert(
            1,
            format!("line={line},col={col},endLine={end_line},endColumn={end_col}"),
        );
    }
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    for note in &d.notes {
        message.push_str("\nnote: ");
        message.push_str(note);
    }
    format!(
        "::{command} {}::{}\n",
        properties.join(","),
        escape_data(&printable(&message))
    )
}

/// A stale generated file as an annotation on that file.
pub fn github_stale(path: &str, what: &str) -> String {
    format!(
        "::error file={},title={}::{}\n",
        escape_property(path),
        escape_property("plat: generated/ is stale"),
        escape_data(&format!(
            "{path} {what}; run `plat render` and commit generated/"
        ))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_text_escapes_del_and_c1_controls() {
        let text = json_text(&json!({ "m": "a\u{7f}b\u{9b}c\u{1b}" }));
        assert!(text.contains(r"a\u007fb\u009bc\u001b"), "{text}");
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'));
    }

    #[test]
    fn escapes_workflow_commands() {
        assert_eq!(escape_data("50%\nnext"), "50%25%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
