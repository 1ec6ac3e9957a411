//! The bottom toolkit: labels, JSON object builders and the hardened security contexts. It imports
//! nothing of plat, so every stage above may use it.

pub mod labels;
pub mod placeholder;
pub mod security;

use serde_json::{Map, Value};

pub use labels::{Labels, version_of};

/// A JSON object from pairs, moving the values in (`json!` would copy interpolated values through serde).
pub fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// Builds a JSON object from pairs, skipping `None` values: keeps optional fields out of manifests.
pub fn obj(pairs: impl IntoIterator<Item = (&'static str, Option<Value>)>) -> Value {
    let map: Map<String, Value> = pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect();
    Value::Object(map)
}

/// A JSON object of string pairs, in the order given.
pub fn string_map<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect(),
    )
}

/// A short stable hash (FNV-1a, 64 bit) for checksum annotations; not for security.
pub fn fnv1a_hex(items: &[(String, String)]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in items {
        for byte in k.bytes().chain([0]).chain(v.bytes()).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}
