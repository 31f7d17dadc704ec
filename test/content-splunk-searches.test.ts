/**
 * The app's saved searches, run over the detections' sample registries as Splunk would run them once (records
 * exported with the built CLI, put through props.conf, the SPL replayed command by command at the time of the
 * sample's last callback): each alert fires on its fires sample, stays quiet on its quiet sample, and finds the
 * same alerts as the declarative definition it was generated from.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { evaluate as evaluateDetection } from '../src/content/detect.js';
import { contentRoot, loadDetections } from '../src/content/model.js';
import { APP, SOURCETYPE } from '../src/content/splunk.js';
import { parseConf } from '../src/content/splunk-conf.js';
import { applyProps, readProps, runSearch, searchTimeFields } from './support/splunk-run.js';
import { evaluate, parseExpr, type Fields } from './support/splunk-spl.js';
import { iterRegistryEvents } from '../src/registry/source.js';
import { jsonLines, runCli, sqlRegistry } from './helpers.js';

const APP_DIR = path.join(contentRoot(), 'splunk', APP);
const SAMPLES = path.join(contentRoot(), 'detections', 'samples');
const read = (f: string): string => fs.readFileSync(path.join(APP_DIR, f), 'utf8');
const rules = readProps(read('default/props.conf'), SOURCETYPE);
const macrosConf = parseConf(read('default/macros.conf'));
const macros = new Map(macrosConf.stanzas.map((s) => [s.name, macrosConf.stanza(s.name).get('definition')!]));
const saved = parseConf(read('default/savedsearches.conf'));
const detections = loadDetections();

async function exported(db: string): Promise<Fields[]> {
  const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'sample', '--format', 'splunk']);
  assert.equal(r.code, 0, r.stderr);
  return jsonLines(r.stdout).map((e) => applyProps(rules, searchTimeFields(e)));
}

const text = (v: Fields extends Map<string, infer V> ? V | undefined : never): string => (Array.isArray(v) ? v.join(',') : String(v));

describe('the replay of a search', () => {
  const rows = [
    new Map<string, string | number | string[]>([['_time', 100], ['ip', 'a'], ['k', 'dns'], ['sourcetype', 'st']]),
    new Map<string, string | number | string[]>([['_time', 200], ['ip', 'a'], ['k', 'http'], ['sourcetype', 'st']]),
    new Map<string, string | number | string[]>([['_time', 300], ['ip', 'b'], ['k', 'dns'], ['sourcetype', 'other']]),
  ];
  const run = (spl: string, now = 300, earliest = '-1h'): Fields[] => runSearch(spl, rows, { now, earliest, macros: new Map([['m', 'sourcetype=st']]) });
  it('filters by macro, time range and where, and groups with stats', () => {
    assert.equal(run('`m`').length, 2);
    assert.equal(run('`m`', 300, '-150s').length, 1, 'only events after now minus the range');
    assert.equal(run('`m`', 150).length, 1, 'nothing after now');
    const [row] = run('`m` | where ip=="a" | stats count as n, dc(k) as kinds, earliest(k) as first, min(_time) as t by ip');
    assert.deepEqual([...row!], [['ip', 'a'], ['n', 2], ['kinds', 2], ['first', 'dns'], ['t', 100]]);
    assert.deepEqual(run('`m` | where _time >= relative_time(now(), "-150s")').length, 1);
  });
  it('reads search terms as Splunk does: NOT, then OR, then AND, with parentheses first', () => {
    const kinds = (spl: string): string[] => run(spl).map((r) => String(r.get('k')));
    // OR binds tighter than AND: `ip=a k=dns OR sourcetype=other` is `ip=a AND (k=dns OR sourcetype=other)`.
    assert.deepEqual(kinds('ip=a k=dns OR sourcetype=other'), ['dns']);
    assert.deepEqual(kinds('(ip=a k=dns) OR sourcetype=other'), ['dns', 'dns']);
    assert.deepEqual(kinds('sourcetype=st AND NOT k=dns'), ['http']);
    assert.deepEqual(kinds('index=* k="http"'), ['http']);
    assert.throws(() => run('(ip=a'), /unbalanced parentheses/);
    assert.throws(() => run('ip=a OR'), /search term \(none\) is not replayed/);
  });
  it('refuses what it cannot replay', () => {
    assert.throws(() => run('`m` | lookup x y'), /lookup is not replayed/);
    assert.throws(() => run('`nope`'), /macro nope is not defined/);
    assert.throws(() => run('`m` | stats stdev(_time)'), /stdev is not replayed/);
  });
  it('evaluates relative_time against the run time', () => {
    assert.equal(evaluate(parseExpr('relative_time(now(), "-10m")'), new Map(), { now: 1000 }), 400);
    assert.throws(() => evaluate(parseExpr('now()'), new Map()), /needs the time of the search run/);
  });
});

for (const d of detections) {
  describe(`saved search for ${d.id}`, () => {
    const s = saved.stanza(d.name);
    const run = async (kind: 'fires' | 'quiet'): Promise<{ rows: Fields[]; expected: Record<string, string>[] }> => {
      const db = sqlRegistry(fs.readFileSync(path.join(SAMPLES, `${d.id}.${kind}.sql`), 'utf8'));
      const events = await exported(db);
      const now = Math.max(...events.map((e) => Number(e.get('_time'))));
      const rows = runSearch(s.get('search')!, events, { now, earliest: s.get('dispatch.earliest_time')!, macros });
      const reference = [...iterRegistryEvents(db, { registryId: 'sample' })];
      const expected = evaluateDetection(d, reference, { now }).map((a) => a.key);
      return { rows, expected };
    };
    const keys = (rows: Fields[], names: string[]): string[] => rows.map((r) => names.map((n) => `${n}=${text(r.get(n))}`).join(' ')).sort();

    it('fires on its fires sample with the alerts of the definition', async () => {
      const { rows, expected } = await run('fires');
      assert.ok(rows.length > 0, 'quiet on the fires sample');
      const names = Object.keys(expected[0]!);
      assert.deepEqual(keys(rows, names), expected.map((k) => names.map((n) => `${n}=${k[n]}`).join(' ')).sort());
      for (const r of rows) assert.ok(['high', 'medium', 'low'].includes(String(r.get('confidence'))), 'each result says its confidence');
    });

    it('stays quiet on its quiet sample', async () => {
      const { rows, expected } = await run('quiet');
      assert.deepEqual(expected, []);
      assert.deepEqual(rows.map((r) => Object.fromEntries(r)), []);
    });
  });
}

it('a callback stored twice (a batch resent after a crash) does not tip a counting rule', async () => {
  const d = detections.find((x) => x.logic.type === 'event_count')!;
  const s = saved.stanza(d.name);
  const events = await exported(sqlRegistry(fs.readFileSync(path.join(SAMPLES, `${d.id}.quiet.sql`), 'utf8')));
  const now = Math.max(...events.map((e) => Number(e.get('_time'))));
  const run = (evts: Fields[]): Fields[] => runSearch(s.get('search')!, evts, { now, earliest: s.get('dispatch.earliest_time')!, macros });
  assert.deepEqual(run([...events, ...events]).length, 0);
  assert.ok(runSearch(s.get('search')!.replace(/ \| dedup [^|]*/, ''), [...events, ...events], { now, earliest: s.get('dispatch.earliest_time')!, macros }).length > 0,
    'without dedup the copies would fire it');
});
