/**
 * Follow mode against hostile registries: a rollback-journal registry locked by its writer for 12 s, a WAL
 * registry copied over in place, and an idle registry whose newest row is large.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { demoRegistry, jsonLines, ROOT, sleep, spawnCli, tempDir, waitFor } from './helpers.js';
import { cpuSeconds, setExtra, wideObject } from './rows-support.js';

/** A writer that takes the registry's write lock, adds `n` rows, and holds the lock `holdMs` before committing. */
const LOCKER = `
import Database from 'better-sqlite3';
const [db, n, hold] = process.argv.slice(1);
const con = new Database(db);
con.exec('BEGIN EXCLUSIVE');
const ins = con.prepare("INSERT INTO events (token_id,kind,source_ip,user_agent,extra,timestamp) VALUES ('locked','dns','192.0.2.9','','{}',1763856000)");
for (let i = 0; i < Number(n); i++) ins.run();
console.log('locked');
await new Promise((r) => setTimeout(r, Number(hold)));
con.exec('COMMIT');
con.close();
console.log('committed');
`;

/** The complete lines of a file being written (a line still being written is not one yet). */
function lines(file: string): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  return jsonLines(text.slice(0, text.lastIndexOf('\n') + 1));
}

async function stop(child: ChildProcess): Promise<number | null> {
  // A follower that already ended says how; waiting for its close event then would wait forever.
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  child.kill('SIGTERM');
  return closed;
}

/** A copy of `db` at `file` with `extra` more rows: a newer registry written elsewhere (a backup, a replica). */
function newerCopy(db: string, file: string, extra: number): void {
  fs.copyFileSync(db, file);
  const n = new Database(file);
  const ins = n.prepare("INSERT INTO events (token_id,kind,source_ip,user_agent,extra,timestamp) VALUES ('copied','dns','192.0.2.9','','{}',1763856000)");
  n.transaction(() => { for (let i = 0; i < extra; i++) ins.run(); })();
  n.pragma('wal_checkpoint(TRUNCATE)');
  n.close();
}

/** A follower exporting `db` as ECS lines to `out` (polling every 100 ms unless `flags` say otherwise), and its stderr so far. */
function follow(db: string, out: string, flags = ['--poll-interval', '100ms']): { follower: ChildProcess; stderr: () => string } {
  const follower = spawnCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', out, '--follow', ...flags]);
  let text = '';
  follower.stderr!.on('data', (d) => (text += d));
  return { follower, stderr: () => text };
}

describe('follow mode and hostile registries', () => {
  it('a rollback-journal registry locked by a writer for 12 s: the follower waits, says so, then exports the rows', async () => {
    const db = demoRegistry(10);
    const con = new Database(db);
    con.pragma('journal_mode = DELETE');
    con.close();
    const out = path.join(tempDir(), 'out.jsonl');
    const { follower, stderr } = follow(db, out);
    try {
      await waitFor(() => lines(out).length === 10);
      const writer = spawn(process.execPath, ['--input-type=module', '-e', LOCKER, db, '5', '12000'], { cwd: ROOT });
      let said = '';
      writer.stdout.on('data', (d) => (said += d));
      const written = new Promise((r) => writer.on('close', r));
      await waitFor(() => said.includes('locked'));
      await waitFor(() => /is locked by another process .*: waiting for it to be released/.test(stderr()), 10_000);
      await written;
      assert.match(said, /committed/);
      await waitFor(() => lines(out).length === 15, 10_000);
      assert.equal(follower.exitCode, null, `the follower is still running: ${stderr()}`);
      assert.match(stderr(), /registry readable again after \d+\.\ds locked/);
      assert.deepEqual(lines(out).slice(10).map((r) => (r['event'] as Record<string, unknown>)['id']), ['11', '12', '13', '14', '15']);
    } finally {
      assert.equal(await stop(follower), 0, stderr());
    }
  });

  it('a WAL registry copied over in place (same inode) is noticed, and its newer rows exported without another write', async () => {
    const dir = tempDir();
    const db = path.join(dir, 'registry.sqlite');
    fs.copyFileSync(demoRegistry(20), db);
    const wal = new Database(db);
    wal.pragma('journal_mode = WAL');
    wal.close();
    // The newer copy: the same 20 rows and 300 more, written elsewhere (a backup restored, a replica pulled).
    const newer = path.join(dir, 'newer.sqlite');
    newerCopy(db, newer, 300);
    const inode = fs.statSync(db).ino;

    const out = path.join(dir, 'out.jsonl');
    const { follower, stderr } = follow(db, out);
    try {
      await waitFor(() => lines(out).length === 20);
      await sleep(300);
      fs.copyFileSync(newer, db);
      assert.equal(fs.statSync(db).ino, inode, 'copied over in place');
      await waitFor(() => lines(out).length === 320, 10_000);
      const ids = lines(out).map((r) => Number((r['event'] as Record<string, unknown>)['id']));
      assert.deepEqual(ids, Array.from({ length: 320 }, (_, i) => i + 1));
      assert.equal(follower.exitCode, null, stderr());
    } finally {
      assert.equal(await stop(follower), 0, stderr());
    }
  });

  it('a registry torn while a copy is written over it is waited for, then followed again once whole', async () => {
    const dir = tempDir();
    const db = path.join(dir, 'registry.sqlite');
    fs.copyFileSync(demoRegistry(20), db);
    const newer = path.join(dir, 'newer.sqlite');
    newerCopy(db, newer, 30);
    const whole = fs.readFileSync(newer);
    const out = path.join(dir, 'out.jsonl');
    const { follower, stderr } = follow(db, out);
    try {
      await waitFor(() => lines(out).length === 20);
      // Half a copy, in place: the first pages of the new file and garbage after them.
      fs.writeFileSync(db, Buffer.concat([whole.subarray(0, 4096), Buffer.alloc(whole.length - 4096, 0x5a)]));
      await waitFor(() => /waiting for it to read whole again/.test(stderr()), 10_000);
      await sleep(300);
      assert.equal(follower.exitCode, null, stderr());
      fs.writeFileSync(db, whole);
      await waitFor(() => lines(out).length === 50, 10_000);
      assert.deepEqual(lines(out).map((r) => Number((r['event'] as Record<string, unknown>)['id'])), Array.from({ length: 50 }, (_, i) => i + 1));
      assert.match(stderr(), /registry readable again after \d+\.\ds unreadable/);
    } finally {
      assert.equal(await stop(follower), 0, stderr());
    }
  });

  it('an idle follower does not format its newest row again on every poll, however large it is', async () => {
    const db = demoRegistry(5);
    // About 3.5 MB and 150,000 keys: formatting it takes a good part of a second of CPU.
    setExtra(db, 5, wideObject(150_000, 10));
    const out = path.join(tempDir(), 'out.jsonl');
    const { follower, stderr } = follow(db, out, ['--poll-interval', '50ms', '--max-row-bytes', '8MiB']);
    try {
      await waitFor(() => lines(out).length === 5, 30_000);
      await sleep(500);
      // CPU the follower itself spends over 40 idle polls, as the kernel counts it.
      const before = cpuSeconds(follower.pid!);
      await sleep(2000);
      const used = cpuSeconds(follower.pid!) - before;
      assert.ok(used < 0.5, `an idle follower used ${used} s of CPU in 2 s`);
      assert.equal(follower.exitCode, null, stderr());
    } finally {
      assert.equal(await stop(follower), 0, stderr());
    }
  });
});
