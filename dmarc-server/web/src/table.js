// A table whose columns sort when their header is pressed (mouse or keyboard), and the
// pager of a paginated list.
import { h, number } from './dom.js';
import { current, href } from './state.js';

/** `columns`: [{ label, value(row) for sorting (none: the column does not sort), cell(row)
 * shown, numeric }]. */
export function sortable(columns, rows, caption) {
  const body = h('tbody');
  const headers = columns.map((column, i) => {
    const numeric = column.numeric ? 'number' : undefined;
    // A column without a value (actions) does not sort.
    if (!column.value) return h('th', { scope: 'col', class: numeric }, column.label);
    const button = h('button', { type: 'button', class: 'sort' }, column.label);
    button.addEventListener('click', () => sortBy(i));
    return h('th', { scope: 'col', class: numeric }, button);
  });
  let by = -1;
  let descending = true;
  function sortBy(i) {
    descending = by === i ? !descending : true;
    by = i;
    const value = columns[i].value;
    const sorted = [...rows].sort((a, b) => {
      const [x, y] = [value(a), value(b)];
      const order = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -order : order;
    });
    headers.forEach((th, j) => {
      if (j === i) th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
      else th.removeAttribute('aria-sort');
    });
    fill(sorted);
  }
  function fill(list) {
    body.replaceChildren(...list.map((row) => h('tr', {}, columns.map((column, j) =>
      h(j === 0 ? 'th' : 'td', { scope: j === 0 ? 'row' : undefined, class: column.numeric ? 'number' : undefined },
        column.cell(row))))));
  }
  fill(rows);
  return h('div', { class: 'scroll' }, h('table', { class: 'list' },
    h('caption', {}, caption), h('thead', {}, h('tr', {}, headers)), body));
}

/** Links to the previous and next pages of `page` (a `Paged` answer) on the current URL. */
export function pager(page) {
  const s = current();
  const at = (offset) => href({ ...s, offset: offset || undefined });
  const last = page.offset + page.items.length;
  const total = `${number.format(page.total)}${page.total_capped ? '+' : ''}`;
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    page.offset > 0 && h('a', { href: at(Math.max(0, page.offset - page.limit)), 'data-internal': true }, '← Previous'),
    h('span', {}, page.items.length ? `${number.format(page.offset + 1)}–${number.format(last)} of ${total}` : `none of ${total}`),
    last < page.total && h('a', { href: at(last), 'data-internal': true }, 'Next →'));
}
