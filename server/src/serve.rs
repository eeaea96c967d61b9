//! `promenade serve`: opens the store, builds the router and serves until a shutdown
//! signal arrives.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use axum::extract::FromRef;
use axum::middleware;
use axum::routing::get;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use promenade_app::bundle::{Bundle, SplitBundles};
use promenade_app::{shell, App};
use promenade_engine::auth::admin_password_file;
use promenade_engine::credentials::SecretKeySource;
use promenade_engine::outbound::OutboundPolicy;
use promenade_engine::{Engine, EngineConfig, Store};
use promenade_model::resources::{ArgoCdInstance, ArgoWorkflowsInstance};
use tower_http::catch_panic::CatchPanicLayer;
use tracing::{info, warn};

use crate::{api, health, web};

#[derive(Clone, Debug, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "PROMENADE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// How often the trigger environments are polled for changes (`30s`, `5m`); `0s`
    /// turns polling off (webhooks still trigger).
    #[arg(long, env = "PROMENADE_POLL_INTERVAL", default_value = "1m", value_parser = parse_interval)]
    pub poll_interval: std::time::Duration,

    /// How often a step waiting for a pull request looks at it again when no webhook
    /// says it changed (`15s`, `1m`).
    #[arg(long, env = "PROMENADE_MERGE_POLL_INTERVAL", default_value = "15s", value_parser = parse_positive_interval)]
    pub merge_poll_interval: std::time::Duration,

    /// Mark the session cookie `Secure` (named `__Host-promenade_session`) and send HSTS:
    /// browsers reach the server over TLS. On by default unless the server listens on
    /// loopback only; `--secure-cookies=false` turns it off.
    #[arg(long, env = "PROMENADE_SECURE_COOKIES", num_args = 0..=1, default_missing_value = "true", value_name = "true|false")]
    pub secure_cookies: Option<bool>,

    /// Use repositories on this machine's disk (paths and `file://`), as the demo does.
    /// Off by default: a product could otherwise read any repository the server can.
    #[arg(long, env = "PROMENADE_ALLOW_LOCAL_REPOSITORIES")]
    pub allow_local_repositories: bool,

    /// A PEM file of CAs that HTTPS remotes may be signed by, besides the system's
    /// (a company CA).
    #[arg(long, env = "PROMENADE_CA_FILE")]
    pub ca_file: Option<PathBuf>,

    /// Where people reach this server (`https://promenade.example.com`): promotion
    /// commits link their release there.
    #[arg(long, env = "PROMENADE_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Author and committer of promotion commits.
    #[arg(long, env = "PROMENADE_GIT_AUTHOR", default_value = "Promenade <promenade@localhost>", value_parser = parse_author)]
    pub git_author: (String, String),

    /// Loopback, link-local or private addresses that gates, hooks and integrations may
    /// call anyway: CIDRs, addresses or host names (repeatable, or comma-separated).
    #[arg(
        long,
        env = "PROMENADE_ALLOW_OUTBOUND",
        value_delimiter = ',',
        value_name = "CIDR|HOST"
    )]
    pub allow_outbound: Vec<String>,

    /// Live event streams one user or token may hold open at once (each open page of
    /// the UI holds one); more are refused with 429.
    #[arg(
        long,
        env = "PROMENADE_MAX_STREAMS",
        default_value_t = 32,
        value_name = "N"
    )]
    pub max_streams: usize,

    /// The largest file read from a repository, in bytes; a bigger one in an
    /// application folder fails the release step or preview, naming the file.
    #[arg(long, env = "PROMENADE_MAX_FILE_SIZE", default_value_t = promenade_engine::git::DEFAULT_MAX_FILE_SIZE, value_name = "BYTES")]
    pub max_file_size: u64,

    /// The Argo CD that deploys environments whose resource names none
    /// (`spec.argocd`), for `argocd` gates and verification.
    #[arg(long, env = "PROMENADE_ARGOCD_SERVER", requires = "argocd_credentials")]
    pub argocd_server: Option<String>,

    /// The token credentials for `--argocd-server`.
    #[arg(long, env = "PROMENADE_ARGOCD_CREDENTIALS", requires = "argocd_server")]
    pub argocd_credentials: Option<String>,

    /// The Argo Server (Argo Workflows) that runs `workflow` hooks, and `workflow` gates
    /// and verification of environments whose resource names none (`spec.argoWorkflows`).
    #[arg(
        long,
        env = "PROMENADE_ARGO_WORKFLOWS_SERVER",
        requires = "argo_workflows_credentials"
    )]
    pub argo_workflows_server: Option<String>,

    /// The token credentials for `--argo-workflows-server`.
    #[arg(
        long,
        env = "PROMENADE_ARGO_WORKFLOWS_CREDENTIALS",
        requires = "argo_workflows_server"
    )]
    pub argo_workflows_credentials: Option<String>,

    /// The namespace workflows are submitted to unless the action names one.
    #[arg(
        long,
        env = "PROMENADE_ARGO_WORKFLOWS_NAMESPACE",
        default_value = "argo"
    )]
    pub argo_workflows_namespace: String,

    /// This server's name among the replicas on one PostgreSQL database; each replica
    /// needs its own. A server restarted under its old name takes its releases back at
    /// once. The host name by default.
    #[arg(long, env = "PROMENADE_REPLICA_NAME", value_name = "NAME")]
    pub replica_name: Option<String>,

    /// How long after a replica's last renewal the others take its releases over
    /// (`30s`); it renews every third of this.
    #[arg(long, env = "PROMENADE_LEASE_TIMEOUT", default_value = "30s", value_parser = parse_lease_timeout)]
    pub lease_timeout: std::time::Duration,

    /// A second address serving `/metrics` without authentication, for a scraper on a
    /// private network; on the main address `/metrics` needs an API token.
    #[arg(long, env = "PROMENADE_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Folder holding the browser bundle (`pkg/`) and static assets.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
}

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub engine: Engine,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The whole HTTP surface: probes, the API, the UI with its server functions, static
/// files; sessions, the sign-in gate and the same-origin check around them.
pub async fn router(state: AppState, secure_cookies: bool) -> anyhow::Result<Router> {
    crate::prometheus::install();
    let routes = generate_route_list(App);
    let engine = state.engine.clone();
    let options = state.leptos_options.clone();
    let split = split_bundles(&options);
    let sessions = web::sessions(state.engine.session_pool(), secure_cookies)
        .await
        .context("cannot prepare the session store")?;
    let router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::prometheus::metrics))
        .nest("/api/v1", api::routes())
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                // A fresh nonce per page: the shell's Content-Security-Policy names it.
                leptos::nonce::provide_nonce();
                provide_context(engine.clone());
                if let Some(split) = split {
                    provide_context(split);
                }
            },
            move || shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(
            state.engine.clone(),
            web::require_sign_in,
        ))
        .layer(middleware::from_fn(web::same_origin))
        .layer(sessions)
        .layer(CatchPanicLayer::custom(web::panic_answer))
        .layer(middleware::from_fn(crate::request_log::request_log))
        .with_state(state);
    Ok(web::security_headers(router, secure_cookies))
}

/// Whether cookies are `Secure`: as asked, else whenever browsers may reach the server
/// from elsewhere than this machine (which they should over TLS only).
fn secure_cookies(args: &ServeArgs) -> bool {
    args.secure_cookies
        .unwrap_or_else(|| !args.addr.ip().is_loopback())
}

/// Whether each group of pages has its bundle (`cargo xtask build`); if not (a
/// `cargo leptos` build) the one bundle there is has every page and serves them all.
fn split_bundles(options: &LeptosOptions) -> Option<SplitBundles> {
    let pkg = Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    Bundle::ALL
        .iter()
        .all(|bundle| pkg.join(format!("{}.js", bundle.name())).is_file())
        .then_some(SplitBundles)
}

pub async fn serve(
    args: ServeArgs,
    data_dir: &Path,
    database_url: Option<&str>,
) -> anyhow::Result<()> {
    // First, so that releases resumed at start are counted too.
    crate::prometheus::install();
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data folder {}", data_dir.display()))?;
    let store = Store::open(database_url, data_dir)
        .await
        .context("cannot open the database")?;
    if let Some(file) = &args.ca_file {
        promenade_engine::transport::trust_ca_file(file)?;
    }
    let mut config = EngineConfig::new(data_dir);
    config.allow_local_repositories = args.allow_local_repositories;
    config.public_url = args.public_url.clone();
    config.merge_poll_interval = args.merge_poll_interval;
    config.outbound = OutboundPolicy::parse(&args.allow_outbound).map_err(anyhow::Error::msg)?;
    config.max_streams = args.max_streams;
    config.max_file_size = args.max_file_size;
    config.argocd = args
        .argocd_server
        .clone()
        .zip(args.argocd_credentials.clone())
        .map(|(server, credentials)| ArgoCdInstance {
            server,
            credentials,
        });
    config.argo_workflows = args
        .argo_workflows_server
        .clone()
        .zip(args.argo_workflows_credentials.clone())
        .map(|(server, credentials)| ArgoWorkflowsInstance {
            server,
            credentials,
            namespace: Some(args.argo_workflows_namespace.clone()),
        });
    (config.committer_name, config.committer_email) = args.git_author.clone();
    config.secret_key = SecretKeySource::from_env_or(data_dir);
    if let Some(name) = &args.replica_name {
        config.replica_name = name.clone();
    }
    config.lease_timeout = args.lease_timeout;
    let engine = Engine::new(store, config);
    engine
        .check_secret_key()
        .context("cannot read the key that encrypts credentials")?;
    for file in engine.bootstrap_admin(data_dir).await? {
        if file == admin_password_file(data_dir) {
            info!(
                file = %file.display(),
                "first start: sign in to the web UI as `admin` with the password in this file"
            );
        } else {
            info!(
                file = %file.display(),
                "first start: an administrator API token was written (the CLI on this machine reads it from there)"
            );
        }
    }
    let resumed = engine
        .resume()
        .await
        .context("cannot start driving releases")?;
    info!(
        replica = engine.replica_name(),
        resumed, "driving releases as replica"
    );
    if args.poll_interval.is_zero() {
        info!("polling is off: releases start from webhooks, the UI, the API and the CLI");
        engine.start_polling(None);
    } else {
        info!(interval = ?args.poll_interval, "polling the trigger environments");
        engine.start_polling(Some(args.poll_interval));
    }

    let site_root = args.site_root.display().to_string();
    // The bundle of every page when there is one only (see `split_bundles`).
    let main_bundle = Bundle::Dashboard.name();
    let bundle = args.site_root.join("pkg").join(format!("{main_bundle}.js"));
    if !bundle.is_file() {
        warn!(
            path = %bundle.display(),
            "the browser bundle is missing: pages render but stay static (build it with `cargo xtask build`)"
        );
    }
    let leptos_options = LeptosOptions::builder()
        .output_name(main_bundle)
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(args.addr)
        .build();

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let local = listener.local_addr()?;
    info!(
        data_dir = %data_dir.display(),
        "Promenade {} listening on http://{local}",
        env!("CARGO_PKG_VERSION")
    );

    if let Some(addr) = args.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for metrics"))?;
        info!(
            "metrics open to anyone who reaches http://{}/metrics",
            listener.local_addr()?
        );
        let metrics = crate::prometheus::open_router(engine.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, metrics).await {
                warn!(%error, "the metrics listener stopped");
            }
        });
    }

    let app = router(
        AppState {
            leptos_options,
            engine: engine.clone(),
        },
        secure_cookies(&args),
    )
    .await?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("the HTTP server stopped")?;
    engine.retire().await;
    engine.close().await;
    info!("stopped");
    Ok(())
}

/// `Name <email>`, as git writes people.
fn parse_author(text: &str) -> Result<(String, String), String> {
    let (name, rest) = text
        .split_once('<')
        .ok_or_else(|| format!("{text:?} is not `Name <email>`"))?;
    let email = rest
        .strip_suffix('>')
        .ok_or_else(|| format!("{text:?} is not `Name <email>`"))?;
    let name = name.trim();
    if name.is_empty() || email.trim().is_empty() || email.contains(['<', '>']) {
        return Err(format!("{text:?} is not `Name <email>`"));
    }
    Ok((name.to_string(), email.trim().to_string()))
}

fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    if text.trim() == "0" || text.trim() == "0s" {
        return Ok(std::time::Duration::ZERO);
    }
    text.parse::<promenade_model::duration::Duration>()
        .map(|d| d.to_std())
        .map_err(|e| e.to_string())
}

fn parse_lease_timeout(text: &str) -> Result<std::time::Duration, String> {
    let timeout = parse_positive_interval(text)?;
    if timeout < std::time::Duration::from_secs(3) {
        return Err("a lease timeout under 3s leaves no room for a slow database".into());
    }
    Ok(timeout)
}

fn parse_positive_interval(text: &str) -> Result<std::time::Duration, String> {
    match parse_interval(text)? {
        std::time::Duration::ZERO => Err("the interval must be longer than 0s".into()),
        interval => Ok(interval),
    }
}

/// Resolves on Ctrl+C or SIGTERM, so in-flight requests finish before the process exits.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            warn!(%error, "cannot listen for Ctrl+C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    info!("shutting down");
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn secure(args: &[&str]) -> bool {
        let cli = Cli::parse_from(std::iter::once("serve").chain(args.iter().copied()));
        secure_cookies(&cli.serve)
    }

    #[test]
    fn cookies_are_secure_unless_the_server_listens_on_loopback_or_is_told_otherwise() {
        assert!(!secure(&["--addr", "127.0.0.1:3000"]));
        assert!(!secure(&["--addr", "[::1]:3000"]));
        assert!(secure(&["--addr", "0.0.0.0:3000"]));
        assert!(secure(&["--addr", "10.1.2.3:3000"]));
        assert!(!secure(&[
            "--addr",
            "0.0.0.0:3000",
            "--secure-cookies=false"
        ]));
        assert!(secure(&["--addr", "127.0.0.1:3000", "--secure-cookies"]));
    }
}
