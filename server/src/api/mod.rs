//! The REST API under `/api/v1`, described by an OpenAPI document built with `utoipa`
//! from the handlers' own annotations, so the document cannot drift from the code.

mod audit;
mod auth;
mod control;
mod credentials;
mod error;
mod error_answers;
mod extract;
mod import;
mod releases;
mod resources;
mod schemas;
mod webhooks;

use axum::routing::{delete, get, post};
use axum::{Json, Router};
use utoipa::OpenApi;

use error_answers::ErrorAnswers;

pub use auth::Caller;
pub use error::{ApiError, ErrorBody};

/// A string parameter that takes one of `names`, as the document states it.
fn one_of(names: impl IntoIterator<Item = &'static str>) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(names))
        .build()
}

use crate::{health, AppState};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Promenade API",
        description = "Promotes releases of GitOps-managed applications through environments."
    ),
    paths(
        health::healthz,
        health::readyz,
        crate::prometheus::metrics,
        openapi_json,
        resources::apply,
        resources::list,
        resources::get,
        resources::delete,
        schemas::all,
        schemas::one,
        releases::promote,
        releases::status,
        releases::deployed,
        releases::delivery,
        releases::list,
        releases::get,
        releases::change,
        releases::compare,
        releases::retry,
        releases::terminate,
        releases::approve,
        releases::events,
        releases::all_events,
        control::blocked,
        control::block,
        control::unblock,
        control::pause,
        control::resume,
        control::freeze_status,
        control::end_freeze,
        control::break_glass,
        webhooks::github,
        webhooks::gitlab,
        webhooks::git,
        credentials::list,
        credentials::create,
        credentials::rotate,
        credentials::delete,
        credentials::settings,
        credentials::set_settings,
        import::argocd,
        audit::list,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail, health::Probe)),
    modifiers(&BearerToken, &ErrorAnswers)
)]
pub struct ApiDoc;

/// Declares the bearer-token scheme the endpoints' `security` refers to.
struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Routes under `/api/v1`. Unknown paths answer with the API's JSON error, not a page.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/apply", post(resources::apply))
        .route("/import/argocd", post(import::argocd))
        .route("/audit", get(audit::list))
        .route("/schemas", get(schemas::all))
        .route("/schemas/{kind}", get(schemas::one))
        .route("/events", get(releases::all_events))
        .route("/releases", get(releases::list))
        .route("/releases/{id}", get(releases::get))
        .route("/releases/{id}/events", get(releases::events))
        .route(
            "/releases/{id}/changes/{environment}/{application}",
            get(releases::change),
        )
        .route("/releases/{id}/compare/{to}", get(releases::compare))
        .route("/releases/{id}/retry", post(releases::retry))
        .route("/releases/{id}/terminate", post(releases::terminate))
        .route("/releases/{id}/approve", post(releases::approve))
        .route("/releases/{id}/break-glass", post(control::break_glass))
        .route("/freeze-status", get(control::freeze_status))
        .route("/freezes/{name}/end", post(control::end_freeze))
        .route("/webhooks/github", post(webhooks::github))
        .route("/webhooks/gitlab", post(webhooks::gitlab))
        .route("/webhooks/git", post(webhooks::git))
        .route("/credentials", get(credentials::list))
        .route(
            "/credentials/{name}",
            post(credentials::create)
                .put(credentials::rotate)
                .delete(credentials::delete),
        )
        .route(
            "/settings",
            get(credentials::settings).put(credentials::set_settings),
        )
        .route("/products/{product}/status", get(releases::status))
        .route("/products/{product}/deployed", get(releases::deployed))
        .route("/products/{product}/delivery", get(releases::delivery))
        .route("/products/{product}/promotions", post(releases::promote))
        .route(
            "/products/{product}/blocked",
            get(control::blocked).post(control::block),
        )
        .route(
            "/products/{product}/blocked/{version}",
            delete(control::unblock),
        )
        .route("/products/{product}/pause", post(control::pause))
        .route("/products/{product}/resume", post(control::resume))
        .route("/{kind}", get(resources::list))
        .route(
            "/{kind}/{name}",
            get(resources::get).delete(resources::delete),
        )
        .fallback(|| async { ApiError::not_found("no such API endpoint") })
}
