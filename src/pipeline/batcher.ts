/** Groups entries into batches bounded by event count and bytes, and reports a batch's age for timed flushes. */
import type { Entry } from './encoder.js';

export interface BatchLimits {
  maxEvents: number;
  maxBytes: number;
}

export class Batcher {
  private entries: Entry[] = [];
  private bytes: number;
  private startedAt = 0;

  constructor(private readonly limits: BatchLimits, private readonly bodyOverhead: number, private readonly now = Date.now) {
    this.bytes = bodyOverhead;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Milliseconds since the oldest entry in the batch arrived. */
  get ageMs(): number {
    return this.entries.length === 0 ? 0 : this.now() - this.startedAt;
  }

  /** Adding this entry would break a limit, so the current batch must go first. */
  wouldOverflow(entry: Entry): boolean {
    return this.entries.length > 0 &&
      (this.entries.length + 1 > this.limits.maxEvents || this.bytes + entry.bytes > this.limits.maxBytes);
  }

  get full(): boolean {
    return this.entries.length >= this.limits.maxEvents || this.bytes >= this.limits.maxBytes;
  }

  add(entry: Entry): void {
    if (this.entries.length === 0) this.startedAt = this.now();
    this.entries.push(entry);
    this.bytes += entry.bytes;
  }

  take(): Entry[] {
    const out = this.entries;
    this.entries = [];
    this.bytes = this.bodyOverhead;
    return out;
  }
}
