//! The cluster stage: `plat diff`, `plat apply` and `plat drift` against a live cluster.
//!
//! It takes the output of the compiler (the rendered manifests of one environment) and compares or
//! applies it with server-side apply. The pure parts (order, ApplySet ids, normalisation, diffs,
//! drift fields and owners, prune selection, readiness rules, reports) live in [`plan`],
//! [`resources`], [`readiness`] and [`report`] and are unit-tested without a client; [`connect`],
//! [`live`], [`diff`], [`apply`], [`replace`] and [`drift`] talk to the API server.

pub mod apply;
pub mod cmd;
pub mod connect;
pub mod diff;
pub mod drift;
pub mod gate;
pub mod handover;
pub mod live;
pub mod plan;
pub mod progress;
pub mod rbac;
pub mod readiness;
pub mod release;
pub mod replace;
pub mod report;
pub mod resources;

use std::fmt;

use serde_json::Value;

use crate::compile::{Compilation, Selection, compile};
use crate::world::World;

/// An error of the cluster stage: one readable message with its context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(text: String) -> Self {
        Error(text)
    }
}

impl From<&str> for Error {
    fn from(text: &str) -> Self {
        Error(text.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns a client error into a message that says what was being done and what the server said.
pub fn api_error(doing: &str, err: &kube::Error) -> Error {
    match err {
        kube::Error::Api(status) => Error(format!(
            "{doing}: {} {}: {}{}",
            status.code,
            if status.reason.is_empty() {
                "Error"
            } else {
                &status.reason
            },
            status.message,
            if status.code == 403 {
                " (this identity lacks the permission: `plat rbac --env ENV` prints the Role and ClusterRole plat needs)"
            } else {
                ""
            }
        )),
        other => Error(format!(
            "{doing}: {}; the API server did not answer (is it up and reachable?)",
            error_chain(other)
        )),
    }
}

/// An error with its causes: the client's own text ("client error (Connect)") says little, the
/// innermost cause ("Connection refused (os error 111)") says what happened.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// The HTTP status of a failed request, when the server answered.
pub fn status_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// Frees `value` on a thread of its own. The environment and the live objects of a large
/// environment are hundreds of thousands of small allocations: freeing them one by one took a
/// quarter of a no-op diff's time, after its answer was already known. The command does not wait
/// for it; when the process ends first, the system takes the memory back at once.
pub fn drop_in_background<T: Send + 'static>(value: T) {
    // When no thread can be started, the value is freed here, as it would have been.
    let _ = std::thread::Builder::new()
        .name("drop".into())
        .spawn(move || drop(value));
}

/// One environment, compiled and ready for the cluster.
#[derive(Debug)]
pub struct Environment {
    pub name: String,
    /// The kube context the environment declares (`[environment] context`).
    pub context: String,
    pub namespace: String,
    pub set: plan::DesiredSet,
}

/// Why an environment could not be loaded: findings of the compiler (printed as the compiler
/// prints them) or another problem.
#[derive(Debug)]
pub enum LoadError {
    Findings(Box<Compilation>),
    Other(Error),
}

/// Compiles one environment and turns its rendered manifests into the set to apply. Pure: input
/// comes through the [`World`].
pub fn load_environment(
    world: &dyn World,
    spec_file: &str,
    env: &str,
) -> Result<Environment, LoadError> {
    let compilation = compile(world, spec_file, &Selection::One(env.to_string()));
    if compilation.has_errors() {
        return Err(LoadError::Findings(Box::new(compilation)));
    }
    let other = |text: String| LoadError::Other(Error(text));
    let (_, files) = compilation
        .outputs
        .iter()
        .find(|(name, _)| name == env)
        .ok_or_else(|| other(format!("environment `{env}` produced no output")))?;
    let kubernetes: Vec<Manifests<'_>> = files
        .files
        .iter()
        .filter(|(path, _)| path.starts_with("kubernetes/"))
        .map(|(path, text)| match files.filled.get(path) {
            Some(filled) => Manifests::Filled(filled),
            None => Manifests::Text(path, text),
        })
        .collect();
    let manifests = read_back(&kubernetes).map_err(other)?;
    let (context, namespace) =
        environment_table(world, spec_file, env).map_err(LoadError::Other)?;
    let set = plan::prepare(manifests, &namespace).map_err(other)?;
    Ok(Environment {
        name: env.to_string(),
        context,
        namespace,
        set,
    })
}

/// One rendered manifest file: its path and text, or, for a fleet instance rendered from a
/// prototype, its objects as values (the same objects; no YAML to parse).
enum Manifests<'a> {
    Text(&'a str, &'a str),
    Filled(&'a crate::lower::Filled),
}

/// The rendered manifests as objects, in file order, on every core: at 10,000 tenants this was
/// 80 MB of YAML to parse back, seconds on one thread; fleet instances now come as values.
fn read_back(files: &[Manifests<'_>]) -> std::result::Result<Vec<Value>, String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = files.len().div_ceil(threads).max(1);
    let parsed: Vec<std::result::Result<Vec<Value>, String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || parse_files(part)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("a parser thread failed".into()))
            })
            .collect()
    });
    let mut manifests = Vec::new();
    for part in parsed {
        manifests.extend(part?);
    }
    Ok(manifests)
}

fn parse_files(files: &[Manifests<'_>]) -> std::result::Result<Vec<Value>, String> {
    let mut objects = Vec::new();
    for file in files {
        match file {
            Manifests::Text(path, text) => objects.extend(
                crate::yaml::parse_yaml_stream(text)
                    .map_err(|e| format!("cannot read back rendered {path}: {e}"))?,
            ),
            Manifests::Filled(filled) => objects.extend(filled.objects()),
        }
    }
    Ok(objects)
}

/// Reads `[environment] context` and `namespace` through the compiler's own reader (the spec
/// compiled a moment ago, so this cannot report anything new).
fn environment_table(world: &dyn World, spec_file: &str, env: &str) -> Result<(String, String)> {
    let (_, _, spec) = crate::compile::read_environment(world, spec_file, env);
    let spec = spec.ok_or_else(|| Error(format!("cannot read the spec of environment `{env}`")))?;
    Ok((
        spec.environment.context.value.clone(),
        spec.environment.namespace.value.clone(),
    ))
}
