// readConnectResult: the outcome of thAuthCallback's redirect, and the URL
// cleaned with history.replaceState.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readConnectResult } from '../dist/index.js';

// A history stand-in recording replaceState's arguments.
function fakeHistory(state = { page: 1 }) {
  const calls = [];
  return { calls, state, replaceState: (...args) => calls.push(args) };
}

test('connected: the account id; the three parameters and Threads’ #_ removed, the page’s own kept', () => {
  const h = fakeHistory();
  const r = readConnectResult(
    { href: 'https://app.example/settings?tab=threads&accountId=17841400000000001&threads=connected#_' },
    h,
  );
  assert.deepEqual(r, { status: 'connected', accountId: '17841400000000001' });
  assert.deepEqual(h.calls, [[{ page: 1 }, '', '/settings?tab=threads']]);
});

test('error: the reason; the URL cleaned to the bare path', () => {
  const h = fakeHistory(null);
  const r = readConnectResult('http://127.0.0.1:5173/?reason=access_denied&threads=error#_', h);
  assert.deepEqual(r, { status: 'error', reason: 'access_denied' });
  assert.deepEqual(h.calls, [[null, '', '/']]);
});

test('error without a reason: unknown', () => {
  assert.deepEqual(readConnectResult(new URL('https://app.example/?threads=error'), null), {
    status: 'error',
    reason: 'unknown',
  });
});

test('any other page: null, and the URL left alone', () => {
  for (const href of ['https://app.example/', 'https://app.example/a?threads=maybe&b=1#top', 'https://app.example/?accountId=1']) {
    const h = fakeHistory();
    assert.equal(readConnectResult({ href }, h), null, href);
    assert.deepEqual(h.calls, [], href);
  }
});

test('a stray #_ alone is removed; another fragment stays', () => {
  const h = fakeHistory();
  assert.equal(readConnectResult('https://app.example/p?x=1#_', h), null);
  assert.deepEqual(h.calls, [[{ page: 1 }, '', '/p?x=1']]);
  const h2 = fakeHistory();
  readConnectResult('https://app.example/p?threads=connected&accountId=9#/route', h2);
  assert.deepEqual(h2.calls, [[{ page: 1 }, '', '/p#/route']]);
});

test('history null: the result, the URL untouched', () => {
  assert.deepEqual(readConnectResult('https://app.example/?threads=connected&accountId=5', null), {
    status: 'connected',
    accountId: '5',
  });
});

test('defaults to the page’s location and history', () => {
  const h = fakeHistory();
  globalThis.location = { href: 'https://app.example/x?threads=connected&accountId=7' };
  globalThis.history = h;
  try {
    assert.deepEqual(readConnectResult(), { status: 'connected', accountId: '7' });
    assert.deepEqual(h.calls, [[{ page: 1 }, '', '/x']]);
  } finally {
    delete globalThis.location;
    delete globalThis.history;
  }
});
