/**
 * Stops that stop: SIGTERM or SIGINT while the SIEM is down (refusing connections, or taking a request and
 * never answering) ends the export by itself, with the checkpoint at the last delivered event, and the next
 * start delivers the rest exactly once. The retry budget and request timeout are ten minutes and the harness
 * kills after 40 s, so only the stop itself can end these runs.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, registryIds, ROOT, runCli, sleep, spawnCli, tempDir, waitFor, lastRowid } from './helpers.js';

const TOKEN = 'shutdown-test-token-5f1c';
const env = { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN };

type Outage = 'refused' | 'silent';

/** A HEC that takes the first `healthy` events, then goes down the chosen way. */
async function failingHec(healthy: number, outage: Outage): Promise<HecPeer> {
  const peer = await new HecPeer({ token: TOKEN }).start();
  const push = peer.events.push.bind(peer.events);
  peer.events.push = (...items) => {
    const n = push(...items);
    if (n === healthy) {
      if (outage === 'silent') {
        for (let i = 0; i < 1000; i++) peer.peer.faults.push({ hang: true });
      } else {
        // Reset whatever comes next until the listener is gone, then connections are refused.
        for (let i = 0; i < 1000; i++) peer.peer.faults.push({ reset: true });
        setTimeout(() => void peer.close(), 50);
      }
    }
    return n;
  };
  return peer;
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** The command with `argv`, its stderr collected; the harness kills it if it is still running after 40 s. */
function started(argv: string[], environment: NodeJS.ProcessEnv = {}) {
  const child = spawnCli(argv, environment);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, sig) => resolve([c, sig])));
  return {
    stderr: () => stderr,
    /** Send `sig` without waiting (a first signal, before a second one). */
    signal: (sig: NodeJS.Signals = 'SIGTERM'): void => void child.kill(sig),
    /** Send `sig` and wait for the end: the exit code, the signal that killed it, how long it took to end. */
    async stop(sig: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null; tookMs: number }> {
      const signalled = performance.now();
      child.kill(sig);
      const [code, signal] = await closed;
      clearTimeout(killer);
      return { code, signal, tookMs: performance.now() - signalled };
    },
    end(): void {
      clearTimeout(killer);
      child.kill('SIGKILL');
    },
  };
}

async function stopDuringOutage(o: { follow: boolean; outage: Outage; sig: NodeJS.Signals }): Promise<{ run: Run; db: string; state: string; first: HecPeer }> {
  const db = demoRegistry(50);
  const state = path.join(tempDir(), 'state.json');
  const first = await failingHec(30, o.outage);
  const cli = started([
    'siem', 'export', '--db', db, '--registry-id', 'reg', '--output', first.url, '--state', state, '--batch-size', '10',
    '--retry-max-duration', '10m', '--timeout', '10m', '--shutdown-timeout', '2s', ...(o.follow ? ['--follow'] : []),
  ], env);
  try {
    await waitFor(() => first.events.length >= 30, 15_000);
    // The outage is under way: a request hangs at the peer, or connections are refused and retried.
    if (o.outage === 'silent') await waitFor(() => first.peer.requests.length >= 4, 15_000);
    else await waitFor(() => /ECONNREFUSED/.test(cli.stderr()), 15_000);
    const { code, signal } = await cli.stop(o.sig);
    return { run: { code, signal, stderr: cli.stderr() }, db, state, first };
  } finally {
    cli.end();
    await first.close().catch(() => undefined);
  }
}

/** The next start delivers what the stopped one left, and between them every event arrived once. */
async function restartDeliversTheRest(db: string, state: string, first: HecPeer): Promise<void> {
  const second = await new HecPeer({ token: TOKEN }).start();
  try {
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', second.url, '--state', state], { env });
    assert.equal(r.code, 0, r.stderr);
    const ids = registryIds(db);
    assert.deepEqual(second.eventIds(), ids.slice(30));
    assert.deepEqual([...first.eventIds(), ...second.eventIds()], ids);
  } finally {
    await second.close();
  }
}

describe('stopping an export while the SIEM is down', () => {
  for (const outage of ['refused', 'silent'] as const) {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      it(`--follow, SIEM ${outage === 'refused' ? 'refusing connections' : 'never answering'}, ${sig}: exits 0, checkpoint at the last delivered event`, async () => {
        const { run, db, state, first } = await stopDuringOutage({ follow: true, outage, sig });
        assert.equal(run.signal, null, 'killed by the test harness: the stop did not stop');
        assert.equal(run.code, 0, run.stderr);
        assert.equal(lastRowid(state), 30);
        assert.match(run.stderr, new RegExp(`${sig}: finishing the batch in flight for up to 2s and sending nothing new`));
        assert.match(run.stderr, /stopped: 20 event\(s\) left unsent \(rowids 31–50\); the next start with --state .* sends them/);
        if (outage === 'silent') assert.match(run.stderr, /did not finish within --shutdown-timeout 2s/);
        else assert.doesNotMatch(run.stderr, /did not finish within/);
        await restartDeliversTheRest(db, state, first);
      });
    }
  }

  for (const outage of ['refused', 'silent'] as const) {
    it(`one-shot, SIEM ${outage === 'refused' ? 'refusing connections' : 'never answering'}, SIGTERM: exits 143 (cut short), checkpoint at the last delivered event`, async () => {
      const { run, db, state, first } = await stopDuringOutage({ follow: false, outage, sig: 'SIGTERM' });
      assert.equal(run.signal, null, 'killed by the test harness: the stop did not stop');
      assert.equal(run.code, 143, run.stderr);
      assert.equal(lastRowid(state), 30);
      assert.match(run.stderr, /stopped: 20 event\(s\) left unsent \(rowids 31–50\)/);
      await restartDeliversTheRest(db, state, first);
    });
  }

  it('one-shot, SIGINT: exits 130', async () => {
    const { run, db, state, first } = await stopDuringOutage({ follow: false, outage: 'refused', sig: 'SIGINT' });
    assert.equal(run.signal, null, 'killed by the test harness: the stop did not stop');
    assert.equal(run.code, 130, run.stderr);
    assert.equal(lastRowid(state), 30);
    await restartDeliversTheRest(db, state, first);
  });

  it('a second signal leaves at once, still naming what is unsent', async () => {
    const db = demoRegistry(50);
    const state = path.join(tempDir(), 'state.json');
    const first = await failingHec(30, 'silent');
    try {
      const cli = started([
        'siem', 'export', '--db', db, '--registry-id', 'reg', '--output', first.url, '--state', state, '--batch-size', '10',
        '--timeout', '10m', '--shutdown-timeout', '10m', '--follow',
      ], env);
      await waitFor(() => first.peer.requests.length >= 4, 15_000);
      cli.signal('SIGTERM');
      await waitFor(() => /SIGTERM: finishing the batch in flight/.test(cli.stderr()));
      const { code } = await cli.stop('SIGTERM');
      const stderr = cli.stderr();
      assert.equal(code, 0, stderr);
      assert.match(stderr, /SIGTERM again: quitting at once/);
      assert.match(stderr, /stopped: 20 event\(s\) left unsent \(rowids 31–50\)/);
      assert.equal(lastRowid(state), 30);
    } finally {
      await first.close();
    }
  });

  it('ends a wait for Splunk acknowledgements at once; the unacknowledged batches go again next start', async () => {
    const db = demoRegistry(20);
    const state = path.join(tempDir(), 'state.json');
    const first = await new HecPeer({ token: TOKEN, ack: true, loseAck: () => true }).start();
    try {
      const cli = started([
        'siem', 'export', '--db', db, '--registry-id', 'reg', '--output', first.url, '--state', state, '--batch-size', '10',
        '--splunk-ack', '--splunk-ack-interval', '10m', '--shutdown-timeout', '10m',
      ], env);
      await waitFor(() => first.events.length === 20, 15_000);
      const run = await cli.stop();
      const stderr = cli.stderr();
      assert.equal(run.signal, null, 'killed by the test harness: the stop did not stop');
      assert.equal(run.code, 143, stderr);
      assert.match(stderr, /stopped: 20 event\(s\) left unsent \(rowids 1–20\)/);
      assert.doesNotMatch(stderr, /did not finish within/);
      assert.equal(fs.existsSync(state), false, 'nothing was acknowledged, so nothing was checkpointed');
    } finally {
      await first.close();
    }
    const second = await new HecPeer({ token: TOKEN }).start();
    try {
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', second.url, '--state', state], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(second.eventIds(), registryIds(db));
    } finally {
      await second.close();
    }
  });

  it('with --limit, the stop line counts only the events the run was asked for, after the checkpoint it started from', async () => {
    const db = demoRegistry(50);
    const state = path.join(tempDir(), 'state.json');
    const before = await new HecPeer({ token: TOKEN }).start();
    try {
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', before.url, '--state', state, '--limit', '5'], { env });
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await before.close();
    }
    const first = await new HecPeer({ token: TOKEN, ack: true, loseAck: () => true }).start();
    try {
      const cli = started([
        'siem', 'export', '--db', db, '--registry-id', 'reg', '--output', first.url, '--state', state, '--limit', '10',
        '--splunk-ack', '--splunk-ack-interval', '10m', '--shutdown-timeout', '10m',
      ], env);
      await waitFor(() => first.events.length === 10, 15_000);
      const { code } = await cli.stop();
      const stderr = cli.stderr();
      assert.equal(code, 143, stderr);
      assert.match(stderr, /stopped: 10 event\(s\) left unsent \(rowids 6–15\); the next start with --state .* sends them/);
      assert.equal(lastRowid(state), 5);
    } finally {
      await first.close();
    }
  });
});

/** A writer that takes the registry's write lock and holds it `holdMs`, saying `locked` once it has it. */
const LOCKER = `
import Database from 'better-sqlite3';
const [db, hold] = process.argv.slice(1);
const con = new Database(db);
con.exec('BEGIN EXCLUSIVE');
con.prepare("UPDATE events SET kind = kind WHERE rowid = 1").run();
console.log('locked');
await new Promise((r) => setTimeout(r, Number(hold)));
con.exec('COMMIT');
con.close();
`;

/** A rollback-journal registry of `n` events: its writer locks readers out for as long as it holds the lock. */
function rollbackRegistry(n: number): string {
  const db = demoRegistry(n);
  const con = new Database(db);
  con.pragma('journal_mode = DELETE');
  con.close();
  return db;
}

/** A writer in another process that holds `db` locked for `holdMs` once this resolves. */
async function lockRegistry(db: string, holdMs: number): Promise<{ released: Promise<unknown>; writer: ChildProcess }> {
  const writer = spawn(process.execPath, ['--input-type=module', '-e', LOCKER, db, String(holdMs)], { cwd: ROOT });
  let said = '';
  writer.stdout.on('data', (d) => (said += d));
  const released = new Promise((r) => writer.on('close', r));
  await waitFor(() => said.includes('locked'));
  return { released, writer };
}

/** A rollback-journal registry of `n` events, locked by a writer for `holdMs` once this resolves. */
async function lockedRegistry(n: number, holdMs: number): Promise<{ db: string; released: Promise<unknown>; writer: ChildProcess }> {
  const db = rollbackRegistry(n);
  return { db, ...(await lockRegistry(db, holdMs)) };
}

describe('a registry locked by its writer when the export starts', () => {
  it('a one-shot export waits the lock out (within --retry-max-duration) and then exports every event', async () => {
    // Held longer than SQLite's own wait at open (5 s), which used to end the export.
    const { db, released } = await lockedRegistry(20, 7000);
    const out = path.join(tempDir(), 'out.jsonl');
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', out, '--retry-max-duration', '60s']);
    await released;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /is locked by another process .*: waiting for it to be released\n/);
    assert.equal(fs.readFileSync(out, 'utf8').trim().split('\n').length, 20);
  });

  it('SIGTERM to a one-shot export that met the lock part way: exit 143, and the line says the rest cannot be counted', async () => {
    const db = rollbackRegistry(30_000);
    const dir = tempDir();
    const fifo = path.join(dir, 'out.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const run = oneShot(['--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', fifo, '--threads', '1', '--state', path.join(dir, 'state.json')]);
    // The records come through a pipe read here, paused after the first lines so the lock comes while most are unread.
    const reader = fs.createReadStream(fifo);
    let lines = 0;
    let lock: { released: Promise<unknown>; writer: ChildProcess } | null = null;
    reader.on('data', (d) => {
      if (lines < 2_000 && (lines += (d as Buffer).toString('latin1').split('\n').length - 1) >= 2_000) {
        reader.pause();
        void lockRegistry(db, 30_000).then((l) => ((lock = l), reader.resume()));
      }
    });
    try {
      assert.equal(await run.stopWhenWaiting(), 143, run.stderr());
      assert.match(run.stderr(), /stopped: the events left unsent could not be counted \(the registry cannot be read now\); the next start with --state .* sends them\n$/);
      assert.doesNotMatch(run.stderr(), /every event read was delivered/);
    } finally {
      run.end();
      reader.destroy();
      (lock as { writer: ChildProcess } | null)?.writer.kill();
    }
  });

  it('SIGTERM while a one-shot export waits for the lock ends it with one line and exit 143', async () => {
    const { db, released, writer } = await lockedRegistry(20, 30_000);
    const out = path.join(tempDir(), 'out.jsonl');
    const run = oneShot(['--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', out]);
    try {
      assert.equal(await run.stopWhenWaiting(), 143, run.stderr());
      assert.match(run.stderr(), /stopped while waiting for the registry: nothing was read or sent\n$/);
      assert.equal(fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '', '');
    } finally {
      run.end();
      writer.kill();
      await released;
    }
  });
});

/** A one-shot export with these arguments, stopped by SIGTERM once it says it waits for a writer's lock. */
function oneShot(args: string[]) {
  const cli = started(['siem', 'export', ...args, '--shutdown-timeout', '1s']);
  return {
    stderr: cli.stderr,
    end: cli.end,
    /** Exit code once stopped; it must end by itself, within --shutdown-timeout. */
    async stopWhenWaiting(): Promise<number | null> {
      await waitFor(() => /waiting for it to be released/.test(cli.stderr()), 20_000);
      const { code, signal } = await cli.stop();
      assert.equal(signal, null, 'it ended by itself');
      return code;
    },
  };
}

/** A follower of `db` into a file, with its checkpoint, that has delivered all `n` events when this resolves. */
async function follower(db: string, n: number) {
  const dir = tempDir();
  const out = path.join(dir, 'out.jsonl');
  const state = path.join(dir, 'state.json');
  const cli = started([
    'siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', out, '--state', state, '--follow', '--shutdown-timeout', '1s',
  ]);
  await waitFor(() => fs.existsSync(state) && lastRowid(state) === n, 15_000);
  return { out, state, stderr: cli.stderr, end: cli.end, stop: () => cli.stop() };
}

/** The follower's output: one whole line per event, the registry's events in order. */
function assertWholeOutput(out: string, ids: string[]): void {
  const lines = fs.readFileSync(out, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'the output ends with a whole line');
  assert.deepEqual(lines.map((l) => String((JSON.parse(l) as { event: { id: unknown } }).event.id)), ids);
}

describe('a registry locked by its writer while a follower reads it', () => {
  it('SIGTERM while the follower waits for the lock ends it within --shutdown-timeout: exit 0, checkpoint and output whole', async () => {
    const db = rollbackRegistry(20);
    const ids = registryIds(db);
    const f = await follower(db, 20);
    let lock: { released: Promise<unknown>; writer: ChildProcess } | null = null;
    try {
      // Held far longer than the run may take to stop: only the stop can end the wait.
      lock = await lockRegistry(db, 30_000);
      await waitFor(() => /waiting for it to be released/.test(f.stderr()), 15_000);
      const run = await f.stop();
      assert.equal(run.signal, null, 'it ended by itself');
      assert.equal(run.code, 0, f.stderr());
      assert.match(f.stderr(), /SIGTERM: finishing the batch in flight for up to 1s and sending nothing new/);
      // What is left cannot be read while the lock lasts, and the line says so rather than "every event".
      assert.match(f.stderr(), /stopped: the events left unsent could not be counted \(the registry cannot be read now\); the next start with --state .* sends them\n$/);
      assert.doesNotMatch(f.stderr(), /did not finish within/);
      // Every read waits for the lock only briefly, so the stop is heard at once; a read that waited out SQLite's
      // whole busy timeout after the stop would take the run past --shutdown-timeout.
      assert.ok(run.tookMs < 1000, `left ${Math.round(run.tookMs)} ms after SIGTERM, beyond --shutdown-timeout 1s`);
      assert.equal(lastRowid(f.state), 20);
      assertWholeOutput(f.out, ids);
    } finally {
      f.end();
      lock?.writer.kill();
      await lock?.released;
    }
  });

  it('a lock held for less than a second is waited out without a word, as a commit is', async () => {
    const db = rollbackRegistry(20);
    const ids = registryIds(db);
    const f = await follower(db, 20);
    try {
      // Polled every 250 ms, the follower meets the lock at least once while it is held.
      const lock = await lockRegistry(db, 600);
      await lock.released;
      await sleep(500);
      const run = await f.stop();
      assert.equal(run.code, 0, f.stderr());
      assert.doesNotMatch(f.stderr(), /locked|waiting for it|readable again/);
      assertWholeOutput(f.out, ids);
    } finally {
      f.end();
    }
  });
});
