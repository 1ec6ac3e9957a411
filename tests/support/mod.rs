//! Shared harness for the cluster-stage tests: the fake API server, a copy of the reference
//! platform to edit, a kubeconfig pointing at the server, and a bounded run of the `plat` binary.

#![allow(dead_code)]

pub mod fake_apiserver;
pub mod kubelet;
pub mod real_apiserver;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use fake_apiserver::{FakeApiServer, Kind};

/// The kinds of a cluster with the operators the reference platform needs installed.
pub fn full_cluster() -> Vec<Kind> {
    let mut kinds = fake_apiserver::builtin_kinds();
    kinds.extend(fake_apiserver::cnpg_kinds());
    kinds.extend(fake_apiserver::barman_cloud_kinds());
    kinds.extend(fake_apiserver::redis_kinds());
    kinds.extend(fake_apiserver::external_secrets_kinds());
    kinds.extend(fake_apiserver::prometheus_operator_kinds());
    kinds
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A scratch copy of the reference platform (`platform.toml` and `environments/`), plus a
/// kubeconfig with contexts `dev-cluster` (the dev environment's) and `other-cluster`.
pub struct Project {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
}

impl Project {
    pub fn new(name: &str, server: &FakeApiServer) -> Project {
        Project::with_kubeconfig(name, &kubeconfig_text(&server.url()))
    }

    /// A copy of the reference platform whose dev environment is `name`'s own: its namespace, the
    /// logging namespace and the platform name (and so its cluster-wide object names) carry `name`,
    /// so tests can share one real API server.
    pub fn isolated(name: &str, kubeconfig: &str) -> Project {
        let project = Project::with_kubeconfig(name, kubeconfig);
        project.replace(
            "platform.toml",
            "name = \"saas-platform\"",
            &format!("name = \"p-{name}\""),
        );
        project.replace(
            "platform.toml",
            "namespace = \"logging\"",
            &format!("namespace = \"logging-{name}\""),
        );
        project.replace(
            "environments/dev.toml",
            "namespace = \"saas-dev\"",
            &format!("namespace = \"{name}\""),
        );
        project
    }

    pub fn with_kubeconfig(name: &str, kubeconfig_text: &str) -> Project {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("cluster-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("environments")).expect("scratch dir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(root.join("platform.toml"), dir.join("platform.toml")).expect("copy spec");
        for entry in std::fs::read_dir(root.join("environments")).expect("environments/") {
            let entry = entry.expect("entry");
            std::fs::copy(
                entry.path(),
                dir.join("environments").join(entry.file_name()),
            )
            .expect("copy overlay");
        }
        std::fs::create_dir_all(dir.join("tenants")).expect("scratch dir");
        for entry in std::fs::read_dir(root.join("tenants")).expect("tenants/") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), dir.join("tenants").join(entry.file_name()))
                .expect("copy instance");
        }
        let kubeconfig = dir.join("kubeconfig.yaml");
        std::fs::write(&kubeconfig, kubeconfig_text).expect("kubeconfig");
        Project { dir, kubeconfig }
    }

    pub fn spec(&self) -> PathBuf {
        self.dir.join("platform.toml")
    }

    /// Appends TOML to a file of the project (e.g. an overlay).
    pub fn append(&self, file: &str, text: &str) {
        let path = self.dir.join(file);
        let mut content = std::fs::read_to_string(&path).expect("read");
        content.push_str(text);
        std::fs::write(path, content).expect("write");
    }

    pub fn replace(&self, file: &str, from: &str, to: &str) {
        let path = self.dir.join(file);
        let content = std::fs::read_to_string(&path).expect("read");
        assert!(content.contains(from), "{file} has no `{from}`");
        std::fs::write(path, content.replacen(from, to, 1)).expect("write");
    }

    /// Runs `plat <command> --env dev --spec … --kubeconfig … <extra>` (bounded: 120 s).
    pub fn plat(&self, command: &str, extra: &[&str]) -> Run {
        self.plat_env("dev", command, extra)
    }

    pub fn plat_env(&self, env: &str, command: &str, extra: &[&str]) -> Run {
        let mut args: Vec<String> = vec![
            command.into(),
            "--env".into(),
            env.into(),
            "--spec".into(),
            self.spec().display().to_string(),
            "--kubeconfig".into(),
            self.kubeconfig.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        run_plat(&args)
    }
}

fn kubeconfig_text(url: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: {url}
contexts:
- name: dev-cluster
  context:
    cluster: fake
    user: tester
- name: prod-cluster
  context:
    cluster: fake
    user: tester
- name: other-cluster
  context:
    cluster: fake
    user: tester
current-context: other-cluster
users:
- name: tester
  user: {{}}
"
    )
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub fn run_plat(args: &[String]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_plat"))
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", env!("CARGO_TARGET_TMPDIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run plat");
    // Read both pipes on their own threads so a large diff cannot fill a pipe and stall plat.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("plat {args:?} ran longer than 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
    }
}

/// Sends one request to the fake server the way another client would (e.g. `kubectl edit`, which
/// sends a merge patch with `fieldManager=kubectl-edit`). Returns the status code and body.
pub fn http(
    server: &FakeApiServer,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        server.addr,
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

/// What `kubectl edit` of one field does: a merge patch recorded under manager `kubectl-edit`.
pub fn kubectl_edit(server: &FakeApiServer, path: &str, patch: &serde_json::Value) {
    let (code, body) = http(
        server,
        "PATCH",
        &format!("{path}?fieldManager=kubectl-edit"),
        "application/merge-patch+json",
        &patch.to_string(),
    );
    assert_eq!(code, 200, "kubectl edit failed: {body}");
}

/// Write requests (not dry runs) the server received.
pub fn writes(server: &FakeApiServer) -> Vec<fake_apiserver::Recorded> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .collect()
}
