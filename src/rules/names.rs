//! Kubernetes names (apimachinery's validation): DNS-1123 labels and subdomains, DNS-1035 labels,
//! label keys and values, and the size of annotations.

use super::{Broken, Rule};

pub const DNS1123_LABEL: &str = "a DNS-1123 label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit";
pub const DNS1035_LABEL: &str = "a DNS-1035 label (Service names): at most 63 lower-case letters, digits and '-', starting with a letter and ending with a letter or digit";
pub const DNS1123_SUBDOMAIN: &str =
    "a DNS-1123 subdomain: at most 253 characters, dot-separated DNS-1123 labels";
pub const LABEL_VALUE: &str = "a label value: empty, or at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit";
pub const ANNOTATION_KEY: &str = "an annotation key, written like a label key: an optional DNS-1123 subdomain prefix and '/', then a name of at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit";
pub const LABEL_KEY: &str = "a label key: an optional DNS-1123 subdomain prefix and '/', then a name of at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit";
pub const DATA_KEY: &str =
    "a ConfigMap or Secret key: at most 253 letters, digits, '-', '_' and '.', and not `.` or `..`";
/// The API server refuses an object whose annotations together exceed 256 KiB.
pub const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;
pub const ANNOTATIONS: &str =
    "the annotations of an object may total at most 256 KiB (262,144 bytes) of keys and values";

fn alnum_lower(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn first_bad(text: &str, allowed: impl Fn(char) -> bool) -> Option<char> {
    text.chars().find(|&c| !allowed(c))
}

fn describe(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        c if c.is_ascii_uppercase() => format!("the upper-case `{c}`"),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        c => format!("`{c}`"),
    }
}

/// A key of a ConfigMap's or Secret's data (and so the file name it is mounted as).
pub fn data_key(key: &str) -> Rule {
    let broken = |problem: String| Err(Broken::new(problem, DATA_KEY));
    if key.is_empty() || key == "." || key == ".." {
        return broken(format!("`{key}` is not a file name"));
    }
    if key.len() > 253 {
        return broken(format!("is {} characters long, more than 253", key.len()));
    }
    match first_bad(key, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
    }) {
        Some(c) => broken(format!("contains {}", describe(c))),
        None => Ok(()),
    }
}

/// A DNS-1123 label: most object names, namespaces, and every name plat derives with a suffix.
pub fn dns1123_label(name: &str) -> Rule {
    label_like(name, DNS1123_LABEL, false)
}

/// A DNS-1035 label: Service names (and so every workload plat gives a Service).
pub fn dns1035_label(name: &str) -> Rule {
    label_like(name, DNS1035_LABEL, true)
}

fn label_like(name: &str, rule: &'static str, letter_first: bool) -> Rule {
    let broken = |problem: String| Err(Broken::new(problem, rule));
    if name.is_empty() {
        return broken("is empty".into());
    }
    if name.len() > 63 {
        return broken(format!(
            "is {} characters long, more than 63",
            name.chars().count()
        ));
    }
    if let Some(c) = first_bad(name, |c| alnum_lower(c) || c == '-') {
        return broken(format!("contains {}", describe(c)));
    }
    if letter_first && !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return broken("does not start with a letter".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        return broken("starts or ends with '-'".into());
    }
    Ok(())
}

/// A DNS-1123 subdomain: Secret, ConfigMap and storage class names, host names.
pub fn dns1123_subdomain(name: &str) -> Rule {
    let broken = |problem: String| Err(Broken::new(problem, DNS1123_SUBDOMAIN));
    if name.is_empty() {
        return broken("is empty".into());
    }
    if name.len() > 253 {
        return broken(format!("is {} characters long, more than 253", name.len()));
    }
    if let Some(c) = first_bad(name, |c| alnum_lower(c) || c == '-' || c == '.') {
        return broken(format!("contains {}", describe(c)));
    }
    for part in name.split('.') {
        if part.is_empty() || part.starts_with('-') || part.ends_with('-') {
            return broken(format!(
                "has the part `{part}`, which is not a DNS-1123 label"
            ));
        }
    }
    Ok(())
}

fn label_name(name: &str, rule: &'static str) -> Rule {
    let broken = |problem: String| Err(Broken::new(problem, rule));
    if name.len() > 63 {
        return broken(format!(
            "is {} characters long, more than 63",
            name.chars().count()
        ));
    }
    if let Some(c) = first_bad(name, |c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return broken(format!("contains {}", describe(c)));
    }
    let edge_ok = |c: Option<char>| c.is_none_or(|c| c.is_ascii_alphanumeric());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        return broken("does not start and end with a letter or digit".into());
    }
    Ok(())
}

/// A label value (also what a label selector matches).
pub fn label_value(value: &str) -> Rule {
    label_name(value, LABEL_VALUE)
}

/// A label or annotation key: `prefix/name` or `name`.
/// An annotation key: the syntax of a label key.
pub fn annotation_key(key: &str) -> Rule {
    label_key(key).map_err(|b| Broken::new(b.problem, ANNOTATION_KEY))
}

pub fn label_key(key: &str) -> Rule {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if name.is_empty() {
        return Err(Broken::new("has an empty name", LABEL_KEY));
    }
    label_name(name, LABEL_KEY)?;
    if let Some(prefix) = prefix {
        dns1123_subdomain(prefix)
            .map_err(|b| Broken::new(format!("has a prefix that {}", b.problem), LABEL_KEY))?;
    }
    Ok(())
}

/// The total size of an object's annotations, keys and values.
pub fn annotations_size<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Rule {
    let total: usize = pairs.into_iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > ANNOTATIONS_MAX_BYTES {
        return Err(Broken::new(
            format!("the annotations total {total} bytes, more than {ANNOTATIONS_MAX_BYTES}"),
            ANNOTATIONS,
        ));
    }
    Ok(())
}

pub const POSTGRES_NAME: &str = "an unquoted PostgreSQL identifier: a lower-case letter or `_` first, then lower-case letters, digits and `_`, at most 63 bytes (PostgreSQL truncates longer names)";

/// A database or owner name of a CloudNativePG cluster (`bootstrap.initdb.database` / `owner`).
/// CloudNativePG quotes what it creates, but every migration, `psql` call and connection URL would
/// have to quote it too, and a name over 63 bytes is silently cut.
pub fn postgres_name(text: &str) -> super::Rule {
    let bytes = text.as_bytes();
    let first_ok = bytes
        .first()
        .is_some_and(|b| b.is_ascii_lowercase() || *b == b'_');
    let rest_ok = bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_');
    if !first_ok || !rest_ok {
        return Err(super::Broken::new(
            "would need quoting wherever it is used",
            POSTGRES_NAME,
        ));
    }
    if bytes.len() > 63 {
        return Err(super::Broken::new(
            format!("is {} bytes long, and PostgreSQL keeps 63", bytes.len()),
            POSTGRES_NAME,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_keys() {
        for ok in ["API_TOKEN", "app.conf", "tls-key", "a"] {
            assert_eq!(data_key(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            data_key("API TOKEN").unwrap_err().problem,
            "contains a space"
        );
        for bad in ["", ".", "..", "a/b", "x:y"] {
            assert!(data_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dns_labels() {
        for ok in ["a", "web", "api-gateway", "0tenant", "a1", &"a".repeat(63)] {
            assert_eq!(dns1123_label(ok), Ok(()), "{ok}");
        }
        for (bad, problem) in [
            ("", "is empty"),
            ("My App", "contains the upper-case `M`"),
            ("my app", "contains a space"),
            ("a_b", "contains `_`"),
            ("-a", "starts or ends with '-'"),
            ("a-", "starts or ends with '-'"),
            (&"a".repeat(64), "is 64 characters long, more than 63"),
        ] {
            assert_eq!(dns1123_label(bad).unwrap_err().problem, problem, "{bad}");
        }
        assert_eq!(dns1035_label("web"), Ok(()));
        assert_eq!(
            dns1035_label("0web").unwrap_err().problem,
            "does not start with a letter"
        );
    }

    #[test]
    fn subdomains() {
        for ok in ["a", "fast-ssd", "example.com", "a.b-c.d", "0.a"] {
            assert_eq!(dns1123_subdomain(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            dns1123_subdomain("my_secret").unwrap_err().problem,
            "contains `_`"
        );
        assert_eq!(
            dns1123_subdomain("Fast").unwrap_err().problem,
            "contains the upper-case `F`"
        );
        assert!(
            dns1123_subdomain("a..b")
                .unwrap_err()
                .problem
                .contains("part ``")
        );
        assert!(dns1123_subdomain(&"a".repeat(254)).is_err());
    }

    #[test]
    fn labels() {
        for ok in ["", "v1.2_3", "Web", "a"] {
            assert_eq!(label_value(ok), Ok(()), "{ok:?}");
        }
        assert_eq!(
            label_value("front end").unwrap_err().problem,
            "contains a space"
        );
        assert!(label_value("-a").is_err() && label_value("a.").is_err());
        for ok in ["app", "app.kubernetes.io/name", "grafana_dashboard", "a/b"] {
            assert_eq!(label_key(ok), Ok(()), "{ok}");
        }
        assert!(label_key("Example.com/a").is_err());
        assert!(label_key("a/").is_err());
        assert!(label_key("a b").is_err());
    }

    #[test]
    fn annotation_size() {
        assert_eq!(annotations_size([("a", "b")]), Ok(()));
        let big = "x".repeat(ANNOTATIONS_MAX_BYTES);
        assert!(annotations_size([("description", big.as_str())]).is_err());
    }
}
