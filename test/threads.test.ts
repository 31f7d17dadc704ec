/** Large local exports read and format on worker threads: the bytes written and the checkpoints are the same. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import os from 'node:os';
import { formatHere, RANGES_FROM, rangeSteps, workersWorthIt } from '../src/pipeline/format-workers.js';
import { PRESTART_MIN_DB_BYTES, prestartPlan, workerHeapMb } from '../src/pipeline/format-thread.js';
import { onThisMachine } from '../src/shared/this-machine.js';
import { FORMAT_NAMES } from '../src/records/formats/index.js';
import { EsPeer } from './peers/elasticsearch.js';
import { HecPeer } from './peers/splunk-hec.js';
import { CLI, demoRegistry, jsonLines, registryIds, ROOT, runCli, spawnCli, holdRegistryLock, sqlRegistry, tempDir, waitFor } from './helpers.js';

/** Takes the registry's write lock when told `lock` on stdin, holds it for 1.5 s, then says `released` and ends. */
const LOCKER = `
import Database from 'better-sqlite3';
const con = new Database(process.argv[1]);
process.stdin.once('data', () => {
  con.exec('BEGIN EXCLUSIVE');
  process.stdout.write('locked\\n');
  // Held well past the first second, which a read waits out without a word (a commit's lock is that short).
  setTimeout(() => { con.exec('COMMIT'); con.close(); process.stdout.write('released\\n'); process.exit(0); }, 3000);
});
`;

describe('worker threads for large exports', () => {
  const db = demoRegistry(60_000);

  for (const fmt of FORMAT_NAMES) {
    it(`${fmt}: two threads write byte for byte what one thread writes`, async () => {
      const dir = tempDir();
      const one = path.join(dir, 'one.jsonl');
      const two = path.join(dir, 'two.jsonl');
      const base = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', fmt, '--splunk-index', 'sec'];
      assert.equal((await runCli([...base, '--output', one, '--threads', '1'])).code, 0);
      const r = await runCli([...base, '--output', two, '--threads', '2']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, `exported 60000 event(s) as ${fmt}\n`);
      assert.ok(fs.readFileSync(one).equals(fs.readFileSync(two)));
    });
  }

  it('--since and a checkpoint are honoured on threads too', async () => {
    const dir = tempDir();
    const state = path.join(dir, 'state.json');
    const out = path.join(dir, 'out.jsonl');
    const single = path.join(dir, 'single.jsonl');
    const args = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'sentinel', '--since', '1764000000'];
    assert.equal((await runCli([...args, '--output', single, '--threads', '1'])).code, 0);
    const r = await runCli([...args, '--output', out, '--state', state, '--threads', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.readFileSync(single).equals(fs.readFileSync(out)));
    assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, 60_000);
  });

  it('a writer that locks a rollback-journal registry mid-export: the threads wait it out, as one thread does', async () => {
    const dir = tempDir();
    const copy = path.join(dir, 'registry.sqlite');
    const src = new Database(db, { readonly: true });
    await src.backup(copy);
    src.close();
    const con = new Database(copy);
    con.pragma('journal_mode = DELETE');
    con.close();
    // The records come through a named pipe read here, so the lock is taken while most rows are still unread.
    const fifo = path.join(dir, 'out.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const locker = spawn(process.execPath, ['--input-type=module', '-e', LOCKER, copy], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    let said = '';
    locker.stdout.on('data', (d) => (said += d));
    const lockerDone = new Promise((r) => locker.on('close', r));
    const child = spawnCli(['siem', 'export', '--db', copy, '--registry-id', 'reg', '--format', 'ecs', '--output', fifo, '--threads', '2']);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const chunks: Buffer[] = [];
    let lines = 0;
    const reader = fs.createReadStream(fifo);
    const readerDone = new Promise((r) => reader.on('close', r));
    reader.on('data', (d) => {
      chunks.push(d as Buffer);
      if (lines < 5_000 && (lines += (d as Buffer).toString('latin1').split('\n').length - 1) >= 5_000) {
        reader.pause();
        locker.stdin.write('lock\n');
        void waitFor(() => said.includes('locked')).then(() => reader.resume());
      }
    });
    const code = await new Promise((r) => child.on('close', r));
    await readerDone;
    await lockerDone;
    assert.equal(code, 0, stderr);
    assert.match(stderr, /registry .* is locked by another process .*: waiting for it to be released\n/);
    assert.match(stderr, /registry readable again after \d+\.\ds locked\n/);
    assert.match(said, /released/);
    const single = path.join(dir, 'single.jsonl');
    assert.equal((await runCli(['siem', 'export', '--db', copy, '--registry-id', 'reg', '--format', 'ecs', '--output', single, '--threads', '1'])).code, 0);
    assert.ok(Buffer.concat(chunks).equals(fs.readFileSync(single)));
  });

  it('kill -9 during a threaded export to a file, then a restart: every event is in the file', async () => {
    const dir = tempDir();
    const state = path.join(dir, 'state.json');
    const out = path.join(dir, 'out.jsonl');
    const args = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'sentinel', '--output', out, '--state', state, '--threads', '2'];
    const child = spawnCli(args);
    await waitFor(() => fs.existsSync(state), 20_000, 2);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const r = await runCli(args);
    assert.equal(r.code, 0, r.stderr);
    const text = fs.readFileSync(out, 'utf8');
    assert.ok(text.endsWith('\n'));
    const ids = text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { EventId: string }).EventId);
    assert.deepEqual([...new Set(ids)].sort(), registryIds(db).sort());
  });

  it('a SIEM gets the same records in the same order from one thread or two', async () => {
    const peer = await new HecPeer({ token: 'tok-threads' }).start();
    try {
      const env = { OVERSIGHT_SPLUNK_HEC_TOKEN: 'tok-threads' };
      const args = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url];
      assert.equal((await runCli([...args, '--threads', '1'], { env })).code, 0);
      const single = peer.events.splice(0);
      const r = await runCli([...args, '--threads', '2'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /exported 60000 event\(s\) as splunk via splunk-hec/);
      assert.deepEqual(peer.events, single);
      assert.deepEqual(peer.eventIds(), registryIds(db));
    } finally {
      await peer.close();
    }
  });

  it('records from threads are dead-lettered and retried like any other', async () => {
    const key = 'dGhyZWFkcy1rZXk=';
    const peer = await new EsPeer({
      dataStream: 'logs-oversight.beacon-default',
      apiKey: key,
      itemFault: (doc, _id, attempt) => {
        const id = Number((doc['event'] as Record<string, string>)['id']);
        if (id === 31_337) return 400;
        return id % 1000 === 0 && attempt === 0 ? 429 : undefined;
      },
    }).start();
    try {
      const dlq = path.join(tempDir(), 'dead.jsonl');
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--header', `Authorization: ApiKey ${key}`,
        '--dead-letter', dlq, '--threads', '2', '--retry-max-duration', '30s'], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(peer.docs.size, 59_999);
      const dead = jsonLines(fs.readFileSync(dlq, 'utf8'));
      assert.deepEqual(dead.map((d) => d['event_id']), ['31337']);
      assert.equal((dead[0]!['record'] as { event: { id: string } }).event.id, '31337');
    } finally {
      await peer.close();
    }
  });

  it('event ids that are not rowids keep their own spelling through threads into dead letters', async () => {
    // `id` is text here, so rows go the ordinary way and each line's event id travels from its thread by itself.
    const textIds = sqlRegistry(`
      CREATE TABLE events (id TEXT, token_id TEXT, file_id TEXT, recipient_id TEXT, issuer_id TEXT, kind TEXT, source_ip TEXT,
        user_agent TEXT, extra TEXT, timestamp INTEGER, qualified_timestamp TEXT, tlog_index INTEGER);
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000)
      INSERT INTO events SELECT 'evt-' || i, 'tok' || i, 'f', 'r', 'iss', 'http_img', '192.0.2.1', 'ua', '{}', 1763856000 + i, NULL, NULL FROM n;`);
    const key = 'dGV4dC1pZHM=';
    const peer = await new EsPeer({
      dataStream: 'logs-oversight.beacon-default',
      apiKey: key,
      itemFault: (doc) => ((doc['event'] as Record<string, string>)['id'] === 'evt-4321' ? 400 : undefined),
    }).start();
    try {
      const dlq = path.join(tempDir(), 'dead.jsonl');
      const r = await runCli(['siem', 'export', '--db', textIds, '--registry-id', 'reg', '--output', peer.url, '--header', `Authorization: ApiKey ${key}`,
        '--dead-letter', dlq, '--threads', '2'], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(peer.docs.size, 5_999);
      const dead = jsonLines(fs.readFileSync(dlq, 'utf8'));
      assert.deepEqual(dead.map((d) => [d['event_id'], d['rowid']]), [['evt-4321', 4321]]);
    } finally {
      await peer.close();
    }
  });
});

describe('exports formatted in ranges on the export thread (10,000 to 50,000 rows, no worker)', () => {
  const db = demoRegistry(20_000);

  for (const fmt of FORMAT_NAMES) {
    it(`${fmt}: writes byte for byte what record-by-record formatting writes, and checkpoints the last row`, async () => {
      const dir = tempDir();
      const one = path.join(dir, 'one.jsonl');
      const ranged = path.join(dir, 'ranged.jsonl');
      const state = path.join(dir, 'state.json');
      const base = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', fmt, '--splunk-index', 'sec'];
      assert.equal((await runCli([...base, '--output', one, '--threads', '1'])).code, 0);
      const r = await runCli([...base, '--output', ranged, '--state', state]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, `exported 20000 event(s) as ${fmt}\n`);
      assert.ok(fs.readFileSync(one).equals(fs.readFileSync(ranged)));
      assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, 20_000);
    });
  }

  it('from a checkpoint: the rest of the registry, once, as record by record writes it', async () => {
    const dir = tempDir();
    const whole = path.join(dir, 'whole.jsonl');
    const parts = path.join(dir, 'parts.jsonl');
    const state = path.join(dir, 'state.json');
    const base = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'cef'];
    assert.equal((await runCli([...base, '--output', whole, '--threads', '1'])).code, 0);
    // The first 4,000 record by record (--limit), then 16,000 left: enough for ranges.
    assert.equal((await runCli([...base, '--output', parts, '--state', state, '--limit', '4000'])).code, 0);
    assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, 4_000);
    const r = await runCli([...base, '--output', parts, '--state', state]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, 'exported 16000 event(s) as cef\n');
    assert.ok(fs.readFileSync(parts).equals(fs.readFileSync(whole)));
    assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, 20_000);
  });

  it('to stdout, with --since: the same lines as record by record', async () => {
    // The demo's events span the day and a half from 1763856000: about half of them are since the middle. The
    // ranges cover every rowid; --since leaves rows out within them.
    const args = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--since', '1763930000'];
    const one = await runCli([...args, '--threads', '1']);
    const ranged = await runCli(args);
    assert.equal(ranged.code, 0, ranged.stderr);
    const n = jsonLines(ranged.stdout).length;
    assert.ok(n > 5_000 && n < 15_000, `${n} lines`);
    assert.equal(ranged.stdout, one.stdout);
  });
});

describe('the rowid ranges of the threads', () => {
  it('start small and double up to the range size, covering the span once, without gaps', () => {
    const steps = rangeSteps(1024);
    assert.deepEqual([0, 1, 2, 3, 4, 5].map(steps.start), [0, 128, 384, 896, 1920, 2944]);
    for (const span of [0, 1, 127, 128, 129, 896, 897, 1920, 1921, 1_000_000]) {
      const n = steps.count(span);
      assert.ok(steps.start(n) >= span && (n === 0 || steps.start(n - 1) < span), `span ${span}: ${n} ranges`);
    }
    assert.equal(steps.count(1_000_000), 3 + Math.ceil((1_000_000 - 896) / 1024));
  });

  it('a range size no larger than the first range stays fixed', () => {
    const steps = rangeSteps(100);
    assert.deepEqual([0, 1, 2, 3].map(steps.start), [0, 100, 200, 300]);
    assert.equal(steps.count(301), 4);
    assert.equal(steps.count(300), 3);
  });
});

describe('how many formatting threads a backlog gets', () => {
  it('none for a small backlog, two with a second core, one on a single core only for a local copy', () => {
    assert.equal(workersWorthIt(49_999, true, 2), 0);
    assert.equal(workersWorthIt(50_000, true, 2), 2);
    assert.equal(workersWorthIt(1_000_000, false, 2), 2);
    assert.equal(workersWorthIt(1_000_000, true, 16), 2);
    // On one core a thread pays for a local copy (whole chunks written as they come), not for a SIEM export.
    assert.equal(workersWorthIt(1_000_000, true, 1), 1);
    assert.equal(workersWorthIt(1_000_000, false, 1), 0);
    assert.equal(workersWorthIt(49_999, true, 1), 0);
  });

  it('a byte stream to a receiver on this machine leaves it a core: no worker on one or two cores', () => {
    assert.equal(workersWorthIt(1_000_000, false, 2, true), 0);
    assert.equal(workersWorthIt(1_000_000, false, 4, true), 2);
    assert.equal(workersWorthIt(1_000_000, false, 1, true), 0);
    assert.equal(workersWorthIt(49_999, false, 2, true), 0);
    assert.equal(workersWorthIt(1_000_000, false, 2, false), 2);
  });

  it('without a worker, an output that takes chunks is formatted in ranges on the export thread from 10,000 rows', () => {
    assert.equal(formatHere(RANGES_FROM, true, 0), true);
    assert.equal(formatHere(1_000_000, true, 0), true);
    assert.equal(formatHere(RANGES_FROM - 1, true, 0), false);
    // Worker threads, when there are any, do the formatting; a SIEM over HTTP batches each record.
    assert.equal(formatHere(1_000_000, true, 2), false);
    assert.equal(formatHere(1_000_000, false, 0), false);
    assert.equal(RANGES_FROM, 10_000);
  });

  it('a receiver is on this machine by its loopback or interface address or its name, never by a lookup', () => {
    for (const host of ['127.0.0.1', '127.42.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST', 'relay.localhost', os.hostname()]) {
      assert.equal(onThisMachine(host), true, host);
    }
    for (const a of Object.values(os.networkInterfaces()).flat()) if (a) assert.equal(onThisMachine(a.address.replace(/%.*$/, '')), true, a.address);
    for (const host of ['192.0.2.10', '2001:db8::1', 'siem.example.com', '128.0.0.1']) assert.equal(onThisMachine(host), false, host);
  });

  const taskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  it('on one core, a large file export formats on one thread and writes what the main thread writes', { skip: taskset ? false : 'taskset (util-linux) is not installed' }, async () => {
    const db = demoRegistry(60_000);
    const dir = tempDir();
    const main = path.join(dir, 'main.jsonl');
    const one = path.join(dir, 'one.jsonl');
    const base = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ocsf'];
    assert.equal((await runCli([...base, '--output', main, '--threads', '1'])).code, 0);
    // Pinned to one core, the automatic choice is one formatting thread.
    const r = spawnSync('taskset', ['-c', '0', process.execPath, CLI, ...base, '--output', one, '--state', path.join(dir, 'state.json')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, 'exported 60000 event(s) as ocsf\n');
    assert.ok(fs.readFileSync(main).equals(fs.readFileSync(one)));
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')).last_rowid, 60_000);
  });
});

/**
 * A writer's lock taken just as the threads open the registry. The export's own reads before the threads start
 * hold the same lock a thread's would, so no run of the command can have the lock begin between its last read
 * and a thread's opening without racing it: the threads are started here, from the built modules, with the lock
 * already held by another process and waited out by the export's own RegistryWait.
 */
describe('a writer that holds the registry locked as the formatting threads open it', () => {
  const dist = (m: string): Promise<Record<string, any>> => import(path.join(ROOT, 'dist', m));
  const spec = { format: 'ecs', settings: {}, envelope: null, privacy: null };

  /** A rollback-journal registry of `n` events, locked by another process until `release`. */
  async function lockedRollbackRegistry(n: number): Promise<{ db: string; release: () => Promise<unknown> }> {
    const db = demoRegistry(n);
    return { db, ...(await holdRegistryLock(db)) };
  }

  for (const [who, threads] of [['the threads', { workers: 2 }], ['ranges formatted on the export thread', { workers: 1, inThread: true }]] as const) {
    it(`${who} wait it out as their reads do: one line when the wait starts, one when it ends, every event written`, async () => {
      const { formatInWorkers } = await dist('pipeline/format-workers.js');
      const { RegistryWait } = await dist('registry/wait.js');
      const { db, release } = await lockedRollbackRegistry(3000);
      const said: string[] = [];
      const plan = { db, registryId: 'reg', spec, since: null, afterRowid: 0, endRowid: 3000, rangeSize: 500 };
      const lockWait = new RegistryWait((m: string) => {
        said.push(m);
        // Released only once the wait is reported, so the threads meet the lock for as long as that takes.
        if (/waiting for it to be released/.test(m)) void release();
      }, 60_000, 50);
      const got: Buffer[] = [];
      try {
        for await (const chunk of formatInWorkers({ ...plan, ...threads, lockWait })) got.push(Buffer.from(chunk.body));
      } finally {
        await release();
      }
      assert.equal(said.length, 2, said.join('\n'));
      assert.match(said[0]!, /^registry .* is locked by another process .*: waiting for it to be released$/);
      assert.match(said[1]!, /^registry readable again after \d+\.\ds locked$/);
      // What two threads write with no lock in the way.
      const unlocked: Buffer[] = [];
      for await (const chunk of formatInWorkers({ ...plan, workers: 2 })) unlocked.push(Buffer.from(chunk.body));
      const text = Buffer.concat(got);
      assert.ok(text.equals(Buffer.concat(unlocked)));
      assert.equal(text.toString('utf8').split('\n').length - 1, 3000);
    });
  }

  it('a stop ends that wait at once, with nothing written', async () => {
    const { formatInWorkers } = await dist('pipeline/format-workers.js');
    const { RegistryWait } = await dist('registry/wait.js');
    const { db, release } = await lockedRollbackRegistry(3000);
    const stop = new AbortController();
    const said: string[] = [];
    const lockWait = new RegistryWait((m: string) => {
      said.push(m);
      if (/waiting for it to be released/.test(m)) stop.abort();
    }, 60_000, 60_000, stop.signal);
    let lines = 0;
    try {
      // As the export's feeds do: a stop is checked after each chunk, and a wait that a stop ended hands one back.
      for await (const chunk of formatInWorkers({ db, registryId: 'reg', spec, since: null, afterRowid: 0, endRowid: 3000, workers: 2, rangeSize: 500, lockWait })) {
        lines += chunk.count;
        if (stop.signal.aborted) break;
      }
    } finally {
      await release();
    }
    assert.ok(stop.signal.aborted, 'the wait was reported');
    assert.equal(lines, 0);
    assert.deepEqual(said.length, 1, said.join('\n'));
  });

  it('a stop as the threads first meet the lock: they close after the ranges in their hands, and the process goes on', async () => {
    const { formatInWorkers } = await dist('pipeline/format-workers.js');
    const { RegistryWait } = await dist('registry/wait.js');
    const { db, release } = await lockedRollbackRegistry(3000);
    const stop = new AbortController();
    stop.abort();
    const lockWait = new RegistryWait(() => undefined, 60_000, 60_000, stop.signal);
    let chunks = 0;
    try {
      // The first answer comes while each thread still has a range to try: the threads end with the loop.
      for await (const chunk of formatInWorkers({ db, registryId: 'reg', spec, since: null, afterRowid: 0, endRowid: 3000, workers: 2, rangeSize: 500, lockWait })) {
        chunks++;
        assert.equal(chunk.count, 0);
        if (stop.signal.aborted) break;
      }
    } finally {
      await release();
    }
    assert.equal(chunks, 1);
  });
});

describe('the checkpoints of a threaded copy', () => {
  const dist = (m: string): Promise<Record<string, any>> => import(path.join(ROOT, 'dist', m));

  it('each names a row and holds its digest as read, across rowid ranges that hold no row', async () => {
    const { runPipeline } = await dist('pipeline/index.js');
    const { RegistrySource } = await dist('registry/source.js');
    const { Checkpoint } = await dist('pipeline/checkpoint.js');
    const { FileTransport } = await dist('transports/local.js');
    const { RETRY_DEFAULTS } = await dist('pipeline/retry.js');
    // Rowids 1101–5000 gone: three of the threads' ranges, rowids 1921 to 4992, hold no row.
    const db = demoRegistry(5100);
    const con = new Database(db);
    con.exec('DELETE FROM events WHERE id BETWEEN 1101 AND 5000');
    con.close();
    const dir = tempDir();
    const file = path.join(dir, 'state.json');
    const source = RegistrySource.open(db);
    const transport = new FileTransport(path.join(dir, 'out.jsonl'));
    const states: { last_rowid: number; last_row_sha256?: string }[] = [];
    try {
      const result = await runPipeline({
        source, registryId: 'reg', spec: { format: 'ecs', settings: {}, envelope: null, privacy: null }, transport, limits: transport.defaults,
        retry: RETRY_DEFAULTS, checkpoint: Checkpoint.open(file, { registryId: 'reg', database: db }), threads: { db, count: 2 },
        onProgress: () => states.push(JSON.parse(fs.readFileSync(file, 'utf8'))),
      });
      assert.equal(result.exported, 1200);
      assert.ok(states.length >= 3, JSON.stringify(states));
      for (const s of states) assert.equal(s.last_row_sha256, source.rowDigest(s.last_rowid), `checkpoint at rowid ${s.last_rowid}`);
      assert.equal(states[states.length - 1]!.last_rowid, 5100);
    } finally {
      source.close();
      await transport.close();
    }
  });
});

describe('formatting threads started as the command starts', () => {
  const big = (): number => PRESTART_MIN_DB_BYTES;
  const small = (): number => PRESTART_MIN_DB_BYTES - 1;
  const file = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: workerHeapMb(1 << 20) };

  it('only for an export of a large registry named on the command line, with two cores, that may want threads', () => {
    const args = ['siem', 'export', '--db', 'r.sqlite', '--registry-id', 'r1'];
    assert.deepEqual(prestartPlan(args, 2, big), file);
    assert.deepEqual(prestartPlan([...args, '--output', 'events.jsonl'], 2, big), file);
    assert.deepEqual(prestartPlan(['siem', 'export', '--db=r.sqlite', '--output=relp://siem:2514'], 2, big), file);
    assert.deepEqual(prestartPlan([...args, '--output', 'syslog+tls://siem:6514'], 8, big), file);
    // Records batched for a SIEM: the larger young generation of a SIEM export's threads.
    assert.deepEqual(prestartPlan([...args, '--output', 'https://splunk:8088'], 2, big), { ...file, maxYoungGenerationSizeMb: 16 });
    assert.deepEqual(prestartPlan([...args, '--max-row-bytes', '4MiB'], 2, big), { ...file, maxOldGenerationSizeMb: workerHeapMb(4 << 20) });
    assert.deepEqual(prestartPlan([...args, '--threads', '2'], 2, big), file);
    // Settings from the environment, where the command line does not give them; the command line wins.
    assert.deepEqual(prestartPlan(['siem', 'export'], 2, big, { OVERSIGHT_DB: 'r.sqlite', OVERSIGHT_OUTPUT: 'https://es:9200' }), { ...file, maxYoungGenerationSizeMb: 16 });
    assert.deepEqual(prestartPlan([...args, '--output', 'out.jsonl'], 2, big, { OVERSIGHT_OUTPUT: 'https://es:9200', OVERSIGHT_MAX_ROW_BYTES: '4MiB' }),
      { ...file, maxOldGenerationSizeMb: workerHeapMb(4 << 20) });
    for (const env of [{ OVERSIGHT_FOLLOW: 'true' }, { OVERSIGHT_LIMIT: '10' }, { OVERSIGHT_THREADS: '1' }, { OVERSIGHT_STATE: 'export.state' }]) {
      assert.equal(prestartPlan(args, 2, big, env), null, JSON.stringify(env));
    }
    assert.deepEqual(prestartPlan(args, 2, big, { OVERSIGHT_FOLLOW: 'false' }), file);
    // A syslog receiver on this machine with two cores gets no thread by the automatic choice: none is started.
    for (const output of ['syslog+tcp://127.0.0.1:514', 'relp://localhost:2514', 'syslog+tls://[::1]:6514', `relp://${os.hostname()}:2514`]) {
      assert.equal(prestartPlan([...args, '--output', output], 2, big), null, output);
      assert.equal(prestartPlan([...args, '--output', output, '--threads', 'auto'], 2, big), null, output);
      assert.deepEqual(prestartPlan([...args, '--output', output], 4, big), file, output);
      assert.deepEqual(prestartPlan([...args, '--output', output, '--threads', '2'], 2, big), file, output);
    }
    assert.equal(prestartPlan(args, 2, big, { OVERSIGHT_OUTPUT: 'syslog+tcp://127.0.0.1:514' }), null);
    assert.deepEqual(prestartPlan([...args, '--output', 'syslog+tcp://192.0.2.10:514'], 2, big), file);
    // A state file not written yet: the first run of an export, with the whole registry to go.
    assert.deepEqual(prestartPlan([...args, '--state', 'new.state'], 2, (p) => (p === 'new.state' ? null : big())), file);
    for (const [why, a, cores, size] of [
      ['small registry', args, 2, small],
      ['no registry file', args, 2, () => null],
      ['one core', args, 1, big],
      ['no --db', ['siem', 'export', '--registry-id', 'r1'], 2, big],
      ['--db without a value', ['siem', 'export', '--db'], 2, big],
      ['follow mode', [...args, '--follow'], 2, big],
      ['--limit', [...args, '--limit=10'], 2, big],
      ['--threads 1', [...args, '--threads', '1'], 2, big],
      ['help', [...args, '--help'], 2, big],
      ['a bad --max-row-bytes', [...args, '--max-row-bytes', 'lots'], 2, big],
      ['another command', ['siem', 'verify', '--db', 'r.sqlite'], 2, big],
      ['a state file that exists', [...args, '--state', 'export.state'], 2, big],
    ] as const) {
      assert.equal(prestartPlan(a, cores, size), null, why);
    }
  });

  /** Runs the command, noting which file started each thread and how many threads were ended from outside. */
  async function watched(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string; started: string[]; terminated: number }> {
    const dir = tempDir();
    const report = path.join(dir, 'threads.json');
    const preload = path.join(dir, 'watch.cjs');
    fs.writeFileSync(preload, `
      const wt = require('node:worker_threads');
      if (wt.isMainThread) {
        const seen = { started: [], terminated: 0 };
        const Worker = wt.Worker;
        wt.Worker = class extends Worker {
          constructor(...a) {
            super(...a);
            seen.started.push(/(prestart|oversight)\\.bundle\\.js/.exec(new Error().stack)?.[1] ?? 'elsewhere');
          }
          terminate() { seen.terminated++; return super.terminate(); }
        };
        process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify(seen)));
      }
    `);
    const r = await runCli(args, { env: { NODE_OPTIONS: `--require ${preload}`, ...env }, timeoutMs: 60_000 });
    return { code: r.code, stderr: r.stderr, ...(JSON.parse(fs.readFileSync(report, 'utf8')) as { started: string[]; terminated: number }) };
  }
  const twoCores = os.availableParallelism() >= 2;
  /** One thread per core the command leaves idle as it loads, up to two. */
  const early = Array<string>(Math.max(0, Math.min(2, os.availableParallelism() - 1))).fill('prestart');
  const db = demoRegistry(60_000);

  it('become the export\'s threads when it wants threads with their limits', { skip: !twoCores && 'needs two cores' }, async () => {
    const dir = tempDir();
    const out = path.join(dir, 'events.jsonl');
    const r = await watched(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.started, [...early, ...Array<string>(2 - early.length).fill('oversight')]);
    assert.equal(r.terminated, 0);
    const one = path.join(dir, 'one.jsonl');
    assert.equal((await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', one, '--threads', '1'])).code, 0);
    assert.ok(fs.readFileSync(out).equals(fs.readFileSync(one)), 'the same bytes as one thread writes');
  });

  it('are ended when the export wants no thread, and the command ends as usual', { skip: !twoCores && 'needs two cores' }, async () => {
    // A registry file as large as one of 60,000 events that holds 1,000 of them: too few for threads.
    const sparse = path.join(tempDir(), 'registry.sqlite');
    fs.copyFileSync(db, sparse);
    const con = new Database(sparse);
    con.exec('DELETE FROM events WHERE rowid <= 59000');
    con.close();
    assert.ok(fs.statSync(sparse).size >= PRESTART_MIN_DB_BYTES);
    const out = path.join(tempDir(), 'events.jsonl');
    const r = await watched(['siem', 'export', '--db', sparse, '--registry-id', 'reg', '--format', 'ecs', '--output', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, 'exported 1000 event(s) as ecs\n');
    assert.deepEqual(r.started, early);
    assert.equal(r.terminated, early.length);
    assert.equal(jsonLines(fs.readFileSync(out, 'utf8')).length, 1000);
  });

  it('are ended when a --config file asks for other limits, and the export starts its own', { skip: !twoCores && 'needs two cores' }, async () => {
    const dir = tempDir();
    const out = path.join(dir, 'events.jsonl');
    const config = path.join(dir, 'export.yaml');
    fs.writeFileSync(config, 'max-row-bytes: 4MiB\n');
    const r = await watched(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', out, '--config', config]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.started, [...early, 'oversight', 'oversight']);
    assert.equal(r.terminated, early.length);
    assert.equal(jsonLines(fs.readFileSync(out, 'utf8')).length, 60_000);
  });
});
