//! What stands between a browser and the pages: database-backed sessions, the sign-in
//! gate for pages, and a same-origin check on every state-changing request.

use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use promenade_app::session::USER_KEY;
use promenade_engine::SessionPool;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_sqlx_store::SqliteStore;

use crate::api::ApiError;

/// A session ends after this long without a request.
const IDLE_TIMEOUT_HOURS: i64 = 12;

/// The session layer over the store's database. `secure` marks the cookie `Secure`
/// (set it when the server is reached over TLS).
pub async fn sessions(
    pool: &SessionPool,
    secure: bool,
) -> anyhow::Result<SessionManagerLayer<SqliteStore>> {
    let sessions = SqliteStore::new(pool.clone());
    sessions.migrate().await?;
    Ok(SessionManagerLayer::new(sessions)
        .with_name("promenade_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(
            IDLE_TIMEOUT_HOURS,
        ))))
}

/// Pages need a signed-in user; everything else has its own check (API tokens, server
/// functions' role checks) or is public (probes, the bundle, the sign-in page).
pub async fn require_sign_in(session: Session, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let public = matches!(path, "/login" | "/healthz" | "/readyz" | "/favicon.svg")
        || path.starts_with("/pkg/")
        || path.starts_with("/api/");
    if public || !matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    match session.get::<String>(USER_KEY).await {
        Ok(Some(_)) => next.run(request).await,
        _ => {
            let target = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let encoded: String = url_encode(target);
            Redirect::to(&format!("/login?next={encoded}")).into_response()
        }
    }
}

/// Refuses state-changing requests sent by another site's page: browsers always send
/// `Origin` with those, and it must name this server. Requests without `Origin` (the
/// CLI, curl) carry no ambient cookie authority worth stealing.
pub async fn same_origin(request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) if origin_host(origin) != Some(host) => ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "requests from other sites are refused",
        )
        .into_response(),
        _ => next.run(request).await,
    }
}

fn origin_host(origin: &str) -> Option<&str> {
    origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'))
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_compared_by_host_and_port() {
        assert_eq!(origin_host("http://127.0.0.1:3000"), Some("127.0.0.1:3000"));
        assert_eq!(
            origin_host("https://promenade.example/"),
            Some("promenade.example")
        );
        assert_eq!(origin_host("null"), None);
    }

    #[test]
    fn the_return_path_is_encoded() {
        assert_eq!(
            url_encode("/releases?product=shop&x=1"),
            "/releases%3Fproduct%3Dshop%26x%3D1"
        );
    }
}
