/**
 * Every registered transport against its fake peer (test/peers/index.ts), through the built CLI: the same
 * promises hold for all of them, and a transport added to the registry without a peer fails here.
 */
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { TRANSPORTS } from '../src/transports/index.js';
import { demoRegistry, registryIds, runCli, tempDir } from './helpers.js';
import { CONFORMANCE, type PeerHandle, type Scenario } from './peers/index.js';

// Distinct event ids: a SIEM that keys records by event id (Elasticsearch) holds each once.
const db = demoRegistry(40);
const N = registryIds(db).length;
const LAST_ROWID = ((): number => {
  const d = new Database(db, { readonly: true });
  try {
    return (d.prepare('SELECT max(rowid) AS m FROM events').get() as { m: number }).m;
  } finally {
    d.close();
  }
})();

async function run(h: PeerHandle, extra: string[] = []): Promise<{ code: number | null; stderr: string; state: string; deadLetter: string }> {
  const dir = tempDir();
  const state = path.join(dir, 'state.json');
  const deadLetter = path.join(dir, 'dead.jsonl');
  const r = await runCli(
    ['siem', 'export', '--db', db, '--registry-id', 'r1', '--state', state, '--dead-letter', deadLetter, '--retry-max-duration', '20s', ...h.args, ...extra],
    { env: h.env ?? {} },
  );
  return { code: r.code, stderr: r.stderr, state, deadLetter };
}

const lines = (file: string): number => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);
const checkpoint = (file: string): number => (fs.existsSync(file) ? Number((JSON.parse(fs.readFileSync(file, 'utf8')) as { last_rowid: number }).last_rowid) : 0);

const EXPECT: Record<Scenario, (h: PeerHandle, r: Awaited<ReturnType<typeof run>>) => void> = {
  retry: (h, r) => {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(h.held(), N, 'every event delivered after the retry');
    assert.match(r.stderr, /retried|retry/i);
  },
  auth: (h, r) => {
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(h.held(), 0);
    assert.equal(checkpoint(r.state), 0, 'nothing checkpointed');
  },
  refuse: (h, r) => {
    assert.equal(r.code, 0, r.stderr);
    const dead = lines(r.deadLetter);
    assert.ok(dead >= 1, 'the refused record is in the dead-letter file');
    assert.equal(h.held() + dead, N, 'every other record delivered');
    assert.match(r.stderr, /dead-lettered/);
  },
  'too-large': (h, r) => {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(h.held(), N, 'the halves went through');
    assert.equal(lines(r.deadLetter), 0);
  },
};

describe('every transport keeps the delivery promises', () => {
  it('every registered transport has a peer in the conformance table', () => {
    for (const t of TRANSPORTS) assert.ok(CONFORMANCE[t.name], `${t.name} has no peer in test/peers/index.ts`);
  });

  for (const t of TRANSPORTS.filter((x) => x.local !== 'stdout')) {
    describe(t.name, () => {
      it('delivers every event once and checkpoints the last', async () => {
        const h = await CONFORMANCE[t.name]!();
        try {
          const r = await run(h);
          assert.equal(r.code, 0, r.stderr);
          assert.equal(h.held(), N);
          assert.equal(checkpoint(r.state), LAST_ROWID);
        } finally {
          await h.close();
        }
      });
      for (const scenario of Object.keys(EXPECT) as Scenario[]) {
        it(scenario, async (ctx) => {
          const h = await CONFORMANCE[t.name]!();
          try {
            const inject = h.inject?.[scenario];
            if (!inject) {
              ctx.skip(`${t.name} has no such answer`);
              return;
            }
            inject();
            EXPECT[scenario](h, await run(h));
          } finally {
            await h.close();
          }
        });
      }
    });
  }
});
