/** The pure stages on their own: response classifiers, retry timing, batching, framing and signing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Batcher } from '../src/pipeline/batcher.js';
import { BodyWriter, bulkEncoder, encode, hecEncoder, jsonArrayEncoder, jsonLinesEncoder, makeEntry, makeSpanEntry, makeTextEntry, type Encoder, type Entry } from '../src/pipeline/encoder.js';
import type { HttpResponse } from '../src/transports/http/client.js';
import { backoffDelay, parseRetryAfter, RETRY_DEFAULTS, RetryBudget, Stopped } from '../src/pipeline/retry.js';
import { sentinelAuthorization } from '../src/transports/http/sentinel-auth.js';
import { classifyLogsIngestionResponse } from '../src/transports/http/azure-logs-ingestion.js';
import { classifyBulkResponse, dataStreamName, documentId } from '../src/transports/http/elasticsearch.js';
import { detectTransport } from '../src/transports/index.js';
import { classifySentinelResponse } from '../src/transports/http/sentinel-dca.js';
import { classifyHecResponse, hecAckUrl } from '../src/transports/http/splunk-hec.js';
import { lfEncoder, octetCountingEncoder } from '../src/transports/syslog/syslog-frames.js';

const res = (status: number, body: unknown = '', headers: Record<string, string> = {}): HttpResponse => ({
  status,
  headers,
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('sentinelAuthorization', () => {
  it('matches a known answer computed with openssl', () => {
    // printf 'POST\n1024\napplication/json\nx-ms-date:Mon, 04 Apr 2016 08:00:00 GMT\n/api/logs' |
    //   openssl dgst -sha256 -mac HMAC -macopt hexkey:$(printf 'oversight-known-answer-shared-key-0001' | xxd -p) -binary | base64
    const auth = sentinelAuthorization({
      workspaceId: 'ws-0001',
      sharedKeyB64: 'b3ZlcnNpZ2h0LWtub3duLWFuc3dlci1zaGFyZWQta2V5LTAwMDE=',
      contentLength: 1024,
      dateRfc1123: 'Mon, 04 Apr 2016 08:00:00 GMT',
    });
    assert.equal(auth, 'SharedKey ws-0001:ZAGDQn27NTJAuc3rvX6yfOVCECrDJrwmShPM+w7jn1o=');
  });
});

describe('Splunk HEC response classification', () => {
  const table: [string, HttpResponse, number, unknown][] = [
    ['success', res(200, { text: 'Success', code: 0 }), 3, { kind: 'delivered' }],
    ['busy (code 9) is retried', res(503, { text: 'Server is busy', code: 9 }), 3, { kind: 'retry' }],
    ['429 honours Retry-After', res(429, '', { 'retry-after': '7' }), 3, { kind: 'retry', retryAfterMs: 7000 }],
    ['token disabled stops', res(403, { text: 'Token disabled', code: 1 }), 3, { kind: 'stop' }],
    ['invalid token stops', res(403, { text: 'Invalid token', code: 4 }), 3, { kind: 'stop' }],
    ['incorrect index stops', res(400, { text: 'Incorrect index', code: 7 }), 3, { kind: 'stop' }],
    ['413 is split', res(413, 'Content-Length of 9 too large (maximum is 1)'), 3, { kind: 'too-large' }],
    ['invalid event without a position is isolated', res(400, { text: 'Invalid data format', code: 6 }), 3, { kind: 'rejected' }],
  ];
  for (const [name, r, n, want] of table) {
    it(name, () => {
      const v = classifyHecResponse(r, n, false) as Record<string, unknown>;
      for (const [k, val] of Object.entries(want as object)) assert.deepEqual(v[k], val, k);
    });
  }
  it('code 6 at event 2 of 5: 0-1 in, 2 refused, 3-4 to resend', () => {
    const v = classifyHecResponse(res(400, { text: 'Invalid data format', code: 6, 'invalid-event-number': 2 }), 5, false);
    assert.equal(v.kind, 'partial');
    if (v.kind !== 'partial') return;
    assert.deepEqual(v.retry, [3, 4]);
    assert.deepEqual(v.rejected.map((r) => r.index), [2]);
  });
  it('with acknowledgement on, a success carries the ack id, and a missing one stops', () => {
    assert.deepEqual(classifyHecResponse(res(200, { text: 'Success', code: 0, ackId: 12 }), 1, true), { kind: 'delivered', ackId: 12 });
    assert.equal(classifyHecResponse(res(200, { text: 'Success', code: 0 }), 1, true).kind, 'stop');
  });
  it('polls acks on the same server and channel', () => {
    assert.equal(hecAckUrl('https://splunk:8088/services/collector/event?x=1', 'c-1'), 'https://splunk:8088/services/collector/ack?channel=c-1');
  });
});

describe('Elasticsearch bulk classification', () => {
  const item = (status: number, type?: string) => ({ create: { status, ...(type ? { error: { type, reason: 'r' } } : {}) } });
  it('201 and 409 are in, 429 and 5xx retried alone, other 4xx refused', () => {
    const v = classifyBulkResponse(res(200, { errors: true, items: [item(201), item(409, 'version_conflict_engine_exception'), item(429, 'es_rejected_execution_exception'), item(400, 'mapper_parsing_exception'), item(503, 'unavailable_shards_exception')] }), 5);
    assert.equal(v.kind, 'partial');
    if (v.kind !== 'partial') return;
    assert.deepEqual(v.retry, [2, 4]);
    assert.deepEqual(v.rejected.map((r) => [r.index, r.status]), [[3, 400]]);
    assert.match(v.rejected[0]!.error, /mapper_parsing_exception/);
    assert.equal(v.duplicates, 1);
  });
  it('no errors is delivered; HTTP-level 429 is retried; an answer without one result per document is not delivered', () => {
    assert.equal(classifyBulkResponse(res(200, { errors: false, items: [item(201)] }), 1).kind, 'delivered');
    assert.equal(classifyBulkResponse(res(429, {}), 1).kind, 'retry');
    const cases: [unknown, RegExp][] = [
      [{ errors: true, items: [item(201)] }, /\(1 item result\(s\) for 2 document\(s\)\)/],
      [{ errors: false }, /\(no "items"\)/],
      [null, /\(not a JSON object but null\)/],
      [{ errors: true, items: [null, item(201)] }, /\(item 0 is null, not an object\)/],
      [{ errors: false, items: [item(201), { create: { status: '201' } }] }, /\(item 1 has no HTTP status\)/],
      [{ errors: false, items: [item(201), { create: { status: 201 }, index: { status: 201 } }] }, /\(item 1 is not one create, index, update or delete result\)/],
      [{ items: [item(201), item(201)] }, /\("errors" is not true or false\)/],
    ];
    for (const [body, why] of cases) {
      const v = classifyBulkResponse(res(200, body === null ? 'null' : body), 2);
      assert.equal(v.kind, 'retry', JSON.stringify(body));
      if (v.kind === 'retry') assert.match(v.reason, why);
    }
  });
  it('ids are deterministic per registry and row; stream names are validated', () => {
    assert.equal(documentId('reg', 5), documentId('reg', 5));
    assert.notEqual(documentId('reg', 5), documentId('reg2', 5));
    assert.equal(dataStreamName('default'), 'logs-oversight.beacon-default');
    assert.throws(() => dataStreamName('prod-eu'), /no '-'/);
  });
});

describe('Azure classifications', () => {
  it('Data Collector API: data-format 400 isolates records, other 400s stop, 403 stops, 503 retries', () => {
    assert.equal(classifySentinelResponse(res(400, { Error: 'InvalidDataFormat' })).kind, 'rejected');
    assert.equal(classifySentinelResponse(res(400, { Error: 'InvalidLogType' })).kind, 'stop');
    assert.equal(classifySentinelResponse(res(403, { Error: 'InvalidAuthorization' })).kind, 'stop');
    assert.equal(classifySentinelResponse(res(503)).kind, 'retry');
  });
  it('Logs Ingestion API: 204 in, 413 split, 429 waits, 403 stops', () => {
    assert.equal(classifyLogsIngestionResponse(res(204)).kind, 'delivered');
    assert.equal(classifyLogsIngestionResponse(res(413)).kind, 'too-large');
    assert.deepEqual(classifyLogsIngestionResponse(res(429, '', { 'retry-after': '3' })), { kind: 'retry', reason: 'Logs Ingestion API answered HTTP 429', retryAfterMs: 3000 });
    assert.equal(classifyLogsIngestionResponse(res(403)).kind, 'stop');
  });
});

describe('transport detection from the URL', () => {
  const table: [string, string][] = [
    ['https://splunk.example:8088/services/collector/event', 'splunk-hec'],
    ['https://splunk.example:8088/services/collector', 'splunk-hec'],
    ['https://es.example:9200/_bulk', 'elasticsearch'],
    ['https://es.example:9200/logs-x/_bulk', 'elasticsearch'],
    ['https://0a1b2c3d-1111-2222-3333-444455556666.ods.opinsights.azure.com/api/logs?api-version=2016-04-01', 'sentinel-dca'],
    ['https://my-dce.eastus-1.ingest.monitor.azure.com/dataCollectionRules/dcr-00a/streams/Custom-Oversight_CL?api-version=2023-01-01', 'azure-logs-ingestion'],
    ['https://collector.example/endpoint', 'http'],
  ];
  for (const [url, want] of table) it(`${want}: ${url}`, () => assert.equal(detectTransport(url), want));
});

describe('retry timing', () => {
  it('Retry-After as seconds or an HTTP date', () => {
    assert.equal(parseRetryAfter('120'), 120_000);
    const now = Date.parse('Mon, 04 Apr 2016 08:00:00 GMT');
    assert.equal(parseRetryAfter('Mon, 04 Apr 2016 08:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter('Monday, 04-Apr-16 08:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Mon Apr  4 08:00:30 2016', now), 30_000);
    // "Now", said any way, is 0; what is not a Retry-After at all is ignored (JavaScript would read -5 as 2001).
    assert.equal(parseRetryAfter('0'), 0);
    assert.equal(parseRetryAfter('Mon, 04 Apr 2016 07:59:00 GMT', now), 0);
    assert.equal(parseRetryAfter('-5'), undefined);
    assert.equal(parseRetryAfter('1e3'), undefined);
  });
  it('a Retry-After lengthens the backoff and never shortens it', async (t) => {
    t.mock.method(Math, 'random', () => 0.999);
    const budget = new RetryBudget({ initialDelayMs: 500, maxDelayMs: 30_000, maxDurationMs: 600_000 }, 'test');
    const stopped = AbortSignal.abort();
    const delays: number[] = [];
    for (const retryAfterMs of [0, 0, 0, 0, 5_000, 1_000]) {
      await assert.rejects(budget.wait('busy', retryAfterMs, (ms) => delays.push(ms), stopped), Stopped);
    }
    assert.deepEqual(delays, [499, 999, 1998, 3996, 7992, 15984]);
    const next: number[] = [];
    t.mock.method(Math, 'random', () => 0);
    await assert.rejects(budget.wait('busy', 5_000, (ms) => next.push(ms), stopped), Stopped);
    assert.deepEqual(next, [5_000]);
  });
  it('full jitter stays under an exponential ceiling capped at the maximum', () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const ceiling = Math.min(RETRY_DEFAULTS.maxDelayMs, RETRY_DEFAULTS.initialDelayMs * 2 ** attempt);
      assert.equal(backoffDelay(attempt, RETRY_DEFAULTS, () => 0.999999), Math.floor(0.999999 * ceiling));
      assert.equal(backoffDelay(attempt, RETRY_DEFAULTS, () => 0), 0);
    }
  });
});

describe('batching and framing', () => {
  const entry = (enc: typeof jsonLinesEncoder, i: number, record = `{"n":${i}}`) =>
    makeEntry(enc, { rowid: i, event_id: String(i), registry_id: 'r', record });
  it('a batch closes at the event limit or before the byte limit would break', () => {
    const b = new Batcher({ maxEvents: 3, maxBytes: 1000 }, 0);
    for (let i = 0; i < 3; i++) b.add(entry(jsonLinesEncoder, i));
    assert.equal(b.full, true);
    const bb = new Batcher({ maxEvents: 100, maxBytes: 15 }, 2);
    bb.add(entry(jsonArrayEncoder, 1));
    assert.equal(bb.wouldOverflow(entry(jsonArrayEncoder, 2)), true);
  });
  it('each encoder frames as its SIEM expects', () => {
    const es = [entry(jsonLinesEncoder, 1), entry(jsonLinesEncoder, 2)];
    assert.equal(encode(jsonLinesEncoder, es).toString(), '{"n":1}\n{"n":2}\n');
    const arr = [entry(jsonArrayEncoder, 1), entry(jsonArrayEncoder, 2, '{"s":"é"}')];
    assert.equal(encode(jsonArrayEncoder, arr).toString(), '[{"n":1},{"s":"é"}]');
    assert.equal(encode(jsonArrayEncoder, arr.slice(1)).toString(), '[{"s":"é"}]');
    assert.equal(encode(jsonArrayEncoder, []).toString(), '[]');
    assert.equal(encode(hecEncoder, es).toString(), '{"n":1}{"n":2}');
    const bulk = bulkEncoder((e) => `{"create":{"_id":"${e.rowid}"}}`);
    const be = [entry(bulk, 1), entry(bulk, 2)];
    assert.equal(encode(bulk, be).toString(), '{"create":{"_id":"1"}}\n{"n":1}\n{"create":{"_id":"2"}}\n{"n":2}\n');
    assert.equal(be[0]!.bytes, Buffer.byteLength('{"create":{"_id":"1"}}\n{"n":1}\n'));
  });

  // Lines as formatting threads hand them over: JSON lines in one buffer, taken as spans of it.
  const chunk = (...records: string[]) => Buffer.from(records.map((r) => r + '\n').join(''));
  const spans = (enc: Encoder, buf: Buffer, first: number): Entry[] => {
    const out: Entry[] = [];
    for (let start = 0, i = first; start < buf.length; i++) {
      const end = buf.indexOf(0x0a, start);
      out.push(makeSpanEntry(enc, i, String(i), 'r', buf, start, end));
      start = end + 1;
    }
    return out;
  };
  const bulk = bulkEncoder((e) => `{"create":{"_id":"${e.rowid}"}}`);
  // Frames short and long, ASCII and not: the body writer copies short ASCII ones itself.
  const wide = bulkEncoder((e) => `{"create":{"_index":"données-€","_id":"${e.rowid}"}}`);
  const short = bulkEncoder((e) => `é${e.rowid}`);

  for (const enc of [jsonLinesEncoder, jsonArrayEncoder, hecEncoder, bulk, wide, short, octetCountingEncoder, lfEncoder]) {
    it(`${enc.name}${enc === wide ? ' (wide frames)' : enc === short ? ' (short frames)' : ''}: a body written as records join the batch is what encode makes of them`, () => {
      const lines = chunk('{"n":3}', '{"s":"é€"}', '{"n":5}');
      const es = [
        entry(enc, 1), makeEntry(enc, { rowid: 2, event_id: '2', registry_id: 'r', record: Buffer.from('{"b":2}') }), ...spans(enc, lines, 3),
        makeTextEntry(enc, { rowid: 6, event_id: 'six', registry_id: 'r', record: '{"t":"é€"}' }),
        // Large text is counted before it is written, small text as it is written: the same bytes either way.
        makeTextEntry(enc, { rowid: 7, event_id: '7', registry_id: 'r', record: `{"t":"${'é'.repeat(70_000)}"}` }),
        makeTextEntry(enc, { rowid: 8, event_id: '8', registry_id: 'r', record: '{"t":"x"}' }),
      ];
      const want = encode(enc, es.map((e) => makeEntry(enc, { rowid: e.rowid, event_id: e.event_id, registry_id: e.registry_id, record: e.record.toString() })));
      // A limit far below the batch: the body grows as records join, and stays the same bytes.
      const w = new BodyWriter(enc, 8);
      for (const e of es) w.add(e);
      assert.equal(w.take(es).toString(), want.toString());
      assert.deepEqual(es.map((e) => e.bytes), [...es].map((e) => makeEntry(enc, { ...e, record: e.record.toString() }).bytes));
      assert.equal(w.take([]).toString(), encode(enc, []).toString());
    });
  }

  it('records taken from a formatting buffer stay whole once that buffer is filled again', () => {
    const w = new BodyWriter(hecEncoder, 1_000_000);
    const pad = 'p'.repeat(90);
    const big = spans(hecEncoder, chunk(...Array.from({ length: 2000 }, (_, i) => `{"n":${i},"p":"${pad}"}`)), 0);
    for (const e of big) w.add(e);
    const bigBody = w.take(big);
    // Then a timed flush of two records, in the larger buffer kept from before.
    const lines = chunk('{"a":1}', '{"a":2}');
    const small = spans(hecEncoder, lines, 2000);
    for (const e of small) w.add(e);
    const smallBody = w.take(small);
    lines.fill('x');
    const next = spans(hecEncoder, chunk('{"z":0}'.repeat(3000)), 2002);
    for (const e of next) w.add(e);
    w.take(next);
    assert.equal(smallBody.toString(), '{"a":1}{"a":2}');
    assert.deepEqual(small.map((e) => e.record.toString()), ['{"a":1}', '{"a":2}']);
    assert.equal(big[1999]!.record.toString(), `{"n":1999,"p":"${pad}"}`);
    assert.equal(bigBody.subarray(0, 8).toString(), '{"n":0,"');
  });

  it('records that join as text are let go once copied, and stay whole once the body buffer is filled again', () => {
    const w = new BodyWriter(hecEncoder, 1_000_000);
    const text = (rowid: number, record: string): ReturnType<typeof makeTextEntry> =>
      makeTextEntry(hecEncoder, { rowid, event_id: `id-${rowid}`, registry_id: 'r', record });
    const pad = 'p'.repeat(90);
    const big = Array.from({ length: 2000 }, (_, i) => text(i, `{"n":${i},"p":"${pad}"}`));
    for (const e of big) w.add(e);
    w.take(big);
    // Then a timed flush of two records, in the larger buffer kept from before, which the next batch fills again.
    const small = [text(2000, '{"a":"é"}'), text(2001, '{"a":2}')];
    for (const e of small) w.add(e);
    const smallBody = w.take(small);
    const next = Array.from({ length: 3000 }, (_, i) => text(2002 + i, '{"z":0}'));
    for (const e of next) w.add(e);
    w.take(next);
    assert.equal(smallBody.toString(), '{"a":"é"}{"a":2}');
    assert.deepEqual(small.map((e) => [e.event_id, e.record.toString(), e.text]), [['id-2000', '{"a":"é"}', null], ['id-2001', '{"a":2}', null]]);
    assert.equal(big[1999]!.record.toString(), `{"n":1999,"p":"${pad}"}`);
  });
});
