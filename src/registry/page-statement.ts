/**
 * A query that reads one page of rows. SQLite compiled a statement whose LIMIT is a bound parameter again on
 * every run (`sqlite3Reprepare` under `sqlite3_step`, with the same values bound each time), and for the long
 * JSON read that cost about a tenth of the time the rows took. So the page size that exports use is written
 * into the SQL, and a statement with a bound LIMIT is prepared only when another limit is asked for (the last
 * page of an export with `--limit`).
 */
import type Database from 'better-sqlite3';

export class PageStatement {
  private readonly fixed: Database.Statement;
  private bound: Database.Statement | null = null;

  /** `sql` ends where ` LIMIT n` goes; `pluck` gives one value per row, otherwise each row is an array of values. */
  constructor(
    private readonly db: Database.Database,
    private readonly sql: string,
    private readonly pageSize: number,
    private readonly pluck: boolean,
  ) {
    this.fixed = this.prepare(`${sql} LIMIT ${pageSize}`);
  }

  /** Up to `limit` rows; `params` are the query's own parameters, in order. */
  all(limit: number, ...params: unknown[]): unknown[] {
    if (limit === this.pageSize) return this.fixed.all(...params);
    this.bound ??= this.prepare(`${this.sql} LIMIT ?`);
    return this.bound.all(...params, limit);
  }

  private prepare(sql: string): Database.Statement {
    const s = this.db.prepare(sql);
    return this.pluck ? s.pluck(true) : s.raw(true);
  }
}
