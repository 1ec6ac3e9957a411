//! The waits of a release (decided in `release.rs`): hook Jobs until they completed, and the
//! health gate of the colour a blue-green switch moves traffic to.

use std::io::Write;
use std::time::{Duration, Instant};

use kube::Client;
use serde_json::Value;

use super::live;
use super::plan::{DesiredObject, ObjKey};
use super::readiness::{Readiness, readiness};
use super::release::{self, HttpCheck, JobState, Switch};
use super::resources::{self, ResourceInfo};
use super::{Error, Result, api_error, status_code};

fn builtin(group: &str, kind: &str) -> Result<ResourceInfo> {
    resources::builtin_any(group, kind).ok_or_else(|| Error(format!("{kind}: not a built-in kind")))
}

/// Waits until every hook Job completed; the first failed one is an error that says what was
/// held back and how to run the hook again.
pub async fn wait_hooks(
    client: &Client,
    hooks: &[&DesiredObject],
    (timeout, poll): (Duration, Duration),
    out: &mut dyn Write,
) -> Result<()> {
    let jobs = builtin("batch", "Job")?;
    let deadline = Instant::now() + timeout;
    for hook in hooks {
        let key = &hook.key;
        let guards = release::guarded(hook).join(", ");
        let mut said = false;
        loop {
            let live = live::get(client, &jobs, key.namespace.as_deref(), &key.name).await?;
            let state = match &live {
                Some(job) => release::job_state(job),
                None => JobState::Running("not found yet".into()),
            };
            match state {
                JobState::Complete => {
                    let _ = writeln!(out, "hook {key} complete (runs before {guards})");
                    break;
                }
                JobState::Failed(why) => {
                    return Err(Error(format!(
                        "hook {key} failed ({why}); {guards} and every workload after the hooks \
                         were left as they are. Fix the job and apply again: a changed job is a \
                         new Job (its name carries a hash of what it runs); to run the same one \
                         again, delete the failed Job first"
                    )));
                }
                JobState::Running(why) if Instant::now() >= deadline => {
                    return Err(Error(format!(
                        "hook {key} did not complete in {}s ({why}); {guards} and every workload \
                         after the hooks were left as they are",
                        timeout.as_secs()
                    )));
                }
                JobState::Running(why) => {
                    if !said {
                        let _ = writeln!(out, "waiting for hook {key} ({why})");
                        said = true;
                    }
                    tokio::time::sleep(poll).await;
                }
            }
        }
    }
    Ok(())
}

/// The gate of one switch: each Deployment it moves traffic to is rolled out, every one of its
/// pods is ready, and each pod answers the readiness probe's HTTP path through the API server's
/// pod proxy. Retried until the timeout; the error names the last reason and where traffic stays.
pub async fn health_gate(
    client: &Client,
    switch: &Switch,
    targets: &[&DesiredObject],
    (timeout, poll): (Duration, Duration),
    out: &mut dyn Write,
) -> Result<()> {
    if targets.is_empty() {
        return Err(Error(format!(
            "{} would select no Deployment of colour {}; traffic stays on {}",
            switch.service, switch.to, switch.from
        )));
    }
    let deadline = Instant::now() + timeout;
    for target in targets {
        let mut last = String::new();
        loop {
            match gate_once(client, &target.key).await? {
                Ok(checked) => {
                    let _ = writeln!(out, "gate passed: {} ({checked})", target.key);
                    break;
                }
                Err(why) if Instant::now() >= deadline => {
                    return Err(Error(format!(
                        "health gate of {} failed after {}s: {why}; traffic stays on {} ({} \
                         still selects {}={})",
                        target.key,
                        timeout.as_secs(),
                        switch.from,
                        switch.service,
                        crate::lower::services::COLOR_LABEL,
                        switch.from
                    )));
                }
                Err(why) => {
                    if why != last {
                        let _ = writeln!(out, "gate: {} waiting: {why}", target.key);
                        last = why;
                    }
                    tokio::time::sleep(poll).await;
                }
            }
        }
    }
    Ok(())
}

/// One look at a colour: `Ok(what was checked)` or `Err(what is awaited)`; request errors other
/// than the pod proxy's answers are errors of the apply.
async fn gate_once(client: &Client, key: &ObjKey) -> Result<std::result::Result<String, String>> {
    let deployments = builtin("apps", "Deployment")?;
    let ns = key.namespace.as_deref();
    let Some(live) = live::get(client, &deployments, ns, &key.name).await? else {
        return Ok(Err("not found".into()));
    };
    match readiness(&key.gk, &live) {
        Some(Readiness::Ready) | None => {}
        Some(Readiness::Waiting(why)) => return Ok(Err(why)),
        Some(Readiness::Failed(why)) => return Ok(Err(why)),
    }
    let pods = colour_pods(client, ns, &live).await?;
    let wanted = live["spec"]["replicas"].as_i64().unwrap_or(1);
    let ready = match release::ready_pods(wanted, &pods) {
        Ok(ready) => ready,
        Err(why) => return Ok(Err(why)),
    };
    let Some(check) = release::http_check(&live) else {
        return Ok(Ok(format!(
            "{} pods ready; no HTTP readiness probe to ask",
            ready.len()
        )));
    };
    for pod in &ready {
        if let Err(why) = ask_pod(client, ns.unwrap_or_default(), pod, &check).await {
            return Ok(Err(why));
        }
    }
    Ok(Ok(format!(
        "{} pods ready, each answered GET {} on port {}",
        ready.len(),
        check.path,
        check.port
    )))
}

fn match_labels_selector(deployment: &Value) -> String {
    deployment["spec"]["selector"]["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",")
}

async fn colour_pods(client: &Client, ns: Option<&str>, deployment: &Value) -> Result<Vec<Value>> {
    let pods = builtin("", "Pod")?;
    let selector = match_labels_selector(deployment);
    let namespaces: Vec<String> = ns.map(str::to_string).into_iter().collect();
    live::list(client, &pods, ns, &selector, &namespaces).await
}

/// GET of the readiness path of one pod through the API server's pod proxy.
async fn ask_pod(
    client: &Client,
    ns: &str,
    pod: &str,
    check: &HttpCheck,
) -> std::result::Result<(), String> {
    let path = format!(
        "/api/v1/namespaces/{ns}/pods/{}:{pod}:{}/proxy{}",
        check.scheme, check.port, check.path
    );
    let request = http::Request::get(&path)
        .body(Vec::new())
        .map_err(|e| format!("cannot build GET {path}: {e}"))?;
    match client.request_text(request).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let code = status_code(&e)
                .map(|c| format!("HTTP {c}, "))
                .unwrap_or_default();
            Err(format!(
                "pod {pod} did not answer GET {} on port {}: {code}{}",
                check.path,
                check.port,
                api_error("the pod proxy", &e).0
            ))
        }
    }
}
