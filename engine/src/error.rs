use promenade_model::diagnostic::Diagnostic;
use thiserror::Error;

/// Every failure the engine reports to its callers. The server maps each variant to an
/// HTTP status in one place.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error("database URL {url:?} is not supported: {reason}")]
    UnsupportedDatabase { url: String, reason: String },
    #[error("cannot prepare the data folder {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("git {action} failed for {url}: {message}")]
    Git {
        url: String,
        action: String,
        message: String,
    },
    #[error("{} invalid", count(.0.len()))]
    Invalid(Vec<Diagnostic>),
    #[error("{message}")]
    Conflict {
        message: String,
        diagnostics: Vec<Diagnostic>,
    },
    /// No valid credentials: no session, a wrong or revoked token.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// Too many failed sign-ins: wait before trying again.
    #[error("{0}")]
    TooManyAttempts(String),
    /// A file in a repository is larger than the server reads (`--max-file-size`).
    #[error("`{path}` in {url} has {size} bytes, more than the {limit} a file read from a repository may have (--max-file-size)")]
    FileTooLarge {
        url: String,
        path: String,
        size: u64,
        limit: u64,
    },
    /// The caller holds as many live event streams as allowed.
    #[error("{0}")]
    TooManyStreams(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("applying the template to {application} in {environment} failed: {message}")]
    Template {
        application: String,
        environment: String,
        message: String,
    },
    /// A git host's API (GitHub, GitLab) refused or failed a call.
    #[error("{host} {action} failed: {message}")]
    Host {
        host: String,
        action: String,
        message: String,
    },
    #[error("the remote {url} kept moving: push rejected {attempts} times")]
    PushRejected { url: String, attempts: u32 },
    /// A gate or verification check did not pass in its time.
    #[error("{0}")]
    CheckFailed(String),
    /// The release stopped because it was terminated or the engine is shutting down.
    #[error("stopped")]
    Stopped,
    /// This replica cannot do its share now (it stopped renewing its leases).
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

impl EngineError {
    /// The HTTP status and stable code this failure answers with. The one mapping, used
    /// by the REST API and the UI's server functions alike: not found → 404, forbidden →
    /// 403, conflict → 409, invalid → 422 (with diagnostics), and 5xx only for failures
    /// that are not the caller's.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            EngineError::Invalid(_) => (422, "invalid"),
            EngineError::Template { .. } => (422, "template_failed"),
            EngineError::Conflict { .. } => (409, "conflict"),
            EngineError::Unauthorized(_) => (401, "unauthorized"),
            EngineError::Forbidden(_) => (403, "forbidden"),
            EngineError::TooManyAttempts(_) => (429, "too_many_attempts"),
            EngineError::TooManyStreams(_) => (429, "too_many_streams"),
            EngineError::FileTooLarge { .. } => (422, "file_too_large"),
            EngineError::NotFound(_) => (404, "not_found"),
            EngineError::BadRequest(_) => (400, "bad_request"),
            EngineError::Git { .. } | EngineError::PushRejected { .. } => (502, "git_failed"),
            EngineError::Host { .. } => (502, "host_failed"),
            EngineError::CheckFailed(_) => (502, "check_failed"),
            EngineError::Database(_) => (503, "database_unavailable"),
            EngineError::Stopped => (503, "stopping"),
            EngineError::Unavailable(_) => (503, "unavailable"),
            EngineError::UnsupportedDatabase { .. }
            | EngineError::DataDir { .. }
            | EngineError::Migration(_)
            | EngineError::Internal(_) => (500, "internal"),
        }
    }

    /// The problems behind an `invalid` or `conflict` answer, each with file, line and
    /// column where known.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            EngineError::Invalid(diagnostics) | EngineError::Conflict { diagnostics, .. } => {
                diagnostics
            }
            _ => &[],
        }
    }
}

fn count(problems: usize) -> String {
    match problems {
        1 => "1 problem makes the resources".to_string(),
        n => format!("{n} problems make the resources"),
    }
}
