/**
 * What every transport is: an encoder, batch limits, and `send`, which makes one attempt and classifies the
 * answer. The classification never sleeps or retries; the delivery loop does that for all transports alike.
 */
import type { BatchLimits } from '../pipeline/batcher.js';
import type { Encoder, Entry } from '../pipeline/encoder.js';
import type { EnvelopeSpec } from '../records/spec.js';
import { ConfigurationError, escapeControls, redact, registerSecret } from '../shared/errors.js';
import { HEADER_NAME, headerValueProblem, ownedHeader } from '../shared/http-headers.js';
import type { HttpResponse, NetworkError } from './http/client.js';
import { parseRetryAfter } from '../pipeline/retry.js';
import { CERTIFICATE_HINT } from './tls-failure.js';

export interface Rejection {
  /** Index into the batch that was sent. */
  index: number;
  status: number;
  error: string;
}

export type Verdict =
  /** Every entry is in the SIEM (or, with `ackId`, received and awaiting indexer acknowledgement). */
  | { kind: 'delivered'; ackId?: number; duplicates?: number }
  /**
   * Some entries failed: `retry` are to be sent again, `rejected` are refused for good; the rest are in. With
   * `unexamined`, the SIEM did not look at the `retry` entries at all (it stopped at a refused one): they go
   * again at once, as no failure of theirs.
   */
  | { kind: 'partial'; retry: number[]; rejected: Rejection[]; reason: string; retryAfterMs?: number; duplicates?: number; unexamined?: boolean }
  /** Nothing was taken, for a reason that may pass. */
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  /** The body is larger than the SIEM accepts: send it in halves. */
  | { kind: 'too-large'; reason: string }
  /** The SIEM refused the content without saying which record: halve until the culprit stands alone. */
  | { kind: 'rejected'; status: number; reason: string }
  /** Retrying cannot help (credentials, configuration): stop the export. */
  | { kind: 'stop'; reason: string };

/** One line of `siem check`. */
export interface CheckLine {
  what: string;
  ok: boolean;
  detail: string;
}

export interface AckSource {
  /** How often to ask which batches are indexed. */
  readonly pollIntervalMs: number;
  /** How long to wait for an acknowledgement before sending the batch again. */
  readonly timeoutMs: number;
  /** Which of these ack ids are indexed. */
  query(ids: number[]): Promise<Map<number, boolean>>;
}

/**
 * A byte-stream transport's framing (plain syslog over TCP or TLS), for exports whose formatting threads write
 * each record already framed: the transport then takes whole chunks of frames as they are, `send([], body)`.
 */
export interface StreamFraming {
  framing: 'octet-counting' | 'lf';
  /** The largest message the receiver takes, in bytes; larger ones are dead-lettered, never sent. */
  maxMessage: number;
  /** For a record left out as one the receiver cannot take: the status and reason it is dead-lettered with. */
  refusal(record: string): { status: number; error: string };
  /** The receiver runs on this machine, and takes a core of its own to read what is sent. */
  receiverHere: boolean;
}

export interface Transport {
  readonly name: string;
  readonly encoder: Encoder;
  /** Default batch limits for this SIEM. */
  readonly defaults: BatchLimits;
  /** The largest body the SIEM can ever take; a record larger than this is dead-lettered without sending. */
  readonly hardMaxBytes: number;
  /**
   * One attempt. A body answered `delivered` (without an ack id) is filled with a later batch at once: nothing
   * may read it after that answer.
   */
  send(entries: readonly Entry[], body: Buffer): Promise<Verdict>;
  /** Make what `send` wrote durable (local files) before the checkpoint moves past it. */
  sync?(): void;
  /** Indexer acknowledgement, where the SIEM offers it and the user turned it on. */
  readonly acks?: AckSource;
  /** Set where the transport is one byte stream with no answer per batch (see StreamFraming). */
  readonly stream?: StreamFraming;
  /**
   * `siem check` and the preflight of a one-shot export: what can be learnt about the destination without
   * sending an event (credentials, the objects the SIEM side needs). Connection failures are thrown.
   */
  check?(): Promise<CheckLine[]>;
  /**
   * Begin what the first send needs (a connection) while the first records are formatted; that send uses it, or
   * connects as any send does if it failed.
   */
  connectAhead?(): void;
  /** The envelope its records need (RFC 5424 for syslog): whoever formats for it builds it in (records/spec.ts). */
  readonly envelope?: EnvelopeSpec | null;
  close(): Promise<void>;
}

/** A short, single-line, secret-free excerpt of a response body for error messages. */
export function excerpt(body: string, max = 200): string {
  // Only the start is ever shown: masking a whole 16 MB answer to print 200 characters of it would be waste.
  const flat = escapeControls(redact(body.slice(0, max + 4096)).replace(/\s+/g, ' ').trim());
  return flat.length > max ? flat.slice(0, max) + '…' : flat;
}

/**
 * A 2xx that is not the SIEM's protocol answer: a proxy's or captive portal's page, a health endpoint on the
 * wrong port. Nothing says the events are in, so they are sent again; the first bytes show what answered.
 */
export function protocolError(what: string, res: HttpResponse, expected: string): Verdict {
  const got = res.body.trim() === '' ? 'an empty body' : `'${excerpt(res.body, 120)}'`;
  return {
    kind: 'retry',
    reason: `${what} answered HTTP ${res.status} with ${got} instead of ${expected}: not counted as delivered (is --output the SIEM's own endpoint?)`,
  };
}

/** Network failures: certificate problems and refusals cut short stop the export, everything else may pass. */
export function networkVerdict(err: NetworkError): Verdict {
  if (err.final) return { kind: 'stop', reason: err.message };
  if (err.tls) {
    return { kind: 'stop', reason: `${err.message} ${CERTIFICATE_HINT}` };
  }
  return { kind: 'retry', reason: err.message };
}

/**
 * The status rules every HTTP SIEM shares: 2xx in; 408, 429 and 5xx (but 501) may pass; 413 too large;
 * 401/403 stop (credentials); anything else stops with the SIEM's words.
 */
export function statusVerdict(res: HttpResponse, what: string, auth?: { credential: string; permission: string }): Verdict {
  const s = res.status;
  if (s >= 200 && s < 300) return { kind: 'delivered' };
  const text = `${what} answered HTTP ${s}${res.body ? ': ' + excerpt(res.body) : ''}`;
  if (s === 408 || s === 429 || (s >= 500 && s !== 501)) {
    const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
    return retryAfterMs === undefined ? { kind: 'retry', reason: text } : { kind: 'retry', reason: text, retryAfterMs };
  }
  if (s === 413) return { kind: 'too-large', reason: text };
  if (s === 401) return { kind: 'stop', reason: `${text} (the credentials were refused: check ${auth?.credential ?? 'the Authorization header from --header or --header-file'})` };
  if (s === 403) {
    return { kind: 'stop', reason: `${text} (the credentials work but are not allowed: ${auth ? `they need ${auth.permission}` : 'check what the account may write'})` };
  }
  return { kind: 'stop', reason: text };
}

/**
 * Headers from `--header 'Name: value'` (or the lines of a --header-file, `what` naming it), checked; values are
 * secrets and are never echoed, and neither is a name that did not parse (it may be a token without its name).
 */
export function parseHeaders(specs: readonly string[], what = '--header'): Record<string, string> {
  const out: Record<string, string> = {};
  specs.forEach((spec, i) => {
    const colon = spec.indexOf(':');
    const name = colon > 0 ? spec.slice(0, colon).trim() : '';
    const value = colon > 0 ? spec.slice(colon + 1).trim() : '';
    if (!HEADER_NAME.test(name) || value === '') {
      throw new ConfigurationError(`${what} #${i + 1} is malformed: expected 'Name: value' (the value is not shown)`);
    }
    const owned = ownedHeader(name);
    if (owned) throw new ConfigurationError(`${what} #${i + 1}: ${name} ${owned}, not by a header: remove it`);
    const problem = headerValueProblem(value);
    if (problem) throw new ConfigurationError(`${what} #${i + 1}: the value of ${name} ${problem}; HTTP takes printable ASCII on one line (the value is not shown)`);
    registerSecret(value);
    // An Authorization value is also masked without its scheme word, in case a server echoes only the token.
    registerSecret(value.split(/\s+/).slice(1).join(' '));
    // Basic credentials are also masked decoded, and the password alone, in case a server echoes them so.
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(value);
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      registerSecret(decoded);
      registerSecret(decoded.slice(decoded.indexOf(':') + 1));
    }
    out[name] = value;
  });
  return out;
}

/** Case-insensitive header lookup. */
/**
 * Headers a SIEM's transport sets itself (the body's type, a signature), refused from --header or --header-file:
 * one of the user's own would replace ours or go out beside it, and the SIEM would refuse every request.
 */
export function refuseOwnHeaders(headers: Record<string, string>, transport: string, names: readonly string[]): void {
  for (const name of names) {
    if (findHeader(headers, name) !== undefined) {
      throw new ConfigurationError(`${transport} sets ${name} itself: remove the ${name} header from --header or --header-file`);
    }
  }
}

export function findHeader(headers: Record<string, string>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}
