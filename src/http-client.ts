/**
 * HTTP with keep-alive (undici), TLS verification on unless --insecure, an optional private CA, and one
 * timeout per request. Network failures come back as NetworkError so transports can classify them.
 */
import fs from 'node:fs';
import type { Agent } from 'undici';
import { ConfigurationError, errorMessage } from './errors.js';

export interface HttpOptions {
  /** PEM file with the CA that signed the SIEM's certificate. */
  caFile?: string | null;
  /** Skip certificate verification. Only when the user asks for it. */
  insecure?: boolean;
  /** Whole-request timeout. */
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export class NetworkError extends Error {
  constructor(message: string, readonly code: string, readonly tls: boolean) {
    super(message);
  }
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|UNABLE_TO_GET_ISSUER|ERR_SSL|ERR_TLS/;

type Undici = typeof import('undici');

/** `--ca-file`, read and checked once for every TLS transport (HTTPS, syslog over TLS). */
export function readCaFile(file: string | null | undefined): string | undefined {
  if (!file) return undefined;
  let ca: string;
  try {
    ca = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigurationError(`cannot read --ca-file ${file}: ${errorMessage(err)}`);
  }
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigurationError(`--ca-file ${file} holds no PEM certificate`);
  return ca;
}

export class HttpClient {
  /** undici takes a tenth of a second to load, so only exports that speak HTTP load it. */
  private readonly ready: Promise<{ agent: Agent; request: Undici['request'] }>;

  constructor(private readonly options: HttpOptions) {
    const ca = readCaFile(options.caFile);
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
    const { agent, request } = await this.ready;
    try {
      const res = await request(url, {
        method,
        headers,
        body,
        dispatcher: agent,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      const text = await res.body.text();
      return { status: res.statusCode, headers: res.headers, body: text };
    } catch (err) {
      throw toNetworkError(err, url, this.options.timeoutMs);
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

function toNetworkError(err: unknown, url: string, timeoutMs: number): NetworkError {
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code ?? e.name ?? 'ERROR';
  const host = safeHost(url);
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || /TIMEOUT/.test(code)) {
    return new NetworkError(`no answer from ${host} within ${timeoutMs / 1000}s (--timeout)`, 'TIMEOUT', false);
  }
  const detail = (e.cause?.message ?? e.message ?? String(err)).split('\n')[0];
  const tls = TLS_CODES.test(code) || /certificate/i.test(detail ?? '');
  return new NetworkError(`cannot reach ${host}: ${detail}`, code, tls);
}

export function safeHost(url: string): string {
  try {
    const u = new URL(url);
    return u.host;
  } catch {
    return 'the server';
  }
}
