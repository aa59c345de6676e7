// A local stand-in for the functions: a node:http server that expects the
// client's requests one by one, checks each exactly (method, path, query,
// headers, JSON body) and answers what the test says. An expected header
// may be a RegExp.
//
//   const stub = await startStub();
//   stub.expect({ method: 'POST', path: '/thPublish', headers: {...}, body: {...} },
//               { status: 200, json: {...} });
//   (specPath names the spec's path when a test calls a function at a URL of its own)
//   ... call the client ...
//   stub.done();   // every expected request came, and matched
//   stub.reset();  // forget everything (between tests)
//   await stub.close();
//
// An answer may be { status, json, headers }, { status, text, headers },
// { destroy: true } (the socket is closed without an answer: a network
// failure for fetch), have cutBody (the answer's body is cut off half-way) or have delayMs (answer late). Every answer must be one
// api/openapi.yaml documents for the expected request's operation (status,
// JSON body's schema: see spec.js), unless it says offSpec: true (a proxy's
// error page, a malformed body: what the functions never answer but a
// client must survive); done() reports those that are not.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { checkAnswer } from './spec.js';

// Headers a client sends whatever it is (fetch's own); not compared.
const TRANSPORT = new Set([
  'host', 'connection', 'content-length', 'accept', 'accept-encoding', 'accept-language',
  'user-agent', 'sec-fetch-mode',
]);

export async function startStub() {
  const queue = [];
  const received = [];
  const problems = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url, 'http://stub');
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !TRANSPORT.has(k)));
      const got = {
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        raw,
      };
      received.push(got);
      const next = queue.shift();
      if (!next) {
        problems.push(`unexpected request ${req.method} ${req.url}`);
        res.writeHead(599).end();
        return;
      }
      const [want, answer] = next;
      try {
        assert.equal(got.method, want.method, 'method');
        assert.equal(got.path, want.path, 'path');
        assert.deepEqual(got.query, want.query ?? {}, 'query');
        // An expected header may be a RegExp (a generated key, say).
        const seen = { ...got.headers };
        for (const [k, v] of Object.entries(want.headers)) {
          if (v instanceof RegExp && typeof seen[k] === 'string' && v.test(seen[k])) seen[k] = v;
        }
        assert.deepEqual(seen, want.headers, 'headers');
        if (want.body === undefined) assert.equal(raw, '', 'no body');
        else assert.deepEqual(JSON.parse(raw), want.body, 'JSON body');
      } catch (err) {
        problems.push(`request ${received.length} (${req.method} ${req.url}): ${err.message}`);
      }
      if (!answer.destroy && !answer.offSpec) {
        const wrong = checkAnswer(want.method, want.specPath ?? want.path, answer.status, answer.json);
        if (wrong) problems.push(`answer ${received.length}: ${wrong}`);
      }
      const reply = () => {
        if (answer.destroy) {
          req.socket.destroy();
          return;
        }
        const h = { ...(answer.headers ?? {}) };
        let body = '';
        if (answer.json !== undefined) {
          h['Content-Type'] = 'application/json';
          body = JSON.stringify(answer.json);
        } else if (answer.text !== undefined) {
          h['Content-Type'] ??= 'text/html; charset=utf-8';
          body = answer.text;
        }
        if (answer.cutBody) {
          // The status and half the body, then the connection drops.
          h['Content-Length'] = String(Buffer.byteLength(body));
          res.writeHead(answer.status, h);
          res.write(body.slice(0, body.length >> 1), () => req.socket.destroy());
          return;
        }
        res.writeHead(answer.status, h).end(body);
      };
      if (answer.delayMs) setTimeout(reply, answer.delayMs);
      else reply();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    expect(want, answer) {
      queue.push([want, answer]);
    },
    reset() {
      queue.length = 0;
      received.length = 0;
      problems.length = 0;
    },
    done() {
      const left = queue.splice(0).map(([w]) => `${w.method} ${w.path}`);
      assert.deepEqual(problems.splice(0), [], 'every request as expected');
      assert.deepEqual(left, [], 'every expected request made');
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

// A Firebase Auth stand-in: currentUser.getIdToken() answers TOKEN, or
// FRESH_TOKEN when asked to refresh; forced records each call's argument.
export const TOKEN = 'fake-id-token';
export const FRESH_TOKEN = 'fake-id-token-refreshed';
export function fakeAuth(uid = 'user-1') {
  const forced = [];
  return {
    forced,
    currentUser: {
      uid,
      async getIdToken(forceRefresh = false) {
        forced.push(forceRefresh);
        return forceRefresh ? FRESH_TOKEN : TOKEN;
      },
    },
  };
}
