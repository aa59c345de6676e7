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

async function call(baseUrl, name, user, body, headers = {}) {
  // getIdToken() returns the cached token while it is valid and refreshes it
  // when it is about to expire, so every call carries a fresh token.
  const idToken = await user.getIdToken();
  let resp;
  try {
    resp = await fetch(`${baseUrl}/${name}`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${idToken}`,
        'Content-Type': 'application/json',
        ...headers,
      },
      body: JSON.stringify(body),
    });
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
 * thPublish: post is {accountId, text?, imageUrl?, media?: [{type, url}]}.
 * Resolves to {httpStatus: 200, id, jobId, status: "published"} or
 * {httpStatus: 202, jobId, status: "pending"} (the job goes on in the
 * background; follow it in Firestore).
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
