/**
 * The registry reader. Opens the registry read-only (never a write, never a lock that blocks the registry's
 * writer), and reads `events` in rowid order a page at a time: each page is its own short read, so a live WAL
 * registry can checkpoint between pages and memory stays bounded however many events there are.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { ConfigurationError, ExportError, RegistryUnavailable } from './errors.js';
import { EVENT_COLUMNS, fromRegistryValues, type OversightEvent } from './event.js';
import { jsonRowSelect } from './row-json.js';

/**
 * Rows per read. Small pages keep few rows alive when the young generation is collected, which costs less than
 * the extra queries; pages of thousands of rows outlive it and make the export slower.
 */
export const PAGE_SIZE = 256;

export interface ReadOptions {
  /** Only events whose `timestamp` is at or after this Unix time (the reference's `--since`). */
  since?: number | null;
  /** Start after this rowid (the checkpoint cursor). */
  afterRowid?: number;
  /** Rows per read; each read is one short transaction. */
  pageSize?: number;
}

/** What `refresh` found: the same file, or a new file at the path that is now open instead. */
export type RegistryChange = 'same' | 'replaced';

export class RegistrySource {
  readonly path: string;
  // Not readonly: `refresh` swaps in a new connection when the file at `path` is replaced.
  private db: Database.Database;
  private pageStmt: Database.Statement;
  private pageSinceStmt: Database.Statement;
  private rangeStmt: Database.Statement;
  private rangeSinceStmt: Database.Statement;
  private rowStmt: Database.Statement;
  private jsonStmt: Database.Statement | null = null;
  private jsonSinceStmt: Database.Statement | null = null;
  /** Identity of the file opened, to notice a restore that puts a new file at the same path. */
  private fileId: string;

  private constructor(path: string, db: Database.Database, types: ReadonlyMap<string, string>, idIsRowid: boolean, fileId: string) {
    const columns = new Set(types.keys());
    this.path = path;
    this.db = db;
    this.fileId = fileId;
    // Missing optional columns read as NULL; a missing `id` reads as '' because the reference's
    // `d.get("id", "")` gives an empty event id there, not "None". An `id` that is the rowid is not read twice.
    const select = EVENT_COLUMNS.filter((c) => !(c === 'id' && idIsRowid)).map((c) =>
      columns.has(c) ? `"${c}"` : c === 'id' ? `'' AS "id"` : `NULL AS "${c}"`,
    ).join(', ');
    const base = `SELECT rowid, ${select} FROM events WHERE rowid > ?`;
    this.pageStmt = db.prepare(`${base} ORDER BY rowid LIMIT ?`).raw(true);
    this.pageSinceStmt = db.prepare(`${base} AND timestamp >= ? ORDER BY rowid LIMIT ?`).raw(true);
    this.rangeStmt = db.prepare(`${base} AND rowid <= ? ORDER BY rowid LIMIT ?`).raw(true);
    this.rangeSinceStmt = db.prepare(`${base} AND rowid <= ? AND timestamp >= ? ORDER BY rowid LIMIT ?`).raw(true);
    this.rowStmt = db.prepare(`SELECT rowid, ${select} FROM events WHERE rowid = ?`).raw(true);
    const json = jsonRowSelect(types, idIsRowid);
    if (json !== null) {
      const from = `SELECT ${json} FROM events WHERE rowid > ? AND rowid <= ?`;
      this.jsonStmt = db.prepare(`${from} ORDER BY rowid LIMIT ?`).pluck(true);
      this.jsonSinceStmt = db.prepare(`${from} AND timestamp >= ? ORDER BY rowid LIMIT ?`).pluck(true);
    }
  }

  /** Whether `readJsonRange` can be used on this registry (see row-json.ts). */
  get readsJson(): boolean {
    return this.jsonStmt !== null;
  }

  /**
   * Like `readRange`, each row as one JSON text for `eventJsonFromRow`, or as its bare rowid where the row must
   * be read with `readRange` instead.
   */
  readJsonRange(after: number, upTo: number, limit: number, since?: number | null): (string | number)[] {
    if (this.jsonStmt === null || this.jsonSinceStmt === null) throw new Error('this registry cannot be read as JSON rows');
    try {
      return (since === null || since === undefined
        ? this.jsonStmt.all(after, upTo, limit)
        : this.jsonSinceStmt.all(after, upTo, since, limit)) as (string | number)[];
    } catch (err) {
      throw new ExportError(`reading ${this.path} failed: ${sqliteReason(err)}`);
    }
  }

  /** Up to `limit` rows with rowid in (after, upTo], for readers that split the table into ranges. */
  readRange(after: number, upTo: number, limit: number, since?: number | null): unknown[][] {
    try {
      return (since === null || since === undefined
        ? this.rangeStmt.all(after, upTo, limit)
        : this.rangeSinceStmt.all(after, upTo, since, limit)) as unknown[][];
    } catch (err) {
      throw new ExportError(`reading ${this.path} failed: ${sqliteReason(err)}`);
    }
  }

  /** The largest rowid now in the table (0 when empty). */
  maxRowid(): number {
    return (this.db.prepare('SELECT coalesce(max(rowid), 0) AS m FROM events').get() as { m: number }).m;
  }

  /** Open and check a registry; every problem is a ConfigurationError naming the fix. */
  static open(path: string): RegistrySource {
    if (!path) throw new ConfigurationError('no registry database given: pass --db PATH');
    let stat: fs.Stats;
    try {
      stat = fs.statSync(path);
    } catch {
      throw new RegistryUnavailable(`registry database not found: ${path} (check --db)`);
    }
    if (!stat.isFile()) throw new ConfigurationError(`registry database is not a file: ${path} (check --db)`);
    const fileId = `${stat.dev}:${stat.ino}`;
    if (!hasSqliteHeader(path)) {
      throw new ConfigurationError(`${path} is not a SQLite database (check --db points at the registry's .sqlite file)`);
    }
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true });
      db.pragma('query_only = ON');
    } catch (err) {
      throw new RegistryUnavailable(`cannot open registry database ${path}: ${sqliteReason(err)}`);
    }
    try {
      const table = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'`).get() as
        | { sql: string }
        | undefined;
      if (!table) {
        throw new ConfigurationError(`${path} has no events table: is it an Oversight registry database? (check --db)`);
      }
      if (/WITHOUT\s+ROWID/i.test(table.sql)) {
        throw new ConfigurationError(`${path}: the events table is WITHOUT ROWID, so it has no insertion order to follow`);
      }
      const info = db.prepare(`SELECT name, type, pk FROM pragma_table_info('events')`).all() as { name: string; type: string; pk: number }[];
      const types = new Map(info.map((r) => [r.name, r.type]));
      const pks = info.filter((r) => r.pk > 0);
      const idIsRowid = pks.length === 1 && pks[0]!.name === 'id' && pks[0]!.type.toUpperCase() === 'INTEGER';
      return new RegistrySource(path, db, types, idIsRowid, fileId);
    } catch (err) {
      db.close();
      if (err instanceof ConfigurationError) throw err;
      throw new RegistryUnavailable(`cannot read registry database ${path}: ${sqliteReason(err)}`);
    }
  }

  /** Up to `limit` rows after `afterRowid`, as [rowid, ...EVENT_COLUMNS] value arrays. */
  readPage(afterRowid: number, limit: number, since?: number | null): unknown[][] {
    try {
      return (since === null || since === undefined
        ? this.pageStmt.all(afterRowid, limit)
        : this.pageSinceStmt.all(afterRowid, since, limit)) as unknown[][];
    } catch (err) {
      throw new ExportError(`reading ${this.path} failed: ${sqliteReason(err)}`);
    }
  }

  /** How many events a run would read; used only for the progress bar. */
  count(afterRowid: number, since?: number | null): number {
    const sql = since === null || since === undefined
      ? 'SELECT count(*) AS n FROM events WHERE rowid > ?'
      : 'SELECT count(*) AS n FROM events WHERE rowid > ? AND timestamp >= ?';
    const args = since === null || since === undefined ? [afterRowid] : [afterRowid, since];
    return (this.db.prepare(sql).get(...args) as { n: number }).n;
  }

  /** Events in rowid order, read a page at a time. */
  *events(registryId: string, options: ReadOptions & { limit?: number | null } = {}): Generator<OversightEvent> {
    const pageSize = options.pageSize ?? PAGE_SIZE;
    let cursor = options.afterRowid ?? 0;
    let left = options.limit ?? Infinity;
    while (left > 0) {
      const rows = this.readPage(cursor, Math.min(pageSize, left), options.since);
      for (const row of rows) yield fromRegistryValues(row, registryId);
      if (rows.length === 0) return;
      cursor = Number(rows[rows.length - 1]![0]);
      left -= rows.length;
      if (rows.length < pageSize && left > 0) return;
    }
  }

  /** One row by rowid, as `readPage` returns rows, or undefined when there is none. */
  readRow(rowid: number): unknown[] | undefined {
    try {
      return this.rowStmt.get(rowid) as unknown[] | undefined;
    } catch (err) {
      throw new ExportError(`reading ${this.path} failed: ${sqliteReason(err)}`);
    }
  }

  /**
   * A digest of the row at `rowid` as stored, or null when there is none: kept with the checkpoint, it tells at
   * the next start whether the registry still holds the row the export stopped after.
   */
  rowDigest(rowid: number): string | null {
    const row = this.readRow(rowid);
    return row === undefined ? null : createHash('sha256').update(JSON.stringify(row)).digest('hex');
  }

  /** Events after `afterRowid` still to export: how many, their rowid range, and the oldest one's timestamp. */
  pending(afterRowid: number, since?: number | null): { count: number; first: number | null; last: number | null; oldestTimestamp: number | null } {
    const filter = since === null || since === undefined ? '' : ' AND timestamp >= ?';
    const args = since === null || since === undefined ? [afterRowid] : [afterRowid, since];
    try {
      const r = this.db.prepare(`SELECT count(*) AS n, min(rowid) AS first, max(rowid) AS last FROM events WHERE rowid > ?${filter}`)
        .get(...args) as { n: number; first: number | null; last: number | null };
      let oldest: number | null = null;
      if (r.first !== null) {
        const t = this.db.prepare('SELECT * FROM events WHERE rowid = ?').get(r.first) as { timestamp?: unknown } | undefined;
        oldest = typeof t?.timestamp === 'number' ? t.timestamp : null;
      }
      return { count: r.n, first: r.first, last: r.last, oldestTimestamp: oldest };
    } catch (err) {
      throw new ExportError(`reading ${this.path} failed: ${sqliteReason(err)}`);
    }
  }

  /**
   * Notice what happened to the file at `path` since it was opened: the same file (new rows, a WAL checkpoint
   * or a VACUUM keep it), or a new file put there by a restore, which is opened in its place. Whether the new
   * file continues what was exported is the caller's to check. A registry that is gone stops the export.
   */
  refresh(): RegistryChange {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(this.path);
    } catch {
      throw new ExportError(
        `registry database ${this.path} was deleted while following it: restore it or point --db at where it moved, then start again`,
      );
    }
    if (`${stat.dev}:${stat.ino}` === this.fileId) return 'same';
    let next: RegistrySource;
    try {
      next = RegistrySource.open(this.path);
    } catch (err) {
      throw new ExportError(`registry database ${this.path} was replaced by a file that cannot be read: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.db.close();
    this.db = next.db;
    this.pageStmt = next.pageStmt;
    this.pageSinceStmt = next.pageSinceStmt;
    this.rangeStmt = next.rangeStmt;
    this.rangeSinceStmt = next.rangeSinceStmt;
    this.rowStmt = next.rowStmt;
    this.jsonStmt = next.jsonStmt;
    this.jsonSinceStmt = next.jsonSinceStmt;
    this.fileId = next.fileId;
    return 'replaced';
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function hasSqliteHeader(path: string): boolean {
  const fd = fs.openSync(path, 'r');
  try {
    const buf = Buffer.alloc(16);
    const n = fs.readSync(fd, buf, 0, 16, 0);
    // A zero-byte file is what SQLite itself treats as an empty database; it has no events table either way.
    return n === 0 || buf.toString('latin1', 0, 16) === 'SQLite format 3\0';
  } finally {
    fs.closeSync(fd);
  }
}

function sqliteReason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.message ? e.message.split('\n')[0]! : String(err);
}

/**
 * The reference's `iter_registry_events`: every event of a registry in order, read-only. The reference sorts
 * by timestamp; we follow insertion order (`events.id`), which a checkpoint can resume exactly.
 */
export function* iterRegistryEvents(
  dbPath: string,
  options: { registryId: string; since?: number | null; limit?: number | null },
): Generator<OversightEvent> {
  const source = RegistrySource.open(dbPath);
  try {
    yield* source.events(options.registryId, options);
  } finally {
    source.close();
  }
}
