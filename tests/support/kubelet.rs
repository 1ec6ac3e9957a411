//! What a kubelet would do, played by the test for one namespace of a real API server that runs
//! kube-controller-manager and kube-scheduler: the Deployment, ReplicaSet, StatefulSet and Job
//! controllers and the scheduler are real, but no node runs containers. The played kubelet
//! registers one Node ([`NODE`], with a capacity, Ready) for the scheduler to bind pods to, and
//! writes the `status` of each new pod bound to it with an administrator's client, as a kubelet
//! reports it: a Job's pod Succeeded (or Failed, when the test says so), any other pod Running and
//! Ready at `pod_ip`, where [`HealthServer`] answers for every pod; a pod being deleted is removed
//! at once, as after its containers stopped. A pod the scheduler has not bound stays Pending. The controllers then compute the Deployments', StatefulSets' and Jobs'
//! status themselves; plat reads only that.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};

use super::real_apiserver::{ADMIN, RealServer};

/// The one node the played kubelet registers and runs pods for.
pub const NODE: &str = "played-node";

/// How the played kubelet treats pods.
#[derive(Clone, Default)]
pub struct Behaviour {
    /// Job pods fail (exit code 1) instead of succeeding.
    pub fail_jobs: Arc<AtomicBool>,
    /// Pods bound to the node are left Pending, as on a node that cannot start containers.
    pub stalled: Arc<AtomicBool>,
}

pub struct Kubelet {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub behaviour: Behaviour,
}

/// An address of this machine that the API server's proxy accepts for a pod (a global unicast
/// address: it refuses loopback). The test fails without one.
pub fn pod_ip() -> IpAddr {
    let routed = UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("198.51.100.1:9").map(|_| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .ok();
    let listed = || {
        let out = std::process::Command::new("hostname")
            .arg("-I")
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|w| w.parse::<IpAddr>().ok())
            .find(|ip| ip.is_ipv4() && !ip.is_loopback())
    };
    routed
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .or_else(listed)
        .expect("this machine has no non-loopback IPv4 address for the pods' IP")
}

impl Kubelet {
    pub fn start(server: &'static RealServer, namespace: &str, ip: IpAddr) -> Kubelet {
        register_node(server, ip);
        let stop = Arc::new(AtomicBool::new(false));
        let behaviour = Behaviour::default();
        let (stop2, behaviour2, ns) = (stop.clone(), behaviour.clone(), namespace.to_string());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                tick(server, &ns, ip, &behaviour2);
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Kubelet {
            stop,
            thread: Some(thread),
            behaviour,
        }
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn owned_by_job(pod: &Value) -> bool {
    pod["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|o| o["kind"] == "Job")
}

/// Creates the Node (once per server; a second kubelet finds it there) and reports it Ready with a
/// capacity the scheduler fits pods into. Nothing runs the node lifecycle controller, so no
/// heartbeat is needed to keep it Ready, and its work of lifting the not-ready taint is done here.
fn register_node(server: &RealServer, ip: IpAddr) {
    let node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": { "name": NODE, "labels": {
            "kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        } },
    });
    let created = server.request(
        ADMIN,
        "POST",
        "/api/v1/nodes",
        Some("application/json"),
        &node.to_string(),
    );
    assert!(
        matches!(created, Ok((201 | 409, _))),
        "cannot register the played node: {created:?}"
    );
    // The API server's admission taints a new node not-ready; the node lifecycle controller, which
    // does not run here, lifts the taint once the node reports Ready.
    let untainted = server.request(
        ADMIN,
        "PATCH",
        &format!("/api/v1/nodes/{NODE}"),
        Some("application/merge-patch+json"),
        &json!({ "spec": { "taints": null } }).to_string(),
    );
    assert!(
        matches!(untainted, Ok((200, _))),
        "cannot lift the played node's not-ready taint: {untainted:?}"
    );
    let t = now();
    let capacity =
        json!({ "cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "20Gi" });
    let status = json!({ "status": {
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": [{ "type": "Ready", "status": "True", "reason": "KubeletReady",
                         "lastHeartbeatTime": t, "lastTransitionTime": t }],
        "addresses": [{ "type": "InternalIP", "address": ip.to_string() }],
        "nodeInfo": { "kubeletVersion": "v1.34.4", "operatingSystem": "linux", "architecture": "amd64" },
    } });
    let reported = server.request(
        ADMIN,
        "PATCH",
        &format!("/api/v1/nodes/{NODE}/status"),
        Some("application/merge-patch+json"),
        &status.to_string(),
    );
    assert!(
        matches!(reported, Ok((200, _))),
        "cannot report the played node Ready: {reported:?}"
    );
}

fn tick(server: &RealServer, ns: &str, ip: IpAddr, behaviour: &Behaviour) {
    if behaviour.stalled.load(Ordering::SeqCst) {
        return;
    }
    let Ok((200, text)) = server.request(
        ADMIN,
        "GET",
        &format!("/api/v1/namespaces/{ns}/pods"),
        None,
        "",
    ) else {
        return;
    };
    let Ok(list) = serde_json::from_str::<Value>(&text) else {
        return;
    };
    for pod in list["items"].as_array().into_iter().flatten() {
        let started = pod["status"]["phase"] != "Pending" && !pod["status"]["phase"].is_null();
        let bound_here = pod["spec"]["nodeName"] == NODE;
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        if bound_here && !pod["metadata"]["deletionTimestamp"].is_null() {
            // Its containers are stopped: the kubelet removes the pod for good, which a StatefulSet
            // controller waits for before it creates the pod of the same name again.
            let _ = server.request(
                ADMIN,
                "DELETE",
                &format!("/api/v1/namespaces/{ns}/pods/{name}"),
                Some("application/json"),
                &json!({ "gracePeriodSeconds": 0, "preconditions": { "uid": pod["metadata"]["uid"] } })
                    .to_string(),
            );
            continue;
        }
        if started || !bound_here {
            continue;
        }
        let status = if owned_by_job(pod) {
            finished_status(pod, behaviour.fail_jobs.load(Ordering::SeqCst))
        } else {
            running_status(pod, ip)
        };
        let _ = server.request(
            ADMIN,
            "PATCH",
            &format!("/api/v1/namespaces/{ns}/pods/{name}/status"),
            Some("application/merge-patch+json"),
            &json!({ "status": status }).to_string(),
        );
    }
}

fn now() -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn container_names(pod: &Value) -> Vec<String> {
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

fn running_status(pod: &Value, ip: IpAddr) -> Value {
    let t = now();
    let statuses: Vec<Value> = container_names(pod)
        .into_iter()
        .map(|name| {
            json!({"name": name, "ready": true, "restartCount": 0, "image": "", "imageID": "",
                            "started": true, "state": {"running": {"startedAt": t}}})
        })
        .collect();
    json!({
        "phase": "Running",
        "podIP": ip.to_string(),
        "podIPs": [{"ip": ip.to_string()}],
        "hostIP": ip.to_string(),
        "startTime": t,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": t},
            {"type": "Initialized", "status": "True", "lastTransitionTime": t},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": t},
            {"type": "Ready", "status": "True", "lastTransitionTime": t},
        ],
        "containerStatuses": statuses,
    })
}

fn finished_status(pod: &Value, fail: bool) -> Value {
    let t = now();
    let code = if fail { 1 } else { 0 };
    let statuses: Vec<Value> = container_names(pod)
        .into_iter()
        .map(|name| json!({"name": name, "ready": false, "restartCount": 0, "image": "", "imageID": "",
                            "state": {"terminated": {"exitCode": code, "startedAt": t, "finishedAt": t,
                                                     "reason": if fail { "Error" } else { "Completed" }}}}))
        .collect();
    json!({
        "phase": if fail { "Failed" } else { "Succeeded" },
        "startTime": t,
        "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": t}],
        "containerStatuses": statuses,
    })
}

/// The HTTP endpoint every played pod answers on: 200 on any path, or 500 while `failing`;
/// counts the requests it answered.
pub struct HealthServer {
    pub port: u16,
    pub failing: Arc<AtomicBool>,
    pub asked: Arc<AtomicUsize>,
}

impl HealthServer {
    /// Listens on this machine's own address `ip` only (what the pods' IP is): the API server's
    /// proxy refuses loopback, and nothing is opened on any other interface.
    pub fn start(ip: IpAddr) -> HealthServer {
        let listener = TcpListener::bind((ip, 0)).expect("a port for the pods' HTTP endpoint");
        let port = listener.local_addr().expect("address").port();
        let failing = Arc::new(AtomicBool::new(false));
        let asked = Arc::new(AtomicUsize::new(0));
        let (f, a) = (failing.clone(), asked.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().expect("stream"));
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // Read the headers to their end before answering.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                a.fetch_add(1, Ordering::SeqCst);
                let (code, body) = if f.load(Ordering::SeqCst) {
                    ("500 Internal Server Error", "not ready")
                } else {
                    ("200 OK", "ok")
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {code}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        HealthServer {
            port,
            failing,
            asked,
        }
    }
}
