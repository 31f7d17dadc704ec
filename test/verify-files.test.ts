/** `siem verify` on files, the evidence manifest and its signature, relays, and the background verifier. */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { RegistrySource } from '../src/registry/source.js';
import { runVerify, PeriodicVerifier, registerVerifyGauges, type VerifyResult } from '../src/verify/index.js';
import { FileVerifier } from '../src/verify/files.js';
import { demoRegistry, registryIds, runCli, tempDir, waitFor } from './helpers.js';
import { counted, listed } from './verify-support.js';

const exportTo = (db: string, file: string, format: string): string[] =>
  ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', file, '--format', format];
const verify = (db: string, file: string, format: string, ...more: string[]): string[] =>
  ['siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', file, '--format', format, ...more];

/** Drop the lines of these event ids from a JSON-lines file (a lost write, a truncation). */
function dropLines(file: string, format: string, ids: Set<string>): void {
  const idOf = (r: Record<string, any>): string => String(format === 'splunk' ? r.event.event_id : format === 'ecs' ? r.event.id : r.EventId);
  const kept = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '' && !ids.has(idOf(JSON.parse(l))));
  fs.writeFileSync(file, kept.join('\n') + '\n');
}

describe('siem verify: files', () => {
  for (const format of ['ecs', 'splunk', 'sentinel']) {
    it(`names exactly the ${format} records missing from the file, repairs them, and a second verify passes`, async () => {
      const db = demoRegistry(1500);
      const out = path.join(tempDir(), `events.${format}.jsonl`);
      assert.equal((await runCli(exportTo(db, out, format))).code, 0);
      const state = path.join(tempDir(), 'export.state');
      assert.equal((await runCli([...exportTo(db, path.join(tempDir(), 'other.jsonl'), format), '--state', state])).code, 0);
      const checkpoint = fs.readFileSync(state);
      dropLines(out, format, new Set(['3', '700', '1500']));
      const first = await runCli(verify(db, out, format, '--window', '300'));
      assert.equal(first.code, 1, first.stderr);
      assert.deepEqual(listed(first.stderr, 'missing'), ['3', '700', '1500']);
      assert.equal(counted(first.stderr, 'present once'), 1497);
      const repaired = await runCli(verify(db, out, format, '--repair'));
      assert.equal(repaired.code, 0, repaired.stderr);
      const second = await runCli(verify(db, out, format));
      assert.equal(second.code, 0, second.stderr);
      assert.equal(fs.readFileSync(out, 'utf8').trim().split('\n').length, 1500);
      assert.deepEqual(fs.readFileSync(state), checkpoint, 'a running exporter\'s checkpoint is never touched');
    });
  }

  it('reports doubled and changed lines, and says how many lines it could not read', async () => {
    const db = demoRegistry(50);
    const out = path.join(tempDir(), 'events.jsonl');
    assert.equal((await runCli(exportTo(db, out, 'ecs'))).code, 0);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    const changed = JSON.parse(lines[9]!);
    changed.oversight.file_id = 'f-forged';
    lines[9] = JSON.stringify(changed);
    // A file always holds the registry id and the time of a record: one without them was changed too.
    const noRegistry = JSON.parse(lines[19]!);
    delete noRegistry.oversight.registry_id;
    lines[19] = JSON.stringify(noRegistry);
    const noTime = JSON.parse(lines[29]!);
    delete noTime['@timestamp'];
    lines[29] = JSON.stringify(noTime);
    fs.writeFileSync(out, [...lines, lines[0], lines[1], 'not json'].join('\n') + '\n');
    const r = await runCli(verify(db, out, 'ecs'));
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(listed(r.stderr, 'duplicated'), ['1', '2']);
    assert.deepEqual(listed(r.stderr, 'altered'), ['10', '20', '30']);
    assert.match(r.stderr, /1 line\(s\) of .* are not records with an event id/);
  });

  for (const format of ['ecs', 'sentinel', 'splunk']) {
    it(`judges ${format} records of events whose time no SIEM can hold by their ids and fields, as events without a time`, async () => {
      const db = demoRegistry(30);
      const reg = new Database(db);
      const at = reg.prepare('UPDATE events SET timestamp = ? WHERE id = ?');
      // Milliseconds where seconds belong (year 57863), and a time before year 1: the export writes no time for them.
      at.run(1763856000000, 10);
      at.run(-62200000000, 12);
      reg.close();
      const out = path.join(tempDir(), `events.${format}.jsonl`);
      assert.equal((await runCli(exportTo(db, out, format))).code, 0);
      const r = await runCli(verify(db, out, format));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(counted(r.stderr, 'present once'), 30);
      // Still judged: a changed field of such an event is found.
      const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const row = lines.find((l) => String(format === 'ecs' ? l.event.id : format === 'sentinel' ? l.EventId : l.event.event_id) === '10');
      if (format === 'ecs') row.oversight.token_id = 't-forged';
      else if (format === 'sentinel') row.TokenId = 't-forged';
      else row.event.token_id = 't-forged';
      fs.writeFileSync(out, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
      const changed = await runCli(verify(db, out, format));
      assert.equal(changed.code, 1, changed.stderr);
      assert.deepEqual(listed(changed.stderr, 'altered'), ['10']);
    });
  }

  it('calls a lost event dated ahead by more than --settle missing, not too recent until its date comes', async () => {
    const db = demoRegistry(10);
    const out = path.join(tempDir(), 'events.jsonl');
    assert.equal((await runCli(exportTo(db, out, 'ecs'))).code, 0);
    dropLines(out, 'ecs', new Set(['5', '6', '7']));
    const now = Math.floor(Date.now() / 1000);
    const reg = new Database(db);
    const at = reg.prepare('UPDATE events SET timestamp = ? WHERE id = ?');
    at.run(now + 100 * 365 * 86400, 5);
    at.run(now + 3600, 6);
    at.run(now + 20, 7);
    reg.close();
    const r = await runCli(verify(db, out, 'ecs', '--settle', '2m'));
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(listed(r.stderr, 'missing'), ['5', '6']);
    assert.deepEqual(listed(r.stderr, 'too recent to judge'), ['7'], 'a registry clock a little ahead is still on its way');
    const file = await runCli(verify(db, out, 'ecs'));
    assert.equal(file.code, 1, file.stderr);
    assert.deepEqual(listed(file.stderr, 'missing'), ['5', '6', '7'], 'a file settles at once: nothing dated ahead is on its way');
  });

  it('writes a manifest whose digest covers the verified ids and whose HMAC openssl reproduces', async () => {
    const db = demoRegistry(120);
    const dir = tempDir();
    const out = path.join(dir, 'events.jsonl');
    const report = path.join(dir, 'report.json');
    const key = path.join(dir, 'sign.key');
    fs.writeFileSync(key, 'k'.repeat(40) + '\n', { mode: 0o600 });
    assert.equal((await runCli(exportTo(db, out, 'ecs'))).code, 0);
    dropLines(out, 'ecs', new Set(['60']));
    const r = await runCli(verify(db, out, 'ecs', '--report', report, '--sign-key-file', key));
    assert.equal(r.code, 1, r.stderr);
    const m = JSON.parse(fs.readFileSync(report, 'utf8'));
    assert.equal(m.registry_id, 'reg');
    assert.deepEqual(m.counts, { expected: 120, present: 119, missing: 1, duplicated: 0, altered: 0, failure_store: 0, too_recent: 0, not_in_registry: 0 });
    assert.deepEqual(m.ids.missing, { total: 1, listed: ['60'] });
    assert.deepEqual(m.range, { first_rowid: 1, last_rowid: 120, since: null, until: null });
    const verified = registryIds(db).filter((id) => id !== '60');
    assert.equal(m.verified_ids_sha256, createHash('sha256').update(verified.map((id) => `${id}\n`).join('')).digest('hex'));
    assert.match(m.tool.version, /^\d+\.\d+\.\d+/);
    assert.equal(fs.statSync(report).mode & 0o777, 0o600);
    assert.ok(!fs.readFileSync(report, 'utf8').includes('k'.repeat(40)));
    // The one-liner from docs/VERIFY.md.
    const check = spawnSync('bash', ['-c', 'openssl dgst -sha256 -hmac "$(cat "$1")" -r "$2" | cut -d" " -f1 | diff -q - "$2.sig"', '_', key, report]);
    assert.equal(check.status, 0, check.stderr.toString() + check.stdout.toString());
    fs.appendFileSync(report, ' ');
    const tampered = spawnSync('bash', ['-c', 'openssl dgst -sha256 -hmac "$(cat "$1")" -r "$2" | cut -d" " -f1 | diff -q - "$2.sig"', '_', key, report]);
    assert.notEqual(tampered.status, 0, 'a changed manifest no longer matches');
    const shortKey = path.join(dir, 'short.key');
    fs.writeFileSync(shortKey, 'short', { mode: 0o600 });
    const bad = await runCli(verify(db, out, 'ecs', '--report', report, '--sign-key-file', shortKey));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /fewer than 32 bytes/);
    // Random bytes: read as text, every invalid one became the same character, and openssl could not be given them.
    const before = fs.readFileSync(report);
    for (const [name, bytes] of [
      ['binary.key', Buffer.from(Array.from({ length: 32 }, (_, i) => 0x80 + i))],
      ['spaced.key', Buffer.from(' ' + 'k'.repeat(40) + '\n')],
      ['two-lines.key', Buffer.from('k'.repeat(40) + '\n' + 'k'.repeat(40) + '\n')],
    ] as const) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, bytes, { mode: 0o600 });
      const refused = await runCli(verify(db, out, 'ecs', '--report', report, '--sign-key-file', file));
      assert.equal(refused.code, 2, `${name}: ${refused.stderr}`);
      assert.match(refused.stderr.trimEnd(), /^oversight: --sign-key-file must name a file holding the key as one line of printable ASCII text, such as openssl rand -hex 32 > KEY/);
      assert.equal(refused.stderr.trimEnd().split('\n').length, 1);
      assert.deepEqual(fs.readFileSync(report), before, `${name}: the report was not rewritten`);
    }
  });

  it('writes a report named by a symbolic link into the file the link leads to, and the link stays', async () => {
    const db = demoRegistry(20);
    const dir = tempDir();
    const archive = tempDir();
    const out = path.join(dir, 'events.jsonl');
    assert.equal((await runCli(exportTo(db, out, 'ecs'))).code, 0);
    const kept = path.join(archive, 'verify-report.json');
    fs.writeFileSync(kept, '{}\n', { mode: 0o600 });
    const link = path.join(dir, 'latest-report.json');
    fs.symlinkSync(kept, link);
    const r = await runCli(verify(db, out, 'ecs', '--report', link));
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.lstatSync(link).isSymbolicLink(), 'the operator\'s link is still a link');
    assert.equal(JSON.parse(fs.readFileSync(kept, 'utf8')).counts.present, 20);
    assert.deepEqual(fs.readdirSync(archive), ['verify-report.json'], 'no temporary file is left behind');
  });

  it('says in one line that a syslog or RELP relay cannot be asked, and where to verify instead', async () => {
    const db = demoRegistry(5);
    for (const url of ['syslog+tls://127.0.0.1:6514', 'syslog+udp://127.0.0.1:514', 'relp://127.0.0.1:2514']) {
      const r = await runCli(['siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', url]);
      assert.equal(r.code, 2);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /is a relay that cannot be asked what it holds: verify at the SIEM behind it/);
    }
  });

  it('refuses bad ranges, windows and outputs with one line and exit 2, before reading anything', async () => {
    const db = demoRegistry(5);
    const out = path.join(tempDir(), 'events.jsonl');
    assert.equal((await runCli(exportTo(db, out, 'ecs'))).code, 0);
    const cases: [string[], RegExp][] = [
      [['--from-rowid', '9', '--to-rowid', '3'], /--from-rowid is after --to-rowid/],
      // An empty time range would report "0 missing" of nothing.
      [['--since', '1763856000', '--until', '1700000000'], /--since 1763856000 is after --until 1700000000: no event can be in that range/],
      [['--window', '0'], /--window must be a whole number of at least 1/],
      [['--window', '50000'], /--window must be at most 10000/],
      [['--settle', 'soon'], /--settle must be a duration/],
      [['--sign-key-file', out], /--sign-key-file signs the --report manifest/],
      [['--format', 'cef'], /verify reads back splunk, ecs, sentinel records from files, not cef: check --format/],
    ];
    for (const [more, message] of cases) {
      const r = await runCli(verify(db, out, 'ecs', ...more));
      assert.equal(r.code, 2, `${more.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, message);
    }
    const stdout = await runCli(['siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', '-']);
    assert.equal(stdout.code, 2);
    assert.match(stdout.stderr, /stdout cannot be read back/);
    const folder = path.dirname(out);
    const dir = await runCli(verify(db, folder, 'ecs'));
    assert.equal(dir.code, 2, dir.stderr);
    assert.equal(dir.stderr.trim().split('\n').length, 1, dir.stderr);
    assert.match(dir.stderr, /--output .* is not a regular file \(a folder\)/);
  });

  it('runs in the background on a schedule and exposes the missing count and the last success as gauges', async () => {
    const db = demoRegistry(200);
    const out = path.join(tempDir(), 'events.jsonl');
    assert.equal((await runCli(exportTo(db, out, 'sentinel'))).code, 0);
    const full = fs.readFileSync(out, 'utf8');
    dropLines(out, 'sentinel', new Set(['5', '6']));
    const metrics = new Registry();
    const results: VerifyResult[] = [];
    const source = RegistrySource.open(db);
    const verifier = new PeriodicVerifier({
      everyMs: 30,
      gauges: registerVerifyGauges(metrics),
      run: () => runVerify({ source, registryId: 'reg', backend: new FileVerifier(out, 'sentinel', 'reg') }),
      onResult: (r) => results.push(r),
    });
    try {
      verifier.start();
      await waitFor(() => results.length >= 1);
      const text = await metrics.metrics();
      assert.match(text, /^oversight_verify_missing_events 2$/m);
      assert.match(text, /^oversight_verify_last_success_timestamp_seconds 0$/m);
      fs.writeFileSync(out, full);
      const seen = results.length;
      await waitFor(() => results.length > seen);
      const after = await metrics.metrics();
      assert.match(after, /^oversight_verify_missing_events 0$/m);
      const last = Number(/^oversight_verify_last_success_timestamp_seconds (\d+)$/m.exec(after)![1]);
      assert.ok(Math.abs(last - Date.now() / 1000) < 60, `last success ${last}`);
    } finally {
      await verifier.stop();
      source.close();
    }
  });
});
