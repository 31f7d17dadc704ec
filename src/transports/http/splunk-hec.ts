/**
 * Splunk HTTP Event Collector: envelopes concatenated into one body, HEC's JSON answer read code by code, and
 * optional indexer acknowledgement on a channel of our own.
 */
import { randomUUID } from 'node:crypto';
import { secretFromEnv } from '../../shared/secrets.js';
import { chooseCompression, wireBody, type Compression } from '../compress.js';
import { hecEncoder, type Entry } from '../../pipeline/encoder.js';
import { ConfigurationError, registerSecret } from '../../shared/errors.js';
import { duration, option, switchOption } from '../../shared/options.js';
import { HttpClient, NetworkError, type HttpResponse } from './client.js';
import { parseRetryAfter } from '../../pipeline/retry.js';
import { excerpt, refuseOwnHeaders, findHeader, networkVerdict, protocolError, statusVerdict, type AckSource, type CheckLine, type Transport, type Verdict } from '../transport.js';
import type { TransportDescription } from '../describe.js';

/** Vector's HEC default, and Splunk's own max_content_length before 6.5. */
const BATCH = { maxEvents: 10_000, maxBytes: 1_000_000, hardMaxBytes: Infinity };

interface HecReply {
  text?: string;
  code?: number;
  'invalid-event-number'?: number;
  ackId?: number;
}

function parseReply(body: string): HecReply {
  try {
    const v = JSON.parse(body) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as HecReply) : {};
  } catch {
    return {};
  }
}

/** HEC's `text` for a check line, bounded and on one line as in the export's messages; '' when there is none. */
function hecText(reply: HecReply): string {
  return typeof reply.text === 'string' && reply.text !== '' ? `: ${excerpt(reply.text, 120)}` : '';
}

const HEC_ANSWER = `HEC's JSON answer ({"text":"Success","code":0})`;

/** Codes that refuse one event; with `invalid-event-number` HEC took the events before it and not those after. */
const EVENT_CODES = new Set([6, 12, 13, 15]);
/** Codes that mean the SIEM is busy or unhealthy for now. */
const BUSY_CODES = new Set([8, 9, 18, 19, 20, 23]);

/** Classify one HEC answer for a batch of `count` events. */
export function classifyHecResponse(res: HttpResponse, count: number, expectAck: boolean): Verdict {
  const reply = parseReply(res.body);
  const code = typeof reply.code === 'number' ? reply.code : undefined;
  const text = typeof reply.text === 'string' ? excerpt(reply.text) : excerpt(res.body);
  const said = `Splunk HEC answered HTTP ${res.status}${code !== undefined ? ` code ${code}` : ''}: ${text}`;
  const ok = res.status >= 200 && res.status < 300;
  // Only HEC's own answer says the events are in; any other 2xx came from something that is not HEC.
  if (ok && code === undefined) return protocolError('Splunk HEC', res, HEC_ANSWER);
  if (ok && code === 0) {
    if (!expectAck) return { kind: 'delivered' };
    if (typeof reply.ackId !== 'number') {
      return { kind: 'stop', reason: 'Splunk HEC returned no ackId: turn on indexer acknowledgement for the token, or drop --splunk-ack' };
    }
    return { kind: 'delivered', ackId: reply.ackId };
  }
  if (res.status === 401 || res.status === 403 || (code !== undefined && code >= 1 && code <= 4)) {
    return { kind: 'stop', reason: `${said} (check OVERSIGHT_SPLUNK_HEC_TOKEN or the Authorization header)` };
  }
  if (code === 7) return { kind: 'stop', reason: `${said} (the token may not write to --splunk-index)` };
  if (code === 14) return { kind: 'stop', reason: `${said} (the token has indexer acknowledgement off: drop --splunk-ack)` };
  if (code === 10 || code === 11) return { kind: 'stop', reason: `${said} (indexer acknowledgement needs a channel; is --splunk-ack set?)` };
  if ((code !== undefined && BUSY_CODES.has(code)) || res.status === 429 || res.status === 503) {
    const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
    return retryAfterMs === undefined ? { kind: 'retry', reason: said } : { kind: 'retry', reason: said, retryAfterMs };
  }
  if (res.status === 400 && code !== undefined && EVENT_CODES.has(code)) {
    const n = reply['invalid-event-number'];
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < count) {
      const retry: number[] = [];
      for (let i = n + 1; i < count; i++) retry.push(i);
      // HEC stored the events before n and did not read those after it.
      return { kind: 'partial', retry, rejected: [{ index: n, status: 400, error: said }], reason: said, unexamined: true };
    }
    return { kind: 'rejected', status: 400, reason: said };
  }
  if (ok) return protocolError('Splunk HEC', res, HEC_ANSWER);
  return statusVerdict(res, 'Splunk HEC', { credential: 'OVERSIGHT_SPLUNK_HEC_TOKEN or the Authorization header', permission: 'a token allowed to write to the index' });
}

export interface SplunkHecConfig {
  url: string;
  headers: Record<string, string>;
  client: HttpClient;
  /** Indexer acknowledgement: poll interval and resend timeout. */
  ack?: { pollIntervalMs: number; timeoutMs: number } | null;
  compress?: Compression | null;
}

/** HEC takes gzip bodies; Splunk's own OpenTelemetry exporter compresses by default (`disable_compression: false`). */
export const HEC_COMPRESSION = { default: 'gzip', gzip: true } as const;

export class SplunkHecTransport implements Transport {
  readonly name = splunkHecTransport.name;
  readonly encoder = hecEncoder;
  readonly defaults = splunkHecTransport.batch;
  readonly hardMaxBytes = splunkHecTransport.batch.hardMaxBytes;
  readonly acks?: AckSource;
  readonly channel: string | null;
  private readonly headers: Record<string, string>;
  readonly compression: Compression;

  constructor(private readonly config: SplunkHecConfig) {
    this.compression = chooseCompression(config.compress, 'splunk-hec', HEC_COMPRESSION);
    this.channel = config.ack ? randomUUID() : null;
    refuseOwnHeaders(config.headers, 'splunk-hec', ['Content-Type']);
    this.headers = { 'content-type': 'application/json', ...config.headers };
    if (this.channel) this.headers['x-splunk-request-channel'] = this.channel;
    if (config.ack) {
      const ackUrl = hecAckUrl(config.url, this.channel!);
      const { pollIntervalMs, timeoutMs } = config.ack;
      this.acks = { pollIntervalMs, timeoutMs, query: (ids) => this.queryAcks(ackUrl, ids) };
    }
  }

  /**
   * HEC answers an empty request with code 5 ("No data") once the token is good, and the acknowledgement
   * endpoint says whether the token has acknowledgement on: neither sends an event. HEC checks the index per
   * event, so an index the token may not write to shows only on the first delivery (code 7, which stops).
   */
  async check(): Promise<CheckLine[]> {
    const out: CheckLine[] = [];
    const res = await this.config.client.post(this.config.url, this.headers, '');
    const reply = parseReply(res.body);
    const said = `HTTP ${res.status}${typeof reply.code === 'number' ? ` code ${reply.code}` : ''}${hecText(reply)}`;
    if (reply.code === 5 || (res.status >= 200 && res.status < 300 && reply.code === 0)) out.push({ what: 'token', ok: true, detail: 'accepted' });
    else if (res.status === 401 || res.status === 403 || (typeof reply.code === 'number' && reply.code >= 1 && reply.code <= 4)) {
      out.push({ what: 'token', ok: false, detail: `refused (${said}): check OVERSIGHT_SPLUNK_HEC_TOKEN or the Authorization header` });
    } else out.push({ what: 'token', ok: false, detail: `not a HEC answer (${said} ${excerpt(res.body, 80)}): is --output the HEC endpoint /services/collector/event?` });
    if (this.channel && out[0]!.ok) {
      const ack = await this.config.client.post(hecAckUrl(this.config.url, this.channel), this.headers, '{"acks":[]}');
      const a = parseReply(ack.body);
      out.push(ack.status === 200
        ? { what: 'indexer acknowledgement', ok: true, detail: 'on for this token' }
        : { what: 'indexer acknowledgement', ok: false, detail: `HTTP ${ack.status}${hecText(a)}: turn it on for the token, or drop --splunk-ack` });
    }
    return out;
  }

  async send(entries: readonly Entry[], body: Buffer): Promise<Verdict> {
    const wire = await wireBody(body, this.compression);
    try {
      const res = await this.config.client.post(this.config.url, { ...this.headers, ...wire.headers }, wire.body);
      return classifyHecResponse(res, entries.length, this.channel !== null);
    } catch (err) {
      if (err instanceof NetworkError) return networkVerdict(err);
      throw err;
    }
  }

  /** Ask HEC which ack ids are indexed; an unanswered poll counts every id as not yet known. */
  private async queryAcks(url: string, ids: number[]): Promise<Map<number, boolean>> {
    const out = new Map<number, boolean>();
    try {
      const res = await this.config.client.post(url, this.headers, JSON.stringify({ acks: ids }));
      if (res.status === 200) {
        const acks = (JSON.parse(res.body) as { acks?: Record<string, boolean> }).acks ?? {};
        for (const id of ids) out.set(id, acks[String(id)] === true);
      }
    } catch {
      // A failed poll is asked again next round; the resend timeout bounds how long that can go on.
    }
    return out;
  }

  async close(): Promise<void> {
    await this.config.client.close();
  }
}

/** `/services/collector/ack` on the same server, with the channel also as a query parameter. */
export function hecAckUrl(eventUrl: string, channel: string): string {
  const u = new URL(eventUrl);
  const i = u.pathname.indexOf('/services/collector');
  u.pathname = (i >= 0 ? u.pathname.slice(0, i) : '') + '/services/collector/ack';
  u.search = '';
  u.searchParams.set('channel', channel);
  return u.toString();
}

const ACK = switchOption({ flags: '--splunk-ack', description: 'Splunk HEC: wait for indexer acknowledgement before checkpointing', default: false });
const ACK_INTERVAL = option({
  flags: '--splunk-ack-interval <duration>',
  description: 'Splunk HEC: how often to poll for acknowledgements',
  default: '10s',
  parse: duration,
});
const ACK_TIMEOUT = option({
  flags: '--splunk-ack-timeout <duration>',
  description: 'Splunk HEC: resend a batch not acknowledged within this time',
  default: '5m',
  parse: duration,
});

export const splunkHecTransport: TransportDescription = {
  name: 'splunk-hec',
  summary: 'Splunk HTTP Event Collector (/services/collector/event)',
  schemes: ['http', 'https'],
  detect: (u) => /\/services\/collector(\/event)?(\/1\.0)?$/.test(u.pathname.replace(/\/+$/, '')),
  vetUrl: (output) => {
    if (output.toLowerCase().includes('/services/collector/raw')) {
      throw new ConfigurationError('--output points at HEC /services/collector/raw; use /services/collector/event');
    }
  },
  format: 'splunk',
  batch: BATCH,
  compression: HEC_COMPRESSION,
  credentials: 'the HEC token goes in OVERSIGHT_SPLUNK_HEC_TOKEN (or OVERSIGHT_SPLUNK_HEC_TOKEN_FILE)',
  env: [{ name: 'OVERSIGHT_SPLUNK_HEC_TOKEN', description: 'the HEC token (or an Authorization header from --header-file)', secret: true }],
  flags: [
    ACK,
    ACK_INTERVAL,
    ACK_TIMEOUT,
  ],
  create: (ctx) => {
    const f = ctx.flags;
    const ack = ACK.read(f)
      ? {
          pollIntervalMs: ACK_INTERVAL.read(f)!,
          timeoutMs: ACK_TIMEOUT.read(f)!,
        }
      : null;
    const headers = { ...ctx.headers };
    if (!findHeader(headers, 'authorization')) {
      const token = secretFromEnv(ctx.env, 'OVERSIGHT_SPLUNK_HEC_TOKEN', true);
      if (!token) {
        throw new ConfigurationError(
          "Splunk HEC needs a token: set OVERSIGHT_SPLUNK_HEC_TOKEN (or OVERSIGHT_SPLUNK_HEC_TOKEN_FILE) or pass --header 'Authorization: Splunk <token>'",
        );
      }
      registerSecret(token);
      headers['authorization'] = /^Splunk\s/i.test(token) ? token : `Splunk ${token}`;
      // The whole header value too: its base64 or URL-encoded form differs from the token's.
      registerSecret(headers['authorization']);
    }
    return new SplunkHecTransport({ url: ctx.output, headers, client: new HttpClient(ctx.http), ack, compress: ctx.compress });
  },
};
