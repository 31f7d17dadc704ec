/**
 * The vendors' own rules (test/support/vendor-rules.ts) over the content we generate: every Sentinel rule
 * template, ARM alert rule and ASIM parser, every Kibana rule, the Elasticsearch templates and pipeline pass;
 * and every rule fails on a deliberately broken copy of our own content, so none of the checks is a no-op.
 * docs/SIEM.md lists each rule id with its source.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { contentRoot } from '../src/content/model.js';
import { DETAIL_OVERHEAD_BYTES } from '../src/content/sentinel-rules.js';
import {
  asimParserProblems, esIndexTemplateProblems, esPipelineProblems, kibanaRuleProblems, sentinelArmRuleProblems,
  sentinelCustomDetailsBudgetProblems, sentinelTemplateProblems, sentinelTemplateSetProblems, type Problem,
} from './support/vendor-rules.js';

type Obj = Record<string, any>;
const ROOT = contentRoot();
const dir = (...p: string[]): string => path.join(ROOT, ...p);
const files = (d: string, ext: string): string[] => fs.readdirSync(dir(d)).filter((f) => f.endsWith(ext)).sort();

const templates = files('sentinel/analytic-rules', '.yaml').map((f) => ({ file: f, t: YAML.parse(fs.readFileSync(dir('sentinel/analytic-rules', f), 'utf8')) as Obj }));
const armRules = (JSON.parse(fs.readFileSync(dir('sentinel/deploy/analytic-rules.json'), 'utf8')) as Obj).resources as Obj[];
const parsers = files('sentinel/parsers', '.yaml').map((f) => YAML.parse(fs.readFileSync(dir('sentinel/parsers', f), 'utf8')) as Obj);
const kibanaRules = fs.readFileSync(dir('elastic/kibana/detection_rules.ndjson'), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Obj);
const es = (sub: string): Map<string, Obj> =>
  new Map(files(`elastic/elasticsearch/${sub}`, '.json').map((f) => [f.replace(/\.json$/, ''), JSON.parse(fs.readFileSync(dir('elastic/elasticsearch', sub, f), 'utf8')) as Obj]));
const components = es('component_template');
const indexTemplates = es('index_template');
const pipelines = es('ingest_pipeline');
/** The stack's built-in `logs` index template, which any logs-*-* template must outrank. */
const STACK_LOGS = { name: 'logs', index_patterns: ['logs-*-*'], priority: 100 };

/** The body a parser runs, with the parsers it calls expanded (the ASim wrapper calls the vim parser). */
function expandedBody(p: Obj): string {
  let body = String(p.ParserQuery);
  for (const q of parsers) if (q !== p && new RegExp(`\\b${q.ParserName}\\(`).test(body)) body += `\n${q.ParserQuery}`;
  return body;
}
const parserKind = (p: Obj): 'ASim' | 'vim' => (String(p.ParserName).startsWith('vim') ? 'vim' : 'ASim');

const ids = (problems: Problem[]): string[] => [...new Set(problems.map((p) => p.rule))].sort();
const show = (problems: Problem[]): string => problems.map((p) => `${p.rule}: ${p.detail}`).join('\n');

describe('our generated content passes the vendors\' rules', () => {
  for (const { file, t } of templates) {
    it(`Sentinel rule template ${file}`, () => {
      const problems = [...sentinelTemplateProblems(t), ...sentinelCustomDetailsBudgetProblems(t.query, t.customDetails, DETAIL_OVERHEAD_BYTES)];
      assert.deepEqual(problems, [], show(problems));
    });
  }
  it('Sentinel rule templates: no id twice', () => assert.deepEqual(sentinelTemplateSetProblems(templates.map((x) => x.t)), []));
  it('Sentinel ARM alert rules', () => {
    assert.equal(armRules.length, templates.length);
    for (const r of armRules) assert.deepEqual(sentinelArmRuleProblems(r), [], `${r.name}:\n${show(sentinelArmRuleProblems(r))}`);
  });
  it('ASIM parsers', () => {
    assert.equal(parsers.length, 2);
    for (const p of parsers) assert.deepEqual(asimParserProblems(p, parserKind(p), expandedBody(p)), [], p.ParserName);
  });
  it('Kibana detection rules', () => {
    assert.ok(kibanaRules.length >= 5);
    for (const r of kibanaRules) assert.deepEqual(kibanaRuleProblems(r), [], `${r.rule_id}:\n${show(kibanaRuleProblems(r))}`);
  });
  it('Elasticsearch index template and ingest pipeline', () => {
    for (const [name, t] of indexTemplates) assert.deepEqual(esIndexTemplateProblems(name, t, components, [STACK_LOGS]), [], name);
    for (const [name, p] of pipelines) assert.deepEqual(esPipelineProblems(p), [], name);
  });
});

/** A broken copy of one of our files, and the one rule it must break. */
interface Broken<T> {
  rule: string;
  /** Rules the same change breaks as well, because the vendor checks them together. */
  also?: string[];
  why: string;
  breakIt: (x: T) => void;
}

function failsOn<T>(label: string, original: T, cases: Broken<T>[], check: (x: T) => Problem[]): void {
  for (const c of cases) {
    it(`${label}: ${c.rule} (${c.why})`, () => {
      assert.deepEqual(check(original), [], 'the original passes');
      const copy = structuredClone(original);
      c.breakIt(copy);
      assert.deepEqual(ids(check(copy)), [c.rule, ...(c.also ?? [])].sort(), show(check(copy)));
    });
  }
}

describe('each Sentinel template rule fails on a broken copy', () => {
  const first = templates.find((x) => x.file === 'first-callback-for-file.yaml')!.t;
  const leak = templates.find((x) => x.file === 'leaked-copy-opened.yaml')!.t;
  failsOn('template', leak, [
    { rule: 'sentinel.required', why: 'no requiredDataConnectors', breakIt: (t) => delete t.requiredDataConnectors },
    { rule: 'sentinel.id-guid', why: 'id not a GUID', breakIt: (t) => (t.id = 'leak-1') },
    { rule: 'sentinel.kind', why: 'unknown kind', breakIt: (t) => (t.kind = 'Fusion') },
    { rule: 'sentinel.name-length', why: '257-character name', breakIt: (t) => (t.name = 'x'.repeat(257)) },
    { rule: 'sentinel.description-length', why: '5001-character description', breakIt: (t) => (t.description = 'x'.repeat(5001)) },
    { rule: 'sentinel.severity-enum', why: 'Critical', breakIt: (t) => (t.severity = 'Critical') },
    { rule: 'sentinel.query-length', why: 'query over 10000 characters', breakIt: (t) => (t.query += `\n// ${'x'.repeat(10000)}`) },
    { rule: 'sentinel.timespan-format', why: '5 minutes written as 5min', breakIt: (t) => (t.queryFrequency = '5min') },
    { rule: 'sentinel.timespan-range', why: 'runs every minute', breakIt: (t) => ((t.queryFrequency = '1m'), (t.queryPeriod = '10m')) },
    { rule: 'sentinel.period-at-least-frequency', why: 'period shorter than frequency', breakIt: (t) => ((t.queryFrequency = '1h'), (t.queryPeriod = '30m')) },
    { rule: 'sentinel.trigger-operator', why: 'operator >', breakIt: (t) => (t.triggerOperator = '>') },
    { rule: 'sentinel.trigger-threshold', why: 'threshold 10001', breakIt: (t) => (t.triggerThreshold = 10001) },
    { rule: 'sentinel.custom-details-count', why: '21 details', breakIt: (t) => { for (let i = 0; i < 21; i++) t.customDetails[`Extra${i}`] = 'DetailFileId'; } },
    { rule: 'sentinel.custom-details-length', why: '21-character key', breakIt: (t) => (t.customDetails.AVeryLongCustomDetail = 'DetailFileId') },
    { rule: 'sentinel.custom-details-key', why: 'key starting with a digit', breakIt: (t) => (t.customDetails['1File'] = 'DetailFileId') },
    { rule: 'sentinel.custom-details-value', why: 'value with a dot', breakIt: (t) => (t.customDetails.FileId = 'Detail.FileId') },
    { rule: 'sentinel.entity-mappings-count', why: 'six entity mappings', breakIt: (t) => { while (t.entityMappings.length < 6) t.entityMappings.push(structuredClone(t.entityMappings[0])); } },
    { rule: 'sentinel.field-mappings-count', why: 'four field mappings', breakIt: (t) => t.entityMappings[1].fieldMappings.push({ identifier: 'FullName', columnName: 'RecipientId' }, { identifier: 'DisplayName', columnName: 'RecipientId' }) },
    { rule: 'sentinel.entity-identifier', why: 'Account mapped by Upn', breakIt: (t) => (t.entityMappings[1].fieldMappings[1].identifier = 'Upn') },
    { rule: 'sentinel.entity-identifier-unique', why: 'Name mapped twice', breakIt: (t) => (t.entityMappings[1].fieldMappings[1].identifier = 'Name') },
    { rule: 'sentinel.entity-column', why: 'column with a space', breakIt: (t) => (t.entityMappings[0].fieldMappings[0].columnName = 'Caller Ip') },
    { rule: 'sentinel.entity-required-identifier', why: 'Account by UPN suffix only', breakIt: (t) => t.entityMappings[1].fieldMappings.shift() },
    { rule: 'sentinel.entity-type', why: 'entity type the checks do not know', breakIt: (t) => (t.entityMappings[0].entityType = 'Beacon') },
    { rule: 'sentinel.alert-format-length', why: 'empty display name', breakIt: (t) => (t.alertDetailsOverride.alertDisplayNameFormat = ' ') },
    { rule: 'sentinel.alert-format-placeholders', why: 'four placeholders', breakIt: (t) => (t.alertDetailsOverride.alertDescriptionFormat += ' {{FileId}}') },
    { rule: 'sentinel.tactic-enum', why: 'tactic by MITRE id', breakIt: (t) => t.tactics.push('TA0010') },
    { rule: 'sentinel.technique-tactics', why: 'T1595 without Reconnaissance', breakIt: (t) => (t.relevantTechniques = ['T1595']) },
    { rule: 'sentinel.new-entity-mappings', why: 'old IPCustomEntity column without a mapping', breakIt: (t) => (t.query += '\n| extend IPCustomEntity = CallerIp') },
    { rule: 'sentinel.version-format', why: 'version 2.0', breakIt: (t) => (t.version = '2.0') },
    { rule: 'sentinel.event-grouping', why: 'unknown aggregation', breakIt: (t) => (t.eventGroupingSettings.aggregationKind = 'AlertPerEvent') },
  ], sentinelTemplateProblems);
  failsOn('template', first, [
    { rule: 'sentinel.long-period-frequency', why: '14 days every 5 minutes, as the rule once was', breakIt: (t) => (t.queryFrequency = '5m') },
  ], sentinelTemplateProblems);
  it('set: sentinel.unique-id (two templates with one id)', () => {
    assert.deepEqual(ids(sentinelTemplateSetProblems([leak, { ...first, id: leak.id }])), ['sentinel.unique-id']);
  });
  failsOn('custom details budget', leak, [
    { rule: 'sentinel.custom-details-2kb', why: 'the User-Agent uncut', breakIt: (t) => (t.customDetails.UserAgent = 'UserAgent') },
    { rule: 'sentinel.custom-details-2kb', why: 'every detail cut at 100 characters', breakIt: (t) => (t.query = t.query.replace(/, 0, \d+\)/g, ', 0, 100)')) },
  ], (t) => sentinelCustomDetailsBudgetProblems(t.query, t.customDetails, DETAIL_OVERHEAD_BYTES));
});

describe('each Sentinel ARM rule fails on a broken copy', () => {
  const leak = armRules.find((r) => r.properties.displayName === 'Oversight - leaked document opened')!;
  const first = armRules.find((r) => r.properties.displayName === 'Oversight - first callback ever seen for a file')!;
  failsOn('alertRules', leak, [
    { rule: 'sentinel-arm.template-version-needs-name', why: 'templateVersion without alertRuleTemplateName, as the rules once were', breakIt: (r) => (r.properties.templateVersion = '1.0.0') },
    { rule: 'sentinel-arm.required', why: 'no suppressionDuration', breakIt: (r) => delete r.properties.suppressionDuration },
    { rule: 'sentinel.timespan-format', why: 'frequency in KQL form', breakIt: (r) => (r.properties.queryFrequency = '5m') },
    { rule: 'sentinel.trigger-operator', why: 'short operator', breakIt: (r) => (r.properties.triggerOperator = 'gt') },
    { rule: 'sentinel-arm.grouping-lookback', why: 'grouping for 8 days', breakIt: (r) => (r.properties.incidentConfiguration.groupingConfiguration.lookbackDuration = 'P8D') },
    { rule: 'sentinel-arm.grouping-method', why: 'unknown method', breakIt: (r) => (r.properties.incidentConfiguration.groupingConfiguration.matchingMethod = 'ByFile') },
    { rule: 'sentinel-arm.grouping-selected', why: 'grouping by a detail the rule lacks', breakIt: (r) => (r.properties.incidentConfiguration.groupingConfiguration.groupByCustomDetails = ['Recipient']) },
    { rule: 'sentinel-arm.suppression-duration', why: 'suppression of 2 days', breakIt: (r) => (r.properties.suppressionDuration = 'P2D') },
  ], sentinelArmRuleProblems);
  failsOn('alertRules', first, [
    { rule: 'sentinel.long-period-frequency', why: 'PT5M over P14D', breakIt: (r) => (r.properties.queryFrequency = 'PT5M') },
  ], sentinelArmRuleProblems);
});

describe('each ASIM parser rule fails on a broken copy', () => {
  const vim = parsers.find((p) => parserKind(p) === 'vim')!;
  const check = (p: Obj): Problem[] => asimParserProblems(p, parserKind(p), String(p.ParserQuery));
  failsOn('parser', vim, [
    { rule: 'asim.event-product', why: 'EventProduct from a column', breakIt: (p) => (p.ParserQuery = p.ParserQuery.replace(/EventProduct = "[^"]*"/, 'EventProduct = Action')) },
    { rule: 'asim.event-vendor', why: 'no EventVendor', breakIt: (p) => (p.ParserQuery = p.ParserQuery.replace(/EventVendor = "[^"]*"/, 'EventVendor = RegistryId')) },
    { rule: 'asim.title', why: 'no title', breakIt: (p) => delete p.Parser.Title },
    { rule: 'asim.version', why: 'version 0.2', breakIt: (p) => (p.Parser.Version = '0.2') },
    { rule: 'asim.last-updated', why: 'ISO date', breakIt: (p) => (p.Parser.LastUpdated = '2026-12-03') },
    { rule: 'asim.schema', also: ['asim.equivalent-built-in'], why: 'schema Alert', breakIt: (p) => (p.Normalization.Schema = 'Alert') },
    { rule: 'asim.schema-version', why: 'version 0.2', breakIt: (p) => (p.Normalization.Version = '0.2') },
    { rule: 'asim.references', why: 'the schema link titled otherwise, as ours once was', breakIt: (p) => (p.References[0].Title = 'ASIM Alert Schema') },
    { rule: 'asim.parser-name', why: 'name without the schema', breakIt: (p) => (p.ParserName = 'vimOversightRegistry') },
    { rule: 'asim.equivalent-built-in', why: 'ASim prefix on a vim parser', breakIt: (p) => (p.EquivalentBuiltInParser = '_ASim_AlertEvent_OversightRegistry') },
  ], check);
});

describe('each Kibana rule check fails on a broken copy', () => {
  const byType = (type: string): Obj => kibanaRules.find((r) => r.type === type)!;
  failsOn('query rule', byType('query'), [
    { rule: 'kibana.required', why: 'no description', breakIt: (r) => delete r.description },
    { rule: 'kibana.type', why: 'unknown type', breakIt: (r) => (r.type = 'match') },
    { rule: 'kibana.severity', why: 'severity informational', breakIt: (r) => (r.severity = 'informational') },
    { rule: 'kibana.risk-score', why: 'risk 101', breakIt: (r) => (r.risk_score = 101) },
    { rule: 'kibana.risk-band', why: 'high with 80, as a rule once was', breakIt: (r) => ((r.severity = 'high'), (r.risk_score = 80)) },
    { rule: 'kibana.risk-band', why: 'medium with 21', breakIt: (r) => ((r.severity = 'medium'), (r.risk_score = 21)) },
    { rule: 'kibana.interval', why: 'interval 5 minutes', breakIt: (r) => (r.interval = '5 minutes') },
    { rule: 'kibana.from', why: 'from without now', breakIt: (r) => (r.from = '-10m') },
    { rule: 'kibana.max-signals', why: 'max_signals 0', breakIt: (r) => (r.max_signals = 0) },
    { rule: 'kibana.version', why: 'version 0', breakIt: (r) => (r.version = 0) },
    { rule: 'kibana.query-required', why: 'no query', breakIt: (r) => delete r.query },
    { rule: 'kibana.language', why: 'language sql', breakIt: (r) => (r.language = 'sql') },
    { rule: 'kibana.suppression', why: 'suppression by four fields', breakIt: (r) => (r.alert_suppression = { group_by: ['a', 'b', 'c', 'd'] }) },
  ], kibanaRuleProblems);
  failsOn('threshold rule', byType('threshold'), [
    { rule: 'kibana.threshold', why: 'threshold 0', breakIt: (r) => (r.threshold.value = 0) },
    { rule: 'kibana.suppression', why: 'threshold suppression with group_by', breakIt: (r) => (r.alert_suppression = { group_by: ['source.ip'], duration: { value: 1, unit: 'h' } }) },
  ], kibanaRuleProblems);
  failsOn('new terms rule', byType('new_terms'), [
    { rule: 'kibana.new-terms-fields', why: 'four new terms fields', breakIt: (r) => (r.new_terms_fields = ['a', 'b', 'c', 'd']) },
    { rule: 'kibana.history-window', why: 'history without now', breakIt: (r) => (r.history_window_start = '14d') },
  ], kibanaRuleProblems);
});

describe('each Elasticsearch rule fails on a broken copy', () => {
  const [name, template] = [...indexTemplates][0]!;
  const check = (t: Obj): Problem[] => esIndexTemplateProblems(name, t, components, [STACK_LOGS]);
  failsOn('index template', template, [
    { rule: 'es.template-patterns', why: 'pattern with a space', breakIt: (t) => t.index_patterns.push('logs oversight') },
    { rule: 'es.template-components', why: 'a component that is not installed', breakIt: (t) => t.composed_of.push('logs-oversight.beacon@extra') },
    { rule: 'es.template-priority', why: 'priority 100 like the stack\'s logs template', breakIt: (t) => (t.priority = 100) },
    { rule: 'es.data-stream-timestamp', why: '@timestamp as keyword', breakIt: (t) => (t.template.mappings = { properties: { '@timestamp': { type: 'keyword' } } }) },
  ], check);
  const [, pipeline] = [...pipelines][0]!;
  failsOn('ingest pipeline', pipeline, [
    { rule: 'es.pipeline-processors', why: 'processors as an object', breakIt: (p) => (p.processors = {}) },
    { rule: 'es.pipeline-processor-shape', why: 'two processors in one entry', breakIt: (p) => (p.processors[0].set = { field: 'a', value: 1 }) },
    { rule: 'es.pipeline-processor-type', why: 'copy processor', breakIt: (p) => p.processors.push({ copy: { field: 'a' } }) },
    { rule: 'es.pipeline-on-failure', why: 'empty on_failure', breakIt: (p) => p.processors.push({ set: { field: 'a', value: 1, on_failure: [] } }) },
    { rule: 'es.pipeline-required-option', why: 'set without value', breakIt: (p) => p.processors.push({ set: { field: 'a' } }) },
  ], esPipelineProblems);
});
