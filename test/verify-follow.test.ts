/** A following export that verifies in the background: the SIEM's silent loss shows on /metrics, judged as siem verify judges. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EsPeer } from './peers/elasticsearch.js';
import { demoRegistry, holdRegistryLock, ROOT, runCli, spawnCli, tempDir, waitFor, withPeer } from './helpers.js';
import { counted, registryWithRecent } from './verify-support.js';

const KEY = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==';

async function gauge(url: string, name: string): Promise<number | null> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

describe('--verify-every', () => {
  it('reports events the SIEM lost after acknowledging them, on /metrics', () => {
    const lost = new Set(['3', '17']);
    return withPeer(
      new EsPeer({
        dataStream: 'logs-oversight.beacon-default', apiKey: KEY,
        lose: (doc, _id, attempt) => attempt === 0 && lost.has(String((doc['event'] as Record<string, unknown>)['id'])),
      }).start(),
      async (peer) => {
        const db = demoRegistry(40);
        const child = spawnCli(
          ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--follow', '--state', path.join(tempDir(), 's.json'),
            '--verify-every', '1s', '--settle', '0', '--metrics-listen', '127.0.0.1:0'],
          { OVERSIGHT_ES_API_KEY: KEY },
        );
        let stderr = '';
        child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        try {
          await waitFor(() => /serving metrics at (\S+)\/metrics/.test(stderr), 10_000);
          const url = /serving metrics at (\S+)\/metrics/.exec(stderr)![1]!;
          let missing: number | null = null;
          await waitFor(() => {
            void gauge(url, 'oversight_verify_missing_events').then((v) => (missing = v));
            return missing === 2;
          }, 20_000, 200);
          assert.equal(missing, 2, stderr);
          assert.equal(await gauge(url, 'oversight_verify_last_success_timestamp_seconds'), 0);
          assert.match(stderr, /verified rowids .* 2 missing/);
        } finally {
          child.kill('SIGTERM');
          await new Promise((r) => child.once('close', r));
        }
      },
    );
  });

  it('judges with --settle as siem verify does: a lost event younger than it is too recent, not missing', () => {
    // Two minutes old: past Elasticsearch's own 30 s, within the 10 minutes asked for.
    const db = registryWithRecent(40, 3, 120);
    return withPeer(
      new EsPeer({
        dataStream: 'logs-oversight.beacon-default', apiKey: KEY,
        lose: (doc, _id, attempt) => attempt === 0 && String((doc['event'] as Record<string, unknown>)['id']) === '39',
      }).start(),
      async (peer) => {
        const child = spawnCli(
          ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--follow', '--state', path.join(tempDir(), 's.json'),
            '--verify-every', '500ms', '--settle', '10m', '--window', '7'],
          { OVERSIGHT_ES_API_KEY: KEY },
        );
        let stderr = '';
        child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        try {
          await waitFor(() => /verified rowids 1-40 /.test(stderr), 20_000, 50);
          const line = stderr.split('\n').find((l) => /verified rowids 1-40 /.test(l))!.replace(/^oversight: /, '');
          assert.equal(counted(line, 'missing'), 0, line);
          assert.equal(counted(line, 'too recent to judge'), 1, line);
          assert.equal(counted(line, 'present once'), 39, line);
        } finally {
          child.kill('SIGTERM');
          await new Promise((r) => child.once('close', r));
        }
      },
    );
  });

  it('refuses a query option it could not use at the start, with one line and exit 2, before anything is sent', async () => {
    const db = demoRegistry(5);
    const dir = tempDir();
    const out = path.join(dir, 'events.jsonl');
    const cases: [string[], RegExp][] = [
      [['--window', 'abc'], /^oversight: --window must be a whole number of at least 1, not 'abc'$/],
      [['--window', '20000'], /^oversight: --window must be at most 10000 events per query$/],
      [['--settle', 'bogus'], /^oversight: --settle must be a duration such as 500ms, 30s, 5m or 1h, not 'bogus'$/],
      [['--splunk-search-url', 'not a url'], /^oversight: --splunk-search-url must be an http\(s\):\/\/ URL, not 'not a url'$/],
    ];
    for (const [more, message] of cases) {
      const r = await runCli(
        ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', out, '--follow', '--state', path.join(dir, 's.json'),
          '--verify-every', '1s', ...more],
        { timeoutMs: 15_000 },
      );
      assert.equal(r.code, 2, `${more.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr.trimEnd(), message);
      assert.equal(fs.existsSync(out), false, 'nothing written');
    }
  });
});

/**
 * The verifier opens the registry after the export has: a writer's lock that begins between the two cannot be
 * timed from outside the process without racing it, so the verifier is started here, from the built modules,
 * with the lock already held by another process.
 */
describe('--verify-every and a writer that holds the registry locked', () => {
  it('the export is not held up: the check that meets the lock says so and is skipped, and the next one verifies', async () => {
    const dist = (m: string): Promise<Record<string, any>> => import(path.join(ROOT, 'dist', m));
    const [{ startVerifier }, { FileVerifier }, { ExportMetrics }, { Prometheus }] = await Promise.all(
      ['cli/verify-every.js', 'verify/files.js', 'service/metrics.js', 'service/prometheus.js'].map(dist),
    );
    const db = demoRegistry(20);
    const out = path.join(tempDir(), 'out.jsonl');
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', out]);
    assert.equal(r.code, 0, r.stderr);
    const { release } = await holdRegistryLock(db);
    const metrics = new ExportMetrics({ prometheus: new Prometheus(false) });
    metrics.committed(20, 20);
    const said: string[] = [];
    const log = {
      info: (m: string) => said.push(m),
      warn: (m: string) => {
        said.push(m);
        if (/locked/.test(m)) void release();
      },
    };
    let verifier: { stop(): Promise<void> } | null = null;
    // The checks run on the export's thread: while one waits for the lock, that thread must keep turning (its
    // reads, a stop, /metrics). Each attempt waits 0.1 s inside SQLite; a whole second there was the fault.
    let last = 0;
    let longestStall = 0;
    let ticker: NodeJS.Timeout | undefined;
    try {
      const config = { db, maxRowBytes: 1 << 20, verifyEveryMs: 100, registryId: 'reg', since: null };
      verifier = await startVerifier(config, new FileVerifier(out, 'ecs', 'reg'), { windowSize: 7, settleMs: 0 }, metrics, 0, null, log);
      // Timed from here, past the loading of the verifier's modules: the first check starts 0.1 s later.
      last = performance.now();
      ticker = setInterval(() => {
        const now = performance.now();
        longestStall = Math.max(longestStall, now - last);
        last = now;
      }, 10);
      await waitFor(() => said.some((m) => /^verified /.test(m)), 20_000);
    } finally {
      clearInterval(ticker);
      await verifier?.stop();
      await release();
    }
    assert.ok(longestStall < 500, `the thread stood still for ${Math.round(longestStall)} ms while the check waited for the lock`);
    assert.match(said[0]!, /^verification failed: registry .* is locked by another process/);
    assert.match(said.find((m) => /^verified /.test(m))!, /^verified rowids 1-20 .*: 20 expected, 20 present once, 0 missing/);
  });
});
