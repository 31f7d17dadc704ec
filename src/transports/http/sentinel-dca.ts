/**
 * Microsoft Sentinel through the Log Analytics HTTP Data Collector API: a JSON array of flat rows per request,
 * signed here with the workspace shared key and a fresh `x-ms-date` for every attempt.
 */
import { readSecretFile, secretFromEnv } from '../../shared/secrets.js';
import { chooseCompression, type Compression } from '../compress.js';
import { jsonArrayEncoder, type Entry } from '../../pipeline/encoder.js';
import { ConfigurationError, registerSecret } from '../../shared/errors.js';
import { option } from '../../shared/options.js';
import { HttpClient, NetworkError, type HttpResponse } from './client.js';
import { rfc1123, sentinelAuthorization } from './sentinel-auth.js';
import { excerpt, refuseOwnHeaders, networkVerdict, protocolError, statusVerdict, type Transport, type Verdict } from '../transport.js';
import type { TransportDescription } from '../describe.js';

/** "30 MB per post" is the hard limit. */
const BATCH = { maxEvents: 10_000, maxBytes: 5_000_000, hardMaxBytes: 30_000_000 };

export function checkLogType(logType: string): string {
  if (!/^[A-Za-z0-9_]{1,100}$/.test(logType)) {
    throw new ConfigurationError(`--sentinel-log-type '${logType}' is invalid: letters, digits and '_' only, at most 100 characters`);
  }
  return logType;
}

/** The workspace id a `<id>.ods.opinsights.azure.com` URL names, if any. */
export function workspaceFromUrl(url: string): string | null {
  const m = /^([0-9a-f-]{8,})\.ods\.opinsights\.azure\.(com|us|cn)$/i.exec(new URL(url).hostname);
  return m ? m[1]! : null;
}

export function classifySentinelResponse(res: HttpResponse): Verdict {
  // The API documents one success answer, 200, and sends it with an empty body. A body on a 200 is not its
  // answer, JSON included: `{"Error":"InvalidDataFormat"}` from something in between would say nothing is stored.
  if (res.status >= 200 && res.status < 300) {
    if (res.status === 200 && res.body.trim() === '') return { kind: 'delivered' };
    return protocolError('Sentinel Data Collector API', res, 'HTTP 200 with an empty body');
  }
  if (res.status === 400) {
    const said = `Sentinel Data Collector API answered HTTP 400: ${excerpt(res.body)}`;
    // Only a data-format error is about the records; the other 400s (log type, workspace, API version) are configuration.
    return /InvalidDataFormat/i.test(res.body) ? { kind: 'rejected', status: 400, reason: said } : { kind: 'stop', reason: said };
  }
  if (res.status === 403) {
    return { kind: 'stop', reason: `Sentinel Data Collector API refused the signature (HTTP 403): check the workspace id and shared key` };
  }
  return statusVerdict(res, 'Sentinel Data Collector API', { credential: 'OVERSIGHT_SENTINEL_SHARED_KEY or --sentinel-shared-key-file', permission: 'the workspace primary or secondary key' });
}

export interface SentinelDcaConfig {
  url: string;
  workspaceId: string;
  sharedKey: string;
  logType: string;
  headers: Record<string, string>;
  client: HttpClient;
  compress?: Compression | null;
}

/**
 * Not offered: Microsoft documents no Content-Encoding for the Data Collector API (retired 14 Sep 2026), its
 * signature covers the Content-Length, and no common client (Fluent Bit's `azure` output included) compresses.
 * The Logs Ingestion API is the compressed way into the same workspace.
 */
export const DCA_COMPRESSION = {
  default: 'none', gzip: false, why: 'the Data Collector API documents no compressed bodies; azure-logs-ingestion takes gzip',
} as const;

export class SentinelDcaTransport implements Transport {
  readonly name = sentinelDcaTransport.name;
  readonly encoder = jsonArrayEncoder;
  readonly defaults = sentinelDcaTransport.batch;
  readonly hardMaxBytes = sentinelDcaTransport.batch.hardMaxBytes;

  constructor(private readonly config: SentinelDcaConfig) {
    refuseOwnHeaders(config.headers, 'sentinel-dca', ['Content-Type', 'Authorization', 'Log-Type', 'x-ms-date', 'time-generated-field']);
    chooseCompression(config.compress, 'sentinel-dca', DCA_COMPRESSION);
  }

  async send(_entries: readonly Entry[], body: Buffer): Promise<Verdict> {
    const buf = body;
    const date = rfc1123();
    const headers = {
      ...this.config.headers,
      'content-type': 'application/json',
      'log-type': this.config.logType,
      'x-ms-date': date,
      'time-generated-field': 'TimeGenerated',
      authorization: sentinelAuthorization({
        workspaceId: this.config.workspaceId,
        sharedKeyB64: this.config.sharedKey,
        contentLength: buf.length,
        dateRfc1123: date,
      }),
    };
    try {
      return classifySentinelResponse(await this.config.client.post(this.config.url, headers, buf));
    } catch (err) {
      if (err instanceof NetworkError) return networkVerdict(err);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.config.client.close();
  }
}

const WORKSPACE = option({ flags: '--sentinel-workspace-id <id>', description: 'Sentinel Data Collector API: workspace id (default: from the URL)' });
const KEY_FILE = option({
  flags: '--sentinel-shared-key-file <file>',
  description: 'Sentinel Data Collector API: file holding the shared key (or OVERSIGHT_SENTINEL_SHARED_KEY)',
  secret: true,
});
const LOG_TYPE = option({ flags: '--sentinel-log-type <name>', description: 'Sentinel Data Collector API: custom log type (table <name>_CL)', default: 'Oversight' });

export const sentinelDcaTransport: TransportDescription = {
  name: 'sentinel-dca',
  summary: 'Microsoft Sentinel through the Log Analytics Data Collector API',
  schemes: ['http', 'https'],
  detect: (u) => /\.ods\.opinsights\.azure\.(com|us|cn)$/i.test(u.hostname) && u.pathname.replace(/\/+$/, '') === '/api/logs',
  format: 'sentinel',
  batch: BATCH,
  credentials: 'the shared key goes in OVERSIGHT_SENTINEL_SHARED_KEY or --sentinel-shared-key-file',
  env: [{ name: 'OVERSIGHT_SENTINEL_SHARED_KEY', description: 'the workspace shared key (or --sentinel-shared-key-file)', secret: true }],
  compression: DCA_COMPRESSION,
  flags: [
    WORKSPACE,
    KEY_FILE,
    LOG_TYPE,
  ],
  create: (ctx) => {
    const workspaceId = WORKSPACE.read(ctx.flags) ?? workspaceFromUrl(ctx.output);
    if (!workspaceId) {
      throw new ConfigurationError('Sentinel Data Collector API needs --sentinel-workspace-id (the URL does not name one)');
    }
    const keyFile = KEY_FILE.read(ctx.flags);
    const key = keyFile ? readSecretFile(keyFile, '--sentinel-shared-key-file', ctx.env) : secretFromEnv(ctx.env, 'OVERSIGHT_SENTINEL_SHARED_KEY');
    if (!key) {
      throw new ConfigurationError(
        'Sentinel Data Collector API needs the workspace shared key: set OVERSIGHT_SENTINEL_SHARED_KEY or pass --sentinel-shared-key-file',
      );
    }
    registerSecret(key);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || Buffer.from(key, 'base64').length < 16) {
      throw new ConfigurationError('the Sentinel shared key is not base64 (copy the primary key of the workspace agents page)');
    }
    return new SentinelDcaTransport({
      url: ctx.output, workspaceId, sharedKey: key, logType: checkLogType(LOG_TYPE.read(ctx.flags)!),
      headers: ctx.headers, client: new HttpClient(ctx.http), compress: ctx.compress,
    });
  },
};
