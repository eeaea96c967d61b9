//! Each audit entry is also one JSON log line on the `promenade::audit` target, for
//! log shippers. Alone in its file: it installs the process's log subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{admin, Options, World};
use promenade_engine::auth::Role;
use promenade_model::audit::AuditQuery;

/// A `Write` that keeps what the log subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn every_entry_is_a_json_log_line_on_the_audit_target() {
    let world = World::new(Options::default()).await;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_writer(move || writer.clone())
        .finish();
    // The process-wide default, installed once: this file holds one test, so nothing
    // else logs here, and every thread the engine uses logs to it.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let token = world
        .engine
        .create_token(&admin(), "deploy-bot", Role::Promoter)
        .await
        .unwrap();
    let output = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(!output.contains(&token), "the token is not logged");
    let lines: Vec<serde_json::Value> = output
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|line: &serde_json::Value| line["target"] == "promenade::audit")
        .collect();
    assert_eq!(lines.len(), 1, "{output:?}");
    let recorded = &world
        .engine
        .audit_trail(&admin(), &AuditQuery::default())
        .await
        .unwrap()[0];
    let line = &lines[0];
    assert_eq!(line["action"], "token-created");
    assert_eq!(line["actor"], "user test");
    assert_eq!(line["object"], "deploy-bot");
    assert_eq!(line["detail"], "role promoter");
    assert_eq!(line["id"], recorded.id);
    assert_eq!(line["at"], recorded.at.as_str());
}
