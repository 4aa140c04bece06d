// Reports: the filtered list, newest period first; a report's page with its metadata,
// published policy, diagnostics, records, and the download of its input as received.
import { download, get } from './api.js';
import { day, h, number, percent, status, time } from './dom.js';
import { current, filterParams, href, withFilter } from './state.js';
import { pager, sortable } from './table.js';

const PAGE = 50;
const RECORDS = 200;

export async function reports(main, context) {
  const s = current();
  const wait = status();
  const title = s.source_ip ? `Reports naming ${s.source_ip}` : 'Reports';
  main.replaceChildren(h('h1', {}, title), context.filters('reports'), wait);
  const page = await get('/api/reports', { ...filterParams(s), limit: PAGE, offset: s.offset });
  wait.remove();
  if (!page.items.length) {
    main.append(h('p', { class: 'empty' }, 'No reports match.'));
    return;
  }
  const columns = [
    { label: 'Period', value: (r) => r.begin,
      cell: (r) => h('a', { href: href({ ...withFilter('report'), id: r.id }), 'data-internal': true },
        `${day(r.begin)} – ${day(r.end)}`) },
    { label: 'Domain', value: (r) => r.domain, cell: (r) => r.domain },
    { label: 'Reporter', value: (r) => r.org_name, cell: (r) => r.org_name },
    { label: 'Records', numeric: true, value: (r) => r.records, cell: (r) => number.format(r.records) },
    { label: 'Messages', numeric: true, value: (r) => r.messages, cell: (r) => number.format(r.messages) },
    { label: 'DMARC pass', numeric: true, value: (r) => (r.messages ? r.dmarc_pass / r.messages : 0),
      cell: (r) => percent(r.dmarc_pass, r.messages) },
    { label: 'Diagnostics', numeric: true, value: (r) => r.diagnostics, cell: (r) => String(r.diagnostics) },
  ];
  main.append(sortable(columns, page.items, 'Reports, newest period first (a header sorts this page)'), pager(page));
}

const field = (label, value) => [h('dt', {}, label), h('dd', {}, value ?? '–')];

export async function report(main, context) {
  const s = current();
  const back = h('a', { href: href(withFilter('reports')), 'data-internal': true }, '← Reports');
  const wait = status();
  main.replaceChildren(h('p', {}, back), h('h1', {}, `Report ${s.id}`), wait);
  const offset = Number(s.offset) || 0;
  const stored = await get(`/api/reports/${encodeURIComponent(s.id)}`, { limit: RECORDS, offset });
  wait.remove();
  const { summary, report: r } = stored;
  const m = r.report_metadata;
  const p = r.policy_published;
  const e = r.policy_effective;
  main.querySelector('h1').textContent = `${summary.domain}: ${m.org_name ?? summary.reporter}, ${day(summary.begin)}`;
  const actions = h('p', { class: 'actions' });
  if (context.user.role !== 'viewer') {
    const button = h('button', { type: 'button' }, 'Download the input as received');
    const note = h('span', { role: 'status' });
    button.addEventListener('click', async () => {
      note.textContent = 'Downloading…';
      try {
        note.textContent = `Saved ${await download(`/api/reports/${summary.id}/input`)}.`;
      } catch (error) {
        note.textContent = `The download failed: ${error.message}`;
      }
    });
    actions.append(button, ' ', note);
  }
  main.append(actions,
    h('section', {}, h('h2', {}, 'Report'), h('dl', { class: 'fields' },
      field('Reporter', m.org_name ?? summary.reporter), field('Contact', m.email),
      field('Report id', m.report_id), field('Period', `${time(summary.begin)} – ${time(summary.end)}`),
      field('Messages', number.format(summary.messages)),
      field('DMARC pass', percent(summary.dmarc_pass, summary.messages)),
      field('Format', r.dialect), field('Received as', stored.source), field('Stored', time(summary.ingested_at)),
      summary.conflict_with && field('Same identity, other period',
        h('a', { href: href({ ...withFilter('report'), id: summary.conflict_with }), 'data-internal': true },
          `report ${summary.conflict_with}`)))),
    h('section', {}, h('h2', {}, 'Published policy'), h('dl', { class: 'fields' },
      field('Domain', p.domain), field('p', p.p ?? `(absent: ${e.p})`), field('sp', p.sp ?? `(absent: ${e.sp})`),
      field('np', p.np ?? `(absent: ${e.np})`), field('pct', p.pct ?? `(absent: ${e.pct})`),
      field('adkim', p.adkim ?? `(absent: ${e.adkim})`), field('aspf', p.aspf ?? `(absent: ${e.aspf})`),
      field('fo', p.fo ?? `(absent: ${e.fo})`))));
  main.append(h('section', {}, h('h2', {}, `Diagnostics (${r.diagnostics.length})`),
    r.diagnostics.length
      ? h('ul', {}, r.diagnostics.map((d) => h('li', {}, h('strong', {}, d.severity), ` ${d.message} `,
        h('code', {}, d.path), d.occurrences > 1 ? ` (${d.occurrences} times)` : '')))
      : h('p', {}, 'None: the report followed the format.')));
  const results = (list) => list.map((a) => `${a.domain ?? '?'}: ${a.result ?? '?'}`).join(', ') || '–';
  const columns = [
    { label: 'Source', value: (x) => x.source_ip ?? '', cell: (x) => x.source_ip ?? '(none)' },
    { label: 'Messages', numeric: true, value: (x) => x.count, cell: (x) => number.format(x.count) },
    { label: 'Disposition', value: (x) => x.policy_evaluated.disposition ?? '', cell: (x) => x.policy_evaluated.disposition ?? '–' },
    { label: 'DKIM', value: (x) => x.policy_evaluated.dkim ?? '', cell: (x) => x.policy_evaluated.dkim ?? '–' },
    { label: 'SPF', value: (x) => x.policy_evaluated.spf ?? '', cell: (x) => x.policy_evaluated.spf ?? '–' },
    { label: 'Header from', value: (x) => x.identifiers.header_from ?? '', cell: (x) => x.identifiers.header_from ?? '–' },
    { label: 'DKIM results', value: (x) => results(x.auth_results.dkim), cell: (x) => results(x.auth_results.dkim) },
    { label: 'SPF results', value: (x) => results(x.auth_results.spf), cell: (x) => results(x.auth_results.spf) },
  ];
  main.append(h('section', {}, h('h2', {}, `Records (${number.format(summary.records)})`),
    sortable(columns, r.records, 'Records in report order (a header sorts this page)'),
    pager({ items: r.records, offset, limit: RECORDS, total: summary.records })));
}
