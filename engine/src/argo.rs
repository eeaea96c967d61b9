//! What the APIs of Argo CD and the Argo Server (Argo Workflows) share: both are
//! grpc-gateway JSON under `/api/v1`, take a bearer token, and explain a refusal as
//! `{"error", "message", "code"}`. Their clients build on these calls.

use reqwest::{Client, RequestBuilder};

use crate::outbound::{capped_body, API_BODY_CAP};
use serde::de::DeserializeOwned;

use crate::outbound::Outbound;
use crate::{EngineError, Result};

/// A client for one of them, named `product` in errors.
pub(crate) struct ArgoApi {
    http: Client,
    product: &'static str,
    /// The server's URL, without a trailing `/`.
    pub server: String,
    token: String,
}

impl ArgoApi {
    /// A client of `server` through `outbound`, which must allow its address.
    pub(crate) fn new(
        outbound: &Outbound,
        product: &'static str,
        server: &str,
        token: String,
    ) -> Result<Self> {
        outbound
            .check_url(server)
            .map_err(|why| Self::failed_as(product, "connecting", why))?;
        Ok(Self {
            http: outbound.client().clone(),
            product,
            server: server.trim_end_matches('/').to_string(),
            token,
        })
    }

    /// A request to `{server}/api/v1/{path}`, with the token.
    pub(crate) fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}/api/v1/{path}", self.server))
            .bearer_auth(&self.token)
    }

    /// Sends `request` and reads a JSON answer; `action` says what it was for in errors.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        action: &str,
    ) -> Result<T> {
        let response = request
            .send()
            .await
            .map_err(|e| self.failed(action, cause(&e)))?;
        let status = response.status();
        let body = capped_body(response, API_BODY_CAP)
            .await
            .map_err(|why| self.failed(action, why))?;
        if !status.is_success() {
            return Err(self.failed(action, refusal(status.as_u16(), &body)));
        }
        serde_json::from_slice(&body)
            .map_err(|e| self.failed(action, format!("the answer is not what was expected: {e}")))
    }

    fn failed(&self, action: &str, message: String) -> EngineError {
        Self::failed_as(self.product, action, message)
    }

    fn failed_as(product: &str, action: &str, message: String) -> EngineError {
        EngineError::Host {
            host: product.into(),
            action: action.into(),
            message,
        }
    }
}

/// What went wrong with a request, with its cause ("address not allowed: …"), without
/// the URL.
fn cause(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text = inner.to_string();
        source = inner.source();
    }
    text
}

/// The server's own words for a refusal, or the status.
fn refusal(status: u16, body: &[u8]) -> String {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    match json["message"].as_str().or_else(|| json["error"].as_str()) {
        Some(message) => format!("HTTP {status}: {message}"),
        None => format!("HTTP {status}"),
    }
}
