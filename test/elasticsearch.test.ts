/** Elasticsearch `_bulk` end to end: the CLI against a fake data stream, with item and request faults. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EsPeer } from './peers/elasticsearch.js';
import { demoRegistry, jsonLines, outcome, registryIds, runCli, tempDir, waitFor, withPeer, lastRowid } from './helpers.js';

const KEY = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==';
const auth = ['--header', `Authorization: ApiKey ${KEY}`];
const exportTo = (db: string, url: string, ...more: string[]): string[] =>
  ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', url, '--retry-max-duration', '20s', ...auth, ...more];

const bulkRequests = (peer: EsPeer): number => peer.peer.requests.filter((q) => q.path.endsWith('/_bulk')).length;

/** Export `events` demo events with a state and a dead-letter file; returns the run, what was checkpointed and dead-lettered. */
async function exportWithState(url: string, events: number, ...more: string[]) {
  const dir = tempDir();
  const db = demoRegistry(events);
  const state = path.join(dir, 'state.json');
  const dlq = path.join(dir, 'dead.jsonl');
  const r = await runCli(exportTo(db, url, '--state', state, '--dead-letter', dlq, ...more));
  return { r, db, rowid: lastRowid(state), dead: fs.existsSync(dlq) ? jsonLines(fs.readFileSync(dlq, 'utf8')) : [] };
}

const es = (options: Partial<ConstructorParameters<typeof EsPeer>[0]>, fn: (peer: EsPeer) => Promise<void>): Promise<void> =>
  withPeer(new EsPeer({ dataStream: 'logs-oversight.beacon-default', apiKey: KEY, ...options }).start(), fn);

describe('Elasticsearch', () => {
  it('sends NDJSON create actions with deterministic ids into the data stream, ECS by default', () =>
    es({}, async (peer) => {
      const db = demoRegistry(130);
      const r = await runCli(exportTo(db, peer.url, '--max-batch-events', '50'));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.eventIds(), registryIds(db));
      assert.deepEqual([...peer.actionsSeen], ['create']);
      for (const q of peer.peer.requests) {
        assert.ok(q.body.toString().endsWith('\n'));
        assert.equal(q.headers['content-type'], 'application/x-ndjson');
      }
      assert.match(r.stderr, /exported 130 event\(s\) as ecs via elasticsearch/);
    }));

  it('takes the API key from OVERSIGHT_ES_API_KEY (or a file named by OVERSIGHT_ES_API_KEY_FILE) and never prints it', () =>
    es({}, async (peer) => {
      const db = demoRegistry(20);
      const args = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--retry-max-duration', '20s'];
      const fromEnv = await runCli(args, { env: { OVERSIGHT_ES_API_KEY: KEY } });
      assert.equal(fromEnv.code, 0, fromEnv.stderr);
      assert.equal(peer.docs.size, 20);
      const keyFile = path.join(tempDir(), 'es.key');
      fs.writeFileSync(keyFile, `${KEY}\n`, { mode: 0o600 });
      const fromFile = await runCli([...args, '--state', path.join(tempDir(), 'es.state')], { env: { OVERSIGHT_ES_API_KEY_FILE: keyFile } });
      assert.equal(fromFile.code, 0, fromFile.stderr);
      const wrong = await runCli(args, { env: { OVERSIGHT_ES_API_KEY: 'd3Jvbmc6a2V5' } });
      assert.equal(wrong.code, 1);
      assert.ok(!wrong.stderr.includes('d3Jvbmc6a2V5'), 'the key is masked');
    }));

  it('a replay is answered 409 and duplicates nothing', () =>
    es({}, async (peer) => {
      const db = demoRegistry(40);
      assert.equal((await runCli(exportTo(db, peer.url))).code, 0);
      const again = await runCli(exportTo(db, peer.url));
      assert.equal(again.code, 0, again.stderr);
      assert.equal(peer.docs.size, 40);
      assert.match(again.stderr, /40 already present/);
    }));

  it('mixed item results: 429s retried alone, the 400 dead-lettered, the 409 counted as there', async () => {
    const dlq = path.join(tempDir(), 'dead.jsonl');
    const db = demoRegistry(60);
    await es({
      itemFault: (doc, _id, attempt) => {
        const id = (doc['event'] as Record<string, string>)['id'];
        if (id === '13') return 400;
        if (['5', '6', '40'].includes(id!) && attempt < 2) return 429;
        if (id === '22' && attempt === 0) return 503;
        return undefined;
      },
    }, async (peer) => {
      // A first run without a dead-letter file stops at event 13 and leaves most of 1-30 in the stream.
      const first = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, ...auth, '--limit', '30']);
      assert.equal(first.code, 1, 'event 13 is refused without a dead-letter file');
      const r = await runCli(exportTo(db, peer.url, '--dead-letter', dlq, '--max-batch-events', '25'));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.eventIds().sort(), registryIds(db).filter((id) => id !== '13').sort());
      assert.equal(new Set(peer.eventIds()).size, peer.docs.size);
      const dead = jsonLines(fs.readFileSync(dlq, 'utf8'));
      assert.deepEqual(dead.map((d) => d['event_id']), ['13']);
      assert.match(String(dead[0]!['error']), /Elasticsearch item 400: mapper_parsing_exception/);
      assert.match(r.stderr, /already present/);
    });
  });

  it('a 413 splits the request, a 503 with Retry-After waits', () =>
    es({}, async (peer) => {
      peer.peer.faults.push({ status: 413, body: '' }, { status: 503, body: '{}', headers: { 'retry-after': '1' } });
      const db = demoRegistry(20);
      const r = await runCli(exportTo(db, peer.url));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.eventIds(), registryIds(db));
    }));

  it('--es-namespace names the data stream; a bad one is a usage error', () =>
    es({ dataStream: 'logs-oversight.beacon-prod' }, async (peer) => {
      const db = demoRegistry(5);
      const r = await runCli(exportTo(db, peer.url, '--es-namespace', 'prod'));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(peer.docs.size, 5);
      const bad = await runCli(exportTo(db, peer.url, '--es-namespace', 'prod-eu'));
      assert.equal(bad.code, 2);
      assert.match(outcome(bad.stderr)[0]!, /--es-namespace 'prod-eu' is not a valid data stream namespace/);
    }));

  it('wrong credentials stop the export', () =>
    es({}, async (peer) => {
      const db = demoRegistry(5);
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--header', 'Authorization: ApiKey bm9wZQ==']);
      assert.equal(r.code, 1);
      assert.match(outcome(r.stderr)[0]!, /Elasticsearch answered HTTP 401.*security_exception.*the credentials were refused: check OVERSIGHT_ES_API_KEY/);
      assert.ok(!r.stderr.includes('bm9wZQ=='));
    }));
});

describe('Elasticsearch item refusals that are about the key or the target, not the documents', () => {
  it('a key that may write other indices but not the stream (item 403) stops the export: nothing dead-lettered or checkpointed, the privilege named', () =>
    es({ apiKey: 'other-key', limitedKeys: { [KEY]: ['write_other_indices'] } }, async (peer) => {
      const { r, rowid, dead } = await exportWithState(peer.url, 50);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(bulkRequests(peer), 1, 'not retried');
      assert.deepEqual(dead, []);
      assert.equal(rowid, 0);
      const last = outcome(r.stderr);
      assert.equal(last.length, 1, r.stderr);
      assert.match(last[0]!, /^oversight: Elasticsearch answered HTTP 403 for the documents to logs-oversight\.beacon-default: security_exception: action \[indices:data\/write\/bulk\[s\]\] is unauthorized .* \(the credentials work but may not write there: they need the create_doc \(or write\) privilege on logs-oversight\.beacon-default, and auto_configure/);
    }));

  it('a missing default ingest pipeline (item 400 for every document) stops the export, naming setup: nothing dead-lettered or checkpointed', () =>
    es({ pipeline: false }, async (peer) => {
      const { r, rowid, dead } = await exportWithState(peer.url, 20);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(bulkRequests(peer), 1, 'not retried, not halved');
      assert.deepEqual(dead, []);
      assert.equal(rowid, 0);
      const last = outcome(r.stderr);
      assert.equal(last.length, 1, r.stderr);
      assert.match(last[0]!, /^oversight: Elasticsearch answered HTTP 400 for the documents to logs-oversight\.beacon-default: illegal_argument_exception: pipeline with id \[logs-oversight\.beacon@default-pipeline\] does not exist \(the ingest pipeline the index template names is missing: run oversight siem setup elasticsearch\)$/);
    }));

  it('a data stream that does not exist and is not created (item 404) stops the export, naming it; once it exists a restart sends the batch', async () => {
    const dir = tempDir();
    const db = demoRegistry(30);
    const state = path.join(dir, 'state.json');
    const dlq = path.join(dir, 'dead.jsonl');
    const peer = await new EsPeer({ dataStream: 'logs-oversight.beacon-default', apiKey: KEY, exists: false }).start();
    try {
      const r = await runCli(exportTo(db, peer.url, '--state', state, '--dead-letter', dlq));
      assert.equal(r.code, 1, r.stderr);
      assert.match(outcome(r.stderr)[0]!, /^oversight: Elasticsearch answered HTTP 404 for the documents to logs-oversight\.beacon-default: index_not_found_exception: no such index \[logs-oversight\.beacon-default\] and \[action\.auto_create_index\] is \[false\] \(it does not exist/);
      assert.ok(!fs.existsSync(dlq));
      assert.equal(lastRowid(state), 0);
    } finally {
      await peer.close();
    }
    await es({}, async (created) => {
      const again = await runCli(exportTo(db, created.url, '--state', state, '--dead-letter', dlq));
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(created.eventIds(), registryIds(db));
      assert.equal(lastRowid(state), 30);
    });
  });

  for (const [block, status, words] of [['write', 403, 'FORBIDDEN/8/index write \\(api\\)'], ['flood-stage', 429, 'TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark']] as const) {
    it(`a ${block} block (item ${status} cluster_block_exception) is retried with backoff, named, until it is lifted; then every event arrives once`, () =>
      es({}, async (peer) => {
        peer.block = block;
        const run = exportWithState(peer.url, 40);
        await waitFor(() => bulkRequests(peer) >= 2);
        peer.block = null;
        const { r, db, rowid, dead } = await run;
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, new RegExp(`retrying in .*Elasticsearch refused 40 of 40 documents \\(40 to retry; item ${status}: cluster_block_exception: index \\[\\.ds-logs-oversight\\.beacon-default-000001\\] blocked by: \\[${words}`));
        assert.deepEqual(dead, []);
        assert.deepEqual(peer.eventIds(), registryIds(db));
        assert.equal(rowid, 40);
      }));
  }

  it('a write block that lasts ends the export after --retry-max-duration, naming it, with nothing dead-lettered or checkpointed', () =>
    es({}, async (peer) => {
      peer.block = 'write';
      const { r, rowid, dead } = await exportWithState(peer.url, 10, '--retry-max-duration', '1s');
      assert.equal(r.code, 1, r.stderr);
      assert.match(outcome(r.stderr)[0]!, /gave up on 10 event\(s\) for elasticsearch .*\(--retry-max-duration\): Elasticsearch refused 10 of 10 documents \(10 to retry; item 403: cluster_block_exception: index \[\.ds-logs-oversight\.beacon-default-000001\] blocked by: \[FORBIDDEN\/8\/index write \(api\)\];\)$/);
      assert.deepEqual(dead, []);
      assert.equal(rowid, 0);
      assert.equal(peer.docs.size, 0);
    }));
});
