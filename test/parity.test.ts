/**
 * Field-for-field parity with the reference exporter: the CLI's output for a registry full of edge cases equals
 * the reference's own output once both are parsed, and each mapping rule has its own case below.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fromRegistryRow, type OversightEvent } from '../src/registry/event.js';
import { toEcs, toSentinel, toSplunkHec, formatEvent } from '../src/records/formats/index.js';
import { FIXTURES, jsonLines, runCli, trickyRegistry } from './helpers.js';

describe('parity with the reference exporter on a registry of edge cases', () => {
  const db = trickyRegistry();
  const cases: [string, string[]][] = [
    ['splunk', ['--format', 'splunk']],
    ['ecs', ['--format', 'ecs']],
    ['sentinel', ['--format', 'sentinel']],
    ['splunk-options', ['--format', 'splunk', '--splunk-index', 'main', '--splunk-host', 'h1', '--splunk-source', '', '--splunk-sourcetype', 'st']],
  ];
  for (const [name, flags] of cases) {
    it(`${name}: every line equals the reference's once parsed`, async () => {
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg-1', ...flags]);
      assert.equal(r.code, 0, r.stderr);
      const ours = jsonLines(r.stdout);
      const reference = jsonLines(fs.readFileSync(path.join(FIXTURES, `tricky.${name}.jsonl`), 'utf8'));
      assert.equal(ours.length, reference.length);
      ours.forEach((line, i) => assert.deepStrictEqual(line, reference[i], `line ${i + 1}`));
      assert.match(r.stderr, new RegExp(`^exported ${reference.length} event\\(s\\) as ${flags[1]}$`, 'm'));
    });
  }
});

const REG = 'reg-1';
const base = {
  id: 7, kind: 'dns', timestamp: 1763856000, token_id: 'tok', file_id: 'f-1', recipient_id: 'alice@example.com',
  issuer_id: 'legal@example.com', source_ip: '198.51.100.7', user_agent: 'UA/1.0', qualified_timestamp: '2025-11-23T00:00:00Z',
  tlog_index: 5, extra: '{}',
};
const evt = (over: Record<string, unknown>): OversightEvent => fromRegistryRow({ ...base, ...over }, { registryId: REG });
type Obj = Record<string, any>;

/** One case per rule the reference applies; `check` receives the Splunk, ECS and Sentinel records. */
const RULES: { rule: string; row: Record<string, unknown>; check: (s: Obj, e: Obj, m: Obj) => void }[] = [
  {
    rule: 'NULL and empty-string values are left out, in every format',
    row: { file_id: null, recipient_id: '', issuer_id: null },
    check: (s, e, m) => {
      for (const k of ['file_id', 'recipient_id', 'issuer_id']) assert.ok(!(k in s.event), k);
      assert.deepEqual(s.fields, { beacon_kind: 'dns' });
      assert.ok(!('oversight_file_id' in e.labels) && !('file_id' in e.oversight));
      assert.ok(!('FileId' in m) && !('RecipientId' in m) && !('IssuerId' in m));
    },
  },
  {
    rule: 'Splunk fields carry file, recipient, issuer and beacon kind only',
    row: {},
    check: (s) => assert.deepEqual(s.fields, { file_id: 'f-1', recipient_id: 'alice@example.com', issuer_id: 'legal@example.com', beacon_kind: 'dns' }),
  },
  {
    rule: 'Splunk envelope: time as float seconds, default source and sourcetype, no index unless set',
    row: {},
    check: (s) => {
      assert.deepEqual(Object.keys(s), ['time', 'host', 'source', 'sourcetype', 'event', 'fields']);
      assert.equal(s.time, 1763856000);
      assert.equal(s.source, 'oversight:registry');
      assert.equal(s.sourcetype, 'oversight:beacon');
    },
  },
  {
    rule: 'the registry id is the Splunk host by default',
    row: {},
    check: (s) => assert.equal(s.host, REG),
  },
  {
    rule: 'ExtraJson is compact JSON text of extra',
    row: { extra: '{"qtype": "A", "qname": "x.example"}' },
    check: (s, e, m) => {
      assert.equal(m.ExtraJson, '{"qtype":"A","qname":"x.example"}');
      assert.deepEqual(s.event.extra, { qtype: 'A', qname: 'x.example' });
      assert.deepEqual(e.oversight.extra, { qtype: 'A', qname: 'x.example' });
    },
  },
  {
    rule: 'ExtraJson keeps Python spelling: key order, 1.0, 1e-05, ASCII escapes, every digit',
    row: { extra: '{"b": 1.0, "10": 1e-5, "c": "Zürich", "n": 123456789012345678901234567890}' },
    check: (_s, _e, m) => assert.equal(m.ExtraJson, '{"b":1.0,"10":1e-05,"c":"Z\\u00fcrich","n":123456789012345678901234567890}'),
  },
  {
    rule: 'extra that is not JSON is wrapped as {"raw": text}',
    row: { extra: 'qname=x.example' },
    check: (s, e, m) => {
      assert.deepEqual(s.event.extra, { raw: 'qname=x.example' });
      assert.deepEqual(e.oversight.extra, { raw: 'qname=x.example' });
      assert.equal(m.ExtraJson, '{"raw":"qname=x.example"}');
    },
  },
  {
    rule: 'extra that is JSON but not an object is wrapped as {"raw": value}',
    row: { extra: '[1, "a"]' },
    check: (s, _e, m) => {
      assert.deepEqual(s.event.extra, { raw: [1, 'a'] });
      assert.equal(m.ExtraJson, '{"raw":[1,"a"]}');
    },
  },
  {
    rule: 'extra "null" is kept as {"raw": null}',
    row: { extra: 'null' },
    check: (s) => assert.deepEqual(s.event.extra, { raw: null }),
  },
  {
    rule: 'empty extra ({}, "", NULL) is left out',
    row: { extra: null },
    check: (s, e, m) => {
      assert.ok(!('extra' in s.event) && !('extra' in e.oversight) && !('ExtraJson' in m));
      assert.ok(!('extra' in toSplunkHec(evt({ extra: '{}' })).event));
      assert.ok(!('extra' in toSplunkHec(evt({ extra: '' })).event));
    },
  },
  {
    rule: 'an empty user agent counts as absent',
    row: { user_agent: '' },
    check: (s, e, m) => {
      assert.ok(!('user_agent' in s.event) && !('user_agent' in e) && !('UserAgent' in m));
    },
  },
  {
    rule: 'tlog_index 0 is kept',
    row: { tlog_index: 0 },
    check: (s, e, m) => {
      assert.equal(s.event.tlog_index, 0);
      assert.equal(e.oversight.tlog_index, 0);
      assert.equal(m.TlogIndex, 0);
    },
  },
  {
    rule: 'a zero or NULL timestamp gives an empty occurred_at, which is then left out',
    row: { timestamp: null },
    check: (s, e, m) => {
      assert.equal(s.time, 0);
      assert.ok(!('occurred_at' in s.event));
      assert.ok(!('@timestamp' in e));
      assert.ok(!('TimeGenerated' in m));
    },
  },
  {
    rule: 'occurred_at is RFC 3339 UTC to the second; a REAL timestamp is truncated',
    row: { timestamp: 1700000000.9 },
    check: (s, e, m) => {
      assert.equal(s.event.occurred_at, '2023-11-14T22:13:20Z');
      assert.equal(e['@timestamp'], '2023-11-14T22:13:20Z');
      assert.equal(m.TimeGenerated, '2023-11-14T22:13:20Z');
    },
  },
  {
    rule: 'the four kinds map to their actions',
    row: { kind: 'http_img' },
    check: (s, e, m) => {
      assert.equal(s.event.action, 'beacon-http-pixel');
      assert.equal(e.event.action, 'beacon-http-pixel');
      assert.equal(m.Action, 'beacon-http-pixel');
      assert.equal(toEcs(evt({ kind: 'dns' })).event.action, 'beacon-dns-callback');
      assert.equal(toEcs(evt({ kind: 'ocsp' })).event.action, 'beacon-ocsp-callback');
      assert.equal(toEcs(evt({ kind: 'license' })).event.action, 'beacon-license-check');
    },
  },
  {
    rule: 'an unknown kind gives action beacon-<kind>, even one named like a JS property',
    row: { kind: 'constructor' },
    check: (s, e, m) => {
      assert.equal(s.event.action, 'beacon-constructor');
      assert.equal(e.event.action, 'beacon-constructor');
      assert.equal(m.Action, 'beacon-constructor');
    },
  },
  {
    rule: 'a missing kind gives action "beacon-" and no kind fields',
    row: { kind: null },
    check: (s, e, m) => {
      assert.equal(s.event.action, 'beacon-');
      assert.ok(!('kind' in s.event) && !('beacon_kind' in s.fields));
      assert.deepEqual(Object.keys(e.labels).includes('oversight_beacon_kind'), false);
      assert.ok(!('BeaconKind' in m));
    },
  },
  {
    rule: 'ECS: fixed event block, ECS 8.11.0 and schema oversight-siem-1',
    row: {},
    check: (_s, e) => {
      assert.deepEqual(e.ecs, { version: '8.11.0' });
      assert.deepEqual(e.event, {
        kind: 'event', category: ['network'], type: ['access', 'info'], dataset: 'oversight.beacon', module: 'oversight',
        provider: 'oversight-registry', action: 'beacon-dns-callback', id: '7', outcome: 'success',
      });
      assert.equal(e.oversight.schema, 'oversight-siem-1');
    },
  },
  {
    rule: 'ECS: source and user_agent are left out when empty, labels stay even when empty',
    row: { source_ip: null, user_agent: null, token_id: null, file_id: null, recipient_id: null, issuer_id: null, kind: '' },
    check: (_s, e) => {
      assert.ok(!('source' in e) && !('user_agent' in e));
      assert.deepEqual(e.labels, {});
    },
  },
  {
    rule: 'IPv6 source addresses pass through unchanged',
    row: { source_ip: '2001:db8::8a2e:370:7334' },
    check: (s, e, m) => {
      assert.equal(s.event.source_ip, '2001:db8::8a2e:370:7334');
      assert.deepEqual(e.source, { ip: '2001:db8::8a2e:370:7334' });
      assert.equal(m.SourceIp, '2001:db8::8a2e:370:7334');
    },
  },
  {
    rule: 'values stored with another SQLite type keep that type',
    row: { recipient_id: 42, tlog_index: '17' },
    check: (s, _e, m) => {
      assert.equal(s.event.recipient_id, 42);
      assert.equal(s.fields.recipient_id, 42);
      assert.equal(m.TlogIndex, '17');
    },
  },
  {
    rule: 'event ids are the row id as text',
    row: { id: 123 },
    check: (s, e, m) => {
      assert.equal(s.event.event_id, '123');
      assert.equal(e.event.id, '123');
      assert.equal(m.EventId, '123');
    },
  },
  {
    rule: 'Sentinel rows are flat with the reference column names in order',
    row: {},
    check: (_s, _e, m) => assert.deepEqual(Object.keys(m), [
      'TimeGenerated', 'Schema', 'RegistryId', 'EventId', 'BeaconKind', 'Action', 'TokenId', 'FileId', 'RecipientId',
      'IssuerId', 'SourceIp', 'UserAgent', 'QualifiedTimestamp', 'TlogIndex',
    ]),
  },
  {
    rule: 'control characters and quotes in the user agent survive as JSON escapes',
    row: { user_agent: 'a\t\u0001"\\\u007f😀' },
    check: (s, e, m) => {
      assert.equal(s.event.user_agent, 'a\t\u0001"\\\u007f😀');
      assert.equal(e.user_agent.original, 'a\t\u0001"\\\u007f😀');
      assert.equal(m.UserAgent, 'a\t\u0001"\\\u007f😀');
    },
  },
];

describe('each mapping rule of the reference', () => {
  for (const { rule, row, check } of RULES) {
    it(rule, () => {
      const e = evt(row);
      check(toSplunkHec(e), toEcs(e), toSentinel(e));
    });
  }

  it('Splunk options: index, host, source and sourcetype', () => {
    const s = formatEvent(evt({}), 'splunk', { index: 'oversight', host: 'reg-host', source: 'src', sourcetype: 'st' });
    assert.equal(s['index'], 'oversight');
    assert.equal(s['host'], 'reg-host');
    assert.equal(s['source'], 'src');
    assert.equal(s['sourcetype'], 'st');
  });

  it('an unknown format names the choices', () => {
    assert.throws(() => formatEvent(evt({}), 'xml'), /unknown SIEM format 'xml' \(choices: cef, ecs, leef, ocsf, sentinel, splunk\)/);
  });
});

describe('where the reference writes something that is not JSON, or aborts', () => {
  it('NaN and Infinity in extra: ExtraJson keeps the Python text, nested extra gets null', () => {
    const e = evt({ extra: '{"a": NaN, "b": [Infinity, -Infinity], "c": 1e999}' });
    assert.equal(toSentinel(e)['ExtraJson'], '{"a":NaN,"b":[Infinity,-Infinity],"c":Infinity}');
    assert.deepEqual((toSplunkHec(e)['event'] as Obj)['extra'], { a: null, b: [null, null], c: null });
    assert.deepEqual((toEcs(e)['oversight'] as Obj)['extra'], { a: null, b: [null, null], c: null });
  });

  it('a timestamp past year 9999 keeps the event with an empty occurred_at', () => {
    const e = evt({ timestamp: 253402300800 });
    assert.equal(e.occurred_at, '');
    assert.equal(toSplunkHec(e)['time'], 253402300800);
  });

  it('a timestamp Python cannot read as an int counts as 0', () => {
    assert.equal(evt({ timestamp: 'yesterday' }).occurred_unix, 0);
    assert.equal(evt({ timestamp: ' 1_700_000_000 ' }).occurred_unix, 1700000000);
  });

  it('a table without an id column gives empty event ids, as d.get("id", "") does', () => {
    const { id: _id, ...row } = base;
    assert.equal(fromRegistryRow(row, { registryId: REG }).event_id, '');
  });
});
