#!/usr/bin/env node
// Two builds' per-row work, side by side in one process: the rows of a registry, read once as the JSON read
// reads them, turned into records as a formatting thread does (event, record, lines written 32 at a time into a
// buffer), by this build and another, alternating. Start-up, threads, SQLite and the output file are left out,
// so a change of a few percent in the formatters shows on a busy machine where whole exports vary by more.
// Both builds must write the same bytes; the medians of ns per row and the median of the paired ratios (this
// build's time over the other's, round by round) are printed per format.
// Usage: node bench/per-row.mjs --before OTHER/dist [--events 50000] [--rounds 21] [--formats ecs,ocsf] [--syslog]
// (`--before` takes the other build's dist folder; `--syslog` wraps each record for syslog as syslog outputs do)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);
const before = arg('--before');
if (!before || !fs.existsSync(path.join(before, 'records', 'spec.js'))) {
  console.error("per-row: --before must name another build's dist folder (with records/spec.js)");
  process.exit(2);
}
const events = Number(arg('--events', '50000'));
const db = path.join(ROOT, 'bench', 'data', `registry-${events}.sqlite`);
if (!fs.existsSync(db)) {
  console.error(`per-row: no ${path.relative(ROOT, db)}: run npm run bench -- --events ${events} first`);
  process.exit(2);
}
const rounds = Number(arg('--rounds', '21'));
const formats = arg('--formats', 'ecs,splunk,sentinel,cef,leef,ocsf').split(',');
const envelope = process.argv.includes('--syslog')
  ? { kind: 'rfc5424', settings: { facility: 20, hostname: 'bench-host', sdId: 'oversight@32473' } }
  : null;
const REGISTRY_ID = 'b3c1f0e2a9d84c5f';

/** The modules a formatting thread uses, from one build. */
async function load(dist) {
  const at = (p) => import(path.resolve(dist, p));
  const [{ RegistrySource, PAGE_SIZE }, { readEventRows, eventOf }, { blankEventJson }, { recordFormatter }, { formatByName }] = await Promise.all([
    at('registry/source.js'), at('pipeline/event-rows.js'), at('records/formats/fields.js'), at('records/spec.js'), at('records/formats/index.js'),
  ]);
  return { RegistrySource, PAGE_SIZE, readEventRows, eventOf, blankEventJson, recordFormatter, formatByName };
}

const builds = [
  { name: 'before', ...(await load(before)) },
  { name: 'after', ...(await load(path.join(ROOT, 'dist'))) },
];

// The rows, read once with the other build's reader: both builds format the very same strings.
const rows = [];
{
  const b = builds[0];
  const source = b.RegistrySource.open(db);
  for (let after = 0; ;) {
    const page = b.readEventRows(source, after, Infinity, b.PAGE_SIZE, null);
    if (page.length === 0) break;
    rows.push(...page);
    after = b.eventOf(page[page.length - 1], REGISTRY_ID).rowid;
  }
  source.close();
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${rows.length} rows of ${path.relative(ROOT, db)}${envelope ? ', wrapped for syslog' : ''}; medians of ${rounds} alternating rounds`);
for (const format of formats) {
  // Room for records of 2 KB on average (the demo registry's are under 1.5 KB); a run that would overflow stops.
  const buffers = builds.map(() => Buffer.allocUnsafeSlow(rows.length * 2048 + (1 << 20)));
  const runs = builds.map((b, k) => {
    const settings = b.formatByName(format).settings?.({}) ?? {};
    const record = b.recordFormatter({ format, settings, envelope, privacy: null });
    const into = b.blankEventJson();
    const buf = buffers[k];
    return () => {
      let off = 0;
      let text = '';
      let lines = 0;
      for (const row of rows) {
        text += record(b.eventOf(row, REGISTRY_ID, into)) + '\n';
        if (++lines === 32) {
          if (off + text.length * 3 > buf.length) throw new Error('per-row: records larger than 2 KB on average; use a demo registry');
          off += buf.write(text, off);
          text = '';
          lines = 0;
        }
      }
      return off + buf.write(text, off);
    };
  });
  const lengths = runs.map((run) => run());
  if (lengths[0] !== lengths[1] || buffers[0].compare(buffers[1], 0, lengths[1], 0, lengths[0]) !== 0) {
    console.error(`per-row: ${format}: the two builds write different bytes`);
    process.exit(1);
  }
  const times = builds.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < runs.length; k++) {
      const t = performance.now();
      runs[k]();
      times[k].push(performance.now() - t);
    }
  }
  const ns = times.map((t) => (median(t) * 1e6) / rows.length);
  const paired = median(times[1].map((t, i) => t / times[0][i]));
  console.log(`${format.padEnd(9)} before ${ns[0].toFixed(0).padStart(5)} ns/row   after ${ns[1].toFixed(0).padStart(5)} ns/row   paired ratio ${paired.toFixed(3)}`);
}
