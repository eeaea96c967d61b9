//! `promenade store copy`: moves an installation from one database to another (SQLite to
//! PostgreSQL when a team outgrows one machine, or back), rows as they are, in one
//! transaction on the target. Web sessions are not copied: people sign in again.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{DatabaseKind, Store};
use crate::{EngineError, Result};

#[derive(Clone, Copy)]
enum Type {
    Text,
    Integer,
    Bytes,
}
use Type::{Bytes, Integer, Text};

/// Every table, parents before children, with its columns: the schema both databases'
/// migrations build.
const TABLES: &[(&str, &[(&str, Type)])] = &[
    (
        "resources",
        &[
            ("kind", Text),
            ("name", Text),
            ("revision", Integer),
            ("document", Text),
            ("updated_at", Text),
            ("updated_by", Text),
        ],
    ),
    (
        "resource_revisions",
        &[
            ("kind", Text),
            ("name", Text),
            ("revision", Integer),
            ("change", Text),
            ("document", Text),
            ("applied_at", Text),
            ("applied_by", Text),
        ],
    ),
    (
        "releases",
        &[
            ("id", Text),
            ("product", Text),
            ("flow", Text),
            ("status", Text),
            ("source", Text),
            ("message", Text),
            ("created_by", Text),
            ("created_at", Text),
            ("finished_at", Text),
            ("created_by_kind", Text),
            ("superseded_by", Text),
            ("version", Text),
        ],
    ),
    (
        "release_steps",
        &[
            ("release_id", Text),
            ("environment", Text),
            ("position", Integer),
            ("depends_on", Text),
            ("status", Text),
            ("action", Text),
            ("attempt", Integer),
            ("detail", Text),
            ("started_at", Text),
            ("finished_at", Text),
        ],
    ),
    (
        "release_applications",
        &[
            ("release_id", Text),
            ("environment", Text),
            ("application", Text),
            ("status", Text),
            ("version", Text),
            ("commit_sha", Text),
            ("files_changed", Integer),
            ("lines_added", Integer),
            ("lines_removed", Integer),
        ],
    ),
    (
        "release_events",
        &[
            ("seq", Integer),
            ("release_id", Text),
            ("at", Text),
            ("kind", Text),
            ("environment", Text),
            ("data", Text),
        ],
    ),
    (
        "step_logs",
        &[
            ("seq", Integer),
            ("release_id", Text),
            ("environment", Text),
            ("at", Text),
            ("level", Text),
            ("message", Text),
        ],
    ),
    (
        "release_approvals",
        &[
            ("release_id", Text),
            ("environment", Text),
            ("gate", Integer),
            ("user_name", Text),
            ("user_kind", Text),
            ("role", Text),
            ("at", Text),
        ],
    ),
    (
        "api_tokens",
        &[
            ("name", Text),
            ("hash", Text),
            ("role", Text),
            ("created_at", Text),
            ("last_used_at", Text),
        ],
    ),
    (
        "trigger_state",
        &[
            ("product", Text),
            ("flow", Text),
            ("fingerprint", Text),
            ("checked_at", Text),
        ],
    ),
    (
        "users",
        &[
            ("name", Text),
            ("password_hash", Text),
            ("role", Text),
            ("created_at", Text),
            ("sessions_from", Integer),
        ],
    ),
    (
        "credentials",
        &[
            ("name", Text),
            ("kind", Text),
            ("sealed", Bytes),
            ("created_by", Text),
            ("created_at", Text),
            ("rotated_by", Text),
            ("rotated_at", Text),
            ("last_used_at", Text),
        ],
    ),
    (
        "webhook_deliveries",
        &[
            ("receiver", Text),
            ("delivery", Text),
            ("received_at", Text),
        ],
    ),
    (
        "settings",
        &[
            ("name", Text),
            ("value", Text),
            ("updated_by", Text),
            ("updated_at", Text),
        ],
    ),
    (
        "audit",
        &[
            ("id", Integer),
            ("at", Text),
            ("actor", Text),
            ("action", Text),
            ("object", Text),
            ("address", Text),
            ("detail", Text),
        ],
    ),
    (
        "blocked_versions",
        &[
            ("product", Text),
            ("version", Text),
            ("reason", Text),
            ("blocked_by", Text),
            ("blocked_at", Text),
        ],
    ),
    (
        "pauses",
        &[
            ("product", Text),
            ("environment", Text),
            ("reason", Text),
            ("paused_by", Text),
            ("paused_at", Text),
        ],
    ),
];

/// Columns numbered by the database: PostgreSQL's identity sequences must continue after
/// the copied values.
const NUMBERED: &[(&str, &str)] = &[
    ("release_events", "seq"),
    ("step_logs", "seq"),
    ("audit", "id"),
];

/// Rows copied, by table.
pub type CopyReport = Vec<(&'static str, u64)>;

impl Store {
    /// Copies every row of `self` into `target`, which must be empty (migrated, nothing
    /// in it yet: no server has started on it).
    pub async fn copy_to(&self, target: &Store) -> Result<CopyReport> {
        for (table, _) in TABLES {
            let (rows,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&target.pool)
                .await?;
            if rows > 0 {
                return Err(EngineError::Conflict {
                    message: format!(
                        "the target database is not empty (table {table} has {rows} rows): \
                         copy into a new database, before any server starts on it"
                    ),
                    diagnostics: Vec::new(),
                });
            }
        }
        let mut report = CopyReport::new();
        let mut tx = target.pool.begin().await?;
        for (table, columns) in TABLES {
            let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
            let select = format!("SELECT {} FROM {table}", names.join(", "));
            let placeholders: Vec<String> = (1..=names.len()).map(|n| format!("${n}")).collect();
            let insert = format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                placeholders.join(", ")
            );
            let rows = sqlx::query(&select).fetch_all(&self.pool).await?;
            for row in &rows {
                let mut query = sqlx::query(&insert);
                for (index, (_, kind)) in columns.iter().enumerate() {
                    query = bind(query, row, index, *kind)?;
                }
                query.execute(&mut *tx).await?;
            }
            report.push((*table, rows.len() as u64));
        }
        if target.kind() == DatabaseKind::Postgres {
            for (table, column) in NUMBERED {
                sqlx::query(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
                     COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
                ))
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(report)
    }
}

fn bind<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    row: &AnyRow,
    index: usize,
    kind: Type,
) -> Result<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>> {
    Ok(match kind {
        Text => query.bind(row.try_get::<Option<String>, _>(index)?),
        Integer => query.bind(row.try_get::<Option<i64>, _>(index)?),
        Bytes => query.bind(row.try_get::<Option<Vec<u8>>, _>(index)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tables not copied: how running servers coordinate (who drives which release, who
    /// is in line for an environment, which servers live). A stopped installation has
    /// none of that; its releases take leases and places in line again when a server
    /// starts.
    const LIVE_STATE: &[&str] = &["environment_queue", "leases", "replicas"];

    /// A column added by a migration and forgotten here would be lost by every copy.
    #[tokio::test]
    async fn every_table_and_column_the_migrations_build_is_copied() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(None, dir.path()).await.unwrap();
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        let mut listed: Vec<&str> = TABLES.iter().map(|(name, _)| *name).collect();
        listed.extend(LIVE_STATE);
        listed.sort_unstable();
        let live: Vec<&str> = tables.iter().map(|(name,)| name.as_str()).collect();
        assert_eq!(listed, live, "tables");
        for (table, columns) in TABLES {
            let rows: Vec<(String,)> =
                sqlx::query_as(&format!("SELECT name FROM pragma_table_info('{table}')"))
                    .fetch_all(&store.pool)
                    .await
                    .unwrap();
            let mut live: Vec<&str> = rows.iter().map(|(name,)| name.as_str()).collect();
            let mut copied: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
            live.sort_unstable();
            copied.sort_unstable();
            assert_eq!(copied, live, "columns of {table}");
        }
    }
}
