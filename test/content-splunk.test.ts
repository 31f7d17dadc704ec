/**
 * The Splunk app: every .conf reads cleanly, every macro, event type and field a search uses is defined, the
 * CIM Intrusion_Detection fields come out of our real records as the data model expects, and the app archive
 * is laid out as Splunk installs it and identical from build to build.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import * as tar from 'tar';
import { loadModel } from '../src/content/build.js';
import { contentRoot } from '../src/content/model.js';
import { APP, KIND_DEFAULTS, packageApp, SOURCETYPE, splunkContent } from '../src/content/splunk.js';
import { applyProps, readProps, searchTimeFields } from './support/splunk-run.js';
import { parseConf, type ConfFile } from '../src/content/splunk-conf.js';
import { analyzeSearch, evaluate, fieldRefs, parseExpr, type Fields } from './support/splunk-spl.js';
import { jsonLines, runCli, sqlRegistry, tempDir, trickyRegistry } from './helpers.js';

const SPLUNK = path.join(contentRoot(), 'splunk');
const APP_DIR = path.join(SPLUNK, APP);
const model = loadModel();

function walk(dir: string, rel = ''): string[] {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const child = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? walk(dir, child) : [child];
  });
}

const conf = (name: string): ConfFile => parseConf(fs.readFileSync(path.join(APP_DIR, name), 'utf8'), name);

/**
 * IDS_Attacks required fields, and the ones required when ids_type=network, with their allowed values, from
 * pytest-splunk-addon's data_models/Intrusion_Detection.json (CIM 4.20).
 */
const IDS_REQUIRED = ['action', 'category', 'dvc', 'ids_type', 'severity', 'signature', 'vendor_product'];
const IDS_NETWORK = ['dest', 'src', 'transport', 'src_port', 'dest_port'];
const IDS_VALUES: Record<string, string[]> = {
  action: ['allowed', 'blocked'],
  ids_type: ['network', 'host'],
  severity: ['critical', 'high', 'medium', 'low', 'informational'],
};
/** CIM fields the app cannot fill, each explained in content/splunk/README.md. */
const GAPS = ['src_port'];

describe('.conf reader', () => {
  it('reads stanzas, settings, comments, a default stanza and continued lines', () => {
    const c = parseConf('top = 1\n# note\n\n[a b]\nk = v = w\nempty =\nlong = one \\\ntwo\n  [x]  \n', 't');
    assert.deepEqual(c.stanzas.map((s) => s.name), ['default', 'a b', 'x']);
    assert.deepEqual([...c.stanza('a b')], [['k', 'v = w'], ['empty', ''], ['long', 'one \ntwo']]);
    assert.equal(c.stanza('default').get('top'), '1');
  });
  it('refuses malformed lines, naming the line', () => {
    assert.throws(() => parseConf('[a]\nno equals sign\n', 't'), /t:2: neither a stanza/);
    assert.throws(() => parseConf('[a\nk = v\n', 't'), /t:1: malformed stanza header/);
    assert.deepEqual(parseConf('[]\nexport = none\n').stanzas.map((s) => s.name), [''], 'the app-wide stanza of a .meta file');
    assert.throws(() => parseConf('[a]\nk = 1\nk = 2\n', 't'), /t:3: k is set twice in \[a\]/);
    assert.throws(() => parseConf('[a]\n[a]\n', 't'), /stanza \[a\] appears twice/);
    assert.throws(() => parseConf('[a]\nk = v \\', 't'), /continuation at the end/);
    assert.throws(() => parseConf('[a]\nbad key = v\n', 't'), /is not a setting name/);
    assert.throws(() => parseConf('[a]\n= v\n', 't'), /is not a setting name/);
  });
});

describe('eval evaluator', () => {
  const f: Fields = new Map<string, string | number | string[]>([
    ['a', 'x'],
    ['n', '7'],
    ['mv', ['f-1', 'f-1']],
    ['dotted.name', 'q.example'],
  ]);
  const ev = (text: string): unknown => evaluate(parseExpr(text), f);
  it('evaluates literals, fields, comparison, concatenation and the functions the app uses', () => {
    assert.equal(ev('"s"'), 's');
    assert.equal(ev('a'), 'x');
    assert.equal(ev("'dotted.name'"), 'q.example');
    assert.equal(ev('missing'), null);
    assert.equal(ev('a=="x"'), true);
    assert.equal(ev('a!="x"'), false);
    assert.equal(ev('"(" . a . ")"'), '(x)');
    assert.equal(ev('"(" . missing . ")"'), null, 'concatenating null gives null');
    assert.equal(ev('if(a=="x", 1, 2)'), 1);
    assert.equal(ev('if(missing=="x", 1, 2)'), 2, 'a null condition is not true');
    assert.equal(ev('case(a=="y", "one", a=="x", "two")'), 'two');
    assert.equal(ev('case(a=="y", "one")'), null);
    assert.equal(ev('coalesce(missing, a)'), 'x');
    assert.equal(ev('null()'), null);
    assert.equal(ev('isnull(missing) AND isnotnull(a)'), true);
    assert.equal(ev('NOT (a=="x" OR a=="y")'), false);
    assert.equal(ev('NOT (missing=="x")'), null);
    assert.equal(ev('match(a, "^x$")'), true);
    assert.equal(ev('match(missing, "x")'), null);
    assert.equal(ev('n >= 5'), true);
    assert.deepEqual(ev('mv'), ['f-1', 'f-1']);
    assert.equal(ev('mvdedup(mv)'), 'f-1');
    assert.equal(ev('mv=="f-1"'), true);
    assert.equal(ev('true()'), true);
  });
  it('refuses what it does not know', () => {
    assert.throws(() => ev('lower(a)'), /lower\(\) is not supported/);
    assert.throws(() => parseExpr('if(a, 1'), /expected \)/);
    assert.throws(() => parseExpr('"open'), /unterminated/);
    assert.throws(() => parseExpr('a b'), /after a complete expression/);
    assert.throws(() => ev('if(a, 1)'), /takes 3 argument/);
  });
});

describe('search reader', () => {
  it('lists macros and event types, and finds fields read where they are not available', () => {
    const use = analyzeSearch('`m1` eventtype=e sourcetype=s earliest=-1d x=1 | where y > 2 | stats count as c by z | table c, z, y', ['x', 'y', 'z']);
    assert.deepEqual([...use.macros], ['m1']);
    assert.deepEqual([...use.eventtypes], ['e']);
    assert.deepEqual(use.undefinedFields, [{ field: 'y', command: 'table' }], 'y is gone after stats');
  });
  it('refuses commands it does not understand', () => {
    assert.throws(() => analyzeSearch('x=1 | lookup foo bar', ['x']), /"lookup" is not understood/);
  });
});

describe('Splunk app files', () => {
  const files = walk(APP_DIR);
  it('has the layout of a Splunk app', () => {
    for (const f of ['app.manifest', 'default/app.conf', 'default/props.conf', 'default/eventtypes.conf', 'default/tags.conf',
      'default/macros.conf', 'default/savedsearches.conf', 'default/fields.conf', 'metadata/default.meta',
      'default/data/ui/views/oversight_overview.xml', 'default/data/ui/nav/default.xml']) {
      assert.ok(files.includes(f), `${f} is missing`);
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(APP_DIR, 'app.manifest'), 'utf8'));
    assert.equal(manifest.info.id.name, APP);
    assert.equal(manifest.info.id.version, model.version);
  });

  it('every .conf and .meta file parses', () => {
    const confs = files.filter((f) => f.endsWith('.conf') || f.endsWith('.meta'));
    assert.ok(confs.length >= 8);
    for (const f of confs) conf(f);
  });

  it('the generated files are what the generator writes now', () => {
    for (const file of splunkContent.generate(model)) {
      assert.equal(fs.readFileSync(path.join(SPLUNK, file.path), 'utf8'), file.data, `${file.path} is stale: run npm run content`);
    }
  });

  it('app.conf names the app and its version', () => {
    const c = conf('default/app.conf');
    assert.equal(c.stanza('package').get('id'), APP);
    assert.equal(c.stanza('id').get('name'), APP);
    assert.equal(c.stanza('id').get('version'), model.version);
    assert.equal(c.stanza('launcher').get('version'), model.version);
    assert.ok(c.stanza('launcher').get('author'));
    assert.equal(c.stanza('ui').get('is_visible'), '1');
    assert.ok(c.stanza('ui').get('label'));
    assert.ok(c.stanza('install').has('is_configured'));
  });

  it('shares props, event types, tags and macros with every app, and keeps alerts and views in its own', () => {
    const meta = conf('metadata/default.meta');
    for (const s of ['props', 'eventtypes', 'tags', 'macros']) assert.equal(meta.stanza(s).get('export'), 'system', s);
    for (const s of ['savedsearches', 'views', 'fields']) assert.equal(meta.stanza(s).get('export'), 'none', s);
  });

  it('tags the event type ids and attack, and the event type selects our sourcetype through the index macro', () => {
    const tags = conf('default/tags.conf').stanza('eventtype=oversight_beacon');
    assert.equal(tags.get('ids'), 'enabled');
    assert.equal(tags.get('attack'), 'enabled');
    assert.equal(conf('default/eventtypes.conf').stanza('oversight_beacon').get('search'), '`oversight_index` sourcetype=oversight:beacon');
  });

  it('ingests HEC JSON as single events and extracts the JSON at search time', () => {
    const p = conf('default/props.conf').stanza('oversight:beacon');
    assert.equal(p.get('KV_MODE'), 'json');
    assert.equal(p.get('SHOULD_LINEMERGE'), 'false');
    assert.equal(p.has('INDEXED_EXTRACTIONS'), false, 'indexed JSON extraction would duplicate every field');
    assert.equal(p.get('TIME_FORMAT'), '%Y-%m-%dT%H:%M:%SZ');
  });

  it('declares the indexed fields HEC sends', () => {
    const fieldsConf = conf('default/fields.conf');
    // ...and the one the app's INGEST_EVAL adds to events without a usable time.
    const indexed = ['oversight_time_missing', ...model.fields.fields.flatMap((r) => [...(r.splunk.indexed ? [r.splunk.field] : []), ...(r.splunk.indexed_as ? [r.splunk.indexed_as] : [])])];
    assert.deepEqual(fieldsConf.stanzas.map((s) => s.name).sort(), [...indexed].sort());
    for (const s of fieldsConf.stanzas) assert.equal(fieldsConf.stanza(s.name).get('INDEXED'), 'true');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Field definitions: what the events carry, and what props.conf adds

const props = readProps(fs.readFileSync(path.join(APP_DIR, 'default/props.conf'), 'utf8'), SOURCETYPE);
/** Fields our events carry at search time: the JSON fields (field table), the indexed ones, and DNS `extra`. */
const eventFields = [
  ...model.fields.fields.map((r) => r.splunk.field),
  ...model.fields.fields.flatMap((r) => (r.splunk.indexed_as ? [r.splunk.indexed_as] : [])),
  'extra.qname',
  'extra.qtype',
];
const extracted = props.extracts.flatMap((re) => [...re.source.matchAll(/\(\?<([A-Za-z_]\w*)>/g)].map((m) => m[1]!));
/** Indexed fields the app itself adds at index time (transforms.conf INGEST_EVAL, declared in fields.conf). */
const ingestFields = [...fs.readFileSync(path.join(APP_DIR, 'default/transforms.conf'), 'utf8').matchAll(/INGEST_EVAL = (.*)$/gm)]
  .flatMap((m) => [...m[1]!.matchAll(/(?:^|, )([A-Za-z][A-Za-z0-9_]*)=/g)].map((x) => x[1]!));
const available = new Set([...eventFields, ...ingestFields, ...extracted, ...props.aliases.map(([, to]) => to), ...props.evals.map(([name]) => name)]);

describe('every macro, event type and field the searches use is defined', () => {
  const macros = conf('default/macros.conf');
  const eventtypes = conf('default/eventtypes.conf');
  const macroNames = new Set(macros.stanzas.map((s) => s.name));
  const eventtypeNames = new Set(eventtypes.stanzas.map((s) => s.name));

  /** Check one search: its macros (and theirs), event types and fields. */
  const check = (label: string, spl: string): void => {
    const use = analyzeSearch(spl, available);
    for (const m of use.macros) {
      assert.ok(macroNames.has(m), `${label}: macro \`${m}\` is not defined in macros.conf`);
      const definition = macros.stanza(m).get('definition');
      assert.ok(definition, `${label}: macro ${m} has no definition`);
      check(`macro ${m}`, definition);
    }
    for (const e of use.eventtypes) assert.ok(eventtypeNames.has(e), `${label}: event type ${e} is not defined`);
    assert.deepEqual(use.undefinedFields, [], `${label}: fields used but not defined`);
  };

  it('in the props.conf evals (a calculated field reads event fields and aliases only)', () => {
    const before = new Set([...eventFields, ...extracted, ...props.aliases.map(([, to]) => to), 'host']);
    for (const [name, expr] of props.evals) {
      for (const f of fieldRefs(expr)) assert.ok(before.has(f), `EVAL-${name} reads ${f}, which is not an event field or alias`);
    }
    for (const [from] of props.aliases) assert.ok(eventFields.includes(from), `alias of ${from}, which is not an event field`);
  });

  it('in the event types, the tags and the macros', () => {
    for (const s of eventtypes.stanzas) check(`eventtype ${s.name}`, eventtypes.stanza(s.name).get('search')!);
    for (const s of conf('default/tags.conf').stanzas) {
      const m = /^eventtype=(.+)$/.exec(s.name);
      assert.ok(m && eventtypeNames.has(m[1]!), `tags.conf [${s.name}] names no defined event type`);
    }
    for (const s of macros.stanzas) check(`macro ${s.name}`, macros.stanza(s.name).get('definition')!);
  });

  it('in every saved search', () => {
    const saved = conf('default/savedsearches.conf');
    assert.equal(saved.stanzas.length, model.detections.length);
    for (const s of saved.stanzas) check(`saved search ${s.name}`, saved.stanza(s.name).get('search')!);
  });

  it('in every dashboard query, and the dashboard and navigation are well-formed XML', () => {
    const views = path.join(APP_DIR, 'default/data/ui/views');
    for (const view of fs.readdirSync(views)) {
      const xml = fs.readFileSync(path.join(views, view), 'utf8');
      assertBalancedXml(xml, view);
      const queries = [...xml.matchAll(/<query>([\s\S]*?)<\/query>/g)].map((m) => decodeXml(m[1]!));
      assert.ok(queries.length >= 6, `${view}: the overview has its six panels`);
      queries.forEach((q, i) => check(`${view} query ${i + 1}`, q));
    }
    const nav = fs.readFileSync(path.join(APP_DIR, 'default/data/ui/nav/default.xml'), 'utf8');
    assertBalancedXml(nav, 'nav');
    const defaultView = /<view name="([^"]+)" default="true"/.exec(nav)?.[1];
    assert.ok(defaultView && fs.existsSync(path.join(views, `${defaultView}.xml`)), 'the default view of the navigation exists');
  });
});

function decodeXml(text: string): string {
  return text.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, '$1').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** Elements open and close in order, and text holds no bare `<` or `&`. */
function assertBalancedXml(xml: string, label: string): void {
  const stack: string[] = [];
  const body = xml.replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '').replace(/<!--[\s\S]*?-->/g, '').replace(/^<\?xml[^>]*\?>/, '');
  for (const m of body.matchAll(/<(\/?)([A-Za-z][\w.:-]*)((?:\s+[\w.:-]+="[^"<]*")*)\s*(\/?)>|<|&(?!(lt|gt|amp|quot|apos);)/g)) {
    if (m[2] === undefined) assert.fail(`${label}: a bare ${m[0]} in text`);
    if (m[1]) assert.equal(stack.pop(), m[2], `${label}: </${m[2]}> closes the wrong element`);
    else if (!m[4]) stack.push(m[2]);
  }
  assert.deepEqual(stack, [], `${label}: unclosed elements`);
}

describe('saved searches are the detections as disabled alerts', () => {
  const saved = conf('default/savedsearches.conf');
  for (const d of model.detections) {
    it(d.id, () => {
      const s = saved.stanza(d.name);
      assert.equal(s.get('disabled'), '1');
      assert.equal(s.get('enableSched'), '1');
      assert.ok(s.get('cron_schedule'));
      assert.equal(s.get('dispatch.latest_time'), 'now');
      assert.match(s.get('dispatch.earliest_time')!, /^-\d+[smhd]$/);
      assert.equal(s.get('alert.severity'), String({ informational: 2, low: 3, medium: 4, high: 5, critical: 6 }[d.severity]));
      assert.match(s.get('description')!, /resolver/, 'the DNS confidence note');
      assert.equal(s.has('actions'), false, 'no alert action until a user adds one');
      for (const [k, v] of s) if (/^action\.[^.]+$/.test(k)) assert.equal(v, '0', `${k} is on`);
    });
  }
  it('runs on the detection schedule', () => {
    const cron = Object.fromEntries(model.detections.map((d) => [d.schedule.interval, saved.stanza(d.name).get('cron_schedule')]));
    assert.deepEqual(cron, { '5m': '*/5 * * * *', '1h': '0 * * * *' });
    const range = (id: string): string | undefined => saved.stanza(model.detections.find((d) => d.id === id)!.name).get('dispatch.earliest_time');
    assert.equal(range('oversight-first-callback-for-file'), '-14d', 'first-seen reads its whole history');
    // A counting rule reads its window, the interval since the previous run and a delivery delay.
    assert.equal(range('oversight-file-opened-from-many-ips'), '-26h');
    assert.equal(range('oversight-callback-burst-from-ip'), '-15m');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The CIM mapping applied to our real records

/** Values the upstream registry writes that a schema does not expect (see docs: real registry). */
const REAL_VALUES_SQL = `
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, token_id TEXT, file_id TEXT, recipient_id TEXT, issuer_id TEXT,
  kind TEXT, source_ip TEXT, user_agent TEXT, extra TEXT, timestamp INTEGER, qualified_timestamp TEXT, tlog_index INTEGER);
INSERT INTO events VALUES (1, 'tok-a', 'f-7', 'zoë@partner.example', 'legal@acme.example', 'http_img', 'unknown', 'Mozilla/5.0 (Z' || char(195) || char(188) || 'rich' || char(150) || ')', '{}', 1763856000, '2025-11-23T00:00:00Z', 1);
INSERT INTO events VALUES (2, 'tok-b', 'f-7', 'zoë@partner.example', 'legal@acme.example', 'dns', NULL, '', '{"qtype": "A", "qname": "tok-b.t.oversight.example"}', 1763856001, NULL, 2);
INSERT INTO events VALUES (3, 'tok-c', 'f-7', 'zoë@partner.example', 'legal@acme.example', 'dns', '9.9.9.9', '', '{"qtype": "A", "qname": null}', 1763856002, NULL, 3);
INSERT INTO events VALUES (4, 'x"y', NULL, NULL, NULL, 'ocsp', '203.0.113.5', 'Microsoft-CryptoAPI/10.0', '{}', 1763856003, NULL, 4);
INSERT INTO events VALUES (5, 'tok-d', 'f-8', 'bob@lawfirm.example', 'legal@acme.example', 'license', '2001:db8::1', 'OversightViewer/1.4', '{}', 1763856004, NULL, 5);
`;

async function exportSplunk(db: string): Promise<Record<string, unknown>[]> {
  const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg-1', '--format', 'splunk']);
  assert.equal(r.code, 0, r.stderr);
  return jsonLines(r.stdout);
}

describe('the CIM Intrusion_Detection mapping over our real records', () => {
  it('every IDS_Attacks field but the documented gaps is made by an alias, an eval or the event', () => {
    for (const f of [...IDS_REQUIRED, ...IDS_NETWORK]) {
      if (GAPS.includes(f)) continue;
      assert.ok(available.has(f), `CIM field ${f} is neither an event field nor an alias or eval`);
    }
    for (const gap of GAPS) assert.equal(available.has(gap), false, `${gap} is listed as a gap but is set`);
    const readme = fs.readFileSync(path.join(SPLUNK, 'README.md'), 'utf8');
    for (const gap of GAPS) assert.match(readme, new RegExp(`\\| \`${gap}\` \\|[^\\n]*not`), `README explains the ${gap} gap`);
  });

  for (const [label, db] of [['tricky registry', (): string => trickyRegistry()], ['real-registry values', (): string => sqlRegistry(REAL_VALUES_SQL)]] as const) {
    it(`gives the data model's values for every record of the ${label}`, async () => {
      const records = await exportSplunk(db());
      assert.ok(records.length >= 5);
      for (const [i, envelope] of records.entries()) {
        const event = envelope.event as Record<string, unknown>;
        const cim = applyProps(props, searchTimeFields(envelope));
        const at = `record ${i + 1} (event_id ${String(event.event_id)})`;
        const kind = event.kind as string | undefined;
        const known = kind !== undefined && Object.hasOwn(KIND_DEFAULTS, kind);
        for (const f of [...IDS_REQUIRED, ...IDS_NETWORK]) {
          const v = cim.get(f);
          if (v !== undefined) assert.equal(Array.isArray(v), false, `${at}: ${f} has several values ${JSON.stringify(v)}`);
          if (f in IDS_VALUES && v !== undefined) assert.ok(IDS_VALUES[f]!.includes(String(v)), `${at}: ${f}=${String(v)}`);
        }
        // Always present, whatever the record lacks.
        for (const f of IDS_REQUIRED) assert.ok(cim.has(f), `${at}: ${f} is missing`);
        assert.equal(cim.get('action'), 'allowed');
        assert.equal(cim.get('ids_type'), 'network');
        assert.equal(cim.get('vendor_product'), 'Oversight Registry');
        assert.equal(cim.get('dvc'), 'reg-1');
        assert.equal(cim.get('signature'), `Oversight beacon (${kind ?? 'unknown'})`);
        assert.equal(cim.get('beacon_action'), event.action, 'the event\'s own action is kept');
        assert.equal(cim.get('signature_id'), event.action);
        assert.equal(cim.get('severity'), event.file_id ? 'high' : 'medium');
        assert.ok(cim.has('dest'), `${at}: dest`);
        // The address, only when it is one.
        const ip = event.source_ip as string | undefined;
        if (ip === undefined || ip === 'unknown') {
          assert.equal(cim.has('src'), false, `${at}: src must be absent for ${String(ip)}`);
          if (ip === 'unknown') assert.equal(cim.get('source_ip'), 'unknown', 'the original value stays visible');
        } else {
          assert.equal(cim.get('src'), ip);
        }
        // Single values where HEC sent a field twice.
        for (const f of ['file_id', 'recipient_id', 'issuer_id']) assert.equal(cim.get(f), event[f], `${at}: ${f}`);
        assert.equal(cim.get('user'), event.recipient_id, `${at}: user`);
        // The beacon protocol's transport and port per kind; none for kinds it does not have.
        if (known) {
          assert.equal(cim.get('transport'), KIND_DEFAULTS[kind]!.transport);
          assert.equal(cim.get('dest_port'), KIND_DEFAULTS[kind]!.port);
          assert.equal(typeof cim.get('dest_port'), 'number', 'CIM wants a number, not a service name');
        } else {
          assert.equal(cim.has('transport'), false);
          assert.equal(cim.has('dest_port'), false);
        }
        assert.equal(cim.has('src_port'), false);
        const qname = (event.extra as Record<string, unknown> | undefined)?.qname;
        assert.equal(cim.get('dest'), kind === 'dns' && typeof qname === 'string' && qname.includes('.') ? qname : envelope.host);
      }
    });
  }

  it('the real-registry values come out as a SOC expects', async () => {
    const records = (await exportSplunk(sqlRegistry(REAL_VALUES_SQL))).map((e) => applyProps(props, searchTimeFields(e)));
    assert.equal(records[0]!.has('src'), false, '`unknown` is no source address');
    assert.equal(records[0]!.get('user'), 'zoë@partner.example');
    assert.equal(records[1]!.get('dest'), 'tok-b.t.oversight.example', 'a DNS callback names the beacon host it resolved');
    assert.equal(records[1]!.get('transport'), 'udp');
    assert.equal(records[2]!.get('dest'), 'reg-1', 'a DNS callback without a name falls back to the registry host');
    assert.equal(records[3]!.get('severity'), 'medium', 'an unknown token is probing, not a leak');
    assert.equal(records[3]!.has('user'), false);
    assert.equal(records[4]!.get('src'), '2001:db8::1');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The archive

async function listArchive(file: string): Promise<{ path: string; mode: number; mtime: number; type: string }[]> {
  const entries: { path: string; mode: number; mtime: number; type: string }[] = [];
  await tar.t({ file, onReadEntry: (e) => entries.push({ path: e.path, mode: e.mode ?? -1, mtime: e.mtime?.getTime() ?? 0, type: e.type }) });
  return entries;
}

describe('the app archive', () => {
  it('siem content splunk writes the app folder, its archive and the README', async () => {
    const out = path.join(tempDir(), 'splunk');
    const r = await runCli(['siem', 'content', 'splunk', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.existsSync(path.join(out, 'README.md')));
    assert.ok(fs.existsSync(path.join(out, APP, 'default', 'props.conf')));
    const entries = await listArchive(path.join(out, `${APP}.tgz`));
    assert.equal(entries[0]!.path, `${APP}/`, 'the app folder comes first');
    for (const e of entries) {
      assert.ok(e.path === `${APP}/` || e.path.startsWith(`${APP}/`), `${e.path} is outside the app folder`);
      assert.equal(e.mode, e.type === 'Directory' ? 0o755 : 0o644, `${e.path} mode ${e.mode.toString(8)}`);
    }
    const files = entries.filter((e) => e.type === 'File').map((e) => e.path.slice(APP.length + 1));
    assert.deepEqual(files, walk(APP_DIR).sort(), 'exactly the app files');
    assert.deepEqual(entries.map((e) => e.path), [...entries.map((e) => e.path)].sort(), 'sorted entries');
  });

  it('two builds are byte-identical, whatever the files\' times and modes on disk', async () => {
    const build = async (mode: number, time: Date): Promise<Buffer> => {
      const dir = tempDir();
      fs.cpSync(APP_DIR, path.join(dir, APP), { recursive: true });
      for (const f of walk(path.join(dir, APP))) {
        fs.chmodSync(path.join(dir, APP, f), mode);
        fs.utimesSync(path.join(dir, APP, f), time, time);
      }
      return fs.readFileSync(await packageApp(dir));
    };
    const a = await build(0o644, new Date('2021-03-04T05:06:07Z'));
    const b = await build(0o664, new Date());
    assert.ok(a.equals(b), 'archives differ');
    assert.equal(a[0], 0x1f, 'gzip');
  });
});
