//! The CLI's HTTP client for the API, with the API's errors turned into readable ones.

use std::path::Path;

use anyhow::{anyhow, bail, Context};
use promenade_engine::auth::admin_token_file;
use promenade_model::Diagnostic;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::args::ClientArgs;
use crate::context;

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    /// The server and token from the flags (or their environment variables), else from
    /// the chosen context, else the local server with the administrator token it wrote.
    pub fn new(args: &ClientArgs, data_dir: &Path) -> anyhow::Result<Self> {
        let context = context::chosen(args)?;
        let token = match (&args.token, &context) {
            (Some(token), _) => Some(token.clone()),
            (None, Some(context)) => context.token()?,
            (None, None) => None,
        };
        let token = match token {
            Some(token) => token,
            None => {
                let file = admin_token_file(data_dir);
                std::fs::read_to_string(&file)
                    .map(|t| t.trim().to_string())
                    .map_err(|_| {
                        anyhow!(
                            "no API token: pass --token or PROMENADE_TOKEN, or add a context with a token file (a local server writes one to {})",
                            file.display()
                        )
                    })?
            }
        };
        let base = match (&args.server, &context) {
            (Some(server), _) => server.clone(),
            (None, Some(context)) => context.server.clone(),
            (None, None) => context::LOCAL_SERVER.to_string(),
        };
        Ok(Self {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(self.http.get(self.url(path))).await
    }

    /// `GET path?query`, the query's fields URL-encoded (absent ones left out).
    pub async fn get_with<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &impl Serialize,
    ) -> anyhow::Result<T> {
        self.send(self.http.get(self.url(path)).query(query)).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    pub async fn put<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        self.send(self.http.put(self.url(path)).json(body)).await
    }

    pub async fn post_text<T: DeserializeOwned>(
        &self,
        path: &str,
        body: String,
    ) -> anyhow::Result<T> {
        self.send(
            self.http
                .post(self.url(path))
                .header("content-type", "application/yaml")
                .body(body),
        )
        .await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(self.http.delete(self.url(path))).await
    }

    /// Opens a server-sent event stream, resuming after event `after` when it is not 0.
    pub async fn stream(&self, path: &str, after: i64) -> anyhow::Result<reqwest::Response> {
        let mut request = self.http.get(self.url(path)).bearer_auth(&self.token);
        if after > 0 {
            request = request.header("last-event-id", after.to_string());
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        if !response.status().is_success() {
            bail!(api_error(
                response.status(),
                &response.text().await.unwrap_or_default()
            ));
        }
        Ok(response)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<T> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| {
                format!(
                    "cannot reach the server at {} (is `promenade serve` running?)",
                    self.base
                )
            })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .context("the server's answer was cut off")?;
        if !status.is_success() {
            bail!(api_error(status, &text));
        }
        // `204 No Content` reads as `null`, which `()` accepts.
        let text = if text.is_empty() { "null".into() } else { text };
        serde_json::from_str(&text)
            .with_context(|| format!("unexpected answer from the server: {text}"))
    }
}

/// The API's error answer: `{"error": {"code", "message", "details"}}`.
#[derive(Deserialize)]
struct ErrorAnswer {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: String,
    #[serde(default)]
    details: ErrorDetails,
}

#[derive(Default, Deserialize)]
struct ErrorDetails {
    #[serde(default)]
    diagnostics: Vec<Diagnostic>,
}

/// The API's error as one readable message, with diagnostics as `file:line:col` lines.
fn api_error(status: reqwest::StatusCode, body: &str) -> String {
    let Ok(answer) = serde_json::from_str::<ErrorAnswer>(body) else {
        return format!("the server answered {status}: {body}");
    };
    let mut message = answer.error.message;
    for diagnostic in answer.error.details.diagnostics {
        message.push_str(&format!("\n{diagnostic}"));
    }
    message
}
