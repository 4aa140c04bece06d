// Small helpers to build the page: elements, links within the dashboard, formats.

/** An element with attributes (`on*` functions become listeners) and children. */
export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export const number = new Intl.NumberFormat('en');

/** `part` of `whole` as a percentage with one decimal, or a dash without a whole. */
export const percent = (part, whole) => (whole ? `${(100 * part / whole).toFixed(1)} %` : '–');

/** UTC seconds as `YYYY-MM-DD`. */
export const day = (seconds) => new Date(seconds * 1000).toISOString().slice(0, 10);

/** UTC seconds as `YYYY-MM-DD HH:MM UTC`. */
export const time = (seconds) =>
  `${new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** Headline figures: `[label, value]` pairs as a definition list. */
export const figures = (pairs) => h('dl', { class: 'figures' },
  pairs.map(([label, value]) => h('div', {}, h('dt', {}, label), h('dd', {}, value))));

/** The options of a select: `[value, text]` pairs, `selected` chosen. */
export const options = (pairs, selected) =>
  pairs.map(([value, text]) => h('option', { value, selected: value === selected }, text));

/** A status line for a view: `Loading…` until replaced. */
export const status = (text = 'Loading…') => h('p', { role: 'status' }, text);

/** A form control with its label above it; the label names it exactly (its id is made
 * from its name unless it has one). */
export function field(label, control) {
  control.id ||= `field-${control.name}`;
  return h('span', { class: 'field' }, h('label', { for: control.id }, label), control);
}
