/** Splunk HEC end to end: the CLI against a fake HEC on loopback, with faults injected. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, jsonLines, outcome, registryIds, runCli, sleep, spawnCli, tempDir, waitFor, withPeer } from './helpers.js';

const TOKEN = '0d5e6f70-1111-2222-3333-444455556666';
const env = { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN };
const exportTo = (db: string, url: string, ...more: string[]): string[] =>
  ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', url, '--retry-max-duration', '20s', ...more];

const hec = (options: ConstructorParameters<typeof HecPeer>[0], fn: (peer: HecPeer) => Promise<void>): Promise<void> =>
  withPeer(new HecPeer(options).start(), fn);

describe('Splunk HEC', () => {
  it('delivers concatenated envelopes with the token from the environment, every event once', () =>
    hec({ token: TOKEN }, async (peer) => {
      const db = demoRegistry(250);
      const r = await runCli(exportTo(db, peer.url, '--max-batch-events', '40'), { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.eventIds(), registryIds(db));
      assert.equal(peer.peer.requests.length, 7);
      assert.ok(peer.peer.requests.every((q) => q.body.toString().startsWith('{"time":') && !q.body.toString().includes('}\n{')));
      assert.match(r.stderr, /exported 250 event\(s\) as splunk via splunk-hec/);
      assert.ok(!r.stderr.includes(TOKEN));
    }));

  it('takes the token from --header too, and refuses a non-splunk format', () =>
    hec({ token: TOKEN }, async (peer) => {
      const db = demoRegistry(10);
      const r = await runCli(exportTo(db, peer.url, '--header', `Authorization: Splunk ${TOKEN}`));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(peer.events.length, 10);
      const bad = await runCli(exportTo(db, peer.url, '--format', 'ecs'), { env });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /splunk-hec carries splunk records, not ecs: use --format splunk/);
    }));

  it('stops on a token error with a clear message and never prints the token', () =>
    hec({ token: TOKEN }, async (peer) => {
      const db = demoRegistry(10);
      const r = await runCli(exportTo(db, peer.url), { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: 'wrong-token-0001' } });
      assert.equal(r.code, 1);
      assert.deepEqual(outcome(r.stderr), ['oversight: Splunk HEC answered HTTP 403 code 4: Invalid token (check OVERSIGHT_SPLUNK_HEC_TOKEN or the Authorization header)']);
      assert.ok(!r.stderr.includes('wrong-token-0001'));
      assert.equal(peer.events.length, 0);
    }));

  it('retries 503 busy with Retry-After, 429, a reset connection and a timeout; nothing lost or doubled', () =>
    hec({ token: TOKEN }, async (peer) => {
      peer.peer.faults.push(
        { status: 503, body: '{"text":"Server is busy","code":9}', headers: { 'retry-after': '1' } },
        { reset: true },
        { status: 429, body: '' },
        { hang: true },
      );
      const db = demoRegistry(120);
      const started = Date.now();
      const r = await runCli(exportTo(db, peer.url, '--max-batch-events', '50', '--timeout', '1s'), { env });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(Date.now() - started >= 1000, 'Retry-After was honoured');
      assert.deepEqual(peer.eventIds(), registryIds(db));
      assert.match(r.stderr, /exported 120 event\(s\) .*\(4 retried request\(s\)\)/);
    }));

  it('code 6 on one event: that event is dead-lettered, the rest arrive once', () => {
    const dir = tempDir();
    const dlq = path.join(dir, 'dead.jsonl');
    return hec({ token: TOKEN, rejectEvent: (e) => (e['event'] as Record<string, unknown>)['event_id'] === '37' }, async (peer) => {
      const db = demoRegistry(100);
      const r = await runCli(exportTo(db, peer.url, '--max-batch-events', '25', '--dead-letter', dlq), { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.eventIds(), registryIds(db).filter((id) => id !== '37'));
      const dead = jsonLines(fs.readFileSync(dlq, 'utf8'));
      assert.equal(dead.length, 1);
      assert.equal(dead[0]!['event_id'], '37');
      assert.equal(dead[0]!['status'], 400);
      assert.match(String(dead[0]!['error']), /code 6: Invalid data format/);
      assert.equal(((dead[0]!['record'] as Record<string, unknown>)['event'] as Record<string, unknown>)['event_id'], '37');
      assert.equal((fs.statSync(dlq).mode & 0o777).toString(8), '600');
      assert.match(r.stderr, /exported 99 event\(s\) .*1 dead-lettered/);
    });
  });

  it('without --dead-letter a refused event fails the export, checkpointed just before it', () => {
    const state = path.join(tempDir(), 'state.json');
    return hec({ token: TOKEN, rejectEvent: (e) => (e['event'] as Record<string, unknown>)['event_id'] === '37' }, async (peer) => {
      const db = demoRegistry(100);
      const r = await runCli(exportTo(db, peer.url, '--max-batch-events', '25', '--state', state), { env });
      assert.equal(r.code, 1);
      assert.match(outcome(r.stderr)[0]!, /refused event 37 .*pass --dead-letter FILE/);
      assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, 36);
      assert.equal(peer.events.length, 36);
    });
  });

  it('code 6 on several events of one batch: each dead-lettered, the events HEC did not read sent again at once, not as retries', () => {
    const dlq = path.join(tempDir(), 'dead.jsonl');
    const refused = (e: Record<string, unknown>): boolean => Number((e['event'] as Record<string, unknown>)['event_id']) % 10 === 0;
    return hec({ token: TOKEN, rejectEvent: refused }, async (peer) => {
      // A real failure still backs off, once, before the refusals begin.
      peer.peer.faults.push({ status: 503, body: '{"text":"Server is busy","code":9}' });
      const db = demoRegistry(100);
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--dead-letter', dlq,
        '--retry-max-duration', '2s'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.eventIds(), registryIds(db).filter((id) => Number(id) % 10 !== 0));
      assert.deepEqual(jsonLines(fs.readFileSync(dlq, 'utf8')).map((d) => d['event_id']), ['10', '20', '30', '40', '50', '60', '70', '80', '90', '100']);
      assert.deepEqual(r.stderr.split('\n').filter((l) => l.includes('retrying in')).map((l) => l.replace(/in \d+\.\ds/, 'in Ns')),
        ['oversight: retrying in Ns: Splunk HEC answered HTTP 503 code 9: Server is busy']);
      // The 503, then one request per refusal: each settles the events up to the refused one.
      assert.equal(peer.peer.requests.length, 11);
      assert.match(r.stderr, /exported 90 event\(s\) .*\(10 dead-lettered to .*, 1 retried request\(s\)\)/);
    });
  });

  it('a Retry-After longer than the budget left says so, with both figures', () =>
    hec({ token: TOKEN }, async (peer) => {
      for (let i = 0; i < 20; i++) peer.peer.faults.push({ status: 503, body: '{"text":"Server is busy","code":9}', headers: { 'retry-after': '1' } });
      const db = demoRegistry(10);
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--retry-max-duration', '1500ms'], { env });
      assert.equal(r.code, 1, r.stderr);
      assert.match(outcome(r.stderr).at(-1)!, /^oversight: gave up on 10 event\(s\) for splunk-hec after \d+ attempt\(s\) over 1\.5s \(--retry-max-duration\); the server asked to wait 1s \(Retry-After\), more than the 0\.\ds left: Splunk HEC answered HTTP 503 code 9: Server is busy$/);
      assert.equal(peer.events.length, 0);
    }));

  it('a 413 splits the batch', () =>
    hec({ token: TOKEN }, async (peer) => {
      peer.peer.faults.push({ status: 413, body: 'Content-Length of 99999 too large (maximum is 1000000)' });
      const db = demoRegistry(60);
      const r = await runCli(exportTo(db, peer.url, '--max-batch-events', '60'), { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.eventIds(), registryIds(db));
      assert.deepEqual(peer.peer.requests.slice(1).map((q) => q.body.toString().split('{"time"').length - 1), [30, 30]);
    }));
});

describe('Splunk HEC indexer acknowledgement', () => {
  it('polls acks on its channel and checkpoints only acknowledged batches', () => {
    const state = path.join(tempDir(), 'state.json');
    return hec({ token: TOKEN, ack: true, ackAfterPolls: 2 }, async (peer) => {
      const db = demoRegistry(90);
      const r = await runCli(exportTo(db, peer.url, '--splunk-ack', '--splunk-ack-interval', '50ms', '--max-batch-events', '30', '--state', state), { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.eventIds(), registryIds(db));
      assert.equal(peer.channels.size, 1);
      assert.ok(peer.peer.requests.some((q) => q.path === '/services/collector/ack'));
      assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, 90);
    });
  });

  it('never checkpoints a batch whose acknowledgement does not come', () => {
    const state = path.join(tempDir(), 'state.json');
    return hec({ token: TOKEN, ack: true, loseAck: () => true }, async (peer) => {
      const db = demoRegistry(40);
      const child = spawnCli(exportTo(db, peer.url, '--splunk-ack', '--splunk-ack-interval', '50ms', '--state', state), env);
      await waitFor(() => peer.events.length === 40);
      await sleep(500);
      child.kill('SIGKILL');
      await new Promise((r) => child.on('close', r));
      const last = fs.existsSync(state) ? JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid : 0;
      assert.equal(last, 0);
    });
  });

  it('gives up on a batch HEC takes and never acknowledges: each resend is a retry, all within --retry-max-duration', () => {
    const state = path.join(tempDir(), 'state.json');
    return hec({ token: TOKEN, ack: true, loseAck: () => true }, async (peer) => {
      const db = demoRegistry(10);
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', state, '--splunk-ack',
        '--splunk-ack-interval', '50ms', '--splunk-ack-timeout', '200ms', '--retry-max-duration', '1s', '--log-format', 'json'], { env, timeoutMs: 20_000 });
      assert.equal(r.signal, null, 'killed by the test harness: the export did not end by itself');
      assert.equal(r.code, 1, r.stderr);
      const lines = jsonLines(r.stderr);
      const resends = lines.filter((l) => /^retrying in 0\.0s: no indexer acknowledgement for ack id \d+ within 0\.2s \(--splunk-ack-timeout\)$/.test(String(l['message'])));
      assert.ok(resends.length >= 2, r.stderr);
      for (const l of resends) assert.deepEqual([l['level'], l['events'], l['first_rowid'], l['last_rowid']], ['warn', 10, 1, 10]);
      assert.match(String(lines.at(-1)!['message']),
        /^gave up on 10 event\(s\) for splunk-hec after \d+ attempt\(s\) over 1\.0s \(--retry-max-duration\): no indexer acknowledgement for ack id \d+/);
      // The first send and every resend arrived; none was acknowledged, so nothing is checkpointed.
      assert.equal(peer.events.length, 10 * (resends.length + 1));
      assert.equal(fs.existsSync(state), false);
    });
  });

  it('sends again a batch still unacknowledged when HEC restarts and gives its ack id to the next batch', () => {
    const state = path.join(tempDir(), 'state.json');
    // HEC restarts before the second batch: the first batch's events go with the ack id 0 they were waiting on,
    // and the second batch is given ack id 0 again. Its confirmation must not settle the first batch.
    return hec({ token: TOKEN, ack: true, ackAfterPolls: 2, restartBefore: (post) => post === 1 }, async (peer) => {
      const db = demoRegistry(50);
      const r = await runCli(exportTo(db, peer.url, '--splunk-ack', '--splunk-ack-interval', '50ms', '--max-batch-events', '25',
        '--state', state, '--log-format', 'json'), { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(peer.restarts, 1);
      // Every event is in the index once the checkpoint passed it: the first batch went again.
      assert.deepEqual([...new Set(peer.indexedIds())].sort(), registryIds(db).sort());
      assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, 50);
      assert.equal(peer.events.length, 75);
      assert.equal(peer.channels.size, 1);
      const lines = jsonLines(r.stderr);
      const restarted = lines.filter((l) => /^Splunk HEC gave ack id 0 to a batch while 1 batch\(es\) sent before it still wait on ack ids up to 0: /.test(String(l['message'])));
      assert.equal(restarted.length, 1, r.stderr);
      const resends = lines.filter((l) => /^retrying in 0\.0s: ack id 0 can no longer be confirmed/.test(String(l['message'])));
      assert.deepEqual(resends.map((l) => [l['level'], l['events'], l['first_rowid'], l['last_rowid']]), [['warn', 25, 1, 25]]);
    });
  });

  it('sends a batch again when its acknowledgement times out', () =>
    hec({ token: TOKEN, ack: true, loseAck: (id) => id === 0 }, async (peer) => {
      const db = demoRegistry(20);
      const r = await runCli(exportTo(db, peer.url, '--splunk-ack', '--splunk-ack-interval', '50ms', '--splunk-ack-timeout', '300ms'), { env });
      assert.equal(r.code, 0, r.stderr);
      // At-least-once: the unconfirmed batch arrives twice, and every event is there.
      assert.deepEqual([...new Set(peer.eventIds())], registryIds(db));
      assert.equal(peer.events.length, 40);
    }));
});
