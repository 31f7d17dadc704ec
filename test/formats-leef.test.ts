/**
 * LEEF 2.0 records read back by a splitter written from IBM's description (nsyslog-parser reads LEEF too, but
 * cuts a value at its first `=`, so it only cross-checks): every value of the hostile registry comes back with
 * the documented replacements, and no value can spill into another attribute or record.
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import nsyslog from 'nsyslog-parser';
import { runCli, trickyRegistry } from './helpers.js';
import { hostileRegistry, parseLeef, registryRows, type Row } from './formats-support.js';

/** docs/SIEM.md: the delimiter `^`, `|` and every C0 control character and DEL become U+FFFD. */
const sanitized = (s: string): string => s.replace(/[|\^\u0000-\u001f\u007f]/g, '\uFFFD');
const SEVERITY: Record<string, string> = { http_img: '8', license: '8', ocsp: '7', dns: '6' };

function expectedAttrs(r: Row, registryId: string): Map<string, string> {
  const m = new Map<string, string>([
    ['devTime', String(r.timestamp * 1000)],
    ['sev', SEVERITY[r.kind]!],
    ['beaconKind', r.kind],
    ['eventId', String(r.id)],
    ['registryId', sanitized(registryId)],
  ]);
  if (r.source_ip !== null) m.set(isIP(r.source_ip) ? 'src' : 'sourceAddress', r.source_ip);
  const custom: [string, string | number | null][] = [
    ['tokenId', r.token_id], ['fileId', r.file_id], ['recipientId', r.recipient_id], ['issuerId', r.issuer_id],
    ['userAgent', r.user_agent || null], ['qualifiedTimestamp', r.qualified_timestamp], ['tlogIndex', r.tlog_index],
  ];
  for (const [k, v] of custom) if (v !== null) m.set(k, sanitized(String(v)));
  return m;
}

describe('leef', () => {
  const db = hostileRegistry();
  const rows = registryRows(db);
  const registryId = 'reg^1|x=y';

  it('gives back every value of the hostile registry, one line per event, each under its own key', async () => {
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', registryId, '--format', 'leef', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.slice(0, -1).split('\n');
    assert.equal(lines.length, rows.length);
    rows.forEach((row, i) => {
      const line = lines[i]!;
      assert.doesNotMatch(line, /[\u0000-\u001f\u007f]/);
      const { header, attrs } = parseLeef(line);
      assert.deepEqual(header, ['Oversight', 'Oversight Registry', header[2], `beacon-${row.kind}`, '^']);
      const want = expectedAttrs(row, registryId);
      for (const [k, v] of want) assert.equal(attrs.get(k), v, `event ${row.id}: ${k}`);
      assert.match(attrs.get('cat') ?? '', /^beacon-/);
      if (row.extra === '{}') assert.equal(attrs.get('extra'), undefined);
      // `extra` is JSON with non-ASCII and control characters \u-escaped, so only `|` and `^` are replaced in it.
      else assert.deepEqual(JSON.parse(attrs.get('extra')!), JSON.parse(row.extra!, (_k, v: unknown) => (typeof v === 'string' ? sanitized(v) : v)));
      for (const k of attrs.keys()) assert.ok(want.has(k) || k === 'cat' || k === 'extra', `event ${row.id}: unexpected key ${k}`);
    });
  });

  it('agrees with nsyslog-parser on the header and on every value, up to the first `=` where it stops reading', async () => {
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', registryId, '--format', 'leef', '--quiet']);
    let compared = 0;
    for (const line of r.stdout.slice(0, -1).split('\n')) {
      const ours = parseLeef(line);
      const theirs = nsyslog(line) as { leef: Record<string, string>; fields: Record<string, string> };
      assert.equal(theirs.leef['eventID'], ours.header[3]);
      assert.equal(theirs.leef['delimiter'], '^');
      // nsyslog-parser ends a value at its first `=` (LEEF has no escaping, and IBM splits each attribute at its
      // first `=` only): it must still find every key in its place, with the value's text up to that `=`.
      for (const [k, v] of ours.attrs) {
        assert.equal(theirs.fields[k], v.split('=')[0], k);
        compared++;
      }
      assert.equal(Object.keys(theirs.fields).length, ours.attrs.size, 'no key more or less than in the record');
    }
    assert.ok(compared > 100, `compared ${compared} values`);
  });

  it('formats the tricky registry the same with and without formatting threads, every line well-formed', async () => {
    const tricky = trickyRegistry();
    const run = async (threads: string): Promise<string[]> => {
      const r = await runCli(['siem', 'export', '--db', tricky, '--registry-id', 'r', '--format', 'leef', '--quiet', '--threads', threads]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.slice(0, -1).split('\n');
    };
    const one = await run('1');
    assert.deepEqual(await run('2'), one);
    const occurred = new Map<string, string>();
    for (const line of one) {
      const { attrs } = parseLeef(line);
      // IBM: QRadar reads devTime without devTimeFormat only as an epoch of 10 or 13 digits. A zero or missing
      // timestamp leaves devTime out rather than claiming 1970; other times QRadar could not read (before
      // September 2001, after 2286) keep the registry's time under occurredAt instead.
      if (attrs.has('devTime')) assert.match(attrs.get('devTime')!, /^\d{13}$/);
      else if (attrs.has('occurredAt')) occurred.set(attrs.get('eventId')!, attrs.get('occurredAt')!);
    }
    assert.ok(one.some((l) => !parseLeef(l).attrs.has('devTime') && !parseLeef(l).attrs.has('occurredAt')));
    // The tricky registry's event 21 is a day before 1970, event 25 in the year 702 (RFC 3339 pads it).
    assert.equal(occurred.get('21'), '1969-12-31T00:00:00Z');
    assert.equal(occurred.get('25'), '0702-06-15T00:53:20Z');
  });
});
