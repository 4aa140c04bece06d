// Chart.js (loaded before this module as a classic script: window.Chart) and the table of
// figures each chart carries (for screen readers and copying).
const COLORS = ['#15803d', '#b91c1c', '#1d4ed8', '#b45309', '#7c3aed', '#0f766e', '#be185d', '#4b5563'];

const format = (chart, value) => (chart.percent ? `${(100 * value).toFixed(1)} %` : String(value));

/** Draws `chart` on `canvas`. */
export function draw(canvas, chart) {
  const round = chart.type === 'pie' || chart.type === 'doughnut';
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
        y: { stacked: !!chart.stacked, beginAtZero: true },
      },
    },
  });
}

/** The chart's figures as a table: a row per label, a column per series. */
export function table(chart) {
  const t = document.createElement('table');
  const head = t.createTHead().insertRow();
  for (const name of [chart.key, ...chart.series.map(([label]) => label)]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = name;
    head.append(th);
  }
  const body = t.createTBody();
  chart.labels.forEach((label, i) => {
    const row = body.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = label;
    row.append(th);
    for (const [, values] of chart.series) row.insertCell().textContent = format(chart, values[i]);
  });
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = 'Figures';
  details.append(summary, t);
  return details;
}
