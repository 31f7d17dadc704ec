/**
 * A 2xx is not a delivery: a proxy, captive portal or wrong port answering `200` with a page must not move the
 * checkpoint. Each SIEM's own success answer is required (HEC's JSON `code`, the Data Collector API's empty 200,
 * the Logs Ingestion API's 204); anything else is retried with its first bytes in the message.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { AzurePeer } from './peers/azure-logs-ingestion.js';
import { SentinelPeer } from './peers/sentinel-dca.js';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, outcome, registryIds, runCli, tempDir, withPeer } from './helpers.js';

const TOKEN = 'hostile-answers-token-5a1e';
const PORTAL = '<!DOCTYPE html>\n<html><head><title>Sign in to the guest network</title></head>\n<body>\u001b[31mwelcome</body></html>';

const lastRowid = (state: string): number | null => (fs.existsSync(state) ? (JSON.parse(fs.readFileSync(state, 'utf8')) as { last_rowid: number }).last_rowid : null);

describe('a 2xx that is not the SIEM answering', () => {
  it('Splunk HEC: an HTML 200 is never delivered; the checkpoint stays and the export fails with the page quoted', () =>
    withPeer(new HecPeer({ token: TOKEN }).start(), async (peer) => {
      for (let i = 0; i < 1000; i++) peer.peer.faults.push({ status: 200, body: PORTAL, headers: { 'content-type': 'text/html' } });
      const db = demoRegistry(2000);
      const state = path.join(tempDir(), 'state.json');
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', state,
        '--retry-max-duration', '2s'], { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN } });
      assert.equal(r.code, 1, r.stderr);
      assert.ok((lastRowid(state) ?? 0) === 0, 'nothing checkpointed');
      assert.equal(peer.events.length, 0);
      const last = outcome(r.stderr).at(-1)!;
      assert.match(last, /^oversight: gave up on .* Splunk HEC answered HTTP 200 with '<!DOCTYPE html> <html><head><title>Sign in to the guest network/);
      assert.match(last, /instead of HEC's JSON answer .*: not counted as delivered/);
      assert.ok(!r.stderr.includes('\u001b'), 'the page cannot colour the log');
      assert.match(r.stderr, /\\x1b\[31mwelcome/);
    }));

  it('Splunk HEC: once HEC itself answers, every event arrives once', () =>
    withPeer(new HecPeer({ token: TOKEN }).start(), async (peer) => {
      peer.peer.faults.push({ status: 200, body: PORTAL }, { status: 200, body: '{"ok":true}' }, { status: 204 });
      const db = demoRegistry(300);
      const state = path.join(tempDir(), 'state.json');
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', state,
        '--retry-max-duration', '30s'], { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN } });
      assert.equal(r.code, 0, r.stderr);
      assert.equal((r.stderr.match(/retrying in .*not counted as delivered/g) ?? []).length, 3);
      assert.deepEqual(peer.eventIds(), registryIds(db));
      assert.equal(lastRowid(state), 300);
    }));

  it('Sentinel Data Collector API: a 200 with a page, or a 202, is not the API accepting', () =>
    withPeer(new SentinelPeer('0a1b2c3d-1111-2222-3333-444455556666', Buffer.from('sentinel-hostile-shared-key-bytes').toString('base64')).start(), async (peer) => {
      for (let i = 0; i < 1000; i++) peer.peer.faults.push(i % 2 ? { status: 202, body: '' } : { status: 200, body: PORTAL });
      const db = demoRegistry(50);
      const state = path.join(tempDir(), 'state.json');
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--transport', 'sentinel-dca',
        '--sentinel-workspace-id', '0a1b2c3d-1111-2222-3333-444455556666', '--state', state, '--retry-max-duration', '2s'],
      { env: { OVERSIGHT_SENTINEL_SHARED_KEY: Buffer.from('sentinel-hostile-shared-key-bytes').toString('base64') } });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(peer.records.length, 0);
      assert.ok((lastRowid(state) ?? 0) === 0);
      assert.match(r.stderr, /Sentinel Data Collector API answered HTTP 200 with '<!DOCTYPE html>.*instead of HTTP 200 with an empty body/);
      assert.match(r.stderr, /Sentinel Data Collector API answered HTTP 202 with an empty body instead of HTTP 200 with an empty body/);
    }));

  it('Logs Ingestion API: only 204 counts; a 200 page is retried and then the real answer delivers', async () => {
    const o = { tenantId: 'tenant-1', clientId: 'client-1', clientSecret: 'azure-hostile-secret', dcr: 'dcr-0a1b2c', stream: 'Custom-Oversight_CL' };
    await withPeer(new AzurePeer(o).start(), async (peer) => {
      peer.peer.faults.push({ status: 200, body: PORTAL }, { status: 201, body: '{}' });
      const db = demoRegistry(40);
      const state = path.join(tempDir(), 'state.json');
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', state, '--retry-max-duration', '30s'],
        { env: { AZURE_TENANT_ID: o.tenantId, AZURE_CLIENT_ID: o.clientId, AZURE_CLIENT_SECRET: o.clientSecret, AZURE_AUTHORITY_HOST: peer.authority } });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /Logs Ingestion API answered HTTP 200 with '<!DOCTYPE html>.*instead of HTTP 204 No Content/);
      assert.match(r.stderr, /Logs Ingestion API answered HTTP 201 with '\{\}' instead of HTTP 204 No Content/);
      assert.equal(peer.records.length, 40);
      assert.equal(lastRowid(state), 40);
    });
  });
});
