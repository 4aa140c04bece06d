// The filter bar: period (presets or custom dates), domains, source address or network,
// aligned DKIM and SPF verdicts, disposition and reporting organisation. Applying it changes
// the URL; "Clear" keeps the period only.
import { field, h, options } from './dom.js';
import { FILTER_KEYS, PERIODS, current, go, href } from './state.js';

const choice = (name, label, pairs, value) => field(label, h('select', { name }, options(pairs, value ?? '')));

/** The filter bar of `view`; `domains` are the known policy domains. */
export function filterBar(view, domains) {
  const s = current();
  const period = PERIODS.some(([p]) => p === s.period) ? s.period : '30d';
  const chosen = new Set((s.domain ?? '').split(',').filter(Boolean));
  const custom = h('span', { class: 'custom', hidden: period !== 'custom' },
    field('From', h('input', { type: 'date', name: 'from', value: s.from ?? '' })),
    field('To', h('input', { type: 'date', name: 'to', value: s.to ?? '' })));
  const periodSelect = h('select', { name: 'period' },
    options(PERIODS, period));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filters' },
    field('Period', periodSelect), custom,
    field('Domains', h('select', { name: 'domain', multiple: true, size: Math.min(4, Math.max(2, domains.length)) },
      domains.map((d) => h('option', { value: d.domain, selected: chosen.has(d.domain) }, d.domain)))),
    field('Source address or network',
      h('input', { name: 'source_ip', value: s.source_ip ?? '', placeholder: '192.0.2.0/24', size: 18 })),
    choice('dkim', 'DKIM', [['', 'Any'], ['pass', 'Aligned pass'], ['fail', 'Not aligned']], s.dkim),
    choice('spf', 'SPF', [['', 'Any'], ['pass', 'Aligned pass'], ['fail', 'Not aligned']], s.spf),
    choice('disposition', 'Disposition', [['', 'Any'], ['none', 'None'], ['quarantine', 'Quarantine'],
      ['reject', 'Reject']], s.disposition),
    field('Reporter', h('input', { name: 'org', value: s.org ?? '', size: 14 })),
    h('button', { type: 'submit' }, 'Apply'),
    h('a', { href: href({ view, period }), 'data-internal': true }, 'Clear'));
  // The period applies at once; the other fields with "Apply".
  periodSelect.addEventListener('change', () => {
    custom.hidden = periodSelect.value !== 'custom';
    if (periodSelect.value !== 'custom') form.requestSubmit();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const state = { ...current(), view, offset: undefined };
    for (const key of FILTER_KEYS) state[key] = key === 'domain' ? data.getAll('domain').join(',') : data.get(key)?.trim();
    if (state.period !== 'custom') state.from = state.to = undefined;
    go(href(state));
  });
  // Folded on narrow screens (a phone), open elsewhere; the summary counts what applies.
  const active = FILTER_KEYS.filter((key) => !['period', 'from', 'to'].includes(key) && s[key]).length;
  const label = PERIODS.find(([p]) => p === period)[1];
  return h('details', { class: 'filter-box', open: matchMedia('(min-width: 40rem)').matches },
    h('summary', {}, `Filters: ${label}${active ? `, ${active} more` : ''}`), form);
}
