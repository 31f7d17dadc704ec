#!/usr/bin/env node
// Benchmark harness: export formats against `sqlite3 -json` on the same registry, alternating, medians.
// Usage: npm run bench -- [--events N] [--runs R] [--save] [--skip-hec] [--skip-follow] [--rss-events N] [--skip-syslog] [--syslog-events N,M] [--syslog-format F] [--relp-windows 128,512,2048,4096]
//        [--verify] [--verify-events N]   (siem verify against the Elasticsearch peer; off by default, it takes minutes)
//        [--no-extra-ca]   (every command runs without NODE_EXTRA_CA_CERTS: see the start-up line of the output)
//        npm run bench -- --soak DURATION [--every 3m] [--outage 30s] [--rate 1000] [--save]   (see soak.mjs)
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'bin', 'oversight.js');
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
// Node reads the certificate file NODE_EXTRA_CA_CERTS names before it runs any code, in every process: where a
// machine sets it for its own proxy, each run of the command pays for it (70 ms for the 140 certificates of
// Debian's bundle, measured). The start-up line says what it costs here; this runs everything without it.
const EXTRA_CA = process.env.NODE_EXTRA_CA_CERTS;
if (process.argv.includes('--no-extra-ca')) delete process.env.NODE_EXTRA_CA_CERTS;

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
    const [c, a] = haveTime ? ['/usr/bin/time', ['-f', '%M %U %S', '-o', rssFile, cmd, ...args]] : [cmd, args];
    const out = fs.openSync(outFile, 'w');
    const started = process.hrtime.bigint();
    const child = spawn(c, a, { stdio: ['ignore', out, 'inherit'], env });
    child.on('error', reject);
    child.on('close', (code) => {
      fs.closeSync(out);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`));
      const [kb, user, sys] = haveTime ? fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop().split(' ').map(Number) : [NaN, NaN, NaN];
      // CPU seconds (user + system) next to wall time: on a shared machine they move far less than wall time.
      resolve({ seconds, rssMb: kb / 1024, cpu: user + sys });
    });
  });
}

/**
 * Every format against sqlite3 -json, written to a file (`toFile`) or to /dev/null. To /dev/null leaves out the
 * page cache, whose cost on a virtual machine swings by ten times from one run to the next (see results.md).
 */
async function exportsAgainstBaseline(db, n, toFile = true) {
  const outFile = toFile ? path.join(DATA, 'out.jsonl') : '/dev/null';
  const cases = [
    { name: 'sqlite3 -json (baseline)', cmd: 'sqlite3', args: ['-json', db, 'select * from events'], stdout: true },
    ...['ecs', 'splunk', 'sentinel', 'cef', 'leef', 'ocsf'].map((f) => ({
      name: `oversight ${f}`,
      format: f,
      cmd: process.execPath,
      args: [CLI, 'siem', 'export', '--db', db, '--registry-id', REGISTRY_ID, '--format', f, '--output', outFile, '--quiet'],
    })),
  ];
  const results = new Map(cases.map((c) => [c.name, { seconds: [], rss: [], cpu: [], bytes: 0 }]));
  for (let run = 0; run < RUNS; run++) {
    // Alternate: every case once per round, so drift on a shared machine hits all of them alike.
    for (const c of cases) {
      if (toFile) fs.rmSync(outFile, { force: true });
      // Every run starts with the disk caught up: without this, each run also paid for writing out the file the
      // run before it left in the page cache (a gigabyte for some formats), whichever command that was.
      spawnSync('sync');
      const r = await timed(c.cmd, c.args, c.stdout ? outFile : '/dev/null');
      results.get(c.name).seconds.push(r.seconds);
      results.get(c.name).rss.push(r.rssMb);
      results.get(c.name).cpu.push(r.cpu);
      if (toFile) results.get(c.name).bytes = fs.statSync(outFile).size;
      process.stderr.write(`  ${c.name}: ${r.seconds.toFixed(2)} s\n`);
    }
  }
  if (toFile) fs.rmSync(outFile, { force: true });
  const base = median(results.get(cases[0].name).seconds);
  return cases.map((c) => {
    const r = results.get(c.name);
    const s = median(r.seconds);
    return { name: c.name, format: c.format, seconds: s, eps: n / s, ratio: s / base, rss: Math.max(...r.rss), cpu: median(r.cpu), bytes: r.bytes };
  });
}

/**
 * Median seconds of seven runs each: Node alone, and 10-event exports to stdout and to the loopback HEC peer
 * (which loads the HTTP stack); where NODE_EXTRA_CA_CERTS is set, Node alone and the export to stdout without it too.
 */
async function startup() {
  const db = registry(10);
  const { startPeer, counts } = await import('./gzip.mjs');
  const { peer, port } = await startPeer();
  const bare = [];
  const file = [];
  const hec = [];
  const withoutCa = { ...process.env };
  delete withoutCa.NODE_EXTRA_CA_CERTS;
  const noCa = process.env.NODE_EXTRA_CA_CERTS === undefined ? null : { bare: [], file: [] };
  const exportTen = [CLI, 'siem', 'export', '--db', db, '--registry-id', REGISTRY_ID, '--format', 'ecs', '--quiet'];
  try {
    for (let i = 0; i < 7; i++) {
      bare.push((await timed(process.execPath, ['-e', ''], '/dev/null')).seconds);
      if (noCa) {
        noCa.bare.push((await timed(process.execPath, ['-e', ''], '/dev/null', withoutCa)).seconds);
        noCa.file.push((await timed(process.execPath, exportTen, '/dev/null', withoutCa)).seconds);
      }
      file.push((await timed(process.execPath, exportTen, '/dev/null')).seconds);
      hec.push((await timed(process.execPath, [CLI, 'siem', 'export', '--db', db, '--registry-id', REGISTRY_ID, '--quiet',
        '--output', `http://127.0.0.1:${port}/services/collector/event`], '/dev/null', { ...process.env, OVERSIGHT_SPLUNK_HEC_TOKEN: 'bench-token' })).seconds);
      const c = await counts(port);
      if (c.events !== 10) throw new Error(`HEC peer counted ${c.events} events of a 10-event export`);
    }
  } finally {
    peer.kill();
  }
  return { bare: median(bare), file: median(file), hec: median(hec), noCa: noCa && { bare: median(noCa.bare), file: median(noCa.file) } };
}

const lines = [];
const say = (s) => { lines.push(s); console.log(s); };
/** Goals checked in this run, printed together at the end: what, measured, goal, met. */
const goals = [];
const goal = (what, measured, target, met) => goals.push({ what, measured, target, met });
const loadBefore = os.loadavg()[0];
const db = registry(EVENTS);
process.stderr.write(`bench: ${RUNS} alternating runs over ${fmtInt(EVENTS)} events\n`);
const rows = await exportsAgainstBaseline(db, EVENTS);
say(`Export of ${fmtInt(EVENTS)} events to a file, median of ${RUNS} alternating runs (${os.cpus().length} cores, Node ${process.version}; ` +
  `load average ${loadBefore.toFixed(1)} when the run began${loadBefore > os.cpus().length / 2 ? ': the machine was busy' : ''}` +
  `${EXTRA_CA !== undefined && process.env.NODE_EXTRA_CA_CERTS === undefined ? '; every command without NODE_EXTRA_CA_CERTS' : ''}):`);
say('');
say('| run | median wall | events/s | vs sqlite3 -json | CPU (user+sys) | peak RSS |');
say('|---|---:|---:|---:|---:|---:|');
for (const r of rows) say(`| ${r.name} | ${r.seconds.toFixed(2)} s | ${fmtInt(r.eps)} | ${r.ratio.toFixed(2)}× | ${r.cpu.toFixed(2)} s | ${r.rss.toFixed(0)} MB |`);
for (const r of rows.filter((x) => x.format)) {
  const limit = r.format === 'ocsf' ? 1.25 : 1.0;
  goal(`${r.format} export vs sqlite3 -json`, `${r.ratio.toFixed(2)}×`, `≤ ${limit.toFixed(2)}×`, r.ratio <= limit);
}
const peak = Math.max(...rows.filter((x) => x.format).map((x) => x.rss));
goal(`peak RSS, ${fmtInt(EVENTS)}-event file export (any format)`, `${peak.toFixed(0)} MB`, '≤ 120 MB', peak <= 120);
if (RSS_EVENTS > 0) {
  const big = registry(RSS_EVENTS);
  const r = await timed(process.execPath, [CLI, 'siem', 'export', '--db', big, '--registry-id', REGISTRY_ID, '--format', 'ocsf', '--output', '/dev/null', '--quiet'], '/dev/null');
  const small = rows.find((x) => x.format === 'ocsf');
  say(`| oversight ocsf, ${fmtInt(RSS_EVENTS)} events to /dev/null | ${r.seconds.toFixed(2)} s | ${fmtInt(RSS_EVENTS / r.seconds)} | — | ${r.cpu.toFixed(2)} s | ${r.rssMb.toFixed(0)} MB |`);
  goal(`peak RSS, ${fmtInt(RSS_EVENTS)} events vs ${fmtInt(EVENTS)} (ocsf)`, `${r.rssMb.toFixed(0)} MB vs ${small.rss.toFixed(0)} MB`, 'flat, ≤ 120 MB',
    r.rssMb <= 120 && r.rssMb <= small.rss * 1.1);
}
say('');
if (!process.argv.includes('--skip-null')) {
  // The same exports without the page cache, and the page cache without an export: `dd` writing as many bytes as
  // the largest output, right after the runs above, shows what writing a file cost on this machine at the time.
  const outFile = path.join(DATA, 'out.jsonl');
  const bytes = Math.max(...rows.map((r) => r.bytes));
  spawnSync('sync');
  const dd = await timed('dd', ['if=/dev/zero', `of=${outFile}`, 'bs=1M', `count=${Math.ceil(bytes / (1 << 20))}`, 'status=none'], '/dev/null');
  fs.rmSync(outFile, { force: true });
  const nul = await exportsAgainstBaseline(db, EVENTS, false);
  say(`The same exports to /dev/null, median of ${RUNS} alternating runs (no page cache: writing the OCSF export's ` +
    `${fmtInt(bytes)} bytes to a file with dd alone took ${dd.seconds.toFixed(2)} s, ${dd.cpu.toFixed(2)} s of it CPU, just before):`);
  say('');
  say('| run | median wall | events/s | vs sqlite3 -json | CPU (user+sys) | peak RSS |');
  say('|---|---:|---:|---:|---:|---:|');
  for (const r of nul) say(`| ${r.name} | ${r.seconds.toFixed(2)} s | ${fmtInt(r.eps)} | ${r.ratio.toFixed(2)}× | ${r.cpu.toFixed(2)} s | ${r.rss.toFixed(0)} MB |`);
  say('');
}
if (!SKIP_HEC) {
  const { hecCompression } = await import('./gzip.mjs');
  const rows = await hecCompression({ db, n: EVENTS, runs: RUNS, cli: CLI, registryId: REGISTRY_ID, timed, median });
  say(`Delivery to a loopback Splunk HEC peer (1 MB batches before compression), median of ${RUNS} alternating runs:`);
  say('');
  say('| --compress | median wall | events/s | bytes on the wire | ratio |');
  say('|---|---:|---:|---:|---:|');
  for (const r of rows) say(`| ${r.mode} | ${r.seconds.toFixed(2)} s | ${fmtInt(r.eps)} | ${fmtInt(r.wire)} | ${(r.raw / r.wire).toFixed(1)}× |`);
  say('');
  const plain = rows.find((r) => r.mode === 'none');
  if (plain) goal('HEC to loopback, --compress none', `${fmtInt(plain.eps)} events/s`, '≥ 300,000 events/s', plain.eps >= 300_000);
}
if (!process.argv.includes('--skip-follow')) {
  const { withoutThreads, table } = await import('./follow.mjs');
  const rows = await withoutThreads({ db, n: EVENTS, runs: RUNS, builds: [{ name: 'oversight', cli: CLI }], registryId: REGISTRY_ID, timed, median,
    log: (s) => process.stderr.write(s + '\n') });
  say(`On one core and without formatting threads (\`--threads 1\`, \`--limit\`, follow mode), ${fmtInt(EVENTS)} events, median of ${RUNS} ` +
    'runs; the follower starts with the whole registry as its backlog and delivers it to the loopback HEC peer:');
  say('');
  for (const line of table(rows, EVENTS)) say(line);
  say('');
  // A one-core machine runs every export this way: the memory goal holds there too.
  const pinned = rows.filter((r) => r.pinned);
  if (pinned.length > 0) {
    const worst = Math.max(...pinned.map((r) => r.rss));
    goal(`peak RSS, ${fmtInt(EVENTS)}-event file export on one core (${pinned.map((r) => r.format).join(', ')})`, `${worst.toFixed(0)} MB`, '≤ 120 MB', worst <= 120);
  }
}
if (!process.argv.includes('--skip-syslog')) {
  const { syslogDelivery, DROPPED, DROPPED_THREADS } = await import('./syslog.mjs');
  // Two sizes: 100,000 events, where the exporter's start-up (about a quarter of a second of CPU, against under
  // half a second for the bare sender) weighs heavily, and 1,000,000, the rate a backlog is sent at.
  const sizes = [...new Set(arg('--syslog-events', '100000,1000000').split(',').map(Number).map((n) => Math.min(EVENTS, n)))];
  const format = arg('--syslog-format', 'ecs');
  for (const [k, n] of sizes.entries()) {
    // The window sweep once, where it means something (and CI's smoke run stays short): 100,000 events or more.
    const windows = k > 0 ? [] : arg('--relp-windows', n >= 100_000 ? '128,512,2048,4096' : '').split(',').filter(Boolean).map(Number);
    // A run of 100,000 messages lasts well under a second, so one busy moment of the machine moves its time by a
    // tenth: such rows get at least seven runs, and the median of seven.
    const runs = n <= 100_000 ? Math.max(RUNS, 7) : RUNS;
    const r = await syslogDelivery({ db: registry(n), registryId: REGISTRY_ID, events: n, runs, format, windows, log: (s) => process.stderr.write(s + '\n') });
    if (r.skipped) {
      say(`Syslog delivery: skipped (${r.skipped}).`);
      break;
    }
    const eps = (name) => r.rows.find((x) => x.name === name)?.eps ?? NaN;
    const bareTcp = eps('bare sender, pre-built frames (TCP)');
    const bareRelp = eps('bare sender, pre-built frames (RELP, pipelined, no window)');
    say(`Syslog delivery of ${fmtInt(n)} ${format} events (~${fmtInt(r.bytes / n)} B per message) into one rsyslog on loopback, median of ${runs} ` +
      '(each exporter run includes its start-up; the bare senders write bytes built beforehand, from this process or, ' +
      'for the "bare sender process" row, from a new Node process that reads them from a file: it pays a start-up as the exporter does and sets no goal; CPU is user + system, ' +
      'the exporter\'s with its start-up and formatting threads, rsyslogd\'s while the row ran):');
    say('');
    say('| sender | median wall | events/s | vs its bare sender | CPU: sender | CPU: rsyslogd |');
    say('|---|---:|---:|---:|---:|---:|');
    for (const row of r.rows) {
      const bare = row.name.includes('relp') || row.name.includes('RELP') ? bareRelp : bareTcp;
      say(`| ${row.name} | ${row.seconds.toFixed(2)} s | ${fmtInt(row.eps)} | ${((100 * row.eps) / bare).toFixed(0)}% | ${row.senderCpu.toFixed(2)} s | ${row.rsyslogCpu.toFixed(2)} s |`);
    }
    const bareProcess = eps('bare sender process (node, then the frames from a file, TCP)');
    say('');
    if (bareProcess > 0) {
      say(`Against the bare sender process, the exporter's syslog+tcp took ${((100 * eps('oversight syslog+tcp')) / bareProcess).toFixed(0)}% of its rate.`);
      say('');
    }
    // Rows with no receiver's work. Alone on its thread, no receiver can make the exporter faster, and on a small
    // machine rsyslog also takes its cores; with two threads, it is the export when rsyslog runs elsewhere.
    for (const [name, as] of [[DROPPED, 'Into a socket that drops what it reads, with no rsyslog, the exporter'],
      [DROPPED_THREADS, 'With two formatting threads, as when the receiver runs on another machine, it']]) {
      const row = r.rows.find((x) => x.name === name);
      if (!row) continue;
      say(`${as} took ${row.seconds.toFixed(2)} s on ${row.senderCpu.toFixed(2)} s of CPU: ${((100 * row.eps) / bareTcp).toFixed(0)}% of the bare sender's rate` +
        `${name === DROPPED ? ', the most its rsyslog row can reach on this machine' : ' into this rsyslog'}.`);
      say('');
    }
    const tcp = eps('oversight syslog+tcp');
    const relp = r.rows.find((x) => x.default)?.eps ?? NaN;
    const at = `${fmtInt(n)} events`;
    goal(`syslog+tcp vs a bare TCP sender, same frames, same rsyslog, ${at}`, `${((100 * tcp) / bareTcp).toFixed(0)}%`, '≥ 60%', tcp >= 0.6 * bareTcp);
    goal(`relp vs a bare pipelined RELP sender, same rsyslog, ${at}`, `${((100 * relp) / bareRelp).toFixed(0)}%`, '≥ 60%', relp >= 0.6 * bareRelp);
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
const ms = (sec) => `${(sec * 1000).toFixed(0)} ms`;
say(`Start-up, median of 7: \`node -e ''\` ${ms(start.bare)}; an export of a 10-event registry ${ms(start.file)} to stdout, ${ms(start.hec)} to the loopback HEC peer.` +
  (start.noCa ? ` NODE_EXTRA_CA_CERTS is set here (Node reads the certificates it names before running any code): without it, \`node -e ''\` ${ms(start.noCa.bare)}, the export to stdout ${ms(start.noCa.file)}.`
    : EXTRA_CA !== undefined ? ' Every command ran without the NODE_EXTRA_CA_CERTS this machine sets (--no-extra-ca).' : ''));
say('');
say(`Goals (load average ${loadBefore.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end, on ${os.cpus().length} cores):`);
say('');
say('| goal | measured | target | met |');
say('|---|---:|---:|:---:|');
for (const g of goals) say(`| ${g.what} | ${g.measured} | ${g.target} | ${g.met ? 'yes' : 'no'} |`);
if (SAVE) {
  const file = path.join(ROOT, 'bench', 'results.md');
  fs.writeFileSync(file, `# Benchmark results\n\n\`npm run bench --${process.argv.slice(2).filter((a) => a !== '--save').map((a) => ' ' + a).join('')}\`, ${new Date().toISOString().slice(0, 10)}\n\n${lines.join('\n')}\n`);
  process.stderr.write(`bench: saved ${path.relative(ROOT, file)}\n`);
}
