/**
 * HTTP with keep-alive (undici), TLS verification on unless --insecure, an optional private CA, and one
 * timeout per request. Network failures come back as NetworkError so transports can classify them.
 */
import { USER_AGENT } from '../../shared/version.js';
import v8 from 'node:v8';
import type { Agent } from 'undici';
import { ConfigurationError } from '../../shared/errors.js';
import { readBounded } from '../../shared/files.js';
import { excerpt } from '../transport.js';
import { connectProblem, notTlsMessage } from '../tls-failure.js';

export interface HttpOptions {
  /** PEM file with the CA that signed the SIEM's certificate. */
  caFile?: string | null;
  /** Skip certificate verification. Only when the user asks for it. */
  insecure?: boolean;
  /** Whole-request timeout. */
  timeoutMs: number;
}

/** An answer as bytes, for protocols that answer in binary (OTLP's protobuf). */
export interface HttpBytes {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** At most the cap the caller gave. */
  body: Buffer;
  /** The body went on past the cap, or (an error answer) stopped part way: `body` is its start. */
  truncated: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The answer was longer than what is kept of an error answer, or stopped part way; `body` is its start. */
  truncated?: boolean;
}

/**
 * The most of a success answer read into memory. The largest protocol answer we read is an Elasticsearch
 * `_bulk` result, about 200 bytes per item with an error: 16 MiB covers 50,000 such items. A longer 2xx answer
 * is not one the SIEM gives, and counts as a failed attempt.
 */
export const MAX_SUCCESS_BODY = 16 * 1024 * 1024;
/** The most of an error answer kept: only its first bytes ever reach a message. The rest is not read. */
export const MAX_ERROR_BODY = 64 * 1024;

export class NetworkError extends Error {
  /**
   * `tls`: a certificate problem, whose fix is --ca-file or --insecure. `final`: not worth trying again as is (a
   * refusal whose answer never ended, a failed TLS handshake, a port that does not speak TLS): the export stops on
   * it, a read or a setup step fails on it, where other network failures are retried.
   */
  constructor(message: string, readonly code: string, readonly tls: boolean, readonly final = false) {
    super(message);
  }
}

type Undici = typeof import('undici');

/** A CA bundle's most: the whole Mozilla bundle of a Linux distribution is about 220 KB. */
export const MAX_CA_FILE_BYTES = 1024 * 1024;

/** `--ca-file`, read and checked once for every TLS transport (HTTPS, syslog over TLS). */
export function readCaFile(file: string | null | undefined): string | undefined {
  if (!file) return undefined;
  const bytes = readBounded(file, '--ca-file', MAX_CA_FILE_BYTES, 'give the path of a PEM file of CA certificates');
  if (bytes === null) throw new ConfigurationError(`cannot read --ca-file ${file}: no such file`);
  const ca = bytes.toString('utf8');
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigurationError(`--ca-file ${file} holds no PEM certificate`);
  return ca;
}

export class HttpClient {
  /** undici takes a tenth of a second to load, so only exports that speak HTTP load it. */
  private readonly ready: Promise<{ agent: Agent; request: Undici['request'] }>;

  constructor(private readonly options: HttpOptions) {
    const ca = readCaFile(options.caFile);
    baselineWasm();
    this.ready = import('undici').then((undici) => ({
      request: undici.request,
      agent: new undici.Agent({
        connect: { ...(ca ? { ca } : {}), rejectUnauthorized: !options.insecure },
        keepAliveTimeout: 30_000,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      }),
    }));
  }

  async send(method: 'POST' | 'GET' | 'PUT' | 'DELETE', url: string, headers: Record<string, string>, body?: string | Buffer): Promise<HttpResponse> {
    const res = await this.sendBytes(method, url, headers, body, (status) => (status >= 200 && status < 300 ? MAX_SUCCESS_BODY : MAX_ERROR_BODY));
    const ok = res.status >= 200 && res.status < 300;
    if (res.truncated && ok) {
      throw new NetworkError(
        `${safeHost(url)} answered HTTP ${res.status} with more than ${MAX_SUCCESS_BODY / 1024 / 1024} MiB: not an answer the SIEM gives; not counted as delivered`,
        'EBODYTOOLARGE', false,
      );
    }
    return { status: res.status, headers: res.headers, body: res.body.toString('utf8'), ...(res.truncated ? { truncated: true } : {}) };
  }

  /** One request, its answer read as bytes up to `cap(status)`: the one place requests are made and answers read. */
  async sendBytes(
    method: 'POST' | 'GET' | 'PUT' | 'DELETE', url: string, headers: Record<string, string>, body: string | Buffer | undefined, cap: (status: number) => number,
  ): Promise<HttpBytes> {
    const { agent, request } = await this.ready;
    // The whole request, from connecting to the last byte of the answer. The timer ends with the request: one from
    // AbortSignal.timeout would stay pending for the full --timeout after each of thousands of requests.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new DOMException('the request timed out', 'TimeoutError')), this.options.timeoutMs);
    try {
      const res = await request(url, {
        method,
        // Every request says what sent it, so a SIEM's access log can tell the exporter from anything else.
        headers: { 'user-agent': USER_AGENT, ...headers },
        body,
        dispatcher: agent,
        signal: abort.signal,
      });
      // An error answer is classified by its status line, which has arrived: a body cut short by --timeout or a
      // dropped connection only shortens the text quoted, and must not turn a 400 or a 500 into a retried failure.
      const s = res.statusCode;
      const error = s < 200 || s >= 300;
      const read = await readCapped(res.body, cap(s), error);
      // A refusal, though, can split a batch in halves down to single records, and a peer that never ends its
      // refusals would hold each half for the whole --timeout (a batch of 1,000 for about two thousand of them):
      // one cut short ends the attempt here, and the export stops with the batch unsent rather than hanging.
      if (read.unfinished && s >= 400 && s < 500 && s !== 408 && s !== 429) {
        const said = read.body.length > 0 ? ` (it began: ${excerpt(read.body.toString('utf8'), 120)})` : '';
        throw new NetworkError(
          `${safeHost(url)} answered HTTP ${s} but ${abort.signal.aborted ? 'did not finish its answer within --timeout' : 'closed the connection before the end of its answer'}` +
            `${said}: not retried, and nothing is ` +
            'dead-lettered on an answer cut short; the batch is sent again at the next start',
          'EUNFINISHED', false, true,
        );
      }
      return { status: s, headers: res.headers, body: read.body, truncated: read.truncated };
    } catch (err) {
      if (err instanceof NetworkError) throw err;
      throw toNetworkError(err, url, this.options.timeoutMs);
    } finally {
      clearTimeout(timer);
    }
  }

  post(url: string, headers: Record<string, string>, body: string | Buffer): Promise<HttpResponse> {
    return this.send('POST', url, headers, body);
  }

  async close(): Promise<void> {
    const { agent } = await this.ready;
    await agent.close().catch(() => undefined);
  }
}

/**
 * Read a body up to `cap` bytes. Past the cap the stream is destroyed (undici then closes that connection rather
 * than reading the rest into the pool), so a 400 MB answer costs `cap` bytes of memory and no more reading. With
 * `keepStart`, a body that fails part way (timeout, connection dropped) gives what was read, marked truncated.
 */
async function readCapped(
  body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown }, cap: number, keepStart: boolean,
): Promise<{ body: Buffer; truncated: boolean; unfinished?: true }> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const room = cap - size;
      if (chunk.length > room) {
        if (room > 0) chunks.push(chunk.subarray(0, room));
        body.destroy();
        return { body: Buffer.concat(chunks), truncated: true };
      }
      chunks.push(chunk);
      size += chunk.length;
    }
  } catch (err) {
    if (!keepStart) throw err;
    body.destroy();
    return { body: Buffer.concat(chunks), truncated: true, unfinished: true };
  }
  return { body: Buffer.concat(chunks), truncated: false };
}

function toNetworkError(err: unknown, url: string, timeoutMs: number): NetworkError {
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code ?? e.name ?? 'ERROR';
  const host = safeHost(url);
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || /TIMEOUT/.test(code)) {
    return new NetworkError(`no answer from ${host} within ${timeoutMs / 1000}s (--timeout)`, 'TIMEOUT', false);
  }
  const { kind, reason } = connectProblem(code, e.cause?.message ?? e.message ?? String(err));
  if (kind === 'not-tls') return new NetworkError(notTlsMessage(host, 'http://'), code, false, true);
  return new NetworkError(`cannot reach ${host}: ${reason}`, code, kind === 'certificate', kind === 'tls');
}

export function safeHost(url: string): string {
  try {
    const u = new URL(url);
    return u.host;
  } catch {
    return 'the server';
  }
}

/**
 * WebAssembly compiled by V8's baseline compiler only. undici parses HTTP answers with llhttp, compiled to
 * WebAssembly, the only WebAssembly this process runs. V8 would optimize it again in the background, and a
 * process waits for that work when it exits: a 10-event HEC export took 320–330 ms with it and 240–260 ms
 * without (measured). Answers from a SIEM are a few hundred bytes, so the faster parser would not pay for its
 * compile. V8 reads the flag when it compiles a module: it is set here, before undici compiles its parser.
 */
function baselineWasm(): void {
  v8.setFlagsFromString('--liftoff-only');
}
