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
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
