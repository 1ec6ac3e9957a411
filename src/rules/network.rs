//! Network values: host names (RFC 1123, as ingress-nginx and Kubernetes' Ingress read `host`), CIDR
//! blocks and ports.

use std::net::IpAddr;

use super::{Broken, Rule};

pub const HOST: &str = "a host name: dot-separated DNS-1123 labels in lower case, at most 253 characters, without a scheme, port or path (an Ingress may start with `*.`)";
pub const CIDR: &str = "a CIDR block: an IPv4 or IPv6 address, '/', and a prefix length of at most 32 (IPv4) or 128 (IPv6)";
pub const PORT: &str = "a port: an integer from 1 to 65535";

pub const HTTP_HEADER: &str = "an HTTP header name: one or more letters, digits and !#$%&'*+-.^_`|~ (an RFC 7230 token), without spaces or ':'";

/// The name of an HTTP header, such as a probe's `httpHeaders[].name`.
pub fn http_header_name(name: &str) -> Rule {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() {
        return Err(Broken::new("is empty", HTTP_HEADER));
    }
    match name.chars().find(|&c| !token(c)) {
        Some(' ') => Err(Broken::new("contains a space", HTTP_HEADER)),
        Some(c) => Err(Broken::new(format!("contains `{c}`"), HTTP_HEADER)),
        None => Ok(()),
    }
}

/// A host name as an Ingress rule takes it.
pub fn host(text: &str) -> Rule {
    let broken = |problem: String| Err(Broken::new(problem, HOST));
    if let Some((scheme, _)) = text.split_once("://") {
        return broken(format!("starts with the scheme `{scheme}://`"));
    }
    if text.contains(':') {
        return broken("contains a port or ':'".into());
    }
    if text.contains('/') {
        return broken("contains a path or '/'".into());
    }
    let name = text.strip_prefix("*.").unwrap_or(text);
    super::names::dns1123_subdomain(name).map_err(|b| Broken::new(b.problem, HOST))?;
    if name.parse::<IpAddr>().is_ok() {
        return broken("is an IP address; an Ingress host must be a name".into());
    }
    Ok(())
}

/// An `https://` URL of a service outside the cluster: a host name or IP address, an optional port,
/// no credentials, query or fragment. Returns the problem.
pub fn https_url(text: &str) -> Result<(), String> {
    let Some(rest) = text.strip_prefix("https://") else {
        return Err("is not an `https://` URL".into());
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') || text.contains('?') || text.contains('#') {
        return Err("carries credentials, a query or a fragment".into());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            (host, Some(port))
        }
        _ => (authority, None),
    };
    if let Some(port) = port
        && !port.parse::<i64>().is_ok_and(|p| self::port(p).is_ok())
    {
        return Err(format!("has the port `{port}`, not 1 to 65535"));
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() || super::names::dns1123_subdomain(bare).is_ok() {
        Ok(())
    } else {
        Err(format!(
            "has the host `{host}`, not a DNS name or IP address"
        ))
    }
}

/// A CIDR block, such as a NetworkPolicy `ipBlock.cidr`.
pub fn cidr(text: &str) -> Rule {
    let broken = |problem: String| Err(Broken::new(problem, CIDR));
    let Some((address, prefix)) = text.split_once('/') else {
        return broken("has no '/' and prefix length".into());
    };
    let Ok(ip) = address.parse::<IpAddr>() else {
        return broken(format!("`{address}` is not an IP address"));
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match prefix.parse::<u8>() {
        Ok(length) if u32::from(length) <= max && !prefix.starts_with('+') => Ok(()),
        _ => broken(format!("has the prefix length `/{prefix}`, not 0 to {max}")),
    }
}

/// A port number.
pub fn port(value: i64) -> Rule {
    if (1..=65535).contains(&value) {
        Ok(())
    } else {
        Err(Broken::new(
            format!("{value} is not between 1 and 65535"),
            PORT,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for ok in [
            "example.com",
            "api.saas.example",
            "*.example.com",
            "localhost",
        ] {
            assert_eq!(host(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            host("https://example.com").unwrap_err().problem,
            "starts with the scheme `https://`"
        );
        assert!(host("Example.com").is_err());
        assert!(host("example.com:443").is_err());
        assert!(host("example.com/api").is_err());
        assert!(host("10.0.0.1").is_err());
        assert!(host("a b.com").is_err());
    }

    #[test]
    fn http_header_names() {
        assert_eq!(http_header_name("X-Probe"), Ok(()));
        assert_eq!(
            http_header_name("X Probe").unwrap_err().problem,
            "contains a space"
        );
        assert!(http_header_name("X:Probe").is_err());
        assert!(http_header_name("").is_err());
    }

    #[test]
    fn cidrs() {
        for ok in [
            "10.0.0.0/8",
            "0.0.0.0/0",
            "192.168.1.1/32",
            "fd00::/8",
            "::/0",
        ] {
            assert_eq!(cidr(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            cidr("10.0.0.0/33").unwrap_err().problem,
            "has the prefix length `/33`, not 0 to 32"
        );
        for bad in [
            "10.0.0.0",
            "10.0.0/8",
            "fd00::/129",
            "10.0.0.0/x",
            "10.0.0.0/+8",
        ] {
            assert!(cidr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports() {
        assert_eq!(port(8080), Ok(()));
        assert!(port(0).is_err() && port(65536).is_err() && port(-1).is_err());
    }
}
