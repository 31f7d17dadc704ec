/** RFC 5424 header and structured data, octet-counted framing, and RELP's answers, against strict fake peers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AckWindow } from '../src/pipeline/ack-window.js';
import { Delivery, type SettledEntry } from '../src/pipeline/delivery.js';
import { encode, makeEntry, type Entry } from '../src/pipeline/encoder.js';
import { createJsonFormatter, eventJson } from '../src/records/formats/index.js';
import { blankEventJson, type EventJson } from '../src/records/formats/fields.js';
import { msgId, parseFacility, parseSdId, sdValue, structuredData, syslogWrap, timestamp } from '../src/records/rfc5424.js';
import { RelpTransport } from '../src/transports/syslog/relp.js';
import { SyslogStreamTransport } from '../src/transports/syslog/syslog.js';
import { endpoint } from '../src/transports/syslog/syslog-socket.js';
import type { Transport } from '../src/transports/transport.js';
import { waitFor, withPeer } from './helpers.js';
import { OctetCountingPeer, RelpPeer } from './peers/syslog.js';

const http = { timeoutMs: 3000 };
const event = (over: Partial<EventJson> = {}): EventJson => ({
  ...blankEventJson(), rowid: 1, eventId: '1', kind: 'dns', occurredUnix: 1763856000, occurredAt: '2025-11-23T00:00:00Z', registryId: 'reg', ...over,
});

describe('RFC 5424 message', () => {
  const wrap = syslogWrap(() => 'CEF:0|x', { facility: 20, hostname: 'h1', sdId: 'oversight@32473' });

  it('header: PRI from facility and kind, version 1, UTC time, HOSTNAME, APP-NAME, NIL PROCID, MSGID; then SD and MSG', () => {
    assert.equal(wrap(event({ token: '"t1"' })), '<164>1 2025-11-23T00:00:00Z h1 oversight - beacon-dns [oversight@32473 eventId="1" kind="dns" tokenId="t1" registryId="reg"] CEF:0|x');
    assert.match(wrap(event({ kind: 'license' })), /^<162>1 /);
    assert.match(wrap(event({ kind: 'http_img' })), /^<162>1 /);
    assert.match(wrap(event({ kind: 'ocsp' })), /^<163>1 /);
    assert.match(wrap(event({ kind: 'smtp' })), /^<165>1 .* beacon-smtp /);
  });

  it('facilities by name or number; anything else is refused', () => {
    assert.equal(parseFacility('local4'), 20);
    assert.equal(parseFacility('DAEMON'), 3);
    assert.equal(parseFacility('23'), 23);
    assert.throws(() => parseFacility('24'), /--syslog-facility/);
    assert.throws(() => parseFacility('local8'), /--syslog-facility/);
  });

  it('SD-ID is name@PEN, at most 32 printable characters without = ] " or space', () => {
    assert.equal(parseSdId('beacon@51136.1'), 'beacon@51136.1');
    for (const bad of ['oversight', 'a b@1', 'a=b@1', 'a]@1', 'a"@1', '@1', 'a@', 'a@x', 'x'.repeat(30) + '@123']) {
      assert.throws(() => parseSdId(bad), /--syslog-sd-id/, bad);
    }
  });

  it('PARAM-VALUE escapes ", \\ and ]; control characters cannot break a line', () => {
    assert.equal(sdValue('a"b\\c]d'), 'a\\"b\\\\c\\]d');
    assert.equal(sdValue('x\r\ny\u0000z\u0085'), 'x\ufffd\ufffdy\ufffdz\ufffd');
    const sd = structuredData(event({ token: JSON.stringify('t"]\\\n'), file: '42', registryId: '' }), 'o@1');
    assert.equal(sd, '[o@1 eventId="1" kind="dns" tokenId="t\\"\\]\\\\\ufffd" fileId="42"]');
    assert.ok(!/[\r\n]/.test(sd));
  });

  it('every message carries exactly the SD-ELEMENT structuredData spells, whatever the values', () => {
    const wrap2 = syslogWrap(() => 'M', { facility: 20, hostname: 'h1', sdId: 'o@1' });
    const values = [null, '""', '"t1"', '"a]b\\"c"', '"\\u0000x\\n"', '42', '"Zürich"'];
    for (const kind of ['dns', '', 'a b]', 'http_img'])
      for (const registryId of ['reg', '', 'r"]', 'reg'])
        for (const token of values)
          for (const file of values) {
            const e = event({ kind, registryId, token, file, eventId: token === null ? '' : '7]"' });
            const msg = wrap2(e);
            const sd = structuredData(e, 'o@1');
            assert.ok(msg.endsWith(` ${sd} M`), `${msg} does not end with ${sd}`);
            assert.ok(msg.startsWith(`<${kind === 'dns' ? 164 : kind === 'http_img' ? 162 : 165}>1 2025-11-23T00:00:00Z h1 oversight - ${msgId(kind)} [o@1`), msg);
          }
  });

  it('absent values leave their parameter out', () => {
    assert.equal(structuredData(event({ eventId: '', kind: '', registryId: '' }), 'o@1'), '[o@1]');
  });

  it('MSGID is printable ASCII, at most 32 characters', () => {
    assert.equal(msgId('http_img'), 'beacon-http_img');
    assert.equal(msgId('a b\u00e9'), 'beacon-a_b_');
    assert.equal(msgId('x'.repeat(40)).length, 32);
  });

  it('TIMESTAMP: four-digit years, no fraction; NILVALUE when the event has no time RFC 3339 can spell', () => {
    assert.equal(timestamp({ occurredUnix: -62135596800, occurredAt: '1-01-01T00:00:00Z' }), '0001-01-01T00:00:00Z');
    assert.equal(timestamp({ occurredUnix: 0, occurredAt: '' }), '-');
    assert.equal(timestamp({ occurredUnix: 253402300799, occurredAt: '9999-12-31T23:59:59Z' }), '9999-12-31T23:59:59Z');
  });

  it('a JSON format goes in as MSG unchanged', () => {
    const ecs = createJsonFormatter('ecs');
    const e = eventJson({ event_id: '7', event_kind: 'dns', occurred_unix: 1, occurred_at: '1970-01-01T00:00:01Z', registry_id: 'r', token_id: 't', file_id: null,
      recipient_id: null, issuer_id: null, source_ip: null, user_agent: null, qualified_timestamp: null, tlog_index: null, extra_json: null, rowid: 7 });
    const msg = syslogWrap(ecs, { facility: 1, hostname: 'h', sdId: 'o@1' })(e);
    assert.ok(msg.endsWith('] ' + ecs(e)));
  });
});

const entries = (t: Transport, records: string[]): Entry[] =>
  records.map((record, i) => makeEntry(t.encoder, { rowid: i + 1, event_id: String(i + 1), registry_id: 'r', record }));
const send = (t: Transport, es: Entry[]) => t.send(es, encode(t.encoder, es));

describe('octet counting against a strict peer', () => {
  it('MSG-LEN counts bytes, nothing follows a frame; a record over the limit is refused, and what follows it waits to be asked again', () =>
    withPeer(new OctetCountingPeer().start(), async (peer) => {
      const t = new SyslogStreamTransport(endpoint(`syslog+tcp://127.0.0.1:${peer.port}`, 514, false, http), 600, false);
      const records = ['<1>1 - - - - - - Zürich 日本 😀', '<1>1 - - - - - - ' + 'x'.repeat(700), '<1>1 - - - - - - ascii'];
      const v = await send(t, entries(t, records));
      assert.equal(v.kind, 'partial');
      assert.deepEqual(v.kind === 'partial' && [v.rejected.map((r) => [r.index, r.status]), v.retry, v.unexamined], [[[1, 413]], [2], true]);
      // Without a dead-letter file the export stops at the refused record, so nothing after it may be on the wire yet.
      await waitFor(() => peer.messages.length === 1);
      assert.equal((await send(t, entries(t, [records[2]!]))).kind, 'delivered');
      await t.close();
      assert.deepEqual(peer.messages, [records[0], records[2]]);
      assert.deepEqual(peer.errors, []);
    }));

  it('a receiver that went away is reconnected on the next attempt', () =>
    withPeer(new OctetCountingPeer().start(), async (peer) => {
      const t = new SyslogStreamTransport(endpoint(`syslog+tcp://127.0.0.1:${peer.port}`, 514, false, http), 8192, false);
      assert.equal((await send(t, entries(t, ['<1>1 - - - - - - a']))).kind, 'delivered');
      await waitFor(() => peer.messages.length === 1);
      for (const s of (peer as unknown as { sockets: Set<import('node:net').Socket> }).sockets) s.destroy();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal((await send(t, entries(t, ['<1>1 - - - - - - b']))).kind, 'delivered');
      await t.close();
      assert.equal(peer.connections, 2);
      assert.deepEqual(peer.messages, ['<1>1 - - - - - - a', '<1>1 - - - - - - b']);
    }));

  it('an unreachable receiver is a retry, not a failure', async () => {
    const peer = await new OctetCountingPeer().start();
    await peer.close();
    const t = new SyslogStreamTransport(endpoint(`syslog+tcp://127.0.0.1:${peer.port}`, 514, false, http), 8192, false);
    const v = await send(t, entries(t, ['<1>1 - - - - - - a']));
    assert.equal(v.kind, 'retry');
    assert.match(v.kind === 'retry' ? v.reason : '', /cannot reach 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });
});

describe('RELP against a scripted peer', () => {
  const relp = (peer: RelpPeer, window = 4) => new RelpTransport(endpoint(`relp://127.0.0.1:${peer.port}`, null, false, http), 8192, window);
  const recs = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `<1>1 - - - - - - m${from + i}`);

  /** As an export sends: the delivery loop (retries, backoff) and the acknowledgement window, until all settle. */
  async function deliverAll(t: Transport, es: Entry[], warnings: string[] = []): Promise<void> {
    const d = new Delivery(t, { initialDelayMs: 1, maxDelayMs: 20, maxDurationMs: 10_000 }, null, (m) => warnings.push(m));
    const w = new AckWindow(t.acks!, d);
    w.add(await d.deliver(es));
    await w.drain(() => undefined);
  }
  const settled = (es: Entry[]) => es.filter((e) => (e as SettledEntry).settled).length;

  it('every message answered: all settle, never more than the window unanswered, closed politely', () =>
    withPeer(new RelpPeer().start(), async (peer) => {
      const t = relp(peer);
      const es = entries(t, recs(50));
      await deliverAll(t, es);
      await t.close();
      assert.equal(settled(es), 50);
      assert.deepEqual(peer.messages, recs(50));
      assert.ok(peer.maxUnanswered <= 4, `${peer.maxUnanswered}`);
      assert.equal(peer.closes, 1);
    }));

  it('a batch is handed back once written; it settles only as its answers arrive, and the next batch fills the window', () =>
    withPeer(new RelpPeer({ hold: true }).start(), async (peer) => {
      const t = relp(peer);
      const d = new Delivery(t, { initialDelayMs: 1, maxDelayMs: 20, maxDurationMs: 10_000 }, null, () => undefined);
      const w = new AckWindow(t.acks!, d);
      const first = entries(t, recs(3));
      w.add(await d.deliver(first));
      await w.poll();
      await waitFor(() => peer.messages.length === 3);
      assert.equal(settled(first), 0, 'nothing settles before its answer');
      // Only one more fits in a window of 4 until answers come; the rest go as they do.
      const second = entries(t, recs(3, 3));
      const sending = d.deliver(second);
      await waitFor(() => peer.messages.length === 4);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(peer.messages.length, 4, 'the window holds across batches');
      peer.release();
      w.add(await sending);
      await w.drain(() => undefined);
      assert.equal(settled(first) + settled(second), 6);
      assert.deepEqual(peer.messages, recs(6));
      assert.ok(peer.maxUnanswered <= 4, `${peer.maxUnanswered}`);
      await t.close();
    }));

  it('a send made while another is still being written waits its turn: both are written whole, in order', () =>
    withPeer(new RelpPeer({ hold: true }).start(), async (peer) => {
      const t = relp(peer);
      const es = entries(t, recs(8));
      // The first fills the window of 4 and waits for room; the second comes while it does.
      const first = send(t, es.slice(0, 6));
      await waitFor(() => peer.messages.length === 4);
      const second = send(t, es.slice(6));
      peer.release();
      await waitFor(() => peer.messages.length === 8);
      assert.deepEqual(peer.messages, recs(8));
      assert.deepEqual((await Promise.all([first, second])).map((v) => v.kind), ['delivered', 'delivered']);
      await t.close();
    }));

  const drops: { title: string; dropAt: number; count: number; warning: RegExp }[] = [
    { title: 'the connection drops: the answered ones are in, exactly the unanswered ones are sent again', dropAt: 6, count: 10, warning: /retrying in/ },
    { title: 'a connection that drops after a batch was handed back: its unanswered messages go again, once', dropAt: 2, count: 3, warning: /retrying in .*closed the connection/ },
  ];
  for (const { title, dropAt, count, warning } of drops) {
    it(title, () =>
      withPeer(new RelpPeer({ dropAt }).start(), async (peer) => {
        const t = relp(peer);
        const es = entries(t, recs(count));
        const warnings: string[] = [];
        await deliverAll(t, es, warnings);
        await t.close();
        assert.equal(settled(es), count);
        assert.deepEqual(peer.messages, recs(count));
        assert.equal(peer.connections, 2);
        assert.match(warnings.join('\n'), warning);
      }));
  }

  it('serverclose: what was not answered goes again on a new session', () =>
    withPeer(new RelpPeer({ serverCloseAfter: 3 }).start(), async (peer) => {
      const t = relp(peer, 2);
      const es = entries(t, recs(5));
      const warnings: string[] = [];
      await deliverAll(t, es, warnings);
      await t.close();
      assert.equal(settled(es), 5);
      assert.deepEqual(peer.messages, recs(5));
      assert.match(warnings.join('\n'), /closed the RELP session/);
    }));

  it('a message the receiver refuses (rsp 500) is sent again; the others are in once', () =>
    withPeer(new RelpPeer({ answer: (n) => (n === 1 ? '500 queue full' : '200 OK') }).start(), async (peer) => {
      const t = relp(peer);
      const es = entries(t, recs(3));
      const warnings: string[] = [];
      await deliverAll(t, es, warnings);
      await t.close();
      assert.equal(settled(es), 3);
      assert.deepEqual(peer.messages, [...recs(3), recs(3)[1]]);
      assert.match(warnings.join('\n'), /refused 1 message\(s\)/);
    }));

  it('a receiver that keeps refusing: the retry budget ends the export, nothing settles', () =>
    withPeer(new RelpPeer({ answer: () => '500 queue full' }).start(), async (peer) => {
      const t = relp(peer);
      const es = entries(t, recs(2));
      const d = new Delivery(t, { initialDelayMs: 1, maxDelayMs: 20, maxDurationMs: 300 }, null, () => undefined);
      const w = new AckWindow(t.acks!, d);
      await assert.rejects(async () => {
        w.add(await d.deliver(es));
        await w.drain(() => undefined);
      }, /gave up on 2 event\(s\) for relp .*refused 2 message\(s\)/);
      assert.equal(settled(es), 0);
      await t.close();
    }));

  it('a port that does not speak RELP is named as the likely mistake', () =>
    withPeer(new OctetCountingPeer().start(), async (peer) => {
      const t = new RelpTransport(endpoint(`relp://127.0.0.1:${peer.port}`, null, false, { timeoutMs: 500 }), 8192, 4);
      const v = await send(t, entries(t, recs(1)));
      assert.equal(v.kind, 'retry');
      assert.match(v.kind === 'retry' ? v.reason : '', /while opening a RELP session \(is 127\.0\.0\.1:\d+ a RELP port\?\)/);
    }));

  it('a receiver that refuses the session is named in the reason', () =>
    withPeer(new RelpPeer({ open: '500 not now' }).start(), async (peer) => {
      const t = relp(peer);
      const v = await send(t, entries(t, recs(1)));
      assert.equal(v.kind, 'retry');
      assert.match(v.kind === 'retry' ? v.reason : '', /refused the RELP session: 500 not now/);
      assert.deepEqual(peer.messages, []);
    }));
});
