/**
 * Pages of registry rows on their way to a formatter, read the fast way where the registry's schema allows it:
 * each row as one JSON text (row-json.ts), the rest value by value. Every reader that formats rows — the main
 * thread, following or not, and the formatting threads — reads through here, so they format the same events.
 */
import { fromRegistryValues } from '../registry/event.js';
import { blankEventJson, eventJson, type EventJson } from '../records/formats/fields.js';
import { eventJsonFromRow } from '../registry/row-json.js';
import { ExportError } from '../shared/errors.js';
import { OversizeRow } from '../registry/rows.js';
import type { RegistryRow, RegistrySource } from '../registry/source.js';

/** A page row: the JSON text of the fast read, or the values (or the row over the size limit) of the ordinary one. */
export type EventRow = string | RegistryRow;

/**
 * Up to `limit` rows with rowid in (after, upTo] (`upTo` may be Infinity), in rowid order. A row the JSON read
 * leaves to the ordinary one (see row-json.ts) is read here, within the same call, so a caller that waits out a
 * writer's lock around this call waits for it too.
 */
export function readEventRows(source: RegistrySource, after: number, upTo: number, limit: number, since: number | null): EventRow[] {
  if (!source.readsJson) return source.readRange(after, upTo, limit, since);
  // A row that is gone by the time it is read on its own was rolled back in between: the page is read again, as
  // it now is. Twice in a row means the registry is being rewritten under the reader.
  for (let attempt = 0; attempt < 3; attempt++) {
    const rows = source.readJsonRange(after, upTo, limit, since) as EventRow[];
    if (resolveOrdinary(source, rows)) return rows;
  }
  throw new ExportError(`reading ${source.path} failed: its rows changed under three reads in a row; check what is rewriting the registry`);
}

/** The last row of a page and its digest (RegistrySource.rowDigest), taken in the same read as the page. */
export interface RowMark {
  rowid: number;
  digest: string;
}

/**
 * `readEventRows`, and the digest of the page's last row, in one read transaction: the digest is of that row as
 * it was read, whatever happens to the registry before the SIEM acknowledges it (see read-digests.ts).
 */
export function readEventPage(
  source: RegistrySource, after: number, upTo: number, limit: number, since: number | null,
): { rows: EventRow[]; mark: RowMark | null } {
  return source.snapshot(() => {
    const rows = readEventRows(source, after, upTo, limit, since);
    const last = rows[rows.length - 1];
    if (last === undefined) return { rows, mark: null };
    const rowid = rowidOfEventRow(last);
    const digest = source.rowDigest(rowid);
    return { rows, mark: digest === null ? null : { rowid, digest } };
  });
}

/** The rowid of a page row: the first member of the JSON read's array, or the ordinary row's first value. */
function rowidOfEventRow(row: EventRow): number {
  if (typeof row === 'string') return Number(row.slice(1, row.indexOf(',')));
  return row instanceof OversizeRow ? row.rowid : (row[0] as number);
}

/** Replace the rows the JSON read left to the ordinary one by their values; false if one of them is gone. */
function resolveOrdinary(source: RegistrySource, rows: EventRow[]): boolean {
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (typeof row !== 'number') continue;
    // The JSON read spells only rowids a JS number holds exactly; any other comes back rounded, and is refused.
    if (!Number.isSafeInteger(row)) source.refuseRowid(row);
    const values = source.readRange(row - 1, row, 1, null)[0];
    if (values === undefined) return false;
    rows[i] = values;
  }
  return true;
}

/**
 * One row of `readEventRows` as an event spelled in JSON, or the row over the size limit. A row read the
 * ordinary way is written into `into`; a row of the JSON read is a new object (see eventJsonFromRow).
 */
export function eventOf(row: EventRow, registryId: string, into: EventJson = blankEventJson()): EventJson | OversizeRow {
  if (typeof row === 'string') return eventJsonFromRow(row, registryId);
  if (row instanceof OversizeRow) return row;
  return eventJson(fromRegistryValues(row, registryId), into);
}
