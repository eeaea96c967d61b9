//! Outbound requests from resources never reach the server's own loopback, link-local
//! or private addresses unless an admin allows them, whether the URL names the address,
//! a host name resolving to it, or a redirect leads there; and what a service answers
//! never reaches a gate's note or the log.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use common::{viewer, Options, World};
use promenade_engine::outbound::OutboundPolicy;
use promenade_model::release::ReleaseStatus;

const SECRET: &str = "AKIA-LOOPBACK-SECRET-7f3e";

/// A service on loopback: `/credentials` answers a secret, `/elsewhere` redirects to the
/// cloud metadata address, `/big` answers 2 MiB of JSON, `/authorized` answers 200 only
/// to `Authorization: Bearer grafana-s3cret`. Counts the requests it gets.
async fn service() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let router = Router::new()
        .route(
            "/credentials",
            get(|| async { format!(r#"{{"AccessKeyId":"{SECRET}"}}"#) }),
        )
        .route(
            "/elsewhere",
            get(|| async {
                (
                    StatusCode::FOUND,
                    [(LOCATION, "http://169.254.169.254/latest/meta-data/")],
                )
                    .into_response()
            }),
        )
        .route(
            "/authorized",
            get(|headers: axum::http::HeaderMap| async move {
                let bearer = headers
                    .get("authorization")
                    .is_some_and(|v| v == "Bearer grafana-s3cret");
                if bearer {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                }
            }),
        )
        .route(
            "/big",
            get(|| async { format!(r#"{{"padding":"{}"}}"#, "x".repeat(2 * 1024 * 1024)) }),
        )
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    next.run(request).await
                }
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("127.0.0.1:{port}"), calls)
}

/// A world whose engine allows `allowed` only, with an `http` gate on qa calling `url`.
async fn world_calling(allowed: &[&str], url: &str) -> World {
    let mut world = World::new(Options {
        apps: 1,
        ..Options::default()
    })
    .await;
    let policy = OutboundPolicy::parse(allowed).unwrap();
    world
        .restart_with(None, move |config| config.outbound = policy)
        .await;
    world
        .apply(&format!(
            "apiVersion: promenade.dev/v1alpha1\nkind: PromotionPolicy\nmetadata: {{ name: qa-check }}\n\
             spec:\n  priority: 300\n  selector: {{ environments: [qa] }}\n  gates:\n    \
             - http: {{ url: \"{url}\", expectJson: {{ path: \"$.AccessKeyId\", equals: \"x\" }}, timeout: 1s }}\n"
        ))
        .await;
    world
}

/// The step's error once the release failed, after checking the secret is nowhere in
/// the release, its events or its log.
async fn failure(world: &World, version: &str) -> String {
    let release = world.promote_to("qa", version).await.unwrap();
    let failed = world.wait(&release.id).await;
    assert_eq!(failed.status, ReleaseStatus::Failed, "{failed:#?}");
    let who = viewer();
    let everything = format!(
        "{}{}{}",
        serde_json::to_string(&failed).unwrap(),
        serde_json::to_string(
            &world
                .engine
                .release_events(&who, &release.id, 0)
                .await
                .unwrap()
        )
        .unwrap(),
        serde_json::to_string(&world.engine.release_logs(&who, &release.id).await.unwrap())
            .unwrap(),
    );
    assert!(
        !everything.contains(SECRET),
        "the secret leaked: {everything}"
    );
    common::step(&failed, "qa").detail.error.clone().unwrap()
}

#[tokio::test]
async fn a_gate_on_a_loopback_service_is_refused_and_never_calls_it() {
    let (address, calls) = service().await;
    let world = world_calling(&[], &format!("http://{address}/credentials")).await;
    let error = failure(&world, "14.0.0").await;
    assert!(error.contains("address not allowed: 127.0.0.1"), "{error}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "nothing reached the service"
    );
}

#[tokio::test]
async fn a_host_name_resolving_to_loopback_is_refused_too() {
    let (address, calls) = service().await;
    let port = address.rsplit(':').next().unwrap();
    let world = world_calling(&[], &format!("http://localhost:{port}/credentials")).await;
    let error = failure(&world, "14.1.0").await;
    assert!(
        error.contains("address not allowed: localhost is"),
        "{error}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_allowed_address_is_reached_and_the_note_never_holds_the_answer() {
    let (address, calls) = service().await;
    let world = world_calling(&["127.0.0.1"], &format!("http://{address}/credentials")).await;
    let error = failure(&world, "14.2.0").await;
    assert!(error.ends_with(r#"AccessKeyId is not "x""#), "{error}");
    assert!(calls.load(Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_refused() {
    let (address, _) = service().await;
    let world = world_calling(&["127.0.0.1"], &format!("http://{address}/elsewhere")).await;
    let error = failure(&world, "14.3.0").await;
    assert!(
        error.contains("address not allowed: 169.254.169.254"),
        "{error}"
    );
}

#[tokio::test]
async fn an_answer_larger_than_a_mebibyte_is_not_read() {
    let (address, _) = service().await;
    let world = world_calling(&["127.0.0.1"], &format!("http://{address}/big")).await;
    let error = failure(&world, "14.4.0").await;
    assert!(
        error.contains("the answer is larger than 1024 KiB"),
        "{error}"
    );
}

fn qa_gate(http: &str) -> String {
    format!(
        "apiVersion: promenade.dev/v1alpha1\nkind: PromotionPolicy\nmetadata: {{ name: qa-check }}\n\
         spec:\n  priority: 300\n  selector: {{ environments: [qa] }}\n  gates:\n    - http: {http}\n"
    )
}

#[tokio::test]
async fn a_header_takes_its_secret_from_credentials_never_from_the_resource() {
    let (address, _) = service().await;
    let world = World::new(Options {
        apps: 1,
        ..Options::default()
    })
    .await;
    let url = format!("http://{address}/authorized");
    let literal = qa_gate(&format!(
        "{{ url: \"{url}\", headers: {{ Authorization: \"Bearer grafana-s3cret\" }} }}"
    ));
    let refused = world.refusals("policy.yaml", &literal).await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].starts_with("policy.yaml:8:")
            && refused[0].contains("`Authorization` looks like it carries a secret"),
        "{refused:?}"
    );
    let from_credentials = qa_gate(&format!(
        "{{ url: \"{url}\", headers: {{ Authorization: {{ credentials: grafana, scheme: Bearer }} }}, timeout: 1s }}"
    ));
    let refused = world.refusals("policy.yaml", &from_credentials).await;
    assert!(
        refused[0].contains("credentials `grafana` do not exist"),
        "{refused:?}"
    );

    world.token_credentials("grafana", "grafana-s3cret").await;
    world.apply(&from_credentials).await;
    let release = world.promote_to("qa", "15.0.0").await.unwrap();
    let done = world.wait(&release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    let stored = world
        .engine
        .resources(&viewer(), None)
        .await
        .unwrap()
        .iter()
        .map(|r| r.document.clone())
        .collect::<String>();
    assert!(!stored.contains("grafana-s3cret"));
    assert!(!serde_json::to_string(&done)
        .unwrap()
        .contains("grafana-s3cret"));
}

#[tokio::test]
async fn a_password_or_token_in_a_gate_url_is_shown_as_stars() {
    let (address, _) = service().await;
    let world = World::new(Options {
        apps: 1,
        ..Options::default()
    })
    .await;
    world
        .apply(&qa_gate(&format!(
            "{{ url: \"http://ops:hunter2@{address}/missing?team=web&token=abc123\", timeout: 1s }}"
        )))
        .await;
    let error = failure(&world, "15.1.0").await;
    assert!(
        error.contains(&format!(
            "GET http://***@{address}/missing?team=web&token=*** answered 404"
        )),
        "{error}"
    );
    let release = world
        .engine
        .list_releases(&viewer(), &Default::default())
        .await
        .unwrap();
    let logs = world
        .engine
        .release_logs(&viewer(), &release[0].id)
        .await
        .unwrap();
    let everything = format!("{error}{}", serde_json::to_string(&logs).unwrap());
    assert!(!everything.contains("hunter2") && !everything.contains("abc123"));
}
