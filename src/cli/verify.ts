/**
 * `siem verify`: ask the SIEM which registry events it holds, through its own query API, and report what is
 * missing, doubled or altered; `--repair` re-sends exactly the missing ones through the ordinary delivery path.
 * The destination options are the export's (config/delivery.ts); the query-side options are declared here.
 */
import { ClientCredential } from '../transports/http/azure-auth.js';
import { deliveryConfig, type DeliveryConfig } from '../config/delivery.js';
import { privacyPlan } from '../config/export.js';
import { DELIVERY, EXPORT } from '../config/options.js';
import { ConfigurationError, ExportError, registerSecret } from '../shared/errors.js';
import { elasticAuthHeaders } from '../transports/http/es-auth.js';
import { textFlag, withDefaults, type FlagValues } from '../shared/options.js';
import { formatByName, type FormatSettings } from '../records/formats/index.js';
import { HttpClient } from '../transports/http/client.js';
import { log as logger } from '../shared/log.js';
import { eventFormatter } from '../records/spec.js';
import { loadPrivacy, type PrivacySettings } from '../records/pseudonymize.js';
import { DEFAULT_MAX_ROW_BYTES } from '../registry/rows.js';
import { readSecretFile, secretFromEnv } from '../shared/secrets.js';
import { RegistrySource } from '../registry/source.js';
import { checkIndexName, dataStreamName } from '../transports/http/elasticsearch.js';
import { VERSION } from '../shared/version.js';
import { QueryError, runVerify, type RepairOptions, type VerifyBackend, type VerifyResult } from '../verify/index.js';
import { clusterUrl, ElasticsearchVerifier } from '../verify/elasticsearch.js';
import { FileVerifier } from '../verify/files.js';
import { checkReportPath, manifest, readSignKey, writeReport } from '../verify/report.js';
import { SentinelVerifier, tableFromStream } from '../verify/sentinel.js';
import { SplunkVerifier } from '../verify/splunk.js';
import { checkUrl, querySettings, VERIFY, VERIFY_QUERY } from './verify-options.js';
import { openDeadLetters, openTransport } from './wiring.js';

/** Stdout, the syslog family and plain HTTP POST hand records on; there is nothing there to ask. */
const RELAYS = new Set(['syslog', 'relp', 'http', 'stdout', 'otlp']);

interface QueryOptions {
  registryId: string;
  formatSettings: FormatSettings;
  splunkSearchUrl: string | null;
  splunkSearchTokenFile: string | null;
  workspaceId: string | null;
  logAnalyticsUrl: string;
  logAnalyticsTable: string | null;
  logAnalyticsScope: string;
  esSkipFailureStore: boolean;
}

function queryOptions(v: FlagValues): QueryOptions {
  const registryId = EXPORT.registryId.read(v);
  if (!registryId) throw new ConfigurationError("--registry-id is required: the registry's identifier, as given to export");
  const fmt = EXPORT.format.read(v);
  return {
    registryId,
    formatSettings: fmt ? formatByName(fmt).settings?.(withDefaults(formatByName(fmt).flags ?? [], v)) ?? {} : formatSettingsFor(v),
    splunkSearchUrl: VERIFY_QUERY.splunkSearchUrl.read(v),
    splunkSearchTokenFile: VERIFY_QUERY.splunkSearchTokenFile.read(v),
    workspaceId: VERIFY_QUERY.workspaceId.read(v),
    logAnalyticsUrl: VERIFY_QUERY.logAnalyticsUrl.read(v)!,
    logAnalyticsTable: VERIFY_QUERY.logAnalyticsTable.read(v),
    logAnalyticsScope: VERIFY_QUERY.logAnalyticsScope.read(v)!,
    esSkipFailureStore: VERIFY_QUERY.esSkipFailureStore.read(v),
  };
}

/** The settings of the format the destination carries when --format is not given (Splunk's source, index, …). */
function formatSettingsFor(v: FlagValues): FormatSettings {
  const d = destination(v);
  return d.format.settings?.(withDefaults(d.format.flags ?? [], v)) ?? {};
}

/** The export's destination, refused where nothing can be read back. */
function destination(v: FlagValues): DeliveryConfig {
  const output = DELIVERY.output.read(v);
  if (!output || output === '-') {
    throw new ConfigurationError('verify needs --output: the same file or SIEM the export delivers to (stdout cannot be read back)');
  }
  const asked = EXPORT.format.read(v);
  const d = deliveryConfig(v, asked, asked !== null);
  if (RELAYS.has(d.transport.name)) {
    const behind = "verify at the SIEM behind it (siem verify --output <that SIEM's HEC, _bulk or DCR URL>), which matches events by event id";
    if (d.transport.name === 'http') throw new ConfigurationError(`${output} is a plain HTTP collector with no query API: ${behind}`);
    throw new ConfigurationError(`${output} (${d.transport.name}) is a relay that cannot be asked what it holds: ${behind}`);
  }
  if (d.transport.name === 'sentinel-dca') {
    throw new ConfigurationError('verify reads Log Analytics tables written by the Logs Ingestion API; for the Data Collector API table, query <LogType>_CL by EventId_s in Log Analytics');
  }
  return d;
}

/** The verify backend for the export's destination and the query-side flags; usage errors as ConfigurationError. */
export function createVerifyBackend(values: FlagValues, warn: (m: string) => void = (m) => logger.warn(m)): VerifyBackend {
  return backendFor(queryOptions(values), destination(values), warn);
}

function backendFor(f: QueryOptions, d: DeliveryConfig, warn: (m: string) => void): VerifyBackend {
  const env = process.env;
  switch (d.transport.name) {
    case 'file':
      return new FileVerifier(d.output, d.format.name, f.registryId, warn);
    case 'elasticsearch': {
      const esIndex = textFlag(d.transportOptions, 'esIndex');
      const index = esIndex ? checkIndexName(esIndex) : dataStreamName(textFlag(d.transportOptions, 'esNamespace')!);
      return new ElasticsearchVerifier({
        baseUrl: clusterUrl(d.output), index, registryId: f.registryId, headers: elasticAuthHeaders(d.headers, env),
        client: new HttpClient(d.http), failureStore: !f.esSkipFailureStore,
      });
    }
    case 'splunk-hec': {
      if (!f.splunkSearchUrl) {
        throw new ConfigurationError('verifying Splunk needs --splunk-search-url https://HOST:8089: searches go to the management port, and the HEC token cannot search');
      }
      checkUrl(f.splunkSearchUrl, '--splunk-search-url');
      const s = f.formatSettings as { index?: string | null; sourcetype?: string; source?: string; host?: string | null };
      return new SplunkVerifier({
        searchUrl: f.splunkSearchUrl, authorization: splunkSearchAuth(f, env), client: new HttpClient(d.http), registryId: f.registryId,
        index: s.index ?? null, sourcetype: s.sourcetype!, source: s.source!, host: s.host ?? f.registryId, warn,
      });
    }
    case 'azure-logs-ingestion': {
      if (!f.workspaceId) throw new ConfigurationError('verifying Sentinel needs --workspace-id: the Log Analytics workspace id (a GUID, under the workspace Overview)');
      const table = f.logAnalyticsTable ?? tableFromStream(d.output);
      if (!table) throw new ConfigurationError('the stream name is not Custom-<Table>: name the table with --log-analytics-table');
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new ConfigurationError(`--log-analytics-table '${table}' is not a table name`);
      checkUrl(f.logAnalyticsUrl, '--log-analytics-url');
      const client = new HttpClient(d.http);
      const need = (name: string): string => {
        const v = secretFromEnv(env, name);
        if (!v) throw new ConfigurationError(`verifying Sentinel needs ${name} in the environment (the app registration that reads the workspace)`);
        return v;
      };
      const clientSecret = need('AZURE_CLIENT_SECRET');
      registerSecret(clientSecret);
      const credential = new ClientCredential({
        tenantId: need('AZURE_TENANT_ID'), clientId: need('AZURE_CLIENT_ID'), clientSecret,
        authorityHost: env['AZURE_AUTHORITY_HOST']?.trim() || 'https://login.microsoftonline.com',
        scope: f.logAnalyticsScope,
      }, client);
      return new SentinelVerifier({ apiUrl: f.logAnalyticsUrl, workspaceId: f.workspaceId, table, registryId: f.registryId, credential, client });
    }
    default:
      throw new ConfigurationError(`verify cannot read back from ${d.transport.name}`);
  }
}

/** A Bearer token (or a `Splunk <session key>`), else user and password, from the flag's file or the environment. */
function splunkSearchAuth(f: QueryOptions, env: NodeJS.ProcessEnv): string {
  const token = f.splunkSearchTokenFile ? readSecretFile(f.splunkSearchTokenFile, '--splunk-search-token-file', env, true) : secretFromEnv(env, 'OVERSIGHT_SPLUNK_SEARCH_TOKEN', true);
  if (token) {
    registerSecret(token);
    return /^(Bearer|Splunk)\s/i.test(token) ? token : `Bearer ${token}`;
  }
  const user = env['OVERSIGHT_SPLUNK_USERNAME']?.trim();
  const password = secretFromEnv(env, 'OVERSIGHT_SPLUNK_PASSWORD');
  if (user && password) {
    registerSecret(password);
    const basic = Buffer.from(`${user}:${password}`).toString('base64');
    registerSecret(basic);
    return `Basic ${basic}`;
  }
  throw new ConfigurationError('searching Splunk needs OVERSIGHT_SPLUNK_SEARCH_TOKEN (or _FILE, or --splunk-search-token-file), or OVERSIGHT_SPLUNK_USERNAME and OVERSIGHT_SPLUNK_PASSWORD');
}

/**
 * The ordinary delivery for --repair: the export's transport, batching, retries, dead letters and privacy rules,
 * so a re-sent event carries the pseudonyms the export wrote, never the values it hid.
 */
function repairWith(v: FlagValues, d: DeliveryConfig, privacy: PrivacySettings | null): RepairOptions {
  const transport = openTransport(d, (m) => logger.info(m));
  const fmt = formatByName(d.format.name);
  const settings = fmt.settings?.(withDefaults(fmt.flags ?? [], v)) ?? {};
  return {
    transport,
    formatter: eventFormatter({ format: d.format.name, settings, envelope: d.envelope, privacy }),
    limits: d.limits,
    retry: d.retry,
    deadLetter: d.deadLetter ? openDeadLetters(d.deadLetter, d) : null,
    waitMs: VERIFY.repairWait.read(v) ?? (d.transport.name === 'file' ? 0 : 2000),
  };
}

const LABELS: [keyof VerifyResult['counts'], string][] = [
  ['present', 'present once'], ['missing', 'missing'], ['duplicated', 'duplicated'], ['altered', 'altered'],
  ['failure_store', 'in the failure store'], ['too_recent', 'too recent to judge'], ['not_in_registry', 'not in the registry'],
];

export function summaryLines(r: VerifyResult, listMax: number): string[] {
  const span = r.range.first_rowid === null ? 'no events' : `rowids ${r.range.first_rowid}-${r.range.last_rowid}`;
  const c = r.counts;
  const parts = LABELS.map(([k, l]) => `${c[k]} ${l}`);
  const lines = [`verified ${span} of registry ${r.registryId} at ${r.siem} ${r.target}: ${c.expected} expected, ${parts.join(', ')}`];
  if (r.repair) lines.push(`repair: ${r.repair.before.missing} missing before, ${r.repair.resent} re-sent, ${r.repair.dead_lettered} dead-lettered; the counts above are from verifying again`);
  for (const [k, label] of LABELS) {
    const n = c[k];
    if (k === 'present' || !n) continue;
    const ids = r.ids[k as keyof VerifyResult['ids']].slice(0, listMax);
    if (ids.length === 0) continue;
    // Copies not in the registry are counted, their ids listed once each: more ids only when the list was cut.
    const all = r.ids[k as keyof VerifyResult['ids']].length;
    const more = k === 'not_in_registry' ? (all > ids.length ? ', … more (see --report)' : '') : n > ids.length ? `, … ${n - ids.length} more (see --report)` : '';
    lines.push(`${label} (${n}): ${ids.join(', ')}${more}`);
  }
  lines.push(...(r.notes ?? []));
  return lines;
}

export async function runVerifyCommand(v: FlagValues): Promise<number> {
  const q = queryOptions(v);
  const range = {
    fromRowid: VERIFY.fromRowid.read(v), toRowid: VERIFY.toRowid.read(v), since: EXPORT.since.read(v), until: VERIFY.until.read(v),
  };
  if (range.fromRowid !== null && range.toRowid !== null && range.fromRowid > range.toRowid) throw new ConfigurationError('--from-rowid is after --to-rowid');
  // An empty range would verify nothing and still say "0 missing": the same mistake as rowids the wrong way round.
  if (range.since !== null && range.until !== null && range.since > range.until) {
    throw new ConfigurationError(`--since ${range.since} is after --until ${range.until}: no event can be in that range; give --since before --until`);
  }
  const { settleMs, windowSize } = querySettings(v);
  const listMax = VERIFY.list.read(v)!;
  const report = VERIFY.report.read(v);
  const signKeyFile = VERIFY.signKeyFile.read(v);
  if (signKeyFile && !report) throw new ConfigurationError('--sign-key-file signs the --report manifest: add --report FILE');
  const db = EXPORT.db.read(v);
  if (!db) throw new ConfigurationError('--db is required: the registry SQLite file the export reads');
  // The export's row limit and privacy rules: a row it delivered is judged as delivered, a token as it wrote it.
  const maxRowBytes = EXPORT.maxRowBytes.read(v) ?? DEFAULT_MAX_ROW_BYTES;
  const plan = privacyPlan(v);
  const d = destination(v);
  logger.format = d.logFormat;
  logger.quiet = d.quiet;
  if (report) checkReportPath(report);
  const key = signKeyFile ? readSignKey(signKeyFile) : null;
  const privacy = loadPrivacy(plan);
  const backend = backendFor(q, d, (m) => logger.warn(m));
  const source = RegistrySource.open(db, { maxRowBytes });
  let repair: RepairOptions | null = null;
  try {
    repair = VERIFY.repair.read(v) ? repairWith(v, d, privacy) : null;
  } catch (err) {
    source.close();
    throw err;
  }
  let result: VerifyResult;
  try {
    result = await runVerify({
      source, registryId: q.registryId, backend, range, windowSize, repair, privacy,
      ...(settleMs !== null ? { settleMs } : {}), log: (m, fields) => logger.info(m, fields),
    });
  } catch (err) {
    if (err instanceof QueryError) throw new ExportError(err.message);
    throw err;
  } finally {
    repair?.deadLetter?.close();
    await repair?.transport.close();
    source.close();
  }
  for (const line of summaryLines(result, listMax)) logger.result(line, { ...result.counts, ok: result.ok });
  if (report) writeReport(report, manifest(result, VERSION), key);
  return result.ok ? 0 : 1;
}
