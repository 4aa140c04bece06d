// Sources: the addresses that sent as the domains, most messages first, with pass rates,
// first and last seen, reporters, where they are and who sends through them (sender
// identification per domain); an address opens the reports that name it. `country` (set
// by the map) keeps one country's addresses.
import { get } from './api.js';
import { day, h, number, percent, status } from './dom.js';
import { attribution, countryName } from './map.js';
import { current, filterParams, href, withFilter } from './state.js';
import { pager, sortable } from './table.js';

const PAGE = 50;
/** Domains shown per address before the rest fold away. */
const SHOWN = 2;

/** What a source is for a domain, as the API names it. */
export const CLASSES = {
  aligned_sender: 'Aligned sender',
  known_service_not_aligned: 'Known service, not aligned',
  forwarder: 'Forwarder',
  unknown: 'Unknown',
};

/** Who sends through the address: per domain (busiest first), its class and service. */
function senders(row) {
  if (!row.senders.length) return '–';
  const one = (s) => [
    h('span', { class: `class ${s.class}` }, CLASSES[s.class] ?? s.class),
    s.service && ` · ${s.service.name} (by ${s.service.matched_by === 'dkim' ? `DKIM ${s.service.evidence}` : s.service.evidence})`,
  ];
  if (row.senders.length === 1) return h('span', {}, one(row.senders[0]));
  const list = (items) => h('ul', { class: 'plain' }, items.map((s) => h('li', {}, `${s.domain}: `, one(s))));
  const [first, rest] = [row.senders.slice(0, SHOWN), row.senders.slice(SHOWN)];
  return h('div', {}, list(first), rest.length > 0
    && h('details', {}, h('summary', {}, `${rest.length} more domain${rest.length > 1 ? 's' : ''}`), list(rest)));
}

/** Where the address is: country and network. */
const where = (row) => {
  const l = row.location;
  if (!l) return '–';
  const network = l.asn ? `AS${l.asn}${l.as_org ? ` ${l.as_org}` : ''}` : '';
  return [l.country_code, network].filter(Boolean).join(' · ') || '–';
};

export async function sources(main, context) {
  const s = current();
  const wait = status();
  const heading = s.country ? `Sources in ${countryName(s.country)}` : 'Sources';
  const all = s.country && h('p', {}, h('a', { href: href({ ...s, country: undefined, offset: undefined }), 'data-internal': true }, 'All countries'));
  main.replaceChildren(h('h1', {}, heading), context.filters('sources'), all || '', wait);
  const page = await get('/api/sources', { ...filterParams(s), country: s.country, limit: PAGE, offset: s.offset });
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
    { label: 'Sender', value: (r) => r.senders[0]?.class ?? '', cell: senders },
    { label: 'Where', value: where, cell: where },
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
  if (page.items.some((r) => r.location?.asn)) main.append(attribution('ip-location-db, from RouteViews, DB-IP and NRO data'));
}
