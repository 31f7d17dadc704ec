/**
 * `siem verify` against the Logs Ingestion peer's workspace names rows written under this registry id for event ids
 * the registry never had (anyone with the data collection rule's write access can send them), dated by the
 * callback's own time wherever the table keeps it; rows of another registry, and the registry's own events
 * outside the verified rowids, are not. A flood is counted exactly in a few pages, and a workspace that claims
 * more than can be paged through stops the run.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { AzurePeer, type AzurePeerOptions } from './peers/azure-logs-ingestion.js';
import { demoRegistry, runCli, tempDir } from './helpers.js';
import { assertForgeriesFound, assertOnlyForgeries, counted, forgeries, listed, sharedSecond } from './verify-support.js';

type Rec = Record<string, unknown>;
const O = { tenantId: 'tenant-1', clientId: 'client-1', clientSecret: 'azure-client-secret-value', dcr: 'dcr-0a1b2c', stream: 'Custom-Oversight_CL' };
const WORKSPACE = 'b7d2c0f4-1e2a-4a9b-8c3d-5e6f7a8b9c0d';
const iso = (s: number): string => new Date(s * 1000).toISOString();

async function azure(over: Partial<AzurePeerOptions>, fn: (peer: AzurePeer, env: NodeJS.ProcessEnv) => Promise<void>): Promise<void> {
  const peer = await new AzurePeer({ ...O, workspaceId: WORKSPACE, ...over }).start();
  const env = { AZURE_TENANT_ID: O.tenantId, AZURE_CLIENT_ID: O.clientId, AZURE_CLIENT_SECRET: O.clientSecret, AZURE_AUTHORITY_HOST: peer.authority };
  try {
    await fn(peer, env);
  } finally {
    await peer.close();
  }
}

const exportTo = (db: string, peer: AzurePeer): string[] => ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url];
const verify = (db: string, peer: AzurePeer, ...more: string[]): string[] => [
  'siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--workspace-id', WORKSPACE, '--log-analytics-url', peer.peer.url, ...more,
];

/** Send records to the DCR stream as anyone with its write access can: a token of the app, then 204. */
async function ingest(peer: AzurePeer, records: Rec[]): Promise<void> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: O.clientId, client_secret: O.clientSecret, scope: 'https://monitor.azure.com//.default' });
  const token = (await (await fetch(`${peer.authority}/${O.tenantId}/oauth2/v2.0/token`, { method: 'POST', body: form })).json() as { access_token: string }).access_token;
  for (let i = 0; i < records.length; i += 500) {
    const res = await fetch(peer.url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(records.slice(i, i + 500)) });
    assert.equal(res.status, 204);
  }
}

/** A record as the export sent it, made into another callback. */
function forged(peer: AzurePeer, like: number, id: string, registry: string, time: number): Rec {
  const copy = structuredClone(peer.records.find((r) => String(r['EventId']) === String(like))!);
  return Object.assign(copy, { EventId: id, RegistryId: registry, TimeGenerated: iso(time) });
}

/** The demo registry with its times moved so the newest is an hour old, gaps and shared seconds kept. */
function recentRegistry(n: number): string {
  const file = demoRegistry(n);
  const db = new Database(file);
  const newest = db.prepare('SELECT max(timestamp) FROM events').pluck(true).get() as number;
  db.prepare('UPDATE events SET timestamp = timestamp + ?').run(Math.floor(Date.now() / 1000) - 3600 - newest);
  db.close();
  return file;
}

describe('siem verify: Log Analytics rows not in the registry', () => {
  for (const transform of [true, false]) {
    const kind = transform ? 'the deployed rule (OccurredAt)' : 'a rule of one\'s own (TimeGenerated)';
    it(`names rows under this registry id whose event id the registry does not hold, with ${kind}`, () =>
      azure({ transform }, async (peer, env) => {
        // A rule of one's own keeps the time in TimeGenerated, which holds the callback's own time for two days only.
        const db = transform ? demoRegistry(60) : recentRegistry(60);
        assert.equal((await runCli(exportTo(db, peer), { env })).code, 0);
        const clean = await runCli(verify(db, peer, '--window', '10'), { env });
        assert.equal(clean.code, 0, clean.stderr);
        assert.equal(counted(clean.stderr, 'not in the registry'), 0, 'the registry\'s rows beside each window are all its own events');

        // Dated with event 5 (inside the first window), in a gap between two windows, and under another registry id.
        await ingest(peer, forgeries(db).map((x) => forged(peer, x.like, x.id, x.registry, x.time)));
        const report = path.join(tempDir(), 'report.json');
        const r = await runCli(verify(db, peer, '--window', '10', '--report', report), { env });
        assertForgeriesFound(r, 60, report);

        // Events of the registry past --to-rowid share the last verified second: they are in the registry, not made up.
        const part = await runCli(verify(db, peer, '--to-rowid', String(sharedSecond(db, 10))), { env });
        assertOnlyForgeries(part);
      }));
  }

  it('counts a flood of made-up rows by copy and names the first ids, in a few pages', () =>
    azure({}, async (peer, env) => {
      const db = demoRegistry(30);
      assert.equal((await runCli(exportTo(db, peer), { env })).code, 0);
      const at = Date.parse(String(peer.records[3]!['TimeGenerated'])) / 1000;
      const made: Rec[] = [];
      for (let i = 0; i < 2500; i++) made.push(forged(peer, 4, `x-${String(i).padStart(4, '0')}`, 'reg', at));
      // One id sent twice: two copies.
      made.push(forged(peer, 4, 'x-0007', 'reg', at));
      await ingest(peer, made);
      const before = peer.queries.length;
      const report = path.join(tempDir(), 'report.json');
      const r = await runCli(verify(db, peer, '--list', '3', '--report', report), { env });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^not in the registry \(2501\): x-0000, x-0001, x-0002, … more \(see --report\)$/m);
      assert.equal(counted(r.stderr, 'present once'), 30);
      const m = JSON.parse(fs.readFileSync(report, 'utf8'));
      assert.equal(m.counts.not_in_registry, 2501);
      assert.equal(m.ids.not_in_registry.listed.length, 1000);
      assert.equal(new Set(m.ids.not_in_registry.listed).size, 1000);
      // One query for the window, three pages of 1000 event ids for the others.
      assert.equal(peer.queries.length - before, 4);
      assert.ok(peer.queries.slice(before + 1).every((q) => q.timespan === ''), 'the others are asked at any arrival time');
    }));

  it('stops in one line when the workspace claims more ids than can be paged through, or pages that repeat', () =>
    azure({}, async (peer, env) => {
      const db = demoRegistry(10);
      assert.equal((await runCli(exportTo(db, peer), { env })).code, 0);
      const columns = [['EventId', 'string'], ['Copies', 'long'], ['Ids', 'long'], ['Total', 'long']].map(([name, type]) => ({ name, type }));
      const page = (ids: number): { status: number; body: string } => ({
        status: 200,
        body: JSON.stringify({ tables: [{ name: 'PrimaryResult', columns, rows: Array.from({ length: 1000 }, (_, i) => [`y-${String(i).padStart(4, '0')}`, 1, ids, ids]) }] }),
      });
      peer.othersFaults.push(page(5_000_000));
      const endless = await runCli(verify(db, peer), { env });
      assert.equal(endless.code, 1);
      assert.equal(endless.stderr.trim().split('\n').length, 1, endless.stderr);
      assert.match(endless.stderr, /counted 5000000 other event ids .* more than 1000000: too many to page through/);

      peer.othersFaults.push(page(1500), page(1500));
      const repeated = await runCli(verify(db, peer), { env });
      assert.equal(repeated.code, 1);
      assert.equal(repeated.stderr.trim().split('\n').length, 1, repeated.stderr);
      assert.match(repeated.stderr, /returned more than the 1500 event ids and 1500 copies it counted: pages repeat/);
    }));
});
