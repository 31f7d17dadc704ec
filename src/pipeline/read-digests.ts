/**
 * The digest the checkpoint keeps with `last_rowid` (checkpoint.ts): of the registry row as it was read and
 * sent, not as the registry holds it when the SIEM acknowledges. A registry restored in place while a batch is
 * out, with new events written under the same rowids, would otherwise give the digest of a row never sent, and
 * the next start would resume past the new events without a word.
 *
 * Every page (and every thread's chunk) is read with the digest of its last row, in the same read transaction
 * (`readEventPage`). A checkpoint at that row takes that digest. One inside a page reads its row's digest then,
 * together with the page's last row: if that row is still as it was read, the registry is still the one read
 * (its events are only ever added after it, or pruned), and so is the earlier row.
 */
import { ExportError } from '../shared/errors.js';
import type { RegistrySource } from '../registry/source.js';
import type { RowMark } from './event-rows.js';

export class ReadDigests {
  /** Last rows of the pages read and not yet passed by the checkpoint, in rowid order. */
  private marks: RowMark[] = [];

  constructor(private readonly source: RegistrySource) {}

  /** A page or chunk was read up to `mark.rowid`: called before any of its records can settle. */
  read(mark: RowMark | null | undefined): void {
    if (!mark) return;
    const last = this.marks[this.marks.length - 1];
    // A range read again after an early answer ends where its first part did, or after: the first reading stands.
    if (last === undefined || mark.rowid > last.rowid) this.marks.push(mark);
  }

  /**
   * The digest of the row at `rowid` as it was read, or null when it cannot be vouched for: the registry changed
   * between the read and now, or cannot be read now. Checkpoints come in rowid order, so marks before it go.
   */
  at(rowid: number): string | null {
    let passed = 0;
    while (passed < this.marks.length && this.marks[passed]!.rowid < rowid) passed++;
    if (passed > 0) this.marks.splice(0, passed);
    const mark = this.marks[0];
    if (mark === undefined) return null;
    if (mark.rowid === rowid) return mark.digest;
    try {
      const [row, end] = this.source.snapshot(() => [this.source.rowDigest(rowid), this.source.rowDigest(mark.rowid)]);
      return end === mark.digest ? row : null;
    } catch (err) {
      // A lock, a torn file, a failed read: the checkpoint is written all the same (the SIEM has the events).
      if (err instanceof ExportError) return null;
      throw err;
    }
  }
}
