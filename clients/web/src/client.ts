import { ThreadsFunctionsError } from './errors.js';
import type { components } from './generated/openapi.js';
import { jobPath, watchJob, type FirestoreAccess, type WatchJobOptions } from './jobs.js';
import type { Cancelled, JobEnd, JobStatus, Post, PublishResult } from './types.js';

type Schemas = components['schemas'];

/**
 * The part of a Firebase `User` the client uses: `getIdToken()` returns the
 * cached ID token while it is valid and a fresh one when it is about to
 * expire.
 */
export interface FirebaseUserLike {
  readonly uid: string;
  getIdToken(forceRefresh?: boolean): Promise<string>;
}
/** The part of a Firebase `Auth` instance the client uses. */
export interface FirebaseAuthLike {
  readonly currentUser: FirebaseUserLike | null;
}

/** The functions a browser calls. */
export type FunctionName = 'thAuthStart' | 'thPublish' | 'thDisconnect';

/** How failed attempts are retried: network failures and `503` answers only. */
export interface RetryOptions {
  /** Attempts in all, the first included (default 3; 1 turns retries off). */
  attempts?: number;
  /** Milliseconds to wait before the 1st, 2nd, … retry; the last is reused (default [500, 1000]). */
  delays?: number[];
  /**
   * The longest `Retry-After` (seconds) a 503 may ask for and still be
   * retried here (default 10); a longer one ends the retries, and the error
   * carries it as `retryAfter`.
   */
  maxRetryAfter?: number;
}

export interface ThreadsClientOptions {
  /** The app's Firebase `Auth` instance (`getAuth()`), or anything with the same `currentUser`. */
  auth: FirebaseAuthLike;
  /**
   * Where the functions are: each is called at `${baseUrl}/${name}`
   * (`https://REGION-PROJECT.cloudfunctions.net`, or the local runner's
   * `http://127.0.0.1:8081`).
   */
  baseUrl?: string;
  /** A function's own URL, for those deployed elsewhere (their Cloud Run URLs); overrides baseUrl. */
  urls?: Partial<Record<FunctionName, string>>;
  retry?: RetryOptions;
  /** Milliseconds an attempt may take before it counts as a network failure (default 60000; 0: no limit). */
  timeoutMs?: number;
  /** The fetch to use (default: the global fetch). */
  fetch?: typeof globalThis.fetch;
  /** How connectThreads sends the browser to Threads (default: `location.assign`). */
  navigate?: (url: string) => void;
  /** Makes publish's idempotency keys (default: 32 random hex characters). */
  newIdempotencyKey?: () => string;
}

export interface CallOptions {
  /**
   * Aborts the call (and its retries): nothing more is sent, and it rejects
   * with the signal's reason; a publish that sent a request already (which
   * may have posted) rejects with an `aborted` ThreadsFunctionsError instead,
   * with its `idempotencyKey` and the reason as `cause`.
   */
  signal?: AbortSignal;
}
export interface ConnectOptions extends CallOptions {
  /**
   * Where thAuthCallback sends the browser back, with the outcome in its
   * query (read it with readConnectResult): an absolute URL on an origin of
   * the functions' `ALLOWED_RETURN_ORIGINS`. Without it, their `DEFAULT_RETURN_TO`.
   */
  returnTo?: string;
}
export interface PublishOptions extends CallOptions {
  /** The connected account to publish to; required when the user has several. */
  accountId?: string;
  /**
   * Makes repeating the request safe: the same key (same user) returns the
   * first request's result and never posts again. Default: a new key per
   * publish call, reused by its retries.
   */
  idempotencyKey?: string;
}
export interface CancelOptions extends CallOptions {
  /** The job's account; required when the user has several. */
  accountId?: string;
}
/** Which job watchJob follows: the current user's. */
export interface JobRef {
  accountId: string;
  jobId: string;
}

export interface ThreadsClient {
  /**
   * Starts connecting a Threads account: asks thAuthStart for the authorize
   * URL (with the user's ID token) and sends the browser there. Threads
   * brings the user back to `returnTo`; read the outcome there with
   * readConnectResult. Resolves once the navigation started.
   */
  connectThreads(options?: ConnectOptions): Promise<void>;
  /** thAuthStart alone: the Threads authorize URL, for an app that navigates itself. */
  authorizeUrl(options?: ConnectOptions): Promise<string>;
  /**
   * Publishes (or, with `publishAt`, schedules) a post. Network failures and
   * `503` answers are retried with the same idempotency key, which the server
   * publishes at most once. Resolves to `published` (media ids), `pending`
   * (the job goes on: follow it with watchJob) or `scheduled`; rejects with a
   * ThreadsFunctionsError.
   */
  publish(post: Post, options?: PublishOptions): Promise<PublishResult>;
  /** Cancels a scheduled post until it starts (`409 job_started` after). Cancelling twice is fine. */
  cancelJob(jobId: string, options?: CancelOptions): Promise<Cancelled>;
  /** Removes a connected account: its token is deleted and its pending jobs cancelled. Calling it twice is fine. */
  disconnect(accountId: string, options?: CallOptions): Promise<void>;
  /** watchJob for a job of the signed-in user. */
  watchJob<DB, Ref>(access: FirestoreAccess<DB, Ref>, job: JobRef, options?: WatchJobOptions): Promise<JobEnd>;
}

type Answer = Record<string, unknown> & { ok?: unknown };

const DEFAULT_DELAYS = [500, 1000];

function randomKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// Retry-After as seconds: delta-seconds or an HTTP date.
function retryAfterSeconds(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Creates the client of the functions for an app's Firebase `Auth` instance. */
export function createThreadsClient(options: ThreadsClientOptions): ThreadsClient {
  const { auth } = options;
  if (!auth || typeof auth !== 'object') throw new TypeError('createThreadsClient: auth is required');
  const baseUrl = options.baseUrl?.replace(/\/+$/, '');
  const attempts = Math.max(1, Math.floor(options.retry?.attempts ?? 3));
  const delays = options.retry?.delays?.length ? options.retry.delays : DEFAULT_DELAYS;
  const maxRetryAfter = options.retry?.maxRetryAfter ?? 10;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const newKey = options.newIdempotencyKey ?? randomKey;
  const doFetch = (input: string, init: RequestInit) => (options.fetch ?? globalThis.fetch)(input, init);
  const navigate = options.navigate ?? ((url: string) => globalThis.location.assign(url));

  function urlOf(name: FunctionName): string {
    const own = options.urls?.[name];
    if (own) return own;
    if (baseUrl === undefined) throw new TypeError(`createThreadsClient: no baseUrl, and no URL for ${name} in urls`);
    return `${baseUrl}/${name}`;
  }

  function currentUser(): FirebaseUserLike {
    const user = auth.currentUser;
    if (!user) throw new ThreadsFunctionsError('not_signed_in', 'no Firebase user is signed in');
    return user;
  }

  // One attempt, bounded by timeoutMs and the caller's signal, the answer's
  // body included: a body cut off or stalled rejects like a network failure
  // (and is retried), not as a final answer. The caller's abort rejects with
  // its reason (its caller checks that the signal has not fired already).
  async function attempt(url: string, init: RequestInit, signal?: AbortSignal): Promise<{ resp: Response; text: string }> {
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(abortReason(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = timeoutMs > 0 ? setTimeout(() => ctl.abort(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs) : undefined;
    try {
      const resp = await doFetch(url, { ...init, signal: ctl.signal });
      return { resp, text: await resp.text() };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  interface Request {
    method: 'POST' | 'DELETE';
    body?: unknown;
    query?: Record<string, string>;
    headers?: Record<string, string>;
    signal?: AbortSignal | undefined;
    idempotencyKey?: string;
  }

  // call sends a request with the user's ID token, retrying network
  // failures and 503 answers (every call of this client is safe to repeat:
  // publish has its idempotency key, cancel and disconnect are idempotent,
  // thAuthStart only stores another single-use state). A 401 token_expired
  // is retried once with a token fetched anew. Resolves to the answer's JSON
  // when it is `ok: true`; rejects with a ThreadsFunctionsError otherwise.
  //
  // An abort sends nothing more, whenever it comes (while the ID token is
  // fetched, during an attempt or the backoff, or as the answer is read).
  async function call(name: FunctionName, req: Request): Promise<{ status: number; data: Answer }> {
    const { signal } = req;
    const keyDetail = req.idempotencyKey === undefined ? {} : { idempotencyKey: req.idempotencyKey };
    // Whether an attempt was handed to fetch: from then on, the request may
    // have reached the function (and a publish may have posted).
    let sent = false;
    // What an abort rejects with: the signal's reason while nothing was
    // sent. Once a publish attempt was, the caller needs its key to try
    // again without posting twice: an `aborted` error with it.
    const aborted = (): unknown => {
      const reason = abortReason(signal!);
      if (!sent || req.idempotencyKey === undefined) return reason;
      return new ThreadsFunctionsError('aborted', `${name} was aborted after a request was sent: it may have posted`, {
        cause: reason,
        ...keyDetail,
      });
    };
    const stopIfAborted = (): void => {
      if (signal?.aborted) throw aborted();
    };
    const backoff = async (ms: number): Promise<void> => {
      try {
        await sleep(ms, signal);
      } catch {
        throw aborted(); // sleep rejects on abort only
      }
    };
    stopIfAborted();
    const user = currentUser();
    const query = req.query ? `?${new URLSearchParams(req.query)}` : '';
    const url = `${urlOf(name)}${query}`;
    let forceRefresh = false;
    let refreshed = false;
    for (let n = 1; ; n++) {
      let idToken: string;
      try {
        idToken = await user.getIdToken(forceRefresh);
      } catch (err) {
        stopIfAborted();
        // Before anything was sent, Firebase's error passes through. After
        // an attempt (which may have posted), the caller needs the key to
        // try again safely: the failure is reported with it.
        if (n === 1 || req.idempotencyKey === undefined) throw err;
        const why = err instanceof Error ? err.message : String(err);
        throw new ThreadsFunctionsError('network_error', `${name}: no ID token for another attempt: ${why}`, {
          cause: err,
          ...keyDetail,
        });
      }
      // The signal may have fired while the token was fetched: then this
      // attempt is not sent.
      stopIfAborted();
      forceRefresh = false;
      const headers: Record<string, string> = { Authorization: `Bearer ${idToken}`, ...req.headers };
      const init: RequestInit = { method: req.method, headers };
      if (req.body !== undefined) {
        headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(req.body);
      }
      const wait = delays[Math.min(n - 1, delays.length - 1)] ?? 0;

      let resp: Response;
      let text: string;
      sent = true;
      try {
        ({ resp, text } = await attempt(url, init, signal));
      } catch (err) {
        stopIfAborted();
        if (n < attempts) {
          await backoff(wait);
          continue;
        }
        const why = err instanceof Error ? err.message : String(err);
        throw new ThreadsFunctionsError('network_error', `${name} could not be reached: ${why}`, {
          cause: err,
          ...keyDetail,
        });
      }
      // Aborted as the answer was read: the call rejects all the same.
      stopIfAborted();

      let data: Answer | null = null;
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) data = parsed as Answer;
      } catch {
        // Not JSON: reported below by its HTTP status.
      }
      if (resp.ok && data?.ok === true) return { status: resp.status, data };

      const detail = (data?.['error'] ?? {}) as Partial<Schemas['ErrorDetail']>;
      const retryAfter = retryAfterSeconds(resp.headers.get('Retry-After'));
      const code = typeof detail.code === 'string' ? detail.code : (`http_${resp.status}` as const);
      const error = new ThreadsFunctionsError(
        code,
        typeof detail.message === 'string' && detail.message ? detail.message : `${name} answered HTTP ${resp.status}`,
        {
          status: resp.status,
          ...(typeof data?.['jobId'] === 'string' ? { jobId: data['jobId'] } : {}),
          ...(typeof data?.['status'] === 'string' ? { jobStatus: data['status'] as JobStatus } : {}),
          ...(Array.isArray(data?.['ids']) ? { ids: data['ids'] as string[] } : {}),
          ...(retryAfter === undefined ? {} : { retryAfter }),
          ...keyDetail,
        },
      );
      if (resp.status === 401 && code === 'token_expired' && !refreshed) {
        refreshed = true;
        forceRefresh = true;
        n--; // not an attempt of the retry budget
        continue;
      }
      if (resp.status === 503 && n < attempts && (retryAfter === undefined || retryAfter <= maxRetryAfter)) {
        await backoff(Math.max(wait, (retryAfter ?? 0) * 1000));
        continue;
      }
      throw error;
    }
  }

  async function authorizeUrl(opts: ConnectOptions = {}): Promise<string> {
    const body: Schemas['AuthStartRequest'] = opts.returnTo === undefined ? {} : { returnTo: opts.returnTo };
    const { data } = await call('thAuthStart', { method: 'POST', body, signal: opts.signal });
    return (data as Schemas['AuthStartAnswer']).url;
  }

  return {
    authorizeUrl,

    async connectThreads(opts: ConnectOptions = {}): Promise<void> {
      navigate(await authorizeUrl(opts));
    },

    async publish(post: Post, opts: PublishOptions = {}): Promise<PublishResult> {
      if (!post || typeof post !== 'object') throw new TypeError('publish: post must be an object');
      if (opts.idempotencyKey !== undefined && !opts.idempotencyKey.trim()) {
        // Sent empty, it would be no key at all, and every retry a new post.
        throw new TypeError('publish: idempotencyKey must not be empty');
      }
      const idempotencyKey = opts.idempotencyKey ?? newKey();
      const body = opts.accountId === undefined ? { ...post } : { ...post, accountId: opts.accountId };
      const { data } = await call('thPublish', {
        method: 'POST',
        body,
        headers: { 'Idempotency-Key': idempotencyKey },
        signal: opts.signal,
        idempotencyKey,
      });
      const answer = data as Schemas['Published'] | Schemas['Pending'] | Schemas['Scheduled'];
      // The functions name the job's account (the one they picked when the
      // call named none); older deployments did not.
      const accountId = answer.accountId ?? opts.accountId;
      const account = accountId === undefined ? {} : { accountId };
      switch (answer.status) {
        case 'published': {
          const ids = answer.ids?.length ? answer.ids : answer.id ? [answer.id] : [];
          return { status: 'published', jobId: answer.jobId, ...(answer.id ? { id: answer.id } : {}), ids, ...account };
        }
        case 'pending':
          return { status: 'pending', jobId: answer.jobId, ...account };
        case 'scheduled':
          return { status: 'scheduled', jobId: answer.jobId, publishAt: answer.publishAt, ...account };
        default:
          throw new ThreadsFunctionsError(
            'http_200',
            `thPublish answered an unknown status ${JSON.stringify((answer as { status?: unknown }).status)}`,
            { status: 200, idempotencyKey },
          );
      }
    },

    async cancelJob(jobId: string, opts: CancelOptions = {}): Promise<Cancelled> {
      const query: Record<string, string> = { jobId };
      if (opts.accountId !== undefined) query['accountId'] = opts.accountId;
      const { data } = await call('thPublish', { method: 'DELETE', query, signal: opts.signal });
      const answer = data as Schemas['Cancelled'];
      return { status: 'cancelled', jobId: answer.jobId };
    },

    async disconnect(accountId: string, opts: CallOptions = {}): Promise<void> {
      const body: Schemas['DisconnectRequest'] = { accountId };
      await call('thDisconnect', { method: 'POST', body, signal: opts.signal });
    },

    watchJob<DB, Ref>(access: FirestoreAccess<DB, Ref>, job: JobRef, opts?: WatchJobOptions): Promise<JobEnd> {
      let path: string;
      try {
        path = jobPath(currentUser().uid, job.accountId, job.jobId);
      } catch (err) {
        return Promise.reject(err);
      }
      return watchJob(access, path, opts);
    },
  };
}
