//! Real git servers on loopback, started by the tests and benchmarks that need them and
//! stopped when dropped: smart HTTP over TLS (Debian's nginx and fcgiwrap in front of
//! git's own `git http-backend`, with basic auth and a certificate from a CA made for
//! the run) and SSH (Debian's `sshd` with a generated host key). Each server lives in
//! its own temporary folder; nothing outside it is touched but `/run/sshd`, which
//! `sshd` insists on.
//!
//! A missing program is a panic that names the Debian package: these tests never pass
//! by skipping.
//!
//! Besides the servers, [`commit_to_remote`] and [`read_file`] play the people who push
//! to and read the repositories behind them.

pub mod argo_workflows;
pub mod argocd;
pub mod hosts;
pub mod log;
pub mod postgres;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Commits `entries` (repository-relative paths and contents) straight onto `branch` of
/// the bare repository at `path`, as another person's push would. Creates the
/// repository and the branch when missing.
pub fn commit_to_remote(
    path: &Path,
    branch: &str,
    entries: &[(String, String)],
    message: &str,
) -> git2::Oid {
    let repo = git2::Repository::open_bare(path)
        .unwrap_or_else(|_| git2::Repository::init_bare(path).expect("init the remote"));
    let reference = format!("refs/heads/{branch}");
    // Again on the new tip when someone pushed meanwhile (the engine, in tests that
    // commit while releases run), as a person would pull and push again.
    loop {
        let parent = repo
            .refname_to_id(&reference)
            .ok()
            .map(|id| repo.find_commit(id).expect("the branch's commit"));
        let base = match &parent {
            Some(commit) => commit.tree().expect("its tree"),
            None => repo
                .find_tree(
                    repo.treebuilder(None)
                        .and_then(|b| b.write())
                        .expect("an empty tree"),
                )
                .expect("the empty tree"),
        };
        let mut builder = git2::build::TreeUpdateBuilder::new();
        for (file, content) in entries {
            let blob = repo.blob(content.as_bytes()).expect("write a blob");
            builder.upsert(file.as_str(), blob, git2::FileMode::Blob);
        }
        let tree = repo
            .find_tree(
                builder
                    .create_updated(&repo, &base)
                    .expect("build the tree"),
            )
            .expect("the new tree");
        let who = git2::Signature::now("Someone Else", "someone@example.com").expect("a signature");
        let parents: Vec<_> = parent.iter().collect();
        let id = repo
            .commit(None, &who, &who, message, &tree, &parents)
            .expect("commit");
        // Moved only from the parent we built on, under the ref's lock: a push landing
        // meanwhile is kept, never overwritten.
        let moved = match &parent {
            Some(parent) => repo.reference_matching(&reference, id, true, parent.id(), message),
            None => repo.reference(&reference, id, false, message),
        };
        match moved {
            Ok(_) => return id,
            Err(e)
                if matches!(
                    e.code(),
                    git2::ErrorCode::Modified | git2::ErrorCode::Exists | git2::ErrorCode::Locked
                ) =>
            {
                continue
            }
            Err(e) => panic!("move {reference}: {e}"),
        }
    }
}

/// The content of `file` on `branch` of the bare repository at `path`, if it is there.
pub fn read_file(path: &Path, branch: &str, file: &str) -> Option<String> {
    let repo = git2::Repository::open_bare(path).ok()?;
    let tip = repo.refname_to_id(&format!("refs/heads/{branch}")).ok()?;
    let tree = repo.find_commit(tip).ok()?.tree().ok()?;
    let entry = tree.get_path(Path::new(file)).ok()?;
    let blob = repo.find_blob(entry.id()).ok()?;
    Some(String::from_utf8_lossy(blob.content()).into_owned())
}

/// A CA and a certificate it signed for `127.0.0.1` and `localhost`.
pub struct Tls {
    _dir: tempfile::TempDir,
    /// The CA's certificate (PEM): what clients must trust.
    pub ca: PathBuf,
    pub certificate: PathBuf,
    pub key: PathBuf,
}

impl Tls {
    /// A new CA and server certificate.
    pub fn new() -> Tls {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = |name: &str| dir.path().join(name);
        let openssl = |args: &[&str]| run("openssl", "openssl", dir.path(), args);
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Promenade test CA",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            path("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .expect("write ext.cnf");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
        Tls {
            ca: path("ca.pem"),
            certificate: path("server.pem"),
            key: path("server.key"),
            _dir: dir,
        }
    }

    /// One CA for the whole process: libgit2 trusts CA files process-wide, so every
    /// server a test binary trusts is signed by this one.
    pub fn shared() -> &'static Tls {
        static SHARED: OnceLock<Tls> = OnceLock::new();
        SHARED.get_or_init(Tls::new)
    }
}

impl Default for Tls {
    fn default() -> Self {
        Self::new()
    }
}

/// git's smart HTTP protocol over TLS with basic auth: `https://127.0.0.1:PORT/git/…`
/// serves the bare repositories under `root`.
pub struct HttpsGitServer {
    dir: tempfile::TempDir,
    nginx: Child,
    fcgiwrap: Child,
    pub port: u16,
}

impl HttpsGitServer {
    /// Serves the repositories under `root` to `user` with `password`, with `tls`'s
    /// certificate.
    pub fn start(root: &Path, user: &str, password: &str, tls: &Tls) -> HttpsGitServer {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = |name: &str| dir.path().join(name);
        for temp in ["body", "fastcgi", "proxy", "uwsgi", "scgi"] {
            std::fs::create_dir_all(path("tmp").join(temp)).expect("temp folders");
        }
        let socket = path("fcgiwrap.sock");
        let fcgiwrap = spawn(
            Command::new(program("fcgiwrap", "fcgiwrap"))
                .args(["-c", "4", "-s"])
                .arg(format!("unix:{}", socket.display())),
        );
        wait_for(|| socket.exists(), "fcgiwrap's socket");
        // nginx's `{PLAIN}` scheme: the test's password as is.
        std::fs::write(path("htpasswd"), format!("{user}:{{PLAIN}}{password}\n"))
            .expect("write htpasswd");
        let port = free_port();
        let backend = git_http_backend();
        let temp = path("tmp");
        let as_root = if running_as_root() { "user root;" } else { "" };
        let config = format!(
            r#"{as_root}
daemon off;
worker_processes 1;
pid {pid};
error_log {error_log} warn;
events {{ worker_connections 64; }}
http {{
  log_format timed '$msec $request_method $uri $status $request_time $upstream_response_time';
  access_log {access_log} timed;
  client_body_temp_path {temp}/body;
  fastcgi_temp_path {temp}/fastcgi;
  proxy_temp_path {temp}/proxy;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {certificate};
    ssl_certificate_key {key};
    location ~ ^/git(/.*)$ {{
      auth_basic "git";
      auth_basic_user_file {htpasswd};
      client_max_body_size 0;
      fastcgi_pass unix:{socket};
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME {backend};
      fastcgi_param GIT_HTTP_EXPORT_ALL "";
      fastcgi_param GIT_PROJECT_ROOT {root};
      fastcgi_param PATH_INFO $1;
      fastcgi_param REMOTE_USER $remote_user;
    }}
  }}
}}
"#,
            pid = path("nginx.pid").display(),
            error_log = path("error.log").display(),
            access_log = path("access.log").display(),
            temp = temp.display(),
            certificate = tls.certificate.display(),
            key = tls.key.display(),
            htpasswd = path("htpasswd").display(),
            socket = socket.display(),
            backend = backend.display(),
            root = root.display(),
        );
        std::fs::write(path("nginx.conf"), config).expect("write nginx.conf");
        let nginx = spawn(
            Command::new(program("nginx", "nginx"))
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(path("nginx.conf"))
                .arg("-e")
                .arg(path("error.log")),
        );
        wait_for_port(port, "nginx");
        HttpsGitServer {
            dir,
            nginx,
            fcgiwrap,
            port,
        }
    }

    /// The URL of the repository `name` (a folder under the served root).
    pub fn url(&self, name: &str) -> String {
        format!("https://127.0.0.1:{}/git/{name}", self.port)
    }

    /// nginx's access log: per request, when it ended (epoch seconds), method, path,
    /// status, its time and the time `git http-backend` took.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// nginx's error log, for failure messages.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for HttpsGitServer {
    fn drop(&mut self) {
        stop(&mut self.nginx);
        stop(&mut self.fcgiwrap);
    }
}

/// git over SSH: `ssh://USER@127.0.0.1:PORT/<absolute path>` for the user running the
/// tests, who logs in with [`SshGitServer::client_key`].
pub struct SshGitServer {
    dir: tempfile::TempDir,
    sshd: Child,
    pub port: u16,
    user: String,
}

impl SshGitServer {
    pub fn start() -> SshGitServer {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = |name: &str| dir.path().join(name);
        keygen(&path("host_key"));
        keygen(&path("client_key"));
        std::fs::copy(path("client_key.pub"), path("authorized_keys")).expect("authorized_keys");
        if running_as_root() {
            // sshd's privilege separation folder.
            std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        }
        let user = current_user();
        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {pid}\n\
             AuthorizedKeysFile {authorized}\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
             PermitRootLogin prohibit-password\nAllowUsers {user}\nLogLevel ERROR\n",
            host_key = path("host_key").display(),
            pid = path("sshd.pid").display(),
            authorized = path("authorized_keys").display(),
        );
        std::fs::write(path("sshd_config"), config).expect("write sshd_config");
        let sshd = spawn(
            Command::new(program("sshd", "openssh-server"))
                .args(["-D", "-e", "-f"])
                .arg(path("sshd_config")),
        );
        wait_for_port(port, "sshd");
        SshGitServer {
            dir,
            sshd,
            port,
            user,
        }
    }

    /// The URL of the bare repository at `path` on this machine.
    pub fn url(&self, path: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            path.display()
        )
    }

    /// The private key that logs in (OpenSSH format).
    pub fn client_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("client_key")).expect("client key")
    }

    /// The server's host key as a `known_hosts` line.
    pub fn known_hosts(&self) -> String {
        let public =
            std::fs::read_to_string(self.dir.path().join("host_key.pub")).expect("host key");
        let mut fields = public.split_whitespace();
        let (kind, key) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        format!("[127.0.0.1]:{} {kind} {key}\n", self.port)
    }

    /// A `known_hosts` line for this server with some other key: what a client sees
    /// after the server's key changed (or when someone is in the middle).
    pub fn other_known_hosts(&self) -> String {
        let other = self.dir.path().join("other_key");
        if !other.exists() {
            keygen(&other);
        }
        let public = std::fs::read_to_string(other.with_extension("pub")).expect("other key");
        let mut fields = public.split_whitespace();
        let (kind, key) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        format!("[127.0.0.1]:{} {kind} {key}\n", self.port)
    }
}

impl Drop for SshGitServer {
    fn drop(&mut self) {
        stop(&mut self.sshd);
    }
}

fn keygen(path: &Path) {
    let output = Command::new(program("ssh-keygen", "openssh-client"))
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "promenade-test",
            "-f",
        ])
        .arg(path)
        .output()
        .expect("run ssh-keygen");
    assert!(output.status.success(), "ssh-keygen failed: {output:?}");
}

fn git_http_backend() -> PathBuf {
    let exec_path = Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("git is installed");
    let candidate =
        PathBuf::from(String::from_utf8_lossy(&exec_path.stdout).trim()).join("git-http-backend");
    if candidate.is_file() {
        candidate
    } else {
        PathBuf::from("/usr/lib/git-core/git-http-backend")
    }
}

/// The program, or a panic naming the Debian package that has it.
fn program(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is missing: install Debian's {package} (scripts/bootstrap does)")
        })
}

fn run(name: &str, package: &str, dir: &Path, args: &[&str]) {
    let output = Command::new(program(name, package))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    assert!(
        output.status.success(),
        "{name} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Starts a server in a process group of its own, so [`stop`] ends its children too
/// (nginx's workers, fcgiwrap's preforked ones, sshd's sessions).
fn spawn(command: &mut Command) -> Child {
    use std::os::unix::process::CommandExt;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"))
}

fn stop(child: &mut Child) {
    // The group's id is its leader's pid: the server's, from `spawn`.
    if let Ok(group) = libc::pid_t::try_from(child.id()) {
        // SAFETY: signals a process group this test started; no memory is involved.
        unsafe { libc::kill(-group, libc::SIGKILL) };
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for(ready: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not come up in 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for_port(port: u16, what: &str) {
    wait_for(|| TcpStream::connect(("127.0.0.1", port)).is_ok(), what);
}

fn running_as_root() -> bool {
    current_user() == "root"
}

fn current_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            Command::new("id")
                .arg("-un")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        })
        .unwrap_or_else(|| "root".into())
}

/// A loopback listener on `address` (`127.0.0.1:0` for any free port) and its root URL,
/// for the fakes of hosted APIs.
pub(crate) async fn listen(address: &str) -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {address}: {e}"));
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    (listener, url)
}

/// Serves `router` on `listener` until the task is aborted.
pub(crate) fn serve_router(
    listener: tokio::net::TcpListener,
    router: axum::Router,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        axum::serve(listener, router)
            .await
            .expect("the fake serves");
    })
}

/// A Kubernetes-style list as the Argo APIs answer it: `items` is `null`, not `[]`, when
/// there is none.
pub(crate) fn kubernetes_list(items: Vec<serde_json::Value>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let items = if items.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::Value::from(items)
    };
    axum::Json(serde_json::json!({ "metadata": { "resourceVersion": "1" }, "items": items }))
        .into_response()
}
