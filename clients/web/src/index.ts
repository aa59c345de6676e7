// @threads-functions/web: the browser client of threads-functions.
//
// Connect a Firebase user's Threads accounts (connectThreads,
// readConnectResult), publish to them (publish, watchJob, cancelJob) and
// disconnect them, with the request and answer types generated from the
// functions' OpenAPI spec. No runtime dependency: it uses fetch, and takes
// the app's Firebase Auth instance and Firestore functions as arguments.

export {
  createThreadsClient,
  type CallOptions,
  type CancelOptions,
  type ConnectOptions,
  type FirebaseAuthLike,
  type FirebaseUserLike,
  type FunctionName,
  type JobRef,
  type PublishOptions,
  type RetryOptions,
  type ThreadsClient,
  type ThreadsClientOptions,
} from './client.js';
export { readConnectResult, type HistoryLike, type LocationLike } from './connect.js';
export { ThreadsFunctionsError, type ClientErrorCode, type ThreadsFunctionsErrorDetails } from './errors.js';
export { jobPath, mediaIdsOf, watchJob, type FirestoreAccess, type SnapshotLike, type WatchJobOptions } from './jobs.js';
export type * from './types.js';
export type { components, operations, paths } from './generated/openapi.js';
