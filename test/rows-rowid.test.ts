/**
 * Registry rows whatever their rowid: zero and negative rowids are exported in order, a column that takes the
 * name `rowid` does not reorder or hide rows, and rowids the cursor cannot hold are refused by name.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { jsonLines, runCli, spawnCli, sqlRegistry, tempDir, waitFor } from './helpers.js';

const COLUMNS = `token_id TEXT, file_id TEXT, recipient_id TEXT, issuer_id TEXT, kind TEXT, source_ip TEXT, user_agent TEXT,
  extra TEXT, timestamp INTEGER, qualified_timestamp TEXT, tlog_index INTEGER`;
const SCHEMA = `CREATE TABLE events (id INTEGER PRIMARY KEY, ${COLUMNS});`;

function insert(id: number | string, token: string): string {
  return `INSERT INTO events (id, token_id, kind, source_ip, user_agent, extra, timestamp) VALUES (${id}, '${token}', 'dns', '192.0.2.1', '', '{}', 1763856000);`;
}

const tokens = (stdout: string): unknown[] => jsonLines(stdout).map((r) => (r['TokenId'] as string | undefined) ?? r['token_id']);

describe('rows whatever their rowid', () => {
  // Inserted out of order: rowid order is -7, -1, 0, 1, 5.
  const db = sqlRegistry(SCHEMA + [insert(5, 'e'), insert(-7, 'a'), insert(0, 'c'), insert(-1, 'b'), insert(1, 'd')].join('\n'));

  for (const threads of ['1', '2']) {
    it(`exports rows with zero and negative rowids in rowid order (--threads ${threads}), and a checkpoint resumes after them`, async () => {
      const state = path.join(tempDir(), 'state.json');
      const args = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'sentinel', '--state', state, '--threads', threads];
      const r = await runCli(args);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(tokens(r.stdout), ['a', 'b', 'c', 'd', 'e']);
      assert.deepEqual(jsonLines(r.stdout).map((x) => x['EventId']), ['-7', '-1', '0', '1', '5']);
      assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, 5);
      const again = await runCli(args);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, '');
      assert.match(again.stderr, /exported 0 event\(s\)/);
    });
  }

  it('a state file written before negative rowids were followed still loads and resumes where it says', async () => {
    const dir = tempDir();
    const state = path.join(dir, 'state.json');
    fs.writeFileSync(state, JSON.stringify({
      version: 1, registry_id: 'reg', database: fs.realpathSync(db), last_rowid: 0, delivered_total: 3, updated_at: '2025-01-01T00:00:00.000Z',
    }));
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'sentinel', '--state', state]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(tokens(r.stdout), ['d', 'e']);
    const saved = JSON.parse(fs.readFileSync(state, 'utf8'));
    assert.equal(saved.last_rowid, 5);
    assert.equal(saved.delivered_total, 5);
  });

  it('a user column named rowid neither reorders nor hides rows: SQLite rowid order is read through _rowid_', async () => {
    // No id column: the rowid is implicit, and the column called rowid holds text that sorts the other way.
    const shadow = sqlRegistry(`CREATE TABLE events (rowid TEXT, ${COLUMNS});
      INSERT INTO events (rowid, token_id, kind, extra, timestamp) VALUES ('zz', 'first', 'dns', '{}', 1763856000);
      INSERT INTO events (rowid, token_id, kind, extra, timestamp) VALUES ('-5', 'second', 'dns', '{}', 1763856001);
      INSERT INTO events (rowid, token_id, kind, extra, timestamp) VALUES (NULL, 'third', 'dns', '{}', 1763856002);`);
    for (const threads of ['1', '2']) {
      const r = await runCli(['siem', 'export', '--db', shadow, '--registry-id', 'reg', '--format', 'sentinel', '--threads', threads]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(tokens(r.stdout), ['first', 'second', 'third']);
    }
  });

  it('rowid, _rowid_ and oid all taken by columns: the INTEGER PRIMARY KEY is the rowid; without one, one line and exit 2', async () => {
    const keyed = sqlRegistry(`CREATE TABLE events (id INTEGER PRIMARY KEY, rowid TEXT, _rowid_ TEXT, oid TEXT, ${COLUMNS});
      INSERT INTO events (id, rowid, _rowid_, oid, token_id, kind, extra, timestamp) VALUES (2, 'a', 'a', 'a', 'two', 'dns', '{}', 1);
      INSERT INTO events (id, rowid, _rowid_, oid, token_id, kind, extra, timestamp) VALUES (-3, 'b', 'b', 'b', 'minus-three', 'dns', '{}', 1);`);
    const ok = await runCli(['siem', 'export', '--db', keyed, '--registry-id', 'reg', '--format', 'sentinel']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(tokens(ok.stdout), ['minus-three', 'two']);

    const hidden = sqlRegistry(`CREATE TABLE events (ROWID TEXT, _rowid_ TEXT, Oid TEXT, ${COLUMNS});
      INSERT INTO events (token_id, kind, extra, timestamp) VALUES ('one', 'dns', '{}', 1);`);
    const r = await runCli(['siem', 'export', '--db', hidden, '--registry-id', 'reg', '--format', 'sentinel']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /columns named rowid, _rowid_ and oid/);
    assert.match(lines[0]!, /rename one of them/);
  });

  it('rowids beyond ±(2^53 − 1) are refused by name before anything is written', async () => {
    const huge = sqlRegistry(SCHEMA + [insert(1, 'ok'), insert('9223372036854775807', 'max'), insert('-9007199254740993', 'low')].join('\n'));
    const r = await runCli(['siem', 'export', '--db', huge, '--registry-id', 'reg', '--format', 'sentinel']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /rowid -9007199254740993, 9223372036854775807 are beyond/);
  });

  it('a follower that meets a rowid beyond 2^53 written after it started stops on it by name, with exit 2', async () => {
    const db = sqlRegistry(SCHEMA + [insert(1, 'a'), insert(2, 'b')].join('\n'));
    const out = path.join(tempDir(), 'out.jsonl');
    const follower = spawnCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'sentinel', '--output', out, '--follow', '--poll-interval', '100ms']);
    let stderr = '';
    follower.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => follower.on('close', (c) => r(c)));
    try {
      await waitFor(() => fs.existsSync(out) && jsonLines(fs.readFileSync(out, 'utf8')).length === 2);
      const con = new Database(db);
      con.exec(insert(3, 'c'));
      await waitFor(() => jsonLines(fs.readFileSync(out, 'utf8')).length === 3);
      // Read as JSON text, its rowid would come out rounded to 9007199254740992 and be sent as another event's.
      con.exec(insert('9007199254740993', 'huge'));
      con.close();
      const code = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 10_000))]);
      assert.equal(code, 2, stderr);
    } finally {
      if (follower.exitCode === null) follower.kill('SIGKILL');
    }
    assert.deepEqual(tokens(fs.readFileSync(out, 'utf8')), ['a', 'b', 'c']);
    const lines = stderr.trim().split('\n');
    assert.match(lines[lines.length - 1]!, /rowid 9007199254740993 are beyond/);
  });
});
