/**
 * Every byte of every format stays as it was: the records of two registries of edge cases, in each format and
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

const DIGESTS = path.join(FIXTURES, 'format-digests.json');
const REGISTRIES = ['tricky', 'hostile'] as const;
const SYSLOG = { kind: 'rfc5424', settings: { facility: 20, hostname: 'host-1', sdId: 'oversight@32473' } } as const;

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
    const db = sqlRegistry(fs.readFileSync(path.join(FIXTURES, `${name}-registry.sql`), 'utf8'));
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
  it('are those recorded, for both registries of edge cases, plain and wrapped for syslog', () => {
    const now = digests();
    if (process.env.UPDATE_FORMAT_DIGESTS === '1') fs.writeFileSync(DIGESTS, JSON.stringify(now, null, 2) + '\n');
    const recorded = JSON.parse(fs.readFileSync(DIGESTS, 'utf8')) as Record<string, string>;
    assert.deepEqual(Object.keys(now).sort(), Object.keys(recorded).sort(), 'formats without recorded digests, or digests of formats gone');
    for (const [key, digest] of Object.entries(now)) assert.equal(digest, recorded[key], `${key}: the records changed`);
  });
});
