/**
 * The one retry policy every transport shares: exponential backoff with full jitter, a floor set by the
 * server's Retry-After, and a total time budget per batch after which the export fails.
 */
import { ExportError } from '../shared/errors.js';

export interface RetryOptions {
  /** First backoff ceiling. */
  initialDelayMs: number;
  /** Largest backoff ceiling, however many attempts. */
  maxDelayMs: number;
  /** Total time one batch may spend retrying before the export gives up (exit 1). */
  maxDurationMs: number;
}

export const RETRY_DEFAULTS: RetryOptions = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  maxDurationMs: 300_000,
};

/** Full jitter: a uniform draw between 0 and the exponential ceiling. */
export function backoffDelay(attempt: number, options: RetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | string[] | undefined | null, nowMs: number = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const date = Date.parse(t);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/** The export was asked to stop: thrown out of a wait so nothing after it starts. Not a failure. */
export class Stopped extends Error {
  override name = 'Stopped';
  constructor() {
    super('stopped');
  }
}

/** Sleep; with `stop`, reject with Stopped the moment it aborts, so a stop never waits out a backoff. */
export function sleep(ms: number, stop?: AbortSignal): Promise<void> {
  if (stop?.aborted) return Promise.reject(new Stopped());
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Stopped());
    };
    const timer = setTimeout(() => {
      stop?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    stop?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Attempts and waits for one batch. */
export class RetryBudget {
  attempts = 0;
  private readonly deadline: number;

  constructor(private readonly options: RetryOptions, private readonly what: string, private readonly now = Date.now) {
    this.deadline = now() + options.maxDurationMs;
  }

  /** Wait before the next attempt, or throw when the budget cannot cover the wait. */
  async wait(reason: string, retryAfterMs?: number, onRetry?: (delayMs: number) => void, stop?: AbortSignal): Promise<void> {
    const jitter = backoffDelay(this.attempts, this.options);
    const delay = retryAfterMs === undefined ? jitter : Math.max(retryAfterMs, Math.min(jitter, 1000));
    this.attempts++;
    const left = this.deadline - this.now();
    if (delay > left) {
      const asked = retryAfterMs !== undefined && retryAfterMs > left ? `; the server asked to wait ${(retryAfterMs / 1000).toFixed(0)}s` : '';
      throw new ExportError(
        `gave up on ${this.what} after ${this.attempts} attempt(s) over ${(this.options.maxDurationMs / 1000).toFixed(1)}s` +
          ` (--retry-max-duration)${asked}: ${reason}`,
      );
    }
    onRetry?.(delay);
    await sleep(delay, stop);
  }
}
