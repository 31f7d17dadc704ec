// Exports on one core and without formatting threads: what a one-core machine, `--limit` and follow mode run.
// A `--threads 1` ECS export to a file; ECS and OCSF exports to a file pinned to one core (`taskset -c 0`), where
// the automatic choice is one formatting thread; and a follower catching up on the whole registry as its backlog,
// delivering to the loopback HEC peer of gzip.mjs until the peer has counted every event.
// Run alone, it compares builds, alternating in every round:
//   node bench/follow.mjs [--before OTHER/dist/bin/oversight.js] [--events N] [--runs R]
// (`--events N` picks bench/data/registry-N.sqlite, made by `npm run bench -- --events N`; 1,000,000 by default.)
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { counts, startPeer, timedCpu } from './gzip.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A follower from the start of the registry: seconds until the peer has all `n` events (at most 10 minutes). */
async function catchUp({ port, db, n, cli, registryId }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oversight-bench-follow-'));
  await counts(port);
  const started = process.hrtime.bigint();
  const follower = spawn(process.execPath, [cli, 'siem', 'export', '--follow', '--db', db, '--registry-id', registryId, '--state', path.join(dir, 'state.json'),
    '--output', `http://127.0.0.1:${port}/services/collector/event`, '--max-batch-bytes', '1000000', '--compress', 'none', '--quiet'],
  { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, OVERSIGHT_SPLUNK_HEC_TOKEN: 'bench-token' } });
  const closed = new Promise((r) => follower.on('close', r));
  let seen = 0;
  try {
    for (let waited = 0; seen < n && follower.exitCode === null; waited += 20) {
      if (waited > 600_000) throw new Error(`follower delivered ${seen} of ${n} events in 10 minutes`);
      await sleep(20);
      seen += (await counts(port)).events;
    }
  } finally {
    follower.kill('SIGTERM');
    await closed;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (seen !== n) throw new Error(`follower stopped after ${seen} of ${n} events`);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const TASKSET = spawnSync('taskset', ['-c', '0', 'true']).status === 0;

/** The file exports of one round, by name: the arguments after the CLI's path, and whether to pin them to one core. */
const FILE_RUNS = [
  { name: '`--threads 1`, ECS to a file', format: 'ecs', extra: ['--threads', '1'], pinned: false },
  ...(TASKSET ? [
    { name: 'one core (`taskset -c 0`), ECS to a file', format: 'ecs', extra: [], pinned: true },
    { name: 'one core (`taskset -c 0`), OCSF to a file', format: 'ocsf', extra: [], pinned: true },
  ] : []),
];
const FOLLOW = 'follower catching up on the backlog (HEC)';

/** One round for one build: each file export's wall, CPU and RSS, and the follower's seconds. */
async function round({ port, db, n, cli, registryId, timed }) {
  const out = path.join(os.tmpdir(), `oversight-bench-onecore-${process.pid}.jsonl`);
  const files = [];
  for (const r of FILE_RUNS) {
    fs.rmSync(out, { force: true });
    const argv = [cli, 'siem', 'export', '--db', db, '--registry-id', registryId, '--format', r.format, ...r.extra, '--output', out, '--quiet'];
    files.push(await (r.pinned ? timed('taskset', ['-c', '0', process.execPath, ...argv], '/dev/null') : timed(process.execPath, argv, '/dev/null')));
  }
  fs.rmSync(out, { force: true });
  return { files, follow: await catchUp({ port, db, n, cli, registryId }) };
}

/** Medians over `runs` rounds per build, builds alternating: one row per run and build. */
export async function withoutThreads({ db, n, runs, builds, registryId, timed, median, log = () => undefined }) {
  const { peer, port } = await startPeer();
  const results = new Map(builds.map((b) => [b.name, { files: FILE_RUNS.map(() => ({ seconds: [], cpu: [], rss: [] })), follow: [] }]));
  try {
    for (let run = 0; run < runs; run++) {
      for (const b of run % 2 === 0 ? builds : [...builds].reverse()) {
        const r = await round({ port, db, n, cli: b.cli, registryId, timed });
        const m = results.get(b.name);
        r.files.forEach((f, i) => {
          m.files[i].seconds.push(f.seconds);
          m.files[i].cpu.push(f.cpu);
          m.files[i].rss.push(f.rssMb);
        });
        m.follow.push(r.follow);
        log(`  ${b.name}: ${FILE_RUNS.map((f, i) => `${f.name} ${r.files[i].seconds.toFixed(2)} s`).join(', ')}, follower caught up in ${r.follow.toFixed(2)} s`);
      }
    }
  } finally {
    peer.kill();
  }
  const rows = [];
  FILE_RUNS.forEach((f, i) => {
    for (const b of builds) {
      const m = results.get(b.name).files[i];
      rows.push({ run: f.name, build: b.name, format: f.format, pinned: f.pinned, seconds: median(m.seconds), cpu: median(m.cpu), rss: Math.max(...m.rss) });
    }
  });
  for (const b of builds) rows.push({ run: FOLLOW, build: b.name, seconds: median(results.get(b.name).follow), cpu: null, rss: null });
  return rows;
}

/** The table `npm run bench` prints, and this file prints alone. */
export function table(rows, n) {
  return [
    '| run | build | median wall | events/s | CPU (user+sys) | peak RSS |',
    '|---|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.run} | ${r.build} | ${r.seconds.toFixed(2)} s | ${Math.round(n / r.seconds).toLocaleString('en-US')} | ` +
      `${r.cpu === null ? '—' : `${r.cpu.toFixed(2)} s`} | ${r.rss === null ? '—' : `${r.rss.toFixed(0)} MB`} |`),
    ...(TASKSET ? [] : ['', 'taskset (util-linux) is not installed: the one-core runs were left out.']),
  ];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const arg = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const n = Number(arg('--events', '1000000'));
  const db = path.join(root, 'bench', 'data', `registry-${n}.sqlite`);
  const builds = [];
  if (argv.includes('--before')) builds.push({ name: 'before', cli: path.resolve(arg('--before')) });
  builds.push({ name: 'this build', cli: path.join(root, 'dist', 'bin', 'oversight.js') });
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  withoutThreads({ db, n, runs: Number(arg('--runs', '3')), builds, registryId: 'b3c1f0e2a9d84c5f', timed: timedCpu, median, log: (s) => process.stderr.write(s + '\n') })
    .then((rows) => {
      console.log(`On one core and without formatting threads, ${n.toLocaleString('en-US')} events, median of alternating runs (load average ${os.loadavg()[0].toFixed(2)}):\n`);
      for (const line of table(rows, n)) console.log(line);
    })
    .catch((err) => {
      console.error(`bench: ${err.message}`);
      process.exit(1);
    });
}
