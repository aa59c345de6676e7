// watchJob: a job followed through a Firestore stand-in until it ends.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createThreadsClient, jobPath, ThreadsFunctionsError, watchJob } from '../dist/index.js';
import { fakeAuth } from './stub.js';

const JOB = 'k0123456789abcdef0123456789abcdef';
const PATH = `users/user-1/integrations/threads/accounts/17841400000000001/jobs/${JOB}`;

// The Firestore functions watchJob takes, over documents the test pushes:
// doc(db, path) -> {path}; onSnapshot(ref, next, error) -> unsubscribe.
function fakeFirestore() {
  const db = { name: 'db' };
  const listeners = [];
  const access = {
    firestore: db,
    doc(firestore, path) {
      assert.equal(firestore, db, 'doc gets the app’s firestore');
      return { path };
    },
    onSnapshot(ref, next, error) {
      const l = { path: ref.path, next, error, active: true };
      listeners.push(l);
      return () => {
        assert.ok(l.active, 'unsubscribed once');
        l.active = false;
      };
    },
  };
  const snap = (data) => ({ exists: () => data !== undefined, data: () => data });
  return {
    access,
    listeners,
    push(data) {
      for (const l of listeners) if (l.active) l.next(snap(data));
    },
    fail(err) {
      for (const l of listeners) if (l.active) l.error(err);
    },
  };
}

const job = (status, more = {}) => ({ jobId: JOB, uid: 'user-1', accountId: '17841400000000001', status, kind: 'IMAGE', request: '{}', ...more });

test('follows a job until it is published: every state seen, the media id, unsubscribed', async () => {
  const fs = fakeFirestore();
  const seen = [];
  const p = watchJob(fs.access, PATH, { onChange: (j) => seen.push(j.status) });
  assert.equal(fs.listeners[0].path, PATH);
  fs.push(job('accepted'));
  fs.push(job('container_created'));
  fs.push(job('published', { mediaId: '1001' }));
  fs.push(job('published', { mediaId: '1001' })); // after the end: ignored
  const end = await p;
  assert.deepEqual(seen, ['accepted', 'container_created', 'published']);
  assert.equal(end.status, 'published');
  assert.equal(end.id, '1001');
  assert.deepEqual(end.ids, ['1001']);
  assert.equal(end.jobId, JOB);
  assert.equal(end.job.mediaId, '1001');
  assert.equal(fs.listeners[0].active, false);
});

test('a reply chain: every part’s media id, in order', async () => {
  const fs = fakeFirestore();
  const p = watchJob(fs.access, PATH);
  const parts = ['11', '12', '13'].map((mediaId, i) => ({ text: `part ${i}`, status: 'published', mediaId }));
  fs.push(job('published', { mediaId: '11', parts }));
  const end = await p;
  assert.deepEqual([end.id, end.ids], ['11', ['11', '12', '13']]);
});

test('failed and cancelled end it too, with the job’s reason and message', async () => {
  for (const [status, error, want] of [
    ['failed', { reason: 'media_failed', message: 'ERROR: bad image' }, { reason: 'media_failed', message: 'ERROR: bad image' }],
    ['cancelled', { reason: 'cancelled_by_owner', message: '' }, { reason: 'cancelled_by_owner', message: '' }],
    ['cancelled', null, { reason: 'cancelled', message: '' }],
  ]) {
    const fs = fakeFirestore();
    const p = watchJob(fs.access, PATH);
    fs.push(job('scheduled'));
    fs.push(job(status, { error }));
    const end = await p;
    assert.equal(end.status, status);
    assert.deepEqual({ reason: end.reason, message: end.message }, want);
    assert.equal(fs.listeners[0].active, false);
  }
});

test('a document not there yet is waited for; deleted once seen, it is job_deleted', async () => {
  const fs = fakeFirestore();
  const p = watchJob(fs.access, PATH);
  fs.push(undefined);
  fs.push(job('accepted'));
  fs.push(undefined);
  await assert.rejects(p, (err) => err instanceof ThreadsFunctionsError && err.code === 'job_deleted');
  assert.equal(fs.listeners[0].active, false);
});

test('the listener’s error rejects it', async () => {
  const fs = fakeFirestore();
  const p = watchJob(fs.access, PATH);
  const denied = Object.assign(new Error('Missing or insufficient permissions.'), { code: 'permission-denied' });
  fs.fail(denied);
  await assert.rejects(p, denied);
  assert.equal(fs.listeners[0].active, false);
});

test('an abort stops it', async () => {
  const fs = fakeFirestore();
  const ctl = new AbortController();
  const p = watchJob(fs.access, PATH, { signal: ctl.signal });
  fs.push(job('accepted'));
  ctl.abort();
  await assert.rejects(p, { name: 'AbortError' });
  assert.equal(fs.listeners[0].active, false);
  await assert.rejects(watchJob(fs.access, PATH, { signal: ctl.signal }), { name: 'AbortError' });
  assert.equal(fs.listeners.length, 1, 'an aborted signal subscribes to nothing');
});

test('doc or onSnapshot throwing rejects it, and leaves no listener on the signal', async () => {
  for (const which of ['doc', 'onSnapshot']) {
    const fs = fakeFirestore();
    const wrong = new Error(`${which}: not a Firestore instance`);
    fs.access[which] = () => {
      throw wrong;
    };
    const ctl = new AbortController();
    await assert.rejects(watchJob(fs.access, PATH, { signal: ctl.signal }), (err) => err === wrong);
    assert.equal(getEventListeners(ctl.signal, 'abort').length, 0, `${which}: the abort listener is removed`);
  }
});

test('a listener that answers at once (synchronously) is still unsubscribed', async () => {
  let unsubscribed = 0;
  const access = {
    firestore: {},
    doc: (_, path) => path,
    onSnapshot(_, next) {
      next({ exists: () => true, data: () => job('published', { mediaId: '9' }) });
      return () => unsubscribed++;
    },
  };
  assert.equal((await watchJob(access, PATH)).id, '9');
  assert.equal(unsubscribed, 1);
});

test('client.watchJob: the signed-in user’s job', async () => {
  const fs = fakeFirestore();
  const client = createThreadsClient({ auth: fakeAuth('user-1'), baseUrl: 'http://127.0.0.1:1' });
  const p = client.watchJob(fs.access, { accountId: '17841400000000001', jobId: JOB });
  assert.equal(fs.listeners[0].path, PATH);
  fs.push(job('published', { mediaId: '1' }));
  assert.equal((await p).id, '1');
  const nobody = createThreadsClient({ auth: { currentUser: null }, baseUrl: 'http://127.0.0.1:1' });
  await assert.rejects(nobody.watchJob(fs.access, { accountId: '1', jobId: JOB }), { code: 'not_signed_in' });
});

test('jobPath refuses empty ids and slashes', () => {
  assert.equal(jobPath('u', 'a', 'j'), 'users/u/integrations/threads/accounts/a/jobs/j');
  assert.throws(() => jobPath('u', '', 'j'), TypeError);
  assert.throws(() => jobPath('u', 'a/b', 'j'), TypeError);
});

// A Firestore timestamp stand-in, at ms from now.
const at = (ms) => {
  const d = new Date(Date.now() + ms);
  return { toDate: () => d };
};

test('a job cancelled while being published is followed until its attempt’s lease ends', async (t) => {
  await t.test('the call in flight posted: it ends published', async () => {
    const fs = fakeFirestore();
    const p = watchJob(fs.access, PATH);
    fs.push(job('publishing', { leaseOwner: 'a1', leaseUntil: at(60_000) }));
    fs.push(job('cancelled', { leaseOwner: 'a1', leaseUntil: at(60_000), error: { reason: 'account_disconnected', message: 'It was being published and may have gone out.' } }));
    fs.push(job('published', { mediaId: '1001' }));
    const end = await p;
    assert.equal(end.status, 'published');
    assert.equal(end.id, '1001');
    assert.equal(fs.listeners[0].active, false);
  });
  await t.test('nothing more comes: it ends cancelled once the lease is over, whatever the browser’s clock', async () => {
    // The server's times: cancelled an hour from the browser's now, with
    // 300 ms of lease left.
    for (const skew of [-3_600_000, 3_600_000]) {
      const fs = fakeFirestore();
      const p = watchJob(fs.access, PATH);
      const started = Date.now();
      fs.push(job('cancelled', { leaseOwner: 'a1', updatedAt: at(skew), leaseUntil: at(skew + 300), error: { reason: 'account_disconnected', message: 'm' } }));
      const end = await p;
      const waited = Date.now() - started;
      assert.equal(end.status, 'cancelled');
      assert.equal(end.reason, 'account_disconnected');
      assert.ok(waited >= 2000 && waited < 10_000, `waited ${waited} ms for a lease with 300 ms left (and the 2 s margin)`);
      assert.equal(fs.listeners[0].active, false);
    }
  });
  await t.test('the lease given up without a post: it ends cancelled at once', async () => {
    const fs = fakeFirestore();
    const p = watchJob(fs.access, PATH);
    fs.push(job('cancelled', { leaseOwner: 'a1', updatedAt: at(0), leaseUntil: at(60_000), error: { reason: 'account_disconnected', message: 'm' } }));
    const started = Date.now();
    fs.push(job('cancelled', { leaseOwner: '', updatedAt: at(100), leaseUntil: at(0), error: { reason: 'account_disconnected', message: 'm' } }));
    assert.equal((await p).status, 'cancelled');
    assert.ok(Date.now() - started < 1000, 'waited on after the lease was given up');
  });
  await t.test('a cancelled job without a lease ends at once', async () => {
    const fs = fakeFirestore();
    const p = watchJob(fs.access, PATH);
    const started = Date.now();
    fs.push(job('cancelled', { leaseOwner: '', leaseUntil: at(60_000), error: { reason: 'account_disconnected', message: 'm' } }));
    assert.equal((await p).status, 'cancelled');
    assert.ok(Date.now() - started < 1000, 'waited on a cancelled job whose lease was not kept');
  });
  await t.test('aborting stops the wait', async () => {
    const fs = fakeFirestore();
    const ac = new AbortController();
    const p = watchJob(fs.access, PATH, { signal: ac.signal });
    fs.push(job('cancelled', { leaseOwner: 'a1', leaseUntil: at(60_000) }));
    ac.abort(new Error('stop'));
    await assert.rejects(p, /stop/);
    assert.equal(fs.listeners[0].active, false);
  });
});
