//! A world for engine tests: a bare git remote on disk holding a GitOps monorepo, a
//! store with the resources applied (SQLite, or a fresh PostgreSQL database with
//! `PROMENADE_TEST_DATABASE=postgres`), and an engine over both.

#![allow(dead_code)] // each test file uses its own part of this module

use std::path::{Path, PathBuf};
use std::time::Duration;

use git2::{Oid, Repository};
use promenade_engine::auth::{Principal, Role};
use promenade_engine::demo;
use promenade_engine::store::ReleaseRecord;
use promenade_engine::{Checkpoint, Engine, EngineConfig, FaultHook, Store};

/// A signed-in person of `role`.
pub fn person(name: &str, role: Role) -> Principal {
    Principal::user(name, role)
}

/// A promoter who starts releases.
pub fn promoter(name: &str) -> Principal {
    person(name, Role::Promoter)
}

/// Someone who only looks.
pub fn viewer() -> Principal {
    person("vera", Role::Viewer)
}

/// The administrator the tests set resources up as.
pub fn admin() -> Principal {
    person("test", Role::Admin)
}

pub use promenade_engine::demo::{values, values_path};

pub use promenade_testkit::commit_to_remote;

/// The demo's resources (`promenade_engine::demo`) over `apps`, with prod changed by
/// `prod_action` and releases queued by `concurrency`.
pub fn resources(url: &str, apps: &[String], prod_action: &str, concurrency: &str) -> String {
    demo::resources(
        url,
        &demo::Shape {
            applications: apps.to_vec(),
            prod_action: prod_action.into(),
            concurrency: concurrency.into(),
            credentials: None,
        },
    )
}

/// The demo's flow `standard` with `spec_extra` (more `spec` fields, indented by two
/// spaces) at the end of its spec.
pub fn standard_flow(spec_extra: &str) -> String {
    format!("{}{spec_extra}", demo::standard_flow())
}

/// The step of `release` in `environment`.
pub fn step<'a>(
    release: &'a ReleaseRecord,
    environment: &str,
) -> &'a promenade_model::release::StepRecord {
    release
        .steps
        .iter()
        .find(|s| s.environment == environment)
        .unwrap_or_else(|| panic!("release {} has no step {environment}", release.id))
}

pub struct World {
    pub dir: tempfile::TempDir,
    /// The PostgreSQL database, when the suite runs on one.
    pub database: Option<String>,
    pub remote: PathBuf,
    pub url: String,
    pub apps: Vec<String>,
    pub engine: Engine,
}

pub struct Options {
    pub apps: usize,
    pub prod_action: &'static str,
    pub concurrency: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            apps: 3,
            prod_action: "commit",
            concurrency: "queue",
        }
    }
}

impl World {
    pub async fn new(options: Options) -> World {
        let dir = tempfile::tempdir().unwrap();
        let remote = dir.path().join("gitops.git");
        let url = format!("file://{}", remote.display());
        let apps: Vec<String> = (0..options.apps).map(|i| format!("app-{i:03}")).collect();
        let mut files = vec![("README.md".to_string(), "# GitOps\n".to_string())];
        for app in &apps {
            for env in demo::environments() {
                files.push((values_path(app, env), values(app, env, "1.0.0")));
            }
        }
        commit_to_remote(&remote, "main", &files, "initial layout");
        let database = promenade_testkit::postgres::test_database_url();
        let store = Store::open(database.as_deref(), &dir.path().join("data"))
            .await
            .unwrap();
        let engine = Engine::new(store, config(dir.path()));
        engine
            .apply(
                &admin(),
                "resources.yaml",
                &resources(&url, &apps, options.prod_action, options.concurrency),
                &Default::default(),
            )
            .await
            .unwrap();
        World {
            dir,
            database,
            remote,
            url,
            apps,
            engine,
        }
    }

    /// Holds qa at an approval gate a release manager opens.
    pub async fn require_qa_approval(&self) {
        self.apply(&demo::approval_policy("qa", "{ roles: [release-manager] }"))
            .await;
    }

    /// Applies resources as an administrator (replacing those of the same names).
    pub async fn apply(&self, yaml: &str) {
        self.engine
            .apply(&admin(), "resources.yaml", yaml, &Default::default())
            .await
            .unwrap();
    }

    /// A new engine on the same data folder, as after a restart.
    pub async fn restart(&mut self, fault: Option<FaultHook>) {
        self.restart_with(fault, |_| {}).await;
    }

    /// A restart into an engine that dies at the first change it persists once
    /// `counter` (of calls a fake received) reaches `at_least`: what those calls asked
    /// for is saved, nothing after.
    pub async fn die_after_calls(
        &mut self,
        counter: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        at_least: usize,
    ) {
        self.restart(Some(std::sync::Arc::new(move |point| {
            point == Checkpoint::Persisted
                && counter.load(std::sync::atomic::Ordering::SeqCst) >= at_least
        })))
        .await;
    }

    /// The release once `environment`'s first verification recorded what it asked of
    /// another system, while the step verifies.
    pub async fn wait_verification_requested(&self, id: &str, environment: &str) -> ReleaseRecord {
        self.wait_until(id, |r| {
            let step = step(r, environment);
            step.verification()
                .first()
                .is_some_and(|g| g.requested.is_some())
                && step.status == promenade_model::release::StepStatus::Verifying
        })
        .await
    }

    /// A restart whose configuration `tune` changes first.
    pub async fn restart_with(
        &mut self,
        fault: Option<FaultHook>,
        tune: impl FnOnce(&mut EngineConfig),
    ) {
        let store = Store::open(self.database.as_deref(), &self.dir.path().join("data"))
            .await
            .unwrap();
        let mut config = config(self.dir.path());
        tune(&mut config);
        self.engine = match fault {
            Some(fault) => Engine::with_fault_hook(store, config, fault),
            None => Engine::new(store, config),
        };
    }

    /// Another server on the same database, as replica `name` with a short lease
    /// timeout, started (driving releases).
    pub async fn replica(&self, name: &str, fault: Option<FaultHook>) -> Engine {
        let store = Store::open(self.database.as_deref(), &self.dir.path().join("data"))
            .await
            .unwrap();
        let mut config = config(self.dir.path());
        config.replica_name = name.into();
        config.lease_timeout = Duration::from_secs(3);
        // Each server has its own data folder, and so its own clones.
        config.git_cache = self.dir.path().join(format!("replica-{name}")).join("git");
        let engine = match fault {
            Some(fault) => Engine::with_fault_hook(store, config, fault),
            None => Engine::new(store, config),
        };
        engine.resume().await.unwrap();
        engine
    }

    /// The problems that make applying `yaml` (as file `file`) fail, as printed.
    pub async fn refusals(&self, file: &str, yaml: &str) -> Vec<String> {
        let error = self
            .engine
            .apply(&admin(), file, yaml, &Default::default())
            .await
            .unwrap_err();
        error.diagnostics().iter().map(|d| d.to_string()).collect()
    }

    /// A new version in dev, promoted by alice up to `environment`.
    pub async fn promote_to(
        &self,
        environment: &str,
        tag: &str,
    ) -> Result<ReleaseRecord, promenade_engine::EngineError> {
        self.release_in("dev", tag);
        self.engine
            .promote(
                &promoter("alice"),
                "shop",
                &promenade_engine::release::PromotionRequest {
                    to: Some(environment.into()),
                    ..Default::default()
                },
            )
            .await
    }

    /// Stores `token` credentials `name` holding `secret`, as an administrator.
    pub async fn token_credentials(&self, name: &str, secret: &str) {
        self.engine
            .create_credential(
                &admin(),
                name,
                &promenade_model::credentials::CredentialInput {
                    kind: promenade_model::credentials::CredentialKind::Token,
                    username: None,
                    secret: secret.into(),
                    passphrase: None,
                    known_hosts: None,
                },
            )
            .await
            .unwrap();
    }

    /// A new version in dev, promoted along the whole flow by alice.
    pub async fn promote_version(&self, tag: &str) -> ReleaseRecord {
        self.release_in("dev", tag);
        self.engine
            .promote(
                &promoter("alice"),
                "shop",
                &promenade_engine::release::PromotionRequest::default(),
            )
            .await
            .unwrap()
    }

    /// Sets the image tag of every application in `env`, in one commit to the remote.
    pub fn release_in(&self, env: &str, tag: &str) -> Oid {
        let files: Vec<_> = self
            .apps
            .iter()
            .map(|app| (values_path(app, env), values(app, env, tag)))
            .collect();
        commit_to_remote(&self.remote, "main", &files, &format!("{env}: {tag}"))
    }

    pub fn read(&self, branch: &str, path: &str) -> String {
        promenade_testkit::read_file(&self.remote, branch, path)
            .unwrap_or_else(|| panic!("{path} is not on {branch}"))
    }

    /// `(environment, release)` of every commit on `main` made by Promenade, newest first.
    pub fn promotion_commits(&self) -> Vec<(String, String)> {
        let repo = Repository::open_bare(&self.remote).unwrap();
        let mut walk = repo.revwalk().unwrap();
        walk.push_ref("refs/heads/main").unwrap();
        walk.filter_map(|oid| {
            let commit = repo.find_commit(oid.unwrap()).unwrap();
            let message = commit.message().unwrap().to_string();
            let trailers = git2::message_trailers_strs(&message).unwrap();
            let get = |key: &str| {
                trailers
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.to_string())
            };
            Some((get("Promenade-Environment")?, get("Promenade-Release")?))
        })
        .collect()
    }

    /// How many commits `release` made to `environment`.
    pub fn commits_of(&self, release: &str, environment: &str) -> usize {
        self.promotion_commits()
            .iter()
            .filter(|(env, id)| env == environment && id == release)
            .count()
    }

    pub fn commit_count(&self) -> usize {
        let repo = Repository::open_bare(&self.remote).unwrap();
        let mut walk = repo.revwalk().unwrap();
        walk.push_ref("refs/heads/main").unwrap();
        walk.count()
    }

    /// Waits until the release is final (or `pred` holds), failing after 30 s.
    pub async fn wait_until(
        &self,
        id: &str,
        pred: impl Fn(&ReleaseRecord) -> bool,
    ) -> ReleaseRecord {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let release = self.engine.release(&viewer(), id).await.unwrap();
            if pred(&release) {
                return release;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "release {id} did not get there in time: {release:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn wait(&self, id: &str) -> ReleaseRecord {
        self.wait_until(id, |r| r.status.is_final()).await
    }
}

fn config(dir: &Path) -> EngineConfig {
    let mut config = EngineConfig::new(dir.join("data"));
    config.allow_local_repositories = true;
    config.merge_poll_interval = Duration::from_millis(50);
    config.check_interval = Duration::from_millis(50);
    // The tests' servers and stand-ins listen on loopback.
    config.outbound = promenade_engine::outbound::OutboundPolicy::parse(&["127.0.0.0/8"]).unwrap();
    config
}
