/**
 * --metrics-listen: /metrics scraped during a follow export against a HEC that throttles, read with a
 * Prometheus text-format parser; the counters must add up to what the fake SIEM saw.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import parsePrometheus from 'parse-prometheus-text-format';
import { splitConcatenatedJson } from './peers/peer.js';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, runCli, spawnCli, tempDir, waitFor } from './helpers.js';

const TOKEN = 'metrics-test-token-77aa';
const env = { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN };

interface Family {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }[];
}

/** Start an export with a metrics endpoint on a free port; resolves with the base URL it printed. */
async function startWithMetrics(args: string[]): Promise<{ child: ChildProcess; base: string; stderr: () => string }> {
  const child = spawnCli([...args, '--metrics-listen', '127.0.0.1:0'], env);
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  await waitFor(() => /serving metrics at (http:\/\/[^/\s]+)\/metrics/.test(err) || child.exitCode !== null, 15_000);
  const m = /serving metrics at (http:\/\/[^/\s]+)\/metrics/.exec(err);
  assert.ok(m, err);
  return { child, base: m[1]!, stderr: () => err };
}

async function scrape(base: string): Promise<Map<string, Family>> {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const families = parsePrometheus(await res.text()) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

/** The value of one series; labels must match exactly the ones given. */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = families.get(name);
  if (!f) return NaN;
  const key = (l: Record<string, string>): string => JSON.stringify(Object.entries(l).sort());
  const series = f.metrics.find((m) => key(m.labels ?? {}) === key(labels));
  return series?.value === undefined ? NaN : Number(series.value);
}

/** A histogram's observation count and sum, checked against its +Inf bucket. */
function histogram(families: Map<string, Family>, name: string): { count: number; sum: number } {
  const h = families.get(name)?.metrics[0];
  assert.equal(families.get(name)?.type, 'HISTOGRAM');
  assert.equal(h?.count, h?.buckets?.['+Inf']);
  return { count: Number(h?.count), sum: Number(h?.sum) };
}

describe('--metrics-listen', () => {
  it('counts what the SIEM received, throttling included', async () => {
    const peer = await new HecPeer({ token: TOKEN }).start();
    const busy = { status: 429, body: '{"text":"Server is busy","code":9}', headers: { 'retry-after': '0' } };
    peer.peer.faults.push(busy, busy, busy);
    const db = demoRegistry(100);
    const state = path.join(tempDir(), 'state.json');
    const { child, base } = await startWithMetrics([
      'siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', state, '--batch-size', '10', '--follow',
    ]);
    try {
      // Scraped while the export runs, then once it has caught up.
      const during = await scrape(base);
      assert.equal(during.get('oversight_events_read_total')?.type, 'COUNTER');
      let m = during;
      await waitFor(() => peer.events.length === 100, 20_000);
      for (let i = 0; i < 100 && value(m, 'oversight_checkpoint_rowid') !== 100; i++) {
        await new Promise((r) => setTimeout(r, 100));
        m = await scrape(base);
      }
      const event = peer.peer.requests.filter((q) => q.path === '/services/collector/event');
      const sentEvents = event.reduce((n, q) => n + splitConcatenatedJson(q.body.toString('utf8')).length, 0);

      assert.equal(value(m, 'oversight_events_read_total'), 100);
      assert.equal(value(m, 'oversight_events_delivered_total'), peer.events.length);
      assert.equal(value(m, 'oversight_events_dead_lettered_total'), 0);
      assert.equal(value(m, 'oversight_requests_total', { transport: 'splunk-hec', outcome: 'retried' }), 3);
      assert.equal(value(m, 'oversight_requests_total', { transport: 'splunk-hec', outcome: 'delivered' }), event.length - 3);
      assert.equal(value(m, 'oversight_retries_total', { transport: 'splunk-hec' }), 3);
      assert.equal(value(m, 'oversight_checkpoint_rowid'), 100);
      assert.equal(value(m, 'oversight_registry_newest_rowid'), 100);
      assert.equal(value(m, 'oversight_backlog_events'), 0);
      assert.equal(value(m, 'oversight_oldest_undelivered_event_age_seconds'), 0);
      assert.equal(value(m, 'oversight_splunk_acks_pending'), 0);
      const last = value(m, 'oversight_last_delivery_timestamp_seconds');
      assert.ok(last > 1_700_000_000 && last <= Date.now() / 1000 + 1, `last delivery ${last}`);
      assert.equal(histogram(m, 'oversight_request_duration_seconds').count, event.length);
      assert.deepEqual(histogram(m, 'oversight_batch_events'), { count: event.length, sum: sentEvents });
      const bytes = event.reduce((n, q) => n + q.body.length, 0);
      assert.deepEqual(histogram(m, 'oversight_batch_bytes'), { count: event.length, sum: bytes });
      assert.ok(m.has('process_resident_memory_bytes'));
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('close', r));
      await peer.close();
    }
  });

  it('refuses a listen address that is not HOST:PORT, before reading anything', async () => {
    const db = demoRegistry(5);
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--metrics-listen', '9464']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "oversight: --metrics-listen must be HOST:PORT such as 127.0.0.1:9464 or [::1]:9464, not '9464'\n");
    assert.equal(r.stdout, '');
  });

  it('says which address is taken', async () => {
    const peer = await new HecPeer({ token: TOKEN }).start();
    try {
      const taken = new URL(peer.url).host;
      const db = demoRegistry(5);
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--metrics-listen', taken]);
      // A port in use is a runtime condition (exit 1): the unit's restart may find it free.
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^oversight: cannot listen on ${taken} \\(--metrics-listen\\): EADDRINUSE; choose another address or port\\n$`));
    } finally {
      await peer.close();
    }
  });
});
