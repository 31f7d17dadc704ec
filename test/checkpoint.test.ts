/** Checkpoints: resume exactly, refuse a stranger's state, and survive kill -9 at any moment. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, jsonLines, outcome, registryIds, ROOT, runCli, spawnCli, tempDir, waitFor } from './helpers.js';

const TOKEN = 'checkpoint-test-token';
const env = { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN };
/** No process has this pid: a lock naming it was left by an exporter that is gone. */
const GONE_PID = 999999999;

/**
 * Takes the lock of the state file named by its argument as an exporter starting does, but once it has judged
 * the lock there stale it says `stale` and waits for a line on stdin before taking it over; then it says what
 * came of it.
 */
const TAKER = `
import fs from 'node:fs';
import { StateLock } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist', 'service', 'state-lock.js')).href)};
try {
  StateLock.acquire(process.argv[1], () => {
    process.stdout.write('stale\\n');
    fs.readSync(0, Buffer.alloc(1));
  });
  process.stdout.write('acquired\\n');
} catch (err) {
  process.stdout.write(err.message + '\\n');
}
`;

describe('checkpoints', () => {
  it('a second run with the same --state exports exactly the events after the first', async () => {
    const dir = tempDir();
    const db = demoRegistry(80);
    const state = path.join(dir, 'state.json');
    const out = path.join(dir, 'out.jsonl');
    const args = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', out, '--state', state];
    const first = await runCli([...args, '--limit', '30']);
    assert.equal(first.code, 0, first.stderr);
    const saved = JSON.parse(fs.readFileSync(state, 'utf8'));
    assert.equal(saved.last_rowid, 30);
    assert.equal(saved.registry_id, 'reg');
    assert.equal(saved.database, fs.realpathSync(db));
    assert.equal((fs.statSync(state).mode & 0o777).toString(8), '600');
    const second = await runCli(args);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /exported 50 event\(s\)/);
    const ids = jsonLines(fs.readFileSync(out, 'utf8')).map((l) => (l['event'] as Record<string, string>)['id']);
    assert.deepEqual(ids, registryIds(db));
    const third = await runCli(args);
    assert.match(third.stderr, /exported 0 event\(s\)/);
  });

  it('refuses a state file of another registry or database', async () => {
    const dir = tempDir();
    const db = demoRegistry(5);
    const other = demoRegistry(5, 99);
    const state = path.join(dir, 'state.json');
    const base = ['siem', 'export', '--format', 'ecs', '--output', path.join(dir, 'o.jsonl'), '--state', state];
    assert.equal((await runCli([...base, '--db', db, '--registry-id', 'reg-a'])).code, 0);
    const wrongRegistry = await runCli([...base, '--db', db, '--registry-id', 'reg-b']);
    assert.equal(wrongRegistry.code, 2);
    assert.match(wrongRegistry.stderr, /belongs to registry 'reg-a', not 'reg-b': use one --state file per registry/);
    const wrongDb = await runCli([...base, '--db', other, '--registry-id', 'reg-a']);
    assert.equal(wrongDb.code, 2);
    assert.match(wrongDb.stderr, /belongs to database .* use one --state file per database/);
    const saved = JSON.parse(fs.readFileSync(state, 'utf8'));
    fs.writeFileSync(state, JSON.stringify({ ...saved, last_rowid: 999 }));
    const replaced = await runCli([...base, '--db', db, '--registry-id', 'reg-a']);
    assert.equal(replaced.code, 2);
    assert.match(outcome(replaced.stderr)[0]!, /is past the registry's last event \(rowid 999\): was the registry replaced\?/);
    fs.writeFileSync(state, '{not json');
    const torn = await runCli([...base, '--db', db, '--registry-id', 'reg-a']);
    assert.equal(torn.code, 2);
    assert.match(outcome(torn.stderr)[0]!, /is not valid JSON/);
  });

  it('refuses a state file with a field out of shape, naming the file and the field', async () => {
    const dir = tempDir();
    const db = demoRegistry(5);
    const state = path.join(dir, 'state.json');
    const args = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', path.join(dir, 'o.jsonl'), '--state', state];
    assert.equal((await runCli([...args, '--limit', '2'])).code, 0);
    const saved = JSON.parse(fs.readFileSync(state, 'utf8'));
    for (const [field, value] of [['last_rowid', 1.5], ['delivered_total', 'abc'], ['delivered_total', -3], ['last_rowid', '2']] as const) {
      fs.writeFileSync(state, JSON.stringify({ ...saved, [field]: value }));
      const r = await runCli(args);
      assert.equal(r.code, 2, `${field} ${value}: ${r.stderr}`);
      assert.deepEqual(outcome(r.stderr), [`oversight: state file ${state}: ${field} must be ${field === 'last_rowid' ? 'a whole number (a rowid)' : 'a whole number of 0 or more'}, ` +
        `not ${JSON.stringify(value)}: restore it from backup, or move it away to export from the start`]);
      assert.equal(fs.readFileSync(state, 'utf8'), JSON.stringify({ ...saved, [field]: value }), 'left as it was');
    }
  });

  it('a file or link already at the temporary name of an atomic write is removed, never written through', async () => {
    const { writeFileAtomic } = (await import(pathToFileURL(path.join(ROOT, 'dist', 'shared', 'files.js')).href)) as typeof import('../src/shared/files.js');
    const dir = tempDir();
    const state = path.join(dir, 'state.json');
    const victim = path.join(tempDir(), 'victim');
    fs.writeFileSync(victim, 'untouched');
    // Planted in the state file's folder under the name this process would write its temporary file as.
    fs.symlinkSync(victim, path.join(dir, `.state.json.${process.pid}.tmp`));
    writeFileAtomic(state, '{"last_rowid":7}\n', 'state file');
    assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched');
    assert.equal(fs.readFileSync(state, 'utf8'), '{"last_rowid":7}\n');
    assert.ok(!fs.lstatSync(state).isSymbolicLink());
    assert.equal(fs.statSync(state).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(dir), ['state.json']);
  });

  it('two names of one state file (a symbolic link) take one lock, and a checkpoint written through the link leaves it a link', async () => {
    const dir = tempDir();
    const db = demoRegistry(20);
    const state = path.join(dir, 'state.json');
    const link = path.join(tempDir(), 'link.json');
    // The link is made before the state file exists, as an operator may set it up.
    fs.symlinkSync(state, link);
    const args = (out: string, s: string): string[] => ['siem', 'export', '--db', db, '--registry-id', 'r', '--format', 'ecs', '--output', path.join(dir, out), '--state', s];
    const first = spawnCli([...args('a.jsonl', link), '--follow']);
    let err = '';
    first.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    try {
      await waitFor(() => /following/.test(err) && fs.existsSync(state) && JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid === 20);
      const second = await runCli(args('b.jsonl', state));
      assert.equal(second.code, 1);
      assert.equal(second.stderr, `oversight: state file ${state} is in use by another exporter (pid ${first.pid}): stop it first, or give this one its own --state\n`);
      assert.equal(fs.existsSync(path.join(dir, 'b.jsonl')), false, 'the second sent nothing');
    } finally {
      first.kill('SIGTERM');
      await new Promise((r) => first.on('close', r));
    }
    assert.ok(fs.lstatSync(link).isSymbolicLink(), 'the link is still a link');
    assert.equal((fs.statSync(state).mode & 0o777).toString(8), '600');
    const third = await runCli(args('c.jsonl', state));
    assert.equal(third.code, 0, third.stderr);
    assert.equal(third.stderr, 'exported 0 event(s) as ecs\n', 'resumes from the checkpoint written through the link');
  });

  it('an empty lock left by a crash: refused with the fix while it may be an exporter starting, taken over once it is old', async () => {
    const dir = tempDir();
    const state = path.join(dir, 'state.json');
    const lock = `${state}.lock`;
    const args = ['siem', 'export', '--db', demoRegistry(3), '--registry-id', 'r', '--format', 'ecs', '--output', path.join(dir, 'o.jsonl'), '--state', state];
    fs.writeFileSync(lock, '');
    const fresh = await runCli(args);
    assert.equal(fresh.code, 1);
    assert.equal(fresh.stderr, `oversight: state file ${state}: its lock ${lock} is empty or unreadable (an exporter taking it this moment, ` +
      `or one that crashed while taking it): try again in a few seconds, or remove ${lock} if no exporter runs\n`);
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lock, old, old);
    const later = await runCli(args);
    assert.equal(later.code, 0, later.stderr);
    assert.ok(outcome(later.stderr)[0]!.startsWith(`oversight: taking over the lock ${lock}: it is empty or unreadable and `), later.stderr);
    assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, 3);
    assert.equal(fs.existsSync(lock), false, 'released on exit');
  });

  it('two exporters finding one stale lock at once: the one that looked first but took it over last is refused, naming the other', async () => {
    const dir = tempDir();
    const state = path.join(dir, 'state.json');
    const lock = `${state}.lock`;
    fs.writeFileSync(lock, `${GONE_PID} ${os.hostname()}\n`);
    const late = spawn(process.execPath, ['--input-type=module', '-e', TAKER, state], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    let said = '';
    late.stdout!.setEncoding('utf8').on('data', (d: string) => (said += d));
    const lateGone = new Promise((r) => late.on('close', r));
    await waitFor(() => said === 'stale\n');
    const first = spawnCli(['siem', 'export', '--db', demoRegistry(5), '--registry-id', 'r', '--format', 'ecs', '--output', path.join(dir, 'o.jsonl'), '--state', state, '--follow']);
    let err = '';
    first.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    try {
      await waitFor(() => /following/.test(err));
      assert.equal(fs.readFileSync(lock, 'utf8'), `${first.pid} ${os.hostname()}\n`, 'the exporter that came second took the stale lock over');
      late.stdin!.write('go\n');
      await lateGone;
      assert.equal(said, `stale\nstate file ${state} is in use by another exporter (pid ${first.pid}): stop it first, or give this one its own --state\n`);
      assert.equal(fs.readFileSync(lock, 'utf8'), `${first.pid} ${os.hostname()}\n`, 'its lock is still there');
    } finally {
      late.kill('SIGKILL');
      first.kill('SIGTERM');
      await new Promise((r) => first.on('close', r));
    }
    assert.equal(fs.existsSync(lock), false, 'released on exit');
  });

  it('a takeover of a stale lock cut short by kill -9: waited for while its exporter runs, then taken over in turn', async () => {
    const dir = tempDir();
    const db = demoRegistry(3);
    const state = path.join(dir, 'state.json');
    const lock = `${state}.lock`;
    const args = ['siem', 'export', '--db', db, '--registry-id', 'r', '--format', 'ecs', '--output', path.join(dir, 'o.jsonl'), '--state', state];
    // An exporter of its own state file, standing for one that was taking over this lock.
    const other = spawnCli(['siem', 'export', '--db', db, '--registry-id', 'r', '--format', 'ecs', '--output', path.join(tempDir(), 'o.jsonl'), '--state', path.join(tempDir(), 'state.json'), '--follow']);
    let err = '';
    other.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    fs.writeFileSync(lock, `${GONE_PID} ${os.hostname()}\n`);
    const marker = path.join(dir, `.state.json.lock.${fs.lstatSync(lock, { bigint: true }).ino}.takeover`);
    try {
      await waitFor(() => /following/.test(err));
      fs.writeFileSync(marker, `${other.pid} ${os.hostname()}\n`);
      const waited = await runCli(args);
      assert.equal(waited.code, 1);
      assert.equal(waited.stderr, `oversight: state file ${state}: another exporter (pid ${other.pid}) has been taking over its stale lock ${lock} for 2s: ` +
        `try again, or remove ${marker} if no exporter runs\n`);
      assert.equal(fs.existsSync(path.join(dir, 'o.jsonl')), false, 'it sent nothing');
    } finally {
      other.kill('SIGKILL');
      await new Promise((r) => other.on('close', r));
    }
    const later = await runCli(args);
    assert.equal(later.code, 0, later.stderr);
    assert.equal(later.stderr, 'exported 3 event(s) as ecs\n');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['o.jsonl', 'state.json'], 'neither the lock nor the marker is left');
  });

  it('kill -9 mid-export, then a restart from the same --state: nothing missing, at most one batch again', async () => {
    const peer = await new HecPeer({ token: TOKEN }).start();
    try {
      peer.peer.delayMs = 15;
      const db = demoRegistry(3000);
      const state = path.join(tempDir(), 'state.json');
      const args = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--max-batch-events', '50', '--state', state];
      const child = spawnCli(args, env);
      await waitFor(() => peer.events.length >= 900, 20_000, 5);
      child.kill('SIGKILL');
      await new Promise((r) => child.on('close', r));
      const killedAt = peer.events.length;
      assert.ok(killedAt < 3000, 'killed before the end');
      const rest = await runCli(args, { env });
      assert.equal(rest.code, 0, rest.stderr);
      const ids = peer.eventIds();
      assert.deepEqual([...new Set(ids)].sort(), registryIds(db).sort());
      const repeated = ids.length - new Set(ids).size;
      assert.ok(repeated <= 50, `${repeated} events sent twice`);
    } finally {
      await peer.close();
    }
  });
});
