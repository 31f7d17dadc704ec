/**
 * The operator's side: exit codes an init system can act on, one exporter per state file, a registry that
 * cannot be opened yet, and the messages a person reads first.
 */
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EXIT } from '../src/cli/exit.js';
import { CLI, demoRegistry, ROOT, runCli, spawnCli, tempDir, waitFor } from './helpers.js';

function collect(child: ChildProcess): () => string {
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return () => err;
}

const closed = (child: ChildProcess): Promise<number | null> => new Promise((r) => child.once('close', (code) => r(code)));
const lines = (file: string): number => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);

describe('exit codes an init system can act on', () => {
  it('the unit restarts on 1 and never on 2, as the exit codes mean', () => {
    const unit = fs.readFileSync(path.join(ROOT, 'contrib/systemd/oversight-siem@.service'), 'utf8');
    assert.match(unit, /^Restart=on-failure$/m);
    assert.equal(/^RestartPreventExitStatus=(\d+)$/m.exec(unit)?.[1], String(EXIT.usage));
    assert.equal(EXIT.failure, 1);
  });

  it('bare `oversight` prints the help and exits 2', async () => {
    const r = await runCli([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Usage: oversight/);
  });

  it('a typo keeps its suggestion on the one line', async () => {
    const r = await runCli(['siem', 'export', '--formt', 'ecs']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "error: unknown option '--formt' (Did you mean --format?)\n");
  });

  it('an unknown option given as --name=value is named without its value, and still gets its suggestion', async () => {
    const cases: [string[], string][] = [
      [['siem', 'export', '--headers=Authorization: Bearer LeakMe12345'], "error: unknown option '--headers' (Did you mean --header?)\n"],
      [['siem', 'export', '--hec-token=LeakMe12345'], "error: unknown option '--hec-token'\n"],
      [['siem', 'export', '-HAuthorization: Bearer LeakMe12345'], "error: unknown option '-H'\n"],
      [['siem', 'export', '--quiet=LeakMe12345'], "error: option '--quiet' takes no value: write it without '=…'\n"],
      [['siem', 'setup', 'elasticsearch', '--url', 'https://localhost:9200', '--heder=Authorization: ApiKey LeakMe12345'], "error: unknown option '--heder' (Did you mean --header?)\n"],
    ];
    for (const [args, stderr] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, stderr);
    }
  });

  it('host:port without a scheme is refused with the fix, not taken as a file', async () => {
    const r = await runCli(['siem', 'export', '--db', demoRegistry(2), '--registry-id', 'r', '--format', 'ecs', '--output', '127.0.0.1:8088']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^oversight: --output 127\.0\.0\.1:8088 looks like host:port without a scheme: write the URL, e\.g\. https:\/\/127\.0\.0\.1:8088/);
    assert.equal(fs.existsSync('127.0.0.1:8088'), false);
  });

  it('every missing Azure variable is named at once', async () => {
    const r = await runCli(['siem', 'export', '--db', demoRegistry(2), '--registry-id', 'r', '--no-preflight', '--output',
      'https://dce.example.ingest.monitor.azure.com/dataCollectionRules/dcr-0123456789abcdef0123456789abcdef/streams/Custom-Oversight_CL'], { env: { AZURE_CLIENT_ID: 'x' } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /needs AZURE_TENANT_ID, AZURE_CLIENT_SECRET in the environment/);
  });
});

/** Why the unprivileged run cannot be made here, or false when it can. */
function unprivileged(): string | false {
  if (process.getuid?.() !== 0 || !fs.existsSync('/usr/bin/setpriv')) return 'needs root and setpriv';
  const r = spawnSync('/usr/bin/setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(CLI)})`]);
  return r.status === 0 ? false : `user nobody cannot read ${CLI} (the checkout is in a private folder)`;
}

describe('follow mode', () => {
  it('says what it does when it starts, and warns that without --state a restart resends everything', async () => {
    const out = path.join(tempDir(), 'out.jsonl');
    const child = spawnCli(['siem', 'export', '--db', demoRegistry(3), '--registry-id', 'r', '--format', 'ecs', '--output', out, '--follow']);
    const err = collect(child);
    await waitFor(() => /following/.test(err()) && lines(out) === 3);
    child.kill('SIGTERM');
    assert.equal(await closed(child), 0);
    assert.match(err(), /--follow without --state: a restart sends every event again from the first; give it --state FILE/);
    assert.match(err(), /oversight-siem \S+: following .* as ecs to .*out\.jsonl, from the first event$/m);
    assert.match(err(), /stopped: every event read was delivered/);
  });

  it('names the rowid it resumes after when its state file has a checkpoint', async () => {
    const db = demoRegistry(3);
    const dir = tempDir();
    const args = ['siem', 'export', '--db', db, '--registry-id', 'r', '--format', 'ecs', '--output', path.join(dir, 'out.jsonl'), '--state', path.join(dir, 'state.json')];
    assert.equal((await runCli(args)).code, 0);
    const child = spawnCli([...args, '--follow']);
    const err = collect(child);
    await waitFor(() => /following/.test(err()));
    child.kill('SIGTERM');
    assert.equal(await closed(child), 0);
    assert.match(err(), /following .* as ecs to .*out\.jsonl, after rowid 3 \(--state .*state\.json\)$/m);
  });

  it('a second exporter on a held state file exits 1 naming the holder; after kill -9 of the first a new one starts at once', async () => {
    const db = demoRegistry(20);
    const dir = tempDir();
    const state = path.join(dir, 'state.json');
    const args = (out: string): string[] => ['siem', 'export', '--db', db, '--registry-id', 'r', '--format', 'ecs', '--output', path.join(dir, out), '--state', state];
    const first = spawnCli([...args('a.jsonl'), '--follow']);
    const err = collect(first);
    await waitFor(() => /following/.test(err()) && lines(path.join(dir, 'a.jsonl')) === 20);
    const second = await runCli(args('b.jsonl'));
    assert.equal(second.code, 1);
    assert.equal(second.stderr, `oversight: state file ${state} is in use by another exporter (pid ${first.pid}): stop it first, or give this one its own --state\n`);
    assert.equal(fs.existsSync(path.join(dir, 'b.jsonl')), false, 'the second wrote nothing');
    first.kill('SIGKILL');
    await closed(first);
    const third = await runCli(args('c.jsonl'));
    assert.equal(third.code, 0, third.stderr);
    assert.equal(third.stderr, 'exported 0 event(s) as ecs\n');
  });

  it('as an unprivileged user, waits for an idle WAL registry in a root-owned folder and exports it once its server opens it', { skip: unprivileged() }, async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'oversight-registry-'));
    fs.chmodSync(home, 0o755);
    const db = path.join(home, 'registry.sqlite');
    fs.copyFileSync(demoRegistry(25), db);
    const w = new Database(db);
    w.pragma('journal_mode = WAL');
    w.close();
    fs.chmodSync(db, 0o644);
    assert.equal(fs.existsSync(`${db}-wal`), false, 'the registry is idle: no WAL files');
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'oversight-out-'));
    fs.chmodSync(outDir, 0o777);
    const out = path.join(outDir, 'out.jsonl');
    const child = spawn('/usr/bin/setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, CLI,
      'siem', 'export', '--db', db, '--registry-id', 'r', '--format', 'ecs', '--output', out, '--follow', '--poll-interval', '100ms'], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/nonexistent' }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    const err = collect(child);
    try {
      await waitFor(() => /waiting for it \(follow mode\)/.test(err()), 15_000);
      assert.equal(child.exitCode, null, 'still running');
      // The registry's server starts: its connection creates the WAL files a reader needs.
      const server = new Database(db);
      server.pragma('journal_mode = WAL');
      try {
        await waitFor(() => lines(out) === 25, 30_000, 100);
      } finally {
        server.close();
      }
      assert.match(err(), /registry .* opened/);
    } finally {
      child.kill('SIGTERM');
      await closed(child);
      fs.rmSync(home, { recursive: true, force: true });
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  });
});

describe('demo', () => {
  it('leaves no temporary folder behind when its reader goes away', () => {
    const before = new Set(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('oversight-demo-')));
    const r = spawnSync('bash', ['-c', `node ${CLI} demo --events 2000 | head -n 1 > /dev/null`], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const after = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('oversight-demo-') && !before.has(f));
    assert.deepEqual(after, []);
  });

  it('checks every option before writing anything, and caps --events at 10 million', async () => {
    const tmp = tempDir();
    const kept = path.join(tempDir(), 'kept.sqlite');
    const cases: [string[], RegExp][] = [
      [['--format', 'bogus'], /^oversight: unknown SIEM format 'bogus' \(choices: [a-z, ]+\)\n$/],
      [['--events', '99999999999'], /^oversight: --events must be a whole number from 1 to 10000000 \(10 million\), not '99999999999'\n$/],
      [['--db', kept, '--events', '10000001'], /^oversight: --events must be a whole number from 1 to 10000000/],
      [['--db', kept, '--output', 'ftp://siem.example/x'], /^oversight: .*only http:\/\/ and https:\/\/ URLs/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['demo', ...args], { env: { TMPDIR: tmp } });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
      assert.deepEqual(fs.readdirSync(tmp), [], `${args.join(' ')}: no temporary registry`);
      assert.equal(fs.existsSync(kept), false);
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`removes the unfinished registry on ${signal}, and exits 128 + the signal`, async () => {
      const tmp = tempDir();
      const child = spawnCli(['demo', '--events', '10000000'], { TMPDIR: tmp });
      const err = collect(child);
      const file = (): string | null => {
        const dir = fs.readdirSync(tmp).find((f) => f.startsWith('oversight-demo-'));
        return dir && fs.existsSync(path.join(tmp, dir, 'registry.sqlite')) ? path.join(tmp, dir, 'registry.sqlite') : null;
      };
      await waitFor(() => file() !== null, 15_000);
      child.kill(signal);
      assert.equal(await closed(child), signal === 'SIGTERM' ? 143 : 130, err());
      assert.deepEqual(fs.readdirSync(tmp), []);
      assert.match(err(), new RegExp(`^oversight: stopped by ${signal} before the demo registry was complete: .*registry\\.sqlite was removed\n$`));
    });
  }

  it('removes an unfinished --db registry on SIGTERM', async () => {
    const dir = tempDir();
    const db = path.join(dir, 'demo.sqlite');
    const child = spawnCli(['demo', '--db', db, '--events', '10000000']);
    const err = collect(child);
    await waitFor(() => fs.existsSync(db), 15_000);
    child.kill('SIGTERM');
    assert.equal(await closed(child), 143, err());
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});

describe('shell completion', () => {
  it('completes commands and every flag, those of formats and transports included', async () => {
    const r = await runCli(['completion', 'bash']);
    assert.equal(r.code, 0, r.stderr);
    const file = path.join(tempDir(), 'oversight.bash');
    fs.writeFileSync(file, r.stdout);
    const complete = (...words: string[]): string[] => {
      const script = `source ${file}; COMP_WORDS=(oversight ${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length}; _oversight; printf '%s\\n' "\${COMPREPLY[@]}"`;
      return spawnSync('bash', ['-c', script], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    };
    assert.deepEqual(complete('siem', 'ver'), ['verify']);
    assert.deepEqual(complete('siem', 'export', '--db', 'x.sqlite', '--otlp-'), ['--otlp-encoding']);
    assert.ok(complete('siem', 'export', '--').includes('--registry-id'));
    const zsh = await runCli(['completion', 'zsh']);
    assert.match(zsh.stdout, /bashcompinit/);
    const fish = await runCli(['completion', 'fish']);
    assert.equal(fish.code, 2);
    assert.match(fish.stderr, /completion for fish is not available: choose bash or zsh/);
  });
});

describe('help and requests', () => {
  it('siem export --help groups its options, gives examples and names every secret variable', async () => {
    const r = await runCli(['siem', 'export', '--help']);
    assert.equal(r.code, 0);
    for (const heading of ['Options:', 'Service options (follow mode, state, metrics):', 'Privacy options:', 'splunk-hec options:', 'Examples:']) {
      assert.ok(r.stdout.includes(heading), heading);
    }
    for (const v of ['OVERSIGHT_SPLUNK_HEC_TOKEN', 'OVERSIGHT_ES_API_KEY', 'OVERSIGHT_SENTINEL_SHARED_KEY', 'AZURE_CLIENT_SECRET']) {
      assert.match(r.stdout, new RegExp(`${v} \\(or ${v}_FILE\\)`));
    }
  });

  it('every request says what sent it', async () => {
    const { HecPeer } = await import('./peers/splunk-hec.js');
    const { VERSION } = await import('../src/shared/version.js');
    const peer = await new HecPeer({ token: 't0ken-123456' }).start();
    try {
      const r = await runCli(['siem', 'export', '--db', demoRegistry(3), '--registry-id', 'r', '--output', peer.url], { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: 't0ken-123456' } });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(peer.peer.requests.length > 0);
      for (const q of peer.peer.requests) assert.equal(q.headers['user-agent'], `oversight-siem/${VERSION}`);
    } finally {
      await peer.peer.close();
    }
  });
});
