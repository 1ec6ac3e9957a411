//! Kubernetes resource quantities ("500m", "2Gi", 1): parsed so that requests and limits can be compared.

use crate::decode::{Decode, invalid_value, type_error};
use crate::diag::Diagnostics;
use crate::node::{Node, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantityKind {
    Cpu,
    Memory,
}

/// A quantity as written (the text goes to the manifest) and its value in base units.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantity {
    pub text: String,
    pub value: f64,
}

impl Quantity {
    /// Parses the Kubernetes quantity syntax: a decimal number with an optional binary (Ki … Ei) or
    /// decimal (m, k, M … E) suffix, or an exponent.
    pub fn parse(text: &str) -> Option<Quantity> {
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
            .unwrap_or(text.len());
        let (number, suffix) = text.split_at(split);
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return None;
        }
        let number: f64 = number.parse().ok()?;
        let factor = match suffix {
            "" => 1.0,
            "m" => 1e-3,
            "k" => 1e3,
            "M" => 1e6,
            "G" => 1e9,
            "T" => 1e12,
            "P" => 1e15,
            "E" => 1e18,
            "Ki" => 1024f64,
            "Mi" => 1024f64.powi(2),
            "Gi" => 1024f64.powi(3),
            "Ti" => 1024f64.powi(4),
            "Pi" => 1024f64.powi(5),
            "Ei" => 1024f64.powi(6),
            exponent => {
                let e: i32 = exponent.strip_prefix(['e', 'E'])?.parse().ok()?;
                10f64.powi(e)
            }
        };
        (number >= 0.0).then(|| Quantity {
            text: text.to_string(),
            value: number * factor,
        })
    }
}

/// What [`Quantity::parse`] accepts, as a JSON Schema pattern for editors (apart from `-0`, which
/// nobody writes); a test below holds the two together.
pub const PATTERN: &str =
    r"^\+?[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+)?$";

impl Decode for Quantity {
    const EXPECTED: &'static str = "a quantity such as \"500m\", \"2Gi\" or 1";
    fn schema() -> serde_json::Value {
        serde_json::json!({
            "type": ["string", "number"],
            "pattern": PATTERN,
            "minimum": 0,
            "description": Self::EXPECTED,
        })
    }
    fn decode(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Self> {
        let text = match &node.value {
            Value::String(s) => s.clone(),
            Value::Integer(i) => i.to_string(),
            Value::Float(f) if f.is_finite() => f.to_string(),
            _ => {
                diags.push(type_error(node, path, Self::EXPECTED));
                return None;
            }
        };
        let parsed = Quantity::parse(&text);
        if parsed.is_none() {
            diags.push(invalid_value(
                node,
                path,
                &format!("`{text}` is not a Kubernetes quantity"),
                "write a number with an optional suffix: m (milli), Ki, Mi, Gi, Ti, k, M, G, T",
            ));
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_and_memory() {
        assert_eq!(Quantity::parse("500m").unwrap().value, 0.5);
        assert_eq!(Quantity::parse("2").unwrap().value, 2.0);
        assert_eq!(Quantity::parse("2Gi").unwrap().value, 2.0 * 1024f64.powi(3));
        assert_eq!(Quantity::parse("1e3").unwrap().value, 1000.0);
        assert_eq!(Quantity::parse("1.5G").unwrap().value, 1.5e9);
    }

    #[test]
    fn the_schema_pattern_accepts_what_parse_accepts() {
        let pattern = regex::Regex::new(PATTERN).unwrap();
        for text in [
            "500m", "2", "2Gi", "1e3", "1E-3", "1.5G", "+1", "0.25", "10Ki", "3Ei", "", "Gi",
            "2GB", "-1", "1.", ".5", "2 Gi", "abc", "1.2.3", "1e", "2gi", "1-2",
        ] {
            assert_eq!(
                pattern.is_match(text),
                Quantity::parse(text).is_some(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "Gi", "2GB", "-1", "1.", ".5", "2 Gi", "abc"] {
            assert!(Quantity::parse(bad).is_none(), "{bad} should not parse");
        }
    }
}
