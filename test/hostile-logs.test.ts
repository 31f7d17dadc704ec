/**
 * What the exporter writes and how it stops cannot be turned against its operator: a peer's answer cannot forge
 * or colour log lines or get a secret echoed back in another encoding printed; outputs are private unless asked;
 * SIGUSR1 opens no inspector; SIGHUP stops cleanly; a FIFO nobody reads does not make it deaf to SIGTERM.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FIRST_RANGE } from '../src/pipeline/format-workers.js';
import { HecPeer } from './peers/splunk-hec.js';
import { CLI, demoRegistry, jsonLines, outcome, registryIds, runCli, sleep, spawnCli, tempDir, waitFor, withPeer, type CliResult } from './helpers.js';

// Characters that URL-encoding and base64 both change, so each encoding is a distinct string to find.
const TOKEN = 'hec/Tok+en=42&s3cr3t?x';

describe('logs a peer cannot forge', () => {
  it("a hostile answer's newlines, ANSI escapes and re-encoded secrets never reach stderr as such", () =>
    withPeer(new HecPeer({ token: TOKEN }).start(), async (peer) => {
      const header = `Splunk ${TOKEN}`;
      const echoed = [
        TOKEN, encodeURIComponent(TOKEN), encodeURIComponent(TOKEN).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()), Buffer.from(header).toString('base64'),
        Buffer.from(TOKEN).toString('base64'), Buffer.from(TOKEN).toString('base64url'), encodeURIComponent(header),
      ];
      const text = `Invalid token\noversight: exported 2000 event(s)\r\u001b[2K\u001b[32mok\u001b[0m\u2028 you sent: ${echoed.join('|')}`;
      peer.peer.faults.push({ status: 403, body: JSON.stringify({ text, code: 4 }) }, { status: 403, body: JSON.stringify({ text, code: 4 }) });
      const db = demoRegistry(10);
      const args = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--retry-max-duration', '5s'];
      const r = await runCli(args, { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN } });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.split('\n').filter((l) => l !== '').length, 1, `one line: ${JSON.stringify(r.stderr)}`);
      assert.doesNotMatch(r.stderr, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/, 'no control character is written raw');
      // Line breaks in a quoted answer become spaces; terminal controls are shown escaped.
      assert.match(r.stderr, /^oversight: Splunk HEC answered HTTP 403 code 4: Invalid token oversight: exported 2000 event\(s\) \\x1b\[2K\\x1b\[32mok\\x1b\[0m you sent: /);
      for (const form of [...echoed, 's3cr3t']) assert.ok(!r.stderr.includes(form), `masked: ${form}`);
      assert.match(r.stderr, /you sent: \*\*\*\|\*\*\*\|\*\*\*\|\*\*\*\|\*\*\*\|\*\*\*\|\*\*\* \(check OVERSIGHT_SPLUNK_HEC_TOKEN/);

      const json = await runCli([...args, '--log-format', 'json'], { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN } });
      assert.equal(json.code, 1);
      const lines = jsonLines(json.stderr);
      assert.equal(lines.length, 1);
      assert.match(String(lines[0]!['message']), /^Splunk HEC answered HTTP 403 code 4: Invalid token oversight: exported .* you sent: \*\*\*\|/);
      for (const form of echoed) assert.ok(!json.stderr.includes(form), `masked in JSON: ${form}`);
      assert.doesNotMatch(json.stderr, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/);
    }));
});

/** The CLI under `umask 000`, the worst case for files it creates. */
function runUnderUmask000(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const clean = { ...process.env };
    for (const k of Object.keys(clean)) if (/^(OVERSIGHT_|AZURE_)/.test(k)) delete clean[k];
    const child = spawn('/bin/sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, CLI, ...args], { env: { ...clean, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const mode = (file: string): string => (fs.statSync(file).mode & 0o7777).toString(8).padStart(4, '0');

describe('files the export creates', () => {
  it('--output files are 0600 even under umask 000, --output-mode widens them on request and is checked', async () => {
    const db = demoRegistry(5);
    const dir = tempDir();
    const plain = path.join(dir, 'events.jsonl');
    const r = await runUnderUmask000(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', plain]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(mode(plain), '0600');
    assert.equal(fs.readFileSync(plain, 'utf8').split('\n').filter(Boolean).length, 5);

    const shared = path.join(dir, 'shared.jsonl');
    const s = await runUnderUmask000(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', shared, '--output-mode', '0640']);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(mode(shared), '0640');

    for (const bad of ['644x', '4755', '0o600', '999', '']) {
      const b = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', path.join(dir, 'bad.jsonl'), '--output-mode', bad]);
      assert.equal(b.code, 2, `${bad}: ${b.stderr}`);
      const why = bad === '' ? '--output-mode is empty: give it a value, or leave it out' : `--output-mode must be octal permission bits such as 0600 or 0640, not '${bad}'`;
      assert.deepEqual(outcome(b.stderr), [`oversight: ${why}`]);
      assert.ok(!fs.existsSync(path.join(dir, 'bad.jsonl')), 'nothing written');
    }
  });

  it('dead-letter files are 0600 under umask 000', () =>
    withPeer(new HecPeer({ token: TOKEN, rejectEvent: (e) => String((e['event'] as Record<string, unknown>)['event_id']) === '3' }).start(), async (peer) => {
      const db = demoRegistry(5);
      const dl = path.join(tempDir(), 'dead.jsonl');
      const r = await runUnderUmask000(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--dead-letter', dl],
        { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(peer.events.length, 4);
      assert.equal(mode(dl), '0600');
    }));
});

describe('signals', () => {
  it('SIGUSR1 opens no inspector; SIGHUP stops a follower cleanly with a line saying so', () =>
    withPeer(new HecPeer({ token: TOKEN }).start(), async (peer) => {
      const db = demoRegistry(20);
      const child = spawnCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--follow',
        '--state', path.join(tempDir(), 'state.json')], { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const closed = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('close', (c, s) => r([c, s])));
      try {
        await waitFor(() => peer.events.length === 20, 15_000);
        child.kill('SIGUSR1');
        await sleep(500);
        assert.equal(child.exitCode, null, 'still running');
        assert.doesNotMatch(stderr, /Debugger listening|inspector/i);
        child.kill('SIGHUP');
        const [code, signal] = await closed;
        assert.deepEqual([code, signal], [0, null], stderr);
        assert.match(stderr, /^oversight: SIGHUP: finishing the batch in flight for up to 10s and sending nothing new/m);
        assert.deepEqual(peer.eventIds(), registryIds(db));
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }));

  it('a FIFO --output with no reader still honours SIGTERM', async () => {
    const db = demoRegistry(10);
    const fifo = path.join(tempDir(), 'events.fifo');
    execFileSync('mkfifo', [fifo]);
    const child = spawnCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', fifo, '--shutdown-timeout', '1s']);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('close', (c, s) => r([c, s])));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    try {
      await sleep(1500);
      assert.equal(child.exitCode, null, `waiting for a reader: ${stderr}`);
      child.kill('SIGTERM');
      const [code, signal] = await closed;
      assert.equal(signal, null, 'it left by itself, not by SIGKILL');
      assert.equal(code, 143, stderr);
      assert.match(stderr, /^oversight: SIGTERM: finishing the batch in flight/m);
      assert.match(stderr, /stopped: 10 event\(s\) left unsent \(rowids 1–10\)/);
    } finally {
      clearTimeout(killer);
    }
  });

  it('a threaded export to a FIFO with no reader retries, then gives up without moving the checkpoint', async () => {
    const db = demoRegistry(5_000);
    const dir = tempDir();
    const fifo = path.join(dir, 'events.fifo');
    const state = path.join(dir, 'state.json');
    execFileSync('mkfifo', [fifo]);
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', fifo, '--state', state,
      '--threads', '2', '--retry-max-duration', '2s']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /retrying in \S+: no process reads the named pipe/);
    // The first chunk, the threads' first range.
    assert.match(r.stderr, new RegExp(`gave up on ${FIRST_RANGE} event\\(s\\) for file .*--retry-max-duration`));
    assert.equal(fs.existsSync(state), false, 'nothing was written, so nothing is checkpointed');
  });

  it('a FIFO --output gets every record once a reader comes', async () => {
    const db = demoRegistry(10);
    const dir = tempDir();
    const fifo = path.join(dir, 'events.fifo');
    execFileSync('mkfifo', [fifo]);
    const run = runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', fifo]);
    await sleep(1000);
    const reader = spawn('cat', [fifo]);
    let got = '';
    reader.stdout.setEncoding('utf8').on('data', (d: string) => (got += d));
    const readerDone = new Promise((res) => reader.on('close', res));
    const r = await run;
    await readerDone;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /retrying in \S+: no process reads the named pipe/);
    assert.deepEqual(jsonLines(got).map((e) => String((e['event'] as Record<string, unknown>)['id'])), registryIds(db));
  });
});
