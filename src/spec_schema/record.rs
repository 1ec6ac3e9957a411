//! Schema recording: while [`record`] runs a reader, every [`crate::decode::Fields`] call writes what it
//! asks for (the key, its type, whether it is required, its allowed values) into a JSON Schema. The
//! editor schema is therefore the readers' own account of the spec, not a second description of it.
//!
//! Readers only descend into tables that exist, so the recorder is driven with a sample that has every
//! table. Nested tables are linked to the key that holds them by node identity: a reader hands the node
//! it got from one `Fields` call to the next reader, which opens it, so the node's address tells which
//! place in the schema the new table fills, whatever path string the reader passes along.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{Value, json};

use crate::node::{Node, Value as NodeValue};

/// A place in the schema being recorded, as the keys from the root, e.g.
/// `["properties", "services", "additionalProperties"]`.
pub type Slot = Vec<String>;

struct Recorder {
    schema: Value,
    /// The slot of each sample node a reader was handed, by the node's address.
    slots: HashMap<*const Node, Slot>,
    /// Tables opened on nodes no `Fields` call handed out: the recorder cannot say where they belong.
    unplaced: Vec<String>,
}

thread_local! {
    static RECORDER: RefCell<Option<Recorder>> = const { RefCell::new(None) };
}

/// What a recording produced: the raw schema and the paths of tables it could not place.
pub struct Recording {
    pub schema: Value,
    pub unplaced: Vec<String>,
}

/// Runs `read` on `root` with recording on.
pub fn record(root: &Node, read: impl FnOnce()) -> Recording {
    /// Turns recording off even when `read` panics, so later reads on this thread are not recorded.
    struct Off;
    impl Drop for Off {
        fn drop(&mut self) {
            RECORDER.with(|r| r.borrow_mut().take());
        }
    }
    let recorder = Recorder {
        schema: json!({}),
        slots: HashMap::from([(std::ptr::from_ref(root), Slot::new())]),
        unplaced: Vec::new(),
    };
    RECORDER.with(|r| *r.borrow_mut() = Some(recorder));
    let _off = Off;
    read();
    let recorder = RECORDER
        .with(|r| r.borrow_mut().take())
        .expect("the recorder is active until `read` returns");
    Recording {
        schema: recorder.schema,
        unplaced: recorder.unplaced,
    }
}

fn with<R>(f: impl FnOnce(&mut Recorder) -> R) -> Option<R> {
    RECORDER.with(|r| r.borrow_mut().as_mut().map(f))
}

/// A table opened by `Fields::open`: its slot, when recording and the node was handed out by a reader.
pub fn open(node: &Node, path: &str) -> Option<Slot> {
    with(|rec| {
        let Some(slot) = rec.slots.get(&std::ptr::from_ref(node)).cloned() else {
            rec.unplaced.push(path.to_string());
            return None;
        };
        merge(
            at(&mut rec.schema, &slot),
            json!({ "type": "object", "properties": {} }),
        );
        Some(slot)
    })
    .flatten()
}

/// A key a reader asked for in the table at `table`, and its node in the sample when it is there.
pub fn property(table: &Slot, key: &str, schema: Value, node: Option<&Node>) {
    with(|rec| {
        let slot = child(table, &["properties", key]);
        merge(at(&mut rec.schema, &slot), schema);
        if let Some(node) = node {
            rec.place(node, slot);
        }
    });
}

/// A table of named entries (`Fields::named`): every entry has the schema `entry`.
pub fn entries(table: &Slot, key: &str, entry: Value, node: Option<&Node>) {
    let schema = json!({ "type": "object", "additionalProperties": entry });
    property(table, key, schema, None);
    with(|rec| {
        let Some(NodeValue::Table(named)) = node.map(|n| &n.value) else {
            return;
        };
        let slot = child(table, &["properties", key, "additionalProperties"]);
        for (_, value) in &named.entries {
            rec.place(value, slot.clone());
        }
    });
}

/// A key the table must have.
pub fn required(table: &Slot, key: &str) {
    with(|rec| {
        let object = at(&mut rec.schema, table);
        let list = object
            .as_object_mut()
            .expect("`at` returns objects")
            .entry("required")
            .or_insert_with(|| json!([]));
        if let Value::Array(keys) = list
            && !keys.iter().any(|k| k == key)
        {
            keys.push(json!(key));
        }
    });
}

/// `Fields::finish`: the table accepts no other keys.
pub fn close(table: &Slot) {
    with(|rec| {
        at(&mut rec.schema, table)["additionalProperties"] = json!(false);
    });
}

/// The schema of a node a reader decodes by hand rather than through `Fields`.
pub fn describe(node: &Node, schema: impl FnOnce() -> Value) {
    with(|rec| {
        if let Some(slot) = rec.slots.get(&std::ptr::from_ref(node)).cloned() {
            merge(at(&mut rec.schema, &slot), schema());
        }
    });
}

impl Recorder {
    /// Remembers where `node` belongs; the items of an array belong to the array's `items`.
    fn place(&mut self, node: &Node, slot: Slot) {
        if let NodeValue::Array(items) = &node.value {
            let items_slot = child(&slot, &["items"]);
            for item in items {
                self.place(item, items_slot.clone());
            }
        }
        self.slots.insert(std::ptr::from_ref(node), slot);
    }
}

fn child(slot: &Slot, keys: &[&str]) -> Slot {
    let mut out = slot.clone();
    out.extend(keys.iter().map(|k| (*k).to_string()));
    out
}

/// The schema at `slot`, made an object where it was not one yet.
fn at<'v>(schema: &'v mut Value, slot: &Slot) -> &'v mut Value {
    let mut value = schema;
    for key in slot {
        if !value.is_object() {
            *value = json!({});
        }
        value = value
            .as_object_mut()
            .expect("made an object above")
            .entry(key.clone())
            .or_insert_with(|| json!({}));
    }
    if !value.is_object() {
        *value = json!({});
    }
    value
}

/// Adds what `fragment` says to `target`. Where both say something, the first word stands: the reader
/// call that knows most comes first (`int` before the `node` that only checks presence).
pub(super) fn merge(target: &mut Value, fragment: Value) {
    match (target, fragment) {
        (Value::Object(target), Value::Object(fragment)) => {
            for (key, value) in fragment {
                match target.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        target.insert(key, value);
                    }
                }
            }
        }
        (target @ Value::Null, fragment) => *target = fragment,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_the_first_word_and_adds_the_rest() {
        let mut schema = json!({ "type": "integer", "minimum": 1 });
        merge(&mut schema, json!({ "type": "string", "description": "d" }));
        assert_eq!(
            schema,
            json!({ "type": "integer", "minimum": 1, "description": "d" })
        );
    }

    #[test]
    fn nothing_is_recorded_outside_a_recording() {
        let node = Node {
            value: NodeValue::Table(Default::default()),
            origin: crate::source::Origin::new(
                crate::source::Sources::default().add("x", String::new()),
                0..0,
            ),
            replaced: None,
        };
        assert!(open(&node, "x").is_none());
    }
}
