/**
 * One clock story in the three SIEMs, and callbacks an attacker cannot hide.
 *
 * A registry holds callbacks that happened 30 days, 3 days, 5 hours and 2 minutes ago (and one without a usable
 * time), all delivered now. Every SIEM keeps each callback's own time in a field of its own (Sentinel
 * `OccurredAt`, Splunk `_time`, Elastic `@timestamp`) and its arrival in another (`TimeGenerated`, `_indextime`,
 * `event.ingested`); the per-callback rules alert once for the callbacks of 5 hours and 2 minutes ago, at their
 * own time; the backfill (3 and 30 days) raises nothing, by choice; and no row lands at 1970 (the one without a
 * time is filed at its arrival, marked, and raises nothing).
 *
 * Then every detection's firing sample with a 64 kB hostile User-Agent on every callback fires exactly as
 * without it in the Splunk replay (with the 5000-byte extraction cutoff), the declarative evaluator the KQL
 * rules implement, and the Elastic rule replay over the Elasticsearch simulator.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { evaluate, type Alert } from '../src/content/detect.js';
import { CUSTOM_COMPONENT, INDEX_TEMPLATE, PACKAGE_COMPONENT, PIPELINE } from '../src/content/elastic-mappings.js';
import { durationSeconds, type Detection } from '../src/content/model.js';
import { TRANSFORM } from '../src/content/sentinel-arm.js';
import type { OversightEvent } from '../src/registry/event.js';
import { iterRegistryEvents } from '../src/registry/source.js';
import { jsonLines, runCli, sqlRegistry } from './helpers.js';
import { composeTemplate, IngestSimulator, SimulatedDataStream, type Doc } from './peers/es-simulator.js';
import { ElasticRuleRunner } from './support/elastic-rules-run.js';
import { asset, byId, detections, ingest, kibanaRules, macros, props, ROOT, saved, sentinelRule } from './support/shipped-content.js';
import { applyProps, EXTRACTION_CUTOFF, runSearch, searchTimeFields } from './support/splunk-run.js';
import type { Fields } from './support/splunk-spl.js';

const sentinelRules = new Map(detections.map((d) => [d.id, sentinelRule(d)]));

const SCHEMA = `CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, token_id TEXT, file_id TEXT, recipient_id TEXT, issuer_id TEXT,
  kind TEXT, source_ip TEXT, user_agent TEXT, extra TEXT, timestamp INTEGER, qualified_timestamp TEXT, tlog_index INTEGER);`;
const NOW = 1796040000; // the delivery: every callback below reaches the SIEMs now
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/128.0';

/** 30 days, 3 days (backfill: one file), 5 hours and 2 minutes (two other files) ago, and a row without a usable time. */
const backfill = sqlRegistry(`${SCHEMA}
INSERT INTO events VALUES (1, 'tok-a', 'f-old', 'ann@partner.example', 'legal@acme.example', 'http_img', '198.51.100.7', '${UA}', '{}', ${NOW - 30 * 86400}, NULL, 1);
INSERT INTO events VALUES (2, 'tok-a', 'f-old', 'ann@partner.example', 'legal@acme.example', 'http_img', '198.51.100.8', '${UA}', '{}', ${NOW - 3 * 86400}, NULL, 2);
INSERT INTO events VALUES (3, 'tok-h', 'f-hours', 'bob@lawfirm.example', 'legal@acme.example', 'dns', '192.0.2.53', '', '{"qtype": "A", "qname": "tok-h.t.oversight.example"}', ${NOW - 5 * 3600}, NULL, 3);
INSERT INTO events VALUES (4, 'tok-m', 'f-minutes', 'cy@lawfirm.example', 'legal@acme.example', 'http_img', '203.0.113.9', '${UA}', '{}', ${NOW - 120}, NULL, 4);
INSERT INTO events VALUES (5, 'tok-z', 'f-notime', 'dee@lawfirm.example', 'legal@acme.example', 'http_img', '203.0.113.10', '${UA}', '{}', 0, NULL, 5);
`);
const OWN_TIME: Record<string, string | null> = {
  '1': new Date((NOW - 30 * 86400) * 1000).toISOString().replace('.000Z', 'Z'),
  '2': new Date((NOW - 3 * 86400) * 1000).toISOString().replace('.000Z', 'Z'),
  '3': new Date((NOW - 5 * 3600) * 1000).toISOString().replace('.000Z', 'Z'),
  '4': new Date((NOW - 120) * 1000).toISOString().replace('.000Z', 'Z'),
  '5': null,
};
/**
 * The clock story: per-callback findings for the callbacks of 5 hours and 2 minutes ago, by their file; nothing
 * else. The first-callback ones are building blocks (recorded, no alert or incident of their own; see below).
 */
const PROMISED: Record<string, string[]> = {
  'oversight-leaked-copy-opened': ['f-hours', 'f-minutes'],
  'oversight-first-callback-for-file': ['f-hours', 'f-minutes'],
  'oversight-unknown-token-callback': [],
  'oversight-file-opened-from-many-ips': [],
  'oversight-callback-burst-from-ip': [],
};

async function exported(db: string, format: string): Promise<Record<string, any>[]> {
  const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg-1', '--format', format]);
  assert.equal(r.code, 0, r.stderr);
  return jsonLines(r.stdout);
}

const events = (db: string): OversightEvent[] => [...iterRegistryEvents(db, { registryId: 'reg-1' })];
const fileOf = (all: OversightEvent[], a: Alert): string => String(a.key['file_id'] ?? all.find((e) => e.event_id === a.key['event_id'])!.file_id ?? '');

// ---- Splunk -------------------------------------------------------------------------------------------------
function splunkEvents(records: Record<string, any>[], indexTime: (r: Record<string, any>) => number): Fields[] {
  return records.map((r) => applyProps(props, searchTimeFields(r, { indexTime: indexTime(r), ingest })));
}

function splunkRun(d: Detection, evts: Fields[], now: number): Fields[] {
  const s = saved.stanza(d.name);
  return runSearch(s.get('search')!, evts, {
    now, earliest: s.get('dispatch.earliest_time')!, indexEarliest: s.get('dispatch.index_earliest'), macros,
  });
}

/** Splunk's throttling over consecutive runs: a result whose suppression fields were alerted within the period is dropped. */
function throttled(d: Detection, runs: { now: number; rows: Fields[] }[]): Fields[] {
  const s = saved.stanza(d.name);
  const fields = s.get('alert.suppress.fields')!.split(',');
  const period = Number(/^(\d+)h$/.exec(s.get('alert.suppress.period')!)![1]) * 3600;
  const last = new Map<string, number>();
  const out: Fields[] = [];
  for (const { now, rows } of runs) {
    for (const row of rows) {
      const key = JSON.stringify(fields.map((f) => row.get(f)));
      const t = last.get(key);
      if (t !== undefined && now - t < period) continue;
      last.set(key, now);
      out.push(row);
    }
  }
  return out;
}

// ---- Elastic ------------------------------------------------------------------------------------------------
function elasticDocs(records: Record<string, any>[], arrivedAt: number): Doc[] {
  const ingest = new IngestSimulator({ userAgent: () => ({ name: 'Other', device: { name: 'Other' } }), now: new Date(arrivedAt * 1000).toISOString() });
  ingest.pipelines.set(PIPELINE, asset(`/_ingest/pipeline/${PIPELINE}`) as never);
  const { mappings, defaultPipeline } = composeTemplate(asset(`/_index_template/${INDEX_TEMPLATE}`), new Map([
    [PACKAGE_COMPONENT, asset(`/_component_template/${PACKAGE_COMPONENT}`)], [CUSTOM_COMPONENT, asset(`/_component_template/${CUSTOM_COMPONENT}`)],
  ]));
  const stream = new SimulatedDataStream(mappings, ingest, defaultPipeline);
  for (const r of records) stream.index(r);
  return stream.docs;
}

/** The run that sees the delivery, then the rule's next runs, which must not alert again. */
const runs = (d: Detection): number[] => [0, 1, 2, 3].map((k) => NOW + k * durationSeconds(d.schedule.interval));

describe('a backfill of 30 and 3 days with callbacks of 5 hours and 2 minutes, delivered now', () => {
  it('the detection evaluator (the logic the KQL rules implement) gives the promised alerts, once, and no others', () => {
    const all = events(backfill);
    for (const d of detections) {
      const got = runs(d).flatMap((now) => evaluate(d, all, { now, arrival: () => NOW }));
      assert.deepEqual(got.map((a) => fileOf(all, a)).sort(), PROMISED[d.id], d.id);
    }
  });

  it('Sentinel: the transform keeps each callback\'s own time in OccurredAt, TimeGenerated is the arrival, never 1970', async () => {
    assert.equal(TRANSFORM, 'source | extend OccurredAt = TimeGenerated | extend TimeGenerated = now()');
    const rows: Record<string, any>[] = (await exported(backfill, 'sentinel')).map((r) => ({ ...r, OccurredAt: r['TimeGenerated'] ?? null, TimeGenerated: new Date(NOW * 1000).toISOString() }));
    assert.deepEqual(Object.fromEntries(rows.map((r) => [r['EventId'], r['OccurredAt']])), OWN_TIME);
    for (const r of rows) assert.ok(Date.parse(r['TimeGenerated']) > Date.parse('2000-01-01'), 'every row has TimeGenerated, and not 1970');
    // The per-callback rules take what arrived since the previous run, and leave out backfills by OccurredAt.
    for (const id of ['oversight-leaked-copy-opened', 'oversight-unknown-token-callback']) {
      assert.match(sentinelRules.get(id)!, /\| where ingestion_time\(\) > ago\(5m\)\n.*\| where isnotnull\(OccurredAt\) and TimeGenerated - OccurredAt <= 1d/s, id);
    }
    assert.match(sentinelRules.get('oversight-first-callback-for-file')!, /where FirstIngestedAt > ago\(1h\)\n.*TimeGenerated - OccurredAt <= 1d/s);
    // Counting rules count by the callbacks' own time, over a window plus an interval and a delivery delay.
    assert.match(sentinelRules.get('oversight-callback-burst-from-ip')!, /\| where OccurredAt > ago\(15m\)/);
    assert.match(sentinelRules.get('oversight-file-opened-from-many-ips')!, /\| where OccurredAt > ago\(26h\)/);
  });

  it('Splunk: _time is each callback\'s own time; the searches give the promised alerts once over later runs', async () => {
    const records = await exported(backfill, 'splunk');
    const evts = splunkEvents(records, () => NOW);
    const own = Object.fromEntries(evts.map((e) => [String(e.get('event_id')), e.get('_time')]));
    for (const [id, iso] of Object.entries(OWN_TIME)) if (iso) assert.equal(own[id], Date.parse(iso) / 1000, `event ${id}`);
    // HEC time 0 (no usable time): the app's INGEST_EVAL files it at its arrival, marked, not at 1970.
    const timeless = evts.find((e) => e.get('event_id') === '5')!;
    assert.deepEqual([timeless.get('_time'), timeless.get('oversight_time_missing'), timeless.has('occurred_at')], [NOW, 'true', false]);
    assert.equal(records.find((r) => r['event']['event_id'] === '5')!['time'], 0, 'the record itself says 0');
    for (const d of detections) {
      const alerts = throttled(d, runs(d).map((now) => ({ now, rows: splunkRun(d, evts, now) })));
      assert.deepEqual(alerts.map((r) => String(r.get('file_id'))).sort(), PROMISED[d.id], d.id);
    }
  });

  it('Elastic: @timestamp is each callback\'s own time, event.ingested the arrival; the rules give the promised alerts once', async () => {
    const docs = elasticDocs(await exported(backfill, 'ecs'), NOW);
    const byEvent = new Map(docs.map((d) => [String((d['event'] as Doc)['id']), d]));
    for (const [id, iso] of Object.entries(OWN_TIME)) {
      const doc = byEvent.get(id)!;
      const ingested = String((doc['event'] as Doc)['ingested']);
      assert.equal(Date.parse(ingested), NOW * 1000, `event ${id} arrival`);
      if (iso) assert.equal(Date.parse(String(doc['@timestamp'])), Date.parse(iso), `event ${id}`);
      else assert.ok((doc['tags'] as string[]).includes('oversight_timestamp_missing'), 'a row without time is tagged, at its arrival, not 1970');
    }
    for (const rule of kibanaRules) {
      const runner = new ElasticRuleRunner(rule);
      for (const now of runs(byId(String(rule['rule_id'])))) runner.run(docs, now * 1000);
      const files = runner.alerts.map((a) => String(((a.docs[0]!['oversight'] as Doc)['file_id'])));
      assert.deepEqual(files.sort(), PROMISED[String(rule['rule_id'])], String(rule['rule_id']));
    }
  });
});

describe('one leak of one file is one alert (Elastic, Splunk) or one incident (Sentinel) per window, with the count', () => {
  const opens = sqlRegistry(`${SCHEMA}\n${Array.from({ length: 200 }, (_, i) =>
    `INSERT INTO events VALUES (${i + 1}, 'tok-1', 'f-1', 'ann@partner.example', 'legal@acme.example', 'http_img', '203.0.113.${i % 2 ? 9 : 10}', '${UA}', '{}', ${NOW - 3600 + i * 15}, NULL, ${i + 1});`).join('\n')}`);
  const leak = byId('oversight-leaked-copy-opened');
  it('Elastic: one alert with 199 callbacks folded into it', async () => {
    // Each callback delivered as it happens.
    const docs: Doc[] = [];
    for (const r of await exported(opens, 'ecs')) docs.push(...elasticDocs([r], Date.parse(String(r['@timestamp'])) / 1000));
    const runner = new ElasticRuleRunner(kibanaRules.find((r) => r['rule_id'] === leak.id)!);
    for (let t = NOW - 3600; t <= NOW; t += 300) runner.run(docs, t * 1000);
    assert.equal(runner.alerts.length, 1);
    assert.equal(runner.alerts[0]!.docs.length + runner.alerts[0]!.suppressed, 200);
  });
  it('Splunk: one alert per file per day', async () => {
    const evts = splunkEvents(await exported(opens, 'splunk'), (r) => Number(r['time']));
    const runs = [];
    for (let t = NOW - 3600; t <= NOW; t += 300) runs.push({ now: t, rows: splunkRun(leak, evts, t) });
    assert.equal(runs.reduce((n, r) => n + r.rows.length, 0) >= 200, true, 'every callback is found');
    const alerts = throttled(leak, runs);
    assert.equal(alerts.length, 1);
    // Fired at the first run: the callbacks indexed by then (one every 15 s since the first).
    assert.equal(Number(alerts[0]!.get('callbacks')), 1);
    // The same search at the run that sees the last callback counts the day's callbacks: all 200.
    assert.deepEqual([...new Set(splunkRun(leak, evts, NOW - 600).map((r) => Number(r.get('callbacks'))))], [200]);
  });
  it('Sentinel: the alerts of one file go into one incident for a day', () => {
    const arm = JSON.parse(fs.readFileSync(path.join(ROOT, 'sentinel', 'deploy', 'analytic-rules.json'), 'utf8')) as { resources: Record<string, any>[] };
    const g = arm.resources.find((r) => r['name'] === leak.guid)!['properties'].incidentConfiguration.groupingConfiguration;
    assert.deepEqual([g.enabled, g.matchingMethod, g.groupByCustomDetails, g.lookbackDuration], [true, 'Selected', ['FileId'], 'P1D']);
    // Its alerts count up to 200 in the CallbacksInWindow detail.
    const all = events(opens);
    const got = [];
    for (let t = NOW - 3600; t <= NOW; t += 300) got.push(...evaluate(leak, all, { now: t, arrival: (e) => e.occurred_unix }));
    assert.deepEqual([got.length, Math.max(...got.map((a) => a.callbacks!))], [200, 200]);
  });
});

describe('a new file\'s first callback is one alert (Splunk, Elastic) or incident (Sentinel), carrying the count', () => {
  // A file never seen before calls back from one reader's address at T0+10 s, +20 s, +400 s and +3000 s, then a
  // day later at +25 h; each callback is delivered as it happens. Every rule runs on its schedule for 26 hours.
  const T0 = NOW;
  const offsets = [10, 20, 400, 3000, 25 * 3600];
  const fresh = sqlRegistry(`${SCHEMA}\n${offsets.map((o, i) =>
    `INSERT INTO events VALUES (${i + 1}, 'tok-n', 'f-new', 'ann@partner.example', 'legal@acme.example', 'http_img', '203.0.113.20', '${UA}', '{}', ${T0 + o}, NULL, ${i + 1});`).join('\n')}`);
  const schedule = (d: Detection): number[] => {
    const step = durationSeconds(d.schedule.interval);
    return Array.from({ length: Math.floor((26 * 3600) / step) }, (_, k) => T0 - (T0 % step) + (k + 1) * step);
  };
  const leak = byId('oversight-leaked-copy-opened');
  /** Callbacks of f-new that reached the SIEM in the suppression window up to `now`. */
  const inWindow = (now: number): number => offsets.filter((o) => T0 + o <= now && T0 + o > now - durationSeconds(leak.suppression.window)).length;

  it('the shipped content opens alerts for the leaked-document rule and records the first callback as a building block', () => {
    const first = byId('oversight-first-callback-for-file');
    assert.equal(saved.stanza(first.name).get('alert.track'), '0');
    assert.equal(saved.stanza(leak.name).get('alert.track'), '1');
    assert.equal(kibanaRules.find((r) => r['rule_id'] === first.id)!['building_block_type'], 'default');
    assert.equal(kibanaRules.find((r) => r['rule_id'] === leak.id)!['building_block_type'], undefined);
    const arm = JSON.parse(fs.readFileSync(path.join(ROOT, 'sentinel', 'deploy', 'analytic-rules.json'), 'utf8')) as { resources: Record<string, any>[] };
    const creates = (d: Detection): boolean => arm.resources.find((r) => r['name'] === d.guid)!['properties'].incidentConfiguration.createIncident;
    assert.deepEqual(detections.filter(creates).map((d) => d.id).sort(), detections.filter((d) => d.id !== first.id).map((d) => d.id).sort());
  });

  it('Splunk: one triggered alert for the first day and one for the next, each with the callbacks indexed so far', async () => {
    const evts = splunkEvents(await exported(fresh, 'splunk'), (r) => Number(r['time']));
    const alerts: { id: string; now: number; row: Fields }[] = [];
    for (const d of detections) {
      if (saved.stanza(d.name).get('alert.track') !== '1') continue;
      const runs = schedule(d).map((now) => ({ now, rows: splunkRun(d, evts, now).map((row) => row.set('_run', now)) }));
      for (const row of throttled(d, runs)) alerts.push({ id: d.id, now: Number(row.get('_run')), row });
    }
    assert.deepEqual(alerts.map((a) => [a.id, a.row.get('file_id')]), [[leak.id, 'f-new'], [leak.id, 'f-new']]);
    // The first run after the first callback sees the first two; the next day's alert counts the day's callbacks.
    assert.deepEqual(alerts.map((a) => Number(a.row.get('callbacks'))), alerts.map((a) => inWindow(a.now)));
    assert.deepEqual(alerts.map((a) => Number(a.row.get('callbacks'))), [2, 1]);
    // The first-callback search finds the file once: were it a tracked alert, the first day would have two.
    const first = byId('oversight-first-callback-for-file');
    const found = throttled(first, schedule(first).map((now) => ({ now, rows: splunkRun(first, evts, now) })));
    assert.deepEqual(found.map((r) => [r.get('file_id'), Number(r.get('callbacks'))]), [['f-new', 4]]);
    // Without throttling every run with a new callback would alert: throttling is what makes it one.
    const unthrottled = schedule(leak).reduce((n, now) => n + splunkRun(leak, evts, now).length, 0);
    assert.ok(unthrottled >= offsets.length, `${unthrottled} results before throttling`);
  });

  it('Sentinel (the detection evaluator the KQL implements, with the shipped incident settings): one incident per day, its alerts counting up', () => {
    const all = events(fresh);
    const arm = JSON.parse(fs.readFileSync(path.join(ROOT, 'sentinel', 'deploy', 'analytic-rules.json'), 'utf8')) as { resources: Record<string, any>[] };
    const incidents: { id: string; opened: number; alerts: Alert[] }[] = [];
    for (const d of detections) {
      const config = arm.resources.find((r) => r['name'] === d.guid)!['properties'].incidentConfiguration;
      if (!config.createIncident) continue;
      const iso = /^P(?:(\d+)D)?(?:T(\d+)H)?$/.exec(config.groupingConfiguration.lookbackDuration)!;
      const lookback = Number(iso[1] ?? 0) * 86400 + Number(iso[2] ?? 0) * 3600;
      for (const now of schedule(d)) {
        for (const a of evaluate(d, all, { now, arrival: (e) => e.occurred_unix })) {
          const key = d.suppression.group_by.map((f) => a.events[0]![f as 'file_id']).join('/');
          const open = incidents.find((i) => i.id === `${d.id}:${key}` && now - i.opened < lookback);
          if (open) open.alerts.push(a);
          else incidents.push({ id: `${d.id}:${key}`, opened: now, alerts: [a] });
        }
      }
    }
    assert.deepEqual(incidents.map((i) => [i.id, i.alerts.length]), [[`${leak.id}:f-new`, 4], [`${leak.id}:f-new`, 1]]);
    // Each alert carries CallbacksInWindow: the file's callbacks in the last day, so the latest is the incident's count.
    assert.deepEqual(incidents.map((i) => i.alerts.map((a) => a.callbacks)), [[2, 2, 3, 4], [1]]);
    // The rule that says the file is new still records it, once, as an alert without an incident.
    const first = byId('oversight-first-callback-for-file');
    assert.equal(schedule(first).flatMap((now) => evaluate(first, all, { now, arrival: (e) => e.occurred_unix })).length, 1);
    const rule = sentinelRules.get(leak.id)!;
    assert.match(rule, /summarize CallbacksInWindow = count_distinct\(strcat\(RegistryId, "\/", EventId\)\) by FileId/);
    assert.match(rule, /\| where ingestion_time\(\) > ago\(1d\)\n\s+\| where isnotnull\(OccurredAt\) and TimeGenerated - OccurredAt <= 1d/);
  });

  it('Elastic: one alert for the first day and one for the next, with the later callbacks counted as suppressed', async () => {
    const docs: Doc[] = [];
    for (const r of await exported(fresh, 'ecs')) docs.push(...elasticDocs([r], Date.parse(String(r['@timestamp'])) / 1000));
    const alerts: { id: string; alert: ReturnType<ElasticRuleRunner['run']>[number] }[] = [];
    const signals: string[] = [];
    for (const rule of kibanaRules) {
      const runner = new ElasticRuleRunner(rule);
      for (const now of schedule(byId(String(rule['rule_id'])))) {
        const storedByThen = docs.filter((d) => Date.parse(String((d['event'] as Doc)['ingested'])) <= now * 1000);
        runner.run(storedByThen, now * 1000);
      }
      for (const alert of runner.alerts) (rule['building_block_type'] ? signals.push(String(rule['rule_id'])) : alerts.push({ id: String(rule['rule_id']), alert }));
    }
    assert.deepEqual(alerts.map((a) => a.id), [leak.id, leak.id]);
    assert.deepEqual(alerts.map((a) => a.alert.docs.length + a.alert.suppressed), [4, 1], 'the callbacks of each day in its alert');
    assert.deepEqual(signals, ['oversight-first-callback-for-file']);
  });
});

/** A User-Agent of 64 kB that also tries to forge the fields after it. */
const HOSTILE_UA = `Mozilla/5.0 ","registry_id":"forged","event_id":"0"} \\" \u00e9\u0085 ${'A'.repeat(65536)}`;

function withHostileAgent(sample: string): string {
  const db = sqlRegistry(sample);
  const conn = new Database(db);
  conn.prepare('UPDATE events SET user_agent = ?').run(HOSTILE_UA);
  conn.close();
  return db;
}

describe('a 64 kB hostile User-Agent on every callback hides none of them', () => {
  for (const d of detections) {
    const sample = fs.readFileSync(path.join(ROOT, 'detections', 'samples', `${d.id}.fires.sql`), 'utf8');
    it(`${d.id}: fires in the Splunk replay, the evaluator and the Elastic replay exactly as without it`, async () => {
      const plain = sqlRegistry(sample);
      const hostile = withHostileAgent(sample);
      const now = Math.max(...events(plain).map((e) => e.occurred_unix));
      // The evaluator the KQL rules implement reads no User-Agent.
      const expected = evaluate(d, events(plain), { now }).map((a) => JSON.stringify(a.key)).sort();
      assert.ok(expected.length > 0);
      assert.deepEqual(evaluate(d, events(hostile), { now }).map((a) => JSON.stringify(a.key)).sort(), expected);
      // Splunk, with the extraction cutoff: the same results, and the cutoff did cut.
      const splunk = async (db: string): Promise<{ evts: Fields[]; rows: string[] }> => {
        const evts = splunkEvents(await exported(db, 'splunk'), (r) => Number(r['time']));
        return { evts, rows: splunkRun(d, evts, now).map((r) => JSON.stringify([...r].filter(([k]) => k !== 'user_agent'))).sort() };
      };
      const [a, b] = [await splunk(plain), await splunk(hostile)];
      assert.ok(a.rows.length > 0);
      assert.deepEqual(b.rows, a.rows);
      assert.ok(b.evts.every((e) => !e.has('user_agent') && !e.has('tlog_index') && String(e.get('_raw')).length > EXTRACTION_CUTOFF), 'the cutoff left the fields after the User-Agent out');
      assert.ok(b.evts.every((e) => e.get('registry_id') === 'reg-1'), 'registry_id is found past the cutoff, and not the forged one');
      // Elastic: the same alerts with the documents delivered as they happened.
      const elastic = async (db: string): Promise<string[]> => {
        const docs: Doc[] = [];
        for (const r of await exported(db, 'ecs')) docs.push(...elasticDocs([r], Date.parse(String(r['@timestamp'])) / 1000));
        const runner = new ElasticRuleRunner(kibanaRules.find((r) => r['rule_id'] === d.id)!);
        runner.run(docs, now * 1000);
        return runner.alerts.map((x) => x.key).sort();
      };
      const plainAlerts = await elastic(plain);
      assert.ok(plainAlerts.length > 0, 'fires without the hostile User-Agent');
      assert.deepEqual(await elastic(hostile), plainAlerts);
    });
  }

  it('the cutoff model bites: the searches as they were (no EXTRACT, dedup without keepempty) lose every such callback', async () => {
    const d = byId('oversight-leaked-copy-opened');
    const hostile = withHostileAgent(fs.readFileSync(path.join(ROOT, 'detections', 'samples', `${d.id}.fires.sql`), 'utf8'));
    const records = await exported(hostile, 'splunk');
    const old = { ...props, extracts: [], evals: props.evals.filter(([n]) => n !== 'registry_id') };
    const evts = records.map((r) => applyProps(old, searchTimeFields(r, { ingest })));
    const now = Math.max(...evts.map((e) => Number(e.get('_time'))));
    const search = saved.stanza(d.name).get('search')!.replace(' keepempty=true', '');
    assert.deepEqual(runSearch(search, evts, { now, earliest: '-10m', macros }), []);
  });
});
