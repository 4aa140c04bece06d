// Chart.js (loaded before the modules as a classic script: window.Chart) and the table of
// figures each chart carries (for screen readers, keyboards and copying).
import { h } from './dom.js';
import { go, href } from './state.js';

// Distinguishable in light and dark themes, and for the common colour-vision deficiencies
// (pass green and fail red also differ in lightness).
const COLORS = ['#15803d', '#dc2626', '#2563eb', '#d97706', '#7c3aed', '#0d9488', '#db2777', '#6b7280'];

const format = (chart, value) => (chart.percent ? `${(100 * value).toFixed(1)} %` : String(value));

/** Draws `chart` on `canvas`; a click on a bar or slice opens `chart.link(index, series)`
 * when the chart has one. */
export function draw(canvas, chart) {
  const round = chart.type === 'pie' || chart.type === 'doughnut';
  const text = getComputedStyle(document.body).color;
  window.Chart.defaults.color = text;
  new window.Chart(canvas, {
    type: chart.type,
    data: {
      labels: chart.labels,
      datasets: chart.series.map(([label, values], i) => ({
        label,
        data: values,
        backgroundColor: round ? COLORS : COLORS[i],
        borderColor: round ? undefined : COLORS[i],
        fill: false,
      })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      indexAxis: chart.horizontal ? 'y' : 'x',
      scales: round ? {} : {
        x: { stacked: !!chart.stacked },
        y: { stacked: !!chart.stacked, beginAtZero: true,
          ticks: chart.percent ? { callback: (value) => `${Math.round(100 * value)} %` } : {} },
      },
      onClick: (_, elements) => {
        const target = elements[0] && chart.link?.(elements[0].index, elements[0].datasetIndex);
        if (target) go(href(target));
      },
      onHover: (event, elements) => {
        event.native.target.style.cursor = chart.link && elements.length ? 'pointer' : 'default';
      },
    },
  });
}

/** The chart's figures as a table: a row per label, a column per series; labels that
 * filter link to the filtered view. */
export function table(chart) {
  const head = h('tr', {}, [chart.key, ...chart.series.map(([label]) => label)]
    .map((name) => h('th', { scope: 'col' }, name)));
  const rows = chart.labels.map((label, i) => {
    const target = chart.link?.(i);
    const name = target ? h('a', { href: href(target), 'data-internal': true }, label) : label;
    return h('tr', {}, h('th', { scope: 'row' }, name),
      chart.series.map(([, values]) => h('td', {}, format(chart, values[i]))));
  });
  return h('details', {}, h('summary', {}, 'Figures'),
    h('table', {}, h('thead', {}, head), h('tbody', {}, rows)));
}
