//! Releases on a real kube-apiserver with kube-controller-manager and kube-scheduler
//! (tests/support/real_apiserver.rs): migration hooks and blue-green switches done by `plat apply`,
//! and `--wait` on rollouts the real controllers carry out.
//!
//! The Deployment, ReplicaSet, StatefulSet and Job controllers and the scheduler are the real ones;
//! what they cannot have here is a node that runs containers. The test plays the kubelet
//! (tests/support/kubelet.rs): it registers one Node for the scheduler to bind pods to, and writes
//! the status of each pod bound there as a kubelet would report it (a Job's pod Succeeded or Failed,
//! any other pod Running and Ready at an address of this machine), and one small HTTP server answers
//! for every pod. Everything plat reads (Job conditions, Deployment and StatefulSet rollout status,
//! pod readiness, the HTTP answer through the API server's pod proxy) is computed by the real server
//! and controllers from there. There is no HPA controller (no metrics API); where the test needs an
//! HPA's scaling, it writes the scale subresource as the HPA controller would, and says so.
//!
//! These tests fail, never skip, when the server cannot be built or started.

mod support;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Project;
use support::kubelet::{HealthServer, Kubelet, NODE, pod_ip};
use support::real_apiserver::{RealServer, ServerOptions, Watch};

static SERVER: OnceLock<RealServer> = OnceLock::new();

fn server() -> &'static RealServer {
    SERVER.get_or_init(|| {
        RealServer::start(ServerOptions {
            controllers: true,
            ..ServerOptions::default()
        })
    })
}

const OLD: &str = "registry.example.com/shop/web:1.0.0";
const NEW: &str = "registry.example.com/shop/web:1.1.0";
/// The HPA's minimum of the web service.
const MIN: i64 = 2;

/// The platform's name and the one size the tests' workloads use.
fn header(ns: &str) -> String {
    format!(
        r#"[platform]
name = "p-{ns}"

[sizes.small]
requests = {{ cpu = "50m", memory = "64Mi" }}
limits = {{ cpu = "100m", memory = "128Mi" }}
"#
    )
}

/// A spec with one HTTP service (its readiness probe on the health server's port) and a migration
/// job that runs before it.
fn spec(ns: &str, port: u16, migrate_image: &str) -> String {
    let header = header(ns);
    format!(
        r#"{header}[services.web]
description = "The web application"
image = "{OLD}"
replicas = 2
size = "small"
ports = {{ http = {port} }}
probes.readiness = {{ http = {{ path = "/ready" }} }}
autoscaling = {{ min_replicas = {MIN}, max_replicas = 5, cpu_percent = 70, memory_percent = 80 }}

[services.migrate]
kind = "job"
description = "Schema migrations"
image = "{migrate_image}"
size = "small"
command = ["/app/migrate"]
before = ["web"]
backoff_limit = 0
"#
    )
}

/// The dev overlay: blue-green with `active` taking traffic, `image` and `next_image` of web.
fn overlay(ns: &str, release: Option<(&str, &str, Option<&str>)>) -> String {
    let mut text = format!(
        "[environment]\nnamespace = \"{ns}\"\ncontext = \"dev-cluster\"\nnodes = 1\nmonitoring = \"basic\"\n"
    );
    if let Some((active, image, next)) = release {
        text.push_str(&format!(
            "\n[release]\nstrategy = \"blue-green\"\nactive = \"{active}\"\n\n[services.web]\nimage = \"{image}\"\n"
        ));
        if let Some(next) = next {
            text.push_str(&format!("next_image = \"{next}\"\n"));
        }
    }
    text
}

fn release_project(ns: &str, port: u16) -> Project {
    let project = Project::with_kubeconfig(ns, &server().kubeconfig_text());
    std::fs::write(project.spec(), spec(ns, port, OLD)).expect("spec");
    for entry in std::fs::read_dir(project.dir.join("environments")).expect("overlays") {
        std::fs::remove_file(entry.expect("overlay").path()).expect("remove overlay");
    }
    project
}

fn set_overlay(project: &Project, ns: &str, release: Option<(&str, &str, Option<&str>)>) {
    std::fs::write(
        project.dir.join("environments/dev.toml"),
        overlay(ns, release),
    )
    .expect("overlay");
}

fn apply(project: &Project) -> support::Run {
    project.plat("apply", &["--timeout", "60s", "--poll-ms", "200"])
}

fn output(run: &support::Run) -> String {
    format!("{}\n{}", run.stdout, run.stderr)
}

/// What changes when plat writes an object: its generation (the spec) and the time of plat's own
/// managed-fields entry.
fn plat_writes(object: &Value) -> (Value, Vec<Value>) {
    let plat_entries = object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["manager"] == "plat")
        .map(|m| m["time"].clone())
        .collect();
    (object["metadata"]["generation"].clone(), plat_entries)
}

fn rv(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("a numeric resourceVersion")
}

fn watch(path: &str) -> Watch {
    let watch = server().watch(&format!("{path}?watch=1"));
    // Let the watch be established before the writes it must see.
    std::thread::sleep(Duration::from_millis(500));
    watch
}

fn deployment(ns: &str, name: &str) -> Value {
    server()
        .get(&format!("/apis/apps/v1/namespaces/{ns}/deployments/{name}"))
        .unwrap_or_else(|| panic!("Deployment {ns}/{name}"))
}

fn image_of(deployment: &Value) -> &str {
    deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .expect("image")
}

fn selected_colour(ns: &str) -> String {
    let service = server()
        .get(&format!("/api/v1/namespaces/{ns}/services/web"))
        .expect("Service web");
    service["spec"]["selector"]["plat.dev/color"]
        .as_str()
        .expect("a colour in the selector")
        .to_string()
}

/// The names of the pods of one colour.
fn pods_of(ns: &str, colour: &str) -> Vec<String> {
    let path = format!("/api/v1/namespaces/{ns}/pods?labelSelector=plat.dev%2Fcolor%3D{colour}");
    let mut names: Vec<String> = server().get(&path).expect("pods")["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "not within 60 s: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn no_drift_no_fight(project: &Project) {
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 0, "diff after the release: {diff:?}");
    let drift = project.plat("drift", &[]);
    assert_eq!(drift.code, 0, "drift after the release: {drift:?}");
    let again = apply(project);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again.stdout.contains("0 created, 0 configured"),
        "the next apply fought the release: {again:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Migration hooks

#[test]
fn a_migration_completes_before_the_workload_it_guards_runs_once_per_version_and_a_failure_stops_the_apply()
 {
    let ns = "rel-hooks";
    let health = HealthServer::start(pod_ip());
    let project = release_project(ns, health.port);
    set_overlay(&project, ns, None);
    let kubelet = Kubelet::start(server(), ns, pod_ip());
    let jobs = watch(&format!("/apis/batch/v1/namespaces/{ns}/jobs"));
    let deployments = watch(&format!("/apis/apps/v1/namespaces/{ns}/deployments"));
    let run = apply(&project);
    assert_eq!(run.code, 0, "{run:?}");
    let job_events = jobs.stop();
    let deployment_events = deployments.stop();

    // The Job controller marked the hook Complete before plat created the workload it guards.
    let complete = job_events
        .iter()
        .filter(|e| {
            e["object"]["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Complete" && c["status"] == "True")
        })
        .map(|e| rv(&e["object"]))
        .min()
        .unwrap_or_else(|| panic!("the hook never completed: {job_events:?}\n{run:?}"));
    let created = deployment_events
        .iter()
        .filter(|e| e["type"] == "ADDED" && e["object"]["metadata"]["name"] == "web")
        .map(|e| rv(&e["object"]))
        .min()
        .unwrap_or_else(|| panic!("web was never created: {deployment_events:?}"));
    assert!(
        complete < created,
        "web (resourceVersion {created}) was created before its hook completed ({complete})"
    );
    assert!(run.stdout.contains("complete (runs before web)"), "{run:?}");

    // Once per version: the completed Job is unchanged, so the next apply neither re-creates nor
    // re-runs it.
    let job_list = server()
        .get(&format!("/apis/batch/v1/namespaces/{ns}/jobs"))
        .expect("jobs");
    let items = job_list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{job_list}");
    let (uid, job_name) = (
        items[0]["metadata"]["uid"].clone(),
        items[0]["metadata"]["name"].as_str().unwrap().to_string(),
    );
    let pods_of_job = || {
        let path = format!("/api/v1/namespaces/{ns}/pods?labelSelector=job-name%3D{job_name}");
        server().get(&path).expect("pods")["items"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let pods_before = pods_of_job();
    let again = apply(&project);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again.stdout.contains("0 created, 0 configured"),
        "{again:?}"
    );
    let job = server()
        .get(&format!("/apis/batch/v1/namespaces/{ns}/jobs/{job_name}"))
        .expect("the job");
    assert_eq!(job["metadata"]["uid"], uid);
    assert_eq!(pods_of_job(), pods_before, "the hook ran again");

    // A new version whose migration fails: the apply stops with the reason, and web, whose new
    // image waits behind the hook, is left as it was.
    kubelet.behaviour.fail_jobs.store(true, Ordering::SeqCst);
    let web_before = deployment(ns, "web");
    std::fs::write(
        project.spec(),
        spec(ns, health.port, NEW).replace(
            &format!("image = \"{OLD}\"\nreplicas"),
            &format!("image = \"{NEW}\"\nreplicas"),
        ),
    )
    .expect("spec");
    let failed = apply(&project);
    assert_eq!(failed.code, 2, "{failed:?}");
    let text = output(&failed);
    assert!(
        text.contains("failed (BackoffLimitExceeded")
            && text.contains("web and every workload after the hooks were left as they are"),
        "{failed:?}"
    );
    let web_after = deployment(ns, "web");
    // Not the resourceVersion: the real Deployment controller writes web's status as its pods come
    // and go. What plat writes shows in the generation and in plat's own managed-fields entry.
    assert_eq!(
        plat_writes(&web_after),
        plat_writes(&web_before),
        "web was written"
    );
    assert_eq!(image_of(&web_after), OLD);
    drop(kubelet);
}

// ---------------------------------------------------------------------------------------------
// Blue-green

/// What the colour taking traffic had at each event of a switch: (colour, spec.replicas,
/// readyReplicas), replayed from the watches of the Service and the Deployments in
/// resourceVersion order.
fn traffic_capacity(service: &[Value], deployments: &[Value]) -> Vec<(String, i64, i64)> {
    let mut events: Vec<&Value> = service
        .iter()
        .chain(deployments)
        .filter(|e| e["type"] == "ADDED" || e["type"] == "MODIFIED")
        .map(|e| &e["object"])
        .collect();
    events.sort_by_key(|o| rv(o));
    let mut colour = None;
    let mut capacity: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut seen = Vec::new();
    for object in events {
        if object["kind"] == "Service" {
            colour = object["spec"]["selector"]["plat.dev/color"]
                .as_str()
                .map(str::to_string);
        } else {
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            let Some(c) = name.strip_prefix("web-") else {
                continue;
            };
            let replicas = object["spec"]["replicas"].as_i64().unwrap_or(1);
            let ready = object["status"]["readyReplicas"].as_i64().unwrap_or(0);
            capacity.insert(c.to_string(), (replicas, ready));
        }
        if let Some(c) = &colour
            && let Some((replicas, ready)) = capacity.get(c)
        {
            seen.push((c.clone(), *replicas, *ready));
        }
    }
    seen
}

#[test]
fn a_blue_green_release_is_gated_keeps_the_previous_colour_warm_and_rolls_back_at_once() {
    let ns = "rel-bluegreen";
    let health = HealthServer::start(pod_ip());
    let project = release_project(ns, health.port);
    let _kubelet = Kubelet::start(server(), ns, pod_ip());

    // Blue takes traffic; green is retired (no next_image).
    set_overlay(&project, ns, Some(("blue", OLD, None)));
    let first = apply(&project);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(selected_colour(ns), "blue");
    assert_eq!(deployment(ns, "web-blue")["spec"]["replicas"], MIN);
    assert_eq!(deployment(ns, "web-green")["spec"]["replicas"], 0);
    // The HPA scales blue up to 3 (played: there is no HPA controller here). The capacity the
    // idle colour must come up at is the live one, not the spec's.
    server().must(
        support::real_apiserver::ADMIN,
        "PATCH",
        &format!("/apis/apps/v1/namespaces/{ns}/deployments/web-blue/scale?fieldManager=horizontal-pod-autoscaler"),
        Some("application/merge-patch+json"),
        &json!({"spec": {"replicas": 3}}).to_string(),
    );
    wait_for("blue has 3 ready pods", || {
        deployment(ns, "web-blue")["status"]["readyReplicas"] == 3
    });

    // Prepare: the new version on the idle colour, at blue's live capacity, waited for.
    set_overlay(&project, ns, Some(("blue", OLD, Some(NEW))));
    let prepare = project.plat("apply", &["--wait", "--timeout", "60s", "--poll-ms", "200"]);
    assert_eq!(prepare.code, 0, "{prepare:?}");
    let green = deployment(ns, "web-green");
    assert_eq!(green["spec"]["replicas"], 3, "{prepare:?}");
    assert_eq!(green["status"]["readyReplicas"], 3);
    assert_eq!(image_of(&green), NEW);
    assert_eq!(selected_colour(ns), "blue");
    no_drift_no_fight(&project);

    // Flipping only `active` would re-image blue while it still takes traffic: refused, nothing
    // written.
    set_overlay(&project, ns, Some(("green", OLD, Some(NEW))));
    let refused = apply(&project);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        output(&refused).contains("swap `image` and `next_image`"),
        "{refused:?}"
    );
    assert_eq!(image_of(&deployment(ns, "web-green")), NEW);
    assert_eq!(selected_colour(ns), "blue");

    // Promote with a failing health check: the gate fails, traffic stays on blue.
    set_overlay(&project, ns, Some(("green", NEW, Some(OLD))));
    health.failing.store(true, Ordering::SeqCst);
    let gated = project.plat("apply", &["--timeout", "5s", "--poll-ms", "200"]);
    assert_eq!(gated.code, 2, "{gated:?}");
    let text = output(&gated);
    assert!(
        text.contains("health gate of Deployment.apps rel-bluegreen/web-green failed")
            && text.contains("HTTP 500")
            && text.contains("traffic stays on blue"),
        "{gated:?}"
    );
    assert_eq!(selected_colour(ns), "blue");

    // Promote with a healthy colour: gate, then the switch. The colour taking traffic never has
    // fewer than the HPA's minimum of pods, wanted or ready.
    health.failing.store(false, Ordering::SeqCst);
    let asked_before = health.asked.load(Ordering::SeqCst);
    let services = watch(&format!("/api/v1/namespaces/{ns}/services"));
    let deployments = watch(&format!("/apis/apps/v1/namespaces/{ns}/deployments"));
    let promote = apply(&project);
    std::thread::sleep(Duration::from_millis(500));
    let (service_events, deployment_events) = (services.stop(), deployments.stop());
    assert_eq!(promote.code, 0, "{promote:?}");
    assert!(promote.stdout.contains("gate passed: Deployment.apps rel-bluegreen/web-green (3 pods ready, each answered GET /ready"), "{promote:?}");
    assert!(
        health.asked.load(Ordering::SeqCst) >= asked_before + 3,
        "the gate did not ask every pod"
    );
    assert_eq!(selected_colour(ns), "green");
    let seen = traffic_capacity(&service_events, &deployment_events);
    assert!(
        seen.iter().any(|(c, _, _)| c == "green"),
        "the watches did not see the switch: {seen:?}"
    );
    assert!(
        seen.iter()
            .all(|(_, replicas, ready)| *replicas >= MIN && *ready >= MIN),
        "the colour taking traffic fell below the HPA minimum of {MIN}: {seen:?}"
    );
    // The previous colour keeps running, as it was, for a rollback.
    let blue = deployment(ns, "web-blue");
    assert_eq!(image_of(&blue), OLD);
    assert_eq!(blue["spec"]["replicas"], 3);
    assert_eq!(blue["status"]["readyReplicas"], 3);
    no_drift_no_fight(&project);

    // Rollback: the same swap back. Blue is warm: the switch needs no rollout, and the pods that
    // take the traffic again are the ones that ran before.
    let blue_pods = pods_of(ns, "blue");
    assert_eq!(blue_pods.len(), 3, "{blue_pods:?}");
    set_overlay(&project, ns, Some(("blue", OLD, Some(NEW))));
    let started = Instant::now();
    let rollback = apply(&project);
    let took = started.elapsed();
    assert_eq!(rollback.code, 0, "{rollback:?}");
    assert_eq!(selected_colour(ns), "blue");
    assert_eq!(
        pods_of(ns, "blue"),
        blue_pods,
        "blue was rolled out again: {rollback:?}"
    );
    eprintln!("rollback to the warm colour took {took:?}");
    assert!(took < Duration::from_secs(30), "rollback took {took:?}");
    no_drift_no_fight(&project);

    // Retire: without next_image the idle colour goes to zero.
    set_overlay(&project, ns, Some(("blue", OLD, None)));
    let retire = apply(&project);
    assert_eq!(retire.code, 0, "{retire:?}");
    assert_eq!(deployment(ns, "web-green")["spec"]["replicas"], 0);
    assert_eq!(selected_colour(ns), "blue");
    no_drift_no_fight(&project);
}

// ---------------------------------------------------------------------------------------------
// Waiting on real rollouts

/// A stateful workload of two pods (no claims: nothing here provisions volumes).
fn stateful_spec(ns: &str, image: &str) -> String {
    let header = header(ns);
    format!(
        r#"{header}[services.queue]
kind = "stateful"
description = "A replicated queue"
image = "{image}"
replicas = 2
size = "small"
ports = {{ amqp = {{ port = 5672, protocol = "tcp" }} }}
"#
    )
}

fn statefulset(ns: &str, name: &str) -> Value {
    server()
        .get(&format!(
            "/apis/apps/v1/namespaces/{ns}/statefulsets/{name}"
        ))
        .unwrap_or_else(|| panic!("StatefulSet {ns}/{name}"))
}

/// Every pod of the namespace: (name, the node it is bound to, phase, image).
fn pods(ns: &str) -> Vec<(String, String, String, String)> {
    let list = server()
        .get(&format!("/api/v1/namespaces/{ns}/pods"))
        .expect("pods");
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut pods: Vec<_> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                text(&p["metadata"]["name"]),
                text(&p["spec"]["nodeName"]),
                text(&p["status"]["phase"]),
                text(&p["spec"]["containers"][0]["image"]),
            )
        })
        .collect();
    pods.sort();
    pods
}

#[test]
fn apply_wait_follows_a_statefulset_that_the_real_controller_and_scheduler_roll_out() {
    let ns = "rel-stateful";
    let project = release_project(ns, 0);
    std::fs::write(project.spec(), stateful_spec(ns, OLD)).expect("spec");
    set_overlay(&project, ns, None);
    let kubelet = Kubelet::start(server(), ns, pod_ip());
    let wait = |timeout: &str| {
        project.plat(
            "apply",
            &["--wait", "--timeout", timeout, "--poll-ms", "200"],
        )
    };

    // The node starts no container: the controller makes the first pod and the scheduler binds it,
    // but it never runs, so the wait ends at its timeout naming what it waited for.
    kubelet.behaviour.stalled.store(true, Ordering::SeqCst);
    let stalled = wait("5s");
    assert_ne!(stalled.code, 0, "{stalled:?}");
    let text = output(&stalled);
    assert!(
        text.contains("not ready after 5s")
            && text.contains("StatefulSet.apps rel-stateful/queue (0 of 2 replicas ready"),
        "{stalled:?}"
    );
    wait_for("the scheduler binds the first pod", || {
        let pods = pods(ns);
        !pods.is_empty() && pods.iter().all(|(_, node, _, _)| node == NODE)
    });
    assert!(
        pods(ns).iter().all(|(_, _, phase, _)| phase == "Pending"),
        "{:?}",
        pods(ns)
    );

    // The node runs pods: the same apply waits for both, one after the other as the controller
    // orders them, and returns once the controller reports the rollout complete.
    kubelet.behaviour.stalled.store(false, Ordering::SeqCst);
    let first = wait("60s");
    assert_eq!(first.code, 0, "{first:?}");
    assert!(first.stdout.contains("ready: "), "{first:?}");
    let status = statefulset(ns, "queue")["status"].clone();
    assert_eq!(status["readyReplicas"], 2, "{status}");
    let running: Vec<_> = pods(ns)
        .into_iter()
        .map(|(name, node, phase, _)| (name, node, phase))
        .collect();
    assert_eq!(
        running,
        [
            (
                "queue-0".to_string(),
                NODE.to_string(),
                "Running".to_string()
            ),
            (
                "queue-1".to_string(),
                NODE.to_string(),
                "Running".to_string()
            ),
        ]
    );

    // A new image: the controller replaces the pods one by one (each is deleted, removed and made
    // again), and the apply returns only when every pod runs the new revision.
    std::fs::write(project.spec(), stateful_spec(ns, NEW)).expect("spec");
    let update = wait("60s");
    assert_eq!(update.code, 0, "{update:?}");
    let status = statefulset(ns, "queue")["status"].clone();
    assert_eq!(status["updatedReplicas"], 2, "{status}");
    assert_eq!(status["readyReplicas"], 2, "{status}");
    assert_eq!(
        status["currentRevision"], status["updateRevision"],
        "{status}"
    );
    let images: Vec<String> = pods(ns).into_iter().map(|(_, _, _, image)| image).collect();
    assert_eq!(images, [NEW, NEW], "{update:?}");
    no_drift_no_fight(&project);

    // A persistent volume changes the claim templates, which the server never updates: the diff
    // says so, and `--replace` deletes the StatefulSet with its pods orphaned (the real garbage
    // collector lifts their owner) and creates it again, and the new one adopts the running pods.
    std::fs::write(
        project.spec(),
        format!(
            "{}volumes.data = {{ type = \"persistent\", path = \"/var/lib/queue\", size = \"1Gi\" }}\n",
            stateful_spec(ns, NEW)
        ),
    )
    .expect("spec");
    let diff = project.plat("diff", &[]);
    assert_eq!(diff.code, 1, "{diff:?}");
    assert!(
        diff.stdout
            .contains("StatefulSet.apps rel-stateful/queue: to replace.")
            && diff
                .stdout
                .contains("its pods keep running, and the new object adopts them"),
        "{diff:?}"
    );
    let old_uid = statefulset(ns, "queue")["metadata"]["uid"].clone();
    let first_pod = |field: &str| {
        let pod = server()
            .get(&format!("/api/v1/namespaces/{ns}/pods/queue-0"))
            .expect("pod queue-0");
        match field {
            "uid" => pod["metadata"]["uid"].clone(),
            _ => pod["metadata"]["ownerReferences"][0]["uid"].clone(),
        }
    };
    let pod_uid = first_pod("uid");
    let replaced = project.plat(
        "apply",
        &["--replace", "--timeout", "60s", "--poll-ms", "200"],
    );
    assert_eq!(replaced.code, 0, "{replaced:?}");
    assert!(
        replaced
            .stdout
            .contains("replaced StatefulSet.apps rel-stateful/queue"),
        "{replaced:?}"
    );
    let new_uid = statefulset(ns, "queue")["metadata"]["uid"].clone();
    assert_ne!(new_uid, old_uid);
    assert_eq!(
        statefulset(ns, "queue")["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        "data"
    );
    wait_for("the new StatefulSet adopts queue-0", || {
        first_pod("owner") == new_uid
    });
    assert_eq!(first_pod("uid"), pod_uid, "queue-0 was not kept running");
}
