/**
 * The commands behind the CLI: check every flag, build the stages (source, formatter, transport, checkpoint,
 * dead letters), run the pipeline and print one summary line. No stage logic lives here.
 */
import type { SingleBar } from 'cli-progress';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Checkpoint, checkResume } from './checkpoint.js';
import { headerLines } from './cli-env.js';
import { DeadLetterFile, readDeadLetters } from './dead-letter.js';
import { DEMO_REGISTRY_ID, writeDemoRegistry } from './demo.js';
import { COMPRESSIONS, type Compression } from './compress.js';
import { ConfigurationError } from './errors.js';
import type { Entry } from './encoder.js';
import { parseCount, parseDuration, withDefaults, type FlagValues } from './flags.js';
import { formatByName, isFormatName, type FormatDescription, type FormatSettings } from './formatters/index.js';
import { log as logger, parseLogFormat, type LogFields } from './log.js';
import { ExportMetrics } from './metrics.js';
import { MetricsServer } from './metrics-server.js';
import { runPipeline, type PipelineResult, type PreparedRecord } from './pipeline.js';
import { parsePrivacy, privateFormatter } from './pseudonymize.js';
import { RETRY_DEFAULTS } from './retry.js';
import { Shutdown, signalExitCode, unsentMessage, type Unsent } from './signals.js';
import { RegistrySource } from './source.js';
import { parseHeaders, type Transport } from './transport.js';
import { chooseFormat, recordFormatter, resolveTransport, transportByName, type TransportDescription } from './transports/index.js';

export { parseCount, parseDuration } from './flags.js';

/**
 * Flags as commander hands them over (strings until checked). Besides these, every flag a format or transport
 * declares arrives under its attribute name and is checked by its description.
 */
export interface DeliveryFlags {
  output?: string;
  transport?: string;
  header?: string[];
  batchSize?: string;
  maxBatchEvents?: string;
  maxBatchBytes?: string;
  retryMaxDuration?: string;
  timeout?: string;
  compress?: string;
  headerFile?: string;
  deadLetter?: string;
  caFile?: string;
  insecure?: boolean;
  quiet?: boolean;
  logFormat?: string;
  [flag: string]: unknown;
}

export interface ExportFlags extends DeliveryFlags {
  db: string;
  format?: string;
  registryId: string;
  since?: string;
  limit?: string;
  state?: string;
  follow?: boolean;
  pollInterval?: string;
  flushInterval?: string;
  threads?: string;
  pseudonymize?: string;
  pseudonymKeyFile?: string;
  ipPrefix?: string;
  shutdownTimeout?: string;
  metricsListen?: string;
  healthStall?: string;
}

function log(quiet: boolean | undefined): (message: string, fields?: LogFields) => void {
  logger.quiet = quiet ?? false;
  return (message, fields) => logger.info(message, fields);
}

interface Delivery {
  transportName: string;
  description: TransportDescription;
  transport: Transport;
  limits: { maxEvents: number; maxBytes: number };
  retry: typeof RETRY_DEFAULTS;
  format: FormatDescription;
  /** What the transport adds to every record in the formatter stage, if anything. */
  wrap: FormatSettings['wrap'];
}

/** Everything about where records go, checked before the registry is read or the output touched. */
function prepareDelivery(f: DeliveryFlags, format: string | null, formatFlagGiven: boolean): Delivery {
  const say = log(f.quiet);
  const output = f.output ?? '-';
  const transportName = resolveTransport(output, f.transport ?? 'auto');
  const description = transportByName(transportName);
  const fmt = chooseFormat(description, format, formatFlagGiven);
  const maxEvents = parseCount(f.batchSize, '--batch-size', 1) ?? parseCount(f.maxBatchEvents, '--max-batch-events', 1);
  const maxBytes = parseCount(f.maxBatchBytes, '--max-batch-bytes', 1);
  const retry = { ...RETRY_DEFAULTS, maxDurationMs: parseDuration(f.retryMaxDuration ?? '5m', '--retry-max-duration') };
  const timeoutMs = parseDuration(f.timeout ?? '30s', '--timeout');
  if (timeoutMs < 1) throw new ConfigurationError('--timeout must be more than 0');
  const headers = parseHeaders([...(f.header ?? []), ...headerLines(f.headerFile)]);
  const compress = checkCompress(f.compress, description);
  const flags = withDefaults(description.flags ?? [], f as FlagValues);
  const wrap = description.wrapSettings
    ? { transport: description.name, settings: description.wrapSettings({ output, flags, format: fmt }) }
    : undefined;
  const transport = description.create({
    output, flags, headers, format: fmt, compress, env: process.env, log: say,
    http: { caFile: f.caFile ?? null, insecure: f.insecure ?? false, timeoutMs },
  });
  const limits = {
    maxEvents: maxEvents ?? transport.defaults.maxEvents,
    maxBytes: maxBytes ?? transport.defaults.maxBytes,
  };
  if (limits.maxBytes > transport.hardMaxBytes) {
    throw new ConfigurationError(`--max-batch-bytes ${limits.maxBytes} is over what ${transportName} accepts (${transport.hardMaxBytes})`);
  }
  return { transportName, description, transport, limits, retry, format: fmt, wrap };
}

/** `--compress` means HTTP request bodies: refused for outputs that have none (stdout, files, syslog). */
function checkCompress(value: string | undefined, t: TransportDescription): Compression | null {
  if (value === undefined) return null;
  if (!(COMPRESSIONS as readonly string[]).includes(value)) {
    throw new ConfigurationError(`--compress must be one of ${COMPRESSIONS.join(', ')}, not '${value}'`);
  }
  if (!t.compression) throw new ConfigurationError(`--compress applies to http(s):// outputs, not to ${t.local ?? `${t.name} outputs`}: drop --compress`);
  return value as Compression;
}

/** Dead letters are JSON lines: a text record (CEF, LEEF) goes in as a JSON string, so the file stays readable. */
function openDeadLetters(file: string, d: Delivery): DeadLetterFile {
  if (d.format.records === 'json' && !d.wrap) return new DeadLetterFile(file, d.transportName, d.format.name);
  return new (class extends DeadLetterFile {
    override write(entry: Entry, status: number, error: string): void {
      super.write({ ...entry, record: JSON.stringify(entry.record.toString()) }, status, error);
    }
  })(file, d.transportName, d.format.name);
}

function summary(r: PipelineResult, fmt: string, d: Delivery, deadLetter: DeadLetterFile | null): string {
  const via = d.description.local ? '' : ` via ${d.transportName}`;
  const extras: string[] = [];
  if (r.deadLettered) extras.push(`${r.deadLettered} dead-lettered to ${deadLetter?.file}`);
  if (r.duplicates) extras.push(`${r.duplicates} already present`);
  if (r.retries) extras.push(`${r.retries} retried request(s)`);
  return `exported ${r.exported} event(s) as ${fmt}${via}${extras.length ? ` (${extras.join(', ')})` : ''}`;
}

export async function runExport(f: ExportFlags): Promise<void> {
  logger.format = parseLogFormat(f.logFormat);
  const say = log(f.quiet);
  const since = parseCount(f.since, '--since');
  const limit = parseCount(f.limit, '--limit');
  const pollIntervalMs = parseDuration(f.pollInterval ?? '250ms', '--poll-interval');
  const flushIntervalMs = parseDuration(f.flushInterval ?? '500ms', '--flush-interval');
  const threads = f.threads === undefined || f.threads === 'auto' ? null : parseCount(f.threads, "--threads (a number or 'auto')", 1);
  const shutdownTimeoutMs = parseDuration(f.shutdownTimeout ?? '10s', '--shutdown-timeout');
  const healthStallMs = parseDuration(f.healthStall ?? '5m', '--health-stall');
  if (f.format !== undefined) formatByName(f.format);
  if (!f.registryId) throw new ConfigurationError('--registry-id must not be empty');
  const privacy = parsePrivacy(f);

  const source = RegistrySource.open(f.db, { maxRowBytes: f['maxRowBytes'] });
  let transport: Transport | null = null;
  let deadLetter: DeadLetterFile | null = null;
  let server: MetricsServer | null = null;
  const metrics = new ExportMetrics({ processMetrics: f.metricsListen !== undefined });
  metrics.watchBacklog((after) => {
    const p = source.pending(after, since);
    return { newestRowid: source.maxRowid(), events: p.count, oldestTimestamp: p.oldestTimestamp };
  });
  // Follow mode ends by a stop, so a stop is success there; a one-shot export cut short says so in its exit code.
  const exitFor = (sig: NodeJS.Signals, u: Unsent | null): number => (f.follow || !u || u.count === 0 ? 0 : signalExitCode(sig));
  const unsent = (): Unsent | null => {
    try {
      return source.pending(metrics.checkpointRowid, since);
    } catch {
      return null;
    }
  };
  const reportUnsent = (u: Unsent | null): void =>
    logger.warn(unsentMessage(u, f.state ?? null), u && u.count > 0 ? { unsent: u.count, first_rowid: u.first, last_rowid: u.last } : {});
  const signals = new Shutdown({
    timeoutMs: shutdownTimeoutMs,
    leave: (sig, why) => {
      logger.warn(why, { signal: sig });
      const u = unsent();
      reportUnsent(u);
      return exitFor(sig, u);
    },
  });
  try {
    if (f.metricsListen !== undefined) {
      server = await MetricsServer.start(f.metricsListen, metrics, healthStallMs);
      say(`serving metrics at ${server.url}/metrics and health at ${server.url}/healthz`, { metrics_url: `${server.url}/metrics` });
    }
    const d = prepareDelivery(f, f.format ?? null, f.format !== undefined);
    transport = d.transport;
    const checkpoint = f.state ? Checkpoint.open(f.state, { registryId: f.registryId, database: f.db }) : null;
    if (checkpoint) checkResume(checkpoint, source);
    deadLetter = f.deadLetter ? openDeadLetters(f.deadLetter, d) : null;
    const settings: FormatSettings = { ...d.format.settings?.(withDefaults(d.format.flags ?? [], f as FlagValues)) };
    if (d.wrap) settings.wrap = d.wrap;
    const formatter = privateFormatter(recordFormatter(d.format.name, settings), privacy);
    const bar = await progressBar(f, () => Math.min(source.count(checkpoint?.lastRowid ?? 0, since), limit ?? Infinity));
    let result: PipelineResult;
    try {
      result = await runPipeline({
        source, registryId: f.registryId, formatter, transport: d.transport, limits: d.limits, retry: d.retry,
        since, limit, follow: f.follow ?? false, pollIntervalMs, flushIntervalMs,
        checkpoint, deadLetter, stop: signals.signal, log: say, metrics,
        // The settings travel as `splunk`, the pipeline's name for them: plain data the threads rebuild the formatter from.
        parallel: threads === 1 ? null : { db: f.db, format: d.format.name, splunk: settings, threads },
        ...(bar ? { onProgress: (n: number) => bar.update(n) } : {}),
      });
    } finally {
      bar?.stop();
    }
    logger.result(summary(result, d.format.name, d, deadLetter), {
      exported: result.exported, dead_lettered: result.deadLettered, retries: result.retries, last_rowid: result.lastRowid,
    });
    if (result.stopped && signals.received) {
      const u = unsent();
      reportUnsent(u);
      process.exitCode = exitFor(signals.received, u);
    }
  } finally {
    signals.dispose();
    await server?.close();
    deadLetter?.close();
    await transport?.close();
    source.close();
  }
}

/** A progress bar on a terminal, for exports long enough to want one. */
async function progressBar(f: ExportFlags, total: () => number): Promise<SingleBar | null> {
  if (f.quiet || f.follow || !process.stderr.isTTY) return null;
  const n = total();
  if (n < 50_000) return null;
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'exporting [{bar}] {percentage}% | {value}/{total} events | {eta_formatted} left',
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(n, 0);
  return bar;
}

export interface ReplayFlags extends DeliveryFlags {
  deadLetter: string;
  deadLetterOut?: string;
}

export async function runReplay(f: ReplayFlags): Promise<void> {
  logger.format = parseLogFormat(f.logFormat);
  const say = log(f.quiet);
  if (!fs.existsSync(f.deadLetter)) throw new ConfigurationError(`dead-letter file not found: ${f.deadLetter}`);
  if (f.deadLetterOut && path.resolve(f.deadLetterOut) === path.resolve(f.deadLetter)) {
    throw new ConfigurationError('--dead-letter-out must be another file than --dead-letter');
  }
  let format: string | null = null;
  for (const dl of readDeadLetters(f.deadLetter)) {
    if (!isFormatName(dl.format)) throw new ConfigurationError(`${f.deadLetter}, line ${dl.line}: unknown format '${dl.format}'`);
    if (format && dl.format !== format) {
      throw new ConfigurationError(`${f.deadLetter} mixes ${format} and ${dl.format} records: replay each to its own SIEM`);
    }
    format = dl.format;
  }
  if (!format) {
    logger.result(`replayed 0 event(s): ${f.deadLetter} is empty`);
    return;
  }
  const d = prepareDelivery({ ...f, deadLetter: undefined }, format, false);
  const deadLetter = f.deadLetterOut ? openDeadLetters(f.deadLetterOut, d) : null;
  const records = (function* (): Generator<PreparedRecord> {
    for (const dl of readDeadLetters(f.deadLetter)) {
      // Text records (CEF, LEEF, or any record inside a syslog header) were kept as JSON strings; JSON records as themselves.
      const record = typeof dl.record === 'string' ? dl.record : JSON.stringify(dl.record);
      yield { rowid: dl.rowid, event_id: dl.event_id, registry_id: dl.registry_id, record };
    }
  })();
  try {
    const result = await runPipeline({
      source: records, registryId: '', formatter: () => '', transport: d.transport, limits: d.limits, retry: d.retry,
      deadLetter, log: say,
    });
    logger.result(summary(result, format, d, deadLetter).replace(/^exported/, 'replayed'), { replayed: result.exported, dead_lettered: result.deadLettered });
  } finally {
    deadLetter?.close();
    await d.transport.close();
  }
}

export interface DemoFlags {
  db?: string;
  events?: string;
  seed?: string;
  format?: string;
  output?: string;
}

export async function runDemo(f: DemoFlags): Promise<void> {
  const events = parseCount(f.events ?? '300', '--events', 1)!;
  const seed = parseCount(f.seed ?? '2026', '--seed')!;
  if (f.db) {
    const made = writeDemoRegistry(f.db, { events, seed });
    process.stderr.write(
      `wrote demo registry ${f.db}: ${made.events} event(s) from ${made.beacons} beacon(s)\n` +
        `export it with: oversight siem export --db ${f.db} --registry-id ${DEMO_REGISTRY_ID.slice(0, 16)} --format ecs\n`,
    );
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oversight-demo-'));
  const db = path.join(dir, 'registry.sqlite');
  try {
    writeDemoRegistry(db, { events, seed });
    process.stderr.write(`demo registry: ${events} events in a temporary ${db} (oversight demo --db PATH keeps one)\n`);
    await runExport({ db, registryId: DEMO_REGISTRY_ID, format: f.format ?? 'splunk', output: f.output ?? '-' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

