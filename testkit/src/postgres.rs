//! A real PostgreSQL server for tests: Debian's `postgresql` binaries, `initdb` into a
//! temporary folder, listening on a free loopback port, one per test process, and a
//! fresh database for every caller. PostgreSQL refuses to run as root, so as root the
//! server runs as the `postgres` user. The server stops when the test process ends,
//! however it ends (the kernel signals it when its parent goes).
//!
//! Suites opt in with `PROMENADE_TEST_DATABASE=postgres` ([`test_database_url`]); a
//! machine without PostgreSQL then fails loudly, naming the package to install.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The database URL a test suite should use: a fresh PostgreSQL database when
/// `PROMENADE_TEST_DATABASE=postgres`, `None` (SQLite in the data folder) otherwise.
pub fn test_database_url() -> Option<String> {
    match std::env::var("PROMENADE_TEST_DATABASE").as_deref() {
        Ok("postgres") => Some(fresh_database()),
        Ok("sqlite") | Ok("") | Err(_) => None,
        Ok(other) => panic!("PROMENADE_TEST_DATABASE={other}: expected postgres or sqlite"),
    }
}

struct Server {
    port: u16,
}

/// Where this process's cluster lives. A process-wide server is never dropped, so its
/// folder is named after the process and removed by a later run once that process is
/// gone.
const FOLDER_PREFIX: &str = "promenade-pg-";

/// Removes the clusters of test processes that ended.
fn remove_stale_folders() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(FOLDER_PREFIX))
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only asks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            std::fs::remove_dir_all(entry.path()).ok();
        }
    }
}

static SERVER: OnceLock<Server> = OnceLock::new();
static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// A new, empty database on this process's server, started on first use.
pub fn fresh_database() -> String {
    let server = SERVER.get_or_init(start);
    let name = format!(
        "t{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::SeqCst)
    );
    let created = Command::new(bin("psql"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &server.port.to_string(),
            "-U",
            "postgres",
        ])
        .args([
            "-d",
            "postgres",
            "-q",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .output()
        .expect("psql runs");
    assert!(
        created.status.success(),
        "cannot create database {name}: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    format!("postgres://postgres@127.0.0.1:{}/{name}", server.port)
}

/// The folder of the newest PostgreSQL installed the Debian way.
fn bin_dir() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(root)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .max()
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed (no {}): install Debian's `postgresql` package \
                 (scripts/bootstrap does)",
                root.display()
            )
        });
    root.join(newest.to_string()).join("bin")
}

fn bin(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// The user and group to run the server as: `postgres` when this process is root.
fn server_user() -> Option<(u32, u32)> {
    let me = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&me.stdout).trim() != "0" {
        return None;
    }
    let id = |flag: &str| {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id runs");
        assert!(
            out.status.success(),
            "running as root needs the `postgres` user (Debian's `postgresql` package makes it)"
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u32>()
            .expect("a numeric id")
    };
    Some((id("-u"), id("-g")))
}

fn as_server_user(command: &mut Command, user: Option<(u32, u32)>) -> &mut Command {
    // Started from the server's folder, which that user may enter.
    command.current_dir("/");
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
    command
}

fn start() -> Server {
    let user = server_user();
    remove_stale_folders();
    let folder = std::env::temp_dir().join(format!("{FOLDER_PREFIX}{}", std::process::id()));
    std::fs::remove_dir_all(&folder).ok();
    std::fs::create_dir(&folder).expect("a temporary folder");
    let dir = folder;
    let data = dir.as_path().join("data");
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(dir.as_path(), Some(uid), Some(gid)).expect("chown");
    }
    let init = as_server_user(&mut Command::new(bin("initdb")), user)
        .args(["-D", data.to_str().expect("a UTF-8 path")])
        .args(["-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
        .stdout(Stdio::null())
        .output()
        .expect("initdb runs");
    assert!(
        init.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let log = std::fs::File::create(dir.as_path().join("server.log")).expect("a log file");
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(dir.as_path().join("server.log"), Some(uid), Some(gid))
            .expect("chown");
    }
    let mut server = Command::new(bin("postgres"));
    as_server_user(&mut server, user)
        .args(["-D", data.to_str().expect("a UTF-8 path")])
        .args([
            "-p",
            &port.to_string(),
            "-k",
            dir.as_path().to_str().expect("a UTF-8 path"),
        ])
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=300",
        ])
        // Durability is not what these tests are about; speed is.
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("a log file"))
        .stderr(log);
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to stop the server
    // when the thread that started it ends, which is never before this process does.
    unsafe {
        server.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // Started from a thread that lives as long as the process: the death signal
    // follows the thread that spawned the server, not the process.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let child = server.spawn();
        let failed = child.is_err();
        sender.send(child.map(|_| ())).ok();
        if !failed {
            loop {
                std::thread::park();
            }
        }
    });
    receiver
        .recv()
        .expect("the starting thread answers")
        .expect("postgres starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = Command::new(bin("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q"])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "PostgreSQL did not start; its log: {}",
            std::fs::read_to_string(dir.as_path().join("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Server { port }
}
