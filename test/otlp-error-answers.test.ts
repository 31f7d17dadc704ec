/**
 * OTLP error answers that are huge, never end or are cut off: each is classified by its status line exactly as a
 * short one (429, 502, 503, 504 retried; 400 dead-lettered after halving; other 5xx stop the export), with only
 * the start of its body read and quoted on one line.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { OtlpPeer, statusPrefix } from './peers/otlp.js';
import { demoRegistry, jsonLines, outcome, registryIds, runCli, tempDir, withPeer, lastRowid } from './helpers.js';

const MB = 1024 * 1024;
/** A proxy's words with a line break and an ANSI escape in them, to show they cannot forge or colour our log. */
const START = 'proxy refused\r\n\u001b[31mthe request ';

const otlp = (fn: (peer: OtlpPeer) => Promise<void>): Promise<void> => withPeer(new OtlpPeer().start(), fn);

/** Export `events` demo events to the peer; returns the run and its dead letters. */
async function exportTo(peer: OtlpPeer, events: number, ...more: string[]) {
  const dir = tempDir();
  const db = demoRegistry(events);
  const dlq = path.join(dir, 'dead.jsonl');
  const state = path.join(dir, 'state.json');
  const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg-1', '--output', peer.url.replace(/^http/, 'otlp+http'),
    '--state', state, '--dead-letter', dlq, '--retry-max-duration', '20s', ...more]);
  const dead = fs.existsSync(dlq) ? jsonLines(fs.readFileSync(dlq, 'utf8')) : [];
  return { r, db, dead, rowid: lastRowid(state) };
}

/** One line, no control characters, the peer's words and then the cut. */
function assertQuoted(text: string, status: number): void {
  assert.ok(!/[\u0000-\u001f]/.test(text), JSON.stringify(text.slice(0, 300)));
  assert.match(text, new RegExp(`answered HTTP ${status}: proxy refused \\[31mthe request A{100,}…`));
}

describe('OTLP error answers of any size', () => {
  it('a 400 with a 400 MB body dead-letters the record as a short 400 does, reading no more than 4 MiB of it', () =>
    otlp(async (peer) => {
      peer.script.push({ status: 400, flood: { start: START, bytes: 400 * MB } });
      const { r, db, dead, rowid } = await exportTo(peer, 1);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /retrying/);
      assert.equal(peer.hits, 1);
      assert.deepEqual(dead.map((d) => d['event_id']), registryIds(db));
      assert.equal(dead[0]!['status'], 400);
      assertQuoted(String(dead[0]!['error']), 400);
      assert.equal(rowid, 1);
      // 4 MiB read, the rest left on the closed connection (the kernel's buffers hold a few megabytes more).
      assert.ok(peer.streamed < 50 * MB, `the peer sent ${(peer.streamed / MB).toFixed(0)} MB`);
    }));

  it('a 500 whose google.rpc.Status is 400 MB stops the export unretried, its message quoted on one line, nothing checkpointed', () =>
    otlp(async (peer) => {
      // Only the start of the Status is read: its message is quoted from there, not the bytes that frame it.
      const start = statusPrefix(START, 400 * MB);
      peer.script.push({ status: 500, flood: { start, bytes: start.length + 400 * MB - Buffer.byteLength(START), type: 'application/x-protobuf' } });
      const { r, dead, rowid } = await exportTo(peer, 3);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(peer.hits, 1, 'not retried');
      const last = outcome(r.stderr);
      assert.equal(last.length, 1, r.stderr);
      assertQuoted(last[0]!, 500);
      assert.match(last[0]!, /… \(not retried: OTLP retries only 429, 502, 503 and 504\)$/);
      assert.deepEqual(dead, []);
      assert.equal(rowid, 0);
      assert.ok(peer.streamed < 50 * MB, `the peer sent ${(peer.streamed / MB).toFixed(0)} MB`);
    }));
});

describe('OTLP error answers that do not end', () => {
  it('a 400 whose body outlasts --timeout stops the export after one request: nothing dead-lettered, nothing checkpointed', () =>
    otlp(async (peer) => {
      peer.script.push({ status: 400, body: 'bad record', then: 'trickle' });
      const { r, dead, rowid } = await exportTo(peer, 4, '--timeout', '1s');
      assert.equal(r.code, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /retrying/);
      assert.equal(peer.hits, 1, 'not halved: each half would wait out --timeout again');
      assert.match(outcome(r.stderr).join('\n'), /answered HTTP 400 but did not finish its answer within --timeout \(it began: bad record\.*\): not retried/);
      assert.deepEqual(dead, []);
      assert.equal(rowid, 0);
      assert.ok(peer.streamed > 0, 'the peer was still sending');
    }));

  it('a 500 whose body outlasts --timeout stops the export as a 500, sent once', () =>
    otlp(async (peer) => {
      peer.script.push({ status: 500, body: 'internal error', then: 'trickle' });
      const { r, rowid } = await exportTo(peer, 3, '--timeout', '1s');
      assert.equal(r.code, 1, r.stderr);
      assert.equal(peer.hits, 1, 'not retried');
      assert.match(outcome(r.stderr).join('\n'), /^oversight: 127\.0\.0\.1:\d+ answered HTTP 500: internal error\.* \(not retried: OTLP retries only 429, 502, 503 and 504\)$/);
      assert.equal(rowid, 0);
    }));

  it('a 503 whose body outlasts --timeout is retried after its Retry-After, then every event arrives once', () =>
    otlp(async (peer) => {
      peer.script.push({ status: 503, body: 'overloaded', headers: { 'retry-after': '1' }, then: 'trickle' });
      const { r, db, rowid } = await exportTo(peer, 3, '--timeout', '1s');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /retrying in 1\.0s: 127\.0\.0\.1:\d+ answered HTTP 503: overloaded/);
      assert.deepEqual(peer.accepted.map((x) => x.attrs['oversight.event.id']), registryIds(db));
      assert.equal(rowid, 3);
    }));

  it('a 400 whose connection drops part way through its body stops the export as well', () =>
    otlp(async (peer) => {
      peer.script.push({ status: 400, body: 'bad record', headers: { 'content-length': '1000' }, then: 'drop' });
      const { r, dead } = await exportTo(peer, 1);
      assert.equal(r.code, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /retrying|cannot reach/);
      assert.equal(peer.hits, 1);
      assert.match(outcome(r.stderr).join('\n'), /answered HTTP 400 but closed the connection before the end of its answer \(it began: bad record\): not retried/);
      assert.deepEqual(dead, []);
    }));
});

describe('OTLP 4xx answers that say nothing about the records', () => {
  // A proxy's 408, and statuses about the request or the connection; the specification forbids retrying them,
  // and only its 400 says the data is bad.
  for (const status of [408, 409, 410, 421, 422]) {
    it(`a ${status} stops the export, sent once: nothing dead-lettered or checkpointed, and a restart sends every record`, () =>
      otlp(async (peer) => {
        peer.script.push({ status, body: 'Request Timeout', headers: { 'content-type': 'text/plain' } });
        const dir = tempDir();
        const db = demoRegistry(50);
        const state = path.join(dir, 'state.json');
        const dlq = path.join(dir, 'dead.jsonl');
        const args = ['siem', 'export', '--db', db, '--registry-id', 'reg-1', '--output', peer.url.replace(/^http/, 'otlp+http'),
          '--state', state, '--dead-letter', dlq, '--retry-max-duration', '20s'];
        const r = await runCli(args);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(peer.hits, 1, 'neither retried nor halved');
        assert.deepEqual(outcome(r.stderr), [
          `oversight: ${new URL(peer.url).host} answered HTTP ${status}: Request Timeout ` +
            '(not retried: OTLP retries only 429, 502, 503 and 504; nothing is dead-lettered, as only a 400 refuses the records)',
        ]);
        assert.ok(!fs.existsSync(dlq));
        assert.equal(lastRowid(state), 0);
        const again = await runCli(args);
        assert.equal(again.code, 0, again.stderr);
        assert.deepEqual(peer.accepted.map((x) => x.attrs['oversight.event.id']), registryIds(db));
        assert.equal(lastRowid(state), 50);
      }));
  }
});
