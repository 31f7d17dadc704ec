/**
 * The metrics listener is beside the export, never in its way: a client polling as fast as it can does not
 * make the exporter count the backlog per request, idle connections are capped and closed, and an address
 * other than loopback is warned about.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, registryIds, runCli, sleep, spawnCli, tempDir, waitFor, withPeer } from './helpers.js';

const TOKEN = 'hostile-metrics-token-9c0d';

const openFiles = (pid: number): number => {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
};


/**
 * A follower of a small registry serving metrics on loopback, given to `body` with the listener's base URL; the
 * follower must still be running when `body` is done, and is stopped after.
 */
async function withMetricsFollower(body: (base: string) => Promise<void>): Promise<void> {
  const db = demoRegistry(5);
  const out = path.join(tempDir(), 'out.jsonl');
  const child = spawnCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', out, '--format', 'ecs', '--follow',
    '--poll-interval', '100ms', '--metrics-listen', '127.0.0.1:0']);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  try {
    await waitFor(() => /serving metrics at (\S+)\/metrics/.test(stderr), 15_000);
    await body(/serving metrics at (\S+)\/metrics/.exec(stderr)![1]!);
    assert.equal(child.exitCode, null, stderr);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.on('close', r)));
  }
}
describe('a hostile metrics client', () => {
  it('300 idle connections and a client polling without pause neither crash nor hold up the export', () =>
    withPeer(new HecPeer({ token: TOKEN }).start(), async (peer) => {
      const db = demoRegistry(3000);
      const child = spawnCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--follow',
        '--state', path.join(tempDir(), 'state.json'), '--max-batch-events', '20', '--metrics-listen', '127.0.0.1:0'],
      { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const idle: net.Socket[] = [];
      let idleClosed = 0;
      try {
        await waitFor(() => /serving metrics at (\S+)\/metrics/.test(stderr), 15_000);
        const base = /serving metrics at (\S+)\/metrics/.exec(stderr)![1]!;
        const { port } = new URL(base);
        const baseline = openFiles(child.pid!);
        // Open 300 connections that never send a request and never go away on their own.
        for (let i = 0; i < 300; i++) {
          const s = net.connect(Number(port), '127.0.0.1');
          s.on('error', () => undefined);
          s.on('close', () => idleClosed++);
          idle.push(s);
        }
        // Poll /healthz and /metrics back to back while the export runs; refused connections are expected.
        let answered = 0;
        let refused = 0;
        let mostFiles = 0;
        while (peer.events.length < 3000 && child.exitCode === null) {
          mostFiles = Math.max(mostFiles, openFiles(child.pid!));
          try {
            const res = await fetch(`${base}/${answered % 2 ? 'metrics' : 'healthz'}`, { signal: AbortSignal.timeout(2000) });
            await res.text();
            answered++;
          } catch {
            refused++;
            await sleep(20);
          }
        }
        assert.equal(child.exitCode, null, `the exporter is still running: ${stderr}`);
        await waitFor(() => peer.events.length === 3000, 30_000);
        assert.deepEqual(peer.eventIds(), registryIds(db), 'every event delivered once');
        assert.ok(mostFiles < baseline + 60, `open files peaked at ${mostFiles} (baseline ${baseline}) with 300 connections offered`);
        // The server closes connections that send nothing, so the idle ones are gone and scrapes work again.
        await waitFor(() => idleClosed === 300, 20_000);
        let reads = NaN;
        let polls = 0;
        for (let i = 0; i < 200; i++) {
          const res = await fetch(`${base}/metrics`);
          const text = await res.text();
          reads = Number(/^oversight_backlog_reads_total (\d+)/m.exec(text)?.[1]);
          polls++;
        }
        const health = await fetch(`${base}/healthz`);
        assert.equal(health.status, 200);
        // 200 scrapes back to back (and everything before) read the registry a handful of times, not per request.
        assert.ok(reads >= 1 && reads < (answered + polls) / 4, `${reads} backlog reads for ${answered + polls} requests (${refused} refused)`);
      } finally {
        for (const s of idle) s.destroy();
        child.kill('SIGTERM');
        await new Promise((r) => (child.exitCode !== null ? r(null) : child.on('close', r)));
      }
    }));

  it('a client that pipelines requests without reading the answers is cut off, and the export goes on', () =>
    withMetricsFollower(async (base) => {
      const flood = new net.Socket();
      let closed = false;
      let sent = 0;
      flood.on('error', () => undefined).on('close', () => (closed = true));
      // Never reads: every answer the exporter made for it would stay queued in the exporter.
      flood.pause();
      const burst = Buffer.from('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(1000));
      const pump = (): void => {
        while (!flood.destroyed && sent < 200 && flood.write(burst)) sent++;
      };
      flood.on('drain', pump).connect(Number(new URL(base).port), '127.0.0.1', pump);
      try {
        await waitFor(() => closed, 10_000);
        assert.equal((await fetch(`${base}/healthz`)).status, 200);
      } finally {
        flood.destroy();
      }
    }));

  it('clients that send a request a header line at a time are closed once they have taken 5 s, and probes get through again', () =>
    withMetricsFollower(async (base) => {
      const slow: net.Socket[] = [];
      const timers: NodeJS.Timeout[] = [];
      let closed = 0;
      // Every connection the listener serves, each never idle for long, none ever finishing its request.
      for (let i = 0; i < 32; i++) {
        const s = net.connect(Number(new URL(base).port), '127.0.0.1', () => s.write('GET /healthz HTTP/1.1\r\n'));
        s.on('error', () => undefined).on('close', () => closed++);
        timers.push(setInterval(() => s.writable && s.write('X-Slow: 1\r\n'), 1000));
        slow.push(s);
      }
      try {
        // The limit is 5 s; Node's own check every 30 s held them six times as long.
        await waitFor(() => closed === 32, 15_000);
        assert.equal((await fetch(`${base}/healthz`)).status, 200);
      } finally {
        for (const t of timers) clearInterval(t);
        for (const s of slow) s.destroy();
      }
    }));

  it('warns when --metrics-listen is not a loopback address', async () => {
    const db = demoRegistry(3);
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', path.join(tempDir(), 'out.jsonl'),
      '--format', 'ecs', '--metrics-listen', '0.0.0.0:0']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^oversight: --metrics-listen 0\.0\.0\.0:0 is not a loopback address: anyone who can reach it sees/m);
    const local = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', path.join(tempDir(), 'out.jsonl'),
      '--format', 'ecs', '--metrics-listen', '127.0.0.1:0']);
    assert.equal(local.code, 0, local.stderr);
    assert.doesNotMatch(local.stderr, /not a loopback address/);
  });
});
