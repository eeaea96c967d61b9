//! `/metrics` after real releases: the series of releases, steps, gates, queues, leases,
//! git, streams, HTTP requests and sign-ins, with the values the releases imply. Alone
//! in its file: the recorder is the process's, so no other test's releases are counted.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use promenade_engine::auth::{Principal, Role};
use promenade_engine::demo::approval_policy;
use promenade_engine::{Engine, EngineConfig, ReleaseStatus, Store};
use promenade_model::release::GateStatus;

/// One scrape: each series (name and sorted labels) with its value.
struct Scrape(BTreeMap<(String, Vec<(String, String)>), f64>);

impl Scrape {
    fn parse(text: &str) -> Self {
        let mut series = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (key, value) = line.rsplit_once(' ').expect("a value after the series");
            let (name, labels) = match key.split_once('{') {
                Some((name, rest)) => (name, labels(rest.strip_suffix('}').expect("labels close"))),
                None => (key, Vec::new()),
            };
            series.insert((name.to_string(), labels), value.parse().expect("a number"));
        }
        Scrape(series)
    }

    /// The value of the series with exactly these labels.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut wanted: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        wanted.sort();
        self.0.get(&(name.to_string(), wanted)).copied()
    }

    /// The sum over every series of `name` whose labels include these.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|((n, have), _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| have.iter().any(|(hk, hv)| hk == k && hv == v))
            })
            .map(|(_, v)| v)
            .sum()
    }
}

/// `a="x",b="y{z}"` → sorted pairs; values may hold braces and escaped quotes.
fn labels(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.extend(chars.next().map(|(_, c)| c)),
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        pairs.push((key.trim_start_matches(',').to_string(), value));
        rest = &after[end..];
    }
    pairs.sort();
    pairs
}

async fn scrape(client: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn until(
    engine: &Engine,
    id: &str,
    pred: impl Fn(&promenade_engine::store::ReleaseRecord) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let release = engine.release(&operator(), id).await.unwrap();
        if pred(&release) {
            return;
        }
        assert!(Instant::now() < deadline, "{release:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn operator() -> Principal {
    Principal::system("operator", Role::Admin)
}

#[tokio::test]
async fn metrics_count_what_releases_did_for_token_holders_and_on_the_open_address() {
    let data = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(data.path());
    config.allow_local_repositories = true;
    let database = promenade_testkit::postgres::test_database_url();
    let store = Store::open(database.as_deref(), data.path()).await.unwrap();
    let engine = Engine::new(store, config);
    promenade_engine::demo::set_up(&engine, data.path())
        .await
        .unwrap();
    let addr = support::spawn(engine.clone(), data.path()).await;
    let base = format!("http://{addr}");
    let metrics = format!("{base}/metrics");
    let token = |name: &'static str, role| {
        let engine = engine.clone();
        async move { engine.create_token(&operator(), name, role).await.unwrap() }
    };
    let admin = token("admin", Role::Admin).await;
    let scraper = token("prometheus", Role::Viewer).await;
    let manager = token("rita", Role::ReleaseManager).await;
    let client = reqwest::Client::new();

    // Without a token, or with a wrong one, nothing is shown.
    let (status, body) = scrape(&client, &metrics, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = scrape(&client, &metrics, Some("not-a-token")).await;
    assert_eq!(status, 401);

    // Two releases to qa behind an approval: the first holds qa at its gate, the
    // second is lined up behind it.
    let policy = approval_policy("qa", "{ roles: [release-manager] }");
    let applied = client
        .post(format!("{base}/api/v1/apply"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(policy)
        .send()
        .await
        .unwrap();
    assert_eq!(applied.status(), 200);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let created = client
            .post(format!("{base}/api/v1/products/shop/promotions"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({ "to": "qa" }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let release: serde_json::Value = created.json().await.unwrap();
        ids.push(release["id"].as_str().unwrap().to_string());
    }
    let at_gate = |r: &promenade_engine::store::ReleaseRecord| {
        r.steps[0].gates().first().map(|g| g.status) == Some(GateStatus::Waiting)
    };
    until(&engine, &ids[0], at_gate).await;
    // A live stream is open while the next scrape is taken.
    let stream = client
        .get(format!("{base}/api/v1/events"))
        .bearer_auth(&scraper)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);

    let (status, text) = scrape(&client, &metrics, Some(&scraper)).await;
    assert_eq!(status, 200, "{text}");
    let waiting = Scrape::parse(&text);
    let shop_qa = [("product", "shop"), ("environment", "qa")];
    assert_eq!(
        waiting.value("promenade_queue_depth", &shop_qa),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        waiting.value("promenade_releases_running", &[("product", "shop")]),
        Some(2.0)
    );
    assert_eq!(waiting.value("promenade_leases_held", &[]), Some(2.0));
    assert_eq!(waiting.value("promenade_sse_clients", &[]), Some(1.0));
    drop(stream);

    for id in &ids {
        until(&engine, id, at_gate).await;
        let approved = client
            .post(format!("{base}/api/v1/releases/{id}/approve"))
            .bearer_auth(&manager)
            .json(&serde_json::json!({ "environment": "qa" }))
            .send()
            .await
            .unwrap();
        assert_eq!(approved.status(), 200);
        until(&engine, id, |r| r.status.is_final()).await;
        let done = engine.release(&operator(), id).await.unwrap();
        assert_eq!(done.status, ReleaseStatus::Succeeded);
    }

    // A driving task lets its lease go just after the release's last write.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (text, done) = loop {
        let (_, text) = scrape(&client, &metrics, Some(&scraper)).await;
        let done = Scrape::parse(&text);
        if done.value("promenade_leases_held", &[]) == Some(0.0) || Instant::now() > deadline {
            break (text, done);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let shop = [("product", "shop")];
    assert_eq!(
        done.value("promenade_releases_started_total", &shop),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        done.value(
            "promenade_releases_ended_total",
            &[("product", "shop"), ("outcome", "succeeded")]
        ),
        Some(2.0)
    );
    // Gauges of a queue and releases that are gone read 0, not their last value.
    assert_eq!(done.value("promenade_queue_depth", &shop_qa), Some(0.0));
    assert_eq!(done.value("promenade_releases_running", &shop), Some(0.0));
    assert_eq!(done.value("promenade_leases_held", &[]), Some(0.0));
    // The first release committed; the second found qa already at its version.
    let qa_commit = [("environment", "qa"), ("action", "commit")];
    assert_eq!(
        done.sum("promenade_step_duration_seconds_count", &qa_commit),
        2.0
    );
    assert_eq!(
        done.sum(
            "promenade_step_duration_seconds_count",
            &[("environment", "qa"), ("outcome", "succeeded")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        done.value(
            "promenade_queue_wait_seconds_count",
            &[("environment", "qa")]
        ),
        Some(2.0)
    );
    let approval = [
        ("phase", "gates"),
        ("kind", "approval"),
        ("outcome", "passed"),
    ];
    assert_eq!(
        done.value("promenade_gate_wait_seconds_count", &approval),
        Some(2.0)
    );
    // The gate waited at least as long as the test took to approve.
    assert!(
        done.value("promenade_gate_wait_seconds_sum", &approval)
            .unwrap()
            > 0.0
    );
    assert!(
        text.contains("# TYPE promenade_step_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        done.sum("promenade_step_duration_seconds_bucket", &[("le", "+Inf")]) >= 2.0,
        "{text}"
    );
    assert_eq!(
        done.value("promenade_git_pushes_total", &[("outcome", "pushed")]),
        Some(1.0)
    );
    for operation in ["fetch", "push"] {
        let ok = [("operation", operation), ("outcome", "ok")];
        assert!(
            done.value("promenade_git_operation_seconds_count", &ok)
                .unwrap_or(0.0)
                >= 1.0,
            "{operation}: {text}"
        );
    }
    let promotions = [
        ("method", "POST"),
        ("route", "/api/v1/products/{product}/promotions"),
        ("status", "201"),
    ];
    assert_eq!(
        done.value("promenade_http_requests_total", &promotions),
        Some(2.0)
    );
    let refused = [("method", "GET"), ("route", "/metrics"), ("status", "401")];
    assert_eq!(
        done.value("promenade_http_requests_total", &refused),
        Some(2.0)
    );
    // Each scrape is counted once answered: this one is not in what it shows.
    assert!(
        done.sum(
            "promenade_http_requests_total",
            &[("route", "/metrics"), ("status", "200")]
        ) >= 1.0,
        "{text}"
    );
    assert_eq!(
        done.value("promenade_sign_in_failures_total", &[("method", "token")]),
        Some(1.0)
    );
    assert!(
        !text.contains(&scraper) && !text.contains(&admin),
        "no secret in the series"
    );

    // The open address serves the same series without a token.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open = listener.local_addr().unwrap();
    let router = promenade_server::prometheus::open_router(engine);
    tokio::spawn(async move { axum::serve(listener, router).await });
    let (status, text) = scrape(&client, &format!("http://{open}/metrics"), None).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        Scrape::parse(&text).value("promenade_releases_started_total", &shop),
        Some(2.0)
    );
}
