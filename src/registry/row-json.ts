/**
 * Registry rows read as JSON text. For a registry with the standard schema, SQLite writes each row as one JSON
 * array (its string escaping is JSON.stringify's, byte for byte), and the values are cut out of that text
 * already quoted. One string per row instead of a dozen values, and no value is quoted twice; this is the fast
 * path of large exports. Rows the shortcut cannot spell exactly as the ordinary path would (a timestamp or
 * transparency-log index that is not a plain integer) come back as their rowid alone and are read the ordinary way.
 */
import { extraJsonFromColumn, occurredAt } from './event.js';
import type { EventJson } from '../records/formats/fields.js';

/** Columns that must hold text for the shortcut to be exact: with TEXT affinity, SQLite stores nothing else but NULL and BLOBs. */
export const TEXT_COLUMNS = ['kind', 'token_id', 'file_id', 'recipient_id', 'issuer_id', 'source_ip', 'user_agent', 'qualified_timestamp', 'extra'] as const;
const INTEGER_COLUMNS = ['timestamp', 'tlog_index'] as const;

/** SQLite's column affinity rules (section 3.1 of its datatype documentation), for a declared type. */
export function affinity(declared: string): 'INTEGER' | 'TEXT' | 'BLOB' | 'REAL' | 'NUMERIC' {
  const t = declared.toUpperCase();
  if (t.includes('INT')) return 'INTEGER';
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'TEXT';
  if (t === '' || t.includes('BLOB')) return 'BLOB';
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'REAL';
  return 'NUMERIC';
}

/**
 * The SELECT list of the JSON read, or null when the table's schema does not allow it (a missing column, a
 * string column without TEXT affinity, an `id` that is not the rowid).
 */
export function jsonRowSelect(columns: ReadonlyMap<string, string>, idIsRowid: boolean, rowid = 'rowid', oversize = '0'): string | null {
  if (!idIsRowid) return null;
  for (const c of TEXT_COLUMNS) if (columns.get(c) === undefined || affinity(columns.get(c)!) !== 'TEXT') return null;
  for (const c of INTEGER_COLUMNS) if (columns.get(c) === undefined) return null;
  // CAST makes a BLOB text (the ordinary path decodes it as UTF-8 too); without it json_array would take a
  // BLOB for SQLite's binary JSON. Integers beyond 2^53 go the ordinary way, which rounds them as a double.
  // So does a row the SQL condition `oversize` finds over the size limit (NULL counts as within it), which the
  // ordinary read sets aside unread, and a rowid beyond 2^53, which the ordinary read refuses by name.
  const text = (c: string): string => `CAST("${c}" AS TEXT)`;
  return `CASE WHEN ${oversize} THEN ${rowid} WHEN ${rowid} BETWEEN -9007199254740991 AND 9007199254740991
      AND typeof("timestamp") = 'integer' AND "timestamp" BETWEEN -9007199254740991 AND 9007199254740991
      AND ("tlog_index" IS NULL OR typeof("tlog_index") = 'integer' AND "tlog_index" BETWEEN -9007199254740991 AND 9007199254740991)
    THEN json_array(${rowid}, ${text('kind')}, "timestamp", ${text('token_id')}, ${text('file_id')}, ${text('recipient_id')}, ${text('issuer_id')},
      ${text('source_ip')}, ${text('user_agent')}, ${text('qualified_timestamp')}, "tlog_index") || ifnull(nullif(${text('extra')}, '{}'), '')
    ELSE ${rowid} END`;
}

const QUOTE = 34;
const BACKSLASH = 92;

/** Where the JSON value starting at `i` ends: after its closing quote, or at the next comma or bracket. */
function valueEnd(s: string, i: number, last: boolean): number {
  if (s.charCodeAt(i) !== QUOTE) return s.indexOf(last ? ']' : ',', i);
  let end = s.indexOf('"', i + 1);
  // A quote preceded by an odd run of backslashes is part of the string.
  for (;;) {
    let b = end - 1;
    while (s.charCodeAt(b) === BACKSLASH) b--;
    if ((end - 1 - b) % 2 === 0) return end + 1;
    end = s.indexOf('"', end + 1);
  }
}

/**
 * The integer written in `s` from `from` to `to`, as `Number(s.slice(from, to))` reads it. Short ones are read
 * here: V8 turns a string into a number through a runtime call that also hashes it, a visible cost per row.
 */
function integerAt(s: string, from: number, to: number): number {
  const negative = s.charCodeAt(from) === 45;
  let i = negative ? from + 1 : from;
  // Fifteen digits always fit a double exactly; longer ones, and anything but digits, go the ordinary way.
  if (to - i > 15 || to <= i) return Number(s.slice(from, to));
  let n = 0;
  for (; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return Number(s.slice(from, to));
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

/** A string member as the formatters want it: JSON text, or null for NULL and ''. */
function member(v: string): string | null {
  return v === 'null' || v === '""' ? null : v;
}

/**
 * One row of the JSON read as an event. Produces exactly what `eventJson(fromRegistryValues(row))` produces for
 * the same row, except that NULL and '' (which every format drops alike) are not told apart. Each row gets a
 * new object, its members in `blankEventJson`'s order: storing a row's fresh strings into an object that has
 * outlived a garbage collection costs a write barrier apiece, more than the new object does (about 12% of this
 * function, counted).
 */
export function eventJsonFromRow(s: string, registryId: string): EventJson {
  let i = 1;
  let end = s.indexOf(',', i);
  const id = s.slice(i, end);
  const rowid = integerAt(s, i, end);
  i = end + 1;
  end = valueEnd(s, i, false);
  const kind = s.slice(i, end);
  i = end + 1;
  end = s.indexOf(',', i);
  const occurred = integerAt(s, i, end);
  // The eight values after the time, cut one by one as written out: a loop into a fresh array, or a helper
  // that keeps the position outside, was 1–3% slower per row (bench/per-row.mjs).
  i = end + 1;
  end = valueEnd(s, i, false);
  const token = member(s.slice(i, end));
  i = end + 1;
  end = valueEnd(s, i, false);
  const file = member(s.slice(i, end));
  i = end + 1;
  end = valueEnd(s, i, false);
  const recipient = member(s.slice(i, end));
  i = end + 1;
  end = valueEnd(s, i, false);
  const issuer = member(s.slice(i, end));
  i = end + 1;
  end = valueEnd(s, i, false);
  const sourceIp = member(s.slice(i, end));
  i = end + 1;
  end = valueEnd(s, i, false);
  const userAgent = member(s.slice(i, end));
  i = end + 1;
  end = valueEnd(s, i, false);
  const qualifiedTimestamp = member(s.slice(i, end));
  i = end + 1;
  end = valueEnd(s, i, true);
  const tlog = s.slice(i, end);
  const extra = end + 1 < s.length ? s.slice(end + 1) : null;
  return {
    rowid,
    eventId: id,
    idJson: '"' + id + '"',
    kind: kind === 'null' ? '' : kind.indexOf('\\') < 0 ? kind.slice(1, -1) : (JSON.parse(kind) as string),
    occurredUnix: occurred,
    occurredAt: occurredAt(occurred),
    registryId,
    token,
    file,
    recipient,
    issuer,
    sourceIp,
    userAgent,
    qualifiedTimestamp,
    tlogIndex: tlog === 'null' ? null : tlog,
    extraJson: extra === null ? null : extraJsonFromColumn(extra),
  };
}
