// Takes the screenshots in docs/ from a running `dmarc serve` (DASHBOARD_URL,
// DASHBOARD_EMAIL, DASHBOARD_PASSWORD), for example on the 1,000,000-record benchmark
// database: node screenshots.mjs ../../docs/screenshots
import { mkdir } from 'node:fs/promises';
import { chromium } from 'playwright-core';

const [out = '../../docs/screenshots'] = process.argv.slice(2);
const base = process.env.DASHBOARD_URL;
await mkdir(out, { recursive: true });
const b = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run'],
});

async function shoot(name, path, ready, options = {}) {
  const page = await (await b.newContext({ viewport: { width: 1280, height: 900 }, ...options })).newPage();
  await page.goto(`${base}${path}`);
  await page.getByLabel('E-mail').fill(process.env.DASHBOARD_EMAIL);
  await page.getByLabel('Password').fill(process.env.DASHBOARD_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator(ready).first().waitFor({ timeout: 60_000 });
  await page.screenshot({ path: `${out}/${name}.png`, fullPage: options.fullPage ?? false });
  await page.context().close();
  console.log(`${out}/${name}.png`);
}

await shoot('overview', '/?period=all', '.impact table', { fullPage: true });
await shoot('overview-dark', '/?period=all', '.impact table', { colorScheme: 'dark' });
await shoot('sources', '/?view=sources&period=all', 'table.list');
await shoot('map', '/?view=map&period=all', 'table.list');
await shoot('phone', '/?period=all', '.impact table', { viewport: { width: 375, height: 812 }, deviceScaleFactor: 2 });
await b.close();
