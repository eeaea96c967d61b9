//! `http` actions: call a URL and check the answer — the status (any 2xx unless one is
//! named) and optionally JSON values — again every `check_interval` until it passes or
//! the action's timeout runs out.
//!
//! Placeholders in the URL, headers and body are filled from the release context:
//! `{product}`, `{env}` (or `{environment}`), `{version}`, `{release}`, and
//! `{application}`; a check that names `{application}` runs once per application of
//! the product, and all must pass.

use std::collections::BTreeMap;
use std::time::Duration;

use promenade_model::action::{HeaderValue, HttpCheck, HttpMethod};
use promenade_model::jsonpath::JsonPath;
use promenade_model::redact;
use tracing::{info_span, Instrument};

use super::Snapshot;
use crate::outbound::{capped_body, Outbound, CHECK_BODY_CAP};
use crate::{Engine, Result};

/// How long an `http` action keeps trying when it names no timeout.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// What placeholders are filled from.
pub(super) struct Context {
    product: String,
    environment: String,
    version: String,
    release: String,
    applications: Vec<String>,
}

impl Context {
    /// The context of `release` in `environment` (empty for a flow's hooks).
    pub fn new(snapshot: &Snapshot, release: &str, environment: &str) -> Self {
        let product = &snapshot.product;
        Self {
            product: product.metadata.name.clone(),
            environment: environment.to_owned(),
            version: snapshot.source.version().unwrap_or_default(),
            release: release.to_owned(),
            applications: product
                .spec
                .applications
                .iter()
                .map(|a| a.name.clone())
                .collect(),
        }
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// `text` with the release's placeholders filled in (not `{application}`).
    pub fn fill(&self, text: &str) -> String {
        fill(text, self, None)
    }

    /// The release's values as environment variables, for commands.
    pub fn variables(&self) -> [(&'static str, String); 4] {
        [
            ("PROMENADE_PRODUCT", self.product.clone()),
            ("PROMENADE_ENVIRONMENT", self.environment.clone()),
            ("PROMENADE_VERSION", self.version.clone()),
            ("PROMENADE_RELEASE", self.release.clone()),
        ]
    }
}

/// One request to make, placeholders filled in. Not `Debug`: its headers may hold
/// secrets.
#[derive(Clone)]
pub(super) struct Request {
    pub url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

/// The values of `check`'s headers that come from credentials, by header name.
pub(super) type HeaderSecrets = BTreeMap<String, String>;

impl Engine {
    /// Reads the secrets `check`'s headers name, just before the requests are made.
    pub(super) async fn header_secrets(&self, check: &HttpCheck) -> Result<HeaderSecrets> {
        let mut secrets = HeaderSecrets::new();
        for (name, value) in &check.headers {
            if let HeaderValue::Credentials(from) = value {
                let secret = self
                    .api_token(&from.credentials, &format!("the header `{name}`"))
                    .await?;
                let value = match &from.scheme {
                    Some(scheme) => format!("{scheme} {secret}"),
                    None => secret,
                };
                secrets.insert(name.clone(), value);
            }
        }
        Ok(secrets)
    }
}

/// The requests a check makes: one, or one per application.
pub(super) fn requests(
    check: &HttpCheck,
    context: &Context,
    secrets: &HeaderSecrets,
) -> Vec<Request> {
    let names_application = check.url.contains("{application}")
        || check
            .body
            .as_deref()
            .is_some_and(|b| b.contains("{application}"))
        || check
            .headers
            .values()
            .any(|v| matches!(v, HeaderValue::Text(text) if text.contains("{application}")));
    let applications: Vec<Option<&str>> = if names_application {
        context
            .applications
            .iter()
            .map(|a| Some(a.as_str()))
            .collect()
    } else {
        vec![None]
    };
    applications
        .into_iter()
        .map(|application| {
            let fill = |text: &str| fill(text, context, application);
            Request {
                url: fill(&check.url),
                headers: check
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        let value = match value {
                            HeaderValue::Text(text) => fill(text),
                            HeaderValue::Credentials(_) => {
                                secrets.get(name).cloned().unwrap_or_default()
                            }
                        };
                        (name.clone(), value)
                    })
                    .collect(),
                body: check.body.as_deref().map(fill),
            }
        })
        .collect()
}

fn fill(text: &str, context: &Context, application: Option<&str>) -> String {
    let mut filled = text
        .replace("{product}", &context.product)
        .replace("{environment}", &context.environment)
        .replace("{env}", &context.environment)
        .replace("{version}", &context.version)
        .replace("{release}", &context.release);
    if let Some(application) = application {
        filled = filled.replace("{application}", application);
    }
    filled
}

/// One round: every request in turn, each within `timeout`; the first problem found.
pub(super) async fn attempt_all(
    client: &Outbound,
    check: &HttpCheck,
    requests: &[Request],
    timeout: Duration,
) -> Result<(), String> {
    for request in requests {
        attempt(client, check, request, timeout).await?;
    }
    Ok(())
}

/// One attempt: `Ok` when the answer is what the check expects, otherwise what was
/// wrong, for the step's log and the gate's note — which every viewer reads, so it names
/// the status and the expectation that failed, never what the answer contained.
async fn attempt(
    outbound: &Outbound,
    check: &HttpCheck,
    request: &Request,
    timeout: Duration,
) -> Result<(), String> {
    // Messages and spans name the URL without a password or token it may carry.
    let shown = redact::url(&request.url);
    outbound
        .check_url(&request.url)
        .map_err(|why| format!("{shown}: {why}"))?;
    let method = match check.method {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Head => reqwest::Method::HEAD,
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Patch => reqwest::Method::PATCH,
        HttpMethod::Delete => reqwest::Method::DELETE,
    };
    let mut builder = outbound
        .client()
        .request(method.clone(), &request.url)
        .timeout(timeout);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    let span = info_span!("http check", method = %method, url = %shown);
    let response = builder
        .send()
        .instrument(span)
        .await
        .map_err(|e| format!("{method} {shown}: {}", describe(e)))?;
    let status = response.status();
    let status_ok = match check.expect_status {
        Some(expected) => status.as_u16() == expected,
        None => status.is_success(),
    };
    if !status_ok {
        let expected = check
            .expect_status
            .map_or_else(|| "a 2xx status".to_string(), |s| s.to_string());
        return Err(format!(
            "{method} {shown} answered {status}, expected {expected}"
        ));
    }
    let Some(expectation) = &check.expect_json else {
        return Ok(());
    };
    let body = capped_body(response, CHECK_BODY_CAP)
        .await
        .map_err(|why| format!("{method} {shown}: {why}"))?;
    let answer: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|_| format!("{method} {shown} did not answer JSON"))?;
    let path = JsonPath::parse(&expectation.path).map_err(|e| e.to_string())?;
    let matches = path.select(&answer);
    if matches.is_empty() {
        return Err(format!(
            "{method} {shown}: nothing at {} in the answer",
            expectation.path
        ));
    }
    match matches
        .iter()
        .find(|(_, value)| **value != expectation.equals)
    {
        Some((at, _)) => Err(format!(
            "{method} {shown}: {at} is not {}",
            expectation.equals
        )),
        None => Ok(()),
    }
}

/// The error and its causes ("connection refused"), without the URL, which the message
/// names already.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
