/**
 * How a running export is stopped. The first SIGTERM, SIGINT or SIGHUP (a closed terminal) aborts the run's stop signal: nothing new is
 * read or sent, backoff and acknowledgement waits end, and the request in flight may finish. If the run has
 * not returned within --shutdown-timeout, the process leaves anyway; a second signal leaves at once. Both are
 * safe because the checkpoint is written after every settled batch, never ahead of it.
 * SIGUSR1 is taken and ignored while an export runs: left to Node, it would open the inspector on
 * 127.0.0.1:9229, letting any local user who may signal the process run code with its credentials.
 */
import { log } from '../shared/log.js';

export interface Unsent {
  count: number;
  first: number | null;
  last: number | null;
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** A listener of our own keeps Node from opening its inspector on SIGUSR1; the signal then does nothing. */
const ignore = (): void => undefined;

/** The shell's convention for a command ended by a signal. */
export function signalExitCode(sig: NodeJS.Signals): number {
  return 128 + (SIGNAL_NUMBERS[sig] ?? 15);
}

/**
 * One line telling the operator what the next start sends again; `u` is null when the registry could not be read
 * to count it (a writer's lock, a file being replaced).
 */
export function unsentMessage(u: Unsent | null, stateFile: string | null): string {
  if (u && u.count === 0) return 'stopped: every event read was delivered';
  const next = stateFile
    ? `the next start with --state ${stateFile} sends them`
    : 'without --state the next run starts from the first event again';
  if (!u) return `stopped: the events left unsent could not be counted (the registry cannot be read now); ${next}`;
  const range = u.first === u.last ? `rowid ${u.first}` : `rowids ${u.first}–${u.last}`;
  return `stopped: ${u.count} event(s) left unsent (${range}); ${next}`;
}

export interface ShutdownOptions {
  timeoutMs: number;
  /**
   * Called when the run did not return in time, or on a second signal: the caller reports what is left and
   * leaves with the exit code it decides on (the entry owns the process's exit).
   */
  leave: (sig: NodeJS.Signals, why: string) => void;
}

export class Shutdown {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  /** The signal that asked for the stop, if one did. */
  received: NodeJS.Signals | null = null;

  constructor(private readonly options: ShutdownOptions) {
    for (const sig of STOP_SIGNALS) process.on(sig, this.handler);
    process.on('SIGUSR1', ignore);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  private readonly handler = (sig: NodeJS.Signals): void => {
    if (this.received) {
      this.options.leave(sig, `${sig} again: quitting at once`);
      return;
    }
    this.received = sig;
    const s = this.options.timeoutMs / 1000;
    log.info(
      `${sig}: finishing the batch in flight for up to ${s}s and sending nothing new (send the signal again to quit at once)`,
      { signal: sig, shutdown_timeout_s: s },
    );
    this.controller.abort();
    this.timer = setTimeout(() => {
      this.options.leave(sig, `the request in flight did not finish within --shutdown-timeout ${s}s: leaving it`);
    }, this.options.timeoutMs);
  };

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const sig of STOP_SIGNALS) process.off(sig, this.handler);
    process.off('SIGUSR1', ignore);
  }
}
