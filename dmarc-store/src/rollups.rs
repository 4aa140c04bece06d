//! The dashboard rollups in SQL. Each reads `rollup_daily` (per report, day and outcome
//! class, written at ingest) when the filter allows, else the records joined with their
//! reports, grouped in the database: no rollup ever loads records into memory. Results
//! equal `dmarc_core::rollup`'s for the same reports and filter (the contract suite
//! checks both paths on both backends).

use dmarc_core::Filter;
use dmarc_core::rollup::{
    self, AlignmentBreakdown, DayBucket, DispositionBreakdown, EnforcementImpact, Group,
    OutcomeClass, PolicyCompliance, SourceActivity, SourceGroup, Summary, Tally, TimelineBuilder,
    TrendPoint,
};

use crate::backend::Backend;
use crate::query::{Arg, Sql, Target, has_report_conditions, push_conditions, rollup_answers};
use crate::reads::ReadRow;
use crate::store::{Store, unsigned};
use crate::types::{Page, Paged};
use crate::{Result, StoreError};

/// The rollups, computed in the database.
impl Store {
    /// Headline figures.
    pub async fn summary(&self, filter: &Filter) -> Result<Summary> {
        summary(self, filter).await
    }

    /// Messages per policy domain, most first.
    pub async fn by_domain(&self, filter: &Filter) -> Result<Vec<Group>> {
        grouped(self, "policy_domain", filter).await
    }

    /// Messages per reporting organisation, most first.
    pub async fn by_organization(&self, filter: &Filter) -> Result<Vec<Group>> {
        grouped(self, "organization", filter).await
    }

    /// Messages per source address, most first, paginated (`total` counts addresses).
    pub async fn by_source(&self, filter: &Filter, page: Page) -> Result<Paged<SourceGroup>> {
        by_source(self, filter, page).await
    }

    /// Messages by applied disposition.
    pub async fn disposition_breakdown(&self, filter: &Filter) -> Result<DispositionBreakdown> {
        disposition(self, filter).await
    }

    /// Messages by aligned DKIM x aligned SPF verdict.
    pub async fn alignment_breakdown(&self, filter: &Filter) -> Result<AlignmentBreakdown> {
        alignment(self, filter).await
    }

    /// DMARC compliance and the treatment of failures.
    pub async fn policy_compliance(&self, filter: &Filter) -> Result<PolicyCompliance> {
        compliance(self, filter).await
    }

    /// What `p=reject` would stop per policy domain, beside the policy in force.
    pub async fn enforcement_impact(&self, filter: &Filter) -> Result<Vec<EnforcementImpact>> {
        enforcement_impact(self, filter).await
    }

    /// Messages per UTC day.
    pub async fn timeline(&self, filter: &Filter) -> Result<Vec<DayBucket>> {
        timeline(self, filter).await
    }

    /// What each source address did (the input of anomaly scoring).
    pub async fn source_activity(&self, filter: &Filter) -> Result<Vec<SourceActivity>> {
        source_activity(self, filter, None).await
    }

    /// What the addresses `ips` did under `filter` (those without records under it are
    /// left out): one index lookup per address, for a page of sources.
    pub async fn activity_of(
        &self,
        filter: &Filter,
        ips: &[std::net::IpAddr],
    ) -> Result<Vec<SourceActivity>> {
        if ips.is_empty() {
            return Ok(Vec::new());
        }
        source_activity(self, filter, Some(ips)).await
    }

    /// Daily failure rate with a `window`-day moving average.
    pub async fn failure_trend(&self, filter: &Filter, window: usize) -> Result<Vec<TrendPoint>> {
        let days = self.timeline(filter).await?;
        Ok(dmarc_core::rollup::trend_from_timeline(&days, window))
    }
}

/// SQL giving the disposition class (`dmarc_core::rollup::disposition_class`) of a record's
/// stored disposition, which is the canonical word for the known values.
const RECORD_CLASS: &str = "CASE WHEN x.disposition IN ('none', 'quarantine', 'reject', 'pass') \
     THEN x.disposition ELSE 'other' END";

/// Where a rollup reads, and the names of what it needs there.
#[derive(Debug, Clone, Copy)]
struct Source {
    target: Target,
    /// The FROM clause.
    from: &'static str,
    /// Alias of the report-level columns (`policy_domain`, `organization`, ...).
    report: &'static str,
    /// The report's key.
    report_key: &'static str,
    /// Alias of the outcome columns (`dkim_pass`, `spf_pass`) and of the messages column.
    outcome: &'static str,
    /// The messages column (under `outcome`).
    messages: &'static str,
    /// The disposition class.
    class: &'static str,
}

const DAILY: Source = Source {
    target: Target::Rollup,
    from: "rollup_daily g",
    report: "g",
    report_key: "g.report_pk",
    outcome: "g",
    messages: "messages",
    class: "g.disposition",
};

const RECORDS: Source = Source {
    target: Target::Records,
    from: "records x JOIN reports r ON r.id = x.report_pk",
    report: "r",
    report_key: "r.id",
    outcome: "x",
    messages: "count",
    class: RECORD_CLASS,
};

impl Source {
    fn for_filter(filter: &Filter) -> Source {
        if rollup_answers(filter) {
            DAILY
        } else {
            RECORDS
        }
    }

    /// `SUM` of the messages column, as `messages`.
    fn sum(&self) -> String {
        format!(
            "CAST(COALESCE(SUM({}.{}), 0) AS BIGINT) AS messages",
            self.outcome, self.messages
        )
    }

    /// The four tally sums, named as [`Tally`]'s fields: messages, DMARC pass, aligned DKIM
    /// pass, aligned SPF pass.
    fn tally(&self) -> String {
        let (a, m) = (self.outcome, self.messages);
        format!(
            "{}, \
             CAST(COALESCE(SUM(CASE WHEN {a}.dkim_pass = 1 OR {a}.spf_pass = 1 THEN {a}.{m} ELSE 0 END), 0) AS BIGINT) AS dmarc_pass, \
             CAST(COALESCE(SUM({a}.dkim_pass * {a}.{m}), 0) AS BIGINT) AS dkim_aligned_pass, \
             CAST(COALESCE(SUM({a}.spf_pass * {a}.{m}), 0) AS BIGINT) AS spf_aligned_pass",
            self.sum()
        )
    }
}

/// Reads the tally columns of [`Source::tally`].
fn tally_of(row: &ReadRow) -> Result<Tally> {
    let messages = unsigned(row.int("messages")?);
    let dmarc_pass = unsigned(row.int("dmarc_pass")?);
    Ok(Tally {
        messages,
        dmarc_pass,
        dmarc_fail: messages.saturating_sub(dmarc_pass),
        dkim_aligned_pass: unsigned(row.int("dkim_aligned_pass")?),
        spf_aligned_pass: unsigned(row.int("spf_aligned_pass")?),
    })
}

/// Runs `SELECT {select} FROM {source} WHERE {filter}{tail}`.
async fn query(
    store: &Store,
    source: Source,
    select: &str,
    filter: &Filter,
    tail: &str,
) -> Result<Vec<ReadRow>> {
    let mut sql = Sql::new(&format!("SELECT {select} FROM {} WHERE 1 = 1", source.from));
    push_conditions(&mut sql, filter, source.target);
    sql.push(tail);
    store.read(sql).await
}

/// Headline figures.
pub(crate) async fn summary(store: &Store, filter: &Filter) -> Result<Summary> {
    let s = Source::for_filter(filter);
    let r = s.report;
    let select = format!(
        "COUNT(DISTINCT {}) AS reports, COUNT(DISTINCT {r}.policy_domain) AS domains, \
         COUNT(DISTINCT {r}.organization) AS organizations, MIN({r}.begin_ts) AS first_begin, \
         MAX({r}.end_ts) AS last_end, {}",
        s.report_key,
        s.tally()
    );
    let rows = query(store, s, &select, filter, "").await?;
    let row = rows
        .first()
        .ok_or_else(|| StoreError::Corrupt("no summary row".into()))?;
    Ok(Summary {
        reports: unsigned(row.int("reports")?),
        domains: unsigned(row.int("domains")?),
        organizations: unsigned(row.int("organizations")?),
        first_begin: row.opt_int("first_begin")?,
        last_end: row.opt_int("last_end")?,
        tally: tally_of(row)?,
    })
}

/// Messages grouped by a report-level column (`policy_domain`, `organization`), ranked as
/// the core ranks groups.
pub(crate) async fn grouped(store: &Store, column: &str, filter: &Filter) -> Result<Vec<Group>> {
    let s = Source::for_filter(filter);
    let key = format!("{}.{column}", s.report);
    let rows = query(
        store,
        s,
        &format!("{key} AS group_key, {}", s.tally()),
        filter,
        &format!(" GROUP BY {key}"),
    )
    .await?;
    let mut groups = Vec::with_capacity(rows.len());
    for row in rows {
        groups.push(Group {
            key: row.text("group_key")?,
            tally: tally_of(&row)?,
        });
    }
    rollup::rank(&mut groups);
    Ok(groups)
}

/// Messages per source address, most first, paginated (`total` counts addresses).
pub(crate) async fn by_source(
    store: &Store,
    filter: &Filter,
    page: Page,
) -> Result<Paged<SourceGroup>> {
    if let Some(paged) = crate::sources::by_source(store, filter, page).await? {
        return Ok(paged);
    }
    let (limit, offset) = page.clamped();
    let join = if has_report_conditions(filter) {
        " JOIN reports r ON r.id = x.report_pk"
    } else {
        ""
    };
    // The number of groups comes from a window over the same grouping (one
    // aggregation, not a second COUNT query over it).
    let mut grouped = Sql::new(&format!(
        "SELECT x.source_ip, {}, COUNT(*) OVER () AS addresses FROM records x{join} WHERE 1 = 1",
        RECORDS.tally()
    ));
    push_conditions(&mut grouped, filter, Target::Records);
    // `ip` is a function of `source_ip`; grouping by both lets the order use it.
    grouped.push(" GROUP BY x.source_ip, x.ip");
    let count_past_end = (offset > 0).then(|| {
        let mut count = Sql::new(&format!("SELECT COUNT(*) FROM ({}) g", grouped.text));
        count.args = grouped.args.clone();
        count
    });
    // The core's order: most messages first, then no address, IPv4, IPv6, each by value
    // (the 16-byte key orders addresses of one family numerically).
    grouped
        .push(
            " ORDER BY 2 DESC, CASE WHEN x.source_ip IS NULL THEN 0 \
             WHEN x.source_ip LIKE '%:%' THEN 2 ELSE 1 END, x.ip LIMIT ",
        )
        .arg(Arg::Int(limit))
        .push(" OFFSET ")
        .arg(Arg::Int(offset));
    let rows = store.read(grouped).await?;
    let total = match (rows.first(), count_past_end) {
        (Some(row), _) => row.int("addresses")?,
        // A page past the end has no row to carry the count.
        (None, Some(count)) => store.read_count(count).await?,
        (None, None) => 0,
    };
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(SourceGroup {
            source_ip: row.source_ip("source_ip")?,
            tally: tally_of(&row)?,
        });
    }
    Ok(Paged::of(items, unsigned(total), page))
}

/// Messages by applied disposition.
pub(crate) async fn disposition(store: &Store, filter: &Filter) -> Result<DispositionBreakdown> {
    let s = Source::for_filter(filter);
    let select = format!("{} AS disposition_class, {}", s.class, s.sum());
    let rows = query(store, s, &select, filter, " GROUP BY 1").await?;
    let mut out = DispositionBreakdown::default();
    for row in rows {
        let class = row.text("disposition_class")?;
        let slot = match class.as_str() {
            "none" => &mut out.none,
            "quarantine" => &mut out.quarantine,
            "reject" => &mut out.reject,
            "pass" => &mut out.pass,
            _ => &mut out.other,
        };
        *slot = slot.saturating_add(unsigned(row.int("messages")?));
    }
    Ok(out)
}

/// Messages by aligned DKIM x aligned SPF verdict.
pub(crate) async fn alignment(store: &Store, filter: &Filter) -> Result<AlignmentBreakdown> {
    let s = Source::for_filter(filter);
    let a = s.outcome;
    let select = format!("{a}.dkim_pass, {a}.spf_pass, {}", s.sum());
    let tail = format!(" GROUP BY {a}.dkim_pass, {a}.spf_pass");
    let mut out = AlignmentBreakdown::default();
    for row in query(store, s, &select, filter, &tail).await? {
        let (dkim, spf) = (row.int("dkim_pass")?, row.int("spf_pass")?);
        let slot = match (dkim == 1, spf == 1) {
            (true, true) => &mut out.both_pass,
            (true, false) => &mut out.dkim_only,
            (false, true) => &mut out.spf_only,
            (false, false) => &mut out.both_fail,
        };
        *slot = slot.saturating_add(unsigned(row.int("messages")?));
    }
    Ok(out)
}

/// DMARC compliance and the treatment of failures.
pub(crate) async fn compliance(store: &Store, filter: &Filter) -> Result<PolicyCompliance> {
    let s = Source::for_filter(filter);
    let a = s.outcome;
    let select = format!(
        "CASE WHEN {a}.dkim_pass = 1 OR {a}.spf_pass = 1 THEN 1 ELSE 0 END AS passed, \
         {} AS disposition_class, {}.policy_p, {}",
        s.class,
        s.report,
        s.sum()
    );
    let mut out = PolicyCompliance::default();
    for row in query(store, s, &select, filter, " GROUP BY 1, 2, 3").await? {
        let pass = row.int("passed")?;
        let class = row.text("disposition_class")?;
        let policy = row.text("policy_p")?;
        let messages = unsigned(row.int("messages")?);
        let outcome = if pass == 1 {
            &mut out.compliant
        } else if matches!(class.as_str(), "quarantine" | "reject") {
            &mut out.failing_enforced
        } else {
            &mut out.failing_delivered
        };
        *outcome = outcome.saturating_add(messages);
        let published = match policy.as_str() {
            "quarantine" => &mut out.policy_quarantine,
            "reject" => &mut out.policy_reject,
            _ => &mut out.policy_none,
        };
        *published = published.saturating_add(messages);
    }
    Ok(out)
}

/// The enforcement impact: the failing messages per domain and their treatment (from
/// `rollup_daily` when the filter allows), the distinct addresses of the failing delivered
/// ones (records), and the policy of each domain's latest report.
pub(crate) async fn enforcement_impact(
    store: &Store,
    filter: &Filter,
) -> Result<Vec<EnforcementImpact>> {
    let s = Source::for_filter(filter);
    let (r, a, m) = (s.report, s.outcome, s.messages);
    let failing = format!("{a}.dkim_pass = 0 AND {a}.spf_pass = 0");
    let enforced = format!("{} IN ('quarantine', 'reject')", s.class);
    let select = format!(
        "{r}.policy_domain AS domain, {}, \
         CAST(COALESCE(SUM(CASE WHEN {failing} AND {enforced} THEN {a}.{m} ELSE 0 END), 0) AS BIGINT) AS failing_enforced, \
         CAST(COALESCE(SUM(CASE WHEN {failing} AND NOT {enforced} THEN {a}.{m} ELSE 0 END), 0) AS BIGINT) AS failing_delivered",
        s.sum()
    );
    let tallies = query(
        store,
        s,
        &select,
        filter,
        &format!(" GROUP BY {r}.policy_domain"),
    )
    .await?;
    if tallies.is_empty() {
        return Ok(Vec::new());
    }
    let sources = query(
        store,
        RECORDS,
        "r.policy_domain AS domain, COUNT(DISTINCT x.ip) AS sources",
        filter,
        &format!(
            " AND x.dkim_pass = 0 AND x.spf_pass = 0 AND NOT {} IN ('quarantine', 'reject') \
             GROUP BY r.policy_domain",
            RECORDS.class
        ),
    )
    .await?;
    let mut sources: std::collections::HashMap<String, u64> = sources
        .iter()
        .map(|row| Ok((row.text("domain")?, unsigned(row.int("sources")?))))
        .collect::<Result<_>>()?;
    // The latest report of each domain among those the filter's report conditions select.
    let reports_only = Filter {
        domains: filter.domains.clone(),
        from: filter.from,
        to: filter.to,
        org: filter.org.clone(),
        ..Filter::default()
    };
    // Text in byte order, as the core compares it (PostgreSQL's follows the collation).
    let bytes = match store.backend() {
        Backend::Sqlite => "",
        Backend::Postgres => " COLLATE \"C\"",
    };
    let mut latest = Sql::new(&format!(
        "SELECT domain, meta FROM (SELECT r.policy_domain AS domain, r.meta, ROW_NUMBER() OVER \
         (PARTITION BY r.policy_domain ORDER BY r.end_ts DESC, r.begin_ts DESC, \
         r.reporter{bytes} DESC, r.report_id{bytes} DESC) AS n FROM reports r WHERE 1 = 1"
    ));
    push_conditions(&mut latest, &reports_only, Target::Records);
    latest.push(") l WHERE n = 1");
    let mut policies = std::collections::HashMap::new();
    for row in store.read(latest).await? {
        let domain = row.text("domain")?;
        let report: dmarc_core::Report = serde_json::from_str(&row.text("meta")?).map_err(|e| {
            StoreError::Corrupt(format!("the metadata of a report of {domain}: {e}"))
        })?;
        policies.insert(domain, report.policy_effective);
    }
    let mut out = Vec::with_capacity(tallies.len());
    for row in tallies {
        let domain = row.text("domain")?;
        let policy = policies
            .get(&domain)
            .ok_or_else(|| StoreError::Corrupt(format!("{domain} has records but no report")))?;
        out.push(EnforcementImpact {
            messages: unsigned(row.int("messages")?),
            failing_enforced: unsigned(row.int("failing_enforced")?),
            failing_delivered: unsigned(row.int("failing_delivered")?),
            sources: sources.remove(&domain).unwrap_or(0),
            policy: policy.p.as_str().to_owned(),
            subdomain_policy: policy.sp.as_str().to_owned(),
            pct: policy.pct,
            domain,
        });
    }
    out.sort_by(|a, b| {
        b.failing_delivered
            .cmp(&a.failing_delivered)
            .then_with(|| a.domain.cmp(&b.domain))
    });
    Ok(out)
}

/// Messages per UTC day within the filter's period, bounded as
/// [`TimelineBuilder::finish`] bounds it whatever periods are stored.
pub(crate) async fn timeline(store: &Store, filter: &Filter) -> Result<Vec<DayBucket>> {
    let mut builder = TimelineBuilder::new(filter);
    let s = Source::for_filter(filter);
    if s.target == Target::Rollup {
        let mut sql = Sql::new(&format!(
            "SELECT g.day, {} FROM rollup_daily g WHERE g.messages > 0",
            s.tally()
        ));
        push_conditions(&mut sql, filter, s.target);
        let (first, last) = filter.days();
        if let Some(first) = first {
            sql.push(" AND g.day >= ").arg(Arg::Int(first));
        }
        if let Some(last) = last {
            sql.push(" AND g.day <= ").arg(Arg::Int(last));
        }
        sql.push(" GROUP BY g.day");
        for row in store.read(sql).await? {
            builder.add_day(row.int("day")?, tally_of(&row)?);
        }
    } else {
        // Per report and outcome class, spread over the report's days here: the same
        // groups `rollup_daily` was written from.
        let select = format!(
            "r.begin_ts, r.end_ts, {} AS disposition_class, x.dkim_pass, x.spf_pass, {}",
            s.class,
            s.sum()
        );
        let tail = " GROUP BY r.id, r.begin_ts, r.end_ts, 3, x.dkim_pass, x.spf_pass";
        for row in query(store, s, &select, filter, tail).await? {
            let class = row.text("disposition_class")?;
            let class = OutcomeClass {
                disposition: static_class(&class),
                dkim_pass: row.int("dkim_pass")? == 1,
                spf_pass: row.int("spf_pass")? == 1,
            };
            let (begin, end) = (row.int("begin_ts")?, row.int("end_ts")?);
            builder.add(begin, end, class, unsigned(row.int("messages")?));
        }
    }
    Ok(builder.finish())
}

/// The `&'static str` of a disposition class read back from SQL.
fn static_class(class: &str) -> &'static str {
    match class {
        "none" => "none",
        "quarantine" => "quarantine",
        "reject" => "reject",
        "pass" => "pass",
        _ => "other",
    }
}

/// What each source address did (rows with a usable address), most messages first.
pub(crate) async fn source_activity(
    store: &Store,
    filter: &Filter,
    only: Option<&[std::net::IpAddr]>,
) -> Result<Vec<SourceActivity>> {
    // Lower-casing as the core does (ASCII only): PostgreSQL's LOWER follows the collation.
    let header_from = match store.backend() {
        Backend::Sqlite => "LOWER(x.header_from)",
        Backend::Postgres => "LOWER(x.header_from COLLATE \"C\")",
    };
    let select = format!(
        "x.source_ip, {}, \
         CAST(COALESCE(SUM(CASE WHEN x.disposition = 'quarantine' THEN x.count ELSE 0 END), 0) AS BIGINT) AS quarantined, \
         CAST(COALESCE(SUM(CASE WHEN x.disposition = 'reject' THEN x.count ELSE 0 END), 0) AS BIGINT) AS rejected, \
         COUNT(DISTINCT {header_from}) AS header_from_domains, \
         COUNT(DISTINCT r.organization) AS reporters, \
         COUNT(DISTINCT r.begin_ts / 86400) AS days_active, MIN(r.begin_ts) AS first_seen, \
         MAX(r.end_ts) AS last_seen",
        RECORDS.tally()
    );
    let mut sql = Sql::new(&format!(
        "SELECT {select} FROM {} WHERE x.source_ip IS NOT NULL",
        RECORDS.from
    ));
    push_conditions(&mut sql, filter, RECORDS.target);
    if let Some(ips) = only {
        sql.push(" AND x.ip IN (").push_ip_keys(ips).push(")");
    }
    sql.push(" GROUP BY x.source_ip");
    let rows = store.read(sql).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        // The query keeps rows with an address only.
        let source_ip = row
            .source_ip("source_ip")?
            .ok_or_else(|| StoreError::Corrupt("a source without an address".into()))?;
        out.push(SourceActivity {
            source_ip,
            tally: tally_of(&row)?,
            quarantined: unsigned(row.int("quarantined")?),
            rejected: unsigned(row.int("rejected")?),
            header_from_domains: unsigned(row.int("header_from_domains")?),
            reporters: unsigned(row.int("reporters")?),
            days_active: unsigned(row.int("days_active")?),
            first_seen: row.int("first_seen")?,
            last_seen: row.int("last_seen")?,
        });
    }
    out.sort_by(|a, b| {
        b.tally
            .messages
            .cmp(&a.tally.messages)
            .then(a.source_ip.cmp(&b.source_ip))
    });
    Ok(out)
}
