/**
 * Exports read rows as JSON text cut apart in place (row-json.ts), on the main thread and on formatting threads.
 * Whatever a registry holds, that path must write the same bytes as the ordinary read, value by value (what the
 * library's iterRegistryEvents gives), which the parity tests compare with the reference.
 */
import { longName, takesValue } from '../src/shared/options.js';
import { FORMATS as REGISTERED } from '../src/records/formats/index.js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { eventFormatter, plainSpec } from '../src/records/spec.js';
import { affinity } from '../src/registry/row-json.js';
import { iterRegistryEvents, RegistrySource } from '../src/registry/source.js';
import { FIXTURES, runCli, sqlRegistry, tempDir, trickyRegistry } from './helpers.js';
import path from 'node:path';

const SCHEMA = `CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, token_id TEXT NOT NULL, file_id TEXT, recipient_id TEXT, issuer_id TEXT,
  kind TEXT NOT NULL, source_ip TEXT, user_agent TEXT, extra TEXT, timestamp INTEGER NOT NULL,
  qualified_timestamp TEXT, tlog_index INTEGER)`;

const COLUMNS = ['token_id', 'file_id', 'recipient_id', 'issuer_id', 'kind', 'source_ip', 'user_agent', 'extra', 'timestamp', 'qualified_timestamp', 'tlog_index'];
const ordinary = { token_id: 'tok', file_id: 'f-1', recipient_id: 'r@example.com', issuer_id: 'i@example.com', kind: 'dns', source_ip: '198.51.100.1', user_agent: 'UA/1', extra: '{}', timestamp: 1763856000, qualified_timestamp: '2025-11-23T00:00:00Z', tlog_index: 1 };

/** Values a registry can hold that a shortcut could get wrong, one row each, in every column where they fit. */
const ODD: Record<string, unknown>[] = [
  ...['', null, 'say "hi"', 'back\\slash', 'tab\there', 'nl\nx', '\u0000nul', '\u001f\u007f', 'caf\u00e9 \u2028 \ud83d\ude00', '\ufffd', ',]"\\",', ' ']
    .flatMap((v) => ['token_id', 'file_id', 'recipient_id', 'issuer_id', 'kind', 'source_ip', 'user_agent', 'qualified_timestamp', 'extra'].map((c) => ({ [c]: v }))),
  ...[Buffer.from('blob'), Buffer.from([0xc3, 0x28, 0x22, 0x5c]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xff, 0xfe]), Buffer.alloc(0), Buffer.from('{}'), Buffer.from([0xe2, 0x82])]
    .flatMap((v) => ['token_id', 'kind', 'user_agent', 'extra'].map((c) => ({ [c]: v }))),
  { kind: 'constructor' }, { kind: 'DNS' }, { kind: 'ht"tp' },
  { timestamp: 0 }, { timestamp: -1 }, { timestamp: -62135596801 }, { timestamp: 253402300800 }, { timestamp: 1.5 }, { timestamp: '1763856000' },
  { timestamp: 'soon' }, { timestamp: 9007199254740993n }, { timestamp: -9223372036854775808n }, { timestamp: 1e300 },
  { tlog_index: null }, { tlog_index: 0 }, { tlog_index: -5 }, { tlog_index: 2.5 }, { tlog_index: 1e16 }, { tlog_index: 'x' },
  { tlog_index: 9007199254740993n }, { tlog_index: 9223372036854775807n }, { tlog_index: Buffer.from('7') },
  { extra: '{"a": 1.0, "b": [1e-05, NaN], "a": 2}' }, { extra: '[1, 2]' }, { extra: 'not json' }, { extra: '{"k": "\u00e9"}' }, { extra: '0' },
  { extra: '{"q": "x\\"y"}' },
];

function oddRegistry(schema = SCHEMA): string {
  const file = sqlRegistry(schema);
  const db = new Database(file);
  db.defaultSafeIntegers(true);
  const insert = db.prepare(`INSERT INTO events (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => '@' + c).join(', ')})`);
  // NOT NULL columns take their ordinary value where a row would put NULL there.
  const loose = !/NOT NULL/.test(schema);
  for (let i = 0; i < 3; i++) insert.run(ordinary);
  for (const over of ODD) {
    const row: Record<string, unknown> = { ...ordinary, ...over };
    if (!loose) for (const c of ['token_id', 'kind', 'timestamp']) if (row[c] === null) row[c] = ordinary[c as keyof typeof ordinary];
    insert.run(row);
  }
  db.close();
  return file;
}

async function exportWith(db: string, threads: string, flags: string[], registryId = 'reg-\u00e9"1'): Promise<Buffer> {
  const out = path.join(tempDir(), `out-${threads}.jsonl`);
  const r = await runCli(['siem', 'export', '--db', db, '--registry-id', registryId, '--threads', threads, '--output', out, '--quiet', ...flags]);
  assert.equal(r.code, 0, r.stderr);
  return fs.readFileSync(out);
}

/** The ordinary read, value by value, formatted as the library formats it: one line per event. */
function ordinaryRead(db: string, format: string, registryId = 'reg-\u00e9"1'): string {
  const formatter = eventFormatter(plainSpec(format));
  let text = '';
  for (const evt of iterRegistryEvents(db, { registryId })) text += formatter(evt) + '\n';
  return text;
}

/** Every registered format, and each format with options once more with every option set to an odd value. */
const FORMATS: [string, string[]][] = [
  ...REGISTERED.map((f): [string, string[]] => [f.name, ['--format', f.name]]),
  ...REGISTERED.filter((f) => f.flags?.length).map((f): [string, string[]] => [
    `${f.name} with options`,
    ['--format', f.name, ...f.flags!.flatMap((s) => (takesValue(s) ? [`--${longName(s.flags)}`, 'o"1'] : [`--${longName(s.flags)}`]))],
  ]),
];
/** Formats the reference defines, whose output is kept as fixtures. */
const REFERENCE = ['ecs', 'splunk', 'sentinel'];

describe('rows read as JSON text', () => {
  it('the registry schema enables the JSON read, and anything else turns it off', () => {
    assert.equal(RegistrySource.open(oddRegistry()).readsJson, true);
    assert.equal(RegistrySource.open(trickyRegistry()).readsJson, true);
    assert.equal(RegistrySource.open(oddRegistry(SCHEMA.replace('user_agent TEXT', 'user_agent'))).readsJson, false);
    assert.equal(RegistrySource.open(oddRegistry(SCHEMA.replace('id INTEGER PRIMARY KEY AUTOINCREMENT', 'id TEXT'))).readsJson, false);
    assert.deepEqual(['INTEGER', 'VARCHAR(20)', 'CHARINT', 'BLOB', '', 'DOUBLE', 'DECIMAL'].map(affinity), ['INTEGER', 'TEXT', 'INTEGER', 'BLOB', 'BLOB', 'REAL', 'NUMERIC']);
  });

  const odd = oddRegistry();
  const loose = oddRegistry(SCHEMA.replace(/ NOT NULL/g, ''));
  const untyped = oddRegistry(SCHEMA.replace('file_id TEXT', 'file_id'));
  for (const [name, flags] of FORMATS) {
    it(`${name}: odd values come out byte for byte as the ordinary read gives them, on one thread and on two`, async () => {
      for (const db of [odd, loose, untyped]) {
        const one = await exportWith(db, '1', flags);
        const two = await exportWith(db, '2', flags);
        assert.equal(one.toString('utf8').split('\n').length, ODD.length + 4);
        // Formats with options set are compared between the two exports; their reads are those of the plain format.
        const a = (flags.length === 2 ? ordinaryRead(db, flags[1]!) : one.toString('utf8')).split('\n');
        for (const out of [one, two]) {
          const b = out.toString('utf8').split('\n');
          a.forEach((line, i) => assert.equal(b[i], line, `line ${i + 1}`));
          assert.equal(b.length, a.length);
        }
      }
    });
  }

  it('the registry of edge cases matches the reference through the JSON read too', async () => {
    for (const [name, flags] of FORMATS.filter(([n]) => REFERENCE.includes(n))) {
      const ours = (await exportWith(trickyRegistry(), '2', flags, 'reg-1')).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
      const reference = fs.readFileSync(path.join(FIXTURES, `tricky.${name}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepStrictEqual(ours, reference, name);
    }
  });
});
