// Tasks: the job queue by state, the schedules with their next and last run, recent
// failures with their errors, recent jobs, and (analysts) buttons that start a job now.
import { get, request } from './api.js';
import { figures, h, number, status, time } from './dom.js';
import { sortable } from './table.js';

const STATES = ['queued', 'running', 'succeeded', 'failed'];
const TRIGGERS = [
  ['process-reports', 'Process stored reports now'],
  ['email-ingestion', 'Fetch the mailboxes now'],
];

const when = (seconds) => (seconds ? time(seconds) : '–');

const jobColumns = [
  { label: 'Task', numeric: true, value: (t) => t.task_id, cell: (t) => String(t.task_id) },
  { label: 'Kind', value: (t) => t.kind, cell: (t) => t.kind },
  { label: 'State', value: (t) => t.state, cell: (t) => t.state },
  { label: 'Attempts', numeric: true, value: (t) => t.attempts, cell: (t) => `${t.attempts} of ${t.max_attempts}` },
  { label: 'Queued', value: (t) => t.created_at, cell: (t) => when(t.created_at) },
  { label: 'Finished', value: (t) => t.finished_at ?? 0, cell: (t) => when(t.finished_at) },
  { label: 'By', value: (t) => t.created_by ?? '', cell: (t) => t.created_by ?? '–' },
  { label: 'Outcome', value: (t) => t.error ?? '', cell: (t) => t.error ?? (t.result ? JSON.stringify(t.result) : '–') },
];

export async function tasks(main, context) {
  const wait = status();
  const buttons = h('p', { class: 'actions' });
  const outcome = h('p', { role: 'status' });
  main.replaceChildren(h('h1', {}, 'Tasks'), buttons, outcome, wait);
  if (context.user.role !== 'viewer') {
    for (const [kind, label] of TRIGGERS) {
      const button = h('button', { type: 'button' }, label);
      button.addEventListener('click', async () => {
        outcome.textContent = 'Starting…';
        try {
          const task = await request('POST', `/tasks/trigger/${kind}`);
          await draw(main.querySelector('.tasks-data'));
          outcome.textContent = `Task ${task.task_id} (${task.kind}) is ${task.state}.`;
        } catch (error) {
          outcome.textContent = `Not started: ${error.message}`;
        }
      });
      buttons.append(button, ' ');
    }
  }
  const data = h('div', { class: 'tasks-data' });
  await draw(data);
  wait.replaceWith(data);
}

/** The queue, schedules, failures and recent jobs, as of now, into `into`. */
async function draw(into) {
  const [counts, schedules, failed, recent] = await Promise.all([
    Promise.all(STATES.map((state) => get('/tasks', { state, limit: 1 }))),
    get('/tasks/schedules'),
    get('/tasks', { state: 'failed', limit: 20 }),
    get('/tasks', { limit: 20 }),
  ]);
  into.replaceChildren(
    h('h2', {}, 'Queue'),
    figures(STATES.map((state, i) => [state, number.format(counts[i].total)])),
    h('h2', {}, 'Schedules (UTC)'),
    sortable([
      { label: 'Kind', value: (s) => s.kind, cell: (s) => s.kind },
      { label: 'Schedule', value: (s) => s.expression, cell: (s) => h('code', {}, s.expression) },
      { label: 'Next run', value: (s) => s.next_run ?? 0, cell: (s) => when(s.next_run) },
      { label: 'Last run', value: (s) => s.last_run ?? 0, cell: (s) => when(s.last_run) },
    ], schedules, 'What runs on its own'),
    h('h2', {}, 'Recent failures'),
    failed.items.length ? sortable(jobColumns, failed.items, 'Failed tasks, newest first')
      : h('p', {}, 'None.'),
    h('h2', {}, 'Recent tasks'),
    recent.items.length ? sortable(jobColumns, recent.items, 'The latest tasks, newest first')
      : h('p', {}, 'None yet.'));
}
