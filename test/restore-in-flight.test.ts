/**
 * A registry restored in place from an older backup while its events are out to the SIEM, with new callbacks
 * written under the rowids already read: the state file keeps the digest of the rows as they were read and sent,
 * so the next start refuses instead of resuming past the new callbacks, and a follower stops at its next look.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, outcome, runCli, spawnCli, tempDir, waitFor, lastRowid } from './helpers.js';

const TOKEN = 'restore-in-flight-token-5e1a';
const env = { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN };

function insert(db: string, n: number, token: string): void {
  const con = new Database(db);
  const ins = con.prepare("INSERT INTO events (token_id,kind,source_ip,user_agent,extra,timestamp) VALUES (?,'http_img','192.0.2.9','','{}',?)");
  for (let i = 0; i < n; i++) ins.run(`${token}-${i}`, 1_800_000_000 + i);
  con.close();
}

/** A registry of 200 events (AUTOINCREMENT, as the Oversight registry's) and a backup taken at its `at`th. */
function registryWithBackup(at = 150): { db: string; backup: string } {
  const db = demoRegistry(at);
  const backup = path.join(path.dirname(db), 'backup.sqlite');
  const con = new Database(db);
  con.exec(`VACUUM INTO '${backup}'`);
  con.close();
  insert(db, 200 - at, 'before-restore');
  return { db, backup };
}

/**
 * What `sqlite3 registry ".restore backup"` does (the same file, written over through SQLite), then new callbacks
 * up to rowid 200 again.
 */
async function restoreInPlace(db: string, backup: string): Promise<void> {
  const from = new Database(backup, { readonly: true });
  await from.backup(db);
  from.close();
  const con = new Database(db);
  const left = 200 - (con.prepare('SELECT max(id) FROM events').pluck().get() as number);
  con.close();
  insert(db, left, 'after-restore');
}

const REFUSED = (state: string): string =>
  `oversight: state file ${state} was written after another event at rowid 200 than the registry holds now: it was restored or rolled back; ` +
  'check which events it lost, then move the state file away to export it from the start, or restore the newer registry';

describe('a registry restored in place while its events are out to the SIEM', () => {
  for (const threads of ['1', '2']) {
    it(`a one-shot export (--threads ${threads}): the next start refuses rather than skip the new callbacks`, async () => {
      const peer = await new HecPeer({ token: TOKEN }).start();
      const { db, backup } = registryWithBackup();
      const state = path.join(tempDir(), 'state.json');
      const args = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', state, '--batch-size', '100', '--threads', threads];
      let release = (): void => undefined;
      peer.peer.hold = new Promise<void>((resolve) => (release = resolve));
      try {
        const run = runCli(args, { env });
        // Rows 1–200 are read; the first batch waits for its answer while the registry is restored under it.
        await waitFor(() => peer.events.length === 100);
        await restoreInPlace(db, backup);
        release();
        const first = await run;
        assert.equal(first.code, 0, first.stderr);
        assert.equal(peer.events.length, 200);
        assert.equal(lastRowid(state), 200);
        const second = await runCli(args, { env });
        assert.equal(second.code, 2, second.stderr);
        assert.deepEqual(outcome(second.stderr), [REFUSED(state)]);
        assert.equal(peer.events.length, 200);
      } finally {
        release();
        await peer.close();
      }
    });
  }

  it('a run that ends after a checkpoint inside the page it read: the next start refuses, saying the row could not be checked', async () => {
    const peer = await new HecPeer({ token: TOKEN }).start();
    // Restored from a backup of 50 events: rowids 51–200 are new callbacks, the first batch's last row among them.
    const { db, backup } = registryWithBackup(50);
    const state = path.join(tempDir(), 'state.json');
    const args = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', state, '--batch-size', '100'];
    const child = spawnCli(args, env);
    const exit = new Promise((resolve) => child.on('close', resolve));
    let release = (): void => undefined;
    let never = (): void => undefined;
    peer.peer.hold = new Promise<void>((resolve) => (release = resolve));
    try {
      await waitFor(() => peer.events.length === 100);
      await restoreInPlace(db, backup);
      // The first batch is answered, the second never is: the run is killed with the checkpoint at rowid 100.
      peer.peer.hold = new Promise<void>((resolve) => (never = resolve));
      release();
      await waitFor(() => fs.existsSync(state) && lastRowid(state) === 100);
      child.kill('SIGKILL');
      await exit;
      peer.peer.hold = null;
      never();
      const again = await runCli(args, { env });
      assert.equal(again.code, 2, again.stderr);
      assert.deepEqual(outcome(again.stderr), [
        `oversight: state file ${state} was written after rowid 100 while the registry changed or could not be read, so its row there could not ` +
          'be checked against the one sent: check that the registry was not restored or rolled back, then move the state file away to export it ' +
          'from the start, or restore the newer registry',
      ]);
    } finally {
      release();
      never();
      child.kill('SIGKILL');
      await peer.close();
    }
  });

  it('a follower stops at its next look, and the next start refuses', async () => {
    const peer = await new HecPeer({ token: TOKEN }).start();
    const { db, backup } = registryWithBackup();
    const state = path.join(tempDir(), 'state.json');
    const child = spawnCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', state, '--batch-size', '100',
      '--follow', '--poll-interval', '50ms'], env);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // Bounds the test if the follower went on: it would never stop by itself.
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    let release = (): void => undefined;
    peer.peer.hold = new Promise<void>((resolve) => (release = resolve));
    try {
      await waitFor(() => peer.events.length === 100);
      await restoreInPlace(db, backup);
      release();
      assert.equal(await exit, 1, stderr);
      const lines = outcome(stderr);
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0]!, /^oversight: registry .* holds another event at rowid 200 than the one already read: it was replaced or rolled back; /);
      assert.equal(lastRowid(state), 200);
      const again = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', state], { env });
      assert.equal(again.code, 2, again.stderr);
      assert.deepEqual(outcome(again.stderr), [REFUSED(state)]);
      assert.equal(peer.events.length, 200);
    } finally {
      release();
      clearTimeout(killer);
      child.kill('SIGKILL');
      await peer.close();
    }
  });
});
