// Anomalies: the sources the deployed model scored in its latest detection, highest score
// first, each with what drove its score, where it is and a link to its reports; the model
// in force; admins train a model and analysts run a detection from here.
import { get, request } from './api.js';
import { figures, h, number, status, time } from './dom.js';
import { current, go, href, withFilter } from './state.js';
import { pager, sortable } from './table.js';

const PAGE = 50;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for task `id` to finish (at most about 5 minutes); its final state. */
async function finished(id) {
  for (let i = 0; i < 600; i += 1) {
    const task = await get(`/tasks/status/${id}`);
    if (task.state === 'succeeded' || task.state === 'failed') return task;
    await sleep(500);
  }
  return { state: 'still running', task_id: id };
}

/** What the last action said, shown once by the page it drew again. */
let notice = '';

/** A button that queues a job with `body` at `path`, waits for it and shows the page again. */
function action(label, path, body, outcome) {
  const button = h('button', { type: 'button' }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    outcome.textContent = `${label}: queued…`;
    try {
      const task = await finished((await request('POST', path, { json: body })).task_id);
      if (task.state === 'succeeded') {
        notice = `${label}: done (task ${task.task_id}).`;
        go(href({ ...current(), offset: undefined }));
      } else {
        outcome.textContent = `${label}: ${task.state}${task.error ? `: ${task.error}` : ''} (task ${task.task_id}).`;
      }
    } catch (error) {
      outcome.textContent = `${label}: refused: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

const where = (a) => {
  const l = a.location;
  if (!l) return '–';
  return [l.country_code, l.asn && `AS${l.asn}${l.as_org ? ` ${l.as_org}` : ''}`].filter(Boolean).join(' · ') || '–';
};

export async function anomalies(main, context) {
  const s = current();
  const role = context.user.role;
  const wait = status();
  const outcome = h('p', { role: 'status' }, notice);
  notice = '';
  const buttons = h('p', { class: 'actions' },
    role === 'admin' && action('Train a model', '/analytics/ml/train', { deploy: true }, outcome),
    role !== 'viewer' && action('Detect now', '/analytics/anomalies/detect', {}, outcome));
  main.replaceChildren(h('h1', {}, 'Anomalies'), buttons, outcome, wait);
  const only = s.anomalous === 'true';
  const [models, found] = await Promise.all([
    get('/analytics/ml/models', { limit: 20 }),
    get('/analytics/anomalies/recent', { anomalous: only || undefined, limit: PAGE, offset: s.offset }),
  ]);
  wait.remove();
  const active = models.items.find((m) => m.active);
  main.append(h('h2', {}, 'Model'), active
    ? figures([
      ['Version', `${active.version}${active.domain ? ` (${active.domain})` : ''}`],
      ['Trained on', `${number.format(active.sources)} unauthenticated sources`],
      ['Window', `${time(active.window_from)} – ${time(active.window_to)}`],
      ['Threshold', Number(active.params.threshold).toFixed(3)],
      ['Deployed', active.deployed_at ? time(active.deployed_at) : '–'],
    ])
    : h('p', {}, models.total
      ? 'No model is deployed.'
      : 'No model yet: the weekly training (Sundays, 02:00 UTC) makes one, or an admin trains one here.'));
  const toggle = h('input', { type: 'checkbox', name: 'anomalous', checked: only });
  toggle.addEventListener('change', () => go(href({ ...current(), anomalous: toggle.checked ? 'true' : undefined, offset: undefined })));
  main.append(h('h2', {}, 'Latest detection'), h('p', {}, h('label', {}, toggle, ' Anomalous only')));
  if (!found.items.length) {
    main.append(h('p', { class: 'empty' }, only ? 'No anomalous source in the latest detection.' : 'No detection has run yet.'));
    return;
  }
  const run = found.items[0];
  main.append(h('p', {}, `Run ${time(run.run_at)} with model ${run.model_version} over ${time(run.window_from)} – ${time(run.window_to)}${run.domain ? ` for ${run.domain}` : ''}; an address opens its reports.`));
  const columns = [
    { label: 'Address', value: (a) => a.source_ip,
      cell: (a) => h('a', { href: href(withFilter('reports', { source_ip: a.source_ip, period: 'all' })), 'data-internal': true }, a.source_ip) },
    { label: 'Score', numeric: true, value: (a) => a.score, cell: (a) => a.score.toFixed(3) },
    { label: 'Anomalous', value: (a) => (a.anomalous ? 1 : 0), cell: (a) => (a.anomalous ? 'Yes' : 'No') },
    { label: 'Why', value: (a) => a.reasons.join('; '),
      cell: (a) => (a.reasons.length ? h('ul', { class: 'plain' }, a.reasons.map((r) => h('li', {}, r))) : '–') },
    { label: 'Messages', numeric: true, value: (a) => a.messages, cell: (a) => number.format(a.messages) },
    { label: 'Failing', numeric: true, value: (a) => a.dmarc_fail, cell: (a) => number.format(a.dmarc_fail) },
    { label: 'Where', value: where, cell: where },
  ];
  main.append(sortable(columns, found.items, 'Scored sources, highest score first (a header sorts this page)'), pager(found));
}
