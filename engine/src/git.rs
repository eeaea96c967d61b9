//! Git through libgit2 (the `git2` crate): no `git` executable, no shell, no working
//! tree. Each remote has a bare clone in the cache folder; commits are built directly
//! from blobs and trees (`TreeUpdateBuilder`), so promoting 1,000 applications in a
//! monorepo touches only the objects that change and never checks out files.
//!
//! Pushes are never forced: a rejected push is reported as [`PushOutcome::Rejected`] so
//! the caller fetches, re-applies its change on the new tip and tries again.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use git2::build::TreeUpdateBuilder;
use git2::{FileMode, ObjectType, Oid, Repository, Signature, TreeWalkMode, TreeWalkResult};
use promenade_model::redact;
use tracing::{debug, instrument, warn};

use crate::credentials::{Access, Keyring};
use crate::transport::callbacks;
use crate::{telemetry, EngineError, Result};

/// Files of one folder: paths relative to the folder, `/`-separated, to contents.
pub type FileTree = BTreeMap<String, Vec<u8>>;

/// The trailer keys that tie a commit to the release and environment that made it, so a
/// restarted engine recognises its own work instead of committing twice.
pub const RELEASE_TRAILER: &str = "Promenade-Release";
pub const ENVIRONMENT_TRAILER: &str = "Promenade-Environment";
/// Who started the release: the commit's author is Promenade, this says on whose word.
pub const PROMOTED_BY_TRAILER: &str = "Promenade-Promoted-By";

/// How far back [`Repo::find_promotion`] looks for a commit with our trailers. A crashed
/// promotion is found right after a restart, long before this many commits land.
const TRAILER_SEARCH_DEPTH: usize = 500;

/// How much older than its release a promotion commit may look: the clocks of the
/// replica that made it and of the one that created the release may disagree by this
/// much. Commits older than that cannot be the release's, so the search stops there.
const CLOCK_SKEW: i64 = 10 * 60;

/// Above libgit2's own backends (loose objects 1, packs 2): a commit's objects are
/// written to memory first (see [`Repo::commit`]).
const IN_MEMORY_PRIORITY: i32 = 1000;

/// More packs than this in a clone and its smallest are combined after a push (twice
/// as many after a fetch; see [`Repo::compact`]): every object lookup that misses asks
/// each pack in turn, and each fetch that brings objects and each commit adds one.
pub const MAX_PACKS: usize = 16;

/// How long a branch tip this process fetched or pushed stands for the remote's without
/// asking again (see [`Repo::known_tip`]).
pub const FRESH_TIP: Duration = Duration::from_secs(2);

/// The folder holding one bare clone per remote.
#[derive(Clone, Debug)]
pub struct GitCache {
    root: PathBuf,
    locks: Arc<Mutex<HashMap<String, Arc<Mutex<()>>>>>,
    /// Held while a clone is opened or created, so two first uses of one remote do not
    /// both initialise its folder.
    init: Arc<Mutex<()>>,
    /// When this process last learnt each remote branch's tip (a fetch, or its own push).
    learnt: Learnt,
    /// The largest file [`Repo::read_folder`] reads, in bytes.
    max_file_size: u64,
}

/// The largest file read from a repository unless configured otherwise: application
/// folders hold manifests and values files, never megabytes of them.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 4 * 1024 * 1024;

impl GitCache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        crate::socket::install();
        Self {
            root: root.into(),
            locks: Arc::default(),
            init: Arc::default(),
            learnt: Learnt::default(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
        }
    }

    /// The same cache, refusing to read files larger than `bytes`.
    pub fn with_max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// The lock that serialises work on one remote's clone: libgit2 writes refs and packs
    /// with lock files, so two steps fetching into one clone at once would fail.
    pub fn lock(&self, url: &str) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        locks.entry(url.to_string()).or_default().clone()
    }

    /// Runs `work` on the clone of `url`, holding its lock.
    pub fn with_clone<T>(
        &self,
        url: &str,
        keyring: &Keyring,
        work: impl FnOnce(&Repo) -> Result<T>,
    ) -> Result<T> {
        let lock = self.lock(url);
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        work(&self.open(url, keyring)?)
    }

    /// Opens (creating on first use) the bare clone of `url`, to be reached with the
    /// keyring's credentials and under its remote rules. The folder name is derived from
    /// the URL, so every release of every product shares one clone per remote.
    pub fn open(&self, url: &str, keyring: &Keyring) -> Result<Repo> {
        keyring.policy().check(url)?;
        let path = self.root.join(cache_folder_name(url));
        let _creating = self.init.lock().unwrap_or_else(PoisonError::into_inner);
        let repo = match Repository::open_bare(&path) {
            Ok(repo) => repo,
            Err(_) => {
                std::fs::create_dir_all(&path).map_err(|source| EngineError::DataDir {
                    path: path.display().to_string(),
                    source,
                })?;
                Repository::init_bare(&path).map_err(|e| git_error(url, "init", e))?
            }
        };
        Ok(Repo {
            repo,
            url: url.to_string(),
            access: keyring.access(url),
            refusal: Arc::default(),
            learnt: self.learnt.clone(),
            max_file_size: self.max_file_size,
        })
    }
}

/// The clones one piece of work uses, each opened once and used under its remote's
/// lock: opening a clone reads its configuration and lists its packs, which a loop over
/// a product's applications would otherwise do once per application.
pub struct Clones<'a> {
    git: &'a GitCache,
    keyring: &'a Keyring,
    open: HashMap<String, Repo>,
}

impl<'a> Clones<'a> {
    pub fn new(git: &'a GitCache, keyring: &'a Keyring) -> Self {
        Self {
            git,
            keyring,
            open: HashMap::new(),
        }
    }

    /// Runs `work` on the clone of `url`, holding its lock; opens it on first use.
    pub fn with<T>(&mut self, url: &str, work: impl FnOnce(&Repo) -> Result<T>) -> Result<T> {
        let lock = self.git.lock(url);
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let repo = match self.open.entry(url.to_string()) {
            Entry::Occupied(open) => open.into_mut(),
            Entry::Vacant(entry) => entry.insert(self.git.open(url, self.keyring)?),
        };
        work(repo)
    }
}

/// By (remote URL, branch): when its tip was last learnt.
type Learnt = Arc<Mutex<HashMap<(String, String), Instant>>>;

/// A bare clone of one remote.
pub struct Repo {
    repo: Repository,
    url: String,
    /// The credentials for the remote: their name (for messages) and secret.
    access: Option<(String, Arc<Access>)>,
    /// Why the last connection refused the server, in our words: libgit2 replaces a
    /// refused SSH host key's message with its own.
    refusal: Arc<Mutex<Option<String>>>,
    learnt: Learnt,
    max_file_size: u64,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    Pushed,
    /// The remote refused the update, usually because its branch moved on.
    Rejected(String),
}

/// One application folder's new contents within a commit.
#[derive(Debug, Clone)]
pub struct FolderUpdate {
    /// Folder path in the repository, `/`-separated, no leading or trailing slash.
    pub folder: String,
    /// The complete new contents of the folder; files absent here are removed.
    pub files: FileTree,
}

/// Who commits, and the trailers that identify the promotion.
#[derive(Debug, Clone, Default)]
pub struct CommitInfo {
    pub subject: String,
    pub body: String,
    pub release: String,
    pub environment: String,
    /// Who started the release, as people read it (`alice (user)`).
    pub promoted_by: String,
    pub author_name: String,
    pub author_email: String,
}

impl CommitInfo {
    fn message(&self) -> String {
        let mut message = self.subject.clone();
        message.push_str("\n\n");
        if !self.body.is_empty() {
            message.push_str(self.body.trim_end());
            message.push_str("\n\n");
        }
        message.push_str(&format!(
            "{RELEASE_TRAILER}: {}\n{ENVIRONMENT_TRAILER}: {}\n{PROMOTED_BY_TRAILER}: {}\n",
            self.release, self.environment, self.promoted_by
        ));
        message
    }
}

impl Repo {
    pub fn url(&self) -> &str {
        &self.url
    }

    fn callbacks(&self) -> git2::RemoteCallbacks<'_> {
        callbacks(
            &self.url,
            self.access
                .as_ref()
                .map(|(name, access)| (name.as_str(), access.as_ref())),
            &self.refusal,
        )
    }

    fn error(&self, action: &str, error: git2::Error) -> EngineError {
        let refusal = self
            .refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match refusal {
            Some(message) => EngineError::Git {
                url: redact::url(&self.url),
                action: action.to_string(),
                message,
            },
            None => git_error(&self.url, action, error),
        }
    }

    /// Fetches `branch` from the remote and returns its tip.
    #[instrument(skip(self), fields(url = %redact::url(&self.url)))]
    pub fn fetch(&self, branch: &str) -> Result<Oid> {
        let started = Instant::now();
        let tip = self.fetch_tip(branch);
        telemetry::git_operation("fetch", tip.is_ok(), started.elapsed());
        tip
    }

    fn fetch_tip(&self, branch: &str) -> Result<Oid> {
        let mut remote = self
            .repo
            .remote_anonymous(&self.url)
            .map_err(|e| self.error("fetch", e))?;
        let refspec = format!("+refs/heads/{branch}:{}", tracking_ref(branch));
        let mut options = git2::FetchOptions::new();
        options.remote_callbacks(self.callbacks());
        remote
            .fetch(&[refspec.as_str()], Some(&mut options), None)
            .map_err(|e| self.error("fetch", e))?;
        let tip = self
            .repo
            .refname_to_id(&tracking_ref(branch))
            .map_err(|e| self.error(&format!("find branch {branch}"), e))?;
        debug!(%tip, "fetched");
        self.learn(branch);
        // A step's commit usually follows a fetch: a clone that is pushed to is
        // compacted after the push, and one only fetched from at twice the packs.
        self.compact_when_crowded(2 * MAX_PACKS);
        Ok(tip)
    }

    fn learn(&self, branch: &str) {
        self.learnt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((self.url.clone(), branch.to_string()), Instant::now());
    }

    /// The tip of `branch` as this process last saw it on the remote, if that was less
    /// than `within` ago: a trigger's fetch or the previous step's push, moments before.
    /// It may be stale; a push made on it is then refused as not a fast-forward, never
    /// lost, and the caller fetches.
    pub fn known_tip(&self, branch: &str, within: Duration) -> Option<Oid> {
        let learnt = *self
            .learnt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(self.url.clone(), branch.to_string()))?;
        if learnt.elapsed() > within {
            return None;
        }
        self.repo.refname_to_id(&tracking_ref(branch)).ok()
    }

    /// [`Repo::compact`] when the clone holds more than `max_packs` packs. A failure
    /// leaves the clone as it was, and is only logged: the clone is a cache.
    fn compact_when_crowded(&self, max_packs: usize) {
        if let Err(error) = self.compact(max_packs) {
            warn!(url = %redact::url(&self.url), %error, "cannot compact the clone");
        }
    }

    /// libgit2 has no `gc`: left alone, a clone gains a pack per fetch and per commit
    /// for ever. With more than `max_packs`, the small packs (see [`packs_to_combine`])
    /// and any loose objects are written as one pack and the files they came from
    /// removed. Returns whether it compacted. The caller holds the clone's lock.
    pub fn compact(&self, max_packs: usize) -> Result<bool> {
        let fail = |e| self.error("compact", e);
        let io = |what: &str, e: std::io::Error| {
            EngineError::Internal(format!(
                "cannot {what} in the clone of {}: {e}",
                redact::url(&self.url)
            ))
        };
        let objects = self.repo.path().join("objects");
        let pack_folder = objects.join("pack");
        let mut packs = Vec::new();
        for entry in std::fs::read_dir(&pack_folder).map_err(|e| io("list packs", e))? {
            let path = entry.map_err(|e| io("list packs", e))?.path();
            // A pack without its index (a write cut short) is not one libgit2 reads.
            let usable =
                path.with_extension("idx").exists() && !path.with_extension("keep").exists();
            if path.extension().is_some_and(|x| x == "pack") && usable {
                packs.push(path);
            }
        }
        if packs.len() <= max_packs {
            return Ok(false);
        }
        // Weighed by their objects, as git does: bytes would make a pack of deltas
        // look small next to a few new objects.
        let unreadable = |pack: &Path| {
            EngineError::Internal(format!(
                "{} is not a pack index this version reads",
                pack.display()
            ))
        };
        let mut counted = Vec::new();
        for pack in packs {
            let mut header = [0; PACK_INDEX_HEADER];
            std::fs::File::open(pack.with_extension("idx"))
                .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut header))
                .map_err(|e| io("read a pack index", e))?;
            let count = pack_index_count(&header).ok_or_else(|| unreadable(&pack))?;
            counted.push((count, pack));
        }
        counted.sort();
        let counts: Vec<u64> = counted.iter().map(|(count, _)| *count).collect();
        counted.truncate(packs_to_combine(&counts));
        let packs: Vec<PathBuf> = counted.into_iter().map(|(_, pack)| pack).collect();
        let mut ids = BTreeSet::new();
        for pack in &packs {
            let index = std::fs::read(pack.with_extension("idx"))
                .map_err(|e| io("read a pack index", e))?;
            ids.extend(pack_index_ids(&index).ok_or_else(|| unreadable(pack))?);
        }
        let loose = loose_objects(&objects).map_err(|e| io("list loose objects", e))?;
        ids.extend(loose.iter().map(|(id, _)| *id));
        let mut builder = self.repo.packbuilder().map_err(fail)?;
        for id in &ids {
            builder.insert_object(*id, None).map_err(fail)?;
        }
        builder.write(&pack_folder, 0).map_err(fail)?;
        let written = builder
            .name()
            .map_err(fail)?
            .map(|name| pack_folder.join(format!("pack-{name}.pack")));
        // Every object is in the new pack: only now do the files they were in go.
        for pack in packs.iter().filter(|p| Some(*p) != written.as_ref()) {
            for extension in ["idx", "rev", "pack"] {
                match std::fs::remove_file(pack.with_extension(extension)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(io("remove a pack", e))
                    }
                    _ => {}
                }
            }
        }
        for (_, path) in &loose {
            std::fs::remove_file(path).map_err(|e| io("remove a loose object", e))?;
        }
        self.repo
            .odb()
            .and_then(|odb| odb.refresh())
            .map_err(fail)?;
        debug!(
            packs = packs.len(),
            loose = loose.len(),
            objects = ids.len(),
            "compacted"
        );
        Ok(true)
    }

    /// Fetches `branch` if the remote has it; `None` when it does not.
    pub fn fetch_if_exists(&self, branch: &str) -> Result<Option<Oid>> {
        let mut remote = self
            .repo
            .remote_anonymous(&self.url)
            .map_err(|e| self.error("fetch", e))?;
        let advertised = {
            let connection = remote
                .connect_auth(git2::Direction::Fetch, Some(self.callbacks()), None)
                .map_err(|e| self.error("connect", e))?;
            let wanted = format!("refs/heads/{branch}");
            let found = connection
                .list()
                .map_err(|e| self.error("list refs", e))?
                .iter()
                .any(|head| head.name() == wanted);
            found
        };
        if advertised {
            self.fetch(branch).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The tree id of `folder` at `commit` (`None` when it does not exist): equal ids
    /// mean equal contents.
    pub fn folder_id(&self, commit: Oid, folder: &str) -> Result<Option<Oid>> {
        Ok(self.folder_trees(commit, &[folder])?.remove(0))
    }

    /// The tree ids of `folders` at `commit`, in their order.
    #[instrument(level = "debug", skip_all, fields(folders = folders.len()))]
    pub fn folder_trees(&self, commit: Oid, folders: &[&str]) -> Result<Vec<Option<Oid>>> {
        let commit = self
            .repo
            .find_commit(commit)
            .map_err(|e| self.error("read commit", e))?;
        self.tree_ids(&commit, folders)
    }

    /// Each folder's tree id at `commit`. Parent trees are read once however many
    /// folders they hold: `get_path` per folder would decompress `apps/` (a thousand
    /// entries) again for each of 6,000 folders.
    fn tree_ids(&self, commit: &git2::Commit, folders: &[&str]) -> Result<Vec<Option<Oid>>> {
        let root = commit.tree().map_err(|e| self.error("read commit", e))?;
        let mut parents: HashMap<String, Option<git2::Tree<'_>>> = HashMap::new();
        Ok(folders
            .iter()
            .map(|folder| {
                let folder = folder.trim_matches('/');
                if folder.is_empty() {
                    return Some(root.id());
                }
                let (parent, name) = folder.rsplit_once('/').unwrap_or(("", folder));
                self.subtree(&root, parent, &mut parents)
                    .and_then(|tree| tree.get_name(name).map(|e| e.id()))
            })
            .collect())
    }

    /// The tree at `path` below `root`, reading each tree on the way once per call of
    /// [`Repo::tree_ids`].
    fn subtree<'r>(
        &'r self,
        root: &git2::Tree<'r>,
        path: &str,
        cache: &mut HashMap<String, Option<git2::Tree<'r>>>,
    ) -> Option<git2::Tree<'r>> {
        if path.is_empty() {
            return Some(root.clone());
        }
        if let Some(found) = cache.get(path) {
            return found.clone();
        }
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        let found = self.subtree(root, parent, cache).and_then(|tree| {
            tree.get_name(name)
                .and_then(|entry| entry.to_object(&self.repo).ok())
                .and_then(|object| object.into_tree().ok())
        });
        cache.insert(path.to_string(), found.clone());
        found
    }

    /// The commits on the first-parent history of `tip` after `since`, newest first;
    /// `None` when `since` is not among the `limit` commits before `tip` (a rewritten
    /// branch, or too many commits to be worth walking).
    pub fn commits_since(&self, tip: Oid, since: Oid, limit: usize) -> Result<Option<Vec<Oid>>> {
        let fail = |e| self.error("read history", e);
        let mut commits = Vec::new();
        let mut commit = self.repo.find_commit(tip).map_err(fail)?;
        while commit.id() != since {
            if commits.len() == limit {
                return Ok(None);
            }
            commits.push(commit.id());
            match commit.parents().next() {
                Some(parent) => commit = parent,
                None => return Ok(None),
            }
        }
        Ok(Some(commits))
    }

    /// The first parent of `commit`, `None` for a root commit.
    pub fn first_parent(&self, commit: Oid) -> Result<Option<Oid>> {
        let commit = self
            .repo
            .find_commit(commit)
            .map_err(|e| self.error("read commit", e))?;
        Ok(commit.parent_ids().next())
    }

    /// The full message of `commit`.
    pub fn commit_message(&self, commit: Oid) -> Result<String> {
        let commit = self
            .repo
            .find_commit(commit)
            .map_err(|e| self.error("read commit", e))?;
        Ok(String::from_utf8_lossy(commit.message_bytes()).into_owned())
    }

    /// The commit that `spec` names: a full or abbreviated id, a branch, a tag.
    pub fn resolve_commit(&self, spec: &str) -> Result<Oid> {
        self.repo
            .revparse_single(spec)
            .and_then(|object| object.peel_to_commit())
            .map(|commit| commit.id())
            .map_err(|e| self.error(&format!("find commit {spec:?}"), e))
    }

    /// Whether `later` is `earlier` or comes after it on `branch` (fetched when the
    /// clone does not have `later` yet).
    pub fn includes(&self, branch: &str, later: Oid, earlier: Oid) -> Result<bool> {
        if later == earlier {
            return Ok(true);
        }
        if !self.has_commit(later) {
            self.fetch(branch)?;
        }
        if !self.has_commit(later) {
            return Ok(false);
        }
        self.repo
            .graph_descendant_of(later, earlier)
            .map_err(|e| self.error("compare commits", e))
    }

    /// Whether the clone already has `commit`.
    pub fn has_commit(&self, commit: Oid) -> bool {
        self.repo.find_commit(commit).is_ok()
    }

    /// The files under `folder` at `commit`; empty when the folder does not exist there.
    /// A file larger than the cache's limit is an error naming it, found from the
    /// object's header before its content is read.
    pub fn read_folder(&self, commit: Oid, folder: &str) -> Result<FileTree> {
        self.read_folders(commit, &[folder])?
            .pop()
            .unwrap_or_else(|| Ok(FileTree::new()))
    }

    /// [`Repo::read_folder`] for each of `folders`, in order, reading the trees above
    /// them once (see [`Repo::tree_ids`]); one folder's failure is its own.
    #[instrument(level = "debug", skip_all, fields(folders = folders.len()))]
    pub fn read_folders(&self, commit: Oid, folders: &[&str]) -> Result<Vec<Result<FileTree>>> {
        let commit = self
            .repo
            .find_commit(commit)
            .map_err(|e| self.error("read commit", e))?;
        let ids = self.tree_ids(&commit, folders)?;
        let odb = self.repo.odb().map_err(|e| self.error("open objects", e))?;
        Ok(folders
            .iter()
            .zip(ids)
            // Not a tree (a file, or nothing): no files.
            .map(
                |(folder, id)| match id.and_then(|id| self.repo.find_tree(id).ok()) {
                    Some(tree) => self.files_of(&odb, &tree, folder.trim_matches('/')),
                    None => Ok(FileTree::new()),
                },
            )
            .collect())
    }

    /// Every file under `tree`, which is `folder` (named in errors).
    fn files_of(&self, odb: &git2::Odb, tree: &git2::Tree, folder: &str) -> Result<FileTree> {
        let mut files = FileTree::new();
        let mut failure = None;
        let walked = tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() != Some(ObjectType::Blob) {
                return TreeWalkResult::Ok;
            }
            let Ok(name) = entry.name() else {
                return TreeWalkResult::Ok;
            };
            let path = format!("{dir}{name}");
            let read = odb
                .read_header(entry.id())
                .map_err(|e| self.error("read blob", e))
                .and_then(|(size, _)| {
                    if size as u64 > self.max_file_size {
                        return Err(EngineError::FileTooLarge {
                            url: redact::url(&self.url),
                            path: join(folder, &path),
                            size: size as u64,
                            limit: self.max_file_size,
                        });
                    }
                    self.repo
                        .find_blob(entry.id())
                        .map_err(|e| self.error("read blob", e))
                });
            match read {
                Ok(blob) => {
                    files.insert(path, blob.content().to_vec());
                    TreeWalkResult::Ok
                }
                Err(e) => {
                    failure = Some(e);
                    TreeWalkResult::Abort
                }
            }
        });
        // An aborted walk fails too: the reason is the failure it stopped for.
        match (failure, walked) {
            (Some(e), _) => Err(e),
            (None, Err(e)) => Err(self.error("walk tree", e)),
            (None, Ok(())) => Ok(files),
        }
    }

    /// Writes one commit on top of `parent` that gives each folder exactly its new files.
    /// Returns `None` when that changes nothing: no empty commits.
    ///
    /// The commit's blobs and trees are built in memory (a libgit2 mempack) and reach
    /// the clone as one pack: two files, where writing them one by one makes a file, and
    /// often a folder, per object — on a slow disk that cost more than the rest of the
    /// commit.
    #[instrument(skip(self, updates, info), fields(url = %redact::url(&self.url), folders = updates.len()))]
    pub fn commit(
        &self,
        parent: Oid,
        updates: &[FolderUpdate],
        info: &CommitInfo,
    ) -> Result<Option<Oid>> {
        let fail = |e| self.error("commit", e);
        // A handle of its own: the in-memory backend stays attached to the object
        // database of the handle it was added to, and goes with it.
        let scratch = Repo {
            repo: Repository::open_bare(self.repo.path()).map_err(fail)?,
            url: self.url.clone(),
            access: None,
            refusal: Arc::default(),
            learnt: self.learnt.clone(),
            max_file_size: self.max_file_size,
        };
        let odb = scratch.repo.odb().map_err(fail)?;
        let memory = odb
            .add_new_mempack_backend(IN_MEMORY_PRIORITY)
            .map_err(fail)?;
        let Some(oid) = scratch.build_commit(parent, updates, info)? else {
            return Ok(None);
        };
        let mut pack = git2::Buf::new();
        memory.dump(&scratch.repo, &mut pack).map_err(fail)?;
        let mut writer = odb.packwriter().map_err(fail)?;
        std::io::Write::write_all(&mut writer, &pack).map_err(|e| {
            EngineError::Internal(format!("cannot write the commit's objects: {e}"))
        })?;
        writer.commit().map_err(fail)?;
        debug!(%oid, "committed");
        Ok(Some(oid))
    }

    /// [`Repo::commit`]'s objects, written to whichever backend takes writes.
    fn build_commit(
        &self,
        parent: Oid,
        updates: &[FolderUpdate],
        info: &CommitInfo,
    ) -> Result<Option<Oid>> {
        let fail = |e| self.error("commit", e);
        let parent_commit = self.repo.find_commit(parent).map_err(fail)?;
        let base = parent_commit.tree().map_err(fail)?;

        let mut builder = TreeUpdateBuilder::new();
        let folders: Vec<&str> = updates.iter().map(|u| u.folder.as_str()).collect();
        let folder_ids = self.tree_ids(&parent_commit, &folders)?;
        for (update, id) in updates.iter().zip(folder_ids) {
            let folder = update.folder.trim_matches('/');
            // Blob ids, not contents: hashing the new files tells what changed without
            // reading or writing anything that did not.
            let current = match id.and_then(|id| self.repo.find_tree(id).ok()) {
                Some(tree) => self.folder_blobs(&tree)?,
                None => BTreeMap::new(),
            };
            for (path, content) in &update.files {
                let id = Oid::hash_object(ObjectType::Blob, content).map_err(fail)?;
                if current.get(path) != Some(&id) {
                    let blob = self.repo.blob(content).map_err(fail)?;
                    builder.upsert(join(folder, path), blob, FileMode::Blob);
                }
            }
            for path in current.keys().filter(|p| !update.files.contains_key(*p)) {
                builder.remove(join(folder, path));
            }
        }
        let tree_id = builder.create_updated(&self.repo, &base).map_err(fail)?;
        if tree_id == base.id() {
            return Ok(None);
        }
        let tree = self.repo.find_tree(tree_id).map_err(fail)?;
        let signature = Signature::now(&info.author_name, &info.author_email).map_err(fail)?;
        let oid = self
            .repo
            .commit(
                None,
                &signature,
                &signature,
                &info.message(),
                &tree,
                &[&parent_commit],
            )
            .map_err(fail)?;
        Ok(Some(oid))
    }

    /// The blob ids under `subtree`, by path relative to it.
    fn folder_blobs(&self, subtree: &git2::Tree) -> Result<BTreeMap<String, Oid>> {
        let fail = |e| self.error("read tree", e);
        let mut blobs = BTreeMap::new();
        subtree
            .walk(TreeWalkMode::PreOrder, |dir, entry| {
                if let (Some(ObjectType::Blob), Ok(name)) = (entry.kind(), entry.name()) {
                    blobs.insert(format!("{dir}{name}"), entry.id());
                }
                TreeWalkResult::Ok
            })
            .map_err(fail)?;
        Ok(blobs)
    }

    /// Pushes `commit` to `branch` without force: the remote accepts it only as a
    /// fast-forward.
    #[instrument(skip(self), fields(url = %redact::url(&self.url)))]
    pub fn push(&self, commit: Oid, branch: &str) -> Result<PushOutcome> {
        let started = Instant::now();
        let outcome = self.send(commit, branch);
        telemetry::git_operation("push", outcome.is_ok(), started.elapsed());
        if let Ok(sent) = &outcome {
            telemetry::push_ended(matches!(sent, PushOutcome::Pushed));
        }
        // Once the remote has the commit, not between a trigger's fetch and it.
        if matches!(outcome, Ok(PushOutcome::Pushed)) {
            self.compact_when_crowded(MAX_PACKS);
        }
        outcome
    }

    fn send(&self, commit: Oid, branch: &str) -> Result<PushOutcome> {
        if let Some(path) = local_path(&self.url) {
            return self.push_to_disk(Path::new(path), commit, branch);
        }
        // A local ref to push from; the remote's answer per ref arrives in a callback.
        let local = format!("refs/promenade/outgoing/{branch}");
        self.repo
            .reference(&local, commit, true, "promenade: outgoing")
            .map_err(|e| self.error("push", e))?;
        let mut remote = self
            .repo
            .remote_anonymous(&self.url)
            .map_err(|e| self.error("push", e))?;
        let mut rejection = None;
        let mut callbacks = self.callbacks();
        callbacks.push_update_reference(|_, status| {
            rejection = status.map(str::to_string);
            Ok(())
        });
        let mut options = git2::PushOptions::new();
        options.remote_callbacks(callbacks);
        let refspec = format!("{local}:refs/heads/{branch}");
        match remote.push(&[refspec.as_str()], Some(&mut options)) {
            Ok(()) => {}
            // Local and smart transports report a non-fast-forward as an error.
            Err(e) if e.code() == git2::ErrorCode::NotFastForward => {
                return Ok(PushOutcome::Rejected(e.message().to_string()))
            }
            Err(e) => return Err(self.error("push", e)),
        }
        drop(options);
        match rejection {
            Some(reason) => Ok(PushOutcome::Rejected(reason)),
            None => self.pushed(commit, branch),
        }
    }

    /// Our tracking ref learns the remote's new tip without another fetch.
    fn pushed(&self, commit: Oid, branch: &str) -> Result<PushOutcome> {
        self.repo
            .reference(&tracking_ref(branch), commit, true, "promenade: pushed")
            .map_err(|e| self.error("push", e))?;
        self.learn(branch);
        Ok(PushOutcome::Pushed)
    }

    /// A push to a repository on this machine's disk. libgit2's own moves the branch
    /// without checking where it stood (a forced update), so of two writers at once —
    /// two replicas, or someone's `git push` — one could drop the other's commit. This
    /// copies the new objects and then moves the branch only from the tip the commit
    /// was built on, under the ref's lock, as `git receive-pack` does.
    fn push_to_disk(&self, path: &Path, commit: Oid, branch: &str) -> Result<PushOutcome> {
        let failed = |e: git2::Error| self.error("push", e);
        let remote = Repository::open(path).map_err(failed)?;
        let reference = format!("refs/heads/{branch}");
        let old = remote.refname_to_id(&reference).ok();
        if let Some(old) = old {
            let fast_forward = old == commit
                || (self.repo.odb().map_err(failed)?.exists(old)
                    && self.repo.graph_descendant_of(commit, old).map_err(failed)?);
            if !fast_forward {
                return Ok(PushOutcome::Rejected(format!(
                    "{reference} moved on: not a fast-forward"
                )));
            }
        }
        let source = self.repo.odb().map_err(failed)?;
        let target = remote.odb().map_err(failed)?;
        let mut walk = self.repo.revwalk().map_err(failed)?;
        walk.push(commit).map_err(failed)?;
        if let Some(old) = old {
            walk.hide(old).map_err(failed)?;
        }
        for id in walk {
            let id = id.map_err(failed)?;
            let tree = self.repo.find_commit(id).map_err(failed)?.tree_id();
            copy_tree(&self.repo, &target, tree).map_err(failed)?;
            copy_object(&source, &target, id).map_err(failed)?;
        }
        let moved = match old {
            Some(old) => {
                remote.reference_matching(&reference, commit, true, old, "promenade: push")
            }
            None => remote.reference(&reference, commit, false, "promenade: push"),
        };
        match moved {
            Ok(_) => self.pushed(commit, branch),
            Err(e)
                if matches!(
                    e.code(),
                    git2::ErrorCode::Modified | git2::ErrorCode::Exists | git2::ErrorCode::Locked
                ) =>
            {
                Ok(PushOutcome::Rejected(format!(
                    "{reference} moved on meanwhile"
                )))
            }
            Err(e) => Err(failed(e)),
        }
    }

    /// When `commit` was made (RFC 3339).
    pub fn committed_at(&self, commit: Oid) -> Result<String> {
        let found = self
            .repo
            .find_commit(commit)
            .map_err(|e| self.error("read history", e))?;
        Ok(commit_time(&found))
    }

    /// For each folder, the newest commit on the first-parent history of `tip` (looking
    /// back at most `depth` commits) that changed it, with its time (RFC 3339). A folder
    /// unchanged in that window maps to the oldest commit looked at.
    #[instrument(level = "debug", skip_all, fields(folders = folders.len()))]
    pub fn last_changes(
        &self,
        tip: Oid,
        folders: &[&str],
        depth: usize,
    ) -> Result<HashMap<String, (Oid, String)>> {
        let fail = |e| self.error("read history", e);
        let folder_ids = |commit: &git2::Commit| self.tree_ids(commit, folders);
        let mut found: HashMap<String, (Oid, String)> = HashMap::new();
        let mut commit = self.repo.find_commit(tip).map_err(fail)?;
        let mut ids = folder_ids(&commit)?;
        for _ in 0..depth {
            let parent = commit.parents().next();
            let parent_ids = match &parent {
                Some(p) => folder_ids(p)?,
                None => vec![None; folders.len()],
            };
            let when = commit_time(&commit);
            for (index, folder) in folders.iter().enumerate() {
                if ids[index] != parent_ids[index] || parent.is_none() {
                    found
                        .entry(folder.to_string())
                        .or_insert_with(|| (commit.id(), when.clone()));
                }
            }
            match parent {
                Some(p) if found.len() < folders.len() => {
                    commit = p;
                    ids = parent_ids;
                }
                _ => break,
            }
        }
        let oldest = (commit.id(), commit_time(&commit));
        for folder in folders {
            found
                .entry(folder.to_string())
                .or_insert_with(|| oldest.clone());
        }
        Ok(found)
    }

    /// The newest commit reachable from `tip` that carries the trailers of this release
    /// and environment, if the promotion was already made. Release ids are ULIDs, which
    /// carry their creation time: newest commits first, the search ends at the first one
    /// committed before the release was created (less [`CLOCK_SKEW`]), so a release's
    /// first attempt reads a few commits, not the last 500.
    #[instrument(level = "debug", skip_all)]
    pub fn find_promotion(
        &self,
        tip: Oid,
        release: &str,
        environment: &str,
    ) -> Result<Option<Oid>> {
        let fail = |e| self.error("search history", e);
        let mut walk = self.repo.revwalk().map_err(fail)?;
        walk.set_sorting(git2::Sort::TIME).map_err(fail)?;
        walk.push(tip).map_err(fail)?;
        let created = ulid::Ulid::from_string(release)
            .ok()
            .map(|id| (id.timestamp_ms() / 1000) as i64 - CLOCK_SKEW);
        for oid in walk.take(TRAILER_SEARCH_DEPTH) {
            let oid = oid.map_err(fail)?;
            let commit = self.repo.find_commit(oid).map_err(fail)?;
            if created.is_some_and(|created| commit.time().seconds() < created) {
                break;
            }
            let Ok(message) = commit.message() else {
                continue;
            };
            let Ok(trailers) = git2::message_trailers_strs(message) else {
                continue;
            };
            let (mut ours, mut here) = (false, false);
            for (key, value) in trailers.iter() {
                ours |= key == RELEASE_TRAILER && value == release;
                here |= key == ENVIRONMENT_TRAILER && value == environment;
            }
            if ours && here {
                return Ok(Some(oid));
            }
        }
        Ok(None)
    }
}

/// How many of the smallest packs (`sizes`, their objects, ascending) to combine: as git's geometric
/// repacking (factor 2) does, those that break the progression "each pack at least
/// twice the one before" and every smaller one — plus larger ones the combined pack
/// would break it with. The large packs are left alone, so compacting costs in
/// proportion to what came since, not to the clone. When the packs already form such a
/// progression, the smaller half.
fn packs_to_combine(sizes: &[u64]) -> usize {
    let mut split = (1..sizes.len())
        .rev()
        .find(|&i| sizes[i] < sizes[i - 1].saturating_mul(2))
        .map_or(0, |i| i + 1);
    let mut combined: u64 = sizes[..split].iter().sum();
    while split < sizes.len() && sizes[split] <= combined.saturating_mul(2) {
        combined += sizes[split];
        split += 1;
    }
    if split < 2 {
        sizes.len() / 2
    } else {
        split
    }
}

/// A pack index (version 2) starts with 8 bytes (magic, version) and 256 fan-out
/// counts, the last of which is its number of objects; the sorted 20-byte ids follow.
const PACK_INDEX_HEADER: usize = 8 + 256 * 4;

/// The number of objects a pack index lists, from its first [`PACK_INDEX_HEADER`] bytes.
fn pack_index_count(index: &[u8]) -> Option<u64> {
    if index.get(..8)? != b"\xfftOc\0\0\0\x02" {
        return None;
    }
    let last = index.get(PACK_INDEX_HEADER - 4..PACK_INDEX_HEADER)?;
    Some(u32::from_be_bytes(last.try_into().ok()?).into())
}

/// The object ids a pack index lists.
fn pack_index_ids(index: &[u8]) -> Option<Vec<Oid>> {
    let count = usize::try_from(pack_index_count(index)?).ok()?;
    let ids = index.get(PACK_INDEX_HEADER..PACK_INDEX_HEADER + count.checked_mul(20)?)?;
    ids.chunks_exact(20)
        .map(|id| Oid::from_bytes(id).ok())
        .collect()
}

/// The clone's loose objects (`objects/ab/cdef…`), with their files.
fn loose_objects(objects: &Path) -> std::io::Result<Vec<(Oid, PathBuf)>> {
    let mut found = Vec::new();
    for folder in std::fs::read_dir(objects)? {
        let folder = folder?;
        let prefix = folder.file_name().to_string_lossy().into_owned();
        if prefix.len() != 2 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        for file in std::fs::read_dir(folder.path())? {
            let file = file?;
            let rest = file.file_name().to_string_lossy().into_owned();
            if let Ok(id) = Oid::from_str(&format!("{prefix}{rest}")) {
                if rest.len() == 38 {
                    found.push((id, file.path()));
                }
            }
        }
    }
    Ok(found)
}

fn commit_time(commit: &git2::Commit) -> String {
    time::OffsetDateTime::from_unix_timestamp(commit.time().seconds())
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The folder of a repository on this machine's disk (`file://…` or a path); `None`
/// for remotes reached over the network.
fn local_path(url: &str) -> Option<&str> {
    let remote = promenade_model::remote::RemoteUrl::parse(url).ok()?;
    (remote.transport == promenade_model::remote::Transport::Local)
        .then(|| url.strip_prefix("file://").unwrap_or(url))
}

/// Copies a tree and everything under it that `target` lacks. A subtree `target` has
/// is complete there, so it is not walked.
fn copy_tree(
    repo: &Repository,
    target: &git2::Odb,
    tree: Oid,
) -> std::result::Result<(), git2::Error> {
    if target.exists(tree) {
        return Ok(());
    }
    let source = repo.odb()?;
    for entry in repo.find_tree(tree)?.iter() {
        match entry.kind() {
            Some(ObjectType::Tree) => copy_tree(repo, target, entry.id())?,
            Some(ObjectType::Blob) if !target.exists(entry.id()) => {
                copy_object(&source, target, entry.id())?
            }
            // Present already, or a submodule's commit, which lives elsewhere.
            _ => {}
        }
    }
    copy_object(&source, target, tree)
}

fn copy_object(
    source: &git2::Odb,
    target: &git2::Odb,
    id: Oid,
) -> std::result::Result<(), git2::Error> {
    let object = source.read(id)?;
    target.write(object.kind(), object.data())?;
    Ok(())
}

fn tracking_ref(branch: &str) -> String {
    format!("refs/remotes/origin/{branch}")
}

fn join(folder: &str, path: &str) -> String {
    if folder.is_empty() {
        path.to_string()
    } else {
        format!("{folder}/{path}")
    }
}

/// A readable, collision-free folder name for a remote: its last path segment plus a
/// hash of the whole URL (credentials in URLs never reach the file system).
fn cache_folder_name(url: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(url.as_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let stem: String = url
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(40)
        .collect();
    format!("{stem}-{hash}.git")
}

fn git_error(url: &str, action: &str, error: git2::Error) -> EngineError {
    let mut message = error.message().to_string();
    if error.class() == git2::ErrorClass::Ssl || error.code() == git2::ErrorCode::Certificate {
        message = format!(
            "TLS: {message} (is the server's certificate signed by a CA that the system or \
             `--ca-file` trusts?)"
        );
    }
    if let Some(secret) = redact::userinfo(url) {
        message = message.replace(secret, "***");
    }
    EngineError::Git {
        url: redact::url(url),
        action: action.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::packs_to_combine;

    #[test]
    fn the_small_packs_are_combined_and_the_large_ones_left_alone() {
        // 8 and 32 keep the progression; the three small ones do not.
        assert_eq!(packs_to_combine(&[1, 1, 1, 8, 32]), 3);
        // Combined (6), the small ones would break it with the 10 above them.
        assert_eq!(packs_to_combine(&[1, 2, 3, 10, 64]), 4);
        assert_eq!(packs_to_combine(&[4, 4, 4, 4]), 4);
        // Already a progression: the smaller half.
        assert_eq!(packs_to_combine(&[1, 2, 4, 8, 16, 32]), 3);
    }
}
