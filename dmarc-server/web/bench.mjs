// Dashboard timings in Chromium against a running `dmarc serve` (DASHBOARD_URL,
// DASHBOARD_EMAIL, DASHBOARD_PASSWORD): ROUNDS rounds (default 5) of
//   - a first visit: the sign-in form ready, and the bytes of the page and its files;
//   - sign-in: from the click to every chart drawn (the access token and 9 rollups);
//   - a reload, signed in (refresh cookie): from navigation to every chart drawn;
//   - a move to Sources and to Reports: from the click to the table drawn.
// Prints one JSON line per round and one with the medians and maxima.
import { chromium } from 'playwright-core';

const base = process.env.DASHBOARD_URL;
const rounds = Number(process.env.ROUNDS ?? 5);
const path = process.env.DASHBOARD_PATH ?? '/?period=all';
const b = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run'],
});
const charts = (page) => page.locator('[data-chart] canvas').nth(7).waitFor({ timeout: 120_000 });
const ms = (since) => Math.round(performance.now() - since);
const results = [];
for (let round = 1; round <= rounds; round += 1) {
  const context = await b.newContext();
  const page = await context.newPage();
  let bytes = 0;
  page.on('response', async (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/')) return;
    bytes += Number((await r.allHeaders())['content-length'] ?? 0);
  });
  let t = performance.now();
  await page.goto(`${base}${path}`);
  await page.getByLabel('E-mail').waitFor();
  const firstVisit = ms(t);
  await page.getByLabel('E-mail').fill(process.env.DASHBOARD_EMAIL);
  await page.getByLabel('Password').fill(process.env.DASHBOARD_PASSWORD);
  t = performance.now();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await charts(page);
  const signIn = ms(t);
  t = performance.now();
  await page.reload();
  await charts(page);
  const reload = ms(t);
  t = performance.now();
  await page.getByRole('link', { name: 'Sources' }).click();
  await page.locator('table.list tbody tr').first().waitFor({ timeout: 120_000 });
  const sources = ms(t);
  t = performance.now();
  await page.getByRole('link', { name: 'Reports' }).click();
  await page.locator('table.list tbody tr').first().waitFor({ timeout: 120_000 });
  const reports = ms(t);
  const result = { round, first_visit_ms: firstVisit, page_bytes: bytes, sign_in_to_charts_ms: signIn,
    reload_to_charts_ms: reload, to_sources_ms: sources, to_reports_ms: reports };
  console.log(JSON.stringify(result));
  results.push(result);
  await context.close();
}
const summary = {};
for (const key of Object.keys(results[0]).filter((k) => k !== 'round')) {
  const values = results.map((r) => r[key]).sort((x, y) => x - y);
  summary[key] = { median: values[Math.floor(values.length / 2)], max: values.at(-1) };
}
console.log(JSON.stringify({ path, rounds, ...summary }));
await b.close();
