/**
 * The registry reader. Opens the registry read-only (never a write, never a lock that blocks the registry's
 * writer), and reads `events` in rowid order a page at a time: each page is its own short read, so a live WAL
 * registry can checkpoint between pages and memory stays bounded however many events there are.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { openDatabase } from './sqlite.js';
import { ConfigurationError, ExportError, RegistryUnavailable } from '../shared/errors.js';
import { EVENT_COLUMNS, eventIdOf, fromRegistryValues, hasTime, MAX_UNIX, MIN_UNIX, unixSeconds, type OversightEvent } from './event.js';
import { jsonRowSelect, TEXT_COLUMNS } from './row-json.js';
import { PageStatement } from './page-statement.js';
import { MAX_ROWID, parseMaxRowBytes, OversizeRow, ROWID_START, rowidName } from './rows.js';

/**
 * Rows per read. Small pages keep few rows alive when the young generation is collected, which costs less than
 * the extra queries; pages of thousands of rows outlive it and make the export slower.
 */
export const PAGE_SIZE = 256;

/**
 * How long one read waits for a writer's lock before it gives up: short, because the wait blocks the process,
 * signals included. Rollback-journal registries lock readers out while a writer commits; WAL registries never do.
 */
export const BUSY_TIMEOUT_MS = 1000;

/**
 * The same for a reader that waits out locks itself between reads (the export, see RegistryWait): a moment, so
 * that a stop is heard within it however long the lock lasts, well within a --shutdown-timeout of a second.
 */
export const LOCK_ATTEMPT_MS = 100;
const OPEN_BUSY_TIMEOUT_MS = 5000;

/**
 * SQLite's page cache per connection, in KiB. Reads go forward through the table, so a page is seldom wanted
 * twice; the operating system caches the file anyway. better-sqlite3's default of 16 MB per connection (one per
 * formatting thread) would only add to the resident size.
 */
const PAGE_CACHE_KIB = 2048;

/** A read refused because another process holds the registry locked: worth waiting for, not a failure yet. */
export class RegistryBusy extends RegistryUnavailable {
  override name = 'RegistryBusy';
}

/**
 * A read SQLite found malformed, or a file at the registry's path that cannot be opened after it changed: what a
 * reader sees while a backup is copied over the registry in place. A follower waits a while for it to read
 * whole again (see feeds.ts); anything else stops, as for any failed read.
 */
export class RegistryTorn extends ExportError {
  override name = 'RegistryTorn';
}

/** A page row: its values as `readPage` returns them, or a row too large to read (see rows.ts). */
export type RegistryRow = unknown[] | OversizeRow;

export interface OpenOptions {
  /** Rows whose stored values exceed this many bytes are returned as `OversizeRow`, unread; as a number or `--max-row-bytes` text. */
  maxRowBytes?: unknown;
  /**
   * How long opening waits for a writer's lock, blocking the process (signals included); a lock that outlasts it
   * is a RegistryBusy. The export waits out locks itself, a little at a time (LOCK_ATTEMPT_MS); default 5 s.
   */
  openBusyTimeoutMs?: number;
  /** How long each read after opening waits for a writer's lock, as `openBusyTimeoutMs`; default BUSY_TIMEOUT_MS. */
  busyTimeoutMs?: number;
}

export interface ReadOptions {
  /** Only events whose `timestamp` is at or after this Unix time (the reference's `--since`). */
  since?: number | null;
  /** Start after this rowid (the checkpoint cursor). */
  afterRowid?: number;
  /** Rows per read; each read is one short transaction. */
  pageSize?: number;
}

/**
 * What `refresh` found: nothing changed since the last look, the same file changed (new rows, a checkpoint, a
 * copy written over it), or a new file at the path that is now open instead.
 */
export type RegistryChange = 'unchanged' | 'same' | 'replaced';

export class RegistrySource {
  readonly path: string;
  // Not readonly: `refresh` swaps in a new connection when the file at `path` is replaced.
  private db: Database.Database;
  private pageStmt: PageStatement;
  private pageSinceStmt: PageStatement;
  private rangeStmt: PageStatement;
  private rangeSinceStmt: PageStatement;
  private rowStmt: Database.Statement;
  private jsonStmt: PageStatement | null = null;
  private jsonSinceStmt: PageStatement | null = null;
  /** Identity of the file opened, to notice a restore that puts a new file at the same path. */
  private fileId: string;
  /** Size and times of the file, and SQLite's data version, at the last look: see `refresh`. */
  private stamp: string;
  private version: number;
  private versionStmt: Database.Statement;
  private oldestStmt: Database.Statement;
  private sizeStmt: Database.Statement;
  private readonly rowidExpr: string;
  /** Whether the table has an `id` column (without one, every event id is ''). */
  private readonly hasId: boolean;
  private readonly hasTimestamp: boolean;
  private inTransaction: ((read: () => unknown) => unknown) | null = null;
  private readonly options: OpenOptions;
  /** Rows above this many stored bytes are not read (see rows.ts). */
  readonly maxRowBytes: number;

  private constructor(
    path: string, db: Database.Database, types: ReadonlyMap<string, string>, idIsRowid: boolean, stat: fs.Stats, rowid: string, options: OpenOptions,
  ) {
    const columns = new Set(types.keys());
    this.path = path;
    this.db = db;
    this.fileId = `${stat.dev}:${stat.ino}`;
    this.stamp = fileStamp(stat);
    this.options = options;
    this.rowidExpr = rowid;
    this.hasId = columns.has('id');
    this.hasTimestamp = columns.has('timestamp');
    const max = typeof options.maxRowBytes === 'number' ? options.maxRowBytes : parseMaxRowBytes(options.maxRowBytes);
    this.maxRowBytes = max;
    // Missing optional columns read as NULL; a missing `id` reads as '' because the reference's
    // `d.get("id", "")` gives an empty event id there, not "None". An `id` that is the rowid is not read twice.
    const wanted = EVENT_COLUMNS.filter((c) => !(c === 'id' && idIsRowid));
    const select = wanted.map((c) => columns.has(c) ? `"${c}"` : c === 'id' ? `'' AS "id"` : `NULL AS "${c}"`).join(', ');
    // Pages read each value only when it is within the row limit, and end with the row's stored size: no value
    // over the limit is copied out of SQLite (octet_length reads the size without the value).
    const present = wanted.filter((c) => columns.has(c));
    const size = present.length ? present.map((c) => `ifnull(octet_length("${c}"), 0)`).join(' + ') : '0';
    const guarded = wanted.map((c) => columns.has(c) ? `CASE WHEN octet_length("${c}") > ${max} THEN NULL ELSE "${c}" END` : c === 'id' ? `''` : 'NULL').join(', ');
    const base = `SELECT ${rowid}, ${guarded}, ${size} FROM events WHERE ${rowid} > ?`;
    this.pageStmt = new PageStatement(db, `${base} ORDER BY ${rowid}`, PAGE_SIZE, false);
    this.pageSinceStmt = new PageStatement(db, `${base} AND timestamp >= ? ORDER BY ${rowid}`, PAGE_SIZE, false);
    this.rangeStmt = new PageStatement(db, `${base} AND ${rowid} <= ? ORDER BY ${rowid}`, PAGE_SIZE, false);
    this.rangeSinceStmt = new PageStatement(db, `${base} AND ${rowid} <= ? AND timestamp >= ? ORDER BY ${rowid}`, PAGE_SIZE, false);
    // Unguarded and without the size: the checkpoint's digest is of the row exactly as earlier versions read it.
    this.rowStmt = db.prepare(`SELECT ${rowid}, ${select} FROM events WHERE ${rowid} = ?`).raw(true);
    this.versionStmt = db.prepare('PRAGMA data_version').pluck(true);
    this.sizeStmt = db.prepare(`SELECT ${size} FROM events WHERE ${rowid} = ?`).pluck(true);
    this.oldestStmt = db.prepare(`SELECT ${columns.has('timestamp') ? '"timestamp"' : 'NULL'} AS timestamp FROM events WHERE ${rowid} = ?`);
    this.version = this.versionStmt.get() as number;
    // The JSON read takes only rows whose timestamp and tlog_index are integers (at most 20 bytes each, as
    // octet_length counts them), so the text columns alone, with 40 bytes to spare, decide the limit: fewer
    // columns to visit per row. A row near the limit goes the ordinary way, which applies it exactly.
    // The exact sum is asked only of a row with a column over its share of the budget (no row can exceed the
    // budget without one): nine size calls a row instead of nine calls and their sum, 4% of the read (counted).
    const text = TEXT_COLUMNS.filter((c) => columns.has(c));
    const budget = max - 2 * 20;
    const share = Math.floor(budget / Math.max(1, text.length));
    const textSize = text.map((c) => `ifnull(octet_length("${c}"), 0)`).join(' + ') || '0';
    const oversize = text.length ? `(${text.map((c) => `octet_length("${c}") > ${share}`).join(' OR ')}) AND ${textSize} > ${budget}` : '0';
    const json = jsonRowSelect(types, idIsRowid, rowid, oversize);
    if (json !== null) {
      const from = `SELECT ${json} FROM events WHERE ${rowid} > ? AND ${rowid} <= ?`;
      this.jsonStmt = new PageStatement(db, `${from} ORDER BY ${rowid}`, PAGE_SIZE, true);
      this.jsonSinceStmt = new PageStatement(db, `${from} AND timestamp >= ? ORDER BY ${rowid}`, PAGE_SIZE, true);
    }
  }

  /**
   * Page rows as callers want them: the size column taken off, a row over the limit replaced by its
   * `OversizeRow`, and a rowid the cursor cannot hold exactly refused by name.
   */
  private finish(rows: unknown[][]): RegistryRow[] {
    const out: RegistryRow[] = rows;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const bytes = row.pop() as number;
      const rowid = row[0] as number;
      if (!Number.isSafeInteger(rowid)) this.refuseRowid(rowid);
      if (bytes > this.maxRowBytes) {
        const id = row.length > 12 ? row[12] : rowid;
        out[i] = new OversizeRow(rowid, id === null || id === undefined ? String(rowid) : String(id), bytes, this.maxRowBytes);
      }
    }
    return out;
  }

  /**
   * Refuse a rowid beyond ±2^53 met while reading (a row written since the registry was opened), naming the rowids
   * as they are: `rounded` is what a JS number made of one.
   */
  refuseRowid(rounded: number): never {
    try {
      checkRowidRange(this.path, this.db, this.rowidExpr);
    } catch (err) {
      throw err instanceof Database.SqliteError ? readFailed(this.path, err) : err;
    }
    throw unsafeRowids(this.path, String(rounded));
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
        ? this.jsonStmt.all(limit, after, upTo)
        : this.jsonSinceStmt.all(limit, after, upTo, since)) as (string | number)[];
    } catch (err) {
      throw readFailed(this.path, err);
    }
  }

  /** Up to `limit` rows with rowid in (after, upTo], for readers that split the table into ranges. */
  readRange(after: number, upTo: number, limit: number, since?: number | null): RegistryRow[] {
    let rows: unknown[][];
    try {
      rows = (since === null || since === undefined
        ? this.rangeStmt.all(limit, after, upTo)
        : this.rangeSinceStmt.all(limit, after, upTo, since)) as unknown[][];
    } catch (err) {
      throw readFailed(this.path, err);
    }
    return this.finish(rows);
  }

  /** The largest rowid now in the table (0 when empty). */
  maxRowid(): number {
    try {
      return (this.db.prepare(`SELECT coalesce(max(${this.rowidExpr}), 0) AS m FROM events`).get() as { m: number }).m;
    } catch (err) {
      throw readFailed(this.path, err);
    }
  }

  /**
   * The largest rowid the registry ever gave an event, kept by SQLite in `sqlite_sequence` when the table declares
   * AUTOINCREMENT (the Oversight registry's does): such a rowid is never given again, even once the newest rows
   * are deleted, so rows missing at or below it were pruned, while a restored backup brings its own lower value.
   * Null for a table without AUTOINCREMENT, whose rowids after the newest one are given again.
   */
  lastAssigned(): number | null {
    try {
      const sql = this.db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'`).pluck(true).get();
      if (typeof sql !== 'string' || !/\bAUTOINCREMENT\b/i.test(sql)) return null;
      // The row is written with the first event: a table that never had one has given out no rowid.
      const seq = this.db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'events'`).pluck(true).get();
      return typeof seq === 'number' ? seq : 0;
    } catch (err) {
      throw readFailed(this.path, err);
    }
  }

  /**
   * `read` within one read transaction: every statement in it sees the registry as one commit left it, whatever
   * a writer or a restore does meanwhile. Kept short (a page and a row), so a WAL registry can still checkpoint.
   */
  snapshot<T>(read: () => T): T {
    try {
      // One wrapper for every snapshot: better-sqlite3 builds a new one (five functions) for each `transaction` call.
      this.inTransaction ??= this.db.transaction((f: () => unknown) => f());
      return this.inTransaction(read) as T;
    } catch (err) {
      // The reads' own failures are already named; what is left is SQLite's, from opening or ending the transaction.
      throw err instanceof ConfigurationError ? err : readFailed(this.path, err);
    }
  }

  /**
   * More rows than the table can hold, from the database's size alone (no row is read): every row takes at least
   * 8 bytes of a page (its cell pointer, lengths, rowid and a record header of a byte per column).
   */
  rowsAtMost(): number {
    try {
      const pages = this.db.pragma('page_count', { simple: true }) as number;
      const size = this.db.pragma('page_size', { simple: true }) as number;
      return Math.ceil((pages * size) / 8);
    } catch (err) {
      throw readFailed(this.path, err);
    }
  }

  /** The first and last rowid now in the table, or null when it is empty. */
  bounds(): { first: number; last: number } | null {
    try {
      // One aggregate per query: SQLite reads min() or max() off the end of the b-tree only when it is alone.
      const end = (agg: 'min' | 'max'): number | null => this.db.prepare(`SELECT ${agg}(${this.rowidExpr}) FROM events`).pluck(true).get() as number | null;
      const first = end('min');
      const last = end('max');
      return first === null || last === null ? null : { first, last };
    } catch (err) {
      throw readFailed(this.path, err);
    }
  }

  /** Open and check a registry; every problem is a ConfigurationError naming the fix. */
  static open(path: string, options: OpenOptions = {}): RegistrySource {
    if (!path) throw new ConfigurationError('no registry database given: pass --db PATH');
    let stat: fs.Stats;
    try {
      stat = fs.statSync(path);
    } catch {
      throw new RegistryUnavailable(`registry database not found: ${path} (check --db)`);
    }
    if (!stat.isFile()) throw new ConfigurationError(`registry database is not a file: ${path} (check --db)`);
    if (!hasSqliteHeader(path)) {
      throw new ConfigurationError(`${path} is not a SQLite database (check --db points at the registry's .sqlite file)`);
    }
    let db: Database.Database;
    try {
      // Opening waits for a writer's lock 5 s unless told otherwise; reads after it only briefly (see BUSY_TIMEOUT_MS).
      db = openDatabase(path, { readonly: true, fileMustExist: true, timeout: options.openBusyTimeoutMs ?? OPEN_BUSY_TIMEOUT_MS });
    } catch (err) {
      throw new RegistryUnavailable(`cannot open registry database ${path}: ${sqliteReason(err)}`);
    }
    try {
      db.pragma('query_only = ON');
      // Reads the schema: the first statement a writer's lock holds up.
      db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    } catch (err) {
      db.close();
      const failed = readFailed(path, err);
      if (failed instanceof RegistryBusy) throw failed;
      throw new RegistryUnavailable(`cannot open registry database ${path}: ${sqliteReason(err)}`);
    }
    try {
      const table = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'`).get() as
        | { sql: string }
        | undefined;
      if (!table) {
        // A registry whose server has not made its schema yet (first boot) is not ready; a wrong file never will be:
        // follow mode waits and says so, a one-shot export fails (exit 1).
        throw new RegistryUnavailable(`${path} has no events table: is it an Oversight registry database? (check --db)`);
      }
      if (/WITHOUT\s+ROWID/i.test(table.sql)) {
        throw new ConfigurationError(`${path}: the events table is WITHOUT ROWID, so it has no insertion order to follow`);
      }
      const info = db.prepare(`SELECT name, type, pk FROM pragma_table_info('events')`).all() as { name: string; type: string; pk: number }[];
      const types = new Map(info.map((r) => [r.name, r.type]));
      const pks = info.filter((r) => r.pk > 0);
      const integerKey = pks.length === 1 && pks[0]!.type.toUpperCase() === 'INTEGER' ? pks[0]!.name : null;
      const idIsRowid = integerKey === 'id';
      const rowid = rowidName(types.keys(), integerKey);
      if (rowid === null) {
        throw new ConfigurationError(
          `${path}: the events table has columns named rowid, _rowid_ and oid, so SQLite's row order cannot be read: rename one of them in a copy of the registry`,
        );
      }
      checkRowidRange(path, db, rowid);
      const source = new RegistrySource(path, db, types, idIsRowid, stat, rowid, options);
      db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? BUSY_TIMEOUT_MS}`);
      return source;
    } catch (err) {
      db.close();
      if (err instanceof ConfigurationError || err instanceof RegistryUnavailable) throw err;
      // A lock is no mistake in the setup: a later start (or, following, the next poll) gets through.
      if (readFailed(path, err) instanceof RegistryBusy) throw readFailed(path, err);
      throw new RegistryUnavailable(`cannot read registry database ${path}: ${sqliteReason(err)}`);
    }
  }

  /** Up to `limit` rows after `afterRowid`, as [rowid, ...EVENT_COLUMNS] value arrays (or `OversizeRow`s). */
  readPage(afterRowid: number, limit: number, since?: number | null): RegistryRow[] {
    let rows: unknown[][];
    try {
      rows = (since === null || since === undefined
        ? this.pageStmt.all(limit, afterRowid)
        : this.pageSinceStmt.all(limit, afterRowid, since)) as unknown[][];
    } catch (err) {
      throw readFailed(this.path, err);
    }
    return this.finish(rows);
  }

  /** How many events a run would read; used only for the progress bar. */
  count(afterRowid: number, since?: number | null): number {
    const r = this.rowidExpr;
    const sql = since === null || since === undefined
      ? `SELECT count(*) AS n FROM events WHERE ${r} > ?`
      : `SELECT count(*) AS n FROM events WHERE ${r} > ? AND timestamp >= ?`;
    const args = since === null || since === undefined ? [afterRowid] : [afterRowid, since];
    try {
      return (this.db.prepare(sql).get(...args) as { n: number }).n;
    } catch (err) {
      throw readFailed(this.path, err);
    }
  }

  /** Events in rowid order, read a page at a time; a row over the size limit stops the reading with its reason. */
  *events(registryId: string, options: ReadOptions & { limit?: number | null } = {}): Generator<OversightEvent> {
    const pageSize = options.pageSize ?? PAGE_SIZE;
    let cursor = options.afterRowid ?? ROWID_START;
    let left = options.limit ?? Infinity;
    while (left > 0) {
      const rows = this.readPage(cursor, Math.min(pageSize, left), options.since);
      for (const row of rows) {
        if (row instanceof OversizeRow) throw new ExportError(row.stop);
        yield fromRegistryValues(row, registryId);
      }
      if (rows.length === 0) return;
      cursor = rowidOf(rows[rows.length - 1]!);
      left -= rows.length;
      if (rows.length < pageSize && left > 0) return;
    }
  }

  /** One row by rowid, in full, as `readPage` returns rows, or undefined when there is none. */
  readRow(rowid: number): unknown[] | undefined {
    try {
      return this.rowStmt.get(rowid) as unknown[] | undefined;
    } catch (err) {
      throw readFailed(this.path, err);
    }
  }

  /**
   * Which of these event ids (as the exporter spells them) the registry holds, at any rowid. The registry's own
   * `id` is its INTEGER PRIMARY KEY, so each is one lookup by key; an id column of another kind is read through.
   * A number is matched as a number and as text, then each match is spelt again and compared, so '05' is not 5.
   */
  heldEventIds(ids: readonly string[]): Set<string> {
    const held = new Set<string>();
    if (!this.hasId) {
      if (ids.includes('')) held.add('');
      return held;
    }
    const wanted = new Set(ids);
    const values: (string | number)[] = [];
    for (const id of wanted) {
      values.push(id);
      const n = Number(id);
      if (id !== '' && Number.isFinite(n) && String(n) === id) values.push(n);
    }
    try {
      if (values.length > 0) {
        const found = this.db.prepare(`SELECT "id" FROM events WHERE "id" IN (${values.map(() => '?').join(',')})`).pluck(true).all(...values);
        for (const v of found) if (wanted.has(eventIdOf(v))) held.add(eventIdOf(v));
      }
      if (wanted.has('None') && this.db.prepare('SELECT 1 FROM events WHERE "id" IS NULL LIMIT 1').get() !== undefined) held.add('None');
    } catch (err) {
      throw readFailed(this.path, err);
    }
    return held;
  }

  /**
   * A digest of the row at `rowid` as stored, or null when there is none: kept with the checkpoint, it tells at
   * the next start whether the registry still holds the row the export stopped after.
   */
  rowDigest(rowid: number): string | null {
    // A row over the size limit is not read in full for this either: its rowid and size stand for it.
    let big: number | undefined;
    try {
      big = this.sizeStmt.get(rowid) as number | undefined;
    } catch (err) {
      throw readFailed(this.path, err);
    }
    if (big !== undefined && big > this.maxRowBytes) return createHash('sha256').update(JSON.stringify(['oversize', rowid, big])).digest('hex');
    const row = this.readRow(rowid);
    return row === undefined ? null : createHash('sha256').update(JSON.stringify(row)).digest('hex');
  }

  /**
   * Events after `afterRowid` still to export, up to rowid `upTo` when given: how many, their rowid range, and
   * the oldest one's timestamp.
   */
  pending(
    afterRowid: number,
    since?: number | null,
    upTo?: number | null,
  ): { count: number; first: number | null; last: number | null; oldestTimestamp: number | null } {
    const rowid = this.rowidExpr;
    const hasSince = since !== null && since !== undefined;
    const hasEnd = upTo !== null && upTo !== undefined;
    const filter = (hasSince ? ' AND timestamp >= ?' : '') + (hasEnd ? ` AND ${rowid} <= ?` : '');
    const args = [afterRowid, ...(hasSince ? [since] : []), ...(hasEnd ? [upTo] : [])];
    try {
      const r = this.db.prepare(`SELECT count(*) AS n, min(${rowid}) AS first, max(${rowid}) AS last FROM events WHERE ${rowid} > ?${filter}`)
        .get(...args) as { n: number; first: number | null; last: number | null };
      let oldest: number | null = null;
      if (r.first !== null) {
        // Only the timestamp: the row may be far over the row limit.
        const t = this.oldestStmt.get(r.first) as { timestamp?: unknown } | undefined;
        oldest = typeof t?.timestamp === 'number' ? t.timestamp : null;
      }
      return { count: r.n, first: r.first, last: r.last, oldestTimestamp: oldest };
    } catch (err) {
      throw readFailed(this.path, err);
    }
  }

  /**
   * The earliest event time among rows with rowid in (after, upTo] (and at or before `until` when given), in Unix
   * seconds as events read it (`unixSeconds`), or null when none has a time (`hasTime`: 0 and times outside years
   * 1 to 9999 are none, as the formatters write them). Registry times need not follow rowids (a clock stepped
   * back, rows copied in later), so the first rows of a range need not hold it.
   */
  earliestTime(after: number, upTo: number, until: number | null): number | null {
    if (!this.hasTimestamp) return null;
    const range = `${this.rowidExpr} > ? AND ${this.rowidExpr} <= ?`;
    // Exact integers (every row a registry writes) are compared in SQL; anything else (text, reals, integers
    // beyond 2^53) is read as unixSeconds reads it, in a second pass made only when the first counted some.
    const plain = `typeof("timestamp") = 'integer' AND "timestamp" BETWEEN -9007199254740991 AND 9007199254740991`;
    try {
      const r = this.db.prepare(
        `SELECT min(CASE WHEN ${plain} AND "timestamp" <> 0 AND "timestamp" BETWEEN ${MIN_UNIX} AND ${MAX_UNIX}${until === null ? '' : ' AND "timestamp" <= ?'} THEN "timestamp" END) AS lo,
          count(CASE WHEN NOT (${plain}) AND "timestamp" IS NOT NULL THEN 1 END) AS odd FROM events WHERE ${range}`,
      ).get(...(until === null ? [after, upTo] : [until, after, upTo])) as { lo: number | null; odd: number };
      let lo = r.lo;
      if (r.odd > 0) {
        const odd = this.db.prepare(`SELECT "timestamp" FROM events WHERE ${range} AND NOT (${plain}) AND "timestamp" IS NOT NULL`).pluck(true);
        for (const v of odd.iterate(after, upTo)) {
          const t = unixSeconds(v || 0);
          if (hasTime(t) && (until === null || t <= until) && (lo === null || t < lo)) lo = t;
        }
      }
      return lo;
    } catch (err) {
      throw readFailed(this.path, err);
    }
  }

  /** The rowid of the `n`th event after `afterRowid` in reading order (`afterRowid` for 0), or null when there are fewer. */
  nthRowid(afterRowid: number, n: number, since?: number | null): number | null {
    const rowid = this.rowidExpr;
    const filter = since === null || since === undefined ? '' : ' AND timestamp >= ?';
    const args = since === null || since === undefined ? [afterRowid] : [afterRowid, since];
    if (n < 1) return afterRowid;
    try {
      const r = this.db.prepare(`SELECT ${rowid} AS r FROM events WHERE ${rowid} > ?${filter} ORDER BY ${rowid} LIMIT 1 OFFSET ?`)
        .get(...args, n - 1) as { r: number } | undefined;
      return r?.r ?? null;
    } catch (err) {
      throw readFailed(this.path, err);
    }
  }

  /**
   * Notice what happened to the file at `path` since the last look: nothing ('unchanged': no commit SQLite saw,
   * and the file's size and times are the same), the same file changed ('same': new rows, a checkpoint, a
   * VACUUM, or a copy written over it in place, after which the connection is opened again because SQLite's
   * cache cannot know of it), or a new file put there by a restore ('replaced'), opened in its place. Whether the
   * changed file continues what was exported is the caller's to check. A registry that is gone stops the export.
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
    const stamp = fileStamp(stat);
    if (`${stat.dev}:${stat.ino}` !== this.fileId) {
      this.reopen('replaced by a file that cannot be read');
      return 'replaced';
    }
    let version: number;
    try {
      version = this.versionStmt.get() as number;
    } catch (err) {
      throw readFailed(this.path, err);
    }
    if (stamp === this.stamp && version === this.version) return 'unchanged';
    // The file changed but SQLite saw no commit: written over in place (cp, a restore tool), or a WAL checkpoint.
    // Either way a fresh connection reads what the file holds now; the old one could serve cached pages.
    if (stamp !== this.stamp && version === this.version) this.reopen('rewritten in place and cannot be read now');
    else {
      this.stamp = stamp;
      this.version = version;
    }
    return 'same';
  }

  /** Open the file at `path` again and take over the new connection and statements. */
  private reopen(why: string): void {
    let next: RegistrySource;
    try {
      next = RegistrySource.open(this.path, this.options);
    } catch (err) {
      if (err instanceof RegistryBusy) throw err;
      throw new RegistryTorn(`registry database ${this.path} was ${why}: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.db.close();
    // Statements and file identity are per connection: take them all (the rowid name and limits stay the same).
    Object.assign(this, next);
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

/** Size, modification and change times: what a write to the file changes, by SQLite or by anything else. */
function fileStamp(stat: fs.Stats): string {
  return `${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
}

/** A failed read: RegistryBusy when a writer holds the registry locked, else an ExportError naming the reason. */
function readFailed(path: string, err: unknown): ExportError {
  if (err instanceof ExportError) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code)) {
    return new RegistryBusy(`registry ${path} is locked by another process (${sqliteReason(err)})`);
  }
  if (typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code)) return new RegistryTorn(`reading ${path} failed: ${sqliteReason(err)}`);
  return new ExportError(`reading ${path} failed: ${sqliteReason(err)}`);
}

function unsafeRowids(path: string, which: string): ConfigurationError {
  return new ConfigurationError(
    `${path}: events rows with rowid ${which} are beyond ±${MAX_ROWID}, which the export cannot follow exactly: ` +
      'give those rows smaller rowids in a copy of the registry and export the copy',
  );
}

/** Refuse, by name, rows whose rowid a JS number cannot hold: they would be read out of order or twice. */
function checkRowidRange(path: string, db: Database.Database, rowid: string): void {
  // The ends of the rowid b-tree first: two lookups, whatever the size of the table. (SQLite answers min() or
  // max() from the b-tree only when the query has that one aggregate; both in one query scan every row.)
  const end = (agg: 'min' | 'max'): bigint | null =>
    db.prepare(`SELECT ${agg}(${rowid}) FROM events`).safeIntegers(true).pluck(true).get() as bigint | null;
  const ends = { lo: end('min'), hi: end('max') };
  const limit = BigInt(MAX_ROWID);
  if (ends.lo === null || ends.hi === null || (ends.lo >= -limit && ends.hi <= limit)) return;
  const list = (sql: string, bound: bigint): bigint[] => db.prepare(sql).safeIntegers(true).pluck(true).all(bound) as bigint[];
  const bad = [
    ...list(`SELECT ${rowid} FROM events WHERE ${rowid} < ? ORDER BY ${rowid} LIMIT 4`, -limit),
    ...list(`SELECT ${rowid} FROM events WHERE ${rowid} > ? ORDER BY ${rowid} DESC LIMIT 4`, limit),
  ];
  const named = bad.slice(0, 3).map(String).join(', ');
  throw unsafeRowids(path, bad.length > 3 ? `${named} and more` : named);
}

/** The rowid of a page row. */
export function rowidOf(row: RegistryRow): number {
  return row instanceof OversizeRow ? row.rowid : (row[0] as number);
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
