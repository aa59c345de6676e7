// Serve the built demo app (static files) and its runtime configuration,
// /config.json, on 127.0.0.1 only. No dependencies.
//
//   node web/demo/serve.mjs
//
// Environment (./scripts/dev sets all of it):
//   DEMO_PORT                 port (default 5173)
//   DEMO_DIST                 directory built by build.mjs (default web/demo/dist)
//   DEMO_PROJECT_ID           Firebase project id (default demo-threadsfn)
//   DEMO_API_KEY              Firebase web API key (default fake-api-key: the emulators take any)
//   DEMO_AUTH_EMULATOR_URL    e.g. http://127.0.0.1:9099 (empty: real Firebase Auth)
//   DEMO_FIRESTORE_EMULATOR   host:port, e.g. 127.0.0.1:8080 (empty: real Firestore)
//   DEMO_FUNCTIONS_URL        base URL of the functions, e.g. http://127.0.0.1:8081
//   DEMO_FEED_URL             the Threads simulator's feed (empty: none, real Threads)

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;
const port = Number(env.DEMO_PORT || 5173);
const dist = resolve(env.DEMO_DIST || join(here, 'dist'));

function firestoreEmulator(hostPort) {
  if (!hostPort) return null;
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) };
}

const config = JSON.stringify(
  {
    projectId: env.DEMO_PROJECT_ID || 'demo-threadsfn',
    apiKey: env.DEMO_API_KEY || 'fake-api-key',
    authEmulatorUrl: env.DEMO_AUTH_EMULATOR_URL || '',
    firestoreEmulator: firestoreEmulator(env.DEMO_FIRESTORE_EMULATOR || ''),
    functionsUrl: (env.DEMO_FUNCTIONS_URL || 'http://127.0.0.1:8081').replace(/\/+$/, ''),
    feedUrl: env.DEMO_FEED_URL || '',
  },
  null,
  2,
);

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

function send(res, status, type, body, head) {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(head ? undefined : body);
}

const server = createServer(async (req, res) => {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    res.setHeader('Allow', 'GET, HEAD');
    return send(res, 405, 'text/plain', 'method not allowed\n', head);
  }
  let path;
  try {
    path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  } catch {
    return send(res, 400, 'text/plain', 'bad request\n', head);
  }
  if (path === '/config.json') return send(res, 200, TYPES['.json'], config, head);
  if (path.endsWith('/')) path += 'index.html';
  const file = normalize(join(dist, path));
  if (!file.startsWith(dist + sep)) return send(res, 404, 'text/plain', 'not found\n', head);
  try {
    const body = await readFile(file);
    return send(res, 200, TYPES[extname(file)] || 'application/octet-stream', body, head);
  } catch {
    return send(res, 404, 'text/plain', 'not found\n', head);
  }
});

server.on('error', (err) => {
  console.error(`demo app: ${err.message}`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`demo app on http://127.0.0.1:${port}/ (files from ${dist})`);
});
// Nothing to flush: stop at once (a browser's keep-alive connections would
// hold server.close() open).
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
