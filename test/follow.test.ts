/** Follow mode: rows a second process writes reach the SIEM within about a second; SIGTERM ends cleanly. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, ROOT, spawnCli, tempDir, waitFor } from './helpers.js';

const TOKEN = 'follow-test-token';

/** A second process that inserts `n` rows, one every `gapMs`, printing "<id> <epoch ms>" per commit. */
const WRITER = `
import Database from 'better-sqlite3';
const [db, n, gap] = process.argv.slice(1);
const con = new Database(db);
con.pragma('journal_mode = WAL');
const ins = con.prepare("INSERT INTO events (token_id,kind,source_ip,user_agent,extra,timestamp) VALUES ('live','dns','192.0.2.9','','{}',?)");
for (let i = 0; i < Number(n); i++) {
  const info = ins.run(Math.floor(Date.now() / 1000));
  console.log(info.lastInsertRowid + ' ' + Date.now());
  await new Promise((r) => setTimeout(r, Number(gap)));
}
con.close();
`;

describe('--follow', () => {
  it('delivers each new row within 2 s, and SIGTERM checkpoints and exits 0', async () => {
    const peer = await new HecPeer({ token: TOKEN }).start();
    const arrived = new Map<string, number>();
    const seen = peer.events.push.bind(peer.events);
    peer.events.push = (...items) => {
      for (const e of items) arrived.set(String((e['event'] as Record<string, unknown>)['event_id']), Date.now());
      return seen(...items);
    };
    try {
      const db = demoRegistry(20);
      const state = path.join(tempDir(), 'state.json');
      const exporter = spawnCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--follow', '--state', state],
        { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN });
      let stderr = '';
      exporter.stderr!.on('data', (d) => (stderr += d));
      await waitFor(() => peer.events.length === 20);

      const writer = spawn(process.execPath, ['--input-type=module', '-e', WRITER, db, '15', '150'], { cwd: ROOT });
      let out = '';
      writer.stdout.on('data', (d) => (out += d));
      await new Promise((r) => writer.on('close', r));
      const inserted = out.trim().split('\n').map((l) => l.split(' ') as [string, string]);
      assert.equal(inserted.length, 15);
      await waitFor(() => peer.events.length === 35, 5_000);
      for (const [id, at] of inserted) {
        const lag = arrived.get(id)! - Number(at);
        assert.ok(lag < 2000, `event ${id} took ${lag} ms`);
      }

      exporter.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => exporter.on('close', r));
      assert.equal(code, 0, stderr);
      assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, 35);
      assert.match(stderr, /SIGTERM: finishing the batch in flight/);
      assert.match(stderr, /exported 35 event\(s\)/);
    } finally {
      await peer.close();
    }
  });
});
