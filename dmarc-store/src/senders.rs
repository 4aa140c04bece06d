//! Sender identification's evidence: what the records of source addresses say about who
//! sends through them, per policy domain (`dmarc_core::senders`).

use std::collections::HashMap;
use std::net::IpAddr;

use dmarc_core::Filter;
use dmarc_core::senders::SenderEvidence;

use crate::Result;
use crate::error::StoreError;
use crate::prepare::{RecordColumns, record_from_columns};
use crate::query::{Sql, Target, push_conditions};
use crate::store::Store;

/// Addresses per query.
const CHUNK: usize = 200;

impl Store {
    /// The evidence of the addresses `ips` per policy domain, from their records under
    /// `filter`, as `dmarc_core::senders::sender_evidence` gives it from reports.
    pub async fn sender_evidence(
        &self,
        filter: &Filter,
        ips: &[IpAddr],
    ) -> Result<HashMap<(IpAddr, String), SenderEvidence>> {
        let mut out: HashMap<(IpAddr, String), SenderEvidence> = HashMap::new();
        for chunk in ips.chunks(CHUNK) {
            // Records alike in what the evidence reads are summed in SQL: a busy sender's
            // records repeat the same signatures, so few details are parsed.
            let mut sql = Sql::new(
                "SELECT x.source_ip, r.policy_domain, x.dkim_pass, x.spf_pass, x.detail, \
                 CAST(SUM(x.count) AS BIGINT) AS count \
                 FROM records x JOIN reports r ON r.id = x.report_pk WHERE x.ip IN (",
            );
            sql.push_ip_keys(chunk).push(")");
            push_conditions(&mut sql, filter, Target::Records);
            sql.push(" GROUP BY x.source_ip, r.policy_domain, x.dkim_pass, x.spf_pass, x.detail");
            let verdict = |pass: i64| Some(if pass == 1 { "pass" } else { "fail" }.to_owned());
            for row in self.read(sql).await? {
                let record = record_from_columns(RecordColumns {
                    source_ip: row.opt_text("source_ip")?,
                    count: row.int("count")?,
                    disposition: None,
                    dkim: verdict(row.int("dkim_pass")?),
                    spf: verdict(row.int("spf_pass")?),
                    header_from: None,
                    envelope_from: None,
                    envelope_to: None,
                    detail: row.text("detail")?,
                })
                .map_err(StoreError::Corrupt)?;
                let Some(ip) = record.source_ip else { continue };
                out.entry((ip, row.text("policy_domain")?))
                    .or_default()
                    .add(&record);
            }
        }
        Ok(out)
    }
}
