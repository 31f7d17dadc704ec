/** Large local exports read and format on worker threads: the bytes written and the checkpoints are the same. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { demoRegistry, registryIds, runCli, spawnCli, tempDir, waitFor } from './helpers.js';

describe('worker threads for large exports', () => {
  const db = demoRegistry(60_000);

  for (const fmt of ['ecs', 'splunk', 'sentinel']) {
    it(`${fmt}: two threads write byte for byte what one thread writes`, async () => {
      const dir = tempDir();
      const one = path.join(dir, 'one.jsonl');
      const two = path.join(dir, 'two.jsonl');
      const base = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', fmt, '--splunk-index', 'sec'];
      assert.equal((await runCli([...base, '--output', one, '--threads', '1'])).code, 0);
      const r = await runCli([...base, '--output', two, '--threads', '2']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, `exported 60000 event(s) as ${fmt}\n`);
      assert.ok(fs.readFileSync(one).equals(fs.readFileSync(two)));
    });
  }

  it('--since and a checkpoint are honoured on threads too', async () => {
    const dir = tempDir();
    const state = path.join(dir, 'state.json');
    const out = path.join(dir, 'out.jsonl');
    const single = path.join(dir, 'single.jsonl');
    const args = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'sentinel', '--since', '1764000000'];
    assert.equal((await runCli([...args, '--output', single, '--threads', '1'])).code, 0);
    const r = await runCli([...args, '--output', out, '--state', state, '--threads', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.readFileSync(single).equals(fs.readFileSync(out)));
    assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, 60_000);
  });

  it('kill -9 during a threaded export to a file, then a restart: every event is in the file', async () => {
    const dir = tempDir();
    const state = path.join(dir, 'state.json');
    const out = path.join(dir, 'out.jsonl');
    const args = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'sentinel', '--output', out, '--state', state, '--threads', '2'];
    const child = spawnCli(args);
    await waitFor(() => fs.existsSync(state), 20_000, 2);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const r = await runCli(args);
    assert.equal(r.code, 0, r.stderr);
    const lines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
    const ids = lines.map((l) => (JSON.parse(l) as { EventId: string }).EventId);
    assert.deepEqual([...new Set(ids)].sort(), registryIds(db).sort());
  });
});
