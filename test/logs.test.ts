/** --log-format json: every stderr line one JSON object a log shipper can read, secrets masked as in text. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Peer } from './peers/peer.js';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, runCli, spawnCli, tempDir, waitFor, withPeer } from './helpers.js';

const TOKEN = 'logs-test-token-9b2e41';

function records(stderr: string): Record<string, unknown>[] {
  const lines = stderr.split('\n').filter((l) => l !== '');
  assert.ok(lines.length > 0, 'no log lines');
  return lines.map((l) => {
    const r = JSON.parse(l) as Record<string, unknown>;
    assert.ok(!Number.isNaN(Date.parse(String(r['time']))) && String(r['time']).endsWith('Z'), l);
    assert.ok(['info', 'warn', 'error'].includes(String(r['level'])), l);
    assert.equal(typeof r['message'], 'string', l);
    return r;
  });
}

describe('--log-format json', () => {
  it('writes retries with transport, status, attempt and rowid range, and the outcome, as JSON lines', () =>
    withPeer(new HecPeer({ token: TOKEN }).start(), async (peer) => {
      peer.peer.faults.push({ status: 429, body: '{"text":"Server is busy","code":9}', headers: { 'retry-after': '0' } });
      const db = demoRegistry(30);
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--batch-size', '10', '--log-format', 'json'],
        { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN } });
      assert.equal(r.code, 0, r.stderr);
      const logs = records(r.stderr);
      assert.equal(logs.length, 2, r.stderr);
      const { time: _t, message, ...retry } = logs[0]!;
      assert.match(String(message), /^retrying in \d+\.\ds: Splunk HEC answered HTTP 429 code 9: Server is busy$/);
      assert.deepEqual({ ...retry, delay_ms: typeof retry['delay_ms'] }, {
        level: 'warn', transport: 'splunk-hec', attempt: 1, delay_ms: 'number', status: 429, events: 10, first_rowid: 1, last_rowid: 10,
      });
      const { time: _u, ...done } = logs[1]!;
      assert.deepEqual(done, {
        level: 'info', message: 'exported 30 event(s) as splunk via splunk-hec (1 retried request(s))',
        exported: 30, dead_lettered: 0, retries: 1, last_rowid: 30,
      });
      assert.ok(!r.stderr.includes(TOKEN));
    }));

  it('writes a failure as one error record, with a secret the SIEM echoed masked', () =>
    withPeer(new Peer((req) => ({ status: 400, body: `{"error":"bad credentials ${String(req.headers['authorization'])}"}` })).start(), async (peer) => {
      const db = demoRegistry(5);
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', `${peer.url}/ingest`,
        '--header', `Authorization: Bearer ${TOKEN}`, '--log-format', 'json']);
      assert.equal(r.code, 1, r.stderr);
      const logs = records(r.stderr);
      assert.equal(logs.length, 1, r.stderr);
      assert.equal(logs[0]!['level'], 'error');
      assert.match(String(logs[0]!['message']), /answered HTTP 400: \{"error":"bad credentials \*\*\*"\}/);
      assert.ok(!r.stderr.includes(TOKEN));
    }));

  it('reports a stop with the unsent count and rowid range as fields', () =>
    withPeer(new HecPeer({ token: TOKEN }).start(), async (peer) => {
      for (let i = 0; i < 100; i++) peer.peer.faults.push({ status: 503, body: '{"text":"Server is busy","code":9}' });
      const db = demoRegistry(12);
      const child = spawnCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--follow', '--log-format', 'json',
        '--state', path.join(tempDir(), 'state.json')], { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      await waitFor(() => stderr.includes('retrying in'), 15_000);
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => child.on('close', r));
      assert.equal(code, 0, stderr);
      const logs = records(stderr);
      const stop = logs.find((l) => l['signal'] === 'SIGTERM');
      assert.equal(stop?.['level'], 'info');
      assert.equal(stop?.['shutdown_timeout_s'], 10);
      const unsent = logs.find((l) => String(l['message']).startsWith('stopped:'));
      assert.deepEqual({ level: unsent?.['level'], unsent: unsent?.['unsent'], first: unsent?.['first_rowid'], last: unsent?.['last_rowid'] },
        { level: 'info', unsent: 12, first: 1, last: 12 });
    }));

  it('writes mistakes in the options as one error record too, whether --log-format or its variable asks for JSON', async () => {
    const db = demoRegistry(3);
    const base = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', path.join(tempDir(), 'out.jsonl')];
    const cases: { args: string[]; env?: NodeJS.ProcessEnv; message: RegExp }[] = [
      { args: [...base, '--batch-size', '0', '--log-format', 'json'], message: /^--batch-size must be a whole number of at least 1, not '0'$/ },
      { args: [...base, '--batch-size', '0'], env: { OVERSIGHT_LOG_FORMAT: 'json' }, message: /^--batch-size must be a whole number of at least 1/ },
      // Commander's own errors, found before any command runs.
      { args: [...base, '--log-format=json', '--batch-sise', '5'], message: /^unknown option '--batch-sise' \(Did you mean --batch-size\?\)$/ },
      { args: [...base, '--batch-size'], env: { OVERSIGHT_LOG_FORMAT: 'json' }, message: /^option '--batch-size <n>' argument missing$/ },
      { args: ['siem', 'verify', '--db', db, '--registry-id', 'reg', '--window'], env: { OVERSIGHT_LOG_FORMAT: 'json' }, message: /argument missing$/ },
    ];
    for (const c of cases) {
      const r = await runCli(c.args, c.env ? { env: c.env } : {});
      assert.equal(r.code, 2, r.stderr);
      const logs = records(r.stderr);
      assert.equal(logs.length, 1, r.stderr);
      assert.equal(logs[0]!['level'], 'error');
      assert.match(String(logs[0]!['message']), c.message);
    }
    // The flag wins over the variable, as for every option.
    const text = await runCli([...base, '--batch-size', '0', '--log-format', 'text'], { env: { OVERSIGHT_LOG_FORMAT: 'json' } });
    assert.equal(text.code, 2);
    assert.equal(text.stderr, "oversight: --batch-size must be a whole number of at least 1, not '0'\n");
  });

  it('keeps the text lines as they were by default', async () => {
    const db = demoRegistry(3);
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', path.join(tempDir(), 'out.jsonl')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, 'exported 3 event(s) as ecs\n');
  });
});
