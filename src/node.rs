//! The spec as a tree of located values: what the loader produces, the merger combines and the decoder
//! reads. Every node remembers the file and span that set it, and the base value an overlay replaced.

use crate::source::Origin;

#[derive(Clone, Debug)]
pub struct Node {
    pub value: Value,
    pub origin: Origin,
    /// Where the value stood before an overlay replaced it.
    pub replaced: Option<Origin>,
}

#[derive(Clone, Debug)]
pub enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
    Datetime(String),
    Array(Vec<Node>),
    Table(Table),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// A key with the place it was written.
#[derive(Clone, Debug)]
pub struct Key {
    pub name: String,
    pub origin: Origin,
}

/// A table keeps its entries in source order; lookups are linear because tables in a spec are small,
/// except named collections, which the decoder walks in order anyway.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub entries: Vec<(Key, Node)>,
}

impl Table {
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| v)
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k.name == name)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.name.as_str())
    }
}
