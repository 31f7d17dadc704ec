/** Pseudonymized exports: no raw personal value leaves, pseudonyms are stable per key, and both thread paths agree. */
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, jsonLines, runCli, sqlRegistry, tempDir, trickyRegistry, withPeer } from './helpers.js';

const FIELDS = ['source_ip', 'recipient_id', 'issuer_id', 'user_agent', 'token_id'];
const ALL = FIELDS.join(',');

function keyFile(text = 'a'.repeat(64)): string {
  const file = path.join(tempDir(), 'pseudonym.key');
  fs.writeFileSync(file, text + '\n', { mode: 0o600 });
  return file;
}

/** The raw values of `fields` in the registry, as text, that a record could carry. */
function registryValues(db: string, fields: string[]): string[] {
  const d = new Database(db, { readonly: true });
  try {
    const out = new Set<string>();
    for (const row of d.prepare(`SELECT ${fields.join(', ')} FROM events`).all() as Record<string, unknown>[]) {
      for (const f of fields) {
        const v = row[f];
        if (v === null || v === '' || (f === 'source_ip' && v === 'unknown')) continue;
        out.add(String(v));
        // A DNS query name carries the token, or its first characters.
        if (f === 'token_id' && String(v).length >= 16) out.add(String(v).slice(0, 16));
      }
    }
    return [...out];
  } finally {
    d.close();
  }
}

/** Where each format carries the five fields (ECS: `source.ip` and `user_agent.original`). */
const FIELD_KEYS = new Set([
  'source.ip', 'user_agent.original', 'token_id', 'recipient_id', 'issuer_id', 'source_ip', 'user_agent',
  'oversight_token_id', 'oversight_recipient_id', 'oversight_issuer_id', 'TokenId', 'RecipientId', 'IssuerId', 'SourceIp', 'UserAgent',
]);

/** No raw value anywhere in the text, and every field position holds a pseudonym (or the registry's "unknown"). */
function assertNoRaw(text: string, values: string[]): void {
  for (const v of values) {
    // Short values (a digit) also occur as event ids; the field positions below cover them.
    if (v.length >= 4) assert.ok(!text.includes(JSON.stringify(v)), `raw value ${JSON.stringify(v)} in the export`);
    if (v.length >= 6) assert.ok(!text.includes(v), `raw value ${v} in the export`);
  }
  const walk = (o: unknown, parent: string): void => {
    if (!o || typeof o !== 'object') return;
    for (const [k, v] of Object.entries(o)) {
      if (typeof v !== 'object' && (FIELD_KEYS.has(k) || FIELD_KEYS.has(`${parent}.${k}`))) assert.match(String(v), /^(ps1:[0-9a-f]{32}|unknown)$/, `${parent}.${k}`);
      else walk(v, k);
    }
  };
  for (const line of text.split('\n').filter(Boolean)) walk(JSON.parse(line), '');
}

const exportArgs = (db: string, fmt: string, out: string, ...more: string[]): string[] =>
  ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', fmt, '--output', out, ...more];

describe('pseudonymization', () => {
  const demo = demoRegistry(3000);
  const key = keyFile();

  for (const fmt of ['ecs', 'splunk', 'sentinel']) {
    it(`${fmt}: no raw value of the chosen fields, on one thread and on two, byte for byte`, async () => {
      const dir = tempDir();
      for (const db of [demo, trickyRegistry()]) {
        const one = path.join(dir, `one-${fmt}.jsonl`);
        const two = path.join(dir, `two-${fmt}.jsonl`);
        fs.rmSync(one, { force: true });
        fs.rmSync(two, { force: true });
        const a = await runCli(exportArgs(db, fmt, one, '--pseudonymize', ALL, '--pseudonym-key-file', key, '--threads', '1'));
        assert.equal(a.code, 0, a.stderr);
        const b = await runCli(exportArgs(db, fmt, two, '--pseudonymize', ALL, '--pseudonym-key-file', key, '--threads', '2'));
        assert.equal(b.code, 0, b.stderr);
        const text = fs.readFileSync(one, 'utf8');
        assert.ok(fs.readFileSync(two).equals(Buffer.from(text)), 'threads 1 and 2 wrote the same bytes');
        assertNoRaw(text, registryValues(db, FIELDS));
        assert.match(text, /"ps1:[0-9a-f]{32}"/);
      }
    });
  }

  it('the same key gives the same pseudonyms on every run; another key gives other ones, and nothing else changes', async () => {
    const dir = tempDir();
    const run = async (name: string, k: string, fields = 'recipient_id'): Promise<Record<string, unknown>[]> => {
      const out = path.join(dir, name);
      const r = await runCli(exportArgs(demo, 'sentinel', out, '--pseudonymize', fields, '--pseudonym-key-file', k, '--limit', '200'));
      assert.equal(r.code, 0, r.stderr);
      return jsonLines(fs.readFileSync(out, 'utf8'));
    };
    const first = await run('a.jsonl', key);
    const again = await run('b.jsonl', key);
    const other = await run('c.jsonl', keyFile('b'.repeat(64)));
    assert.deepEqual(again, first);
    const ids = (rows: Record<string, unknown>[]): unknown[] => rows.map((r) => r['RecipientId']);
    // Joins and counts still work: as many distinct pseudonyms as distinct recipients.
    const plain = jsonLines((await runCli(['siem', 'export', '--db', demo, '--registry-id', 'reg', '--format', 'sentinel', '--limit', '200'])).stdout);
    assert.equal(new Set(ids(first)).size, new Set(ids(plain)).size);
    for (let i = 0; i < first.length; i++) {
      if (plain[i]!['RecipientId'] === undefined) continue;
      assert.notEqual(other[i]!['RecipientId'], first[i]!['RecipientId']);
      assert.deepEqual({ ...other[i], RecipientId: 0 }, { ...plain[i], RecipientId: 0 });
    }
  });

  it('records delivered to a SIEM and dead letters carry pseudonyms only; the key is never printed', () =>
    withPeer(new HecPeer({ token: 'hec-token-1234', rejectEvent: (e) => ['7', '77'].includes(String((e['event'] as Record<string, unknown>)['event_id'])) }).start(), async (peer) => {
      const dir = tempDir();
      const dead = path.join(dir, 'dead.jsonl');
      const secret = 'c0ffee'.repeat(11);
      const r = await runCli(
        ['siem', 'export', '--db', demo, '--registry-id', 'reg', '--output', peer.url, '--dead-letter', dead, '--limit', '300',
          '--pseudonymize', ALL, '--pseudonym-key-file', keyFile(secret)],
        { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: 'hec-token-1234' } },
      );
      assert.equal(r.code, 0, r.stderr);
      const values = registryValues(demo, FIELDS);
      assertNoRaw(JSON.stringify(peer.events), values);
      const deadText = fs.readFileSync(dead, 'utf8');
      assert.equal(jsonLines(deadText).length, 2);
      assertNoRaw(deadText, values);
      assert.ok(!r.stderr.includes(secret) && !deadText.includes(secret) && !JSON.stringify(peer.events).includes(secret));
    }));

  it('--ip-prefix keeps the network of each address; "unknown" stays, other text is left out', async () => {
    const db = sqlRegistry(`CREATE TABLE events (id INTEGER PRIMARY KEY, token_id TEXT, file_id TEXT, recipient_id TEXT, issuer_id TEXT,
      kind TEXT, source_ip TEXT, user_agent TEXT, extra TEXT, timestamp INTEGER, qualified_timestamp TEXT, tlog_index INTEGER);
      INSERT INTO events (kind, source_ip, timestamp) VALUES ('ocsp', '203.0.113.77', 1763856000), ('ocsp', '2001:db8:abcd:12:1:2:3:4', 1763856001),
        ('ocsp', '::ffff:198.51.100.9', 1763856002), ('ocsp', 'unknown', 1763856003), ('ocsp', 'laptop-of-alice', 1763856004), ('ocsp', NULL, 1763856005);`);
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--ip-prefix', '24,64']);
    assert.equal(r.code, 0, r.stderr);
    const ips = jsonLines(r.stdout).map((d) => (d['source'] as { ip?: string } | undefined)?.ip ?? null);
    assert.deepEqual(ips, ['203.0.113.0', '2001:db8:abcd:12::', '::ffff:198.51.100.0', 'unknown', null, null]);
  });

  it('bad settings are usage errors that name the fix, before anything is written', async () => {
    const dir = tempDir();
    const out = path.join(dir, 'out.jsonl');
    const cases: [string[], RegExp][] = [
      [['--pseudonymize', 'source_ip'], /--pseudonymize needs --pseudonym-key-file FILE/],
      [['--pseudonymize', 'source_ip', '--pseudonym-key-file', path.join(dir, 'missing.key')], /^oversight: --pseudonym-key-file names no readable file \(ENOENT: no such file or directory\): the value is not shown/],
      [['--pseudonymize', 'source_ip', '--pseudonym-key-file', keyFile('short')], /names a file of 5 byte\(s\); a key needs at least 32/],
      [['--pseudonymize', 'email', '--pseudonym-key-file', key], /unknown field 'email' \(choices: source_ip, recipient_id/],
      [['--pseudonym-key-file', key], /--pseudonymize names no fields/],
      [['--pseudonymize', 'source_ip', '--pseudonym-key-file', key, '--ip-prefix', '24,64'], /choose one/],
      [['--ip-prefix', '33,64'], /--ip-prefix must be IPv4 and IPv6 prefix lengths such as 24,64/],
    ];
    for (const [more, message] of cases) {
      const r = await runCli(exportArgs(demo, 'ecs', out, ...more));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
      assert.ok(!fs.existsSync(out));
    }
  });
});
