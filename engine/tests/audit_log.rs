//! Each audit entry is also one JSON log line on the `promenade::audit` target, for
//! log shippers. Alone in its file: it installs the process's log subscriber.

mod common;

use common::{admin, Options, World};
use promenade_engine::auth::Role;
use promenade_model::audit::AuditQuery;
use promenade_testkit::log::CapturedLog;

#[tokio::test]
async fn every_entry_is_a_json_log_line_on_the_audit_target() {
    let world = World::new(Options::default()).await;
    let captured = CapturedLog::install();
    let token = world
        .engine
        .create_token(&admin(), "deploy-bot", Role::Promoter)
        .await
        .unwrap();
    let output = captured.text();
    assert!(!output.contains(&token), "the token is not logged");
    let lines = captured.lines_on("promenade::audit");
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
