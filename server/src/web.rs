//! What stands between a browser and the pages: database-backed sessions, the sign-in
//! gate for pages, and a same-origin check on every state-changing request.

use axum::extract::Request;
use axum::extract::State;
use axum::http::{header, HeaderName, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use promenade_app::session::USER_KEY;
use promenade_engine::auth::SessionUser;
use promenade_engine::{Engine, SessionPool};
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use crate::api::ApiError;

/// Headers every answer carries: no framing by other sites, no content-type guessing,
/// no full URLs leaking to other sites; HSTS when the server is reached over TLS. Pages
/// set their own, fuller Content-Security-Policy (`promenade_app::shell`); this one is
/// for everything else.
pub fn security_headers(router: axum::Router, secure: bool) -> axum::Router {
    use tower_http::set_header::SetResponseHeaderLayer;
    let fixed = [
        ("content-security-policy", "frame-ancestors 'none'"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
    ];
    let mut router = router;
    for (name, value) in fixed {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static(name),
            header::HeaderValue::from_static(value),
        ));
    }
    if secure {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            header::HeaderValue::from_static("max-age=31536000"),
        ));
    }
    router
}

/// The answer to a request whose handler panicked: the API's JSON error, status 500,
/// saying nothing of the panic, which goes to the log. The server goes on serving.
pub fn panic_answer(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    tracing::error!(panic = message, "a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the server failed to answer this request; the failure is in its log",
    )
    .into_response()
}

/// The session cookie's name over plain HTTP, and over TLS.
const SESSION_COOKIE: &str = "promenade_session";
const SECURE_SESSION_COOKIE: &str = "__Host-promenade_session";

/// How often sessions past their expiry are deleted from the database.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// A session ends after this long without a request.
const IDLE_TIMEOUT_HOURS: i64 = 12;

/// Sessions in whichever database the engine's store uses.
#[derive(Clone, Debug)]
pub enum Sessions {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

#[async_trait::async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.create(record).await,
            Sessions::Postgres(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.save(record).await,
            Sessions::Postgres(store) => store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Sessions::Sqlite(store) => store.load(id).await,
            Sessions::Postgres(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.delete(id).await,
            Sessions::Postgres(store) => store.delete(id).await,
        }
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for Sessions {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.delete_expired().await,
            Sessions::Postgres(store) => store.delete_expired().await,
        }
    }
}

/// The session layer over the store's database. `secure` marks the cookie `Secure`
/// (set it when the server is reached over TLS).
pub async fn sessions(
    pool: &SessionPool,
    secure: bool,
) -> anyhow::Result<SessionManagerLayer<Sessions>> {
    let sessions = match pool {
        SessionPool::Sqlite(pool) => {
            let store = SqliteStore::new(pool.clone());
            store.migrate().await?;
            Sessions::Sqlite(store)
        }
        SessionPool::Postgres(pool) => {
            let store = PostgresStore::new(pool.clone());
            store.migrate().await?;
            Sessions::Postgres(store)
        }
    };
    let purged = sessions.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PURGE_EVERY);
        loop {
            every.tick().await;
            if let Err(e) = purged.delete_expired().await {
                tracing::warn!(error = %e, "could not delete expired sessions");
            }
        }
    });
    // `__Host-`: a browser keeps such a cookie only from this host, over TLS, for `/`.
    let name = if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    };
    Ok(SessionManagerLayer::new(sessions)
        .with_name(name)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(
            IDLE_TIMEOUT_HOURS,
        ))))
}

/// Pages need a signed-in user; everything else has its own check (API tokens, server
/// functions' role checks) or is public (probes, the bundle, the sign-in page).
pub async fn require_sign_in(
    State(engine): State<Engine>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let public = matches!(
        path,
        "/login" | "/healthz" | "/readyz" | "/metrics" | "/favicon.svg"
    ) || path.starts_with("/pkg/")
        || path.starts_with("/api/");
    if public || !matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let user = session.get::<SessionUser>(USER_KEY).await.ok().flatten();
    let principal = match &user {
        Some(user) => engine.session_user(user).await.ok().flatten(),
        None => None,
    };
    match principal {
        Some(principal) => {
            crate::request_log::record_principal(request.extensions(), &principal);
            next.run(request).await
        }
        None => {
            if user.is_some() {
                // Expired, or its user removed: nothing of it may be used again.
                let _ = session.flush().await;
            }
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
    let headers = request.headers();
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
    };
    let origin = text(header::ORIGIN);
    let same_site = match (origin, text(header::HOST)) {
        (Some(origin), Some(host)) => origin_host(origin) == Some(host),
        // Without `Origin`, only the browser's own word that the request is same-origin.
        (None, _) => text(HeaderName::from_static("sec-fetch-site")) == Some("same-origin"),
        (Some(_), None) => false,
    };
    // A browser sends the session cookie with any site's request, so a request resting
    // on it must prove where it comes from. A bearer token a browser never adds by
    // itself (the CLI's and scripts' requests), and a request without either has no
    // session to misuse: those are refused only when they say they come from elsewhere.
    let by_cookie = !headers.contains_key(header::AUTHORIZATION)
        && headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|cookies| {
                cookies
                    .split(';')
                    .any(|c| c.trim().starts_with(SESSION_COOKIE))
            });
    let refused = if by_cookie {
        !same_site
    } else {
        origin.is_some() && !same_site
    };
    if refused {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "requests from other sites are refused: a browser request must say where it \
             comes from (`Origin`) and come from this site",
        )
        .into_response();
    }
    next.run(request).await
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

    #[tokio::test]
    async fn a_panic_is_answered_with_a_json_500_that_does_not_repeat_it() {
        let answer = panic_answer(Box::new(String::from("secret detail in a panic")));
        assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(answer.into_body(), 4096)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "internal");
        assert!(!String::from_utf8_lossy(&body).contains("secret detail"));
    }

    #[test]
    fn the_return_path_is_encoded() {
        assert_eq!(
            url_encode("/releases?product=shop&x=1"),
            "/releases%3Fproduct%3Dshop%26x%3D1"
        );
    }
}
