// Build the demo app: bundle src/main.js (with the Firebase SDK from
// node_modules) into app.js with esbuild, and copy the static files.
// The web client, @threads-functions/web, is bundled from its TypeScript
// source (clients/web/src), so the demo needs no build of the package first.
//
//   node web/demo/build.mjs [--outdir DIR]     (default: web/demo/dist)
//
// Nothing is loaded from a CDN: the bundle holds everything the page runs.

import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const client = resolve(here, '../../clients/web/src/index.ts');
const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
const outdir = resolve(values.outdir ?? join(here, 'dist'));

const t0 = Date.now();
await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });

await build({
  entryPoints: [join(here, 'src/main.js')],
  outfile: join(outdir, 'app.js'),
  bundle: true,
  alias: { '@threads-functions/web': client },
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
});
for (const f of ['index.html', 'style.css', 'favicon.svg']) {
  await copyFile(join(here, f), join(outdir, f));
}
console.log(`demo app built in ${outdir} (${Date.now() - t0} ms)`);
