#!/usr/bin/env node
// Two builds side by side: file exports of the same registry from each, alternating with `sqlite3 -json` writing
// the same rows to the same file, medians of wall time and CPU time (user + system) and the peak RSS.
// Usage: node bench/compare.mjs --before OTHER/dist/cli.js [--events N] [--runs R] [--formats ecs,ocsf]
// (the registry comes from `npm run bench -- --events N` first; GNU time must be at /usr/bin/time)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);
const before = arg('--before');
if (!before || !fs.existsSync(before)) {
  console.error('compare: --before must name the other build\'s dist/cli.js');
  process.exit(2);
}
const events = Number(arg('--events', '1000000'));
const db = path.join(ROOT, 'bench', 'data', `registry-${events}.sqlite`);
if (!fs.existsSync(db)) {
  console.error(`compare: no ${path.relative(ROOT, db)}: run npm run bench -- --events ${events} first`);
  process.exit(2);
}
const builds = { before, after: path.join(ROOT, 'dist', 'bin', 'oversight.js') };
const formats = arg('--formats', 'ecs,splunk,sentinel,cef,leef,ocsf').split(',');
const runs = Number(arg('--runs', '3'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const out = path.join(ROOT, 'bench', 'data', 'compare.out');
const timeFile = path.join(os.tmpdir(), `oversight-compare-${process.pid}`);
const results = new Map();
for (let r = 0; r < runs; r++) {
  for (const [name, build] of [['sqlite3 -json', null], ...formats.flatMap((f) => Object.entries(builds).map(([b, cli]) => [`${f} ${b}`, cli]))]) {
    const format = name.split(' ')[0];
    fs.rmSync(out, { force: true });
    // Each run starts with the disk caught up, instead of paying for the file the run before it left to write out.
    spawnSync('sync');
    const cmd = build === null
      ? ['sh', '-c', 'sqlite3 -json "$1" "select * from events" > "$2"', 'sh', db, out]
      : [process.execPath, build, 'siem', 'export', '--db', db, '--registry-id', 'b3c1f0e2a9d84c5f', '--format', format, '--output', out, '--quiet'];
    const started = process.hrtime.bigint();
    const p = spawnSync('/usr/bin/time', ['-f', '%M %U %S', '-o', timeFile, ...cmd], { stdio: 'inherit' });
    if (p.status !== 0) process.exit(1);
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    const [kb, user, sys] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    if (!results.has(name)) results.set(name, { wall: [], cpu: [], rss: [] });
    const m = results.get(name);
    m.wall.push(wall);
    m.cpu.push(user + sys);
    m.rss.push(kb / 1024);
  }
}
fs.rmSync(out, { force: true });
fs.rmSync(timeFile, { force: true });
const base = median(results.get('sqlite3 -json').wall);
console.log(`${events.toLocaleString('en-US')} events, median of ${runs}, load average ${os.loadavg()[0].toFixed(1)} at the end\n`);
console.log('| run | median wall | vs sqlite3 -json | median CPU | peak RSS |\n|---|---:|---:|---:|---:|');
for (const [name, m] of results) {
  console.log(`| ${name} | ${median(m.wall).toFixed(2)} s | ${(median(m.wall) / base).toFixed(2)}× | ${median(m.cpu).toFixed(2)} s | ${Math.max(...m.rss).toFixed(0)} MB |`);
}
