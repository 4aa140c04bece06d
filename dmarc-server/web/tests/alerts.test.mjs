// The alerts page in Chromium: an admin creates a rule in the editor, has the rules
// evaluated, acknowledges and resolves an alert, opens and deletes a suppression window,
// edits and turns off the rule; every step is checked against the API. A viewer reads
// the same page without any control that changes something.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, base, browser, rows, signedIn, viewer, watchedPage } from './support.mjs';

const NAME = 'web failures';

/** Waits until `check()` (async) is true, or fails after `ms`. */
async function until(check, what, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('alerts: rule editor, evaluation, acknowledge and resolve, suppression windows', async () => {
  const b = await browser();
  try {
    const { page, problems } = await watchedPage(b);
    await signedIn(page, '/?view=alerts', undefined, 'Alerts');
    await page.getByRole('heading', { name: 'Rules' }).waitFor();

    // A rule over 20 years (the corpus is old), made in the editor.
    const form = page.getByRole('form', { name: 'New rule' });
    await form.getByLabel('Name').fill(NAME);
    await form.getByLabel('Kind').selectOption('failure_rate');
    await form.getByLabel('Severity').selectOption('warning');
    await form.getByLabel('Parameters (JSON)').fill('{"threshold": 0.05, "window_hours": 175200, "min_messages": 5}');
    await form.getByRole('button', { name: 'Create the rule' }).click();
    await page.getByText(`Create ${NAME}: done.`).waitFor();
    const rule = (await api('/alerts/rules')).find((r) => r.name === NAME);
    assert.deepEqual([rule.kind, rule.severity, rule.params.window_hours, rule.channels, rule.enabled],
      ['failure_rate', 'warning', 175200, [], true]);
    const shownRules = await rows(page, 'table.list:has(caption:text("Rules are evaluated"))');
    assert.ok(shownRules.some((r) => r[0] === NAME && r[1] === 'failure_rate'), JSON.stringify(shownRules));

    // Evaluate now: the task runs on the server's workers; the history shows its alerts.
    await page.getByRole('button', { name: 'Evaluate the rules now' }).click();
    const said = await page.getByText(/^Evaluation: task \d+ is (queued|running|succeeded)\.$/).textContent();
    const task = /task (\d+)/.exec(said)[1];
    await until(async () => (await api(`/tasks/status/${task}`)).state === 'succeeded', 'the evaluation');
    const created = await api(`/alerts/history?rule=${rule.id}&state=created`);
    assert.ok(created.total > 0, JSON.stringify(created));
    await page.goto(`${base}/?view=alerts&state=created`);
    await page.getByRole('heading', { name: 'History' }).waitFor();
    const history = await rows(page, 'table.list:has(caption:text("Newest first"))');
    const everyCreated = await api('/alerts/history?state=created&limit=50');
    assert.deepEqual(history.map((r) => r[0]), everyCreated.items.map((a) => `#${a.id}`));
    assert.ok(history.every((r) => r[3] === 'created'));
    // The rule names no channel: nothing was sent, as the API says.
    assert.deepEqual(await api(`/alerts/${created.items[0].id}/deliveries`), []);
    const row = page.locator('tbody tr').filter({
      has: page.getByRole('rowheader', { name: `#${created.items[0].id}`, exact: true }),
    });
    const sent = row.locator('details');
    await sent.locator('summary').click();
    await sent.locator('li').first().waitFor();
    assert.deepEqual(await sent.locator('li').allTextContents(), ['none']);
    const stats = await api('/alerts/analytics');
    const figures = await page.$$eval('dl.figures dt', (terms) =>
      Object.fromEntries(terms.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
    assert.equal(figures.Alerts, String(stats.total));

    // Acknowledge, then resolve, one alert (any state shown): the API has who and when.
    const id = created.items[0].id;
    await page.goto(`${base}/?view=alerts`);
    await page.getByRole('heading', { name: 'History' }).waitFor();
    await page.getByRole('button', { name: `Acknowledge alert ${id}` }).click();
    await page.getByText(`Acknowledge alert ${id}: done.`).waitFor();
    await page.getByRole('button', { name: `Resolve alert ${id}` }).click();
    await page.getByText(`Resolve alert ${id}: done.`).waitFor();
    const done = (await api(`/alerts/history?rule=${rule.id}&state=resolved`)).items.find((a) => a.id === id);
    assert.equal(done.acknowledged_by, process.env.DASHBOARD_EMAIL);
    assert.equal(done.resolved_by, process.env.DASHBOARD_EMAIL);
    assert.ok(done.resolved_at >= done.acknowledged_at);

    // A suppression window for the rule, then deleted.
    const window = page.getByRole('form', { name: 'New suppression window' });
    await window.getByLabel('Rule').selectOption({ label: NAME });
    await window.getByLabel('Until (UTC)').fill('2999-01-01T00:00');
    await window.getByLabel('Reason').fill('maintenance <b>window</b>');
    await window.getByRole('button', { name: 'Suppress' }).click();
    await page.getByText('New suppression window: done.').waitFor();
    const [suppression] = (await api('/alerts/suppressions')).filter((s) => s.rule_id === rule.id);
    assert.equal(suppression.ends_at, Date.UTC(2999, 0, 1) / 1000);
    const windows = await rows(page, 'table.list:has(caption:text("Alerts raised inside a window"))');
    assert.ok(windows.some((r) => r[2] === NAME && r[3] === 'maintenance <b>window</b>'), JSON.stringify(windows));
    await page.getByRole('button', { name: `Delete the suppression ${suppression.id}` }).click();
    await page.getByText('Delete the suppression: done.').waitFor();
    assert.equal((await api('/alerts/suppressions')).filter((s) => s.rule_id === rule.id).length, 0);

    // Edit the rule, then turn it off.
    await page.getByRole('button', { name: `Edit ${NAME}` }).click();
    const editor = page.getByRole('form', { name: `Edit ${NAME}` });
    await editor.getByLabel('Severity').selectOption('critical');
    await editor.getByLabel('teams').check();
    await editor.getByRole('button', { name: 'Save the rule' }).click();
    await page.getByText(`Save ${NAME}: done.`).waitFor();
    await page.getByRole('button', { name: `Turn off ${NAME}` }).click();
    await page.getByText(`${NAME}: done.`, { exact: true }).waitFor();
    const changed = (await api('/alerts/rules')).find((r) => r.id === rule.id);
    assert.deepEqual([changed.severity, changed.channels, changed.enabled], ['critical', ['teams'], false]);

    // A channel that is not configured says so (the server answers 409).
    await page.getByRole('button', { name: 'Test teams' }).click();
    await page.getByText(/^Test of teams: not done: the teams channel is not configured/).waitFor();
    assert.deepEqual(problems.map((p) => p.replace(base, '')).sort(), [
      '409: /alerts/channels/teams/test',
      'console: Failed to load resource: the server responded with a status of 409 (Conflict)',
    ]);
  } finally {
    await b.close();
  }
});

test('a viewer reads alerts, suppressions and rules, and changes nothing', async () => {
  const b = await browser();
  try {
    const { page, problems } = await watchedPage(b);
    await signedIn(page, '/?view=alerts', viewer, 'Alerts');
    await page.getByRole('heading', { name: 'Rules' }).waitFor();
    await page.locator('table.list:has(caption:text("Read only"))').waitFor();
    for (const name of [/^Acknowledge alert/, /^Resolve alert/, 'Evaluate the rules now', 'Suppress', 'Create the rule', /^Edit /, /^Test /]) {
      assert.equal(await page.getByRole('button', { name }).count(), 0, String(name));
    }
    const shown = await rows(page, 'table.list:has(caption:text("Read only"))');
    assert.deepEqual(shown.map((r) => r[0]).sort(), (await api('/alerts/rules', viewer)).map((r) => r.name).sort());
    assert.deepEqual(problems, []);
  } finally {
    await b.close();
  }
});
