// Compile-time checks of the public types (npm run typecheck; nothing runs):
// the Firebase SDK's Auth and Firestore functions fit the client's structural
// types, each kind of post is accepted and the mixes the server refuses are
// not, and the answers narrow on `status`.

import { getAuth } from 'firebase/auth';
import { doc, getFirestore, onSnapshot } from 'firebase/firestore';
import {
  createThreadsClient,
  readConnectResult,
  ThreadsFunctionsError,
  watchJob,
  jobPath,
  type ErrorCode,
  type Post,
  type PublishResult,
} from '../../src/index.js';

const auth = getAuth();
const db = getFirestore();
const client = createThreadsClient({ auth, baseUrl: 'https://europe-west1-p.cloudfunctions.net' });

export async function firebaseFits(): Promise<void> {
  const end = await client.watchJob({ firestore: db, doc, onSnapshot }, { accountId: '1', jobId: 'k0' });
  if (end.status === 'published') end.ids.join(',');
  else end.reason.toUpperCase();
  await watchJob({ firestore: db, doc, onSnapshot }, jobPath('u', '1', 'k0'), { onChange: (job) => job.status });
}

export const posts: Post[] = [
  { text: 'Hello' },
  { text: 'Long…', split: true, numberParts: true },
  { text: 'Tea or coffee?', poll: { options: ['Tea', 'Coffee'] }, allowlistedCountryCodes: ['GB'] },
  { text: 'Read on', longText: 'The details', longTextLink: 'https://example.com', spoilers: [{ length: 4 }] },
  { thread: ['one', 'two'], replyControl: 'mentioned_only' },
  { imageUrl: 'https://cdn.example.com/1.jpg', altText: 'a sunrise', text: 'Look', spoilerMedia: true },
  { videoUrl: 'https://cdn.example.com/1.mp4' },
  { media: [{ type: 'image', url: 'https://cdn.example.com/1.jpg' }, { type: 'video', url: 'https://cdn.example.com/2.mp4' }] },
  { text: 'Later', publishAt: '2030-01-01T00:00:00Z' },
];

// @ts-expect-error a post needs text, a thread or media
export const empty: Post = {};
// @ts-expect-error thread and text do not go together
export const threadAndText: Post = { thread: ['a', 'b'], text: 'c' };
// @ts-expect-error a poll is for text posts
export const pollOnImage: Post = { imageUrl: 'https://cdn.example.com/1.jpg', poll: { options: ['a', 'b'] } };
// @ts-expect-error a poll needs text (its question), which a thread has not
export const pollOnThread: Post = { thread: ['a', 'b'], poll: { options: ['a', 'b'] } };
// @ts-expect-error one kind of media
export const twoMedia: Post = { imageUrl: 'https://cdn.example.com/1.jpg', videoUrl: 'https://cdn.example.com/1.mp4' };
// @ts-expect-error the account is publish's option, not a field of the post
export const withAccount: Post = { text: 'x', accountId: '1' };
// @ts-expect-error replyControl is one of its values
export const badControl: Post = { text: 'x', replyControl: 'nobody' };

export async function answers(): Promise<string> {
  const r: PublishResult = await client.publish({ text: 'x' }, { accountId: '1', idempotencyKey: 'k' });
  switch (r.status) {
    case 'published':
      return r.ids.join(',') + (r.id ?? '');
    case 'pending':
      return r.jobId;
    case 'scheduled':
      return r.publishAt;
  }
}

export function errors(err: unknown): string {
  if (err instanceof ThreadsFunctionsError) {
    const known: ErrorCode | 'network_error' | 'not_signed_in' | 'job_deleted' | 'aborted' | `http_${number}` = err.code;
    // @ts-expect-error codes are the spec's, not any string
    const unknown: typeof err.code = 'no_such_code';
    return `${known} ${unknown} ${err.status} ${err.jobId ?? ''} ${err.retryAfter ?? ''}`;
  }
  const r = readConnectResult(new URL('https://app.example.com/?threads=connected&accountId=1'), null);
  return r?.status === 'connected' ? r.accountId : (r?.reason ?? '');
}
