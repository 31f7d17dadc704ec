// Delivery to a loopback Splunk HEC with and without gzip, alternating: bytes on the wire and events/s.
// The peer runs in its own process, decompresses what it is sent, and counts envelopes and wire bytes.
// Run alone, it compares builds on HEC delivery, alternating in every round, with wall and CPU time (user + sys):
//   node bench/gzip.mjs [--before OTHER/dist/cli.js] [--events N] [--runs R] [--compress none|gzip|both]
// (`--events N` picks bench/data/registry-N.sqlite, made by `npm run bench -- --events N`; 1,000,000 by default.)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PEER = `
  import http from 'node:http';
  import zlib from 'node:zlib';
  let events = 0, wire = 0, raw = 0;
  // Every envelope starts with {"time": and no string value can hold that unescaped: count it natively.
  const mark = Buffer.from('{"time":');
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/count') { res.end(JSON.stringify({ events, wire, raw })); events = wire = raw = 0; return; }
      const body = Buffer.concat(chunks);
      const gzip = req.headers['content-encoding'] === 'gzip';
      if (gzip !== (body[0] === 0x1f && body[1] === 0x8b)) { res.writeHead(400); res.end('{"text":"Invalid data format","code":6}'); return; }
      const text = gzip ? zlib.gunzipSync(body) : body;
      for (let i = text.indexOf(mark); i !== -1; i = text.indexOf(mark, i + mark.length)) events++;
      wire += body.length; raw += text.length;
      res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"text":"Success","code":0}');
    });
  });
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

export const counts = (port) => new Promise((resolve, reject) => http.get(`http://127.0.0.1:${port}/count`, (res) => {
  let t = '';
  res.on('data', (d) => (t += d));
  res.on('end', () => resolve(JSON.parse(t)));
}).on('error', reject));

/** The peer in its own process, and its port. */
export async function startPeer() {
  const peer = spawn(process.execPath, ['--input-type=module', '-e', PEER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => peer.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  return { peer, port };
}

/** One export to the peer; throws unless the peer counted every event. */
async function deliverOnce({ port, db, n, cli, registryId, timed, mode }) {
  const r = await timed(process.execPath, [cli, 'siem', 'export', '--db', db, '--registry-id', registryId,
    '--output', `http://127.0.0.1:${port}/services/collector/event`, '--max-batch-bytes', '1000000', '--compress', mode, '--quiet'],
  '/dev/null', { ...process.env, OVERSIGHT_SPLUNK_HEC_TOKEN: 'bench-token' });
  const c = await counts(port);
  if (c.events !== n) throw new Error(`HEC peer counted ${c.events} events with --compress ${mode}, expected ${n}`);
  return { ...r, ...c };
}

/** One row per compression: median seconds, events/s, bytes on the wire and before compression, per run. */
export async function hecCompression({ db, n, runs, cli, registryId, timed, median }) {
  const { peer, port } = await startPeer();
  const modes = ['none', 'gzip'];
  const results = new Map(modes.map((m) => [m, { seconds: [], wire: 0, raw: 0 }]));
  try {
    for (let run = 0; run < runs; run++) {
      for (const mode of modes) {
        const r = await deliverOnce({ port, db, n, cli, registryId, timed, mode });
        const m = results.get(mode);
        m.seconds.push(r.seconds);
        m.wire = r.wire;
        m.raw = r.raw;
        process.stderr.write(`  HEC delivery, --compress ${mode}: ${r.seconds.toFixed(2)} s, ${(r.wire / 1e6).toFixed(1)} MB on the wire\n`);
      }
    }
  } finally {
    peer.kill();
  }
  return modes.map((mode) => {
    const m = results.get(mode);
    const seconds = median(m.seconds);
    return { mode, seconds, eps: n / seconds, wire: m.wire, raw: m.raw };
  });
}

/** Wall time, CPU time (user + system) and peak RSS of one command run to completion, from GNU time. */
export function timedCpu(cmd, args, outFile, env = process.env) {
  return new Promise((resolve, reject) => {
    const cpuFile = path.join(os.tmpdir(), `oversight-bench-hec-${process.pid}`);
    const out = fs.openSync(outFile, 'w');
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%M %U %S', '-o', cpuFile, cmd, ...args], { stdio: ['ignore', out, 'inherit'], env });
    child.on('error', reject);
    child.on('close', (code) => {
      fs.closeSync(out);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`));
      const [kb, user, sys] = fs.readFileSync(cpuFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
      resolve({ seconds, cpu: user + sys, rssMb: kb / 1024 });
    });
  });
}

/** Builds side by side on the same peer, alternating in every round: medians of wall time, events/s and CPU time. */
async function compareBuilds(argv) {
  const arg = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const n = Number(arg('--events', '1000000'));
  const runs = Number(arg('--runs', '3'));
  const compress = arg('--compress', 'none');
  const modes = compress === 'both' ? ['none', 'gzip'] : [compress];
  const db = path.join(root, 'bench', 'data', `registry-${n}.sqlite`);
  if (!fs.existsSync(db)) throw new Error(`no ${db}: make it with npm run bench -- --events ${n}`);
  const builds = [];
  if (argv.includes('--before')) builds.push({ name: 'before', cli: path.resolve(arg('--before')) });
  builds.push({ name: 'this build', cli: path.join(root, 'dist', 'bin', 'oversight.js') });
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const { peer, port } = await startPeer();
  const rows = new Map();
  try {
    for (let run = 0; run < runs; run++) {
      for (const mode of modes) {
        for (const b of run % 2 === 0 ? builds : [...builds].reverse()) {
          const r = await deliverOnce({ port, db, n, cli: b.cli, registryId: 'b3c1f0e2a9d84c5f', timed: timedCpu, mode });
          const key = `${b.name}, --compress ${mode}`;
          if (!rows.has(key)) rows.set(key, { seconds: [], cpu: [], rss: [] });
          rows.get(key).seconds.push(r.seconds);
          rows.get(key).cpu.push(r.cpu);
          rows.get(key).rss.push(r.rssMb);
          process.stderr.write(`  ${key}: ${r.seconds.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s CPU, ${Math.round(n / r.seconds).toLocaleString('en-US')} events/s\n`);
        }
      }
    }
  } finally {
    peer.kill();
  }
  console.log(`HEC delivery of ${n.toLocaleString('en-US')} events, median of ${runs} alternating runs (load average ${os.loadavg()[0].toFixed(2)}):\n`);
  console.log('| build | median wall | events/s | median CPU (user + sys) | peak RSS |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [key, r] of rows) {
    const s = median(r.seconds);
    console.log(`| ${key} | ${s.toFixed(2)} s | ${Math.round(n / s).toLocaleString('en-US')} | ${median(r.cpu).toFixed(2)} s | ${Math.max(...r.rss).toFixed(0)} MB |`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  compareBuilds(process.argv.slice(2)).catch((err) => {
    console.error(`bench: ${err.message}`);
    process.exit(1);
  });
}
