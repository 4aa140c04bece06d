// The view's state lives in the URL (`?view=sources&period=7d&domain=a.example`), so a view
// can be bookmarked and shared, and back and forward work.

export const PERIODS = [
  ['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'],
  ['90d', 'Last 90 days'], ['365d', 'Last 12 months'], ['all', 'All time'], ['custom', 'Custom dates'],
];

/** The filter's URL parameters, named as the API names them (but `period`). */
export const FILTER_KEYS = ['period', 'from', 'to', 'domain', 'source_ip', 'dkim', 'spf', 'disposition', 'org'];

/** The state of the current URL. */
export function current() {
  return Object.fromEntries(new URLSearchParams(location.search));
}

/** The URL of `state` (empty values left out). */
export function href(state) {
  const params = new URLSearchParams(
    Object.entries(state).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  const query = params.toString();
  return query ? `/?${query}` : '/';
}

/** The current filter (period and the others) with `changes`, on `view`. */
export function withFilter(view, changes = {}) {
  const now = current();
  const state = { view };
  for (const key of FILTER_KEYS) state[key] = now[key];
  return { ...state, ...changes };
}

/** The API parameters of the filter in `state`: the period as a preset, or custom dates. */
export function filterParams(state) {
  const out = {};
  const period = PERIODS.some(([p]) => p === state.period) ? state.period : '30d';
  if (period === 'custom') {
    if (state.from) out.from = state.from;
    if (state.to) out.to = state.to;
  } else {
    out.preset = period;
  }
  for (const key of ['domain', 'source_ip', 'dkim', 'spf', 'disposition', 'org']) {
    if (state[key]) out[key] = state[key];
  }
  return out;
}

let onNavigate = () => {};

/** Sets what runs when the URL changes (a link, a form, back or forward). */
export function router(render) {
  onNavigate = render;
  window.addEventListener('popstate', () => onNavigate());
  // Links within the dashboard change the URL without loading the page again.
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a[data-internal]');
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    go(link.getAttribute('href'));
  });
}

/** Shows `url` (from `href`), adding it to the history. */
export function go(url) {
  history.pushState(null, '', url);
  onNavigate();
}
