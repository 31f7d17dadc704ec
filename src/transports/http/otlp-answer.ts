/**
 * An OTLP/HTTP answer, read as the OTLP specification says: a 2xx carries an ExportLogsServiceResponse whose
 * `partial_success` may count rejected records; 429, 502, 503 and 504 may be retried (after Retry-After when
 * given); every other failure must not be retried as it stands. Only a 400 says the records are at fault (the
 * specification's "Bad Data"). Anything else in a 2xx is not an acknowledgement.
 */
import { parseRetryAfter } from '../../pipeline/retry.js';
import { excerpt, type Rejection, type Verdict } from '../transport.js';
import type { HttpBytes as OtlpAnswer } from './client.js';
import { decodeJsonResponse, decodeResponse, NotOtlp, statusMessage, type PartialSuccess } from './otlp-schema.js';

const RETRYABLE = new Set([429, 502, 503, 504]);

export interface Classified {
  verdict: Verdict;
  /** A full success that still carries a message (the specification's warning case), to be logged. */
  warning?: string;
}

function mediaType(a: OtlpAnswer): string {
  const v = a.headers['content-type'];
  return (Array.isArray(v) ? v[0] ?? '' : v ?? '').split(';')[0]!.trim().toLowerCase();
}

/** A receiver's words made safe for one line of our log: controls (and so ANSI escapes, line breaks) become `?`. */
function printable(s: string): string {
  return excerpt(s.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').replace(/[^\x20-\x7e\u00a0-\uffff]/g, '?'));
}

/** The answer's own words: the google.rpc.Status message when there is one, else an excerpt of the body. */
function said(a: OtlpAnswer, json: boolean): string {
  const type = mediaType(a);
  const text = statusMessage(a.body, type === 'application/json' || (type === '' && json), a.truncated) ?? a.body.toString('utf8');
  return text.trim() === '' ? '' : ': ' + printable(text);
}

function readResponse(a: OtlpAnswer, json: boolean): PartialSuccess {
  if (a.truncated) throw new NotOtlp(`the body is larger than ${a.body.length} bytes`);
  // No body at all (204, or an empty 200) is the empty message: protobuf encodes it as zero bytes.
  if (a.body.length === 0) return { rejected: 0, message: '' };
  const type = mediaType(a);
  if (type === 'application/x-protobuf' || (type === '' && !json)) return decodeResponse(a.body);
  if (type === 'application/json' || (type === '' && json)) return decodeJsonResponse(a.body.toString('utf8'));
  throw new NotOtlp(`the body is ${type}`);
}

/**
 * Classify the answer to a request of `count` records. A partial success says how many records were rejected
 * but not which: every record of the request goes to the dead letters (see docs/OTLP.md for why).
 */
export function classifyOtlp(a: OtlpAnswer, count: number, json: boolean, host: string): Classified {
  const s = a.status;
  const head = `${host} answered HTTP ${s}`;
  if (s >= 200 && s < 300) {
    let p: PartialSuccess;
    try {
      p = readResponse(a, json);
    } catch (err) {
      const why = err instanceof NotOtlp ? err.message : String(err);
      return {
        verdict: {
          kind: 'stop',
          reason: `${head} without an OTLP ExportLogsServiceResponse (${printable(why)}), so delivery is not confirmed: ` +
            'check that --output is the OTLP/HTTP logs endpoint',
        },
      };
    }
    if (p.rejected === 0) return p.message === '' ? { verdict: { kind: 'delivered' } } : { verdict: { kind: 'delivered' }, warning: `${head} with a warning: ${printable(p.message)}` };
    const error = `${head} with partial success: ${p.rejected} of ${count} record(s) rejected${p.message ? `: ${printable(p.message)}` : ''}` +
      (p.rejected < count ? ' (OTLP does not say which: every record of the request is dead-lettered)' : '');
    const rejected: Rejection[] = [];
    for (let i = 0; i < count; i++) rejected.push({ index: i, status: s, error });
    return { verdict: { kind: 'partial', retry: [], rejected, reason: error } };
  }
  const text = head + said(a, json);
  if (RETRYABLE.has(s)) {
    const retryAfterMs = parseRetryAfter(a.headers['retry-after']);
    return { verdict: retryAfterMs === undefined ? { kind: 'retry', reason: text } : { kind: 'retry', reason: text, retryAfterMs } };
  }
  if (s === 413) return { verdict: { kind: 'too-large', reason: text } };
  if (s === 401 || s === 403) return { verdict: { kind: 'stop', reason: `${text} (check the credentials in --header or --header-file)` } };
  if (s === 404 || s === 405) return { verdict: { kind: 'stop', reason: `${text} (is --output the receiver's OTLP/HTTP logs endpoint?)` } };
  if (s === 415) return { verdict: { kind: 'stop', reason: `${text} (the receiver does not take this body: try the other --otlp-encoding, or --compress none)` } };
  // The content was refused: halving finds the record it cannot take, which goes to the dead letters.
  if (s === 400) return { verdict: { kind: 'rejected', status: s, reason: text } };
  // Any other 4xx (a proxy's 408, 409, 410, 411, 421, 422…) must not be retried, and is not the specification's
  // answer to bad data: halving would dead-letter every record the same answer meets, one by one. Stop with the
  // batch unsent, so a restart sends it once the receiver or what stands in front of it is fixed.
  if (s >= 400 && s < 500) {
    return { verdict: { kind: 'stop', reason: `${text} (not retried: OTLP retries only 429, 502, 503 and 504; nothing is dead-lettered, as only a 400 refuses the records)` } };
  }
  // A server error OTLP forbids retrying: stop with the batch unsent, so a restart sends it once the receiver is fixed.
  return { verdict: { kind: 'stop', reason: `${text} (not retried: OTLP retries only 429, 502, 503 and 504)` } };
}
