// The stub's check of its scripted answers against api/openapi.yaml (spec.js).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkAnswer } from './spec.js';

const JOB = 'k0123456789abcdef0123456789abcdef';

test('answers the spec documents pass, others are named', () => {
  const cases = [
    ['a published post', 'POST', '/thPublish', 200, { ok: true, id: '1', jobId: JOB, accountId: '17841400000000001', status: 'published' }, ''],
    ['an error code of the operation', 'POST', '/thPublish', 404, { ok: false, error: { code: 'no_account', message: 'x' } }, ''],
    ['a body that is not JSON (no body to check)', 'POST', '/thPublish', 503, undefined, ''],
    ['an error code the operation never gives', 'POST', '/thAuthStart', 400, { ok: false, error: { code: 'no_such_code', message: 'x' } }, 'is not the spec'],
    ['a field missing', 'POST', '/thAuthStart', 200, { ok: true }, 'is not the spec'],
    ['a status the operation does not have', 'POST', '/thPublish', 418, { ok: false }, 'documents no 418'],
    ['an operation the spec does not have', 'PUT', '/thPublish', 200, { ok: true }, 'has no PUT /thPublish'],
  ];
  for (const [name, method, path, status, json, want] of cases) {
    const got = checkAnswer(method, path, status, json);
    if (want === '') assert.equal(got, '', name);
    else assert.match(got, new RegExp(want), name);
  }
});
