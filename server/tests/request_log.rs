//! One log line per request, with its route, status, latency, principal and request id;
//! the id returned in `X-Request-Id`. Alone in its file: it installs the process's log
//! subscriber.

mod support;

use promenade_engine::auth::{Principal, Role};
use promenade_engine::{Engine, EngineConfig, Store};
use promenade_testkit::log::CapturedLog;

#[tokio::test]
async fn every_request_is_one_line_naming_who_asked_and_its_id() {
    let captured = CapturedLog::install();

    let data = tempfile::tempdir().unwrap();
    let database = promenade_testkit::postgres::test_database_url();
    let store = Store::open(database.as_deref(), data.path()).await.unwrap();
    let engine = Engine::new(store, EngineConfig::new(data.path()));
    let token = engine
        .create_token(
            &Principal::system("operator", Role::Admin),
            "ci",
            Role::Viewer,
        )
        .await
        .unwrap();
    let addr = support::spawn(engine, data.path()).await;
    let client = reqwest::Client::new();

    let answered = client
        .get(format!("http://{addr}/api/v1/releases?limit=5"))
        .bearer_auth(&token)
        .header("x-request-id", "deploy-42.a")
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    assert_eq!(answered.headers()["x-request-id"], "deploy-42.a");
    let refused = client
        .get(format!("http://{addr}/api/v1/releases/nope"))
        .header("x-request-id", "bad id\twith=tab")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let generated = refused.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(generated.len(), 32, "{generated}");
    assert!(generated.bytes().all(|b| b.is_ascii_hexdigit()));

    let output = captured.text();
    assert!(!output.contains(&token), "the token is not logged");
    let lines = captured.lines_on("promenade::request");
    let line = |id: &str| {
        lines
            .iter()
            .find(|l| l["span"]["id"] == id)
            .unwrap_or_else(|| panic!("no request line with id {id}: {output}"))
            .clone()
    };
    let ok = line("deploy-42.a");
    assert_eq!(ok["method"], "GET");
    assert_eq!(ok["route"], "/api/v1/releases");
    assert_eq!(ok["status"], 200);
    assert!(ok["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    assert_eq!(ok["principal"], "token ci", "{ok}");
    let no = line(&generated);
    assert_eq!(no["route"], "/api/v1/releases/{id}");
    assert_eq!(no["status"], 401);
    assert_eq!(no["principal"], "", "nobody was recognised");
}
