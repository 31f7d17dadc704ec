// Soak: `oversight siem export --follow` against a loopback Splunk HEC that goes down (connections refused)
// for OUTAGE every EVERY, while a second process writes RATE events/s into the registry. Reports events lost
// (must be 0), duplicates, delivery lag outside outages, how long each outage took to drain, and the
// exporter's RSS after warm-up and at the end (must stay within 10% in runs of 5 minutes or more). Exits 1 when
// either bound is broken.
// Usage: npm run bench -- --soak 30m [--every 3m] [--outage 30s] [--rate 1000]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import Database from 'better-sqlite3';

const TOKEN = 'soak-token';
const REGISTRY_ID = 'b3c1f0e2a9d84c5f';
const RSS_SAMPLE_MS = 5_000;

function duration(text, flag) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(text ?? '').trim());
  if (!m) throw new Error(`${flag} must be a duration such as 60s, 3m or 1h, not '${text}'`);
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']);
}

const percentile = (sorted, p) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
const median = (xs) => percentile([...xs].sort((a, b) => a - b), 50);
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** RSS of a process in MB, from /proc (Linux); null elsewhere or once it has gone. */
/** Runs at least this long must keep RSS within 10% between the first minute after warm-up and the last. */
const RSS_JUDGED_FROM_MS = 5 * 60_000;

function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** A loopback HEC that records, per event id, how often it arrived and when it arrived first. */
class SoakHec {
  constructor(capacity) {
    this.count = new Uint8Array(capacity);
    this.lag = new Float64Array(capacity).fill(NaN);
    this.written = new Float64Array(capacity).fill(NaN);
    this.envelopes = 0;
    this.requests = 0;
    this.sockets = new Set();
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.headers.authorization !== `Splunk ${TOKEN}`) {
        res.writeHead(403, { 'content-type': 'application/json' }).end('{"text":"Invalid token","code":4}');
        return;
      }
      const now = Date.now();
      const raw = Buffer.concat(chunks);
      const body = (req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw).toString('utf8');
      this.requests++;
      // Every envelope starts with {"time": (no string value holds that unescaped), carries one event_id,
      // and, for rows the writer added, the time it wrote them inside extra.
      for (const piece of body.split('{"time":').slice(1)) {
        const m = /"event_id":"(\d+)"/.exec(piece);
        if (!m) continue;
        const id = Number(m[1]);
        this.envelopes++;
        if (id >= this.count.length) continue;
        if (this.count[id] < 255) this.count[id]++;
        const w = /"written_ms":(\d+)/.exec(piece);
        if (this.count[id] === 1 && w) {
          this.written[id] = Number(w[1]);
          this.lag[id] = now - Number(w[1]);
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}');
    });
  }

  async up(port = 0) {
    await new Promise((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    return this.server.address().port;
  }

  async down() {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A second process that adds `rate` events/s until SIGTERM, each carrying the time it was written. */
const WRITER = `
import Database from 'better-sqlite3';
const [db, rate] = process.argv.slice(1);
const con = new Database(db);
con.pragma('busy_timeout = 5000');
const ins = con.prepare("INSERT INTO events (token_id,kind,source_ip,user_agent,extra,timestamp) VALUES ('soak','dns','192.0.2.9','soak-writer',?,?)");
const many = con.transaction((n) => { for (let i = 0; i < n; i++) { const t = Date.now(); ins.run('{"written_ms":' + t + '}', Math.floor(t / 1000)); } });
const started = Date.now();
let written = 0;
const timer = setInterval(() => {
  const due = Math.floor(((Date.now() - started) * Number(rate)) / 1000) - written;
  if (due > 0) { many(due); written += due; }
}, 20);
process.on('SIGTERM', () => { clearInterval(timer); con.close(); console.log(written); process.exit(0); });
`;

export async function runSoak({ root, cli, argv }) {
  const arg = (name, fallback) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : fallback;
  };
  const total = duration(arg('--soak'), '--soak');
  const every = duration(arg('--every', '3m'), '--every');
  const outage = duration(arg('--outage', '30s'), '--outage');
  const rate = Number(arg('--rate', '1000'));
  if (!(outage < every)) throw new Error('--outage must be shorter than --every');
  const warmup = Math.min(60_000, total / 6);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oversight-soak-'));
  const db = path.join(dir, 'registry.sqlite');
  const state = path.join(dir, 'state.json');
  const logFile = path.join(dir, 'exporter.log');
  const say = (s) => process.stderr.write(`soak: ${s}\n`);
  try {
    const demo = spawn(process.execPath, [cli, 'demo', '--db', db, '--events', '1000'], { stdio: 'ignore' });
    await new Promise((r) => demo.on('close', r));
    const capacity = Math.ceil((rate * (total + 600_000)) / 1000) + 10_000;
    const hec = new SoakHec(capacity);
    const port = await hec.up();
    const out = fs.openSync(logFile, 'w');
    const exporter = spawn(process.execPath, [cli, 'siem', 'export', '--db', db, '--registry-id', REGISTRY_ID, '--follow', '--state', state,
      '--output', `http://127.0.0.1:${port}/services/collector/event`, '--metrics-listen', '127.0.0.1:0'],
    { stdio: ['ignore', 'ignore', out], env: { ...process.env, OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN } });
    const exited = new Promise((r) => exporter.on('close', (code, signal) => r({ code, signal })));
    const writer = spawn(process.execPath, ['--input-type=module', '-e', WRITER, db, String(rate)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let writerOut = '';
    writer.stdout.on('data', (d) => (writerOut += d));
    const started = Date.now();
    say(`${total / 1000}s, ${rate} events/s, HEC down ${outage / 1000}s every ${every / 1000}s; exporter log ${logFile}`);

    const outages = [];
    const rss = [];
    let isUp = true;
    while (Date.now() - started < total) {
      const t = (Date.now() - started) % every;
      const shouldBeUp = t < every - outage;
      if (shouldBeUp !== isUp) {
        if (shouldBeUp) {
          await hec.up(port);
          outages[outages.length - 1].end = Date.now();
          say(`HEC up again at ${((Date.now() - started) / 1000).toFixed(0)}s`);
        } else {
          await hec.down();
          outages.push({ start: Date.now(), end: null });
          say(`HEC down at ${((Date.now() - started) / 1000).toFixed(0)}s`);
        }
        isUp = shouldBeUp;
      }
      const r = rssMb(exporter.pid);
      if (r !== null && (rss.length === 0 || Date.now() - rss[rss.length - 1].at >= RSS_SAMPLE_MS)) rss.push({ at: Date.now(), mb: r });
      if (exporter.exitCode !== null) throw new Error(`the exporter exited early (${exporter.exitCode}); see ${logFile}`);
      await sleep(100);
    }
    if (!isUp) {
      await hec.up(port);
      outages[outages.length - 1].end = Date.now();
    }
    writer.kill('SIGTERM');
    await new Promise((r) => writer.on('close', r));
    const endRss = rss.filter((s) => s.at >= Date.now() - 60_000 - RSS_SAMPLE_MS);

    // Let the exporter deliver the rest, then stop it the way systemd would.
    const reg = new Database(db, { readonly: true });
    const ids = reg.prepare('SELECT id FROM events ORDER BY id').pluck().all();
    reg.close();
    const drainBy = Date.now() + 120_000;
    const delivered = () => ids.reduce((n, id) => n + (hec.count[id] > 0 ? 1 : 0), 0);
    while (delivered() < ids.length && Date.now() < drainBy) await sleep(500);
    exporter.kill('SIGTERM');
    const exit = await exited;
    fs.closeSync(out);

    let lost = 0;
    let duplicates = 0;
    for (const id of ids) {
      if (hec.count[id] === 0) lost++;
      else duplicates += hec.count[id] - 1;
    }
    // Drain time: from the HEC coming back until the last event written during the outage arrived.
    const drains = outages.map((o) => {
      let last = o.end;
      for (const id of ids) {
        const w = hec.written[id];
        if (!Number.isNaN(w) && w >= o.start && w < o.end) last = Math.max(last, w + hec.lag[id]);
      }
      return (last - o.end) / 1000;
    });
    const inOutage = (t) => outages.some((o) => t >= o.start && t < o.end);
    // Held up: written before an outage or its drain ended and delivered after the outage began.
    const heldUp = (w, arrived) => outages.some((o, i) => w < o.end + drains[i] * 1000 && arrived > o.start);
    const lags = [];
    const steady = [];
    for (const id of ids) {
      const w = hec.written[id];
      if (Number.isNaN(w) || inOutage(w)) continue;
      lags.push(hec.lag[id]);
      if (!heldUp(w, w + hec.lag[id])) steady.push(hec.lag[id]);
    }
    lags.sort((a, b) => a - b);
    steady.sort((a, b) => a - b);
    const startRss = median(rss.filter((s) => s.at >= started + warmup && s.at < started + warmup + 60_000).map((s) => s.mb));
    const finalRss = median(endRss.map((s) => s.mb));
    const growth = (finalRss - startRss) / startRss;
    const writtenCount = Number(writerOut.trim());

    const lines = [
      `Soak of ${total / 1000}s (${os.cpus().length} cores, Node ${process.version}): follow mode against a loopback HEC that refused connections for ${outage / 1000}s every ${every / 1000}s (${outages.length} outage(s)), ${rate} events/s written.`,
      '',
      '| measure | value |',
      '|---|---:|',
      `| events in the registry (1,000 before the start + written) | ${fmt(ids.length)} (${fmt(writtenCount)} written) |`,
      `| events lost | ${fmt(lost)} |`,
      `| duplicates | ${fmt(duplicates)} |`,
      `| lag p50 / p99 / max, events written while HEC was up | ${fmt(percentile(lags, 50))} / ${fmt(percentile(lags, 99))} / ${fmt(lags[lags.length - 1] ?? NaN)} ms (${fmt(lags.length)} events) |`,
      `| lag p50 / p99 / max, events no outage held up | ${fmt(percentile(steady, 50))} / ${fmt(percentile(steady, 99))} / ${fmt(steady[steady.length - 1] ?? NaN)} ms (${fmt(steady.length)} events) |`,
      `| time to drain after each outage | ${drains.map((d) => d.toFixed(1) + ' s').join(', ') || '—'} |`,
      `| exporter RSS after ${(warmup / 1000).toFixed(0)}s warm-up → last minute (medians) | ${startRss.toFixed(1)} MB → ${finalRss.toFixed(1)} MB (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}%) |`,
      `| requests / envelopes received | ${fmt(hec.requests)} / ${fmt(hec.envelopes)} |`,
      `| exporter exit on SIGTERM | ${exit.signal ?? exit.code} |`,
    ];
    console.log(lines.join('\n'));
    const failures = [];
    if (lost > 0) failures.push(`${lost} event(s) lost`);
    // Memory is judged only when the start and end minutes are apart: in a short run (CI's minute) they overlap,
    // and a garbage collection alone moves the medians by several percent.
    if (total >= RSS_JUDGED_FROM_MS && !(Math.abs(growth) <= 0.1)) failures.push(`RSS changed by ${(growth * 100).toFixed(1)}%`);
    if (total < RSS_JUDGED_FROM_MS) say(`RSS not judged: the run is shorter than ${RSS_JUDGED_FROM_MS / 60_000} minutes`);
    if (exit.code !== 0) failures.push(`exporter exited ${exit.signal ?? exit.code}`);
    if (failures.length) say(`FAILED: ${failures.join('; ')}`);
    return { ok: failures.length === 0, lines };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
