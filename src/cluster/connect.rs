//! Connecting to a cluster: an explicit kubeconfig and context, never a silent fallback to the
//! in-cluster config (`Config::infer` would fall back, and a pipeline would then change whatever
//! cluster it happens to run in).

use std::path::Path;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::{Error, Result};

/// A client and what it is connected to, printed before anything is changed.
pub struct Connection {
    pub client: Client,
    pub context: String,
    pub server: String,
}

/// Where the context comes from, for the header line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextSource {
    /// `--context`
    Flag,
    /// `[environment] context` of the environment's overlay
    Environment,
}

/// Which context to use and whether that is allowed: the environment's own unless `--context`
/// names another, which needs `--allow-context-mismatch`. Pure.
pub fn choose_context(
    declared: &str,
    flag: Option<&str>,
    allow_mismatch: bool,
    env: &str,
) -> Result<(String, ContextSource)> {
    match flag {
        None => Ok((declared.to_string(), ContextSource::Environment)),
        Some(chosen) if chosen == declared => Ok((chosen.to_string(), ContextSource::Flag)),
        Some(chosen) if allow_mismatch => Ok((chosen.to_string(), ContextSource::Flag)),
        Some(chosen) => Err(Error(format!(
            "context `{chosen}` is not the context environment `{env}` belongs to (`{declared}`, \
             [environment] context in environments/{env}.toml); refusing. Pass \
             --allow-context-mismatch if this is intended"
        ))),
    }
}

/// Reads the kubeconfig (`--kubeconfig`, else `$KUBECONFIG`, else `~/.kube/config`) and builds a
/// client for the named context.
pub async fn connect(kubeconfig: Option<&Path>, context: &str) -> Result<Connection> {
    let config_file = match kubeconfig {
        Some(path) => Kubeconfig::read_from(path)
            .map_err(|e| Error(format!("cannot read kubeconfig {}: {e}", path.display())))?,
        None => Kubeconfig::read().map_err(|e| {
            Error(format!(
                "cannot read a kubeconfig ($KUBECONFIG or ~/.kube/config): {e}; pass --kubeconfig FILE"
            ))
        })?,
    };
    let known: Vec<&str> = config_file
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    if !known.contains(&context) {
        return Err(Error(format!(
            "the kubeconfig has no context `{context}` (it has: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..KubeConfigOptions::default()
    };
    let mut config = Config::from_custom_kubeconfig(config_file, &options)
        .await
        .map_err(|e| Error(format!("cannot use context `{context}`: {e}")))?;
    config.connect_timeout = Some(Duration::from_secs(10));
    config.read_timeout = Some(Duration::from_secs(60));
    config.write_timeout = Some(Duration::from_secs(60));
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config)
        .map_err(|e| Error(format!("cannot build a client for {server}: {e}")))?;
    Ok(Connection {
        client,
        context: context.to_string(),
        server,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_context_is_the_default_and_a_mismatch_needs_a_flag() {
        assert_eq!(
            choose_context("prod-cluster", None, false, "prod").unwrap(),
            ("prod-cluster".to_string(), ContextSource::Environment)
        );
        assert!(choose_context("prod-cluster", Some("prod-cluster"), false, "prod").is_ok());
        let err = choose_context("prod-cluster", Some("dev-cluster"), false, "prod").unwrap_err();
        assert!(err.0.contains("--allow-context-mismatch"), "{err}");
        assert!(err.0.contains("prod-cluster"));
        assert!(choose_context("prod-cluster", Some("dev-cluster"), true, "prod").is_ok());
    }
}
