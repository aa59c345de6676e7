// The demo app: Firebase Auth + Firestore (emulators) and the three functions.
//
// Runtime configuration comes from ./config.json, written by serve.mjs from
// the environment, so no port or URL is baked into this bundle.

import { initializeApp } from 'firebase/app';
import {
  initializeAuth,
  indexedDBLocalPersistence,
  browserLocalPersistence,
  connectAuthEmulator,
  onAuthStateChanged,
  createUserWithEmailAndPassword,
  signInWithEmailAndPassword,
  signOut,
} from 'firebase/auth';
import {
  getFirestore,
  connectFirestoreEmulator,
  collection,
  doc,
  onSnapshot,
} from 'firebase/firestore';

import { disconnect, FunctionError, publish, startConnect } from './functions.js';

const $ = (id) => document.getElementById(id);

// Why a connect attempt came back without an account (thAuthCallback's reasons).
const CONNECT_REASONS = {
  access_denied: 'You declined the Threads consent.',
  authorization_failed: 'Threads refused the authorization.',
  missing_code: 'Threads came back without a code.',
  code_exchange_failed: 'The authorization code could not be exchanged.',
  token_exchange_failed: 'The long-lived token could not be obtained.',
  profile_failed: 'The Threads profile could not be read.',
  storage_failed: 'The account could not be saved.',
};

const state = {
  config: null,
  auth: null,
  db: null,
  user: null,
  accounts: [], // [{id, username, displayName, status, avatarUrl}]
  unsubAccounts: null,
  unsubJob: null,
  connectedAccountId: '', // from ?threads=connected&accountId=…
};

// --- Messages -----------------------------------------------------------------

function showError(code, message) {
  const el = $('error');
  el.dataset.code = code;
  el.replaceChildren(codeTag(code), document.createTextNode(` ${message || ''}`));
  el.hidden = false;
}

function clearError() {
  const el = $('error');
  el.hidden = true;
  delete el.dataset.code;
  el.textContent = '';
}

function showNotice(text) {
  $('notice').textContent = text;
  $('notice').hidden = false;
}

function codeTag(code) {
  const c = document.createElement('code');
  c.className = 'code';
  c.textContent = code;
  return c;
}

function errorOf(err) {
  if (err instanceof FunctionError) return [err.code, err.message];
  if (err && typeof err.code === 'string') return [err.code, err.message]; // FirebaseError
  return ['unexpected', String(err && err.message ? err.message : err)];
}

// --- The OAuth return: ?threads=connected&accountId=… or ?threads=error&reason=…

function readConnectResult() {
  const q = new URLSearchParams(location.search);
  const outcome = q.get('threads');
  if (outcome === 'connected') {
    state.connectedAccountId = q.get('accountId') || '';
    showNotice(`Threads account ${state.connectedAccountId} connected.`);
  } else if (outcome === 'error') {
    const reason = q.get('reason') || 'unknown';
    showError(reason, CONNECT_REASONS[reason] || 'Connecting the Threads account failed.');
  }
  if (outcome || location.hash) {
    // Clean the URL: a reload must not show the result again. (A fragment
    // such as Threads' "#_" survives the redirects; drop it too.)
    history.replaceState(null, '', location.pathname);
  }
}

async function onConnect() {
  clearError();
  const button = $('connect');
  button.disabled = true;
  button.textContent = 'Redirecting to Threads…';
  try {
    const returnTo = location.origin + location.pathname;
    const url = await startConnect(state.config.functionsUrl, state.user, returnTo);
    location.assign(url);
  } catch (err) {
    showError(...errorOf(err));
    button.disabled = false;
    button.textContent = 'Connect Threads';
  }
}

async function onDisconnect(account, button) {
  clearError();
  button.disabled = true;
  try {
    await disconnect(state.config.functionsUrl, state.user, account.id);
    // The account list updates itself: the document is gone from Firestore.
    showNotice(`Disconnected @${account.username}.`);
  } catch (err) {
    showError(...errorOf(err));
    button.disabled = false;
  }
}

// --- Connected accounts, live from Firestore (security rules: owner only) -------

function watchAccounts(uid) {
  const ref = collection(state.db, 'users', uid, 'integrations', 'threads', 'accounts');
  state.unsubAccounts = onSnapshot(
    ref,
    (snap) => {
      state.accounts = snap.docs
        .map((d) => {
          const a = d.data();
          const p = a.profile || {};
          return {
            id: d.id,
            username: p.username || '',
            displayName: p.displayName || '',
            avatarUrl: p.avatarUrl || '',
            status: a.status || '',
          };
        })
        .sort((a, b) => a.username.localeCompare(b.username));
      renderAccounts();
    },
    (err) => showError(...errorOf(err)),
  );
}

function renderAccounts() {
  const list = $('accounts');
  list.replaceChildren(
    ...state.accounts.map((a) => {
      const li = document.createElement('li');
      li.dataset.accountId = a.id;
      li.dataset.username = a.username;
      if (a.avatarUrl && /^https?:/.test(a.avatarUrl)) {
        const img = document.createElement('img');
        img.src = a.avatarUrl;
        img.alt = '';
        img.width = img.height = 36;
        img.referrerPolicy = 'no-referrer';
        li.append(img);
      } else {
        const ph = document.createElement('span');
        ph.className = 'avatar-placeholder';
        li.append(ph);
      }
      const who = document.createElement('div');
      const name = document.createElement('strong');
      name.className = 'username';
      name.textContent = `@${a.username}`;
      const display = document.createElement('span');
      display.className = 'display-name';
      display.textContent = a.displayName;
      who.append(name, display);
      const status = document.createElement('span');
      status.className = `status status-${a.status}`;
      status.textContent = a.status;
      const actions = document.createElement('span');
      actions.className = 'account-actions';
      if (a.status === 'needs_reauth' || a.status === 'revoked') {
        // Threads no longer accepts this connection: connecting again renews it.
        const again = document.createElement('button');
        again.type = 'button';
        again.className = 'reconnect secondary';
        again.textContent = 'Reconnect';
        again.addEventListener('click', onConnect);
        actions.append(again);
      }
      const off = document.createElement('button');
      off.type = 'button';
      off.className = 'disconnect secondary';
      off.textContent = 'Disconnect';
      off.addEventListener('click', () => onDisconnect(a, off));
      actions.append(off);
      li.append(who, status, actions);
      return li;
    }),
  );
  $('no-accounts').hidden = state.accounts.length > 0;

  // The composer's account choice; keep the current one, or pick the account
  // that was just connected.
  const select = $('account-select');
  const keep = state.connectedAccountId || select.value;
  select.replaceChildren(
    ...state.accounts.map((a) => {
      const o = document.createElement('option');
      o.value = a.id;
      o.textContent = `@${a.username}${a.status === 'active' ? '' : ` (${a.status})`}`;
      return o;
    }),
  );
  if (state.accounts.some((a) => a.id === keep)) select.value = keep;
  const just = state.accounts.find((a) => a.id === state.connectedAccountId);
  if (just) {
    showNotice(`Connected @${just.username}.`);
    state.connectedAccountId = '';
  }
  $('publish').disabled = state.accounts.length === 0;
}

// --- Publishing ------------------------------------------------------------------

function buildPost() {
  const post = { accountId: $('account-select').value };
  const text = $('text').value.trim();
  const imageUrl = $('image-url').value.trim();
  const carousel = $('carousel-urls')
    .value.split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  if (text) post.text = text;
  if (imageUrl) post.imageUrl = imageUrl;
  if (carousel.length) post.media = carousel.map((url) => ({ type: 'image', url }));
  // No validation here on purpose: thPublish answers with a stable code
  // (empty_post, invalid_media_url, invalid_carousel, conflicting_fields…).
  return post;
}

function setResult(status, text, extra = {}) {
  const el = $('result');
  el.hidden = false;
  el.dataset.status = status;
  for (const k of ['mediaId', 'jobId']) {
    if (extra[k] !== undefined) el.dataset[k] = extra[k];
  }
  el.className = `result result-${status}`;
  el.textContent = text;
  if (status === 'published' && state.config.feedUrl) {
    const a = document.createElement('a');
    a.href = state.config.feedUrl;
    a.target = '_blank';
    a.rel = 'noopener';
    a.textContent = 'See it in the feed';
    el.append(' · ', a);
  }
}

async function onPublish(event) {
  event.preventDefault();
  clearError();
  if (state.unsubJob) {
    state.unsubJob();
    state.unsubJob = null;
  }
  const post = buildPost();
  const account = state.accounts.find((a) => a.id === post.accountId);
  // One key per submission: a retried request (same key) never posts twice.
  const key = crypto.randomUUID();
  const el = $('result');
  delete el.dataset.mediaId;
  delete el.dataset.jobId;
  setResult('sending', 'Publishing…');
  $('publish').disabled = true;
  try {
    const r = await publish(state.config.functionsUrl, state.user, post, key);
    if (r.httpStatus === 200) {
      setResult('published', `Published to @${account?.username}: post id ${r.id || '(confirmed)'}`, {
        mediaId: r.id || '',
        jobId: r.jobId,
      });
      $('text').value = $('image-url').value = $('carousel-urls').value = '';
    } else {
      setResult('pending', `Accepted: Threads is still working on it. Job ${r.jobId}, status ${r.status}…`, {
        jobId: r.jobId,
      });
      watchJob(post.accountId, r.jobId, account?.username);
    }
  } catch (err) {
    const [code, message] = errorOf(err);
    setResult('error', `Not published (${code}).`, { jobId: err.jobId || '' });
    showError(code, message);
  } finally {
    $('publish').disabled = state.accounts.length === 0;
  }
}

// A 202 job goes on through Cloud Tasks: follow it live in Firestore.
function watchJob(accountId, jobId, username) {
  const ref = doc(
    state.db, 'users', state.user.uid, 'integrations', 'threads', 'accounts', accountId, 'jobs', jobId,
  );
  state.unsubJob = onSnapshot(
    ref,
    (snap) => {
      const job = snap.data();
      if (!job) return;
      if (job.status === 'published') {
        setResult('published', `Published to @${username}: post id ${job.mediaId}`, {
          mediaId: job.mediaId || '',
          jobId,
        });
        $('text').value = $('image-url').value = $('carousel-urls').value = '';
      } else if (job.status === 'failed') {
        const e = job.error || {};
        setResult('failed', `Job ${jobId} failed (${e.reason || 'failed'}).`, { jobId });
        showError(e.reason || 'failed', e.message || '');
      } else {
        const last = job.lastError ? ` (retrying after: ${job.lastError.reason || job.lastError.message})` : '';
        setResult('pending', `Accepted: Threads is still working on it. Job ${jobId}, status ${job.status}…${last}`, {
          jobId,
        });
        return;
      }
      state.unsubJob?.();
      state.unsubJob = null;
    },
    (err) => showError(...errorOf(err)),
  );
}

// --- Sign-in -----------------------------------------------------------------------

async function onAuthSubmit(event) {
  event.preventDefault();
  clearError();
  const email = $('email').value.trim();
  const password = $('password').value;
  const signUp = event.submitter?.value !== 'signin';
  try {
    if (signUp) await createUserWithEmailAndPassword(state.auth, email, password);
    else await signInWithEmailAndPassword(state.auth, email, password);
  } catch (err) {
    showError(...errorOf(err));
  }
}

function onUser(user) {
  state.user = user;
  $('loading').hidden = true;
  if (state.unsubAccounts) state.unsubAccounts();
  if (state.unsubJob) state.unsubJob();
  state.unsubAccounts = state.unsubJob = null;
  state.accounts = [];
  $('session').hidden = !user;
  $('auth-section').hidden = !!user;
  $('app-section').hidden = !user;
  $('result').hidden = true;
  if (!user) return;
  $('user-email').textContent = user.email;
  renderAccounts();
  watchAccounts(user.uid);
}

// --- Start ---------------------------------------------------------------------------

async function main() {
  const resp = await fetch('config.json', { cache: 'no-store' });
  if (!resp.ok) throw new Error(`config.json: HTTP ${resp.status}`);
  const config = await resp.json();
  state.config = config;

  const app = initializeApp({ apiKey: config.apiKey, projectId: config.projectId });
  // No popup/redirect resolver: email/password needs none, and it would load
  // Google's scripts. Persistence keeps the user across the OAuth round trip.
  state.auth = initializeAuth(app, {
    persistence: [indexedDBLocalPersistence, browserLocalPersistence],
  });
  if (config.authEmulatorUrl) {
    connectAuthEmulator(state.auth, config.authEmulatorUrl, { disableWarnings: true });
  }
  state.db = getFirestore(app);
  if (config.firestoreEmulator) {
    connectFirestoreEmulator(state.db, config.firestoreEmulator.host, config.firestoreEmulator.port);
  }

  if (config.feedUrl) {
    $('feed-link').href = config.feedUrl;
    $('feed').hidden = false;
  }

  readConnectResult();
  $('auth-form').addEventListener('submit', onAuthSubmit);
  $('signout').addEventListener('click', () => signOut(state.auth));
  $('connect').addEventListener('click', onConnect);
  $('composer').addEventListener('submit', onPublish);
  onAuthStateChanged(state.auth, onUser);
}

main().catch((err) => {
  $('loading').hidden = true;
  showError('startup_failed', err.message);
});
