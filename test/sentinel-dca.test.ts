/** Sentinel Data Collector API end to end: requests signed by the CLI, checked by a fake that re-signs. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SentinelPeer } from './peers/sentinel-dca.js';
import { demoRegistry, outcome, registryIds, runCli, tempDir, withPeer } from './helpers.js';

const WORKSPACE = '0a1b2c3d-1111-2222-3333-444455556666';
const KEY = Buffer.from('sentinel-test-shared-key-with-enough-bytes').toString('base64');
const exportTo = (db: string, url: string, ...more: string[]): string[] =>
  ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', url, '--transport', 'sentinel-dca',
    '--sentinel-workspace-id', WORKSPACE, '--retry-max-duration', '20s', ...more];

const sentinel = (fn: (peer: SentinelPeer) => Promise<void>): Promise<void> => withPeer(new SentinelPeer(WORKSPACE, KEY).start(), fn);

describe('Sentinel Data Collector API', () => {
  it('signs every request; the peer recomputes each signature from the body it received', () =>
    sentinel(async (peer) => {
      const db = demoRegistry(150);
      const r = await runCli(exportTo(db, peer.url, '--max-batch-events', '40'), { env: { OVERSIGHT_SENTINEL_SHARED_KEY: KEY } });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.eventIds(), registryIds(db));
      assert.deepEqual([...peer.logTypes], ['Oversight']);
      assert.deepEqual([...peer.timeFields], ['TimeGenerated']);
      assert.equal(peer.peer.requests.length, 4);
      assert.ok(!r.stderr.includes(KEY));
      assert.match(r.stderr, /exported 150 event\(s\) as sentinel via sentinel-dca/);
    }));

  it('reads the key from --sentinel-shared-key-file and the table name from --sentinel-log-type', () =>
    sentinel(async (peer) => {
      const keyFile = path.join(tempDir(), 'key');
      fs.writeFileSync(keyFile, KEY + '\n', { mode: 0o600 });
      const db = demoRegistry(10);
      const r = await runCli(exportTo(db, peer.url, '--sentinel-shared-key-file', keyFile, '--sentinel-log-type', 'OversightBeacons'));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual([...peer.logTypes], ['OversightBeacons']);
      assert.equal(peer.records.length, 10);
    }));

  it('a wrong key stops with a clear message and is never printed', () =>
    sentinel(async (peer) => {
      const wrong = Buffer.from('a-different-shared-key-of-some-length').toString('base64');
      const db = demoRegistry(5);
      const r = await runCli(exportTo(db, peer.url), { env: { OVERSIGHT_SENTINEL_SHARED_KEY: wrong } });
      assert.equal(r.code, 1);
      assert.deepEqual(outcome(r.stderr), ['oversight: Sentinel Data Collector API refused the signature (HTTP 403): check the workspace id and shared key']);
      assert.ok(!r.stderr.includes(wrong));
    }));

  it('usage errors: no key, a bad log type, a non-sentinel format', async () => {
    const db = demoRegistry(3);
    const url = 'http://127.0.0.1:9/api/logs?api-version=2016-04-01';
    const noKey = await runCli(exportTo(db, url));
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /needs the workspace shared key: set OVERSIGHT_SENTINEL_SHARED_KEY or pass --sentinel-shared-key-file/);
    const env = { OVERSIGHT_SENTINEL_SHARED_KEY: KEY };
    const badType = await runCli(exportTo(db, url, '--sentinel-log-type', 'Oversight-Events'), { env });
    assert.equal(badType.code, 2);
    assert.match(badType.stderr, /--sentinel-log-type 'Oversight-Events' is invalid/);
    const fmt = await runCli(exportTo(db, url, '--format', 'ecs'), { env });
    assert.equal(fmt.code, 2);
    assert.match(fmt.stderr, /sentinel-dca carries sentinel records, not ecs/);
  });

  it('retries a 503 and a reset, signing each attempt afresh', () =>
    sentinel(async (peer) => {
      peer.peer.faults.push({ status: 503, body: '{"Error":"ServiceUnavailable"}' }, { reset: true });
      const db = demoRegistry(30);
      const r = await runCli(exportTo(db, peer.url), { env: { OVERSIGHT_SENTINEL_SHARED_KEY: KEY } });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.eventIds(), registryIds(db));
    }));
});
