// How a web app calls the functions: a fresh Firebase ID token as the Bearer
// token, a JSON body, and errors read from the JSON answer's error.code.
// See the README's "HTTP API" for every field and code.

/** An error answered by a function (or a network failure), with its stable code. */
export class FunctionError extends Error {
  constructor(code, message, { status = 0, jobId = '', jobStatus = '' } = {}) {
    super(message);
    this.name = 'FunctionError';
    this.code = code;
    this.status = status;
    this.jobId = jobId;
    this.jobStatus = jobStatus;
  }
}

// call sends a POST with a JSON body, or, with method DELETE (body null), a
// bodiless request whose parameters are in query.
async function call(baseUrl, name, user, body, headers = {}, { method = 'POST', query = null } = {}) {
  // getIdToken() returns the cached token while it is valid and refreshes it
  // when it is about to expire, so every call carries a fresh token.
  const idToken = await user.getIdToken();
  const url = `${baseUrl}/${name}${query ? `?${new URLSearchParams(query)}` : ''}`;
  const init = { method, headers: { Authorization: `Bearer ${idToken}`, ...headers } };
  if (body !== null) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (err) {
    throw new FunctionError('network_error', `${name} could not be reached: ${err.message}`);
  }
  let data = null;
  try {
    data = await resp.json();
  } catch {
    // Not JSON: reported below with the HTTP status.
  }
  if (!resp.ok || !data || data.ok !== true) {
    const e = (data && data.error) || {};
    throw new FunctionError(e.code || `http_${resp.status}`, e.message || resp.statusText, {
      status: resp.status,
      jobId: data?.jobId ?? '',
      jobStatus: data?.status ?? '',
    });
  }
  return { status: resp.status, data };
}

/**
 * thAuthStart: returns the Threads authorize URL to send the browser to.
 * Threads brings the user back to thAuthCallback, which redirects to
 * returnTo?threads=connected&accountId=… or returnTo?threads=error&reason=….
 */
export async function startConnect(baseUrl, user, returnTo) {
  const { data } = await call(baseUrl, 'thAuthStart', user, { returnTo });
  return data.url;
}

/**
 * thPublish: post is {accountId, text?, imageUrl?, media?: [{type, url}],
 * thread?: [part…] or split?/numberParts?, longText?, longTextLink?,
 * spoilers?: [{offset, length}], spoilerMedia?, publishAt?: RFC 3339}.
 * Resolves to {httpStatus: 200, id, ids? (a thread's media ids), jobId,
 * status: "published"}, {httpStatus: 202, jobId, status: "pending"} (the
 * job goes on in the background; follow it in Firestore) or, with
 * publishAt, {httpStatus: 202, jobId, status: "scheduled", publishAt}.
 */
export async function publish(baseUrl, user, post, idempotencyKey) {
  const { status, data } = await call(baseUrl, 'thPublish', user, post, {
    'Idempotency-Key': idempotencyKey,
  });
  return { httpStatus: status, ...data };
}

/**
 * thDisconnect: removes the account from the user (its token deleted, its
 * pending jobs cancelled). Resolves once done; calling it twice is fine.
 */
export async function disconnect(baseUrl, user, accountId) {
  await call(baseUrl, 'thDisconnect', user, { accountId });
}

/**
 * thPublish, DELETE: cancels a scheduled post (its job becomes "cancelled"
 * and is never published). Resolves to {jobId, status: "cancelled"};
 * cancelling twice is fine. Fails with job_started (409) once the job has
 * left "scheduled", job_not_found (404) for an unknown job.
 */
export async function cancelJob(baseUrl, user, accountId, jobId) {
  const { data } = await call(baseUrl, 'thPublish', user, null, {}, {
    method: 'DELETE',
    query: { jobId, accountId },
  });
  return data;
}
