/**
 * `siem export`: configuration first (nothing opened yet), then the registry, the state file, the metrics port
 * and the transport, the run, and one summary line. Returns the exit code it decided on; throwing is for failures.
 */
import type { SingleBar } from 'cli-progress';
import { Checkpoint, checkResume } from '../checkpoint.js';
import { exportConfig, type ExportConfig } from '../config/export.js';
import type { DeadLetterFile } from '../dead-letter.js';
import type { FlagValues } from '../flags.js';
import { log as logger } from '../log.js';
import { ExportMetrics } from '../metrics.js';
import { MetricsServer } from '../metrics-server.js';
import { runPipeline, type PipelineResult } from '../pipeline/index.js';
import { Shutdown, signalExitCode, unsentMessage, type Unsent } from '../signals.js';
import { RegistrySource } from '../source.js';
import type { Transport } from '../transport.js';
import { openDeadLetters, openTransport, recordSpec, setUpLog } from './wiring.js';

export interface RunContext {
  /** Leave the process now with this code (a second signal, a stop that outlasted --shutdown-timeout). */
  quit: (code: number) => void;
}

export async function runExport(values: FlagValues, ctx: RunContext): Promise<number> {
  const c = exportConfig(values);
  const say = setUpLog(c);
  const source = RegistrySource.open(c.db);
  let transport: Transport | null = null;
  let deadLetter: DeadLetterFile | null = null;
  let server: MetricsServer | null = null;
  const metrics = new ExportMetrics({ processMetrics: c.metricsListen !== null });
  metrics.watchBacklog((after) => {
    const p = source.pending(after, c.since);
    return { newestRowid: source.maxRowid(), events: p.count, oldestTimestamp: p.oldestTimestamp };
  });
  // Follow mode ends by a stop, so a stop is success there; a one-shot export cut short says so in its exit code.
  const exitFor = (sig: NodeJS.Signals, u: Unsent | null): number => (c.follow || !u || u.count === 0 ? 0 : signalExitCode(sig));
  const unsent = (): Unsent | null => {
    try {
      return source.pending(metrics.checkpointRowid, c.since);
    } catch {
      return null;
    }
  };
  const reportUnsent = (u: Unsent | null): void =>
    logger.info(unsentMessage(u, c.state), u && u.count > 0 ? { unsent: u.count, first_rowid: u.first, last_rowid: u.last } : {});
  const signals = new Shutdown({
    timeoutMs: c.shutdownTimeoutMs,
    leave: (sig, why) => {
      logger.warn(why, { signal: sig });
      const u = unsent();
      reportUnsent(u);
      ctx.quit(exitFor(sig, u));
    },
  });
  let code = 0;
  try {
    transport = openTransport(c, say);
    const checkpoint = c.state ? Checkpoint.open(c.state, { registryId: c.registryId, database: c.db }) : null;
    if (checkpoint) checkResume(checkpoint, source);
    if (c.metricsListen !== null) {
      server = await MetricsServer.start(c.metricsListen, metrics, c.healthStallMs);
      say(`serving metrics at ${server.url}/metrics and health at ${server.url}/healthz`, { metrics_url: `${server.url}/metrics` });
    }
    deadLetter = c.deadLetter ? openDeadLetters(c.deadLetter, c) : null;
    const bar = await progressBar(c, () => Math.min(source.count(checkpoint?.lastRowid ?? 0, c.since), c.limit ?? Infinity));
    let result: PipelineResult;
    try {
      result = await runPipeline({
        source, registryId: c.registryId, spec: recordSpec(c), transport, limits: c.limits, retry: c.retry,
        since: c.since, limit: c.limit, follow: c.follow, pollIntervalMs: c.pollIntervalMs, flushIntervalMs: c.flushIntervalMs,
        checkpoint, deadLetter, stop: signals.signal, log: say, metrics,
        threads: c.threads === 1 ? null : { db: c.db, count: c.threads },
        ...(bar ? { onProgress: (n: number) => bar.update(n) } : {}),
      });
    } finally {
      bar?.stop();
    }
    logger.result(summary(result, c, deadLetter), {
      exported: result.exported, dead_lettered: result.deadLettered, retries: result.retries, last_rowid: result.lastRowid,
    });
    if (result.stopped && signals.received) {
      const u = unsent();
      reportUnsent(u);
      code = exitFor(signals.received, u);
    }
  } finally {
    signals.dispose();
    await server?.close();
    deadLetter?.close();
    await transport?.close();
    source.close();
  }
  return code;
}

export function summary(r: PipelineResult, c: { format: { name: string }; transport: { name: string; local?: string } }, deadLetter: DeadLetterFile | null): string {
  const via = c.transport.local ? '' : ` via ${c.transport.name}`;
  const extras: string[] = [];
  if (r.deadLettered) extras.push(`${r.deadLettered} dead-lettered to ${deadLetter?.file}`);
  if (r.duplicates) extras.push(`${r.duplicates} already present`);
  if (r.retries) extras.push(`${r.retries} retried request(s)`);
  return `exported ${r.exported} event(s) as ${c.format.name}${via}${extras.length ? ` (${extras.join(', ')})` : ''}`;
}

/** A progress bar on a terminal, for exports long enough to want one. */
async function progressBar(c: ExportConfig, total: () => number): Promise<SingleBar | null> {
  if (c.quiet || c.follow || !process.stderr.isTTY) return null;
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
