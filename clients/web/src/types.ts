// The client's types: requests and answers from the generated spec types
// (src/generated/openapi.ts, from api/openapi.yaml), narrowed per post kind.

import type { components } from './generated/openapi.js';

type Schemas = components['schemas'];

/** Every stable error code a function answers (api/openapi.yaml, `ErrorCode`). */
export type ErrorCode = Schemas['ErrorCode'];
/** A publish job's status (`scheduled`, `accepted`, …, `published`, `failed`, `cancelled`). */
export type JobStatus = Schemas['JobStatus'];
/** Why connecting failed: thAuthCallback's `reason` (api/openapi.yaml, `CallbackReason`). */
export type CallbackReason = Schemas['CallbackReason'];
/** Every field thPublish accepts, as the spec has them. */
export type PublishRequest = Schemas['PublishRequest'];
export type MediaItem = Schemas['MediaItem'];
export type TextRange = Schemas['TextRange'];
export type TextStyle = Schemas['TextStyle'];
export type Poll = Schemas['Poll'];
export type GIF = Schemas['GIF'];
export type CountryCode = Schemas['CountryCode'];
export type ReplyControl = NonNullable<PublishRequest['replyControl']>;

type Never<K extends PropertyKey> = { [P in K]?: never };

/** Fields every kind of post may have. */
export type PostOptions = Pick<
  PublishRequest,
  'replyToId' | 'quotePostId' | 'replyControl' | 'topicTag' | 'spoilers' | 'allowlistedCountryCodes' | 'publishAt'
>;
/** Attachments of text posts only. */
type TextAttachments = Pick<
  PublishRequest,
  'poll' | 'linkAttachment' | 'longText' | 'longTextLink' | 'longTextStyles' | 'gif'
>;
type MediaKeys = 'imageUrl' | 'videoUrl' | 'media' | 'altText' | 'spoilerMedia';

/** A text post: up to 500 bytes of UTF-8, or longer with `split` (the server makes it a reply chain). */
export type TextPost = PostOptions &
  TextAttachments & {
    text: string;
    split?: boolean;
    numberParts?: boolean;
    ghost?: boolean;
  } & Never<'thread' | MediaKeys>;

/** A reply chain of 2 to 20 text parts, each replying to the one before. */
export type ThreadPost = PostOptions &
  Omit<TextAttachments, 'poll'> & {
    thread: string[];
  } & Never<'text' | 'split' | 'numberParts' | 'ghost' | 'poll' | MediaKeys>;

type MediaPostBase = PostOptions & {
  text?: string;
  spoilerMedia?: boolean;
} & Never<'thread' | 'split' | 'numberParts' | 'ghost' | keyof TextAttachments>;

/** An image post (`https` URL Threads can fetch), with optional text. */
export type ImagePost = MediaPostBase & { imageUrl: string; altText?: string } & Never<'videoUrl' | 'media'>;
/** A video post, with optional text. */
export type VideoPost = MediaPostBase & { videoUrl: string; altText?: string } & Never<'imageUrl' | 'media'>;
/** A carousel of 2 to 20 images and videos, with optional text. */
export type CarouselPost = MediaPostBase & { media: MediaItem[] } & Never<'imageUrl' | 'videoUrl' | 'altText'>;

/**
 * What {@link ThreadsClient.publish} posts: one of the kinds above. Which
 * account, and the idempotency key, are options of publish, not fields here.
 */
export type Post = TextPost | ThreadPost | ImagePost | VideoPost | CarouselPost;

/** Published: `ids` has every media id (a reply chain's, in order); `id` is the first. */
export interface Published {
  status: 'published';
  jobId: string;
  /**
   * The post's media id (a chain's first part). Left out in the rare case
   * where Threads' publish answer was lost and the post was confirmed through
   * its container's status.
   */
  id?: string;
  ids: string[];
  /** The job's account: the one given, or the one the functions picked. */
  accountId?: string;
}
/** Accepted; the job continues in the background (media processing, a retry): follow it with watchJob. */
export interface Pending {
  status: 'pending';
  jobId: string;
  accountId?: string;
}
/** Scheduled with `publishAt` (RFC 3339, UTC); cancel it with cancelJob until then. */
export interface Scheduled {
  status: 'scheduled';
  jobId: string;
  publishAt: string;
  accountId?: string;
}
export type PublishResult = Published | Pending | Scheduled;

/** thPublish's DELETE answer. */
export interface Cancelled {
  status: 'cancelled';
  jobId: string;
}

/** A successful connect: the account is stored under the user. */
export interface ConnectedResult {
  status: 'connected';
  accountId: string;
}
/** A failed connect, with thAuthCallback's reason. */
export interface ConnectErrorResult {
  status: 'error';
  reason: CallbackReason | (string & {});
}
export type ConnectResult = ConnectedResult | ConnectErrorResult;

/** A Firestore timestamp, as the Firebase SDK reads it. */
export interface TimestampLike {
  toDate(): Date;
}

/** What a job records of a failure (`error`, `lastError`). */
export interface JobError {
  reason: string;
  message: string;
  /** Threads' error code, subcode and trace id, when Threads refused. */
  code?: number;
  subcode?: number;
  fbtraceId?: string;
}

/** A reply chain's part, as its job records it. */
export interface JobPart {
  text: string;
  status: string;
  containerId?: string;
  mediaId?: string;
}

/**
 * A publish job's document, `users/{uid}/integrations/threads/accounts/{accountId}/jobs/{jobId}`,
 * readable by its owner (see the README's Data model and Job states). Only
 * the fields an app reads are typed; the others are there too.
 */
export interface JobDocument {
  jobId: string;
  uid: string;
  accountId: string;
  status: JobStatus;
  kind: string;
  /** The request, as JSON. */
  request: string;
  containerId?: string;
  mediaId?: string;
  attempts?: number;
  error?: JobError | null;
  lastError?: JobError | null;
  part?: number;
  parts?: JobPart[];
  publishAt?: TimestampLike;
  createdAt?: TimestampLike;
  updatedAt?: TimestampLike;
  publishedAt?: TimestampLike;
  /** Posted without its linkAttachment, whose preview Threads could not fetch. */
  linkDropped?: boolean;
  /**
   * The attempt holding the job, and until when. A `cancelled` job that
   * still has a `leaseOwner` was cancelled while that attempt was
   * publishing it: until `leaseUntil`, it may yet turn `published`.
   */
  leaseOwner?: string;
  leaseUntil?: TimestampLike;
  [field: string]: unknown;
}

/** How a watched job ended (see watchJob). `job` is its final document. */
export type JobEnd =
  | { status: 'published'; jobId: string; id?: string; ids: string[]; job: JobDocument }
  | { status: 'failed' | 'cancelled'; jobId: string; reason: string; message: string; job: JobDocument };
