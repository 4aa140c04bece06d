// The dashboard: sign-in, then the overview (headline figures and eight charts, each with
// its figures as a table) for a period kept in the URL. Other pages are being built.
import { signIn, get } from './api.js';
import { draw, table } from './charts.js';

const app = document.getElementById('app');

const PERIODS = [
  ['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'],
  ['90d', 'Last 90 days'], ['12m', 'Last 12 months'], ['all', 'All time'],
];
const DAY = 86400;

/** The filter of a period: `from` in seconds (whole UTC days but for 24 hours). */
function periodFilter(period) {
  const now = Math.floor(Date.now() / 1000);
  const today = now - (now % DAY);
  const days = { '7d': 7, '30d': 30, '90d': 90, '12m': 365 }[period];
  if (period === '24h') return { from: now - DAY };
  if (days) return { from: today - (days - 1) * DAY };
  return {};
}

function state() {
  const params = new URLSearchParams(location.search);
  const period = params.get('period');
  return { period: PERIODS.some(([p]) => p === period) ? period : '30d' };
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

const number = new Intl.NumberFormat('en');
const percent = (part, whole) => (whole ? `${(100 * part / whole).toFixed(1)} %` : '–');

async function overview() {
  const { period } = state();
  const filter = periodFilter(period);
  const select = element('select', { id: 'period' });
  for (const [value, label] of PERIODS) {
    const option = element('option', { value }, label);
    if (value === period) option.selected = true;
    select.append(option);
  }
  select.addEventListener('change', () => {
    history.pushState(null, '', `?period=${select.value}`);
    overview();
  });
  const status = element('p', { role: 'status' }, 'Loading…');
  app.replaceChildren(element('h1', {}, 'Overview'),
    element('p', {}, element('label', { for: 'period' }, 'Period '), select), status);
  let data;
  try {
    const bucket = { bucket: 'auto' };
    const [summary, domains, sources, disposition, alignment, compliance, timeline, trend, orgs] =
      await Promise.all([
        get('/api/rollup/summary', filter), get('/api/rollup/by-domain', filter),
        get('/api/rollup/sources', { ...filter, limit: 10 }), get('/api/rollup/disposition', filter),
        get('/api/rollup/alignment', filter), get('/api/rollup/compliance', filter),
        get('/api/rollup/timeline', { ...filter, ...bucket }),
        get('/api/rollup/failure-trend', { ...filter, ...bucket }),
        get('/api/rollup/organizations', filter),
      ]);
    data = { summary, domains, sources, disposition, alignment, compliance, timeline, trend, orgs };
  } catch (error) {
    if (error.signedOut) return start();
    status.textContent = `The figures could not be loaded: ${error.message}`;
    return;
  }
  status.remove();
  const s = data.summary;
  const figures = element('dl', { class: 'figures' });
  for (const [label, value] of [['Messages', number.format(s.messages)],
    ['DMARC pass rate', percent(s.dmarc_pass, s.messages)], ['Failing messages', number.format(s.dmarc_fail)],
    ['Domains', number.format(s.domains)], ['Reporters', number.format(s.organizations)]]) {
    figures.append(element('div', {}, element('dt', {}, label), element('dd', {}, value)));
  }
  app.append(figures);
  if (!s.messages) {
    app.append(element('p', { class: 'empty' }, 'No reports in this period.'));
    return;
  }
  const grid = element('div', { class: 'charts' });
  app.append(grid);
  for (const chart of charts(data)) {
    const canvas = element('canvas', { role: 'img', 'aria-label': chart.title });
    grid.append(element('section', { 'data-chart': chart.id }, element('h2', {}, chart.title),
      element('div', { class: 'chart' }, canvas), table(chart)));
    draw(canvas, chart);
  }
}

/** The eight charts: kind, labels, series (messages unless said), and the table's columns. */
function charts(d) {
  const fail = (g) => g.dmarc_fail;
  const pass = (g) => g.dmarc_pass;
  const a = d.alignment;
  // The API lists groups with the most messages first.
  const top = (groups) => groups.slice(0, 10);
  return [
    { id: 'timeline', title: 'DMARC results over time', type: 'line', labels: d.timeline.map((b) => b.day),
      series: [['Pass', d.timeline.map(pass)], ['Fail', d.timeline.map(fail)]], key: 'Period' },
    { id: 'domains', title: 'Results by domain (top 10)', type: 'bar', stacked: true,
      labels: top(d.domains).map((g) => g.key),
      series: [['Pass', top(d.domains).map(pass)], ['Fail', top(d.domains).map(fail)]], key: 'Domain' },
    { id: 'sources', title: 'Top source addresses', type: 'bar', labels: d.sources.items.map((g) => g.source_ip || '(none)'),
      series: [['Messages', d.sources.items.map((g) => g.messages)]], key: 'Address' },
    { id: 'disposition', title: 'Disposition', type: 'pie', labels: ['None', 'Quarantine', 'Reject'],
      series: [['Messages', [d.disposition.none, d.disposition.quarantine, d.disposition.reject]]], key: 'Disposition' },
    { id: 'alignment', title: 'DKIM and SPF alignment', type: 'bar', stacked: true, labels: ['DKIM', 'SPF'],
      series: [['Aligned pass', [a.both_pass + a.dkim_only, a.both_pass + a.spf_only]],
        ['Not aligned', [a.spf_only + a.both_fail, a.dkim_only + a.both_fail]]], key: 'Mechanism' },
    { id: 'compliance', title: 'Policy compliance', type: 'doughnut',
      labels: ['Compliant', 'Failing, enforced', 'Failing, delivered'],
      series: [['Messages', [d.compliance.compliant, d.compliance.failing_enforced, d.compliance.failing_delivered]]],
      key: 'Class' },
    { id: 'trend', title: 'Failure rate and its moving average', type: 'line', percent: true,
      labels: d.trend.map((b) => b.day),
      series: [['Failure rate', d.trend.map((b) => b.failure_rate)],
        ['Moving average', d.trend.map((b) => b.moving_average)]], key: 'Period' },
    { id: 'organizations', title: 'Top reporting organisations', type: 'bar', horizontal: true,
      labels: top(d.orgs).map((g) => g.key),
      series: [['Messages', top(d.orgs).map((g) => g.messages)]], key: 'Organisation' },
  ];
}

function start() {
  signIn(app, overview);
}

window.addEventListener('popstate', overview);
start();
