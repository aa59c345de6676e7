// A user's journey through the demo app, in headless Chromium (Debian's
// package, driven by playwright-core): sign up, connect two simulated Threads
// accounts, refuse consent once, publish text to each account, an image and a
// carousel; schedule a post and cancel it, schedule another seconds ahead,
// publish a three-part thread and a post with a spoiler and a long text;
// then check that the Threads simulator's feed holds exactly the posts made
// (and never the cancelled one); see a post over the quota refused with when
// to try again; disconnect, and Meta's two callbacks.
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
import { setTimeout as sleep } from 'node:timers/promises';
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
  #expected = []; // HTTP errors a step provokes: { status, url, answered, logged }
  navigations = []; // every main-frame URL, in order
  #generation = 0; // main-frame navigations started so far
  #leaving = false; // a main-frame navigation started and has not committed yet
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
      if (m.type() !== 'error') return;
      // Chromium logs every HTTP error answer a page gets; an expected one
      // is logged once.
      const e = this.#expected.find(
        (x) => !x.logged && m.location().url === x.url && m.text().includes(`status of ${x.status} `),
      );
      if (e) e.logged = true;
      else note(`console error: ${m.text()} (at ${m.location().url || '?'})`);
    });
    page.on('pageerror', (e) => note(`uncaught exception in the page: ${e.message}`));
    page.on('request', (r) => {
      if (r.isNavigationRequest() && r.frame() === page.mainFrame()) {
        this.#generation++;
        this.#leaving = true;
        this.#startedIn.set(r, this.#generation);
      } else {
        // Until the new document commits, the old one still runs and may
        // start requests (the Firestore channel sending a message just as
        // the test navigates): those belong to the document being left.
        this.#startedIn.set(r, this.#leaving ? this.#generation - 1 : this.#generation);
      }
    });
    page.on('requestfailed', (r) => {
      const error = r.failure()?.errorText ?? 'unknown error';
      // Leaving a page cancels its requests still in flight, such as the
      // Firestore channel's long poll: net::ERR_ABORTED, for requests the
      // document made before the next main-frame navigation committed. Only
      // those are expected.
      const leftBehind = this.#startedIn.get(r) < this.#generation;
      if (error === 'net::ERR_ABORTED' && leftBehind) {
        this.cutOff.push(`${r.method()} ${r.url().replace(/\?.*/, '?…')}`);
        return;
      }
      note(`request failed: ${r.method()} ${r.url()}: ${error}`);
    });
    page.on('response', (r) => {
      if (r.status() < 400) return;
      const e = this.#expected.find((x) => !x.answered && r.url() === x.url && r.status() === x.status);
      if (e) e.answered = true;
      else note(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
    });
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) {
        this.#leaving = false; // the new document committed
        this.navigations.push(f.url());
      }
    });
  }

  stop() {
    this.#stopped = true;
  }

  // expectHTTPError lets the page get one answer of status from url (and
  // Chromium log it), which check then requires to have happened.
  expectHTTPError(status, url) {
    this.#expected.push({ status, url, answered: false, logged: false });
  }

  check() {
    for (const e of this.#expected.splice(0)) {
      if (!e.answered || !e.logged) {
        this.problems.push(`expected HTTP ${e.status} from ${e.url}: answered ${e.answered}, logged ${e.logged}`);
      }
    }
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

async function feedPosts(username) {
  return (await feed()).find((a) => a.username === username)?.posts ?? [];
}

// until polls fn until it returns something truthy, and returns that.
async function until(what, fn, { timeout = 30_000, every = 200 } = {}) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeout) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(every);
  }
}

// The parts of a post the journey decides.
const shape = (p) => ({
  mediaId: p.mediaId,
  mediaType: p.mediaType,
  text: p.text,
  children: p.children.length,
  mediaUrls: p.mediaUrls ?? [],
  replyToId: p.replyToId ?? '',
  spoilers: p.spoilers ?? [],
  longText: p.longText ? { plaintext: p.longText.plaintext, linkUrl: p.longText.linkUrl } : null,
});
// A post made, as shape describes it (what the feed must then hold).
const madePost = (username, { mediaId, mediaType = 'TEXT', text = '', children = 0, mediaUrls = [], ...more }) => ({
  username,
  ...shape({ mediaId, mediaType, text, children: { length: children }, mediaUrls, ...more }),
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
    if (['POST', 'DELETE'].includes(r.method()) && r.url().startsWith(`${FUNCTIONS_URL}/`)) {
      const h = r.headers();
      const u = new URL(r.url());
      calls.push({
        method: r.method(),
        fn: u.pathname.slice(1),
        query: Object.fromEntries(u.searchParams),
        bearer: /^Bearer \S+$/.test(h.authorization ?? ''),
        key: h['idempotency-key'],
        body: JSON.parse(r.postData() || 'null'),
      });
    }
  });
  const publishCalls = () => calls.filter((c) => c.fn === 'thPublish' && c.method === 'POST');

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
    made.push(
      madePost(username, { mediaId, mediaType, text, children: carousel.length, mediaUrls: imageUrl ? [imageUrl] : carousel }),
    );
  }

  // The job list's row of a job; with a status, only while the job has it.
  const jobRow = (jobId, status) =>
    page.locator(`#jobs li[data-job-id="${jobId}"]${status ? `[data-status="${status}"]` : ''}`);

  // A time `seconds` ahead, whole seconds, as the page's datetime-local
  // input takes it (the page's clock and time zone) and as UTC RFC 3339.
  async function timeIn(seconds) {
    return page.evaluate((s) => {
      const d = new Date(Date.now() + s * 1000);
      d.setMilliseconds(0);
      const p = (n) => String(n).padStart(2, '0');
      // Chromium gives a datetime-local value no ":00" seconds, so neither do we.
      const local =
        `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}` +
        (d.getSeconds() ? `:${p(d.getSeconds())}` : '');
      return { local, iso: d.toISOString().replace(/\.000Z$/, 'Z'), ms: d.getTime() };
    }, seconds);
  }

  // Schedule a text post `seconds` ahead through the composer; the job is
  // listed as scheduled, due at that time, with a Cancel button.
  async function schedule(username, text, seconds) {
    await page.selectOption('#account-select', accountIds[username]);
    await page.fill('#text', text);
    const at = await timeIn(seconds);
    await page.fill('#schedule-at', at.local);
    assert.equal(await page.textContent('#publish'), 'Schedule', 'the button says what it does');
    await page.click('#publish');
    const result = page.locator('#result[data-status="scheduled"]');
    await result.waitFor();
    const jobId = await result.getAttribute('data-job-id');
    assert.match(jobId, /^k[0-9a-f]{32}$/, 'the job id is shown');
    assert.equal(await result.getAttribute('data-publish-at'), at.iso, 'due at the time chosen');
    assert.equal(publishCalls().at(-1).body.publishAt, at.iso, 'publishAt is the local time chosen, in UTC');
    assert.equal(await page.inputValue('#schedule-at'), '', 'the composer is cleared');
    const row = jobRow(jobId, 'scheduled');
    await row.waitFor();
    assert.equal(await row.locator('.job-text').textContent(), text);
    assert.equal(await row.locator('.job-when time').getAttribute('datetime'), at.iso, 'the row shows when');
    assert.equal(await row.locator('button.cancel-job').count(), 1, 'a scheduled job can be cancelled');
    return { jobId, at };
  }

  // The simulator's feed page, in a second tab, for fn.
  async function onFeedPage(fn) {
    const feedPage = await context.newPage();
    try {
      await feedPage.goto(`${SIM_URL}/feed`);
      await fn(feedPage);
      await feedPage.screenshot({ path: `${stepFile}-feed.png`, fullPage: true });
    } finally {
      await feedPage.close();
    }
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

  // --- Scheduling, threads, spoilers and long text ---------------------------------------
  // The cancelled post is scheduled first and far enough ahead (30 s) to be
  // cancelled well before its time; its time then passes during the next
  // steps, while its account is still connected, and the feed check below
  // waits for it: the post must never appear, although its task came due.
  const cancelledPost = { text: `Scheduled by ${USER_A}, then cancelled (${run})`, jobId: '', at: null };

  await step('schedule a post, then cancel it', async () => {
    const { jobId, at } = await schedule(USER_A, cancelledPost.text, 30);
    Object.assign(cancelledPost, { jobId, at });
    await page.screenshot({ path: `${stepFile}-scheduled.png`, fullPage: true });
    await jobRow(jobId, 'scheduled').locator('button.cancel-job').click();
    const row = jobRow(jobId, 'cancelled');
    await row.waitFor();
    await page.locator('#notice', { hasText: 'Cancelled the scheduled post' }).waitFor();
    assert.ok(Date.now() < at.ms, 'cancelled before its time');
    assert.equal(await row.locator('button.cancel-job').count(), 0, 'nothing left to cancel');
    assert.match(await row.locator('.job-error').textContent(), /cancelled_by_owner/, 'the row says why');
    const del = calls.filter((c) => c.method === 'DELETE');
    assert.equal(del.length, 1, 'one DELETE');
    assert.equal(del[0].fn, 'thPublish');
    assert.deepEqual(del[0].query, { jobId, accountId: accountIds[USER_A] }, 'DELETE ?jobId&accountId');
    assert.ok(del[0].bearer, 'the DELETE carries the ID token');
    assert.equal(await page.locator('#error').isVisible(), false, 'no error shown');
    assert.ok(!(await feedPosts(USER_A)).some((p) => p.text === cancelledPost.text), 'not in the feed');
  });

  await step('schedule a post seconds ahead: it is published then, once', async () => {
    const text = `Scheduled by ${USER_A}, a few seconds ahead (${run})`;
    // Far enough ahead for scheduling it (form, thPublish, the job's row)
    // to end before its time on a busy machine.
    const { jobId, at } = await schedule(USER_A, text, 10);
    assert.ok(Date.now() < at.ms, 'scheduled before its time');
    assert.ok(!(await feedPosts(USER_A)).some((p) => p.text === text), 'not in the feed before its time');
    await page.screenshot({ path: `${stepFile}-scheduled.png`, fullPage: true });
    const posts = await until('the scheduled post in the feed', async () => {
      const found = (await feedPosts(USER_A)).filter((p) => p.text === text);
      return found.length ? found : null;
    });
    assert.ok(Date.now() >= at.ms, 'published at its time, not before');
    const row = jobRow(jobId, 'published');
    await row.waitFor();
    assert.equal(await row.locator('.job-media').getAttribute('data-media-ids'), posts[0].mediaId, 'the row shows the post id');
    assert.equal(await row.locator('button.cancel-job').count(), 0, 'a published job cannot be cancelled');
    assert.equal((await feedPosts(USER_A)).filter((p) => p.text === text).length, 1, 'published exactly once');
    made.push(madePost(USER_A, { mediaId: posts[0].mediaId, text }));
  });

  await step('publish a three-part thread: the feed threads the parts', async () => {
    const parts = [
      `A thread by ${USER_A} — part one 🧵`,
      'Part two: each part answers the one before.',
      'Part three, the last. ¡Fin!',
    ];
    await page.selectOption('#account-select', accountIds[USER_A]);
    await page.check('#thread-mode');
    // The live preview: one part per paragraph, with its size; one too long
    // is flagged.
    await page.fill('#text', `${parts[0]}\n\n${'é'.repeat(251)}`);
    await page.locator('#thread-preview .thread-part.over').waitFor();
    assert.equal(await page.locator('#thread-preview .thread-part.over').getAttribute('data-bytes'), '502');
    await page.fill('#text', `  ${parts[0]}\n\n${parts[1]}\n \n\n${parts[2]}\n`);
    const preview = page.locator('#thread-preview .thread-part');
    await page.locator('#thread-preview .thread-part:nth-child(3)').waitFor();
    assert.equal(await preview.count(), 3, 'three parts previewed');
    assert.deepEqual(await page.locator('#thread-preview .part-text').allTextContents(), parts);
    assert.deepEqual(
      await preview.evaluateAll((els) => els.map((e) => Number(e.dataset.bytes))),
      parts.map((p) => Buffer.byteLength(p)),
      'each part’s UTF-8 size',
    );
    assert.equal(await page.locator('#thread-preview .thread-part.over').count(), 0);
    await page.screenshot({ path: `${stepFile}-preview.png`, fullPage: true });
    await page.click('#publish');
    const result = page.locator('#result[data-status="published"]');
    await result.waitFor();
    const ids = (await result.getAttribute('data-media-ids')).split(',');
    assert.equal(ids.length, 3, 'three post ids');
    assert.ok(ids.every((id) => /^\d+$/.test(id)));
    assert.equal(await result.getAttribute('data-media-id'), ids[0], 'the first part’s id is the post’s');
    const body = publishCalls().at(-1).body;
    assert.deepEqual(body.thread, parts, 'sent as thread: [...]');
    assert.equal(body.text, undefined, 'no text with thread');
    assert.equal(await page.isChecked('#thread-mode'), false, 'the composer is reset');

    const jobId = await result.getAttribute('data-job-id');
    const row = jobRow(jobId, 'published');
    await row.waitFor();
    assert.equal(await row.locator('.job-progress').textContent(), 'part 3 of 3: all published');
    assert.equal(await row.locator('.job-media').getAttribute('data-media-ids'), ids.join(','));
    assert.equal(await row.locator('.job-text').textContent(), parts[0]);

    // feed.json: part 2 answers part 1, part 3 answers part 2.
    const posts = new Map((await feedPosts(USER_A)).map((p) => [p.mediaId, p]));
    const chain = ids.map((id) => posts.get(id));
    assert.ok(chain.every(Boolean), 'all three parts in the feed');
    assert.deepEqual(chain.map((p) => p.text), parts);
    assert.deepEqual(chain.map((p) => p.replyToId), ['', ids[0], ids[1]], 'a reply chain');
    // The feed page: the parts in order, each a reply one step deeper.
    await onFeedPage(async (feedPage) => {
      const order = await feedPage.locator('article.post').evaluateAll((els) => els.map((e) => e.dataset.mediaId));
      const at = order.indexOf(ids[0]);
      assert.deepEqual(order.slice(at, at + 3), ids, 'the parts read in order, top to bottom');
      const article = (id) => feedPage.locator(`article.post[data-media-id="${id}"]`);
      assert.equal(await article(ids[0]).evaluate((e) => e.classList.contains('reply')), false);
      for (const [i, id] of ids.entries()) {
        if (i === 0) continue;
        const a = article(id);
        assert.equal(await a.evaluate((e) => e.classList.contains('reply')), true, `part ${i + 1} is a reply`);
        assert.equal(await a.getAttribute('data-reply-to'), ids[i - 1], `part ${i + 1} answers part ${i}`);
        assert.equal(await a.getAttribute('data-depth'), String(i));
      }
    });
    for (const [i, id] of ids.entries()) {
      made.push(madePost(USER_A, { mediaId: id, text: parts[i], replyToId: i ? ids[i - 1] : '' }));
    }
  });

  await step('publish a post with a spoiler and a long text', async () => {
    const text = `🎭 Plot twist: the butler did it. Told by ${USER_B}.`;
    const hidden = 'the butler did it';
    const longText = `The whole story, at length.\n\nIt was a dark and stormy night… ${'Ça continue. '.repeat(40).trim()}`;
    const longTextLink = `https://stories.example.test/${run}/butler`;
    await page.selectOption('#account-select', accountIds[USER_B]);
    await page.fill('#text', text);
    // Select in the text box (UTF-16 offsets, as the page has them), mark it.
    const select = (from, to) => page.locator('#text').evaluate((e, [a, b]) => e.setSelectionRange(a, b), [from, to]);
    const i = text.indexOf(hidden);
    await select(i, i + hidden.length);
    await page.click('#mark-spoiler');
    await select(text.indexOf('Plot'), text.indexOf('Plot') + 4);
    await page.click('#mark-spoiler');
    assert.equal(await page.locator('#spoiler-list li').count(), 2);
    await page.locator('#spoiler-list li', { hasText: '“Plot”' }).locator('button.remove-spoiler').click();
    assert.equal(await page.locator('#spoiler-list li').count(), 1, 'a spoiler can be removed');
    // Threads counts code points: the emoji before the range is one, not two.
    const want = { offset: Array.from(text.slice(0, i)).length, length: hidden.length };
    assert.equal(want.offset, i - 1);
    const li = page.locator('#spoiler-list li');
    assert.equal(await li.getAttribute('data-offset'), String(want.offset));
    assert.match(await li.textContent(), /“the butler did it”/);
    await page.fill('#long-text', longText);
    await page.fill('#long-text-link', longTextLink);
    await page.screenshot({ path: `${stepFile}-composer.png`, fullPage: true });
    await page.click('#publish');
    const result = page.locator('#result[data-status="published"]');
    await result.waitFor();
    const mediaId = await result.getAttribute('data-media-id');
    const body = publishCalls().at(-1).body;
    assert.deepEqual(body.spoilers, [want], 'spoilers sent in code points');
    assert.equal(body.longText, longText);
    assert.equal(body.longTextLink, longTextLink);
    assert.equal(await page.locator('#spoiler-list li').count(), 0, 'the composer is reset');

    const post = (await feedPosts(USER_B)).find((p) => p.mediaId === mediaId);
    assert.ok(post, 'in the feed');
    assert.equal(post.text, text);
    assert.deepEqual(post.spoilers, [want], 'the feed has the spoiler as sent');
    assert.deepEqual(post.longText, { plaintext: longText, linkUrl: longTextLink, styles: [] }, 'and the long text');
    await onFeedPage(async (feedPage) => {
      const article = feedPage.locator(`article.post[data-media-id="${mediaId}"]`);
      assert.deepEqual(await article.locator('span.spoiler').allTextContents(), [hidden], 'the spoiler is blurred');
      assert.match(await article.locator('div.long-text').textContent(), /It was a dark and stormy night/);
    });
    made.push(madePost(USER_B, { mediaId, text, spoilers: [want], longText: { plaintext: longText, linkUrl: longTextLink } }));
  });

  await step('the feed holds exactly the posts made', async () => {
    // The cancelled post came due meanwhile (a few seconds' margin for the
    // task's delivery): its job must still be cancelled, and the feed
    // without it.
    const due = cancelledPost.at.ms + 4000 - Date.now();
    if (due > 0) await sleep(due);
    await page.selectOption('#account-select', accountIds[USER_A]);
    await jobRow(cancelledPost.jobId, 'cancelled').waitFor();
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
    // Text ×2, image, carousel, scheduled, three parts, spoiler.
    assert.equal(made.length, 9);
    assert.ok(!after.some((a) => a.posts.some((p) => p.text === cancelledPost.text)), 'the cancelled post is not in the feed');

    // How the app called the functions: an ID token each time, returnTo =
    // the page, and one idempotency key per submission.
    const starts = calls.filter((c) => c.fn === 'thAuthStart');
    const publishes = publishCalls();
    assert.equal(starts.length, 3, 'three connect attempts');
    // One call per submission: the four posts, the two scheduled, the
    // thread (one call, three posts) and the spoiler post.
    assert.equal(publishes.length, 8, 'one thPublish call per submission');
    const fresh = ['thread', 'split', 'numberParts', 'longText', 'longTextLink', 'spoilers', 'spoilerMedia', 'publishAt'];
    assert.ok(
      publishes.slice(0, 4).every((c) => fresh.every((f) => !(f in c.body))),
      'the first four posts send none of the newer fields',
    );
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

  await step('a post over the account’s quota: 429 quota_exceeded, with when to try again', async () => {
    // The simulator counts the account's quota spent (250 posts in 24 h).
    const setQuota = async (used) => {
      const resp = await fetch(`${SIM_URL}/simulate/quota`, {
        method: 'POST',
        body: new URLSearchParams({ username: USER_A, used: String(used) }),
      });
      assert.equal(resp.status, 200, `POST /simulate/quota used=${used}`);
    };
    await setQuota(250);
    watch.expectHTTPError(429, `${FUNCTIONS_URL}/thPublish`);
    try {
      const text = `Over the quota, by ${USER_A} (${run})`;
      await page.selectOption('#account-select', accountIds[USER_A]);
      await page.fill('#text', text);
      await page.click('#publish');
      const error = page.locator('#error[data-code="quota_exceeded"]');
      await error.waitFor();
      await page.locator('#result[data-status="error"]').waitFor();
      // Retry-After is not a CORS-safelisted header: the page reads it only
      // because thPublish exposes it (Access-Control-Expose-Headers).
      assert.equal(await error.getAttribute('data-retry-after'), '86400', 'the page read Retry-After');
      assert.match(await error.textContent(), /Try again in 24 h\./);
      assert.equal(publishCalls().at(-1).body.text, text);
      await page.screenshot({ path: `${stepFile}-quota.png`, fullPage: true });
      assert.ok(!(await feedPosts(USER_A)).some((p) => p.text === text), 'not in the feed');
    } finally {
      await setQuota(0);
    }
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

  await step('the cancelled post never reached the feed', async () => {
    const all = await feed();
    assert.ok(!all.some((a) => a.posts.some((p) => p.text === cancelledPost.text)), 'never published');
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
