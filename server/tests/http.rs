//! The HTTP surface over real loopback connections: the router as `promenade serve`
//! builds it, on a free port, with a throw-away SQLite database.

use std::net::SocketAddr;

use leptos::prelude::LeptosOptions;
use promenade_engine::{Engine, EngineConfig, Store};
use promenade_server::{router, AppState};
use serde_json::Value;

struct TestServer {
    base: String,
    engine: Engine,
    _data: tempfile::TempDir,
}

async fn start() -> TestServer {
    let data = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        Store::open(None, data.path()).await.unwrap(),
        EngineConfig::new(data.path()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let leptos_options = LeptosOptions::builder()
        .output_name("promenade")
        .site_root(data.path().display().to_string())
        .site_addr(addr)
        .build();
    let app = router(AppState {
        leptos_options,
        engine: engine.clone(),
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TestServer {
        base: format!("http://{addr}"),
        engine,
        _data: data,
    }
}

async fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{}{path}", server.base))
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn probes_report_liveness_and_database_readiness() {
    let server = start().await;
    assert_eq!(
        get(&server, "/healthz").await,
        (200, serde_json::json!({"status": "ok"}))
    );
    assert_eq!(
        get(&server, "/readyz").await,
        (200, serde_json::json!({"status": "ready"}))
    );

    server.engine.store().close().await;
    let (status, body) = get(&server, "/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "database_unavailable");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("database"));
    // Liveness does not depend on the database.
    assert_eq!(get(&server, "/healthz").await.0, 200);
}

#[tokio::test]
async fn the_openapi_document_describes_the_served_endpoints() {
    let server = start().await;
    let (status, doc) = get(&server, "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["title"], "Promenade API");
    let paths = doc["paths"].as_object().unwrap();
    for path in ["/healthz", "/readyz", "/api/v1/openapi.json"] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}

#[tokio::test]
async fn unknown_api_paths_answer_with_a_json_error() {
    let server = start().await;
    let (status, body) = get(&server, "/api/v1/no/such/thing").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["details"].is_null());
}
