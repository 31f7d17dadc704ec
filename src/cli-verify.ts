/**
 * `oversight siem verify`: flags in, a typed `runVerify` call, one summary out, exit code from the verdict.
 * The destination is the export's own `--output` (and format flags); the query side adds only what the
 * delivery URL cannot say (Splunk's management port, the Log Analytics workspace).
 */
import { Command, Option } from 'commander';
import { createRequire } from 'node:module';
import { ClientCredential } from './azure-auth.js';
import { headerLines, secretFromEnv, readSecretFile } from './cli-env.js';
import { COMPRESSIONS, type Compression } from './compress.js';
import { DeadLetterFile } from './dead-letter.js';
import { ConfigurationError, ExportError, registerSecret } from './errors.js';
import { elasticAuthHeaders } from './es-auth.js';
import { parseCount, parseDuration, textFlag, withDefaults, type FlagSpec, type FlagValues } from './flags.js';
import { FORMAT_NAMES, FORMATS, overEvents, type FormatDescription, type FormatSettings } from './formatters/index.js';
import { HttpClient, type HttpOptions } from './http-client.js';
import { log as logger, LOG_FORMATS, parseLogFormat } from './log.js';
import { RETRY_DEFAULTS } from './retry.js';
import { RegistrySource } from './source.js';
import { parseHeaders } from './transport.js';
import { checkIndexName, dataStreamName } from './transports/elasticsearch.js';
import { chooseFormat, recordFormatter, resolveTransport, transportByName, TRANSPORT_NAMES, TRANSPORTS, type TransportDescription } from './transports/index.js';
import { QueryError, runVerify, type RepairOptions, type VerifyBackend, type VerifyResult } from './verify/index.js';
import { clusterUrl, ElasticsearchVerifier } from './verify/elasticsearch.js';
import { FileVerifier } from './verify/files.js';
import { checkReportPath, manifest, readSignKey, writeReport } from './verify/report.js';
import { SentinelVerifier, tableFromStream } from './verify/sentinel.js';
import { SplunkVerifier } from './verify/splunk.js';

const pkg = createRequire(import.meta.url)('../package.json') as { version: string };
const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Stdout, the syslog family and plain HTTP POST hand records on; there is nothing there to ask. */
const RELAYS = new Set(['syslog', 'relp', 'http', 'stdout']);

export interface VerifyFlags {
  db: string;
  registryId: string;
  output?: string;
  transport?: string;
  format?: string;
  fromRowid?: string;
  toRowid?: string;
  since?: string;
  until?: string;
  settle?: string;
  window?: string;
  repair?: boolean;
  repairWait?: string;
  deadLetter?: string;
  report?: string;
  signKeyFile?: string;
  list?: string;
  splunkSearchUrl?: string;
  splunkSearchTokenFile?: string;
  workspaceId?: string;
  logAnalyticsUrl?: string;
  logAnalyticsTable?: string;
  logAnalyticsScope?: string;
  esSkipFailureStore?: boolean;
  header?: string[];
  headerFile?: string;
  caFile?: string;
  insecure?: boolean;
  timeout?: string;
  retryMaxDuration?: string;
  maxBatchEvents?: string;
  maxBatchBytes?: string;
  compress?: string;
  quiet?: boolean;
  logFormat?: string;
  [flag: string]: unknown;
}

function addFlag(cmd: Command, spec: FlagSpec): void {
  const opt = new Option(spec.flags, spec.description);
  if (cmd.options.some((o) => o.long === opt.long)) return;
  if (spec.choices) opt.choices(spec.choices);
  if (spec.repeatable) opt.argParser(collect).default([]);
  else if (spec.default !== undefined) opt.default(spec.default);
  cmd.addOption(opt);
}

/**
 * The query-side flags: how to ask the SIEM what it holds. `siem verify` has them, and so can a following
 * export that verifies in the background (with `createVerifyBackend`).
 */
export function addVerifyQueryOptions(cmd: Command): Command {
  return cmd
    .option('--settle <duration>', 'events younger than this are "too recent to judge" when not found (default per SIEM: splunk 2m, elasticsearch 30s, log-analytics 5m, file 0)')
    .option('--window <n>', 'registry events per query', '1000')
    .option('--splunk-search-url <url>', 'Splunk: the management port for searches, e.g. https://splunk:8089 (token: OVERSIGHT_SPLUNK_SEARCH_TOKEN)')
    .option('--splunk-search-token-file <file>', 'Splunk: file holding the search authentication token')
    .option('--workspace-id <id>', 'Sentinel: the Log Analytics workspace id (GUID) the DCR writes to')
    .option('--log-analytics-url <url>', 'Sentinel: the Log Analytics query API', 'https://api.loganalytics.azure.com')
    .option('--log-analytics-table <name>', 'Sentinel: the table to read (default: from the stream name, Custom-X → X)')
    .option('--log-analytics-scope <scope>', 'Sentinel: token scope for the query API', 'https://api.loganalytics.io/.default')
    .option('--es-skip-failure-store', 'Elasticsearch: do not search <stream>::failures (no read_failure_store privilege)', false);
}

export function addVerifyCommand(siem: Command): Command {
  const cmd = siem
    .command('verify')
    .description('check that the SIEM holds every registry event exactly once and unchanged; --repair re-sends what is missing')
    .requiredOption('--db <path>', 'registry SQLite database (opened read-only)')
    .requiredOption('--registry-id <id>', "the registry's identifier, as given to export")
    .option('--output <target>', "the export's --output: a HEC, _bulk or DCR stream URL, or a file")
    .addOption(new Option('--transport <name>', 'as for export; auto decides from the URL').choices(TRANSPORT_NAMES).default('auto'))
    .addOption(new Option('--format <fmt>', "the export's record format (files; default: the transport's)").choices(FORMAT_NAMES))
    .option('--from-rowid <n>', 'first registry rowid to check')
    .option('--to-rowid <n>', 'last registry rowid to check (default: the newest)')
    .option('--since <unix_ts>', 'only events whose timestamp is at or after this Unix time')
    .option('--until <unix_ts>', 'only events whose timestamp is at or before this Unix time')
    .option('--repair', 're-send exactly the missing events through the ordinary delivery path, then verify again', false)
    .option('--repair-wait <duration>', 'with --repair: pause before verifying again (default: 2s, 0 for files)')
    .option('--dead-letter <file>', 'with --repair: append records the SIEM refuses to this file and keep going')
    .option('--report <file>', 'write a JSON evidence manifest here (mode 0600)')
    .option('--sign-key-file <file>', 'with --report: HMAC-SHA256 the manifest with this key (at least 32 bytes) into <report>.sig')
    .option('--list <n>', 'event ids shown per kind of problem', '20');
  addVerifyQueryOptions(cmd)
    .option('--header <header>', "extra HTTP header 'Name: value' for delivery (repeatable; values are never printed)", collect, [])
    .option('--header-file <file>', "extra HTTP headers from a file, one 'Name: value' a line")
    .option('--ca-file <pem>', 'trust this CA for the SIEM certificate')
    .option('--insecure', 'do not verify the SIEM certificate (testing only)', false)
    .option('--timeout <duration>', 'timeout of one HTTP request', '60s')
    .option('--retry-max-duration <duration>', 'with --repair: how long one batch may be retried', '5m')
    .option('--max-batch-events <n>', 'with --repair: events per request')
    .option('--max-batch-bytes <n>', 'with --repair: bytes per request')
    .addOption(new Option('--compress <codec>', 'with --repair: request body compression').choices(COMPRESSIONS));
  for (const f of FORMATS) for (const spec of f.flags ?? []) addFlag(cmd, spec);
  for (const t of TRANSPORTS) for (const spec of t.flags ?? []) addFlag(cmd, spec);
  cmd
    .option('--quiet', 'print nothing but errors and the exit code', false)
    .addOption(new Option('--log-format <format>', 'stderr lines as text, or one JSON object per line').choices(LOG_FORMATS).default('text'))
    .action(async (opts: VerifyFlags) => {
      await runVerifyCommand(opts);
    });
  return cmd;
}

interface Destination {
  transportName: string;
  description: TransportDescription;
  format: FormatDescription;
  flags: FlagValues;
  settings: FormatSettings;
  http: HttpOptions;
  headers: Record<string, string>;
}

function destination(f: VerifyFlags): Destination {
  if (!f.output) throw new ConfigurationError('verify needs --output: the same destination the export delivers to');
  const transportName = resolveTransport(f.output, f.transport ?? 'auto');
  if (RELAYS.has(transportName)) {
    const behind = "verify at the SIEM behind it (siem verify --output <that SIEM's HEC, _bulk or DCR URL>), which matches events by event id";
    if (transportName === 'stdout') throw new ConfigurationError(`stdout cannot be read back: give --output the file or SIEM the records went to`);
    if (transportName === 'http') throw new ConfigurationError(`${f.output} is a plain HTTP collector with no query API: ${behind}`);
    throw new ConfigurationError(`${f.output} (${transportName}) is a relay that cannot be asked what it holds: ${behind}`);
  }
  if (transportName === 'sentinel-dca') {
    throw new ConfigurationError('verify reads Log Analytics tables written by the Logs Ingestion API; for the Data Collector API table, query <LogType>_CL by EventId_s in Log Analytics');
  }
  const description = transportByName(transportName);
  const format = chooseFormat(description, f.format ?? null, f.format !== undefined);
  const flags = withDefaults([...(description.flags ?? []), ...(format.flags ?? [])], f as FlagValues);
  const settings: FormatSettings = { ...format.settings?.(flags) };
  if (description.wrapSettings) settings.wrap = { transport: description.name, settings: description.wrapSettings({ output: f.output, flags, format }) };
  const timeoutMs = parseDuration(f.timeout ?? '60s', '--timeout');
  if (timeoutMs < 1) throw new ConfigurationError('--timeout must be more than 0');
  const headers = parseHeaders([...(f.header ?? []), ...headerLines(f.headerFile)]);
  return { transportName, description, format, flags, settings, http: { caFile: f.caFile ?? null, insecure: f.insecure ?? false, timeoutMs }, headers };
}

/** The verify backend for the export's destination and the query-side flags; usage errors as ConfigurationError. */
export function createVerifyBackend(f: VerifyFlags, warn: (m: string) => void = (m) => logger.warn(m)): VerifyBackend {
  return backendFor(f, destination(f), warn);
}

function backendFor(f: VerifyFlags, d: Destination, warn: (m: string) => void): VerifyBackend {
  const env = process.env;
  switch (d.transportName) {
    case 'file':
      return new FileVerifier(f.output!, d.format.name, f.registryId, warn);
    case 'elasticsearch': {
      const esIndex = textFlag(d.flags, 'esIndex');
      const index = esIndex ? checkIndexName(esIndex) : dataStreamName(textFlag(d.flags, 'esNamespace') ?? 'default');
      return new ElasticsearchVerifier({
        baseUrl: clusterUrl(f.output!), index, registryId: f.registryId, headers: elasticAuthHeaders(d.headers, env),
        client: new HttpClient(d.http), failureStore: !f.esSkipFailureStore,
      });
    }
    case 'splunk-hec': {
      if (!f.splunkSearchUrl) {
        throw new ConfigurationError('verifying Splunk needs --splunk-search-url https://HOST:8089: searches go to the management port, and the HEC token cannot search');
      }
      checkUrl(f.splunkSearchUrl, '--splunk-search-url');
      const s = d.settings as { index?: string | null; sourcetype?: string; source?: string; host?: string | null };
      return new SplunkVerifier({
        searchUrl: f.splunkSearchUrl, authorization: splunkSearchAuth(f, env), client: new HttpClient(d.http), registryId: f.registryId,
        index: s.index ?? null, sourcetype: s.sourcetype ?? 'oversight:beacon', source: s.source ?? 'oversight:registry', host: s.host ?? f.registryId,
      });
    }
    case 'azure-logs-ingestion': {
      if (!f.workspaceId) throw new ConfigurationError('verifying Sentinel needs --workspace-id: the Log Analytics workspace id (a GUID, under the workspace Overview)');
      const table = f.logAnalyticsTable ?? tableFromStream(f.output!);
      if (!table) throw new ConfigurationError('the stream name is not Custom-<Table>: name the table with --log-analytics-table');
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new ConfigurationError(`--log-analytics-table '${table}' is not a table name`);
      checkUrl(f.logAnalyticsUrl ?? '', '--log-analytics-url');
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
        scope: f.logAnalyticsScope ?? 'https://api.loganalytics.io/.default',
      }, client);
      return new SentinelVerifier({ apiUrl: f.logAnalyticsUrl!, workspaceId: f.workspaceId, table, registryId: f.registryId, credential, client });
    }
    default:
      throw new ConfigurationError(`verify cannot read back from ${d.transportName}`);
  }
}

function checkUrl(url: string, flag: string): void {
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error();
  } catch {
    throw new ConfigurationError(`${flag} must be an http(s):// URL, not '${url}'`);
  }
}

/** A Bearer token (or a `Splunk <session key>`), else user and password, from the flag's file or the environment. */
function splunkSearchAuth(f: VerifyFlags, env: NodeJS.ProcessEnv): string {
  const token = f.splunkSearchTokenFile ? readSecretFile(f.splunkSearchTokenFile, '--splunk-search-token-file') : secretFromEnv(env, 'OVERSIGHT_SPLUNK_SEARCH_TOKEN');
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

/** The ordinary delivery for --repair: the export's transport, batching, retries and dead letters. */
function repairWith(f: VerifyFlags, d: Destination): RepairOptions {
  const compress = f.compress === undefined ? null : (f.compress as Compression);
  if (compress !== null && !d.description.compression) throw new ConfigurationError('--compress applies to http(s):// outputs: drop --compress');
  const transport = d.description.create({
    output: f.output!, flags: d.flags, headers: d.headers, format: d.format, compress, env: process.env, log: (m) => logger.info(m), http: d.http,
  });
  const maxEvents = parseCount(f.maxBatchEvents, '--max-batch-events', 1);
  const maxBytes = parseCount(f.maxBatchBytes, '--max-batch-bytes', 1);
  const limits = { maxEvents: maxEvents ?? transport.defaults.maxEvents, maxBytes: maxBytes ?? transport.defaults.maxBytes };
  if (limits.maxBytes > transport.hardMaxBytes) throw new ConfigurationError(`--max-batch-bytes ${limits.maxBytes} is over what ${d.transportName} accepts (${transport.hardMaxBytes})`);
  const deadLetter = f.deadLetter ? new DeadLetterFile(f.deadLetter, d.transportName, d.format.name) : null;
  const waitMs = f.repairWait !== undefined ? parseDuration(f.repairWait, '--repair-wait') : d.transportName === 'file' ? 0 : 2000;
  return {
    transport, formatter: recordFormatterFor(d), limits, deadLetter, waitMs,
    retry: { ...RETRY_DEFAULTS, maxDurationMs: parseDuration(f.retryMaxDuration ?? '5m', '--retry-max-duration') },
  };
}

/** The export's record formatter for these settings (the transport's wrapping included). */
function recordFormatterFor(d: Destination): RepairOptions['formatter'] {
  return overEvents(recordFormatter(d.format.name, d.settings));
}

const LABELS: [keyof VerifyResult['counts'], string][] = [
  ['present', 'present once'], ['missing', 'missing'], ['duplicated', 'duplicated'], ['altered', 'altered'],
  ['failure_store', 'in the failure store'], ['too_recent', 'too recent to judge'],
];

export function summaryLines(r: VerifyResult, listMax: number): string[] {
  const span = r.range.first_rowid === null ? 'no events' : `rowids ${r.range.first_rowid}-${r.range.last_rowid}`;
  const c = r.counts;
  const lines = [`verified ${span} of registry ${r.registryId} at ${r.siem} ${r.target}: ${c.expected} expected, ${LABELS.map(([k, l]) => `${c[k]} ${l}`).join(', ')}`];
  if (r.repair) lines.push(`repair: ${r.repair.before.missing} missing before, ${r.repair.resent} re-sent, ${r.repair.dead_lettered} dead-lettered; the counts above are from verifying again`);
  for (const [k, label] of LABELS) {
    if (k === 'present' || c[k] === 0) continue;
    const ids = r.ids[k as keyof VerifyResult['ids']].slice(0, listMax);
    if (ids.length === 0) continue;
    lines.push(`${label} (${c[k]}): ${ids.join(', ')}${c[k] > ids.length ? `, … ${c[k] - ids.length} more (see --report)` : ''}`);
  }
  return lines;
}

export async function runVerifyCommand(f: VerifyFlags): Promise<void> {
  logger.format = parseLogFormat(f.logFormat);
  logger.quiet = f.quiet ?? false;
  if (!f.registryId) throw new ConfigurationError('--registry-id must not be empty');
  const range = {
    fromRowid: parseCount(f.fromRowid, '--from-rowid', 1), toRowid: parseCount(f.toRowid, '--to-rowid', 1),
    since: parseCount(f.since, '--since'), until: parseCount(f.until, '--until'),
  };
  if (range.fromRowid !== null && range.toRowid !== null && range.fromRowid > range.toRowid) throw new ConfigurationError('--from-rowid is after --to-rowid');
  const settleMs = f.settle === undefined ? undefined : parseDuration(f.settle, '--settle');
  const windowSize = parseCount(f.window ?? '1000', '--window', 1)!;
  if (windowSize > 10_000) throw new ConfigurationError('--window must be at most 10000 events per query');
  const listMax = parseCount(f.list ?? '20', '--list')!;
  if (f.signKeyFile && !f.report) throw new ConfigurationError('--sign-key-file signs the --report manifest: add --report FILE');
  if (f.report) checkReportPath(f.report);
  const key = f.signKeyFile ? readSignKey(f.signKeyFile) : null;
  const d = destination(f);
  const backend = backendFor(f, d, (m) => logger.warn(m));
  const source = RegistrySource.open(f.db);
  let repair: RepairOptions | null = null;
  try {
    repair = f.repair ? repairWith(f, d) : null;
  } catch (err) {
    source.close();
    throw err;
  }
  let result: VerifyResult;
  try {
    result = await runVerify({
      source, registryId: f.registryId, backend, range, windowSize, repair,
      ...(settleMs !== undefined ? { settleMs } : {}), log: (m, fields) => logger.info(m, fields),
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
  if (f.report) writeReport(f.report, manifest(result, pkg.version), key);
  process.exitCode = result.ok ? 0 : 1;
}

