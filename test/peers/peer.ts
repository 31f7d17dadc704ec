/**
 * A real HTTP server on 127.0.0.1 for a fake SIEM: routes, request log, and scripted faults applied to the
 * next requests (a status with headers and body, a connection reset mid-request, or no answer at all).
 * Bodies are decompressed as the real SIEMs do: `Content-Encoding: gzip` must come with a gzip body and a gzip
 * body with that header, else the request is refused before any route sees it.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type Fault =
  | { status: number; body?: string; headers?: Record<string, string> }
  | { reset: true }
  | { hang: true };

export interface PeerRequest {
  method: string;
  path: string;
  url: URL;
  headers: http.IncomingHttpHeaders;
  /** The body after Content-Encoding is undone. */
  body: Buffer;
  /** The body as it came over the wire. */
  wire: Buffer;
}

export interface PeerReply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export type Route = (req: PeerRequest) => PeerReply;

export class Peer {
  readonly requests: PeerRequest[] = [];
  /** Faults for the next requests to `faultPath`, consumed in order. */
  readonly faults: Fault[] = [];
  private readonly server: http.Server;
  private readonly sockets = new Set<import('node:net').Socket>();
  url = '';
  /** Delay before every answer, to make requests take time. */
  delayMs = 0;
  /**
   * While set, answers to requests on `faultPath` wait for it (the request is taken and logged at once): a SIEM
   * slow to answer for exactly as long as a test needs, with no clock involved.
   */
  hold: Promise<unknown> | null = null;
  /** Whether this SIEM takes `Content-Encoding: gzip` at all. */
  acceptsGzip = true;

  constructor(private readonly route: Route, private readonly faultPath: RegExp = /./, private readonly tls?: { key: string; cert: string }) {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks)));
    };
    this.server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `${this.tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** The decoded body, or the refusal a real server gives. */
  private decode(req: http.IncomingMessage, wire: Buffer): Buffer | PeerReply {
    const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
    const gzipped = wire.length >= 2 && wire[0] === 0x1f && wire[1] === 0x8b;
    if (encoding === 'identity') {
      return gzipped ? { status: 400, body: '{"error":"body is gzip data but Content-Encoding does not say so"}' } : wire;
    }
    if (encoding !== 'gzip' || !this.acceptsGzip) return { status: 415, body: `{"error":"unsupported Content-Encoding ${encoding}"}` };
    try {
      return gunzipSync(wire);
    } catch {
      return { status: 400, body: '{"error":"Content-Encoding is gzip but the body is not gzip data"}' };
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, wire: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const decoded = this.decode(req, wire);
    const body = Buffer.isBuffer(decoded) ? decoded : Buffer.alloc(0);
    const r: PeerRequest = { method: req.method ?? 'GET', path: url.pathname, url, headers: req.headers, body, wire };
    this.requests.push(r);
    if (!Buffer.isBuffer(decoded)) {
      res.writeHead(decoded.status, { 'content-type': 'application/json' });
      res.end(decoded.body ?? '');
      return;
    }
    if (this.faultPath.test(url.pathname) && this.faults.length > 0) {
      const fault = this.faults.shift()!;
      if ('reset' in fault) {
        req.socket.destroy();
        return;
      }
      if ('hang' in fault) return;
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      res.end(fault.body ?? '');
      return;
    }
    const reply = this.route(r);
    const send = (): void => {
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body ?? '');
    };
    const answer = (): void => {
      if (this.delayMs > 0) setTimeout(send, this.delayMs);
      else send();
    };
    if (this.hold && this.faultPath.test(url.pathname)) void this.hold.then(answer);
    else answer();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Split a body of JSON objects written back to back (HEC batches), checking each parses on its own. */
export function splitConcatenatedJson(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
    } else if (depth === 0 && !/\s/.test(c!)) {
      throw new Error(`unexpected ${JSON.stringify(c)} between events at offset ${i}`);
    }
  }
  if (depth !== 0 || inString) throw new Error('truncated event');
  return out;
}
