// The overview: headline figures and the eight charts, each with its figures as a table,
// for the filter in the URL, and the enforcement impact per domain. A bar or slice (or its
// row in the table) filters by it.
import { get } from './api.js';
import { draw, table } from './charts.js';
import { figures, h, number, percent, status } from './dom.js';
import { current, filterParams, href, withFilter } from './state.js';
import { sortable } from './table.js';

export async function overview(main, context) {
  const filter = filterParams(current());
  const wait = status();
  main.replaceChildren(h('h1', {}, 'Overview'), context.filters('overview'), wait);
  const bucket = { ...filter, bucket: 'auto' };
  const [summary, domains, sources, disposition, alignment, compliance, timeline, trend, orgs] =
    await Promise.all([
      get('/api/rollup/summary', filter), get('/api/rollup/by-domain', filter),
      get('/api/rollup/sources', { ...filter, limit: 10 }), get('/api/rollup/disposition', filter),
      get('/api/rollup/alignment', filter), get('/api/rollup/compliance', filter),
      get('/api/rollup/timeline', bucket), get('/api/rollup/failure-trend', bucket),
      get('/api/rollup/organizations', filter),
    ]);
  const data = { summary, domains, sources, disposition, alignment, compliance, timeline, trend, orgs };
  wait.remove();
  const s = summary;
  main.append(figures([
    ['Messages', number.format(s.messages)], ['DMARC pass rate', percent(s.dmarc_pass, s.messages)],
    ['Failing messages', number.format(s.dmarc_fail)], ['Domains', number.format(s.domains)],
    ['Reporters', number.format(s.organizations)],
  ]));
  if (!s.messages) {
    main.append(h('p', { class: 'empty' }, 'No reports in this period.'));
    return;
  }
  const grid = h('div', { class: 'charts' });
  const impact = h('section', { class: 'impact' }, h('h2', {}, 'Enforcement impact'), status());
  main.append(grid, impact);
  for (const chart of charts(data)) {
    const canvas = h('canvas', { role: 'img', 'aria-label': chart.title });
    grid.append(h('section', { 'data-chart': chart.id }, h('h2', {}, chart.title),
      h('div', { class: 'chart' }, canvas), table(chart)));
    draw(canvas, chart);
  }
  // After the charts: counting the addresses reads records.
  const impacts = await get('/api/rollup/enforcement', filter);
  impact.replaceChildren(h('h2', {}, 'Enforcement impact'), enforcement(impacts));
}

/** Per domain: what `p=reject` would stop (failing messages delivered today) and from how
 * many addresses, beside the policy in force. */
function enforcement(domains) {
  const columns = [
    { label: 'Domain', value: (d) => d.domain,
      cell: (d) => h('a', { href: href(withFilter('overview', { domain: d.domain })), 'data-internal': true }, d.domain) },
    { label: 'Policy in force', value: (d) => d.policy,
      cell: (d) => `p=${d.policy}; sp=${d.subdomain_policy}; pct=${d.pct}` },
    { label: 'Failing, delivered', numeric: true, value: (d) => d.failing_delivered,
      cell: (d) => number.format(d.failing_delivered) },
    { label: 'Share of messages', numeric: true, value: (d) => (d.messages ? d.failing_delivered / d.messages : 0),
      cell: (d) => percent(d.failing_delivered, d.messages) },
    { label: 'From addresses', numeric: true, value: (d) => d.sources, cell: (d) => number.format(d.sources) },
    { label: 'Failing, enforced', numeric: true, value: (d) => d.failing_enforced,
      cell: (d) => number.format(d.failing_enforced) },
  ];
  return sortable(columns, domains,
    'What p=reject would stop: messages that fail DMARC and are delivered today, most first');
}

/** The eight charts: kind, labels, series (messages unless said), the table's key column,
 * and for those whose parts are filters, the view each part links to. */
function charts(d) {
  const fail = (g) => g.dmarc_fail;
  const pass = (g) => g.dmarc_pass;
  const a = d.alignment;
  // The API lists groups with the most messages first.
  const top = (groups) => groups.slice(0, 10);
  const domains = top(d.domains);
  const orgs = top(d.orgs);
  const sources = d.sources.items;
  const dispositions = ['none', 'quarantine', 'reject'];
  const verdicts = ['pass', 'fail'];
  return [
    { id: 'timeline', title: 'DMARC results over time', type: 'line', labels: d.timeline.map((b) => b.day),
      series: [['Pass', d.timeline.map(pass)], ['Fail', d.timeline.map(fail)]], key: 'Period' },
    { id: 'domains', title: 'Results by domain (top 10)', type: 'bar', stacked: true,
      labels: domains.map((g) => g.key), series: [['Pass', domains.map(pass)], ['Fail', domains.map(fail)]],
      key: 'Domain', link: (i) => withFilter('overview', { domain: domains[i].key }) },
    { id: 'sources', title: 'Top source addresses', type: 'bar', labels: sources.map((g) => g.source_ip || '(none)'),
      series: [['Messages', sources.map((g) => g.messages)]], key: 'Address',
      link: (i) => sources[i].source_ip && withFilter('reports', { source_ip: sources[i].source_ip }) },
    { id: 'disposition', title: 'Disposition', type: 'pie', labels: ['None', 'Quarantine', 'Reject'],
      series: [['Messages', [d.disposition.none, d.disposition.quarantine, d.disposition.reject]]],
      key: 'Disposition', link: (i) => withFilter('overview', { disposition: dispositions[i] }) },
    { id: 'alignment', title: 'DKIM and SPF alignment', type: 'bar', stacked: true, labels: ['DKIM', 'SPF'],
      series: [['Aligned pass', [a.both_pass + a.dkim_only, a.both_pass + a.spf_only]],
        ['Not aligned', [a.spf_only + a.both_fail, a.dkim_only + a.both_fail]]], key: 'Mechanism',
      link: (i, series) => series !== undefined
        && withFilter('overview', { [i ? 'spf' : 'dkim']: verdicts[series] }) },
    { id: 'compliance', title: 'Policy compliance', type: 'doughnut',
      labels: ['Compliant', 'Failing, enforced', 'Failing, delivered'],
      series: [['Messages', [d.compliance.compliant, d.compliance.failing_enforced, d.compliance.failing_delivered]]],
      key: 'Class' },
    { id: 'trend', title: 'Failure rate and its moving average', type: 'line', percent: true,
      labels: d.trend.map((b) => b.day),
      series: [['Failure rate', d.trend.map((b) => b.failure_rate)],
        ['Moving average', d.trend.map((b) => b.moving_average)]], key: 'Period' },
    { id: 'organizations', title: 'Top reporting organisations', type: 'bar', horizontal: true,
      labels: orgs.map((g) => g.key), series: [['Messages', orgs.map((g) => g.messages)]],
      key: 'Organisation', link: (i) => withFilter('overview', { org: orgs[i].key }) },
  ];
}
