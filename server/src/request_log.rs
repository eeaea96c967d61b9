//! One log line per HTTP request, and a request id that ties together everything logged
//! while answering it. The id is the client's `X-Request-Id` when that looks like one (a
//! proxy's or a load balancer's), a new random one otherwise; it is returned in
//! `X-Request-Id` and carried by the `request` span around the handling. The line names
//! who asked (`principal`) when the API or the session found out
//! ([`RequestPrincipal`], in the request's extensions).

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use promenade_app::session::RequestPrincipal;
use tracing::{info, info_span, Instrument};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Whether a client's request id can be used as ours: short, and nothing that could
/// forge a log line or a header.
fn plausible(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The middleware: logs `method`, `route` (the route's pattern, or the path for files
/// and pages outside the API), `status` and `latency_ms` on the `promenade::request`
/// target, inside the request's span.
pub async fn request_log(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| plausible(id))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:032x}", rand::random::<u128>()));
    let method = request.method().clone();
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let route = matched
        .clone()
        .unwrap_or_else(|| request.uri().path().to_owned());
    let principal = RequestPrincipal::default();
    request.extensions_mut().insert(principal.clone());
    let span = info_span!("request", id = %id);
    let started = Instant::now();
    async move {
        let mut response = next.run(request).await;
        // Series labels take bounded values: a route's pattern, not the path a client
        // made up; a standard method, not any token.
        crate::prometheus::record_request(
            if is_standard(&method) {
                method.as_str()
            } else {
                "other"
            },
            matched.as_deref().unwrap_or("unmatched"),
            response.status().as_u16(),
            started.elapsed(),
        );
        info!(
            target: "promenade::request",
            method = %method,
            route = route.as_str(),
            principal = principal.0.get().map_or("", String::as_str),
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        response
    }
    .instrument(span)
    .await
}

fn is_standard(method: &Method) -> bool {
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ]
    .contains(method)
}

/// Records who made the request whose extensions these are.
pub fn record_principal(extensions: &axum::http::Extensions, principal: &impl std::fmt::Display) {
    if let Some(slot) = extensions.get::<RequestPrincipal>() {
        slot.set(principal);
    }
}

#[cfg(test)]
mod tests {
    use super::plausible;

    #[test]
    fn only_short_plain_ids_are_taken_from_clients() {
        assert!(plausible("3f2a-9c.01_x"));
        assert!(!plausible(""));
        assert!(!plausible(&"a".repeat(65)));
        assert!(!plausible("id\nforged=line"));
        assert!(!plausible("a b"));
    }
}
