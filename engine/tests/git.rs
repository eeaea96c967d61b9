//! The git layer against real repositories on disk: a bare "remote" per test, written to
//! directly by the test (another user) and through the engine's clone cache.

mod common;

use std::path::Path;

use git2::{Oid, Repository};
use promenade_engine::credentials::Keyring;
use promenade_engine::git::{CommitInfo, FileTree, FolderUpdate, GitCache, PushOutcome, Repo};
use promenade_engine::transport::RemotePolicy;
use promenade_engine::EngineError;

/// The tests' remotes are on disk.
fn keyring() -> Keyring {
    Keyring::new(RemotePolicy::everything())
}

fn files(entries: &[(&str, &str)]) -> FileTree {
    entries
        .iter()
        .map(|(path, content)| (path.to_string(), content.as_bytes().to_vec()))
        .collect()
}

/// Commits `entries` straight onto `main` of the remote, as another person's push would.
fn commit_to_remote(path: &Path, entries: &[(&str, &str)], message: &str) -> Oid {
    let entries: Vec<(String, String)> = entries
        .iter()
        .map(|(file, content)| (file.to_string(), content.to_string()))
        .collect();
    common::commit_to_remote(path, "main", &entries, message)
}

fn info(release: &str, environment: &str) -> CommitInfo {
    CommitInfo {
        subject: format!("Promote shop to {environment}"),
        body: "api: 1.4.0\nweb: 1.4.0".into(),
        release: release.into(),
        environment: environment.into(),
        promoted_by: "alice (user)".into(),
        author_name: "Promenade".into(),
        author_email: "promenade@example.com".into(),
    }
}

/// A remote whose `main` has `envs/qa/values.yaml` at tag 1, and the engine's clone of
/// it (from a cache of its own, in `dir`).
fn seeded(dir: &Path) -> (std::path::PathBuf, Repo) {
    let remote = dir.join("remote.git");
    commit_to_remote(&remote, &[("envs/qa/values.yaml", "tag: 1\n")], "seed");
    let repo = GitCache::new(dir.join("cache"))
        .open(&url(&remote), &keyring())
        .unwrap();
    (remote, repo)
}

/// qa's folder at `tag`.
fn qa_at(tag: &str) -> Vec<FolderUpdate> {
    vec![FolderUpdate {
        folder: "envs/qa".into(),
        files: files(&[("values.yaml", &format!("tag: {tag}\n"))]),
    }]
}

fn url(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn history(path: &Path) -> Vec<(Oid, String)> {
    let repo = Repository::open_bare(path).unwrap();
    let mut walk = repo.revwalk().unwrap();
    walk.push_ref("refs/heads/main").unwrap();
    walk.map(|oid| {
        let oid = oid.unwrap();
        let summary = repo
            .find_commit(oid)
            .unwrap()
            .summary()
            .unwrap()
            .unwrap()
            .to_string();
        (oid, summary)
    })
    .collect()
}

#[test]
fn a_file_over_the_size_limit_is_refused_by_name_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let remote = dir.path().join("remote.git");
    let exactly = "x".repeat(1024);
    let over = "x".repeat(1025);
    commit_to_remote(
        &remote,
        &[
            ("apps/api/envs/qa/values.yaml", exactly.as_str()),
            ("apps/web/envs/qa/values.yaml", "image: {}\n"),
            ("apps/web/envs/qa/dump.json", over.as_str()),
        ],
        "seed",
    );
    let repo = GitCache::new(dir.path().join("cache"))
        .with_max_file_size(1024)
        .open(&url(&remote), &keyring())
        .unwrap();
    let tip = repo.fetch("main").unwrap();
    assert_eq!(
        repo.read_folder(tip, "apps/api/envs/qa").unwrap().len(),
        1,
        "a file of exactly the limit is read"
    );
    let error = repo.read_folder(tip, "apps/web/envs/qa").unwrap_err();
    assert!(matches!(
        error,
        EngineError::FileTooLarge {
            size: 1025,
            limit: 1024,
            ..
        }
    ));
    let message = error.to_string();
    assert!(
        message.starts_with("`apps/web/envs/qa/dump.json` in file://")
            && message.ends_with("has 1025 bytes, more than the 1024 a file read from a repository may have (--max-file-size)"),
        "{message}"
    );
}

#[test]
fn one_commit_updates_many_folders_and_carries_the_trailers() {
    let dir = tempfile::tempdir().unwrap();
    let remote = dir.path().join("remote.git");
    commit_to_remote(
        &remote,
        &[
            ("apps/api/envs/qa/values.yaml", "image:\n  tag: 1.3.0\n"),
            ("apps/web/envs/qa/values.yaml", "image:\n  tag: 1.3.0\n"),
            ("apps/web/envs/qa/old.yaml", "gone: soon\n"),
            ("README.md", "untouched\n"),
        ],
        "seed",
    );
    let repo = GitCache::new(dir.path().join("cache"))
        .open(&url(&remote), &keyring())
        .unwrap();
    let tip = repo.fetch("main").unwrap();

    let updates = vec![
        FolderUpdate {
            folder: "apps/api/envs/qa".into(),
            files: files(&[("values.yaml", "image:\n  tag: 1.4.0\n")]),
        },
        FolderUpdate {
            folder: "apps/web/envs/qa/".into(),
            files: files(&[
                ("values.yaml", "image:\n  tag: 1.4.0\n"),
                ("new.yaml", "a: 1\n"),
            ]),
        },
    ];
    let commit = repo
        .commit(tip, &updates, &info("rel-1", "qa"))
        .unwrap()
        .unwrap();
    assert_eq!(repo.push(commit, "main").unwrap(), PushOutcome::Pushed);

    let log = history(&remote);
    assert_eq!(log.len(), 2, "exactly one new commit: {log:?}");
    assert_eq!(log[0], (commit, "Promote shop to qa".to_string()));

    // A second, independent clone sees exactly the new folder contents.
    let other = GitCache::new(dir.path().join("cache2"))
        .open(&url(&remote), &keyring())
        .unwrap();
    let fetched = other.fetch("main").unwrap();
    assert_eq!(fetched, commit);
    assert_eq!(
        other.read_folder(fetched, "apps/web/envs/qa").unwrap(),
        files(&[
            ("new.yaml", "a: 1\n"),
            ("values.yaml", "image:\n  tag: 1.4.0\n")
        ])
    );
    assert_eq!(
        other
            .read_folder(fetched, "")
            .unwrap()
            .get("README.md")
            .unwrap(),
        b"untouched\n"
    );
    assert_eq!(
        other.find_promotion(fetched, "rel-1", "qa").unwrap(),
        Some(commit)
    );
    assert_eq!(
        other.find_promotion(fetched, "rel-1", "prod").unwrap(),
        None
    );
    assert_eq!(other.find_promotion(fetched, "rel-2", "qa").unwrap(), None);
}

#[test]
fn a_commit_that_changes_nothing_is_not_made() {
    let dir = tempfile::tempdir().unwrap();
    let (_remote, repo) = seeded(dir.path());
    let tip = repo.fetch("main").unwrap();
    let same = qa_at("1");
    assert_eq!(repo.commit(tip, &same, &info("r", "qa")).unwrap(), None);
}

#[test]
fn a_rejected_push_is_retried_on_the_new_tip_without_rewriting_history() {
    let dir = tempfile::tempdir().unwrap();
    let (remote, repo) = seeded(dir.path());
    let tip = repo.fetch("main").unwrap();
    let update = qa_at("2");
    let ours = repo
        .commit(tip, &update, &info("r", "qa"))
        .unwrap()
        .unwrap();

    // Someone else pushes first.
    let theirs = commit_to_remote(&remote, &[("docs/notes.md", "hello\n")], "their change");

    match repo.push(ours, "main").unwrap() {
        PushOutcome::Rejected(_) => {}
        PushOutcome::Pushed => panic!("a non-fast-forward push must be rejected"),
    }
    assert_eq!(
        history(&remote)[0].0,
        theirs,
        "the remote kept their commit"
    );

    let tip = repo.fetch("main").unwrap();
    assert_eq!(tip, theirs);
    let retried = repo
        .commit(tip, &update, &info("r", "qa"))
        .unwrap()
        .unwrap();
    assert_eq!(repo.push(retried, "main").unwrap(), PushOutcome::Pushed);

    let log: Vec<String> = history(&remote).into_iter().map(|(_, s)| s).collect();
    assert_eq!(log, ["Promote shop to qa", "their change", "seed"]);
}

#[test]
fn reading_a_missing_folder_gives_no_files() {
    let dir = tempfile::tempdir().unwrap();
    let remote = dir.path().join("remote.git");
    commit_to_remote(&remote, &[("a/b.txt", "x")], "seed");
    let repo = GitCache::new(dir.path().join("cache"))
        .open(&url(&remote), &keyring())
        .unwrap();
    let tip = repo.fetch("main").unwrap();
    assert!(repo.read_folder(tip, "no/such/folder").unwrap().is_empty());
    assert!(repo.read_folder(tip, "a/b.txt").unwrap().is_empty());
}

#[test]
fn folders_read_together_come_back_in_order_each_with_its_own_files() {
    let dir = tempfile::tempdir().unwrap();
    let remote = dir.path().join("remote.git");
    commit_to_remote(
        &remote,
        &[
            ("apps/web/qa/values.yaml", "web"),
            ("apps/api/qa/values.yaml", "api"),
            ("apps/api/qa/extra/config.yaml", "nested"),
            ("top.txt", "top"),
        ],
        "seed",
    );
    let repo = GitCache::new(dir.path().join("cache"))
        .open(&url(&remote), &keyring())
        .unwrap();
    let tip = repo.fetch("main").unwrap();
    let read: Vec<Vec<String>> = repo
        .read_folders(
            tip,
            &[
                "apps/api/qa",
                "apps/ghost/qa",
                "/apps/web/qa/",
                "top.txt",
                "apps/web/qa",
                "",
            ],
        )
        .unwrap()
        .into_iter()
        .map(|files| files.unwrap().keys().cloned().collect())
        .collect();
    assert_eq!(
        read,
        [
            vec!["extra/config.yaml", "values.yaml"],
            vec![],
            vec!["values.yaml"],
            vec![],
            vec!["values.yaml"],
            vec![
                "apps/api/qa/extra/config.yaml",
                "apps/api/qa/values.yaml",
                "apps/web/qa/values.yaml",
                "top.txt"
            ],
        ]
    );
    assert_eq!(
        repo.read_folders(tip, &["apps/web/qa"]).unwrap()[0]
            .as_ref()
            .unwrap()["values.yaml"],
        b"web"
    );
}

#[test]
fn errors_name_the_remote_without_its_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let repo = GitCache::new(dir.path().join("cache"))
        .open(
            "file:///nonexistent-user:s3cret@/no/such/repo.git",
            &keyring(),
        )
        .unwrap();
    let message = repo.fetch("main").unwrap_err().to_string();
    assert!(message.contains("fetch"), "{message}");
    assert!(!message.contains("s3cret"), "credentials leaked: {message}");
}

#[test]
fn a_tip_fetched_or_pushed_moments_ago_is_known_without_asking_the_remote() {
    let dir = tempfile::tempdir().unwrap();
    let remote = dir.path().join("remote.git");
    commit_to_remote(&remote, &[("envs/qa/values.yaml", "tag: 1\n")], "seed");
    let cache = GitCache::new(dir.path().join("cache"));
    let repo = cache.open(&url(&remote), &keyring()).unwrap();
    let window = std::time::Duration::from_secs(60);
    assert_eq!(repo.known_tip("main", window), None, "nothing learnt yet");

    let tip = repo.fetch("main").unwrap();
    // Another opening of the same clone knows it too: the trigger's and the step's.
    let step = cache.open(&url(&remote), &keyring()).unwrap();
    assert_eq!(step.known_tip("main", window), Some(tip));
    assert_eq!(
        step.known_tip("main", std::time::Duration::ZERO),
        None,
        "too old"
    );
    assert_eq!(step.known_tip("other", window), None);

    let update = qa_at("2");
    let ours = step
        .commit(tip, &update, &info("r", "qa"))
        .unwrap()
        .unwrap();
    assert_eq!(step.push(ours, "main").unwrap(), PushOutcome::Pushed);
    assert_eq!(
        repo.known_tip("main", window),
        Some(ours),
        "a push teaches it"
    );
}

#[test]
fn the_search_for_a_release_s_commit_stops_at_commits_older_than_the_release() {
    let dir = tempfile::tempdir().unwrap();
    let (_remote, repo) = seeded(dir.path());
    let tip = repo.fetch("main").unwrap();
    let now = std::time::SystemTime::now();
    // Lower-case, as the engine makes them.
    let release = ulid::Ulid::from_datetime(now).to_string().to_lowercase();
    let update = qa_at("2");
    let ours = repo
        .commit(tip, &update, &info(&release, "qa"))
        .unwrap()
        .unwrap();
    assert_eq!(
        repo.find_promotion(ours, &release, "qa").unwrap(),
        Some(ours)
    );

    // The same trailers under a release created a day after the commit: the search
    // ends before reaching it, as it ends before the commits older than any release.
    let later = ulid::Ulid::from_datetime(now + std::time::Duration::from_secs(86_400));
    let ours = repo
        .commit(tip, &update, &info(&later.to_string(), "qa"))
        .unwrap()
        .unwrap();
    assert_eq!(
        repo.find_promotion(ours, &later.to_string(), "qa").unwrap(),
        None
    );
    // A release id that is not a ULID is searched without a bound.
    let ours = repo
        .commit(tip, &update, &info("rel-1", "qa"))
        .unwrap()
        .unwrap();
    assert_eq!(
        repo.find_promotion(ours, "rel-1", "qa").unwrap(),
        Some(ours)
    );
}

/// The engine's clone of the remote in `cache` (the cache holds one).
fn clone_folder(cache: &Path) -> std::path::PathBuf {
    let mut folders: Vec<_> = std::fs::read_dir(cache)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("objects").is_dir())
        .collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    folders.remove(0)
}

/// The clone's packs, and its loose objects.
fn object_files(clone: &Path) -> (usize, usize) {
    let objects = clone.join("objects");
    let packs = std::fs::read_dir(objects.join("pack"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "pack")
        })
        .count();
    let loose = std::fs::read_dir(&objects)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().len() == 2)
        .map(|e| std::fs::read_dir(e.path()).unwrap().count())
        .sum();
    (packs, loose)
}

#[test]
fn a_commit_reaches_the_clone_as_one_pack_not_as_loose_objects() {
    let dir = tempfile::tempdir().unwrap();
    let (remote, repo) = seeded(dir.path());
    let tip = repo.fetch("main").unwrap();
    let clone = clone_folder(&dir.path().join("cache"));
    let (packs, _) = object_files(&clone);

    let update = vec![
        qa_at("2").remove(0),
        FolderUpdate {
            folder: "envs/prod".into(),
            files: files(&[("values.yaml", "tag: 2\n"), ("extra/notes.md", "hi\n")]),
        },
    ];
    let commit = repo
        .commit(tip, &update, &info("r", "qa"))
        .unwrap()
        .unwrap();
    assert_eq!(object_files(&clone), (packs + 1, 0));

    assert_eq!(repo.push(commit, "main").unwrap(), PushOutcome::Pushed);
    assert_eq!(history(&remote)[0].0, commit);
    let prod = repo.read_folder(commit, "envs/prod").unwrap();
    assert_eq!(
        prod,
        files(&[("values.yaml", "tag: 2\n"), ("extra/notes.md", "hi\n")])
    );
}

#[test]
fn a_crowded_clone_is_compacted_and_keeps_every_object() {
    let dir = tempfile::tempdir().unwrap();
    let (remote, repo) = seeded(dir.path());
    repo.fetch("main").unwrap();
    let clone = clone_folder(&dir.path().join("cache"));
    // Objects written one by one, as clones made before commits were packed hold.
    let loose = Repository::open_bare(&clone)
        .unwrap()
        .blob(b"written loose\n")
        .unwrap();
    assert_eq!(object_files(&clone).1, 1);

    // Others' pushes fetched, and our commits: each brings a pack.
    let mut commits = Vec::new();
    for round in 0..2 * promenade_engine::git::MAX_PACKS {
        commit_to_remote(
            &remote,
            &[("docs/notes.md", &format!("round {round}\n"))],
            &format!("their change {round}"),
        );
        let tip = repo.fetch("main").unwrap();
        let ours = repo
            .commit(tip, &qa_at(&round.to_string()), &info("r", "qa"))
            .unwrap()
            .unwrap();
        assert_eq!(repo.push(ours, "main").unwrap(), PushOutcome::Pushed);
        commits.push((ours, round));
        let (packs, _) = object_files(&clone);
        assert!(
            packs <= promenade_engine::git::MAX_PACKS + 1,
            "{packs} packs after round {round}"
        );
    }
    assert_eq!(object_files(&clone).1, 0, "the loose object was packed");

    // Every object is still there, through this handle and a new one.
    let reopened = Repository::open_bare(&clone).unwrap();
    assert_eq!(
        reopened.find_blob(loose).unwrap().content(),
        b"written loose\n"
    );
    for (commit, round) in commits {
        let qa = repo.read_folder(commit, "envs/qa").unwrap();
        assert_eq!(qa, files(&[("values.yaml", &format!("tag: {round}\n"))]));
        let found = reopened.find_commit(commit).unwrap();
        assert_eq!(found.summary().unwrap(), Some("Promote shop to qa"));
    }
    for (oid, _) in history(&remote) {
        assert!(repo.has_commit(oid), "{oid} was lost");
    }
}

/// Someone else's commit of `docs/notes.md` at `round`, fetched: one more pack.
fn their_change_fetched(remote: &Path, repo: &Repo, round: usize) {
    commit_to_remote(
        remote,
        &[("docs/notes.md", &format!("{round}\n"))],
        "theirs",
    );
    repo.fetch("main").unwrap();
}

#[test]
fn a_clone_only_fetched_from_is_compacted_too() {
    let dir = tempfile::tempdir().unwrap();
    let (remote, repo) = seeded(dir.path());
    let clone = clone_folder(&dir.path().join("cache"));
    let limit = 2 * promenade_engine::git::MAX_PACKS;
    for round in 0..limit + 4 {
        their_change_fetched(&remote, &repo, round);
        let (packs, _) = object_files(&clone);
        assert!(packs <= limit, "{packs} packs after fetch {round}");
    }
    let tip = history(&remote)[0].0;
    assert!(repo.has_commit(tip));
}

#[test]
fn compaction_combines_the_small_packs_into_one() {
    let dir = tempfile::tempdir().unwrap();
    let (remote, repo) = seeded(dir.path());
    for round in 0..6 {
        their_change_fetched(&remote, &repo, round);
    }
    let clone = clone_folder(&dir.path().join("cache"));
    assert_eq!(object_files(&clone).0, 6, "a pack per fetch");
    assert!(!repo.compact(6).unwrap(), "not more than 6");
    // Six packs of about the same size: one.
    assert!(repo.compact(5).unwrap());
    assert_eq!(object_files(&clone).0, 1);
    let tip = history(&remote)[0].0;
    assert_eq!(
        repo.read_folder(tip, "docs").unwrap(),
        files(&[("notes.md", "5\n")])
    );
}

#[test]
fn a_pack_without_its_index_does_not_stop_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let (remote, repo) = seeded(dir.path());
    for round in 0..3 {
        their_change_fetched(&remote, &repo, round);
    }
    let clone = clone_folder(&dir.path().join("cache"));
    // What a write cut short between the pack and its index leaves.
    let stray = clone.join("objects/pack/pack-0000000000000000000000000000000000000000.pack");
    std::fs::write(&stray, b"PACK").unwrap();

    assert!(repo.compact(2).unwrap());
    assert!(stray.exists(), "left for whoever cut it short");
    assert_eq!(
        object_files(&clone).0,
        2,
        "the stray file and the combined pack"
    );
    let tip = history(&remote)[0].0;
    assert_eq!(
        repo.read_folder(tip, "docs").unwrap(),
        files(&[("notes.md", "2\n")])
    );
}
