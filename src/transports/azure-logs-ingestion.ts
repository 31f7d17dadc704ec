/**
 * Azure Monitor Logs Ingestion API (the Data Collector API's replacement): a JSON array per request to a DCR
 * stream, a bearer token from Entra ID client credentials, every body at most 1 MiB.
 */
import { randomUUID } from 'node:crypto';
import { ClientCredential, TokenError } from '../azure-auth.js';
import { jsonArrayEncoder, type Entry } from '../encoder.js';
import { ConfigurationError, registerSecret } from '../errors.js';
import { textFlag } from '../flags.js';
import { HttpClient, NetworkError, type HttpResponse } from '../http-client.js';
import { excerpt, networkVerdict, statusVerdict, type Transport, type Verdict } from '../transport.js';
import type { TransportDescription } from './describe.js';

/** The API's hard limit per call. */
export const LOGS_INGESTION_MAX_BYTES = 1024 * 1024;
/** Under 1,000,000 bytes like Microsoft's own client, leaving room below the 1 MiB limit. */
const BATCH = { maxEvents: 10_000, maxBytes: 1_000_000, hardMaxBytes: LOGS_INGESTION_MAX_BYTES };

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
}

export class LogsIngestionTransport implements Transport {
  readonly name = 'azure-logs-ingestion';
  readonly encoder = jsonArrayEncoder;
  readonly defaults = { maxEvents: BATCH.maxEvents, maxBytes: BATCH.maxBytes };
  readonly hardMaxBytes = BATCH.hardMaxBytes;
  private readonly url: string;
  private refusedTokens = 0;

  constructor(private readonly config: LogsIngestionConfig) {
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
    const headers = {
      ...this.config.headers,
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'x-ms-client-request-id': randomUUID(),
    };
    let res: HttpResponse;
    try {
      res = await this.config.client.post(this.url, headers, body);
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

function requireEnv(env: NodeJS.ProcessEnv, name: string, why: string): string {
  const v = env[name]?.trim();
  if (!v) throw new ConfigurationError(`${why} needs ${name} in the environment`);
  return v;
}

export const logsIngestionTransport: TransportDescription = {
  name: 'azure-logs-ingestion',
  summary: 'Azure Monitor Logs Ingestion API (a DCR stream)',
  schemes: ['http', 'https'],
  detect: (u) => /\/dataCollectionRules\/[^/]+\/streams\/[^/]+$/i.test(u.pathname.replace(/\/+$/, '')),
  format: 'sentinel',
  batch: BATCH,
  flags: [{ flags: '--azure-scope <scope>', description: 'Azure Logs Ingestion API: token scope', default: 'https://monitor.azure.com//.default' }],
  create: (ctx) => {
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
        scope: textFlag(ctx.flags, 'azureScope') ?? 'https://monitor.azure.com//.default',
      },
      client,
    );
    return new LogsIngestionTransport({ url: ctx.output, credential, headers: ctx.headers, client });
  },
};
