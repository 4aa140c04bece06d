// The overview in Chromium: sign in, and the headline figures are the API's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const base = process.env.DASHBOARD_URL;
const email = process.env.DASHBOARD_EMAIL;
const password = process.env.DASHBOARD_PASSWORD;

async function browser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
}

/** A page that records console errors and failed requests. */
async function watchedPage(b) {
  const page = await b.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`); });
  return { page, problems };
}

async function apiSummary() {
  const login = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const { access_token: token } = await login.json();
  const response = await fetch(`${base}/api/rollup/summary`, { headers: { authorization: `Bearer ${token}` } });
  return response.json();
}

test('sign in, then the headline figures are those of the API', async () => {
  const b = await browser();
  try {
    const { page, problems } = await watchedPage(b);
    await page.goto(base);
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const shown = await page.$$eval('dl dt', (terms) =>
      Object.fromEntries(terms.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
    const summary = await apiSummary();
    assert.ok(summary.messages > 0, 'the corpus is loaded');
    assert.deepEqual(shown, {
      Messages: String(summary.messages),
      Reports: String(summary.reports),
      Domains: String(summary.domains),
      Reporters: String(summary.organizations),
    });
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
