/**
 * Azure Monitor Logs Ingestion API (the Data Collector API's replacement): a JSON array per request to a DCR
 * stream, a bearer token from Entra ID client credentials, every body at most 1 MiB.
 */
import { randomUUID } from 'node:crypto';
import { ClientCredential, TokenError } from './azure-auth.js';
import { secretFromEnv } from '../../shared/secrets.js';
import { chooseCompression, wireBody, type Compression } from '../compress.js';
import { jsonArrayEncoder, type Entry } from '../../pipeline/encoder.js';
import { ConfigurationError, registerSecret } from '../../shared/errors.js';
import { option } from '../../shared/options.js';
import { HttpClient, NetworkError, type HttpResponse } from './client.js';
import { excerpt, refuseOwnHeaders, networkVerdict, protocolError, statusVerdict, type CheckLine, type Transport, type Verdict } from '../transport.js';
import type { TransportDescription } from '../describe.js';

/** The API's hard limit per call. */
export const LOGS_INGESTION_MAX_BYTES = 1024 * 1024;
/** Under 1,000,000 bytes like Microsoft's own client, leaving room below the 1 MiB limit. */
const BATCH = { maxEvents: 10_000, maxBytes: 1_000_000, hardMaxBytes: LOGS_INGESTION_MAX_BYTES };

export function classifyLogsIngestionResponse(res: HttpResponse): Verdict {
  // The API answers an accepted upload with 204 No Content; any other 2xx came from something that is not it.
  if (res.status === 204) return { kind: 'delivered' };
  if (res.status >= 200 && res.status < 300) return protocolError('Logs Ingestion API', res, 'HTTP 204 No Content');
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
  return statusVerdict(res, 'Logs Ingestion API', {
    credential: 'AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET',
    permission: 'the Monitoring Metrics Publisher role on the data collection rule',
  });
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
  readonly name = logsIngestionTransport.name;
  readonly encoder = jsonArrayEncoder;
  readonly defaults = logsIngestionTransport.batch;
  readonly hardMaxBytes = logsIngestionTransport.batch.hardMaxBytes;
  private readonly url: string;
  private refusedTokens = 0;
  readonly compression: Compression;

  constructor(private readonly config: LogsIngestionConfig) {
    refuseOwnHeaders(config.headers, 'azure-logs-ingestion', ['Content-Type', 'Authorization']);
    this.compression = chooseCompression(config.compress, 'azure-logs-ingestion', LOGS_INGESTION_COMPRESSION);
    const u = new URL(config.url);
    if (!u.searchParams.has('api-version')) u.searchParams.set('api-version', '2023-01-01');
    this.url = u.toString();
  }

  /**
   * A token for the app registration, then an empty batch (`[]`, no event) to the stream: the service answers
   * 204 when the DCR, the stream and the role assignment are right, 404 for a DCR or stream that is not there,
   * 403 without Monitoring Metrics Publisher on the DCR.
   */
  async check(): Promise<CheckLine[]> {
    let token: string;
    try {
      token = await this.config.credential.getToken();
    } catch (err) {
      if (err instanceof TokenError) return [{ what: 'Entra token', ok: false, detail: err.message }];
      throw err;
    }
    const out: CheckLine[] = [{ what: 'Entra token', ok: true, detail: 'issued for the app registration' }];
    const headers = { ...this.config.headers, authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const res = await this.config.client.post(this.url, headers, '[]');
    const detail: Record<number, string> = {
      401: 'the token was refused (HTTP 401): check AZURE_TENANT_ID and --azure-scope',
      403: 'not allowed (HTTP 403): give the app registration Monitoring Metrics Publisher on the DCR',
      404: 'no such DCR or stream (HTTP 404): check the immutable id and the stream name in --output',
    };
    out.push(res.status >= 200 && res.status < 300
      ? { what: 'DCR stream', ok: true, detail: 'accepts records' }
      : { what: 'DCR stream', ok: false, detail: detail[res.status] ?? `HTTP ${res.status}: ${excerpt(res.body, 120)}` });
    return out;
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

/** A required setting from the environment; secrets may also come from a file named by `<name>_FILE`. */
function requireEnv(env: NodeJS.ProcessEnv, name: string, why: string): string {
  const v = secretFromEnv(env, name);
  if (!v) throw new ConfigurationError(`${why} needs ${name} in the environment`);
  return v;
}

const SCOPE = option({ flags: '--azure-scope <scope>', description: 'Azure Logs Ingestion API: token scope', default: 'https://monitor.azure.com//.default' });

export const logsIngestionTransport: TransportDescription = {
  name: 'azure-logs-ingestion',
  summary: 'Azure Monitor Logs Ingestion API (a DCR stream)',
  schemes: ['http', 'https'],
  detect: (u) => /\/dataCollectionRules\/[^/]+\/streams\/[^/]+$/i.test(u.pathname.replace(/\/+$/, '')),
  format: 'sentinel',
  batch: BATCH,
  credentials: 'the app registration goes in AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_SECRET_FILE)',
  env: [
    { name: 'AZURE_TENANT_ID', description: 'Entra tenant of the app registration' },
    { name: 'AZURE_CLIENT_ID', description: 'application (client) id with Monitoring Metrics Publisher on the DCR' },
    { name: 'AZURE_CLIENT_SECRET', description: 'its client secret', secret: true },
    { name: 'AZURE_AUTHORITY_HOST', description: 'sovereign clouds only: the Entra authority (default login.microsoftonline.com)' },
  ],
  compression: LOGS_INGESTION_COMPRESSION,
  flags: [SCOPE],
  create: (ctx) => {
    const missing = ['AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET'].filter((n) => !secretFromEnv(ctx.env, n));
    if (missing.length > 0) {
      throw new ConfigurationError(
        `the Azure Logs Ingestion API needs ${missing.join(', ')} in the environment (the app registration with Monitoring Metrics Publisher on the DCR; each may also be NAME_FILE)`,
      );
    }
    const why = 'the Azure Logs Ingestion API';
    const clientSecret = requireEnv(ctx.env, 'AZURE_CLIENT_SECRET', why);
    registerSecret(clientSecret);
    const client = new HttpClient(ctx.http);
    const credential = new ClientCredential(
      {
        tenantId: requireEnv(ctx.env, 'AZURE_TENANT_ID', why),
        clientId: requireEnv(ctx.env, 'AZURE_CLIENT_ID', why),
        clientSecret,
        authorityHost: ctx.env['AZURE_AUTHORITY_HOST']?.trim() || 'https://login.microsoftonline.com',
        scope: SCOPE.read(ctx.flags)!,
      },
      client,
    );
    return new LogsIngestionTransport({ url: ctx.output, credential, headers: ctx.headers, client, compress: ctx.compress });
  },
};
