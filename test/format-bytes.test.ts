/**
 * Every byte of every format stays as it was: the records of three registries of edge cases, in each format and
 * wrapped for syslog, are digested and compared with the digests recorded in test/fixtures/format-digests.json.
 * Other tests compare records once parsed, or one reader with another; these catch a change of spacing, member
 * order or escaping in the fast paths of the formatters. A deliberate change of output records new digests with
 * UPDATE_FORMAT_DIGESTS=1 (and says why in its commit).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { eventOf, readEventRows } from '../src/pipeline/event-rows.js';
import { FORMAT_NAMES, formatByName } from '../src/records/formats/index.js';
import { recordFormatter, type RecordSpec } from '../src/records/spec.js';
import { OversizeRow } from '../src/registry/rows.js';
import { PAGE_SIZE, RegistrySource } from '../src/registry/source.js';
import { FIXTURES, sqlRegistry } from './helpers.js';
import Database from 'better-sqlite3';

const DIGESTS = path.join(FIXTURES, 'format-digests.json');
const REGISTRIES = ['tricky', 'hostile', 'shapes'] as const;
const SYSLOG = { kind: 'rfc5424', settings: { facility: 20, hostname: 'host-1', sdId: 'oversight@32473' } } as const;

/**
 * A registry of every shape a record can take: each value there or not (NULL, or ''), addresses that are and
 * are not IPs, DNS and other `extra`, kinds known, unknown and empty, times of 0 and out of range. The rows come
 * from a fixed generator, so the registry is the same on every run.
 */
function shapesRegistry(): string {
  const db = sqlRegistry(fs.readFileSync(path.join(FIXTURES, 'tricky-registry.sql'), 'utf8').split('INSERT')[0]!);
  const conn = new Database(db);
  let seed = 11;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const maybe = <T>(v: T): T | null | '' => (next() < 0.4 ? pick([null, '']) : v);
  const insert = conn.prepare('INSERT INTO events (token_id, file_id, recipient_id, issuer_id, kind, source_ip, user_agent, extra, timestamp, qualified_timestamp, tlog_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  for (let i = 0; i < 600; i++) {
    insert.run(
      maybe(`tok-${i}`), maybe(`f-${i % 7}`), maybe(pick(['alice@partner.example', 'bob@lawfirm.example'])), maybe('legal@acme.example'),
      pick(['dns', 'http_img', 'ocsp', 'license', 'webhook', '', null]),
      maybe(pick(['198.51.100.7', '2001:db8::1', 'unknown', '::ffff:192.0.2.1', '10.0.0.256'])),
      maybe(pick(['Mozilla/5.0', 'curl/8.5.0', 'ocspd/1.0.3 (a=b)'])),
      pick([null, '{}', `{"qtype": "A", "qname": "q${i}.t.example"}`, `{"qname": "q${i}.t.example"}`, '{"qtype": "AAAA", "qname": "x", "rcode": 0}', '{"note": "x"}']),
      pick([1763856000 + i * 17, 0, 1763856000 + i * 17, 999999999, 253402300800]),
      maybe('2025-11-23T00:00:17Z'), pick([null, i, i]),
    );
  }
  conn.close();
  return db;
}

/** Each record of the registry on a line of its own, as the file output writes them, and the number of records. */
function records(db: string, spec: RecordSpec): { text: string; count: number } {
  const source = RegistrySource.open(db);
  const format = recordFormatter(spec);
  let text = '';
  let count = 0;
  try {
    for (let after = 0; ;) {
      const rows = readEventRows(source, after, Infinity, PAGE_SIZE, null);
      for (const row of rows) {
        const e = eventOf(row, 'reg-1');
        after = e.rowid;
        if (e instanceof OversizeRow) continue;
        text += format(e) + '\n';
        count++;
      }
      if (rows.length < PAGE_SIZE) break;
    }
  } finally {
    source.close();
  }
  return { text, count };
}

function digests(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of REGISTRIES) {
    const db = name === 'shapes' ? shapesRegistry() : sqlRegistry(fs.readFileSync(path.join(FIXTURES, `${name}-registry.sql`), 'utf8'));
    for (const format of FORMAT_NAMES) {
      const settings = formatByName(format).settings?.({}) ?? {};
      for (const envelope of [null, SYSLOG]) {
        const { text, count } = records(db, { format, settings, envelope, privacy: null });
        assert.ok(count > 10, `${name}: ${count} records`);
        out[`${name} ${format}${envelope ? ' syslog' : ''}`] = createHash('sha256').update(text).digest('hex');
      }
    }
  }
  return out;
}

describe('the bytes of every format', () => {
  it('are those recorded, for the registries of edge cases, plain and wrapped for syslog', () => {
    const now = digests();
    if (process.env.UPDATE_FORMAT_DIGESTS === '1') fs.writeFileSync(DIGESTS, JSON.stringify(now, null, 2) + '\n');
    const recorded = JSON.parse(fs.readFileSync(DIGESTS, 'utf8')) as Record<string, string>;
    assert.deepEqual(Object.keys(now).sort(), Object.keys(recorded).sort(), 'formats without recorded digests, or digests of formats gone');
    for (const [key, digest] of Object.entries(now)) assert.equal(digest, recorded[key], `${key}: the records changed`);
  });
});
