// Security-rules tests for firestore.rules, run against the Firestore emulator.
//
//   FIRESTORE_EMULATOR_HOST=127.0.0.1:8080 node --test test/rules/
//
// (./scripts/test starts the emulator and runs this for you.)
//
// The tests use their own project id (demo-threadsfn-rules by default) so that
// clearing data here never disturbs Go tests that use the same emulator under
// another project id. Rules are loaded per project by rules-unit-testing.

import { after, before, beforeEach, describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import {
  assertFails,
  assertSucceeds,
  initializeTestEnvironment,
} from '@firebase/rules-unit-testing';
import {
  collection,
  collectionGroup,
  deleteDoc,
  doc,
  getDoc,
  getDocs,
  limit,
  orderBy,
  query,
  setDoc,
  setLogLevel,
  updateDoc,
} from 'firebase/firestore';

// Denied writes are the point of most tests; keep the SDK from logging a
// warning for each of them.
setLogLevel('error');

const here = path.dirname(fileURLToPath(import.meta.url));
const rulesPath = path.resolve(here, '../../firestore.rules');

const PROJECT_ID = process.env.THREADSFN_RULES_PROJECT || 'demo-threadsfn-rules';
const [HOST, PORT] = (() => {
  const hostPort = process.env.FIRESTORE_EMULATOR_HOST || '127.0.0.1:8080';
  const i = hostPort.lastIndexOf(':');
  return [hostPort.slice(0, i), Number(hostPort.slice(i + 1))];
})();

const ALICE = 'alice';
const BOB = 'bob';
const ACCOUNT = '17841400000000001';
const JOB = 'job-1';

const accountsPath = (uid) => `users/${uid}/integrations/threads/accounts`;
const accountPath = (uid, id = ACCOUNT) => `${accountsPath(uid)}/${id}`;
const jobsPath = (uid, id = ACCOUNT) => `${accountPath(uid, id)}/jobs`;
const jobPath = (uid, id = ACCOUNT, jobId = JOB) => `${jobsPath(uid, id)}/${jobId}`;

function accountDoc(id) {
  return {
    accountId: id,
    accessToken: 'ZW5jcnlwdGVk', // opaque ciphertext in real data
    accessTokenKeyId: 'key-1',
    tokenType: 'bearer',
    expiresIn: 5183944,
    expiresAt: new Date('2030-01-01T00:00:00Z'),
    updatedAt: new Date('2025-01-01T00:00:00Z'),
    profile: { username: 'alice_threads', name: 'Alice' },
    extra: {},
    status: 'connected',
  };
}

let testEnv;

before(async () => {
  testEnv = await initializeTestEnvironment({
    projectId: PROJECT_ID,
    firestore: {
      rules: readFileSync(rulesPath, 'utf8'),
      host: HOST,
      port: PORT,
    },
  });
});

after(async () => {
  if (testEnv) {
    await testEnv.clearFirestore();
    await testEnv.cleanup();
  }
});

beforeEach(async () => {
  await testEnv.clearFirestore();
  await testEnv.withSecurityRulesDisabled(async (ctx) => {
    const db = ctx.firestore();
    for (const uid of [ALICE, BOB]) {
      await setDoc(doc(db, accountPath(uid)), accountDoc(ACCOUNT));
      await setDoc(doc(db, jobPath(uid)), { status: 'scheduled', text: 'hello', createdAt: new Date(1000) });
      await setDoc(doc(db, jobPath(uid, ACCOUNT, 'job-0')), { status: 'published', text: 'older', createdAt: new Date(0) });
    }
    await setDoc(doc(db, 'oauthStates/s1'), { uid: ALICE, createdAt: new Date() });
    await setDoc(doc(db, `users/${ALICE}`), { name: 'Alice' });
    await setDoc(doc(db, `users/${ALICE}/integrations/threads`), { enabled: true });
    await setDoc(doc(db, 'misc/x'), { a: 1 });
    await setDoc(doc(db, `users/${ALICE}/integrations/threads/disconnected/${ACCOUNT}`), { disconnectedAt: new Date() });
    await setDoc(doc(db, 'dataDeletionRequests/code-1'), { status: 'done', threadsUserId: ACCOUNT });
    await setDoc(doc(db, 'dataDeletionKeys/key-1'), { code: 'code-1' });
  });
});

const asAlice = () => testEnv.authenticatedContext(ALICE).firestore();
const asBob = () => testEnv.authenticatedContext(BOB).firestore();
const signedOut = () => testEnv.unauthenticatedContext().firestore();

describe('connected Threads accounts', () => {
  test('owner can get their account', async () => {
    const snap = await assertSucceeds(getDoc(doc(asAlice(), accountPath(ALICE))));
    if (snap.get('accountId') !== ACCOUNT) {
      throw new Error(`unexpected accountId ${snap.get('accountId')}`);
    }
  });

  test('owner can list their accounts', async () => {
    const snap = await assertSucceeds(getDocs(collection(asAlice(), accountsPath(ALICE))));
    if (snap.size !== 1) throw new Error(`expected 1 account, got ${snap.size}`);
  });

  test('owner can get a missing account of theirs (no data, no error)', async () => {
    await assertSucceeds(getDoc(doc(asAlice(), accountPath(ALICE, 'nope'))));
  });

  test('another signed-in user cannot get or list them', async () => {
    await assertFails(getDoc(doc(asBob(), accountPath(ALICE))));
    await assertFails(getDocs(collection(asBob(), accountsPath(ALICE))));
  });

  test('signed-out cannot get or list them', async () => {
    await assertFails(getDoc(doc(signedOut(), accountPath(ALICE))));
    await assertFails(getDocs(collection(signedOut(), accountsPath(ALICE))));
  });

  test('owner cannot create an account doc', async () => {
    await assertFails(setDoc(doc(asAlice(), accountPath(ALICE, 'new')), accountDoc('new')));
  });

  test('owner cannot overwrite, update or delete their account doc', async () => {
    const db = asAlice();
    await assertFails(setDoc(doc(db, accountPath(ALICE)), accountDoc(ACCOUNT)));
    await assertFails(updateDoc(doc(db, accountPath(ALICE)), { status: 'revoked' }));
    await assertFails(deleteDoc(doc(db, accountPath(ALICE))));
  });

  test('another user cannot write the account doc', async () => {
    await assertFails(updateDoc(doc(asBob(), accountPath(ALICE)), { status: 'revoked' }));
    await assertFails(deleteDoc(doc(asBob(), accountPath(ALICE))));
  });
});

describe('publish jobs', () => {
  test('owner can get and list their jobs', async () => {
    const db = asAlice();
    await assertSucceeds(getDoc(doc(db, jobPath(ALICE))));
    const snap = await assertSucceeds(getDocs(collection(db, jobsPath(ALICE))));
    if (snap.size !== 2) throw new Error(`expected 2 jobs, got ${snap.size}`);
  });

  test('owner can list their latest jobs, newest first (the demo app and README query)', async () => {
    const q = query(collection(asAlice(), jobsPath(ALICE)), orderBy('createdAt', 'desc'), limit(20));
    const snap = await assertSucceeds(getDocs(q));
    const ids = snap.docs.map((d) => d.id).join(',');
    if (ids !== `${JOB},job-0`) throw new Error(`expected ${JOB},job-0, got ${ids}`);
    await assertFails(getDocs(query(collection(asBob(), jobsPath(ALICE)), orderBy('createdAt', 'desc'), limit(20))));
  });

  test('another signed-in user cannot get or list them', async () => {
    await assertFails(getDoc(doc(asBob(), jobPath(ALICE))));
    await assertFails(getDocs(collection(asBob(), jobsPath(ALICE))));
  });

  test('signed-out cannot get or list them', async () => {
    await assertFails(getDoc(doc(signedOut(), jobPath(ALICE))));
    await assertFails(getDocs(collection(signedOut(), jobsPath(ALICE))));
  });

  test('owner cannot create, update or delete jobs', async () => {
    const db = asAlice();
    await assertFails(setDoc(doc(db, jobPath(ALICE, ACCOUNT, 'job-2')), { status: 'queued' }));
    await assertFails(updateDoc(doc(db, jobPath(ALICE)), { status: 'done' }));
    await assertFails(deleteDoc(doc(db, jobPath(ALICE))));
  });
});

describe('oauthStates', () => {
  for (const [who, db] of [
    ['owner of the state', asAlice],
    ['another user', asBob],
    ['signed-out', signedOut],
  ]) {
    test(`${who} cannot read or write`, async () => {
      const d = db();
      await assertFails(getDoc(doc(d, 'oauthStates/s1')));
      await assertFails(getDocs(collection(d, 'oauthStates')));
      await assertFails(setDoc(doc(d, 'oauthStates/s2'), { uid: ALICE }));
      await assertFails(updateDoc(doc(d, 'oauthStates/s1'), { uid: BOB }));
      await assertFails(deleteDoc(doc(d, 'oauthStates/s1')));
    });
  }
});

describe('account lifecycle records', () => {
  test('disconnect tombstones are not readable, even by their owner', async () => {
    await assertFails(getDoc(doc(asAlice(), `users/${ALICE}/integrations/threads/disconnected/${ACCOUNT}`)));
    await assertFails(getDocs(collection(asAlice(), `users/${ALICE}/integrations/threads/disconnected`)));
  });

  for (const [who, db] of [['a signed-in user', asAlice], ['signed-out', signedOut]]) {
    test(`${who} cannot read or write data-deletion requests`, async () => {
      await assertFails(getDoc(doc(db(), 'dataDeletionRequests/code-1')));
      await assertFails(getDocs(collection(db(), 'dataDeletionRequests')));
      await assertFails(getDoc(doc(db(), 'dataDeletionKeys/key-1')));
      await assertFails(setDoc(doc(db(), 'dataDeletionRequests/code-2'), { status: 'done' }));
    });
  }
});

describe('other paths', () => {
  test('owner cannot read or write their user doc or the integration doc', async () => {
    const db = asAlice();
    await assertFails(getDoc(doc(db, `users/${ALICE}`)));
    await assertFails(setDoc(doc(db, `users/${ALICE}`), { name: 'A' }));
    await assertFails(getDoc(doc(db, `users/${ALICE}/integrations/threads`)));
    await assertFails(getDocs(collection(db, `users/${ALICE}/integrations`)));
    await assertFails(setDoc(doc(db, `users/${ALICE}/integrations/threads`), { enabled: false }));
  });

  test('listing all users is denied', async () => {
    await assertFails(getDocs(collection(asAlice(), 'users')));
  });

  test('unknown top-level collections are denied', async () => {
    const db = asAlice();
    await assertFails(getDoc(doc(db, 'misc/x')));
    await assertFails(setDoc(doc(db, 'misc/y'), { a: 1 }));
    await assertFails(getDoc(doc(signedOut(), 'misc/x')));
  });

  test('other subcollections under an account are denied', async () => {
    const db = asAlice();
    await assertFails(getDoc(doc(db, `${accountPath(ALICE)}/secrets/x`)));
    await assertFails(setDoc(doc(db, `${accountPath(ALICE)}/secrets/x`), { a: 1 }));
  });

  test('collection-group queries over accounts or jobs are denied', async () => {
    await assertFails(getDocs(collectionGroup(asAlice(), 'accounts')));
    await assertFails(getDocs(collectionGroup(asAlice(), 'jobs')));
  });
});
