// Alerts: the figures of the analytics, the history (filtered by state and severity, in
// pages) with acknowledge and resolve for analysts, the suppression windows (analysts add
// and delete them), and the rules (admins create, edit, turn off, delete; test a channel,
// send the digest now).
import { get, request } from './api.js';
import { field, figures, h, number, options, status, time } from './dom.js';
import { pager, sortable } from './table.js';
import { current, go, href } from './state.js';

const PAGE = 50;
const STATES = ['created', 'acknowledged', 'resolved', 'suppressed'];
const SEVERITIES = ['info', 'warning', 'critical'];
const CHANNELS = ['teams', 'slack', 'discord', 'email'];
/** Each kind's parameters as a rule starts with them (see the README). */
const KINDS = {
  failure_rate: { threshold: 0.05, window_hours: 24, min_messages: 100 },
  volume_spike: { factor: 3, window_hours: 24, baseline_days: 7, min_messages: 100 },
  new_source: { window_hours: 24, lookback_days: 30, min_failing: 10 },
  new_network: { window_hours: 24, lookback_days: 30, min_failing: 10 },
  missing_reports: { hours: 48 },
  policy_change: { window_hours: 24 },
  anomaly: { window_hours: 24, min_score: 0.6 },
};
const RANK = { viewer: 0, analyst: 1, admin: 2 };

const when = (seconds) => (seconds ? time(seconds) : '–');
const by = (who, at) => (at ? `${who ?? '?'}, ${time(at)}` : '–');
const minutes = (seconds) => (seconds == null ? '–' : `${number.format(Math.round(seconds / 60))} min`);
/** The options of `values` (each its own text), with an empty choice named `empty` first
 * when given. */
const choices = (values, selected, empty) =>
  options([...(empty ? [['', empty]] : []), ...values.map((v) => [v, v])], selected ?? '');

export async function alerts(main, context) {
  const role = RANK[context.user.role];
  const s = current();
  const wait = status();
  const message = h('p', { role: 'alert' });
  main.replaceChildren(h('h1', {}, 'Alerts'), message, wait);
  const filter = { state: s.state, severity: s.severity, limit: PAGE, offset: s.offset };
  const [stats, history, suppressions, rules] = await Promise.all([
    get('/alerts/analytics'),
    get('/alerts/history', filter),
    get('/alerts/suppressions'),
    get('/alerts/rules'),
  ]);
  wait.remove();
  const redraw = () => alerts(main, context);
  /** Runs a change; when done, draws the page again and says `what` with `outcome` of
   * the answer; otherwise says why not. */
  const change = async (what, method, path, json, outcome = () => 'done') => {
    let answer;
    try {
      answer = await request(method, path, { json });
    } catch (error) {
      message.textContent = `${what}: not done: ${error.message}`;
      return;
    }
    await redraw();
    main.querySelector('[role=alert]').textContent = `${what}: ${outcome(answer)}.`;
  };
  const button = (text, label, onclick, extra = {}) =>
    h('button', { type: 'button', 'aria-label': label, onclick, ...extra }, text);

  const count = (list, key) => list.find((c) => c.key === key)?.count ?? 0;
  const headline = figures([['Alerts', number.format(stats.total)],
    ...SEVERITIES.map((sev) => [sev, number.format(count(stats.by_severity, sev))]),
    ['Acknowledged', stats.acknowledged_share == null ? '–' : `${(100 * stats.acknowledged_share).toFixed(1)} %`],
    ['Time to acknowledge', minutes(stats.mean_seconds_to_acknowledge)],
    ['Time to resolve', minutes(stats.mean_seconds_to_resolve)]]);

  const filters = h('form', { class: 'inline', 'aria-label': 'Alert filter' },
    field('State', h('select', { name: 'state' }, choices(STATES, s.state, 'any'))),
    field('Severity', h('select', { name: 'severity' }, choices(SEVERITIES, s.severity, 'any'))),
    h('button', { type: 'submit' }, 'Show'));
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(filters);
    go(href({ view: 'alerts', state: data.get('state'), severity: data.get('severity') }));
  });

  const historyColumns = [
    { label: 'Alert', numeric: true, value: (a) => a.id, cell: (a) => `#${a.id}` },
    { label: 'Raised', value: (a) => a.created_at, cell: (a) => time(a.created_at) },
    { label: 'Severity', value: (a) => SEVERITIES.indexOf(a.severity), cell: (a) => a.severity },
    { label: 'State', value: (a) => a.state, cell: (a) => a.state },
    { label: 'Rule', value: (a) => a.rule_name, cell: (a) => a.rule_name },
    { label: 'What', value: (a) => a.summary, cell: (a) => a.summary },
    { label: 'Acknowledged', value: (a) => a.acknowledged_at ?? 0, cell: (a) => by(a.acknowledged_by, a.acknowledged_at) },
    { label: 'Resolved', value: (a) => a.resolved_at ?? 0, cell: (a) => by(a.resolved_by, a.resolved_at) },
    { label: 'Sent', cell: deliveries },
  ];
  if (role >= RANK.analyst) {
    historyColumns.push({ label: 'Actions', cell: (a) => h('span', { class: 'row-actions' },
      a.state === 'created' && button('Acknowledge', `Acknowledge alert ${a.id}`,
        () => change(`Acknowledge alert ${a.id}`, 'PATCH', `/alerts/${a.id}/acknowledge`)),
      ['created', 'acknowledged'].includes(a.state) && button('Resolve', `Resolve alert ${a.id}`,
        () => change(`Resolve alert ${a.id}`, 'PATCH', `/alerts/${a.id}/resolve`))) });
  }
  const evaluate = role >= RANK.analyst && button('Evaluate the rules now', undefined, () =>
    change('Evaluation', 'POST', '/tasks/trigger/alert-evaluation', undefined, (task) => `task ${task.task_id} is ${task.state}`));

  const ruleName = (id) => rules.find((r) => r.id === id)?.name ?? `rule ${id}`;
  const suppressionColumns = [
    { label: 'From', value: (w) => w.starts_at, cell: (w) => time(w.starts_at) },
    { label: 'Until', value: (w) => w.ends_at, cell: (w) => time(w.ends_at) },
    { label: 'Applies to', value: (w) => w.id, cell: (w) => [w.rule_id && ruleName(w.rule_id), w.domain,
      w.fingerprint && `fingerprint ${w.fingerprint.slice(0, 12)}…`].filter(Boolean).join(', ') || 'every alert' },
    { label: 'Reason', value: (w) => w.reason, cell: (w) => w.reason },
    { label: 'By', value: (w) => w.created_by, cell: (w) => w.created_by },
  ];
  if (role >= RANK.analyst) {
    suppressionColumns.push({ label: 'Actions', cell: (w) => button('Delete', `Delete the suppression ${w.id}`,
      () => change('Delete the suppression', 'DELETE', `/alerts/suppressions/${w.id}`), { class: 'danger' }) });
  }

  main.append(headline,
    h('section', {}, h('h2', {}, 'History'), filters, evaluate && h('p', { class: 'actions' }, evaluate),
      sortable(historyColumns, history.items, 'Newest first'), pager(history)),
    h('section', {}, h('h2', {}, 'Suppression windows'),
      sortable(suppressionColumns, suppressions, 'Alerts raised inside a window are recorded, not sent'),
      role >= RANK.analyst && suppressionForm(rules, change)),
    rulesSection(rules, role, change, button));
}

/** How an alert went to each channel, read when opened. */
function deliveries(alert) {
  const list = h('ul', { class: 'plain' });
  const details = h('details', {}, h('summary', {}, 'Deliveries'), list);
  details.addEventListener('toggle', async () => {
    if (!details.open || list.childElementCount) return;
    const found = await get(`/alerts/${alert.id}/deliveries`);
    const line = (d) => `${d.channel}: ${d.state} after ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}`
      + `${d.status_code ? ` (${d.status_code})` : ''}${d.error ? `: ${d.error}` : ''}`;
    list.replaceChildren(...(found.length ? found.map((d) => h('li', {}, line(d)))
      : [h('li', {}, alert.state === 'suppressed' ? 'none: suppressed' : 'none')]));
  });
  return details;
}

/** A new suppression window: what it applies to, until when, why. */
function suppressionForm(rules, change) {
  const form = h('form', { class: 'inline', 'aria-label': 'New suppression window' },
    field('Rule', h('select', { name: 'suppress_rule' },
      options([['', 'every rule'], ...rules.map((r) => [String(r.id), r.name])], ''))),
    field('Domain', h('input', { name: 'suppress_domain', placeholder: 'every domain' })),
    field('Until (UTC)', h('input', { name: 'suppress_until', type: 'datetime-local', required: true })),
    field('Reason', h('input', { name: 'suppress_reason', required: true, maxlength: 500 })),
    h('button', { type: 'submit' }, 'Suppress'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    change('New suppression window', 'POST', '/alerts/suppressions', {
      rule_id: data.get('suppress_rule') ? Number(data.get('suppress_rule')) : null,
      domain: data.get('suppress_domain') || null,
      ends_at: `${data.get('suppress_until')}:00Z`,
      reason: data.get('suppress_reason'),
    });
  });
  return h('div', {}, h('h3', {}, 'New suppression window'), form);
}

/** The rules; for admins, the editor (create, or edit the rule chosen), channel tests and
 * the digest. */
function rulesSection(rules, role, change, button) {
  const admin = role >= RANK.admin;
  const columns = [
    { label: 'Name', value: (r) => r.name, cell: (r) => r.name },
    { label: 'Kind', value: (r) => r.kind, cell: (r) => r.kind },
    { label: 'Domain', value: (r) => r.domain ?? '', cell: (r) => r.domain ?? 'every domain' },
    { label: 'Severity', value: (r) => SEVERITIES.indexOf(r.severity), cell: (r) => r.severity },
    { label: 'Parameters', cell: (r) => h('code', {}, JSON.stringify(r.params)) },
    { label: 'Cooldown', numeric: true, value: (r) => r.cooldown_minutes, cell: (r) => `${r.cooldown_minutes} min` },
    { label: 'Channels', cell: (r) => r.channels.join(', ') || 'none' },
    { label: 'Enabled', value: (r) => r.enabled, cell: (r) => (r.enabled ? 'yes' : 'no') },
  ];
  const section = h('section', {}, h('h2', {}, 'Rules'));
  if (!admin) {
    section.append(sortable(columns, rules, 'Read only: admins manage rules'));
    return section;
  }
  const editor = h('div');
  const edit = (rule) => {
    editor.replaceChildren(ruleForm(rule, change));
    editor.querySelector('input, select').focus();
  };
  columns.push({ label: 'Actions', cell: (r) => h('span', { class: 'row-actions' },
    button('Edit', `Edit ${r.name}`, () => edit(r)),
    button(r.enabled ? 'Turn off' : 'Turn on', `${r.enabled ? 'Turn off' : 'Turn on'} ${r.name}`,
      () => change(`${r.name}`, 'PATCH', `/alerts/rules/${r.id}`, { enabled: !r.enabled })),
    button('Delete', `Delete ${r.name}`, () => {
      if (confirm(`Delete the rule ${r.name}? Its alerts stay.`)) change(`Delete ${r.name}`, 'DELETE', `/alerts/rules/${r.id}`);
    }, { class: 'danger' })) });
  editor.append(ruleForm(null, change));
  const tests = h('p', { class: 'actions' },
    CHANNELS.map((channel) => button(`Test ${channel}`, undefined, () =>
      change(`Test of ${channel}`, 'POST', `/alerts/channels/${channel}/test`, undefined, (answer) => (answer.delivered
        ? `delivered (${answer.status_code})` : `not delivered: ${answer.error}`)))),
    button('Send the digest now', undefined, () => change('Digest', 'POST', '/alerts/digest/send', {}, (answer) => (answer.sent
      ? `sent to ${answer.recipients.join(', ')}` : `not sent: ${answer.skipped ?? answer.error}`))));
  section.append(sortable(columns, rules, 'Rules are evaluated hourly and after new reports'), editor,
    h('h3', {}, 'Channels'), tests);
  return section;
}

/** The form of a new rule, or of `rule` to change it. */
function ruleForm(rule, change) {
  const kind = rule?.kind ?? 'failure_rate';
  const params = h('textarea', { name: 'rule_params', rows: 3, cols: 50, required: true },
    JSON.stringify(rule?.params ?? KINDS[kind]));
  const kindSelect = h('select', { name: 'rule_kind' }, choices(Object.keys(KINDS), kind));
  kindSelect.addEventListener('change', () => { params.value = JSON.stringify(KINDS[kindSelect.value]); });
  const form = h('form', { class: 'inline', 'aria-label': rule ? `Edit ${rule.name}` : 'New rule' },
    field('Name', h('input', { name: 'rule_name', required: true, maxlength: 100, value: rule?.name ?? '' })),
    field('Kind', kindSelect),
    field('Domain', h('input', { name: 'rule_domain', placeholder: 'every domain', value: rule?.domain ?? '' })),
    field('Severity', h('select', { name: 'rule_severity' }, choices(SEVERITIES, rule?.severity ?? 'warning'))),
    field('Parameters (JSON)', params),
    field('Cooldown (minutes)', h('input', { name: 'rule_cooldown', type: 'number', min: 0, value: rule?.cooldown_minutes ?? 60 })),
    field('Resolve after clear for (minutes)', h('input', { name: 'rule_auto_resolve', type: 'number', min: 0,
      value: rule?.auto_resolve_minutes ?? 1440 })),
    h('fieldset', {}, h('legend', {}, 'Channels'), CHANNELS.map((channel) => h('label', {},
      h('input', { type: 'checkbox', name: 'rule_channels', value: channel, checked: rule?.channels.includes(channel) }),
      ` ${channel}`))),
    h('label', {}, h('input', { type: 'checkbox', name: 'rule_enabled', checked: rule?.enabled ?? true }), ' Enabled'),
    h('button', { type: 'submit' }, rule ? 'Save the rule' : 'Create the rule'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    let parsed;
    try {
      parsed = JSON.parse(data.get('rule_params'));
    } catch (error) {
      form.closest('main').querySelector('[role=alert]').textContent = `The parameters are not JSON: ${error.message}`;
      return;
    }
    const body = {
      name: data.get('rule_name'),
      kind: data.get('rule_kind'),
      domain: data.get('rule_domain') || null,
      severity: data.get('rule_severity'),
      params: parsed,
      cooldown_minutes: Number(data.get('rule_cooldown')),
      auto_resolve_minutes: Number(data.get('rule_auto_resolve')),
      channels: data.getAll('rule_channels'),
      enabled: data.get('rule_enabled') === 'on',
    };
    if (rule) change(`Save ${body.name}`, 'PATCH', `/alerts/rules/${rule.id}`, body);
    else change(`Create ${body.name}`, 'POST', '/alerts/rules', body);
  });
  return h('div', {}, h('h3', {}, rule ? `Edit ${rule.name}` : 'New rule'), form);
}
