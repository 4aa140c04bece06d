//! The PDF summary (`GET /api/export/report/pdf`): headline figures, messages per day,
//! disposition, alignment, outcome and published-policy charts, and the top domains, reporting organisations and
//! sources, for one filter. Charts are vector graphics; text is the embedded DejaVu Sans
//! (see [`canvas`]), so report content in any script is drawn or replaced, never fatal.

mod canvas;

use dmarc_core::Filter;
use dmarc_core::rollup::{
    AlignmentBreakdown, DayBucket, DispositionBreakdown, Group, PolicyCompliance, SourceGroup,
    Summary, Tally, format_day,
};

use canvas::{Align, Canvas, Colour, PAGE_HEIGHT, PAGE_WIDTH, Style, Weight};

/// Rows of each table.
pub(crate) const TOP_ROWS: u32 = 12;

/// Everything the summary shows.
#[derive(Debug, Clone)]
pub(crate) struct ReportData {
    /// The filter the figures were computed with.
    pub filter: Filter,
    /// When the document was made (UTC seconds).
    pub generated_at: i64,
    /// Headline figures.
    pub summary: Summary,
    /// Messages per day.
    pub timeline: Vec<DayBucket>,
    /// Messages by applied disposition.
    pub disposition: DispositionBreakdown,
    /// Messages by aligned DKIM and SPF verdicts.
    pub alignment: AlignmentBreakdown,
    /// DMARC outcome and published policy.
    pub compliance: PolicyCompliance,
    /// All domains, most messages first.
    pub domains: Vec<Group>,
    /// All reporting organisations, most messages first.
    pub organizations: Vec<Group>,
    /// The top sources, most messages first.
    pub sources: Vec<SourceGroup>,
    /// Distinct sources in all.
    pub source_count: u64,
}

const MARGIN: f32 = 15.0;
const CONTENT: f32 = PAGE_WIDTH - 2.0 * MARGIN;
const BOTTOM: f32 = PAGE_HEIGHT - 18.0;

const INK: Colour = Colour(0x1f2933);
const MUTED: Colour = Colour(0x616e7c);
const RULE: Colour = Colour(0xcbd2d9);
const PANEL: Colour = Colour(0xf0f4f8);
const PASS: Colour = Colour(0x2f9e44);
const FAIL: Colour = Colour(0xe03131);
const AMBER: Colour = Colour(0xf08c00);
const BLUE: Colour = Colour(0x1971c2);
const GREY: Colour = Colour(0x868e96);

const TITLE: Style = Style::new(18.0, Weight::Bold, INK);
const HEADING: Style = Style::new(12.0, Weight::Bold, INK);
const BODY: Style = Style::new(9.0, Weight::Regular, INK);
const BODY_BOLD: Style = Style::new(9.0, Weight::Bold, INK);
const SMALL: Style = Style::new(7.5, Weight::Regular, MUTED);
const FIGURE: Style = Style::new(16.0, Weight::Bold, INK);

/// Why a document could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PdfError {
    /// A font subset could not be made or read back.
    #[error("font subset: {0}")]
    Font(String),
    /// The creation time cannot be written in the document.
    #[error("creation time: {0}")]
    Date(String),
}

/// Renders the summary as a PDF document.
pub(crate) fn render(data: &ReportData) -> Result<Vec<u8>, PdfError> {
    let mut canvas = Canvas::new();
    let mut y = header(&mut canvas, data);
    y = headline(&mut canvas, y, &data.summary);
    y = timeline(&mut canvas, y, &data.timeline);
    breakdowns(&mut canvas, y, data);

    canvas.new_page();
    let mut y = MARGIN + 5.0;
    let groups = |groups: &[Group]| -> Vec<Row> {
        groups.iter().map(|g| Row::new(&g.key, g.tally)).collect()
    };
    let domains = groups(&data.domains);
    y = table(
        &mut canvas,
        y,
        "Domains",
        "domain",
        &domains,
        domains.len() as u64,
    );
    let organizations = groups(&data.organizations);
    y = table(
        &mut canvas,
        y,
        "Reporting organisations",
        "organisation",
        &organizations,
        organizations.len() as u64,
    );
    let sources: Vec<Row> = data
        .sources
        .iter()
        .map(|s| {
            let ip = s
                .source_ip
                .map_or_else(|| "(no address)".to_owned(), |ip| ip.to_string());
            Row::new(&ip, s.tally)
        })
        .collect();
    table(
        &mut canvas,
        y,
        "Top sources",
        "source address",
        &sources,
        data.source_count,
    );

    let pages = canvas.page_count();
    for page in 0..pages {
        canvas.select_page(page);
        canvas.line(
            vec![(MARGIN, BOTTOM + 4.0), (PAGE_WIDTH - MARGIN, BOTTOM + 4.0)],
            0.5,
            RULE,
        );
        canvas.text(
            (MARGIN, BOTTOM + 8.0),
            Align::Left,
            SMALL,
            &format!(
                "dmarc {} · generated {} UTC",
                env!("CARGO_PKG_VERSION"),
                minute(data.generated_at)
            ),
            None,
        );
        canvas.text(
            (PAGE_WIDTH - MARGIN, BOTTOM + 8.0),
            Align::Right,
            SMALL,
            &format!("page {} of {pages}", page + 1),
            None,
        );
    }
    canvas.finish("DMARC aggregate report summary", data.generated_at)
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".to_owned()
    } else {
        format!("{:.1} %", part as f64 * 100.0 / whole as f64)
    }
}

/// UTC seconds as `YYYY-MM-DD HH:MM`.
fn minute(seconds: i64) -> String {
    let (day, second) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    format!(
        "{} {:02}:{:02}",
        format_day(day),
        second / 3600,
        second / 60 % 60
    )
}

/// A bound of the selected period: a day when it is midnight, else a minute.
fn bound(seconds: i64, inclusive_end: bool) -> String {
    if seconds.rem_euclid(86_400) == 0 {
        let day = seconds.div_euclid(86_400) - i64::from(inclusive_end);
        format_day(day)
    } else {
        minute(seconds)
    }
}

/// The selected period in words.
pub(crate) fn period(filter: &Filter) -> String {
    match (filter.from, filter.to) {
        (None, None) => "all time".to_owned(),
        (Some(from), None) => format!("since {}", bound(from, false)),
        (None, Some(to)) => format!("until {}", bound(to, true)),
        (Some(from), Some(to)) => format!("{} to {}", bound(from, false), bound(to, true)),
    }
}

/// The filters other than the period, in words.
pub(crate) fn describe(filter: &Filter) -> Vec<(&'static str, String)> {
    let verdict = |v: dmarc_core::Verdict| {
        match v {
            dmarc_core::Verdict::Pass => "pass",
            dmarc_core::Verdict::Fail => "fail",
        }
        .to_owned()
    };
    let mut out = Vec::new();
    if !filter.domains.is_empty() {
        out.push(("domain", filter.domains.join(", ")));
    }
    if let Some(ip) = filter.source_ip {
        out.push(("source", ip.to_string()));
    }
    if let Some(v) = filter.dkim {
        out.push(("aligned DKIM", verdict(v)));
    }
    if let Some(v) = filter.spf {
        out.push(("aligned SPF", verdict(v)));
    }
    if let Some(d) = &filter.disposition {
        out.push(("disposition", d.as_str().to_owned()));
    }
    if let Some(org) = &filter.org {
        out.push(("organisation", org.clone()));
    }
    out
}

fn header(canvas: &mut Canvas, data: &ReportData) -> f32 {
    let mut y = MARGIN + 7.0;
    canvas.text(
        (MARGIN, y),
        Align::Left,
        TITLE,
        "DMARC aggregate report summary",
        None,
    );
    y += 8.0;
    let covered = match (data.summary.first_begin, data.summary.last_end) {
        (Some(begin), Some(end)) => format!(
            "; the matching reports cover {} to {}",
            format_day(begin.div_euclid(86_400)),
            format_day((end - 1).div_euclid(86_400))
        ),
        _ => "; no report matches".to_owned(),
    };
    canvas.text(
        (MARGIN, y),
        Align::Left,
        BODY,
        &format!("Period (UTC): {}{covered}", period(&data.filter)),
        Some(CONTENT),
    );
    y += 5.0;
    let filters = describe(&data.filter);
    let filters = if filters.is_empty() {
        "none".to_owned()
    } else {
        filters
            .iter()
            .map(|(name, value)| format!("{name} = {value}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    canvas.text(
        (MARGIN, y),
        Align::Left,
        BODY,
        &format!("Filters: {filters}"),
        Some(CONTENT),
    );
    y += 3.0;
    canvas.line(vec![(MARGIN, y), (PAGE_WIDTH - MARGIN, y)], 0.8, RULE);
    y + 5.0
}

fn headline(canvas: &mut Canvas, y: f32, summary: &Summary) -> f32 {
    let tally = &summary.tally;
    let figures = [
        ("Messages", thousands(tally.messages)),
        ("DMARC pass rate", percent(tally.dmarc_pass, tally.messages)),
        ("Failing messages", thousands(tally.dmarc_fail)),
        ("Reports", thousands(summary.reports)),
        ("Domains", thousands(summary.domains)),
        ("Reporting organisations", thousands(summary.organizations)),
    ];
    let (w, h, gap) = ((CONTENT - 2.0 * 4.0) / 3.0, 17.0, 4.0);
    for (i, (label, value)) in figures.iter().enumerate() {
        let x = MARGIN + (i % 3) as f32 * (w + gap);
        let top = y + (i / 3) as f32 * (h + gap);
        canvas.rect(x, top, w, h, PANEL);
        canvas.text(
            (x + 4.0, top + 8.5),
            Align::Left,
            FIGURE,
            value,
            Some(w - 8.0),
        );
        canvas.text((x + 4.0, top + 14.0), Align::Left, SMALL, label, None);
    }
    y + 2.0 * h + gap + 8.0
}

/// A round step for about `parts` gridlines up to `max`.
fn nice_step(max: u64, parts: u64) -> u64 {
    let raw = max.div_ceil(parts).max(1);
    let mut magnitude = 1u64;
    while magnitude.saturating_mul(10) <= raw {
        magnitude *= 10;
    }
    // 1, 2, 2.5, 5 and 10 times a power of ten (2.5 only where it is a whole number)
    [10, 20, 25, 50, 100]
        .into_iter()
        .filter(|m| magnitude >= 10 || *m != 25)
        .map(|m| m * magnitude / 10)
        .find(|step| *step >= raw)
        .unwrap_or(raw)
}

/// Largest number of bars the timeline draws; longer periods are summed per several days.
const MAX_BARS: i64 = 120;

/// Buckets of `days` consecutive days: (first day, passing, failing).
fn day_buckets(timeline: &[DayBucket]) -> (i64, Vec<(i64, u64, u64)>) {
    let day = |b: &DayBucket| b.day_start.div_euclid(86_400);
    let (Some(first_day), Some(last_day)) = (
        timeline.iter().map(day).min(),
        timeline.iter().map(day).max(),
    ) else {
        return (1, Vec::new());
    };
    let span = last_day - first_day + 1;
    let days = (span + MAX_BARS - 1) / MAX_BARS;
    let count = (span + days - 1) / days;
    let mut buckets: Vec<(i64, u64, u64)> =
        (0..count).map(|i| (first_day + i * days, 0, 0)).collect();
    for bucket in timeline {
        let index = (day(bucket) - first_day) / days;
        if let Some(slot) = usize::try_from(index).ok().and_then(|i| buckets.get_mut(i)) {
            slot.1 = slot.1.saturating_add(bucket.tally.dmarc_pass);
            slot.2 = slot.2.saturating_add(bucket.tally.dmarc_fail);
        }
    }
    (days, buckets)
}

fn legend(canvas: &mut Canvas, (x, y): (f32, f32), entries: &[(Colour, &str)]) {
    let mut x = x;
    for (colour, label) in entries {
        canvas.rect(x, y - 2.4, 2.8, 2.8, *colour);
        canvas.text((x + 4.0, y), Align::Left, SMALL, label, None);
        x += 6.0 + Canvas::width(label, SMALL);
    }
}

fn timeline(canvas: &mut Canvas, y: f32, timeline: &[DayBucket]) -> f32 {
    let (days, buckets) = day_buckets(timeline);
    let title = if days == 1 {
        "Messages per day".to_owned()
    } else {
        format!("Messages per {days} days")
    };
    canvas.text((MARGIN, y), Align::Left, HEADING, &title, None);
    legend(
        canvas,
        (PAGE_WIDTH - MARGIN - 48.0, y),
        &[(PASS, "DMARC pass"), (FAIL, "DMARC fail")],
    );
    let (left, top, height) = (MARGIN + 16.0, y + 6.0, 62.0);
    let width = PAGE_WIDTH - MARGIN - left;
    let bottom = top + height;
    let max = buckets
        .iter()
        .map(|(_, pass, fail)| pass.saturating_add(*fail))
        .max()
        .unwrap_or(0);
    if max == 0 {
        canvas.rect(left, top, width, height, PANEL);
        canvas.text(
            (left + width / 2.0, top + height / 2.0),
            Align::Centre,
            BODY,
            "No messages in this period",
            None,
        );
        return bottom + 14.0;
    }
    let step = nice_step(max, 4);
    let top_value = max.div_ceil(step) * step;
    let scale = height / top_value as f32;
    let mut value = 0;
    while value <= top_value {
        let gy = bottom - value as f32 * scale;
        canvas.line(vec![(left, gy), (left + width, gy)], 0.3, RULE);
        canvas.text(
            (left - 2.0, gy + 1.0),
            Align::Right,
            SMALL,
            &thousands(value),
            None,
        );
        value += step;
    }
    let slot = width / buckets.len() as f32;
    let bar = (slot * 0.8).max(0.2);
    for (i, (_, pass, fail)) in buckets.iter().enumerate() {
        let x = left + i as f32 * slot + (slot - bar) / 2.0;
        let pass_h = *pass as f32 * scale;
        let fail_h = *fail as f32 * scale;
        canvas.rect(x, bottom - pass_h, bar, pass_h, PASS);
        canvas.rect(x, bottom - pass_h - fail_h, bar, fail_h, FAIL);
    }
    canvas.line(vec![(left, bottom), (left + width, bottom)], 0.6, INK);
    let label_y = bottom + 4.5;
    let last = buckets.len() - 1;
    let mut labels = vec![(0, Align::Left)];
    if last >= 4 {
        labels.push((last / 2, Align::Centre));
    }
    if last > 0 {
        labels.push((last, Align::Right));
    }
    for (i, align) in labels {
        let x = match align {
            Align::Left => left,
            Align::Centre => left + (i as f32 + 0.5) * slot,
            Align::Right => left + width,
        };
        canvas.text((x, label_y), align, SMALL, &format_day(buckets[i].0), None);
    }
    label_y + 10.0
}

/// A horizontal bar chart of shares, `width` wide at `x`.
fn share_chart(
    canvas: &mut Canvas,
    (x, y): (f32, f32),
    width: f32,
    title: &str,
    rows: &[(&str, u64, Colour)],
) -> f32 {
    canvas.text((x, y), Align::Left, HEADING, title, None);
    let total: u64 = rows.iter().map(|r| r.1).fold(0, u64::saturating_add);
    let (label_w, figure_w) = (30.0, 32.0);
    let bar_w = width - label_w - figure_w;
    let mut y = y + 8.0;
    for (label, value, colour) in rows {
        canvas.text((x, y), Align::Left, BODY, label, Some(label_w - 2.0));
        canvas.rect(x + label_w, y - 3.2, bar_w, 4.0, PANEL);
        if total > 0 {
            let w = bar_w * (*value as f64 / total as f64) as f32;
            canvas.rect(x + label_w, y - 3.2, w, 4.0, *colour);
        }
        canvas.text(
            (x + width, y),
            Align::Right,
            BODY,
            &if total == 0 {
                "0".to_owned()
            } else {
                format!("{} · {}", thousands(*value), percent(*value, total))
            },
            None,
        );
        y += 7.0;
    }
    y
}

fn breakdowns(canvas: &mut Canvas, y: f32, data: &ReportData) {
    let half = (CONTENT - 10.0) / 2.0;
    let right = MARGIN + half + 10.0;
    let d = &data.disposition;
    let mut disposition = vec![
        ("none", d.none, GREY),
        ("quarantine", d.quarantine, AMBER),
        ("reject", d.reject, FAIL),
    ];
    if d.pass > 0 {
        disposition.push(("pass (RFC 9990)", d.pass, PASS));
    }
    if d.other > 0 {
        disposition.push(("other or missing", d.other, MUTED));
    }
    let a = &data.alignment;
    let alignment = [
        ("both aligned", a.both_pass, PASS),
        ("DKIM only", a.dkim_only, BLUE),
        ("SPF only", a.spf_only, AMBER),
        ("neither", a.both_fail, FAIL),
    ];
    let c = &data.compliance;
    let outcome = [
        ("DMARC pass", c.compliant, PASS),
        ("fail, enforced", c.failing_enforced, AMBER),
        ("fail, delivered", c.failing_delivered, FAIL),
    ];
    let policy = [
        ("p=none", c.policy_none, GREY),
        ("p=quarantine", c.policy_quarantine, AMBER),
        ("p=reject", c.policy_reject, PASS),
    ];
    let below = share_chart(
        canvas,
        (MARGIN, y),
        half,
        "Applied disposition",
        &disposition,
    )
    .max(share_chart(
        canvas,
        (right, y),
        half,
        "DKIM and SPF alignment",
        &alignment,
    )) + 6.0;
    share_chart(canvas, (MARGIN, below), half, "DMARC outcome", &outcome);
    share_chart(canvas, (right, below), half, "Published policy", &policy);
}

/// One line of a table.
struct Row {
    label: String,
    tally: Tally,
}

impl Row {
    fn new(label: &str, tally: Tally) -> Row {
        Row {
            label: label.to_owned(),
            tally,
        }
    }
}

/// A table of the first [`TOP_ROWS`] rows with a pass-rate bar; `total` rows exist.
fn table(canvas: &mut Canvas, y: f32, title: &str, noun: &str, rows: &[Row], total: u64) -> f32 {
    let shown = rows.len().min(TOP_ROWS as usize);
    let needed = 16.0 + shown.max(1) as f32 * 5.5;
    let mut y = y;
    if y + needed > BOTTOM {
        canvas.new_page();
        y = MARGIN + 5.0;
    }
    canvas.text((MARGIN, y), Align::Left, HEADING, title, None);
    if total > shown as u64 {
        canvas.text(
            (PAGE_WIDTH - MARGIN, y),
            Align::Right,
            SMALL,
            &format!("top {shown} of {} by messages", thousands(total)),
            None,
        );
    }
    y += 7.0;
    // label | messages | pass | fail | pass rate | bar
    let columns = [
        (MARGIN + 88.0, "messages"),
        (MARGIN + 108.0, "pass"),
        (MARGIN + 126.0, "fail"),
        (MARGIN + 146.0, "pass rate"),
    ];
    let header = Style::new(7.5, Weight::Bold, MUTED);
    canvas.text((MARGIN, y), Align::Left, header, noun, None);
    for (x, name) in columns {
        canvas.text((x, y), Align::Right, header, name, None);
    }
    y += 1.8;
    canvas.line(vec![(MARGIN, y), (PAGE_WIDTH - MARGIN, y)], 0.5, RULE);
    y += 4.5;
    if rows.is_empty() {
        canvas.text(
            (MARGIN, y),
            Align::Left,
            BODY,
            "No messages in this period",
            None,
        );
        return y + 10.0;
    }
    let bar_x = MARGIN + 150.0;
    let bar_w = PAGE_WIDTH - MARGIN - bar_x;
    for (i, row) in rows.iter().take(shown).enumerate() {
        if i % 2 == 1 {
            canvas.rect(MARGIN, y - 3.8, CONTENT, 5.5, PANEL);
        }
        let t = &row.tally;
        canvas.text((MARGIN + 1.0, y), Align::Left, BODY, &row.label, Some(68.0));
        let cells = [
            thousands(t.messages),
            thousands(t.dmarc_pass),
            thousands(t.dmarc_fail),
            percent(t.dmarc_pass, t.messages),
        ];
        for ((x, _), cell) in columns.iter().zip(&cells) {
            let style = if *x == columns[0].0 { BODY_BOLD } else { BODY };
            canvas.text((*x, y), Align::Right, style, cell, None);
        }
        if t.messages > 0 {
            let pass_w = bar_w * (t.dmarc_pass as f64 / t.messages as f64) as f32;
            canvas.rect(bar_x, y - 2.8, pass_w, 3.2, PASS);
            canvas.rect(bar_x + pass_w, y - 2.8, bar_w - pass_w, 3.2, FAIL);
        }
        y += 5.5;
    }
    y + 8.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
        assert_eq!(percent(1, 3), "33.3 %");
        assert_eq!(percent(0, 0), "-");
        assert_eq!(nice_step(9, 4), 5);
        assert_eq!(nice_step(1_000, 4), 250);
        assert_eq!(nice_step(1_700, 4), 500);
        assert_eq!(nice_step(0, 4), 1);
    }

    #[test]
    fn periods_read_as_days() {
        let day = |d: i64| d * 86_400;
        assert_eq!(period(&Filter::default()), "all time");
        let filter = Filter {
            from: Some(day(19_844)),
            to: Some(day(19_875)),
            ..Filter::default()
        };
        assert_eq!(period(&filter), "2024-05-01 to 2024-05-31");
        let filter = Filter {
            from: Some(day(19_844) + 3_600),
            ..Filter::default()
        };
        assert_eq!(period(&filter), "since 2024-05-01 01:00");
    }

    #[test]
    fn long_periods_are_bucketed() {
        let bucket = |day: i64, pass: u64| DayBucket {
            day: format_day(day),
            day_start: day * 86_400,
            tally: Tally {
                messages: pass + 1,
                dmarc_pass: pass,
                dmarc_fail: 1,
                ..Tally::default()
            },
        };
        let (days, buckets) = day_buckets(&[bucket(100, 5), bucket(102, 7)]);
        assert_eq!((days, buckets.len()), (1, 3));
        assert_eq!(buckets[1], (101, 0, 0));
        let (days, buckets) = day_buckets(&[bucket(0, 1), bucket(364, 2), bucket(363, 3)]);
        assert_eq!((days, buckets.len()), (4, 92));
        assert_eq!(buckets[0], (0, 1, 1));
        assert_eq!(buckets[90], (360, 3, 1));
        assert_eq!(buckets[91], (364, 2, 1));
    }
}
