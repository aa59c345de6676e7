// The functions' HTTP contract, api/openapi.yaml, as the stub's check of
// its own answers: an answer a test scripts for the stub must be one the
// spec documents for that operation (its status and, for JSON, its body's
// schema), so that the client is tested against answers the functions can
// really give. Answers scripted off the spec on purpose (a proxy's HTML
// page, a malformed body) say so with offSpec: true.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import yaml from 'js-yaml';

const SPEC_ID = 'https://threads-functions.dev/api/openapi.yaml';
const spec = yaml.load(readFileSync(fileURLToPath(new URL('../../../api/openapi.yaml', import.meta.url)), 'utf8'));

// OpenAPI 3.1 schemas are JSON Schema 2020-12; the spec's own keywords
// (example, x-status...) are not validation keywords.
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema(spec, SPEC_ID);

const pointer = (...parts) => '#/' + parts.map((p) => String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

// resolve follows a local $ref of the spec: [the object, its JSON pointer].
function resolve(obj, ptr) {
  while (obj && typeof obj.$ref === 'string') {
    ptr = obj.$ref;
    obj = ptr
      .slice(2)
      .split('/')
      .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
      .reduce((o, k) => o?.[k], spec);
  }
  return [obj, ptr];
}

const validators = new Map();

// checkAnswer returns what is wrong with answering `status` and `json`
// (undefined for a body that is not JSON) to `method path`, or '' when the
// spec documents that answer.
export function checkAnswer(method, path, status, json) {
  const op = spec.paths?.[path]?.[method.toLowerCase()];
  if (!op) return `the spec has no ${method} ${path}`;
  const [response, responsePtr] = resolve(
    op.responses?.[String(status)] ?? op.responses?.default,
    pointer('paths', path, method.toLowerCase(), 'responses', String(status)),
  );
  if (!response) return `the spec documents no ${status} for ${method} ${path}`;
  if (json === undefined) return '';
  const media = response.content?.['application/json'];
  if (!media) return `the spec's ${status} for ${method} ${path} has no JSON body`;
  const schemaPtr = `${responsePtr}/content/application~1json/schema`;
  let validate = validators.get(schemaPtr);
  if (!validate) {
    validate = ajv.compile({ $ref: SPEC_ID + schemaPtr });
    validators.set(schemaPtr, validate);
  }
  if (validate(json)) return '';
  return `${status} for ${method} ${path} is not the spec's: ${ajv.errorsText(validate.errors)}`;
}
