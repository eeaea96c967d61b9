//! Real git hosts on loopback: git's `http-backend` behind nginx over TLS with basic
//! auth, and `sshd` with a generated host key (both from `promenade-testkit`). The
//! engine clones, promotes and pushes through them with stored credentials; wrong
//! tokens, unknown CAs and changed host keys are clear errors; the secret is never
//! in an answer, a log line (debug level included) or the database file.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, Once, OnceLock};

use common::{admin, promoter, values, values_path, viewer, Options, World};
use promenade_engine::release::PromotionRequest;
use promenade_engine::ReleaseStatus;
use promenade_model::credentials::{CredentialInput, CredentialKind};
use promenade_testkit::{HttpsGitServer, SshGitServer, Tls};

/// Distinctive, so finding it anywhere is certain to be a leak.
const TOKEN: &str = "tok-5ecret-9b1f3e0c77d2";

/// Everything the process logs, at debug level and below.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || Sink(sink.clone()))
            .init();
        buffer
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process trusts the shared test CA (as `--ca-file` makes `serve` do).
fn trust_test_ca() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        promenade_engine::transport::trust_ca_file(&Tls::shared().ca).unwrap();
    });
}

/// Why previewing a promotion to qa fails.
async fn preview_error(world: &World) -> String {
    world
        .engine
        .preview(&promoter("alice"), "shop", &to_qa())
        .await
        .unwrap_err()
        .to_string()
}

fn to_qa() -> PromotionRequest {
    PromotionRequest {
        to: Some("qa".into()),
        ..Default::default()
    }
}

/// Stores `input` as `name` and points the product at `url` with it.
async fn use_remote(world: &World, url: &str, name: &str, input: CredentialInput) {
    world
        .engine
        .create_credential(&admin(), name, &input)
        .await
        .unwrap();
    let resources = promenade_engine::demo::resources(
        url,
        &promenade_engine::demo::Shape {
            applications: world.apps.clone(),
            prod_action: "commit".into(),
            credentials: Some(name.into()),
            ..Default::default()
        },
    );
    world.apply(&resources).await;
}

fn https_token(secret: &str) -> CredentialInput {
    CredentialInput {
        kind: CredentialKind::Https,
        username: Some("promenade".into()),
        secret: secret.into(),
        passphrase: None,
        known_hosts: None,
    }
}

/// A world whose remote is served over HTTPS, signed by `tls`, where the user
/// `promenade` signs in with `server_password`; the product's credentials hold TOKEN.
async fn https_world(tls: &Tls, server_password: &str) -> (World, HttpsGitServer) {
    logs();
    trust_test_ca();
    let world = World::new(Options::default()).await;
    let server = HttpsGitServer::start(world.dir.path(), "promenade", server_password, tls);
    let url = server.url("gitops.git");
    use_remote(&world, &url, "git-https", https_token(TOKEN)).await;
    (world, server)
}

#[tokio::test]
async fn over_https_with_credentials_a_release_clones_promotes_and_pushes() {
    let (world, server) = https_world(Tls::shared(), TOKEN).await;
    world.release_in("dev", "2.5.0");
    let release = world
        .engine
        .promote(&promoter("alice"), "shop", &to_qa())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.error_log()));
    let release = world.wait(&release.id).await;
    assert_eq!(release.status, ReleaseStatus::Succeeded, "{release:#?}");
    assert_eq!(
        world.read("main", &values_path("app-002", "qa")),
        values("app-002", "qa", "2.5.0"),
        "pushed through the HTTPS server"
    );

    // The commit people read in the history.
    let repo = git2::Repository::open_bare(&world.remote).unwrap();
    let tip = repo
        .find_commit(repo.refname_to_id("refs/heads/main").unwrap())
        .unwrap();
    let message = tip.message().unwrap();
    assert!(
        message
            .starts_with("shop 2.5.0 → qa (3 applications)\n\n- app-000\n- app-001\n- app-002\n"),
        "{message}"
    );
    assert!(
        message.contains(&format!("Release: {}\n", release.id)),
        "{message}"
    );
    assert!(
        message.contains("Promenade-Promoted-By: alice (user)\n"),
        "{message}"
    );

    // The credentials were used, and their secret is nowhere.
    let listed = world.engine.list_credentials(&viewer()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_at.is_some(), "{listed:?}");
    let answer = serde_json::to_string(&listed).unwrap();
    assert!(!answer.contains(TOKEN), "{answer}");
    let logged = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    assert!(logged.contains("DEBUG"), "debug logs are captured");
    assert!(!logged.contains(TOKEN), "the token was logged");
    for file in ["promenade.db", "promenade.db-wal"] {
        let path = world.dir.path().join("data").join(file);
        if let Ok(bytes) = std::fs::read(&path) {
            assert!(
                !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
                "the token is in {} in clear text",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn a_wrong_token_is_an_error_naming_the_remote_and_not_the_secret() {
    let (world, server) = https_world(Tls::shared(), "the-right-one").await;
    let error = preview_error(&world).await;
    assert!(error.contains(&server.url("gitops.git")), "{error}");
    assert!(error.contains("credentials `git-https`"), "{error}");
    assert!(error.contains("authentication failed"), "{error}");
    assert!(!error.contains(TOKEN), "{error}");
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_a_tls_error() {
    let untrusted = Tls::new();
    let (world, _server) = https_world(&untrusted, TOKEN).await;
    let error = preview_error(&world).await;
    assert!(error.contains("TLS"), "{error}");
    assert!(error.contains("certificate"), "{error}");
}

fn ssh_key(server: &SshGitServer, known_hosts: String) -> CredentialInput {
    CredentialInput {
        kind: CredentialKind::Ssh,
        username: None,
        secret: server.client_key(),
        passphrase: None,
        known_hosts: Some(known_hosts),
    }
}

#[tokio::test]
async fn over_ssh_a_release_promotes_and_a_changed_host_key_is_refused() {
    let world = World::new(Options::default()).await;
    let server = SshGitServer::start();
    let url = server.url(&world.remote);
    use_remote(
        &world,
        &url,
        "git-ssh",
        ssh_key(&server, server.known_hosts()),
    )
    .await;
    world.release_in("dev", "3.1.0");
    let release = world
        .engine
        .promote(&promoter("alice"), "shop", &to_qa())
        .await
        .unwrap();
    let release = world.wait(&release.id).await;
    assert_eq!(release.status, ReleaseStatus::Succeeded, "{release:#?}");
    assert_eq!(
        world.read("main", &values_path("app-000", "qa")),
        values("app-000", "qa", "3.1.0")
    );

    // The server now presents a key the credentials do not know.
    world
        .engine
        .rotate_credential(
            &admin(),
            "git-ssh",
            &ssh_key(&server, server.other_known_hosts()),
        )
        .await
        .unwrap();
    let error = preview_error(&world).await;
    assert!(error.contains("host key of [127.0.0.1]"), "{error}");
    assert!(error.contains("changed"), "{error}");
}

#[tokio::test]
async fn remotes_are_checked_when_products_are_applied() {
    let world = World::new(Options::default()).await;
    let product = |url: &str, credentials: Option<&str>| {
        promenade_engine::demo::resources(
            url,
            &promenade_engine::demo::Shape {
                applications: world.apps.clone(),
                credentials: credentials.map(str::to_string),
                ..Default::default()
            },
        )
    };
    let apply = |yaml: String| {
        let engine = world.engine.clone();
        async move {
            engine
                .apply(&admin(), "shop.yaml", &yaml, &Default::default())
                .await
        }
    };
    // A token in the URL.
    let error = apply(product("https://x:tok@git.example.com/gitops.git", None))
        .await
        .unwrap_err();
    let diagnostic = &error.diagnostics()[0];
    assert!(diagnostic.message.contains("credentials"), "{diagnostic}");
    assert_eq!(diagnostic.path.as_deref(), Some("spec.repository.url"));
    // Credentials that do not exist.
    let error = apply(product("https://git.example.com/gitops.git", Some("nope")))
        .await
        .unwrap_err();
    assert!(
        error.diagnostics()[0]
            .message
            .contains("credentials `nope` do not exist"),
        "{error:?}"
    );
    // http:// until an admin allows it.
    let error = apply(product("http://git.example.com/gitops.git", None))
        .await
        .unwrap_err();
    assert!(
        error.diagnostics()[0]
            .message
            .contains("allow-insecure-remotes"),
        "{error:?}"
    );
    let mut settings = world.engine.settings(&viewer()).await.unwrap();
    settings.allow_insecure_remotes = true;
    world
        .engine
        .set_settings(&admin(), &settings)
        .await
        .unwrap();
    apply(product("http://git.example.com/gitops.git", None))
        .await
        .unwrap();
    // Credentials of the wrong kind for the transport.
    world
        .engine
        .create_credential(
            &admin(),
            "api-token",
            &CredentialInput {
                kind: CredentialKind::Token,
                username: None,
                secret: "t".into(),
                passphrase: None,
                known_hosts: None,
            },
        )
        .await
        .unwrap();
    let error = apply(product(
        "https://git.example.com/gitops.git",
        Some("api-token"),
    ))
    .await
    .unwrap_err();
    assert!(
        error.diagnostics()[0].message.contains("cannot be used"),
        "{error:?}"
    );
}
