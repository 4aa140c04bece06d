// Accessibility in Chromium: axe-core's WCAG 2.1 A and AA rules on every page in the light
// and the dark theme, the pages at 375 px wide without sideways scrolling of the page, and
// the keyboard alone reaching and using the navigation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { api, browser, signedIn, watchedPage } from './support.mjs';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** Every page, by its URL, with the heading that says it is drawn. */
async function pages() {
  const [report] = (await api('/api/reports?preset=all&limit=1')).items;
  return [
    ['/?view=overview&period=all', '.impact table'],
    ['/?view=sources&period=all', 'table.list'],
    ['/?view=map&period=all', 'table.list'],
    ['/?view=sources&period=all&country=US', 'table.list'],
    ['/?view=anomalies', 'h2:text("Latest detection")'],
    ['/?view=reports&period=all', 'table.list'],
    [`/?view=report&id=${report.id}`, 'h2:text("Published policy")'],
    ['/?view=upload', '.drop'],
    ['/?view=alerts', 'h2:text("Rules")'],
    ['/?view=tasks', 'h2:text("Schedules (UTC)")'],
    ['/?view=admin', 'h2:text("Audit log")'],
    ['/?view=account', 'h2:text("API keys")'],
  ];
}

for (const colorScheme of ['light', 'dark']) {
  test(`every page passes axe-core's WCAG 2.1 AA rules in the ${colorScheme} theme`, async () => {
    const b = await browser();
    try {
      // axe-core is injected as a script, which the page's policy would refuse.
      const { page, problems } = await watchedPage(b, { colorScheme, bypassCSP: true });
      await signedIn(page, '/?period=all');
      const found = [];
      for (const [path, drawn] of await pages()) {
        await page.goto(new URL(path, page.url()).href);
        await page.locator(drawn).first().waitFor();
        await page.addScriptTag({ path: axePath });
        const violations = await page.evaluate(async () => {
          const result = await window.axe.run(document, {
            runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
          });
          return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 3)
            .map((n) => n.target.join(' ')).join(', ')}`);
        });
        found.push(...violations.map((v) => `${path}: ${v}`));
      }
      assert.deepEqual(found, []);
      assert.deepEqual(problems, []);
    } finally {
      await b.close();
    }
  });
}

test('at 375 px wide no page scrolls sideways (wide tables scroll in their box)', async () => {
  const b = await browser();
  try {
    const { page, problems } = await watchedPage(b, { viewport: { width: 375, height: 800 } });
    await signedIn(page, '/?period=all');
    const wide = [];
    for (const [path, drawn] of await pages()) {
      await page.goto(new URL(path, page.url()).href);
      await page.locator(drawn).first().waitFor();
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      if (width > 375) wide.push(`${path}: ${width} px`);
    }
    assert.deepEqual(wide, []);
    assert.deepEqual(problems, []);
  } finally {
    await b.close();
  }
});

test('the keyboard alone: skip link, navigation, a sortable header', async () => {
  const b = await browser();
  try {
    const { page, problems } = await watchedPage(b);
    await signedIn(page, '/?period=all');
    await page.locator('.impact table').waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to the content');
    // Tab on to the navigation's "Sources" and follow it with Enter.
    for (let i = 0; i < 10; i += 1) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(() => document.activeElement.textContent) === 'Sources') break;
    }
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Sources' }).waitFor();
    await page.locator('table.list').waitFor();
    await page.getByRole('button', { name: 'Messages' }).focus();
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('th[aria-sort]').textContent(), 'Messages');
    assert.deepEqual(problems, []);
  } finally {
    await b.close();
  }
});
