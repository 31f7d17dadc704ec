/** Which transport an --output gets, which record format it needs, and building it from settings. */
import { ClientCredential } from '../azure-auth.js';
import type { Compression } from '../compress.js';
import { readSecretFile, secretFromEnv } from '../cli-env.js';
import { ConfigurationError, registerSecret } from '../errors.js';
import type { FormatName } from '../formatters/index.js';
import { HttpClient, type HttpOptions } from '../http-client.js';
import { findHeader, type Transport } from '../transport.js';
import { checkIndexName, dataStreamName, ElasticsearchTransport } from './elasticsearch.js';
import { HttpJsonTransport } from './http.js';
import { LogsIngestionTransport } from './azure-logs-ingestion.js';
import { FileTransport, StdoutTransport } from './local.js';
import { checkLogType, SentinelDcaTransport, workspaceFromUrl } from './sentinel-dca.js';
import { SplunkHecTransport } from './splunk-hec.js';

export const TRANSPORT_NAMES = ['auto', 'http', 'splunk-hec', 'elasticsearch', 'sentinel-dca', 'azure-logs-ingestion'] as const;
export type TransportName = Exclude<(typeof TRANSPORT_NAMES)[number], 'auto'> | 'stdout' | 'file';

/** The record format a transport can carry, where it needs a particular one. */
export const REQUIRED_FORMAT: Partial<Record<TransportName, FormatName>> = {
  'splunk-hec': 'splunk',
  elasticsearch: 'ecs',
  'sentinel-dca': 'sentinel',
  'azure-logs-ingestion': 'sentinel',
};

export function isUrl(output: string): boolean {
  return /^https?:\/\//i.test(output);
}

/** `auto` reads the URL: HEC path, `_bulk`, the Data Collector host, a DCR stream path, or a generic POST. */
export function detectTransport(url: string): Exclude<TransportName, 'stdout' | 'file'> {
  const u = new URL(url);
  const path = u.pathname.replace(/\/+$/, '');
  if (/\/services\/collector(\/event)?(\/1\.0)?$/.test(path)) return 'splunk-hec';
  if (/(^|\/)_bulk$/.test(path)) return 'elasticsearch';
  if (/\.ods\.opinsights\.azure\.(com|us|cn)$/i.test(u.hostname) && path === '/api/logs') return 'sentinel-dca';
  if (/\/dataCollectionRules\/[^/]+\/streams\/[^/]+$/i.test(path)) return 'azure-logs-ingestion';
  return 'http';
}

export function resolveTransport(output: string, requested: string): TransportName {
  if (!isUrl(output)) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(output)) {
      throw new ConfigurationError(`--output ${output}: only http:// and https:// URLs are supported`);
    }
    if (requested !== 'auto') throw new ConfigurationError(`--transport ${requested} needs an http(s):// URL as --output`);
    return output === '-' ? 'stdout' : 'file';
  }
  try {
    new URL(output);
  } catch {
    throw new ConfigurationError(`--output ${output} is not a valid URL`);
  }
  if (output.toLowerCase().includes('/services/collector/raw')) {
    throw new ConfigurationError('--output points at HEC /services/collector/raw; use /services/collector/event');
  }
  return requested === 'auto' ? detectTransport(output) : (requested as TransportName);
}

export interface TransportSettings {
  output: string;
  transport: TransportName;
  headers: Record<string, string>;
  http: HttpOptions;
  splunkAck: { pollIntervalMs: number; timeoutMs: number } | null;
  esNamespace: string;
  esIndex?: string | null;
  sentinelWorkspaceId?: string | null;
  sentinelSharedKeyFile?: string | null;
  sentinelLogType: string;
  azureScope: string;
  /** Request body compression; null for the transport's own default. */
  compress?: Compression | null;
  env: NodeJS.ProcessEnv;
  log?: (message: string) => void;
}

/** A required setting from the environment; secrets may also come from a file named by `<name>_FILE`. */
function requireEnv(env: NodeJS.ProcessEnv, name: string, why: string): string {
  const v = secretFromEnv(env, name);
  if (!v) throw new ConfigurationError(`${why} needs ${name} in the environment`);
  return v;
}

/** `--compress` means HTTP bodies; a file or stdout gets JSON lines as they are. */
function checkLocal(s: TransportSettings): void {
  if (s.compress) throw new ConfigurationError(`--compress applies to http(s):// outputs, not to ${s.transport === 'stdout' ? 'stdout' : 'a file'}`);
}

export function createTransport(s: TransportSettings): Transport {
  switch (s.transport) {
    case 'stdout':
      checkLocal(s);
      return new StdoutTransport();
    case 'file':
      checkLocal(s);
      return new FileTransport(s.output, s.log);
    case 'http':
      return new HttpJsonTransport(s.output, s.headers, new HttpClient(s.http), s.compress);
    case 'splunk-hec': {
      const headers = { ...s.headers };
      if (!findHeader(headers, 'authorization')) {
        const token = secretFromEnv(s.env, 'OVERSIGHT_SPLUNK_HEC_TOKEN');
        if (!token) {
          throw new ConfigurationError(
            "Splunk HEC needs a token: set OVERSIGHT_SPLUNK_HEC_TOKEN (or OVERSIGHT_SPLUNK_HEC_TOKEN_FILE) or pass --header 'Authorization: Splunk <token>'",
          );
        }
        registerSecret(token);
        headers['authorization'] = /^Splunk\s/i.test(token) ? token : `Splunk ${token}`;
      }
      return new SplunkHecTransport({ url: s.output, headers, client: new HttpClient(s.http), ack: s.splunkAck, compress: s.compress ?? null });
    }
    case 'elasticsearch': {
      const index = s.esIndex ? checkIndexName(s.esIndex) : dataStreamName(s.esNamespace);
      return new ElasticsearchTransport({ url: s.output, index, headers: s.headers, client: new HttpClient(s.http), compress: s.compress ?? null });
    }
    case 'sentinel-dca': {
      const workspaceId = s.sentinelWorkspaceId ?? workspaceFromUrl(s.output);
      if (!workspaceId) {
        throw new ConfigurationError('Sentinel Data Collector API needs --sentinel-workspace-id (the URL does not name one)');
      }
      const key = s.sentinelSharedKeyFile
        ? readSecretFile(s.sentinelSharedKeyFile, '--sentinel-shared-key-file')
        : secretFromEnv(s.env, 'OVERSIGHT_SENTINEL_SHARED_KEY');
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
        url: s.output, workspaceId, sharedKey: key, logType: checkLogType(s.sentinelLogType),
        headers: s.headers, client: new HttpClient(s.http), compress: s.compress ?? null,
      });
    }
    case 'azure-logs-ingestion': {
      const why = 'the Azure Logs Ingestion API';
      const clientSecret = requireEnv(s.env, 'AZURE_CLIENT_SECRET', why);
      registerSecret(clientSecret);
      const client = new HttpClient(s.http);
      const credential = new ClientCredential(
        {
          tenantId: requireEnv(s.env, 'AZURE_TENANT_ID', why),
          clientId: requireEnv(s.env, 'AZURE_CLIENT_ID', why),
          clientSecret,
          authorityHost: s.env['AZURE_AUTHORITY_HOST']?.trim() || 'https://login.microsoftonline.com',
          scope: s.azureScope,
        },
        client,
      );
      return new LogsIngestionTransport({ url: s.output, credential, headers: s.headers, client, compress: s.compress ?? null });
    }
  }
}
