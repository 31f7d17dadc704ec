/** `siem verify` against the Elasticsearch peer: PIT + search_after read-back, the failure store, rollover copies. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EsPeer, type EsPeerOptions } from './peers/elasticsearch.js';
import { demoRegistry, jsonLines, registryIds, runCli, tempDir, withPeer } from './helpers.js';
import { counted, listed, registryWithRecent } from './verify-support.js';

const KEY = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==';
const env = { OVERSIGHT_ES_API_KEY: KEY };
const STREAM = 'logs-oversight.beacon-default';

const exportTo = (db: string, url: string, ...more: string[]): string[] =>
  ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', url, '--retry-max-duration', '20s', ...more];
const verify = (db: string, url: string, ...more: string[]): string[] =>
  ['siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', url, '--repair-wait', '0', ...more];

const es = (o: Partial<EsPeerOptions>, fn: (peer: EsPeer) => Promise<void>): Promise<void> =>
  withPeer(new EsPeer({ dataStream: STREAM, apiKey: KEY, ...o }).start(), fn);

describe('siem verify: Elasticsearch', () => {
  it('names exactly the events the stream lost after a 201, repairs them, and a second verify passes', () => {
    const lost = new Set(['7', '150', '1999']);
    return es({ lose: (doc, _id, attempt) => attempt === 0 && lost.has(String((doc['event'] as Record<string, unknown>)['id'])) }, async (peer) => {
      const db = demoRegistry(2000);
      const exported = await runCli(exportTo(db, peer.url), { env });
      assert.equal(exported.code, 0, exported.stderr);
      assert.match(exported.stderr, /exported 2000 event\(s\)/, 'every event was acknowledged');

      const first = await runCli(verify(db, peer.url, '--window', '500'), { env });
      assert.equal(first.code, 1, first.stderr);
      assert.deepEqual(listed(first.stderr, 'missing'), ['7', '150', '1999']);
      assert.equal(counted(first.stderr, 'present once'), 1997);
      assert.equal(counted(first.stderr, 'not in the registry'), 0, 'the registry\'s documents beside each window are all its own events');
      assert.ok(peer.searches >= 4, 'one search or more per window');

      const repaired = await runCli(verify(db, peer.url, '--repair'), { env });
      assert.equal(repaired.code, 0, repaired.stderr);
      assert.match(repaired.stderr, /repair: 3 missing before, 3 re-sent/);
      assert.equal(counted(repaired.stderr, 'missing'), 0);

      const second = await runCli(verify(db, peer.url), { env });
      assert.equal(second.code, 0, second.stderr);
      assert.equal(counted(second.stderr, 'present once'), 2000);
      assert.deepEqual(peer.storedIds().sort(), registryIds(db).sort());
    });
  });

  it('repairs through the ordinary delivery path: a record refused again goes to the dead-letter file and stays missing', () => {
    const dlq = path.join(tempDir(), 'repair-dead.jsonl');
    const idOf = (doc: Record<string, unknown>): string => String((doc['event'] as Record<string, unknown>)['id']);
    return es({
      lose: (doc, _id, attempt) => attempt === 0 && ['4', '5'].includes(idOf(doc)),
      itemFault: (doc, _id, attempt) => (attempt > 0 && idOf(doc) === '5' ? 400 : undefined),
    }, async (peer) => {
      const db = demoRegistry(30);
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      const r = await runCli(verify(db, peer.url, '--repair', '--dead-letter', dlq), { env });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /repair: 2 missing before, 1 re-sent, 1 dead-lettered/);
      assert.deepEqual(listed(r.stderr, 'missing'), ['5']);
      const dead = jsonLines(fs.readFileSync(dlq, 'utf8'));
      assert.deepEqual(dead.map((d) => d['event_id']), ['5']);
      assert.match(String(dead[0]!['error']), /Elasticsearch item 400/);
    });
  });

  it('reports the copies a replay writes after a rollover, and a changed document as altered', () =>
    es({}, async (peer) => {
      const db = demoRegistry(60);
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      peer.rollover();
      const replay = await runCli(exportTo(db, peer.url, '--limit', '4'), { env });
      assert.equal(replay.code, 0, replay.stderr);
      assert.doesNotMatch(replay.stderr, /already present/, 'the new backing index does not know the old _ids');
      peer.alter('30', (doc) => ((doc['oversight'] as Record<string, unknown>)['token_id'] = 'forged'));
      const r = await runCli(verify(db, peer.url), { env });
      assert.equal(r.code, 1, r.stderr);
      assert.deepEqual(listed(r.stderr, 'duplicated'), ['1', '2', '3', '4']);
      assert.deepEqual(listed(r.stderr, 'altered'), ['30']);
      assert.equal(listed(r.stderr, 'missing'), null);
    }));

  it('stops on a search answer that holds part of the documents instead of reading it as all there', () => {
    let fault: 'shard' | 'timeout' | 'dropped' | 'repeat' | 'inflated' | 'flood' | null = null;
    let firstPage: unknown[] = [];
    const o: EsPeerOptions = {
      dataStream: STREAM, apiKey: KEY,
      searchAnswer: (answer, request) => {
        const hits = answer['hits'] as { hits: { _index: string; fields: Record<string, unknown[]> }[] };
        const forOthers = (request['query'] as { bool?: Record<string, unknown> }).bool?.['must_not'] !== undefined;
        if (fault === 'flood') {
          // A peer that claims a flood of other records beside the window, and would invent pages to match.
          if (forOthers && request['track_total_hits'] === true) (answer['hits'] as { total: { value: number } }).total.value = 1_000_001;
          return answer;
        }
        if (fault === 'inflated' && request['track_total_hits'] === true) {
          // A peer that claims hits without end, and would invent pages to match.
          (answer['hits'] as { total: { value: number } }).total.value = 2_000_000_000;
          return answer;
        }
        if (fault === 'repeat') {
          // A proxy or cluster that ignores search_after: every page is the first one.
          if (request['search_after'] === undefined) firstPage = hits.hits;
          else hits.hits = firstPage as typeof hits.hits;
          return answer;
        }
        if (fault === null || request['pit'] === undefined) return answer;
        // The first copies of the replayed events, in the older backing index, are left out.
        hits.hits = hits.hits.filter((h) => h._index === peer.backingIndex || !['1', '2'].includes(String(h.fields['event.id']?.[0])));
        if (fault === 'shard') answer['_shards'] = { total: 2, successful: 1, skipped: 0, failed: 1, failures: [{ shard: 0, reason: { type: 'node_disconnected_exception' } }] };
        if (fault === 'timeout') answer['timed_out'] = true;
        return answer;
      },
    };
    const peer = new EsPeer(o);
    return withPeer(peer.start(), async () => {
      const db = demoRegistry(1200);
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      peer.rollover();
      assert.equal((await runCli(exportTo(db, peer.url, '--limit', '2'), { env })).code, 0);
      const whole = await runCli(verify(db, peer.url, '--window', '1200'), { env });
      assert.equal(whole.code, 1, whole.stderr);
      assert.deepEqual(listed(whole.stderr, 'duplicated'), ['1', '2'], 'two pages of hits, read in full');
      const cases: [typeof fault, RegExp][] = [
        ['shard', /Elasticsearch search answered with 1 shard\(s\) failed: the results are partial/],
        ['timeout', /Elasticsearch search timed out and answered partial results/],
        ['dropped', /Elasticsearch search returned 998 of the 1202 hits it counted: pages were skipped/],
        ['repeat', /Elasticsearch search returned more hits than the 1202 it counted: pages repeat/],
        ['inflated', /Elasticsearch search counted 2000000000 hits for 1200 events, more than 1000 copies each/],
        ['flood', /Elasticsearch search for other records counted 1000001 documents of this registry dated beside 1200 events, more than 1000000/],
      ];
      for (const [f, message] of cases) {
        fault = f;
        const r = await runCli(verify(db, peer.url, '--window', '1200'), { env });
        assert.equal(r.code, 1, `${f}: ${r.stderr}`);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.match(r.stderr, message);
      }
    });
  });

  it('dead-letters a document redirected to the failure store on export, and verify reports it there', () => {
    const dlq = path.join(tempDir(), 'dead.jsonl');
    return es({ failureStore: (doc) => ((doc['event'] as Record<string, unknown>)['id'] === '9' ? 'failed to parse field [source.ip]' : undefined) }, async (peer) => {
      const db = demoRegistry(25);
      const strict = await runCli(exportTo(db, peer.url), { env });
      assert.equal(strict.code, 1, 'a redirect is not a delivery: without a dead-letter file the export stops');
      const r = await runCli(exportTo(db, peer.url, '--dead-letter', dlq), { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /1 dead-lettered/);
      const dead = jsonLines(fs.readFileSync(dlq, 'utf8'));
      assert.deepEqual(dead.map((d) => d['event_id']), ['9']);
      assert.match(String(dead[0]!['error']), /failure store/);
      const v = await runCli(verify(db, peer.url), { env });
      assert.equal(v.code, 1, v.stderr);
      assert.deepEqual(listed(v.stderr, 'in the failure store'), ['9']);
      assert.equal(counted(v.stderr, 'missing'), 0);
    });
  });

  it('calls events not yet searchable too recent to judge, and missing once they are older than --settle', () => {
    const o: EsPeerOptions = { dataStream: STREAM, apiKey: KEY };
    return withPeer(new EsPeer(o).start(), async (peer) => {
      const db = registryWithRecent(10, 3);
      assert.equal((await runCli(exportTo(db, peer.url, '--limit', '7'), { env })).code, 0);
      o.visibleAfterMs = 600_000;
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      const r = await runCli(verify(db, peer.url), { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(listed(r.stderr, 'too recent to judge'), ['8', '9', '10']);
      assert.equal(counted(r.stderr, 'present once'), 7);
      const strict = await runCli(verify(db, peer.url, '--settle', '0s'), { env });
      assert.equal(strict.code, 1);
      assert.deepEqual(listed(strict.stderr, 'missing'), ['8', '9', '10']);
    });
  });

  it('reads the API key as export does, never prints it, and names the missing privilege on 401/403', () =>
    es({ limitedKeys: { 'cmVhZG9ubHk6a2V5': ['read'], 'd3JpdGVvbmx5OmtleQ==': ['write'] } }, async (peer) => {
      const db = demoRegistry(20);
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      const keyFile = path.join(tempDir(), 'es.key');
      fs.writeFileSync(keyFile, `${KEY}\n`, { mode: 0o600 });
      const fromFile = await runCli(verify(db, peer.url), { env: { OVERSIGHT_ES_API_KEY_FILE: keyFile } });
      assert.equal(fromFile.code, 0, fromFile.stderr);

      const noFs = await runCli(verify(db, peer.url), { env: { OVERSIGHT_ES_API_KEY: 'cmVhZG9ubHk6a2V5' } });
      assert.equal(noFs.code, 1);
      const lines = noFs.stderr.trim().split('\n');
      assert.equal(lines.length, 1, noFs.stderr);
      assert.match(lines[0]!, /'read_failure_store' index privilege/);
      assert.ok(!noFs.stderr.includes('cmVhZG9ubHk6a2V5'));
      const skip = await runCli(verify(db, peer.url, '--es-skip-failure-store'), { env: { OVERSIGHT_ES_API_KEY: 'cmVhZG9ubHk6a2V5' } });
      assert.equal(skip.code, 0, skip.stderr);

      const noRead = await runCli(verify(db, peer.url), { env: { OVERSIGHT_ES_API_KEY: 'd3JpdGVvbmx5OmtleQ==' } });
      assert.equal(noRead.code, 1);
      assert.match(noRead.stderr.trim(), /^oversight: Elasticsearch answered HTTP 403: the API key or user needs the 'read' index privilege on logs-oversight\.beacon-default/);
      const wrong = await runCli(verify(db, peer.url), { env: { OVERSIGHT_ES_API_KEY: 'bm9wZTpub3Bl' } });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /HTTP 401/);
      assert.ok(!wrong.stderr.includes('bm9wZTpub3Bl'));
    }));

  it('refuses a range query Elasticsearch refuses, so the search for other records is checked as it would be', () =>
    es({}, async (peer) => {
      const db = demoRegistry(5);
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      const search = async (range: unknown): Promise<{ status: number; body: any }> => {
        const res = await fetch(`${peer.peer.url}/${STREAM}/_search`, {
          method: 'POST', headers: { authorization: `ApiKey ${KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ track_total_hits: true, query: { range } }),
        });
        return { status: res.status, body: await res.json() };
      };
      const t = Date.parse(String((peer.docs.values().next().value as Record<string, unknown>)['@timestamp']));
      const ok = await search({ '@timestamp': { gte: t, lt: t + 1000, format: 'epoch_millis' } });
      assert.equal(ok.status, 200);
      assert.ok(ok.body.hits.total.value >= 1);
      assert.equal((await search({ '@timestamp': { gte: t + 1, lte: t, format: 'epoch_millis' } })).body.hits.total.value, 0);
      assert.equal((await search({ '@timestamp': { gte: new Date(t).toISOString() } })).status, 200, 'the field\'s own formats by default');
      assert.equal((await search({ '@timestamp': { gte: 'yesterday-ish', format: 'epoch_millis' } })).status, 400);
      assert.equal((await search({ '@timestamp': { gte: t, since: t } })).status, 400);
      assert.equal((await search({ '@timestamp': { gte: t }, 'event.ingested': { gte: t } })).status, 400);
    }));
});
