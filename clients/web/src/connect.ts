import type { ConnectResult } from './types.js';

/** The part of `window.location` readConnectResult reads. */
export interface LocationLike {
  readonly href: string;
}
/** The part of `window.history` readConnectResult uses to clean the URL. */
export interface HistoryLike {
  readonly state: unknown;
  replaceState(data: unknown, unused: string, url?: string | URL | null): void;
}

/** The query parameters thAuthCallback adds to `returnTo`. */
const PARAMS = ['threads', 'accountId', 'reason'] as const;

/**
 * Reads how a connect attempt ended, when the page was opened by
 * thAuthCallback's redirect to `returnTo`: `?threads=connected&accountId=…`
 * or `?threads=error&reason=…`. Returns null for any other URL.
 *
 * It then removes those parameters, and the `#_` fragment Threads appends,
 * from the address bar with `history.replaceState`, so that a reload does not
 * show the result again; the page's other parameters and fragment stay. Pass
 * `history` null to leave the URL alone.
 */
export function readConnectResult(
  location: LocationLike | URL | string = globalThis.location,
  history: HistoryLike | null = globalThis.history ?? null,
): ConnectResult | null {
  const url = new URL(typeof location === 'string' ? location : location.href);
  const outcome = url.searchParams.get('threads');
  let result: ConnectResult | null = null;
  if (outcome === 'connected') {
    result = { status: 'connected', accountId: url.searchParams.get('accountId') ?? '' };
  } else if (outcome === 'error') {
    result = { status: 'error', reason: url.searchParams.get('reason') || 'unknown' };
  }
  if (history) {
    const clean = new URL(url);
    if (result) for (const p of PARAMS) clean.searchParams.delete(p);
    if (clean.hash === '#_') clean.hash = '';
    // (An empty fragment, "…#", is dropped too: URL.hash does not show it.)
    const path = (u: URL) => `${u.pathname}${u.search}${u.hash}`;
    if (path(clean) !== path(url) || url.href.endsWith('#')) {
      history.replaceState(history.state, '', path(clean));
    }
  }
  return result;
}
