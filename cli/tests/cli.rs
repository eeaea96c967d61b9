//! The `promenade` binary as a user runs it: a real server process on a free port, and
//! client commands against it; on SQLite in the data folder, or on a fresh PostgreSQL
//! database per data folder with `PROMENADE_TEST_DATABASE=postgres`.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_promenade");

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static DATABASES: Mutex<Option<HashMap<PathBuf, Option<String>>>> = Mutex::new(None);

/// The database of the installation in `data`: the same for every command run on it.
fn database(data: &Path) -> Option<String> {
    let mut databases = DATABASES.lock().unwrap();
    databases
        .get_or_insert_with(HashMap::new)
        .entry(data.to_path_buf())
        .or_insert_with(promenade_testkit::postgres::test_database_url)
        .clone()
}

fn promenade(data: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("PROMENADE_DATA_DIR", data)
        // Contexts of this installation only, never the user's.
        .env("PROMENADE_CONFIG", data.join("cli-config.yaml"))
        .env_remove("PROMENADE_CONTEXT")
        .env_remove("PROMENADE_TOKEN")
        .env_remove("PROMENADE_SERVER");
    match database(data) {
        Some(url) => command.env("DATABASE_URL", url),
        None => command.env_remove("DATABASE_URL"),
    };
    command
}

/// Creates a token with the local administration command and returns its secret.
fn token(data: &Path, name: &str, role: &str) -> String {
    let created = run(data, None, &["tokens", "create", name, "--role", role]);
    assert!(created.status.success(), "{}", text(&created));
    String::from_utf8_lossy(&created.stdout).trim().to_string()
}

fn run(data: &Path, server: Option<&Server>, args: &[&str]) -> Output {
    let mut command = promenade(data, args);
    if let Some(server) = server {
        command.env("PROMENADE_SERVER", &server.url);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Starts `promenade serve` on a free port with `extra` flags; its log (at `RUST_LOG`'s
/// level, `warn` by default) goes to `log` when given.
fn serve_with(data: &Path, extra: &[&str], log: Option<(&Path, &str)>) -> Server {
    serve_at(data, free_port(), extra, log)
}

/// [`serve_with`] on `port`.
fn serve_at(data: &Path, port: u16, extra: &[&str], log: Option<(&Path, &str)>) -> Server {
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--addr", &addr, "--poll-interval", "0s"];
    args.extend_from_slice(extra);
    let mut command = promenade(data, &args);
    command.stdout(Stdio::null());
    match log {
        Some((file, level)) => {
            command
                .env("RUST_LOG", level)
                .stderr(std::fs::File::create(file).unwrap());
        }
        None => {
            command.env("RUST_LOG", "warn").stderr(Stdio::null());
        }
    }
    let child = command.spawn().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, url }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The whole answer, head and body, to a plain GET on loopback.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// The server the demo runs on: its repository is on this disk.
fn serve(data: &Path) -> Server {
    serve_with(data, &["--allow-local-repositories"], None)
}

#[test]
fn version_and_help_describe_the_binary() {
    let data = tempfile::tempdir().unwrap();
    let version = run(data.path(), None, &["--version"]);
    assert!(version.status.success());
    assert_eq!(
        text(&version).trim(),
        format!("promenade {}", env!("CARGO_PKG_VERSION"))
    );
    let help = text(&run(data.path(), None, &["--help"]));
    for command in ["serve", "validate", "apply", "promote", "releases", "demo"] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
}

#[test]
fn validate_reports_every_problem_with_file_line_and_column() {
    let data = tempfile::tempdir().unwrap();
    let bad = data.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: promenade.dev/v1alpha1\nkind: PromotionFlow\nmetadata: { name: f }\nspec:\n  triggerEnvironment: dev\n  steps:\n    - { environment: qa, dependsOn: [nowhere] }\n",
    )
    .unwrap();
    let output = run(
        data.path(),
        None,
        &["validate", "-f", bad.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let report = text(&output);
    let first = report.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("{}:", bad.display())),
        "{report}"
    );
    let position: Vec<&str> = first.splitn(4, ':').collect();
    assert!(position[1].parse::<usize>().unwrap() >= 5, "{first}");
    assert!(position[2].parse::<usize>().is_ok(), "{first}");

    let json = run(
        data.path(),
        None,
        &["validate", "-f", bad.to_str().unwrap(), "-o", "json"],
    );
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(!value["diagnostics"].as_array().unwrap().is_empty());
}

#[test]
fn a_newcomer_sets_up_the_demo_previews_and_promotes_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let demo = run(data.path(), None, &["demo"]);
    assert!(demo.status.success(), "{}", text(&demo));
    assert!(text(&demo).contains("demo created"));
    let again = run(data.path(), None, &["demo"]);
    assert!(text(&again).contains("already set up"));

    let valid = run(
        data.path(),
        None,
        &["validate", "-f", data.path().join("demo").to_str().unwrap()],
    );
    assert!(valid.status.success(), "{}", text(&valid));
    assert!(text(&valid).contains("0 errors"), "{}", text(&valid));

    let metrics_port = free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let server = serve_with(
        data.path(),
        &[
            "--allow-local-repositories",
            "--metrics-addr",
            &metrics_addr,
        ],
        None,
    );
    let preview = run(
        data.path(),
        Some(&server),
        &["preview", "shop", "--to", "qa"],
    );
    assert!(preview.status.success(), "{}", text(&preview));
    let preview = text(&preview);
    assert!(
        preview
            .contains("diff --git a/apps/web/envs/qa/values.yaml b/apps/web/envs/qa/values.yaml"),
        "{preview}"
    );
    assert!(preview.contains("+  tag: \"1.5.0\""), "{preview}");

    let promote = run(
        data.path(),
        Some(&server),
        &["promote", "shop", "--to", "qa", "--wait", "-m", "first"],
    );
    assert_eq!(promote.status.code(), Some(0), "{}", text(&promote));
    // Not on a terminal: one line per state change of the step as it happens, then the
    // release.
    let followed = String::from_utf8_lossy(&promote.stdout);
    let qa: Vec<&str> = followed
        .lines()
        .filter(|l| l.starts_with("  qa: "))
        .collect();
    assert!(qa.len() >= 2, "{followed}");
    assert_eq!(qa.last(), Some(&"  qa: succeeded"), "{followed}");
    assert!(followed.contains("succeeded"));

    // What a scraper on the metrics address sees, without a token.
    let metrics = http_get(metrics_port, "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    for series in [
        "promenade_releases_started_total{product=\"shop\"} 1",
        "promenade_releases_ended_total{product=\"shop\",outcome=\"succeeded\"} 1",
        "promenade_step_duration_seconds_count{environment=\"qa\",action=\"commit\",outcome=\"succeeded\"} 1",
    ] {
        assert!(metrics.contains(series), "{series} missing from:\n{metrics}");
    }

    let status = run(
        data.path(),
        Some(&server),
        &["status", "shop", "-o", "json"],
    );
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["applications"][0]["cells"]["qa"]["version"], "1.5.0");

    // Scripts read names, YAML or JSON.
    let names = run(
        data.path(),
        Some(&server),
        &["get", "environments", "-o", "name"],
    );
    let names = String::from_utf8_lossy(&names.stdout).to_string();
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "Environment/dev",
            "Environment/prod",
            "Environment/qa",
            "Environment/staging-eu",
            "Environment/staging-us"
        ]
    );
    let ids = run(data.path(), Some(&server), &["releases", "-o", "name"]);
    let listed = run(data.path(), Some(&server), &["releases", "-o", "json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ids.stdout),
        format!("{}\n", listed[0]["id"].as_str().unwrap())
    );
    let yaml = run(
        data.path(),
        Some(&server),
        &["status", "shop", "-o", "yaml"],
    );
    let yaml: serde_json::Value = serde_yaml_ng::from_slice(&yaml.stdout).unwrap();
    assert_eq!(yaml["applications"][0]["cells"]["qa"]["version"], "1.5.0");

    let releases = text(&run(data.path(), Some(&server), &["releases"]));
    assert!(
        releases.contains("succeeded") && releases.contains("first"),
        "{releases}"
    );

    // A token with too little power is refused by the server.
    let reader = token(data.path(), "reader", "viewer");
    let refused = run(
        data.path(),
        Some(&server),
        &["--token", &reader, "promote", "shop", "--to", "qa"],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused).contains("promoter role"),
        "{}",
        text(&refused)
    );
}

/// Sets up the demo in `data` and writes a policy asking a release manager's approval
/// before qa, to be applied: its path.
fn demo_with_qa_approval(data: &Path) -> PathBuf {
    assert!(run(data, None, &["demo"]).status.success());
    let policy = data.join("qa-approval.yaml");
    std::fs::write(
        &policy,
        promenade_engine::demo::approval_policy("qa", "{ roles: [release-manager] }"),
    )
    .unwrap();
    policy
}

#[test]
fn a_release_waiting_at_an_approval_gate_is_approved_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let policy = demo_with_qa_approval(data.path());
    let server = serve(data.path());
    let applied = run(
        data.path(),
        Some(&server),
        &["apply", "-f", policy.to_str().unwrap()],
    );
    assert!(applied.status.success(), "{}", text(&applied));

    let id = promote_to_qa(data.path(), &server);
    let show = || text(&run(data.path(), Some(&server), &["releases", &id]));
    until_shown(
        &show,
        "gate: waiting for approval: 0 of 1 (release-manager)",
    );
    // Four eyes: the administrator token started the release, so it may not approve it.
    let own = run(data.path(), Some(&server), &["approve", &id, "qa"]);
    assert_eq!(own.status.code(), Some(1), "{}", text(&own));
    assert!(text(&own).contains("four eyes"), "{}", text(&own));
    let rita = token(data.path(), "rita", "release-manager");
    let approved = run(
        data.path(),
        Some(&server),
        &["--token", &rita, "approve", &id, "qa"],
    );
    assert!(approved.status.success(), "{}", text(&approved));
    assert!(
        text(&approved).contains("approved by rita"),
        "{}",
        text(&approved)
    );
    until_shown(&show, "succeeded");
    let again = run(data.path(), Some(&server), &["approve", &id, "qa"]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(
        text(&again).contains("not waiting for an approval"),
        "{}",
        text(&again)
    );
}

/// Runs a client command with `stdin` piped in.
fn run_with_input(data: &Path, server: &Server, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = promenade(data, args)
        .env("PROMENADE_SERVER", &server.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn credentials_are_managed_from_the_command_line_and_their_secrets_appear_nowhere() {
    const FIRST: &str = "ghp-cli-first-7a61f0";
    const SECOND: &str = "ghp-cli-second-d2e94b";
    let data = tempfile::tempdir().unwrap();
    let demo = run(data.path(), None, &["demo"]);
    assert!(demo.status.success(), "{}", text(&demo));
    // Without --allow-local-repositories, and logging everything at debug level.
    let log = data.path().join("server.log");
    let server = serve_with(data.path(), &[], Some((&log, "debug")));

    let created = run_with_input(
        data.path(),
        &server,
        &[
            "credentials",
            "create",
            "github-acme",
            "--kind",
            "https",
            "--username",
            "x-access-token",
        ],
        &format!("{FIRST}\n"),
    );
    assert!(created.status.success(), "{}", text(&created));
    let secret_file = data.path().join("token.txt");
    std::fs::write(&secret_file, format!("{SECOND}\n")).unwrap();
    let rotated = run(
        data.path(),
        Some(&server),
        &[
            "credentials",
            "rotate",
            "github-acme",
            "--secret-file",
            secret_file.to_str().unwrap(),
        ],
    );
    assert!(rotated.status.success(), "{}", text(&rotated));
    let missing_user = run_with_input(
        data.path(),
        &server,
        &["credentials", "create", "other", "--kind", "https"],
        "x",
    );
    assert_eq!(missing_user.status.code(), Some(1));
    assert!(
        text(&missing_user).contains("username"),
        "{}",
        text(&missing_user)
    );

    let listed = run(data.path(), Some(&server), &["credentials", "list"]);
    let table = text(&listed);
    assert!(
        table.contains("github-acme") && table.contains("https"),
        "{table}"
    );
    let json = text(&run(
        data.path(),
        Some(&server),
        &["credentials", "list", "-o", "json"],
    ));
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed[0]["rotatedBy"], "admin");

    // The demo's local repository is refused by this server, naming the rule.
    let resources = data.path().join("demo").join("resources.yaml");
    let refused = run(
        data.path(),
        Some(&server),
        &["apply", "-f", resources.to_str().unwrap()],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused).contains("--allow-local-repositories"),
        "{}",
        text(&refused)
    );

    let settings = run(
        data.path(),
        Some(&server),
        &["settings", "--allow-insecure-remotes", "true"],
    );
    assert!(
        text(&settings).contains("allow-insecure-remotes: true"),
        "{}",
        text(&settings)
    );

    let deleted = run(
        data.path(),
        Some(&server),
        &["credentials", "delete", "github-acme"],
    );
    assert!(deleted.status.success(), "{}", text(&deleted));

    // Every step is in the audit trail, newest first, and in the server's log.
    let trail = run(data.path(), Some(&server), &["audit", "-o", "json"]);
    assert!(trail.status.success(), "{}", text(&trail));
    let trail: serde_json::Value = serde_json::from_str(&text(&trail)).unwrap();
    let actions: Vec<(&str, &str)> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["object"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions[..4],
        [
            ("credentials-deleted", "github-acme"),
            ("settings-changed", "allowInsecureRemotes"),
            ("credentials-rotated", "github-acme"),
            ("credentials-created", "github-acme"),
        ]
    );
    let rotations = text(&run(
        data.path(),
        Some(&server),
        &["audit", "--action", "credentials-rotated"],
    ));
    assert!(
        rotations.contains("token admin") && rotations.contains("github-acme"),
        "{rotations}"
    );
    drop(server);

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("DEBUG"), "the log is at debug level");
    assert!(
        logged.contains("promenade::audit") && logged.contains("credentials-rotated"),
        "audit entries are logged"
    );
    for secret in [FIRST, SECOND] {
        assert!(!table.contains(secret) && !json.contains(secret));
        assert!(!logged.contains(secret), "{secret} is in the server log");
        for file in ["promenade.db", "promenade.db-wal"] {
            if let Ok(bytes) = std::fs::read(data.path().join(file)) {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{secret} is in {file}"
                );
            }
        }
    }
}

#[test]
fn import_argocd_prints_a_product_to_review_and_applies_nothing() {
    const TOKEN: &str = "argocd-cli-token-5c1e";
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let argo = runtime.block_on(promenade_testkit::argocd::FakeArgoCd::start(
        TOKEN,
        data.path(),
    ));
    let label = [("promenade.dev/product", "market")];
    for env in ["dev", "qa", "prod"] {
        argo.register(
            &format!("orders-{env}"),
            &format!("orders/{env}"),
            &label,
            &[],
        );
    }
    let demo = run(data.path(), None, &["demo"]);
    assert!(demo.status.success(), "{}", text(&demo));
    // The stand-in listens on loopback, which only an allow-list opens.
    let server = serve_with(
        data.path(),
        &[
            "--allow-local-repositories",
            "--allow-outbound",
            "127.0.0.1",
        ],
        None,
    );
    let created = run_with_input(
        data.path(),
        &server,
        &["credentials", "create", "argocd", "--kind", "token"],
        &format!("{TOKEN}\n"),
    );
    assert!(created.status.success(), "{}", text(&created));

    let import = |selector: &str| {
        run(
            data.path(),
            Some(&server),
            &[
                "import",
                "argocd",
                "--argocd-server",
                &argo.url,
                "--credentials",
                "argocd",
                "--selector",
                selector,
            ],
        )
    };
    let imported = import("promenade.dev/product=market");
    assert!(imported.status.success(), "{}", text(&imported));
    let yaml = String::from_utf8_lossy(&imported.stdout).to_string();
    assert!(
        yaml.starts_with("# Proposed from 3 Argo CD Application(s)"),
        "{yaml}"
    );
    assert!(yaml.contains("kind: Product"), "{yaml}");
    assert!(yaml.contains("name: market"), "{yaml}");
    assert!(yaml.contains("path: orders/{env}"), "{yaml}");
    assert!(yaml.contains("application: orders-{env}"), "{yaml}");
    assert!(!yaml.contains(TOKEN));
    let products = run(data.path(), Some(&server), &["get", "products"]);
    assert!(!text(&products).contains("market"), "{}", text(&products));

    let nothing = import("promenade.dev/product=nothing");
    assert!(!nothing.status.success());
    assert!(
        text(&nothing).contains("no Argo CD Application carries promenade.dev/product=nothing"),
        "{}",
        text(&nothing)
    );
}

#[test]
fn passwd_sets_a_password_and_retires_the_first_start_password_file() {
    let data = tempfile::tempdir().unwrap();
    // The first start writes the administrator's password file.
    drop(serve(data.path()));
    let first_start = data.path().join("admin-password");
    assert!(first_start.is_file());
    let passwd = |name: &str, password: &str| {
        use std::io::Write;
        let mut child = promenade(data.path(), &["users", "passwd", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let short = passwd("admin", "short");
    assert!(!short.status.success());
    assert!(
        text(&short).contains("at least 12 characters"),
        "{}",
        text(&short)
    );
    assert!(first_start.is_file(), "a refused change keeps the file");
    let nobody = passwd("nobody", "a long enough password");
    assert!(!nobody.status.success());
    assert!(text(&nobody).contains("no user named"), "{}", text(&nobody));
    let changed = passwd("admin", "a long enough password");
    assert!(changed.status.success(), "{}", text(&changed));
    assert!(!first_start.exists(), "the first-start password is gone");
}

#[test]
fn store_copy_moves_an_installation_into_an_empty_database_only() {
    let data = tempfile::tempdir().unwrap();
    let source = format!("sqlite:{}/source.db", data.path().display());
    let target = format!("sqlite:{}/target.db", data.path().display());
    let demo = run(data.path(), None, &["--database-url", &source, "demo"]);
    assert!(demo.status.success(), "{}", text(&demo));

    let copy = [
        "store",
        "copy",
        "--from",
        source.as_str(),
        "--to",
        target.as_str(),
    ];
    let copied = run(data.path(), None, &copy);
    assert!(copied.status.success(), "{}", text(&copied));
    let report = text(&copied);
    assert!(
        report.contains("resources") && report.contains("copied; start the server"),
        "{report}"
    );
    let resources = report
        .lines()
        .find(|line| line.starts_with("resources "))
        .and_then(|line| line.split_whitespace().nth(1)?.parse::<u32>().ok());
    assert!(resources.is_some_and(|n| n >= 5), "{report}");

    let again = run(data.path(), None, &copy);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("not empty"), "{}", text(&again));
    let missing = run(
        data.path(),
        None,
        &[
            "store",
            "copy",
            "--from",
            "sqlite:/no/such.db",
            "--to",
            &target,
        ],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing).contains("/no/such.db does not exist"),
        "{}",
        text(&missing)
    );
}

#[test]
fn schema_prints_the_committed_json_schemas_offline() {
    let data = tempfile::tempdir().unwrap();
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schema");
    for (argument, file) in [
        (Some("environments"), "environment.json"),
        (Some("PromotionFlow"), "promotionflow.json"),
        (None, "resources.json"),
    ] {
        let mut args = vec!["schema"];
        args.extend(argument);
        let output = run(data.path(), None, &args);
        assert!(output.status.success(), "{}", text(&output));
        let committed = std::fs::read_to_string(docs.join(file)).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            committed,
            "{args:?}"
        );
    }
    let unknown = run(data.path(), None, &["schema", "pipelines"]);
    assert_eq!(unknown.status.code(), Some(1), "{}", text(&unknown));
    assert!(
        text(&unknown).contains("no resource kind \"pipelines\""),
        "{}",
        text(&unknown)
    );
}

#[test]
fn healthcheck_says_whether_the_local_server_is_up_and_ready() {
    let data = tempfile::tempdir().unwrap();
    let server = serve(data.path());
    let addr = server.url.trim_start_matches("http://").to_string();
    let port = addr.rsplit(':').next().unwrap().to_string();
    // As the container image runs it: `PROMENADE_ADDR` is the unspecified address.
    for args in [
        vec!["healthcheck", "--addr", addr.as_str()],
        vec!["healthcheck", "--ready", "--addr", addr.as_str()],
    ] {
        let output = run(data.path(), None, &args);
        assert!(output.status.success(), "{args:?}: {}", text(&output));
    }
    let unspecified = promenade(data.path(), &["healthcheck", "--ready"])
        .env("PROMENADE_ADDR", format!("0.0.0.0:{port}"))
        .output()
        .unwrap();
    assert!(unspecified.status.success(), "{}", text(&unspecified));
    assert!(text(&unspecified).contains(&format!("http://127.0.0.1:{port}/readyz: 200")));
    drop(server);

    let down = run(data.path(), None, &["healthcheck", "--addr", addr.as_str()]);
    assert_eq!(down.status.code(), Some(1), "{}", text(&down));
    assert!(text(&down).contains("/healthz"), "{}", text(&down));
}

#[test]
fn completion_scripts_complete_the_commands_in_bash_zsh_and_fish() {
    let data = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = run(data.path(), None, &["completion", shell]);
        assert!(output.status.success(), "{shell}: {}", text(&output));
        let script = String::from_utf8_lossy(&output.stdout);
        for command in ["promote", "releases", "credentials", "schema"] {
            assert!(script.contains(command), "{shell} does not offer {command}");
        }
    }
    // bash itself loads the script and completes a subcommand.
    let script = data.path().join("promenade.bash");
    std::fs::write(
        &script,
        run(data.path(), None, &["completion", "bash"]).stdout,
    )
    .unwrap();
    let completed = Command::new("bash")
        .arg("-c")
        .arg(format!(
            r#"source {}
COMP_WORDS=(promenade prom); COMP_CWORD=1; COMP_LINE="promenade prom"; COMP_POINT=${{#COMP_LINE}}
"$(complete -p promenade | sed -E 's/.* -F ([^ ]+) .*/\1/')" promenade prom promenade
printf '%s\n' "${{COMPREPLY[@]}}""#,
            script.display()
        ))
        .output()
        .unwrap();
    assert!(completed.status.success(), "{}", text(&completed));
    assert_eq!(
        String::from_utf8_lossy(&completed.stdout).trim(),
        "promote",
        "{}",
        text(&completed)
    );
}

#[test]
fn promote_wait_follows_a_release_across_a_server_restart() {
    let data = tempfile::tempdir().unwrap();
    let policy = demo_with_qa_approval(data.path());
    let port = free_port();
    let flags = ["--allow-local-repositories"];
    let server = serve_at(data.path(), port, &flags, None);
    let approver = token(data.path(), "approver", "release-manager");
    let applied = run(
        data.path(),
        Some(&server),
        &["apply", "-f", policy.to_str().unwrap()],
    );
    assert!(applied.status.success(), "{}", text(&applied));

    let follower = promenade(data.path(), &["promote", "shop", "--to", "qa", "--wait"])
        .env("PROMENADE_SERVER", &server.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The release waits for its approval.
    let deadline = Instant::now() + Duration::from_secs(20);
    let id = loop {
        let listed = run(data.path(), Some(&server), &["releases", "-o", "json"]);
        let releases: serde_json::Value =
            serde_json::from_slice(&listed.stdout).unwrap_or_default();
        if let Some(id) = releases[0]["id"].as_str() {
            let shown = run(data.path(), Some(&server), &["releases", id, "-o", "json"]);
            let release: serde_json::Value =
                serde_json::from_slice(&shown.stdout).unwrap_or_default();
            let qa = &release["steps"][0];
            if qa["status"] == "gating" && qa["detail"]["gates"][0]["status"] == "waiting" {
                break id.to_string();
            }
        }
        assert!(Instant::now() < deadline, "no release waits at qa's gate");
        std::thread::sleep(Duration::from_millis(100));
    };

    // The server goes away while the release waits, and comes back on the same address.
    drop(server);
    std::thread::sleep(Duration::from_millis(1500));
    let server = serve_at(data.path(), port, &flags, None);
    let approved = run(
        data.path(),
        Some(&server),
        &["--token", &approver, "approve", &id, "qa"],
    );
    assert!(approved.status.success(), "{}", text(&approved));

    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || done_tx.send(follower.wait_with_output().unwrap()));
    let followed = done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("promote --wait did not end");
    assert_eq!(followed.status.code(), Some(0), "{}", text(&followed));
    let stdout = String::from_utf8_lossy(&followed.stdout);
    assert!(stdout.contains("  qa: succeeded"), "{stdout}");
    assert_eq!(
        stdout.matches("  qa: succeeded").count(),
        1,
        "no event shown twice: {stdout}"
    );
    assert!(
        String::from_utf8_lossy(&followed.stderr).contains("reconnecting"),
        "{}",
        text(&followed)
    );
}

#[test]
fn diff_shows_what_apply_would_change_and_exits_like_diff() {
    let data = tempfile::tempdir().unwrap();
    assert!(run(data.path(), None, &["demo"]).status.success());
    let server = serve(data.path());
    let folder = data.path().join("demo");
    let files = folder.to_str().unwrap();

    let same = run(data.path(), Some(&server), &["diff", "-f", files]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    assert!(
        String::from_utf8_lossy(&same.stdout).ends_with("0 to create, 0 to change, 9 unchanged\n"),
        "{}",
        text(&same)
    );

    let resources = folder.join("resources.yaml");
    let yaml = std::fs::read_to_string(&resources).unwrap();
    let labelled = yaml.replacen(
        "metadata: { name: qa }",
        "metadata: { name: qa, labels: { tier: test } }",
        1,
    );
    assert_ne!(labelled, yaml);
    std::fs::write(&resources, labelled).unwrap();
    std::fs::write(
        folder.join("perf.yaml"),
        "apiVersion: promenade.dev/v1alpha1\nkind: Environment\nmetadata: { name: perf }\nspec: { kind: non-prod }\n",
    )
    .unwrap();
    let differ = run(data.path(), Some(&server), &["diff", "-f", files]);
    assert_eq!(differ.status.code(), Some(1), "{}", text(&differ));
    let shown = String::from_utf8_lossy(&differ.stdout);
    assert!(shown.contains("b/Environment/qa"), "{shown}");
    assert!(shown.contains("+  labels:\n+    tier: test\n"), "{shown}");
    assert!(shown.contains("b/Environment/perf"), "{shown}");
    assert!(
        shown.ends_with("1 to create, 1 to change, 8 unchanged\n"),
        "{shown}"
    );
    let json = run(
        data.path(),
        Some(&server),
        &["diff", "-f", files, "-o", "json"],
    );
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    // Files in name order: perf.yaml, then resources.yaml.
    let changes: Vec<(String, String)> = json
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["change"] != "unchanged")
        .map(|d| {
            (
                d["name"].as_str().unwrap().into(),
                d["change"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("perf".to_string(), "created".to_string()),
            ("qa".into(), "changed".into())
        ]
    );
    // Nothing was applied.
    let again = run(
        data.path(),
        Some(&server),
        &["get", "environments", "-o", "name"],
    );
    assert!(!String::from_utf8_lossy(&again.stdout).contains("perf"));

    std::fs::write(folder.join("broken.yaml"), "kind: Environment\nspec: [\n").unwrap();
    let broken = run(data.path(), Some(&server), &["diff", "-f", files]);
    assert_eq!(broken.status.code(), Some(2), "{}", text(&broken));
}

#[test]
fn contexts_point_client_commands_at_a_server_with_a_token_file() {
    let data = tempfile::tempdir().unwrap();
    assert!(run(data.path(), None, &["demo"]).status.success());
    let server = serve(data.path());
    let secret = token(data.path(), "reader", "viewer");
    let token_file = data.path().join("reader.token");
    std::fs::write(&token_file, format!("{secret}\n")).unwrap();
    let token_path = token_file.to_str().unwrap();

    let none = run(data.path(), None, &["context", "list"]);
    assert_eq!(text(&none).trim(), "CURRENT  NAME  SERVER  TOKEN FILE");
    let added = run(
        data.path(),
        None,
        &[
            "context",
            "add",
            "local",
            "--server",
            &server.url,
            "--token-file",
            token_path,
        ],
    );
    assert!(added.status.success(), "{}", text(&added));
    assert!(
        text(&added).contains("it is the current one"),
        "{}",
        text(&added)
    );
    // Others may read the file: the CLI says so.
    assert!(
        text(&added).contains("may be read by other users"),
        "{}",
        text(&added)
    );

    // No --server, no --token: the context's server, with the viewer's token from its
    // file rather than the administrator token in the data folder.
    let listed = run(data.path(), None, &["get", "environments", "-o", "name"]);
    assert!(listed.status.success(), "{}", text(&listed));
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 5);
    let refused = run(data.path(), None, &["promote", "shop", "--to", "qa"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused).contains("promoter role"),
        "{}",
        text(&refused)
    );
    let config = std::fs::read_to_string(data.path().join("cli-config.yaml")).unwrap();
    assert!(config.contains(token_path), "{config}");
    assert!(!config.contains(&secret), "{config}");

    let other = run(
        data.path(),
        None,
        &["context", "add", "other", "--server", "http://127.0.0.1:9"],
    );
    assert!(other.status.success(), "{}", text(&other));
    let json = run(data.path(), None, &["context", "list", "-o", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json[0]["name"], "local");
    assert_eq!(json[0]["current"], true);
    assert_eq!(json[1]["server"], "http://127.0.0.1:9");
    assert_eq!(json[1]["current"], false);
    let unreachable = run(
        data.path(),
        None,
        &["--context", "other", "get", "products"],
    );
    assert!(
        text(&unreachable).contains("http://127.0.0.1:9"),
        "{}",
        text(&unreachable)
    );

    assert!(run(data.path(), None, &["context", "use", "other"])
        .status
        .success());
    assert!(!run(data.path(), None, &["get", "products"])
        .status
        .success());
    let named = run(
        data.path(),
        None,
        &["--context", "local", "get", "products"],
    );
    assert!(named.status.success(), "{}", text(&named));
    let both = run(
        data.path(),
        Some(&server),
        &["--context", "local", "get", "products"],
    );
    assert!(text(&both).contains("pass one of them"), "{}", text(&both));
    let unknown = run(data.path(), None, &["context", "use", "nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown).contains("no context `nope`"),
        "{}",
        text(&unknown)
    );
    let add_bad = |how: &[&str]| {
        let mut args = vec!["context", "add", "bad", "--server", &server.url];
        args.extend_from_slice(how);
        text(&run(data.path(), None, &args))
    };
    let missing = add_bad(&["--token-file", "/nonexistent/token"]);
    assert!(missing.contains("cannot read the token file"), "{missing}");
    let with_token = add_bad(&["--token", &secret]);
    assert!(with_token.contains("--token-file"), "{with_token}");
    assert!(run(data.path(), None, &["context", "remove", "other"])
        .status
        .success());
    let names = run(data.path(), None, &["context", "list", "-o", "name"]);
    assert_eq!(String::from_utf8_lossy(&names.stdout), "local\n");

    // A broken configuration is an error that says where.
    std::fs::write(
        data.path().join("cli-config.yaml"),
        "current: local\ncontexts:\n  - { name: local, srv: x }\n",
    )
    .unwrap();
    let broken = run(data.path(), None, &["get", "products"]);
    assert_eq!(broken.status.code(), Some(1));
    let broken = text(&broken);
    assert!(
        broken.contains("cli-config.yaml")
            && broken.contains("unknown field `srv`")
            && broken.contains("line 3"),
        "{broken}"
    );
}

#[test]
fn wide_output_adds_columns_for_people() {
    let data = tempfile::tempdir().unwrap();
    assert!(run(data.path(), None, &["demo"]).status.success());
    let server = serve(data.path());
    let promote = run(
        data.path(),
        Some(&server),
        &["promote", "shop", "--to", "qa", "--wait"],
    );
    assert_eq!(promote.status.code(), Some(0), "{}", text(&promote));

    let narrow = text(&run(data.path(), Some(&server), &["get", "environments"]));
    assert!(!narrow.contains("SUMMARY"), "{narrow}");
    let wide = text(&run(
        data.path(),
        Some(&server),
        &["get", "environments", "-o", "wide"],
    ));
    let prod = wide
        .lines()
        .find(|l| l.starts_with("prod "))
        .unwrap_or_default();
    assert!(
        wide.lines().next().unwrap().ends_with("LABELS  SUMMARY"),
        "{wide}"
    );
    assert!(prod.ends_with("-       prod environment"), "{wide}");
    let products = text(&run(
        data.path(),
        Some(&server),
        &["get", "products", "-o", "wide"],
    ));
    assert!(products.contains("3 applications in "), "{products}");
    assert!(products.contains("(main), flows standard"), "{products}");

    let releases = text(&run(
        data.path(),
        Some(&server),
        &["releases", "-o", "wide"],
    ));
    let header = releases.lines().next().unwrap();
    assert!(
        header.ends_with("FLOW      STARTED BY  FINISHED"),
        "{releases}"
    );
    assert!(
        releases.lines().nth(1).unwrap().contains("standard  admin"),
        "{releases}"
    );

    // Each cell's commit, in wide status only.
    let status = run(
        data.path(),
        Some(&server),
        &["status", "shop", "-o", "json"],
    );
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let commit = status["applications"][0]["cells"]["qa"]["commit"]
        .as_str()
        .unwrap();
    let wide = text(&run(
        data.path(),
        Some(&server),
        &["status", "shop", "-o", "wide"],
    ));
    assert!(wide.contains(&format!("1.5.0 @{}", &commit[..7])), "{wide}");
    let narrow = text(&run(data.path(), Some(&server), &["status", "shop"]));
    assert!(!narrow.contains('@'), "{narrow}");
}

#[test]
fn a_blocked_version_is_refused_from_the_command_line_until_unblocked() {
    let data = tempfile::tempdir().unwrap();
    assert!(run(data.path(), None, &["demo"]).status.success());
    let server = serve(data.path());
    let blocked = run(
        data.path(),
        Some(&server),
        &["block", "shop", "1.5.0", "--reason", "breaks checkout"],
    );
    assert!(blocked.status.success(), "{}", text(&blocked));
    let listed = run(
        data.path(),
        Some(&server),
        &["blocked", "shop", "-o", "name"],
    );
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "1.5.0\n");

    let refused = run(
        data.path(),
        Some(&server),
        &["promote", "shop", "--to", "qa"],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused).contains("version 1.5.0 of shop is blocked by admin (breaks checkout)"),
        "{}",
        text(&refused)
    );
    let status = text(&run(
        data.path(),
        Some(&server),
        &["status", "shop", "-o", "json"],
    ));
    assert!(status.contains("\"blocked\""), "{status}");

    let unblocked = run(data.path(), Some(&server), &["unblock", "shop", "1.5.0"]);
    assert!(unblocked.status.success(), "{}", text(&unblocked));
    let promoted = run(
        data.path(),
        Some(&server),
        &["promote", "shop", "--to", "qa", "--wait"],
    );
    assert_eq!(promoted.status.code(), Some(0), "{}", text(&promoted));

    // qa is not production: nothing to count yet.
    let delivery = run(
        data.path(),
        Some(&server),
        &["delivery", "shop", "--days", "7", "-o", "json"],
    );
    let delivery: serde_json::Value = serde_json::from_slice(&delivery.stdout).unwrap();
    assert_eq!(delivery["deployments"], 0);
    assert_eq!(delivery["daily"].as_array().unwrap().len(), 7);
    let text_figures = text(&run(data.path(), Some(&server), &["delivery", "shop"]));
    assert!(
        text_figures.contains("shop over the last 30 days"),
        "{text_figures}"
    );
    let refused = run(
        data.path(),
        Some(&server),
        &["delivery", "shop", "--days", "0"],
    );
    assert!(
        text(&refused).contains("days must be from 1 to 365"),
        "{}",
        text(&refused)
    );
}

#[test]
fn a_freeze_made_from_the_command_line_holds_a_release_until_the_glass_is_broken() {
    let data = tempfile::tempdir().unwrap();
    assert!(run(data.path(), None, &["demo"]).status.success());
    let server = serve(data.path());
    let created = run(
        data.path(),
        Some(&server),
        &[
            "freeze",
            "create",
            "audit-week",
            "--reason",
            "audit week",
            "--from",
            "2020-01-06",
            "--until",
            "2100-01-01T00:00",
            "--timezone",
            "Europe/Paris",
            "--product",
            "shop",
            "--environment",
            "qa",
        ],
    );
    assert!(created.status.success(), "{}", text(&created));
    assert!(
        text(&created).contains("Freeze/audit-week created (revision 1)"),
        "{}",
        text(&created)
    );
    let listed = text(&run(data.path(), Some(&server), &["freeze", "list"]));
    assert!(listed.contains("audit-week"), "{listed}");
    assert!(listed.contains("active"), "{listed}");
    assert!(listed.contains("shop in qa"), "{listed}");
    // Freezes are resources like any other.
    let got = text(&run(
        data.path(),
        Some(&server),
        &["get", "freezes", "-o", "name"],
    ));
    assert_eq!(got.trim(), "Freeze/audit-week");

    let id = promote_to_qa(data.path(), &server);
    let show = || text(&run(data.path(), Some(&server), &["releases", &id]));
    until_shown(
        &show,
        "frozen: freeze audit-week until 2099-12-31T23:00:00Z: audit week",
    );
    let broken = run(
        data.path(),
        Some(&server),
        &["break-glass", &id, "qa", "--reason", "the fix for checkout"],
    );
    assert!(broken.status.success(), "{}", text(&broken));
    let status = || release_json(data.path(), &server, &id)["status"].to_string();
    until_shown(&status, "\"succeeded\"");
    assert!(
        show().contains("break-glass: let through the freeze by admin: the fix for checkout"),
        "{}",
        show()
    );

    let ended = run(data.path(), Some(&server), &["freeze", "end", "audit-week"]);
    assert!(ended.status.success(), "{}", text(&ended));
    let listed = text(&run(
        data.path(),
        Some(&server),
        &["freeze", "list", "-o", "json"],
    ));
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["state"], "inactive");

    let refused = run(
        data.path(),
        Some(&server),
        &[
            "freeze",
            "create",
            "sometimes",
            "--reason",
            "r",
            "--start",
            "2026-12-04T18:00",
            "--rrule",
            "FREQ=SOMETIMES",
            "--duration",
            "1h",
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("not an RFC 5545 recurrence rule"),
        "{}",
        text(&refused)
    );
}

/// Starts a promotion of the demo's shop to qa; the release's id.
fn promote_to_qa(data: &Path, server: &Server) -> String {
    let started = run(
        data,
        Some(server),
        &["promote", "shop", "--to", "qa", "-o", "json"],
    );
    assert!(started.status.success(), "{}", text(&started));
    let release: serde_json::Value = serde_json::from_slice(&started.stdout).unwrap();
    release["id"].as_str().unwrap().to_string()
}

/// Waits up to 30 s until what `show` prints says `wanted`.
fn until_shown(show: &dyn Fn() -> String, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let shown = show();
        if shown.contains(wanted) {
            return;
        }
        assert!(Instant::now() < deadline, "never said {wanted:?}: {shown}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Makes the installations in `data` share one fresh PostgreSQL database, as replicas
/// of one installation do, whichever database the suite runs on.
fn share_postgres(data: &[&Path]) {
    let url = promenade_testkit::postgres::fresh_database();
    let mut databases = DATABASES.lock().unwrap();
    let databases = databases.get_or_insert_with(HashMap::new);
    for folder in data {
        databases.insert(folder.to_path_buf(), Some(url.clone()));
    }
}

/// The JSON of `releases ID` as one replica sees it.
fn release_json(data: &Path, server: &Server, id: &str) -> serde_json::Value {
    let shown = run(data, Some(server), &["releases", id, "-o", "json"]);
    assert!(shown.status.success(), "{}", text(&shown));
    serde_json::from_slice(&shown.stdout).unwrap()
}

#[test]
fn a_replica_killed_while_it_drives_a_release_is_replaced_and_the_release_commits_once() {
    let folders = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let [a, b, c] = folders.each_ref().map(|f| f.path());
    share_postgres(&[a, b, c]);
    let policy = demo_with_qa_approval(a);
    let replica = |data: &Path, name: &str| {
        serve_with(
            data,
            &[
                "--allow-local-repositories",
                "--replica-name",
                name,
                "--lease-timeout",
                "3s",
            ],
            None,
        )
    };
    let driver = replica(a, "a");
    let approver_side = replica(b, "b");
    let watcher = replica(c, "c");
    let applied = run(
        a,
        Some(&approver_side),
        &["apply", "-f", policy.to_str().unwrap()],
    );
    assert!(applied.status.success(), "{}", text(&applied));

    // Started through replica a, so a drives it; it stops at qa's approval gate.
    let started = run(
        a,
        Some(&driver),
        &["promote", "shop", "--to", "qa", "-o", "json"],
    );
    assert!(started.status.success(), "{}", text(&started));
    let release: serde_json::Value = serde_json::from_slice(&started.stdout).unwrap();
    let id = release["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = release_json(a, &watcher, &id);
        if seen["steps"][0]["detail"]["gates"][0]["status"] == "waiting" {
            break;
        }
        assert!(Instant::now() < deadline, "{seen:#}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // kill -9: no goodbye, no lease given back.
    let killed_at = Instant::now();
    drop(driver);
    let manager = token(a, "rita", "release-manager");
    let approved = run(
        a,
        Some(&approver_side),
        &["--token", &manager, "approve", &id, "qa"],
    );
    assert!(approved.status.success(), "{}", text(&approved));
    let done = loop {
        let seen = release_json(a, &watcher, &id);
        if seen["status"] != "running" {
            break seen;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(30),
            "not taken over: {seen:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(done["status"], "succeeded", "{done:#}");
    // Taken over once the 3 s lease ran out (renewals every second), not much later.
    assert!(
        killed_at.elapsed() < Duration::from_secs(12),
        "{:?}",
        killed_at.elapsed()
    );

    let log = Command::new("git")
        .arg("--git-dir")
        .arg(a.join("demo/gitops.git"))
        .args(["log", "--format=%B%x00", "main"])
        .output()
        .unwrap();
    assert!(log.status.success());
    let log = String::from_utf8_lossy(&log.stdout);
    let promotions: Vec<&str> = log
        .split('\0')
        .filter(|message| message.contains(&format!("Promenade-Release: {id}")))
        .collect();
    assert_eq!(promotions.len(), 1, "one commit to qa: {promotions:#?}");
    assert!(promotions[0].contains("Promenade-Environment: qa"));
}
