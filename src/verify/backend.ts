/**
 * What a destination must answer to be verified: for one window of registry events, what it holds under
 * their ids. Each SIEM's file asks its own query API; the comparison is in compare.ts.
 */
import type { ExpectedEvent, Found } from './compare.js';

export interface VerifyBackend {
  /** The SIEM's name in messages and the report: splunk, elasticsearch, log-analytics, file. */
  readonly name: string;
  /** Where it asks, without credentials: a URL, a data stream, a workspace and table, a path. */
  readonly target: string;
  /** Default `--settle`: how long after an event its record may still be on its way (documented latency). */
  readonly settleMs: number;
  /** Called once before the first window (open a point in time, load a file). */
  open?(): Promise<void>;
  /**
   * What the destination holds for these events (sorted by rowid, at most the window size), and, given `others`,
   * the copies under this registry id in its span that are not the window's events: every backend must report
   * them, since a 0 nobody checked would pass a run with forged records.
   */
  lookup(window: readonly ExpectedEvent[], others: Others | null): Promise<Map<string, Found>>;
  /** Release what `open` took; called again before a second pass. */
  close(): Promise<void>;
}

/**
 * Asked of every backend beside a window: report each event id outside the window that has copies under this
 * registry id dated in the seconds after `after` up to `upTo` (Unix seconds), with how many copies are. The
 * caller decides, by asking the registry, which of them it does not hold.
 */
export interface Others {
  after: number;
  upTo: number;
  add(eventId: string, copies: number): void;
}

/**
 * The name a backend reports a record under when it has no event id (the export writes one into every record):
 * made up or changed, it is no registry event either.
 */
export const NO_EVENT_ID = '(no event id)';

/** An HTTP answer the backends turn into one line naming the permission or fix. */
export class QueryError extends Error {}
