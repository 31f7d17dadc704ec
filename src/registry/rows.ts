/**
 * What a registry row may be, and what happens to one that is not: rowids the cursor can hold exactly, and a
 * size limit above which a row is set aside (dead-lettered) unformatted instead of being read into memory.
 * The limits and how to raise them are listed in docs/LIMITS-ROWS.md.
 */
import { ConfigurationError } from '../shared/errors.js';

/**
 * The cursor before the first row. SQLite rowids may be zero or negative; the cursor is a JS number, so rowids
 * are followed exactly only within ±(2^53 − 1), and this value is below every one of them.
 */
export const ROWID_START = -(2 ** 53);
export const MAX_ROWID = Number.MAX_SAFE_INTEGER;

/** 1 MiB: about a thousand times a real registry row (a callback's `extra` holds a DNS question at most). */
export const DEFAULT_MAX_ROW_BYTES = 1 << 20;
/** V8 strings end below 2^29 characters; a row near that could not be formatted at all. */
const HIGHEST_MAX_ROW_BYTES = 256 << 20;
const LOWEST_MAX_ROW_BYTES = 1024;

/** `--max-row-bytes`: a number of bytes, or with a KiB/MiB suffix (K and M mean the same). */
export function parseMaxRowBytes(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_MAX_ROW_BYTES;
  const m = /^(\d+)\s*(k|ki|kib|m|mi|mib)?$/i.exec(String(value).trim());
  const n = m ? Number(m[1]) * (m[2] === undefined ? 1 : /^k/i.test(m[2]) ? 1024 : 1 << 20) : NaN;
  if (!Number.isSafeInteger(n) || n < LOWEST_MAX_ROW_BYTES || n > HIGHEST_MAX_ROW_BYTES) {
    throw new ConfigurationError(
      `--max-row-bytes must be a size from 1KiB to 256MiB such as 1048576 or 4MiB, not '${String(value)}'`,
    );
  }
  return n;
}

/** A row whose stored values together exceed the size limit: read as its rowid, id and size, nothing else. */
export class OversizeRow {
  constructor(
    readonly rowid: number,
    readonly eventId: string,
    readonly bytes: number,
    readonly limit: number,
  ) {}

  /** The dead-letter reason. */
  get reason(): string {
    return `registry row ${this.rowid} (event ${this.eventId}) holds ${this.bytes} bytes, over the ${this.limit}-byte row limit; it was not formatted`;
  }

  /** The one line that stops an export without a dead-letter file. */
  get stop(): string {
    return `${this.reason}: pass --dead-letter FILE to set such rows aside and keep going, or raise --max-row-bytes above ${this.bytes} to export it`;
  }
}

/**
 * The name that reads SQLite's rowid in this table: a column called `rowid`, `_rowid_` or `oid` takes that name
 * over, so the first name no column uses is the one. An `INTEGER PRIMARY KEY` column is the rowid under its own
 * name. Null when every name is taken and there is no such column.
 */
export function rowidName(columns: Iterable<string>, integerKey: string | null): string | null {
  const taken = new Set([...columns].map((c) => c.toLowerCase()));
  for (const name of ['rowid', '_rowid_', 'oid']) if (!taken.has(name)) return name;
  return integerKey === null ? null : `"${integerKey.replace(/"/g, '""')}"`;
}
