// The country map: messages (or failing messages) per country of the source addresses for
// the filter in the URL, as a choropleth (chartjs-chart-geo over world-atlas's countries)
// and as a table; a country, on the map or in the table, opens its sources.
import { ApiError, get } from './api.js';
import { field, h, number, options, percent, status } from './dom.js';
import { current, go, href, filterParams, withFilter } from './state.js';
import { sortable } from './table.js';

/** What the map shades: URL value, label, value of a country row. */
const MEASURES = [
  ['messages', 'Messages', (c) => c.messages],
  ['failing', 'Failing messages', (c) => c.dmarc_fail],
];

let world = null;
/** The countries of the map with their ISO 3166-1 alpha-2 codes (fetched once). */
async function countries() {
  world ??= (async () => {
    const [topology, codes] = await Promise.all(['countries-50m.json', 'country-codes.json'].map(async (name) => {
      const response = await fetch(`/assets/${name}`);
      if (!response.ok) throw new ApiError(`the map's ${name} could not be loaded`, response.status);
      return response.json();
    }));
    // world-atlas names countries by their numeric code; the API by their alpha-2 code.
    const alpha2 = new Map(codes.map(([two, , numeric]) => [numeric, two]));
    return window.ChartGeo.topojson.feature(topology, topology.objects.countries).features
      .map((feature) => ({ feature, code: alpha2.get(feature.id) }))
      .filter((c) => c.code);
  })().catch((error) => { world = null; throw error; });
  return world;
}

const names = new Intl.DisplayNames(['en'], { type: 'region' });
/** The English name of a country code. */
export const countryName = (code) => {
  try {
    return names.of(code);
  } catch {
    return code;
  }
};
/** A map row's country name (the bundled data has codes only). */
const named = (c) => c.country_name ?? countryName(c.country);

/** The sources view of one country, with the filter in force. */
const sourcesOf = (code) => withFilter('sources', { country: code });

export async function map(main, context) {
  const s = current();
  const [measure, label, value] = MEASURES.find(([m]) => m === s.measure) ?? MEASURES[0];
  const wait = status();
  const shade = h('select', { name: 'measure' }, options(MEASURES.map(([m, l]) => [m, l]), measure));
  shade.addEventListener('change', () => go(href({ ...current(), measure: shade.value })));
  main.replaceChildren(h('h1', {}, 'Map'), context.filters('map'), wait);
  let answer;
  try {
    answer = await get('/analytics/geolocation/map', filterParams(s));
  } catch (error) {
    if (error.status !== 409) throw error;
    wait.replaceWith(h('p', { class: 'empty' }, `No map: ${error.message}.`));
    return;
  }
  const shapes = await countries();
  wait.remove();
  const placed = answer.countries.filter((c) => c.country);
  const unplaced = answer.countries.find((c) => !c.country);
  if (!answer.countries.length) {
    main.append(h('p', { class: 'empty' }, 'No sources in this period.'));
    return;
  }
  const byCode = new Map(placed.map((c) => [c.country, c]));
  const canvas = h('canvas', { role: 'img', 'aria-label': `${label} per country of the source addresses; the table below lists them` });
  main.append(h('p', { class: 'inline' }, field('Shade by', shade)),
    h('div', { class: 'map' }, canvas));
  draw(canvas, shapes, byCode, label, value);
  const columns = [
    { label: 'Country', value: named,
      cell: (c) => h('a', { href: href(sourcesOf(c.country)), 'data-internal': true }, `${named(c)} (${c.country})`) },
    { label: 'Messages', numeric: true, value: (c) => c.messages, cell: (c) => number.format(c.messages) },
    { label: 'Failing', numeric: true, value: (c) => c.dmarc_fail, cell: (c) => number.format(c.dmarc_fail) },
    { label: 'DMARC pass', numeric: true, value: (c) => (c.messages ? c.dmarc_pass / c.messages : 0),
      cell: (c) => percent(c.dmarc_pass, c.messages) },
    { label: 'Addresses', numeric: true, value: (c) => c.sources, cell: (c) => number.format(c.sources) },
  ];
  main.append(sortable(columns, placed, 'Countries of the source addresses, most messages first (a country opens its sources)'));
  if (unplaced) {
    main.append(h('p', {}, `Not placed (private, unknown or not looked up yet): ${number.format(unplaced.messages)} messages from ${number.format(unplaced.sources)} addresses.`));
  }
  main.append(attribution(answer.databases.map((d) => d.attribution ?? d.database_type).join('; ')),
    h('p', { class: 'attribution' }, 'Borders: Natural Earth (public domain), via world-atlas.'));
}

/** The credit the geolocation data asks for where its answers are shown (`text`: the
 * databases' own), with the link DB-IP's licence requires. */
export const attribution = (text) => h('p', { class: 'attribution' }, `Places: ${text}. `,
  h('a', { href: 'https://db-ip.com', rel: 'noopener' }, 'IP Geolocation by DB-IP'), '.');

function draw(canvas, shapes, byCode, label, value) {
  const text = getComputedStyle(document.body).color;
  window.Chart.defaults.color = text;
  new window.Chart(canvas, {
    type: 'choropleth',
    data: {
      labels: shapes.map((c) => c.feature.properties.name),
      datasets: [{
        label,
        outline: shapes.map((c) => c.feature),
        // Countries without messages stay blank (a logarithmic scale has no zero).
        data: shapes.map((c) => {
          const row = byCode.get(c.code);
          const v = row ? value(row) : 0;
          return { feature: c.feature, code: c.code, value: v > 0 ? v : undefined };
        }),
      }],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      showOutline: true,
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (item) => `${item.label}: ${number.format(item.raw.value ?? 0)}` } },
      },
      scales: {
        projection: { axis: 'x', projection: 'equalEarth' },
        color: { axis: 'x', type: 'colorLogarithmic', interpolate: 'oranges', missing: 'transparent',
          legend: { position: 'bottom-left', align: 'bottom' } },
      },
      onClick: (_, elements) => {
        const shape = elements[0] && shapes[elements[0].index];
        if (shape && byCode.has(shape.code)) go(href(sourcesOf(shape.code)));
      },
      onHover: (event, elements) => {
        const shape = elements[0] && shapes[elements[0].index];
        event.native.target.style.cursor = shape && byCode.has(shape.code) ? 'pointer' : 'default';
      },
    },
  });
}
