/** A following export that verifies in the background: the SIEM's silent loss shows on /metrics. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EsPeer } from './peers/elasticsearch.js';
import { demoRegistry, spawnCli, tempDir, waitFor, withPeer } from './helpers.js';

const KEY = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==';

async function gauge(url: string, name: string): Promise<number | null> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

describe('--verify-every', () => {
  it('reports events the SIEM lost after acknowledging them, on /metrics', () => {
    const lost = new Set(['3', '17']);
    return withPeer(
      new EsPeer({
        dataStream: 'logs-oversight.beacon-default', apiKey: KEY,
        lose: (doc, _id, attempt) => attempt === 0 && lost.has(String((doc['event'] as Record<string, unknown>)['id'])),
      }).start(),
      async (peer) => {
        const db = demoRegistry(40);
        const child = spawnCli(
          ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--follow', '--state', path.join(tempDir(), 's.json'),
            '--verify-every', '1s', '--settle', '0', '--metrics-listen', '127.0.0.1:0'],
          { OVERSIGHT_ES_API_KEY: KEY },
        );
        let stderr = '';
        child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        try {
          await waitFor(() => /serving metrics at (\S+)\/metrics/.test(stderr), 10_000);
          const url = /serving metrics at (\S+)\/metrics/.exec(stderr)![1]!;
          let missing: number | null = null;
          await waitFor(() => {
            void gauge(url, 'oversight_verify_missing_events').then((v) => (missing = v));
            return missing === 2;
          }, 20_000, 200);
          assert.equal(missing, 2, stderr);
          assert.equal(await gauge(url, 'oversight_verify_last_success_timestamp_seconds'), 0);
          assert.match(stderr, /verified rowids .* 2 missing/);
        } finally {
          child.kill('SIGTERM');
          await new Promise((r) => child.once('close', r));
        }
      },
    );
  });
});
