//! Releases, their steps and applications, events and step logs. Every state change is
//! written together with the event that announces it, in one transaction, so the event
//! log never disagrees with the state it describes.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::{Any, Row, Transaction};

use promenade_model::access::PrincipalKind;
use promenade_model::audit::AuditAction;

use super::{now, DatabaseKind, Store};
use crate::audit;
use crate::{EngineError, Result};
pub use promenade_model::release::{
    ApplicationRecord, ApprovalChange, EventChange, EventRecord, Gate, GateApproval, GateChange,
    LogLine, ReleaseChange, ReleaseRecord, ReleaseStatus, StepChange, StepDetail, StepRecord,
    StepStatus,
};
use promenade_model::resources::PromotionAction;

/// Rows per multi-row `INSERT`: their bound values stay well under SQLite's limit of
/// 32,766 per statement (PostgreSQL's is 65,535).
const ROWS_PER_INSERT: usize = 500;

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// `INSERT INTO {into} VALUES ($1, …), (…), …` of `rows`, [`ROWS_PER_INSERT`] to a
/// statement, `bind` binding each row's `columns` values.
async fn insert_rows<T>(
    tx: &mut Transaction<'_, Any>,
    into: &str,
    columns: usize,
    rows: &[T],
    bind: impl for<'q> Fn(AnyQuery<'q>, &T) -> AnyQuery<'q>,
) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|row| {
                let row: Vec<String> = (1..=columns)
                    .map(|column| format!("${}", row * columns + column))
                    .collect();
                format!("({})", row.join(", "))
            })
            .collect();
        let sql = format!("INSERT INTO {into} VALUES {}", values.join(", "));
        let insert = chunk.iter().fold(sqlx::query(&sql), &bind);
        insert.execute(&mut **tx).await?;
    }
    Ok(())
}

/// What [`Store::create_release`] persists: the release and its planned steps.
#[derive(Debug, Clone)]
pub struct NewRelease {
    pub id: String,
    pub product: String,
    pub flow: String,
    pub status: ReleaseStatus,
    pub source: Value,
    /// The version `source` promotes, if it has one.
    pub version: Option<String>,
    pub message: String,
    pub created_by: String,
    pub created_by_kind: PrincipalKind,
    pub steps: Vec<NewStep>,
}

#[derive(Debug, Clone)]
pub struct NewStep {
    pub environment: String,
    pub depends_on: Vec<String>,
    pub action: PromotionAction,
    pub applications: Vec<String>,
    /// The environment's gates, frozen with the release.
    pub gates: Vec<Gate>,
    /// What the environment checks after its change, frozen with the release.
    pub verify: Vec<Gate>,
}

/// Filters for [`Store::list_releases`]; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct ReleaseFilter {
    pub product: Option<String>,
    pub status: Option<ReleaseStatus>,
    /// Releases with a step in this environment.
    pub environment: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// The per-application outcome of a step.
#[derive(Debug, Clone, Default)]
pub struct ApplicationResult {
    pub status: Option<StepStatus>,
    pub version: Option<String>,
    pub commit: Option<String>,
    pub files_changed: i64,
    pub lines_added: i64,
    pub lines_removed: i64,
}

impl Store {
    /// Persists a planned release with every step and application `pending`.
    pub(crate) async fn create_release(&self, release: &NewRelease) -> Result<EventRecord> {
        let mut tx = self.pool.begin().await?;
        let at = now();
        sqlx::query(
            "INSERT INTO releases (id, product, flow, status, source, message, created_by,
                created_by_kind, created_at, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&release.id)
        .bind(&release.product)
        .bind(&release.flow)
        .bind(release.status.as_str())
        .bind(release.source.to_string())
        .bind(&release.message)
        .bind(&release.created_by)
        .bind(release.created_by_kind.as_str())
        .bind(&at)
        .bind(release.version.clone().unwrap_or_default())
        .execute(&mut *tx)
        .await?;
        // One statement per table (per chunk of rows): a release of 1,000 applications
        // in 6 environments has 6,000 application rows.
        let steps: Vec<(usize, &NewStep)> = release.steps.iter().enumerate().collect();
        insert_rows(
            &mut tx,
            "release_steps (release_id, environment, position, depends_on, status, action, detail)",
            7,
            &steps,
            |insert, (position, step)| {
                insert
                    .bind(release.id.clone())
                    .bind(step.environment.clone())
                    .bind(*position as i64)
                    .bind(serde_json::to_string(&step.depends_on).unwrap_or_default())
                    .bind(StepStatus::Pending.as_str())
                    .bind(step.action.as_str())
                    .bind(detail_json(&StepDetail {
                        gates: step.gates.clone(),
                        verify: step.verify.clone(),
                        ..Default::default()
                    }))
            },
        )
        .await?;
        // In line for the environment from the start: releases of a product reach each
        // environment in the order they were started.
        insert_rows(
            &mut tx,
            "environment_queue (product, environment, release_id)",
            3,
            &release.steps,
            |insert, step| {
                insert
                    .bind(release.product.clone())
                    .bind(step.environment.clone())
                    .bind(release.id.clone())
            },
        )
        .await?;
        let applications: Vec<(&str, &str)> = release
            .steps
            .iter()
            .flat_map(|step| {
                step.applications
                    .iter()
                    .map(|application| (step.environment.as_str(), application.as_str()))
            })
            .collect();
        insert_rows(
            &mut tx,
            "release_applications (release_id, environment, application, status)",
            4,
            &applications,
            |insert, (environment, application)| {
                insert
                    .bind(release.id.clone())
                    .bind(environment.to_string())
                    .bind(application.to_string())
                    .bind(StepStatus::Pending.as_str())
            },
        )
        .await?;
        let change = EventChange::Release(ReleaseChange {
            status: release.status,
            product: Some(release.product.clone()),
        });
        let event = self
            .append_event(&mut tx, &release.id, None, change)
            .await?;
        let environments: Vec<&str> = release
            .steps
            .iter()
            .map(|s| s.environment.as_str())
            .collect();
        let started = audit::Record {
            actor: format!(
                "{} {}",
                release.created_by_kind.as_str(),
                release.created_by
            ),
            action: AuditAction::ReleaseStarted,
            object: release.id.clone(),
            address: None,
            detail: Some(format!(
                "product {} to {}",
                release.product,
                environments.join(", ")
            )),
        };
        let entry = audit::insert(&mut *tx, started).await?;
        tx.commit().await?;
        audit::log(&entry);
        Ok(event)
    }

    pub(crate) async fn release(&self, id: &str) -> Result<Option<ReleaseRecord>> {
        self.load_release(id, true).await
    }

    /// The release and its steps without per-application rows: what the executor needs
    /// on every turn, cheap for a product of 1,000 applications.
    pub(crate) async fn release_steps(&self, id: &str) -> Result<Option<ReleaseRecord>> {
        self.load_release(id, false).await
    }

    async fn load_release(
        &self,
        id: &str,
        with_applications: bool,
    ) -> Result<Option<ReleaseRecord>> {
        let Some(row) = sqlx::query(&format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let mut release = release_from_row(&row)?;
        let steps = sqlx::query(
            "SELECT environment, depends_on, status, action, attempt, detail, started_at, finished_at
             FROM release_steps WHERE release_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let applications = if with_applications {
            sqlx::query(
                "SELECT environment, application, status, version, commit_sha, files_changed,
                        lines_added, lines_removed
                 FROM release_applications WHERE release_id = $1 ORDER BY application",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?
        } else {
            Vec::new()
        };
        for row in steps {
            let environment: String = row.try_get("environment")?;
            let mut apps = Vec::new();
            for app in applications.iter().filter(|a| {
                a.try_get::<String, _>("environment").ok().as_ref() == Some(&environment)
            }) {
                apps.push(ApplicationRecord {
                    application: app.try_get("application")?,
                    status: parse_status(app.try_get("status")?),
                    version: app.try_get("version")?,
                    commit: app.try_get("commit_sha")?,
                    files_changed: app.try_get("files_changed")?,
                    lines_added: app.try_get("lines_added")?,
                    lines_removed: app.try_get("lines_removed")?,
                });
            }
            release.steps.push(step_from_row(&row, apps)?);
        }
        Ok(Some(release))
    }

    /// The product's releases that ended at or after `since` (RFC 3339, UTC), oldest
    /// first, with their steps but not their applications: two queries however many.
    pub(crate) async fn finished_releases(
        &self,
        product: &str,
        since: &str,
    ) -> Result<Vec<ReleaseRecord>> {
        let rows = sqlx::query(
            &format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE product = $1 AND finished_at >= $2 ORDER BY finished_at"
        ),
        )
        .bind(product)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        let mut releases = rows
            .iter()
            .map(release_from_row)
            .collect::<Result<Vec<_>>>()?;
        let steps = sqlx::query(
            "SELECT s.release_id, s.environment, s.depends_on, s.status, s.action, s.attempt, s.detail,
                    s.started_at, s.finished_at
             FROM release_steps s JOIN releases r ON r.id = s.release_id
             WHERE r.product = $1 AND r.finished_at >= $2 ORDER BY s.release_id, s.position",
        )
        .bind(product)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        let index: HashMap<String, usize> = releases
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        for row in steps {
            let release: String = row.try_get("release_id")?;
            if let Some(&at) = index.get(&release) {
                releases[at].steps.push(step_from_row(&row, Vec::new())?);
            }
        }
        Ok(releases)
    }

    /// Releases newest first, without their steps or snapshots.
    pub(crate) async fn list_releases(&self, filter: &ReleaseFilter) -> Result<Vec<ReleaseRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {RELEASE_LIST_COLUMNS} FROM releases
             WHERE ($1 IS NULL OR product = $1) AND ($2 IS NULL OR status = $2)
               AND ($5 IS NULL OR EXISTS (SELECT 1 FROM release_steps s
                                          WHERE s.release_id = releases.id AND s.environment = $5))
             ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
        ))
        .bind(&filter.product)
        .bind(filter.status.map(|s| s.as_str()))
        .bind(if filter.limit > 0 { filter.limit } else { 50 })
        .bind(filter.offset.max(0))
        .bind(&filter.environment)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(release_from_row).collect()
    }

    /// Sets the release's status; `superseded_by` names the release that replaced it
    /// (kept as it was when `None`).
    pub(crate) async fn set_release_status(
        &self,
        id: &str,
        status: ReleaseStatus,
        superseded_by: Option<&str>,
    ) -> Result<EventRecord> {
        let mut tx = self.pool.begin().await?;
        let finished = status.is_final().then(now);
        sqlx::query(
            "UPDATE releases SET status = $1, finished_at = $2,
                 superseded_by = COALESCE($3, superseded_by)
             WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(finished)
        .bind(superseded_by)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let change = EventChange::Release(ReleaseChange {
            status,
            product: None,
        });
        let event = self.append_event(&mut tx, id, None, change).await?;
        tx.commit().await?;
        Ok(event)
    }

    /// Moves a step to `status`, merging `detail` into its detail object. Entering a
    /// working state stamps `started_at` (and counts an attempt when it is `gating`);
    /// entering a final state stamps `finished_at`.
    pub(crate) async fn set_step_status(
        &self,
        id: &str,
        environment: &str,
        status: StepStatus,
        detail: Option<&StepDetail>,
    ) -> Result<EventRecord> {
        // The detail is merged by the database itself: reading it first would turn
        // this write transaction into a read that upgrades, which SQLite's WAL refuses
        // at once when another writer got in between.
        let mut tx = self.pool.begin().await?;
        let patch = detail.map_or_else(|| "{}".to_string(), detail_json);
        let at = now();
        let sql = format!(
            "UPDATE release_steps SET
                status = $1,
                detail = {},
                attempt = attempt + (CASE WHEN $1 = 'gating' THEN 1 ELSE 0 END),
                started_at = CASE WHEN $3 THEN COALESCE(started_at, $4) ELSE started_at END,
                finished_at = CASE WHEN $5 THEN $4 ELSE NULL END
             WHERE release_id = $6 AND environment = $7",
            self.merged_detail("$2")
        );
        sqlx::query(&sql)
            .bind(status.as_str())
            .bind(patch)
            .bind(status.is_working())
            .bind(&at)
            .bind(status.is_final())
            .bind(id)
            .bind(environment)
            .execute(&mut *tx)
            .await?;
        let change = EventChange::Step(StepChange {
            status,
            detail: detail.cloned(),
        });
        let event = self
            .append_event(&mut tx, id, Some(environment), change)
            .await?;
        tx.commit().await?;
        Ok(event)
    }

    /// Merges `detail` into a step's detail without changing its status, with a `gate`
    /// event: how a waiting gate reports its progress.
    pub(crate) async fn update_step_detail(
        &self,
        id: &str,
        environment: &str,
        detail: &StepDetail,
    ) -> Result<EventRecord> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "UPDATE release_steps SET detail = {} WHERE release_id = $2 AND environment = $3",
            self.merged_detail("$1")
        );
        sqlx::query(&sql)
            .bind(detail_json(detail))
            .bind(id)
            .bind(environment)
            .execute(&mut *tx)
            .await?;
        let change = EventChange::Gate(GateChange {
            detail: detail.clone(),
        });
        let event = self
            .append_event(&mut tx, id, Some(environment), change)
            .await?;
        tx.commit().await?;
        Ok(event)
    }

    /// Records the outcome of every application of a step, in one transaction: a
    /// product of 1,000 applications costs one write, not 1,000.
    pub(crate) async fn set_application_results(
        &self,
        id: &str,
        environment: &str,
        results: &[(String, ApplicationResult)],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (application, result) in results {
            sqlx::query(
                "UPDATE release_applications SET
                    status = COALESCE($1, status), version = COALESCE($2, version),
                    commit_sha = COALESCE($3, commit_sha), files_changed = $4, lines_added = $5,
                    lines_removed = $6
                 WHERE release_id = $7 AND environment = $8 AND application = $9",
            )
            .bind(result.status.map(|s| s.as_str()))
            .bind(&result.version)
            .bind(&result.commit)
            .bind(result.files_changed)
            .bind(result.lines_added)
            .bind(result.lines_removed)
            .bind(id)
            .bind(environment)
            .bind(application)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Events of one release after `after` (a previous event's `seq`, or 0), in order.
    pub(crate) async fn events_after(&self, id: &str, after: i64) -> Result<Vec<EventRecord>> {
        let rows = sqlx::query(
            "SELECT seq, release_id, at, kind, environment, data FROM release_events
             WHERE release_id = $1 AND seq > $2 ORDER BY seq",
        )
        .bind(id)
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// The sequence number of the newest event of any release (0 when there is none).
    pub(crate) async fn last_event_seq(&self) -> Result<i64> {
        let (seq,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(seq), 0) FROM release_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq)
    }

    /// Events of every release (of `product`, when given) after `after`, in order.
    pub(crate) async fn events_since(
        &self,
        product: Option<&str>,
        after: i64,
    ) -> Result<Vec<EventRecord>> {
        let rows = sqlx::query(
            "SELECT e.seq, e.release_id, e.at, e.kind, e.environment, e.data
             FROM release_events e JOIN releases r ON r.id = e.release_id
             WHERE e.seq > $1 AND ($2 IS NULL OR r.product = $3) ORDER BY e.seq LIMIT 1000",
        )
        .bind(after)
        .bind(product)
        .bind(product)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Every log line of a release, oldest first.
    pub(crate) async fn release_logs(&self, id: &str) -> Result<Vec<LogLine>> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT environment, at, level, message FROM step_logs WHERE release_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(environment, at, level, message)| LogLine {
                environment,
                at,
                level,
                message,
            })
            .collect())
    }

    pub(crate) async fn append_log(
        &self,
        id: &str,
        environment: &str,
        level: &str,
        message: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO step_logs (release_id, environment, at, level, message) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(environment)
        .bind(now())
        .bind(level)
        .bind(message)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

impl Store {
    /// SQL for the step's `detail` with the JSON object `patch` (a placeholder) merged
    /// into it, key by key: SQLite's `json_patch`, PostgreSQL's `jsonb ||` (the same for
    /// these patches, whose values replace whole fields).
    fn merged_detail(&self, patch: &str) -> String {
        match self.kind() {
            super::DatabaseKind::Sqlite => format!("json_patch(detail, {patch})"),
            super::DatabaseKind::Postgres => format!("(detail::jsonb || {patch}::jsonb)::text"),
        }
    }
}

/// A step detail as the JSON object merged into the stored one: only the fields it
/// sets.
fn detail_json(detail: &StepDetail) -> String {
    serde_json::to_string(detail).unwrap_or_else(|_| "{}".to_string())
}

/// What [`Store::add_approval`] records.
#[derive(Debug, Clone)]
pub struct NewApproval<'a> {
    pub release: &'a str,
    pub environment: &'a str,
    /// Index of the gate in the step's gates.
    pub gate: usize,
    pub user: &'a str,
    pub kind: PrincipalKind,
    pub role: &'a str,
}

impl Store {
    /// Records one person's approval of a gate. `None` when they had approved it
    /// already: nobody counts twice.
    pub(crate) async fn add_approval(
        &self,
        approval: &NewApproval<'_>,
    ) -> Result<Option<EventRecord>> {
        let mut tx = self.pool.begin().await?;
        let at = now();
        let inserted = sqlx::query(
            "INSERT INTO release_approvals (release_id, environment, gate, user_name, user_kind, role, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT DO NOTHING",
        )
        .bind(approval.release)
        .bind(approval.environment)
        .bind(approval.gate as i64)
        .bind(approval.user)
        .bind(approval.kind.as_str())
        .bind(approval.role)
        .bind(&at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(None);
        }
        let change = EventChange::Approval(ApprovalChange {
            gate: approval.gate,
            user: approval.user.to_string(),
            kind: approval.kind,
        });
        let event = self
            .append_event(
                &mut tx,
                approval.release,
                Some(approval.environment),
                change,
            )
            .await?;
        tx.commit().await?;
        Ok(Some(event))
    }

    /// The approvals of one gate, oldest first.
    pub(crate) async fn approvals(
        &self,
        release: &str,
        environment: &str,
        gate: usize,
    ) -> Result<Vec<GateApproval>> {
        let rows = sqlx::query(
            "SELECT user_name, user_kind, at FROM release_approvals
             WHERE release_id = $1 AND environment = $2 AND gate = $3
             ORDER BY at, user_kind, user_name",
        )
        .bind(release)
        .bind(environment)
        .bind(gate as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(GateApproval {
                    user: row.try_get("user_name")?,
                    kind: principal_kind(row.try_get("user_kind")?)?,
                    at: row.try_get("at")?,
                })
            })
            .collect()
    }
}

impl Store {
    /// Writes the event of a change inside the change's transaction. On PostgreSQL the
    /// writes take turns (an advisory lock held to the commit), so events become
    /// visible in `seq` order and a replica following the table never skips one that
    /// commits late; SQLite has one writer at a time anyway.
    async fn append_event(
        &self,
        tx: &mut Transaction<'_, Any>,
        release_id: &str,
        environment: Option<&str>,
        change: EventChange,
    ) -> Result<EventRecord> {
        if self.kind() == DatabaseKind::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(super::EVENT_ORDER_LOCK)
                .execute(&mut **tx)
                .await?;
        }
        let at = now();
        // Stored as the change's two JSON fields: the kind in a column, the data in another.
        let data = serde_json::to_value(&change)
            .map_err(|e| EngineError::Internal(e.to_string()))?["data"]
            .take();
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO release_events (release_id, at, kind, environment, data) VALUES ($1, $2, $3, $4, $5)
             RETURNING seq",
        )
        .bind(release_id)
        .bind(&at)
        .bind(change.kind().as_str())
        .bind(environment)
        .bind(data.to_string())
        .fetch_one(&mut **tx)
        .await?;
        Ok(EventRecord {
            seq,
            release_id: release_id.to_string(),
            at,
            environment: environment.map(str::to_string),
            change,
        })
    }
}

/// The columns [`release_from_row`] reads.
const RELEASE_COLUMNS: &str =
    "id, product, flow, status, source, message, created_by, created_by_kind, \
                               created_at, finished_at, superseded_by, version";

/// [`RELEASE_COLUMNS`] for lists: the snapshot only of releases stored before their
/// version had a column of its own, which is read from it.
const RELEASE_LIST_COLUMNS: &str =
    "id, product, flow, status, CASE WHEN version IS NULL THEN source END AS source, \
     message, created_by, created_by_kind, created_at, finished_at, superseded_by, version";

/// A step from a `release_steps` row, with `applications`.
fn step_from_row(
    row: &sqlx::any::AnyRow,
    applications: Vec<ApplicationRecord>,
) -> Result<StepRecord> {
    Ok(StepRecord {
        environment: row.try_get("environment")?,
        depends_on: json_column::<Vec<String>>(row.try_get("depends_on")?),
        status: parse_status(row.try_get("status")?),
        action: row
            .try_get::<String, _>("action")?
            .parse()
            .map_err(EngineError::Internal)?,
        attempt: row.try_get("attempt")?,
        detail: json_column::<StepDetail>(row.try_get("detail")?),
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        applications,
    })
}

fn release_from_row(row: &sqlx::any::AnyRow) -> Result<ReleaseRecord> {
    let source: Value = row
        .try_get::<Option<String>, _>("source")?
        .map(json_column)
        .unwrap_or_default();
    let stored_version: Option<String> = row.try_get("version")?;
    let mut record = ReleaseRecord {
        id: row.try_get("id")?,
        product: row.try_get("product")?,
        flow: row.try_get("flow")?,
        status: parse_status(row.try_get("status")?),
        source,
        version: None,
        message: row.try_get("message")?,
        created_by: row.try_get("created_by")?,
        created_by_kind: principal_kind(row.try_get("created_by_kind")?)?,
        created_at: row.try_get("created_at")?,
        finished_at: row.try_get("finished_at")?,
        superseded_by: row.try_get("superseded_by")?,
        steps: Vec::new(),
    };
    record.version = match stored_version {
        Some(version) => Some(version).filter(|v| !v.is_empty()),
        // Stored before the column: read from the snapshot.
        None => record.frozen_source().and_then(|s| s.version()),
    };
    Ok(record)
}

fn principal_kind(text: String) -> Result<PrincipalKind> {
    text.parse().map_err(EngineError::Internal)
}

fn event_from_row(row: &sqlx::any::AnyRow) -> Result<EventRecord> {
    Ok(EventRecord {
        seq: row.try_get("seq")?,
        release_id: row.try_get("release_id")?,
        at: row.try_get("at")?,
        environment: row.try_get("environment")?,
        change: serde_json::from_value(serde_json::json!({
            "kind": row.try_get::<String, _>("kind")?,
            "data": json_column::<Value>(row.try_get("data")?),
        }))
        .map_err(|e| EngineError::Internal(format!("a stored event does not read: {e}")))?,
    })
}

/// Columns this module wrote itself; a value that no longer parses reads as the type's
/// default rather than failing the whole page that shows it.
fn json_column<T: serde::de::DeserializeOwned + Default>(text: String) -> T {
    serde_json::from_str(&text).unwrap_or_default()
}

fn parse_status<T: std::str::FromStr + Default>(text: String) -> T {
    text.parse().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use promenade_model::release::{EventKind, RepositoryResult};

    fn planned(id: &str, product: &str) -> NewRelease {
        let step = |env: &str, deps: &[&str]| NewStep {
            gates: Vec::new(),
            verify: Vec::new(),
            environment: env.into(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            action: PromotionAction::Commit,
            applications: vec!["web".into(), "api".into()],
        };
        NewRelease {
            id: id.into(),
            product: product.into(),
            flow: "standard".into(),
            status: ReleaseStatus::Running,
            source: serde_json::json!({ "source": {
                "environment": "dev",
                "applications": [{
                    "name": "web", "repository": "r", "branch": "main", "folder": "apps/web",
                    "commit": "abc123", "version": "1.4.0"
                }]
            }}),
            version: Some("1.4.0".into()),
            message: "ship it".into(),
            created_by: "alice".into(),
            created_by_kind: PrincipalKind::User,
            steps: vec![step("qa", &["dev"]), step("prod", &["qa"])],
        }
    }

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (Store::open(None, dir.path()).await.unwrap(), dir)
    }

    #[tokio::test]
    async fn a_release_of_more_applications_than_one_insert_takes_is_stored_whole() {
        let (store, _dir) = store().await;
        let mut release = planned("big", "shop");
        let names: Vec<String> = (0..ROWS_PER_INSERT + 20)
            .map(|i| format!("app-{i:04}"))
            .collect();
        for step in &mut release.steps {
            step.applications = names.clone();
        }
        store.create_release(&release).await.unwrap();

        let read = store.release("big").await.unwrap().unwrap();
        assert_eq!(read.steps.len(), 2);
        for step in &read.steps {
            let mut stored: Vec<&str> = step
                .applications
                .iter()
                .map(|a| a.application.as_str())
                .collect();
            stored.sort_unstable();
            assert_eq!(stored, names, "{}", step.environment);
            assert!(step
                .applications
                .iter()
                .all(|a| a.status == StepStatus::Pending));
        }
    }

    #[tokio::test]
    async fn a_created_release_reads_back_with_pending_steps_and_applications() {
        let (store, _dir) = store().await;
        let created = store.create_release(&planned("r1", "shop")).await.unwrap();
        assert_eq!(created.kind(), EventKind::Release);

        let release = store.release("r1").await.unwrap().unwrap();
        assert_eq!(release.status, ReleaseStatus::Running);
        assert_eq!(
            release.source["source"]["applications"][0]["commit"],
            "abc123"
        );
        let envs: Vec<_> = release
            .steps
            .iter()
            .map(|s| s.environment.as_str())
            .collect();
        assert_eq!(envs, ["qa", "prod"]);
        assert_eq!(release.steps[1].depends_on, ["qa"]);
        assert!(release
            .steps
            .iter()
            .all(|s| s.status == StepStatus::Pending));
        let apps: Vec<_> = release.steps[0]
            .applications
            .iter()
            .map(|a| a.application.as_str())
            .collect();
        assert_eq!(apps, ["api", "web"]);
        assert!(store.release("missing").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn step_changes_stamp_times_merge_details_and_log_events_in_order() {
        let (store, _dir) = store().await;
        store.create_release(&planned("r1", "shop")).await.unwrap();
        store
            .set_step_status("r1", "qa", StepStatus::Gating, None)
            .await
            .unwrap();
        store
            .set_step_status(
                "r1",
                "qa",
                StepStatus::Applying,
                Some(&StepDetail {
                    error: Some("first try".into()),
                    ..Default::default()
                }),
            )
            .await
            .unwrap();
        let last = store
            .set_step_status(
                "r1",
                "qa",
                StepStatus::Succeeded,
                Some(&StepDetail {
                    repositories: vec![RepositoryResult {
                        repository: "file:///gitops.git".into(),
                        branch: "main".into(),
                        commit: Some("c0ffee".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            )
            .await
            .unwrap();

        let step = &store.release("r1").await.unwrap().unwrap().steps[0];
        assert_eq!(step.status, StepStatus::Succeeded);
        assert_eq!(step.attempt, 1);
        assert!(step.started_at.is_some() && step.finished_at.is_some());
        assert_eq!(step.detail.error.as_deref(), Some("first try"));
        assert_eq!(
            step.detail.repositories[0].commit.as_deref(),
            Some("c0ffee")
        );

        let events = store.events_after("r1", 0).await.unwrap();
        let kinds: Vec<_> = events
            .iter()
            .map(|e| match &e.change {
                EventChange::Release(r) => ("release", r.status.as_str()),
                EventChange::Step(s) => ("step", s.status.as_str()),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("release", "running"),
                ("step", "gating"),
                ("step", "applying"),
                ("step", "succeeded")
            ]
        );
        assert_eq!(events.last().unwrap().seq, last.seq);
        // Resuming after an event returns only what came later.
        let later = store.events_after("r1", events[1].seq).await.unwrap();
        assert_eq!(later.len(), 2);
    }

    #[tokio::test]
    async fn lists_carry_versions_not_snapshots() {
        let (store, _dir) = store().await;
        store.create_release(&planned("r1", "shop")).await.unwrap();
        // A release stored before versions had a column: its version is in the snapshot.
        store.create_release(&planned("r0", "shop")).await.unwrap();
        sqlx::query("UPDATE releases SET version = NULL WHERE id = 'r0'")
            .execute(&store.pool)
            .await
            .unwrap();
        let mut unversioned = planned("r2", "shop");
        unversioned.version = None;
        store.create_release(&unversioned).await.unwrap();

        let listed = store
            .list_releases(&ReleaseFilter::default())
            .await
            .unwrap();
        let by_id = |id: &str| listed.iter().find(|r| r.id == id).unwrap();
        assert_eq!(by_id("r1").version.as_deref(), Some("1.4.0"));
        assert_eq!(by_id("r1").source, Value::Null, "no snapshot in lists");
        assert_eq!(by_id("r0").version.as_deref(), Some("1.4.0"));
        assert_eq!(by_id("r2").version, None);
        assert_eq!(by_id("r2").source, Value::Null);

        let one = store.release("r1").await.unwrap().unwrap();
        assert_eq!(one.version.as_deref(), Some("1.4.0"));
        assert_eq!(one.source["source"]["applications"][0]["commit"], "abc123");
    }

    #[tokio::test]
    async fn lists_filter_by_product_and_status_and_final_states_stamp_the_end() {
        let (store, _dir) = store().await;
        store.create_release(&planned("r1", "shop")).await.unwrap();
        store.create_release(&planned("r2", "shop")).await.unwrap();
        store.create_release(&planned("r3", "blog")).await.unwrap();
        store
            .set_release_status("r1", ReleaseStatus::Succeeded, None)
            .await
            .unwrap();

        let shop = ReleaseFilter {
            product: Some("shop".into()),
            ..Default::default()
        };
        let ids: Vec<_> = store
            .list_releases(&shop)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&"r1".to_string()) && ids.contains(&"r2".to_string()));

        let running = ReleaseFilter {
            status: Some(ReleaseStatus::Running),
            ..Default::default()
        };
        let running: Vec<_> = store
            .list_releases(&running)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(running.len(), 2);
        assert!(!running.contains(&"r1".to_string()));

        let done = store.release("r1").await.unwrap().unwrap();
        assert!(done.finished_at.is_some());
        assert!(store
            .release("r2")
            .await
            .unwrap()
            .unwrap()
            .finished_at
            .is_none());
    }

    #[tokio::test]
    async fn application_results_and_logs_are_kept_per_step() {
        let (store, _dir) = store().await;
        store.create_release(&planned("r1", "shop")).await.unwrap();
        let result = ApplicationResult {
            status: Some(StepStatus::Succeeded),
            version: Some("1.4.0".into()),
            commit: Some("c0ffee".into()),
            files_changed: 1,
            lines_added: 2,
            lines_removed: 1,
        };
        store
            .set_application_results("r1", "qa", &[("web".to_string(), result)])
            .await
            .unwrap();
        store
            .append_log("r1", "qa", "info", "pushed c0ffee")
            .await
            .unwrap();

        let release = store.release("r1").await.unwrap().unwrap();
        let web = release.steps[0]
            .applications
            .iter()
            .find(|a| a.application == "web")
            .unwrap();
        assert_eq!(
            (web.version.as_deref(), web.lines_added),
            (Some("1.4.0"), 2)
        );
        assert_eq!(release.steps[1].applications[0].status, StepStatus::Pending);
        let logs = store.release_logs("r1").await.unwrap();
        assert_eq!(logs.len(), 1);
        assert_eq!(
            (logs[0].environment.as_str(), logs[0].message.as_str()),
            ("qa", "pushed c0ffee")
        );
    }
}
