/**
 * POST for OTLP/HTTP. OTLP answers in protobuf as often as in JSON, so the answer is read as bytes, and at most
 * 4 MiB of it, the limit the OTLP specification recommends to clients: a receiver (or a proxy in front of it)
 * must not be able to make us hold an unbounded body. TLS and timeouts follow the same options as every other
 * HTTPS transport.
 */
import type { Agent } from 'undici';
import { NetworkError, readCaFile, safeHost, type HttpOptions } from './client.js';

export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export interface OtlpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** At most MAX_ANSWER_BYTES of the body. */
  body: Buffer;
  /** The body went on past MAX_ANSWER_BYTES (the rest was not read). */
  truncated: boolean;
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|UNABLE_TO_GET_ISSUER|ERR_SSL|ERR_TLS/;

type Undici = typeof import('undici');

export class OtlpHttpClient {
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

  async post(url: string, headers: Record<string, string>, body: Buffer): Promise<OtlpAnswer> {
    const { agent, request } = await this.ready;
    try {
      const res = await request(url, { method: 'POST', headers, body, dispatcher: agent, signal: AbortSignal.timeout(this.options.timeoutMs) });
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      for await (const chunk of res.body) {
        const c = chunk as Buffer;
        if (size + c.length > MAX_ANSWER_BYTES) {
          chunks.push(c.subarray(0, MAX_ANSWER_BYTES - size));
          truncated = true;
          // Closing the stream drops the connection rather than reading the rest.
          res.body.destroy();
          break;
        }
        chunks.push(c);
        size += c.length;
      }
      return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), truncated };
    } catch (err) {
      throw networkError(err, url, this.options.timeoutMs);
    }
  }

  async close(): Promise<void> {
    const { agent } = await this.ready;
    await agent.close().catch(() => undefined);
  }
}

function networkError(err: unknown, url: string, timeoutMs: number): NetworkError {
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code ?? e.name ?? 'ERROR';
  const host = safeHost(url);
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || /TIMEOUT/.test(code)) {
    return new NetworkError(`no answer from ${host} within ${timeoutMs / 1000}s (--timeout)`, 'TIMEOUT', false);
  }
  const detail = (e.cause?.message ?? e.message ?? String(err)).split('\n')[0] ?? '';
  return new NetworkError(`cannot reach ${host}: ${detail}`, code, TLS_CODES.test(code) || /certificate/i.test(detail));
}
