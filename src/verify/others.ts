/**
 * Copies the destination holds under this registry id for event ids the registry does not have: records that
 * never happened there (written with the HEC token or write access to the index), or another registry's
 * written under ours. A backend reports the ids it sees beside each window; they are looked up in the whole
 * registry, a batch at a time, so an id outside the verified rowids is never one, and only a count and the
 * first ids are kept however many there are.
 */
import { hasTime } from '../registry/event.js';
import type { Others } from './backend.js';
import type { ExpectedEvent } from './compare.js';

/** Ids looked up in the registry per query. */
const BATCH = 500;

export class NotInRegistry {
  /** Copies found whose event id the registry does not hold. */
  count = 0;
  /** Their first event ids, each once. */
  readonly ids: string[] = [];
  /** Each second is asked about once: windows dated earlier than what was covered add nothing. */
  private coveredUpTo: number | null;
  private readonly pending = new Map<string, number>();

  /** `from`: the first second to cover (`--since`, or the range's earliest event); null starts at the first window's. */
  constructor(private readonly held: (ids: readonly string[]) => Set<string>, private readonly cap: number, from: number | null) {
    this.coveredUpTo = from === null ? null : from - 1;
  }

  /**
   * What to ask beside this window: the seconds from the end of what earlier windows covered (so a gap between
   * two windows is covered too) to the window's newest event, or null when there is nothing new to cover.
   */
  forWindow(window: readonly ExpectedEvent[]): Others | null {
    let lo = Infinity;
    let hi = -Infinity;
    for (const e of window) {
      // An event without a time a SIEM can hold (0, or outside years 1 to 9999) places nothing: its records carry
      // no time, and its value would stretch the span to seconds no run covers, or no query can name.
      if (!hasTime(e.time)) continue;
      lo = Math.min(lo, e.time);
      hi = Math.max(hi, e.time);
    }
    if (hi === -Infinity) return null;
    const after = this.coveredUpTo ?? lo - 1;
    if (hi <= after) return null;
    this.coveredUpTo = hi;
    const ours = new Set(window.map((e) => e.eventId));
    return {
      after, upTo: hi,
      add: (eventId, copies) => {
        if (ours.has(eventId) || copies <= 0) return;
        this.pending.set(eventId, (this.pending.get(eventId) ?? 0) + copies);
        if (this.pending.size >= BATCH) this.flush();
      },
    };
  }

  /** Look the ids reported so far up in the registry. */
  flush(): void {
    if (this.pending.size === 0) return;
    const held = this.held([...this.pending.keys()]);
    for (const [id, copies] of this.pending) {
      if (held.has(id)) continue;
      this.count += copies;
      if (this.ids.length < this.cap && !this.ids.includes(id)) this.ids.push(id);
    }
    this.pending.clear();
  }
}
