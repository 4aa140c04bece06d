// Upload: drop or choose 1 to 200 report files; each shows its progress and its outcome
// (accepted, duplicate naming the stored report, or rejected with the reason). Files go in
// requests of a few at a time, so outcomes arrive as they are stored.
import { upload as send } from './api.js';
import { h, number } from './dom.js';
import { href } from './state.js';

const MAX_FILES = 200;
/** A request holds at most this many files or bytes (the server takes 30 uploads a minute). */
const GROUP_FILES = 20;
const GROUP_BYTES = 16 << 20;

const reportLink = (id) => h('a', { href: href({ view: 'report', id }), 'data-internal': true }, `report ${id}`);

function outcome(o) {
  const where = o.part ? ` (${o.part})` : '';
  if (o.outcome === 'accepted') {
    return h('li', { class: 'accepted' }, `Accepted${where}: `, reportLink(o.report.id),
      `, ${number.format(o.records)} records, ${number.format(o.messages)} messages`);
  }
  if (o.outcome === 'duplicate') {
    return h('li', { class: 'duplicate' }, `Duplicate${where} of `, reportLink(o.report.id));
  }
  return h('li', { class: 'rejected' }, `Rejected${where}: ${o.error?.message ?? 'no reason given'}`);
}

/** Splits `files` into groups of at most GROUP_FILES files and (unless one file is larger)
 * GROUP_BYTES bytes. */
function groups(files) {
  const out = [];
  let group = [];
  let bytes = 0;
  for (const file of files) {
    if (group.length && (group.length === GROUP_FILES || bytes + file.size > GROUP_BYTES)) {
      out.push(group);
      group = [];
      bytes = 0;
    }
    group.push(file);
    bytes += file.size;
  }
  if (group.length) out.push(group);
  return out;
}

export function uploadView(main) {
  const input = h('input', { type: 'file', multiple: true, id: 'files', class: 'visually-hidden' });
  const zone = h('div', { class: 'drop' },
    h('p', {}, 'Drop DMARC aggregate reports here (XML, gzip, zip, e-mail or mbox; up to 200 files), or ',
      h('label', { for: 'files', class: 'button' }, 'choose files'), '.'), input);
  const list = h('ol', { class: 'uploads', 'aria-live': 'polite' });
  const totals = h('p', { role: 'status' });
  main.replaceChildren(h('h1', {}, 'Upload'), zone, totals, list);
  const start = (files) => run([...files], list, totals);
  input.addEventListener('change', () => start(input.files));
  zone.addEventListener('dragover', (event) => { event.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    start(event.dataTransfer.files);
  });
}

async function run(files, list, totals) {
  if (!files.length) return;
  if (files.length > MAX_FILES) {
    totals.textContent = `${files.length} files: at most ${MAX_FILES} at a time.`;
    return;
  }
  const rows = files.map((file) => {
    const bar = h('progress', { max: file.size || 1, value: 0, 'aria-label': `${file.name} sent` });
    const result = h('ul', {});
    const state = h('span', { class: 'state' }, 'waiting');
    const item = h('li', { 'data-file': file.name }, h('span', { class: 'name' }, file.name), ' ', bar, ' ', state, result);
    list.append(item);
    return { file, bar, state, result };
  });
  const tally = { accepted: 0, duplicate: 0, rejected: 0 };
  let at = 0;
  for (const group of groups(files)) {
    const mine = rows.slice(at, at + group.length);
    at += group.length;
    for (const row of mine) row.state.textContent = 'sending';
    try {
      const answer = await send(group, (sent) => {
        // Files are sent in order: each has its share of the bytes sent so far.
        let before = 0;
        for (const row of mine) {
          row.bar.value = Math.max(0, Math.min(row.file.size, sent - before));
          before += row.file.size;
        }
      });
      answer.files.forEach((entry, i) => {
        const row = mine[i];
        row.bar.value = row.file.size;
        row.state.textContent = 'done';
        row.result.replaceChildren(...entry.outcomes.map(outcome));
        for (const o of entry.outcomes) tally[o.outcome] += 1;
      });
    } catch (error) {
      for (const row of mine) {
        row.state.textContent = 'failed';
        row.result.replaceChildren(h('li', { class: 'rejected' }, `Not stored: ${error.message}`));
      }
    }
    totals.textContent = `${at} of ${files.length} files sent: ${tally.accepted} accepted, `
      + `${tally.duplicate} duplicate, ${tally.rejected} rejected.`;
  }
}
