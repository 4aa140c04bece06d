// The dashboard's pages in Chromium: the session across reloads and sign-out, filters in
// the URL, click-to-filter, sources with drill-down, a report's page and download, upload
// outcomes, and what a viewer may not do. Figures are compared with the API's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, base, call, rows, signedIn, viewer, withPage } from './support.mjs';

const n = new Intl.NumberFormat('en');

/** The headline figures as shown. */
const figures = (page) => page.$$eval('dl.figures dt', (terms) =>
  Object.fromEntries(terms.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));

/** Waits until the overview shows `messages` as its message count. */
async function messagesShown(page, messages) {
  await page.locator('dl.figures dd').first().filter({ hasText: n.format(messages) }).waitFor();
}

test('the session survives a reload; signing out ends it, also after a reload', () => withPage(async (page) => {
  await signedIn(page, '/?period=all');
  const names = async () => (await page.context().cookies()).map((c) => c.name).sort();
  assert.deepEqual(await names(), ['dmarc_device', 'dmarc_refresh']);
  // Page scripts cannot read the refresh token.
  assert.equal(await page.evaluate(() => document.cookie), '');
  await page.reload();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  assert.equal(await page.getByLabel('Password').count(), 0);
  await page.getByRole('link', { name: 'Account' }).click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.deepEqual(await names(), ['dmarc_device']);
  await page.reload();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
}));

test('filters live in the URL, give the API figures, and back restores them', () => withPage(async (page) => {
  await signedIn(page, '/?period=all');
  const all = await api('/api/rollup/summary?preset=all');
  await messagesShown(page, all.messages);
  const [top] = await api('/api/rollup/by-domain?preset=all');
  await page.getByLabel('Domains', { exact: true }).selectOption(top.key);
  await page.getByLabel('DKIM', { exact: true }).selectOption('pass');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL((url) => url.searchParams.get('domain') === top.key && url.searchParams.get('dkim') === 'pass');
  const filtered = await api(`/api/rollup/summary?preset=all&domain=${top.key}&dkim=pass`);
  assert.notEqual(filtered.messages, all.messages);
  await messagesShown(page, filtered.messages);
  assert.equal((await figures(page)).Domains, '1');
  await page.goBack();
  await messagesShown(page, all.messages);
  assert.equal(new URL(page.url()).searchParams.get('domain'), null);
  // Custom dates: a day without reports.
  await page.getByLabel('Period').selectOption('custom');
  await page.getByLabel('From', { exact: true }).fill('2000-01-01');
  await page.getByLabel('To', { exact: true }).fill('2000-01-02');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL((url) => url.searchParams.get('period') === 'custom'
    && url.searchParams.get('from') === '2000-01-01' && url.searchParams.get('to') === '2000-01-02');
  await page.getByText('No reports in this period.').waitFor();
}));

test('a bar or a table row of a chart filters by it', () => withPage(async (page) => {
  await signedIn(page, '/?period=all');
  await page.locator('[data-chart="domains"] canvas').waitFor();
  // A click on the first bar of the domains chart, where Chart.js drew it.
  const [top] = await api('/api/rollup/by-domain?preset=all');
  const canvas = page.locator('[data-chart="domains"] canvas');
  const point = await canvas.evaluate((c) => {
    const bar = window.Chart.getChart(c).getDatasetMeta(0).data[0];
    return { x: bar.x, y: (bar.y + bar.base) / 2 };
  });
  await canvas.click({ position: point });
  await page.waitForURL((url) => url.searchParams.get('domain') === top.key);
  await messagesShown(page, top.messages);
  // The table's rows are links too (keyboards, screen readers).
  const section = page.locator('[data-chart="disposition"]');
  await section.getByText('Figures').click();
  await section.getByRole('link', { name: 'Quarantine' }).click();
  await page.waitForURL((url) => url.searchParams.get('disposition') === 'quarantine');
  const d = await api(`/api/rollup/summary?preset=all&domain=${top.key}&disposition=quarantine`);
  if (d.messages) await messagesShown(page, d.messages);
  else await page.getByText('No reports in this period.').waitFor();
}));

test('sources: the API figures, sorting, and drill-down to the reports naming one', () => withPage(async (page) => {
  await signedIn(page, '/?view=sources&period=all', undefined, 'Sources');
  const table = page.locator('table.list');
  await table.waitFor();
  const want = await api('/api/sources?preset=all&limit=50');
  const shown = await rows(page, 'table.list');
  assert.deepEqual(shown.map((r) => [r[0], r[1]]),
    want.items.map((s) => [s.source_ip ?? '(no address)', n.format(s.messages)]));
  const first = want.items.find((s) => s.activity);
  const row = shown.find((r) => r[0] === first.source_ip);
  assert.equal(row[7], new Date(first.activity.first_seen * 1000).toISOString().slice(0, 10));
  assert.equal(row[9], String(first.activity.reporters));
  // Messages, pressed twice: fewest first.
  await page.getByRole('button', { name: 'Messages' }).click();
  await page.getByRole('button', { name: 'Messages' }).click();
  assert.equal(await page.locator('th[aria-sort]').getAttribute('aria-sort'), 'ascending');
  const counts = (await rows(page, 'table.list')).map((r) => Number(r[1].replaceAll(',', '')));
  assert.deepEqual(counts, [...counts].sort((a, b) => a - b));
  await table.getByRole('link', { name: first.source_ip, exact: true }).click();
  await page.getByRole('heading', { name: `Reports naming ${first.source_ip}` }).waitFor();
  const reports = await api(`/api/reports?preset=all&source_ip=${first.source_ip}`);
  await page.locator('table.list tbody tr').first().waitFor();
  assert.equal(await page.locator('table.list tbody tr').count(), reports.items.length);
}));

test("a report's page: metadata, policy, records, and its input as received", () => withPage(async (page) => {
  await signedIn(page, '/?view=reports&period=all', undefined, 'Reports');
  const [first] = (await api('/api/reports?preset=all&limit=1')).items;
  await page.locator('table.list tbody tr th a').first().click();
  await page.waitForURL((url) => url.searchParams.get('id') === String(first.id));
  await page.getByRole('heading', { name: `Records (${n.format(first.records)})` }).waitFor();
  await page.getByRole('heading', { name: 'Published policy' }).waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download the input as received' }).click()]);
  const saved = await download.path();
  const { readFile } = await import('node:fs/promises');
  assert.deepEqual(await readFile(saved), await api(`/api/reports/${first.id}/input`));
  await page.getByText(/^Saved /).waitFor();
}, { acceptDownloads: true }));

const report = (id) => Buffer.from(`<?xml version="1.0"?>
<feedback><report_metadata><org_name>Browser Test</org_name><email>t@example.net</email>
<report_id>${id}</report_id><date_range><begin>1700000000</begin><end>1700086400</end></date_range>
</report_metadata><policy_published><domain>upload.example</domain><p>none</p></policy_published>
<record><row><source_ip>198.51.100.7</source_ip><count>5</count><policy_evaluated>
<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated></row>
<identifiers><header_from>upload.example</header_from></identifiers><auth_results><dkim>
<domain>upload.example</domain><result>pass</result></dkim><spf><domain>upload.example</domain>
<result>fail</result></spf></auth_results></record></feedback>`);

test('upload: each file shows accepted, duplicate naming the stored report, or rejected with the reason',
  () => withPage(async (page) => {
    await signedIn(page, '/?view=upload', undefined, 'Upload');
    const id = `browser-${Date.now()}`;
    const files = [
      { name: 'new.xml', mimeType: 'text/xml', buffer: report(id) },
      { name: 'again.xml', mimeType: 'text/xml', buffer: report(id) },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a report') },
    ];
    await page.locator('input[type=file]').setInputFiles(files);
    await page.getByText('3 of 3 files sent: 1 accepted, 1 duplicate, 1 rejected.').waitFor();
    const stored = (await api('/api/reports?domain=upload.example&preset=all')).items.find((r) => r.report_id === id);
    assert.ok(stored, 'the accepted report is stored');
    const outcome = (name) => page.locator(`li[data-file="${name}"] ul`);
    assert.match(await outcome('new.xml').textContent(), new RegExp(`^Accepted: report ${stored.id}, 1 records, 5 messages$`));
    assert.equal(await outcome('again.xml').textContent(), `Duplicate of report ${stored.id}`);
    assert.match(await outcome('notes.txt').textContent(), /^Rejected: not an aggregate report: the payload is plain text starting "not a report"$/);
    for (const name of ['new.xml', 'again.xml', 'notes.txt']) {
      assert.equal(await page.locator(`li[data-file="${name}"] .state`).textContent(), 'done');
    }
    await outcome('again.xml').getByRole('link').click();
    await page.getByRole('heading', { name: /^upload\.example: Browser Test/ }).waitFor();
  }));

test('a viewer has no upload and no download', () => withPage(async (page) => {
  await signedIn(page, '/?view=reports&period=all', viewer, 'Reports');
  assert.equal(await page.getByRole('link', { name: 'Upload' }).count(), 0);
  await page.locator('table.list tbody tr th a').first().click();
  await page.getByRole('heading', { name: 'Published policy' }).waitFor();
  assert.equal(await page.getByRole('button', { name: /Download/ }).count(), 0);
  await page.goto(`${base}/?view=upload`);
  await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
}));

test('tasks: the queue and schedules as the API has them, and a trigger', () => withPage(async (page) => {
  await signedIn(page, '/?view=tasks', undefined, 'Tasks');
  await page.getByRole('heading', { name: 'Schedules (UTC)' }).waitFor();
  const schedules = await api('/tasks/schedules');
  const shown = await rows(page, 'table.list:has(caption:text("What runs on its own"))');
  assert.deepEqual(shown.map((r) => [r[0], r[1]]), schedules.map((s) => [s.kind, s.expression]));
  await page.getByRole('button', { name: 'Process stored reports now' }).click();
  const started = await page.getByText(/^Task \d+ \(process-reports\) is (queued|running|succeeded)\.$/).textContent();
  const id = /^Task (\d+)/.exec(started)[1];
  const task = await api(`/tasks/status/${id}`);
  assert.equal(task.kind, 'process-reports');
  assert.equal(task.created_by, process.env.DASHBOARD_EMAIL);
  // The queue's figures are the API's totals per state.
  const figures = await page.$$eval('dl.figures dt', (terms) =>
    Object.fromEntries(terms.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
  assert.deepEqual(Object.keys(figures), ['queued', 'running', 'succeeded', 'failed']);
  const total = Object.values(figures).reduce((sum, v) => sum + Number(v), 0);
  assert.ok(total >= 1, JSON.stringify(figures));
}));

test('admin: create a user, change the role, disable; the audit log has it', () => withPage(async (page) => {
  await signedIn(page, '/?view=admin', undefined, 'Admin');
  const who = `new-${Date.now()}@example.com`;
  await page.getByLabel('E-mail', { exact: true }).fill(who);
  await page.getByLabel('Role', { exact: true }).selectOption('viewer');
  await page.getByLabel('Password', { exact: true }).fill('a long enough password');
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.getByText(`Create ${who}: done.`).waitFor();
  await page.getByLabel(`Role of ${who}`).selectOption('analyst');
  await page.getByText(`Role of ${who}: done.`).waitFor();
  await page.getByRole('button', { name: `Disable ${who}` }).click();
  await page.getByText(`Disable ${who}: done.`).waitFor();
  const user = (await api('/users')).find((u) => u.email === who);
  assert.equal(user.role, 'analyst');
  assert.equal(user.disabled, true);
  const audit = await rows(page, 'table.list:has(caption:text("Newest first"))');
  const actions = audit.filter((r) => r[3] === who).map((r) => r[2]);
  assert.deepEqual(actions, ['user.update', 'user.update', 'user.create']);
}));

test('account: an API key is shown once, works, and stops when revoked', () => withPage(async (page) => {
  await signedIn(page, '/?view=account', undefined, 'Account');
  const name = `key-${Date.now()}`;
  await page.getByLabel('Name of a new key').fill(name);
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = await page.locator('code.secret').textContent();
  const me = (k) => fetch(`${base}/users/me`, { headers: { 'x-api-key': k } });
  assert.equal((await me(key)).status, 200);
  await page.getByRole('button', { name: `Revoke ${name}` }).click();
  await page.getByText(`${name} is revoked.`).waitFor();
  assert.equal((await me(key)).status, 401);
  assert.equal(await page.locator('code.secret').count(), 0, 'the key is not shown again');
}));

test('a viewer has no admin page and no task buttons', () => withPage(async (page) => {
  await signedIn(page, '/?view=tasks', viewer, 'Tasks');
  await page.getByRole('heading', { name: 'Schedules (UTC)' }).waitFor();
  assert.equal(await page.getByRole('button', { name: /now$/ }).count(), 0);
  assert.equal(await page.getByRole('link', { name: 'Admin' }).count(), 0);
  await page.goto(`${base}/?view=admin`);
  await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
}));

test('account: changing the password ends the session; the new one signs in', () => withPage(async (page) => {
  const who = `changer-${Date.now()}@example.com`;
  const created = await call('POST', '/users', { email: who, role: 'viewer', password: process.env.DASHBOARD_PASSWORD });
  assert.equal(created.status, 201);
  await signedIn(page, '/?view=account', who, 'Account');
  await page.getByLabel('Current password').fill(process.env.DASHBOARD_PASSWORD);
  await page.getByLabel('New password').fill('another long password');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('Password changed. Sign in with the new password.').waitFor();
  await page.getByLabel('E-mail').fill(who);
  await page.getByLabel('Password').fill('another long password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Account', exact: true }).waitFor();
}));

test('upload: files dropped on the page', () => withPage(async (page) => {
  await signedIn(page, '/?view=upload', undefined, 'Upload');
  const id = `dropped-${Date.now()}`;
  const xml = report(id).toString();
  const drop = await page.evaluateHandle(([name, text]) => {
    const data = new DataTransfer();
    data.items.add(new File([text], name, { type: 'text/xml' }));
    return data;
  }, ['dropped.xml', xml]);
  await page.locator('.drop').dispatchEvent('drop', { dataTransfer: drop });
  await page.getByText('1 of 1 files sent: 1 accepted, 0 duplicate, 0 rejected.').waitFor();
  const stored = (await api('/api/reports?domain=upload.example&preset=all')).items.find((r) => r.report_id === id);
  assert.ok(stored, 'the dropped report is stored');
}));
