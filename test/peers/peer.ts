/**
 * A real HTTP server on 127.0.0.1 for a fake SIEM: routes, request log, and scripted faults applied to the
 * next requests (a status with headers and body, a connection reset mid-request, or no answer at all).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export type Fault =
  | { status: number; body?: string; headers?: Record<string, string> }
  | { reset: true }
  | { hang: true };

export interface PeerRequest {
  method: string;
  path: string;
  url: URL;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
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

  private handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const r: PeerRequest = { method: req.method ?? 'GET', path: url.pathname, url, headers: req.headers, body };
    this.requests.push(r);
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
    if (this.delayMs > 0) setTimeout(send, this.delayMs);
    else send();
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
