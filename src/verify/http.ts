/**
 * One query to a SIEM's read API, with the few retries reads deserve: network failures, 429 and 5xx are tried
 * again (honouring Retry-After, bounded), everything else comes back to the backend to explain.
 */
import { HttpClient, NetworkError, type HttpResponse } from '../transports/http/client.js';
import { parseRetryAfter } from '../pipeline/retry.js';
import { excerpt } from '../transports/transport.js';
import { QueryError } from './backend.js';

const ATTEMPTS = 6;
const MAX_WAIT_MS = 30_000;

export async function query(
  client: HttpClient, method: 'POST' | 'GET' | 'DELETE', url: string, headers: Record<string, string>, body: string | undefined, what: string,
): Promise<HttpResponse> {
  let last = '';
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    let res: HttpResponse;
    try {
      res = await client.send(method, url, headers, body);
    } catch (err) {
      if (!(err instanceof NetworkError)) throw err;
      if (err.tls) throw new QueryError(`${what}: ${err.message} (use --ca-file for a private CA)`);
      if (err.final) throw new QueryError(`${what}: ${err.message}`);
      last = err.message;
      await pause(attempt, undefined);
      continue;
    }
    if (res.status !== 429 && res.status < 500) return res;
    last = `HTTP ${res.status}${res.body ? `: ${excerpt(res.body)}` : ''}`;
    await pause(attempt, parseRetryAfter(res.headers['retry-after']));
  }
  throw new QueryError(`${what} failed ${ATTEMPTS} times, last: ${last}`);
}

function pause(attempt: number, retryAfterMs: number | undefined): Promise<void> {
  const ms = Math.min(MAX_WAIT_MS, retryAfterMs ?? 250 * 2 ** attempt);
  return new Promise((r) => setTimeout(r, ms));
}

/** A JSON answer, or a QueryError that says what came instead. */
export function jsonBody<T>(res: HttpResponse, what: string): T {
  try {
    return JSON.parse(res.body) as T;
  } catch {
    throw new QueryError(`${what} answered HTTP ${res.status} with something that is not JSON: ${excerpt(res.body) || '(empty body)'}`);
  }
}
