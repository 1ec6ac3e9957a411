//! Stage 2, merge: an environment overlay on top of the base spec.
//!
//! The rules (also in the README):
//! - tables merge deeply, key by key; named collections (`services`, `tenants`, …) are tables keyed by
//!   name, so they merge by name;
//! - arrays and plain values replace the base value;
//! - a table cannot become a plain value or the other way round;
//! - `[remove]` in an overlay deletes named entries: `remove.services = ["auth-service"]` removes the
//!   entry `auth-service` from the table `services` (a dotted key such as `"alerting.receivers"` names a
//!   nested table). Removal happens before the rest of the overlay is merged.
//!
//! Every replaced value remembers where the base value stood, so that diagnostics can show both.

use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::node::{Node, Table, Value};

/// The overlay key that lists entries to delete.
pub const REMOVE_KEY: &str = "remove";

/// Merges `overlay` into `base`. Both must be table nodes (as the loader produces).
pub fn apply_overlay(base: &mut Node, overlay: Node, diags: &mut Diagnostics) {
    let Value::Table(mut overlay_table) = overlay.value else {
        return;
    };
    if let Some(index) = overlay_table.position(REMOVE_KEY) {
        let (_, removals) = overlay_table.entries.remove(index);
        apply_removals(base, &removals, diags);
    }
    let overlay = Node {
        value: Value::Table(overlay_table),
        ..overlay
    };
    merge_node(base, overlay, "", diags);
}

fn merge_node(base: &mut Node, overlay: Node, path: &str, diags: &mut Diagnostics) {
    match (&mut base.value, overlay.value) {
        (Value::Table(base_table), Value::Table(overlay_table)) => {
            merge_tables(base_table, overlay_table, path, diags);
        }
        (base_value, overlay_value)
            if matches!(base_value, Value::Table(_))
                != matches!(overlay_value, Value::Table(_)) =>
        {
            diags.push(
                Diagnostic::error(
                    "P0105",
                    format!(
                        "the overlay sets `{path}` to {}, but the base spec has {} there",
                        overlay_value.type_name(),
                        base_value.type_name()
                    ),
                )
                .at(overlay.origin, "set here")
                .also(base.origin, "the base value")
                .help("an overlay can change values inside a table, but not replace a table by a value"),
            );
        }
        (_, overlay_value) => {
            let replaced = Some(base.origin);
            *base = Node {
                value: overlay_value,
                origin: overlay.origin,
                replaced,
            };
        }
    }
}

fn merge_tables(base: &mut Table, overlay: Table, path: &str, diags: &mut Diagnostics) {
    for (key, node) in overlay.entries {
        let child_path = join(path, &key.name);
        match base.position(&key.name) {
            Some(i) => merge_node(&mut base.entries[i].1, node, &child_path, diags),
            None => base.entries.push((key, node)),
        }
    }
}

fn apply_removals(base: &mut Node, removals: &Node, diags: &mut Diagnostics) {
    let Value::Table(removals) = &removals.value else {
        diags.push(
            Diagnostic::error("P0102", format!("`{REMOVE_KEY}` must be a table"))
                .at(
                    removals.origin,
                    format!("this is {}", removals.value.type_name()),
                )
                .help("write `[remove]` with keys such as `services = [\"name\"]`"),
        );
        return;
    };
    remove_under(base, "", removals, diags);
}

/// Removals of one level: an array names entries of the table at `prefix.key`; a table
/// (`[remove] fleets.web.instances = [...]`) goes one level down.
fn remove_under(base: &mut Node, prefix: &str, removals: &Table, diags: &mut Diagnostics) {
    for (key, names) in &removals.entries {
        let path = if prefix.is_empty() {
            key.name.clone()
        } else {
            format!("{prefix}.{}", key.name)
        };
        if let Value::Table(nested) = &names.value {
            remove_under(base, &path, nested, diags);
            continue;
        }
        let Some(target) = find_table_mut(base, &path) else {
            diags.push(
                Diagnostic::error(
                    "P0106",
                    format!("`remove.{path}`: the base spec has no table `{path}`"),
                )
                .at(key.origin, "no such table"),
            );
            continue;
        };
        let Value::Array(names) = &names.value else {
            diags.push(
                Diagnostic::error(
                    "P0102",
                    format!("`remove.{path}` must be an array of names"),
                )
                .at(names.origin, format!("this is {}", names.value.type_name())),
            );
            continue;
        };
        for name in names {
            remove_entry(target, &path, name, diags);
        }
    }
}

fn remove_entry(table: &mut Table, table_path: &str, name: &Node, diags: &mut Diagnostics) {
    let Value::String(entry) = &name.value else {
        diags.push(
            Diagnostic::error("P0102", "an entry to remove must be named by a string")
                .at(name.origin, format!("this is {}", name.value.type_name())),
        );
        return;
    };
    match table.position(entry) {
        Some(i) => {
            table.entries.remove(i);
        }
        None => {
            let mut d = Diagnostic::error(
                "P0106",
                format!("cannot remove `{entry}`: `{table_path}` has no such entry"),
            )
            .at(name.origin, "not in the base spec");
            if let Some(close) = did_you_mean(entry, table.keys()) {
                d = d.help(format!("did you mean `{close}`?"));
            }
            diags.push(d);
        }
    }
}

fn find_table_mut<'a>(node: &'a mut Node, dotted: &str) -> Option<&'a mut Table> {
    let mut current = node;
    for part in dotted.split('.') {
        let Value::Table(table) = &mut current.value else {
            return None;
        };
        let i = table.position(part)?;
        current = &mut table.entries[i].1;
    }
    match &mut current.value {
        Value::Table(table) => Some(table),
        _ => None,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}
