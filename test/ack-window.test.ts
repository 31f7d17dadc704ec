/**
 * Splunk's polled acknowledgements in the window, against a HEC whose ack ids the test hands out: one `true`
 * never settles two batches, whatever ids HEC gives after a restart.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AckWindow } from '../src/pipeline/ack-window.js';
import { Delivery, type SettledEntry } from '../src/pipeline/delivery.js';
import { hecEncoder, makeEntry, type Entry } from '../src/pipeline/encoder.js';
import type { AckSource, Transport, Verdict } from '../src/transports/transport.js';

/** HEC answering each request with the next ack id of `ids`, and confirming the ids in `indexed`. */
class ScriptedHec implements Transport {
  readonly name = 'splunk-hec';
  readonly encoder = hecEncoder;
  readonly defaults = { maxEvents: 10, maxBytes: 1_000_000 };
  readonly hardMaxBytes = Infinity;
  /** First rowid of each request, in the order they came. */
  readonly sent: number[] = [];
  readonly indexed = new Set<number>();
  readonly acks: AckSource = {
    pollIntervalMs: 1,
    timeoutMs: 60_000,
    query: async (ids) => new Map(ids.map((id) => [id, this.indexed.has(id)])),
  };

  constructor(private readonly ids: () => number) {}

  async send(entries: readonly Entry[]): Promise<Verdict> {
    this.sent.push(entries[0]!.rowid);
    return { kind: 'delivered', ackId: this.ids() };
  }

  async close(): Promise<void> {}
}

const batch = (from: number, n: number): Entry[] =>
  Array.from({ length: n }, (_, i) => makeEntry(hecEncoder, { rowid: from + i, event_id: String(from + i), registry_id: 'r', record: `{"n":${from + i}}` }));
const settled = (es: Entry[]) => es.filter((e) => (e as SettledEntry).settled).length;

function setup(ids: () => number, retry = { initialDelayMs: 1, maxDelayMs: 20, maxDurationMs: 10_000 }) {
  const hec = new ScriptedHec(ids);
  const lines: string[] = [];
  const warn = (m: string) => lines.push(m);
  const d = new Delivery(hec, retry, null, warn);
  return { hec, lines, d, w: new AckWindow(hec.acks, d, 256, { warn }) };
}

describe('Splunk acknowledgement window', () => {
  it('a batch resent after its timeout that gets an id back from 0 sends again the batches still waiting', async () => {
    const script = [5, 6, 0, 1];
    const { hec, lines, d, w } = setup(() => script.shift()!);
    const a = batch(1, 2);
    const b = batch(3, 2);
    const [ta] = await d.deliver(a);
    // Its acknowledgement is overdue; b's is not.
    ta!.sentAt -= 120_000;
    await w.add([ta!]);
    await w.add(await d.deliver(b));
    // HEC restarts here: a goes again for want of an answer and is given ack id 0, so b's id 6 means nothing now.
    await w.poll(true);
    assert.deepEqual(hec.sent, [1, 3, 1, 3]);
    assert.equal(w.pending, 2);
    assert.ok(lines.some((l) => l.startsWith('Splunk HEC gave ack id 0 to a batch while 1 batch(es) sent before it still wait on ack ids up to 6: ')), lines.join('\n'));
    assert.ok(lines.includes("retrying in 0.0s: ack id 6 can no longer be confirmed: Splunk HEC's ack ids started again (ack id 0 went to a later batch; a load balancer in front of HEC needs sticky sessions for --splunk-ack)"), lines.join('\n'));
    // The new numbering confirms both resends, and nothing else.
    hec.indexed.add(0).add(1);
    await w.poll(true);
    assert.equal(w.pending, 0);
    assert.equal(settled(a) + settled(b), 4);
  });

  it('a HEC that gives every batch the same ack id settles nothing, backs off, and fails within the retry budget', async () => {
    const { hec, lines, d, w } = setup(() => 0, { initialDelayMs: 50, maxDelayMs: 100, maxDurationMs: 300 });
    hec.indexed.add(0);
    const a = batch(1, 2);
    const b = batch(3, 2);
    await w.add(await d.deliver(a));
    await assert.rejects(async () => {
      await w.add(await d.deliver(b));
      await w.drain(() => undefined);
    }, /^ExportError: gave up on 2 event\(s\) for splunk-hec after \d+ attempt\(s\) over 0\.3s \(--retry-max-duration\): ack id 0 can no longer be confirmed/);
    assert.equal(settled(a) + settled(b), 0);
    // The first resend of each batch goes at once; later ones wait a backoff.
    const retries = lines.filter((l) => l.startsWith('retrying in'));
    assert.ok(retries.length >= 3, lines.join('\n'));
    assert.ok(retries.slice(0, 2).every((l) => l.startsWith('retrying in 0.0s: ')), lines.join('\n'));
    // Backoffs of tens of milliseconds leave room for a handful of copies in the budget, not a flood.
    assert.ok(hec.sent.length >= 4 && hec.sent.length < 100, `${hec.sent.length} requests`);
  });

  it('a batch sent while a poll waits for its answer is judged by a later poll, never by that answer', async () => {
    const script = [5, 5];
    const { hec, d, w } = setup(() => script.shift()!);
    const a = batch(1, 2);
    await w.add(await d.deliver(a));
    // The poll asks about ack id 5 and its answer is slow; HEC restarts meanwhile and gives 5 to the next batch.
    let answer!: (m: Map<number, boolean>) => void;
    hec.acks.query = () => new Promise((resolve) => (answer = resolve));
    const polled = w.poll(true);
    const b = batch(3, 2);
    const added = w.add(await d.deliver(b));
    await new Promise((r) => setImmediate(r));
    // The slow answer is about a's 5 (indexed before the restart); b's 5 is another batch of the new numbering.
    answer(new Map([[5, true]]));
    await Promise.all([polled, added]);
    assert.equal(settled(a), 2);
    assert.equal(settled(b), 0, 'b was never confirmed');
    assert.equal(w.pending, 1);
    assert.deepEqual(hec.sent, [1, 3]);
  });
});
