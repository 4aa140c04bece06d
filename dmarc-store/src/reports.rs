//! Reports and their inputs: ingestion (the write path is in `write.rs`), reprocessing,
//! pending inputs, lists, one report, domains, record exports and the ingest log.

use dmarc_core::{Error as ParseError, ErrorKind, Filter, Report};
use sqlx::Row;

use crate::Result;
use crate::StoreError;
use crate::backend::Backend;
use crate::pipeline::{Input, InputDone, PipelineOptions};
use crate::prepare::{Prepared, RecordColumns, record_from_columns};
use crate::query::{Arg, Sql, Target, has_record_conditions, push_conditions};
use crate::reads::ReadRow;
use crate::store::{SHRINK_AFTER_RECORDS, Store, now, unsigned};
use crate::types::{
    DomainInfo, Outcome, OutcomeStatus, OutcomeTally, Page, Paged, RawInput, RecordExport,
    ReportRef, ReportSummary, ReprocessSummary, StoredReport, Totals,
};
use crate::write::{OnSameXml, PayloadRow, upsert_payload};

/// A report list entry from a row holding the [`SUMMARY_COLUMNS`].
fn report_summary(row: &ReadRow) -> Result<ReportSummary> {
    Ok(ReportSummary {
        id: row.int("id")?,
        reporter: row.text("reporter")?,
        org_name: row.text("organization")?,
        report_id: row.text("report_id")?,
        domain: row.text("policy_domain")?,
        begin: row.int("begin_ts")?,
        end: row.int("end_ts")?,
        records: unsigned(row.int("record_count")?),
        messages: unsigned(row.int("message_count")?),
        dmarc_pass: unsigned(row.int("dmarc_pass")?),
        diagnostics: unsigned(row.int("diagnostic_count")?),
        conflict_with: row.opt_int("conflict_with")?,
        ingested_at: row.int("ingested_at")?,
    })
}

const SUMMARY_COLUMNS: &str = "r.id, r.reporter, r.organization, r.report_id, r.policy_domain, \
    r.begin_ts, r.end_ts, r.record_count, r.message_count, r.dmarc_pass, r.diagnostic_count, \
    r.conflict_with, r.ingested_at";

fn error_kind(text: &str) -> ErrorKind {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).unwrap_or(ErrorKind::Io)
}

impl Store {
    /// Writes a batch of prepared inputs in one transaction: raw payloads, accepted
    /// reports, and one outcome per payload part (also logged in the store). Returns the
    /// outcomes per input, in order. Re-ingesting anything is safe.
    pub async fn ingest(&self, batch: &[Prepared]) -> Result<Vec<Vec<Outcome>>> {
        self.write_batch(batch, OnSameXml::Keep).await
    }

    /// [`Store::ingest`], rewriting reports stored from the same XML when reprocessing.
    pub(crate) async fn write_batch(
        &self,
        batch: &[Prepared],
        on_same_xml: OnSameXml,
    ) -> Result<Vec<Vec<Outcome>>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let outcomes = self
            .retrying(|| self.ingest_once(batch, on_same_xml))
            .await?;
        // After the commit, never before it: an answer computed from the old data must not
        // be cached under the new number.
        self.retrying(|| self.bump_generation()).await?;
        // A large transaction fills the write connection's page cache (up to 64 MiB);
        // give it back between batches rather than keep it resident. Smaller batches keep
        // theirs: the next one reuses it.
        let records: u64 = batch.iter().map(Prepared::record_count).sum();
        if self.backend == Backend::Sqlite && records >= SHRINK_AFTER_RECORDS {
            Sql::new("PRAGMA shrink_memory")
                .execute(self.backend, &self.writes)
                .await?;
        }
        Ok(outcomes)
    }

    /// Parses stored raw inputs again (all, or only those never parsed when
    /// `pending_only`) through the ingest pipeline run with `options`: new reports are
    /// added, reports already stored from the same XML are rewritten with the new parse
    /// (same id), nothing is duplicated. Stored inputs go to the pipeline one at a time, so
    /// memory stays bounded as in any ingestion. A stored input that cannot be read back
    /// counts as rejected; a truncated one (only its head was kept) is
    /// skipped.
    pub async fn reprocess(
        &self,
        options: PipelineOptions,
        pending_only: bool,
    ) -> Result<ReprocessSummary> {
        let options = PipelineOptions {
            rewrite_same_xml: true,
            ..options
        };
        let (sender, inputs) = tokio::sync::mpsc::channel(1);
        let feed = async move {
            let mut after = 0i64;
            loop {
                let mut sql = Sql::new(
                    "SELECT id, name, content FROM payloads WHERE truncated = 0 AND id > ",
                );
                sql.arg(Arg::Int(after));
                if pending_only {
                    sql.push(" AND processed_at IS NULL");
                }
                sql.push(" ORDER BY id LIMIT 1");
                let rows = sql.fetch_all(self.backend, &self.pool).await?;
                let Some(row) = rows.first() else { break };
                after = row.try_get("id")?;
                let name: String = row.try_get("name")?;
                let content: Vec<u8> = row.try_get("content")?;
                let bytes = gunzip(&content).map_err(|e| {
                    ParseError::new(
                        ErrorKind::Io,
                        format!("stored input {after} cannot be decompressed: {e}"),
                    )
                });
                if sender.send(Input { name, bytes }).await.is_err() {
                    break;
                }
            }
            Ok::<(), StoreError>(())
        };
        let (mut payloads, mut tally) = (0u64, OutcomeTally::default());
        let count = |done: InputDone| {
            payloads += 1;
            done.outcomes.iter().for_each(|o| tally.add(o));
        };
        let (fed, ran) = tokio::join!(
            feed,
            crate::pipeline::run(self.clone(), inputs, options, count)
        );
        ran?;
        fed?;
        Ok(ReprocessSummary {
            payloads,
            accepted: tally.accepted,
            refreshed: tally.refreshed,
            duplicate: tally.duplicate,
            rejected: tally.rejected,
        })
    }

    /// The data generation: a number that grows with every committed change of reports,
    /// the same for every process on the database. An answer computed after reading it
    /// reflects at least that generation's data.
    pub async fn data_generation(&self) -> Result<i64> {
        let rows = Sql::new("SELECT generation FROM data_generation WHERE id = 1")
            .fetch_all(self.backend, &self.pool)
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt("no data generation row".into()))?;
        Ok(row.try_get("generation")?)
    }

    /// Marks that reports changed (after the change is committed).
    pub(crate) async fn bump_generation(&self) -> Result<()> {
        Sql::new("UPDATE data_generation SET generation = generation + 1 WHERE id = 1")
            .execute(self.backend, &self.writes)
            .await?;
        Ok(())
    }

    /// Stores raw inputs without parsing them (for later processing).
    pub async fn store_pending(&self, name: &str, bytes: &[u8]) -> Result<i64> {
        let sha = crate::prepare::hex_sha256(bytes);
        let compressed = crate::prepare::gzip(bytes);
        let mut tx = self.begin_write().await?;
        let payload = PayloadRow {
            name,
            sha256: &sha,
            size: bytes.len() as u64,
            compressed: &compressed,
            truncated: false,
        };
        let id = upsert_payload(&mut tx, &payload, false, now()).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Counts of what is stored.
    pub async fn totals(&self) -> Result<Totals> {
        let row = Sql::new(
            "SELECT (SELECT COUNT(*) FROM payloads) AS payloads, \
             (SELECT COUNT(*) FROM payloads WHERE processed_at IS NULL) AS pending, \
             (SELECT COUNT(*) FROM reports) AS reports, \
             (SELECT COUNT(*) FROM records) AS records, \
             (SELECT CAST(COALESCE(SUM(message_count), 0) AS BIGINT) FROM reports) AS messages, \
             (SELECT COUNT(*) FROM reports WHERE conflict_with IS NOT NULL) AS conflicts",
        )
        .fetch_all(self.backend, &self.pool)
        .await?;
        let row = row
            .first()
            .ok_or_else(|| StoreError::Corrupt("no totals row".into()))?;
        Ok(Totals {
            payloads: unsigned(row.try_get("payloads")?),
            pending: unsigned(row.try_get("pending")?),
            reports: unsigned(row.try_get("reports")?),
            records: unsigned(row.try_get("records")?),
            messages: unsigned(row.try_get("messages")?),
            conflicts: unsigned(row.try_get("conflicts")?),
        })
    }

    /// Reports matching the filter (those with at least one matching record), newest
    /// period first, then highest id first.
    pub async fn reports(&self, filter: &Filter, page: Page) -> Result<Paged<ReportSummary>> {
        let (limit, offset) = page.clamped();
        // Report-level conditions read `r`; record-level ones need a matching record.
        let mut report_filter = filter.clone();
        report_filter.source_ip = None;
        report_filter.dkim = None;
        report_filter.spf = None;
        report_filter.disposition = None;
        let mut where_sql = Sql::new(" WHERE 1 = 1");
        push_conditions(&mut where_sql, &report_filter, Target::Records);
        if has_record_conditions(filter) {
            let record_filter = Filter {
                source_ip: filter.source_ip,
                dkim: filter.dkim,
                spf: filter.spf,
                disposition: filter.disposition.clone(),
                ..Filter::default()
            };
            where_sql.push(" AND EXISTS (SELECT 1 FROM records x WHERE x.report_pk = r.id");
            push_conditions(&mut where_sql, &record_filter, Target::Records);
            where_sql.push(")");
        }
        let mut count = Sql::new("SELECT COUNT(*) FROM reports r");
        count.push(&where_sql.text);
        count.args = where_sql.args.clone();
        let total = self.read_count(count).await?;
        let mut list = Sql::new(&format!("SELECT {SUMMARY_COLUMNS} FROM reports r"));
        list.push(&where_sql.text);
        list.args = where_sql.args;
        list.push(" ORDER BY r.begin_ts DESC, r.id DESC LIMIT ")
            .arg(Arg::Int(limit))
            .push(" OFFSET ")
            .arg(Arg::Int(offset));
        let items = self
            .read(list)
            .await?
            .iter()
            .map(report_summary)
            .collect::<Result<Vec<_>>>()?;
        Ok(Paged::of(items, unsigned(total), page))
    }

    /// One report with its diagnostics and one page of its records (in report order).
    pub async fn report(&self, id: i64, page: Page) -> Result<Option<StoredReport>> {
        let mut sql = Sql::new(&format!(
            "SELECT {SUMMARY_COLUMNS}, r.meta, p.name, r.part FROM reports r \
             JOIN payloads p ON p.id = r.payload_id WHERE r.id = "
        ));
        sql.arg(Arg::Int(id));
        let rows = self.read(sql).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let summary = report_summary(row)?;
        let meta = row.text("meta")?;
        let mut report: Report = serde_json::from_str(&meta)
            .map_err(|e| StoreError::Corrupt(format!("report {id} metadata: {e}")))?;
        let name = row.text("name")?;
        let part = row.opt_text("part")?;
        let mut records = Sql::new(
            "SELECT source_ip, count, disposition, dkim, spf, header_from, envelope_from, \
             envelope_to, detail FROM records WHERE report_pk = ",
        );
        let (limit, offset) = page.clamped();
        // Positions are 0.. in report order: a page is one range of the primary key.
        records
            .arg(Arg::Int(id))
            .push(" AND ord >= ")
            .arg(Arg::Int(offset))
            .push(" ORDER BY ord LIMIT ")
            .arg(Arg::Int(limit));
        for row in self.read(records).await? {
            report.records.push(
                record_from_columns(RecordColumns {
                    source_ip: row.opt_text("source_ip")?,
                    count: row.int("count")?,
                    disposition: row.opt_text("disposition")?,
                    dkim: row.opt_text("dkim")?,
                    spf: row.opt_text("spf")?,
                    header_from: row.opt_text("header_from")?,
                    envelope_from: row.opt_text("envelope_from")?,
                    envelope_to: row.opt_text("envelope_to")?,
                    detail: row.text("detail")?,
                })
                .map_err(|e| StoreError::Corrupt(format!("report {id}: {e}")))?,
            );
        }
        Ok(Some(StoredReport {
            summary,
            records_page: Page {
                limit: page.limit.clamp(1, Page::MAX_LIMIT),
                offset: page.offset,
            },
            source: match part {
                Some(part) => format!("{name} > {part}"),
                None => name,
            },
            report,
        }))
    }

    /// The input report `id` came from, as received (file, upload or message): its name
    /// and bytes. `None` when there is no such report.
    pub async fn report_input(&self, id: i64) -> Result<Option<RawInput>> {
        let mut sql = Sql::new(
            "SELECT p.name, p.content, p.truncated FROM reports r \
             JOIN payloads p ON p.id = r.payload_id WHERE r.id = ",
        );
        sql.arg(Arg::Int(id));
        let rows = sql.fetch_all(self.backend, &self.pool).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let content: Vec<u8> = row.try_get("content")?;
        let bytes = gunzip(&content)
            .map_err(|e| StoreError::Corrupt(format!("the input of report {id}: {e}")))?;
        Ok(Some(RawInput {
            name: row.try_get("name")?,
            bytes,
            truncated: row.try_get::<i64, _>("truncated")? != 0,
        }))
    }

    /// Every policy domain with its report and message counts.
    pub async fn domains(&self) -> Result<Vec<DomainInfo>> {
        let sql = Sql::new(
            "SELECT policy_domain, COUNT(*) AS reports, \
             CAST(SUM(message_count) AS BIGINT) AS messages, MIN(begin_ts) AS first_begin, \
             MAX(end_ts) AS last_end FROM reports GROUP BY policy_domain ORDER BY policy_domain",
        );
        self.read(sql)
            .await?
            .iter()
            .map(|row| {
                Ok(DomainInfo {
                    domain: row.text("policy_domain")?,
                    reports: unsigned(row.int("reports")?),
                    messages: unsigned(row.int("messages")?),
                    first_begin: row.int("first_begin")?,
                    last_end: row.int("last_end")?,
                })
            })
            .collect()
    }

    /// Records matching the filter with their report's columns, ordered by report and
    /// position, starting after `after` (a `(report, ord)` key from the previous call), at
    /// most `limit`: pages through any number of records at constant cost.
    pub async fn export_records(
        &self,
        filter: &Filter,
        after: Option<(i64, i64)>,
        limit: u32,
    ) -> Result<Vec<RecordExport>> {
        let mut sql = Sql::new(
            "SELECT r.id, x.ord, r.organization, r.report_id, r.policy_domain, r.begin_ts, \
             r.end_ts, x.source_ip, x.count, x.disposition, x.dkim, x.spf, x.dkim_pass, \
             x.spf_pass, x.header_from, x.envelope_from, x.envelope_to \
             FROM records x JOIN reports r ON r.id = x.report_pk WHERE 1 = 1",
        );
        push_conditions(&mut sql, filter, Target::Records);
        if let Some((report, ord)) = after {
            sql.push(" AND (x.report_pk > ")
                .arg(Arg::Int(report))
                .push(" OR (x.report_pk = ")
                .arg(Arg::Int(report))
                .push(" AND x.ord > ")
                .arg(Arg::Int(ord))
                .push("))");
        }
        sql.push(" ORDER BY x.report_pk, x.ord LIMIT ")
            .arg(Arg::Int(i64::from(limit.clamp(1, Page::MAX_LIMIT))));
        let mut out = Vec::new();
        for row in self.read(sql).await? {
            out.push(RecordExport {
                report: row.int("id")?,
                ord: row.int("ord")?,
                org_name: row.text("organization")?,
                report_id: row.text("report_id")?,
                domain: row.text("policy_domain")?,
                begin: row.int("begin_ts")?,
                end: row.int("end_ts")?,
                source_ip: row.opt_text("source_ip")?,
                count: unsigned(row.int("count")?),
                disposition: row.opt_text("disposition")?,
                dkim: row.opt_text("dkim")?,
                spf: row.opt_text("spf")?,
                dkim_aligned: row.int("dkim_pass")? == 1,
                spf_aligned: row.int("spf_pass")? == 1,
                header_from: row.opt_text("header_from")?,
                envelope_from: row.opt_text("envelope_from")?,
                envelope_to: row.opt_text("envelope_to")?,
            });
        }
        Ok(out)
    }

    /// Recent ingest outcomes, newest first.
    pub async fn outcomes(&self, page: Page) -> Result<Paged<Outcome>> {
        let (limit, offset) = page.clamped();
        let total = Sql::new("SELECT COUNT(*) FROM ingest_log")
            .fetch_count(self.backend, &self.pool)
            .await?;
        let mut sql = Sql::new(
            "SELECT p.name, l.part, l.status, l.report_pk, r.reporter, r.report_id, \
             r.policy_domain, r.record_count, r.message_count, r.conflict_with, l.error_kind, \
             l.message FROM ingest_log l JOIN payloads p ON p.id = l.payload_id \
             LEFT JOIN reports r ON r.id = l.report_pk ORDER BY l.id DESC LIMIT ",
        );
        sql.arg(Arg::Int(limit))
            .push(" OFFSET ")
            .arg(Arg::Int(offset));
        let mut items = Vec::new();
        for row in sql.fetch_all(self.backend, &self.pool).await? {
            let status = OutcomeStatus::parse(&row.try_get::<String, _>("status")?);
            let report_pk: Option<i64> = row.try_get("report_pk")?;
            let report = match report_pk {
                Some(id) => Some(ReportRef {
                    id,
                    reporter: row.try_get("reporter")?,
                    report_id: row.try_get("report_id")?,
                    domain: row.try_get("policy_domain")?,
                }),
                None => None,
            };
            let kind: Option<String> = row.try_get("error_kind")?;
            let message: Option<String> = row.try_get("message")?;
            items.push(Outcome {
                input: row.try_get("name")?,
                part: row.try_get("part")?,
                outcome: status,
                records: report_pk.map_or(Ok(0), |_| {
                    row.try_get::<i64, _>("record_count").map(unsigned)
                })?,
                messages: report_pk.map_or(Ok(0), |_| {
                    row.try_get::<i64, _>("message_count").map(unsigned)
                })?,
                conflict_with: if status == OutcomeStatus::Accepted {
                    row.try_get("conflict_with")?
                } else {
                    None
                },
                report,
                error: kind
                    .map(|kind| ParseError::new(error_kind(&kind), message.unwrap_or_default())),
            });
        }
        Ok(Paged::of(items, unsigned(total), page))
    }
}

/// The bytes of a stored (gzip) input.
fn gunzip(content: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(content).read_to_end(&mut raw)?;
    Ok(raw)
}
