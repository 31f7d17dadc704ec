/**
 * Timestamps out of range in the registry (1e23, -1e23, the largest INTEGER, infinity, text): CEF `rt`, LEEF
 * `devTime` and OCSF `time` carry only times a SIEM can read; in-range times are written as before.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonLines, runCli, sqlRegistry } from './helpers.js';

const ROWS: [string, string][] = [
  ['in-range', '1763856000'],
  ['huge-real', '1e23'],
  ['huge-negative', '-1e23'],
  ['max-integer', '9223372036854775807'],
  ['infinite', '1e999'],
  ['text', `'1e23'`],
  ['year-10000', '253402300800'],
  ['before-1970', '-5'],
];

const db = sqlRegistry(`CREATE TABLE events (id INTEGER PRIMARY KEY, token_id TEXT, file_id TEXT, recipient_id TEXT, issuer_id TEXT,
  kind TEXT, source_ip TEXT, user_agent TEXT, extra TEXT, timestamp INTEGER, qualified_timestamp TEXT, tlog_index INTEGER);
${ROWS.map(([token, ts], i) => `INSERT INTO events (id, token_id, kind, source_ip, user_agent, extra, timestamp) VALUES (${i + 1}, '${token}', 'dns', '192.0.2.1', '', '{}', ${ts});`).join('\n')}`);

async function records(format: string): Promise<string[]> {
  const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', format]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, ROWS.length);
  return lines;
}

describe('out-of-range timestamps', () => {
  it('CEF: rt only for times within years 1-9999, as 13-digit-style epoch milliseconds', async () => {
    const lines = await records('cef');
    assert.match(lines[0]!, /\|rt=1763856000000 cat=/);
    assert.match(lines[7]!, /\|rt=-5000 cat=/);
    for (const line of lines.slice(1, 7)) {
      assert.doesNotMatch(line, /rt=/, line);
      assert.doesNotMatch(line, /e\+|Infinity|NaN/, line);
      assert.match(line, /\|\d+\|cat=\/Oversight\/Beacon\/dns /);
    }
  });

  it('LEEF: devTime only for times QRadar reads as a 13-digit epoch, other times within years 1-9999 as occurredAt', async () => {
    const lines = await records('leef');
    assert.match(lines[0]!, /\|\^\|devTime=1763856000000\^cat=/);
    assert.doesNotMatch(lines[0]!, /occurredAt=/);
    assert.doesNotMatch(lines[7]!, /devTime=/);
    assert.match(lines[7]!, /\^occurredAt=1969-12-31T23:59:55Z\^/);
    for (const line of lines.slice(1, 7)) {
      assert.doesNotMatch(line, /devTime=|occurredAt=/, line);
      assert.doesNotMatch(line, /e\+|Infinity|NaN/, line);
    }
  });

  it('OCSF: time is an integer of epoch milliseconds, 0 where the registry holds no usable time', async () => {
    const lines = await records('ocsf');
    const times = jsonLines(lines.join('\n')).map((r) => r['time']);
    assert.deepEqual(times, [1763856000000, 0, 0, 0, 0, 0, 0, -5000]);
    for (const line of lines) assert.match(line, /"time":-?\d+,/);
    assert.match(lines[0]!, /"original_time":"2025-11-23T00:00:00Z"/);
    for (const line of lines.slice(1, 7)) assert.doesNotMatch(line, /original_time|e\+/, line);
  });
});
