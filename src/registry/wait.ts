/**
 * Waiting out a registry that another process holds locked, or that is being copied over (see RegistryTorn). A rollback-journal (non-WAL) registry locks readers
 * out while its writer commits, for as long as the writer's transaction lasts; each read waits only briefly
 * (BUSY_TIMEOUT_MS) so that signals and deliveries go on, and then this waits between attempts. Follow mode
 * waits as long as the lock lasts; a one-shot export gives up after `--retry-max-duration`.
 */
import { ExportError } from '../shared/errors.js';
import type { LogFields } from '../shared/log.js';

/** What a wait says: when it starts, how to go on when it gives up, and what kept the registry unreadable. */
export interface WaitWords {
  waiting: string;
  fix: string;
  held: string;
}

const LOCKED: WaitWords = {
  waiting: 'waiting for it to be released',
  fix: 'run it again once the writer is done, or raise --retry-max-duration',
  held: 'locked',
};

export class RegistryWait {
  private since: number | null = null;

  constructor(
    private readonly log: (message: string, fields?: LogFields) => void,
    private readonly maxMs: number,
    private readonly pauseMs: number,
    private readonly stop?: AbortSignal,
    private readonly words: WaitWords = LOCKED,
  ) {}

  /** A read was refused: say so once, and wait a little before the next attempt. */
  async busy(err: Error): Promise<void> {
    const now = Date.now();
    if (this.since === null) {
      this.since = now;
      this.log(`${err.message}: ${this.words.waiting}`);
    } else if (now - this.since > this.maxMs) {
      throw new ExportError(`${err.message} for over ${Math.round((now - this.since) / 1000)}s: the export stops; ${this.words.fix}`);
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.stop?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, this.pauseMs);
      this.stop?.addEventListener('abort', done, { once: true });
    });
  }

  /** A read went through: if a wait held the export, say how long. */
  clear(): void {
    if (this.since === null) return;
    this.log(`registry readable again after ${((Date.now() - this.since) / 1000).toFixed(1)}s ${this.words.held}`);
    this.since = null;
  }
}
