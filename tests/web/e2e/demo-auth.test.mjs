/**
 * End-to-end test of the demo board with auth on (SPEC section 6, issue 10
 * "Demo"), on a real stack of its own started by scripts/run-stack.sh with
 * an HS256 secret file, in Debian's Chromium driven by playwright-core.
 *
 * The board signs in by user name (?user=) through the stack's DEV-ONLY
 * /dev/token; `todos` is per user (own). Two users in separate browser
 * contexts each see only their own todos, live across two tabs of the same
 * user; tokens of 35 s are refreshed through the client's token() hook
 * without a reconnect or a reload.
 *
 * Skips, with the reason, when the stack script, Chromium or playwright-core
 * is missing. Every wait has a deadline.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const STACK = process.env.TANDEM_E2E_STACK || path.join(ROOT, 'scripts/run-stack.sh');
const CHROMIUM = process.env.TANDEM_CHROMIUM || '/usr/bin/chromium';
const READY_MS = Number(process.env.TANDEM_E2E_READY_SECS || 180) * 1000;
const LIVE_MS = 2000;
const SECRET = 'e2e-demo-auth-secret-0123456789abcdef';

let playwright = null;
try { playwright = await import('playwright-core'); } catch { playwright = null; }

const skip = !fs.existsSync(STACK)
  ? `${path.relative(ROOT, STACK)} is absent`
  : !fs.existsSync(CHROMIUM)
    ? `${CHROMIUM} not found: install Debian's Chromium (apt-get install -y chromium)`
    : !playwright
      ? 'playwright-core is not installed: run npm ci'
      : false;

function listenOnce(port) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const { port: got } = srv.address();
      srv.close(() => resolve(got));
    });
  });
}

/** A port p with p and p + 1 free (nginx on p, the notifier on p + 1). */
async function freePort() {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await listenOnce(0);
    if (port >= 65535) continue;
    try {
      await listenOnce(port + 1);
      return port;
    } catch { /* p + 1 is taken */ }
  }
  throw new Error('no free pair of ports');
}

async function until(fn, { ms, what }) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) { last = err; }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function tail(file, lines = 60) {
  try { return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n'); } catch { return '(no log)'; }
}

const titles = (page) => page.$$eval('[data-testid="todo-item"] [data-testid="todo-title"]', (els) => els.map((e) => e.textContent));

if (skip) test('demo board with auth on', { skip }, () => {});
else describe('demo board with auth on', () => {
  let runDir;
  let stack;
  let stackExit = null;
  let base;
  let browser;
  const pageErrors = [];
  let failed = false;

  const killStack = () => { if (stack && stackExit === null) { try { stack.kill('SIGTERM'); } catch { /* gone */ } } };

  before(async () => {
    runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-e2e-auth-'));
    const secretFile = path.join(runDir, 'jwt-secret');
    fs.writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const log = fs.openSync(path.join(runDir, 'stack.log'), 'a');
    stack = spawn('bash', [STACK], {
      cwd: ROOT,
      env: {
        ...process.env, TANDEM_RUN_DIR: runDir, TANDEM_HTTP_PORT: String(port),
        TANDEM_JWT_SECRET_FILE: secretFile, TANDEM_DEV_TOKEN_TTL: '35s',
      },
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    stack.on('exit', (code, signal) => { stackExit = { code, signal }; });
    process.once('exit', killStack);
    await until(() => {
      if (stackExit) throw Object.assign(new Error('stop'), { fatal: true });
      return fs.existsSync(path.join(runDir, 'ready'));
    }, { ms: READY_MS, what: 'the stack' }).catch((err) => {
      throw new Error(`the stack did not come up: ${stackExit ? `launcher exited ${JSON.stringify(stackExit)}` : err.message}\n${tail(path.join(runDir, 'stack.log'))}`);
    });
    browser = await playwright.chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (stack && stackExit === null) {
      stack.kill('SIGTERM');
      await until(() => stackExit !== null, { ms: 20000, what: 'the stack to stop' }).catch(() => stack.kill('SIGKILL'));
    }
    process.removeListener('exit', killStack);
    if (runDir) {
      if (failed) console.log(`# stack run dir kept: ${runDir}\n${tail(path.join(runDir, 'stack.log'), 40)}`);
      else fs.rmSync(runDir, { recursive: true, force: true });
    }
  });

  const scenario = (name, fn) => test(name, async (t) => {
    try { await fn(t); } catch (err) { failed = true; throw err; }
  });

  /** A fresh browser context signed in as user; counts its /dev/token requests. */
  async function openBoard(user) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.devTokens = 0;
    page.on('request', (req) => { if (req.url().includes('/dev/token')) page.devTokens += 1; });
    page.on('pageerror', (err) => pageErrors.push(`${user}: ${err.message}`));
    page.on('dialog', (d) => d.dismiss()); // ?user= must be enough: no prompt
    await page.goto(`${base}/?user=${encodeURIComponent(user)}`);
    await page.waitForSelector('[data-testid="loading"]', { state: 'hidden', timeout: 10000 });
    await page.waitForSelector('[data-testid="conn-state"][data-state="live"]', { timeout: 10000 });
    assert.equal(await page.textContent('[data-testid="user"]'), `Signed in as ${user}`);
    await page.evaluate(() => {
      window.__states = [];
      window.tandemDemo.client.onState((s) => window.__states.push(s));
    });
    return page;
  }

  async function add(page, title) {
    await page.fill('[data-testid="new-title"]', title);
    await page.click('[data-testid="add"]');
    await until(async () => (await titles(page)).includes(title), { ms: 5000, what: `"${title}" on the writing page` });
  }

  scenario('the API needs a token: the board signs in by name', async () => {
    assert.equal((await fetch(`${base}/api/v1/todos`)).status, 401);
    const res = await fetch(`${base}/dev/token?sub=carol`);
    assert.equal(res.status, 200);
    const { token } = await res.json();
    assert.equal((await fetch(`${base}/api/v1/todos`, { headers: { Authorization: `Bearer ${token}` } })).status, 200);
  });

  scenario('two users each see only their own todos, live in every tab of theirs', async () => {
    const alice1 = await openBoard('alice');
    const alice2 = await openBoard('alice');
    const bob = await openBoard('bob');

    await add(alice1, 'Alice: buy milk');
    await until(async () => (await titles(alice2)).includes('Alice: buy milk'), { ms: LIVE_MS, what: "alice's second tab to show her todo live" });
    await add(bob, 'Bob: fix bike');
    await until(async () => (await titles(alice2)).length === 1 && (await titles(alice1)).length === 1,
      { ms: 1000, what: 'alice to still see one todo' });
    // Give any stray event time to arrive, then check nobody saw another's todo.
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await titles(alice1), ['Alice: buy milk']);
    assert.deepEqual(await titles(alice2), ['Alice: buy milk']);
    assert.deepEqual(await titles(bob), ['Bob: fix bike']);
    // A reload reads only one's own over REST too.
    await bob.reload();
    await bob.waitForSelector('[data-testid="conn-state"][data-state="live"]', { timeout: 10000 });
    assert.deepEqual(await titles(bob), ['Bob: fix bike']);
    assert.deepEqual(pageErrors, []);
    for (const p of [alice1, alice2, bob]) await p.context().close();
  });

  scenario('with auth on, Active is a live filtered view of one\'s own todos', async () => {
    const erin1 = await openBoard('erin');
    const erin2 = await openBoard('erin');
    const frank = await openBoard('frank');
    await add(erin1, 'Erin: water plants');
    await add(erin1, 'Erin: call mum');
    await add(frank, 'Frank: not for erin');
    await erin2.click('[data-testid="view-active"]');
    await erin2.waitForFunction(() => window.tandemDemo.viewName === 'active' && window.tandemDemo.view.loaded, null, { timeout: 5000 });
    await until(async () => (await titles(erin2)).length === 2, { ms: LIVE_MS, what: "erin's Active view to show her two todos" });
    await erin2.evaluate(() => { window.__noReload = true; });
    // Ticked in one tab: leaves the other tab's Active view at once.
    await erin1.click('[data-testid="todo-item"]:has-text("Erin: water plants") [data-testid="todo-done"]');
    await until(async () => JSON.stringify(await titles(erin2)) === JSON.stringify(['Erin: call mum']),
      { ms: LIVE_MS, what: "the ticked todo to leave erin's Active view" });
    await erin2.click('[data-testid="view-done"]');
    await until(async () => JSON.stringify(await titles(erin2)) === JSON.stringify(['Erin: water plants']),
      { ms: 5000, what: "erin's Done view" });
    assert.equal(await erin2.evaluate(() => window.__noReload), true, 'no reload');
    assert.deepEqual(pageErrors, []);
    for (const p of [erin1, erin2, frank]) await p.context().close();
  });

  scenario('a token expiring mid-session is refreshed through token() without a reconnect or reload', async () => {
    const dave = await openBoard('dave');
    const asked = dave.devTokens;
    // 35 s tokens: the client sends a fresh one 30 s before exp, about 5 s in.
    await until(() => dave.devTokens > asked, { ms: 15000, what: 'a second /dev/token request (the refresh)' });
    await new Promise((r) => setTimeout(r, 1000));
    // onState reports the current state at once: 'live', then nothing (no reconnect).
    assert.deepEqual(await dave.evaluate(() => window.__states), ['live'], 'the socket stayed live');
    const other = await openBoard('dave');
    await add(other, 'Dave: after the refresh');
    await until(async () => (await titles(dave)).includes('Dave: after the refresh'), { ms: LIVE_MS, what: 'a live event after the refresh' });
    assert.deepEqual(pageErrors, []);
    await dave.context().close();
    await other.context().close();
  });
});
