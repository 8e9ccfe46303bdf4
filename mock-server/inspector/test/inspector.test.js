// Drives the heldqr-mock inspector in a real browser (Debian's chromium through
// playwright-core), as a newcomer would use it: a client's create retried under
// --fault-reset, a replay, a 422; the page shows them live, groups the attempts of one key,
// masks the token, opens one by keyboard, resets; axe-core finds no serious or critical
// violation; any console error fails the run. It runs twice: without an admin token, and with
// one (the page asks for it once, then keeps a session cookie).
//
// Run by .ci/steps/inspector.sh: HELDQR_MOCK_BIN (the binary), INSPECTOR_OUT (where the
// screenshot goes), NODE_PATH (playwright-core and axe-core, installed outside the checkout).
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');

const BIN = process.env.HELDQR_MOCK_BIN;
const OUT = process.env.INSPECTOR_OUT || '.';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TOKEN = 'hkr_test_business'; // a dev token: the page may show "ness" and nothing more
const ADMIN = 'adm_inspector_5e1f7c';
const WAIT = 15000;

function log(msg) {
  process.stdout.write(`inspector test: ${msg}\n`);
}

// Starts the mock on 127.0.0.1:0 and resolves with its base URL once /healthz answers.
async function startMock(extra) {
  const args = ['--listen', '127.0.0.1:0', '--seed', '7', '--fault-reset', '0.5', '--fault-seed', '11', ...extra];
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const deadline = Date.now() + 60000;
  let base = null;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`heldqr-mock exited: ${err}`);
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
    if (m) { base = m[1]; break; }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!base) throw new Error(`heldqr-mock printed no address: ${out} ${err}`);
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return { child, base };
    } catch (_) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('heldqr-mock never answered /healthz');
}

// One API request, sent again (same key) until an answer arrives: what a retrying client does
// when the mock resets the connection after committing.
async function untilAnswered(base, method, apiPath, body, key) {
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  if (key) headers['idempotency-key'] = key;
  for (let attempt = 1; attempt <= 30; attempt += 1) {
    try {
      const res = await fetch(`${base}${apiPath}`, { method, headers, body });
      return { attempt, status: res.status, replay: res.headers.get('idempotent-replay'), json: await res.json() };
    } catch (_) { /* reset by the fault: retry with the same key */ }
  }
  throw new Error(`${method} ${apiPath} never answered`);
}

async function admin(base, method, apiPath, body, adminToken) {
  const headers = { 'content-type': 'application/json' };
  if (adminToken) headers.authorization = `Bearer ${adminToken}`;
  const res = await fetch(`${base}${apiPath}`, { method, headers, body: body && JSON.stringify(body) });
  assert.ok(res.ok, `${method} ${apiPath}: ${res.status}`);
}

async function run(browser, withAdmin) {
  const label = withAdmin ? 'with an admin token' : 'without an admin token';
  log(`-- ${label}`);
  const { child, base } = await startMock(withAdmin ? ['--admin-token', ADMIN] : []);
  const context = await browser.newContext({ viewport: { width: 1360, height: 1000 } });
  const page = await context.newPage();
  const problems = [];
  const urls = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => urls.push(r.url()));
  try {
    // A browser at the base URL the mock printed lands on the inspector.
    await page.goto(`${base}/`);
    assert.equal(new URL(page.url()).pathname, '/_mock/');

    if (withAdmin) {
      const dialog = page.locator('#login');
      await dialog.waitFor({ state: 'visible', timeout: WAIT });
      await page.getByRole('textbox', { name: 'Admin token' }).fill(ADMIN);
      await page.keyboard.press('Enter');
      await dialog.waitFor({ state: 'hidden', timeout: WAIT });
    }
    await page.locator('#live', { hasText: 'Live' }).waitFor({ timeout: WAIT });

    // A create retried under --fault-reset (the first attempt's answer is lost after the
    // create committed), so the retries are replays; then one more replay, then a 422.
    let key;
    let created;
    for (let i = 0; i < 10; i += 1) {
      key = `order-${withAdmin ? 'a' : 'b'}-${i}`;
      created = await untilAnswered(base, 'POST', '/api/v1/codes', JSON.stringify({ target_url: 'https://example.com/menu' }), key);
      if (created.attempt >= 2) break;
    }
    assert.ok(created.attempt >= 2, 'no create was reset: no retry to show');
    assert.equal(created.status, 201);
    assert.equal(created.replay, 'true', 'the retry that got an answer was a replay');
    const again = await untilAnswered(base, 'POST', '/api/v1/codes', JSON.stringify({ target_url: 'https://example.com/menu' }), key);
    assert.equal(again.replay, 'true');
    const attempts = created.attempt + again.attempt;
    const invalid = await untilAnswered(base, 'POST', '/api/v1/codes', JSON.stringify({ target_url: 'not a url' }), null);
    assert.equal(invalid.status, 422);
    const sc = created.json.data.shortcode;
    await admin(base, 'POST', `/_mock/codes/${sc}/scans`, { from: new Date(Date.now() - 20 * 864e5).toISOString().slice(0, 10), to: new Date().toISOString().slice(0, 10), per_day: 3, country: 'DE', device: 'mobile' }, withAdmin && ADMIN);
    await admin(base, 'POST', `/_mock/codes/${sc}/scans`, { from: new Date(Date.now() - 6 * 864e5).toISOString().slice(0, 10), to: new Date().toISOString().slice(0, 10), per_day: 2, country: 'FR', device: 'desktop' }, withAdmin && ADMIN);
    log(`sent: a create in ${created.attempt} attempts, a replay in ${again.attempt}, a 422 in ${invalid.attempt}`);

    // They appear without a reload, grouped: one created, the rest replays.
    const group = page.locator('#requests tr.group', { hasText: key });
    await group.waitFor({ timeout: WAIT });
    const summary = await group.locator('.group-summary').textContent();
    assert.equal(summary, `${attempts} attempts: 1 created, ${attempts - 1} replays`);
    assert.match(await group.textContent(), /token …ness/);
    await page.locator('#requests tr.req', { hasText: '422' }).first().waitFor({ timeout: WAIT });
    const resets = await page.locator('#requests tr.req', { hasText: 'connection_reset' }).count();
    assert.ok(resets >= 1, 'the reset attempt shows its fault');

    // The state: the code with its target and scans, the token's budget moving.
    const card = page.locator('#accounts .code', { hasText: sc });
    await card.waitFor({ timeout: WAIT });
    assert.match(await card.textContent(), /https:\/\/example\.com\/menu/);
    assert.match(await card.textContent(), /Countries: DE \d+% · FR \d+%/);
    const budget = page.locator('#tokens tr', { hasText: '…ness' });
    await budget.waitFor({ timeout: WAIT });
    assert.doesNotMatch(await budget.textContent(), /600 \/ 600/, 'the budget moved');

    // Open the first attempt by keyboard: its headers show the token masked, its body, the
    // answer's status.
    const firstAttempt = group.locator('xpath=following-sibling::tr[contains(@class,"req")]').last();
    await firstAttempt.locator('button').focus();
    await page.keyboard.press('Enter');
    const detail = page.locator('#detail-body');
    await detail.waitFor({ state: 'visible', timeout: WAIT });
    const text = await detail.textContent();
    assert.match(text, /authorization\s*Bearer \.\.\.ness/);
    assert.match(text, /connection_reset/);
    assert.match(text, /Response: 201/);
    assert.match(text, /"target_url": "https:\/\/example.com\/menu"/);
    assert.match(text, new RegExp(`Idempotency key\\s*${key}`));

    if (!withAdmin) {
      // What the README shows: a retried create grouped, one attempt open.
      fs.mkdirSync(OUT, { recursive: true });
      const shot = path.join(OUT, 'inspector.png');
      await page.screenshot({ path: shot });
      log(`screenshot: ${shot} (${fs.statSync(shot).size} bytes)`);
    }

    // The filters are the journal's.
    await page.getByLabel('Status').fill('422');
    await page.locator('#requests tr.group').first().waitFor({ state: 'detached', timeout: WAIT });
    const rows = await page.locator('#requests tr.req').allTextContents();
    assert.ok(rows.length >= 1 && rows.every((r) => r.includes('422')), `filtered rows: ${rows}`);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await group.waitFor({ timeout: WAIT });

    // No token beyond its last four characters, anywhere in the page or in a URL it loaded.
    const html = await page.content();
    assert.ok(!html.includes(TOKEN), 'a whole API token in the page');
    assert.ok(!html.includes(ADMIN), 'the admin token in the page');
    assert.ok(urls.every((u) => !u.includes(ADMIN) && !u.includes(TOKEN)), 'a token in a URL');

    // axe-core: no serious or critical violation (the login dialog too, when shown).
    const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
    await page.evaluate(axeSource);
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    for (const v of result.violations) log(`axe ${v.impact}: ${v.id} (${v.nodes.length}) ${v.help}`);
    assert.deepEqual(bad.map((v) => v.id), [], 'axe-core: serious or critical violations');

    if (withAdmin) {
      // Asked once: a reload keeps the session (a cookie, not the token).
      await page.reload();
      await page.locator('#live', { hasText: 'Live' }).waitFor({ timeout: WAIT });
      assert.equal(await page.locator('#login').isVisible(), false, 'asked for the token again');
      const cookies = await context.cookies(`${base}/_mock/`);
      const session = cookies.find((c) => c.name === 'heldqr_mock_session');
      assert.ok(session && session.httpOnly && session.sameSite === 'Strict' && session.path === '/_mock', JSON.stringify(cookies));
      assert.ok(!session.value.includes(ADMIN));
    }

    // Reset one account: another account's requests and codes stay.
    await page.getByLabel('Reset', { exact: true }).selectOption('acct_pro');
    await page.getByRole('button', { name: 'Reset', exact: true }).click();
    await page.locator('#control-status', { hasText: 'Account acct_pro reset.' }).waitFor({ timeout: WAIT });
    await group.waitFor({ timeout: WAIT });
    await card.waitFor({ timeout: WAIT });

    // Reset everything: the requests and the codes go.
    await page.getByLabel('Reset', { exact: true }).selectOption('');
    await page.getByRole('button', { name: 'Reset', exact: true }).click();
    await page.locator('#control-status', { hasText: 'Everything reset.' }).waitFor({ timeout: WAIT });
    await page.locator('#requests tbody tr').first().waitFor({ state: 'detached', timeout: WAIT });
    await page.locator('#accounts h4', { hasText: 'acct_business: 0 codes' }).waitFor({ timeout: WAIT });
    const left = await fetch(`${base}/_mock/requests`, { headers: withAdmin ? { authorization: `Bearer ${ADMIN}` } : {} });
    assert.deepEqual((await left.json()).data, []);

    // Move the clock; clear the journal after one more request.
    await page.getByLabel('Advance the clock by (seconds)').fill('86400');
    await page.getByRole('button', { name: 'Advance' }).click();
    await page.locator('#clock-offset', { hasText: 'advanced 86400 s' }).waitFor({ timeout: WAIT });
    await untilAnswered(base, 'GET', '/api/v1/codes', undefined, null);
    await page.locator('#requests tr.req').first().waitFor({ timeout: WAIT });
    await page.getByRole('button', { name: 'Clear the journal' }).click();
    await page.locator('#control-status', { hasText: 'Journal cleared.' }).waitFor({ timeout: WAIT });
    await page.locator('#requests tbody tr').first().waitFor({ state: 'detached', timeout: WAIT });

    assert.deepEqual(problems, [], 'console errors');
    log(`ok ${label}`);
  } finally {
    await context.close();
    child.kill('SIGTERM');
  }
}

(async () => {
  assert.ok(BIN, 'HELDQR_MOCK_BIN is not set');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    await run(browser, false);
    await run(browser, true);
  } finally {
    await browser.close();
  }
})().catch((e) => {
  process.stderr.write(`inspector test FAILED: ${e.stack || e}\n`);
  process.exit(1);
});
