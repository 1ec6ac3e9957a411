//! Image references, by the distribution reference grammar (what the container runtime parses):
//! `[domain[:port]/]path[:tag][@algorithm:hex]`.

use super::{Broken, Rule};

pub const IMAGE: &str = "an image reference: [registry[:port]/]lower-case path components (letters, digits, separated by '.', '_', '__' or '-') joined by '/', then ':tag' (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-') and/or '@sha256:' and 64 lower-case hex digits";

/// The parts of a reference that plat needs to know.
#[derive(Debug, PartialEq, Eq)]
pub struct Reference<'a> {
    pub name: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

pub fn reference(text: &str) -> Result<Reference<'_>, Broken> {
    let broken = |problem: String| Err(Broken::new(problem, IMAGE));
    let (rest, digest) = match text.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (text, None),
    };
    if let Some(digest) = digest {
        check_digest(digest)?;
    }
    // A ':' after the last '/' starts the tag; one before it is a registry's port.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].find(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    if name.is_empty() {
        return broken("has no repository name".into());
    }
    if name.len() > 255 {
        return broken(format!(
            "has a name of {} characters, more than 255",
            name.len()
        ));
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 && is_domain(components[0]) {
        check_domain(components.remove(0))?;
    }
    for component in components {
        check_path_component(component)?;
    }
    Ok(Reference { name, tag, digest })
}

/// The first component names a registry when it looks like a host: a dot, a port or `localhost`.
fn is_domain(component: &str) -> bool {
    component.contains(['.', ':'])
        || component == "localhost"
        || component.chars().any(|c| c.is_ascii_uppercase())
}

fn check_domain(domain: &str) -> Rule {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || domain.starts_with('[') => (host, Some(port)),
        _ => (domain, None),
    };
    if let Some(port) = port
        && (port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(Broken::new(
            format!("has the registry port `{port}`"),
            IMAGE,
        ));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.starts_with('[') || host.split('.').all(label_ok) {
        return Ok(());
    }
    Err(Broken::new(
        format!("has the registry `{host}`, which is not a host name"),
        IMAGE,
    ))
}

fn check_path_component(component: &str) -> Rule {
    let broken = |problem: String| Err(Broken::new(problem, IMAGE));
    if let Some(c) = component.chars().find(|c| c.is_ascii_uppercase()) {
        return broken(format!(
            "has the upper-case `{c}` in the repository `{component}`; repositories are lower case"
        ));
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !component.starts_with(alnum) || !component.ends_with(alnum) {
        return broken(format!(
            "has the path component `{component}`, which must start and end with a letter or digit"
        ));
    }
    // Separators between runs of letters and digits: one '.', one or two '_', or any number of '-'.
    for separator in component.split(alnum).filter(|s| !s.is_empty()) {
        let ok = matches!(separator, "." | "_" | "__") || separator.chars().all(|c| c == '-');
        if !ok {
            return broken(format!("has `{separator}` in the repository `{component}`"));
        }
    }
    Ok(())
}

fn check_tag(tag: &str) -> Rule {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.starts_with(word)
        && tag.chars().all(|c| word(c) || c == '.' || c == '-');
    if ok {
        return Ok(());
    }
    let problem = match tag.chars().find(|&c| !(word(c) || c == '.' || c == '-')) {
        Some(c) => format!("has `{c}` in the tag `{tag}`"),
        None if tag.is_empty() => "has an empty tag".to_string(),
        None => format!("has the tag `{tag}`, which is too long or starts with '.' or '-'"),
    };
    Err(Broken::new(problem, IMAGE))
}

fn check_digest(digest: &str) -> Rule {
    let broken = |problem: String| Err(Broken::new(problem, IMAGE));
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return broken(format!("has the digest `{digest}` without an algorithm"));
    };
    let hex_ok = |n: usize| {
        hex.len() == n
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    };
    let ok = match algorithm {
        "sha256" => hex_ok(64),
        "sha512" => hex_ok(128),
        _ => {
            return broken(format!(
                "has the digest algorithm `{algorithm}`; use sha256"
            ));
        }
    };
    if !ok {
        return broken(format!(
            "has a {algorithm} digest that is not {} lower-case hex digits",
            if algorithm == "sha256" { 64 } else { 128 }
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn valid_references() {
        for ok in [
            "nginx:1.27",
            "ghcr.io/example/web:1.0.0",
            "localhost:5000/a/b:v1",
            "registry.example.com:443/team/app_x__y:2.0-rc.1",
            "quay.io/opstree/redis-exporter:v1.44.0",
        ] {
            assert!(reference(ok).is_ok(), "{ok}: {:?}", reference(ok));
        }
        let pinned = format!("ghcr.io/a/b@{SHA}");
        assert_eq!(reference(&pinned).unwrap().digest, Some(SHA));
        assert_eq!(reference("a/b:1").unwrap().tag, Some("1"));
        assert_eq!(reference("localhost:5000/a").unwrap().tag, None);
    }

    #[test]
    fn invalid_references() {
        for (bad, problem) in [
            ("ghcr.io/Example/web:1", "upper-case `E`"),
            ("ghcr.io/a/web:1+2", "has `+` in the tag `1+2`"),
            ("ghcr.io/a/web@", "without an algorithm"),
            ("ghcr.io/a/web@sha256:", "not 64 lower-case hex"),
            ("ghcr.io/a/web:", "empty tag"),
            ("ghcr.io/a/-web:1", "must start and end"),
            ("ghcr.io/a/we...b:1", "has `...`"),
            ("ghcr.io/a/web:.1", "starts with '.'"),
            ("reg.io:x/a:1", "registry port `x`"),
        ] {
            let err = reference(bad).unwrap_err();
            assert!(err.problem.contains(problem), "{bad}: {}", err.problem);
        }
    }
}
