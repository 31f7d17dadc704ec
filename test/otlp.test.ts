/**
 * OTLP/HTTP logs end to end: the CLI against a fake receiver that decodes every request with the OpenTelemetry
 * project's code generated from the official opentelemetry-proto definitions, never with ours.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { hostileRegistry, registryRows } from './formats-support.js';
import { OtlpPeer, type OtlpPeerOptions, type OtlpRecord } from './peers/otlp.js';
import { demoRegistry, FIXTURES, jsonLines, outcome, registryIds, ROOT, runCli, tempDir, trickyRegistry, withPeer } from './helpers.js';

type Json = Record<string, unknown>;

const otlp = (options: OtlpPeerOptions, fn: (peer: OtlpPeer) => Promise<void>): Promise<void> => withPeer(new OtlpPeer(options).start(), fn);
const exportTo = (db: string, output: string, ...more: string[]): string[] =>
  ['siem', 'export', '--db', db, '--registry-id', 'reg-1', '--output', output, '--retry-max-duration', '20s', ...more];
const otlpUrl = (peer: OtlpPeer, p = ''): string => peer.url.replace(/^http/, 'otlp+http') + p;
const ids = (records: OtlpRecord[]): string[] => records.map((r) => String(r.attrs['oversight.event.id']));

/** The reference exporter's ECS documents for the tricky registry: what every event holds, field by field. */
const REFERENCE = jsonLines(fs.readFileSync(path.join(FIXTURES, 'tricky.ecs.jsonl'), 'utf8'));

/** A registry value as the reference wrote it (string or number) against our attribute (text, or intValue text). */
function sameValue(attr: unknown, ref: unknown, what: string): void {
  if (ref === undefined || ref === null) return assert.equal(attr, undefined, `${what}: absent in the reference, present here`);
  assert.equal(typeof attr, 'string', `${what}: ${JSON.stringify(attr)}`);
  if (typeof ref === 'number') assert.equal(Number(attr), ref, what);
  else assert.equal(attr, ref, what);
}

/** `extra` is Python's JSON text here; the reference nests it, with NaN and Infinity as null. */
function sameExtra(attr: unknown, ref: unknown, what: string): void {
  if (ref === undefined) return assert.equal(attr, undefined, what);
  const text = String(attr).replace(/-?\bInfinity\b|\bNaN\b/g, 'null');
  assert.deepEqual(JSON.parse(text), ref, what);
}

/** Every field of every event, read back by the independent decoder, against the reference documents. */
function assertCarriesEveryField(records: OtlpRecord[]): void {
  assert.equal(records.length, REFERENCE.length);
  records.forEach((r, i) => {
    const ref = REFERENCE[i]!;
    const o = ref['oversight'] as Json;
    const ev = ref['event'] as Json;
    const what = `event #${i + 1}`;
    assert.deepEqual(r.resource, { 'service.name': 'oversight-registry', 'service.instance.id': 'reg-1', 'oversight.registry.id': 'reg-1' });
    assert.equal(r.scope['name'], 'oversight-siem');
    const kind = o['beacon_kind'] as string | undefined;
    assert.equal(r.record['eventName'], kind === undefined ? 'oversight.beacon' : `oversight.beacon.${kind}`, what);
    assert.equal(r.attrs['event.name'], r.record['eventName'], what);
    assert.equal(r.attrs['oversight.beacon.kind'], kind, what);
    assert.equal(r.attrs['oversight.event.id'], ev['id'], what);
    sameValue(r.attrs['client.address'], (ref['source'] as Json | undefined)?.['ip'], `${what} client.address`);
    sameValue(r.attrs['user_agent.original'], (ref['user_agent'] as Json | undefined)?.['original'], `${what} user_agent.original`);
    for (const f of ['token_id', 'file_id', 'recipient_id', 'issuer_id', 'qualified_timestamp']) {
      sameValue(r.attrs[`oversight.${f.replace(/_id$/, '.id')}`], o[f], `${what} ${f}`);
    }
    sameValue(r.attrs['oversight.tlog_index'], o['tlog_index'], `${what} tlog_index`);
    sameExtra(r.attrs['oversight.extra'], o['extra'], `${what} extra`);
    // The callback's own time in nanoseconds; where OTLP cannot hold it, the registry's seconds as an attribute.
    // The reference writes years before 1000 unpadded (glibc strftime); Date.parse wants four digits.
    const ts = (ref['@timestamp'] as string | undefined)?.replace(/^(\d{1,3})-/, (_, y: string) => `${y.padStart(4, '0')}-`);
    const nanos = r.record['timeUnixNano'] as string | undefined;
    if (nanos !== undefined) assert.equal(BigInt(nanos), BigInt(Date.parse(ts!)) * 1_000_000n, `${what} time`);
    else if (ts !== undefined) assert.equal(Number(r.attrs['oversight.occurred_unix']) * 1000, Date.parse(ts), `${what} time`);
    assert.match(String(r.record['observedTimeUnixNano']), /^\d{19}$/);
    assert.equal(typeof r.record['severityNumber'], 'number');
    assert.ok(['CRITICAL', 'ERROR', 'WARNING', 'NOTICE'].includes(String(r.record['severityText'])));
  });
}

describe('OTLP/HTTP logs', () => {
  it('sends protobuf, gzip, to /v1/logs by default: every field of every event read back by the official decoder', () =>
    otlp({}, async (peer) => {
      const r = await runCli(exportTo(trickyRegistry(), otlpUrl(peer)));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /exported 34 event\(s\) as cef via otlp/);
      assert.deepEqual(peer.findings, []);
      const q = peer.requests[0]!;
      assert.equal(q.path, '/v1/logs');
      assert.equal(q.headers['content-type'], 'application/x-protobuf');
      assert.equal(q.gzip, true);
      assert.match(String(q.headers['user-agent']), /^oversight-siem\//);
      assertCarriesEveryField(peer.accepted);
      // The body is the chosen format's record: CEF unless --format says otherwise.
      assert.ok(peer.accepted.every((x) => String(x.body).startsWith('CEF:0|Oversight|')));
      const sev = new Map(peer.accepted.map((x) => [x.attrs['oversight.beacon.kind'], x.record['severityNumber']]));
      assert.deepEqual([sev.get('http_img'), sev.get('ocsp'), sev.get('dns')], [20, 17, 13]);
    }));

  it('sends the OTLP JSON mapping with --otlp-encoding json, keeps an explicit path, follows --compress and --format', () =>
    otlp({ path: '/custom/v1/logs' }, async (peer) => {
      const r = await runCli(exportTo(trickyRegistry(), otlpUrl(peer, '/custom/v1/logs'), '--otlp-encoding', 'json', '--compress', 'none', '--format', 'ecs'));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.findings, []);
      const q = peer.requests[0]!;
      assert.equal(q.path, '/custom/v1/logs');
      assert.equal(q.headers['content-type'], 'application/json');
      assert.equal(q.gzip, false);
      assertCarriesEveryField(peer.accepted);
      // With --format ecs each body is the reference's ECS document itself.
      peer.accepted.forEach((x, i) => assert.deepEqual(JSON.parse(String(x.body)), REFERENCE[i]));
    }));

  it('carries hostile values (CR/LF, NUL, C1 controls, a 10 kB user agent) as they are in the registry', () =>
    otlp({}, async (peer) => {
      const db = hostileRegistry();
      const r = await runCli(exportTo(db, otlpUrl(peer), '--format', 'leef'));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.findings, []);
      const rows = registryRows(db);
      assert.equal(peer.accepted.length, rows.length);
      peer.accepted.forEach((x, i) => {
        const row = rows[i]!;
        const text = (v: unknown): unknown => (v === null || v === '' ? undefined : String(v));
        assert.equal(x.attrs['oversight.event.id'], String(row.id));
        assert.equal(x.attrs['client.address'], text(row.source_ip));
        assert.equal(x.attrs['user_agent.original'], text(row.user_agent));
        assert.equal(x.attrs['oversight.token.id'], text(row.token_id));
        assert.equal(x.attrs['oversight.recipient.id'], text(row.recipient_id));
        assert.equal(x.attrs['oversight.beacon.kind'], text(row.kind));
        assert.equal(x.record['timeUnixNano'], `${row.timestamp}000000000`);
        assert.ok(String(x.body).startsWith('LEEF:'));
      });
    }));

  it('is chosen with --transport otlp for any https URL, with the header a SIEM asks for (Elasticsearch: ApiKey)', () => {
    const tls = { key: fs.readFileSync(path.join(FIXTURES, 'tls', 'localhost.key'), 'utf8'), cert: fs.readFileSync(path.join(FIXTURES, 'tls', 'localhost.crt'), 'utf8') };
    return otlp({ path: '/ingest/otlp', tls, auth: { name: 'authorization', value: 'ApiKey c2VjcmV0LWtleQ==' } }, async (peer) => {
      const db = demoRegistry(40);
      const args = exportTo(db, `${peer.url}/ingest/otlp`, '--ca-file', path.join(FIXTURES, 'tls', 'localhost.crt'), '--header', 'Authorization: ApiKey c2VjcmV0LWtleQ==');
      const auto = await runCli([...args, '--format', 'ecs']);
      // Without --transport a URL that does not end in /v1/logs gets the generic POST, which no OTLP receiver reads.
      assert.equal(auto.code, 1, auto.stderr);
      assert.match(auto.stderr, /answered HTTP 400: .*cannot decode ExportLogsServiceRequest/);
      const r = await runCli([...args, '--transport', 'otlp']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /exported 40 event\(s\) as cef via otlp/);
      assert.deepEqual(ids(peer.accepted), registryIds(db));
      assert.deepEqual(peer.findings, []);
    });
  });

  for (const encoding of ['protobuf', 'json']) {
    it(`partial success (${encoding}): that request's records go to the dead letters, the rest is checkpointed, replay sends them again`, () =>
      otlp({}, async (peer) => {
        const db = demoRegistry(30);
        const dir = tempDir();
        const dlq = path.join(dir, 'dead.jsonl');
        const state = path.join(dir, 'state.json');
        // The second request is taken in part: 3 of its 10 records rejected.
        peer.script.push({ partial: { rejected: 0, message: '' } }, { partial: { rejected: 3, message: 'log record timestamp too old' } });
        const args = exportTo(db, otlpUrl(peer), '--otlp-encoding', encoding, '--max-batch-events', '10', '--dead-letter', dlq, '--state', state);
        const r = await runCli(args);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /10 dead-lettered/);
        const dead = jsonLines(fs.readFileSync(dlq, 'utf8'));
        assert.deepEqual(dead.map((d) => d['event_id']), registryIds(db).slice(10, 20));
        for (const d of dead) {
          assert.equal(d['status'], 200);
          assert.match(String(d['error']), /partial success: 3 of 10 record\(s\) rejected: log record timestamp too old \(OTLP does not say which/);
        }
        assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, 30);
        // Checkpointed: a second run sends nothing.
        const before = peer.requests.length;
        const again = await runCli(args);
        assert.equal(again.code, 0, again.stderr);
        assert.equal(peer.requests.length, before);
        // The dead letters are LogRecords: replay sends exactly them, read back by the official decoder.
        const replay = await runCli(['siem', 'replay', '--dead-letter', dlq, '--output', otlpUrl(peer), '--otlp-encoding', encoding]);
        assert.equal(replay.code, 0, replay.stderr);
        assert.deepEqual(ids(peer.requests.at(-1)!.records), registryIds(db).slice(10, 20));
        assert.deepEqual(peer.findings, []);
      }));
  }

  it('retries 429 and 503 after their Retry-After, and 502 and 504; nothing lost or doubled', () =>
    otlp({}, async (peer) => {
      peer.script.push(
        { status: 429, headers: { 'retry-after': '1' } },
        { status: 503, headers: { 'retry-after': '1' } },
        { status: 502 },
        { status: 504 },
      );
      const db = demoRegistry(25);
      const r = await runCli(exportTo(db, otlpUrl(peer)));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /retrying in 1\.0s: 127\.0\.0\.1:\d+ answered HTTP 429: scripted 429/);
      assert.match(r.stderr, /retrying in 1\.0s: 127\.0\.0\.1:\d+ answered HTTP 503/);
      assert.match(r.stderr, /answered HTTP 502/);
      assert.match(r.stderr, /answered HTTP 504/);
      assert.match(r.stderr, /4 retried request\(s\)/);
      assert.deepEqual(ids(peer.accepted), registryIds(db));
    }));

  it('stops on refused credentials: exit 1, nothing checkpointed, the key never printed', () =>
    otlp({ auth: { name: 'authorization', value: 'ApiKey right-key-0001' } }, async (peer) => {
      const db = demoRegistry(10);
      const state = path.join(tempDir(), 'state.json');
      const r = await runCli(exportTo(db, otlpUrl(peer), '--header', 'Authorization: ApiKey wrong-key-0002', '--state', state));
      assert.equal(r.code, 1);
      assert.deepEqual(outcome(r.stderr), [
        `oversight: ${peer.url.slice(7)} answered HTTP 401: missing or wrong credentials (check the credentials in --header or --header-file)`,
      ]);
      assert.ok(!r.stderr.includes('wrong-key-0002'));
      assert.equal(peer.hits, 1, 'not retried');
      assert.ok(!fs.existsSync(state) || JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid === 0);
    }));

  it('refuses a Content-Type from --header-file (exit 2, nothing sent): the body\'s type follows --otlp-encoding', () =>
    otlp({}, async (peer) => {
      const db = demoRegistry(5);
      const dir = tempDir();
      const state = path.join(dir, 'state.json');
      for (const line of ['content-type: application/json', 'Content-Type: application/x-protobuf']) {
        const file = path.join(dir, 'otlp.headers');
        fs.writeFileSync(file, `Authorization: Bearer t0ken-0001\n${line}\n`, { mode: 0o600 });
        const r = await runCli(exportTo(db, otlpUrl(peer), '--header-file', file, '--state', state, '--dead-letter', path.join(dir, 'dl.jsonl')));
        assert.equal(r.code, 2, r.stderr);
        assert.deepEqual(outcome(r.stderr), ['oversight: otlp sets Content-Type itself: remove the Content-Type header from --header or --header-file']);
      }
      assert.equal(peer.hits, 0);
      assert.ok(!fs.existsSync(path.join(dir, 'dl.jsonl')));
    }));

  it('keeps a receiver\'s words from forging lines of our log', () =>
    otlp({}, async (peer) => {
      peer.script.push({ status: 401, status_message: 'denied\n\u001b[2Koversight: exported 999 event(s)' });
      const r = await runCli(exportTo(demoRegistry(1), otlpUrl(peer)));
      assert.equal(r.code, 1);
      assert.ok(!r.stderr.includes('\u001b'));
      assert.ok(!/\noversight: exported/.test(r.stderr), r.stderr);
      assert.match(r.stderr, /answered HTTP 401: denied \[2Koversight: exported 999 event\(s\) \(check the credentials/);
    }));

  it('dead-letters the record a receiver refuses with 400, and delivers the others once', () =>
    otlp({ refuse: (x) => x.attrs['oversight.event.id'] === '7' }, async (peer) => {
      const db = demoRegistry(20);
      const dlq = path.join(tempDir(), 'dead.jsonl');
      const r = await runCli(exportTo(db, otlpUrl(peer), '--dead-letter', dlq));
      assert.equal(r.code, 0, r.stderr);
      const dead = jsonLines(fs.readFileSync(dlq, 'utf8'));
      assert.deepEqual(dead.map((d) => d['event_id']), ['7']);
      assert.equal(dead[0]!['status'], 400);
      assert.match(String(dead[0]!['error']), /answered HTTP 400: log record refused: invalid data/);
      assert.deepEqual(ids(peer.accepted).sort(), registryIds(db).filter((i) => i !== '7').sort());
      assert.equal(new Set(ids(peer.accepted)).size, 19);
    }));

  it('splits a batch the receiver finds too large (413) until it fits, each event delivered once', () =>
    otlp({ maxBodyBytes: 12_000 }, async (peer) => {
      const db = demoRegistry(60);
      const r = await runCli(exportTo(db, otlpUrl(peer), '--format', 'ecs'));
      assert.equal(r.code, 0, r.stderr);
      assert.ok(peer.hits > 2, 'some requests were refused as too large');
      assert.deepEqual(ids(peer.accepted), registryIds(db));
      assert.deepEqual(peer.findings, []);
    }));

  it('does not count a 2xx that is not an ExportLogsServiceResponse, nor a 500, as delivered', () =>
    otlp({}, async (peer) => {
      const db = demoRegistry(5);
      const state = path.join(tempDir(), 'state.json');
      peer.script.push({ status: 200, body: '<html>Welcome</html>', headers: { 'content-type': 'text/html' } });
      const html = await runCli(exportTo(db, otlpUrl(peer), '--state', state));
      assert.equal(html.code, 1);
      assert.match(html.stderr, /answered HTTP 200 without an OTLP ExportLogsServiceResponse \(the body is text\/html\).*check that --output is the OTLP\/HTTP logs endpoint/);
      // OTLP recommends that clients read at most 4 MiB of an answer.
      peer.script.push({ status: 200, body: Buffer.alloc(4 * 1024 * 1024 + 1, 0x41), headers: { 'content-type': 'application/x-protobuf' } });
      const huge = await runCli(exportTo(db, otlpUrl(peer), '--state', state));
      assert.equal(huge.code, 1);
      assert.match(huge.stderr, /without an OTLP ExportLogsServiceResponse \(the body is larger than 4194304 bytes\)/);
      peer.script.push({ status: 500 });
      const failed = await runCli(exportTo(db, otlpUrl(peer), '--state', state));
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /answered HTTP 500: scripted 500 \(not retried/);
      assert.equal(peer.requests.length, 3, 'a 500 is not retried');
      assert.ok(!fs.existsSync(state) || JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid === 0);
    }));

  it('picks OTLP from otlp+http(s):// and from URLs ending in /v1/logs, and appends /v1/logs only where there is no path', async () => {
    const t = (await import(path.join(ROOT, 'dist', 'transports', 'index.js'))) as typeof import('../src/transports/index.js');
    const o = (await import(path.join(ROOT, 'dist', 'transports', 'http', 'otlp.js'))) as typeof import('../src/transports/http/otlp.js');
    assert.equal(t.resolveTransport('otlp+http://collector:4318', 'auto'), 'otlp');
    assert.equal(t.resolveTransport('otlp+https://collector', 'auto'), 'otlp');
    assert.equal(t.resolveTransport('https://es.example:9200/_otlp/v1/logs', 'auto'), 'otlp');
    assert.equal(t.resolveTransport('https://loki.example/otlp/v1/logs', 'auto'), 'otlp');
    assert.equal(t.resolveTransport('https://collector.example/ingest', 'auto'), 'http');
    assert.equal(t.resolveTransport('https://collector.example/ingest', 'otlp'), 'otlp');
    assert.throws(() => t.resolveTransport('otlp+http://collector:4318', 'http'), /--transport http needs an http\(s\):\/\/ URL/);
    assert.equal(o.otlpEndpoint('otlp+http://collector:4318'), 'http://collector:4318/v1/logs');
    assert.equal(o.otlpEndpoint('otlp+https://collector:4318/'), 'https://collector:4318/v1/logs');
    assert.equal(o.otlpEndpoint('otlp+https://es.example/_otlp/v1/logs'), 'https://es.example/_otlp/v1/logs');
    assert.equal(o.otlpEndpoint('https://loki.example/otlp/v1/logs'), 'https://loki.example/otlp/v1/logs');
    const bad = await runCli(exportTo(demoRegistry(1), 'otlp+http://127.0.0.1:9', '--otlp-encoding', 'xml'));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--otlp-encoding/);
  });

  it('has a decoder that notices what the official schema does not know (so the checks above can fail)', () =>
    otlp({}, async (peer) => {
      const post = (body: Buffer | string, type: string, gzip = false): Promise<Response> =>
        fetch(`${peer.url}/v1/logs`, {
          method: 'POST',
          headers: { 'content-type': type, ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
          body: gzip ? gzipSync(body) : body,
        });
      const record = (extra: Json): string => JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityNumber: 9, ...extra }] }] }] });
      await post(record({ time_unix_nano: '1' }), 'application/json');
      await post(record({ timeUnixNano: 1 }), 'application/json');
      await post(record({ severityText: 'x', severityNumber: 'SEVERITY_NUMBER_INFO' }), 'application/json');
      // Field 15 of LogRecord does not exist: varint 1 under tag (15 << 3) in an otherwise valid request.
      const unknown = Buffer.from([0x0a, 0x06, 0x12, 0x04, 0x12, 0x02, 0x78, 0x01]);
      await post(unknown, 'application/x-protobuf', true);
      assert.equal(peer.requests.length, 4);
      for (const q of peer.requests) assert.equal(q.findings.length, 1, JSON.stringify(q.findings));
      assert.equal((await post('x', 'text/plain')).status, 415);
      assert.equal((await post(Buffer.from([0x1f, 0x8b, 0, 0]), 'application/x-protobuf')).status, 400);
    }));
});
