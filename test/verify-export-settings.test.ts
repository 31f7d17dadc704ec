/**
 * `siem verify` takes the export's settings that decide what it wrote, its pseudonyms and its row limit, and
 * judges and repairs with them; `--verify-every` uses the export's own.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { demoRegistry, runCli, spawnCli, tempDir, waitFor } from './helpers.js';
import { counted, lengthenUserAgent, listed } from './verify-support.js';

const KEY_TEXT = 'k'.repeat(48);

function keyFile(text = KEY_TEXT): string {
  const file = path.join(tempDir(), 'pseudonym.key');
  fs.writeFileSync(file, text + '\n', { mode: 0o600 });
  return file;
}

const exportTo = (db: string, file: string, ...more: string[]): string[] =>
  ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', file, '--format', 'ecs', ...more];
const verify = (db: string, file: string, ...more: string[]): string[] =>
  ['siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', file, '--format', 'ecs', ...more];

/** The registry's token and recipient values of these events, as text. */
function clearValues(db: string, ids: number[]): string[] {
  const d = new Database(db, { readonly: true });
  try {
    const rows = d.prepare(`SELECT token_id, recipient_id FROM events WHERE id IN (${ids.join(',')})`).all() as Record<string, unknown>[];
    return rows.flatMap((r) => [r['token_id'], r['recipient_id']]).filter((v) => v !== null && v !== '').map(String);
  } finally {
    d.close();
  }
}

describe('siem verify: the export\'s pseudonyms', () => {
  it('judges a pseudonymized export with its flags, and a repair re-sends the pseudonyms, never the clear values', async () => {
    const db = demoRegistry(60);
    const key = keyFile();
    const privacy = ['--pseudonymize', 'token_id,recipient_id', '--pseudonym-key-file', key, '--ip-prefix', '24,64'];
    const out = path.join(tempDir(), 'events.jsonl');
    assert.equal((await runCli(exportTo(db, out, ...privacy))).code, 0);
    const written = fs.readFileSync(out, 'utf8');
    assert.match(written, /"token_id":"ps1:[0-9a-f]{32}"/, 'the export wrote pseudonyms');
    assert.match(written, /"ip":"\d+\.\d+\.\d+\.0"/, 'and address prefixes');

    const judged = await runCli(verify(db, out, ...privacy));
    assert.equal(judged.code, 0, judged.stderr);
    assert.equal(counted(judged.stderr, 'present once'), 60, judged.stderr);
    // Without them every event reads as altered, and the run says why and what to pass.
    const unasked = await runCli(verify(db, out));
    assert.equal(unasked.code, 1, unasked.stderr);
    assert.equal(counted(unasked.stderr, 'altered'), 60, unasked.stderr);
    assert.match(unasked.stderr.trimEnd(), /\nthe SIEM holds pseudonyms \(ps1:…\) where the registry's tokens were expected: give verify the export's --pseudonymize, --pseudonym-key-file and --ip-prefix$/);
    assert.doesNotMatch(judged.stderr, /holds pseudonyms/);

    // The comparison is with the key's pseudonyms: another key's are not what the export wrote.
    const other = await runCli(verify(db, out, '--pseudonymize', 'token_id,recipient_id', '--pseudonym-key-file', keyFile('o'.repeat(48))));
    assert.equal(other.code, 1, other.stderr);
    assert.equal(counted(other.stderr, 'altered'), 60, other.stderr);

    const lines = written.trim().split('\n');
    const dropped = [4, 31];
    fs.writeFileSync(out, lines.filter((l) => !dropped.includes(Number(JSON.parse(l).event.id))).join('\n') + '\n');
    const repaired = await runCli(verify(db, out, ...privacy, '--repair'));
    assert.equal(repaired.code, 0, repaired.stderr);
    assert.match(repaired.stderr, /repair: 2 missing before, 2 re-sent/);
    const after = fs.readFileSync(out, 'utf8');
    // The re-sent records are the ones the export wrote, byte for byte.
    assert.deepEqual(after.trim().split('\n').sort(), [...lines].sort());
    const clear = clearValues(db, dropped);
    assert.ok(clear.length >= 2, 'the dropped events have tokens and recipients');
    for (const v of clear) assert.ok(!after.includes(JSON.stringify(v)), `clear value ${v} re-sent`);
    for (const r of [judged, other, repaired]) assert.ok(!(r.stdout + r.stderr).includes(KEY_TEXT), 'the key is never printed');
  });

  it('a repair not told of the export\'s pseudonyms refuses to send, with one line and exit 2', async () => {
    const db = demoRegistry(20);
    const out = path.join(tempDir(), 'events.jsonl');
    assert.equal((await runCli(exportTo(db, out, '--pseudonymize', 'token_id,recipient_id', '--pseudonym-key-file', keyFile()))).code, 0);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    fs.writeFileSync(out, lines.slice(1).join('\n') + '\n');
    const before = fs.readFileSync(out);
    const r = await runCli(verify(db, out, '--repair'));
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^oversight: the SIEM holds pseudonyms \(ps1:…\) where the registry's tokens were expected, so --repair sends nothing: give verify the export's --pseudonymize/);
    assert.deepEqual(fs.readFileSync(out), before, 'nothing re-sent');
  });

  it('--verify-every on a pseudonymized export compares the pseudonyms it writes', async () => {
    const db = demoRegistry(30);
    const dir = tempDir();
    const out = path.join(dir, 'events.jsonl');
    const child = spawnCli([
      ...exportTo(db, out, '--pseudonymize', 'token_id', '--pseudonym-key-file', keyFile()),
      '--follow', '--state', path.join(dir, 's.json'), '--verify-every', '200ms', '--settle', '0',
    ]);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    try {
      await waitFor(() => /verified rowids 1-30 /.test(stderr), 20_000, 50);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    }
    const line = stderr.split('\n').find((l) => /verified rowids 1-30 /.test(l))!.replace(/^oversight: /, '');
    assert.equal(counted(line, 'altered'), 0, line);
    assert.equal(counted(line, 'present once'), 30, line);
  });

  it('--help lists the export\'s privacy options and row limit', async () => {
    const help = (await runCli(['siem', 'verify', '--help'])).stdout;
    assert.match(help, /--max-row-bytes <size>/);
    assert.match(help, /Privacy options:\s+--pseudonymize <fields>[\s\S]*--pseudonym-key-file <file>[\s\S]*--ip-prefix <v4,v6>/);
  });

  it('refuses the privacy flags as export does, with one line and exit 2', async () => {
    const db = demoRegistry(3);
    const out = path.join(tempDir(), 'events.jsonl');
    assert.equal((await runCli(exportTo(db, out))).code, 0);
    const r = await runCli(verify(db, out, '--pseudonymize', 'token_id'));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr.trimEnd(), /^oversight: --pseudonymize needs --pseudonym-key-file FILE[^\n]*$/);
  });
});

describe('siem verify: the export\'s row limit', () => {
  it('judges a row over 1 MiB that the export delivered under --max-row-bytes as present, and repairs it', async () => {
    const db = demoRegistry(10);
    lengthenUserAgent(db, 7, 1_100_000);
    const out = path.join(tempDir(), 'events.jsonl');
    assert.equal((await runCli(exportTo(db, out, '--max-row-bytes', '4MiB'))).code, 0);
    const full = fs.readFileSync(out, 'utf8');

    const judged = await runCli(verify(db, out, '--max-row-bytes', '4MiB'));
    assert.equal(judged.code, 0, judged.stderr);
    assert.equal(counted(judged.stderr, 'present once'), 10, judged.stderr);
    // At the default limit the row is one the export would have set aside: its record is not what verify expects.
    const atDefault = await runCli(verify(db, out));
    assert.deepEqual(listed(atDefault.stderr, 'altered'), ['7'], atDefault.stderr);

    fs.writeFileSync(out, full.split('\n').filter((l) => l !== '' && String(JSON.parse(l).event.id) !== '7').join('\n') + '\n');
    const repaired = await runCli(verify(db, out, '--max-row-bytes', '4MiB', '--repair'));
    assert.equal(repaired.code, 0, repaired.stderr);
    assert.deepEqual(fs.readFileSync(out, 'utf8').trim().split('\n').sort(), full.trim().split('\n').sort());
  });

  it('a repair sets a row over the limit aside as the export did, and never sends it', async () => {
    const db = demoRegistry(10);
    lengthenUserAgent(db, 7, 1_100_000);
    const dir = tempDir();
    const out = path.join(dir, 'events.jsonl');
    const dead = path.join(dir, 'dead.jsonl');
    assert.equal((await runCli(exportTo(db, out, '--dead-letter', dead))).code, 0);
    const sent = fs.readFileSync(out, 'utf8');
    assert.equal(sent.trim().split('\n').length, 9);

    // Without a dead-letter file, as the export without one: a stop naming the row and the fix, nothing sent.
    const stopped = await runCli(verify(db, out, '--repair'));
    assert.equal(stopped.code, 2, stopped.stderr);
    assert.match(stopped.stderr, /registry row 7 \(event 7\) holds \d+ bytes, over the 1048576-byte row limit; it was not formatted: pass --dead-letter FILE/);
    assert.equal(fs.readFileSync(out, 'utf8'), sent);

    const again = path.join(dir, 'again.jsonl');
    const repaired = await runCli(verify(db, out, '--repair', '--dead-letter', again));
    assert.equal(repaired.code, 1, repaired.stderr);
    assert.deepEqual(listed(repaired.stderr, 'missing'), ['7'], repaired.stderr);
    assert.equal(fs.readFileSync(out, 'utf8'), sent, 'the row was not sent');
    const letter = JSON.parse(fs.readFileSync(again, 'utf8').trim()) as Record<string, unknown>;
    assert.equal(letter['rowid'], 7);
    assert.equal(letter['status'], 413);
    assert.equal(letter['record'], null);
  });
});
