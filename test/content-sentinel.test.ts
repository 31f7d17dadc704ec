/**
 * The Sentinel content: every KQL query we ship binds in Microsoft's own Kusto language service against the
 * table schema read from our table definition, that schema is exactly what `siem export --format sentinel`
 * sends, the DCR accepts it column for column, and the rule files carry what Sentinel's rule schema requires.
 */
import { K, S, System } from './support/kusto.js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { loadModel } from '../src/content/build.js';
import { durationSeconds } from '../src/content/model.js';
import { sentinelContent, sentinelDir } from '../src/content/sentinel.js';
import { jsonLines, runCli, trickyRegistry } from './helpers.js';

const DIR = sentinelDir();
const readJson = (rel: string): Record<string, any> => JSON.parse(fs.readFileSync(path.join(DIR, rel), 'utf8'));
const readYaml = (rel: string): Record<string, any> => YAML.parse(fs.readFileSync(path.join(DIR, rel), 'utf8'));
const yamlFiles = (sub: string): string[] => fs.readdirSync(path.join(DIR, sub)).filter((f) => f.endsWith('.yaml')).sort();

// ---------------------------------------------------------------------------------------------------------
// Microsoft's Kusto language service: test/support/kusto.ts.

interface Column { name: string; type: string }
interface Diagnostic { severity: string; code: string; message: string; at: number }

/** Log Analytics table types → Kusto scalar type names (the table API spells `dateTime`, KQL `datetime`). */
function kustoType(type: string): string {
  const t = type.toLowerCase();
  return t === 'boolean' ? 'bool' : t;
}

function tableSymbol(name: string, columns: Column[]): any {
  return new S.TableSymbol.$ctor4(name, columns.map((c) => {
    const type = S.ScalarTypes.GetSymbol(kustoType(c.type));
    assert.ok(type, `no Kusto type for ${c.type}`);
    return new S.ColumnSymbol(c.name, type);
  }));
}

function globals(symbols: any[]): any {
  return K.GlobalState.Default.WithDatabase(new S.DatabaseSymbol.$ctor2('workspace', null, symbols));
}

function analyze(query: string, state: any): { diagnostics: Diagnostic[]; columns: Column[] } {
  const code = K.KustoCode.ParseAndAnalyze(query, state);
  const list = code.GetDiagnostics();
  const diagnostics: Diagnostic[] = [];
  for (let i = 0; i < System.Array.getCount(list, K.Diagnostic); i++) {
    const d = System.Array.getItem(list, i, K.Diagnostic);
    diagnostics.push({ severity: String(d.Severity), code: String(d.Code), message: String(d.Message), at: d.Start });
  }
  const columns: Column[] = [];
  const result = code.ResultType;
  if (result && result.Columns) {
    for (let i = 0; i < System.Array.getCount(result.Columns, S.ColumnSymbol); i++) {
      const c = System.Array.getItem(result.Columns, i, S.ColumnSymbol);
      columns.push({ name: String(c.Name), type: String(c.Type.Name) });
    }
  }
  return { diagnostics, columns };
}

function errors(query: string, state: any): Diagnostic[] {
  return analyze(query, state).diagnostics.filter((d) => d.severity === 'Error');
}

function assertBinds(what: string, query: string, state: any): Column[] {
  const r = analyze(query, state);
  const errs = r.diagnostics.filter((d) => d.severity === 'Error');
  assert.deepEqual(errs, [], `${what} does not bind:\n${errs.map((e) => `${e.code} ${e.message} at ${JSON.stringify(query.slice(e.at, e.at + 30))}`).join('\n')}`);
  return r.columns;
}

// ---------------------------------------------------------------------------------------------------------
// Our own definitions, read from the files we ship.
const deploy = readJson('deploy/azuredeploy.json');
const resource = (type: string): Record<string, any> => {
  const found = deploy.resources.filter((r: any) => r.type === type);
  assert.equal(found.length, 1, `azuredeploy.json has one ${type}`);
  return found[0];
};
const tableResource = resource('Microsoft.OperationalInsights/workspaces/tables');
const TABLE: string = tableResource.properties.schema.name;
/** The table schema, read from the table resource we deploy, types in KQL spelling. */
const tableColumns: Column[] = tableResource.properties.schema.columns.map((c: any) => ({ name: c.name, type: kustoType(c.type) }));
/** Columns the DCR transform adds: the callback's own time, which Azure Monitor would not keep in TimeGenerated. */
const TRANSFORM_COLUMNS = ['OccurredAt'];
const recordColumns: Column[] = tableColumns.filter((c) => !TRANSFORM_COLUMNS.includes(c.name));
const dcr = resource('Microsoft.Insights/dataCollectionRules');
const parserResources = deploy.resources.filter((r: any) => r.type === 'Microsoft.OperationalInsights/workspaces/savedSearches');
const parserFunctions = parserResources.map((r: any) =>
  new S.FunctionSymbol.$ctor16(r.properties.functionAlias, `(${r.properties.functionParameters})`, `{\n${r.properties.query}\n}`, null));
const workspace = globals([tableSymbol(TABLE, tableColumns), ...parserFunctions]);

const analyticRules = yamlFiles('analytic-rules').map((f) => ({ file: f, rule: readYaml(`analytic-rules/${f}`) }));
const hunting = yamlFiles('hunting').map((f) => ({ file: f, query: readYaml(`hunting/${f}`) }));
const workbook = readJson('workbooks/oversight.json');
const armRules = readJson('deploy/analytic-rules.json');

describe('Sentinel content: the Kusto binder', () => {
  it('reports a column the table does not have, so the checks below can fail', () => {
    const errs = errors(`${TABLE} | where FileIdentifier == "f-1" | project TimeGenerated`, workspace);
    assert.equal(errs.length, 1);
    assert.match(errs[0]!.message, /'FileIdentifier' does not refer to any known column/);
    // ...and a table that lacks a column the rules use fails every rule.
    const without = globals([tableSymbol(TABLE, tableColumns.filter((c) => c.name !== 'SourceIp'))]);
    for (const { file, rule } of analyticRules) assert.notDeepEqual(errors(rule.query, without), [], `${file} binds without SourceIp`);
  });

  it('reports a type mismatch against the table types', () => {
    // TlogIndex is a long: comparing it with a datetime is an error only if the binder knows the column's type.
    assert.notDeepEqual(errors(`${TABLE} | where TlogIndex > now()`, workspace), []);
    assert.deepEqual(errors(`${TABLE} | where TlogIndex > 41`, workspace), []);
  });
});

describe('Sentinel content: every shipped query binds against the table definition', () => {
  for (const { file, rule } of analyticRules) {
    it(`analytic rule ${file}`, () => {
      const columns = assertBinds(file, rule.query, workspace);
      const names = columns.map((c) => c.name);
      for (const e of rule.entityMappings) {
        for (const m of e.fieldMappings) assert.ok(names.includes(m.columnName), `${file}: entity column ${m.columnName} is not in the results (${names.join(', ')})`);
      }
      for (const [key, column] of Object.entries(rule.customDetails as Record<string, string>)) {
        assert.ok(names.includes(column), `${file}: custom detail ${key} → ${column} is not in the results`);
      }
      for (const f of ['alertDisplayNameFormat', 'alertDescriptionFormat']) {
        for (const m of (rule.alertDetailsOverride[f] as string).matchAll(/\{\{(\w+)\}\}/g)) {
          assert.ok(names.includes(m[1]!), `${file}: ${f} names ${m[1]}, not in the results`);
        }
      }
    });
  }

  it('the ARM alert rules carry the same queries, and they bind', () => {
    const byId = new Map(analyticRules.map(({ rule }) => [rule.id, rule]));
    assert.equal(armRules.resources.length, analyticRules.length);
    for (const r of armRules.resources) {
      assert.equal(r.type, 'Microsoft.SecurityInsights/alertRules');
      const yaml = byId.get(r.name);
      assert.ok(yaml, `ARM rule ${r.name} has no YAML rule`);
      assert.equal(r.properties.query, yaml.query);
      assertBinds(`ARM rule ${r.name}`, r.properties.query, workspace);
    }
  });

  for (const { file, query } of hunting) {
    it(`hunting query ${file}`, () => {
      const names = assertBinds(file, query.query, workspace).map((c) => c.name);
      for (const e of query.entityMappings ?? []) for (const m of e.fieldMappings) assert.ok(names.includes(m.columnName), `${file}: ${m.columnName}`);
    });
  }

  it('the hunting queries as ARM saved searches carry the same queries', () => {
    const t = readJson('deploy/hunting-queries.json');
    assert.equal(t.resources.length, hunting.length);
    for (const [i, r] of t.resources.entries()) {
      assert.equal(r.properties.category, 'Hunting Queries');
      assert.equal(r.properties.query, hunting[i]!.query.query.trimEnd());
      assertBinds(`ARM hunting query ${r.properties.displayName}`, r.properties.query, workspace);
    }
  });

  it('every workbook query', () => {
    const items = workbook.items.filter((i: any) => i.type === 3);
    assert.ok(items.length >= 5);
    for (const item of items) assertBinds(`workbook item ${item.name}`, item.content.query, workspace);
  });

  it('the ASIM parsers, as .kql files and as saved functions, produce the Alert Event mandatory fields', () => {
    assert.deepEqual(parserResources.map((r: any) => r.properties.functionAlias).sort(), ['ASimAlertEventOversightRegistry', 'vimAlertEventOversightRegistry']);
    for (const r of parserResources) {
      const name = r.properties.functionAlias;
      const kql = fs.readFileSync(path.join(DIR, 'parsers', `${name}.kql`), 'utf8');
      assert.ok(kql.endsWith(`${r.properties.query}\n`), `${name}.kql carries the saved function's body`);
      // The body on its own, with the function's parameters declared, against the table and the other parser.
      assertBinds(`${name}.kql`, `declare query_parameters(${r.properties.functionParameters});\n${r.properties.query}`, workspace);
      const columns = new Map(assertBinds(`${name} called`, `${name}`, workspace).map((c) => [c.name, c.type]));
      const mandatory: Record<string, string> = {
        TimeGenerated: 'datetime', EventCount: 'int', EventStartTime: 'datetime', EventEndTime: 'datetime', EventType: 'string',
        EventUid: 'string', EventProduct: 'string', EventVendor: 'string', EventSchema: 'string', EventSchemaVersion: 'string',
        EventSeverity: 'string', AlertName: 'string', DvcIpAddr: 'string', Username: 'string', AdditionalFields: 'dynamic',
      };
      for (const [col, type] of Object.entries(mandatory)) assert.equal(columns.get(col), type, `${name}: ${col}`);
    }
    assertBinds('filtering call', 'vimAlertEventOversightRegistry(starttime = ago(1d), ipaddr_has_any_prefix = dynamic(["203.0.113."]), eventseverity_has_any = dynamic(["High"]))', workspace);
  });

  it('the DCR transform turns the stream into exactly the table columns', () => {
    const stream = Object.keys(dcr.properties.streamDeclarations);
    assert.deepEqual(stream, [`Custom-${TABLE}`]);
    const streamColumns: Column[] = dcr.properties.streamDeclarations[stream[0]!].columns.map((c: any) => ({ name: c.name, type: kustoType(c.type) }));
    const flow = dcr.properties.dataFlows[0];
    const out = assertBinds('transformKql', flow.transformKql, globals([tableSymbol('source', streamColumns)]));
    assert.deepEqual(out, tableColumns);
  });
});

describe('Sentinel content: the table is what we export', () => {
  it('the table columns equal the columns of our Sentinel records for the tricky registry, type for type', async () => {
    const r = await runCli(['siem', 'export', '--db', trickyRegistry(), '--registry-id', 'reg-1', '--format', 'sentinel']);
    assert.equal(r.code, 0, r.stderr);
    const records = jsonLines(r.stdout);
    assert.ok(records.length > 20);
    const types = new Map(recordColumns.map((c) => [c.name, c.type]));
    const seen = new Map<string, Set<string>>();
    for (const rec of records) {
      for (const [key, value] of Object.entries(rec)) {
        assert.ok(types.has(key), `exported column ${key} is not in ${TABLE}`);
        const set = seen.get(key) ?? new Set<string>();
        set.add(valueType(key, value, types.get(key)!));
        seen.set(key, set);
      }
    }
    // Every column is carried by some record, and every value is of the column's type.
    assert.deepEqual([...seen.keys()].sort(), [...types.keys()].sort());
    for (const [key, set] of seen) assert.deepEqual([...set], [types.get(key)], `${key}: exported as ${[...set].join(', ')}`);
    // The one time in the tricky registry before year 1000 is the only TimeGenerated that is not RFC 3339.
    assert.deepEqual(shortYears, ['702-06-15T00:53:20Z']);
  });

  it('the README names every column of the table', () => {
    const readme = fs.readFileSync(path.join(DIR, 'README.md'), 'utf8');
    for (const c of tableColumns) assert.match(readme, new RegExp(`\\b${c.name}\\b`), `README.md does not mention ${c.name}`);
  });

  it('the DCR stream declaration is the table, column for column, but for the columns the transform makes', () => {
    const streamColumns: Column[] = dcr.properties.streamDeclarations[`Custom-${TABLE}`].columns.map((c: any) => ({ name: c.name, type: kustoType(c.type) }));
    assert.deepEqual(streamColumns, recordColumns);
    assert.deepEqual(tableColumns.find((c) => c.name === 'OccurredAt'), { name: 'OccurredAt', type: 'datetime' });
  });
});

const shortYears: string[] = [];

/** The Log Analytics type a JSON value arrives as in `column` (declared `declared`). */
function valueType(column: string, value: unknown, declared: string): string {
  if (typeof value === 'number') return Number.isInteger(value) ? 'long' : 'real';
  if (typeof value === 'boolean') return 'bool';
  if (value !== null && typeof value === 'object') return 'dynamic';
  if (typeof value === 'string') {
    // A string lands in a datetime column only as an RFC 3339 time.
    if (declared === 'datetime') {
      if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value)) return 'datetime';
      // Years before 1000 are written unpadded, as the reference exporter writes them ("702-06-15T…"): not
      // RFC 3339, so Azure cannot take them as the event time (the README says what happens).
      if (/^\d{1,3}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(value)) {
        shortYears.push(value);
        return 'datetime';
      }
      return `string (not a time) in ${column}`;
    }
    if (column === 'ExtraJson') JSON.parse(JSON.stringify(value)); // JSON text kept as a string; the parser applies todynamic()
    return 'string';
  }
  return `null in ${column}`;
}

describe('Sentinel content: the ARM templates', () => {
  it('create table, endpoint, Direct rule, role assignment and parsers, and output the --output URL', () => {
    assert.equal(tableResource.properties.plan, 'Analytics');
    assert.match(tableResource.properties.retentionInDays, /parameters\('retentionInDays'\)/);
    assert.match(tableResource.properties.totalRetentionInDays, /parameters\('totalRetentionInDays'\)/);
    resource('Microsoft.Insights/dataCollectionEndpoints');
    assert.equal(dcr.kind, 'Direct');
    assert.equal(dcr.properties.dataFlows.length, 1);
    assert.deepEqual(dcr.properties.dataFlows[0].streams, [`Custom-${TABLE}`]);
    assert.equal(dcr.properties.dataFlows[0].outputStream, `Custom-${TABLE}`);
    const role = resource('Microsoft.Authorization/roleAssignments');
    assert.match(role.properties.roleDefinitionId, /3913510d-42f4-4e42-8a64-420c390055eb/);
    assert.equal(role.properties.principalId, "[parameters('servicePrincipalObjectId')]");
    assert.match(role.scope, /dataCollectionRules/);
    assert.ok(deploy.parameters.servicePrincipalObjectId && deploy.parameters.workspaceName);
    const url = deploy.outputs.exportOutputUrl.value as string;
    assert.match(url, /^\[format\('\{0\}\/dataCollectionRules\/\{1\}\/streams\/Custom-Oversight_CL\?api-version=2023-01-01', /);
    assert.match(url, /\.immutableId\)\]$/);
    assert.match(deploy.outputs.dataCollectionRuleImmutableId.value, /immutableId\]$/);
    assert.match(deploy.outputs.dataCollectionRuleOutputUrl.value, /\.endpoints\.logsIngestion, .*\.immutableId\)\]$/);
    // Log Analytics column names: a letter, then up to 45 letters, digits and underscores; some names are reserved.
    for (const c of tableColumns) {
      assert.match(c.name, /^[A-Za-z][A-Za-z0-9_]{0,44}$/);
      assert.ok(!['_ResourceId', 'id', '_SubscriptionId', 'TenantId', 'Type', 'UniqueId', 'Title'].includes(c.name), `${c.name} is reserved`);
    }
    assert.match(TABLE, /_CL$/);
    for (const r of deploy.resources) assert.match(r.apiVersion, /^\d{4}-\d\d-\d\d$/, `${r.type} uses a GA API version`);
  });

  it('put the endpoint and the rule in the workspace\'s region by default, and the parsers after the parsers they call', () => {
    assert.equal(deploy.parameters.location.defaultValue, '');
    for (const type of ['Microsoft.Insights/dataCollectionEndpoints', 'Microsoft.Insights/dataCollectionRules']) {
      assert.equal(resource(type).location,
        "[if(empty(parameters('location')), reference(resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspaceName')), '2022-10-01', 'Full').location, parameters('location'))]", type);
    }
    const byAlias = new Map<string, any>(parserResources.map((r: any) => [r.properties.functionAlias, r]));
    for (const r of parserResources) {
      for (const other of byAlias.keys()) {
        if (other === r.properties.functionAlias || !new RegExp(`\\b${other}\\(`).test(r.properties.query)) continue;
        assert.ok(r.dependsOn.some((d: string) => d.includes(`'${other}'`)), `${r.properties.functionAlias} is deployed after ${other}, which it calls`);
      }
    }
    assert.ok(byAlias.get('ASimAlertEventOversightRegistry').dependsOn.some((d: string) => d.includes("'vimAlertEventOversightRegistry'")));
    const bicep = fs.readFileSync(path.join(DIR, 'deploy/azuredeploy.bicep'), 'utf8');
    assert.match(bicep, /^var region = empty\(location\) \? workspace\.location : location$/m);
    assert.equal([...bicep.matchAll(/^  location: region$/gm)].length, 2);
    assert.match(bicep, /dependsOn: \[table, parser\d\]/);
  });

  it('the Bicep template declares the same table columns, stream columns, parsers and outputs', () => {
    const bicep = fs.readFileSync(path.join(DIR, 'deploy/azuredeploy.bicep'), 'utf8');
    const tableCols = [...bicep.matchAll(/\{ name: '(\w+)', type: '(\w+)', description: /g)].map((m) => ({ name: m[1], type: kustoType(m[2]!) }));
    assert.deepEqual(tableCols, tableColumns);
    const streamCols = [...bicep.matchAll(/\{ name: '(\w+)', type: '(\w+)' \}/g)].map((m) => ({ name: m[1], type: m[2] }));
    assert.deepEqual(streamCols, dcr.properties.streamDeclarations[`Custom-${TABLE}`].columns);
    assert.match(bicep, /kind: 'Direct'/);
    assert.ok(bicep.includes(`transformKql: '${dcr.properties.dataFlows[0].transformKql}'`), 'the same transform');
    for (const r of parserResources) assert.ok(bicep.includes(`'''\n${r.properties.query}\n'''`), `${r.properties.functionAlias} body`);
    for (const o of Object.keys(deploy.outputs)) assert.match(bicep, new RegExp(`^output ${o} string = `, 'm'));
    for (const p of Object.keys(deploy.parameters)) assert.match(bicep, new RegExp(`^param ${p} `, 'm'));
  });

  it('use only well-formed template expressions of known functions', () => {
    const known = new Set(['format', 'parameters', 'resourceId', 'reference', 'if', 'null', 'guid', 'subscriptionResourceId', 'resourceGroup', 'newGuid', 'empty']);
    const templates = ['deploy/azuredeploy.json', 'deploy/analytic-rules.json', 'deploy/hunting-queries.json', 'deploy/workbook.json'];
    let count = 0;
    const visit = (value: unknown, where: string): void => {
      if (typeof value === 'string') {
        if (!value.startsWith('[') || value.startsWith('[[')) return;
        count++;
        assert.ok(value.endsWith(']'), `${where}: ${value}`);
        let depth = 0;
        let quoted = false;
        for (const ch of value.slice(1, -1)) {
          if (ch === "'") quoted = !quoted;
          else if (!quoted && ch === '(') depth++;
          else if (!quoted && ch === ')') assert.ok(--depth >= 0, `${where}: ${value}`);
        }
        assert.ok(depth === 0 && !quoted, `${where}: unbalanced ${value}`);
        const unquoted = value.replace(/'[^']*'/g, "''");
        for (const m of unquoted.matchAll(/([A-Za-z]+)\(/g)) assert.ok(known.has(m[1]!), `${where}: unknown function ${m[1]}`);
        for (const m of value.matchAll(/parameters\('(\w+)'\)/g)) assert.ok(m[1]! in currentParameters, `${where}: parameter ${m[1]} is not declared`);
      } else if (Array.isArray(value)) value.forEach((v, i) => visit(v, `${where}[${i}]`));
      else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) visit(v, `${where}.${k}`);
    };
    let currentParameters: Record<string, unknown> = {};
    for (const t of templates) {
      const template = readJson(t);
      currentParameters = template.parameters;
      visit(template.resources, t);
      visit(template.outputs ?? {}, t);
    }
    assert.ok(count > 20);
  });

  it('deploy the workbook as it is in workbooks/oversight.json', () => {
    const t = readJson('deploy/workbook.json');
    assert.equal(t.resources[0].type, 'Microsoft.Insights/workbooks');
    assert.deepEqual(JSON.parse(t.resources[0].properties.serializedData), workbook);
  });

  it('are what the generator writes (run `npm run content` after changing a generator)', () => {
    for (const f of sentinelContent.generate(loadModel())) {
      assert.equal(fs.readFileSync(path.join(DIR, f.path), 'utf8'), f.data, `content/sentinel/${f.path} is stale`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// The Azure-Sentinel scheduled-rule schema (.script/tests/detectionTemplateSchemaValidation).
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TACTICS = ['Reconnaissance', 'ResourceDevelopment', 'InitialAccess', 'Execution', 'Persistence', 'PrivilegeEscalation', 'DefenseEvasion',
  'CredentialAccess', 'Discovery', 'LateralMovement', 'Collection', 'Exfiltration', 'CommandAndControl', 'Impact', 'ImpairProcessControl', 'InhibitResponseFunction'];
const ENTITY_TYPES = ['Account', 'Host', 'IP', 'Malware', 'File', 'Process', 'CloudApplication', 'DNS', 'AzureResource', 'FileHash', 'RegistryKey',
  'RegistryValue', 'SecurityGroup', 'URL', 'Mailbox', 'MailCluster', 'MailMessage', 'SubmissionMail'];

function seconds(text: string): number {
  const m = /^(\d+)([mhd])$/.exec(text);
  assert.ok(m, `${text} is a duration such as 5m, 1h or 14d`);
  return Number(m[1]) * { m: 60, h: 3600, d: 86400 }[m[2] as 'm' | 'h' | 'd'];
}

describe('Sentinel content: analytic rule YAML against the scheduled-rule schema', () => {
  it('one rule per detection, with unique GUIDs', () => {
    const model = loadModel();
    assert.equal(analyticRules.length, model.detections.length);
    const ids = analyticRules.map(({ rule }) => rule.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), model.detections.map((d) => d.guid).sort());
  });

  it('each rule runs on its detection\'s schedule, window and conditions', () => {
    const model = loadModel();
    for (const d of model.detections) {
      const rule = analyticRules.find((r) => r.rule.id === d.guid)!.rule;
      const col = (name: string): string => model.fields.field(name).sentinel.column;
      assert.equal(seconds(rule.queryFrequency), durationSeconds(d.schedule.interval), d.id);
      // A per-callback rule also reads its suppression window, to count the key's callbacks in it.
      const period = d.logic.type === 'match'
        ? Math.max(durationSeconds(d.schedule.lookback), durationSeconds(d.suppression.window))
        : durationSeconds(d.logic.type === 'first_seen' ? d.logic.history : d.schedule.lookback);
      assert.equal(seconds(rule.queryPeriod), Math.min(period, 14 * 86400), d.id);
      for (const c of d.logic.where) {
        const text = c.op === 'present' ? `isnotempty(${col(c.field)})` : c.op === 'absent' ? `isempty(${col(c.field)})`
          : `${col(c.field)} !in (${c.values.map((v) => JSON.stringify(v)).join(', ')})`;
        assert.ok(rule.query.includes(`| where ${text}`), `${d.id}: ${text}`);
      }
      if (d.logic.type === 'distinct_count' || d.logic.type === 'event_count') {
        assert.match(rule.query, new RegExp(`>= ${d.logic.threshold}\\n`), d.id);
        for (const g of d.logic.group_by) assert.match(rule.query, new RegExp(` by ${col(g)}\\n`), d.id);
      }
      if (d.logic.type === 'first_seen') assert.match(rule.query, new RegExp(` by ${d.logic.key.map(col).join(', ')}\\n`), d.id);
      assert.equal(rule.severity.toLowerCase(), d.severity === 'critical' ? 'high' : d.severity);
    }
  });

  for (const { file, rule } of analyticRules) {
    it(file, () => {
      for (const key of ['id', 'name', 'description', 'severity', 'requiredDataConnectors', 'queryFrequency', 'queryPeriod',
        'triggerOperator', 'triggerThreshold', 'tactics', 'query', 'entityMappings', 'version', 'kind']) {
        assert.ok(key in rule, `${file} lacks ${key}`);
      }
      assert.match(rule.id, GUID);
      assert.equal(rule.kind, 'Scheduled');
      assert.ok(rule.name.length >= 1 && rule.name.length <= 256);
      assert.ok(rule.description.length >= 1 && rule.description.length <= 5000);
      assert.match(rule.description, /DNS/, 'says what DNS callbacks mean');
      assert.ok(['Informational', 'Low', 'Medium', 'High'].includes(rule.severity));
      assert.ok(Array.isArray(rule.requiredDataConnectors));
      const frequency = seconds(rule.queryFrequency);
      const period = seconds(rule.queryPeriod);
      for (const s of [frequency, period]) assert.ok(s >= 300 && s <= 14 * 86400, `${file}: ${s}s outside 5m–14d`);
      assert.ok(period >= frequency, `${file}: queryPeriod shorter than queryFrequency`);
      assert.ok(['gt', 'lt', 'eq', 'ne'].includes(rule.triggerOperator));
      assert.ok(Number.isInteger(rule.triggerThreshold) && rule.triggerThreshold >= 0 && rule.triggerThreshold <= 10000);
      assert.ok(rule.tactics.length > 0 && rule.tactics.every((t: string) => TACTICS.includes(t)), `${file}: tactics ${rule.tactics}`);
      for (const t of rule.relevantTechniques ?? []) assert.match(t, /^T\d{4}(\.\d{3})?$/);
      assert.ok(rule.query.length >= 1 && rule.query.length <= 10000);
      assert.ok(rule.entityMappings.length >= 1 && rule.entityMappings.length <= 5);
      for (const e of rule.entityMappings) {
        assert.ok(ENTITY_TYPES.includes(e.entityType), e.entityType);
        assert.ok(e.fieldMappings.length >= 1 && e.fieldMappings.length <= 3);
      }
      assert.deepEqual(rule.entityMappings.map((e: any) => e.entityType), ['IP', 'Account']);
      const details = Object.keys(rule.customDetails);
      assert.ok(details.length >= 1 && details.length <= 20);
      for (const k of details) assert.match(k, /^[a-zA-Z]+\w*$/);
      for (const f of ['alertDisplayNameFormat', 'alertDescriptionFormat']) {
        const text: string = rule.alertDetailsOverride[f];
        assert.ok([...text.matchAll(/\{\{\w+\}\}/g)].length <= 3, `${file}: ${f} uses more than 3 parameters`);
        assert.ok(text.length <= (f === 'alertDisplayNameFormat' ? 256 : 5000));
      }
      assert.equal(rule.eventGroupingSettings.aggregationKind, 'AlertPerResult');
      assert.match(rule.version, /^\d+\.\d+\.\d+$/);
    });
  }

  it('hunting queries carry id, name, description and query, with unique GUIDs', () => {
    const ids = hunting.map(({ query }) => query.id);
    for (const { file, query } of hunting) {
      for (const key of ['id', 'name', 'description', 'requiredDataConnectors', 'tactics', 'relevantTechniques', 'query']) assert.ok(key in query, `${file} lacks ${key}`);
      assert.match(query.id, GUID);
      for (const t of query.tactics) assert.ok(TACTICS.includes(t), `${file}: ${t}`);
    }
    assert.equal(new Set([...ids, ...analyticRules.map(({ rule }) => rule.id)]).size, ids.length + analyticRules.length);
  });
});
