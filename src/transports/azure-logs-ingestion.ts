/**
 * Azure Monitor Logs Ingestion API (the Data Collector API's replacement): a JSON array per request to a DCR
 * stream, a bearer token from Entra ID client credentials, every body at most 1 MiB.
 */
import { randomUUID } from 'node:crypto';
import type { ClientCredential } from '../azure-auth.js';
import { chooseCompression, wireBody, type Compression } from '../compress.js';
import { TokenError } from '../azure-auth.js';
import { jsonArrayEncoder, type Entry } from '../encoder.js';
import { NetworkError, type HttpClient, type HttpResponse } from '../http-client.js';
import { excerpt, networkVerdict, statusVerdict, type Transport, type Verdict } from '../transport.js';

/** The API's hard limit per call. */
export const LOGS_INGESTION_MAX_BYTES = 1024 * 1024;

export function classifyLogsIngestionResponse(res: HttpResponse): Verdict {
  if (res.status === 403) {
    return {
      kind: 'stop',
      reason: `Logs Ingestion API answered HTTP 403: the app needs the Monitoring Metrics Publisher role on the DCR (new assignments take up to 30 minutes): ${excerpt(res.body)}`,
    };
  }
  if (res.status === 400) return { kind: 'rejected', status: 400, reason: `Logs Ingestion API answered HTTP 400: ${excerpt(res.body)}` };
  if (res.status === 404) {
    return { kind: 'stop', reason: `Logs Ingestion API answered HTTP 404: check the DCR immutable id and stream name in --output: ${excerpt(res.body)}` };
  }
  return statusVerdict(res, 'Logs Ingestion API');
}

export interface LogsIngestionConfig {
  url: string;
  credential: ClientCredential;
  headers: Record<string, string>;
  client: HttpClient;
  compress?: Compression | null;
}

/**
 * The API takes `Content-Encoding: gzip`, and Microsoft's own LogsIngestionClient gzips every request. Its 1 MB
 * limit counts both sizes, so batches stay under it uncompressed, as the SDK's do.
 */
export const LOGS_INGESTION_COMPRESSION = { default: 'gzip', gzip: true } as const;

export class LogsIngestionTransport implements Transport {
  readonly name = 'azure-logs-ingestion';
  readonly encoder = jsonArrayEncoder;
  /** Under 1,000,000 bytes like Microsoft's own client, leaving room below the 1 MiB limit. */
  readonly defaults = { maxEvents: 10_000, maxBytes: 1_000_000 };
  readonly hardMaxBytes = LOGS_INGESTION_MAX_BYTES;
  private readonly url: string;
  private refusedTokens = 0;
  readonly compression: Compression;

  constructor(private readonly config: LogsIngestionConfig) {
    this.compression = chooseCompression(config.compress, 'azure-logs-ingestion', LOGS_INGESTION_COMPRESSION);
    const u = new URL(config.url);
    if (!u.searchParams.has('api-version')) u.searchParams.set('api-version', '2023-01-01');
    this.url = u.toString();
  }

  async send(_entries: readonly Entry[], body: Buffer): Promise<Verdict> {
    let token: string;
    try {
      token = await this.config.credential.getToken();
    } catch (err) {
      if (err instanceof TokenError) return err.retry ? { kind: 'retry', reason: err.message } : { kind: 'stop', reason: err.message };
      throw err;
    }
    const wire = await wireBody(body, this.compression);
    const headers = {
      ...this.config.headers,
      ...wire.headers,
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'x-ms-client-request-id': randomUUID(),
    };
    let res: HttpResponse;
    try {
      res = await this.config.client.post(this.url, headers, wire.body);
    } catch (err) {
      if (err instanceof NetworkError) return networkVerdict(err);
      throw err;
    }
    if (res.status === 401) {
      // A token revoked or expired early: fetch a new one once; twice in a row means the credentials are wrong.
      this.config.credential.invalidate();
      if (++this.refusedTokens > 1) return { kind: 'stop', reason: `Logs Ingestion API refused a fresh token (HTTP 401): ${excerpt(res.body)}` };
      return { kind: 'retry', reason: 'Logs Ingestion API refused the token (HTTP 401); fetching a new one', retryAfterMs: 0 };
    }
    this.refusedTokens = 0;
    return classifyLogsIngestionResponse(res);
  }

  async close(): Promise<void> {
    await this.config.client.close();
  }
}
