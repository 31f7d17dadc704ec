/**
 * A counting rule runs on a grid (every 5 minutes, every hour) and counts what has arrived by each run. A burst
 * or a spread that the definition describes (20 callbacks from one address within 5 minutes, 3 addresses for one
 * file within 24 hours) must alert in some run even when it falls across two runs and reaches the SIEM a few
 * minutes late, as exported batches and SIEM ingestion make it do. Checked in the Splunk replay, the Elastic rule
 * replay and the declarative evaluator the KQL rules implement, with the content we ship.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { evaluate } from '../src/content/detect.js';
import { CUSTOM_COMPONENT, INDEX_TEMPLATE, PACKAGE_COMPONENT, PIPELINE } from '../src/content/elastic-mappings.js';
import { durationSeconds, loadDetections, loadFields, type Detection } from '../src/content/model.js';
import { iterRegistryEvents } from '../src/registry/source.js';
import { jsonLines, runCli, sqlRegistry, tempDir } from './helpers.js';
import { composeTemplate, IngestSimulator, SimulatedDataStream, type Doc } from './peers/es-simulator.js';
import { ElasticRuleRunner } from './support/elastic-rules-run.js';
import { asset, byId, detections, ingest, kibanaRules, macros, props, ROOT, saved, sentinelRule } from './support/shipped-content.js';
import { applyProps, runSearch, searchTimeFields } from './support/splunk-run.js';

const SCHEMA = `CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, token_id TEXT, file_id TEXT, recipient_id TEXT, issuer_id TEXT,
  kind TEXT, source_ip TEXT, user_agent TEXT, extra TEXT, timestamp INTEGER, qualified_timestamp TEXT, tlog_index INTEGER);`;
const NOW = 1796040000; // on the hour, so on every rule's run grid
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/128.0';

async function exported(db: string, format: string): Promise<Record<string, any>[]> {
  const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg-1', '--format', format]);
  assert.equal(r.code, 0, r.stderr);
  return jsonLines(r.stdout);
}

function elasticDocs(records: Record<string, any>[]): Doc[] {
  const sim = new IngestSimulator({ userAgent: () => ({ name: 'Other', device: { name: 'Other' } }), now: new Date(NOW * 1000).toISOString() });
  sim.pipelines.set(PIPELINE, asset(`/_ingest/pipeline/${PIPELINE}`) as never);
  const { mappings, defaultPipeline } = composeTemplate(asset(`/_index_template/${INDEX_TEMPLATE}`), new Map([
    [PACKAGE_COMPONENT, asset(`/_component_template/${PACKAGE_COMPONENT}`)], [CUSTOM_COMPONENT, asset(`/_component_template/${CUSTOM_COMPONENT}`)],
  ]));
  const stream = new SimulatedDataStream(mappings, sim, defaultPipeline);
  for (const r of records) stream.index(r);
  return stream.docs;
}

/**
 * Runs the detection every interval from `from` to `to` over what has arrived by each run (each callback `delay`
 * seconds after it happened) in the three SIEMs' terms, and returns how many alerts each raised.
 */
async function alertsPerSiem(d: Detection, db: string, delay: number, from: number, to: number): Promise<Record<string, number>> {
  const interval = durationSeconds(d.schedule.interval);
  const runs: number[] = [];
  for (let t = from; t <= to; t += interval) runs.push(t);

  const all = [...iterRegistryEvents(db, { registryId: 'reg-1' })];
  const kql = runs.flatMap((now) => evaluate(d, all, { now, arrival: (e) => e.occurred_unix + delay }));

  const splunkEvents = (await exported(db, 'splunk')).map((r) =>
    applyProps(props, searchTimeFields(r, { indexTime: Number(r['time']) + delay, ingest })));
  const s = saved.stanza(d.name);
  const splunk = runs.flatMap((now) => runSearch(s.get('search')!, splunkEvents.filter((e) => Number(e.get('_indextime')) <= now), {
    now, earliest: s.get('dispatch.earliest_time')!, macros,
  }));

  const docs = elasticDocs(await exported(db, 'ecs'));
  const runner = new ElasticRuleRunner(kibanaRules.find((r) => r['rule_id'] === d.id)!);
  for (const now of runs) runner.run(docs.filter((doc) => Date.parse(String(doc['@timestamp'])) / 1000 + delay <= now), now * 1000);

  // Alerts of one group within the suppression window are one alert in every SIEM: count groups.
  const groups = (keys: string[]): number => new Set(keys).size;
  return {
    kql: groups(kql.map((a) => JSON.stringify(a.key))),
    splunk: groups(splunk.map((r) => String(r.get(d.suppression.group_by[0]!)))),
    elastic: groups(runner.alerts.map((a) => a.key)),
  };
}

describe('a burst of 20 callbacks from one address in under 4 minutes, across a run, delivered 90 s late', () => {
  const d = byId('oversight-callback-burst-from-ip');
  // Callbacks 12 s apart, from 110 s before a run on.
  const callbacks = (n: number): string => sqlRegistry(`${SCHEMA}\n${Array.from({ length: n }, (_, i) =>
    `INSERT INTO events VALUES (${i + 1}, 'tok-${i}', 'f-${i}', 'ann@partner.example', 'legal@acme.example', 'http_img', '198.51.100.20', '${UA}', '{}', ${NOW - 110 + i * 12}, NULL, ${i + 1});`).join('\n')}`);
  const burst = callbacks(20);

  it('is within the definition: 20 callbacks within 5 minutes', () => {
    assert.equal(evaluate(d, [...iterRegistryEvents(burst, { registryId: 'reg-1' })]).length, 1);
  });

  it('alerts once in Splunk, Elastic and the rule the Sentinel query implements', async () => {
    assert.deepEqual(await alertsPerSiem(d, burst, 90, NOW - 1800, NOW + 1800), { kql: 1, splunk: 1, elastic: 1 });
    assert.match(sentinelRule(d), new RegExp(`\\| where OccurredAt > ago\\(${d.schedule.lookback}\\)`));
  });

  it('nineteen callbacks stay quiet', async () => {
    assert.deepEqual(await alertsPerSiem(d, callbacks(19), 90, NOW - 1800, NOW + 1800), { kql: 0, splunk: 0, elastic: 0 });
  });
});

describe('one file from 3 addresses within 24 hours, the last one just before the day is up, delivered 10 minutes late', () => {
  const d = byId('oversight-file-opened-from-many-ips');
  const t0 = NOW - 1800;
  const at = [t0, t0 + 12 * 3600, t0 + 23 * 3600 + 50 * 60];
  const spread = sqlRegistry(`${SCHEMA}\n${at.map((t, i) =>
    `INSERT INTO events VALUES (${i + 1}, 'tok-1', 'f-1', 'ann@partner.example', 'legal@acme.example', 'http_img', '203.0.113.${i + 1}', '${UA}', '{}', ${t}, NULL, ${i + 1});`).join('\n')}`);

  it('is within the definition: 3 addresses within 24 hours', () => {
    assert.equal(evaluate(d, [...iterRegistryEvents(spread, { registryId: 'reg-1' })]).length, 1);
  });

  it('alerts once in Splunk, Elastic and the rule the Sentinel query implements', async () => {
    assert.deepEqual(await alertsPerSiem(d, spread, 600, NOW, NOW + 2 * 86400), { kql: 1, splunk: 1, elastic: 1 });
    assert.match(sentinelRule(d), new RegExp(`\\| where OccurredAt > ago\\(${d.schedule.lookback}\\)`));
  });
});

it('a counting detection whose lookback does not reach a window plus an interval back is refused by name', () => {
  const root = tempDir();
  fs.cpSync(path.join(ROOT, 'fields.yaml'), path.join(root, 'fields.yaml'));
  fs.cpSync(path.join(ROOT, 'detections'), path.join(root, 'detections'), { recursive: true });
  const file = path.join(root, 'detections', 'callback-burst-from-ip.yaml');
  const set = (lookback: string): void =>
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/lookback: \w+ \}/, `lookback: ${lookback} }`));
  set('5m');
  assert.throws(() => loadDetections(loadFields(root), root),
    { message: `${file}: lookback 5m is shorter than window 5m plus interval 5m: a burst across two runs would be missed` });
  set('10m');
  assert.equal(loadDetections(loadFields(root), root).find((d) => d.id === 'oversight-callback-burst-from-ip')!.schedule.lookback, '10m');
});
