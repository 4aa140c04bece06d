// Sources: the addresses that sent as the domains, most messages first, with pass rates,
// first and last seen and reporters; an address opens the reports that name it.
import { get } from './api.js';
import { day, h, number, percent, status } from './dom.js';
import { current, filterParams, href, withFilter } from './state.js';
import { pager, sortable } from './table.js';

const PAGE = 50;

export async function sources(main, context) {
  const s = current();
  const wait = status();
  main.replaceChildren(h('h1', {}, 'Sources'), context.filters('sources'), wait);
  const page = await get('/api/sources', { ...filterParams(s), limit: PAGE, offset: s.offset });
  wait.remove();
  const rate = (part) => (row) => (row.messages ? part(row) / row.messages : 0);
  const seen = (key) => (row) => row.activity?.[key] ?? 0;
  const columns = [
    { label: 'Address', value: (r) => r.source_ip ?? '',
      cell: (r) => (r.source_ip
        ? h('a', { href: href(withFilter('reports', { source_ip: r.source_ip })), 'data-internal': true }, r.source_ip)
        : '(no address)') },
    { label: 'Messages', numeric: true, value: (r) => r.messages, cell: (r) => number.format(r.messages) },
    ...[['DMARC pass', 'dmarc_pass'], ['DKIM aligned', 'dkim_aligned_pass'], ['SPF aligned', 'spf_aligned_pass']]
      .map(([label, key]) => ({ label, numeric: true, value: rate((r) => r[key]),
        cell: (r) => percent(r[key], r.messages) })),
    { label: 'First seen', value: seen('first_seen'), cell: (r) => (r.activity ? day(r.activity.first_seen) : '–') },
    { label: 'Last seen', value: seen('last_seen'), cell: (r) => (r.activity ? day(r.activity.last_seen) : '–') },
    { label: 'Reporters', numeric: true, value: seen('reporters'), cell: (r) => (r.activity ? String(r.activity.reporters) : '–') },
  ];
  if (!page.items.length) {
    main.append(h('p', { class: 'empty' }, 'No sources in this period.'));
    return;
  }
  main.append(sortable(columns, page.items, 'Source addresses, most messages first (a header sorts this page)'),
    pager(page));
}
