// Syslog delivery benchmark: events/s into a real rsyslog over TCP and over RELP, next to the rate rsyslog takes
// the very same frames from a bare sender (pre-built bytes written to one socket), in the same run.
// Used by run.mjs; alone: node bench/syslog.mjs --db REGISTRY --registry-id ID --events N [--runs R] [--format F] [--windows 128,4096] [--extra 'FLAGS']
//   [--only tcp|relp] [--before OTHER/dist/cli.js: that build's exporter rows too, alternating with this one's]
// Each row also gives the CPU seconds (user + system) of the sender and of rsyslogd while it ran.
// The registry must hold exactly N events: the exporter runs without --limit, so large exports use formatting threads.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'bin', 'oversight.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
const GNU_TIME = spawnSync('/usr/bin/time', ['-f', '%U', 'true']).status === 0;
const { DEFAULT_WINDOW } = await import(path.join(ROOT, 'dist', 'transports', 'syslog', 'relp.js'));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** rsyslog on loopback with a private config; it writes one short line per message, so its intake is what counts. */
async function startRsyslog() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oversight-bench-rsyslog-'));
  const ports = { tcp: await freePort(), relp: await freePort() };
  const out = path.join(dir, 'out.log');
  fs.mkdirSync(path.join(dir, 'work'));
  fs.writeFileSync(path.join(dir, 'rsyslog.conf'), `
global(workDirectory="${dir}/work" net.enableDNS="off")
module(load="imtcp")
module(load="imrelp")
template(name="n" type="string" string="%msgid%\\n")
ruleset(name="bench") { action(type="omfile" file="${out}" template="n") }
input(type="imtcp" address="127.0.0.1" port="${ports.tcp}" ruleset="bench")
input(type="imrelp" address="127.0.0.1" port="${ports.relp}" ruleset="bench")
`);
  const child = spawn('rsyslogd', ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', path.join(dir, 'pid')], { stdio: 'ignore' });
  const end = Date.now() + 20_000;
  for (;;) {
    const l = fs.readFileSync('/proc/net/tcp', 'utf8');
    const up = (p) => new RegExp(`0100007F:${p.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A`).test(l);
    if (up(ports.tcp) && up(ports.relp)) break;
    if (child.exitCode !== null || Date.now() > end) throw new Error('rsyslogd did not start');
    await sleep(20);
  }
  let offset = 0;
  let lines = 0;
  /** Lines written so far (read incrementally). */
  const count = () => {
    if (!fs.existsSync(out)) return 0;
    const fd = fs.openSync(out, 'r');
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, offset);
      if (n === 0) break;
      for (let i = buf.indexOf(10); i >= 0 && i < n; i = buf.indexOf(10, i + 1)) lines++;
      offset += n;
    }
    fs.closeSync(fd);
    return lines;
  };
  /** rsyslogd's CPU seconds so far (user + system, all threads), from /proc. */
  const cpu = () => {
    const f = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS;
  };
  const stop = async () => {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { ports, count, cpu, stop };
}

/** The exact bytes our exporter sends over TCP, caught by a local socket: the bare sender replays them. */
async function captureFrames(db, registryId, n, format) {
  const chunks = [];
  const server = net.createServer((s) => s.on('data', (d) => chunks.push(d)));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  // Not spawnSync: the socket above lives in this process and must keep reading while the exporter writes.
  const code = await new Promise((resolve) => spawn(process.execPath, [CLI, 'siem', 'export', '--db', db, '--registry-id', registryId, '--format', format,
    '--output', `syslog+tcp://127.0.0.1:${server.address().port}`, '--limit', String(n), '--quiet', '--syslog-max-message', '65536'], { stdio: 'inherit' })
    .on('close', resolve));
  await sleep(200);
  server.close();
  if (code !== 0) throw new Error('capturing frames failed');
  return Buffer.concat(chunks);
}

function bareSend(port, frames) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(frames, resolve));
    s.on('error', reject);
  });
}

/** The same messages as RELP frames, all written at once without waiting for answers: imrelp's own ceiling. */
function relpFrames(octetFrames) {
  const offer = 'relp_version=0\nrelp_software=bench\ncommands=syslog';
  const parts = [Buffer.from(`1 open ${offer.length} ${offer}\n`)];
  let txnr = 1;
  for (let off = 0; off < octetFrames.length;) {
    const sp = octetFrames.indexOf(32, off);
    const len = Number(octetFrames.subarray(off, sp).toString('latin1'));
    parts.push(Buffer.from(`${++txnr} syslog ${len} `), octetFrames.subarray(sp + 1, sp + 1 + len), Buffer.from('\n'));
    off = sp + 1 + len;
  }
  return { data: Buffer.concat(parts), last: txnr };
}

function bareRelp(port, { data, last }) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(data));
    const want = Buffer.from(`\n${last} rsp `);
    let tail = Buffer.alloc(0);
    s.on('data', (d) => {
      tail = Buffer.concat([tail.subarray(-want.length), d]);
      if (tail.includes(want)) s.end(`${last + 1} close 0\n`, resolve);
    });
    s.on('error', reject);
  });
}

/** The bench process's own CPU seconds while `f` runs: the bare senders' cost (it also counts rsyslog's lines). */
async function ownCpu(f) {
  const before = process.cpuUsage();
  await f();
  const d = process.cpuUsage(before);
  return (d.user + d.system) / 1e6;
}

async function timeUntil(rs, target, start, timeoutMs = 600_000) {
  const end = Date.now() + timeoutMs;
  while (rs.count() < target) {
    if (Date.now() > end) throw new Error(`rsyslog took ${rs.count()} of ${target} messages`);
    await sleep(5);
  }
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** The row of the exporter into a socket that drops what it reads, with no rsyslog. */
export const DROPPED = 'oversight syslog+tcp into a socket that drops it (no rsyslog)';
/**
 * The same with the two formatting threads the export takes when its receiver is on another machine (`--threads
 * auto` gives none for a receiver on this one with two cores, since rsyslog needs those cores too).
 */
export const DROPPED_THREADS = 'oversight syslog+tcp --threads 2 into a socket that drops it (no rsyslog)';

/** Median events/s per sender; every run must deliver every event. Returns null (with a reason) without rsyslog. */
export async function syslogDelivery({ db, registryId, events, runs, format = 'ecs', extra = [], windows = [128, 512, 2048, 4096], only = null, before = null, log = () => undefined }) {
  if (spawnSync('rsyslogd', ['-v']).status !== 0) return { skipped: 'rsyslogd not installed (apt-get install rsyslog rsyslog-relp)' };
  const frames = await captureFrames(db, registryId, events, format);
  const relp = relpFrames(frames);
  const rs = await startRsyslog();
  // Resolves with a child's CPU seconds (user + system, start-up included), or NaN without GNU time.
  const child = (name, argv) => new Promise((resolve, reject) => {
    const c = GNU_TIME
      ? spawn('/usr/bin/time', ['-f', 'cpu %U %S', process.execPath, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => {
      const m = /^cpu ([\d.]+) ([\d.]+)$/m.exec(err);
      const rest = err.replace(/^cpu [\d.]+ [\d.]+\n?$/m, '');
      if (rest) process.stderr.write(rest);
      if (code === 0) resolve(m ? Number(m[1]) + Number(m[2]) : NaN);
      else reject(new Error(`${name} exited ${code}`));
    });
  });
  const exporter = (name, url, flags = [], cli = CLI) => ({
    name, url, flags,
    run: () => child(name, [cli, 'siem', 'export', '--db', db, '--registry-id', registryId, '--format', format, '--output', url,
      '--quiet', '--syslog-max-message', '65536', ...extra, ...flags]),
  });
  // The bare sender as a process of its own: Node's start-up, then the same frames streamed from a file in 8 MB
  // reads (read whole, a gigabyte cost it 2.6 s of CPU). Shown beside the others, not used for any goal: it tells
  // apart what a new process costs from the rest.
  const framesFile = path.join(os.tmpdir(), `oversight-bench-frames-${process.pid}`);
  fs.writeFileSync(framesFile, frames);
  const SENDER = "const s = require('net').connect(Number(process.argv[2]), '127.0.0.1', () => " +
    "require('fs').createReadStream(process.argv[1], { highWaterMark: 8 << 20 }).pipe(s))";
  const tcp = `syslog+tcp://127.0.0.1:${rs.ports.tcp}`;
  // A socket on this process that reads and drops what it gets: the exporter's time with no receiver's work at
  // all, the most the rsyslog row can reach on this machine. It sets no goal.
  const drop = net.createServer((s) => s.resume().on('error', () => undefined));
  await new Promise((r) => drop.listen(0, '127.0.0.1', r));
  const dropUrl = `syslog+tcp://127.0.0.1:${drop.address().port}`;
  const relpUrl = `relp://127.0.0.1:${rs.ports.relp}`;
  const senders = [
    ...(only === 'relp' ? [] : [exporter('oversight syslog+tcp', tcp)]),
    ...(only === 'tcp' ? [] : [
      { ...exporter(`oversight relp (default window, ${DEFAULT_WINDOW})`, relpUrl), default: true },
      // The window's effect: how many messages travel unanswered (a receiver restart duplicates at most that many).
      ...windows.filter((w) => w !== DEFAULT_WINDOW).map((w) => exporter(`oversight relp --relp-window ${w}`, relpUrl, ['--relp-window', String(w)])),
    ]),
  ];
  const cases = [
    { name: 'bare sender, pre-built frames (TCP)', run: () => ownCpu(() => bareSend(rs.ports.tcp, frames)) },
    { name: 'bare sender, pre-built frames (RELP, pipelined, no window)', run: () => ownCpu(() => bareRelp(rs.ports.relp, relp)) },
    ...(only === 'relp' ? [] : [{ name: 'bare sender process (node, then the frames from a file, TCP)', run: () => child('bare sender process', ['-e', SENDER, framesFile, String(rs.ports.tcp)]) }]),
    ...senders,
    ...(only === 'relp' ? [] : [
      { ...exporter(DROPPED, dropUrl), alone: true },
      { ...exporter(DROPPED_THREADS, dropUrl, ['--threads', '2']), alone: true },
    ]),
    // Another build (`--before OTHER/dist/cli.js`) with the same flags, alternating with this one.
    ...(before ? senders.map((c) => ({
      ...c, default: false, name: `${c.default ? 'oversight relp (its default window)' : c.name} [before]`, run: exporter(c.name, c.url, c.flags, before).run,
    })) : []),
  ];
  const seconds = new Map(cases.map((c) => [c.name, []]));
  const senderCpu = new Map(cases.map((c) => [c.name, []]));
  const rsyslogCpu = new Map(cases.map((c) => [c.name, []]));
  try {
    for (let i = 0; i < runs; i++) {
      for (const c of cases) {
        const target = rs.count() + events;
        const rsBefore = rs.cpu();
        const start = process.hrtime.bigint();
        const cpu = await c.run();
        const s = c.alone ? Number(process.hrtime.bigint() - start) / 1e9 : await timeUntil(rs, target, start);
        const rsCpu = rs.cpu() - rsBefore;
        seconds.get(c.name).push(s);
        senderCpu.get(c.name).push(cpu);
        rsyslogCpu.get(c.name).push(rsCpu);
        log(`  ${c.name}: ${s.toFixed(2)} s (CPU: sender ${cpu.toFixed(2)} s, rsyslogd ${rsCpu.toFixed(2)} s)`);
      }
    }
  } finally {
    await rs.stop();
    drop.close();
    fs.rmSync(framesFile, { force: true });
  }
  const rows = cases.map((c) => ({
    name: c.name, default: c.default ?? false, eps: events / median(seconds.get(c.name)), seconds: median(seconds.get(c.name)),
    senderCpu: median(senderCpu.get(c.name)), rsyslogCpu: median(rsyslogCpu.get(c.name)),
  }));
  // Each exporter's share of its bare sender's rate, from the medians of this run.
  for (const r of rows) r.share = r.eps / rows[r.name.toLowerCase().includes('relp') ? 1 : 0].eps;
  return { rows, bytes: frames.length };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);
  const r = await syslogDelivery({
    db: arg('--db'), registryId: arg('--registry-id', 'b3c1f0e2a9d84c5f'), events: Number(arg('--events', '100000')),
    runs: Number(arg('--runs', '3')), format: arg('--format', 'ecs'), windows: arg('--windows', '128,512,2048,4096').split(',').filter(Boolean).map(Number), only: arg('--only', null), before: arg('--before', null), extra: (arg('--extra', '') || '').split(' ').filter(Boolean), log: (s) => process.stderr.write(s + '\n'),
  });
  if (r.skipped || process.argv.includes('--json')) console.log(JSON.stringify(r, null, 1));
  else {
    console.log(`${r.bytes} bytes of frames; medians of ${arg('--runs', '3')} runs:`);
    for (const x of r.rows) {
      console.log(`${x.name.padEnd(74)} ${x.seconds.toFixed(2)} s  ${(100 * x.share).toFixed(0).padStart(3)}%  CPU sender ${x.senderCpu.toFixed(2)} s, rsyslogd ${x.rsyslogCpu.toFixed(2)} s`);
    }
  }
}
