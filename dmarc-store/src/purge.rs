//! Retention: deleting reports whose period ended before a time, with everything kept
//! for them (records, daily rows, source aggregates), then the raw inputs no report comes
//! from any more and their ingest-log rows. Small transactions, each followed by a bump
//! of the data generation, so ingestion and queries go on beside a purge.

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use crate::backend::backend_of;
use crate::query::{Arg, Sql};
use crate::sources;
use crate::store::{Store, unsigned};
use crate::{Result, StoreError};

/// Reports per purge transaction, at most.
const REPORTS_PER_BATCH: i64 = 500;
/// Records per purge transaction, at most (a larger report goes alone).
const RECORDS_PER_BATCH: i64 = 50_000;
/// Raw inputs per purge transaction.
const PAYLOADS_PER_BATCH: i64 = 500;

/// What a purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PurgeSummary {
    /// Reports (with their records, daily rows and source aggregates).
    pub reports: u64,
    /// Their records.
    pub records: u64,
    /// Raw inputs no report comes from any more.
    pub payloads: u64,
    /// Ingest-log rows of those inputs.
    pub log_rows: u64,
}

impl PurgeSummary {
    fn add(&mut self, other: PurgeSummary) {
        self.reports += other.reports;
        self.records += other.records;
        self.payloads += other.payloads;
        self.log_rows += other.log_rows;
    }
}

impl Store {
    /// Deletes the reports whose period ended before `before` (UTC seconds) and the raw
    /// inputs they came from (unless another report still comes from one), then the raw
    /// inputs received before it that hold no report (rejected, or duplicates only); an
    /// input goes with its ingest-log rows. Inputs never parsed stay. Runs in transactions
    /// of at most 500 reports and 50,000 records, each bumping the data generation, then of
    /// 500 inputs (inputs are not in any rollup).
    pub async fn purge(&self, before: i64) -> Result<PurgeSummary> {
        let mut summary = PurgeSummary::default();
        loop {
            let batch = match self.retrying(|| self.purge_reports(before)).await {
                Ok(batch) => batch,
                // An ingestion stored a report from one of the batch's inputs: again.
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            };
            if batch.reports == 0 {
                break;
            }
            self.retrying(|| self.bump_generation()).await?;
            summary.add(batch);
        }
        let mut after = 0;
        loop {
            let (batch, last) = self.retrying(|| self.purge_payloads(before, after)).await?;
            let Some(last) = last else { break };
            after = last;
            summary.add(batch);
        }
        Ok(summary)
    }

    /// One transaction of reports and the inputs they came from.
    async fn purge_reports(&self, before: i64) -> Result<PurgeSummary> {
        let mut tx = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut tx;
        let backend = backend_of(conn);
        let mut pick =
            Sql::new("SELECT id, record_count, payload_id FROM reports WHERE last_ts < ");
        pick.arg(Arg::Int(before))
            .push(" ORDER BY id LIMIT ")
            .arg(Arg::Int(REPORTS_PER_BATCH));
        let (mut ids, mut payloads, mut records) = (Vec::new(), Vec::new(), 0i64);
        for row in pick.fetch_all(backend, &mut *conn).await? {
            let count: i64 = row.try_get("record_count")?;
            if !ids.is_empty() && records.saturating_add(count) > RECORDS_PER_BATCH {
                break;
            }
            ids.push(row.try_get::<i64, _>("id")?);
            payloads.push(row.try_get::<i64, _>("payload_id")?);
            records = records.saturating_add(count);
        }
        if ids.is_empty() {
            return Ok(PurgeSummary::default());
        }
        sources::add_reports(conn, &ids, -1).await?;
        for statement in [
            "UPDATE reports SET conflict_with = NULL WHERE conflict_with IN (",
            "UPDATE ingest_log SET report_pk = NULL WHERE report_pk IN (",
            "DELETE FROM rollup_daily WHERE report_pk IN (",
            "DELETE FROM records WHERE report_pk IN (",
            "DELETE FROM reports WHERE id IN (",
        ] {
            let mut sql = Sql::new(statement);
            sources::push_ints(&mut sql, &ids);
            sql.push(")");
            sql.execute(backend, &mut *conn).await?;
        }
        payloads.sort_unstable();
        payloads.dedup();
        let Some((payloads, log_rows)) = delete_unused_payloads(conn, &payloads).await? else {
            // Raced by an ingestion: the whole batch again.
            return Err(StoreError::Conflict(
                "a purged input gained a report".into(),
            ));
        };
        tx.commit().await?;
        Ok(PurgeSummary {
            reports: ids.len() as u64,
            records: unsigned(records),
            payloads,
            log_rows,
        })
    }

    /// One transaction of raw inputs holding no report, with ids above `after`: what was
    /// deleted and the last id looked at (none when none is left).
    async fn purge_payloads(&self, before: i64, after: i64) -> Result<(PurgeSummary, Option<i64>)> {
        let mut tx = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut tx;
        let backend = backend_of(conn);
        let mut pick = Sql::new("SELECT id FROM payloads WHERE id > ");
        pick.arg(Arg::Int(after))
            .push(" AND received_at < ")
            .arg(Arg::Int(before))
            .push(" AND processed_at IS NOT NULL ORDER BY id LIMIT ")
            .arg(Arg::Int(PAYLOADS_PER_BATCH));
        let rows = pick.fetch_all(backend, &mut *conn).await?;
        let ids = rows
            .iter()
            .map(|row| row.try_get::<i64, _>("id"))
            .collect::<std::result::Result<Vec<i64>, _>>()?;
        let Some(&last) = ids.last() else {
            return Ok((PurgeSummary::default(), None));
        };
        let Some((payloads, log_rows)) = delete_unused_payloads(conn, &ids).await? else {
            return Ok((PurgeSummary::default(), Some(last)));
        };
        tx.commit().await?;
        let summary = PurgeSummary {
            payloads,
            log_rows,
            ..PurgeSummary::default()
        };
        Ok((summary, Some(last)))
    }
}

/// Deletes those of the raw inputs `ids` that no report comes from, with their ingest-log
/// rows: `(inputs, log rows)`. The condition is part of each delete, as an ingestion may
/// store a report from one of them meanwhile; `None` when one did so after the delete
/// began (PostgreSQL refuses the delete; the transaction is then void).
async fn delete_unused_payloads(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<Option<(u64, u64)>> {
    let backend = backend_of(conn);
    let unused = " AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.payload_id = ";
    let mut log = Sql::new("DELETE FROM ingest_log WHERE payload_id IN (");
    sources::push_ints(&mut log, ids);
    log.push(")").push(unused).push("ingest_log.payload_id)");
    let log_rows = log.execute(backend, &mut *conn).await?;
    let mut payloads = Sql::new("DELETE FROM payloads WHERE id IN (");
    sources::push_ints(&mut payloads, ids);
    payloads.push(")").push(unused).push("payloads.id)");
    match payloads.execute(backend, &mut *conn).await {
        Ok(n) => Ok(Some((n, log_rows))),
        Err(StoreError::Database(sqlx::Error::Database(e)))
            if e.code().as_deref() == Some("23503") =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
