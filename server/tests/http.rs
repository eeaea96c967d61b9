//! The HTTP surface over real loopback connections: the router as `promenade serve`
//! builds it, on a free port, with a throw-away SQLite database.

mod support;

use promenade_engine::auth::{Principal, Role};
use promenade_engine::demo::approval_policy;
use promenade_engine::{Engine, EngineConfig, Store};
use promenade_model::release::GateStatus;
use promenade_model::resources::ResourceKind;
use promenade_model::schema;
use serde_json::Value;

struct TestServer {
    base: String,
    engine: Engine,
    admin: String,
    data: tempfile::TempDir,
    /// The PostgreSQL database, when the suite runs on one.
    database: Option<String>,
}

async fn start() -> TestServer {
    start_with(|_| {}).await
}

/// A server whose engine settings `configure` changes.
async fn start_with(configure: impl FnOnce(&mut EngineConfig)) -> TestServer {
    let data = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(data.path());
    config.allow_local_repositories = true;
    configure(&mut config);
    let database = promenade_testkit::postgres::test_database_url();
    let store = Store::open(database.as_deref(), data.path()).await.unwrap();
    let engine = Engine::new(store, config);
    let addr = support::spawn(engine.clone(), data.path()).await;
    let admin = engine
        .create_token(&operator(), "admin", Role::Admin)
        .await
        .unwrap();
    TestServer {
        base: format!("http://{addr}"),
        engine,
        admin,
        data,
        database,
    }
}

/// The operator at the server's shell, who creates the tests' tokens.
fn operator() -> Principal {
    Principal::system("operator", Role::Admin)
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

    server.engine.close().await;
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
async fn a_replica_whose_name_another_server_took_turns_unready() {
    let server = start_with(|config| {
        config.replica_name = "twin".into();
        config.lease_timeout = std::time::Duration::from_secs(3);
    })
    .await;
    assert_eq!(get(&server, "/readyz").await.0, 200);

    // A second server wrongly started under the same name, on the same database.
    let store = Store::open(server.database.as_deref(), server.data.path())
        .await
        .unwrap();
    let mut config = EngineConfig::new(server.data.path());
    config.replica_name = "twin".into();
    let twin = Engine::new(store, config);
    twin.resume().await.unwrap();

    // The first one notices at its next renewal (a third of the lease timeout).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (status, body) = get(&server, "/readyz").await;
        if status == 503 {
            assert_eq!(body["error"]["code"], "unavailable", "{body}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still ready: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_served_endpoints() {
    let server = start().await;
    let (status, doc) = get(&server, "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["title"], "Promenade API");
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/openapi.json",
        "/api/v1/apply",
        "/api/v1/{kind}/{name}",
        "/api/v1/products/{product}/promotions",
        "/api/v1/products/{product}/status",
        "/api/v1/releases/{id}/events",
        "/api/v1/releases/{id}/changes/{environment}/{application}",
        "/api/v1/releases/{id}/compare/{to}",
        "/api/v1/releases/{id}/terminate",
        "/api/v1/releases/{id}/approve",
        "/api/v1/webhooks/git",
        "/api/v1/webhooks/github",
        "/api/v1/webhooks/gitlab",
        "/api/v1/credentials",
        "/api/v1/credentials/{name}",
        "/api/v1/settings",
        "/api/v1/import/argocd",
        "/api/v1/products/{product}/deployed",
        "/api/v1/schemas",
        "/api/v1/schemas/{kind}",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}

#[tokio::test]
async fn the_resource_schemas_are_served_to_callers_with_a_token() {
    let server = start().await;
    let viewer = server
        .engine
        .create_token(&operator(), "editor", Role::Viewer)
        .await
        .unwrap();
    for (path, expected) in [
        ("/api/v1/schemas", schema::for_all_kinds()),
        (
            "/api/v1/schemas/flows",
            schema::for_kind(ResourceKind::PromotionFlow),
        ),
        (
            "/api/v1/schemas/Environment",
            schema::for_kind(ResourceKind::Environment),
        ),
    ] {
        let (status, body) = call(&server, reqwest::Method::GET, path, Some(&viewer), None).await;
        assert_eq!((status, body), (200, expected), "{path}");
        let (status, _) = call(&server, reqwest::Method::GET, path, None, None).await;
        assert_eq!(status, 401, "{path}");
    }
    let (status, body) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/schemas/pipelines",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn unknown_api_paths_answer_with_a_json_error() {
    let server = start().await;
    let (status, body) = get(&server, "/api/v1/no/such/thing").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body["error"]["details"], serde_json::json!({}));
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<reqwest::Body>,
) -> (u16, Value) {
    let mut request = client().request(method, format!("{}{path}", server.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request
            .body(body)
            .header("content-type", "application/json");
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn every_api_endpoint_needs_a_valid_token_and_the_right_role() {
    let server = start().await;
    for path in [
        "/api/v1/releases",
        "/api/v1/products",
        "/api/v1/products/shop/status",
    ] {
        let (status, body) = call(&server, reqwest::Method::GET, path, None, None).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(body["error"]["code"], "unauthorized");
        let (status, _) = call(
            &server,
            reqwest::Method::GET,
            path,
            Some("pmd_forged"),
            None,
        )
        .await;
        assert_eq!(status, 401, "{path}");
    }
    let viewer = server
        .engine
        .create_token(&operator(), "dashboard", Role::Viewer)
        .await
        .unwrap();
    let (status, body) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/releases",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!((status, body), (200, serde_json::json!([])));
    let (status, body) = call(
        &server,
        reqwest::Method::POST,
        "/api/v1/apply",
        Some(&viewer),
        Some("kind: Environment".into()),
    )
    .await;
    assert_eq!(status, 403);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("promoter"));
}

#[tokio::test]
async fn invalid_resources_are_refused_with_every_problem_and_change_nothing() {
    let server = start().await;
    let yaml = "apiVersion: promenade.dev/v1alpha1\nkind: Environment\nmetadata: { name: qa }\nspec: { kind: sometimes }\n";
    let (status, body) = call(
        &server,
        reqwest::Method::POST,
        "/api/v1/apply",
        Some(&server.admin),
        Some(yaml.into()),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid");
    let diagnostic = &body["error"]["details"]["diagnostics"][0];
    assert_eq!(
        (diagnostic["line"].as_u64(), diagnostic["file"].as_str()),
        (Some(4), Some("request"))
    );
    assert!(diagnostic["column"].as_u64().unwrap() > 1);
    let (_, listed) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/environments",
        Some(&server.admin),
        None,
    )
    .await;
    assert_eq!(listed, serde_json::json!([]));

    let good = "apiVersion: promenade.dev/v1alpha1\nkind: Environment\nmetadata: { name: qa }\nspec: { kind: non-prod }\n";
    let (status, body) = call(
        &server,
        reqwest::Method::POST,
        "/api/v1/apply?dryRun=true",
        Some(&server.admin),
        Some(good.into()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["changes"][0]["change"], "created");
    let (_, listed) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/environments",
        Some(&server.admin),
        None,
    )
    .await;
    assert_eq!(listed, serde_json::json!([]), "a dry run stores nothing");

    let (status, _) = call(
        &server,
        reqwest::Method::POST,
        "/api/v1/apply",
        Some(&server.admin),
        Some(good.into()),
    )
    .await;
    assert_eq!(status, 200);
    let (status, env) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/environments/qa",
        Some(&server.admin),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(env["revision"], 1);
    assert!(env["document"].as_str().unwrap().contains("kind: non-prod"));
    let (status, _) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/widgets",
        Some(&server.admin),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_promotion_over_http_previews_runs_and_streams_its_events() {
    let server = start().await;
    promenade_engine::demo::set_up(&server.engine, server.data.path())
        .await
        .unwrap();
    let token = Some(server.admin.as_str());

    let dry = serde_json::json!({ "to": "qa", "dryRun": true }).to_string();
    let (status, preview) = call(
        &server,
        reqwest::Method::POST,
        "/api/v1/products/shop/promotions",
        token,
        Some(dry.into()),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["version"], "1.5.0");
    let unified = preview["environments"][0]["applications"][0]["files"][0]["unified"]
        .as_str()
        .unwrap();
    assert!(unified.contains("+  tag: \"1.5.0\""), "{unified}");
    let (_, releases) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/releases",
        token,
        None,
    )
    .await;
    assert_eq!(releases, serde_json::json!([]));

    let run = serde_json::json!({ "to": "qa", "message": "ship 1.5.0" }).to_string();
    let (status, release) = call(
        &server,
        reqwest::Method::POST,
        "/api/v1/products/shop/promotions",
        token,
        Some(run.into()),
    )
    .await;
    assert_eq!(status, 201, "{release}");
    let id = release["id"].as_str().unwrap().to_string();

    // The stream ends by itself once the release is final.
    let events = client()
        .get(format!("{}/api/v1/releases/{id}/events", server.base))
        .bearer_auth(&server.admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(events.contains("event: step"), "{events}");
    let last = events.lines().rfind(|l| l.starts_with("data:")).unwrap();
    let last: Value = serde_json::from_str(last.trim_start_matches("data:").trim()).unwrap();
    assert_eq!(
        (last["kind"].as_str(), last["data"]["status"].as_str()),
        (Some("release"), Some("succeeded"))
    );

    // Resuming after the second event replays only what followed it.
    let ids: Vec<i64> = events
        .lines()
        .filter_map(|l| l.strip_prefix("id:"))
        .map(|v| v.trim().parse().unwrap())
        .collect();
    let resumed = client()
        .get(format!("{}/api/v1/releases/{id}/events", server.base))
        .bearer_auth(&server.admin)
        .header("Last-Event-ID", ids[1].to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let resumed_ids: Vec<i64> = resumed
        .lines()
        .filter_map(|l| l.strip_prefix("id:"))
        .map(|v| v.trim().parse().unwrap())
        .collect();
    assert_eq!(resumed_ids, ids[2..].to_vec());

    let (status, done) = call(
        &server,
        reqwest::Method::GET,
        &format!("/api/v1/releases/{id}"),
        token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["message"], "ship 1.5.0");
    let app = done["steps"][0]["applications"][0]["application"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, change) = call(
        &server,
        reqwest::Method::GET,
        &format!("/api/v1/releases/{id}/changes/qa/{app}"),
        token,
        None,
    )
    .await;
    assert_eq!(status, 200, "{change}");
    assert_eq!(change["application"], app.as_str());
    assert!(change["added"].as_u64() > Some(0), "{change}");
    let (status, _) = call(
        &server,
        reqwest::Method::GET,
        &format!("/api/v1/releases/{id}/changes/prod/{app}"),
        token,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, same) = call(
        &server,
        reqwest::Method::GET,
        &format!("/api/v1/releases/{id}/compare/{id}"),
        token,
        None,
    )
    .await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same["applications"], serde_json::json!([]));
    assert_eq!(same["unchanged"], 3);
    let (_, status_view) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/products/shop/status",
        token,
        None,
    )
    .await;
    assert_eq!(
        status_view["applications"][0]["cells"]["qa"]["version"],
        "1.5.0"
    );
    let (status, _) = call(
        &server,
        reqwest::Method::POST,
        &format!("/api/v1/releases/{id}/retry"),
        token,
        None,
    )
    .await;
    assert_eq!(status, 409, "a succeeded release cannot be retried");
}

#[tokio::test]
async fn pages_send_strangers_to_sign_in_and_other_sites_cannot_post() {
    let server = start().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = no_redirects
        .get(format!("{}/releases?product=shop", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 303);
    assert_eq!(
        page.headers()["location"],
        "/login?next=/releases%3Fproduct%3Dshop"
    );
    let login = no_redirects
        .get(format!("{}/login", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 200);

    let forged = client()
        .post(format!("{}/api/v1/apply", server.base))
        .bearer_auth(&server.admin)
        .header("Origin", "https://evil.example")
        .body("kind: Environment")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    let body: Value = forged.json().await.unwrap();
    assert_eq!(body["error"]["code"], "cross_origin");
}

async fn post_json(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let body = Some(body.to_string().into());
    call(server, reqwest::Method::POST, path, token, body).await
}

/// Polls the release until `pred` holds, failing after 30 s.
async fn release_until(
    server: &TestServer,
    id: &str,
    pred: impl Fn(&promenade_engine::store::ReleaseRecord) -> bool,
) -> promenade_engine::store::ReleaseRecord {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let release = server.engine.release(&operator(), id).await.unwrap();
        if pred(&release) {
            return release;
        }
        assert!(std::time::Instant::now() < deadline, "{release:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn approving_a_gate_over_http_checks_the_role_and_the_state() {
    let server = start().await;
    promenade_engine::demo::set_up(&server.engine, server.data.path())
        .await
        .unwrap();
    let admin = Some(server.admin.as_str());
    let policy = approval_policy("qa", "{ roles: [release-manager] }");
    let (status, body) = call(
        &server,
        reqwest::Method::POST,
        "/api/v1/apply",
        admin,
        Some(policy.clone().into()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let promotions = "/api/v1/products/shop/promotions";
    let dry = serde_json::json!({ "to": "qa", "dryRun": true });
    let (status, preview) = post_json(&server, promotions, admin, dry).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        preview["environments"][0]["waitsFor"],
        serde_json::json!(["approval by release-manager"])
    );
    let run = serde_json::json!({ "to": "qa" });
    let (status, release) = post_json(&server, promotions, admin, run).await;
    assert_eq!(status, 201, "{release}");
    let id = release["id"].as_str().unwrap().to_string();
    let approve = format!("/api/v1/releases/{id}/approve");
    let qa = serde_json::json!({ "environment": "qa" });

    // Wait until qa stands at its gate.
    release_until(&server, &id, |r| {
        r.steps[0].gates().first().map(|g| g.status) == Some(GateStatus::Waiting)
    })
    .await;

    let promoter = server
        .engine
        .create_token(&operator(), "ci", Role::Promoter)
        .await
        .unwrap();
    let (status, body) = post_json(&server, &approve, Some(&promoter), qa.clone()).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("release-manager"));
    // Four eyes: the admin token started the release, so it may not approve it.
    let (status, body) = post_json(&server, &approve, admin, qa.clone()).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("four eyes"));
    // A malformed body answers the API's JSON error, not plain text.
    let (status, body) = call(
        &server,
        reqwest::Method::POST,
        &approve,
        admin,
        Some("{\"environment\": ".into()),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    // A promoter may not change the guard rails either.
    let (status, body) = call(
        &server,
        reqwest::Method::POST,
        "/api/v1/apply",
        Some(&promoter),
        Some(policy.replace("qa-approval", "loosened").into()),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");

    let manager = server
        .engine
        .create_token(&operator(), "rita", Role::ReleaseManager)
        .await
        .unwrap();
    let other = serde_json::json!({ "environment": "prod" });
    let (status, body) = post_json(&server, &approve, Some(&manager), other).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = post_json(&server, &approve, Some(&manager), qa.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["steps"][0]["detail"]["gates"][0]["approvals"][0]["user"],
        "rita"
    );
    let done = release_until(&server, &id, |r| r.status.is_final()).await;
    assert_eq!(done.status, promenade_engine::ReleaseStatus::Succeeded);
    let (status, body) = post_json(&server, &approve, Some(&manager), qa).await;
    assert_eq!(status, 409, "{body}");
}

/// Where the sign-in form posts to (the server function's endpoint).
async fn login_action(client: &reqwest::Client, server: &TestServer) -> String {
    let form = client
        .get(format!("{}/login", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    form.split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the login form has an action")
        .to_string()
}

/// A browser-like client signed in as `name` through the login form.
async fn signed_in(server: &TestServer, name: &str, password: &str) -> reqwest::Client {
    signed_in_with(server, name, password, Default::default()).await
}

/// The same, keeping its cookies in `jar`.
async fn signed_in_with(
    server: &TestServer,
    name: &str,
    password: &str,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
) -> reqwest::Client {
    // As a browser does, every request says which site it comes from.
    let mut origin = reqwest::header::HeaderMap::new();
    origin.insert("origin", server.base.parse().unwrap());
    let client = reqwest::Client::builder()
        .cookie_provider(jar)
        .default_headers(origin)
        .build()
        .unwrap();
    let action = login_action(&client, server).await;
    let response = client
        .post(format!("{}{action}", server.base))
        .form(&[("name", name), ("password", password), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    client
}

#[tokio::test]
async fn server_functions_answer_the_engines_refusals_with_their_status() {
    let server = start().await;
    promenade_engine::demo::set_up(&server.engine, server.data.path())
        .await
        .unwrap();
    let password = "a long enough password";
    for (name, role) in [("pat", Role::Promoter), ("paula", Role::Promoter)] {
        server
            .engine
            .create_user(&operator(), name, password, role)
            .await
            .unwrap();
    }
    // Promoters may approve this gate: what refuses pat below is four eyes alone.
    let policy = approval_policy("qa", "{ roles: [promoter] }");
    server
        .engine
        .apply(&operator(), "policy.yaml", &policy, &Default::default())
        .await
        .unwrap();

    let pat = signed_in(&server, "pat", password).await;
    let started = pat
        .post(format!("{}/api/promotions/start", server.base))
        .form(&[("product", "shop"), ("to", "qa")])
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 200);
    let id: String = started.json().await.unwrap();
    release_until(&server, &id, |r| {
        r.steps[0].gates().first().map(|g| g.status) == Some(GateStatus::Waiting)
    })
    .await;

    let approve = |client: &reqwest::Client, release: &str| {
        client
            .post(format!("{}/api/releases/approve", server.base))
            .form(&[("id", release), ("environment", "qa")])
            .send()
    };
    let refused = approve(&pat, &id).await.unwrap();
    assert_eq!(refused.status(), 403);
    let message = refused.text().await.unwrap();
    assert!(message.contains("four eyes"), "{message}");
    // A missing release is 404, not 500.
    let missing = approve(&pat, "no-such-release").await.unwrap();
    assert_eq!(missing.status(), 404);

    let paula = signed_in(&server, "paula", password).await;
    assert_eq!(approve(&paula, &id).await.unwrap().status(), 200);
    let done = release_until(&server, &id, |r| r.status.is_final()).await;
    assert_eq!(done.status, promenade_engine::ReleaseStatus::Succeeded);
    let gate = &done.steps[0].gates()[0];
    assert_eq!(gate.approvals[0].user, "paula");
}

#[tokio::test]
async fn changing_ones_password_signs_out_ones_other_browsers() {
    let server = start().await;
    let old = "a long enough password";
    server
        .engine
        .create_user(&operator(), "pat", old, Role::Viewer)
        .await
        .unwrap();
    let laptop = signed_in(&server, "pat", old).await;
    let phone = signed_in(&server, "pat", old).await;
    let page = |client: &reqwest::Client| client.get(format!("{}/settings", server.base)).send();
    assert_eq!(page(&phone).await.unwrap().url().path(), "/settings");
    // Sessions are counted in whole seconds: the change must come in a later one.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let change = |current: &str, new: &str, repeated: &str| {
        laptop
            .post(format!("{}/api/account/password", server.base))
            .form(&[("current", current), ("new", new), ("repeated", repeated)])
            .send()
    };
    let mismatch = change(old, "the new password", "the new passw0rd")
        .await
        .unwrap();
    assert_eq!(mismatch.status(), 400);
    assert!(mismatch.text().await.unwrap().contains("differ"));
    let wrong = change("not my password", "the new password", "the new password")
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    assert_eq!(page(&phone).await.unwrap().url().path(), "/settings");

    let changed = change(old, "the new password", "the new password")
        .await
        .unwrap();
    assert_eq!(changed.status(), 200, "{}", changed.text().await.unwrap());
    assert_eq!(
        page(&laptop).await.unwrap().url().path(),
        "/settings",
        "this browser stays signed in"
    );
    assert_eq!(
        page(&phone).await.unwrap().url().path(),
        "/login",
        "the other browser is signed out"
    );
    let (status, changes) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/audit?action=password-changed",
        Some(&server.admin),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(changes[0]["actor"], "user pat");
}

#[tokio::test]
async fn each_caller_may_hold_only_so_many_event_streams_open() {
    let server = start_with(|config| config.max_streams = 2).await;
    let open = |token: &str| {
        client()
            .get(format!("{}/api/v1/events", server.base))
            .bearer_auth(token)
            .send()
    };
    let first = open(&server.admin).await.unwrap();
    let second = open(&server.admin).await.unwrap();
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = open(&server.admin).await.unwrap();
    assert_eq!(third.status(), 429);
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_streams");

    // Another caller has streams of its own.
    let viewer = server
        .engine
        .create_token(&operator(), "wallboard", Role::Viewer)
        .await
        .unwrap();
    assert_eq!(open(&viewer).await.unwrap().status(), 200);

    // A closed stream frees its place (once the server notices the client left).
    drop(first);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let again = open(&server.admin).await.unwrap();
        if again.status() == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the place was not freed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(second);
}

/// Commits `content` to `path` on `branch` of the bare repository, as a developer's
/// push would.
fn push_to(repository: &std::path::Path, branch: &str, path: &str, content: &str) -> String {
    let repo = git2::Repository::open_bare(repository).unwrap();
    let parent = repo
        .find_commit(repo.refname_to_id("refs/heads/main").unwrap())
        .unwrap();
    let mut builder = git2::build::TreeUpdateBuilder::new();
    builder.upsert(
        path,
        repo.blob(content.as_bytes()).unwrap(),
        git2::FileMode::Blob,
    );
    let tree = repo
        .find_tree(
            builder
                .create_updated(&repo, &parent.tree().unwrap())
                .unwrap(),
        )
        .unwrap();
    let who = git2::Signature::now("Dev", "dev@example.com").unwrap();
    repo.commit(
        Some(&format!("refs/heads/{branch}")),
        &who,
        &who,
        "a change",
        &tree,
        &[&parent],
    )
    .unwrap()
    .to_string()
}

/// Sends a GitHub delivery, signed with `secret` unless it is `None`.
async fn github(
    server: &TestServer,
    event: &str,
    delivery: &str,
    payload: &Value,
    secret: &str,
) -> (u16, Value) {
    use hmac::Mac;
    let body = payload.to_string();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let response = client()
        .post(format!("{}/api/v1/webhooks/github", server.base))
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_signed_github_push_starts_exactly_one_release() {
    const SECRET: &str = "whsec-7d41b09a3c";
    let server = start().await;
    let demo = promenade_engine::demo::set_up(&server.engine, server.data.path())
        .await
        .unwrap();
    let token = Some(server.admin.as_str());
    let url = format!("file://{}", demo.repository.display());
    let push = |branch: &str, paths: &[&str]| {
        serde_json::json!({
            "ref": format!("refs/heads/{branch}"),
            "repository": { "clone_url": url, "html_url": "https://example.com/acme/gitops" },
            "commits": [{ "id": "0", "added": [], "modified": paths, "removed": [] }]
        })
    };
    let dev_file = promenade_engine::demo::values_path("api", "dev");

    // No secret set up yet: refused.
    let (status, body) = github(&server, "push", "d-0", &push("main", &[&dev_file]), SECRET).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("github-webhook"));

    let (status, created) = post_json(
        &server,
        "/api/v1/credentials/github-webhook",
        token,
        serde_json::json!({ "kind": "token", "secret": SECRET }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (_, listed) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/credentials",
        token,
        None,
    )
    .await;
    for answer in [&created, &listed] {
        assert!(!answer.to_string().contains(SECRET), "{answer}");
    }
    assert_eq!(listed[0]["name"], "github-webhook");
    assert_eq!(listed[0]["kind"], "token");

    let (status, pong) = github(
        &server,
        "ping",
        "d-ping",
        &serde_json::json!({"zen": "hi"}),
        SECRET,
    )
    .await;
    assert_eq!((status, pong["outcome"].as_str()), (200, Some("pong")));

    // The baseline, as `serve` records it at start.
    server.engine.poll_triggers(&operator()).await.unwrap();
    push_to(
        &demo.repository,
        "main",
        &dev_file,
        "image:\n  tag: \"1.6.0\"\n",
    );
    let releases = || async {
        let (_, list) = call(
            &server,
            reqwest::Method::GET,
            "/api/v1/releases",
            token,
            None,
        )
        .await;
        list.as_array().unwrap().len()
    };

    let (status, _) = github(
        &server,
        "push",
        "d-1",
        &push("main", &[&dev_file]),
        "forged",
    )
    .await;
    assert_eq!(status, 401, "a bad signature");
    let (status, answer) = github(
        &server,
        "push",
        "d-2",
        &push("feature", &[&dev_file]),
        SECRET,
    )
    .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("unchanged")),
        "another branch"
    );
    let (status, answer) = github(
        &server,
        "push",
        "d-3",
        &push("main", &["README.md"]),
        SECRET,
    )
    .await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("unchanged")),
        "outside the trigger folders"
    );
    assert_eq!(releases().await, 0);

    let (status, answer) =
        github(&server, "push", "d-4", &push("main", &[&dev_file]), SECRET).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "started");
    assert_eq!(answer["releases"].as_array().unwrap().len(), 1);
    let first = answer["releases"][0].as_str().unwrap().to_string();
    let (status, answer) =
        github(&server, "push", "d-4", &push("main", &[&dev_file]), SECRET).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("duplicate")),
        "a replay"
    );
    // A redelivery under a new id finds nothing new either.
    let (_, answer) = github(&server, "push", "d-5", &push("main", &[&dev_file]), SECRET).await;
    assert_eq!(answer["outcome"], "unchanged");
    assert_eq!(releases().await, 1);

    // A merged pull request counts as the commit it produced; an open one does not.
    // The developer pushes once the release stopped writing (prod waits for its merge).
    release_until(&server, &first, |r| {
        r.steps
            .iter()
            .any(|s| s.status == promenade_engine::StepStatus::AwaitingMerge)
    })
    .await;
    push_to(
        &demo.repository,
        "main",
        &dev_file,
        "image:\n  tag: \"1.7.0\"\n",
    );
    let pull_request = |action: &str, merged: bool| {
        serde_json::json!({
            "action": action,
            "pull_request": {
                "merged": merged,
                "base": { "ref": "main", "repo": { "clone_url": url } }
            }
        })
    };
    let (_, answer) = github(
        &server,
        "pull_request",
        "d-6",
        &pull_request("opened", false),
        SECRET,
    )
    .await;
    assert_eq!(answer["outcome"], "ignored", "{answer}");
    let (_, answer) = github(
        &server,
        "pull_request",
        "d-7",
        &pull_request("closed", true),
        SECRET,
    )
    .await;
    assert_eq!(answer["outcome"], "started", "{answer}");
    assert_eq!(releases().await, 2);
}

#[tokio::test]
async fn gitlab_and_generic_webhooks_check_their_secret() {
    let server = start().await;
    let token = Some(server.admin.as_str());
    for name in ["gitlab-webhook", "git-webhook"] {
        let (status, body) = post_json(
            &server,
            &format!("/api/v1/credentials/{name}"),
            token,
            serde_json::json!({ "kind": "token", "secret": "s3cret-hook" }),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let payload = serde_json::json!({
        "ref": "refs/heads/main",
        "project": { "git_http_url": "https://gitlab.example.com/acme/gitops.git" },
        "commits": []
    })
    .to_string();
    let send = |path: &str, headers: Vec<(&'static str, &'static str)>, body: String| {
        let mut request = client().post(format!("{}{path}", server.base)).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let gitlab =
        |token: &'static str| vec![("x-gitlab-event", "Push Hook"), ("x-gitlab-token", token)];
    assert_eq!(
        send("/api/v1/webhooks/gitlab", gitlab("wrong"), payload.clone()).await,
        401
    );
    assert_eq!(
        send("/api/v1/webhooks/gitlab", vec![], payload.clone()).await,
        401
    );
    assert_eq!(
        send("/api/v1/webhooks/gitlab", gitlab("s3cret-hook"), payload).await,
        200
    );

    let generic = r#"{"repository": "https://git.example.com/acme/gitops.git", "branch": "main"}"#;
    let bearer = |token: &'static str| vec![("authorization", token)];
    assert_eq!(
        send(
            "/api/v1/webhooks/git",
            bearer("Bearer nope"),
            generic.into()
        )
        .await,
        401
    );
    assert_eq!(
        send(
            "/api/v1/webhooks/git",
            bearer("Bearer s3cret-hook"),
            generic.into()
        )
        .await,
        200
    );
    assert_eq!(
        send(
            "/api/v1/webhooks/git",
            bearer("Bearer s3cret-hook"),
            "{\"nope\": 1}".into()
        )
        .await,
        400,
        "a payload it cannot read"
    );
}

#[tokio::test]
async fn a_request_resting_on_the_session_cookie_must_say_it_comes_from_this_site() {
    let server = start().await;
    promenade_engine::demo::set_up(&server.engine, server.data.path())
        .await
        .unwrap();
    let password = "a long enough password";
    server
        .engine
        .create_user(&operator(), "pat", password, Role::Promoter)
        .await
        .unwrap();
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    signed_in_with(&server, "pat", password, jar.clone()).await;
    // The same session from a client that says nothing of where it comes from, as a
    // form on another site posting with the browser's cookie might.
    let silent = reqwest::Client::builder()
        .cookie_provider(jar)
        .build()
        .unwrap();
    let start = format!("{}/api/promotions/start", server.base);
    let form = [("product", "shop"), ("to", "qa")];
    let refused = silent.post(&start).form(&form).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "cross_origin");
    let listed = server
        .engine
        .list_releases(&operator(), &Default::default())
        .await
        .unwrap();
    assert!(listed.is_empty(), "nothing was started");
    // The browser's own word that the request is same-origin is enough.
    let vouched = silent
        .post(&start)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_ne!(
        vouched.status().as_u16(),
        403,
        "{}",
        vouched.text().await.unwrap()
    );
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let server = start().await;
    for path in ["/healthz", "/login", "/api/v1/nowhere"] {
        let answer = client()
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        let headers = answer.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
        // Pages have a fuller policy; every answer forbids framing.
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        // Served over plain HTTP here: no HSTS.
        assert!(headers.get("strict-transport-security").is_none(), "{path}");
    }
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_account_for_a_while() {
    let server = start().await;
    let password = "a long enough password";
    server
        .engine
        .create_user(&operator(), "pat", password, Role::Promoter)
        .await
        .unwrap();
    let action = login_action(&client(), &server).await;
    let sign_in = |password: &str| {
        client()
            .post(format!("{}{action}", server.base))
            .header("origin", &server.base)
            .form(&[("name", "pat"), ("password", password), ("next", "/")])
            .send()
    };
    for _ in 0..5 {
        let wrong = sign_in("not the password at all").await.unwrap();
        assert_eq!(wrong.status().as_u16(), 401);
    }
    let locked = sign_in(password).await.unwrap();
    assert_eq!(locked.status().as_u16(), 429);
    let text = locked.text().await.unwrap();
    assert!(text.contains("too many failed sign-ins"), "{text}");

    // The failures and the lockout are in the audit trail, with the client's address;
    // only admins read it.
    let audit = "/api/v1/audit?action=sign-in-failed";
    let (status, failures) = call(
        &server,
        reqwest::Method::GET,
        audit,
        Some(&server.admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{failures}");
    let failures = failures.as_array().unwrap();
    assert_eq!(failures.len(), 5);
    assert_eq!(failures[0]["actor"], "pat");
    assert_eq!(failures[0]["address"], "127.0.0.1");
    let (_, locks) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/audit?action=sign-in-locked&actor=pat",
        Some(&server.admin),
        None,
    )
    .await;
    assert_eq!(locks.as_array().map(Vec::len), Some(1), "{locks}");
    let manager = server
        .engine
        .create_token(&operator(), "ci", Role::ReleaseManager)
        .await
        .unwrap();
    let (status, _) = call(&server, reqwest::Method::GET, audit, Some(&manager), None).await;
    assert_eq!(status, 403);
    let (status, body) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/audit?action=dropped-tables",
        Some(&server.admin),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown audit action"));
}

#[tokio::test]
async fn a_page_allows_only_its_own_scripts_and_the_one_inline_script_it_names() {
    let server = start().await;
    let page = client()
        .get(format!("{}/login", server.base))
        .send()
        .await
        .unwrap();
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let html = page.text().await.unwrap();
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {policy}"));
    assert!(nonce.len() >= 20, "{nonce}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(
        !policy.contains("script-src 'self' 'unsafe-inline'"),
        "{policy}"
    );
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the inline script carries it"
    );
    // Another page, another nonce.
    let again = client()
        .get(format!("{}/login", server.base))
        .send()
        .await
        .unwrap();
    assert_ne!(again.headers()["content-security-policy"], policy.as_str());
}
