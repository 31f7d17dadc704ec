/**
 * One huge row in a backlog: set aside with its reason (dead letter, counted, checkpointed past only once it is
 * on disk), or the export stops with one line naming it; never a worker out of memory or a stalled run.
 * Memory is the child process's own peak (VmHWM).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, jsonLines, registryIds, runCli, tempDir } from './helpers.js';
import { runCliMeasured, setExtra, wideObject } from './rows-support.js';

const BIG_ID = 25_000;

describe('a 10 MB row in a backlog of 50,000', () => {
  const db = demoRegistry(50_000);
  // About 10 MB of extra: 200,000 keys with 40-character values.
  setExtra(db, BIG_ID, wideObject(200_000, 40));
  const base = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'sentinel'];

  it('threads: the row is dead-lettered with its reason, the rest exported, peak RSS under 300 MB', async () => {
    const dir = tempDir();
    const out = path.join(dir, 'out.jsonl');
    const dead = path.join(dir, 'dead.jsonl');
    const state = path.join(dir, 'state.json');
    const r = await runCliMeasured([...base, '--threads', '2', '--output', out, '--dead-letter', dead, '--state', state]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, `exported 49999 event(s) as sentinel (1 dead-lettered to ${dead})\n`);
    const ids = jsonLines(fs.readFileSync(out, 'utf8')).map((x) => x['EventId']);
    assert.deepEqual(ids, registryIds(db).filter((id) => id !== String(BIG_ID)));
    const letters = jsonLines(fs.readFileSync(dead, 'utf8'));
    assert.equal(letters.length, 1);
    assert.equal(letters[0]!['rowid'], BIG_ID);
    assert.equal(letters[0]!['event_id'], String(BIG_ID));
    assert.equal(letters[0]!['status'], 413);
    assert.equal(letters[0]!['record'], null);
    assert.match(String(letters[0]!['error']), /registry row 25000 .* holds \d+ bytes, over the 1048576-byte row limit/);
    const cp = JSON.parse(fs.readFileSync(state, 'utf8'));
    assert.equal(cp.last_rowid, 50_000);
    assert.equal(cp.delivered_total, 50_000);
    assert.ok(r.peakMb > 0 && r.peakMb < 300, `peak RSS ${r.peakMb} MB`);
  });

  it('without a dead-letter file: one line naming the row and the fix, exit 2 (a restart meets it again), everything before it checkpointed', async () => {
    for (const threads of ['1', '2']) {
      const dir = tempDir();
      const out = path.join(dir, 'out.jsonl');
      const state = path.join(dir, 'state.json');
      const r = await runCli([...base, '--threads', threads, '--output', out, '--state', state], { timeoutMs: 60_000 });
      assert.equal(r.code, 2, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /registry row 25000 \(event 25000\) holds \d+ bytes, over the 1048576-byte row limit/);
      assert.match(lines[0]!, /pass --dead-letter FILE .* or raise --max-row-bytes above \d+/);
      assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, BIG_ID - 1, `--threads ${threads}`);
      assert.equal(fs.readFileSync(out, 'utf8').split('\n').length - 1, BIG_ID - 1);
    }
  });

  it('a dead-letter file of /dev/null takes the row, as an output of /dev/null takes records', async () => {
    for (const threads of ['1', '2']) {
      const out = path.join(tempDir(), 'out.jsonl');
      const r = await runCli([...base, '--threads', threads, '--output', out, '--dead-letter', '/dev/null'], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, 'exported 49999 event(s) as sentinel (1 dead-lettered to /dev/null)\n');
    }
  });

  it('with --max-row-bytes raised above it, the row is formatted on a thread within 300 MB', async () => {
    const out = path.join(tempDir(), 'out.jsonl');
    const r = await runCliMeasured([...base, '--threads', '2', '--output', out, '--max-row-bytes', '16MiB']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, 'exported 50000 event(s) as sentinel\n');
    const text = fs.readFileSync(out, 'utf8');
    const big = text.split('\n')[BIG_ID - 1]!;
    const extra = JSON.parse(JSON.parse(big)['ExtraJson'] as string) as Record<string, string>;
    assert.equal(Object.keys(extra).length, 200_000);
    assert.ok(r.peakMb > 0 && r.peakMb < 300, `peak RSS ${r.peakMb} MB`);
  });
});

describe('a row over the limit on its way to a SIEM', () => {
  it('is dead-lettered in its place: the SIEM gets every other row in order, the checkpoint passes it', async () => {
    const db = demoRegistry(600);
    setExtra(db, 300, wideObject(5_000, 300));
    const dir = tempDir();
    const dead = path.join(dir, 'dead.jsonl');
    const state = path.join(dir, 'state.json');
    const peer = await new HecPeer({ token: 'tok-rows' }).start();
    try {
      const r = await runCli(
        ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--dead-letter', dead, '--state', state, '--batch-size', '50'],
        { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: 'tok-rows' } },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /exported 599 event\(s\) as splunk via splunk-hec \(1 dead-lettered/);
      assert.deepEqual(peer.eventIds(), registryIds(db).filter((id) => id !== '300'));
      assert.deepEqual(jsonLines(fs.readFileSync(dead, 'utf8')).map((l) => [l['rowid'], l['status'], l['record']]), [[300, 413, null]]);
      assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, 600);
      // Such a dead letter has no record to send again: replay says so, and how to replay the rest.
      const replay = await runCli(['siem', 'replay', '--dead-letter', dead, '--output', peer.url], { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: 'tok-rows' } });
      assert.equal(replay.code, 2);
      assert.match(replay.stderr.trim(), /^oversight: dead-letter file .*, line 1: registry row 300 was set aside unformatted .*select\(\.record != null\)/);
    } finally {
      await peer.close();
    }
  });

  it('--max-row-bytes that is not a size is refused with one line, exit 2', async () => {
    const r = await runCli(['siem', 'export', '--db', demoRegistry(3), '--registry-id', 'reg', '--max-row-bytes', '1 GB']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^oversight: --max-row-bytes must be a size from 1KiB to 256MiB such as 1048576 or 4MiB, not '1 GB'\n$/);
  });
});
