/** Request compression: each fake SIEM decompresses what the CLI sends and checks Content-Encoding as the real one would. */
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { AzurePeer } from './peers/azure-logs-ingestion.js';
import { EsPeer } from './peers/elasticsearch.js';
import { JsonArrayPeer } from './peers/http-json.js';
import type { PeerRequest } from './peers/peer.js';
import { SentinelPeer } from './peers/sentinel-dca.js';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, registryIds, runCli, withPeer } from './helpers.js';

const args = (db: string, url: string, ...more: string[]): string[] =>
  ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', url, '--retry-max-duration', '10s', ...more];

/** Every request to `path` carried this encoding, and gzip ones were smaller on the wire than decoded. */
function assertEncoding(requests: PeerRequest[], path: RegExp, gzip: boolean): void {
  const sent = requests.filter((q) => path.test(q.path));
  assert.ok(sent.length > 0, 'requests were sent');
  for (const q of sent) {
    assert.equal(q.headers['content-encoding'], gzip ? 'gzip' : undefined);
    if (gzip) assert.ok(q.wire.length * 3 < q.body.length, `gzip body ${q.wire.length} of ${q.body.length} bytes`);
    else assert.equal(q.wire.length, q.body.length);
  }
}

const HEC_TOKEN = '0d5e6f70-1111-2222-3333-444455556666';
const ES_KEY = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==';
const AZ = { tenantId: 't1', clientId: 'c1', clientSecret: 'azure-client-secret-value', dcr: 'dcr-01', stream: 'Custom-Oversight_CL' };
const DCA_WORKSPACE = '0a1b2c3d-1111-2222-3333-444455556666';
const DCA_KEY = Buffer.from('sentinel-test-shared-key-with-enough-bytes').toString('base64');

describe('gzip request bodies', () => {
  for (const [flag, gzip] of [[[], true], [['--compress', 'none'], false]] as const) {
    it(`Splunk HEC ${gzip ? 'gzips by default' : 'sends plain JSON with --compress none'}, with indexer acknowledgement`, () =>
      withPeer(new HecPeer({ token: HEC_TOKEN, ack: true }).start(), async (peer) => {
        const db = demoRegistry(300);
        const r = await runCli(args(db, peer.url, '--max-batch-events', '100', '--splunk-ack', '--splunk-ack-interval', '50ms', ...flag), {
          env: { OVERSIGHT_SPLUNK_HEC_TOKEN: HEC_TOKEN },
        });
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(peer.eventIds(), registryIds(db));
        assertEncoding(peer.peer.requests, /\/event$/, gzip);
      }));

    it(`Elasticsearch ${gzip ? 'gzips by default' : 'sends plain NDJSON with --compress none'}`, () =>
      withPeer(new EsPeer({ dataStream: 'logs-oversight.beacon-default', apiKey: ES_KEY }).start(), async (peer) => {
        const db = demoRegistry(300);
        const r = await runCli(args(db, peer.url, '--header', `Authorization: ApiKey ${ES_KEY}`, '--max-batch-events', '100', ...flag));
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(peer.eventIds(), registryIds(db));
        assertEncoding(peer.peer.requests, /_bulk$/, gzip);
      }));

    it(`Azure Logs Ingestion ${gzip ? 'gzips by default, as the Azure SDK does' : 'sends plain JSON with --compress none'}`, async () => {
      const peer = await new AzurePeer(AZ).start();
      try {
        const db = demoRegistry(300);
        const env = { AZURE_TENANT_ID: AZ.tenantId, AZURE_CLIENT_ID: AZ.clientId, AZURE_CLIENT_SECRET: AZ.clientSecret, AZURE_AUTHORITY_HOST: peer.authority };
        const r = await runCli(args(db, peer.url, '--max-batch-events', '100', ...flag), { env });
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(peer.eventIds(), registryIds(db));
        assertEncoding(peer.peer.requests, /\/streams\//, gzip);
      } finally {
        await peer.close();
      }
    });
  }

  it('generic HTTP sends plain JSON unless --compress gzip is given', () =>
    withPeer(new JsonArrayPeer().start(), async (peer) => {
      const db = demoRegistry(120);
      const plain = await runCli(args(db, peer.url, '--format', 'ecs', '--max-batch-events', '60'));
      assert.equal(plain.code, 0, plain.stderr);
      assertEncoding(peer.peer.requests, /ingest/, false);
      peer.peer.requests.length = 0;
      const packed = await runCli(args(db, peer.url, '--format', 'ecs', '--max-batch-events', '60', '--compress', 'gzip'));
      assert.equal(packed.code, 0, packed.stderr);
      assertEncoding(peer.peer.requests, /ingest/, true);
      assert.equal(peer.records.length, 240);
    }));

  it('the Sentinel Data Collector API stays uncompressed and signed; --compress gzip is a usage error', () =>
    withPeer(new SentinelPeer(DCA_WORKSPACE, DCA_KEY).start(), async (peer) => {
      const db = demoRegistry(50);
      const base = args(db, peer.url, '--transport', 'sentinel-dca', '--sentinel-workspace-id', DCA_WORKSPACE);
      const env = { OVERSIGHT_SENTINEL_SHARED_KEY: DCA_KEY };
      const ok = await runCli(base, { env });
      assert.equal(ok.code, 0, ok.stderr);
      assert.deepEqual(peer.eventIds(), registryIds(db));
      assertEncoding(peer.peer.requests, /api\/logs/, false);
      const bad = await runCli([...base, '--compress', 'gzip'], { env });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^oversight: sentinel-dca cannot take gzip bodies .*drop --compress gzip\n$/);
    }));

  it('--compress is refused for stdout and files, and an unknown codec is a usage error', async () => {
    const db = demoRegistry(5);
    const local = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--compress', 'gzip']);
    assert.equal(local.code, 2);
    assert.match(local.stderr, /--compress applies to http\(s\):\/\/ outputs, not to stdout/);
    assert.equal(local.stdout, '');
    const odd = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--compress', 'zstd']);
    assert.equal(odd.code, 2);
    assert.match(odd.stderr, /Allowed choices are gzip, none/);
  });

  it('the fake SIEMs refuse a gzip body without the header, and the header without a gzip body', () =>
    withPeer(new HecPeer({ token: HEC_TOKEN }).start(), async (peer) => {
      const envelope = Buffer.from('{"time":1,"event":{"a":1}}');
      const post = (body: Buffer, headers: Record<string, string>): Promise<number> =>
        new Promise((resolve, reject) => {
          const req = http.request(peer.url, { method: 'POST', headers: { authorization: `Splunk ${HEC_TOKEN}`, ...headers } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end(body);
        });
      assert.equal(await post(gzipSync(envelope), {}), 400);
      assert.equal(await post(envelope, { 'content-encoding': 'gzip' }), 400);
      assert.equal(await post(gzipSync(envelope), { 'content-encoding': 'br' }), 415);
      assert.equal(peer.events.length, 0);
      assert.equal(await post(gzipSync(envelope), { 'content-encoding': 'gzip' }), 200);
      assert.equal(await post(envelope, {}), 200);
      assert.equal(peer.events.length, 2);
    }));
});
