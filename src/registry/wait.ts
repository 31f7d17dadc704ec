/**
 * Waiting out a registry that another process holds locked, or that is being copied over (see RegistryTorn). A rollback-journal (non-WAL) registry locks readers
 * out while its writer commits, for as long as the writer's transaction lasts. The export's reads wait for a lock
 * only a moment each (LOCK_ATTEMPT_MS), because that wait blocks the process and a stop is heard only between
 * reads; this does the rest of the waiting. A lock of up to QUIET_LOCK_MS is tried again at once, unreported, as
 * one long read would have waited it out; a longer one is reported once and tried again every `pauseMs`. Follow
 * mode waits as long as the lock lasts; a one-shot export gives up after `--retry-max-duration`. A stop ends the
 * wait at once.
 */
import { ExportError } from '../shared/errors.js';
import type { LogFields } from '../shared/log.js';
import { RegistryBusy } from './source.js';

/**
 * How long a lock is waited out in silence, read after read, before it is reported: a writer's ordinary commit
 * stays unreported and costs no `pauseMs`, as when each read waited this long itself.
 */
export const QUIET_LOCK_MS = 1000;

/**
 * What a wait says (when it starts, how to go on when it gives up, and what kept the registry unreadable), and
 * how long it first tries again at once, unreported: only for reads that themselves wait a moment for a lock,
 * since a read of a torn file fails at once and would be tried again and again.
 */
export interface WaitWords {
  waiting: string;
  fix: string;
  held: string;
  quietMs?: number;
}

const LOCKED: WaitWords = {
  waiting: 'waiting for it to be released',
  fix: 'run it again once the writer is done, or raise --retry-max-duration',
  held: 'locked',
  quietMs: QUIET_LOCK_MS,
};

export class RegistryWait {
  private since: number | null = null;
  private said = false;

  constructor(
    private readonly log: (message: string, fields?: LogFields) => void,
    private readonly maxMs: number,
    private readonly pauseMs: number,
    private readonly stop?: AbortSignal,
    private readonly words: WaitWords = LOCKED,
  ) {}

  /** A read was refused: say so once the wait is worth a line, and wait a little before the next attempt. */
  async busy(err: Error): Promise<void> {
    const now = Date.now();
    this.since ??= now;
    const held = now - this.since;
    const quiet = held < (this.words.quietMs ?? 0);
    if (!quiet && !this.said) {
      this.said = true;
      this.log(`${err.message}: ${this.words.waiting}`);
    } else if (!quiet && held > this.maxMs) {
      throw new ExportError(`${err.message} for over ${Math.round(held / 1000)}s: the export stops; ${this.words.fix}`);
    }
    if (this.stop?.aborted) return;
    // Even the quiet retries go through a timer, so that a signal is handled between two reads.
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.stop?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, quiet ? 0 : this.pauseMs);
      this.stop?.addEventListener('abort', done, { once: true });
    });
  }

  /** A read went through: if a wait held the export, say how long. */
  clear(): void {
    if (this.since === null) return;
    if (this.said) this.log(`registry readable again after ${((Date.now() - this.since) / 1000).toFixed(1)}s ${this.words.held}`);
    this.since = null;
    this.said = false;
  }
}

/**
 * A read that a writer's lock may refuse, tried again until it goes through or `forMs` has passed. Each attempt
 * waits for the lock only as long as its connection's busy timeout (a moment: LOCK_ATTEMPT_MS), and the event
 * loop runs between attempts, so the process's other work (an export beside `--verify-every`, a stop) is held up
 * a moment at a time rather than for the whole wait.
 */
export async function whileLocked<T>(read: () => T, forMs: number, stop?: AbortSignal): Promise<T> {
  const until = Date.now() + forMs;
  for (;;) {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof RegistryBusy) || Date.now() >= until || stop?.aborted) throw err;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}
