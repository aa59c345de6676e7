// A user's journey through the demo app, in headless Chromium (Debian's
// package, driven by playwright-core): sign up, connect two simulated Threads
// accounts, refuse consent once, publish text to each account, an image and a
// carousel, then check that the Threads simulator's feed holds exactly the
// posts made.
//
// Run it through ./scripts/browser-test, which starts ./scripts/dev on test
// ports and passes the URLs below. It fails on any console error, any failed
// request (except requests cut off because the page navigated away) and any
// request to a non-loopback address. Screenshots of every step, and of a
// failing step, go to THREADSFN_ARTIFACTS_DIR (default test/browser/artifacts).
//
// Environment: THREADSFN_DEMO_URL, THREADSFN_SIM_URL, THREADSFN_CHROMIUM,
// THREADSFN_ARTIFACTS_DIR, THREADSFN_UPDATE_DOCS_SCREENSHOT=1 (also write
// docs/demo.png).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;
const DEMO_URL = env.THREADSFN_DEMO_URL || 'http://127.0.0.1:5173/';
const DEMO_ORIGIN = new URL(DEMO_URL).origin;
const SIM_URL = (env.THREADSFN_SIM_URL || 'http://127.0.0.1:8090').replace(/\/+$/, '');
const FUNCTIONS_URL = (env.THREADSFN_FUNCTIONS_URL || 'http://127.0.0.1:8081').replace(/\/+$/, '');
const CHROMIUM = env.THREADSFN_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = resolve(env.THREADSFN_ARTIFACTS_DIR || join(here, 'artifacts'));
const DOCS_SCREENSHOT = resolve(here, '../../docs/demo.png');
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// Set by ./scripts/browser-test, which has the simulator keep media
// processing past thPublish's budget: media posts must then show their job
// going from pending to published, live from Firestore.
const MEDIA_JOBS = env.THREADSFN_EXPECT_MEDIA_JOBS === '1';

const run = randomBytes(3).toString('hex');
const EMAIL = `journey-${run}@example.com`;
const PASSWORD = `pw-${run}-journey`;
const USER_A = `journey_a_${run}`;
const USER_B = `journey_b_${run}`;
const USER_C = `journey_c_${run}`;

// --- What the page may do ---------------------------------------------------------

function isLoopback(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (['data:', 'blob:', 'about:'].includes(u.protocol)) return true;
  const h = u.hostname;
  return h === 'localhost' || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

// Watch collects what must not happen: console errors, uncaught exceptions,
// failed requests, HTTP errors, and requests leaving the machine (blocked).
class Watch {
  problems = [];
  cutOff = []; // requests aborted because the page navigated away (tolerated)
  navigations = []; // every main-frame URL, in order
  #generation = 0; // main-frame navigations started so far
  #startedIn = new WeakMap(); // request -> generation of the document that made it
  #stopped = false;

  async attach(context, page) {
    const note = (p) => this.#stopped || this.problems.push(p);
    await context.route('**/*', (route) => {
      const req = route.request();
      if (isLoopback(req.url())) return route.continue();
      note(`request to a non-loopback address (blocked): ${req.method()} ${req.url()}`);
      return route.abort('blockedbyclient');
    });
    page.on('console', (m) => {
      if (m.type() === 'error') note(`console error: ${m.text()} (at ${m.location().url || '?'})`);
    });
    page.on('pageerror', (e) => note(`uncaught exception in the page: ${e.message}`));
    page.on('request', (r) => {
      if (r.isNavigationRequest() && r.frame() === page.mainFrame()) this.#generation++;
      this.#startedIn.set(r, this.#generation);
    });
    page.on('requestfailed', (r) => {
      const error = r.failure()?.errorText ?? 'unknown error';
      // Leaving a page cancels its requests still in flight, such as the
      // Firestore channel's long poll: net::ERR_ABORTED, after a main-frame
      // navigation started. Only those are expected.
      const leftBehind = this.#startedIn.get(r) < this.#generation;
      if (error === 'net::ERR_ABORTED' && leftBehind) {
        this.cutOff.push(`${r.method()} ${r.url().replace(/\?.*/, '?…')}`);
        return;
      }
      note(`request failed: ${r.method()} ${r.url()}: ${error}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) note(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
    });
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) this.navigations.push(f.url());
    });
  }

  stop() {
    this.#stopped = true;
  }

  check() {
    if (this.problems.length) {
      const list = this.problems.splice(0).map((p) => `  - ${p}`).join('\n');
      throw new Error(`the page misbehaved:\n${list}`);
    }
  }
}

// --- The simulator's feed ------------------------------------------------------------

async function feed() {
  const resp = await fetch(`${SIM_URL}/feed.json`);
  assert.equal(resp.status, 200, 'GET /feed.json');
  return (await resp.json()).accounts;
}

// The parts of a post the journey decides.
const shape = (p) => ({
  mediaId: p.mediaId,
  mediaType: p.mediaType,
  text: p.text,
  children: p.children.length,
  mediaUrls: p.mediaUrls ?? [],
});
const byId = (a, b) => a.mediaId.localeCompare(b.mediaId);

// --- The journey -------------------------------------------------------------------------

test('a user connects two Threads accounts and publishes through the demo app', { timeout: 600_000 }, async (t) => {
  await mkdir(ARTIFACTS, { recursive: true });
  for (const f of await readdir(ARTIFACTS)) {
    if (f.endsWith('.png')) await rm(join(ARTIFACTS, f));
  }
  console.log(`# screenshots: ${ARTIFACTS}`);

  const feedBefore = await feed();
  const watch = new Watch();
  const profile = await mkdtemp(join(tmpdir(), 'threadsfn-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1000, height: 900 },
    deviceScaleFactor: 1,
  });
  t.after(async () => {
    watch.stop();
    await context.close().catch(() => {});
    await rm(profile, { recursive: true, force: true });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  await watch.attach(context, page);

  let n = 0;
  let failed = false;
  let stepFile = ''; // the current step's screenshot path, without .png
  const shots = {};
  const step = (name, fn, { timeout = 60_000 } = {}) =>
    t.test(name, { skip: failed && 'an earlier step failed', timeout }, async () => {
      const file = join(ARTIFACTS, `${String(++n).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-')}`);
      stepFile = file;
      try {
        await fn();
        watch.check();
      } catch (err) {
        failed = true;
        await page.screenshot({ path: `${file}-FAILED.png`, fullPage: true }).catch(() => {});
        console.log(`# screenshot of the failure: ${file}-FAILED.png`);
        throw err;
      }
      await page.screenshot({ path: `${file}.png`, fullPage: true });
      shots[name] = `${file}.png`;
    });

  // The app's calls to the functions, as sent.
  const calls = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().startsWith(`${FUNCTIONS_URL}/`)) {
      const h = r.headers();
      calls.push({
        fn: new URL(r.url()).pathname.slice(1),
        bearer: /^Bearer \S+$/.test(h.authorization ?? ''),
        key: h['idempotency-key'],
        body: JSON.parse(r.postData() || 'null'),
      });
    }
  });

  const accountItem = (username) => page.locator(`#accounts li[data-username="${username}"]`);
  const accountIds = {};
  const made = []; // {username, mediaId, mediaType, text, children, mediaUrls}

  // The Threads round trip: Connect → the simulator's consent page.
  async function toConsent() {
    await page.click('#connect');
    await page.waitForURL((u) => u.href.startsWith(`${SIM_URL}/oauth/authorize?`));
    await page.locator('#allow').waitFor();
    assert.equal(await page.inputValue('#username'), 'sim_user', 'the consent page suggests sim_user');
  }
  // Back on the demo app: the URL was cleaned, after carrying the outcome.
  // want: the query parameters expected ({threads: 'connected'}, …); a
  // parameter given as a RegExp must match.
  async function backWithOutcome(want) {
    await page.waitForURL((u) => u.origin === DEMO_ORIGIN && u.search === '' && u.hash === '');
    const matches = (href) => {
      const u = new URL(href);
      return (
        u.origin === DEMO_ORIGIN &&
        Object.entries(want).every(([k, v]) => (v instanceof RegExp ? v.test(u.searchParams.get(k) ?? '') : u.searchParams.get(k) === v))
      );
    };
    const seen = watch.navigations.filter(matches);
    assert.ok(seen.length > 0, `returned to the app with ${JSON.stringify(want)}; navigations: ${watch.navigations.join(' → ')}`);
    watch.navigations.length = 0;
    return seen.at(-1);
  }

  // On the consent page: log in as username, Allow, and see the account listed.
  async function allow(username) {
    await page.fill('#username', username);
    await page.click('#allow');
    const back = await backWithOutcome({ threads: 'connected', accountId: /^\d+$/ });
    const li = accountItem(username);
    await li.waitFor();
    const id = await li.getAttribute('data-account-id');
    assert.equal(new URL(back).searchParams.get('accountId'), id, 'the accountId of the redirect is the listed account');
    await page.locator('#notice', { hasText: `Connected @${username}.` }).waitFor();
    assert.equal(await li.locator('.status').textContent(), 'active');
    assert.equal(await li.locator('.display-name').textContent(), username[0].toUpperCase() + username.slice(1));
    accountIds[username] = id;
  }
  async function connect(username) {
    await toConsent();
    await allow(username);
  }

  async function publish(username, { text = '', imageUrl = '', carousel = [] }, mediaType) {
    await page.selectOption('#account-select', accountIds[username]);
    await page.fill('#text', text);
    await page.fill('#image-url', imageUrl);
    await page.fill('#carousel-urls', carousel.join('\n'));
    await page.click('#publish');
    // 200 shows the id at once; a 202 job is followed live until published.
    if (MEDIA_JOBS && mediaType !== 'TEXT') {
      // The simulator keeps media processing longer than thPublish's 20 s
      // budget: the answer is 202 and the job finishes through Cloud Tasks.
      const pending = page.locator('#result[data-status="pending"]');
      await pending.waitFor();
      assert.match(await pending.textContent(), /Job k[0-9a-f]{32}, status (pending|accepted|container_created|publishing)/);
      await page.screenshot({ path: `${stepFile}-pending.png`, fullPage: true });
    }
    const result = page.locator('#result[data-status="published"]');
    await result.waitFor({ timeout: 100_000 });
    const mediaId = await result.getAttribute('data-media-id');
    assert.match(mediaId, /^\d+$/, 'the post id is shown');
    assert.equal(await page.locator('#error').isVisible(), false, 'no error shown');
    made.push({
      username,
      mediaId,
      mediaType,
      text,
      children: carousel.length,
      mediaUrls: imageUrl ? [imageUrl] : carousel,
    });
  }

  await step('open the demo app', async () => {
    await page.goto(DEMO_URL);
    await page.locator('#auth-section').waitFor();
  });

  await step('sign up', async () => {
    await page.fill('#email', EMAIL);
    await page.fill('#password', PASSWORD);
    await page.click('#signup');
    await page.locator('#user-email', { hasText: EMAIL }).waitFor();
    await page.locator('#no-accounts').waitFor();
  });

  await step('consent page', async () => {
    await toConsent();
    await page.fill('#username', USER_A);
  });

  await step('connect the first account', () => allow(USER_A));

  await step('connect a second account', async () => {
    await connect(USER_B);
    assert.equal(await page.locator('#accounts li').count(), 2);
    assert.notEqual(accountIds[USER_A], accountIds[USER_B]);
  });

  await step('deny consent', async () => {
    await toConsent();
    await page.click('#deny');
    await backWithOutcome({ threads: 'error', reason: 'access_denied' });
    const error = page.locator('#error[data-code="access_denied"]');
    await error.waitFor();
    assert.match(await error.textContent(), /access_denied/, 'the code is shown');
    await page.locator('#accounts li').nth(1).waitFor();
    assert.equal(await page.locator('#accounts li').count(), 2, 'still two accounts');
  });

  await step('publish text to the first account', () =>
    publish(USER_A, { text: `Hello from ${USER_A} — ça marche` }, 'TEXT'),
  );

  await step('publish text to the second account', () =>
    publish(USER_B, { text: `Hello from ${USER_B}` }, 'TEXT'),
  );

  await step(
    'publish an image',
    () => publish(USER_B, { text: 'An image post', imageUrl: `https://images.example.test/${run}/photo.jpg` }, 'IMAGE'),
    { timeout: 120_000 },
  );

  await step(
    'publish a carousel',
    () =>
      publish(
        USER_A,
        {
          text: 'A carousel of three',
          carousel: [1, 2, 3].map((i) => `https://images.example.test/${run}/${i}.jpg`),
        },
        'CAROUSEL',
      ),
    { timeout: 120_000 },
  );

  await step('the feed holds exactly the posts made', async () => {
    const after = await feed();
    const ours = new Set([USER_A, USER_B]);
    assert.deepEqual(
      after.filter((a) => !ours.has(a.username)),
      feedBefore.filter((a) => !ours.has(a.username)),
      'no other account changed',
    );
    assert.ok(!feedBefore.some((a) => ours.has(a.username)), 'the journey’s accounts are new');
    for (const username of ours) {
      const account = after.find((a) => a.username === username);
      assert.ok(account, `${username} is in the feed`);
      assert.equal(account.id, accountIds[username], `${username}'s id is the connected account's`);
      const want = made.filter((p) => p.username === username).map(({ username: _, ...p }) => p);
      assert.deepEqual(account.posts.map(shape).sort(byId), want.sort(byId), `${username}'s posts`);
    }
    assert.equal(made.length, 4);

    // How the app called the functions: an ID token each time, returnTo =
    // the page, and one idempotency key per submission.
    const starts = calls.filter((c) => c.fn === 'thAuthStart');
    const publishes = calls.filter((c) => c.fn === 'thPublish');
    assert.equal(starts.length, 3, 'three connect attempts');
    assert.equal(publishes.length, made.length, 'one thPublish call per post');
    assert.ok(calls.every((c) => c.bearer), 'every call carries a Bearer ID token');
    assert.ok(starts.every((c) => c.body.returnTo === DEMO_URL), 'returnTo is the demo page');
    const keys = publishes.map((c) => c.key);
    assert.ok(keys.every((k) => typeof k === 'string' && k.length > 0), 'Idempotency-Key sent');
    assert.equal(new Set(keys).size, keys.length, 'a new Idempotency-Key per submission');

    // The same, as a person sees it: the simulator's feed page.
    await page.goto(`${SIM_URL}/feed`);
    for (const username of ours) {
      const ids = await page
        .locator(`article.post[data-account="${username}"]`)
        .evaluateAll((els) => els.map((e) => e.dataset.mediaId));
      assert.deepEqual(
        ids.sort(),
        made.filter((p) => p.username === username).map((p) => p.mediaId).sort(),
      );
    }
  });

  await step('back in the demo app', async () => {
    await page.goto(DEMO_URL);
    await page.locator('#accounts li').nth(1).waitFor();
  });

  // --- The account lifecycle -------------------------------------------------
  await step('disconnect an account', async () => {
    await connect(USER_C);
    await accountItem(USER_C).locator('button.disconnect').click();
    await page.locator('#notice', { hasText: `Disconnected @${USER_C}.` }).waitFor();
    await accountItem(USER_C).waitFor({ state: 'detached' });
  });

  await step('Meta deauthorizes an account: the app shows it revoked', async () => {
    await page.goto(`${SIM_URL}/feed`);
    await page.click(`#deauthorize-${USER_A.replace(/\./g, '\\.')}`);
    await page.locator('#result[data-status="200"]').waitFor();
    await page.goto(DEMO_URL);
    const li = accountItem(USER_A);
    await li.locator('.status', { hasText: 'revoked' }).waitFor();
    assert.equal(await li.locator('button.reconnect').count(), 1, 'a revoked account offers Reconnect');
    assert.equal(await accountItem(USER_B).locator('.status').textContent(), 'active', 'the other account is untouched');
  });

  await step('Meta asks for data deletion: the account is gone and the status page says done', async () => {
    await page.goto(`${SIM_URL}/feed`);
    await page.click(`#delete-data-${USER_B.replace(/\./g, '\\.')}`);
    const code = (await page.locator('#confirmation-code').textContent()).trim();
    assert.match(code, /^[0-9a-f]{32}$/, 'a confirmation code');
    await page.click('#status-link');
    await page.locator('#status[data-status="done"]').waitFor();
    assert.ok(page.url().includes(`code=${code}`), 'the status page is the one for this request');
    await page.goto(DEMO_URL);
    await accountItem(USER_A).waitFor();
    await accountItem(USER_B).waitFor({ state: 'detached' });
  });

  watch.stop();
  const cut = new Map();
  for (const r of watch.cutOff) cut.set(r, (cut.get(r) ?? 0) + 1);
  console.log(`# requests cut off by a navigation (tolerated): ${watch.cutOff.length}`);
  for (const [r, count] of cut) console.log(`#   ${count} × ${r}`);
  if (!failed && env.THREADSFN_UPDATE_DOCS_SCREENSHOT === '1') {
    await copyFile(shots['publish a carousel'], DOCS_SCREENSHOT);
    console.log(`# updated ${DOCS_SCREENSHOT}`);
  }
});
