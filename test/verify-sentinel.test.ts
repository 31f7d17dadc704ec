/** `siem verify` against the Logs Ingestion peer's workspace: the Log Analytics query API and its traps. */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { describe, it } from 'node:test';
import { AzurePeer, type AzurePeerOptions } from './peers/azure-logs-ingestion.js';
import { demoRegistry, registryIds, runCli } from './helpers.js';
import { counted, listed, registryWithRecent } from './verify-support.js';

const O = { tenantId: 'tenant-1', clientId: 'client-1', clientSecret: 'azure-client-secret-value', dcr: 'dcr-0a1b2c', stream: 'Custom-Oversight_CL' };

async function azure(over: Partial<AzurePeerOptions>, fn: (peer: AzurePeer, env: NodeJS.ProcessEnv, o: AzurePeerOptions) => Promise<void>): Promise<void> {
  const o: AzurePeerOptions = { ...O, workspaceId: 'b7d2c0f4-1e2a-4a9b-8c3d-5e6f7a8b9c0d', ...over };
  const peer = await new AzurePeer(o).start();
  const env = { AZURE_TENANT_ID: O.tenantId, AZURE_CLIENT_ID: O.clientId, AZURE_CLIENT_SECRET: O.clientSecret, AZURE_AUTHORITY_HOST: peer.authority };
  try {
    await fn(peer, env, o);
  } finally {
    await peer.close();
  }
}

const exportTo = (db: string, url: string, ...more: string[]): string[] =>
  ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', url, '--retry-max-duration', '20s', ...more];
const verify = (db: string, peer: AzurePeer, ...more: string[]): string[] => [
  'siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--workspace-id', 'b7d2c0f4-1e2a-4a9b-8c3d-5e6f7a8b9c0d',
  '--log-analytics-url', peer.peer.url, '--repair-wait', '0', ...more,
];

describe('siem verify: Sentinel (Logs Ingestion API)', () => {
  it('names exactly the rows a 204 never stored, repairs them, and a second verify passes', () => {
    const lost = new Set(['1', '640', '1200']);
    return azure({ lose: (r, attempt) => attempt === 0 && lost.has(String(r['EventId'])) }, async (peer, env) => {
      const db = demoRegistry(1200);
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      assert.equal(peer.records.length, 1200, 'every row was answered 204');
      const first = await runCli(verify(db, peer, '--window', '400'), { env });
      assert.equal(first.code, 1, first.stderr);
      assert.deepEqual(listed(first.stderr, 'missing'), ['1', '640', '1200']);
      // The deployed rule stored each row's arrival as TimeGenerated and its own time as OccurredAt: no alteration.
      assert.equal(counted(first.stderr, 'altered'), 0);
      assert.equal(counted(first.stderr, 'not in the registry'), 0, 'the registry\'s rows beside each window are all its own events');
      // Per window, one query for its ids and one page of the others.
      assert.equal(peer.queries.length, 6);
      const repaired = await runCli(verify(db, peer, '--repair'), { env });
      assert.equal(repaired.code, 0, repaired.stderr);
      assert.match(repaired.stderr, /repair: 3 missing before, 3 re-sent/);
      const second = await runCli(verify(db, peer), { env });
      assert.equal(second.code, 0, second.stderr);
      assert.deepEqual(peer.table.map((t) => String(t.row['EventId'])).sort(), registryIds(db).sort());
      assert.ok(!second.stderr.includes(O.clientSecret));
    });
  });

  it('reports duplicated, altered and too recent rows', () =>
    azure({}, async (peer, env, o) => {
      const db = registryWithRecent(30, 2);
      assert.equal((await runCli(exportTo(db, peer.url, '--limit', '28'), { env })).code, 0);
      assert.equal((await runCli(exportTo(db, peer.url, '--limit', '2'), { env })).code, 0);
      peer.alter('15', (row) => (row['FileId'] = 'f-forged'));
      o.visibleAfterMs = 600_000;
      assert.equal((await runCli(exportTo(db, peer.url, '--since', String(Math.floor(Date.now() / 1000) - 60)), { env })).code, 0);
      const r = await runCli(verify(db, peer), { env });
      assert.equal(r.code, 1, r.stderr);
      assert.deepEqual(listed(r.stderr, 'duplicated'), ['1', '2']);
      assert.deepEqual(listed(r.stderr, 'altered'), ['15']);
      assert.deepEqual(listed(r.stderr, 'too recent to judge'), ['29', '30']);
      assert.equal(counted(r.stderr, 'missing'), 0);
    }));

  it("compares the callback's own time from OccurredAt, hours or weeks old, and TimeGenerated where a rule keeps it there", async () => {
    const now = Math.floor(Date.now() / 1000);
    const db = demoRegistry(12);
    const d = new Database(db);
    // Callbacks 5 hours old (a late export) and 30 days old (a backfill).
    d.prepare('UPDATE events SET timestamp = ? WHERE id <= 6').run(now - 5 * 3600);
    d.prepare('UPDATE events SET timestamp = ? WHERE id > 6').run(now - 30 * 86400);
    d.close();
    await azure({}, async (peer, env) => {
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      const clean = await runCli(verify(db, peer), { env });
      assert.equal(clean.code, 0, clean.stderr);
      assert.equal(counted(clean.stderr, 'present once'), 12);
      // A changed time is seen whatever the callback's age, since OccurredAt is stored as sent.
      for (const id of ['2', '9']) peer.alter(id, (row) => (row['OccurredAt'] = new Date((now - 86400 * 3) * 1000).toISOString()));
      const changed = await runCli(verify(db, peer), { env });
      assert.equal(changed.code, 1, changed.stderr);
      assert.deepEqual(listed(changed.stderr, 'altered'), ['2', '9']);
    });
    await azure({ transform: false }, async (peer, env) => {
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      const own = await runCli(verify(db, peer), { env });
      assert.equal(own.code, 0, own.stderr);
      assert.equal(counted(own.stderr, 'present once'), 12, 'the 30-day-old rows carry their arrival time, which is not compared');
      peer.alter('3', (row) => (row['TimeGenerated'] = new Date((now - 7200) * 1000).toISOString()));
      const changed = await runCli(verify(db, peer), { env });
      assert.deepEqual(listed(changed.stderr, 'altered'), ['3']);
    });
  });

  it('judges rows of events whose time no SIEM can hold by their ids, and asks only about seconds KQL can name', async () => {
    const db = demoRegistry(30);
    const d = new Database(db);
    const times = d.prepare('SELECT timestamp FROM events ORDER BY id').pluck(true).all() as number[];
    const at = d.prepare('UPDATE events SET timestamp = ? WHERE id = ?');
    // Year 318857, milliseconds where seconds belong, and a time before year 1: the export sends no time for them.
    at.run(10000000000000, 10);
    at.run(1763856000000, 11);
    at.run(-62200000000, 12);
    d.close();
    const held = times.filter((_, i) => ![9, 10, 11].includes(i));
    await azure({}, async (peer, env) => {
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      const r = await runCli(verify(db, peer, '--window', '10'), { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(counted(r.stderr, 'present once'), 30);
      // The seconds asked about for other records run from the oldest event a SIEM can hold to the newest.
      const bounds = peer.queries.flatMap((q) => [...q.query.matchAll(/datetime\(([^)]+)\)/g)].map((m) => m[1]!)).filter((t) => t !== 'null');
      assert.ok(bounds.length > 0);
      for (const b of bounds) {
        const s = Date.parse(b) / 1000;
        assert.ok(s >= Math.min(...held) && s <= Math.max(...held) + 1, `${b} is within the registry's times`);
      }
    });
    // The last second of year 9999 is a time a SIEM holds: compared, and the span after it still a datetime KQL reads.
    const ends = demoRegistry(12);
    const e = new Database(ends);
    e.prepare('UPDATE events SET timestamp = ? WHERE id = 7').run(253402300799);
    e.close();
    await azure({}, async (peer, env) => {
      assert.equal((await runCli(exportTo(ends, peer.url), { env })).code, 0);
      const r = await runCli(verify(ends, peer), { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(counted(r.stderr, 'present once'), 12);
      peer.alter('7', (row) => (row['OccurredAt'] = '9999-12-31T23:59:58Z'));
      const changed = await runCli(verify(ends, peer), { env });
      assert.equal(changed.code, 1, changed.stderr);
      assert.deepEqual(listed(changed.stderr, 'altered'), ['7']);
    });
  });

  it('stops on an empty 200 or a partial error instead of reading them as "nothing stored"', () =>
    azure({}, async (peer, env) => {
      const db = demoRegistry(10);
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      const plain = await fetch(`${peer.peer.url}/v1/workspaces/b7d2c0f4-1e2a-4a9b-8c3d-5e6f7a8b9c0d/query`, { method: 'POST', body: '{"query":"x"}' });
      assert.equal(plain.status, 401, 'the peer wants a token first');
      peer.queryFaults.push({ status: 200, body: '' });
      const empty = await runCli(verify(db, peer), { env });
      assert.equal(empty.code, 1);
      assert.match(empty.stderr, /empty 200/);
      assert.doesNotMatch(empty.stderr, /missing/);
      peer.queryFaults.push({ status: 200, body: JSON.stringify({ tables: [{ name: 'PrimaryResult', columns: [], rows: [] }], error: { code: 'PartialError', message: 'query exceeded limits' } }) });
      const partial = await runCli(verify(db, peer), { env });
      assert.equal(partial.code, 1);
      assert.match(partial.stderr, /PartialError/);
      const columns = ['EventId', 'RegistryId', 'TokenId', 'FileId', 'OccurredAt', 'TimeGenerated', 'IngestionTime'].map((name) => ({ name, type: 'string' }));
      peer.queryFaults.push({ status: 200, body: JSON.stringify({ tables: [{ name: 'PrimaryResult', columns, rows: [null] }] }) });
      const nullRow = await runCli(verify(db, peer), { env });
      assert.equal(nullRow.code, 1);
      assert.equal(nullRow.stderr.trim().split('\n').length, 1, nullRow.stderr);
      assert.match(nullRow.stderr, /Log Analytics result has a row that is not a list of values: null/);
    }));

  it('names Data.Read on 403 in one line, and asks for the token of the Log Analytics API', () =>
    azure({ queryForbidden: true }, async (peer, env) => {
      const db = demoRegistry(5);
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      const r = await runCli(verify(db, peer), { env });
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /HTTP 403: the app needs the Log Analytics API permission Data\.Read/);
      const wrongScope = await runCli(verify(db, peer, '--log-analytics-scope', 'https://monitor.azure.com//.default'), { env });
      assert.equal(wrongScope.code, 1);
      assert.match(wrongScope.stderr, /HTTP 401.*https:\/\/api\.loganalytics\.io/);
      assert.ok(!wrongScope.stderr.includes(O.clientSecret));
      const noWorkspace = await runCli(['siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', peer.url], { env });
      assert.equal(noWorkspace.code, 2);
      assert.match(noWorkspace.stderr, /--workspace-id/);
    }));
});
