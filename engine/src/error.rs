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
    #[error("{0}")]
    Forbidden(String),
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
    #[error("the remote {url} kept moving: push rejected {attempts} times")]
    PushRejected { url: String, attempts: u32 },
    /// A gate or verification check did not pass in its time.
    #[error("{0}")]
    CheckFailed(String),
    /// The release stopped because it was terminated or the engine is shutting down.
    #[error("stopped")]
    Stopped,
    #[error("internal error: {0}")]
    Internal(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

fn count(problems: usize) -> String {
    match problems {
        1 => "1 problem makes the resources".to_string(),
        n => format!("{n} problems make the resources"),
    }
}
