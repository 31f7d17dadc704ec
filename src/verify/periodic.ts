/**
 * Verification in the background of a following export: the same check, every `everyMs`, one at a time, with
 * its outcome on two gauges so a Prometheus alert catches silent loss. The caller says what to check (usually
 * the delivered, settled part of the registry); this class only schedules, never overlaps runs, and stops.
 */
import { Gauge, type Registry } from 'prom-client';
import { errorMessage } from '../shared/errors.js';
import type { VerifyResult } from './index.js';

export interface VerifyGauges {
  /** Record a completed check. */
  update(result: VerifyResult, at?: Date): void;
}

/**
 * `oversight_verify_missing_events`: events of the last completed check that the SIEM does not hold (missing or
 * only in a failure store). `oversight_verify_last_success_timestamp_seconds`: when a check last completed and
 * passed (nothing `siem verify` would fail on); it stands still while checks fail or cannot run.
 */
export function registerVerifyGauges(registry: Registry): VerifyGauges {
  const registers = [registry];
  const missing = new Gauge({
    name: 'oversight_verify_missing_events', help: 'Events the SIEM does not hold, as found by the last completed verification.', registers,
  });
  const lastSuccess = new Gauge({
    name: 'oversight_verify_last_success_timestamp_seconds',
    help: 'Unix time of the last verification that passed: nothing missing, doubled, altered, in a failure store or not in the registry (0: none yet).', registers,
  });
  lastSuccess.set(0);
  return {
    update(result, at = new Date()) {
      missing.set(result.counts.missing + result.counts.failure_store);
      if (result.ok) lastSuccess.set(Math.floor(at.getTime() / 1000));
    },
  };
}

export interface PeriodicVerifierOptions {
  everyMs: number;
  /** One check; `signal` aborts when the verifier stops. */
  run(signal: AbortSignal): Promise<VerifyResult>;
  gauges?: VerifyGauges | null;
  onResult?(result: VerifyResult): void;
  onError?(message: string): void;
}

export class PeriodicVerifier {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly abort = new AbortController();

  constructor(private readonly o: PeriodicVerifierOptions) {}

  start(): void {
    if (this.timer || this.abort.signal.aborted) return;
    this.schedule();
  }

  /** Run one check now (also what the timer calls); resolves when it ends, never rejects. */
  async runOnce(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        const result = await this.o.run(this.abort.signal);
        if (this.abort.signal.aborted) return;
        this.o.gauges?.update(result);
        this.o.onResult?.(result);
      } catch (err) {
        if (!this.abort.signal.aborted) this.o.onError?.(`verification failed: ${errorMessage(err)}`);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      void this.runOnce().then(() => {
        if (!this.abort.signal.aborted) this.schedule();
      });
    }, this.o.everyMs);
    // A verifier alone never keeps the process alive.
    this.timer.unref();
  }

  /** Stop scheduling, abort the check in flight, and wait for it to end. */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
