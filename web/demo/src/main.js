// The demo app: Firebase Auth + Firestore (emulators) and the functions,
// called only through the web client, @threads-functions/web (clients/web;
// build.mjs bundles it from its TypeScript source).
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
  limit,
  onSnapshot,
  orderBy,
  query,
} from 'firebase/firestore';

import { createThreadsClient, mediaIdsOf, readConnectResult, ThreadsFunctionsError } from '@threads-functions/web';

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

// Why a job was cancelled (its error.reason), for people; other reasons
// (and failures) show the job's own message.
const CANCEL_REASONS = {
  cancelled_by_owner: 'You cancelled it before its time.',
  account_disconnected: 'The account was disconnected before it ran.',
  account_revoked: 'Threads access was removed before it ran.',
  not_scheduled: 'It could not be scheduled.',
};

const state = {
  config: null,
  auth: null,
  db: null,
  client: null, // the web client of the functions
  user: null,
  accounts: [], // [{id, username, displayName, status, avatarUrl}]
  unsubAccounts: null,
  jobWatch: null, // AbortController of the pending job being followed
  // The last submission whose publish may have posted (no answer, or a
  // 5xx): {submission, key}. Sent again unchanged, it reuses that key.
  unsure: null,
  // A publish is in flight: the Publish button stays off until it ends,
  // whatever the account list does meanwhile (each job's creation writes
  // its account, which re-renders the list).
  publishing: false,
  connectedAccountId: '', // from ?threads=connected&accountId=…
  // The job list: the selected account's latest jobs, live.
  jobsAccountId: '',
  unsubJobs: null,
  jobs: [], // [{id, ...job document}]
  cancelling: new Set(), // job ids whose DELETE is in flight
  cancelErrors: new Map(), // job id -> [code, message] of a failed cancel
  // Spoiler ranges of the text box, in Unicode code points of its value.
  spoilers: [], // [{offset, length}]
};

// Threads' limit on a post's text, in UTF-8 bytes, and on a thread's parts.
const MAX_TEXT_BYTES = 500;
const MIN_THREAD_PARTS = 2;
const MAX_THREAD_PARTS = 20;
const JOBS_SHOWN = 20;

const utf8 = new TextEncoder();
const bytesOf = (s) => utf8.encode(s).length;
// Character counts and offsets as Threads (and thPublish) count them: in
// Unicode code points, not the UTF-16 units of JavaScript strings.
const codePoints = (s) => Array.from(s).length;

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// --- Messages -----------------------------------------------------------------

// retryAfter, when the answer had one (a 429 or 503's Retry-After, in
// seconds), says when to try again.
function showError(code, message, retryAfter) {
  const el = $('error');
  el.dataset.code = code;
  let text = ` ${message || ''}`;
  if (retryAfter !== undefined) {
    el.dataset.retryAfter = String(retryAfter);
    text += `${/[.!?]$/.test(text) ? '' : '.'} Try again in ${waitText(retryAfter)}.`;
  } else {
    delete el.dataset.retryAfter;
  }
  el.replaceChildren(codeTag(code), document.createTextNode(text));
  el.hidden = false;
}

function waitText(seconds) {
  if (seconds >= 3600) return `${Math.ceil(seconds / 3600)} h`;
  if (seconds >= 60) return `${Math.ceil(seconds / 60)} min`;
  return `${seconds} s`;
}

function clearError() {
  const el = $('error');
  el.hidden = true;
  delete el.dataset.code;
  delete el.dataset.retryAfter;
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
  if (err instanceof ThreadsFunctionsError) return [err.code, err.message, err.retryAfter];
  if (err && typeof err.code === 'string') return [err.code, err.message]; // FirebaseError, inputError
  return ['unexpected', String(err && err.message ? err.message : err)];
}

// An error of the composer's own checks, shown as the functions' are.
function inputError(code, message) {
  return Object.assign(new Error(message), { code });
}

// --- The OAuth return: ?threads=connected&accountId=… or ?threads=error&reason=…

function showConnectResult() {
  // The client reads the outcome and cleans the URL (history.replaceState),
  // so that a reload does not show it again.
  const result = readConnectResult(location, history);
  if (result?.status === 'connected') {
    state.connectedAccountId = result.accountId;
    showNotice(`Threads account ${state.connectedAccountId} connected.`);
  } else if (result?.status === 'error') {
    showError(result.reason, CONNECT_REASONS[result.reason] || 'Connecting the Threads account failed.');
  }
}

async function onConnect() {
  clearError();
  const button = $('connect');
  button.disabled = true;
  button.textContent = 'Redirecting to Threads…';
  try {
    // thAuthStart with the user's ID token, then off to Threads' consent page.
    await state.client.connectThreads({ returnTo: location.origin + location.pathname });
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
    await state.client.disconnect(account.id);
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
  syncPublishButton();
  watchJobs();
}

// Publish is on when there is an account to publish to and no publish in flight.
function syncPublishButton() {
  $('publish').disabled = state.publishing || state.accounts.length === 0;
}

// --- Composing: thread preview, spoilers, schedule ------------------------------------

// 'single', 'thread' (parts split here, at blank lines) or 'split' (the
// server splits text over the limit).
function composeMode() {
  if ($('thread-mode').checked) return 'thread';
  if ($('split-mode').checked) return 'split';
  return 'single';
}

// threadParts splits the text box at blank lines: each non-empty paragraph,
// trimmed, is one part. start is where the part begins in the raw value, in
// code points (to move spoiler ranges onto the first part).
function threadParts(raw) {
  const parts = [];
  const blankLine = /\n[^\S\n]*\n/g;
  let from = 0;
  const take = (end) => {
    const seg = raw.slice(from, end);
    const text = seg.trim();
    if (text) {
      const lead = seg.length - seg.trimStart().length;
      parts.push({ text, start: codePoints(raw.slice(0, from + lead)) });
    }
  };
  for (const m of raw.matchAll(blankLine)) {
    take(m.index);
    from = m.index + m[0].length;
  }
  take(raw.length);
  return parts;
}

function renderPreview() {
  const raw = $('text').value;
  const mode = composeMode();
  const total = bytesOf(raw.trim());
  const counter = $('text-bytes');
  counter.textContent = `${total} / ${MAX_TEXT_BYTES} bytes`;
  counter.classList.toggle('over', mode === 'single' && total > MAX_TEXT_BYTES);
  $('number-parts').disabled = mode !== 'split';

  const box = $('thread-preview');
  box.dataset.mode = mode;
  if (mode === 'single') {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.hidden = false;
  if (mode === 'split') {
    const numbered = $('number-parts').checked;
    const say =
      total <= MAX_TEXT_BYTES
        ? `${total} bytes: this fits in one post and is published as it is.`
        : `${total} bytes: the server splits this text into parts of at most ${MAX_TEXT_BYTES} bytes ` +
          `(at least ${Math.ceil(total / MAX_TEXT_BYTES)}), at paragraph, else sentence, else word breaks` +
          `${numbered ? ', each ending with “(i/n)”' : ''}, and publishes them as a thread: each part replies to the one before.`;
    box.replaceChildren(el('p', 'thread-summary', say));
    return;
  }

  const parts = threadParts(raw);
  const over = parts.filter((p) => bytesOf(p.text) > MAX_TEXT_BYTES).length;
  let summary = `${parts.length} ${parts.length === 1 ? 'part' : 'parts'}, each a post replying to the one before.`;
  if (parts.length < MIN_THREAD_PARTS) summary += ' A thread needs at least 2: separate the parts with a blank line.';
  if (parts.length > MAX_THREAD_PARTS) summary += ` Threads allows at most ${MAX_THREAD_PARTS}.`;
  if (over) summary += ` ${over} over ${MAX_TEXT_BYTES} bytes.`;
  const list = el('ol', 'thread-parts');
  list.append(
    ...parts.map((p, i) => {
      const n = bytesOf(p.text);
      const li = el('li', `thread-part${n > MAX_TEXT_BYTES ? ' over' : ''}`);
      li.dataset.bytes = String(n);
      const head = el('div', 'part-head');
      head.append(
        el('strong', 'part-label', `Part ${i + 1}`),
        el('span', 'part-bytes', `${n} / ${MAX_TEXT_BYTES} bytes${n > MAX_TEXT_BYTES ? ' — too long' : ''}`),
      );
      if (i > 0) head.append(el('span', 'part-reply hint', `replies to part ${i}`));
      li.append(head, el('p', 'part-text', p.text));
      return li;
    }),
  );
  box.replaceChildren(el('p', 'thread-summary', summary), list);
}

function onModeChange(event) {
  // One way to make a thread at a time.
  if (event.target.checked) {
    if (event.target.id === 'thread-mode') $('split-mode').checked = false;
    if (event.target.id === 'split-mode') $('thread-mode').checked = false;
  }
  renderPreview();
}

// The selection of the text box becomes a spoiler range (code points).
function onMarkSpoiler() {
  const ta = $('text');
  const value = ta.value;
  const start = ta.selectionStart;
  const end = ta.selectionEnd;
  const hint = $('spoiler-hint');
  if (start === end) {
    hint.textContent = 'Select some of the text first.';
    return;
  }
  hint.textContent = '';
  const range = { offset: codePoints(value.slice(0, start)), length: codePoints(value.slice(start, end)) };
  if (!state.spoilers.some((r) => r.offset === range.offset && r.length === range.length)) {
    state.spoilers.push(range);
    state.spoilers.sort((a, b) => a.offset - b.offset);
  }
  renderSpoilers();
}

function renderSpoilers() {
  const list = $('spoiler-list');
  const chars = Array.from($('text').value);
  list.replaceChildren(
    ...state.spoilers.map((r, i) => {
      const covered = chars.slice(r.offset, r.offset + r.length).join('');
      const li = el('li', 'spoiler');
      li.dataset.offset = String(r.offset);
      li.dataset.length = String(r.length);
      const label = el('span', 'spoiler-text', `Spoiler: “${covered}”`);
      const where = el('span', 'hint', ` characters ${r.offset + 1}–${r.offset + r.length}`);
      const remove = el('button', 'remove-spoiler link', '×');
      remove.type = 'button';
      remove.setAttribute('aria-label', `Remove the spoiler “${covered}”`);
      remove.title = 'Remove this spoiler';
      remove.addEventListener('click', () => {
        state.spoilers.splice(i, 1);
        renderSpoilers();
      });
      li.append(label, where, remove);
      return li;
    }),
  );
  list.hidden = state.spoilers.length === 0;
}

function onTextInput() {
  $('spoiler-hint').textContent = '';
  renderPreview();
  if (state.spoilers.length) renderSpoilers();
}

function onScheduleChange() {
  const scheduled = $('schedule-at').value !== '';
  $('publish').textContent = scheduled ? 'Schedule' : 'Publish';
  $('schedule-clear').hidden = !scheduled;
}

// A fresh composer, after a post was published or scheduled.
function resetComposer() {
  for (const id of ['text', 'image-url', 'carousel-urls', 'long-text', 'long-text-link', 'schedule-at']) $(id).value = '';
  for (const id of ['thread-mode', 'split-mode', 'number-parts', 'spoiler-media']) $(id).checked = false;
  state.spoilers = [];
  $('spoiler-hint').textContent = '';
  renderSpoilers();
  renderPreview();
  onScheduleChange();
}

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const isoSeconds = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

// --- Publishing ------------------------------------------------------------------

// buildPost reads the composer: {accountId, post}.
function buildPost() {
  const accountId = $('account-select').value;
  const post = {};
  const raw = $('text').value;
  const text = raw.trim();
  const imageUrl = $('image-url').value.trim();
  const carousel = $('carousel-urls')
    .value.split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  const mode = composeMode();
  // Where the text sent starts in the text box (code points), for the
  // spoiler ranges, and how long it is.
  let base = codePoints(raw.slice(0, raw.length - raw.trimStart().length));
  let firstLength = codePoints(text);
  if (mode === 'thread') {
    const parts = threadParts(raw);
    if (parts.length) {
      post.thread = parts.map((p) => p.text);
      base = parts[0].start;
      firstLength = codePoints(parts[0].text);
    }
  } else if (text) {
    post.text = text;
    if (mode === 'split') {
      post.split = true;
      if ($('number-parts').checked) post.numberParts = true;
    }
  }
  if (imageUrl) post.imageUrl = imageUrl;
  if (carousel.length) post.media = carousel.map((url) => ({ type: 'image', url }));
  if (state.spoilers.length) {
    post.spoilers = state.spoilers.map((r) => {
      const offset = r.offset - base;
      if (mode === 'thread' && (offset < 0 || offset + r.length > firstLength)) {
        // A thread's spoilers apply to its first part: a range elsewhere
        // cannot be expressed, so it is refused here rather than moved.
        throw inputError(
          'spoiler_outside_first_part',
          'In a thread, spoilers hide text of the first part only: remove the spoilers marked in later parts.',
        );
      }
      return { offset, length: r.length };
    });
  }
  if ($('spoiler-media').checked) post.spoilerMedia = true;
  const longText = $('long-text').value.trim();
  const longTextLink = $('long-text-link').value.trim();
  if (longText) post.longText = longText;
  if (longTextLink) post.longTextLink = longTextLink;
  const at = $('schedule-at').value;
  if (at) {
    // datetime-local is the user's local wall-clock time (no zone): Date
    // reads it as local time; thPublish wants RFC 3339, sent in UTC.
    const when = new Date(at);
    if (Number.isNaN(when.getTime())) throw inputError('invalid_schedule', `"${at}" is not a date and time.`);
    post.publishAt = isoSeconds(when);
  }
  // No other validation here on purpose: thPublish answers with a stable
  // code (empty_post, invalid_media_url, invalid_carousel, invalid_thread,
  // invalid_spoilers, invalid_publish_at, conflicting_fields…).
  return { accountId, post };
}

function setResult(status, text, extra = {}) {
  const el = $('result');
  el.hidden = false;
  el.dataset.status = status;
  for (const k of ['mediaId', 'mediaIds', 'jobId', 'publishAt']) {
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

function stopJobWatch() {
  state.jobWatch?.abort();
  state.jobWatch = null;
}

async function onPublish(event) {
  event.preventDefault();
  clearError();
  stopJobWatch();
  let accountId, post;
  try {
    ({ accountId, post } = buildPost());
  } catch (err) {
    showError(...errorOf(err));
    return;
  }
  const account = state.accounts.find((a) => a.id === accountId);
  const result = $('result');
  for (const k of ['mediaId', 'mediaIds', 'jobId', 'publishAt']) delete result.dataset[k];
  setResult('sending', post.publishAt ? 'Scheduling…' : 'Publishing…');
  state.publishing = true;
  syncPublishButton();
  // One idempotency key per submission (the client makes it): its retries
  // of a network failure or a 503 reuse it, and never post twice. The same
  // post submitted again after a failure that may have posted reuses the
  // key too: thPublish then answers the first request's result, or posts
  // it now, but never twice.
  const submission = JSON.stringify({ accountId, post });
  const idempotencyKey = state.unsure?.submission === submission ? state.unsure.key : undefined;
  state.unsure = null;
  try {
    const r = await state.client.publish(post, { accountId, idempotencyKey });
    if (r.status === 'published') {
      const ids = r.ids.length ? r.ids : [''];
      const what =
        ids.length > 1
          ? `Published a thread of ${ids.length} posts to @${account?.username}: post ids ${ids.join(', ')}`
          : `Published to @${account?.username}: post id ${r.id || '(confirmed)'}`;
      setResult('published', what, { mediaId: r.id || '', mediaIds: ids.join(','), jobId: r.jobId });
      resetComposer();
    } else if (r.status === 'scheduled') {
      const when = new Date(r.publishAt);
      setResult(
        'scheduled',
        `Scheduled for ${timeFormat.format(when)} on @${account?.username}. Job ${r.jobId}: follow it (or cancel it) under Jobs.`,
        { jobId: r.jobId, publishAt: r.publishAt },
      );
      resetComposer();
    } else {
      setResult('pending', `Accepted: Threads is still working on it. Job ${r.jobId}, status ${r.status}…`, {
        jobId: r.jobId,
      });
      watchJob(accountId, r.jobId, account?.username);
    }
  } catch (err) {
    const [code, message, retryAfter] = errorOf(err);
    // No answer (network_error) or a 5xx: the post may have gone out, unless
    // the answer says its job ended failed or cancelled.
    const unsure =
      err instanceof ThreadsFunctionsError &&
      err.idempotencyKey &&
      (err.status === 0 || err.status >= 500) &&
      !['failed', 'cancelled'].includes(err.jobStatus);
    if (unsure) state.unsure = { submission, key: err.idempotencyKey };
    const what = unsure
      ? `May not have been published (${code}). Publishing this same post again will not post it twice.`
      : `Not published (${code}).`;
    setResult('error', what, { jobId: err.jobId || '' });
    showError(code, message, retryAfter);
  } finally {
    state.publishing = false;
    syncPublishButton();
  }
}

// A 202 job goes on through Cloud Tasks: follow it live in Firestore (the
// client's watchJob, with this app's Firestore functions) until it ends.
async function watchJob(accountId, jobId, username) {
  const watch = new AbortController();
  state.jobWatch = watch;
  const onChange = (job) => {
    if (['published', 'failed', 'cancelled'].includes(job.status)) return; // the end, below
    const last = job.lastError ? ` (retrying after: ${job.lastError.reason || job.lastError.message})` : '';
    setResult('pending', `Accepted: Threads is still working on it. Job ${jobId}, status ${job.status}…${last}`, {
      jobId,
    });
  };
  let end;
  try {
    end = await state.client.watchJob(
      { firestore: state.db, doc, onSnapshot },
      { accountId, jobId },
      { onChange, signal: watch.signal },
    );
  } catch (err) {
    if (!watch.signal.aborted) showError(...errorOf(err));
    return;
  } finally {
    if (state.jobWatch === watch) state.jobWatch = null;
  }
  if (end.status === 'published') {
    const ids = end.ids.length ? end.ids : [''];
    setResult('published', `Published to @${username}: post id${ids.length > 1 ? 's' : ''} ${ids.join(', ')}`, {
      mediaId: end.id || '',
      mediaIds: ids.join(','),
      jobId,
    });
    resetComposer();
  } else {
    // failed, or cancelled (its account was disconnected meanwhile)
    const say = (end.status === 'cancelled' && CANCEL_REASONS[end.reason]) || end.message;
    setResult(end.status, `Job ${jobId} ${end.status === 'failed' ? 'failed' : 'was cancelled'} (${end.reason}).`, { jobId });
    showError(end.reason, say);
  }
}

// --- The job list: the selected account's latest jobs, live from Firestore -------------

function stopJobs() {
  state.unsubJobs?.();
  state.unsubJobs = null;
  state.jobsAccountId = '';
  state.jobs = [];
  state.cancelErrors.clear();
}

// watchJobs follows the jobs of the account selected in the composer (it
// does nothing when that account is followed already).
function watchJobs() {
  const accountId = state.user ? $('account-select').value : '';
  if (accountId === state.jobsAccountId && (state.unsubJobs || !accountId)) return;
  stopJobs();
  state.jobsAccountId = accountId;
  renderJobs();
  if (!accountId) return;
  const ref = query(
    collection(state.db, 'users', state.user.uid, 'integrations', 'threads', 'accounts', accountId, 'jobs'),
    orderBy('createdAt', 'desc'),
    limit(JOBS_SHOWN),
  );
  state.unsubJobs = onSnapshot(
    ref,
    (snap) => {
      if (state.jobsAccountId !== accountId) return;
      state.jobs = snap.docs.map((d) => ({ ...d.data(), id: d.id }));
      renderJobs();
    },
    (err) => showError(...errorOf(err)),
  );
}

// A Firestore timestamp as a Date; null when absent (or Go's zero time).
function dateOf(ts) {
  const d = ts && typeof ts.toDate === 'function' ? ts.toDate() : null;
  return d && d.getUTCFullYear() > 1970 ? d : null;
}

function timeTag(d) {
  const t = el('time', '', timeFormat.format(d));
  t.dateTime = isoSeconds(d);
  return t;
}

// The post's text as the job holds it: its first part, or the request's.
function jobText(job) {
  if (job.parts?.length) return job.parts[0].text || '';
  try {
    return JSON.parse(job.request || '{}').text || '';
  } catch {
    return '';
  }
}

function jobRow(job) {
  const li = el('li', `job job-${job.status}`);
  li.dataset.jobId = job.id;
  li.dataset.status = job.status || '';

  const head = el('div', 'job-head');
  head.append(el('span', `status status-job-${job.status}`, (job.status || 'unknown').replace(/_/g, ' ')));
  const parts = job.parts || [];
  head.append(el('span', 'job-kind', `${(job.kind || '').toLowerCase()}${parts.length ? ' thread' : ''}`));
  const when = el('span', 'job-when hint');
  const publishAt = dateOf(job.publishAt);
  const publishedAt = dateOf(job.publishedAt);
  const createdAt = dateOf(job.createdAt);
  if (job.status === 'scheduled' && publishAt) when.append('for ', timeTag(publishAt));
  else if (job.status === 'published' && publishedAt) when.append(timeTag(publishedAt));
  else if (publishAt) when.append('scheduled for ', timeTag(publishAt));
  else if (createdAt) when.append(timeTag(createdAt));
  head.append(when);
  li.append(head);

  const text = jobText(job);
  li.append(el('p', `job-text${text ? '' : ' hint'}`, text || '(no text)'));

  const meta = el('div', 'job-meta');
  if (parts.length) {
    const n = parts.length;
    const done = parts.filter((p) => p.status === 'published').length;
    const k = Math.min(done + 1, n);
    let progress;
    if (job.status === 'published') progress = `part ${n} of ${n}: all published`;
    else if (job.status === 'scheduled') progress = `${n} parts`;
    else progress = `part ${k} of ${n}${done ? ` (${done} published)` : ''}`;
    const pe = el('span', 'job-progress', progress);
    pe.dataset.parts = String(n);
    pe.dataset.published = String(done);
    meta.append(pe);
  }
  const ids = mediaIdsOf(job);
  if (ids.length) {
    const me = el('span', 'job-media', `post id${ids.length > 1 ? 's' : ''} ${ids.join(', ')}`);
    me.dataset.mediaIds = ids.join(',');
    meta.append(me);
  }
  if (meta.childElementCount) li.append(meta);

  if ((job.status === 'failed' || job.status === 'cancelled') && job.error) {
    const e = el('p', 'job-error');
    const reason = job.error.reason || job.status;
    const say = (job.status === 'cancelled' && CANCEL_REASONS[reason]) || job.error.message || '';
    e.append(codeTag(reason), ` ${say}`);
    li.append(e);
  } else if (job.lastError && !['published', 'failed', 'cancelled'].includes(job.status)) {
    li.append(el('p', 'job-retry hint', `Retrying after: ${job.lastError.reason || job.lastError.message}`));
  }
  const cancelErr = state.cancelErrors.get(job.id);
  if (cancelErr) {
    const e = el('p', 'job-error cancel-error');
    e.setAttribute('role', 'alert');
    e.append('Not cancelled: ', codeTag(cancelErr[0]), ` ${cancelErr[1] || ''}`);
    li.append(e);
  }

  if (job.status === 'scheduled') {
    const busy = state.cancelling.has(job.id);
    const b = el('button', 'cancel-job secondary small', busy ? 'Cancelling…' : 'Cancel');
    b.type = 'button';
    b.disabled = busy;
    b.setAttribute('aria-label', `Cancel the post scheduled${publishAt ? ` for ${timeFormat.format(publishAt)}` : ''}`);
    b.addEventListener('click', () => onCancelJob(job));
    const actions = el('div', 'job-actions');
    actions.append(b);
    li.append(actions);
  }
  return li;
}

function renderJobs() {
  $('jobs').replaceChildren(...state.jobs.map(jobRow));
  $('no-jobs').hidden = state.jobs.length > 0;
  const account = state.accounts.find((a) => a.id === state.jobsAccountId);
  $('jobs-account').textContent = account ? `· @${account.username}` : '';
}

async function onCancelJob(job) {
  clearError();
  state.cancelling.add(job.id);
  state.cancelErrors.delete(job.id);
  renderJobs();
  try {
    await state.client.cancelJob(job.id, { accountId: job.accountId || state.jobsAccountId });
    // The row turns "cancelled" by itself: the job document changed.
    showNotice(`Cancelled the scheduled post (job ${job.id}).`);
  } catch (err) {
    const [code, message] = errorOf(err);
    state.cancelErrors.set(job.id, [code, message]);
    showError(code, message);
  } finally {
    state.cancelling.delete(job.id);
    renderJobs();
  }
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
  state.unsubAccounts = null;
  stopJobWatch();
  stopJobs();
  renderJobs();
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
  // Every call to the functions goes through the client: a fresh ID token of
  // the signed-in user each time, retries of network failures and 503s.
  state.client = createThreadsClient({ auth: state.auth, baseUrl: config.functionsUrl });

  if (config.feedUrl) {
    $('feed-link').href = config.feedUrl;
    $('feed').hidden = false;
  }

  showConnectResult();
  $('auth-form').addEventListener('submit', onAuthSubmit);
  $('signout').addEventListener('click', () => signOut(state.auth));
  $('connect').addEventListener('click', onConnect);
  $('composer').addEventListener('submit', onPublish);
  $('account-select').addEventListener('change', watchJobs);
  $('text').addEventListener('input', onTextInput);
  $('thread-mode').addEventListener('change', onModeChange);
  $('split-mode').addEventListener('change', onModeChange);
  $('number-parts').addEventListener('change', renderPreview);
  $('mark-spoiler').addEventListener('click', onMarkSpoiler);
  $('schedule-at').addEventListener('input', onScheduleChange);
  $('schedule-at').addEventListener('change', onScheduleChange);
  $('schedule-clear').addEventListener('click', () => {
    $('schedule-at').value = '';
    onScheduleChange();
  });
  renderPreview();
  onScheduleChange();
  onAuthStateChanged(state.auth, onUser);
}

main().catch((err) => {
  $('loading').hidden = true;
  showError('startup_failed', err.message);
});
