/**
 * Stops that stop: SIGTERM or SIGINT while the SIEM is down (refusing connections, or taking a request and
 * never answering) ends the export by itself, with the checkpoint at the last delivered event, and the next
 * start delivers the rest exactly once. The retry budget and request timeout are ten minutes and the harness
 * kills after 40 s, so only the stop itself can end these runs.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, registryIds, runCli, spawnCli, tempDir, waitFor } from './helpers.js';

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

async function stopDuringOutage(o: { follow: boolean; outage: Outage; sig: NodeJS.Signals }): Promise<{ run: Run; db: string; state: string; first: HecPeer }> {
  const db = demoRegistry(50);
  const state = path.join(tempDir(), 'state.json');
  const first = await failingHec(30, o.outage);
  const child = spawnCli([
    'siem', 'export', '--db', db, '--registry-id', 'reg', '--output', first.url, '--state', state, '--batch-size', '10',
    '--retry-max-duration', '10m', '--timeout', '10m', '--shutdown-timeout', '2s', ...(o.follow ? ['--follow'] : []),
  ], env);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  const closed = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
  try {
    await waitFor(() => first.events.length >= 30, 15_000);
    // The outage is under way: a request hangs at the peer, or connections are refused and retried.
    if (o.outage === 'silent') await waitFor(() => first.peer.requests.length >= 4, 15_000);
    else await waitFor(() => /ECONNREFUSED/.test(stderr), 15_000);
    child.kill(o.sig);
    const run = await closed;
    return { run, db, state, first };
  } finally {
    clearTimeout(killer);
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

function lastRowid(state: string): number {
  return (JSON.parse(fs.readFileSync(state, 'utf8')) as { last_rowid: number }).last_rowid;
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
      const child = spawnCli([
        'siem', 'export', '--db', db, '--registry-id', 'reg', '--output', first.url, '--state', state, '--batch-size', '10',
        '--timeout', '10m', '--shutdown-timeout', '10m', '--follow',
      ], env);
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
      const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      await waitFor(() => first.peer.requests.length >= 4, 15_000);
      child.kill('SIGTERM');
      await waitFor(() => /SIGTERM: finishing the batch in flight/.test(stderr));
      child.kill('SIGTERM');
      const code = await closed;
      clearTimeout(killer);
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
      const child = spawnCli([
        'siem', 'export', '--db', db, '--registry-id', 'reg', '--output', first.url, '--state', state, '--batch-size', '10',
        '--splunk-ack', '--splunk-ack-interval', '10m', '--shutdown-timeout', '10m',
      ], env);
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
      const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
      await waitFor(() => first.events.length === 20, 15_000);
      child.kill('SIGTERM');
      const run = await closed;
      clearTimeout(killer);
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
      const child = spawnCli([
        'siem', 'export', '--db', db, '--registry-id', 'reg', '--output', first.url, '--state', state, '--limit', '10',
        '--splunk-ack', '--splunk-ack-interval', '10m', '--shutdown-timeout', '10m',
      ], env);
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
      const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      await waitFor(() => first.events.length === 10, 15_000);
      child.kill('SIGTERM');
      const code = await closed;
      clearTimeout(killer);
      assert.equal(code, 143, stderr);
      assert.match(stderr, /stopped: 10 event\(s\) left unsent \(rowids 6–15\); the next start with --state .* sends them/);
      assert.equal(lastRowid(state), 5);
    } finally {
      await first.close();
    }
  });
});
