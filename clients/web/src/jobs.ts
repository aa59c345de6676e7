import { ThreadsFunctionsError } from './errors.js';
import type { JobDocument, JobEnd } from './types.js';

/** A document snapshot, as the Firebase SDK's `onSnapshot` passes it. */
export interface SnapshotLike {
  exists(): boolean;
  data(): unknown;
}

/**
 * The Firestore functions watchJob needs, passed in by the app so that this
 * package does not depend on the Firebase SDK: with the modular SDK,
 * `{ firestore: db, doc, onSnapshot }` (`doc` and `onSnapshot` from
 * `firebase/firestore`, `db` from `getFirestore()`). Any object with the
 * same shape works (a test double, another SDK).
 */
export interface FirestoreAccess<DB, Ref> {
  firestore: DB;
  doc(firestore: DB, path: string): Ref;
  onSnapshot(ref: Ref, onNext: (snapshot: SnapshotLike) => void, onError: (error: Error) => void): () => void;
}

export interface WatchJobOptions {
  /** Called with the job's document at every change, the last (final) one included. */
  onChange?: (job: JobDocument) => void;
  /** Stops watching: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

const FINAL = new Set(['published', 'failed', 'cancelled']);

/** Past a settling job's lease, how long watchJob still waits for its last write. */
const SETTLE_MARGIN_MS = 2000;
/** The longest a settling job is waited for: the functions' lease (2 minutes) and the margin. */
const SETTLE_MAX_MS = 120_000 + SETTLE_MARGIN_MS;

/**
 * When a job that looks final may still change: a job cancelled while an
 * attempt was publishing it keeps that attempt's lease, and turns
 * `published` if its call posted, or gives the lease up if it did not (see
 * the README's Job states). How long to wait for that from now, when the
 * snapshot arrived: what was left of the lease when the job was cancelled,
 * both times the server's (`leaseUntil`, `updatedAt`), so that the
 * browser's clock does not matter; 0 when the job is settled.
 */
function unsettledFor(job: JobDocument): number {
  if (job.status !== 'cancelled' || !job.leaseOwner) return 0;
  const until = job.leaseUntil?.toDate?.()?.getTime();
  const cancelled = job.updatedAt?.toDate?.()?.getTime();
  if (until === undefined || Number.isNaN(until)) return 0;
  const left = cancelled === undefined || Number.isNaN(cancelled) ? SETTLE_MAX_MS : until - cancelled + SETTLE_MARGIN_MS;
  return Math.min(Math.max(0, left), SETTLE_MAX_MS);
}

/** The path of a publish job's document (readable by its owner). */
export function jobPath(uid: string, accountId: string, jobId: string): string {
  for (const [name, v] of [['uid', uid], ['accountId', accountId], ['jobId', jobId]] as const) {
    if (!v || v.includes('/')) throw new TypeError(`jobPath: ${name} must be a non-empty id, got ${JSON.stringify(v)}`);
  }
  return `users/${uid}/integrations/threads/accounts/${accountId}/jobs/${jobId}`;
}

/** The media ids a published job made: a reply chain's parts in order, or its one post. */
export function mediaIdsOf(job: JobDocument): string[] {
  if (job.parts?.length) return job.parts.map((p) => p.mediaId ?? '').filter(Boolean);
  return job.mediaId ? [job.mediaId] : [];
}

/**
 * Follows a publish job (a `pending` or `scheduled` answer of publish) in
 * Firestore until it ends, and resolves with how: `published` (with its
 * media ids), `failed` or `cancelled` (with the job's `error.reason` and
 * message). `onChange` sees every state on the way. A job cancelled while
 * an attempt was publishing it is followed until that attempt ends or its
 * lease runs out (at most about 2 minutes): it ends `published` if the call
 * in flight posted.
 *
 * It rejects with the snapshot listener's error (e.g. `permission-denied`
 * when the user signed out), with a `job_deleted` ThreadsFunctionsError when
 * the document is deleted (the account's data was deleted), or with the
 * signal's reason when aborted. It stops listening in every case.
 */
export function watchJob<DB, Ref>(
  access: FirestoreAccess<DB, Ref>,
  path: string,
  options: WatchJobOptions = {},
): Promise<JobEnd> {
  const { onChange, signal } = options;
  return new Promise<JobEnd>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let done = false;
    let seen = false;
    let unsubscribe: (() => void) | null = null;
    // Ends a cancelled job that is still settling, when its lease is over.
    let settleTimer: ReturnType<typeof setTimeout> | undefined;
    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(settleTimer);
      signal?.removeEventListener('abort', onAbort);
      unsubscribe?.();
      settle();
    };
    const onAbort = () => finish(() => reject(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });

    const onNext = (snapshot: SnapshotLike) => {
      if (done) return;
      if (!snapshot.exists()) {
        // Not written yet is possible only in theory (the job exists before
        // publish answers); gone after being seen means deleted.
        if (seen) {
          finish(() =>
            reject(new ThreadsFunctionsError('job_deleted', `the job at ${path} was deleted before it ended`)),
          );
        }
        return;
      }
      seen = true;
      const job = snapshot.data() as JobDocument;
      try {
        onChange?.(job);
      } catch (err) {
        finish(() => reject(err));
        return;
      }
      clearTimeout(settleTimer);
      if (!FINAL.has(job.status)) return;
      const jobId = job.jobId || path.slice(path.lastIndexOf('/') + 1);
      if (job.status === 'published') {
        const ids = mediaIdsOf(job);
        const end: JobEnd = { status: 'published', jobId, ids, job };
        if (ids[0] !== undefined) end.id = ids[0];
        finish(() => resolve(end));
        return;
      }
      const status = job.status as 'failed' | 'cancelled';
      const end = () =>
        finish(() =>
          resolve({ status, jobId, reason: job.error?.reason || status, message: job.error?.message ?? '', job }),
        );
      const wait = unsettledFor(job);
      if (wait > 0) settleTimer = setTimeout(end, wait);
      else end();
    };
    const onError = (error: Error) => finish(() => reject(error));
    let unsub: () => void;
    try {
      unsub = access.onSnapshot(access.doc(access.firestore, path), onNext, onError);
    } catch (err) {
      // doc or onSnapshot threw (a wrong Firestore instance, say): nothing
      // listens, but the abort listener must go too.
      finish(() => reject(err));
      return;
    }
    if (done) unsub(); // the listener answered (and ended) synchronously
    else unsubscribe = unsub;
  });
}
