/** Azure Monitor Logs Ingestion API end to end: client-credentials tokens, the 1 MiB cap, throttling. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { AzurePeer, MAX_BODY } from './peers/azure-logs-ingestion.js';
import { Peer } from './peers/peer.js';
import { demoRegistry, jsonLines, outcome, registryIds, runCli, sqlRegistry, tempDir } from './helpers.js';

const O = { tenantId: 'tenant-1', clientId: 'client-1', clientSecret: 'azure-client-secret-value', dcr: 'dcr-0a1b2c', stream: 'Custom-Oversight_CL' };

async function withPeer(over: Partial<ConstructorParameters<typeof AzurePeer>[0]>, fn: (peer: AzurePeer, env: NodeJS.ProcessEnv) => Promise<void>): Promise<void> {
  const peer = await new AzurePeer({ ...O, ...over }).start();
  const env = { AZURE_TENANT_ID: O.tenantId, AZURE_CLIENT_ID: O.clientId, AZURE_CLIENT_SECRET: O.clientSecret, AZURE_AUTHORITY_HOST: peer.authority };
  try {
    await fn(peer, env);
  } finally {
    await peer.close();
  }
}

const exportTo = (db: string, url: string, ...more: string[]): string[] =>
  ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', url, '--retry-max-duration', '20s', ...more];

describe('Azure Monitor Logs Ingestion API', () => {
  it('gets a token, and keeps every request body within 1 MiB', () =>
    withPeer({}, async (peer, env) => {
      const db = demoRegistry(6000);
      const r = await runCli(exportTo(db, peer.url), { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.eventIds(), registryIds(db));
      assert.equal(peer.tokenRequests, 1);
      assert.ok(peer.peer.requests.length > 3, 'several requests');
      assert.ok(peer.largestBody <= MAX_BODY && peer.largestBody > 500_000, `largest body ${peer.largestBody}`);
      assert.match(r.stderr, /exported 6000 event\(s\) as sentinel via azure-logs-ingestion/);
      assert.ok(!r.stderr.includes(O.clientSecret));
    }));

  it('refreshes the token before it expires', () =>
    withPeer({ expiresIn: 1 }, async (peer, env) => {
      peer.peer.delayMs = 60;
      const db = demoRegistry(100);
      const r = await runCli(exportTo(db, peer.url, '--max-batch-events', '5'), { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.eventIds(), registryIds(db));
      assert.ok(peer.tokenRequests >= 2, `token requests: ${peer.tokenRequests}`);
      assert.equal(peer.expiredTokenUses, 0);
    }));

  it('waits out a 429 with Retry-After and splits on 413', () =>
    withPeer({}, async (peer, env) => {
      peer.peer.faults.push({ status: 429, body: '', headers: { 'retry-after': '1' } }, { status: 413, body: '{"error":{"code":"ContentLengthLimitExceeded"}}' });
      const db = demoRegistry(50);
      const started = Date.now();
      const r = await runCli(exportTo(db, peer.url), { env });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(Date.now() - started >= 1000);
      assert.deepEqual(peer.eventIds(), registryIds(db));
    }));

  it('a record over 1 MiB is dead-lettered without being sent', () =>
    withPeer({}, async (peer, env) => {
      const huge = 'x'.repeat(MAX_BODY + 10);
      const db = sqlRegistry(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, timestamp INTEGER, user_agent TEXT);" +
        `INSERT INTO events VALUES (1,'http_img',1700000000,'small'),(2,'http_img',1700000001,'${huge}'),(3,'dns',1700000002,NULL);`,
      );
      const dlq = path.join(tempDir(), 'dead.jsonl');
      const r = await runCli(exportTo(db, peer.url, '--dead-letter', dlq), { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.eventIds(), ['1', '3']);
      const dead = jsonLines(fs.readFileSync(dlq, 'utf8'));
      assert.deepEqual(dead.map((d) => [d['event_id'], d['status']]), [['2', 413]]);
      assert.ok(peer.largestBody < MAX_BODY);
    }));

  it('bad client credentials stop the export; the secret is never printed', () =>
    withPeer({}, async (peer, env) => {
      const db = demoRegistry(5);
      const r = await runCli(exportTo(db, peer.url), { env: { ...env, AZURE_CLIENT_SECRET: 'not-the-right-secret' } });
      assert.equal(r.code, 1);
      assert.match(outcome(r.stderr)[0]!, /Entra ID token endpoint answered HTTP 401: .*AADSTS7000215/);
      assert.ok(!r.stderr.includes('not-the-right-secret'));
      const missing = await runCli(exportTo(db, peer.url), { env: { ...env, AZURE_CLIENT_SECRET: '' } });
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /needs AZURE_CLIENT_SECRET in the environment/);
    }));

  it('a token endpoint that echoes the form body back never gets the client secret printed, however it is encoded', async () => {
    // Entra ID secrets have a `~`, which a form body spells %7E and encodeURIComponent leaves alone.
    const secret = "Xy8Q~abc.DEF_ghi-jkl!'()* é+/";
    const form = new URLSearchParams({ client_secret: secret }).toString().slice('client_secret='.length);
    const echo = await new Peer((req) => ({ status: 400, body: `you sent ${req.body.toString('utf8')} | ${form.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase())}` })).start();
    try {
      const env = { AZURE_TENANT_ID: O.tenantId, AZURE_CLIENT_ID: O.clientId, AZURE_CLIENT_SECRET: secret, AZURE_AUTHORITY_HOST: echo.url };
      const r = await runCli(exportTo(demoRegistry(1), `${echo.url}/dataCollectionRules/${O.dcr}/streams/${O.stream}?api-version=2023-01-01`), { env });
      assert.equal(r.code, 1, r.stderr);
      assert.match(outcome(r.stderr)[0]!, /Entra ID token endpoint answered HTTP 400: you sent .*client_secret=\*\*\*&grant_type=client_credentials.* \| \*\*\*$/);
      for (const spelling of [secret, form, encodeURIComponent(secret), 'Xy8Q', 'Xy8Q%7E', 'Xy8Q%7e']) assert.ok(!r.stderr.includes(spelling), `masked: ${spelling}`);
    } finally {
      await echo.close();
    }
  });
});
