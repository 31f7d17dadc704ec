/**
 * `siem export`: configuration first (nothing opened yet), then the registry, the state file, the metrics port
 * and the transport, the run, and one summary line. Returns the exit code it decided on; throwing is for failures.
 */
import type { SingleBar } from 'cli-progress';
import { Checkpoint, checkResume, checkWritableFolder } from '../pipeline/checkpoint.js';
import { exportConfig, type ExportConfig } from '../config/export.js';
import type { DeadLetterFile } from '../pipeline/dead-letter.js';
import type { FlagValues } from '../shared/options.js';
import { log as logger } from '../shared/log.js';
import { ExportMetrics } from '../service/metrics.js';
import { MetricsServer } from '../service/metrics-server.js';
import { runPipeline, type PipelineResult } from '../pipeline/index.js';
import { Shutdown, signalExitCode, STOP_SIGNALS, unsentMessage, type Unsent } from '../service/signals.js';
import { LOCK_ATTEMPT_MS, RegistryBusy, RegistrySource } from '../registry/source.js';
import { RegistryWait } from '../registry/wait.js';
import { ExportError, RegistryUnavailable } from '../shared/errors.js';
import { preflight } from '../service/preflight.js';
import { pause } from '../pipeline/core.js';
import { ROWID_START } from '../registry/rows.js';
import { StateLock } from '../service/state-lock.js';
import { VERSION } from '../shared/version.js';
import type { Transport } from '../transports/transport.js';
import { summary } from './summary.js';
import { querySettings } from './verify-options.js';
import { openDeadLetters, openTransport, recordSpec, setUpLog } from './wiring.js';

export interface RunContext {
  /** Leave the process now with this code (a second signal, a stop that outlasted --shutdown-timeout). */
  quit: (code: number) => void;
}

export async function runExport(values: FlagValues, ctx: RunContext): Promise<number> {
  const c = exportConfig(values);
  const say = setUpLog(c);
  // Checked with the rest of the configuration, as siem verify checks them: a value --verify-every would refuse
  // later, or never read, is refused before anything is opened.
  const query = querySettings(values);
  const verifyBackend = c.verifyEveryMs !== null ? (await import('./verify.js')).createVerifyBackend(values) : null;
  if (c.follow && !c.state) {
    logger.warn('--follow without --state: a restart sends every event again from the first; give it --state FILE');
  }
  // Before the lock, whose file would otherwise be the first thing to fail in a missing folder.
  if (c.state) checkWritableFolder(c.state, '--state');
  const lock = c.state ? StateLock.acquire(c.state) : null;
  let source: RegistrySource;
  try {
    source = await openRegistry(c, ctx);
  } catch (err) {
    lock?.release();
    throw err;
  }
  let transport: Transport | null = null;
  let deadLetter: DeadLetterFile | null = null;
  let server: MetricsServer | null = null;
  let verifier: { stop(): Promise<void> } | null = null;
  // prom-client is loaded only for a run whose metrics are read: served, or watched by --verify-every.
  const prometheus = c.metricsListen !== null || c.verifyEveryMs !== null
    ? new (await import('../service/prometheus.js')).Prometheus(c.metricsListen !== null)
    : null;
  const metrics = new ExportMetrics({ prometheus });
  metrics.watchBacklog((after) => {
    const p = source.pending(after, c.since);
    return { newestRowid: source.maxRowid(), events: p.count, oldestTimestamp: p.oldestTimestamp };
  });
  // Follow mode ends by a stop, so a stop is success there; a one-shot export cut short says so in its exit code,
  // and so does one whose unsent events could not be counted (the registry locked as it stopped).
  const exitFor = (sig: NodeJS.Signals, u: Unsent | null): number => (c.follow || (u !== null && u.count === 0) ? 0 : signalExitCode(sig));
  // With --limit the run was asked for that many events after its starting checkpoint, and only those can be unsent.
  let startRowid = ROWID_START;
  const unsent = (): Unsent | null => {
    try {
      const upTo = c.limit === null ? null : source.nthRowid(startRowid, c.limit, c.since);
      return source.pending(metrics.checkpointRowid, c.since, upTo);
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
    if (c.preflight) await checkDestination(c, transport);
    const checkpoint = c.state ? Checkpoint.open(c.state, { registryId: c.registryId, database: c.db }) : null;
    if (checkpoint) await waitedOut(() => checkResume(checkpoint, source), c, signals.signal);
    startRowid = checkpoint?.lastRowid ?? ROWID_START;
    // A service says what it is doing when it starts; a one-shot export says only what it did.
    // A new checkpoint sits before every rowid (they can be zero or negative): that is "from the first event".
    const after = startRowid > ROWID_START ? startRowid : null;
    if (c.follow) say(
      `oversight-siem ${VERSION}: following ${c.db} as ${c.format.name} to ${describeOutput(c)}, ` +
        `${after === null ? 'from the first event' : `after rowid ${after}`}${c.state ? ` (--state ${c.state})` : ''}`,
      { version: VERSION, registry: c.db, transport: c.transport.name, format: c.format.name, after_rowid: after },
    );
    if (c.metricsListen !== null) {
      server = await MetricsServer.start(c.metricsListen, metrics, c.healthStallMs);
      say(`serving metrics at ${server.url}/metrics and health at ${server.url}/healthz`, { metrics_url: `${server.url}/metrics` });
    }
    deadLetter = c.deadLetter ? openDeadLetters(c.deadLetter, c) : null;
    const spec = recordSpec(c);
    // The check compares what this export writes: its pseudonyms, made with its key.
    verifier = verifyBackend ? await (await import('./verify-every.js')).startVerifier(c, verifyBackend, query, metrics, checkpoint?.lastRowid ?? ROWID_START, spec.privacy) : null;
    const bar = await progressBar(c, () => Math.min(source.count(checkpoint?.lastRowid ?? ROWID_START, c.since), c.limit ?? Infinity));
    let result: PipelineResult;
    try {
      result = await runPipeline({
        source, registryId: c.registryId, spec, transport, limits: c.limits, retry: c.retry,
        since: c.since, limit: c.limit, follow: c.follow, pollIntervalMs: c.pollIntervalMs, flushIntervalMs: c.flushIntervalMs,
        checkpoint, deadLetter, stop: signals.signal, log: say, warn: (m, f) => logger.warn(m, f), metrics,
        threads: c.threads === 1 ? null : { db: c.db, count: c.threads },
        ...(bar ? { onProgress: (n: number) => bar.update(n) } : {}),
      });
    } finally {
      bar?.stop();
    }
    logger.result(summary(result, c, deadLetter), {
      exported: result.exported, dead_lettered: result.deadLettered, retries: result.retries,
      last_rowid: result.lastRowid === ROWID_START ? null : result.lastRowid,
    });
    if (result.stopped && signals.received) {
      const u = unsent();
      reportUnsent(u);
      code = exitFor(signals.received, u);
    }
  } finally {
    signals.dispose();
    await verifier?.stop();
    await server?.close();
    deadLetter?.close();
    await transport?.close();
    source.close();
    lock?.release();
  }
  return code;
}

/**
 * Before the first event: does the destination's name resolve, and does its port answer? A one-shot export
 * fails in seconds when not (exit 1, nothing read or sent) instead of retrying for --retry-max-duration; a
 * follower says so and keeps trying, as its retries would. Credentials and the SIEM side are for `siem check`:
 * the first request shows them anyway, and a busy SIEM's answer to a check must not end an export.
 */
async function checkDestination(c: ExportConfig, transport: Transport): Promise<void> {
  if (c.transport.local) return;
  const failed = (await preflight(c.output, transport, c.http, c.output.startsWith('syslog+udp:'), false)).find((l) => !l.ok);
  if (!failed) return;
  const line = `${c.transport.name} ${failed.what}: ${failed.detail}`;
  if (c.follow) logger.warn(`${line}; following all the same, and retrying as events come`);
  else throw new ExportError(`${line} (nothing was sent; siem check shows every check, --no-preflight skips them)`);
}

/** Where records go, for the startup line: a URL without credentials or query, or the file. */
function describeOutput(c: ExportConfig): string {
  if (c.transport.local) return c.output === '-' ? 'stdout' : c.output;
  try {
    const u = new URL(c.output);
    return `${c.transport.name} at ${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return c.transport.name;
  }
}

/**
 * The registry, opened read-only. In follow mode one that cannot be opened yet (its server not started, so no WAL
 * files a reader can use; not created yet) is waited for, with one line now and one when it opens; a one-shot
 * export fails at once (exit 1). A registry locked by its writer is waited out (see RegistryWait), tried every
 * second once the lock is reported, by a one-shot export for up to --retry-max-duration. A stop during any of
 * these waits ends it at once, as a stop ends a run: exit 0 in follow mode, the signal's code (130, 143) for a
 * one-shot export that sent nothing.
 */
async function openRegistry(c: ExportConfig, ctx: RunContext): Promise<RegistrySource> {
  let said = false;
  let waitMs = 1000;
  const stop = new AbortController();
  let received: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals): void => {
    received ??= sig;
    stop.abort();
  };
  const lock = new RegistryWait((m) => logger.warn(m), c.follow ? Infinity : c.retry.maxDurationMs, 1000, stop.signal);
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  try {
    for (;;) {
      try {
        // Each attempt, and each read of the run after it, blocks the process only a moment for a lock, so a stop
        // is heard while the wait goes on.
        const source = RegistrySource.open(c.db, { maxRowBytes: c.maxRowBytes, openBusyTimeoutMs: LOCK_ATTEMPT_MS, busyTimeoutMs: LOCK_ATTEMPT_MS });
        if (said) logger.info(`registry ${c.db} opened`);
        lock.clear();
        return source;
      } catch (err) {
        if (err instanceof RegistryBusy) {
          await lock.busy(err);
        } else {
          if (!c.follow || !(err instanceof RegistryUnavailable)) throw err;
          if (!said) {
            logger.warn(`${err.message}; waiting for it (follow mode), trying again every few seconds`, { registry: c.db });
            said = true;
          }
          await pause(waitMs, stop.signal);
          waitMs = Math.min(waitMs * 2, 30_000);
        }
      }
      if (received) {
        logger.info('stopped while waiting for the registry: nothing was read or sent');
        ctx.quit(c.follow ? 0 : signalExitCode(received));
      }
    }
  } finally {
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
  }
}

/**
 * A read before the run's own, with a writer's lock waited out as the run's reads wait it out. A stop ends the
 * wait and skips the read: the run that follows stops before it reads anything.
 */
async function waitedOut(read: () => void, c: ExportConfig, stop: AbortSignal): Promise<void> {
  const lock = new RegistryWait((m) => logger.warn(m), c.follow ? Infinity : c.retry.maxDurationMs, c.pollIntervalMs, stop);
  while (!stop.aborted) {
    try {
      read();
      lock.clear();
      return;
    } catch (err) {
      if (!(err instanceof RegistryBusy)) throw err;
      await lock.busy(err);
    }
  }
}

/** A progress bar on a terminal, for exports long enough to want one. */
async function progressBar(c: ExportConfig, total: () => number): Promise<SingleBar | null> {
  if (c.quiet || c.follow || !process.stderr.isTTY) return null;
  let n: number;
  try {
    n = total();
  } catch (err) {
    // A writer's lock: the run waits it out, and goes without a bar rather than wait for one.
    if (err instanceof RegistryBusy) return null;
    throw err;
  }
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
