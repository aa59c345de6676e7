import type { ErrorCode, JobStatus } from './types.js';

/**
 * Codes of failures the client reports itself, which no function answers:
 * - `network_error`: the function could not be reached (every retry failed,
 *   or each attempt timed out);
 * - `not_signed_in`: the Firebase `Auth` instance has no `currentUser`;
 * - `job_deleted`: a job being watched was deleted (its account's data was
 *   deleted), so it will never end;
 * - `aborted`: a publish was aborted (its `signal`) after a request was
 *   sent, which may have posted: publish again with its `idempotencyKey`
 *   (the abort's reason is its `cause`);
 * - `http_<status>`: an answer that is not the functions' JSON (a proxy's
 *   error page, say).
 */
export type ClientErrorCode = 'network_error' | 'not_signed_in' | 'job_deleted' | 'aborted' | `http_${number}`;

/** Details of a {@link ThreadsFunctionsError}. */
export interface ThreadsFunctionsErrorDetails {
  /** The HTTP status of the answer; 0 when there was none. */
  status?: number;
  /** thPublish: the job the error is about, when one exists. */
  jobId?: string;
  /** thPublish: that job's status (`failed`, `cancelled`, …). */
  jobStatus?: JobStatus;
  /** thPublish: the media ids of a reply chain's parts published before it stopped. */
  ids?: string[];
  /** Seconds to wait before trying again, from the answer's `Retry-After` (429, 503). */
  retryAfter?: number;
  /**
   * publish: the idempotency key the request was sent with. Calling publish
   * again with it can never post twice, whatever happened to this request.
   */
  idempotencyKey?: string;
  /** The underlying error (a network failure, say). */
  cause?: unknown;
}

/**
 * An error answered by a function, or a failure to reach it. `code` is the
 * stable code of the answer's `error.code` (see the README's Errors table and
 * api/openapi.yaml's `ErrorCode`), or a {@link ClientErrorCode}; `message` is
 * for people and may change.
 */
export class ThreadsFunctionsError extends Error {
  override readonly name = 'ThreadsFunctionsError';
  readonly code: ErrorCode | ClientErrorCode;
  readonly status: number;
  readonly jobId?: string;
  readonly jobStatus?: JobStatus;
  readonly ids?: string[];
  readonly retryAfter?: number;
  readonly idempotencyKey?: string;

  constructor(code: ErrorCode | ClientErrorCode, message: string, details: ThreadsFunctionsErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = details.status ?? 0;
    if (details.jobId !== undefined) this.jobId = details.jobId;
    if (details.jobStatus !== undefined) this.jobStatus = details.jobStatus;
    if (details.ids !== undefined) this.ids = details.ids;
    if (details.retryAfter !== undefined) this.retryAfter = details.retryAfter;
    if (details.idempotencyKey !== undefined) this.idempotencyKey = details.idempotencyKey;
  }
}
