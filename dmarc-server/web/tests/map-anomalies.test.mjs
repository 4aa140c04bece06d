// The country map and the anomalies page in Chromium: the map's countries are the API's and
// a country (on the map or in its table) opens its sources, identified per domain; an
// admin trains a model and an analyst runs a detection from the page, and injected spoofers
// are the top of the list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, base, email, password, rows, signedIn, viewer, withPage } from './support.mjs';

const n = new Intl.NumberFormat('en');
const names = new Intl.DisplayNames(['en'], { type: 'region' });
const CLASSES = {
  aligned_sender: 'Aligned sender', known_service_not_aligned: 'Known service, not aligned',
  forwarder: 'Forwarder', unknown: 'Unknown',
};

test('the map: the API countries, and a country on the map opens its identified sources', () => withPage(async (page) => {
  await signedIn(page, '/?view=map&period=all', email, 'Map');
  const map = await api('/analytics/geolocation/map?preset=all');
  const placed = map.countries.filter((c) => c.country);
  assert.ok(placed.length > 3, 'the corpus comes from several countries');
  await page.locator('table.list tbody tr').first().waitFor();
  const shown = await rows(page, 'table.list');
  assert.deepEqual(shown.map((r) => [r[0], r[1], r[2]]),
    placed.map((c) => [`${names.of(c.country)} (${c.country})`, n.format(c.messages), n.format(c.dmarc_fail)]));
  // A click where the choropleth drew the busiest country.
  const top = placed[0];
  const canvas = page.locator('.map canvas');
  const point = await canvas.evaluate((c, code) => {
    const chart = window.Chart.getChart(c);
    const index = chart.data.datasets[0].data.findIndex((d) => d.code === code);
    const element = chart.getDatasetMeta(0).data[index];
    const { x, y } = element.getCenterPoint();
    return { x, y, inside: element.inRange(x, y) };
  }, top.country);
  assert.ok(point.inside, `the centre of ${top.country} is on it`);
  await canvas.click({ position: { x: point.x, y: point.y } });
  await page.waitForURL((url) => url.searchParams.get('view') === 'sources' && url.searchParams.get('country') === top.country);
  await page.getByRole('heading', { level: 1, name: `Sources in ${names.of(top.country)}` }).waitFor();
  const want = await api(`/api/sources?preset=all&country=${top.country}&limit=50`);
  assert.equal(want.total, top.sources);
  await page.locator('table.list tbody tr').first().waitFor();
  const listed = await rows(page, 'table.list');
  assert.deepEqual(listed.map((r) => [r[0], r[1]]), want.items.map((s) => [s.source_ip, n.format(s.messages)]));
  // Sender identification as the API gives it, and the place.
  for (const [i, item] of want.items.entries()) {
    if (item.senders.length === 1) assert.ok(listed[i][5].startsWith(CLASSES[item.senders[0].class]), listed[i][5]);
    assert.ok(listed[i][6].startsWith(top.country), listed[i][6]);
  }
  // Back on the map, the table's link does the same for another country.
  await page.goBack();
  const other = placed[1];
  await page.getByRole('link', { name: `${names.of(other.country)} (${other.country})` }).click();
  await page.getByRole('heading', { level: 1, name: `Sources in ${names.of(other.country)}` }).waitFor();
  await page.getByRole('link', { name: 'All countries' }).click();
  await page.getByRole('heading', { level: 1, name: 'Sources', exact: true }).waitFor();
}));

const DAY = 86_400;
const SPOOFERS = ['203.0.113.66', '203.0.113.77'];

/** Reports of 10 UTC days ending a week ago (the last week stays empty, as the overview's
 * tests expect of the corpus): quiet unauthenticated sources (forwarders and
 * the like, a message or two on a few days), authenticated senders, and two spoofers
 * sending hundreds of failing messages a day on the last two of them, seen by 3 reporters. */
function generated() {
  const today = Math.floor(Date.now() / 1000 / DAY) * DAY;
  const files = [];
  const record = (ip, count, pass) => `<record><row><source_ip>${ip}</source_ip><count>${count}</count>
<policy_evaluated><disposition>${pass ? 'none' : 'reject'}</disposition><dkim>${pass ? 'pass' : 'fail'}</dkim>
<spf>${pass ? 'pass' : 'fail'}</spf></policy_evaluated></row><identifiers><header_from>anomaly.example</header_from>
</identifiers><auth_results><spf><domain>anomaly.example</domain><result>${pass ? 'pass' : 'fail'}</result></spf>
</auth_results></record>`;
  for (let d = 17; d >= 8; d -= 1) {
    const begin = today - d * DAY;
    for (const reporter of ['r1', 'r2', 'r3']) {
      const records = [];
      if (reporter === 'r1') {
        for (let i = 1; i <= 120; i += 1) if ((i + d) % 4 === 0) records.push(record(`198.51.100.${i}`, 1 + (i % 2), false));
        for (let i = 1; i <= 10; i += 1) records.push(record(`192.0.2.${i}`, 40 + i, true));
      }
      if (d <= 9) for (const ip of SPOOFERS) records.push(record(ip, 150, false));
      if (!records.length) continue;
      files.push([`${reporter}-${d}.xml`, `<?xml version="1.0"?><feedback><report_metadata><org_name>${reporter}.example</org_name>
<email>dmarc@${reporter}.example</email><report_id>anomaly-${reporter}-${begin}</report_id>
<date_range><begin>${begin}</begin><end>${begin + DAY - 1}</end></date_range></report_metadata>
<policy_published><domain>anomaly.example</domain><p>reject</p></policy_published>${records.join('')}</feedback>`]);
    }
  }
  return files;
}

test('anomalies: an admin trains, an analyst detects, the spoofers come first; a viewer only reads', () => withPage(async (page) => {
  const form = new FormData();
  for (const [name, xml] of generated()) form.append('files', new Blob([xml]), name);
  const token = (await (await fetch(`${base}/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  })).json()).access_token;
  const uploaded = await fetch(`${base}/api/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  assert.equal(uploaded.status, 200, await uploaded.text());

  await signedIn(page, '/?view=anomalies', email, 'Anomalies');
  await page.getByText('No detection has run yet.').or(page.locator('table.list')).first().waitFor();
  await page.getByRole('button', { name: 'Train a model' }).click();
  await page.getByText(/^Train a model: done/).waitFor({ timeout: 120_000 });
  const models = await api('/analytics/ml/models');
  const active = models.items.find((m) => m.active);
  assert.ok(active, 'the trained model is deployed');
  await page.locator('dl.figures dd').first().filter({ hasText: String(active.version) }).waitFor();
  await page.getByRole('button', { name: 'Detect now' }).click();
  await page.getByText(/^Detect now: done/).waitFor({ timeout: 120_000 });
  await page.locator('table.list tbody tr').first().waitFor();
  const recent = await api('/analytics/anomalies/recent?limit=50');
  const shown = await rows(page, 'table.list');
  assert.deepEqual(shown.map((r) => [r[0], r[1]]), recent.items.map((a) => [a.source_ip, a.score.toFixed(3)]));
  assert.deepEqual(shown.slice(0, 2).map((r) => r[0]).sort(), [...SPOOFERS].sort(), 'the spoofers are the top two');
  assert.ok(shown[0][3].startsWith('volume'), `what drove the score: ${shown[0][3]}`);
  // An address opens the reports that name it.
  await page.getByRole('link', { name: shown[0][0], exact: true }).click();
  await page.getByRole('heading', { name: `Reports naming ${shown[0][0]}` }).waitFor();
}));

test('anomalies: a viewer reads the list and has no buttons', () => withPage(async (page) => {
  await signedIn(page, '/?view=anomalies', viewer, 'Anomalies');
  await page.locator('table.list tbody tr').first().waitFor();
  assert.equal(await page.getByRole('button', { name: 'Train a model' }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Detect now' }).count(), 0);
  await page.getByLabel('Anomalous only').check();
  await page.waitForURL((url) => url.searchParams.get('anomalous') === 'true');
  const anomalous = await api('/analytics/anomalies/recent?anomalous=true&limit=50');
  if (anomalous.items.length) {
    await page.locator('table.list tbody tr').first().waitFor();
    assert.equal(await page.locator('table.list tbody tr').count(), anomalous.items.length);
  } else {
    await page.getByText('No anomalous source in the latest detection.').waitFor();
  }
}));
