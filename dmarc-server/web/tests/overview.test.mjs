// The overview in Chromium: sign-in, the headline figures and the eight charts' tables
// against the API's answers for the same period, the period in the URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, base, browser, email, rows as tableRows, signedIn, watchedPage } from './support.mjs';

/** The rows of a chart's table. */
const rows = (page, chart) => tableRows(page, `[data-chart="${chart}"]`);

const n = new Intl.NumberFormat('en');
const pct = (v) => `${(100 * v).toFixed(1)} %`;
const str = (v) => String(v);

test('sign in; the headline figures and all eight charts show the API figures', async () => {
  const b = await browser();
  try {
    const { page, problems } = await watchedPage(b);
    await signedIn(page, '/?period=all');
    await page.locator('[data-chart] canvas').nth(7).waitFor();
    const shown = await page.$$eval('dl.figures dt', (terms) =>
      Object.fromEntries(terms.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
    const s = await api('/api/rollup/summary');
    assert.ok(s.messages > 0, 'the corpus is loaded');
    assert.deepEqual(shown, {
      Messages: n.format(s.messages),
      'DMARC pass rate': `${(100 * s.dmarc_pass / s.messages).toFixed(1)} %`,
      'Failing messages': n.format(s.dmarc_fail),
      Domains: n.format(s.domains),
      Reporters: n.format(s.organizations),
    });
    const timeline = await api('/api/rollup/timeline?bucket=auto');
    assert.deepEqual(await rows(page, 'timeline'),
      timeline.map((x) => [x.day, str(x.dmarc_pass), str(x.dmarc_fail)]));
    const domains = await api('/api/rollup/by-domain');
    assert.deepEqual(await rows(page, 'domains'),
      domains.slice(0, 10).map((g) => [g.key, str(g.dmarc_pass), str(g.dmarc_fail)]));
    const sources = await api('/api/rollup/sources?limit=10');
    assert.deepEqual(await rows(page, 'sources'),
      sources.items.map((g) => [g.source_ip || '(none)', str(g.messages)]));
    const d = await api('/api/rollup/disposition');
    assert.deepEqual(await rows(page, 'disposition'),
      [['None', str(d.none)], ['Quarantine', str(d.quarantine)], ['Reject', str(d.reject)]]);
    const a = await api('/api/rollup/alignment');
    assert.deepEqual(await rows(page, 'alignment'), [
      ['DKIM', str(a.both_pass + a.dkim_only), str(a.spf_only + a.both_fail)],
      ['SPF', str(a.both_pass + a.spf_only), str(a.dkim_only + a.both_fail)],
    ]);
    // Every message is in one class of each breakdown.
    assert.equal(a.both_pass + a.dkim_only + a.spf_only + a.both_fail, s.messages);
    const c = await api('/api/rollup/compliance');
    assert.deepEqual(await rows(page, 'compliance'), [['Compliant', str(c.compliant)],
      ['Failing, enforced', str(c.failing_enforced)], ['Failing, delivered', str(c.failing_delivered)]]);
    const trend = await api('/api/rollup/failure-trend?bucket=auto');
    assert.deepEqual(await rows(page, 'trend'),
      trend.map((x) => [x.day, pct(x.failure_rate), pct(x.moving_average)]));
    const orgs = await api('/api/rollup/organizations');
    assert.deepEqual(await rows(page, 'organizations'),
      orgs.slice(0, 10).map((g) => [g.key, str(g.messages)]));
    // The enforcement impact per domain, most failing delivered messages first.
    const impact = await api('/api/rollup/enforcement?preset=all');
    assert.ok(impact.some((d) => d.failing_delivered > 0));
    await page.locator('.impact table').waitFor();
    assert.deepEqual((await tableRows(page, '.impact')).map((r) => [r[0], r[1], r[2], r[4]]),
      impact.map((d) => [d.domain, `p=${d.policy}; sp=${d.subdomain_policy}; pct=${d.pct}`,
        n.format(d.failing_delivered), n.format(d.sources)]));
    assert.deepEqual(problems, []);
  } finally {
    await b.close();
  }
});

test('the period is in the URL: choosing one changes the figures, back restores them', async () => {
  const b = await browser();
  try {
    const { page, problems } = await watchedPage(b);
    await signedIn(page, '/?period=all');
    await page.locator('[data-chart]').first().waitFor();
    const all = await page.locator('dl.figures').textContent();
    await page.getByLabel('Period').selectOption('7d');
    await page.waitForURL(/period=7d/);
    // The corpus is older than a week.
    await page.getByText('No reports in this period.').waitFor();
    assert.notEqual(await page.locator('dl.figures').textContent(), all);
    await page.goBack();
    await page.waitForURL(/period=all/);
    await page.locator('[data-chart]').first().waitFor();
    assert.equal(await page.locator('dl.figures').textContent(), all);
    assert.deepEqual(problems, []);
  } finally {
    await b.close();
  }
});

test('a wrong password is refused with a message, and nothing else fails', async () => {
  const b = await browser();
  try {
    const { page, problems } = await watchedPage(b);
    await page.goto(base);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Sign-in failed' }).waitFor();
    // The refused login is the one answer >= 400.
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems.join('\n'), /401: .*\/auth\/login/);
  } finally {
    await b.close();
  }
});
