/**
 * OCSF records checked against the attribute lists of OCSF 1.8.0 itself (test/fixtures/ocsf-1.8.0/schema.json,
 * extracted from the schema repository by extract.mjs there): required attributes present, nothing the class,
 * its objects or its declared profiles do not define, types and enum values valid, `type_uid`, time in ms, and
 * every value of the registry where the mapping in docs/SIEM.md puts it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FIXTURES, jsonLines, runCli, sqlRegistry, trickyRegistry } from './helpers.js';
import { hostileRegistry, registryRows } from './formats-support.js';

interface Attr { type: string; array?: boolean; requirement: string; profile?: string; enum?: (number | string)[] }
interface Def { attributes: Record<string, Attr>; constraints?: { at_least_one?: string[]; just_one?: string[] } }
interface Schema {
  version: string;
  class: Def & { uid: number; category_uid: number };
  objects: Record<string, Def>;
  types: Record<string, { base: string; regex?: string; max_len?: number }>;
  observable_type_ids: number[];
}

const schema = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'ocsf-1.8.0', 'schema.json'), 'utf8')) as Schema;
type Json = Record<string, unknown>;

/** Every rule broken by `value` as an instance of `def`, as "path: problem" lines. */
function violations(value: Json, def: Def, where: string, profiles: string[]): string[] {
  const out: string[] = [];
  for (const [name, attr] of Object.entries(def.attributes)) {
    const gated = attr.profile && !profiles.includes(attr.profile);
    if (attr.requirement === 'required' && !gated && !(name in value)) out.push(`${where}.${name}: required, missing`);
  }
  for (const [name, v] of Object.entries(value)) {
    const attr = def.attributes[name];
    if (!attr) {
      out.push(`${where}.${name}: not an attribute of this object`);
      continue;
    }
    if (attr.profile && !profiles.includes(attr.profile)) out.push(`${where}.${name}: needs profile ${attr.profile}`);
    if (attr.array) {
      if (!Array.isArray(v)) out.push(`${where}.${name}: must be an array`);
      else v.forEach((item, i) => out.push(...typeViolations(item, attr, `${where}.${name}[${i}]`, profiles)));
    } else out.push(...typeViolations(v, attr, `${where}.${name}`, profiles));
  }
  const present = (names: string[]): number => names.filter((n) => n in value).length;
  if (def.constraints?.at_least_one && present(def.constraints.at_least_one) === 0) out.push(`${where}: needs one of ${def.constraints.at_least_one.join(', ')}`);
  if (def.constraints?.just_one && present(def.constraints.just_one) !== 1) out.push(`${where}: needs exactly one of ${def.constraints.just_one.join(', ')}`);
  return out;
}

function typeViolations(v: unknown, attr: Attr, where: string, profiles: string[]): string[] {
  if (attr.type === 'object' || attr.type === 'json_t') return [];
  const obj = schema.objects[attr.type];
  if (obj) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`${where}: must be an object (${attr.type})`];
    return violations(v as Json, obj, where, profiles);
  }
  const t = schema.types[attr.type];
  if (!t) return [`${where}: type ${attr.type} is not in the snapshot: extend extract.mjs`];
  const base = t.base;
  const ok =
    base === 'string_t' ? typeof v === 'string' :
    base === 'integer_t' || base === 'long_t' ? Number.isSafeInteger(v) :
    base === 'boolean_t' ? typeof v === 'boolean' :
    base === 'float_t' ? typeof v === 'number' : false;
  if (!ok) return [`${where}: not a ${attr.type}: ${JSON.stringify(v)}`];
  if (t.regex && !new RegExp(t.regex).test(String(v))) return [`${where}: does not match ${attr.type}: ${JSON.stringify(v)}`];
  if (t.max_len !== undefined && String(v).length > t.max_len) return [`${where}: longer than ${attr.type} allows (${t.max_len}): ${JSON.stringify(v)}`];
  if (attr.enum && !attr.enum.includes(v as number)) return [`${where}: ${JSON.stringify(v)} is not one of ${attr.enum.join(', ')}`];
  return [];
}

/** The value at a dotted path without array indices, looking into the first element of arrays. */
function at(record: Json, dotted: string): unknown {
  let cur: unknown = record;
  for (const key of dotted.split('.')) {
    if (Array.isArray(cur)) cur = cur[0];
    cur = (cur as Json | undefined)?.[key];
  }
  return cur;
}

function checkRecord(r: Json): void {
  const metadata = r['metadata'] as Json;
  const profiles = (metadata['profiles'] as string[] | undefined) ?? [];
  assert.deepEqual(violations(r, schema.class, '', profiles), []);
  assert.equal(r['class_uid'], schema.class.uid);
  assert.equal(r['category_uid'], schema.class.category_uid);
  assert.equal(r['type_uid'], (r['class_uid'] as number) * 100 + (r['activity_id'] as number));
  assert.equal(metadata['version'], schema.version);
  assert.equal(r['is_alert'], true);
  for (const o of (r['observables'] as Json[] | undefined) ?? []) {
    assert.ok(schema.observable_type_ids.includes(o['type_id'] as number), `observable type ${String(o['type_id'])}`);
    assert.equal(at(r, o['name'] as string), o['value'], `observable ${String(o['name'])} points at its value`);
  }
}

async function exportOcsf(db: string, extra: string[] = []): Promise<Json[]> {
  const res = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg-1', '--format', 'ocsf', '--quiet', ...extra]);
  assert.equal(res.code, 0, res.stderr);
  return jsonLines(res.stdout);
}

describe('ocsf', () => {
  it(`the schema snapshot is OCSF ${schema.version} Detection Finding`, () => {
    assert.equal(schema.version, '1.8.0');
    assert.equal(schema.class.uid, 2004);
    for (const a of ['activity_id', 'category_uid', 'class_uid', 'type_uid', 'severity_id', 'time', 'metadata', 'finding_info']) {
      assert.equal(schema.class.attributes[a]?.requirement, 'required', a);
    }
  });

  it('records of the tricky registry follow the schema, with and without formatting threads', async () => {
    const db = trickyRegistry();
    const one = await exportOcsf(db, ['--threads', '1']);
    assert.deepEqual(await exportOcsf(db, ['--threads', '2']), one);
    for (const r of one) checkRecord(r);
  });

  it('records of the hostile registry follow the schema and carry every value where docs/SIEM.md says', async () => {
    const db = hostileRegistry();
    const rows = registryRows(db);
    const records = await exportOcsf(db);
    assert.equal(records.length, rows.length);
    rows.forEach((row, i) => {
      const r = records[i]!;
      checkRecord(r);
      const m = r['metadata'] as Json;
      const u = (r['unmapped'] as Json)['oversight'] as Json;
      assert.equal(r['time'], row.timestamp * 1000);
      assert.equal(m['original_event_uid'], String(row.id));
      assert.equal(m['correlation_uid'], row.token_id);
      assert.equal(at(r, 'metadata.reporter.uid'), 'reg-1');
      assert.equal(at(r, 'finding_info.uid'), `oversight:reg-1:${row.id}`);
      assert.equal(at(r, 'resources.uid'), row.file_id ?? undefined);
      assert.equal(at(r, 'resources.owner.uid'), row.file_id === null ? undefined : row.issuer_id ?? undefined);
      assert.equal(at(r, 'evidences.user.uid'), row.recipient_id ?? undefined);
      assert.equal(at(r, 'evidences.http_request.user_agent'), row.user_agent || undefined);
      if (row.source_ip !== null && isIP(row.source_ip)) assert.equal(at(r, 'evidences.src_endpoint.ip'), row.source_ip);
      else assert.equal(u['source_ip'], row.source_ip ?? undefined);
      assert.equal(u['qualified_timestamp'], row.qualified_timestamp ?? undefined);
      assert.equal(u['tlog_index'], row.tlog_index ?? undefined);
      assert.equal(u['beacon_kind'], row.kind);
      const extra = JSON.parse(row.extra!) as Json;
      if (row.kind === 'dns' && typeof extra['qname'] === 'string') {
        assert.deepEqual(at(r, 'evidences.query'), { hostname: extra['qname'], type: extra['qtype'] });
        const { qname: _n, qtype: _t, ...rest } = extra;
        assert.deepEqual(u['extra'], Object.keys(rest).length ? rest : undefined);
      } else assert.deepEqual(u['extra'], Object.keys(extra).length ? extra : undefined);
    });
  });

  it('keeps an address longer than ip_t allows (40 characters) unmapped, as it is', async () => {
    // Both are addresses to Node: a fully written IPv4-mapped address, and a link-local one with its zone.
    const long = ['0000:0000:0000:0000:0000:ffff:192.168.100.200', 'fe80::1234:5678:9abc:def0%wireguard-tunnel0'];
    const db = sqlRegistry(
      `CREATE TABLE events (id INTEGER PRIMARY KEY, token_id TEXT, file_id TEXT, recipient_id TEXT, issuer_id TEXT, kind TEXT,
         source_ip TEXT, user_agent TEXT, extra TEXT, timestamp INTEGER, qualified_timestamp TEXT, tlog_index INTEGER);` +
      long.map((ip, i) => `INSERT INTO events VALUES (${i + 1}, 'tok', 'f-1', 'r@x.example', NULL, 'license', '${ip}', 'UA/1', '{}', 1763856000, NULL, NULL);`).join(''),
    );
    const records = await exportOcsf(db);
    assert.equal(records.length, long.length);
    records.forEach((r, i) => {
      assert.ok(isIP(long[i]!) === 6 && long[i]!.length > 40);
      checkRecord(r);
      assert.equal(at(r, 'evidences.src_endpoint'), undefined);
      assert.equal(((r['unmapped'] as Json)['oversight'] as Json)['source_ip'], long[i]);
    });
  });

  it('the checks catch a record outside the schema', () => {
    const good = { activity_id: 1, category_uid: 2, class_uid: 2004, type_uid: 200401, severity_id: 4, time: 1, metadata: { version: '1.8.0', product: { name: 'x' } }, finding_info: { uid: 'u' } };
    assert.deepEqual(violations(good, schema.class, '', []), []);
    const bad = { ...good, severity_id: 7, action_id: 1, made_up: true, metadata: { version: '1.8.0', product: {} }, finding_info: undefined } as Json;
    delete bad['finding_info'];
    const found = [
      ...violations(bad, schema.class, '', []),
      ...violations({ ip: '0000:0000:0000:0000:0000:ffff:192.168.100.200' }, schema.objects['network_endpoint']!, '.src_endpoint', []),
    ].join('\n');
    for (const want of ['.src_endpoint.ip: longer than ip_t allows (40)', '.finding_info: required', '.severity_id: 7 is not one of', '.action_id: needs profile security_control', '.made_up: not an attribute', '.metadata.product: needs one of name, uid']) {
      assert.ok(found.includes(want), `${want} in\n${found}`);
    }
  });
});
