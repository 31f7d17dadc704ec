/**
 * Peers that hold the exporter or blow its memory: every wait on a peer ends within --timeout and the retry
 * budget, and an answer is read only up to a cap. Memory is the child's own peak (VmHWM), read while it runs.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { describe, it } from 'node:test';
import { DeafSyslogPeer, EndlessHttpPeer, HostileRelpPeer, peakRss, UnfinishedHttpPeer } from './peers/hostile-peers.js';
import fs from 'node:fs';
import path from 'node:path';
import { demoRegistry, FIXTURES, jsonLines, outcome, runCli, sleep, spawnCli, tempDir, waitFor, withPeer, type CliResult } from './helpers.js';

const CERT = path.join(FIXTURES, 'tls', 'localhost.crt');

const TOKEN = 'hostile-peers-token-77f0';
const MB = 1024 * 1024;

/** Run the CLI to the end, sampling its peak resident memory every 50 ms. */
async function runMeasured(args: string[], env: NodeJS.ProcessEnv = {}, killAfterMs = 60_000): Promise<CliResult & { peak: number }> {
  const child = spawnCli(args, env);
  let stdout = '';
  let stderr = '';
  let peak = 0;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const sampler = setInterval(() => (peak = Math.max(peak, peakRss(child.pid!) ?? 0)), 50);
  const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearInterval(sampler);
  clearTimeout(killer);
  return { code, signal, stdout, stderr, peak };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  child.kill('SIGTERM');
  return new Promise((r) => child.on('close', () => r()));
}

describe('syslog over TCP to a receiver that accepts and never reads', () => {
  it('fails the attempt after --timeout without progress and gives up within --retry-max-duration', () =>
    withPeer(new DeafSyslogPeer(true).start(), async (peer) => {
      // Enough records to fill the kernel's buffers on both sides many times over.
      const db = demoRegistry(20_000);
      const r = await runMeasured(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs',
        '--output', `syslog+tcp://127.0.0.1:${peer.port}`, '--timeout', '1s', '--retry-max-duration', '3s',
        // The receiver takes one connection only: the export's own, not the preflight's.
        '--state', path.join(tempDir(), 'state.json'), '--no-preflight'], {}, 60_000);
      assert.equal(r.signal, null, 'it ended by itself');
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^oversight: retrying in \S+: 127\.0\.0\.1:\d+ took no data for 1s \(--timeout\): the receiver is not reading$/m);
      assert.match(outcome(r.stderr).at(-1)!, /^oversight: gave up on .* \(--retry-max-duration\): cannot reach 127\.0\.0\.1:\d+: connect ECONNREFUSED/);
      assert.equal(peer.connections, 1);
    }));

  it('over TLS too: a receiver that completes the handshake and stops reading ends the attempt within --timeout', () =>
    withPeer(new DeafSyslogPeer(true, { key: fs.readFileSync(path.join(FIXTURES, 'tls', 'localhost.key')), cert: fs.readFileSync(CERT) }).start(), async (peer) => {
      const db = demoRegistry(20_000);
      const r = await runMeasured(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--ca-file', CERT,
        '--output', `syslog+tls://127.0.0.1:${peer.port}`, '--timeout', '1s', '--retry-max-duration', '3s', '--no-preflight'], {}, 60_000);
      assert.equal(r.signal, null, 'it ended by itself');
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^oversight: retrying in \S+: 127\.0\.0\.1:\d+ took no data for 1s \(--timeout\): the receiver is not reading$/m);
      assert.equal(peer.connections, 1);
    }));

  it('turns /healthz to 503 while nothing moves', () =>
    withPeer(new DeafSyslogPeer().start(), async (peer) => {
      const db = demoRegistry(20_000);
      const child = spawnCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--follow',
        '--output', `syslog+tcp://127.0.0.1:${peer.port}`, '--timeout', '1s', '--retry-max-duration', '10m',
        '--metrics-listen', '127.0.0.1:0', '--health-stall', '1s']);
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      try {
        await waitFor(() => /serving metrics at (\S+)\/metrics/.test(stderr), 15_000);
        const base = /serving metrics at (\S+)\/metrics/.exec(stderr)![1]!;
        let last: { code: number; body: { status: string; reason?: string } } | null = null;
        for (let i = 0; i < 150 && last?.code !== 503; i++) {
          const res = await fetch(`${base}/healthz`);
          last = { code: res.status, body: (await res.json()) as { status: string; reason?: string } };
          if (last.code !== 503) await sleep(100);
        }
        assert.equal(last?.code, 503, JSON.stringify(last));
        assert.equal(last.body.status, 'stalled');
        assert.match(last.body.reason!, /event\(s\) waiting and no delivery for \d+s \(more than --health-stall 1s\)/);
        // The attempt's own end comes within --timeout of the stall it made.
        await waitFor(() => /retrying in .*took no data for 1s \(--timeout\)/.test(stderr), 15_000);
      } finally {
        await stop(child);
      }
    }));
});

describe('RELP receivers that answer badly', () => {
  it('a receiver trickling each answer a byte at a time fails the attempt: the wait is per answer, not per byte', () =>
    withPeer(new HostileRelpPeer('trickle', 100).start(), async (peer) => {
      const db = demoRegistry(5);
      const r = await runMeasured(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', `relp://127.0.0.1:${peer.port}`,
        '--timeout', '1s', '--retry-max-duration', '3s'], {}, 60_000);
      assert.equal(r.signal, null, 'it ended by itself');
      assert.equal(r.code, 1, r.stderr);
      assert.ok(peer.sent > 5, 'the receiver did trickle bytes');
      assert.match(outcome(r.stderr).at(-1)!, /^oversight: gave up on .* no answer from 127\.0\.0\.1:\d+ within 1s \(--timeout\)$/);
    }));

  it('a receiver announcing a 900 MB answer is cut off at once, memory bounded', () =>
    withPeer(new HostileRelpPeer('giant').start(), async (peer) => {
      const db = demoRegistry(5);
      const r = await runMeasured(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', `relp://127.0.0.1:${peer.port}`,
        '--timeout', '2s', '--retry-max-duration', '2s'], {}, 60_000);
      assert.equal(r.code, 1, r.stderr);
      assert.match(outcome(r.stderr).at(-1)!, /announced a 900000000-byte answer; RELP answers are short, at most 8192 bytes are taken/);
      assert.ok(peer.sent < 100 * MB, `the receiver could push only ${peer.sent} bytes`);
      assert.ok(r.peak > 0 && r.peak < 300 * MB, `peak RSS ${(r.peak / MB).toFixed(0)} MB`);
    }));
});

describe('HTTP answers of 400 MB', () => {
  it('an error answer is read up to its cap: peak RSS stays under 300 MB and the rest is never read', () =>
    withPeer(new EndlessHttpPeer(503, 400 * MB).start(), async (peer) => {
      const db = demoRegistry(20);
      const r = await runMeasured(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--retry-max-duration', '3s'],
        { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN });
      assert.equal(r.code, 1, r.stderr);
      assert.ok(peer.requests >= 2, 'it was retried');
      assert.match(outcome(r.stderr).at(-1)!, /Splunk HEC answered HTTP 503: <!DOCTYPE html><html><body>Welcome to the proxy/);
      assert.ok(peer.sent < peer.requests * 50 * MB, `sent ${(peer.sent / MB).toFixed(0)} MB over ${peer.requests} answers`);
      assert.ok(r.peak > 0 && r.peak < 300 * MB, `peak RSS ${(r.peak / MB).toFixed(0)} MB`);
    }));

  it('a 400 MB success answer is not one HEC gives: not delivered, memory bounded', () =>
    withPeer(new EndlessHttpPeer(200, 400 * MB, 'application/json').start(), async (peer) => {
      const db = demoRegistry(20);
      const r = await runMeasured(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--retry-max-duration', '2s'],
        { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN });
      assert.equal(r.code, 1, r.stderr);
      assert.match(outcome(r.stderr).at(-1)!, /answered HTTP 200 with more than 16 MiB: not an answer the SIEM gives; not counted as delivered/);
      assert.ok(r.peak > 0 && r.peak < 300 * MB, `peak RSS ${(r.peak / MB).toFixed(0)} MB`);
    }));
});

describe('HTTP error answers that do not end within --timeout', () => {
  // A refusal can split a batch down to single records, each waiting out --timeout on a peer that never ends its
  // answers: one such answer stops the export at once, with the start of its body quoted and nothing dead-lettered.
  const SENTINEL_KEY = Buffer.from('sentinel-unfinished-shared-key').toString('base64');
  const cases: { siem: string; start: string; path: string; args: string[]; env: NodeJS.ProcessEnv }[] = [
    { siem: 'Splunk HEC', start: 'bad request', path: '/services/collector/event', args: [], env: { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN } },
    {
      siem: 'Elasticsearch', start: 'illegal_argument_exception', path: '/logs-oversight.beacon-default/_bulk', args: ['--transport', 'elasticsearch'],
      env: { OVERSIGHT_ES_API_KEY: 'dW5maW5pc2hlZDpzZWNyZXQ=' },
    },
    {
      siem: 'Sentinel Data Collector API', start: 'InvalidDataFormat', path: '/api/logs?api-version=2016-04-01',
      args: ['--transport', 'sentinel-dca', '--sentinel-workspace-id', '0a1b2c3d-1111-2222-3333-444455556666'], env: { OVERSIGHT_SENTINEL_SHARED_KEY: SENTINEL_KEY },
    },
  ];
  for (const c of cases) {
    it(`${c.siem}: a 400 whose answer never ends stops the export after one request, nothing dead-lettered`, () =>
      withPeer(new UnfinishedHttpPeer(400, c.start).start(), async (peer) => {
        const dir = tempDir();
        const dlq = path.join(dir, 'dead.jsonl');
        const state = path.join(dir, 'state.json');
        const r = await runCli(['siem', 'export', '--db', demoRegistry(3), '--registry-id', 'reg', '--output', peer.url + c.path, ...c.args,
          '--timeout', '1s', '--retry-max-duration', '20s', '--no-preflight', '--dead-letter', dlq, '--state', state], { env: c.env });
        assert.equal(r.code, 1, r.stderr);
        assert.doesNotMatch(r.stderr, /retrying/);
        assert.equal(peer.requests, 1);
        assert.match(outcome(r.stderr).join('\n'), new RegExp(`answered HTTP 400 but did not finish its answer within --timeout \\(it began: ${c.start}\\.*\\): not retried`));
        assert.equal(fs.existsSync(dlq) ? fs.readFileSync(dlq, 'utf8') : '', '');
        assert.equal(fs.existsSync(state), false, 'nothing was checkpointed');
      }));
  }
});

