//! What the APIs of Argo CD and the Argo Server (Argo Workflows) share: both are
//! grpc-gateway JSON under `/api/v1`, take a bearer token, and explain a refusal as
//! `{"error", "message", "code"}`. Their clients build on these calls.

use reqwest::{Client, RequestBuilder};
use serde::de::DeserializeOwned;

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
    pub(crate) fn new(product: &'static str, server: &str, token: String) -> Result<Self> {
        let http = Client::builder()
            .user_agent(concat!("promenade/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| Self::failed_as(product, "client setup", e.to_string()))?;
        Ok(Self {
            http,
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
            .map_err(|e| self.failed(action, e.without_url().to_string()))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| self.failed(action, e.without_url().to_string()))?;
        if !status.is_success() {
            return Err(self.failed(action, refusal(status.as_u16(), &body)));
        }
        serde_json::from_str(&body)
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

/// The server's own words for a refusal, or the status.
fn refusal(status: u16, body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    match json["message"].as_str().or_else(|| json["error"].as_str()) {
        Some(message) => format!("HTTP {status}: {message}"),
        None => format!("HTTP {status}"),
    }
}
