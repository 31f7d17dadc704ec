/**
 * --verify-every: a background check, on its own registry connection, that the SIEM holds what this process
 * delivered (from its starting checkpoint up to the current one), with two gauges on /metrics so an alert
 * catches silent loss. Records younger than the settle time (--settle, else the SIEM's) count as too recent, not
 * missing; the registry is read and the SIEM asked --window events at a time.
 */
import type { ExportConfig } from '../config/export.js';
import type { PrivacySettings } from '../records/pseudonymize.js';
import type { ExportMetrics } from '../service/metrics.js';
import { log as logger, type Logger } from '../shared/log.js';
import { BUSY_TIMEOUT_MS, LOCK_ATTEMPT_MS, RegistrySource } from '../registry/source.js';
import { whileLocked } from '../registry/wait.js';
import type { VerifyBackend } from '../verify/index.js';
import type { QuerySettings } from './verify-options.js';

type VerifierConfig = Pick<ExportConfig, 'db' | 'maxRowBytes' | 'verifyEveryMs' | 'registryId' | 'since'>;

/** `privacy`: the export's own rules, key read, so a pseudonymized token is compared as this export wrote it. */
export async function startVerifier(
  c: VerifierConfig, backend: VerifyBackend, query: QuerySettings, metrics: ExportMetrics, from: number,
  privacy: PrivacySettings | null, log: Pick<Logger, 'info' | 'warn'> = logger,
): Promise<{ stop(): Promise<void> }> {
  const [{ summaryLines }, { PeriodicVerifier, registerVerifyGauges, runVerify }] = await Promise.all([
    import('./verify.js'),
    import('../verify/index.js'),
  ]);
  // Opened by the first check, not before the export starts: opened at the start, it held up the whole export
  // for 5 s, and failed it after that. The checks share the export's thread, so the opening and each read wait
  // for a writer's lock a moment at a time (whileLocked), for as long as one of the export's reads would, and a
  // lock that outlasts that skips the check with a line; the next check tries again. Waiting the whole second
  // inside SQLite held the export, its stops and /metrics up for that second.
  let source: RegistrySource | null = null;
  const verifier = new PeriodicVerifier({
    everyMs: c.verifyEveryMs!,
    gauges: registerVerifyGauges(metrics.registry),
    run: async (signal) => {
      source ??= await whileLocked(
        () => RegistrySource.open(c.db, { maxRowBytes: c.maxRowBytes, openBusyTimeoutMs: LOCK_ATTEMPT_MS, busyTimeoutMs: LOCK_ATTEMPT_MS }),
        BUSY_TIMEOUT_MS, signal,
      );
      return runVerify({
        source, registryId: c.registryId, backend, range: { fromRowid: from + 1, toRowid: metrics.checkpointRowid, since: c.since },
        windowSize: query.windowSize, privacy, ...(query.settleMs !== null ? { settleMs: query.settleMs } : {}), stop: signal, lockWaitMs: BUSY_TIMEOUT_MS,
      });
    },
    onResult: (r) => log.info(summaryLines(r, 20)[0]!, { ...r.counts }),
    onError: (m) => log.warn(m),
  });
  verifier.start();
  return {
    stop: async () => {
      await verifier.stop();
      source?.close();
    },
  };
}
