/**
 * The registry's life while an export follows it: a restore puts a new file at the path, a rollback loses
 * rows, the file goes away, and the registry runs WAL checkpoints and VACUUM. Rows are never skipped or sent
 * twice without a word: the export reopens and carries on, or stops with one line that names the fix.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, outcome, registryIds, runCli, spawnCli, sqlRegistry, tempDir, waitFor, lastRowid } from './helpers.js';

const TOKEN = 'lifecycle-test-token-0c3d';

function follow(db: string, peer: HecPeer, state: string): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
  const child = spawnCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', state, '--follow', '--poll-interval', '50ms'],
    { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => {
    clearTimeout(killer);
    resolve(code);
  }));
  return { child, stderr: () => err, exit };
}

function insert(con: Database.Database, n: number, kind = 'dns'): void {
  const ins = con.prepare("INSERT INTO events (token_id,kind,source_ip,user_agent,extra,timestamp) VALUES ('live',?,'192.0.2.9','','{}',?)");
  for (let i = 0; i < n; i++) ins.run(kind, 1_800_000_000 + i);
}

/** Put `file` at `db` the way a restore does: the registry's old WAL files go, the new file is renamed in. */
function restoreOver(db: string, file: string): void {
  for (const suffix of ['-wal', '-shm']) fs.rmSync(db + suffix, { force: true });
  fs.renameSync(file, db);
}

/** A registry whose ids are reused after the newest rows are deleted (INTEGER PRIMARY KEY, no AUTOINCREMENT). */
function plainRegistry(n: number): string {
  const db = sqlRegistry(`CREATE TABLE events (id INTEGER PRIMARY KEY, token_id TEXT NOT NULL, kind TEXT NOT NULL, source_ip TEXT,
    user_agent TEXT, extra TEXT, timestamp INTEGER NOT NULL); PRAGMA journal_mode = WAL;`);
  const con = new Database(db);
  insert(con, n);
  con.close();
  return db;
}

describe('registry lifecycle under --follow', () => {
  it('reopens a registry restored as a new file that continues what was exported, and delivers each row once', async () => {
    const peer = await new HecPeer({ token: TOKEN }).start();
    const db = demoRegistry(20);
    const state = path.join(tempDir(), 'state.json');
    const run = follow(db, peer, state);
    try {
      await waitFor(() => peer.events.length === 20);
      const copy = path.join(path.dirname(db), 'restored.sqlite');
      const con = new Database(db);
      con.exec(`VACUUM INTO '${copy}'`);
      con.close();
      const restored = new Database(copy);
      insert(restored, 5);
      restored.close();
      restoreOver(db, copy);
      await waitFor(() => peer.events.length === 25);
      await waitFor(() => lastRowid(state) === 25);
      assert.match(run.stderr(), /registry .* was replaced by a new file: reopened it/);
      assert.deepEqual(peer.eventIds(), registryIds(db));
      run.child.kill('SIGTERM');
      assert.equal(await run.exit, 0, run.stderr());
    } finally {
      run.child.kill('SIGKILL');
      await peer.close();
    }
  });

  it('stops with one line when a restored file ends before what was exported', async () => {
    const peer = await new HecPeer({ token: TOKEN }).start();
    const db = demoRegistry(20);
    const state = path.join(tempDir(), 'state.json');
    const run = follow(db, peer, state);
    try {
      await waitFor(() => peer.events.length === 20);
      const copy = path.join(path.dirname(db), 'older.sqlite');
      const con = new Database(db);
      con.exec(`VACUUM INTO '${copy}'`);
      con.close();
      // A backup taken at the 12th event: its AUTOINCREMENT counter is where the registry's was then.
      const older = new Database(copy);
      older.exec("DELETE FROM events WHERE id > 12; UPDATE sqlite_sequence SET seq = 12 WHERE name = 'events'");
      older.close();
      restoreOver(db, copy);
      assert.equal(await run.exit, 1, run.stderr());
      const lines = outcome(run.stderr()).filter((l) => !l.includes('reopened it'));
      assert.equal(lines.length, 1, run.stderr());
      assert.match(lines[0]!, /^oversight: registry .* ends at rowid 12, before rowid 20 already read: it was rolled back; if the registry was restored from a backup, check which events it lost, then move --state .* away to export it from the start/);
      assert.equal(lastRowid(state), 20);
      assert.equal(peer.events.length, 20);
    } finally {
      run.child.kill('SIGKILL');
      await peer.close();
    }
  });

  it('stops with one line when rows already exported are rolled back and their ids written again', async () => {
    const peer = await new HecPeer({ token: TOKEN }).start();
    const db = plainRegistry(20);
    const state = path.join(tempDir(), 'state.json');
    const run = follow(db, peer, state);
    try {
      await waitFor(() => peer.events.length === 20);
      const con = new Database(db);
      con.transaction(() => {
        con.exec('DELETE FROM events WHERE id > 15');
        insert(con, 7, 'http');
      })();
      con.close();
      assert.equal(await run.exit, 1, run.stderr());
      const lines = outcome(run.stderr());
      assert.equal(lines.length, 1, run.stderr());
      assert.match(lines[0]!, /^oversight: registry .* holds another event at rowid 20 than the one already read: it was replaced or rolled back; /);
      assert.equal(lastRowid(state), 20);
      assert.equal(peer.events.length, 20, 'rows 21-22 would have been sent without their rolled-back predecessors');
    } finally {
      run.child.kill('SIGKILL');
      await peer.close();
    }
  });

  it('goes on when every row it delivered is pruned (AUTOINCREMENT), and delivers the events written after them', async () => {
    const peer = await new HecPeer({ token: TOKEN }).start();
    const db = demoRegistry(20);
    const state = path.join(tempDir(), 'state.json');
    const run = follow(db, peer, state);
    try {
      await waitFor(() => peer.events.length === 20);
      await waitFor(() => lastRowid(state) === 20);
      // A retention job on a quiet registry, through a compacted copy put in its place: no row left, the
      // AUTOINCREMENT counter still at 20. The follower checks the registry right after it says it reopened it.
      const copy = path.join(path.dirname(db), 'pruned.sqlite');
      const con = new Database(db);
      con.exec(`VACUUM INTO '${copy}'`);
      con.close();
      const pruned = new Database(copy);
      pruned.exec('DELETE FROM events');
      pruned.close();
      restoreOver(db, copy);
      await waitFor(() => run.stderr().includes('reopened it'));
      const registry = new Database(db);
      insert(registry, 3);
      registry.close();
      await waitFor(() => peer.events.length === 23);
      assert.deepEqual(peer.eventIds().slice(20), ['21', '22', '23']);
      await waitFor(() => lastRowid(state) === 23);
      run.child.kill('SIGTERM');
      assert.equal(await run.exit, 0, run.stderr());
      assert.doesNotMatch(run.stderr(), /rolled back/);
    } finally {
      run.child.kill('SIGKILL');
      await peer.close();
    }
  });

  it('stops with one line saying it may be pruning when every row is deleted from a table without AUTOINCREMENT', async () => {
    const peer = await new HecPeer({ token: TOKEN }).start();
    const db = plainRegistry(20);
    const state = path.join(tempDir(), 'state.json');
    const run = follow(db, peer, state);
    try {
      await waitFor(() => peer.events.length === 20);
      const con = new Database(db);
      con.exec('DELETE FROM events');
      con.close();
      assert.equal(await run.exit, 1, run.stderr());
      assert.deepEqual(outcome(run.stderr()).map((l) => l.replace(/ away to export .*/, '')), [
        `oversight: registry ${db} ends at rowid 0, before rowid 20 already read: it was rolled back, or its newest events were deleted ` +
          '(its table has no AUTOINCREMENT, so new events would take rowids already read); if the registry was restored from a backup, ' +
          `check which events it lost, then move --state ${state}`,
      ]);
      assert.equal(lastRowid(state), 20);
    } finally {
      run.child.kill('SIGKILL');
      await peer.close();
    }
  });

  it('stops with one line when the registry is deleted', async () => {
    const peer = await new HecPeer({ token: TOKEN }).start();
    const db = demoRegistry(10);
    const state = path.join(tempDir(), 'state.json');
    const run = follow(db, peer, state);
    try {
      await waitFor(() => peer.events.length === 10);
      for (const suffix of ['', '-wal', '-shm']) fs.rmSync(db + suffix, { force: true });
      assert.equal(await run.exit, 1, run.stderr());
      assert.deepEqual(outcome(run.stderr()), [
        `oversight: registry database ${db} was deleted while following it: restore it or point --db at where it moved, then start again`,
      ]);
      assert.equal(lastRowid(state), 10);
    } finally {
      run.child.kill('SIGKILL');
      await peer.close();
    }
  });

  it('loses nothing across WAL checkpoints, pruning of delivered rows and VACUUM', async () => {
    const peer = await new HecPeer({ token: TOKEN }).start();
    const db = plainRegistry(10);
    const state = path.join(tempDir(), 'state.json');
    const run = follow(db, peer, state);
    const written = registryIds(db);
    try {
      const con = new Database(db);
      con.pragma('busy_timeout = 5000');
      for (let round = 0; round < 6; round++) {
        insert(con, 30);
        con.pragma('wal_checkpoint(TRUNCATE)');
        const ids = (con.prepare('SELECT id FROM events WHERE id > ? ORDER BY id').pluck().all(Number(written[written.length - 1] ?? 0)) as number[]);
        written.push(...ids.map(String));
        await waitFor(() => peer.events.length === written.length);
        // The registry prunes rows it has delivered and compacts itself; rowids stay what they were.
        con.prepare('DELETE FROM events WHERE id <= ?').run(Number(written[written.length - 5]));
        con.exec('VACUUM');
      }
      con.close();
      assert.deepEqual(peer.eventIds(), written);
      await waitFor(() => lastRowid(state) === Number(written[written.length - 1]));
      run.child.kill('SIGTERM');
      assert.equal(await run.exit, 0, run.stderr());
      assert.doesNotMatch(run.stderr(), /replaced|rolled back/);
    } finally {
      run.child.kill('SIGKILL');
      await peer.close();
    }
  });

  it('between runs: refuses a state file whose last row the registry no longer holds as it was, and accepts one pruned away', async () => {
    const peer = await new HecPeer({ token: TOKEN }).start();
    try {
      const db = plainRegistry(20);
      const state = path.join(tempDir(), 'state.json');
      const args = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', state];
      const env = { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN } };
      assert.equal((await runCli(args, env)).code, 0);
      const con = new Database(db);
      con.transaction(() => {
        con.exec('DELETE FROM events WHERE id > 15');
        insert(con, 7, 'http');
      })();
      const refused = await runCli(args, env);
      assert.equal(refused.code, 2, refused.stderr);
      assert.deepEqual(outcome(refused.stderr), [
        `oversight: state file ${state} was written after another event at rowid 20 than the registry holds now: it was restored or rolled back; ` +
          'check which events it lost, then move the state file away to export it from the start, or restore the newer registry',
      ]);
      assert.equal(peer.events.length, 20);

      // Rows pruned up to and past the checkpoint: what follows it is new and goes out.
      con.exec('DELETE FROM events WHERE id <= 21');
      insert(con, 3);
      con.close();
      const pruned = await runCli(args, env);
      assert.equal(pruned.code, 0, pruned.stderr);
      assert.deepEqual(peer.eventIds().slice(20), ['22', '23', '24', '25']);
    } finally {
      await peer.close();
    }
  });

  it('between runs: starts after a checkpoint whose rows were all pruned (AUTOINCREMENT), and refuses, saying why, without AUTOINCREMENT', async () => {
    const peer = await new HecPeer({ token: TOKEN }).start();
    try {
      const env = { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN } };
      const args = (db: string, state: string): string[] =>
        ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', state];
      const db = demoRegistry(20);
      const state = path.join(tempDir(), 'state.json');
      assert.equal((await runCli(args(db, state), env)).code, 0);
      const con = new Database(db);
      con.exec('DELETE FROM events');
      const quiet = await runCli(args(db, state), env);
      assert.equal(quiet.code, 0, quiet.stderr);
      assert.deepEqual(outcome(quiet.stderr), ['exported 0 event(s) as splunk via splunk-hec']);
      insert(con, 2);
      con.close();
      assert.equal((await runCli(args(db, state), env)).code, 0);
      assert.deepEqual(peer.eventIds().slice(20), ['21', '22']);

      const plain = plainRegistry(20);
      const plainState = path.join(tempDir(), 'state.json');
      assert.equal((await runCli(args(plain, plainState), env)).code, 0);
      const p = new Database(plain);
      p.exec('DELETE FROM events');
      p.close();
      const refused = await runCli(args(plain, plainState), env);
      assert.equal(refused.code, 2, refused.stderr);
      assert.deepEqual(outcome(refused.stderr), [
        `oversight: state file ${plainState} is past the registry's last event (rowid 20): was the registry replaced, or its newest events ` +
          'deleted? Its table has no AUTOINCREMENT, so the next event would take rowid 1 and be skipped: move the state file away to export from the start',
      ]);
    } finally {
      await peer.close();
    }
  });
});
