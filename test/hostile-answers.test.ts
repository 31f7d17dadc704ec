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
import { EsPeer } from './peers/elasticsearch.js';
import { SentinelPeer } from './peers/sentinel-dca.js';
import { HecPeer } from './peers/splunk-hec.js';
import { Peer } from './peers/peer.js';
import { demoRegistry, outcome, registryIds, runCli, spawnCli, type CliResult, tempDir, waitFor, withPeer, lastRowid } from './helpers.js';

const TOKEN = 'hostile-answers-token-5a1e';
const PORTAL = '<!DOCTYPE html>\n<html><head><title>Sign in to the guest network</title></head>\n<body>\u001b[31mwelcome</body></html>';


const DCA_WORKSPACE = '0a1b2c3d-1111-2222-3333-444455556666';
const DCA_KEY = Buffer.from('sentinel-hostile-shared-key-bytes').toString('base64');

/** Export 50 events to a Data Collector API peer with this --retry-max-duration. */
async function dcaExport(peer: SentinelPeer, retry: string): Promise<{ db: string; state: string; r: CliResult }> {
  const db = demoRegistry(50);
  const state = path.join(tempDir(), 'state.json');
  const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--transport', 'sentinel-dca',
    '--sentinel-workspace-id', DCA_WORKSPACE, '--state', state, '--retry-max-duration', retry], { env: { OVERSIGHT_SENTINEL_SHARED_KEY: DCA_KEY } });
  return { db, state, r };
}

describe('a 2xx that is not the SIEM answering', () => {
  it('Splunk HEC: an HTML 200 is never delivered; the checkpoint stays and the export fails with the page quoted', () =>
    withPeer(new HecPeer({ token: TOKEN }).start(), async (peer) => {
      for (let i = 0; i < 1000; i++) peer.peer.faults.push({ status: 200, body: PORTAL, headers: { 'content-type': 'text/html' } });
      const db = demoRegistry(2000);
      const state = path.join(tempDir(), 'state.json');
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', state,
        '--retry-max-duration', '2s'], { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN } });
      assert.equal(r.code, 1, r.stderr);
      assert.ok(lastRowid(state) === 0, 'nothing checkpointed');
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
    withPeer(new SentinelPeer(DCA_WORKSPACE, DCA_KEY).start(), async (peer) => {
      for (let i = 0; i < 1000; i++) peer.peer.faults.push(i % 2 ? { status: 202, body: '' } : { status: 200, body: PORTAL });
      const { db, state, r } = await dcaExport(peer, '2s');
      assert.equal(r.code, 1, r.stderr);
      assert.equal(peer.records.length, 0);
      assert.ok(lastRowid(state) === 0);
      assert.match(r.stderr, /Sentinel Data Collector API answered HTTP 200 with '<!DOCTYPE html>.*instead of HTTP 200 with an empty body/);
      assert.match(r.stderr, /Sentinel Data Collector API answered HTTP 202 with an empty body instead of HTTP 200 with an empty body/);
    }));

  it('Sentinel Data Collector API: a 200 with a JSON body is not its answer either, whatever the JSON says', () =>
    withPeer(new SentinelPeer(DCA_WORKSPACE, DCA_KEY).start(), async (peer) => {
      peer.peer.faults.push({ status: 200, body: '{"Error":"InvalidDataFormat","Message":"nothing stored"}' });
      const { db, state, r } = await dcaExport(peer, '30s');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /retrying in .*Sentinel Data Collector API answered HTTP 200 with '\{"Error":"InvalidDataFormat","Message":"nothing stored"\}' instead of HTTP 200 with an empty body/);
      assert.deepEqual(peer.eventIds(), registryIds(db));
      assert.equal(lastRowid(state), 50);
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

const ES_KEY = 'aG9zdGlsZS1lcy1rZXk6c2VjcmV0LTAwMQ==';
const esPeer = (): Promise<EsPeer> => new EsPeer({ dataStream: 'logs-oversight.beacon-default', apiKey: ES_KEY }).start();
const ES_ITEM = '{"create":{"status":201}}';

describe('a 2xx that is not a whole Elasticsearch _bulk answer', () => {
  // Three documents a run; each answer comes once, then Elasticsearch itself answers.
  const answers: [string, string][] = [
    ['null', 'not a JSON object but null'],
    ['{"errors":false}', 'no "items"'],
    [`{"errors":false,"items":[${ES_ITEM}]}`, '1 item result(s) for 3 document(s)'],
    [`{"errors":false,"items":[${ES_ITEM},{"create":{"status":"201"}},${ES_ITEM}]}`, 'item 1 has no HTTP status'],
    [`{"errors":false,"items":[${ES_ITEM},${ES_ITEM},{"create":{}}]}`, 'item 2 has no HTTP status'],
  ];
  for (const [body, why] of answers) {
    it(`${body}: retried as not the SIEM's answer (${why}), then every document arrives once`, () =>
      withPeer(esPeer(), async (peer) => {
        peer.peer.faults.push({ status: 200, body });
        const db = demoRegistry(3);
        const state = path.join(tempDir(), 'state.json');
        const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', state,
          '--retry-max-duration', '30s'], { env: { OVERSIGHT_ES_API_KEY: ES_KEY } });
        assert.equal(r.code, 0, r.stderr);
        const retries = r.stderr.split('\n').filter((l) => l.includes('retrying in'));
        assert.equal(retries.length, 1, r.stderr);
        assert.ok(retries[0]!.endsWith(`instead of a _bulk answer with one item result per document (${why}): not counted as delivered (is --output the SIEM's own endpoint?)`), retries[0]);
        assert.deepEqual(peer.eventIds(), registryIds(db));
        assert.equal(lastRowid(state), 3);
      }));
  }

  it('a follower answered with an item that is null keeps running, and delivers once Elasticsearch answers', () =>
    withPeer(esPeer(), async (peer) => {
      peer.peer.faults.push({ status: 200, body: '{"errors":true,"items":[null]}' });
      const db = demoRegistry(5);
      const child = spawnCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--follow',
        '--max-batch-events', '1', '--retry-max-duration', '30s'], { OVERSIGHT_ES_API_KEY: ES_KEY });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      try {
        await waitFor(() => peer.docs.size === 5 || child.exitCode !== null, 15_000);
        child.kill('SIGTERM');
        assert.equal(await closed, 0, stderr);
      } finally {
        clearTimeout(killer);
      }
      assert.match(stderr, /retrying in .*instead of a _bulk answer with one item result per document \(item 0 is null, not an object\)/);
      assert.doesNotMatch(stderr, /unexpected error/);
      assert.deepEqual(peer.eventIds(), registryIds(db));
    }));
});

describe('an Elasticsearch item error that echoes the request', () => {
  it('a key echoed across the 1,000 characters kept of an item error is masked whole: none of it reaches the dead letters or the log', () =>
    withPeer(new Peer((req) => {
      const documents = req.body.toString().split('\n').filter(Boolean).length / 2;
      const type = 'mapper_parsing_exception';
      // `type: reason` is cut at 1,000 characters; the echoed key starts 12 characters before the cut.
      const reason = 'x'.repeat(1000 - `${type}: `.length - 'ApiKey '.length - 12) + `${String(req.headers['authorization'])} (echoed request header) ${'y'.repeat(100)}`;
      const items = Array.from({ length: documents }, () => ({ create: { status: 400, error: { type, reason } } }));
      return { status: 200, body: JSON.stringify({ errors: true, items }) };
    }).start(), async (peer) => {
      const dir = tempDir();
      const dlq = path.join(dir, 'dead.jsonl');
      const r = await runCli(['siem', 'export', '--db', demoRegistry(3), '--registry-id', 'reg', '--output', `${peer.url}/_bulk`,
        '--state', path.join(dir, 'state.json'), '--dead-letter', dlq], { env: { OVERSIGHT_ES_API_KEY: ES_KEY } });
      assert.equal(r.code, 0, r.stderr);
      const errors = fs.readFileSync(dlq, 'utf8').trim().split('\n').map((l) => String((JSON.parse(l) as { error: string }).error));
      assert.equal(errors.length, 3);
      for (const error of errors) {
        assert.ok(error.includes('*** (echoed') && error.endsWith('…'), error.slice(-150));
        assert.ok(!error.includes(ES_KEY.slice(0, 6)), `part of the key is in the dead letter: ${error.slice(-80)}`);
      }
      assert.ok(!r.stderr.includes(ES_KEY.slice(0, 6)));
    }));
});

describe('an Entra ID token answer without a usable token', () => {
  it('null, or an access_token that is not a string: retried with the reason named, never a crash', async () => {
    const o = { tenantId: 'tenant-1', clientId: 'client-1', clientSecret: 'azure-hostile-secret', dcr: 'dcr-0a1b2c', stream: 'Custom-Oversight_CL' };
    await withPeer(new AzurePeer(o).start(), async (peer) => {
      peer.tokenFaults.push({ status: 200, body: 'null' }, { status: 200, body: '{"access_token":12345678}' }, { status: 200, body: '{"access_token":{"a":1}}' });
      const db = demoRegistry(40);
      const state = path.join(tempDir(), 'state.json');
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', state, '--retry-max-duration', '30s'],
        { env: { AZURE_TENANT_ID: o.tenantId, AZURE_CLIENT_ID: o.clientId, AZURE_CLIENT_SECRET: o.clientSecret, AZURE_AUTHORITY_HOST: peer.authority } });
      assert.equal(r.code, 0, r.stderr);
      const reasons = r.stderr.split('\n').filter((l) => l.includes('retrying in')).map((l) => l.replace(/^.*without a usable token: /, ''));
      assert.deepEqual(reasons, [
        'the answer is null, not an object (is AZURE_AUTHORITY_HOST the Entra ID authority?)',
        'access_token is a number, not a string (is AZURE_AUTHORITY_HOST the Entra ID authority?)',
        'access_token is an object, not a string (is AZURE_AUTHORITY_HOST the Entra ID authority?)',
      ]);
      assert.equal(peer.tokenRequests, 4);
      assert.deepEqual(peer.eventIds(), registryIds(db));
      assert.equal(lastRowid(state), 40);
      assert.ok(!r.stderr.includes(o.clientSecret));
    });
  });
});
