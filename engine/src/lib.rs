//! Promenade's engine: everything that does I/O on behalf of a release — the store,
//! git, SCM hosts, Argo CD — behind one cloneable [`Engine`] handle that the server and
//! the UI's server functions share.

mod argo;
mod argo_workflows;
mod argocd;
mod audit;
pub mod auth;
mod blocked;
mod bus;
pub mod clock;
pub mod credentials;
mod delivery;
pub mod demo;
mod deployed;
mod discovery;
mod error;
mod freeze;
pub mod git;
mod hosting;
pub mod outbound;
pub mod overview;
mod pause;
pub mod release;
mod replica;
pub mod resources;
mod settings;
mod socket;
pub mod store;
mod streams;
pub mod telemetry;
mod throttle;
pub mod transport;
pub mod trigger;
pub mod webhook;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

pub use error::{EngineError, Result};
pub use promenade_model::release::EventRecord;
pub use promenade_model::release::{ReleaseStatus, StepStatus};
pub use replica::default_replica_name;
pub use store::{DatabaseKind, SessionPool, Store};
pub use streams::Subscription;

/// How many events a slow subscriber may fall behind before it must catch up from the
/// store (server-sent event streams do, through `Last-Event-ID`).
const EVENT_BUFFER: usize = 1024;

/// Settings of the engine.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Where the git clone cache lives (`<data-dir>/git`).
    pub git_cache: PathBuf,
    /// How often a step waiting for a pull request looks at the base branch.
    pub merge_poll_interval: Duration,
    /// How many times a rejected push is re-applied on the new tip before failing.
    pub push_attempts: u32,
    /// How often a failing `http` check is tried again, until its timeout.
    pub check_interval: Duration,
    /// The author and committer of promotion commits (`--git-author`).
    pub committer_name: String,
    pub committer_email: String,
    /// Where people reach the server (`--public-url`): commit messages link releases.
    pub public_url: Option<String>,
    /// Whether repositories on the server's own disk may be used
    /// (`--allow-local-repositories`).
    pub allow_local_repositories: bool,
    /// The file the first start writes the admin's password to; removed once the
    /// admin's password is changed.
    pub first_start_password: PathBuf,
    /// The key that seals credentials.
    pub secret_key: credentials::SecretKeySource,
    /// Private and loopback addresses outbound requests may reach (`--allow-outbound`).
    pub outbound: outbound::OutboundPolicy,
    /// The largest file read from a repository, in bytes (`--max-file-size`).
    pub max_file_size: u64,
    /// Live event streams one principal may hold open at once (`--max-streams`).
    pub max_streams: usize,
    /// The Argo CD of environments that name none (`--argocd-server`).
    pub argocd: Option<promenade_model::resources::ArgoCdInstance>,
    /// The Argo Workflows that runs `workflow` hooks, and `workflow` gates of
    /// environments that name none (`--argo-workflows-server`).
    pub argo_workflows: Option<promenade_model::resources::ArgoWorkflowsInstance>,
    /// This server's name among the replicas on its database (`--replica-name`).
    pub replica_name: String,
    /// How long a replica's leases outlive its last renewal (`--lease-timeout`): how
    /// soon others take over the releases of a replica that died.
    pub lease_timeout: Duration,
    /// The wall clock freezes and `window` gates read; the system's outside tests.
    pub clock: clock::Clock,
}

impl EngineConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        Self {
            secret_key: credentials::SecretKeySource::File(data_dir.join("secret.key")),
            first_start_password: auth::admin_password_file(&data_dir),
            public_url: None,
            allow_local_repositories: false,
            git_cache: data_dir.join("git"),
            merge_poll_interval: Duration::from_secs(15),
            push_attempts: 5,
            check_interval: Duration::from_secs(5),
            committer_name: "Promenade".into(),
            committer_email: "promenade@localhost".into(),
            outbound: outbound::OutboundPolicy::default(),
            max_streams: 32,
            max_file_size: git::DEFAULT_MAX_FILE_SIZE,
            argocd: None,
            argo_workflows: None,
            replica_name: replica::default_replica_name(),
            lease_timeout: Duration::from_secs(30),
            clock: clock::Clock::default(),
        }
    }
}

/// What the server runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInfo {
    pub database: DatabaseKind,
    /// How many database migrations are applied.
    pub migrations: usize,
}

/// Points where a [`FaultHook`] is consulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checkpoint {
    /// A state change was persisted.
    Persisted,
    /// A step's git work finished (pushed or found already pushed), not yet recorded.
    GitDone,
    /// A commit is about to be pushed.
    BeforePush,
}

/// A hook called at every [`Checkpoint`]; returning `true` makes the engine stop dead
/// there, as a killed process would. Tests use it to crash the engine between any two
/// persisted steps, and to move a remote just before a push.
pub type FaultHook = Arc<dyn Fn(Checkpoint) -> bool + Send + Sync>;

/// The engine handle. Cheap to clone: every clone shares the same state.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    git: git::GitCache,
    config: EngineConfig,
    events: broadcast::Sender<EventRecord>,
    runtime: release::Runtime,
    fault: Option<FaultHook>,
    /// The last computed product statuses, by product: (cache key, rows).
    status_cache: std::sync::Mutex<overview::StatusCache>,
    /// Failed sign-ins, and the limit on password hashing.
    sign_ins: throttle::SignInThrottle,
    hashing: tokio::sync::Semaphore,
    /// The client of every request to a URL a resource names.
    outbound: outbound::Outbound,
    /// The last reading of what Argo CD runs, by product.
    deployed_cache: std::sync::Mutex<deployed::DeployedCache>,
    /// Live event streams open, by principal.
    streams: streams::OpenStreams,
    /// The credentials cipher, once the key is read.
    cipher: std::sync::OnceLock<chacha20poly1305::XChaCha20Poly1305>,
    replica: replica::Replica,
    bus: bus::Bus,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    pub fn new(store: Store, config: EngineConfig) -> Self {
        Self::build(store, config, None)
    }

    /// An engine that consults `fault` at every checkpoint (see [`FaultHook`]).
    pub fn with_fault_hook(store: Store, config: EngineConfig, fault: FaultHook) -> Self {
        Self::build(store, config, Some(fault))
    }

    fn build(store: Store, config: EngineConfig, fault: Option<FaultHook>) -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        // Fails only if the TLS backend cannot start, which no input changes.
        let outbound = outbound::Outbound::new(config.outbound.clone())
            .expect("the outbound HTTP client builds");
        Self {
            inner: Arc::new(Inner {
                outbound,
                sign_ins: Default::default(),
                hashing: tokio::sync::Semaphore::new(throttle::HASHING_AT_ONCE),
                store,
                git: git::GitCache::new(config.git_cache.clone())
                    .with_max_file_size(config.max_file_size),
                config,
                events,
                runtime: release::Runtime::default(),
                fault,
                status_cache: Default::default(),
                deployed_cache: Default::default(),
                streams: Default::default(),
                cipher: Default::default(),
                replica: Default::default(),
                bus: Default::default(),
            }),
        }
    }

    /// The client of requests to URLs that resources name.
    pub(crate) fn outbound(&self) -> &outbound::Outbound {
        &self.inner.outbound
    }

    /// The store is the engine's own: callers go through the use cases, which check
    /// who may do what.
    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Succeeds when the database answers a query: the readiness probe.
    pub async fn ping(&self) -> Result<()> {
        self.store().ping().await
    }

    /// What the server runs on, for the settings page.
    pub async fn server_info(&self, who: &auth::Principal) -> Result<ServerInfo> {
        auth::allow(who, auth::Role::Viewer, "reading server information")?;
        Ok(ServerInfo {
            database: self.store().kind(),
            migrations: self.store().applied_migrations().await?.len(),
        })
    }

    /// The connection pool, for the web sessions kept in the same database.
    pub fn session_pool(&self) -> &SessionPool {
        self.store().session_pool()
    }

    /// Closes every database connection; later calls fail. Used by graceful shutdown.
    pub async fn close(&self) {
        self.store().close().await;
    }

    pub fn git(&self) -> &git::GitCache {
        &self.inner.git
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Every release event persisted from now on, by this replica or any other, in
    /// order.
    pub async fn subscribe(&self) -> Result<broadcast::Receiver<EventRecord>> {
        self.follow().await?;
        Ok(self.inner.events.subscribe())
    }

    fn events(&self) -> &broadcast::Sender<EventRecord> {
        &self.inner.events
    }

    fn runtime(&self) -> &release::Runtime {
        &self.inner.runtime
    }

    fn fault_hook(&self) -> Option<&FaultHook> {
        self.inner.fault.as_ref()
    }
}
