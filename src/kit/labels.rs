//! The standard `app.kubernetes.io/*` labels.

use serde_json::{Map, Value};

#[derive(Clone, Debug, Default)]
pub struct Labels {
    pairs: Vec<(&'static str, String)>,
    /// Labels named by the spec rather than by plat.
    extra: Vec<(String, String)>,
}

impl Labels {
    /// Labels of a component: name, instance, component, part-of, managed-by, and version when known.
    pub fn standard(
        name: &str,
        instance: &str,
        component: &str,
        part_of: &str,
        version: Option<&str>,
    ) -> Self {
        let mut labels = Labels::default()
            .with("app.kubernetes.io/name", name)
            .with("app.kubernetes.io/instance", instance)
            .with("app.kubernetes.io/component", component)
            .with("app.kubernetes.io/part-of", part_of)
            .with("app.kubernetes.io/managed-by", "plat");
        if let Some(v) = version {
            labels = labels.with("app.kubernetes.io/version", v);
        }
        labels
    }

    pub fn with(mut self, key: &'static str, value: &str) -> Self {
        self.pairs.retain(|(k, _)| *k != key);
        self.pairs.push((key, value.to_string()));
        self
    }

    /// Adds a label whose key comes from the spec.
    pub fn with_owned(mut self, key: &str, value: &str) -> Self {
        self.extra.retain(|(k, _)| k != key);
        self.extra.push((key.to_string(), value.to_string()));
        self
    }

    /// The immutable subset used in selectors: name and instance (and any extra keys given).
    pub fn selector(&self, extra: &[&str]) -> Labels {
        let keep = |k: &str| {
            k == "app.kubernetes.io/name" || k == "app.kubernetes.io/instance" || extra.contains(&k)
        };
        Labels {
            pairs: self
                .pairs
                .iter()
                .filter(|(k, _)| keep(k))
                .cloned()
                .collect(),
            extra: Vec::new(),
        }
    }

    pub fn to_json(&self) -> Value {
        let plat = self.pairs.iter().map(|(k, v)| (k.to_string(), v));
        let extra = self.extra.iter().map(|(k, v)| (k.clone(), v));
        let map: Map<String, Value> = plat
            .chain(extra)
            .map(|(k, v)| (k, Value::String(v.clone())))
            .collect();
        Value::Object(map)
    }
}

/// The version label value: the image tag, or the digest's first characters. Label values are at most
/// 63 characters of `[A-Za-z0-9_.-]`.
pub fn version_of(image: &str) -> Option<String> {
    let (image, digest) = match image.split_once("@sha256:") {
        Some((i, d)) => (i, Some(d)),
        None => (image, None),
    };
    let last = image.rsplit('/').next().unwrap_or(image);
    let tag = last.split_once(':').map(|(_, t)| t.to_string());
    let version = tag.or_else(|| digest.map(|d| format!("sha256-{}", &d[..d.len().min(12)])))?;
    let clean: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    Some(
        clean
            .trim_matches(|c: char| !c.is_ascii_alphanumeric())
            .to_string(),
    )
}
