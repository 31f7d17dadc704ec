/**
 * A fake OTLP/HTTP logs receiver on 127.0.0.1. It checks what a collector checks (POST, the path, a protobuf or
 * JSON content type, gzip that really is gzip, a size limit, an optional credential) and decodes every request
 * with the OpenTelemetry project's own code generated from the official opentelemetry-proto definitions
 * (`@opentelemetry/otlp-transformer`'s generated root, with its own copy of the protobuf runtime): nothing of
 * the exporter's schema is used here. JSON bodies are read by the OTLP JSON mapping: lowerCamelCase names only,
 * 64-bit integers as strings, enums as numbers; a field the official schema does not know is a finding.
 * Answers can be scripted: a partial success, a status with Retry-After, a body that is not OTLP, a body that is
 * huge, never ends or is cut off.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';
import { gunzipSync } from 'node:zlib';

type Json = Record<string, unknown>;

interface GeneratedType {
  decode(bytes: Uint8Array): unknown;
  encode(message: unknown): { finish(): Uint8Array };
  fromObject(object: unknown): unknown;
  toObject(message: unknown, options: Record<string, unknown>): Json;
  verify(message: unknown): string | null;
}

const require = createRequire(import.meta.url);
// The generated module of @opentelemetry/otlp-transformer 0.208.0 (the logs messages of opentelemetry-proto v1.6.0-v1.9.0);
// later versions of the package no longer ship it, hence the exact version in package.json.
const generated = require('@opentelemetry/otlp-transformer/build/src/generated/root.js') as {
  opentelemetry: { proto: { collector: { logs: { v1: Record<string, GeneratedType> } } } };
};
const proto = generated.opentelemetry.proto.collector.logs.v1;
const REQUEST = proto['ExportLogsServiceRequest']!;
const RESPONSE = proto['ExportLogsServiceResponse']!;
// The protobuf runtime that generated code runs on, for google.rpc.Status (not in opentelemetry-proto).
interface Writer {
  uint32(v: number): Writer;
  int32(v: number): Writer;
  string(v: string): Writer;
  finish(): Uint8Array;
}
const minimal = createRequire(require.resolve('@opentelemetry/otlp-transformer/build/src/generated/root.js'))('protobufjs/minimal') as {
  Writer: { create(): Writer };
};

/** Options of toObject that give the OTLP JSON mapping's spelling of int64 (strings) and enums (numbers). */
const AS_JSON = { longs: String, enums: Number, bytes: String, defaults: false, arrays: false, objects: false, oneofs: false };

/** The largest decompressed body taken: the default the OTLP specification recommends to servers (answer 413). */
const MAX_BODY = 64 * 1024 * 1024;

export type Reply =
  | {
      status: number; headers?: Record<string, string>; body?: Buffer | string; status_message?: string;
      /** After the body: keep the answer open, a byte every 100 ms until the client leaves, or drop the connection. */
      then?: 'trickle' | 'drop';
    }
  | { status: number; flood: { start: Buffer | string; bytes: number; type?: string } }
  | { partial: { rejected: number; message: string } }
  | { reset: true };

export interface OtlpRecord {
  resource: Record<string, unknown>;
  scope: Json;
  record: Json;
  /** The record's attributes by key, each value the AnyValue's one member (`stringValue`, `intValue`…). */
  attrs: Record<string, unknown>;
  body: unknown;
}

export interface OtlpRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  encoding: 'protobuf' | 'json';
  gzip: boolean;
  /** The decoded request in the OTLP JSON shape. */
  request: Json;
  records: OtlpRecord[];
  /** What the peer found wrong with the body, if anything (it still answers as a receiver would). */
  findings: string[];
  status: number;
}

export interface OtlpPeerOptions {
  /** The path the receiver serves (default `/v1/logs`). */
  path?: string;
  /** A header the receiver requires, e.g. `{ name: 'authorization', value: 'ApiKey abc' }`. */
  auth?: { name: string; value: string };
  /** Records the receiver refuses as invalid: the whole request gets 400, as a collector does for bad data. */
  refuse?: (record: OtlpRecord) => boolean;
  /** Serve HTTPS with this key and certificate. */
  tls?: { key: string; cert: string };
  /** The largest decompressed body taken (default 64 MiB, the specification's recommendation); more gets 413. */
  maxBodyBytes?: number;
}

function anyValue(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  const keys = Object.keys(v);
  return keys.length === 1 ? (v as Json)[keys[0]!] : v;
}

function attributes(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of (list as { key: string; value: unknown }[] | undefined) ?? []) {
    if (Object.hasOwn(out, kv.key)) throw new Error(`attribute ${kv.key} appears twice`);
    out[kv.key] = anyValue(kv.value);
  }
  return out;
}

function flatten(request: Json): OtlpRecord[] {
  const out: OtlpRecord[] = [];
  for (const rl of (request['resourceLogs'] as Json[] | undefined) ?? []) {
    const resource = attributes((rl['resource'] as Json | undefined)?.['attributes']);
    for (const sl of (rl['scopeLogs'] as Json[] | undefined) ?? []) {
      for (const record of (sl['logRecords'] as Json[] | undefined) ?? []) {
        out.push({ resource, scope: (sl['scope'] as Json) ?? {}, record, attrs: attributes(record['attributes']), body: anyValue(record['body']) });
      }
    }
  }
  return out;
}

export class OtlpPeer {
  readonly requests: OtlpRequest[] = [];
  /** Replies for the next requests that reach the logs path, in order. */
  readonly script: Reply[] = [];
  /** Every request that reached the server, refused or not. */
  hits = 0;
  /** Bytes of flooded or trickled answer bodies written: past the kernel's buffers, only what the client read. */
  streamed = 0;
  url = '';
  private readonly server: http.Server;
  private readonly sockets = new Set<import('node:net').Socket>();

  constructor(private readonly options: OtlpPeerOptions = {}) {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks)));
    };
    this.server = options.tls ? https.createServer(options.tls, onRequest) : http.createServer(onRequest);
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Records of every request the receiver answered with a plain success, in arrival order. */
  get accepted(): OtlpRecord[] {
    return this.requests.filter((r) => r.status === 200 && r.findings.length === 0).flatMap((r) => r.records);
  }

  /** Every finding in every request: a test expects none. */
  get findings(): string[] {
    return this.requests.flatMap((r) => r.findings);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, wire: Buffer): void {
    this.hits++;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const answer = (status: number, body: Buffer | string, type: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': type, ...headers });
      res.end(body);
    };
    const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const json = type === 'application/json';
    const status = (code: number, message: string, headers: Record<string, string> = {}): void =>
      json ? answer(code, JSON.stringify({ code: code === 400 ? 3 : 2, message }), 'application/json', headers)
        : answer(code, statusBytes(code === 400 ? 3 : 2, message), 'application/x-protobuf', headers);
    if (req.method !== 'POST') return answer(405, '', 'text/plain');
    if (url.pathname !== (this.options.path ?? '/v1/logs')) return answer(404, '404 page not found', 'text/plain');
    if (type !== 'application/x-protobuf' && type !== 'application/json') return answer(415, `unsupported content type ${type}`, 'text/plain');
    const auth = this.options.auth;
    if (auth && req.headers[auth.name] !== auth.value) return status(401, 'missing or wrong credentials');
    const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
    let body = wire;
    if (encoding === 'gzip') {
      try {
        body = gunzipSync(wire, { maxOutputLength: (this.options.maxBodyBytes ?? MAX_BODY) + 1 });
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return status(413, 'request body too large');
        return status(400, 'body is not gzip data');
      }
    } else if (encoding !== 'identity') return status(400, `unsupported Content-Encoding ${encoding}`);
    else if (wire[0] === 0x1f && wire[1] === 0x8b) return status(400, 'gzip body without Content-Encoding: gzip');
    if (body.length > (this.options.maxBodyBytes ?? MAX_BODY)) return status(413, 'request body too large');
    const r: OtlpRequest = {
      path: url.pathname, headers: req.headers, encoding: json ? 'json' : 'protobuf', gzip: encoding === 'gzip', request: {}, records: [], findings: [], status: 200,
    };
    this.requests.push(r);
    try {
      r.request = json ? decodeJson(body, r.findings) : decodeProtobuf(body, r.findings);
      r.records = flatten(r.request);
    } catch (err) {
      r.status = 400;
      return status(400, `cannot decode ExportLogsServiceRequest: ${(err as Error).message}`);
    }
    if (this.options.refuse && r.records.some(this.options.refuse)) {
      r.status = 400;
      return status(400, 'log record refused: invalid data');
    }
    const next = this.script.shift();
    if (!next) return this.success(r, json, null, answer);
    if ('reset' in next) {
      r.status = 0;
      req.socket.destroy();
      return;
    }
    if ('partial' in next) return this.success(r, json, next.partial, answer);
    r.status = next.status;
    if ('flood' in next) return this.flood(res, next.status, next.flood);
    if (next.then) return this.unfinished(req, res, next.status, next.body ?? `scripted ${next.status}`, next.headers ?? {}, next.then);
    if (next.body !== undefined) return answer(next.status, next.body, next.headers?.['content-type'] ?? 'text/plain', next.headers);
    return status(next.status, next.status_message ?? `scripted ${next.status}`, next.headers);
  }

  private success(r: OtlpRequest, json: boolean, partial: { rejected: number; message: string } | null, answer: (s: number, b: Buffer | string, t: string) => void): void {
    const message = RESPONSE.fromObject(partial ? { partialSuccess: { rejectedLogRecords: String(partial.rejected), errorMessage: partial.message } } : {});
    if (partial) r.status = 206; // answered 200, but not a full success: kept apart from `accepted`
    if (json) answer(200, JSON.stringify(RESPONSE.toObject(message, AS_JSON)), 'application/json');
    else answer(200, Buffer.from(RESPONSE.encode(message).finish()), 'application/x-protobuf');
  }

  /** A body of `bytes` bytes starting with `start`, the rest `A`, generated as it is sent (the peer never holds it). */
  private flood(res: http.ServerResponse, status: number, body: { start: Buffer | string; bytes: number; type?: string }): void {
    res.writeHead(status, { 'content-type': body.type ?? 'text/plain', 'content-length': String(body.bytes) });
    const filler = Buffer.alloc(64 * 1024, 0x41);
    let left = body.bytes;
    const first = Buffer.from(body.start);
    const pump = (): void => {
      while (left > 0 && !res.destroyed) {
        const chunk = left === body.bytes ? Buffer.concat([first, filler]) : filler;
        const n = Math.min(left, chunk.length);
        left -= n;
        this.streamed += n;
        if (!res.write(chunk.subarray(0, n))) return void res.once('drain', pump);
      }
      if (left === 0) res.end();
    };
    res.on('error', () => undefined);
    pump();
  }

  /** The start of an answer that never ends: more of it every 100 ms, or the connection dropped once it is out. */
  private unfinished(
    req: http.IncomingMessage, res: http.ServerResponse, status: number, start: Buffer | string, headers: Record<string, string>, then: 'trickle' | 'drop',
  ): void {
    res.writeHead(status, { 'content-type': 'text/plain', ...headers });
    res.on('error', () => undefined);
    if (then === 'drop') return void res.write(start, () => req.socket.destroy());
    res.write(start);
    const timer = setInterval(() => {
      res.write('.');
      this.streamed++;
    }, 100);
    res.on('close', () => clearInterval(timer));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * The start of a google.rpc.Status whose message is `bytes` long and begins with `start`, the rest to be sent
 * after it: code 13 (INTERNAL), then the message's tag and length.
 */
export function statusPrefix(start: string, bytes: number): Buffer {
  const w = minimal.Writer.create();
  return Buffer.concat([Buffer.from(w.uint32(8).int32(13).uint32(18).uint32(bytes).finish()), Buffer.from(start)]);
}

/** A google.rpc.Status (code 1, message 2), written with the protobuf runtime's writer. */
function statusBytes(code: number, message: string): Buffer {
  const w = minimal.Writer.create();
  return Buffer.from(w.uint32(8).int32(code).uint32(18).string(message).finish());
}

function decodeProtobuf(body: Buffer, findings: string[]): Json {
  const message = REQUEST.decode(body);
  const problem = REQUEST.verify(message);
  if (problem) findings.push(`protobuf: ${problem}`);
  // Generated decoders skip fields they do not know: a body that does not re-encode to itself had some.
  if (!Buffer.from(REQUEST.encode(message).finish()).equals(body)) findings.push('protobuf: the body holds fields (or encodings) the official schema does not');
  return REQUEST.toObject(message, AS_JSON);
}

function decodeJson(body: Buffer, findings: string[]): Json {
  const parsed = JSON.parse(body.toString('utf8')) as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
  const message = REQUEST.fromObject(parsed);
  const back = REQUEST.toObject(message, AS_JSON);
  // Everything sent must survive the official schema in the mapping's own spelling: a snake_case or unknown key,
  // an int64 written as a number or an enum written as its name would come back different.
  if (!isDeepStrictEqual(back, parsed)) findings.push(`json: the body does not read back the same through the official schema: ${firstDifference(parsed, back)}`);
  return back;
}

function firstDifference(a: unknown, b: unknown, at = '$'): string {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return `${at}: sent ${JSON.stringify(a)}, read ${JSON.stringify(b)}`;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const x = (a as Json)[k];
    const y = (b as Json)[k];
    if (!isDeepStrictEqual(x, y)) return firstDifference(x, y, `${at}.${k}`);
  }
  return at;
}
