/** Settings are untrusted too: zero waits, world-readable keys and secret variables pointing at anything. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { demoRegistry, runCli, tempDir } from './helpers.js';

const db = demoRegistry(3);
const hec = ['siem', 'export', '--db', db, '--registry-id', 'r', '--output', 'http://127.0.0.1:9/services/collector/event', '--no-preflight'];

describe('hostile settings', () => {
  it('zero or negative durations are refused, not spun on', async () => {
    for (const [flag, value] of [['--splunk-ack-timeout', '0'], ['--timeout', '0s'], ['--poll-interval', '0ms'], ['--retry-max-duration', '-5s']] as const) {
      const r = await runCli([...hec, '--splunk-ack', flag, value], { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: 'tok-1234567' } });
      assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^oversight: ${flag} must be (more than 0|a duration)`), r.stderr);
    }
  });

  it('a pseudonym key others can read is refused, as ssh refuses such a key', async () => {
    const key = path.join(tempDir(), 'key');
    fs.writeFileSync(key, 'k'.repeat(40), { mode: 0o644 });
    fs.chmodSync(key, 0o644);
    const args = ['siem', 'export', '--db', db, '--registry-id', 'r', '--format', 'ecs', '--pseudonymize', 'recipient_id', '--pseudonym-key-file', key];
    const r = await runCli(args);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `oversight: --pseudonym-key-file ${key} can be read by others (mode 644): chmod 600 ${key}\n`);
    fs.chmodSync(key, 0o600);
    assert.equal((await runCli(args)).code, 0);
  });

  it('a secret variable pointing at /dev/zero or a large file fails at once, without reading it all', async () => {
    const big = path.join(tempDir(), 'big');
    fs.writeFileSync(big, 'x'.repeat(200_000));
    for (const [file, why] of [['/dev/zero', /is not a regular file/], [big, /is larger than 65536 bytes/]] as const) {
      const r = await runCli(hec, { env: { OVERSIGHT_SPLUNK_HEC_TOKEN_FILE: file }, timeoutMs: 10_000 });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, why);
    }
  });
});
