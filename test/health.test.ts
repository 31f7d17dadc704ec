/**
 * /healthz: 200 while the exporter keeps up, 503 with a reason once events wait and the SIEM has taken nothing
 * for longer than --health-stall, and 200 again when it recovers.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Health } from '../src/service/health.js';
import { ExportMetrics, type Backlog } from '../src/service/metrics.js';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, registryIds, spawnCli, tempDir, waitFor } from './helpers.js';

const TOKEN = 'health-test-token-31c9';

interface Health {
  status: string;
  reason?: string;
  backlog_events: number;
  checkpoint_rowid: number;
  registry_newest_rowid: number;
  last_delivery: string | null;
}

async function health(base: string): Promise<{ code: number; body: Health }> {
  const res = await fetch(`${base}/healthz`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return { code: res.status, body: (await res.json()) as Health };
}

/** Poll /healthz until `check` holds; bounded, so a broken exporter fails the test instead of hanging it. */
async function healthUntil(base: string, check: (h: { code: number; body: Health }) => boolean): Promise<{ code: number; body: Health }> {
  for (let i = 0; i < 200; i++) {
    const h = await health(base);
    if (check(h)) return h;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('health never reached the expected state');
}

function addEvents(db: string, n: number): void {
  const con = new Database(db);
  const ins = con.prepare("INSERT INTO events (token_id,kind,source_ip,user_agent,extra,timestamp) VALUES ('live','dns','192.0.2.9','','{}',?)");
  for (let i = 0; i < n; i++) ins.run(Math.floor(Date.now() / 1000));
  con.close();
}

describe('/healthz', () => {
  it('turns 503 when the SIEM stalls and 200 again when it recovers', async () => {
    const peer = await new HecPeer({ token: TOKEN }).start();
    const db = demoRegistry(20);
    const child = spawnCli([
      'siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', path.join(tempDir(), 'state.json'),
      '--follow', '--metrics-listen', '127.0.0.1:0', '--health-stall', '1s', '--retry-max-duration', '10m',
    ], { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    try {
      await waitFor(() => /serving metrics at (\S+)\/metrics/.test(stderr), 15_000);
      const base = /serving metrics at (\S+)\/metrics/.exec(stderr)![1]!;

      await waitFor(() => peer.events.length === 20, 15_000);
      const ok = await healthUntil(base, (h) => h.body.checkpoint_rowid === 20);
      assert.equal(ok.code, 200);
      assert.deepEqual({ ...ok.body, last_delivery: typeof ok.body.last_delivery }, {
        status: 'ok', backlog_events: 0, checkpoint_rowid: 20, registry_newest_rowid: 20, oldest_undelivered_event_age_seconds: null,
        last_delivery: 'string', stall_after_seconds: 1,
      });

      // The SIEM answers "busy" to everything while new events arrive.
      for (let i = 0; i < 10_000; i++) peer.peer.faults.push({ status: 503, body: '{"text":"Server is busy","code":9}' });
      addEvents(db, 5);
      const stalled = await healthUntil(base, (h) => h.code === 503);
      assert.equal(stalled.body.status, 'stalled');
      assert.equal(stalled.body.backlog_events, 5);
      assert.equal(stalled.body.checkpoint_rowid, 20);
      assert.match(stalled.body.reason!, /^5 event\(s\) waiting and no delivery for \d+s \(more than --health-stall 1s\)$/);

      peer.peer.faults.length = 0;
      const recovered = await healthUntil(base, (h) => h.code === 200);
      assert.equal(recovered.body.status, 'ok');
      await waitFor(() => peer.events.length === 25, 30_000);
      assert.deepEqual(peer.eventIds(), registryIds(db));
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('close', r));
      await peer.close();
    }
  });
});

describe('the stall rule', () => {
  const minute = 60_000;
  function exporter(backlog: () => Backlog): ExportMetrics {
    const m = new ExportMetrics();
    m.watchBacklog(backlog);
    return m;
  }

  it('does not call a quiet registry stalled the moment its first event in an hour arrives', () => {
    let events = 0;
    const m = exporter(() => ({ newestRowid: 10 + events, events, oldestTimestamp: null }));
    m.delivered(10);
    m.committed(10, 10);
    const h = new Health(m, 5 * minute);
    const t0 = Date.now() + 60 * minute;
    assert.equal(h.check(t0).code, 200);
    events = 1;
    assert.equal(h.check(t0 + 1000).code, 200);
    assert.equal(h.check(t0 + 4 * minute).code, 200);
    const stalled = h.check(t0 + 6 * minute);
    assert.equal(stalled.code, 503);
    assert.match(stalled.report.reason!, /^1 event\(s\) waiting and no delivery for 359s \(more than --health-stall 300s\)$/);
  });

  it('counts from the last delivery while events keep waiting', () => {
    const m = exporter(() => ({ newestRowid: 50, events: 40, oldestTimestamp: Math.floor(Date.now() / 1000) - 30 }));
    m.read(50);
    m.delivered(10);
    const h = new Health(m, 5 * minute);
    const now = Date.now();
    assert.equal(h.check(now + 4 * minute).code, 200);
    assert.equal(h.check(now + 6 * minute).code, 503);
    m.delivered(10);
    assert.equal(h.check(Date.now() + 1000).code, 200);
    assert.equal(h.check(Date.now() + 1000).report.oldest_undelivered_event_age_seconds! >= 30, true);
  });
});
