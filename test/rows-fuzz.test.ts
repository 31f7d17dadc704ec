/**
 * Fuzzing the registry side: random bytes, random text and random JSON shapes as `extra`, user agent, ids and
 * the other columns (fixed seed, bounded rows), through every registered format, on one thread and on two.
 * Each run must keep its framing (one record per line; JSON formats valid JSON objects; text formats without a
 * raw CR or LF) and its count (every row, in rowid order, once).
 */
import { prng } from '../src/registry/demo.js';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FORMATS } from '../src/records/formats/index.js';
import { runCli, tempDir } from './helpers.js';

const SEED = 18;
const ROWS = 400;

/** The demo registry's seeded generator, so a failure reproduces. */
const generator = prng;

const random = generator(SEED);
const int = (n: number): number => Math.floor(random() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

/** Characters that break framings: line breaks, separators of CEF/LEEF/syslog, escapes, controls, surrogates. */
const NASTY = ['\n', '\r', '\r\n', '\u0000', '\t', '\u001b[31m', '\u0085', '\u2028', '|', '^', '=', '\\', '"', "'", '{', '}', '\ud800', '\udfff', '😀', 'é', '\u009b'];

function text(max = 40): string {
  let s = '';
  const n = int(max);
  for (let i = 0; i < n; i++) {
    const r = random();
    s += r < 0.3 ? pick(NASTY) : r < 0.6 ? String.fromCharCode(0x20 + int(95)) : String.fromCharCode(int(0x10000));
  }
  return s;
}

function bytes(max = 64): Buffer {
  return Buffer.from(Array.from({ length: int(max) }, () => int(256)));
}

/** A random JSON-ish value as text: valid JSON mostly, Python's NaN/Infinity words, duplicate keys, deep nesting. */
function json(depth = 0): string {
  const r = random();
  if (depth > 6 || r < 0.3) {
    return pick([
      JSON.stringify(text(12)), String(int(1e6) - 5e5), String(random() * 1e30), '1e400', '-0', '0.1e-7', '123456789012345678901234567890',
      'NaN', 'Infinity', '-Infinity', 'true', 'false', 'null', '"\\ud800"', '"\\u0000\\n"',
    ]);
  }
  if (r < 0.65) {
    const keys = Array.from({ length: int(6) }, () => pick(['a', 'qname', 'qtype', 'raw', '__proto__', 'constructor', '1', text(6)]));
    return '{' + keys.map((k) => `${JSON.stringify(k)}${pick([':', ' : '])}${json(depth + 1)}`).join(pick([',', ', '])) + '}';
  }
  if (r < 0.9) return '[' + Array.from({ length: int(5) }, () => json(depth + 1)).join(',') + ']';
  return '['.repeat(40 + int(20)) + ']'.repeat(40 + int(20));
}

/** A value for any column: NULL, text, a BLOB of random bytes, an integer, a float, or JSON. */
function anything(): unknown {
  return pick([() => null, () => text(), () => bytes(), () => int(1e9) - 5e8, () => random() * 1e25, () => json(), () => ''])();
}

function fuzzRegistry(): { file: string; ids: number[] } {
  const file = path.join(tempDir(), 'fuzz.sqlite');
  const db = new Database(file);
  db.exec(`CREATE TABLE events (id INTEGER PRIMARY KEY, token_id TEXT, file_id TEXT, recipient_id TEXT, issuer_id TEXT, kind TEXT,
    source_ip TEXT, user_agent TEXT, extra TEXT, timestamp INTEGER, qualified_timestamp TEXT, tlog_index INTEGER)`);
  const ins = db.prepare('INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?)');
  const ids = new Set<number>();
  while (ids.size < ROWS) ids.add(int(4000) - 1000);
  db.transaction(() => {
    for (const id of ids) {
      ins.run(
        id, anything(), anything(), anything(), anything(),
        pick([() => pick(['dns', 'http_img', 'ocsp', 'license']), () => text(12), () => null, () => bytes(8)])(),
        pick([() => '198.51.100.' + int(256), () => '2001:db8::' + int(9999), () => 'unknown', anything])(),
        pick([() => text(200), () => bytes(200), anything])(),
        pick([() => json(), () => bytes(300), () => text(300), () => '{}', anything])(),
        pick([() => 1763856000 + int(1e6), () => random() * 1e23, () => -int(1e12), () => text(5), () => null, () => 0])(),
        anything(),
        pick([() => int(1e6), () => null, anything])(),
      );
    }
  })();
  db.close();
  return { file, ids: [...ids].sort((a, b) => a - b) };
}

describe(`fuzzed registry rows (seed ${SEED}, ${ROWS} rows) through every format`, () => {
  const { file, ids } = fuzzRegistry();

  for (const format of FORMATS) {
    it(`${format.name}: one ${format.records === 'json' ? 'JSON object' : 'line without CR or LF'} per row, on one thread and on two`, async () => {
      const outputs: Buffer[] = [];
      for (const threads of ['1', '2']) {
        const out = path.join(tempDir(), `${format.name}-${threads}.txt`);
        const r = await runCli(['siem', 'export', '--db', file, '--registry-id', 'reg|fuzz', '--format', format.name, '--output', out, '--threads', threads]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, `exported ${ROWS} event(s) as ${format.name}\n`);
        const body = fs.readFileSync(out);
        outputs.push(body);
        const text = body.toString('utf8');
        assert.ok(text.endsWith('\n'));
        const lines = text.slice(0, -1).split('\n');
        assert.equal(lines.length, ROWS);
        lines.forEach((line, i) => {
          assert.ok(!line.includes('\r'), `row ${ids[i]}: a raw CR`);
          if (format.records === 'json') {
            const rec = JSON.parse(line) as unknown;
            assert.equal(typeof rec, 'object', `row ${ids[i]}`);
            assert.ok(rec !== null && !Array.isArray(rec), `row ${ids[i]}`);
          } else {
            assert.ok(line.length > 0 && !line.includes('\u0000'), `row ${ids[i]}: ${JSON.stringify(line.slice(0, 80))}`);
          }
        });
        // Each row once, in rowid order: every format carries the event id somewhere in the record.
        lines.forEach((line, i) => assert.ok(line.includes(String(ids[i])), `row ${ids[i]} in place ${i}`));
      }
      assert.ok(outputs[0]!.equals(outputs[1]!), 'threads write the same bytes');
    });
  }
});
