//! The tables replicas coordinate through: who runs (`replicas`), who drives what
//! (`leases`), and who may work in an environment next (`environment_queue`). Every
//! expiry is read against the database's clock, so replicas whose clocks disagree still
//! agree on whether a lease has run out.

use std::time::Duration;

use promenade_model::release::{ReleaseStatus, StepStatus};

use super::{now, DatabaseKind, Store};
use crate::Result;

impl Store {
    /// The database's clock in milliseconds since the Unix epoch, as SQL.
    fn clock_ms(&self) -> &'static str {
        match self.kind() {
            DatabaseKind::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
            DatabaseKind::Postgres => {
                "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
            }
        }
    }

    /// Records that the replica `name` runs as `boot`, taking the name over from an
    /// earlier process (one that was killed, or a second server wrongly given the same
    /// name: it finds out when it next renews).
    pub(crate) async fn register_replica(&self, name: &str, boot: &str) -> Result<()> {
        let sql = format!(
            "INSERT INTO replicas (name, boot, started_at, seen_ms) VALUES ($1, $2, $3, {clock})
             ON CONFLICT (name) DO UPDATE SET boot = excluded.boot,
                 started_at = excluded.started_at, seen_ms = excluded.seen_ms",
            clock = self.clock_ms()
        );
        sqlx::query(&sql)
            .bind(name)
            .bind(boot)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Renews the replica's row; false when another process has taken its name.
    pub(crate) async fn renew_replica(&self, name: &str, boot: &str) -> Result<bool> {
        let sql = format!(
            "UPDATE replicas SET seen_ms = {clock} WHERE name = $1 AND boot = $2",
            clock = self.clock_ms()
        );
        let renewed = sqlx::query(&sql)
            .bind(name)
            .bind(boot)
            .execute(&self.pool)
            .await?;
        Ok(renewed.rows_affected() == 1)
    }

    /// Removes the replica and gives its leases up, so others take its work at once.
    pub(crate) async fn retire_replica(&self, name: &str, boot: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let retired = sqlx::query("DELETE FROM replicas WHERE name = $1 AND boot = $2")
            .bind(name)
            .bind(boot)
            .execute(&mut *tx)
            .await?;
        if retired.rows_affected() == 1 {
            sqlx::query("DELETE FROM leases WHERE holder = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes the lease `name` for `holder` until `ttl` from now, when it is free, has
    /// run out, or is `holder`'s already; false when someone else holds it.
    pub(crate) async fn take_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool> {
        self.upsert_lease(name, holder, ttl, "OR leases.holder = excluded.holder")
            .await
    }

    /// Takes the lease `name` only when it is free or has run out, whoever held it: a
    /// turn (the next trigger poll) rather than ownership.
    pub(crate) async fn take_turn(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool> {
        self.upsert_lease(name, holder, ttl, "").await
    }

    /// `also` widens when a held lease may be taken, beyond having run out.
    async fn upsert_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        also: &str,
    ) -> Result<bool> {
        let clock = self.clock_ms();
        let sql = format!(
            "INSERT INTO leases (name, holder, expires_ms) VALUES ($1, $2, {clock} + $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                 expires_ms = excluded.expires_ms
             WHERE leases.expires_ms < {clock} {also}"
        );
        let taken = sqlx::query(&sql)
            .bind(name)
            .bind(holder)
            .bind(millis(ttl))
            .execute(&self.pool)
            .await?;
        Ok(taken.rows_affected() == 1)
    }

    /// Gives the lease up, if `holder` still holds it.
    pub(crate) async fn drop_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Extends every lease named `prefix…` that `holder` holds to `ttl` from now (turns,
    /// such as the poll's, run out instead); the names it still holds.
    pub(crate) async fn renew_leases(
        &self,
        holder: &str,
        prefix: &str,
        ttl: Duration,
    ) -> Result<Vec<String>> {
        let sql = format!(
            "UPDATE leases SET expires_ms = {clock} + $1 WHERE holder = $2 AND name LIKE $3",
            clock = self.clock_ms()
        );
        let pattern = format!("{prefix}%");
        sqlx::query(&sql)
            .bind(millis(ttl))
            .bind(holder)
            .bind(&pattern)
            .execute(&self.pool)
            .await?;
        let held: Vec<(String,)> =
            sqlx::query_as("SELECT name FROM leases WHERE holder = $1 AND name LIKE $2")
                .bind(holder)
                .bind(&pattern)
                .fetch_all(&self.pool)
                .await?;
        Ok(held.into_iter().map(|(name,)| name).collect())
    }

    /// Running releases nobody else drives: without a lease, with one run out, or with
    /// one `holder` holds (left by its previous process).
    pub(crate) async fn undriven_releases(
        &self,
        holder: &str,
        prefix: &str,
    ) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT r.id FROM releases r WHERE r.status = $1 AND NOT EXISTS (
                 SELECT 1 FROM leases l WHERE l.name = $2 || r.id
                     AND l.expires_ms >= {clock} AND l.holder <> $3)
             ORDER BY r.id",
            clock = self.clock_ms()
        );
        let rows: Vec<(String,)> = sqlx::query_as(&sql)
            .bind(ReleaseStatus::Running.as_str())
            .bind(prefix)
            .bind(holder)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Takes the environment's turn for the release's step when the step is first in
    /// line: nobody holds the turn and no older release waits for it. Puts the step in
    /// line first when it is not (a retried step), keeping its place otherwise, and
    /// drops places nobody will use (releases no longer running, steps that ended).
    /// With `supersede`, a step that does not get the turn while a newer release is in
    /// line is told which one.
    pub(crate) async fn queue_turn(
        &self,
        product: &str,
        environment: &str,
        release: &str,
        supersede: bool,
    ) -> Result<Turn> {
        let mut tx = self.pool.begin().await?;
        if self.kind() == DatabaseKind::Postgres {
            // One decision at a time per environment: two replicas' steps must not both
            // see the turn free. (SQLite has one writer at a time anyway.)
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1 || '/' || $2))")
                .bind(product)
                .bind(environment)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO environment_queue (product, environment, release_id) VALUES ($1, $2, $3)
             ON CONFLICT (product, environment, release_id) DO NOTHING",
        )
        .bind(product)
        .bind(environment)
        .bind(release)
        .execute(&mut *tx)
        .await?;
        let ended = final_step_statuses();
        let prune = format!(
            "DELETE FROM environment_queue WHERE product = $1 AND environment = $2
             AND NOT EXISTS (
                 SELECT 1 FROM releases r JOIN release_steps s ON s.release_id = r.id
                 WHERE r.id = environment_queue.release_id AND r.status = $3
                   AND s.environment = environment_queue.environment
                   AND s.status NOT IN ({ended}))"
        );
        sqlx::query(&prune)
            .bind(product)
            .bind(environment)
            .bind(ReleaseStatus::Running.as_str())
            .execute(&mut *tx)
            .await?;
        let taken = sqlx::query(
            "UPDATE environment_queue SET holding = 1
             WHERE product = $1 AND environment = $2 AND release_id = $3
             AND NOT EXISTS (
                 SELECT 1 FROM environment_queue q
                 WHERE q.product = $1 AND q.environment = $2 AND q.release_id <> $3
                   AND (q.holding = 1 OR q.release_id < $3))",
        )
        .bind(product)
        .bind(environment)
        .bind(release)
        .execute(&mut *tx)
        .await?;
        let turn = if taken.rows_affected() == 1 {
            Turn::Taken
        } else if supersede {
            let newest: Option<String> = sqlx::query_scalar(
                "SELECT MAX(release_id) FROM environment_queue
                 WHERE product = $1 AND environment = $2 AND release_id > $3",
            )
            .bind(product)
            .bind(environment)
            .bind(release)
            .fetch_one(&mut *tx)
            .await?;
            newest.map_or(Turn::Waiting, Turn::Superseded)
        } else {
            Turn::Waiting
        };
        tx.commit().await?;
        Ok(turn)
    }

    /// Takes the release's step out of the environment's line.
    pub(crate) async fn leave_queue(
        &self,
        product: &str,
        environment: &str,
        release: &str,
    ) -> Result<()> {
        sqlx::query(
            "DELETE FROM environment_queue WHERE product = $1 AND environment = $2 AND release_id = $3",
        )
        .bind(product)
        .bind(environment)
        .bind(release)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// How many running releases are lined up for each environment without holding
    /// it: (product, environment, count), for the queue-depth gauge.
    pub(crate) async fn queue_depths(&self) -> Result<Vec<(String, String, i64)>> {
        let sql = format!(
            "SELECT q.product, q.environment, COUNT(*) FROM environment_queue q
             JOIN releases r ON r.id = q.release_id
             JOIN release_steps s ON s.release_id = q.release_id AND s.environment = q.environment
             WHERE q.holding = 0 AND r.status = $1 AND s.status NOT IN ({ended})
             GROUP BY q.product, q.environment",
            ended = final_step_statuses()
        );
        Ok(sqlx::query_as(&sql)
            .bind(ReleaseStatus::Running.as_str())
            .fetch_all(&self.pool)
            .await?)
    }

    /// Running releases per product.
    pub(crate) async fn running_by_product(&self) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT product, COUNT(*) FROM releases WHERE status = $1 GROUP BY product",
        )
        .bind(ReleaseStatus::Running.as_str())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Running releases of `product` started before `release` (release ids sort by
    /// creation time).
    pub(crate) async fn running_before(&self, product: &str, release: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM releases WHERE product = $1 AND status = $2 AND id < $3 ORDER BY id",
        )
        .bind(product)
        .bind(ReleaseStatus::Running.as_str())
        .bind(release)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Where a step stands in its environment's queue.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Turn {
    /// It holds the environment.
    Taken,
    /// Another release holds it, or an older one is in line first.
    Waiting,
    /// It waits, and this newer release is in line too (`concurrency: supersede`).
    Superseded(String),
}

/// The final step statuses as an SQL list: `'succeeded', 'failed', …`.
fn final_step_statuses() -> String {
    StepStatus::ALL
        .iter()
        .filter(|s| s.is_final())
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}
