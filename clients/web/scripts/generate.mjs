// Generate src/generated/openapi.ts, the types of the functions' HTTP API,
// from api/openapi.yaml with openapi-typescript's Node API:
//
//   node scripts/generate.mjs           write the file (npm run generate)
//   node scripts/generate.mjs --check   fail if the file differs from what the
//                                       spec generates now (npm run check:generated)
//
// Two choices differ from the CLI's defaults:
//   - a string schema whose anyOf/oneOf lists only `const`s (ErrorCode,
//     CallbackReason) becomes the union of those literals; the CLI writes
//     `string | "a" | …`, which TypeScript reduces to plain `string`;
//   - defaults do not make a property required (defaultNonNullable: false):
//     TextRange.offset defaults to 0 and may be left out of a request.

import openapiTS, { astToString, tsLiteral, tsUnion } from 'openapi-typescript';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..');
const spec = join(pkg, '../../api/openapi.yaml');
const out = join(pkg, 'src/generated/openapi.ts');
const check = process.argv.includes('--check');

const HEADER = `/**
 * The types of the functions' HTTP API, generated from api/openapi.yaml by
 * openapi-typescript (clients/web/scripts/generate.mjs). Do not edit: change
 * the spec, then run \`npm run generate -w clients/web\`.
 */

`;

function constUnion(schema) {
  const list = schema.anyOf ?? schema.oneOf;
  if (schema.type !== 'string' || !Array.isArray(list) || list.length === 0) return undefined;
  if (!list.every((s) => s && typeof s === 'object' && typeof s.const === 'string')) return undefined;
  return tsUnion([...new Set(list.map((s) => s.const))].map((v) => tsLiteral(v)));
}

const ast = await openapiTS(pathToFileURL(spec), {
  defaultNonNullable: false,
  silent: true,
  transform: constUnion,
});
const text = HEADER + astToString(ast);

if (check) {
  const have = await readFile(out, 'utf8').catch(() => '');
  if (have !== text) {
    console.error(
      `${relative(process.cwd(), out)} is not what ${relative(process.cwd(), spec)} generates: ` +
        'run `npm run generate -w clients/web` and commit the result.',
    );
    process.exit(1);
  }
  console.log(`${relative(process.cwd(), out)} is up to date with the spec`);
} else {
  await writeFile(out, text);
  console.log(`wrote ${relative(process.cwd(), out)}`);
}
