/**
 * OTLP/HTTP logs: each batch one ExportLogsServiceRequest, protobuf by default or JSON, gzip by default. Each
 * record comes with its event (the `event` envelope); here it becomes a LogRecord (otlp-record.ts), the records
 * are grouped under one Resource per registry, encoded, sent, and the answer classified (otlp-answer.ts). Elasticsearch 9.2+, Grafana Loki 3,
 * CrowdStrike LogScale and OpenTelemetry collectors take this natively.
 */
import { chooseCompression, wireBody, type Compression } from '../compress.js';
import type { Encoder, Entry } from '../../pipeline/encoder.js';
import { ConfigurationError } from '../../shared/errors.js';
import { option } from '../../shared/options.js';
import { HttpClient, NetworkError, safeHost, type HttpBytes } from './client.js';
import { networkVerdict, refuseOwnHeaders, type CheckLine, type Rejection, type Transport, type Verdict } from '../transport.js';
import type { TransportDescription } from '../describe.js';
import { readEventEnvelope } from '../../records/spec.js';
import { logRecord, registryResource, SCOPE } from './otlp-record.js';

/**
 * The protobuf side (protobufjs and our message descriptions) takes about 80 ms to load: only an export that
 * sends OTLP loads it, not every start of the CLI that lists this transport.
 */
type Codec = typeof import('./otlp-answer.js') & typeof import('./otlp-schema.js');
const loadCodec = async (): Promise<Codec> => ({ ...(await import('./otlp-answer.js')), ...(await import('./otlp-schema.js')) });

/**
 * The OpenTelemetry SDKs' batch size is 512; a thousand beacon records stay near 1.5 MB of JSON. The OTLP
 * specification recommends 64 MiB as the most a client sends in one request (and a server takes).
 */
const BATCH = { maxEvents: 1000, maxBytes: 2_000_000, hardMaxBytes: 64 * 1024 * 1024 };
/** Every OTLP/HTTP receiver must take gzip, and the OpenTelemetry exporters send it by default. */
/** The most of an answer read (the OTLP specification's recommendation to clients). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

const OTLP_COMPRESSION = { default: 'gzip', gzip: true } as const;
export const OTLP_ENCODINGS = ['protobuf', 'json'] as const;
export type OtlpEncoding = (typeof OTLP_ENCODINGS)[number];

/** Records are LogRecord JSON objects; the count of bytes is the JSON body's, a bound on the protobuf one. */
const otlpEncoder: Encoder = { name: 'otlp-log-records', open: '', close: '', separator: ',', terminator: '' };

/**
 * The URL to POST to: `otlp+http(s)://host:port` becomes `http(s)://host:port/v1/logs` (the specification's
 * default path); a URL with a path of its own keeps it (Elasticsearch's `/_otlp/v1/logs`, Loki's `/otlp/v1/logs`).
 */
export function otlpEndpoint(output: string): string {
  const u = new URL(output);
  const scheme = u.protocol.toLowerCase();
  if (scheme === 'otlp+http:' || scheme === 'otlp+https:') {
    // `new URL` keeps a custom scheme's path as written; the http(s) form of the same text normalizes it.
    const plain = new URL(output.replace(/^otlp\+/i, ''));
    if (plain.pathname === '/' || plain.pathname === '') plain.pathname = '/v1/logs';
    return plain.toString();
  }
  return u.toString();
}

interface Parsed {
  index: number;
  entry: Entry;
  text: string;
  record: Record<string, unknown>;
}

/** A record made for this transport (the record with its event) as a LogRecord; null for anything else. */
function parseRecord(text: string): Record<string, unknown> | null {
  const r = readEventEnvelope(text);
  return r ? logRecord(r.event, r.record) : null;
}

/** The records grouped by registry, in order of first appearance: one ResourceLogs each. */
function byRegistry(records: readonly Parsed[]): Map<string, Parsed[]> {
  const groups = new Map<string, Parsed[]>();
  for (const p of records) {
    const g = groups.get(p.entry.registry_id);
    if (g) g.push(p);
    else groups.set(p.entry.registry_id, [p]);
  }
  return groups;
}

const SCOPE_JSON = JSON.stringify(SCOPE);

export function jsonRequest(records: readonly Parsed[]): Buffer {
  const parts: string[] = ['{"resourceLogs":['];
  let first = true;
  for (const [registry, group] of byRegistry(records)) {
    parts.push(`${first ? '' : ','}{"resource":${JSON.stringify(registryResource(registry))},"scopeLogs":[{"scope":${SCOPE_JSON},"logRecords":[`);
    group.forEach((p, i) => parts.push(i === 0 ? p.text : ',' + p.text));
    parts.push(']}]}');
    first = false;
  }
  parts.push(']}');
  return Buffer.from(parts.join(''));
}

export function protobufRequest(records: readonly Parsed[], encodeRequest: Codec['encodeRequest']): Buffer {
  const resourceLogs = [...byRegistry(records)].map(([registry, group]) => ({
    resource: registryResource(registry),
    scopeLogs: [{ scope: SCOPE, logRecords: group.map((p) => p.record) }],
  }));
  return encodeRequest({ resourceLogs });
}

export class OtlpTransport implements Transport {
  readonly name = otlpTransport.name;
  readonly encoder = otlpEncoder;
  readonly defaults = otlpTransport.batch;
  readonly hardMaxBytes = otlpTransport.batch.hardMaxBytes;
  readonly compression: Compression;
  private readonly headers: Record<string, string>;
  private readonly host: string;
  private codec: Promise<Codec> | null = null;

  constructor(
    readonly url: string,
    readonly encoding: OtlpEncoding,
    headers: Record<string, string>,
    private readonly client: HttpClient,
    compress: Compression | null,
    private readonly log: (message: string) => void = () => undefined,
  ) {
    this.compression = chooseCompression(compress, 'otlp', OTLP_COMPRESSION);
    this.host = safeHost(url);
    // The body's type follows --otlp-encoding: a header of one's own would label it wrongly (every request refused
    // as bad data, so every record dead-lettered) or send it twice.
    refuseOwnHeaders(headers, 'otlp', ['Content-Type']);
    this.headers = {
      'content-type': encoding === 'json' ? 'application/json' : 'application/x-protobuf',
      ...headers,
    };
  }

  /** An export request with no records: a receiver answers it as any other, so path and credentials show. */
  async check(): Promise<CheckLine[]> {
    const codec = await (this.codec ??= loadCodec());
    const json = this.encoding === 'json';
    const answer = await this.post(this.headers, json ? Buffer.from('{"resourceLogs":[]}') : protobufRequest([], codec.encodeRequest));
    const v = codec.classifyOtlp(answer, 0, json, this.host).verdict;
    if (v.kind === 'delivered' || v.kind === 'partial') return [{ what: 'OTLP receiver', ok: true, detail: `answered an empty ${this.encoding} request` }];
    return [{ what: 'OTLP receiver', ok: false, detail: v.reason }];
  }

  /** `body` (the records joined by the pipeline) is not used: the request is built here, per registry. */
  async send(entries: readonly Entry[], _body: Buffer): Promise<Verdict> {
    const valid: Parsed[] = [];
    const invalid: Rejection[] = [];
    const json = this.encoding === 'json';
    // When this exporter handed the events on (what a collector calls observed), one time for a whole request.
    const observed = `${Date.now()}000000`;
    entries.forEach((entry, index) => {
      const record = parseRecord(entry.record.toString());
      if (record) {
        record['observedTimeUnixNano'] = observed;
        valid.push({ index, entry, text: json ? JSON.stringify(record) : '', record });
      }
      else invalid.push({ index, status: 0, error: 'not an OTLP LogRecord: otlp sends the records its own formatter stage makes (a dead letter of another transport goes back to that one)' });
    });
    if (valid.length === 0) return { kind: 'partial', retry: [], rejected: invalid, reason: invalid[0]!.error };
    const codec = await (this.codec ??= loadCodec());
    const wire = await wireBody(json ? jsonRequest(valid) : protobufRequest(valid, codec.encodeRequest), this.compression);
    let v: Verdict;
    try {
      const answer = await this.post({ ...this.headers, ...wire.headers }, wire.body);
      const c = codec.classifyOtlp(answer, valid.length, json, this.host);
      if (c.warning) this.log(`warning: ${c.warning}`);
      v = c.verdict;
    } catch (err) {
      if (err instanceof NetworkError) return networkVerdict(err);
      throw err;
    }
    if (invalid.length === 0) return v;
    // Indices in the verdict count the records sent; map them back to the batch and add the unsendable ones.
    if (v.kind === 'delivered') return { kind: 'partial', retry: [], rejected: invalid, reason: invalid[0]!.error };
    if (v.kind === 'partial') {
      const rejected = [...invalid, ...v.rejected.map((r) => ({ ...r, index: valid[r.index]!.index }))];
      return { ...v, retry: v.retry.map((i) => valid[i]!.index), rejected };
    }
    return v;
  }

  /**
   * OTLP answers in protobuf as often as in JSON, so the answer is read as bytes, and at most 4 MiB of it, the
   * limit the OTLP specification recommends to clients.
   */
  private post(headers: Record<string, string>, body: Buffer): Promise<HttpBytes> {
    return this.client.sendBytes('POST', this.url, headers, body, () => MAX_ANSWER_BYTES);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

const ENCODING = option({
  flags: '--otlp-encoding <encoding>',
  description: 'OTLP: request body as protobuf or JSON',
  default: 'protobuf',
  choices: OTLP_ENCODINGS,
  parse: (v, flag): OtlpEncoding => {
    if (!(OTLP_ENCODINGS as readonly string[]).includes(v)) throw new ConfigurationError(`${flag} must be protobuf or json, not '${v}'`);
    return v as OtlpEncoding;
  },
});

export const otlpTransport: TransportDescription = {
  name: 'otlp',
  summary: 'OpenTelemetry OTLP/HTTP logs (otlp+http://host:4318, or any URL ending in /v1/logs)',
  schemes: ['otlp+http', 'otlp+https', 'http', 'https'],
  detect: (u) => /^otlp\+https?:$/i.test(u.protocol) || /\/v1\/logs$/.test(u.pathname.replace(/\/+$/, '')),
  // The body of each LogRecord: CEF is one readable line that LogScale and Elastic parse, as for syslog.
  defaultFormat: 'cef',
  batch: BATCH,
  compression: OTLP_COMPRESSION,
  flags: [ENCODING],
  // Each record with its event: the LogRecord's attributes come from the event, its body is the record.
  envelope: () => ({ kind: 'event', settings: {} }),
  create: (ctx) =>
    new OtlpTransport(otlpEndpoint(ctx.output), ENCODING.read(ctx.flags)!, ctx.headers, new HttpClient(ctx.http), ctx.compress, ctx.log),
};
