//! A real Kubernetes API server for the cluster-stage tests: etcd and kube-apiserver built from Go
//! modules by `scripts/apiserver/build.sh` (pinned in `scripts/apiserver/go.mod`), started on free
//! 127.0.0.1 ports with token authentication and RBAC, with the operators' real CRDs of
//! `tests/data/crds/` installed and established.
//!
//! A test that needs the server FAILS when the binaries are missing or the server does not come up:
//! the tier never skips. One server is shared by all tests of a test binary ([`shared`]); tests that
//! change cluster-wide state (CRDs, server flags) start their own ([`RealServer::start`]).
//!
//! Teardown is by PID: a [`RealServer`] kills its processes when dropped, and a small watchdog per
//! process kills it when the test process is gone (the shared server lives in a static, which is
//! never dropped).

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The users of the token file: an administrator, a person (for edits by hand) and a pipeline
/// identity that has only what a test grants it through RBAC.
pub const ADMIN: &str = "plat-admin";
pub const PERSON: &str = "jane";
pub const PIPELINE: &str = "pipeline";

/// Options for a server of one's own.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Extra kube-apiserver flags (e.g. tiny in-flight limits).
    pub apiserver_flags: Vec<String>,
    /// Install the CRDs of tests/data/crds/ (default: yes).
    pub without_crds: bool,
    /// Also run kube-controller-manager with the Deployment, ReplicaSet, StatefulSet, Job and
    /// garbage-collector controllers, and kube-scheduler, so that rollouts and Jobs have real status and pods are
    /// really scheduled (onto the node the played kubelet registers: see `kubelet.rs`).
    pub controllers: bool,
}

pub struct RealServer {
    pub url: String,
    pub dir: PathBuf,
    tokens: BTreeMap<&'static str, String>,
    ca: PathBuf,
    children: Mutex<Vec<(String, Child)>>,
    etcd_url: String,
    apiserver_args: Vec<String>,
}

static SHARED: OnceLock<RealServer> = OnceLock::new();

/// The server shared by the tests of this test binary (started by the first test that asks).
pub fn shared() -> &'static RealServer {
    SHARED.get_or_init(|| RealServer::start(ServerOptions::default()))
}

/// Where the binaries are: `PLAT_APISERVER_DIR`, else the cache folder the build script uses.
pub fn binary_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PLAT_APISERVER_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("neither XDG_CACHE_HOME nor HOME is set");
    cache.join("plat-apiserver").join(kubernetes_version())
}

/// The pinned Kubernetes version, read from scripts/apiserver/go.mod.
pub fn kubernetes_version() -> String {
    let go_mod = repo().join("scripts/apiserver/go.mod");
    let text = std::fs::read_to_string(&go_mod).expect("scripts/apiserver/go.mod");
    text.lines()
        .map(str::split_whitespace)
        .find_map(|mut words| {
            (words.next() == Some("k8s.io/kubernetes"))
                .then(|| words.next())
                .flatten()
                .filter(|v| v.starts_with("v1."))
                .map(str::to_string)
        })
        .expect("go.mod requires k8s.io/kubernetes")
}

/// Where servers keep their files: the test target's scratch folder, or `target/tmp` for the
/// cluster benchmark (an example, which has no `CARGO_TARGET_TMPDIR`).
fn scratch_root() -> PathBuf {
    match option_env!("CARGO_TARGET_TMPDIR") {
        Some(dir) => PathBuf::from(dir),
        None => repo().join("target/tmp"),
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn binary(name: &str) -> PathBuf {
    let path = binary_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the real-server tier with `bash scripts/apiserver/build.sh` \
         (scripts/test.sh does it). This tier fails rather than skips.",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// A random token (test-only credentials, made per run and never written to the repository).
fn random_token() -> String {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("/dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl RealServer {
    /// Starts etcd and kube-apiserver, waits for /readyz, installs the CRDs. Panics (fails the
    /// test) with the server's log when anything does not work.
    pub fn start(options: ServerOptions) -> RealServer {
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = scratch_root().join(format!("apiserver-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("certs")).expect("server dir");
        let etcd = binary("etcd");
        let apiserver = binary("kube-apiserver");

        let tokens: BTreeMap<&'static str, String> = [ADMIN, PERSON, PIPELINE]
            .into_iter()
            .map(|user| (user, random_token()))
            .collect();
        let token_file = dir.join("tokens.csv");
        let lines: String = tokens
            .iter()
            .map(|(user, token)| {
                let groups = if *user == PIPELINE {
                    ""
                } else {
                    "system:masters"
                };
                format!("{token},{user},{user},\"{groups}\"\n")
            })
            .collect();
        std::fs::write(&token_file, lines).expect("token file");
        let sa_key = dir.join("sa.key");
        let status = Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(&sa_key)
            .arg("2048")
            .stderr(Stdio::null())
            .status()
            .expect("openssl (for the service-account signing key)");
        assert!(status.success(), "openssl genrsa failed");

        let mut server = RealServer {
            url: String::new(),
            ca: dir.join("certs/apiserver.crt"),
            dir,
            tokens,
            children: Mutex::new(Vec::new()),
            etcd_url: String::new(),
            apiserver_args: Vec::new(),
        };
        server.start_etcd(&etcd);
        let port = free_port();
        server.url = format!("https://127.0.0.1:{port}");
        let mut args: Vec<String> = vec![
            format!("--etcd-servers={}", server.etcd_url),
            format!("--cert-dir={}", server.dir.join("certs").display()),
            format!("--secure-port={port}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            format!("--service-account-issuer={}", server.url),
            format!("--service-account-key-file={}", sa_key.display()),
            format!("--service-account-signing-key-file={}", sa_key.display()),
            "--authorization-mode=RBAC".into(),
            format!("--token-auth-file={}", token_file.display()),
            // Nothing here runs pods; the ServiceAccount admission would wait for a token controller.
            "--disable-admission-plugins=ServiceAccount".into(),
            "--enable-priority-and-fairness=true".into(),
        ];
        args.extend(options.apiserver_flags.iter().cloned());
        server.apiserver_args = args;
        server.start_apiserver(&apiserver);
        server.wait_ready();
        if !options.without_crds {
            server.install_crds();
        }
        if options.controllers {
            server.start_controllers();
        }
        server
    }

    /// kube-controller-manager as the administrator, with only the controllers a release needs
    /// (no HPA controller: there is no metrics API; no serving port, so servers can run side by
    /// side), and kube-scheduler the same way.
    fn start_controllers(&self) {
        let kubeconfig = self.dir.join("controller-manager.kubeconfig");
        std::fs::write(&kubeconfig, self.kubeconfig_text()).expect("kubeconfig");
        let args = vec![
            format!("--kubeconfig={}", kubeconfig.display()),
            "--leader-elect=false".into(),
            "--controllers=deployment-controller,replicaset-controller,statefulset-controller,job-controller,garbage-collector-controller".into(),
            "--secure-port=0".into(),
            "--concurrent-deployment-syncs=2".into(),
            "--concurrent-replicaset-syncs=2".into(),
        ];
        self.spawn(
            "kube-controller-manager",
            &binary("kube-controller-manager"),
            &args,
        );
        let args = vec![
            format!("--kubeconfig={}", kubeconfig.display()),
            "--leader-elect=false".into(),
            "--secure-port=0".into(),
        ];
        self.spawn("kube-scheduler", &binary("kube-scheduler"), &args);
    }

    fn spawn(&self, name: &str, program: &Path, args: &[String]) {
        let log = std::fs::File::create(self.dir.join(format!("{name}.log"))).expect("log file");
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        watchdog(child.id());
        self.children
            .lock()
            .expect("children")
            .push((name.to_string(), child));
    }

    fn start_etcd(&mut self, etcd: &Path) {
        let (client, peer) = (free_port(), free_port());
        self.etcd_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let args = vec![
            format!("--data-dir={}", self.dir.join("etcd").display()),
            format!("--listen-client-urls={}", self.etcd_url),
            format!("--advertise-client-urls={}", self.etcd_url),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster=default={peer_url}"),
            "--name=default".into(),
            // Test data: durability is not needed, and fsync on a shared disk is what is slow.
            "--unsafe-no-fsync".into(),
            "--log-level=warn".into(),
        ];
        self.spawn("etcd", etcd, &args);
    }

    fn start_apiserver(&self, apiserver: &Path) {
        self.spawn("kube-apiserver", apiserver, &self.apiserver_args);
    }

    /// Stops the API server (by PID) and keeps etcd: the state survives a restart.
    pub fn stop_apiserver(&self) {
        let mut children = self.children.lock().expect("children");
        for (name, child) in children.iter_mut() {
            if name == "kube-apiserver" {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        children.retain(|(name, _)| name != "kube-apiserver");
    }

    /// Starts the API server again with the same flags and waits until it is ready.
    pub fn restart_apiserver(&self) {
        self.start_apiserver(&binary("kube-apiserver"));
        self.wait_ready();
    }

    /// The name and PID of every process the server runs (etcd, kube-apiserver, …).
    pub fn pids(&self) -> Vec<(String, u32)> {
        let children = self.children.lock().expect("children");
        children
            .iter()
            .map(|(name, c)| (name.clone(), c.id()))
            .collect()
    }

    /// The PID of the running kube-apiserver (for tests that stop it mid-apply).
    pub fn apiserver_pid(&self) -> u32 {
        let children = self.children.lock().expect("children");
        children
            .iter()
            .find(|(name, _)| name == "kube-apiserver")
            .map(|(_, c)| c.id())
            .expect("kube-apiserver is running")
    }

    fn log(&self, name: &str) -> String {
        let text =
            std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default();
        let start = text.len().saturating_sub(6000);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text[start..].to_string()
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Ok((200, _)) = self.request(ADMIN, "GET", "/readyz", None, "") {
                return;
            }
            let exited = {
                let mut children = self.children.lock().expect("children");
                children
                    .iter_mut()
                    .find_map(|(name, c)| match c.try_wait() {
                        Ok(Some(status)) => Some(format!("{name} exited ({status})")),
                        _ => None,
                    })
            };
            if let Some(why) = exited {
                panic!(
                    "the real API server did not start: {why}\n--- etcd log\n{}\n--- kube-apiserver log\n{}",
                    self.log("etcd"),
                    self.log("kube-apiserver")
                );
            }
            assert!(
                Instant::now() < deadline,
                "kube-apiserver was not ready after 180 s\n--- log\n{}",
                self.log("kube-apiserver")
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The token of one of the users of the token file.
    pub fn token(&self, user: &str) -> &str {
        self.tokens
            .get(user)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no user {user}"))
    }

    /// A kubeconfig with contexts `dev-cluster`, `prod-cluster` and `other-cluster` (the
    /// administrator) and `pipeline` (the RBAC-limited user).
    pub fn kubeconfig_text(&self) -> String {
        let cluster = format!(
            "- name: real\n  cluster:\n    server: {}\n    certificate-authority: {}\n",
            self.url,
            self.ca.display()
        );
        let context = |name: &str, user: &str| {
            format!("- name: {name}\n  context:\n    cluster: real\n    user: {user}\n")
        };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n{cluster}contexts:\n{}{}{}{}current-context: other-cluster\nusers:\n- name: admin\n  user:\n    token: {}\n- name: pipeline\n  user:\n    token: {}\n",
            context("dev-cluster", "admin"),
            context("prod-cluster", "admin"),
            context("other-cluster", "admin"),
            context("pipeline", "pipeline"),
            self.token(ADMIN),
            self.token(PIPELINE),
        )
    }

    /// One request as `user` (through curl, so the harness needs no TLS client of its own).
    /// Returns the status code and body.
    pub fn request(
        &self,
        user: &str,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Result<(u16, String), String> {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "60", "-X", method])
            .arg("--cacert")
            .arg(&self.ca)
            .arg("-H")
            .arg(format!("Authorization: Bearer {}", self.token(user)))
            .args(["-w", "\n%{http_code}"]);
        if let Some(ct) = content_type {
            cmd.arg("-H").arg(format!("Content-Type: {ct}"));
            cmd.args(["--data-binary", "@-"]);
        }
        cmd.arg(format!("{}{path}", self.url));
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("curl: {e}"))?;
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            if content_type.is_some() {
                stdin
                    .write_all(body.as_bytes())
                    .map_err(|e| format!("curl stdin: {e}"))?;
            }
        }
        let out = child.wait_with_output().map_err(|e| format!("curl: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        let code = code
            .trim()
            .parse()
            .map_err(|_| format!("no status: {text}"))?;
        Ok((code, body.to_string()))
    }

    /// Starts a watch (`?watch=1&…`) as the administrator; every event goes to a file until
    /// [`Watch::stop`].
    pub fn watch(&self, path_and_query: &str) -> Watch {
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let file = self.dir.join(format!("watch-{n}.jsonl"));
        let out = std::fs::File::create(&file).expect("watch file");
        let child = Command::new("curl")
            .args(["-sSN", "--max-time", "600"])
            .arg("--cacert")
            .arg(&self.ca)
            .arg("-H")
            .arg(format!("Authorization: Bearer {}", self.token(ADMIN)))
            .arg(format!("{}{path_and_query}", self.url))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .expect("curl");
        watchdog(child.id());
        Watch { child, file }
    }

    /// A request that must succeed (2xx); returns the body as JSON.
    pub fn must(
        &self,
        user: &str,
        method: &str,
        path: &str,
        ct: Option<&str>,
        body: &str,
    ) -> Value {
        let (code, text) = self
            .request(user, method, path, ct, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert!(
            (200..300).contains(&code),
            "{method} {path} answered {code}: {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// GET an object as the administrator; `None` on 404.
    pub fn get(&self, path: &str) -> Option<Value> {
        let (code, text) = self
            .request(ADMIN, "GET", path, None, "")
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        match code {
            404 => None,
            200 => Some(serde_json::from_str(&text).expect("JSON")),
            _ => panic!("GET {path} answered {code}: {text}"),
        }
    }

    /// What `kubectl edit` of a few fields does: a merge patch by a person under manager
    /// `kubectl-edit`.
    pub fn kubectl_edit(&self, path: &str, patch: &Value) -> Value {
        self.must(
            PERSON,
            "PATCH",
            &format!("{path}?fieldManager=kubectl-edit"),
            Some("application/merge-patch+json"),
            &patch.to_string(),
        )
    }

    /// Server-side apply by another tool (field manager `manager`), not forced.
    pub fn apply_as(&self, manager: &str, path: &str, object: &Value) -> (u16, String) {
        self.request(
            ADMIN,
            "PATCH",
            &format!("{path}?fieldManager={manager}"),
            Some("application/apply-patch+yaml"),
            &object.to_string(),
        )
        .unwrap_or_else(|e| panic!("apply {path}: {e}"))
    }

    /// Installs the CRDs of tests/data/crds/ (server-side apply) and waits until each is
    /// established.
    pub fn install_crds(&self) {
        let dir = repo().join("tests/data/crds");
        let mut names = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("tests/data/crds")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("CRD file");
            let crd: Value = serde_saphyr::from_str(&text).expect("CRD YAML");
            let name = crd["metadata"]["name"]
                .as_str()
                .expect("CRD name")
                .to_string();
            self.must(
                ADMIN,
                "PATCH",
                &format!(
                    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}?fieldManager=test-setup&force=true"
                ),
                Some("application/apply-patch+yaml"),
                &crd.to_string(),
            );
            names.push(name);
        }
        for name in names {
            self.wait_established(&name);
        }
    }

    pub fn wait_established(&self, crd: &str) {
        let path = format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let established = self.get(&path).is_some_and(|c| {
                c["status"]["conditions"].as_array().is_some_and(|conds| {
                    conds
                        .iter()
                        .any(|c| c["type"] == "Established" && c["status"] == "True")
                })
            });
            if established {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "CRD {crd} not established after 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A running watch and the file its events go to.
pub struct Watch {
    child: Child,
    file: PathBuf,
}

impl Watch {
    /// Stops the watch (by PID) and returns its events (`{"type": …, "object": …}`).
    pub fn stop(mut self) -> Vec<Value> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("a watch event"))
            .collect()
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        if let Ok(mut children) = self.children.lock() {
            // The API server first, then its store.
            for (_, child) in children.iter_mut().rev() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Kills `pid` once this test process has exited: statics are never dropped, so the shared server
/// would otherwise outlive the test binary. SIGKILL: on SIGTERM, kube-apiserver shuts down
/// gracefully and waits for its etcd, which is being stopped at the same moment.
fn watchdog(pid: u32) {
    let me = std::process::id();
    let script = format!(
        "while kill -0 {me} 2>/dev/null && kill -0 {pid} 2>/dev/null; do sleep 1; done; kill -9 {pid} 2>/dev/null"
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
