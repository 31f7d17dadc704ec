/**
 * The Elastic content against ECS and against what Elasticsearch would do with our records. The ECS side is
 * checked with Elastic's own field definitions (@elastic/ecs); indexing is checked with the test-side simulator
 * in peers/es-simulator.ts (templates, the pipeline's processors, mapping types), since no cluster runs here.
 */
import { EcsFlat } from '@elastic/ecs';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { ELASTICSEARCH_ASSETS, KIBANA_DASHBOARD_FILE, KIBANA_RULES_FILE } from '../src/content/elastic.js';
import { CUSTOM_COMPONENT, INDEX_TEMPLATE, PACKAGE_COMPONENT, PIPELINE } from '../src/content/elastic-mappings.js';
import { loadDetections, loadFields } from '../src/content/model.js';
import { ROOT, jsonLines, runCli, sqlRegistry, trickyRegistry } from './helpers.js';
import {
  composeTemplate, evalCondition, IngestSimulator, MappingRefused, SimulatedDataStream, SimulatedMappings, type Doc, type GeoRecord, type Mapping,
} from './peers/es-simulator.js';

type EcsField = { type: string; normalize: string[]; multi_fields?: { name: string; type: string }[]; allowed_values?: { name: string; expected_event_types?: string[] }[] };
const ECS = EcsFlat as unknown as Record<string, EcsField>;
const ECS_VERSION = (createRequire(import.meta.url)('@elastic/ecs/package.json') as { version: string }).version;

const ELASTIC = path.join(ROOT, 'content', 'elastic');
const read = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(ELASTIC, file), 'utf8')) as Record<string, unknown>;
const body = (assetPath: string): Record<string, unknown> => read(ELASTICSEARCH_ASSETS.find((a) => a.path === assetPath)!.file);

const packageTemplate = body(`/_component_template/${PACKAGE_COMPONENT}`);
const customTemplate = body(`/_component_template/${CUSTOM_COMPONENT}`);
const indexTemplate = body(`/_index_template/${INDEX_TEMPLATE}`);
const pipeline = body(`/_ingest/pipeline/${PIPELINE}`);

const GEO = new Map<string, GeoRecord>([
  ['203.0.113.9', {
    city: { continent_name: 'Europe', country_iso_code: 'CH', country_name: 'Switzerland', region_iso_code: 'CH-ZH', region_name: 'Zurich', city_name: 'Zurich', location: { lat: 47.37, lon: 8.54 } },
    asn: { asn: 64500, organization_name: 'Example Hosting AG', network: '203.0.113.0/24' },
  }],
  ['2001:db8:85a3::8a2e:370:7334', { city: { continent_name: 'Asia', country_iso_code: 'JP', country_name: 'Japan', location: { lat: 35.68, lon: 139.69 } } }],
]);

const userAgent = (ua: string): Record<string, unknown> =>
  ua.startsWith('Mozilla/5.0')
    ? { name: 'Firefox', version: '128.0', os: { name: 'Windows', version: '10', full: 'Windows 10' }, device: { name: 'Other' } }
    : { name: 'Other', device: { name: 'Other' } };

/** A data stream created from our templates, with our pipeline as its default pipeline. */
function ourDataStream(): SimulatedDataStream {
  const ingest = new IngestSimulator({ geo: GEO, userAgent, now: '2026-11-26T12:00:00.000Z' });
  ingest.pipelines.set(PIPELINE, pipeline as never);
  const { mappings, defaultPipeline } = composeTemplate(indexTemplate, new Map([[PACKAGE_COMPONENT, packageTemplate], [CUSTOM_COMPONENT, customTemplate]]));
  assert.equal(defaultPipeline, PIPELINE);
  return new SimulatedDataStream(mappings, ingest, defaultPipeline);
}

/** What `logs-*-*` gives a data stream without our templates: every field mapped from its first value. */
const dynamicOnly = (): SimulatedDataStream => new SimulatedDataStream({ dynamic: true, properties: { '@timestamp': { type: 'date' } } }, null);

/** Leaf paths of a document, stopping at fields whose mapping is `flattened`. */
function leaves(doc: unknown, mappings: SimulatedMappings, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return out;
  for (const [k, v] of Object.entries(doc)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (mappings.typeOf(p) !== 'object' && mappings.typeOf(p) !== undefined) out.set(p, v);
    else if (typeof v === 'object' && v !== null && !Array.isArray(v) && !('lat' in v)) for (const [q, w] of leaves(v, mappings, p)) out.set(q, w);
    else out.set(p, v);
  }
  return out;
}

function mappingAt(mappings: Mapping, p: string): Mapping | undefined {
  let node: Mapping | undefined = { properties: mappings['properties'] };
  for (const part of p.split('.')) node = (node?.['properties'] as Record<string, Mapping> | undefined)?.[part];
  return node;
}

const isCustom = (p: string): boolean => p.startsWith('oversight.');

/** ECS's type for a field (labels.* are keyword values of the `labels` object). */
function ecsType(p: string): string | undefined {
  if (p.startsWith('labels.')) return 'keyword';
  return ECS[p]?.type;
}

let trickyRecords: Doc[] = [];

/** A registry with the values the upstream registry really writes (real-registry.md). */
const REAL_VALUES_SQL = `
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, token_id TEXT, file_id TEXT, recipient_id TEXT, issuer_id TEXT,
  kind TEXT, source_ip TEXT, user_agent TEXT, extra TEXT, timestamp INTEGER, qualified_timestamp TEXT, tlog_index INTEGER);
INSERT INTO events VALUES (1, 'tok-img', 'f-7', 'dana@client.example', 'legal@acme.example', 'http_img', 'unknown',
  'Viewer/2.0 (' || char(230, 151, 165) || char(230, 156, 172) || ') ' || char(226, 130, 172), '{}', 1763856000, '2025-11-23T00:00:00Z', 100);
INSERT INTO events VALUES (2, 'tok-dns', 'f-7', 'dana@client.example', 'legal@acme.example', 'dns', NULL, '',
  '{"qtype": "A", "qname": "k3x.t.oversight.example"}', 1763856001, '2025-11-23T00:00:01Z', 101);
INSERT INTO events VALUES (3, 'tok-dns2', 'f-7', 'dana@client.example', 'legal@acme.example', 'dns', NULL, '',
  '{"qtype": null, "qname": null}', 1763856002, NULL, 102);
INSERT INTO events VALUES (4, 'forged "tok" é', NULL, NULL, NULL, 'http_img', '203.0.113.9', 'Mozilla/5.0 (X11) ' || char(195, 131, 194, 164),
  '{}', 1763856003, '2025-11-23T00:00:02Z', 103);
`;
const C1 = /[\u0080-\u009f]/;

async function exportEcs(db: string, registryId: string): Promise<Doc[]> {
  const r = await runCli(['siem', 'export', '--db', db, '--registry-id', registryId, '--format', 'ecs', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  return jsonLines(r.stdout) as Doc[];
}

describe('Elastic content', () => {
  before(async () => {
    trickyRecords = await exportEcs(trickyRegistry(), 'reg-1');
    assert.ok(trickyRecords.length >= 30);
  });

  it('maps every field of our ECS records explicitly, with the type ECS gives it (and its multi-fields)', () => {
    const ds = ourDataStream();
    const paths = new Set<string>();
    for (const rec of trickyRecords) for (const p of leaves(rec, ds.mappings).keys()) paths.add(p);
    assert.ok(paths.has('oversight.extra') && paths.has('source.ip') && paths.has('user_agent.original') && paths.has('labels.oversight_file_id'));
    const mappings = composeTemplate(indexTemplate, new Map([[PACKAGE_COMPONENT, packageTemplate]])).mappings;
    for (const p of paths) {
      const m = mappingAt(mappings, p);
      assert.ok(m, `${p} has no explicit mapping`);
      if (isCustom(p)) {
        assert.equal(ECS[p], undefined, `${p} is an ECS field, not a custom one`);
        continue;
      }
      assert.equal(m['type'], ecsType(p), `${p}: mapped ${String(m['type'])}, ECS says ${ecsType(p)}`);
      const ecsMulti = (ECS[p]?.multi_fields ?? []).map((f) => `${f.name}:${f.type}`).sort();
      const ours = Object.entries((m['fields'] ?? {}) as Record<string, { type: string }>).map(([n, f]) => `${n}:${f.type}`).sort();
      assert.deepEqual(ours, ecsMulti, `${p}: multi-fields`);
    }
    assert.equal(mappingAt(mappings, 'oversight.extra')!['type'], 'flattened');
    assert.equal(mappingAt(mappings, 'oversight.tlog_index')!['type'], 'long');
    assert.equal(mappingAt(mappings, 'source.ip')!['ignore_malformed'], true);
  });

  it('every field the templates map is ECS with the ECS type, or ours under oversight.*', () => {
    const walk = (props: Record<string, Mapping>, prefix: string): void => {
      for (const [k, m] of Object.entries(props)) {
        const p = prefix ? `${prefix}.${k}` : k;
        if (m['type'] === 'object') {
          walk(m['properties'] as Record<string, Mapping>, p);
          continue;
        }
        if (isCustom(p)) continue;
        assert.equal(m['type'], ecsType(p), `${p}: mapped ${String(m['type'])}, ECS says ${ecsType(p)}`);
      }
    };
    const props = ((packageTemplate['template'] as Record<string, unknown>)['mappings'] as Mapping)['properties'] as Record<string, Mapping>;
    walk(props, '');
  });

  it('the pipeline turns every record into a valid ECS 9 alert, mapped field by field, and refuses none', () => {
    const ds = ourDataStream();
    for (const rec of trickyRecords) {
      const { source, dynamic } = ds.index(rec);
      assert.deepEqual(dynamic, [], `event ${String((rec['event'] as Doc)['id'])}: fields without a mapping`);
      const event = source['event'] as Record<string, unknown>;
      assert.equal(event['kind'], 'alert');
      assert.deepEqual(event['category'], ['intrusion_detection']);
      assert.deepEqual(event['type'], ['info']);
      assert.equal(event['ingested'], '2026-11-26T12:00:00.000Z');
      assert.ok([73, 47].includes(event['severity'] as number));
      assert.equal((source['ecs'] as Doc)['version'], ECS_VERSION);
      assert.equal(typeof source['message'], 'string');
      assert.ok(!(source['tags'] as string[] | undefined)?.includes('pipeline_error'), JSON.stringify(source['error']));
      for (const [p, v] of leaves(source, ds.mappings)) {
        if (isCustom(p)) continue;
        assert.ok(ecsType(p), `${p} is not an ECS field`);
        if (ECS[p]?.normalize.includes('array')) assert.ok(Array.isArray(v), `${p} must be an array`);
        const allowed = ECS[p]?.allowed_values?.map((a) => a.name);
        if (allowed) for (const x of ([] as unknown[]).concat(v)) assert.ok(allowed.includes(String(x)), `${p}: ${String(x)} is not an allowed value`);
      }
      const expected = new Set(ECS['event.category']!.allowed_values!.filter((a) => (event['category'] as string[]).includes(a.name)).flatMap((a) => a.expected_event_types ?? []));
      for (const t of event['type'] as string[]) assert.ok(expected.has(t), `event.type ${t} is not expected for ${String(event['category'])}`);
    }
    assert.equal(ds.docs.length, trickyRecords.length);
  });

  it('fills rule.*, observer.*, related.*, dns.question.*, GeoIP/ASN and the parsed user agent', () => {
    const ds = ourDataStream();
    const byId = new Map(trickyRecords.map((r) => [String((r['event'] as Doc)['id']), ds.index(r).source]));
    const dns = byId.get('1')!;
    assert.deepEqual(dns['dns'], { question: { name: 'abc.t.oversight.example', type: 'TXT' } });
    assert.equal((dns['rule'] as Doc)['id'], 'oversight-beacon-dns');
    assert.deepEqual(dns['observer'], { vendor: 'Oversight', product: 'Oversight registry', type: 'registry', name: 'reg-1' });
    assert.deepEqual((dns['related'] as Doc)['user'], ['alice@partner.example', 'legal@acme.example']);
    const pixel = byId.get('2')!;
    assert.deepEqual((pixel['related'] as Doc)['ip'], ['203.0.113.9']);
    assert.equal(((pixel['source'] as Doc)['geo'] as Doc)['country_name'], 'Switzerland');
    assert.deepEqual((pixel['source'] as Doc)['as'], { number: 64500, organization: { name: 'Example Hosting AG' } });
    assert.equal(((pixel['user_agent'] as Doc)['os'] as Doc)['full'], 'Windows 10');
    assert.equal((pixel['user_agent'] as Doc)['original'], (trickyRecords[1]!['user_agent'] as Doc)['original']);
    assert.equal(pixel['message'], 'Oversight: HTTP pixel beacon callback for file f-1');
    // Not a DNS callback: no dns.* from an `extra` that happens to hold other keys.
    assert.equal(byId.get('3')!['dns'], undefined);
    // Unknown token: medium, and said so.
    const unknown = byId.get('5')!;
    assert.equal((unknown['event'] as Doc)['severity'], 47);
    assert.match(String(unknown['message']), /token the registry does not know/);
    // No @timestamp, or one the date mapping would refuse: indexed at arrival, the original kept and tagged.
    const noTime = byId.get('16')!;
    assert.equal(noTime['@timestamp'], '2026-11-26T12:00:00.000Z');
    assert.deepEqual(noTime['tags'], ['oversight_timestamp_missing']);
    const oldTime = byId.get('25')!;
    assert.equal((oldTime['oversight'] as Doc)['timestamp_original'], '702-06-15T00:53:20Z');
    assert.deepEqual(oldTime['tags'], ['oversight_timestamp_invalid']);
  });

  it('keeps the registry\'s real values whole: `unknown` source, no source for DNS, Latin-1-garbled user agents', async () => {
    const records = await exportEcs(sqlRegistry(REAL_VALUES_SQL), 'reg-real');
    assert.equal((records[0]!['source'] as Doc)['ip'], 'unknown', 'the exporter sends the registry value as it is');
    assert.match(String((records[0]!['user_agent'] as Doc)['original']), C1);
    assert.equal(records[1]!['source'], undefined);

    const ds = ourDataStream();
    const [unknownIp, dnsNoSource, dnsNulls, forged] = records.map((r) => ds.index(r));
    // `unknown`: the typed field is left out, the value stays visible in source.address, the document is tagged.
    assert.equal((unknownIp!.source['source'] as Doc)['ip'], undefined);
    assert.equal((unknownIp!.source['source'] as Doc)['address'], 'unknown');
    assert.deepEqual(unknownIp!.source['tags'], ['oversight_source_ip_invalid']);
    assert.equal((unknownIp!.source['related'] as Doc)['ip'], undefined);
    assert.deepEqual(unknownIp!.ignored, []);
    // The garbled user agent is stored exactly as sent.
    assert.equal((unknownIp!.source['user_agent'] as Doc)['original'], (records[0]!['user_agent'] as Doc)['original']);
    // DNS without a client address: no source at all, and no failure.
    assert.equal(dnsNoSource!.source['source'], undefined);
    assert.deepEqual(dnsNoSource!.source['dns'], { question: { name: 'k3x.t.oversight.example', type: 'A' } });
    assert.equal(dnsNulls!.source['dns'], undefined);
    assert.equal(dnsNulls!.source['tags'], undefined);
    assert.equal((forged!.source['event'] as Doc)['severity'], 47);
    assert.equal(ds.docs.length, 4);

    // Sent around the pipeline (`?pipeline=_none`), the mapping alone still keeps the document and leaves out source.ip.
    const bare = new SimulatedMappings(composeTemplate(indexTemplate, new Map([[PACKAGE_COMPONENT, packageTemplate]])).mappings);
    assert.deepEqual(bare.index(records[0]!).ignored, ['source.ip']);
    // And an ip field without ignore_malformed refuses it, which is what both safeguards are for.
    const strict = new SimulatedMappings({ properties: { '@timestamp': { type: 'date' }, source: { type: 'object', properties: { ip: { type: 'ip' } } } } });
    assert.throws(() => strict.index(records[0]!), MappingRefused);
  });

  it('two registries with conflicting `extra` shapes both index; dynamic mapping alone refuses the second', async () => {
    const sql = (extra: string, kind = 'dns'): string => `
      CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, token_id TEXT, file_id TEXT, recipient_id TEXT, issuer_id TEXT,
        kind TEXT, source_ip TEXT, user_agent TEXT, extra TEXT, timestamp INTEGER, qualified_timestamp TEXT, tlog_index INTEGER);
      INSERT INTO events VALUES (1, 't', 'f', 'r', 'i', '${kind}', '192.0.2.10', '', '${extra}', 1763856000, NULL, 1);`;
    const a = await exportEcs(sqlRegistry(sql('{"qtype": "A", "qname": "x.t.example", "answer": {"ttl": 60}}')), 'reg-a');
    const b = await exportEcs(sqlRegistry(sql('{"qtype": 28, "qname": {"labels": ["x", "t"]}, "answer": "none"}')), 'reg-b');

    const ours = ourDataStream();
    ours.index(a[0]!);
    const second = ours.index(b[0]!);
    assert.deepEqual(second.dynamic, []);
    // qname that is not text does not become dns.question.name.
    assert.equal(second.source['dns'], undefined);
    assert.equal(ours.docs.length, 2);

    const generic = dynamicOnly();
    generic.index(a[0]!);
    assert.throws(() => generic.index(b[0]!), MappingRefused);
  });

  it('the index template outranks the stack\'s logs template and wires pipeline, lifecycle and data stream', () => {
    assert.deepEqual(indexTemplate['index_patterns'], ['logs-oversight.beacon-*']);
    assert.ok((indexTemplate['priority'] as number) > 100);
    assert.deepEqual(indexTemplate['data_stream'], {});
    assert.deepEqual(indexTemplate['composed_of'], [PACKAGE_COMPONENT, CUSTOM_COMPONENT]);
    const t = indexTemplate['template'] as { settings: { index: { default_pipeline: string } }; lifecycle: { data_retention: string } };
    assert.equal(t.settings.index.default_pipeline, PIPELINE);
    assert.match(t.lifecycle.data_retention, /^\d+d$/);
    // Every processor failure keeps the document.
    assert.ok((pipeline['on_failure'] as unknown[]).length > 0);
  });

  it('detection rules: one per detection, the rule type its logic needs, fields that are mapped', () => {
    const fields = loadFields();
    const detections = loadDetections(fields);
    const rules = jsonLines(fs.readFileSync(path.join(ELASTIC, KIBANA_RULES_FILE), 'utf8'));
    assert.deepEqual(rules.map((r) => r['rule_id']), detections.map((d) => d.id));
    const mappings = composeTemplate(indexTemplate, new Map([[PACKAGE_COMPONENT, packageTemplate]])).mappings;
    const expectedType = { match: 'query', first_seen: 'new_terms', distinct_count: 'threshold', event_count: 'threshold' } as const;
    rules.forEach((rule, i) => {
      const d = detections[i]!;
      assert.equal(rule['type'], expectedType[d.logic.type], d.id);
      assert.equal(rule['version'], d.version);
      assert.equal(rule['risk_score'], d.risk_score);
      assert.deepEqual(rule['index'], ['logs-oversight.beacon-*']);
      assert.equal(rule['interval'], d.schedule.interval);
      assert.equal(rule['from'], `now-${d.schedule.lookback}`);
      assert.equal(rule['enabled'], false);
      assert.match(String(rule['description']), /DNS/);
      const threat = rule['threat'] as { tactic: { id: string; name: string } }[];
      assert.deepEqual(threat.map((t) => t.tactic.id), d.tactics);
      for (const t of threat) assert.ok(t.tactic.name.length > 0);
      const query = String(rule['query']);
      for (const [, f] of query.matchAll(/([A-Za-z_@][\w.]*)\s*:/g)) assert.ok(mappingAt(mappings, f!), `${d.id}: ${f} is not mapped`);
      assert.doesNotMatch(query, /source\.ip\s*:\s*\(?"unknown"/, 'KQL may not compare an ip field with text');
      if (d.logic.type === 'first_seen') {
        assert.deepEqual(rule['new_terms_fields'], d.logic.key.map((k) => fields.field(k).ecs.field));
        assert.equal(rule['history_window_start'], `now-${d.logic.history}`);
      }
      if (d.logic.type === 'distinct_count') {
        assert.deepEqual(rule['threshold'], {
          field: d.logic.group_by.map((k) => fields.field(k).ecs.field), value: 1,
          cardinality: [{ field: fields.field(d.logic.field).ecs.field, value: d.logic.threshold }],
        });
      }
      if (d.logic.type === 'event_count') {
        assert.deepEqual(rule['threshold'], { field: d.logic.group_by.map((k) => fields.field(k).ecs.field), value: d.logic.threshold });
      }
      if (d.dns_confidence !== d.confidence && (rule['type'] === 'query' || rule['type'] === 'new_terms')) {
        assert.deepEqual((rule['severity_mapping'] as Doc[])[0]!['value'], 'dns');
      }
    });
    assert.equal(rules.find((r) => r['rule_id'] === 'oversight-unknown-token-callback')!['query'],
      'not oversight.file_id:* and @timestamp >= "now-1d" and not tags:oversight_timestamp_missing');
  });

  it('the dashboard imports as a whole: every reference resolves, every field it reads is mapped', () => {
    const objects = jsonLines(fs.readFileSync(path.join(ELASTIC, KIBANA_DASHBOARD_FILE), 'utf8')) as {
      id: string; type: string; attributes: Record<string, unknown>; references: { id: string; type: string; name: string }[];
      coreMigrationVersion: string; typeMigrationVersion: string;
    }[];
    const ids = new Set(objects.map((o) => `${o.type}:${o.id}`));
    assert.equal(ids.size, objects.length);
    assert.deepEqual([...new Set(objects.map((o) => o.type))].sort(), ['dashboard', 'index-pattern', 'lens', 'map', 'search']);
    for (const o of objects) {
      assert.match(o.typeMigrationVersion, /^\d+\.\d+\.\d+$/);
      assert.equal(o.coreMigrationVersion, '8.8.0');
      for (const ref of o.references) assert.ok(ids.has(`${ref.type}:${ref.id}`), `${o.type} ${o.id}: reference ${ref.name} → ${ref.type}:${ref.id} is not in the file`);
    }
    const dashboard = objects.find((o) => o.type === 'dashboard')!;
    const panels = JSON.parse(String(dashboard.attributes['panelsJSON'])) as { panelIndex: string; panelRefName: string }[];
    assert.equal(panels.length, 6);
    for (const p of panels) assert.ok(dashboard.references.some((r) => r.name === `${p.panelIndex}:${p.panelRefName}`), p.panelRefName);
    const mappings = composeTemplate(indexTemplate, new Map([[PACKAGE_COMPONENT, packageTemplate]])).mappings;
    const text = fs.readFileSync(path.join(ELASTIC, KIBANA_DASHBOARD_FILE), 'utf8');
    const used = new Set<string>();
    for (const m of text.matchAll(/\\*"(?:sourceField|geoField)\\*":\\*"([^"\\]+)/g)) used.add(m[1]!);
    const search = objects.find((o) => o.type === 'search')!;
    for (const c of search.attributes['columns'] as string[]) used.add(c);
    const map = objects.find((o) => o.type === 'map')!;
    for (const layer of JSON.parse(String(map.attributes['layerListJSON'])) as { sourceDescriptor: { tooltipProperties?: string[] } }[]) {
      for (const f of layer.sourceDescriptor.tooltipProperties ?? []) used.add(f);
    }
    used.delete('___records___');
    assert.ok(used.has('source.geo.location') && used.has('oversight.file_id') && used.has('oversight.recipient_id'));
    for (const f of used) assert.ok(mappingAt(mappings, f), `dashboard reads ${f}, which is not mapped`);
    assert.equal(mappingAt(mappings, 'source.geo.location')!['type'], 'geo_point');
  });
});

describe('the simulator models what it claims, and refuses the rest', () => {
  it('conditions: null-safe access, short-circuit, instanceof; a null dereference fails as in Painless', () => {
    const ctx = { oversight: { beacon_kind: 'dns', extra: { qname: 'a' } }, '@timestamp': 'x' };
    assert.equal(evalCondition("ctx.oversight?.beacon_kind == 'dns' && ctx.oversight?.extra?.qname instanceof String", ctx), true);
    assert.equal(evalCondition('ctx.source?.ip != null', ctx), false);
    assert.equal(evalCondition("ctx.source?.ip != null && ctx.source.ip == 'x'", ctx), false);
    assert.equal(evalCondition("ctx['@timestamp'] == null", ctx), false);
    assert.throws(() => evalCondition('ctx.source.ip != null', ctx), /null pointer/);
    assert.throws(() => evalCondition('ctx.oversight.beacon_kind.length() > 2', ctx), /not modelled/);
  });

  it('processors: unknown processors and options are refused; a failure without on_failure refuses the document', () => {
    const ingest = new IngestSimulator();
    ingest.pipelines.set('p1', { processors: [{ script: { source: 'ctx.x = 1' } }] });
    assert.throws(() => ingest.run('p1', {}), /not modelled/);
    ingest.pipelines.set('p2', { processors: [{ set: { field: 'a', value: 1, media_type: 'text/plain' } }] });
    assert.throws(() => ingest.run('p2', {}), /not modelled/);
    ingest.pipelines.set('p3', { processors: [{ convert: { field: 'ip', type: 'ip' } }] });
    assert.throws(() => ingest.run('p3', { ip: 'unknown' }), /not a valid ip/);
    ingest.pipelines.set('p4', { processors: [{ convert: { field: 'ip', type: 'ip' } }], on_failure: [{ set: { field: 'error.message', value: '{{{_ingest.on_failure_message}}}' } }] });
    assert.deepEqual(ingest.run('p4', { ip: 'unknown' }), { ip: 'unknown', error: { message: "'unknown' is not a valid ip address" } });
  });

  it('mappings: object vs value, immense terms and a data stream without @timestamp are refused', () => {
    const m = new SimulatedMappings({ properties: { '@timestamp': { type: 'date' }, k: { type: 'keyword' } } });
    m.index({ '@timestamp': '2025-01-01T00:00:00Z', a: { b: 1 } });
    assert.throws(() => m.index({ '@timestamp': '2025-01-01T00:00:00Z', a: 'text' }), /tried to parse field \[a\] as object/);
    assert.throws(() => m.index({ '@timestamp': '2025-01-01T00:00:00Z', k: 'x'.repeat(40_000) }), /immense term/);
    assert.throws(() => m.index({ k: 'x' }), /@timestamp\] is missing/);
    assert.throws(() => m.index({ '@timestamp': '702-06-15T00:53:20Z' }), MappingRefused);
  });

  it('the README installs the files that exist, in the order setup uses', () => {
    const readme = fs.readFileSync(path.join(ELASTIC, 'README.md'), 'utf8');
    const files = [...readme.matchAll(/@((?:elasticsearch|kibana)\/[^\s]+)/g)].map((m) => m[1]!);
    assert.deepEqual(files.filter((f) => f.startsWith('elasticsearch/')), ELASTICSEARCH_ASSETS.map((a) => a.file));
    for (const f of files) assert.ok(fs.existsSync(path.join(ELASTIC, f)), f);
    assert.ok(files.includes(KIBANA_DASHBOARD_FILE) && files.includes(KIBANA_RULES_FILE));
  });
});
