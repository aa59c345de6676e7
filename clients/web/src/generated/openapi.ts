/**
 * The types of the functions' HTTP API, generated from api/openapi.yaml by
 * openapi-typescript (clients/web/scripts/generate.mjs). Do not edit: change
 * the spec, then run `npm run generate -w clients/web`.
 */

export interface paths {
    "/thAuthStart": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Start connecting a Threads account
         * @description Stores a single-use OAuth `state` (valid 10 minutes) for the caller and answers the
         *     Threads authorize URL the app sends the browser to. The ID token is checked first,
         *     then the body (optional, at most 8 KiB, unknown fields refused).
         */
        post: operations["thAuthStart"];
        delete?: never;
        /**
         * CORS preflight
         * @description The browser's preflight; see CORS above.
         */
        options: operations["thAuthStartPreflight"];
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/thAuthCallback": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Finish connecting a Threads account (Threads redirects the browser here)
         * @description Consumes the `state` (once: read, then deleted on the condition that it is unchanged; expiry
         *     checked), exchanges the `code` for a
         *     short-lived token, then for a long-lived one while reading the profile, stores the account
         *     with its token sealed, and redirects the browser to the state's `returnTo`. When any step
         *     fails nothing is stored and the redirect says why (`threads=error&reason=…`, schema
         *     `CallbackReason`). A `state` that is missing, malformed, unknown, used or expired has no `returnTo` to go
         *     back to: it gets an HTML page with the code `invalid_state`. No ID token: the state is
         *     the authentication (single use, 10 minutes; not bound to the browser: see the known limitation in the README). No CORS: a top-level navigation.
         */
        get: operations["thAuthCallback"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/thPublish": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Publish or schedule a post (users); continue a job (Cloud Tasks deliveries); hand on overdue jobs (Cloud Scheduler)
         * @description **Users** send a `PublishRequest` with a Firebase ID token (at most 64 KiB, unknown fields
         *     refused). Everything in it is checked before any Threads call and before scheduling, each
         *     rule with its own `400` code. An `Idempotency-Key` header (or the `idempotencyKey` field;
         *     both given, they must match) makes repeats return the first request's result and never
         *     post again; the same key with a different body is `422 idempotency_key_reused`. A key
         *     is scoped to the user and the post's account. Answers: `200` published (`Published`), `202` pending (`Pending`: media still
         *     processing or a transient failure; the job continues through Cloud Tasks, or another
         *     attempt holds it) or scheduled (`Scheduled`, with `publishAt`), or an error; a job that
         *     ended failed or cancelled answers with `JobFailure` (its `jobId`, `status` and the ids
         *     of a chain's parts published before it stopped).
         *
         *     **Cloud Tasks** deliveries carry `X-CloudTasks-*` headers, which route them here, a
         *     `TaskDelivery` body and an OIDC token of `TASKS_SERVICE_ACCOUNT` with audience
         *     `TASKS_TARGET_URL` (`cloudTasksOidc`; the headers alone are never enough). A `2xx`
         *     answer ends the task: `200` with the job's state (`TaskOutcome`: done, failed for good,
         *     a follow-up task queued, or no such job), or `200 invalid_task` for a body that lacks
         *     `uid`, `accountId` or `jobId` (retrying cannot fix it). `503` with `Retry-After` makes
         *     Cloud Tasks deliver it again.
         *
         *     **The sweep**: Cloud Scheduler calls `POST ?sweep=1`, without a body, every minute, with
         *     the same OIDC identity and audience as Cloud Tasks (`cloudTasksOidc`). Every job carries
         *     `dueBy`, the time by which something must take it up again (its lease's end while an
         *     attempt holds it, its next task's time while it waits); the sweep creates a task
         *     (`<jobId>-<accountId>-sweep-<dueBy in ms>`, so never twice) for each job more than a minute past it,
         *     at most 500 per call, and removes `dueBy` from jobs that ended (with the lease of an attempt
         *     that was publishing a job when it was cancelled, once that lease has run out: the attempt
         *     died without giving it up). `200` with the counts
         *     (`SweepOutcome`); `503` when the jobs could not be listed or some tasks not created (the
         *     next sweep tries again).
         */
        post: operations["thPublish"];
        /**
         * Cancel a scheduled post
         * @description Cancels the caller's job while it is still `scheduled`; its task, delivered later,
         *     publishes nothing. Cancelling twice is fine (`200` again). `accountId` may be left out
         *     when the user has one account; unlike publishing, an account that needs connecting again
         *     is fine. `X-CloudTasks-*` headers do not matter here: only a `POST` is a task delivery.
         */
        delete: operations["thPublishCancel"];
        /**
         * CORS preflight
         * @description The browser's preflight; see CORS above.
         */
        options: operations["thPublishPreflight"];
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/thDisconnect": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Remove a connected account
         * @description Cancels the account's pending jobs, deletes the account document, token included, and
         *     cancels them once more (no job can be created for an account whose document is gone, so
         *     the second pass sees those created while the first ran; a failed pass answers `503`, and a
         *     repeated call finishes it). A repeated call answers `200` too (a tombstone remembers the
         *     account); an account the user never connected is `404`. Another user's account is never
         *     touched. Body at most 4 KiB.
         */
        post: operations["thDisconnect"];
        delete?: never;
        /**
         * CORS preflight
         * @description The browser's preflight; see CORS above.
         */
        options: operations["thDisconnectPreflight"];
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/thDeauthorize": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Meta's uninstall callback
         * @description Every account of the `signed_request`'s Threads user, under any Firebase user, becomes
         *     `revoked`: its token deleted, its pending jobs cancelled; except an account whose token
         *     was obtained after the request's `issued_at` (connected again since), left as it is.
         *     Authentication is the signature; nothing is read or written before it is checked. No CORS.
         */
        post: operations["thDeauthorize"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/thDataDeletion": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The status page of a data-deletion request
         * @description Public, but needs the random confirmation code. No CORS.
         */
        get: operations["thDataDeletionStatus"];
        put?: never;
        /**
         * Meta's data-deletion callback
         * @description Deletes every account of the `signed_request`'s Threads user and all their jobs, and the
         *     jobs of that user's accounts disconnected before, records the request at
         *     `dataDeletionRequests/{code}` and answers what Meta shows the user. The same callback
         *     retried (same user and `issued_at`) resumes the same request under the same code, even
         *     after `SIGNED_REQUEST_MAX_AGE`. No CORS.
         */
        post: operations["thDataDeletion"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/thRefresh": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The same sweep, for schedulers that send GET */
        get: operations["thRefreshGet"];
        put?: never;
        /**
         * Refresh the tokens that expire soon (Cloud Scheduler)
         * @description Pages through active accounts whose token expires within `REFRESH_WINDOW` and refreshes
         *     each token at least 24 hours old (8 at a time); expired or refused ones become
         *     `needs_reauth`. Only Cloud Scheduler's OIDC token (`SCHEDULER_SERVICE_ACCOUNT`, audience
         *     `SCHEDULER_AUDIENCE`) is accepted. `GET` does the same.
         */
        post: operations["thRefresh"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        ErrorDetail: {
            code: components["schemas"]["ErrorCode"];
            /** @description for humans; may change */
            message: string;
        };
        /** @description the one error shape; each answer names the codes it may carry */
        Error: {
            /** @constant */
            ok: false;
            error: components["schemas"]["ErrorDetail"];
        };
        UnavailableError: components["schemas"]["Error"] & {
            error?: {
                /** @enum {unknown} */
                code?: "unavailable";
            };
        };
        /** @description an error about a job that exists (thPublish) */
        JobFailure: {
            /** @constant */
            ok: false;
            jobId: components["schemas"]["JobID"];
            /** @description the job's account (answers to users) */
            accountId?: string;
            status: components["schemas"]["JobStatus"];
            /** @description the media ids of a chain's parts published before it stopped */
            ids?: string[];
            error: components["schemas"]["ErrorDetail"];
        };
        /**
         * @description Every error code, with the status it comes with and when. A code's `x-status` is the HTTP
         *     status of the answers carrying it; each operation's answers name the codes they may carry.
         */
        ErrorCode: "invalid_task" | "invalid_json" | "unknown_field" | "invalid_return_to" | "empty_post" | "text_too_long" | "too_many_links" | "conflicting_fields" | "invalid_media_url" | "invalid_carousel" | "invalid_poll" | "invalid_reply_control" | "invalid_topic_tag" | "invalid_link_attachment" | "invalid_id" | "invalid_alt_text" | "invalid_idempotency_key" | "invalid_long_text" | "invalid_text_styles" | "invalid_spoilers" | "invalid_gif" | "invalid_country_code" | "invalid_thread" | "invalid_publish_at" | "feature_disabled" | "invalid_job_id" | "missing_account" | "missing_signed_request" | "malformed_signed_request" | "invalid_signature" | "unsupported_algorithm" | "stale_signed_request" | "missing_user_id" | "invalid_state" | "missing_token" | "invalid_token" | "token_expired" | "token_revoked" | "user_disabled" | "task_unauthorized" | "scheduler_unauthorized" | "origin_not_allowed" | "no_account" | "account_not_found" | "job_not_found" | "method_not_allowed" | "job_cancelled" | "job_started" | "reauth_required" | "body_too_large" | "unsupported_media_type" | "idempotency_key_reused" | "media_failed" | "threads_rejected" | "chain_interrupted" | "quota_exceeded" | "misconfigured" | "internal" | "unavailable";
        /** @description an HTML page for a person (`text/html; charset=utf-8`) */
        HTMLPage: string;
        OK: {
            /** @constant */
            ok: true;
        };
        /**
         * @description a Threads id (user, account or post)
         * @example 17841400000000001
         */
        ThreadsID: string;
        /** @description `k` and 32 hex characters derived from the user and the idempotency key, or `r` and 32 random hex characters */
        JobID: string;
        /**
         * @description see Job states in the README
         * @enum {string}
         */
        JobStatus: "scheduled" | "accepted" | "container_created" | "publishing" | "published" | "failed" | "cancelled";
        /** @description 1 to 255 printable ASCII characters */
        IdempotencyKey: string;
        /** @description an absolute `https` URL (the scheme in lower case) without credentials or white space, at most 2048 bytes */
        HTTPSURL: string;
        /** @description an absolute http(s) URL (the scheme in lower case) without white space, at most 2048 bytes */
        HTTPURL: string;
        /**
         * @description an assigned ISO 3166-1 alpha-2 code, in upper case
         * @enum {string}
         */
        CountryCode: "AD" | "AE" | "AF" | "AG" | "AI" | "AL" | "AM" | "AO" | "AQ" | "AR" | "AS" | "AT" | "AU" | "AW" | "AX" | "AZ" | "BA" | "BB" | "BD" | "BE" | "BF" | "BG" | "BH" | "BI" | "BJ" | "BL" | "BM" | "BN" | "BO" | "BQ" | "BR" | "BS" | "BT" | "BV" | "BW" | "BY" | "BZ" | "CA" | "CC" | "CD" | "CF" | "CG" | "CH" | "CI" | "CK" | "CL" | "CM" | "CN" | "CO" | "CR" | "CU" | "CV" | "CW" | "CX" | "CY" | "CZ" | "DE" | "DJ" | "DK" | "DM" | "DO" | "DZ" | "EC" | "EE" | "EG" | "EH" | "ER" | "ES" | "ET" | "FI" | "FJ" | "FK" | "FM" | "FO" | "FR" | "GA" | "GB" | "GD" | "GE" | "GF" | "GG" | "GH" | "GI" | "GL" | "GM" | "GN" | "GP" | "GQ" | "GR" | "GS" | "GT" | "GU" | "GW" | "GY" | "HK" | "HM" | "HN" | "HR" | "HT" | "HU" | "ID" | "IE" | "IL" | "IM" | "IN" | "IO" | "IQ" | "IR" | "IS" | "IT" | "JE" | "JM" | "JO" | "JP" | "KE" | "KG" | "KH" | "KI" | "KM" | "KN" | "KP" | "KR" | "KW" | "KY" | "KZ" | "LA" | "LB" | "LC" | "LI" | "LK" | "LR" | "LS" | "LT" | "LU" | "LV" | "LY" | "MA" | "MC" | "MD" | "ME" | "MF" | "MG" | "MH" | "MK" | "ML" | "MM" | "MN" | "MO" | "MP" | "MQ" | "MR" | "MS" | "MT" | "MU" | "MV" | "MW" | "MX" | "MY" | "MZ" | "NA" | "NC" | "NE" | "NF" | "NG" | "NI" | "NL" | "NO" | "NP" | "NR" | "NU" | "NZ" | "OM" | "PA" | "PE" | "PF" | "PG" | "PH" | "PK" | "PL" | "PM" | "PN" | "PR" | "PS" | "PT" | "PW" | "PY" | "QA" | "RE" | "RO" | "RS" | "RU" | "RW" | "SA" | "SB" | "SC" | "SD" | "SE" | "SG" | "SH" | "SI" | "SJ" | "SK" | "SL" | "SM" | "SN" | "SO" | "SR" | "SS" | "ST" | "SV" | "SX" | "SY" | "SZ" | "TC" | "TD" | "TF" | "TG" | "TH" | "TJ" | "TK" | "TL" | "TM" | "TN" | "TO" | "TR" | "TT" | "TV" | "TW" | "TZ" | "UA" | "UG" | "UM" | "US" | "UY" | "UZ" | "VA" | "VC" | "VE" | "VG" | "VI" | "VN" | "VU" | "WF" | "WS" | "YE" | "YT" | "ZA" | "ZM" | "ZW";
        AuthStartRequest: {
            /** @description where the callback sends the browser back: an absolute http(s) URL whose origin is in `ALLOWED_RETURN_ORIGINS`, at most 2048 bytes in UTF-8 (the schema's maxLength counts characters); without it, `DEFAULT_RETURN_TO` */
            returnTo?: string;
        };
        AuthStartAnswer: {
            /** @constant */
            ok: true;
            /** @description the Threads authorize URL (`client_id`, `redirect_uri`, `response_type=code`, `scope`, `state`) */
            url: string;
        };
        /** @description why `threads=error` (thAuthCallback's redirect, `reason=`) */
        CallbackReason: "access_denied" | "authorization_failed" | "missing_code" | "code_exchange_failed" | "token_exchange_failed" | "profile_failed" | "storage_failed";
        /**
         * PublishRequest
         * @description thPublish's body. A request needs `text`, `thread`, `imageUrl`, `videoUrl` or `media`.
         *     Offsets and lengths count characters (Unicode code points), not bytes. Everything is checked
         *     before any Threads call (and before scheduling), each rule with its own `400` code. As in
         *     Go's decoding, a field that is empty (`""`, `false`, `[]`) or `null` counts as left out,
         *     and field names match without regard to case; this schema describes fields that are set.
         *     Limits JSON Schema cannot say (bytes of UTF-8, distinct links, ranges within the text,
         *     times relative to now) are in the descriptions.
         */
        PublishRequest: {
            /** @description at most 500 bytes of UTF-8, not only white space; at most 5 distinct links (counting `linkAttachment`) */
            text?: string;
            /** @description absolute `https` URL; not with `videoUrl` or `media` */
            imageUrl?: components["schemas"]["HTTPSURL"];
            /** @description absolute `https` URL; not with `imageUrl` or `media` */
            videoUrl?: components["schemas"]["HTTPSURL"];
            /** @description for `imageUrl`/`videoUrl`; at most 1000 characters */
            altText?: string;
            /** @description a carousel of 2 to 20 items, `https` URLs */
            media?: components["schemas"]["MediaItem"][];
            /** @description the post to reply to; not with `quotePostId` */
            replyToId?: components["schemas"]["ThreadsID"];
            /** @description the post to quote */
            quotePostId?: components["schemas"]["ThreadsID"];
            /**
             * @description `everyone`, `accounts_you_follow`, `mentioned_only`, `parent_post_author_only`, `followers_only`
             * @enum {string}
             */
            replyControl?: "everyone" | "accounts_you_follow" | "mentioned_only" | "parent_post_author_only" | "followers_only";
            /** @description http(s) URL; text posts only; not with `poll`. Should Threads fail to fetch its preview at publish (subcode 4279047), the post is published without it (the job records `linkDropped`) */
            linkAttachment?: components["schemas"]["HTTPURL"];
            /** @description 1 to 50 characters, no `.` or `&` */
            topicTag?: string;
            /** @description 2 to 4 distinct options of 1 to 25 characters; needs `text`, or goes with `thread`'s first part; text posts only */
            poll?: components["schemas"]["Poll"];
            /** @description a text attachment (long-form text under the post): 1 to 10,000 characters; text posts only; not with `poll` */
            longText?: string;
            /** @description http(s) URL shown with `longText`; not with `linkAttachment`; counts toward the 5 links unless it is one of `text`'s */
            longTextLink?: components["schemas"]["HTTPURL"];
            /** @description non-overlapping ranges of `longText`; `styles` from `bold`, `italic`, `highlight`, `underline`, `strikethrough`, no repeats */
            longTextStyles?: components["schemas"]["TextStyle"][];
            /** @description at most 10 non-overlapping ranges of `text` (of a thread's first part) shown hidden; not with `split` */
            spoilers?: components["schemas"]["TextRange"][];
            /** @description blur the media until tapped: image, video and carousel posts only */
            spoilerMedia?: boolean;
            /** @description a ghost post, archived by Threads after 24 hours: text only; not a reply or quote; no `poll`, `linkAttachment`, `longText`, `gif`, `thread`/`split` or `allowlistedCountryCodes` (spoilers are fine) */
            ghost?: boolean;
            /** @description a GIF by its GIPHY id (`provider`: `GIPHY`); text posts only; not with `poll`, `linkAttachment` or `longText`. Off unless `THREADS_GIF_ATTACHMENTS=true` (`400 feature_disabled`): the shape of Threads' field is unconfirmed */
            gif?: components["schemas"]["GIF"];
            /** @description only people in these countries see the post: assigned ISO 3166-1 alpha-2 codes, upper case, no repeats (Threads accepts it only for accounts Meta enabled: otherwise `422 threads_rejected`) */
            allowlistedCountryCodes?: components["schemas"]["CountryCode"][];
            /** @description a reply chain of 2 to 20 parts, each a valid text post (500 bytes, 5 links); not with `text`. The post's other fields go with the first part; later parts are plain text replies, each to the part before, with the same `replyControl` */
            thread?: string[];
            /** @description with a `text` over 500 bytes, the server splits it into a reply chain at paragraph, then sentence, then word boundaries, never inside a UTF-8 sequence or a URL (at most 20 parts, else `text_too_long`); a text that fits stays one post */
            split?: boolean;
            /** @description with `split`: each part ends with ` (i/n)` (counted in its 500 bytes) */
            numberParts?: boolean;
            /**
             * Format: date-time
             * @description schedule the post: an RFC 3339 time in the future, at most 30 days ahead (Cloud Tasks' limit)
             */
            publishAt?: string;
            /** @description which connected account; required when the user has several */
            accountId?: components["schemas"]["ThreadsID"];
            /** @description 1 to 255 printable ASCII characters */
            idempotencyKey?: components["schemas"]["IdempotencyKey"];
        } & (({
            text: unknown;
        } | unknown | unknown | unknown | unknown) & ({
            /** @constant */
            split: true;
        } | {
            text?: unknown;
        }) & unknown & unknown & unknown & unknown & unknown & unknown & unknown & unknown & unknown & unknown & unknown & unknown & unknown & unknown & unknown & unknown & unknown & unknown & unknown & unknown);
        MediaItem: {
            /** @enum {string} */
            type: "image" | "video";
            url: components["schemas"]["HTTPSURL"];
            altText?: string;
        };
        Poll: {
            /** @description distinct (without regard to case, surrounding spaces trimmed) options of 1 to 25 characters */
            options: string[];
        };
        /** @description a range of characters of a text; it must lie within it */
        TextRange: {
            /** @default 0 */
            offset?: number;
            length: number;
        };
        /** @description styles for a range of characters of `longText`; it must lie within it */
        TextStyle: {
            /** @default 0 */
            offset?: number;
            length: number;
            styles: ("bold" | "italic" | "highlight" | "underline" | "strikethrough")[];
        };
        GIF: {
            id: string;
            /** @enum {string} */
            provider: "GIPHY";
        };
        /**
         * TaskDelivery
         * @description what thPublish's Cloud Tasks deliver; a body without all three is answered `200 invalid_task`
         */
        TaskDelivery: {
            /** @description the job's Firebase user */
            uid?: string;
            /** @description the job's account */
            accountId?: string;
            /** @description the job */
            jobId?: string;
        };
        Published: {
            /** @constant */
            ok: true;
            /** @description the post's media id (a chain's first part); left out in the rare case where Threads' publish answer was lost and the post was confirmed through its container's status */
            id?: string;
            /** @description a chain's media ids, in order */
            ids?: string[];
            jobId: components["schemas"]["JobID"];
            /** @description the job's account (the one picked when the request named none), for finding its document */
            accountId: string;
            /** @constant */
            status: "published";
        };
        /** @description accepted; media still processing, a transient Threads failure, or another attempt holds the job: it continues through Cloud Tasks. The owner can read its progress at `users/{uid}/integrations/threads/accounts/{accountId}/jobs/{jobId}` */
        Pending: {
            /** @constant */
            ok: true;
            jobId: components["schemas"]["JobID"];
            /** @description the job's account (the one picked when the request named none), for finding its document */
            accountId: string;
            /** @constant */
            status: "pending";
        };
        /** @description scheduled with `publishAt`; a Cloud Task runs it then */
        Scheduled: {
            /** @constant */
            ok: true;
            jobId: components["schemas"]["JobID"];
            /** @description the job's account (the one picked when the request named none), for finding its document */
            accountId: string;
            /** @constant */
            status: "scheduled";
            /**
             * Format: date-time
             * @description RFC 3339, UTC
             */
            publishAt: string;
        };
        /** @description a task delivery's end: the job's state (`pending`/`scheduled`: a follow-up task is queued; `missing`: no such job, the task is dropped) */
        TaskOutcome: {
            /** @constant */
            ok: true;
            id?: string;
            jobId: string;
            /** @enum {string} */
            status: "published" | "failed" | "cancelled" | "pending" | "scheduled" | "missing";
        };
        /** @description the sweep's counts: jobs found overdue, handed to Cloud Tasks (a task already queued counts), and found ended with a `dueBy` left (removed, and with it the lease a cancel kept for an attempt that has died) */
        SweepOutcome: {
            /** @constant */
            ok: true;
            overdue: number;
            enqueued: number;
            cleared: number;
        };
        InvalidTask: components["schemas"]["Error"] & {
            error?: {
                /** @enum {unknown} */
                code?: "invalid_task";
            };
        };
        Cancelled: {
            /** @constant */
            ok: true;
            jobId: components["schemas"]["JobID"];
            /** @constant */
            status: "cancelled";
        };
        DisconnectRequest: {
            accountId: components["schemas"]["ThreadsID"];
        };
        /** @description an `application/x-www-form-urlencoded` body of at most 16 KiB */
        SignedRequestForm: {
            /** @description `base64url(signature).base64url(payload)`: the signature an HMAC-SHA256 of the encoded payload with the Threads app secret; the payload `{"algorithm": "HMAC-SHA256", "user_id", "issued_at"}` */
            signed_request: string;
        };
        DataDeletionAnswer: {
            /** @description the status page, thDataDeletion's URL with `?code=<confirmation_code>` */
            url: string;
            /** @description the request's code: 32 random hex characters when the request was made (a retried request answers the code it was first given) */
            confirmation_code: string;
        };
        RefreshCounts: {
            /** @constant */
            ok: true;
            /** @description accounts whose token expires within the window */
            examined: number;
            refreshed: number;
            /** @description expired, or refused by Threads (code 190) */
            needs_reauth: number;
            /** @description transient failures; the next sweep tries again */
            failed: number;
            /** @description under 24 hours old, or being refreshed by another sweep */
            skipped: number;
            /** @description every due account was examined; false when the sweep stopped at its time budget (4 minutes of thRefresh's 5): the next sweep continues, the soonest expiry first */
            complete: boolean;
        };
    };
    responses: {
        /** @description the Firebase ID token is missing or not acceptable */
        IDTokenRefused: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "missing_token" | "invalid_token" | "token_expired" | "token_revoked" | "user_disabled";
                    };
                };
            };
        };
        /** @description the call does not carry the scheduler's valid OIDC token */
        SchedulerRefused: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "scheduler_unauthorized";
                    };
                };
            };
        };
        /** @description the `signed_request` is missing, malformed, wrongly signed or stale; nothing was written (a stale but validly signed request to thDataDeletion that repeats a recorded one resumes it instead) */
        SignedRequestRefused: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "missing_signed_request" | "malformed_signed_request" | "invalid_signature" | "unsupported_algorithm" | "stale_signed_request" | "missing_user_id";
                    };
                };
            };
        };
        /** @description the browser's `Origin` is not in `CORS_ALLOWED_ORIGINS` */
        OriginNotAllowed: {
            headers: {
                Vary: components["headers"]["VaryOrigin"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "origin_not_allowed";
                    };
                };
            };
        };
        /** @description the method is not one of the path's; `Allow` names them */
        MethodNotAllowed: {
            headers: {
                /** @description the path's methods, e.g. `POST, DELETE, OPTIONS` */
                Allow: string;
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "method_not_allowed";
                    };
                };
            };
        };
        /** @description the body is over the function's limit */
        BodyTooLarge: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "body_too_large";
                    };
                };
            };
        };
        /** @description a body with a `Content-Type` other than JSON (`application/json` or `*\/*+json`) */
        UnsupportedMediaType: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "unsupported_media_type";
                    };
                };
            };
        };
        /** @description the instance's configuration is invalid (`misconfigured`; its log names every problem), or an unexpected failure (`internal`, logged with its cause) */
        ServerError: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "misconfigured" | "internal";
                    };
                };
            };
        };
        /** @description the instance's configuration is invalid; its log names every problem */
        Misconfigured: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"] & {
                    error?: {
                        /** @enum {unknown} */
                        code?: "misconfigured";
                    };
                };
            };
        };
        /** @description a dependency (Firestore, Auth, Secret Manager) could not be reached, or the instance is starting up; retry */
        Unavailable: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["UnavailableError"];
            };
        };
        /** @description the origin may call the function */
        Preflight: {
            headers: {
                /** @description the request's `Origin` */
                "Access-Control-Allow-Origin": string;
                /** @description the function's methods and `OPTIONS` */
                "Access-Control-Allow-Methods": string;
                /** @description the request headers a browser may send */
                "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key, X-Cloud-Trace-Context, traceparent";
                /** @description how long the browser may keep the answer, in seconds */
                "Access-Control-Max-Age": 3600;
                Vary: components["headers"]["VaryOrigin"];
                [name: string]: unknown;
            };
            content?: never;
        };
        /** @description the sweep is done; the counts say what it did */
        RefreshDone: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["RefreshCounts"];
            };
        };
    };
    parameters: {
        /** @description the calling page's origin */
        Origin: string;
        /** @description the method of the request the browser is about to send */
        AccessControlRequestMethod: string;
        /** @description the headers of the request the browser is about to send */
        AccessControlRequestHeaders: string;
    };
    requestBodies: never;
    headers: {
        /** @description `Origin`: the answer depends on the caller's origin */
        VaryOrigin: string;
        /** @description `no-store` */
        NoStore: "no-store";
        /** @description seconds to wait before trying again */
        RetryAfter: number;
        /** @description seconds to wait before trying again */
        RetryAfterRequired: number;
    };
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    thAuthStart: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["AuthStartRequest"];
            };
        };
        responses: {
            /** @description the state is stored; navigate the browser to `url` */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AuthStartAnswer"];
                };
            };
            /** @description the body or `returnTo` is not acceptable */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "invalid_json" | "unknown_field" | "invalid_return_to";
                        };
                    };
                };
            };
            401: components["responses"]["IDTokenRefused"];
            403: components["responses"]["OriginNotAllowed"];
            413: components["responses"]["BodyTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["ServerError"];
            503: components["responses"]["Unavailable"];
        };
    };
    thAuthStartPreflight: {
        parameters: {
            query?: never;
            header?: {
                /** @description the calling page's origin */
                Origin?: components["parameters"]["Origin"];
                /** @description the method of the request the browser is about to send */
                "Access-Control-Request-Method"?: components["parameters"]["AccessControlRequestMethod"];
                /** @description the headers of the request the browser is about to send */
                "Access-Control-Request-Headers"?: components["parameters"]["AccessControlRequestHeaders"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            204: components["responses"]["Preflight"];
            403: components["responses"]["OriginNotAllowed"];
            405: components["responses"]["MethodNotAllowed"];
            500: components["responses"]["Misconfigured"];
            503: components["responses"]["Unavailable"];
        };
    };
    thAuthCallback: {
        parameters: {
            query?: {
                /** @description the state thAuthStart created (43 base64url characters) */
                state?: string;
                /** @description the authorization code; a trailing `#_` (Threads adds one) is ignored */
                code?: string;
                /** @description set by Threads instead of `code` when authorization failed; `access_denied` when the user refused */
                error?: string;
                /** @description Threads' detail of `error` (logged, clipped to 100 bytes) */
                error_reason?: string;
                /** @description Threads' description of `error` (ignored) */
                error_description?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /**
             * @description Back to the app: `returnTo` with `threads=connected&accountId=<id>` added to its
             *     query, or `threads=error&reason=<reason>` (schema `CallbackReason`).
             */
            302: {
                headers: {
                    /** @description the state's `returnTo` with the outcome added to its query */
                    Location: string;
                    "Cache-Control": components["headers"]["NoStore"];
                    /** @description `no-referrer`: the code and state never leak to the app */
                    "Referrer-Policy"?: "no-referrer";
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description the `state` is unknown, used or expired; nothing is stored */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": components["schemas"]["HTMLPage"];
                };
            };
            500: components["responses"]["ServerError"];
            /**
             * @description The state could not be checked (Firestore unreachable): an HTML page with the code
             *     `unavailable` (`text/html`); or the instance is starting up (JSON).
             */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": components["schemas"]["HTMLPage"];
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "unavailable";
                        };
                    };
                };
            };
        };
    };
    thPublish: {
        parameters: {
            query?: {
                /** @description present (`1`) on Cloud Scheduler's sweep calls only */
                sweep?: "1";
            };
            header?: {
                /** @description 1 to 255 printable ASCII characters; the same as the `idempotencyKey` field */
                "Idempotency-Key"?: components["schemas"]["IdempotencyKey"];
                /** @description set by Cloud Tasks; with `X-CloudTasks-TaskName`, marks a task delivery */
                "X-CloudTasks-QueueName"?: string;
                /** @description set by Cloud Tasks (`<jobId>-<accountId>-a<attempt>`, `-at`, `-d<ns>`, `-sweep-<ms>`) */
                "X-CloudTasks-TaskName"?: string;
                /** @description set by Cloud Tasks; logged */
                "X-CloudTasks-TaskRetryCount"?: string;
                /** @description set by Cloud Tasks; not used */
                "X-CloudTasks-TaskExecutionCount"?: string;
                /** @description set by Cloud Tasks; not used */
                "X-CloudTasks-TaskETA"?: string;
            };
            path?: never;
            cookie?: never;
        };
        /** @description required, except on the sweep's calls (`?sweep=1`), which have none */
        requestBody?: {
            content: {
                "application/json": components["schemas"]["PublishRequest"] | components["schemas"]["TaskDelivery"];
            };
        };
        responses: {
            /**
             * @description Users: published (`Published`). Task deliveries: the task is done (`TaskOutcome`,
             *     or `InvalidTask` for a malformed body). The sweep: what it did (`SweepOutcome`).
             */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Published"] | components["schemas"]["TaskOutcome"] | components["schemas"]["InvalidTask"] | components["schemas"]["SweepOutcome"];
                };
            };
            /** @description accepted, not published yet */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Pending"] | components["schemas"]["Scheduled"];
                };
            };
            /** @description the request is not acceptable; nothing was sent to Threads */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "invalid_json" | "unknown_field" | "empty_post" | "text_too_long" | "too_many_links" | "conflicting_fields" | "invalid_media_url" | "invalid_carousel" | "invalid_poll" | "invalid_reply_control" | "invalid_topic_tag" | "invalid_link_attachment" | "invalid_id" | "invalid_alt_text" | "invalid_idempotency_key" | "invalid_long_text" | "invalid_text_styles" | "invalid_spoilers" | "invalid_gif" | "invalid_country_code" | "invalid_thread" | "invalid_publish_at" | "feature_disabled" | "missing_account";
                        };
                    };
                };
            };
            /** @description users' ID token refused (`missing_token` … `user_disabled`), or a task delivery without a valid OIDC token (`task_unauthorized`) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "missing_token" | "invalid_token" | "token_expired" | "token_revoked" | "user_disabled" | "task_unauthorized";
                        };
                    };
                };
            };
            403: components["responses"]["OriginNotAllowed"];
            /** @description the user has no connected account, or none with that `accountId` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "no_account" | "account_not_found";
                        };
                    };
                };
            };
            /**
             * @description The account must be connected again (`reauth_required`; with the job's state when it
             *     was found out while publishing), or the job was cancelled (`job_cancelled`).
             */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "reauth_required";
                        };
                    }) | (components["schemas"]["JobFailure"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "reauth_required" | "job_cancelled";
                        };
                    });
                };
            };
            413: components["responses"]["BodyTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            /**
             * @description The idempotency key was used for another request, or the job failed for good:
             *     Threads could not process the media or refused the post, a chain was interrupted, or
             *     a scheduled job found the quota spent when it was due.
             */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "idempotency_key_reused";
                        };
                    }) | (components["schemas"]["JobFailure"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "media_failed" | "threads_rejected" | "chain_interrupted" | "quota_exceeded";
                        };
                    });
                };
            };
            /** @description the account's publishing quota (250 posts, or 1000 replies for a chain, in 24 h) is spent (read when Threads refused a call for a limit, or before a chain); nothing was posted and the job has ended, `failed` (publish it again once the quota frees up; a repeat with the same key is answered `422 quota_exceeded`). A job that may have posted already (a publish call unsettled, a chain part out) is answered `202` instead and goes on when the quota frees up */
            429: {
                headers: {
                    "Retry-After": components["headers"]["RetryAfterRequired"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["JobFailure"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "quota_exceeded";
                        };
                    };
                };
            };
            /** @description misconfigured instance, or an unexpected failure (with the job's state when one exists) */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "misconfigured" | "internal";
                        };
                    }) | (components["schemas"]["JobFailure"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "internal";
                        };
                    });
                };
            };
            /**
             * @description Try again (users: with the same idempotency key). For task deliveries this makes Cloud
             *     Tasks retry; the answer then carries `Retry-After`, and the job's state when the
             *     attempt found the job busy or hit a transient failure.
             */
            503: {
                headers: {
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "unavailable";
                        };
                    }) | (components["schemas"]["JobFailure"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "unavailable";
                        };
                    });
                };
            };
        };
    };
    thPublishCancel: {
        parameters: {
            query: {
                /** @description the job to cancel, as `202 scheduled` named it */
                jobId: components["schemas"]["JobID"];
                /** @description the account of the job; required when the user has several */
                accountId?: components["schemas"]["ThreadsID"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the job is cancelled (now, or before) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Cancelled"];
                };
            };
            /** @description `jobId` missing or malformed, `accountId` malformed, or several accounts and no `accountId` */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "invalid_job_id" | "invalid_id" | "missing_account";
                        };
                    };
                };
            };
            401: components["responses"]["IDTokenRefused"];
            403: components["responses"]["OriginNotAllowed"];
            /** @description no connected account, or no job of this user and account has that `jobId` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "no_account" | "job_not_found";
                        };
                    };
                };
            };
            /** @description the job is no longer `scheduled` */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "job_started";
                        };
                    };
                };
            };
            500: components["responses"]["ServerError"];
            503: components["responses"]["Unavailable"];
        };
    };
    thPublishPreflight: {
        parameters: {
            query?: never;
            header?: {
                /** @description the calling page's origin */
                Origin?: components["parameters"]["Origin"];
                /** @description the method of the request the browser is about to send */
                "Access-Control-Request-Method"?: components["parameters"]["AccessControlRequestMethod"];
                /** @description the headers of the request the browser is about to send */
                "Access-Control-Request-Headers"?: components["parameters"]["AccessControlRequestHeaders"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            204: components["responses"]["Preflight"];
            403: components["responses"]["OriginNotAllowed"];
            405: components["responses"]["MethodNotAllowed"];
            500: components["responses"]["Misconfigured"];
            503: components["responses"]["Unavailable"];
        };
    };
    thDisconnect: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["DisconnectRequest"];
            };
        };
        responses: {
            /** @description the account is disconnected (now, or before) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OK"];
                };
            };
            /** @description the body is not acceptable, or `accountId` is missing or not a Threads id */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "invalid_json" | "unknown_field" | "invalid_id";
                        };
                    };
                };
            };
            401: components["responses"]["IDTokenRefused"];
            403: components["responses"]["OriginNotAllowed"];
            /** @description the user never connected this account */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"] & {
                        error?: {
                            /** @enum {unknown} */
                            code?: "account_not_found";
                        };
                    };
                };
            };
            413: components["responses"]["BodyTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["ServerError"];
            503: components["responses"]["Unavailable"];
        };
    };
    thDisconnectPreflight: {
        parameters: {
            query?: never;
            header?: {
                /** @description the calling page's origin */
                Origin?: components["parameters"]["Origin"];
                /** @description the method of the request the browser is about to send */
                "Access-Control-Request-Method"?: components["parameters"]["AccessControlRequestMethod"];
                /** @description the headers of the request the browser is about to send */
                "Access-Control-Request-Headers"?: components["parameters"]["AccessControlRequestHeaders"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            204: components["responses"]["Preflight"];
            403: components["responses"]["OriginNotAllowed"];
            405: components["responses"]["MethodNotAllowed"];
            500: components["responses"]["Misconfigured"];
            503: components["responses"]["Unavailable"];
        };
    };
    thDeauthorize: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-www-form-urlencoded": components["schemas"]["SignedRequestForm"];
            };
        };
        responses: {
            /** @description every connection of that Threads user made before the request is revoked */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OK"];
                };
            };
            400: components["responses"]["SignedRequestRefused"];
            500: components["responses"]["ServerError"];
            503: components["responses"]["Unavailable"];
        };
    };
    thDataDeletionStatus: {
        parameters: {
            query?: {
                /** @description the confirmation code thDataDeletion answered Meta */
                code?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the request's status: `data-status` of `#status` is `in_progress` or `done` */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": components["schemas"]["HTMLPage"];
                };
            };
            /** @description no request has this code (`data-status="unknown"`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": components["schemas"]["HTMLPage"];
                };
            };
            500: components["responses"]["ServerError"];
            503: components["responses"]["Unavailable"];
        };
    };
    thDataDeletion: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-www-form-urlencoded": components["schemas"]["SignedRequestForm"];
            };
        };
        responses: {
            /** @description deleted; Meta shows the user the status page's `url` and the code */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DataDeletionAnswer"];
                };
            };
            400: components["responses"]["SignedRequestRefused"];
            500: components["responses"]["ServerError"];
            /** @description the deletion could not finish now; it resumes when Meta repeats the request */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UnavailableError"];
                };
            };
        };
    };
    thRefreshGet: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: components["responses"]["RefreshDone"];
            401: components["responses"]["SchedulerRefused"];
            500: components["responses"]["ServerError"];
            503: components["responses"]["Unavailable"];
        };
    };
    thRefresh: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: components["responses"]["RefreshDone"];
            401: components["responses"]["SchedulerRefused"];
            500: components["responses"]["ServerError"];
            503: components["responses"]["Unavailable"];
        };
    };
}
