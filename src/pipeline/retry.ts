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

/** The three HTTP-date forms (RFC 9110 §5.6.7): IMF-fixdate, the obsolete RFC 850 form, and asctime (no zone: GMT). */
const HTTP_DATE = [
  /^[a-z]{3}, \d{2} [a-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/i,
  /^[a-z]{6,9}, \d{2}-[a-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/i,
  /^[a-z]{3} [a-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/i,
];

/**
 * Retry-After as milliseconds from now: delta-seconds or an HTTP date, a date already past being 0. Anything else
 * (a negative number, `1e3`, words) is not a Retry-After and is ignored: JavaScript's lenient date parser would
 * read `-5` as a date in 2001.
 */
export function parseRetryAfter(value: string | string[] | undefined | null, nowMs: number = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const form = HTTP_DATE.findIndex((re) => re.test(t));
  if (form < 0) return undefined;
  const date = Date.parse(form === 2 ? `${t} GMT` : t);
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

/** Attempts and waits for one batch, and for its events wherever they are retried again (delivery.ts). */
export class RetryBudget {
  attempts = 0;
  /** When the budget is spent (ms since the epoch). */
  readonly deadline: number;

  constructor(private readonly options: RetryOptions, private readonly what: string, private readonly now = Date.now) {
    this.deadline = now() + options.maxDurationMs;
  }

  /**
   * Wait before the next attempt, or throw when the budget cannot cover the wait. A Retry-After only ever
   * lengthens the backoff: a server saying "now" (0, a date past) over and over must not turn it off.
   */
  async wait(reason: string, retryAfterMs?: number, onRetry?: (delayMs: number) => void, stop?: AbortSignal): Promise<void> {
    const jitter = backoffDelay(this.attempts, this.options);
    const asked = retryAfterMs !== undefined && retryAfterMs > jitter ? retryAfterMs : undefined;
    const delay = asked ?? jitter;
    this.attempts++;
    const left = this.deadline - this.now();
    if (delay > left) {
      // Only when the server's wait is the one that does not fit does the line say so, with both figures.
      const why = asked === undefined
        ? ''
        : `; the server asked to wait ${seconds(asked)} (Retry-After), more than the ${seconds(Math.max(0, left))} left`;
      throw this.exhausted(why, reason);
    }
    onRetry?.(delay);
    await sleep(delay, stop);
  }

  /**
   * One more attempt that needs no backoff, because a wait before it already passed (an acknowledgement that
   * did not come within its timeout). Throws once the budget is spent.
   */
  spend(reason: string): void {
    this.attempts++;
    if (this.deadline - this.now() <= 0) throw this.exhausted('', reason);
  }

  private exhausted(why: string, reason: string): ExportError {
    return new ExportError(
      `gave up on ${this.what} after ${this.attempts} attempt(s) over ${(this.options.maxDurationMs / 1000).toFixed(1)}s` +
        ` (--retry-max-duration)${why}: ${reason}`,
    );
  }
}

/** A duration for a message: whole seconds as such, anything finer to the tenth. */
function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
