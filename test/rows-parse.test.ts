/**
 * Rows whose `extra` has hundreds of thousands of keys: parsed in linear time (the export finishes well within
 * the kill timer; quadratic parsing took over a minute a row), with Python's duplicate-key rule intact, and a
 * SIGTERM while such rows are formatted is honoured at once.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { transcodePython } from '../src/registry/pyjson.js';
import { demoRegistry, jsonLines, runCli, spawnCli, tempDir, waitFor } from './helpers.js';
import { setExtra } from './rows-support.js';

const KEYS = 200_000;

/** `extra` with KEYS distinct keys, then every tenth key again with a new value. */
function manyKeys(): { text: string; python: string } {
  const first: string[] = [];
  const again: string[] = [];
  const python: string[] = [];
  for (let i = 0; i < KEYS; i++) {
    first.push(`"k${i}": ${i}`);
    if (i % 10 === 0) again.push(`"k${i}": "x${i}"`);
    // Python's dict keeps the first position of a key and its last value; json.dumps writes it compact.
    python.push(i % 10 === 0 ? `"k${i}":"x${i}"` : `"k${i}":${i}`);
  }
  return { text: '{' + [...first, ...again].join(', ') + '}', python: '{' + python.join(',') + '}' };
}

describe('rows with 200,000 keys in extra', () => {
  const { text, python } = manyKeys();

  it('transcode to exactly what Python writes', () => {
    assert.equal(transcodePython(text)?.text, python);
  });

  it('export in bounded time with the bytes Python would write', async () => {
    const db = demoRegistry(5);
    setExtra(db, 3, text);
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'sentinel', '--max-row-bytes', '8MiB'],
      { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    const rows = jsonLines(r.stdout);
    assert.equal(rows.length, 5);
    assert.equal(rows[2]!['ExtraJson'], python);
  });

  it('SIGTERM while such rows are being formatted stops the export at once, with a checkpoint of what was written', async () => {
    const db = demoRegistry(16);
    for (let id = 1; id <= 16; id++) setExtra(db, id, text);
    const dir = tempDir();
    const out = path.join(dir, 'out.jsonl');
    const state = path.join(dir, 'state.json');
    const child = spawnCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--max-row-bytes', '8MiB',
      '--threads', '1', '--output', out, '--state', state, '--max-batch-events', '1']);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('close', (c, s) => r([c, s])));
    await waitFor(() => fs.existsSync(state), 15_000);
    child.kill('SIGTERM');
    const [code, signal] = await closed;
    clearTimeout(killer);
    assert.equal(signal, null, 'ended by SIGTERM handling, not killed');
    assert.equal(code, 143, stderr);
    const written = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).length;
    assert.ok(written < 16, `${written} rows written`);
    assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, written);
    assert.match(stderr, /--state/);
  });
});
