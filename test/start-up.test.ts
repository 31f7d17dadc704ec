/**
 * The built command starts from V8's code cache of its bundles (scripts/load-bundle.cjs), and starts just the
 * same when V8 refuses a cache: after a Node upgrade, every installed cache is stale until the next build.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type vm from 'node:vm';
import { ROOT, demoRegistry, jsonLines, tempDir } from './helpers.js';

const BIN = path.join(ROOT, 'dist', 'bin');
const { compile } = createRequire(import.meta.url)(path.join(BIN, 'load-bundle.js')) as {
  compile(file: string, cachedData: Buffer | undefined): vm.Script;
};
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** A copy of the built command, beside links to the package's manifest and installed packages, as an install has. */
function installedCopy(): string {
  const root = tempDir();
  fs.mkdirSync(path.join(root, 'dist'));
  fs.cpSync(BIN, path.join(root, 'dist', 'bin'), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'package.json'), path.join(root, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
  return root;
}

describe('start-up from the code cache', () => {
  for (const bundle of ['oversight.bundle.js', 'format-worker.bundle.js']) {
    it(`the build leaves a cache of ${bundle} that this Node accepts`, () => {
      const file = path.join(BIN, bundle);
      const script = compile(file, fs.readFileSync(`${file}.cache`));
      assert.equal(script.cachedDataRejected, false);
    });
  }

  it('a cache V8 refuses is passed over, and the command and its formatting threads run as usual', () => {
    const root = installedCopy();
    for (const bundle of ['oversight.bundle.js', 'format-worker.bundle.js']) {
      const file = path.join(root, 'dist', 'bin', bundle);
      fs.writeFileSync(`${file}.cache`, 'a cache from another Node version');
      assert.equal(compile(file, fs.readFileSync(`${file}.cache`)).cachedDataRejected, true);
    }
    const cli = path.join(root, 'dist', 'bin', 'oversight.js');
    const version = spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8' });
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), VERSION);
    // 50,000 events or more are formatted by the threads, whose entry goes through the same loader.
    const db = demoRegistry(60_000);
    const out = path.join(root, 'events.json');
    const run = spawnSync(process.execPath, [cli, 'siem', 'export', '--db', db, '--registry-id', 'r1', '--format', 'ecs', '--output', out], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /exported 60000 event\(s\) as ecs/);
    const lines = jsonLines(fs.readFileSync(out, 'utf8'));
    assert.equal(lines.length, 60_000);
  });

  it('a missing cache is no error', () => {
    const root = installedCopy();
    for (const bundle of ['oversight.bundle.js', 'format-worker.bundle.js']) fs.rmSync(path.join(root, 'dist', 'bin', `${bundle}.cache`));
    const version = spawnSync(process.execPath, [path.join(root, 'dist', 'bin', 'oversight.js'), '--version'], { encoding: 'utf8' });
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), VERSION);
  });
});

describe('Node modules loaded on first use', () => {
  /** The Node modules a run of the built command loaded, in the main thread and in each formatting thread. */
  function loadedModules(args: string[]): { status: number | null; stderr: string; main: string[]; threads: string[][] } {
    const dir = tempDir();
    const report = path.join(dir, 'report.cjs');
    // Preloaded into the command and its threads: each writes the Node modules it loaded when it ends.
    fs.writeFileSync(report, `
      const { isMainThread, threadId } = require('node:worker_threads');
      const write = () => require('node:fs').writeFileSync(${JSON.stringify(dir)} + '/loaded-' + threadId,
        process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)).join('\\n'));
      if (isMainThread) process.on('exit', write);
      else require('node:worker_threads').parentPort.on('close', write);
    `);
    // Standard error goes to a file: written to a pipe, it would be Node's own socket.
    const errFile = path.join(dir, 'stderr');
    const err = fs.openSync(errFile, 'w');
    const run = spawnSync(process.execPath, ['--require', report, path.join(BIN, 'oversight.js'), ...args], { stdio: ['ignore', 'ignore', err] });
    fs.closeSync(err);
    const read = (f: string): string[] => fs.readFileSync(path.join(dir, f), 'utf8').split('\n');
    const threads = fs.readdirSync(dir).filter((f) => f.startsWith('loaded-') && f !== 'loaded-0').map(read);
    return { status: run.status, stderr: fs.readFileSync(errFile, 'utf8'), main: read('loaded-0'), threads };
  }
  const NETWORK = ['net', 'tls', 'http', 'dgram', 'dns/promises', 'zlib', 'child_process'];

  it('an export to a file loads no network, compression or process module, in the command or its threads', () => {
    const out = path.join(tempDir(), 'events.json');
    const r = loadedModules(['siem', 'export', '--db', demoRegistry(60_000), '--registry-id', 'r1', '--format', 'ecs', '--output', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.threads.length, 2, 'two formatting threads reported');
    for (const [i, loaded] of [r.main, ...r.threads].entries()) for (const m of NETWORK) assert.ok(!loaded.includes(m), `${m} was loaded (${i === 0 ? 'command' : 'thread'})`);
    assert.equal(jsonLines(fs.readFileSync(out, 'utf8')).length, 60_000);
  });

  it('a module left out at start-up is there when a command uses it', () => {
    // --ip-prefix keeps the network of each address: each formatting thread reads `net`'s address checks.
    const out = path.join(tempDir(), 'events.json');
    const r = loadedModules(['siem', 'export', '--db', demoRegistry(60_000), '--registry-id', 'r1', '--format', 'ecs', '--output', out, '--ip-prefix', '16,32']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.threads.length, 2, 'two formatting threads reported');
    for (const loaded of r.threads) assert.ok(loaded.includes('net'), 'net loaded on use');
    const ips = (jsonLines(fs.readFileSync(out, 'utf8')) as { source?: { ip?: string } }[]).flatMap((l) => (l.source?.ip ? [l.source.ip] : []));
    assert.ok(ips.length > 1000);
    for (const ip of ips) assert.match(ip, /^(\d+\.\d+\.0\.0|[0-9a-f]*:[0-9a-f]*::)$/, ip);
  });
});
