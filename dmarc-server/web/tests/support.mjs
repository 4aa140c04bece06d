// What the browser tests share: Chromium, a page that records what went wrong, the API
// with a token, and sign-in.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const base = process.env.DASHBOARD_URL;
export const email = process.env.DASHBOARD_EMAIL;
export const password = process.env.DASHBOARD_PASSWORD;
export const viewer = process.env.DASHBOARD_VIEWER_EMAIL;

export async function browser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
}

/** Runs `run` on a fresh page (context `options`) in a fresh browser; fails when the page
 * recorded a problem. */
export async function withPage(run, options) {
  const b = await browser();
  try {
    const { page, problems } = await watchedPage(b, options);
    await run(page);
    assert.deepEqual(problems, []);
  } finally {
    await b.close();
  }
}

/** A page that records console errors and failed requests. */
export async function watchedPage(b, options = {}) {
  const page = await (await b.newContext(options)).newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`); });
  return { page, problems };
}

const tokens = new Map();

/** GET `path` from the API as `who` (the admin by default): the JSON answer (bytes when
 * it is not JSON). */
export async function api(path, who = email) {
  const response = await call('GET', path, undefined, who);
  assert.equal(response.status, 200, path);
  const type = response.headers.get('content-type') ?? '';
  return type.includes('json') ? response.json() : Buffer.from(await response.arrayBuffer());
}

/** `method` `path` with the JSON `body` as `who` (the admin by default): the response. */
export async function call(method, path, body, who = email) {
  if (!tokens.has(who)) {
    const login = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: who, password }),
    });
    assert.equal(login.status, 200, `login ${who}`);
    tokens.set(who, (await login.json()).access_token);
  }
  const headers = { authorization: `Bearer ${tokens.get(who)}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** Opens `path` and signs in as `who`; waits for the view's heading. */
export async function signedIn(page, path, who = email, heading = 'Overview') {
  await page.goto(`${base}${path}`);
  await page.getByLabel('E-mail').fill(who);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: heading, exact: true }).waitFor();
}

/** The rows of the table under `selector`: [cells as shown]. */
export async function rows(page, selector) {
  return page.$$eval(`${selector} tbody tr`, (trs) =>
    trs.map((tr) => [...tr.children].map((cell) => cell.textContent)));
}
