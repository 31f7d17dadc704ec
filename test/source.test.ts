/** The registry reader: read-only, safe beside a live WAL writer, and tolerant of schema drift. */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { eventOf, readEventRows } from '../src/pipeline/event-rows.js';
import { fromRegistryValues, hasTime } from '../src/registry/event.js';
import { OversizeRow, ROWID_START } from '../src/registry/rows.js';
import { iterRegistryEvents, PAGE_SIZE, RegistrySource } from '../src/registry/source.js';
import { demoRegistry, jsonLines, runCli, spawnCli, sqlRegistry } from './helpers.js';

const digest = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('registry reader', () => {
  it('never writes to the registry', async () => {
    const db = sqlRegistry(
      "CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, timestamp INTEGER); INSERT INTO events VALUES (1,'dns',1700000000),(2,'ocsp',1700000001);",
    );
    const before = digest(db);
    const mtime = fs.statSync(db).mtimeMs;
    const r = await runCli(['siem', 'export', '--db', db, '--format', 'sentinel', '--registry-id', 'r']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(digest(db), before);
    assert.equal(fs.statSync(db).mtimeMs, mtime);
    assert.equal(fs.existsSync(db + '-wal'), false);
  });

  it('reads a WAL registry while its writer keeps writing, without ever blocking the writer', async () => {
    const db = demoRegistry(30_000);
    const writer = new Database(db);
    writer.pragma('journal_mode = WAL');
    writer.pragma('busy_timeout = 0');
    const insert = writer.prepare(
      "INSERT INTO events (token_id,kind,extra,timestamp) VALUES ('live','dns','{}',1800000000)",
    );
    const child = spawnCli(['siem', 'export', '--db', db, '--format', 'ecs', '--registry-id', 'r', '--output', '/dev/null']);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const done = new Promise<number | null>((resolve) => child.on('close', resolve));
    let writes = 0;
    let running = true;
    void done.then(() => (running = false));
    // Every insert must succeed at once (busy_timeout 0): a reader that blocked the writer would make one throw.
    while (running && writes < 5000) {
      insert.run();
      writes++;
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(await done, 0, stderr);
    writer.close();
    assert.ok(writes > 0);
    assert.match(stderr, /exported \d+ event\(s\) as ecs/);
  });

  it('tolerates missing optional columns and ignores extra ones', async () => {
    const db = sqlRegistry(
      "CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, timestamp INTEGER, shard TEXT); INSERT INTO events VALUES (1,'dns',1700000000,'a'),(2,'license',0,'b');",
    );
    for (const fmt of ['splunk', 'ecs', 'sentinel']) {
      const r = await runCli(['siem', 'export', '--db', db, '--format', fmt, '--registry-id', 'r']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(jsonLines(r.stdout).length, 2);
      assert.ok(!r.stdout.includes('shard'));
    }
    const [first] = jsonLines((await runCli(['siem', 'export', '--db', db, '--format', 'sentinel', '--registry-id', 'r'])).stdout);
    assert.deepEqual(first, {
      TimeGenerated: '2023-11-14T22:13:20Z', Schema: 'oversight-siem-1', RegistryId: 'r', EventId: '1', BeaconKind: 'dns', Action: 'beacon-dns-callback',
    });
  });

  it('streams in insertion order, across pages, lazily', () => {
    const db = demoRegistry(5_000);
    const it = iterRegistryEvents(db, { registryId: 'r' });
    const first = it.next();
    assert.equal(first.value?.event_id, '1');
    let last = 1;
    for (const e of it) {
      assert.equal(Number(e.event_id), last + 1);
      last++;
    }
    assert.equal(last, 5_000);
  });

  it('finds the earliest event time of a range as its events read it, whatever the stored types and their order', () => {
    // The last three are times no SIEM can hold (before year 1, after year 9999): they are no time, as exported.
    const stored = ['1700000500', '1700000100', "'  1700000050 '", '1700000040.9', "'soon'", "x'00'", 'NULL', '0', '1152921504606846976', '-1e999', "'1700000010'", '1700000020',
      '-62200000000', "'-62200000000'", '1763856000000'];
    const db = sqlRegistry(`CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, token_id TEXT, timestamp INTEGER);
      ${stored.map((t, i) => `INSERT INTO events VALUES (${i + 1}, 'dns', 't', ${t});`).join('\n')}`);
    const source = RegistrySource.open(db);
    try {
      // What the verifier compares against: the time of each event as the ordinary read gives it.
      const times = (after: number, upTo: number, until: number | null): number[] =>
        source.readRange(after, upTo, 100).map((row) => fromRegistryValues(row as unknown[], 'r').occurred_unix)
          .filter((t) => hasTime(t) && (until === null || t <= until));
      const earliest = (after: number, upTo: number, until: number | null): number | null => {
        const t = times(after, upTo, until);
        return t.length === 0 ? null : Math.min(...t);
      };
      let checked = 0;
      for (let after = 0; after < stored.length; after++) {
        for (let upTo = after + 1; upTo <= stored.length; upTo++) {
          for (const until of [null, 1700000045, 1700000000]) {
            assert.equal(source.earliestTime(after, upTo, until), earliest(after, upTo, until), `rows ${after + 1}-${upTo}, until ${until}`);
            checked++;
          }
        }
      }
      assert.equal(checked, 360);
      // Out of rowid order: the range's earliest is not its first row's.
      assert.equal(source.earliestTime(0, 2, null), 1700000100);
      assert.equal(source.earliestTime(0, stored.length, null), 1700000010);
      assert.equal(source.earliestTime(4, 8, null), null);
      assert.equal(source.earliestTime(12, stored.length, null), null, 'a time before year 1 bounds nothing');
    } finally {
      source.close();
    }
  });

  it('reads pages after a rowid cursor', () => {
    const db = demoRegistry(50);
    const src = RegistrySource.open(db);
    try {
      const page = src.readPage(10, 5);
      assert.deepEqual(page.map((r) => r[0]), [11, 12, 13, 14, 15]);
      assert.equal(src.count(45), 5);
    } finally {
      src.close();
    }
  });

  it('reads the same rows whether a page is of the usual size or any other', () => {
    // The usual page size is written into the SQL and any other limit is bound: both must read alike.
    const total = PAGE_SIZE * 2 + 7;
    const src = RegistrySource.open(demoRegistry(total));
    const ids = (rows: unknown[]): number[] => rows.map((r) => (typeof r === 'string' ? Number(r.slice(1, r.indexOf(','))) : (r as unknown[])[0] as number));
    const run = (from: number, n: number): number[] => Array.from({ length: Math.max(0, n) }, (_, i) => from + 1 + i);
    try {
      for (const [after, upTo] of [[0, PAGE_SIZE * 3], [5, 40], [PAGE_SIZE, total]] as const) {
        for (const limit of [1, 9, PAGE_SIZE - 1, PAGE_SIZE, PAGE_SIZE + 1]) {
          const want = run(after, Math.min(limit, upTo - after, total - after));
          assert.deepEqual(ids(src.readRange(after, upTo, limit)), want);
          assert.deepEqual(ids(src.readJsonRange(after, upTo, limit)), want);
          assert.deepEqual(ids(src.readPage(after, limit)), run(after, Math.min(limit, total - after)));
        }
      }
    } finally {
      src.close();
    }
  });

  it('the JSON read takes every row within the size limit, and only those, whichever columns hold the bytes', () => {
    // With a 1 KiB limit the JSON read's budget is 984 bytes of text, 109 a column: rows with one column over its
    // share but a total within the budget stay on the JSON read; the rest go the ordinary way, which applies the
    // limit to the row's stored bytes exactly (row 4 fits it, rows 5 and 6 do not).
    const db = sqlRegistry(
      `CREATE TABLE events (id INTEGER PRIMARY KEY, token_id TEXT, file_id TEXT, recipient_id TEXT, issuer_id TEXT, kind TEXT,
         source_ip TEXT, user_agent TEXT, extra TEXT, timestamp INTEGER, qualified_timestamp TEXT, tlog_index INTEGER);
       INSERT INTO events (id, token_id, kind, user_agent, extra, file_id, timestamp) VALUES
         (1, 't', 'dns', NULL, NULL, NULL, 1763856000),
         (2, 't', 'dns', printf('%.*c', 900, 'u'), NULL, NULL, 1763856000),
         (3, 't', 'dns', printf('%.*c', 500, 'u'), printf('{"q": "%.*c"}', 400, 'x'), 'f', 1763856000),
         (4, 't', 'dns', printf('%.*c', 990, 'u'), NULL, NULL, 1763856000),
         (5, 't', 'dns', printf('%.*c', 1030, 'u'), NULL, NULL, 1763856000),
         (6, 't', 'dns', printf('%.*c', 600, 'u'), printf('%.*c', 600, 'x'), NULL, 1763856000);`,
    );
    const source = RegistrySource.open(db, { maxRowBytes: 1024 });
    try {
      const kinds = source.readJsonRange(ROWID_START, Infinity, PAGE_SIZE).map((r) => typeof r === 'string' ? 'json' : r);
      assert.deepEqual(kinds, ['json', 'json', 'json', 4, 5, 6]);
      const rows = readEventRows(source, ROWID_START, Infinity, PAGE_SIZE, null).map((r) => eventOf(r, 'reg'));
      assert.deepEqual(rows.map((e) => e instanceof OversizeRow ? `over:${e.rowid}` : e.rowid), [1, 2, 3, 4, 'over:5', 'over:6']);
    } finally {
      source.close();
    }
  });

  describe('a row the JSON read leaves to the ordinary one', () => {
    // Row 2's timestamp is text, which only the ordinary read spells as the reference does.
    const registry = (): string => sqlRegistry(
      `CREATE TABLE events (id INTEGER PRIMARY KEY, token_id TEXT, file_id TEXT, recipient_id TEXT, issuer_id TEXT, kind TEXT,
         source_ip TEXT, user_agent TEXT, extra TEXT, timestamp INTEGER, qualified_timestamp TEXT, tlog_index INTEGER);
       INSERT INTO events (id, token_id, kind, timestamp) VALUES (1, 'a', 'dns', 1763856000), (2, 'b', 'dns', 'soon'), (3, 'c', 'dns', 1763856001);`,
    );
    const rowids = (rows: ReturnType<typeof readEventRows>): number[] => rows.map((r) => eventOf(r, 'reg').rowid);

    it('is read in the same call, and a page read again when it is gone by then (a rollback in between)', () => {
      const db = registry();
      const source = RegistrySource.open(db);
      assert.equal(source.readsJson, true);
      assert.deepEqual(rowids(readEventRows(source, ROWID_START, Infinity, PAGE_SIZE, null)), [1, 2, 3]);
      const writer = new Database(db);
      const ordinary = source.readRange.bind(source);
      let reads = 0;
      source.readRange = (after, upTo, limit, since) => {
        if (reads++ === 0) writer.exec('DELETE FROM events WHERE id = 2');
        return ordinary(after, upTo, limit, since);
      };
      try {
        assert.deepEqual(rowids(readEventRows(source, ROWID_START, Infinity, PAGE_SIZE, null)), [1, 3]);
        assert.equal(reads, 1);
      } finally {
        writer.close();
        source.close();
      }
    });

    it('a page whose rows keep changing under three reads stops the export with the reason', () => {
      const source = RegistrySource.open(registry());
      source.readRange = () => [];
      try {
        assert.throws(() => readEventRows(source, ROWID_START, Infinity, PAGE_SIZE, null), /its rows changed under three reads in a row/);
      } finally {
        source.close();
      }
    });
  });
});
