#!/usr/bin/env node
// Benchmark harness: export formats against `sqlite3 -json` on the same registry, alternating, medians.
// Usage: npm run bench -- [--events N] [--runs R] [--save] [--skip-hec] [--rss-events N] [--skip-syslog] [--syslog-events N]
//        [--verify] [--verify-events N]   (siem verify against the Elasticsearch peer; off by default, it takes minutes)
//        npm run bench -- --soak DURATION [--every 3m] [--outage 30s] [--rate 1000] [--save]   (see soak.mjs)
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const DATA = path.join(ROOT, 'bench', 'data');
const REGISTRY_ID = 'b3c1f0e2a9d84c5f';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const EVENTS = Number(arg('--events', '1000000'));
const RUNS = Math.max(3, Number(arg('--runs', '3')));
const RSS_EVENTS = Number(arg('--rss-events', '0'));
const SAVE = process.argv.includes('--save');
const SKIP_HEC = process.argv.includes('--skip-hec');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmtInt = (n) => Math.round(n).toLocaleString('en-US');

if (process.argv.includes('--soak')) {
  if (!fs.existsSync(CLI)) {
    console.error('bench: build first (npm run build)');
    process.exit(2);
  }
  const { runSoak } = await import('./soak.mjs');
  const r = await runSoak({ root: ROOT, cli: CLI, argv: process.argv });
  if (process.argv.includes('--save')) {
    const file = path.join(ROOT, 'bench', 'soak-results.md');
    fs.writeFileSync(file, `# Soak results\n\n\`npm run bench --${process.argv.slice(2).filter((a) => a !== '--save').map((a) => ' ' + a).join('')}\`, ${new Date().toISOString().slice(0, 10)}\n\n${r.lines.join('\n')}\n`);
  }
  process.exit(r.ok ? 0 : 1);
}
if (spawnSync('sqlite3', ['--version']).status !== 0) {
  console.error('bench: the baseline needs the sqlite3 command-line shell: apt-get install sqlite3');
  process.exit(2);
}
if (!fs.existsSync(CLI)) {
  console.error('bench: build first (npm run build)');
  process.exit(2);
}

/** A registry of n events, made once with `oversight demo` and reused. */
function registry(n) {
  fs.mkdirSync(DATA, { recursive: true });
  const file = path.join(DATA, `registry-${n}.sqlite`);
  if (!fs.existsSync(file)) {
    process.stderr.write(`bench: writing a ${fmtInt(n)}-event registry to ${path.relative(ROOT, file)}\n`);
    const r = spawnSync(process.execPath, [CLI, 'demo', '--db', file, '--events', String(n)], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) process.exit(1);
  }
  return file;
}

/** Run a command to completion; wall time and the child's peak RSS (from GNU time when present). */
function timed(cmd, args, outFile, env = process.env) {
  return new Promise((resolve, reject) => {
    const haveTime = fs.existsSync('/usr/bin/time');
    const rssFile = path.join(os.tmpdir(), `oversight-bench-rss-${process.pid}`);
    const [c, a] = haveTime ? ['/usr/bin/time', ['-f', '%M', '-o', rssFile, cmd, ...args]] : [cmd, args];
    const out = fs.openSync(outFile, 'w');
    const started = process.hrtime.bigint();
    const child = spawn(c, a, { stdio: ['ignore', out, 'inherit'], env });
    child.on('error', reject);
    child.on('close', (code) => {
      fs.closeSync(out);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`));
      const rssMb = haveTime ? Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop()) / 1024 : NaN;
      resolve({ seconds, rssMb });
    });
  });
}

async function exportsAgainstBaseline(db, n) {
  const outFile = path.join(DATA, 'out.jsonl');
  const cases = [
    { name: 'sqlite3 -json (baseline)', cmd: 'sqlite3', args: ['-json', db, 'select * from events'], stdout: true },
    ...['ecs', 'splunk', 'sentinel', 'cef', 'leef', 'ocsf'].map((f) => ({
      name: `oversight ${f}`,
      cmd: process.execPath,
      args: [CLI, 'siem', 'export', '--db', db, '--registry-id', REGISTRY_ID, '--format', f, '--output', outFile, '--quiet'],
    })),
  ];
  const results = new Map(cases.map((c) => [c.name, { seconds: [], rss: [] }]));
  for (let run = 0; run < RUNS; run++) {
    // Alternate: every case once per round, so drift on a shared machine hits all of them alike.
    for (const c of cases) {
      fs.rmSync(outFile, { force: true });
      const r = await timed(c.cmd, c.args, c.stdout ? outFile : '/dev/null');
      results.get(c.name).seconds.push(r.seconds);
      results.get(c.name).rss.push(r.rssMb);
      process.stderr.write(`  ${c.name}: ${r.seconds.toFixed(2)} s\n`);
    }
  }
  fs.rmSync(outFile, { force: true });
  const base = median(results.get(cases[0].name).seconds);
  return cases.map((c) => {
    const r = results.get(c.name);
    const s = median(r.seconds);
    return { name: c.name, seconds: s, eps: n / s, ratio: s / base, rss: Math.max(...r.rss) };
  });
}

async function startup() {
  const db = registry(10);
  const seconds = [];
  for (let i = 0; i < 7; i++) {
    seconds.push((await timed(process.execPath, [CLI, 'siem', 'export', '--db', db, '--registry-id', REGISTRY_ID, '--format', 'ecs', '--quiet'], '/dev/null')).seconds);
  }
  return median(seconds);
}

const lines = [];
const say = (s) => { lines.push(s); console.log(s); };
const db = registry(EVENTS);
process.stderr.write(`bench: ${RUNS} alternating runs over ${fmtInt(EVENTS)} events\n`);
const rows = await exportsAgainstBaseline(db, EVENTS);
say(`Export of ${fmtInt(EVENTS)} events to a file, median of ${RUNS} alternating runs (${os.cpus().length} cores, Node ${process.version}):`);
say('');
say('| run | median wall | events/s | vs sqlite3 -json | peak RSS |');
say('|---|---:|---:|---:|---:|');
for (const r of rows) say(`| ${r.name} | ${r.seconds.toFixed(2)} s | ${fmtInt(r.eps)} | ${r.ratio.toFixed(2)}× | ${r.rss.toFixed(0)} MB |`);
if (RSS_EVENTS > 0) {
  const big = registry(RSS_EVENTS);
  const r = await timed(process.execPath, [CLI, 'siem', 'export', '--db', big, '--registry-id', REGISTRY_ID, '--format', 'ecs', '--output', '/dev/null', '--quiet'], '/dev/null');
  say(`| oversight ecs, ${fmtInt(RSS_EVENTS)} events | ${r.seconds.toFixed(2)} s | ${fmtInt(RSS_EVENTS / r.seconds)} | — | ${r.rssMb.toFixed(0)} MB |`);
}
say('');
if (!SKIP_HEC) {
  const { hecCompression } = await import('./gzip.mjs');
  const rows = await hecCompression({ db, n: EVENTS, runs: RUNS, cli: CLI, registryId: REGISTRY_ID, timed, median });
  say(`Delivery to a loopback Splunk HEC peer (1 MB batches before compression), median of ${RUNS} alternating runs:`);
  say('');
  say('| --compress | median wall | events/s | bytes on the wire | ratio |');
  say('|---|---:|---:|---:|---:|');
  for (const r of rows) say(`| ${r.mode} | ${r.seconds.toFixed(2)} s | ${fmtInt(r.eps)} | ${fmtInt(r.wire)} | ${(r.raw / r.wire).toFixed(1)}× |`);
  say('');
}
if (!process.argv.includes('--skip-syslog')) {
  const { syslogDelivery } = await import('./syslog.mjs');
  const n = Math.min(EVENTS, Number(arg('--syslog-events', '100000')));
  const r = await syslogDelivery({ db: registry(n), registryId: REGISTRY_ID, events: n, runs: RUNS, log: (s) => process.stderr.write(s + '\n') });
  if (r.skipped) say(`Syslog delivery: skipped (${r.skipped}).`);
  else {
    say(`Syslog delivery of ${fmtInt(n)} ecs events (~${fmtInt(r.bytes / n)} B per message) into one rsyslog on loopback, median of ${RUNS}:`);
    say('');
    say('| sender | events/s |');
    say('|---|---:|');
    for (const row of r.rows) say(`| ${row.name} | ${fmtInt(row.eps)} |`);
    say('');
  }
}
if (process.argv.includes('--verify')) {
  const { verifyBench } = await import('./verify.mjs');
  const n = Number(arg('--verify-events', String(EVENTS)));
  const r = await verifyBench({ root: ROOT, db: registry(n), n, cli: CLI, registryId: REGISTRY_ID, timed });
  say(`siem verify of ${fmtInt(n)} events against the loopback Elasticsearch peer (PIT + search_after, 1000 events per query), one run:`);
  say('');
  say('| run | wall | events/s | vs export of the same events | peak RSS |');
  say('|---|---:|---:|---:|---:|');
  say(`| export to the peer | ${r.exportSeconds.toFixed(2)} s | ${fmtInt(n / r.exportSeconds)} | 1.00× | ${r.exportRssMb.toFixed(0)} MB |`);
  say(`| siem verify | ${r.verifySeconds.toFixed(2)} s | ${fmtInt(n / r.verifySeconds)} | ${r.ratio.toFixed(2)}× | ${r.rssMb.toFixed(0)} MB |`);
  say('');
}
const start = await startup();
say(`Export of a 10-event registry (start-up cost): ${(start * 1000).toFixed(0)} ms median of 7.`);
if (SAVE) {
  const file = path.join(ROOT, 'bench', 'results.md');
  fs.writeFileSync(file, `# Benchmark results\n\n\`npm run bench --${process.argv.slice(2).filter((a) => a !== '--save').map((a) => ' ' + a).join('')}\`, ${new Date().toISOString().slice(0, 10)}\n\n${lines.join('\n')}\n`);
  process.stderr.write(`bench: saved ${path.relative(ROOT, file)}\n`);
}
