/**
 * The delivery core with a SIEM that answers when the test says so: requests go one at a time and in registry
 * order, records are taken from buffers that are filled again at once, and the checkpoint only covers what the
 * SIEM took.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Core } from '../src/pipeline/core.js';
import { hecEncoder, type Entry } from '../src/pipeline/encoder.js';
import { ROWID_START } from '../src/registry/rows.js';
import { ExportError } from '../src/shared/errors.js';
import type { Transport, Verdict } from '../src/transports/transport.js';

/** A HEC-framed SIEM whose every answer waits for `answer()`. */
class SlowSiem implements Transport {
  readonly name = 'splunk-hec';
  readonly encoder = hecEncoder;
  readonly defaults = { maxEvents: 2, maxBytes: 1_000_000 };
  readonly hardMaxBytes = Infinity;
  readonly bodies: string[] = [];
  private waiting: ((v: Verdict) => void)[] = [];

  send(_entries: readonly Entry[], body: Buffer): Promise<Verdict> {
    this.bodies.push(body.toString());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Answer the oldest unanswered request; there is exactly one, or the core sent two at once. */
  async answer(v: Verdict = { kind: 'delivered' }): Promise<void> {
    await settled();
    assert.equal(this.waiting.length, 1, 'one request at a time');
    this.waiting.shift()!(v);
    await settled();
  }

  async close(): Promise<void> {}
}

/** Let every promise that can move, move. */
const settled = () => new Promise((r) => setImmediate(r));

/** Lines as a formatting thread hands them over. */
const chunk = (from: number, n: number) => Buffer.from(Array.from({ length: n }, (_, i) => `{"n":${from + i}}\n`).join(''));

/** Feed `n` records from rowid `from`, the way the threaded feed does; resolves once the core took them all. */
async function feed(core: Core, from: number, n: number): Promise<void> {
  const buf = chunk(from, n);
  for (let i = 0, start = 0; i < n; i++) {
    const end = buf.indexOf(0x0a, start);
    const full = core.addLine(from + i, `e${from + i}`, 'r', buf, start, end);
    start = end + 1;
    if (full) await core.flushFull();
  }
  // The formatting thread fills its buffer again once the records are taken.
  buf.fill(0x78);
}

const core = (siem: SlowSiem, stop?: AbortSignal) =>
  new Core({ transport: siem, limits: siem.defaults, retry: { initialDelayMs: 1, maxDelayMs: 1, maxDurationMs: 1000 }, ...(stop ? { stop } : {}) });

describe('the delivery core', () => {
  it('sends one request at a time, in registry order, and checkpoints each batch once the SIEM took it', async () => {
    const siem = new SlowSiem();
    const c = core(siem);
    // Six records, batches of two: the first goes out, the second is formatted meanwhile and waits for the answer.
    const fed = feed(c, 1, 6);
    await settled();
    assert.deepEqual(siem.bodies, ['{"n":1}{"n":2}']);
    assert.equal(c.lastRowid, ROWID_START);
    await siem.answer();
    assert.deepEqual(siem.bodies, ['{"n":1}{"n":2}', '{"n":3}{"n":4}']);
    assert.equal(c.lastRowid, 2);
    const done = c.finish(fed);
    await siem.answer();
    assert.equal(c.lastRowid, 4);
    await siem.answer();
    const r = await done;
    assert.deepEqual(siem.bodies, ['{"n":1}{"n":2}', '{"n":3}{"n":4}', '{"n":5}{"n":6}']);
    assert.equal(r.lastRowid, 6);
    assert.equal(r.exported, 6);
  });

  it('a stop while a request is in flight leaves the next batch unsent, after the checkpoint', async () => {
    const siem = new SlowSiem();
    const stop = new AbortController();
    const c = core(siem, stop.signal);
    const fed = feed(c, 1, 4);
    await settled();
    stop.abort();
    await siem.answer();
    const r = await c.finish(fed);
    assert.deepEqual(siem.bodies, ['{"n":1}{"n":2}']);
    assert.equal(r.stopped, true);
    assert.equal(r.lastRowid, 2);
  });

  it('a request that fails stops the export before the next batch goes out', async () => {
    const siem = new SlowSiem();
    const c = core(siem);
    const failed = assert.rejects(c.finish(feed(c, 1, 6)), (err: unknown) => err instanceof ExportError && /Invalid token/.test(err.message));
    await settled();
    await siem.answer({ kind: 'stop', reason: 'Splunk HEC answered HTTP 403 code 4: Invalid token' });
    await failed;
    assert.deepEqual(siem.bodies, ['{"n":1}{"n":2}']);
    assert.equal(c.lastRowid, ROWID_START);
  });

  it('records that join as text fill a batch to the byte limit, counted in UTF-8 bytes, not characters', async () => {
    // Most records are 16 bytes of as many characters; a euro sign is one character and three bytes.
    const siem = new SlowSiem();
    const limits = { maxEvents: 1000, maxBytes: 48 };
    const c = new Core({ transport: siem, limits, retry: { initialDelayMs: 1, maxDelayMs: 1, maxDurationMs: 1000 } });
    const records = ['{"s":"aaaaaaaa"}', '{"s":"bbbbbbbb"}', '{"s":"cccccccc"}', '{"s":"€€€€"}', '{"s":"dddddddd"}', '{"s":"€"}'];
    const fed = (async () => {
      for (const [i, record] of records.entries()) if (c.add({ rowid: i + 1, event_id: String(i + 1), registry_id: 'r', record })) await c.flushFull();
    })();
    // Three records of 16 bytes fill 48 exactly, though three times their characters would not fit.
    await siem.answer();
    // 20 bytes of euros, 16 of d's and 11 of the last record: 47, within 48, sent as the last batch.
    const done = c.finish(fed);
    await siem.answer();
    const r = await done;
    assert.deepEqual(siem.bodies, ['{"s":"aaaaaaaa"}{"s":"bbbbbbbb"}{"s":"cccccccc"}', '{"s":"€€€€"}{"s":"dddddddd"}{"s":"€"}']);
    assert.deepEqual(siem.bodies.map((b) => Buffer.byteLength(b)), [48, 47]);
    assert.equal(r.lastRowid, 6);
  });

  it('fills a body the SIEM took whole again for a later batch, and never one it refused or may still need', async () => {
    // Bodies of 100 records of about 1 KB: large enough to be kept for the next batch once taken.
    const pad = 'x'.repeat(1000);
    const line = (n: number) => `{"n":${n},"pad":"${pad}"}`;
    const sent: { text: string; memory: ArrayBuffer }[] = [];
    // The first batch is taken, the second refused as a whole (split in halves, both taken), the rest taken.
    const answers: Verdict[] = [{ kind: 'delivered' }, { kind: 'rejected', status: 400, reason: 'refused' }];
    const siem: Transport = {
      name: 'splunk-hec', encoder: hecEncoder, hardMaxBytes: Infinity,
      async send(_entries, body) {
        sent.push({ text: body.toString(), memory: body.buffer as ArrayBuffer });
        return answers.shift() ?? { kind: 'delivered' };
      },
      async close() {},
    };
    const c = new Core({ transport: siem, limits: { maxEvents: 100, maxBytes: 1_000_000 }, retry: { initialDelayMs: 1, maxDelayMs: 1, maxDurationMs: 1000 } });
    const fed = (async () => {
      for (let n = 1; n <= 500; n++) {
        const buf = Buffer.from(line(n) + '\n');
        const full = c.addLine(n, null, 'r', buf, 0, buf.length - 1);
        // The formatting thread's buffer is filled again at once.
        buf.fill(0x78);
        if (full) await c.flushFull();
      }
    })();
    const r = await c.finish(fed);
    const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => line(from + i)).join('');
    // Each body held its own records when sent: batches 1, 2 (refused), 2's halves, 3, 4, 5.
    assert.deepEqual(sent.map((s) => s.text), [batch(1, 100), batch(101, 100), batch(101, 50), batch(151, 50), batch(201, 100), batch(301, 100), batch(401, 100)]);
    assert.equal(r.exported, 500);
    assert.equal(r.lastRowid, 500);
    // Taken bodies' memory carried later batches; the refused one's carried none after it.
    assert.ok(sent.some((s, j) => sent.slice(0, j).some((t) => t.memory === s.memory)), 'a taken body is filled again');
    assert.ok(!sent.slice(2).some((s) => s.memory === sent[1]!.memory), 'a refused body is not');
  });

  it('lets go of a body grown far past the batch limit for one large record, rather than keep it for the run', async () => {
    const small = (n: number) => `{"n":${n},"pad":"${'x'.repeat(1000)}"}`;
    const large = `{"n":"large","pad":"${'y'.repeat(4_000_000)}"}`;
    const sent: { text: string; memory: ArrayBuffer }[] = [];
    const siem: Transport = {
      name: 'splunk-hec', encoder: hecEncoder, hardMaxBytes: Infinity,
      async send(_entries, body) {
        sent.push({ text: body.toString(), memory: body.buffer as ArrayBuffer });
        return { kind: 'delivered' };
      },
      async close() {},
    };
    const c = new Core({ transport: siem, limits: { maxEvents: 100, maxBytes: 200_000 }, retry: { initialDelayMs: 1, maxDelayMs: 1, maxDurationMs: 1000 } });
    const records = [...Array.from({ length: 150 }, (_, i) => small(i)), large, ...Array.from({ length: 300 }, (_, i) => small(150 + i))];
    const fed = (async () => {
      for (const [i, record] of records.entries()) {
        const buf = Buffer.from(record + '\n');
        const full = c.addLine(i + 1, null, 'r', buf, 0, buf.length - 1);
        if (full) await c.flushFull();
      }
    })();
    const r = await c.finish(fed);
    assert.equal(r.exported, records.length);
    assert.equal(sent.map((s) => s.text).join(''), records.join(''));
    const big = sent.findIndex((s) => s.text === large);
    assert.ok(big > 0, 'the large record went alone');
    assert.ok(!sent.slice(big + 1).some((s) => s.memory === sent[big]!.memory), 'its body was not kept');
    // Bodies of the usual size still are.
    assert.ok(sent.slice(big + 1).some((s, j) => sent.slice(big + 1, big + 1 + j).some((t) => t.memory === s.memory)));
  });
});
