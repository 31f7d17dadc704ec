/**
 * Every registered format keeps the record contract, whatever the registry holds: one record per line (valid
 * JSON for JSON formats, no line break inside a text record), one record per event, and a record that went to
 * the dead-letter file comes back byte for byte with `siem replay`. Worker threads and the JSON row read are
 * held to the same bytes in threads.test.ts and row-json.test.ts, over the same registry.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FORMATS } from '../src/records/formats/index.js';
import { Peer } from './peers/peer.js';
import { registryIds, runCli, tempDir, trickyRegistry, withPeer } from './helpers.js';
import { hostileRegistry } from './formats-support.js';

const REGISTRIES = { tricky: trickyRegistry(), hostile: hostileRegistry() };

describe('every format keeps the record contract', () => {
  for (const f of FORMATS) {
    describe(f.name, () => {
      for (const [name, db] of Object.entries(REGISTRIES)) {
        it(`one line per event of the ${name} registry`, async () => {
          const out = path.join(tempDir(), 'out');
          const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'r1', '--format', f.name, '--output', out]);
          assert.equal(r.code, 0, r.stderr);
          const text = fs.readFileSync(out, 'utf8');
          assert.ok(text.endsWith('\n'));
          const lines = text.slice(0, -1).split('\n');
          assert.equal(lines.length, registryIds(db).length);
          for (const line of lines) {
            assert.ok(!line.includes('\r'), 'no carriage return inside a record');
            if (f.records === 'json') assert.equal(typeof JSON.parse(line), 'object');
          }
        });
      }

      it('a dead-lettered record replays byte for byte', async () => {
        const db = REGISTRIES.hostile;
        const dir = tempDir();
        const direct = path.join(dir, 'direct');
        const replayed = path.join(dir, 'replayed');
        const dead = path.join(dir, 'dead.jsonl');
        assert.equal((await runCli(['siem', 'export', '--db', db, '--registry-id', 'r1', '--format', f.name, '--output', direct])).code, 0);
        // A collector that takes nothing: every body is too large, down to single records, which are dead-lettered.
        await withPeer(new Peer(() => ({ status: 413, body: 'too large' })).start(), async (peer) => {
          const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'r1', '--format', f.name, '--output', `${peer.url}/in`, '--dead-letter', dead]);
          assert.equal(r.code, 0, r.stderr);
        });
        const back = await runCli(['siem', 'replay', '--dead-letter', dead, '--output', replayed]);
        assert.equal(back.code, 0, back.stderr);
        assert.ok(fs.readFileSync(replayed).equals(fs.readFileSync(direct)), 'replayed records equal the exported ones');
      });
    });
  }
});
