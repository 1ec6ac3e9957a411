//! `[[waivers]]`: a check switched off at one place of the spec, with a reason. A waived finding is
//! still shown (as `waived[CODE]`, with the reason) but does not fail the run; a waiver that matches
//! nothing is reported so that stale waivers do not pile up.

use crate::diag::{Diagnostic, Diagnostics, Severity, did_you_mean};
use crate::node::{Node, Value};
use crate::source::Origin;
use crate::spec::Waiver;

/// Where each waiver applies, and which of the base's waivers an overlay replaced, taken from the
/// merged tree once: the tree can then be dropped before lowering (a large fleet's tree is megabytes).
pub struct Scope {
    spans: Vec<Option<Span>>,
    /// The overlay's `[[waivers]]`, and the base's waivers it dropped with their spans.
    replaced: Option<(Origin, Vec<(Waiver, Span)>)>,
}

/// A key path's node and everything inside it.
type Span = (Origin, Vec<Origin>);

impl Scope {
    pub fn of(base: &Node, root: &Node, waivers: &[Waiver]) -> Scope {
        Scope {
            spans: waivers.iter().map(|w| span_of(root, &w.at)).collect(),
            replaced: replaced(base, root, waivers),
        }
    }
}

/// Waives the findings each waiver names (same check, located inside the entry at its path) and
/// marks in `used` the waivers that matched something.
pub fn apply(waivers: &[Waiver], scope: &Scope, diags: &mut Diagnostics, used: &mut [bool]) {
    for (i, waiver) in waivers.iter().enumerate() {
        let Some(span) = &scope.spans[i] else {
            continue;
        };
        for d in diags.iter_mut() {
            let inside = d.primary.as_ref().is_some_and(|l| within(l.origin, span));
            if d.code == waiver.check.as_str() && d.severity != Severity::Waived && inside {
                d.waive(&waiver.reason);
                used[i] = true;
            }
        }
    }
}

/// Waives findings located in a file the spec does not hold, such as an extra object's template:
/// a waiver whose `at` is that file's path (`manifests/quota.yaml`).
pub fn apply_to_files(
    waivers: &[Waiver],
    sources: &crate::source::Sources,
    diags: &mut Diagnostics,
    used: &mut [bool],
) {
    for (i, waiver) in waivers.iter().enumerate() {
        for d in diags.iter_mut() {
            let in_file = d
                .primary
                .as_ref()
                .is_some_and(|l| sources.file_name(l.origin.file) == waiver.at.as_str());
            if d.code == waiver.check.as_str() && d.severity != Severity::Waived && in_file {
                d.waive(&waiver.reason);
                used[i] = true;
            }
        }
    }
}

/// Reports waivers that name an unknown check, or matched nothing.
pub fn report_unused(waivers: &[Waiver], used: &[bool], diags: &mut Diagnostics) {
    for (i, waiver) in waivers.iter().enumerate() {
        if crate::checks::find(&waiver.check).is_none() {
            let mut d = Diagnostic::error(
                "P0601",
                format!("waiver for unknown check `{}`", waiver.check.value),
            );
            if let Some(close) =
                did_you_mean(&waiver.check, crate::checks::CHECKS.iter().map(|c| c.code))
            {
                d = d.help(format!("did you mean `{close}`?"));
            }
            diags.push(waiver.check.diagnostic(d, "no such check"));
        } else if !used[i] {
            diags.push(waiver.at.diagnostic(
                Diagnostic::warning("P0602", format!("waiver of {} at `{}` matches no finding", waiver.check.value, waiver.at.value))
                    .help("remove the waiver, or check its `at` path (a key path such as `logging` or `services.api-gateway`)"),
                "nothing to waive here",
            ));
        }
    }
}

/// The span a key path covers: the node's own span, widened to its children's.
fn span_of(root: &Node, path: &str) -> Option<Span> {
    let mut node = root;
    for part in path.split('.') {
        let Value::Table(table) = &node.value else {
            return None;
        };
        node = table.get(part)?;
    }
    let mut origins = Vec::new();
    collect(node, &mut origins);
    Some((node.origin, origins))
}

fn collect(node: &Node, out: &mut Vec<Origin>) {
    out.push(node.origin);
    match &node.value {
        Value::Table(t) => t.entries.iter().for_each(|(k, v)| {
            out.push(k.origin);
            collect(v, out);
        }),
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        _ => {}
    }
}

fn within(origin: Origin, (own, parts): &Span) -> bool {
    let inside = |o: &Origin| {
        o.file == origin.file && o.start <= origin.start && origin.start <= o.end.max(o.start)
    };
    inside(own) || parts.iter().any(inside)
}

/// The base's waivers that an overlay's `[[waivers]]` replaced (an overlay's array replaces the base's):
/// a finding one of them would have waived gets a label at the overlay's array, which is where it stopped
/// being waived, and a note on how to keep it.
pub fn explain_replaced(scope: &Scope, diags: &mut Diagnostics) {
    let Some((overlay, dropped)) = &scope.replaced else {
        return;
    };
    for (waiver, span) in dropped {
        for d in diags.iter_mut() {
            let inside = d.primary.as_ref().is_some_and(|l| within(l.origin, span));
            let told = d.secondary.iter().any(|l| l.origin == *overlay);
            if d.code != waiver.check.as_str() || d.severity == Severity::Waived || !inside || told
            {
                continue;
            }
            d.secondary.push(crate::diag::Label {
                origin: *overlay,
                text: format!(
                    "this overlay's `[[waivers]]` replaces the base's, which waived {} at `{}`",
                    waiver.check.value, waiver.at.value
                ),
            });
            d.notes.push(
                "an overlay's array replaces the base's: repeat the base's waiver in the overlay's `[[waivers]]` to keep it"
                    .to_string(),
            );
        }
    }
}

/// The base's waivers that the overlay's `[[waivers]]` replaced, if it did.
fn replaced(base: &Node, root: &Node, current: &[Waiver]) -> Option<(Origin, Vec<(Waiver, Span)>)> {
    let (base_node, merged) = (table_entry(base, KEY)?, table_entry(root, KEY)?);
    merged.replaced?;
    let mut quiet = Diagnostics::default();
    let base_waivers: Vec<crate::decode::Located<Waiver>> =
        crate::decode::Decode::decode(base_node, KEY, &mut quiet).unwrap_or_default();
    let dropped = base_waivers
        .into_iter()
        .map(|w| w.value)
        .filter(|w| {
            !current
                .iter()
                .any(|c| c.check.value == w.check.value && c.at.value == w.at.value)
        })
        .filter_map(|w| {
            let span = span_of(root, &w.at)?;
            Some((w, span))
        })
        .collect();
    Some((merged.origin, dropped))
}

const KEY: &str = "waivers";

fn table_entry<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    match &node.value {
        Value::Table(table) => table.get(key),
        _ => None,
    }
}
