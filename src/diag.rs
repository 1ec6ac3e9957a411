//! Diagnostics: every problem plat finds carries a stable code, a message, the location of the value that
//! caused it (with secondary locations, possibly in other files), and help. They accumulate in a
//! [`Diagnostics`] sink so that one run reports every error at once.

use std::fmt;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};

use crate::excerpt::{Excerpt, printable};
use crate::source::{FileId, Origin, Sources};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// A finding the spec waives at this place, with a reason; shown, never failing.
    Waived,
    Warning,
    Error,
}

/// A located message attached to a diagnostic.
#[derive(Clone, Debug)]
pub struct Label {
    pub origin: Origin,
    pub text: String,
}

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub primary: Option<Label>,
    pub secondary: Vec<Label>,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, origin: Origin, text: impl Into<String>) -> Self {
        self.primary = Some(Label {
            origin,
            text: text.into(),
        });
        self
    }

    pub fn also(mut self, origin: Origin, text: impl Into<String>) -> Self {
        self.secondary.push(Label {
            origin,
            text: text.into(),
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Marks the finding as waived by the spec, keeping the reason for the output.
    pub fn waive(&mut self, reason: &str) {
        self.severity = Severity::Waived;
        self.notes.push(format!("waived: {reason}"));
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// The sink that every stage reports into.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Drops the findings after the first `len`.
    pub fn truncate(&mut self, len: usize) {
        self.items.truncate(len);
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Diagnostic> {
        self.items.iter_mut()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// Sorted by file and position so that output is stable whatever order the stages found them in.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by_key(|d| {
            let at = d.primary.as_ref().map(|l| (l.origin.file, l.origin.start));
            (at.is_none(), at, d.code)
        });
        self.items
    }
}

/// Renders diagnostics as people read them: code, message, the source line with the value underlined,
/// secondary labels, help and notes. No colour, so that the text is the same everywhere.
pub fn render_human(sources: &Sources, diagnostics: &[Diagnostic]) -> String {
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    for diagnostic in diagnostics {
        if diagnostic.severity == Severity::Waived {
            out.push_str(&render_short(sources, diagnostic));
            continue;
        }
        let view = View::of(sources, diagnostic);
        if handler.render_report(&mut out, &view).is_err() {
            out.push_str(&render_short(sources, diagnostic));
        }
        out.push('\n');
    }
    // Messages quote keys and values as the user wrote them; none of their control bytes reach a terminal.
    printable(&out).into_owned()
}

/// One line per diagnostic: `file:line:col: error[CODE]: message`.
pub fn render_short(sources: &Sources, diagnostic: &Diagnostic) -> String {
    let level = diagnostic.severity.as_str();
    let location = diagnostic
        .primary
        .as_ref()
        .map(|l| format!("{}: ", sources.locate(l.origin)))
        .unwrap_or_default();
    let notes: String = diagnostic.notes.iter().map(|n| format!(" ({n})")).collect();
    let line = format!(
        "{location}{level}[{}]: {}{notes}",
        diagnostic.code, diagnostic.message
    );
    format!("{}\n", printable(&line))
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Waived => "waived",
        }
    }
}

/// Adapts one diagnostic to miette. Labels in the primary file are drawn together; a label in another file
/// (a base value that an overlay replaced) becomes a related report with its own source.
struct View {
    message: String,
    code: &'static str,
    severity: Severity,
    help: Option<String>,
    source: Option<Shown>,
    labels: Vec<LabeledSpan>,
    related: Vec<View>,
}

impl View {
    fn of(sources: &Sources, diagnostic: &Diagnostic) -> Self {
        let level = diagnostic.severity.as_str();
        // The code goes in the headline, as compilers print it, rather than on a line of its own.
        let mut message = format!("{level}[{}]: {}", diagnostic.code, diagnostic.message);
        for note in &diagnostic.notes {
            message.push_str("\n  note: ");
            message.push_str(note);
        }
        let mut view = View {
            message,
            code: diagnostic.code,
            severity: diagnostic.severity,
            help: diagnostic.help.clone(),
            source: None,
            labels: Vec::new(),
            related: Vec::new(),
        };
        let Some(primary) = &diagnostic.primary else {
            return view;
        };
        let file = primary.origin.file;
        let same_file = diagnostic
            .secondary
            .iter()
            .filter(|l| l.origin.file == file)
            .map(|l| l.origin);
        let excerpt = excerpt_of(
            sources,
            file,
            std::iter::once(primary.origin).chain(same_file),
        );
        view.labels.push(LabeledSpan::new_primary_with_span(
            Some(primary.text.clone()),
            span_of(&excerpt, primary.origin),
        ));
        for label in &diagnostic.secondary {
            if label.origin.file == file {
                view.labels.push(LabeledSpan::new_with_span(
                    Some(label.text.clone()),
                    span_of(&excerpt, label.origin),
                ));
            } else {
                view.related.push(View::secondary(sources, label));
            }
        }
        view.source = Some(Shown::new(sources, file, excerpt, primary.origin));
        view
    }

    fn secondary(sources: &Sources, label: &Label) -> Self {
        let excerpt = excerpt_of(sources, label.origin.file, std::iter::once(label.origin));
        let span = span_of(&excerpt, label.origin);
        View {
            message: label.text.clone(),
            code: "",
            severity: Severity::Warning,
            help: None,
            source: Some(Shown::new(
                sources,
                label.origin.file,
                excerpt,
                label.origin,
            )),
            labels: vec![LabeledSpan::new_primary_with_span(
                Some(label.text.clone()),
                span,
            )],
            related: Vec::new(),
        }
    }
}

/// What of a file the snippet shows: long lines cut around the labels, control characters visible.
fn excerpt_of(sources: &Sources, file: FileId, origins: impl Iterator<Item = Origin>) -> Excerpt {
    let offsets: Vec<usize> = origins
        .flat_map(|o| [o.start as usize, o.end as usize])
        .collect();
    Excerpt::new(&sources.get(file).text, &offsets)
}

/// The excerpt miette draws, which names the primary label's place as it is in the file: a cut line
/// keeps its line numbers but not its columns, so the headline's column comes from the file.
struct Shown {
    name: String,
    text: String,
    primary: SourceSpan,
    /// Zero-based line and column of the primary label in the file.
    primary_at: (usize, usize),
}

impl Shown {
    fn new(sources: &Sources, file: FileId, excerpt: Excerpt, primary: Origin) -> Shown {
        let source = sources.get(file);
        let (line, column) = source.line_col(primary.start as usize);
        Shown {
            name: source.name.clone(),
            primary: span_of(&excerpt, primary),
            text: excerpt.text,
            primary_at: (line - 1, column - 1),
        }
    }
}

impl SourceCode for Shown {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let contents = self.text.read_span(span, before, after)?;
        let (line, column) = if (before, after) == (0, 0) && *span == self.primary {
            self.primary_at
        } else {
            (contents.line(), contents.column())
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            contents.data(),
            *contents.span(),
            line,
            column,
            contents.line_count(),
        )))
    }
}

fn span_of(excerpt: &Excerpt, origin: Origin) -> SourceSpan {
    let start = excerpt.map(origin.start as usize);
    let end = excerpt.map(origin.end as usize).max(start);
    SourceSpan::new(start.into(), end - start)
}

impl fmt::Debug for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for View {}

impl miette::Diagnostic for View {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error if !self.code.is_empty() => miette::Severity::Error,
            Severity::Error => miette::Severity::Advice,
            Severity::Warning if self.code.is_empty() => miette::Severity::Advice,
            Severity::Warning => miette::Severity::Warning,
            Severity::Waived => miette::Severity::Advice,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        (!self.labels.is_empty()).then(|| Box::new(self.labels.iter().cloned()) as Box<_>)
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        (!self.related.is_empty())
            .then(|| Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic)) as Box<_>)
    }
}

/// Finds the closest candidate to a misspelt name, for did-you-mean help.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}
