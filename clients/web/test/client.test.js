// The client's calls, each checked exactly by a local stub of the functions
// (test/stub.js): node --test (after npm run build: this tests dist/).

import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createThreadsClient, ThreadsFunctionsError } from '../dist/index.js';
import { FRESH_TOKEN, TOKEN, fakeAuth, startStub } from './stub.js';

const KEY_RE = /^[0-9a-f]{32}$/;
const JOB = 'k0123456789abcdef0123456789abcdef';
const ACCOUNT = '17841400000000001';

let stub;
before(async () => {
  stub = await startStub();
});
after(() => stub.close());
beforeEach(() => stub.reset());

// A client of the stub with short retry delays (tests of the delays set their own).
function client(options = {}) {
  const auth = options.auth ?? fakeAuth();
  return createThreadsClient({ baseUrl: `${stub.url}/`, retry: { delays: [5, 10] }, ...options, auth });
}

const json = (headers = {}) => ({ authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers });
const publishReq = (body, key, headers = {}) => ({
  method: 'POST',
  path: '/thPublish',
  headers: json({ 'idempotency-key': key, ...headers }),
  body,
});
// The idempotency key the client made up, as the stub received it.
const sentKey = (i) => stub.received.at(i).headers['idempotency-key'];

async function rejects(promise, fields) {
  const err = await promise.then(
    (v) => assert.fail(`resolved with ${JSON.stringify(v)}`),
    (e) => e,
  );
  assert.ok(err instanceof ThreadsFunctionsError, `a ThreadsFunctionsError, got ${err}`);
  assert.equal(err.name, 'ThreadsFunctionsError');
  for (const [k, v] of Object.entries(fields)) assert.deepEqual(err[k], v, k);
  return err;
}

describe('connect', () => {
  test('connectThreads posts returnTo to thAuthStart and navigates to the authorize URL', async () => {
    const url = 'https://threads.example/oauth/authorize?client_id=1&state=' + 'a'.repeat(43);
    stub.expect(
      { method: 'POST', path: '/thAuthStart', headers: json(), body: { returnTo: 'https://app.example/settings?tab=1' } },
      { status: 200, json: { ok: true, url } },
    );
    const went = [];
    await client({ navigate: (u) => went.push(u) }).connectThreads({ returnTo: 'https://app.example/settings?tab=1' });
    assert.deepEqual(went, [url]);
    stub.done();
  });

  test('authorizeUrl without returnTo sends an empty object', async () => {
    stub.expect(
      { method: 'POST', path: '/thAuthStart', headers: json(), body: {} },
      { status: 200, json: { ok: true, url: `https://threads.example/a?state=${'s'.repeat(43)}` } },
    );
    assert.equal(await client().authorizeUrl(), `https://threads.example/a?state=${'s'.repeat(43)}`);
    stub.done();
  });

  test('an invalid returnTo is the function’s error, not retried', async () => {
    stub.expect(
      { method: 'POST', path: '/thAuthStart', headers: json(), body: { returnTo: 'https://evil.example/' } },
      { status: 400, json: { ok: false, error: { code: 'invalid_return_to', message: 'not an allowed origin' } } },
    );
    const went = [];
    await rejects(client({ navigate: (u) => went.push(u) }).connectThreads({ returnTo: 'https://evil.example/' }), {
      code: 'invalid_return_to',
      status: 400,
      message: 'not an allowed origin',
    });
    assert.deepEqual(went, [], 'no navigation');
    stub.done();
  });
});

describe('publish', () => {
  test('a text post: the body as given plus accountId, a fresh Idempotency-Key, the media id back', async () => {
    stub.expect(publishReq({ text: 'Hello, Threads!', replyControl: 'everyone', accountId: ACCOUNT }, KEY_RE), {
      status: 200,
      json: { ok: true, id: '1001', jobId: JOB, status: 'published' },
    });
    const r = await client().publish({ text: 'Hello, Threads!', replyControl: 'everyone' }, { accountId: ACCOUNT });
    assert.deepEqual(r, { status: 'published', jobId: JOB, id: '1001', ids: ['1001'], accountId: ACCOUNT });
    stub.done();
  });

  test('each publish call gets its own key; a given key is sent as is, and no accountId when none is given', async () => {
    const c = client();
    for (const text of ['one', 'two']) {
      stub.expect(publishReq({ text }, KEY_RE), { status: 200, json: { ok: true, id: '1', jobId: JOB, status: 'published' } });
    }
    await c.publish({ text: 'one' });
    await c.publish({ text: 'two' });
    assert.notEqual(sentKey(0), sentKey(1));
    stub.expect(publishReq({ text: 'three' }, 'my-key-1'), {
      status: 200,
      json: { ok: true, id: '3', jobId: JOB, status: 'published' },
    });
    await c.publish({ text: 'three' }, { idempotencyKey: 'my-key-1' });
    stub.done();
  });

  test('a thread: every part’s media id, in order', async () => {
    stub.expect(publishReq({ thread: ['a', 'b', 'c'] }, 'k-thread'), {
      status: 200,
      json: { ok: true, id: '11', ids: ['11', '12', '13'], jobId: JOB, accountId: ACCOUNT, status: 'published' },
    });
    const r = await client().publish({ thread: ['a', 'b', 'c'] }, { idempotencyKey: 'k-thread' });
    assert.deepEqual(r, { status: 'published', jobId: JOB, accountId: ACCOUNT, id: '11', ids: ['11', '12', '13'] });
    stub.done();
  });

  test('publish reports the account the functions picked', async () => {
    stub.expect(publishReq({ text: 'solo' }, 'k-solo'), {
      status: 202,
      json: { ok: true, status: 'pending', jobId: JOB, accountId: ACCOUNT },
    });
    const r = await client().publish({ text: 'solo' }, { idempotencyKey: 'k-solo' });
    assert.deepEqual(r, { status: 'pending', jobId: JOB, accountId: ACCOUNT });
    stub.done();
  });

  test('published without an id (confirmed through the container): ids is empty', async () => {
    stub.expect(publishReq({ text: 'x' }, 'k'), { status: 200, json: { ok: true, jobId: JOB, status: 'published' } });
    assert.deepEqual(await client().publish({ text: 'x' }, { idempotencyKey: 'k' }), {
      status: 'published',
      jobId: JOB,
      ids: [],
    });
    stub.done();
  });

  test('202 pending and 202 scheduled are results, not errors', async () => {
    const media = [
      { type: 'image', url: 'https://cdn.example/1.jpg' },
      { type: 'video', url: 'https://cdn.example/2.mp4' },
    ];
    stub.expect(publishReq({ media, accountId: ACCOUNT }, 'k1'), {
      status: 202,
      json: { ok: true, status: 'pending', jobId: JOB, accountId: ACCOUNT },
    });
    stub.expect(publishReq({ text: 'later', publishAt: '2030-01-02T03:04:05Z' }, 'k2'), {
      status: 202,
      json: { ok: true, status: 'scheduled', jobId: JOB, accountId: ACCOUNT, publishAt: '2030-01-02T03:04:05Z' },
    });
    const c = client();
    assert.deepEqual(await c.publish({ media }, { accountId: ACCOUNT, idempotencyKey: 'k1' }), {
      status: 'pending',
      jobId: JOB,
      accountId: ACCOUNT,
    });
    assert.deepEqual(await c.publish({ text: 'later', publishAt: '2030-01-02T03:04:05Z' }, { idempotencyKey: 'k2' }), {
      status: 'scheduled',
      jobId: JOB,
      accountId: ACCOUNT,
      publishAt: '2030-01-02T03:04:05Z',
    });
    stub.done();
  });
});

describe('retries', () => {
  test('503, then 200: retried once, with the same key and body, after the backoff', async () => {
    const body = { imageUrl: 'https://cdn.example/1.jpg', altText: 'a sunrise' };
    stub.expect(publishReq(body, 'k-503'), {
      status: 503,
      json: { ok: false, error: { code: 'unavailable', message: 'Firestore unreachable' } },
    });
    stub.expect(publishReq(body, 'k-503'), { status: 200, json: { ok: true, id: '7', jobId: JOB, status: 'published' } });
    const t0 = Date.now();
    const r = await client({ retry: { delays: [150] } }).publish(body, { idempotencyKey: 'k-503' });
    assert.ok(Date.now() - t0 >= 140, `waited the backoff (${Date.now() - t0} ms)`);
    assert.equal(r.id, '7');
    stub.done();
  });

  test('a generated key is the same on every retry', async () => {
    stub.expect(publishReq({ text: 'x' }, KEY_RE), { status: 503, json: { ok: false, error: { code: 'unavailable', message: '' } } });
    stub.expect(publishReq({ text: 'x' }, KEY_RE), { destroy: true });
    stub.expect(publishReq({ text: 'x' }, KEY_RE), { status: 200, json: { ok: true, id: '1', jobId: JOB, status: 'published' } });
    await client().publish({ text: 'x' });
    stub.done();
    assert.equal(stub.received.length, 3);
    assert.equal(sentKey(1), sentKey(0));
    assert.equal(sentKey(2), sentKey(0));
  });

  test('a network failure (the socket closed), then 200: retried with the same key', async () => {
    stub.expect(publishReq({ text: 'x' }, 'k-net'), { destroy: true });
    stub.expect(publishReq({ text: 'x' }, 'k-net'), { status: 200, json: { ok: true, id: '2', jobId: JOB, status: 'published' } });
    assert.equal((await client().publish({ text: 'x' }, { idempotencyKey: 'k-net' })).id, '2');
    stub.done();
  });

  test('an attempt over timeoutMs counts as a network failure and is retried', async () => {
    stub.expect(publishReq({ text: 'x' }, 'k-slow'), {
      status: 200,
      delayMs: 2000,
      json: { ok: true, id: 'late', jobId: JOB, status: 'published' },
    });
    stub.expect(publishReq({ text: 'x' }, 'k-slow'), { status: 200, json: { ok: true, id: '3', jobId: JOB, status: 'published' } });
    // The retry must answer within timeoutMs too: room for a busy machine.
    assert.equal((await client({ timeoutMs: 500 }).publish({ text: 'x' }, { idempotencyKey: 'k-slow' })).id, '3');
    stub.done();
  });

  test('an answer whose body is cut off is a network failure, retried with the same key', async () => {
    stub.expect(publishReq({ text: 'x' }, 'k-cut'), {
      status: 200,
      cutBody: true,
      json: { ok: true, id: 'lost', jobId: JOB, status: 'published' },
    });
    stub.expect(publishReq({ text: 'x' }, 'k-cut'), { status: 200, json: { ok: true, id: '5', jobId: JOB, status: 'published' } });
    assert.equal((await client().publish({ text: 'x' }, { idempotencyKey: 'k-cut' })).id, '5');
    stub.done();
  });

  test('no ID token for another attempt: network_error, with the key to try again later', async () => {
    const auth = fakeAuth();
    let calls = 0;
    const tokenFailure = new Error('auth/network-request-failed');
    auth.currentUser.getIdToken = async () => {
      if (++calls > 1) throw tokenFailure;
      return TOKEN;
    };
    stub.expect(publishReq({ text: 'x' }, 'k-tok'), { destroy: true });
    const err = await rejects(client({ auth }).publish({ text: 'x' }, { idempotencyKey: 'k-tok' }), {
      code: 'network_error',
      idempotencyKey: 'k-tok',
    });
    assert.equal(err.cause, tokenFailure);
    stub.done();
  });

  test('no ID token before anything is sent: Firebase’s error, unchanged', async () => {
    const auth = fakeAuth();
    const tokenFailure = new Error('auth/user-token-expired');
    auth.currentUser.getIdToken = async () => {
      throw tokenFailure;
    };
    await assert.rejects(client({ auth }).publish({ text: 'x' }, { idempotencyKey: 'k' }), (err) => err === tokenFailure);
    stub.done();
  });

  test('an empty idempotency key is refused before any request', async () => {
    for (const key of ['', '  ']) {
      await assert.rejects(client().publish({ text: 'x' }, { idempotencyKey: key }), TypeError);
    }
    assert.equal(stub.received.length, 0);
    stub.done();
  });

  test('unreachable three times: network_error, with the key to try again later', async () => {
    for (let i = 0; i < 3; i++) stub.expect(publishReq({ text: 'x' }, 'k-down'), { destroy: true });
    const err = await rejects(client().publish({ text: 'x' }, { idempotencyKey: 'k-down' }), {
      code: 'network_error',
      status: 0,
      idempotencyKey: 'k-down',
    });
    assert.match(err.message, /^thPublish could not be reached: /);
    assert.ok(err.cause instanceof Error, 'the fetch failure is the cause');
    stub.done();
  });

  test('503 three times: the function’s error, after three attempts', async () => {
    for (let i = 0; i < 3; i++) {
      stub.expect(publishReq({ text: 'x' }, 'k'), {
        status: 503,
        json: { ok: false, error: { code: 'unavailable', message: 'try again' } },
      });
    }
    await rejects(client().publish({ text: 'x' }, { idempotencyKey: 'k' }), {
      code: 'unavailable',
      status: 503,
      message: 'try again',
      idempotencyKey: 'k',
    });
    stub.done();
  });

  test('retry.attempts 1 turns retries off', async () => {
    stub.expect(publishReq({ text: 'x' }, 'k'), { destroy: true });
    await rejects(client({ retry: { attempts: 1 } }).publish({ text: 'x' }, { idempotencyKey: 'k' }), {
      code: 'network_error',
    });
    stub.done();
  });

  test('a 503 with Retry-After waits that long', async () => {
    stub.expect(publishReq({ text: 'x' }, 'k'), {
      status: 503,
      headers: { 'Retry-After': '1' },
      json: { ok: false, error: { code: 'unavailable', message: '' } },
    });
    stub.expect(publishReq({ text: 'x' }, 'k'), { status: 200, json: { ok: true, id: '4', jobId: JOB, status: 'published' } });
    const t0 = Date.now();
    await client().publish({ text: 'x' }, { idempotencyKey: 'k' });
    assert.ok(Date.now() - t0 >= 990, `waited Retry-After (${Date.now() - t0} ms)`);
    stub.done();
  });

  test('a 503 asking for more than maxRetryAfter is not retried; the error says how long', async () => {
    stub.expect(publishReq({ text: 'x' }, 'k'), {
      status: 503,
      headers: { 'Retry-After': '60' },
      json: { ok: false, error: { code: 'unavailable', message: 'later' } },
    });
    await rejects(client().publish({ text: 'x' }, { idempotencyKey: 'k' }), { code: 'unavailable', retryAfter: 60 });
    stub.done();
  });

  test('4xx answers are never retried, and map to the error’s fields', async () => {
    stub.expect(publishReq({ text: 'é'.repeat(251) }, 'k'), {
      status: 400,
      json: { ok: false, error: { code: 'text_too_long', message: 'text is 502 bytes of UTF-8' } },
    });
    await rejects(client().publish({ text: 'é'.repeat(251) }, { idempotencyKey: 'k' }), {
      code: 'text_too_long',
      status: 400,
      message: 'text is 502 bytes of UTF-8',
      jobId: undefined,
    });
    stub.done();

    stub.expect(publishReq({ text: 'x' }, 'k'), {
      status: 429,
      headers: { 'Retry-After': '3600' },
      json: { ok: false, jobId: JOB, status: 'failed', error: { code: 'quota_exceeded', message: '250 posts in 24 h' } },
    });
    await rejects(client().publish({ text: 'x' }, { idempotencyKey: 'k' }), {
      code: 'quota_exceeded',
      status: 429,
      retryAfter: 3600,
      jobId: JOB,
      jobStatus: 'failed',
    });
    stub.done();

    stub.expect(publishReq({ thread: ['a', 'b', 'c'] }, 'k'), {
      status: 422,
      json: {
        ok: false,
        jobId: JOB,
        status: 'failed',
        ids: ['21'],
        error: { code: 'chain_interrupted', message: 'part 2’s id is unknown' },
      },
    });
    await rejects(client().publish({ thread: ['a', 'b', 'c'] }, { idempotencyKey: 'k' }), {
      code: 'chain_interrupted',
      status: 422,
      jobId: JOB,
      jobStatus: 'failed',
      ids: ['21'],
    });
    stub.done();
  });

  test('an answer that is not the functions’ JSON: http_<status>, not retried', async () => {
    // A proxy's page: never the functions' answer (offSpec).
    stub.expect(publishReq({ text: 'x' }, 'k'), { status: 502, text: '<html>Bad Gateway</html>', offSpec: true });
    await rejects(client().publish({ text: 'x' }, { idempotencyKey: 'k' }), {
      code: 'http_502',
      status: 502,
      message: 'thPublish answered HTTP 502',
    });
    stub.done();
  });

  test('401 token_expired: once more with a token fetched anew', async () => {
    stub.expect(publishReq({ text: 'x' }, 'k'), {
      status: 401,
      json: { ok: false, error: { code: 'token_expired', message: 'expired' } },
    });
    stub.expect(publishReq({ text: 'x' }, 'k', { authorization: `Bearer ${FRESH_TOKEN}` }), {
      status: 200,
      json: { ok: true, id: '5', jobId: JOB, status: 'published' },
    });
    const auth = fakeAuth();
    assert.equal((await client({ auth }).publish({ text: 'x' }, { idempotencyKey: 'k' })).id, '5');
    assert.deepEqual(auth.forced, [false, true]);
    stub.done();
  });

  test('401 token_expired twice, or another 401: the error', async () => {
    const expired = { status: 401, json: { ok: false, error: { code: 'token_expired', message: 'expired' } } };
    stub.expect(publishReq({ text: 'x' }, 'k'), expired);
    stub.expect(publishReq({ text: 'x' }, 'k', { authorization: `Bearer ${FRESH_TOKEN}` }), expired);
    await rejects(client().publish({ text: 'x' }, { idempotencyKey: 'k' }), { code: 'token_expired', status: 401 });
    stub.done();
    stub.expect(publishReq({ text: 'x' }, 'k'), {
      status: 401,
      json: { ok: false, error: { code: 'token_revoked', message: 'sign in again' } },
    });
    await rejects(client().publish({ text: 'x' }, { idempotencyKey: 'k' }), { code: 'token_revoked', status: 401 });
    stub.done();
  });
});

// A Firebase user whose n-th getIdToken call (from 1) is slow: abort() runs
// while that token is being fetched, and the token comes after.
function authAbortingAt(n, abort) {
  const auth = fakeAuth();
  let calls = 0;
  auth.currentUser.getIdToken = (force = false) => {
    auth.forced.push(force);
    const token = force ? FRESH_TOKEN : TOKEN;
    if (++calls !== n) return Promise.resolve(token);
    return new Promise((resolve) =>
      setTimeout(() => {
        abort();
        setTimeout(() => resolve(token), 10);
      }, 10),
    );
  };
  return auth;
}

// Resolves once cond() holds (checked every 5 ms).
async function until(cond) {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

describe('abort', () => {
  test('aborted before the call: its reason, nothing sent', async () => {
    const reason = new Error('left the page');
    await assert.rejects(
      client().publish({ text: 'x' }, { idempotencyKey: 'k', signal: AbortSignal.abort(reason) }),
      (err) => err === reason,
    );
    assert.equal(stub.received.length, 0);
    stub.done();
  });

  test('aborted while the ID token is fetched: its reason, nothing sent', async () => {
    const ctl = new AbortController();
    const reason = new Error('left the page');
    const auth = authAbortingAt(1, () => ctl.abort(reason));
    await assert.rejects(
      client({ auth }).publish({ text: 'x' }, { idempotencyKey: 'k', signal: ctl.signal }),
      (err) => err === reason,
    );
    assert.equal(stub.received.length, 0, 'no request');
    stub.done();
  });

  test('aborted while the ID token for a retry is fetched: no other request, aborted with the key', async () => {
    stub.expect(publishReq({ text: 'x' }, KEY_RE), { destroy: true });
    const ctl = new AbortController();
    const reason = new Error('left the page');
    const auth = authAbortingAt(2, () => ctl.abort(reason));
    const err = await rejects(client({ auth }).publish({ text: 'x' }, { signal: ctl.signal }), {
      code: 'aborted',
      status: 0,
    });
    assert.equal(err.cause, reason);
    assert.match(err.idempotencyKey, KEY_RE);
    assert.equal(err.idempotencyKey, sentKey(0), 'the key the request was sent with');
    assert.equal(stub.received.length, 1, 'the first attempt only');
    stub.done();
  });

  test('aborted while the token is fetched anew after a 401 (cancelJob): its reason, no other request', async () => {
    stub.expect(
      { method: 'DELETE', path: '/thPublish', query: { jobId: JOB }, headers: { authorization: `Bearer ${TOKEN}` } },
      { status: 401, json: { ok: false, error: { code: 'token_expired', message: 'expired' } } },
    );
    const ctl = new AbortController();
    const auth = authAbortingAt(2, () => ctl.abort());
    await assert.rejects(client({ auth }).cancelJob(JOB, { signal: ctl.signal }), { name: 'AbortError' });
    assert.deepEqual(auth.forced, [false, true]);
    assert.equal(stub.received.length, 1, 'no request with the fresh token');
    stub.done();
  });

  test('aborted during the backoff: no other attempt, aborted with the key', async () => {
    stub.expect(publishReq({ text: 'x' }, 'k'), { destroy: true });
    const ctl = new AbortController();
    const p = client({ retry: { delays: [5_000] } }).publish({ text: 'x' }, { idempotencyKey: 'k', signal: ctl.signal });
    setTimeout(() => ctl.abort(), 100);
    const err = await rejects(p, { code: 'aborted', idempotencyKey: 'k' });
    assert.equal(err.cause?.name, 'AbortError', 'the signal’s reason is the cause');
    assert.equal(stub.received.length, 1);
    stub.done();
  });

  test('aborted while a publish request is in flight: aborted, with the key and the reason', async () => {
    stub.expect(publishReq({ text: 'x' }, 'k-fly'), {
      status: 200,
      delayMs: 300,
      json: { ok: true, id: 'late', jobId: JOB, status: 'published' },
    });
    const ctl = new AbortController();
    const reason = new Error('left the page');
    const p = client().publish({ text: 'x' }, { idempotencyKey: 'k-fly', signal: ctl.signal });
    await until(() => stub.received.length === 1);
    ctl.abort(reason);
    const err = await rejects(p, { code: 'aborted', status: 0, idempotencyKey: 'k-fly' });
    assert.equal(err.cause, reason);
    stub.done();
  });

  test('aborted while another call is in flight: its reason', async () => {
    stub.expect(
      { method: 'POST', path: '/thDisconnect', headers: json(), body: { accountId: ACCOUNT } },
      { status: 200, delayMs: 300, json: { ok: true } },
    );
    const ctl = new AbortController();
    const reason = new Error('left the page');
    const p = client().disconnect(ACCOUNT, { signal: ctl.signal });
    await until(() => stub.received.length === 1);
    ctl.abort(reason);
    await assert.rejects(p, (err) => err === reason);
    stub.done();
  });

  test('aborted as the answer is read: publish rejects, not resolves', async () => {
    const ctl = new AbortController();
    const sent = [];
    // A fetch that ignores the signal: the answer arrives whole, the abort meanwhile.
    const fetch = async (url, init) => {
      sent.push(init.headers['Idempotency-Key']);
      return {
        ok: true,
        status: 200,
        headers: new Headers({ 'Content-Type': 'application/json' }),
        text: async () => {
          ctl.abort();
          return JSON.stringify({ ok: true, id: '1', jobId: JOB, status: 'published' });
        },
      };
    };
    await rejects(client({ fetch }).publish({ text: 'x' }, { idempotencyKey: 'k-read', signal: ctl.signal }), {
      code: 'aborted',
      idempotencyKey: 'k-read',
    });
    assert.deepEqual(sent, ['k-read']);
  });
});

describe('cancelJob and disconnect', () => {
  test('cancelJob: DELETE thPublish?jobId=&accountId=, no body, no key', async () => {
    stub.expect(
      {
        method: 'DELETE',
        path: '/thPublish',
        query: { jobId: JOB, accountId: ACCOUNT },
        headers: { authorization: `Bearer ${TOKEN}` },
      },
      { status: 200, json: { ok: true, jobId: JOB, status: 'cancelled' } },
    );
    assert.deepEqual(await client().cancelJob(JOB, { accountId: ACCOUNT }), { status: 'cancelled', jobId: JOB });
    stub.done();
  });

  test('cancelJob without accountId; job_started', async () => {
    stub.expect(
      { method: 'DELETE', path: '/thPublish', query: { jobId: JOB }, headers: { authorization: `Bearer ${TOKEN}` } },
      { status: 409, json: { ok: false, error: { code: 'job_started', message: 'the job is published' } } },
    );
    await rejects(client().cancelJob(JOB), { code: 'job_started', status: 409 });
    stub.done();
  });

  test('disconnect: POST thDisconnect {accountId}', async () => {
    stub.expect(
      { method: 'POST', path: '/thDisconnect', headers: json(), body: { accountId: ACCOUNT } },
      { status: 200, json: { ok: true } },
    );
    assert.equal(await client().disconnect(ACCOUNT), undefined);
    stub.expect(
      { method: 'POST', path: '/thDisconnect', headers: json(), body: { accountId: '2' } },
      { status: 404, json: { ok: false, error: { code: 'account_not_found', message: 'no such account' } } },
    );
    await rejects(client().disconnect('2'), { code: 'account_not_found', status: 404 });
    stub.done();
  });
});

describe('setup', () => {
  test('no signed-in user: not_signed_in, nothing sent', async () => {
    await rejects(client({ auth: { currentUser: null } }).publish({ text: 'x' }), { code: 'not_signed_in', status: 0 });
    stub.done();
  });

  test('urls: a function’s own URL', async () => {
    stub.expect(
      { method: 'POST', path: '/own/publish', specPath: '/thPublish', headers: json({ 'idempotency-key': 'k' }), body: { text: 'x' } },
      { status: 200, json: { ok: true, id: '1', jobId: JOB, status: 'published' } },
    );
    const c = createThreadsClient({ auth: fakeAuth(), urls: { thPublish: `${stub.url}/own/publish` } });
    await c.publish({ text: 'x' }, { idempotencyKey: 'k' });
    await assert.rejects(c.disconnect('1'), /no baseUrl, and no URL for thDisconnect/);
    stub.done();
  });
});
