/**
 * The rules the SIEM vendors apply to content, written down as checks over our generated files. Each rule has an
 * id; docs/SIEM.md lists every id with the vendor source it stands for. A check returns the ids (with a reason)
 * of the rules a file breaks, so a test can show each rule failing on a deliberately broken copy.
 *
 * Sentinel: the scheduled-rule template model and validation attributes Microsoft runs on every rule template
 * (Azure/Azure-Sentinel .script/tests/detectionTemplateSchemaValidation), the ARM alertRules properties the
 * service refuses, the ASIM parser checks (.script/tests/asimParsersTest/VerifyASimParserTemplate.py) and the
 * 2 KB limit on an alert's custom details. Kibana: the detection rule API's required fields per rule type and
 * the risk-score band of each severity. Elasticsearch: index template and ingest pipeline rules. Splunk: the
 * search-time JSON extraction cutoff (limits.conf [spath] extraction_cutoff).
 */

export interface Problem {
  rule: string;
  detail: string;
}

type Obj = Record<string, any>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---- Sentinel scheduled rule templates ---------------------------------------------------------------------

/** Severity enum of the template model. */
export const SENTINEL_SEVERITIES = ['Informational', 'Low', 'Medium', 'High'];
/** AttackTactic enum of the template model. */
export const SENTINEL_TACTICS = ['InitialAccess', 'Execution', 'Persistence', 'PrivilegeEscalation', 'DefenseEvasion', 'CredentialAccess',
  'Discovery', 'LateralMovement', 'Collection', 'Exfiltration', 'CommandAndControl', 'Impact', 'Reconnaissance', 'ResourceDevelopment',
  'ImpairProcessControl', 'InhibitResponseFunction'];
/** The trigger operators the template converter reads, short and long forms. */
const TRIGGER_OPERATORS = ['gt', 'lt', 'eq', 'ne', 'GreaterThan', 'LessThan', 'Equal', 'NotEqual'];
/** Entity identifiers of the entity types our rules map, and the identifier sets one of which is required. */
const ENTITY_IDENTIFIERS: Record<string, { identifiers: string[]; required: string[][] }> = {
  Account: {
    identifiers: ['Name', 'FullName', 'NTDomain', 'DnsDomain', 'UPNSuffix', 'Sid', 'AadTenantId', 'AadUserId', 'PUID', 'IsDomainJoined', 'DisplayName', 'ObjectGuid'],
    required: [['FullName'], ['Sid'], ['Name'], ['AadUserId'], ['PUID'], ['ObjectGuid']],
  },
  IP: { identifiers: ['Address'], required: [['Address']] },
  URL: { identifiers: ['Url'], required: [['Url']] },
  DNS: { identifiers: ['DomainName'], required: [['DomainName']] },
  File: { identifiers: ['Directory', 'Name'], required: [['Name']] },
  Host: {
    identifiers: ['DnsDomain', 'NTDomain', 'HostName', 'FullName', 'NetBiosName', 'AzureID', 'OMSAgentID', 'OSFamily', 'OSVersion', 'IsDomainJoined'],
    required: [['FullName'], ['HostName'], ['NetBiosName'], ['AzureID'], ['OMSAgentID']],
  },
  CloudApplication: { identifiers: ['AppId', 'Name', 'InstanceName'], required: [['AppId'], ['Name']] },
};
/** MITRE ATT&CK: the tactics of the techniques our detections name (a technique needs all of them in `tactics`). */
const TECHNIQUE_TACTICS: Record<string, string[]> = { T1595: ['Reconnaissance'], T1041: ['Exfiltration'], T1567: ['Exfiltration'] };
const OLD_ENTITY_COLUMNS = ['AccountCustomEntity', 'HostCustomEntity', 'IPCustomEntity', 'URLCustomEntity', 'ProcessCustomEntity', 'FileHashCustomEntity'];

/** A template time span: .NET TimeSpan text (`01:00:00`, `14.00:00:00`) or `<n>m|h|d`; seconds, or null. */
export function templateTimeSpan(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const dotnet = /^(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (dotnet) return Number(dotnet[1] ?? 0) * 86400 + Number(dotnet[2]) * 3600 + Number(dotnet[3]) * 60 + Number(dotnet[4] ?? 0);
  const short = /^(\d+)([mhd])$/.exec(value);
  return short ? Number(short[1]) * { m: 60, h: 3600, d: 86400 }[short[2] as 'm' | 'h' | 'd'] : null;
}

/** An ISO 8601 duration (`PT5M`, `P1D`, `PT1H30M`) in seconds, or null. */
export function isoDurationSeconds(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(value);
  if (!m || value === 'P' || value.endsWith('T')) return null;
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
}

function frequencyAndPeriod(out: Problem[], frequency: number | null, period: number | null, what: string): void {
  for (const [name, s] of [['queryFrequency', frequency], ['queryPeriod', period]] as const) {
    if (s === null) out.push({ rule: 'sentinel.timespan-format', detail: `${name} is not a time span (${what})` });
    else if (s < 300 || s > 14 * 86400) out.push({ rule: 'sentinel.timespan-range', detail: `${name} ${s}s is outside 5 minutes to 14 days` });
  }
  if (frequency === null || period === null) return;
  if (period < frequency) out.push({ rule: 'sentinel.period-at-least-frequency', detail: `queryPeriod ${period}s is shorter than queryFrequency ${frequency}s` });
  if (period >= 2 * 86400 && frequency < 3600) {
    out.push({ rule: 'sentinel.long-period-frequency', detail: `queryPeriod of ${period / 86400} days needs a queryFrequency of at least 1 hour, not ${frequency}s` });
  }
}

function customDetailsChecks(out: Problem[], details: unknown): void {
  if (details === undefined || details === null) return;
  const entries = Object.entries(details as Record<string, unknown>);
  if (entries.length > 20) out.push({ rule: 'sentinel.custom-details-count', detail: `${entries.length} custom details, at most 20` });
  for (const [k, v] of entries) {
    if (k.length > 20 || String(v).length > 500) out.push({ rule: 'sentinel.custom-details-length', detail: `${k}: key over 20 or value over 500 characters` });
    if (!/^[a-zA-Z]+\w*$/.test(k)) out.push({ rule: 'sentinel.custom-details-key', detail: `key ${k} must start with a letter and hold only [A-Za-z0-9_]` });
    if (typeof v !== 'string' || !/^[a-zA-Z_]+\w*$/.test(v)) out.push({ rule: 'sentinel.custom-details-value', detail: `${k}: column ${String(v)} is not a column name` });
  }
}

function entityMappingChecks(out: Problem[], mappings: unknown, max: number): void {
  if (mappings === undefined || mappings === null) return;
  const list = mappings as Obj[];
  if (!Array.isArray(list) || list.length < 1 || list.length > max) {
    out.push({ rule: 'sentinel.entity-mappings-count', detail: `${Array.isArray(list) ? list.length : 'no'} entity mappings, 1 to ${max}` });
    return;
  }
  for (const e of list) {
    const type = ENTITY_IDENTIFIERS[e.entityType];
    if (!type) {
      out.push({ rule: 'sentinel.entity-type', detail: `entity type ${e.entityType} is not one these checks know` });
      continue;
    }
    const fields = (e.fieldMappings ?? []) as Obj[];
    if (fields.length < 1 || fields.length > 3) out.push({ rule: 'sentinel.field-mappings-count', detail: `${e.entityType}: ${fields.length} field mappings, 1 to 3` });
    const used = new Set<string>();
    for (const f of fields) {
      if (!type.identifiers.includes(f.identifier)) out.push({ rule: 'sentinel.entity-identifier', detail: `${e.entityType}: identifier ${f.identifier} is not valid` });
      if (used.has(f.identifier)) out.push({ rule: 'sentinel.entity-identifier-unique', detail: `${e.entityType}: ${f.identifier} mapped twice` });
      used.add(f.identifier);
      if (typeof f.columnName !== 'string' || f.columnName.length > 500 || !/^[a-zA-Z_]+\w*$/.test(f.columnName)) {
        out.push({ rule: 'sentinel.entity-column', detail: `${e.entityType}: column ${String(f.columnName)} is not a column name` });
      }
    }
    if (!type.required.some((set) => set.every((i) => used.has(i)))) {
      out.push({ rule: 'sentinel.entity-required-identifier', detail: `${e.entityType}: none of the required identifier sets is mapped` });
    }
  }
}

function placeholders(text: string): number {
  return [...text.matchAll(/\{\{([^{}]*)\}\}/g)].length;
}

function alertDetailsChecks(out: Problem[], o: unknown): void {
  if (o === undefined || o === null) return;
  const a = o as Obj;
  for (const [key, max] of [['alertDisplayNameFormat', 256], ['alertDescriptionFormat', 5000]] as const) {
    const v = a[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.trim() === '' || v.length > max) out.push({ rule: 'sentinel.alert-format-length', detail: `${key}: empty or over ${max} characters` });
    else if (placeholders(v) > 3) out.push({ rule: 'sentinel.alert-format-placeholders', detail: `${key}: ${placeholders(v)} placeholders, at most 3` });
  }
}

function tacticChecks(out: Problem[], tactics: unknown, techniques: unknown): void {
  const list = (tactics ?? []) as string[];
  for (const t of list) if (!SENTINEL_TACTICS.includes(t)) out.push({ rule: 'sentinel.tactic-enum', detail: `tactic ${t}` });
  for (const tech of (techniques ?? []) as string[]) {
    const base = tech.split('.')[0]!;
    const needed = TECHNIQUE_TACTICS[base];
    if (!needed || !needed.every((t) => list.includes(t))) out.push({ rule: 'sentinel.technique-tactics', detail: `technique ${tech} needs tactics ${needed?.join(', ') ?? '(unknown technique)'}` });
  }
}

/** The scheduled-rule template (the rule YAML as parsed). */
export function sentinelTemplateProblems(t: Obj): Problem[] {
  const out: Problem[] = [];
  for (const key of ['id', 'kind', 'name', 'description', 'requiredDataConnectors', 'severity', 'query', 'queryFrequency', 'queryPeriod', 'triggerOperator', 'triggerThreshold']) {
    if (t[key] === undefined || t[key] === null) out.push({ rule: 'sentinel.required', detail: `${key} is required` });
  }
  if (t.id !== undefined && !GUID.test(String(t.id))) out.push({ rule: 'sentinel.id-guid', detail: `id ${t.id} is not a GUID` });
  if (t.kind !== undefined && !['Scheduled', 'NRT'].includes(t.kind)) out.push({ rule: 'sentinel.kind', detail: `kind ${t.kind}` });
  if (typeof t.name === 'string' && t.name.length > 256) out.push({ rule: 'sentinel.name-length', detail: 'name over 256 characters' });
  if (typeof t.description === 'string' && t.description.length > 5000) out.push({ rule: 'sentinel.description-length', detail: 'description over 5000 characters' });
  if (t.severity !== undefined && !SENTINEL_SEVERITIES.includes(t.severity)) out.push({ rule: 'sentinel.severity-enum', detail: `severity ${t.severity}` });
  if (typeof t.query === 'string' && (t.query.length < 1 || t.query.length > 10000)) out.push({ rule: 'sentinel.query-length', detail: `query of ${t.query.length} characters` });
  if (t.queryFrequency !== undefined || t.queryPeriod !== undefined) frequencyAndPeriod(out, templateTimeSpan(t.queryFrequency), templateTimeSpan(t.queryPeriod), 'template');
  if (t.triggerOperator !== undefined && !TRIGGER_OPERATORS.includes(t.triggerOperator)) out.push({ rule: 'sentinel.trigger-operator', detail: `triggerOperator ${t.triggerOperator}` });
  if (t.triggerThreshold !== undefined && (!Number.isInteger(t.triggerThreshold) || t.triggerThreshold < 0 || t.triggerThreshold > 10000)) {
    out.push({ rule: 'sentinel.trigger-threshold', detail: `triggerThreshold ${t.triggerThreshold}` });
  }
  customDetailsChecks(out, t.customDetails);
  entityMappingChecks(out, t.entityMappings, 5);
  alertDetailsChecks(out, t.alertDetailsOverride);
  tacticChecks(out, t.tactics, t.relevantTechniques);
  if (typeof t.query === 'string') {
    for (const old of OLD_ENTITY_COLUMNS) {
      const mapped = ((t.entityMappings ?? []) as Obj[]).some((e) => (e.fieldMappings ?? []).some((f: Obj) => f.columnName === old));
      if (t.query.includes(old) && !mapped) out.push({ rule: 'sentinel.new-entity-mappings', detail: `${old} in the query without an entity mapping` });
    }
  }
  if (t.version !== undefined && !(typeof t.version === 'string' && t.version.length <= 20 && /^(\d+\.)(\d+\.)(\d+)$/.test(t.version))) {
    out.push({ rule: 'sentinel.version-format', detail: `version ${t.version} is not X.Y.Z` });
  }
  const kind = t.eventGroupingSettings?.aggregationKind;
  if (kind !== undefined && !['SingleAlert', 'AlertPerResult'].includes(kind)) out.push({ rule: 'sentinel.event-grouping', detail: `aggregationKind ${kind}` });
  return out;
}

/** Rules across all templates of a folder: no id twice. */
export function sentinelTemplateSetProblems(templates: Obj[]): Problem[] {
  const ids = templates.map((t) => String(t.id).toLowerCase());
  return ids.filter((id, i) => ids.indexOf(id) !== i).map((id) => ({ rule: 'sentinel.unique-id', detail: `template id ${id} is used twice` }));
}

// ---- Sentinel alertRules ARM resources ----------------------------------------------------------------------

/** One `Microsoft.SecurityInsights/alertRules` resource of kind Scheduled. */
export function sentinelArmRuleProblems(r: Obj): Problem[] {
  const out: Problem[] = [];
  const p = (r.properties ?? {}) as Obj;
  for (const key of ['displayName', 'enabled', 'query', 'queryFrequency', 'queryPeriod', 'severity', 'suppressionDuration', 'suppressionEnabled', 'triggerOperator', 'triggerThreshold']) {
    if (p[key] === undefined) out.push({ rule: 'sentinel-arm.required', detail: `${key} is required` });
  }
  if (p.templateVersion !== undefined && (p.alertRuleTemplateName === undefined || p.alertRuleTemplateName === null || p.alertRuleTemplateName === '')) {
    out.push({ rule: 'sentinel-arm.template-version-needs-name', detail: "'templateVersion' can only be used if 'alertRuleTemplateName' is not empty" });
  }
  frequencyAndPeriod(out, isoDurationSeconds(p.queryFrequency), isoDurationSeconds(p.queryPeriod), 'ISO 8601 duration');
  if (p.severity !== undefined && !SENTINEL_SEVERITIES.includes(p.severity)) out.push({ rule: 'sentinel.severity-enum', detail: `severity ${p.severity}` });
  if (p.triggerOperator !== undefined && !['GreaterThan', 'LessThan', 'Equal', 'NotEqual'].includes(p.triggerOperator)) {
    out.push({ rule: 'sentinel.trigger-operator', detail: `triggerOperator ${p.triggerOperator} (the API takes the long form)` });
  }
  if (typeof p.query === 'string' && p.query.length > 10000) out.push({ rule: 'sentinel.query-length', detail: 'query over 10000 characters' });
  customDetailsChecks(out, p.customDetails);
  entityMappingChecks(out, p.entityMappings, 10);
  alertDetailsChecks(out, p.alertDetailsOverride);
  tacticChecks(out, p.tactics, p.techniques);
  const g = p.incidentConfiguration?.groupingConfiguration as Obj | undefined;
  if (g?.enabled) {
    const lookback = isoDurationSeconds(g.lookbackDuration);
    if (lookback === null || lookback < 300 || lookback > 7 * 86400) out.push({ rule: 'sentinel-arm.grouping-lookback', detail: `lookbackDuration ${g.lookbackDuration} is outside 5 minutes to 7 days` });
    if (!['AllEntities', 'AnyAlert', 'Selected'].includes(g.matchingMethod)) out.push({ rule: 'sentinel-arm.grouping-method', detail: `matchingMethod ${g.matchingMethod}` });
    const selected = [...(g.groupByEntities ?? []), ...(g.groupByAlertDetails ?? []), ...(g.groupByCustomDetails ?? [])];
    if (g.matchingMethod === 'Selected' && selected.length === 0) out.push({ rule: 'sentinel-arm.grouping-selected', detail: 'matchingMethod Selected names nothing to group by' });
    for (const k of g.groupByCustomDetails ?? []) {
      if (!(k in (p.customDetails ?? {}))) out.push({ rule: 'sentinel-arm.grouping-selected', detail: `groups by custom detail ${k}, which the rule does not have` });
    }
  }
  const suppression = isoDurationSeconds(p.suppressionDuration);
  if (p.suppressionDuration !== undefined && (suppression === null || suppression < 300 || suppression > 86400)) {
    out.push({ rule: 'sentinel-arm.suppression-duration', detail: `suppressionDuration ${p.suppressionDuration}` });
  }
  return out;
}

/**
 * Sentinel keeps at most 2 KB of custom details per alert. Every custom detail must be a column the query cuts
 * with `substring(…, 0, N)`; counting 4 bytes per character and `overhead` bytes of JSON per detail, all of them
 * together must fit.
 */
export function sentinelCustomDetailsBudgetProblems(query: string, details: Record<string, string>, overhead: number): Problem[] {
  let bytes = 0;
  const out: Problem[] = [];
  for (const [key, column] of Object.entries(details)) {
    const m = new RegExp(`\\b${column} = substring\\(tostring\\([A-Za-z_]\\w*\\), 0, (\\d+)\\)`).exec(query);
    if (!m) {
      out.push({ rule: 'sentinel.custom-details-2kb', detail: `custom detail ${key} (${column}) is not cut to a length, so it can exceed 2 KB` });
      continue;
    }
    bytes += key.length + 4 * Number(m[1]) + overhead;
  }
  if (bytes > 2048) out.push({ rule: 'sentinel.custom-details-2kb', detail: `custom details can reach ${bytes} bytes, over 2048` });
  return out;
}

// ---- ASIM parsers -----------------------------------------------------------------------------------------

const ASIM_SCHEMAS: Record<string, { version: string; title: string; link: string }> = {
  AlertEvent: { version: '0.1', title: 'ASIM Alert Event Schema', link: 'https://aka.ms/ASimAlertEventDoc' },
};
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * One ASIM parser YAML. `body` is the query the parser runs once its calls are expanded (a source-agnostic
 * `ASim` wrapper that calls the `vim` parser gets EventProduct and EventVendor from there).
 */
export function asimParserProblems(p: Obj, kind: 'ASim' | 'vim', body: string): Problem[] {
  const out: Problem[] = [];
  if (!/EventProduct\s*=\s*['"][^'"]+['"]/.test(body)) out.push({ rule: 'asim.event-product', detail: 'EventProduct is not set to a literal' });
  if (!/EventVendor\s*=\s*['"][^'"]+['"]/.test(body)) out.push({ rule: 'asim.event-vendor', detail: 'EventVendor is not set to a literal' });
  if (!p.Parser?.Title) out.push({ rule: 'asim.title', detail: 'Parser.Title is missing' });
  if (!/^\d+\.\d+\.\d+$/.test(String(p.Parser?.Version ?? ''))) out.push({ rule: 'asim.version', detail: `Parser.Version ${p.Parser?.Version} is not X.Y.Z` });
  const updated = /^([A-Z][a-z]{2}) (\d{1,2}), (\d{4})$/.exec(String(p.Parser?.LastUpdated ?? ''));
  if (!updated || !MONTHS.includes(updated[1]!) || Number(updated[2]) < 1 || Number(updated[2]) > 31) {
    out.push({ rule: 'asim.last-updated', detail: `Parser.LastUpdated ${p.Parser?.LastUpdated} is not like "Jun 29, 2024"` });
  }
  const schemaName = p.Normalization?.Schema as string | undefined;
  const schema = schemaName ? ASIM_SCHEMAS[schemaName] : undefined;
  if (!schema) out.push({ rule: 'asim.schema', detail: `Normalization.Schema ${schemaName} is not a known ASIM schema` });
  else if (String(p.Normalization?.Version) !== schema.version) out.push({ rule: 'asim.schema-version', detail: `${schemaName} is version ${schema.version}, not ${p.Normalization?.Version}` });
  const refs = (p.References ?? []) as Obj[];
  if (refs.length === 0) out.push({ rule: 'asim.references', detail: 'no References' });
  for (const r of refs) {
    if (schema && r.Link === schema.link && r.Title !== schema.title) out.push({ rule: 'asim.references', detail: `the schema link must be titled "${schema.title}"` });
    if (r.Title === 'ASIM' && r.Link !== 'https://aka.ms/AboutASIM') out.push({ rule: 'asim.references', detail: 'the ASIM reference must link https://aka.ms/AboutASIM' });
  }
  if (schemaName && !new RegExp(`^${kind}${schemaName}`).test(String(p.ParserName))) out.push({ rule: 'asim.parser-name', detail: `ParserName ${p.ParserName} does not start with ${kind}${schemaName}` });
  const builtIn = kind === 'vim' ? 'Im' : 'ASim';
  if (schemaName && !new RegExp(`^_${builtIn}_${schemaName}_`).test(String(p.EquivalentBuiltInParser))) {
    out.push({ rule: 'asim.equivalent-built-in', detail: `EquivalentBuiltInParser ${p.EquivalentBuiltInParser} is not _${builtIn}_${schemaName}_<Product>` });
  }
  return out;
}

// ---- Kibana detection rules -------------------------------------------------------------------------------

/** Risk score bands of the severities, as Elastic Security pairs them. */
export const RISK_BANDS: Record<string, [number, number]> = { low: [0, 21], medium: [22, 47], high: [48, 73], critical: [74, 100] };
const INTERVAL = /^\d+[smhd]$/;

export function kibanaRuleProblems(r: Obj): Problem[] {
  const out: Problem[] = [];
  for (const k of ['rule_id', 'name', 'description', 'risk_score', 'severity', 'type']) if (r[k] === undefined) out.push({ rule: 'kibana.required', detail: `${k}: Required` });
  if (r.type !== undefined && !['query', 'new_terms', 'threshold', 'eql', 'esql', 'saved_query', 'machine_learning', 'threat_match'].includes(r.type)) {
    out.push({ rule: 'kibana.type', detail: `type ${r.type}` });
  }
  const band = RISK_BANDS[r.severity];
  if (r.severity !== undefined && !band) out.push({ rule: 'kibana.severity', detail: `severity ${r.severity}` });
  if (!Number.isInteger(r.risk_score) || r.risk_score < 0 || r.risk_score > 100) out.push({ rule: 'kibana.risk-score', detail: `risk_score ${r.risk_score} is not 0–100` });
  else if (band && (r.risk_score < band[0] || r.risk_score > band[1])) {
    out.push({ rule: 'kibana.risk-band', detail: `risk_score ${r.risk_score} is outside ${band[0]}–${band[1]} for severity ${r.severity}` });
  }
  if (r.interval !== undefined && !INTERVAL.test(r.interval)) out.push({ rule: 'kibana.interval', detail: `interval ${r.interval}` });
  if (r.from !== undefined && !/^now-\d+[smhd]$/.test(r.from)) out.push({ rule: 'kibana.from', detail: `from ${r.from}` });
  if (r.max_signals !== undefined && (!Number.isInteger(r.max_signals) || r.max_signals < 1)) out.push({ rule: 'kibana.max-signals', detail: `max_signals ${r.max_signals}` });
  if (r.version !== undefined && (!Number.isInteger(r.version) || r.version < 1)) out.push({ rule: 'kibana.version', detail: `version ${r.version}` });
  if (['query', 'new_terms', 'threshold', 'eql', 'esql'].includes(r.type)) {
    if (typeof r.query !== 'string') out.push({ rule: 'kibana.query-required', detail: `${r.type}: query is required` });
    if (r.type !== 'esql' && r.type !== 'eql' && r.language !== undefined && !['kuery', 'lucene'].includes(r.language)) out.push({ rule: 'kibana.language', detail: `language ${r.language}` });
  }
  if (r.type === 'threshold') {
    const t = r.threshold as Obj | undefined;
    if (!t || !Array.isArray(t.field) || !Number.isInteger(t.value) || t.value < 1) out.push({ rule: 'kibana.threshold', detail: 'threshold needs field and a value of at least 1' });
    if (t?.cardinality !== undefined && (!Array.isArray(t.cardinality) || t.cardinality.some((c: Obj) => typeof c.field !== 'string' || !Number.isInteger(c.value) || c.value < 0))) {
      out.push({ rule: 'kibana.threshold', detail: 'threshold.cardinality must be a list of {field, value}' });
    }
  }
  if (r.type === 'new_terms') {
    const f = r.new_terms_fields;
    if (!Array.isArray(f) || f.length < 1 || f.length > 3) out.push({ rule: 'kibana.new-terms-fields', detail: 'new_terms_fields must hold 1 to 3 fields' });
    if (typeof r.history_window_start !== 'string' || !/^now-\d+[smhd]$/.test(r.history_window_start)) out.push({ rule: 'kibana.history-window', detail: `history_window_start ${r.history_window_start}` });
  }
  const s = r.alert_suppression as Obj | undefined;
  if (s !== undefined) {
    const d = s.duration as Obj | undefined;
    if (d !== undefined && (!Number.isInteger(d.value) || d.value < 1 || !['s', 'm', 'h'].includes(d.unit))) out.push({ rule: 'kibana.suppression', detail: 'alert_suppression.duration needs a positive value and unit s, m or h' });
    if (r.type === 'threshold') {
      if (s.group_by !== undefined || d === undefined) out.push({ rule: 'kibana.suppression', detail: 'a threshold rule suppresses by its threshold fields, with a duration only' });
    } else {
      if (!Array.isArray(s.group_by) || s.group_by.length < 1 || s.group_by.length > 3) out.push({ rule: 'kibana.suppression', detail: 'alert_suppression.group_by must hold 1 to 3 fields' });
      if (s.missing_fields_strategy !== undefined && !['suppress', 'doNotSuppress'].includes(s.missing_fields_strategy)) out.push({ rule: 'kibana.suppression', detail: `missing_fields_strategy ${s.missing_fields_strategy}` });
    }
  }
  return out;
}

// ---- Elasticsearch index templates and ingest pipelines ---------------------------------------------------

/**
 * An index template (`PUT _index_template`), given the component templates it may name and the other index
 * templates installed (the stack's own `logs` template among them).
 */
export function esIndexTemplateProblems(name: string, t: Obj, components: ReadonlyMap<string, Obj>, others: { name: string; index_patterns: string[]; priority: number }[]): Problem[] {
  const out: Problem[] = [];
  const patterns = t.index_patterns as string[] | undefined;
  if (!Array.isArray(patterns) || patterns.length === 0) out.push({ rule: 'es.template-patterns', detail: 'index_patterns is required' });
  for (const p of patterns ?? []) if (/[\s,"<>|\\/?#]/.test(p) || p.startsWith('_') || p.startsWith('-')) out.push({ rule: 'es.template-patterns', detail: `pattern ${p} is not a valid index pattern` });
  const missing = ((t.composed_of ?? []) as string[]).filter((c) => !components.has(c) && !((t.ignore_missing_component_templates ?? []) as string[]).includes(c));
  for (const c of missing) out.push({ rule: 'es.template-components', detail: `composed of missing component template [${c}]` });
  const priority = (t.priority ?? 0) as number;
  // Overlapping templates with the same priority are refused; the one with the higher priority wins.
  const overlaps = (a: string, b: string): boolean => {
    const re = (p: string): RegExp => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    const probe = (p: string): string => p.replace(/\*/g, 'x');
    return re(a).test(probe(b)) || re(b).test(probe(a));
  };
  for (const o of others) {
    if (o.name === name) continue;
    if (o.priority === priority && (patterns ?? []).some((p) => o.index_patterns.some((q) => overlaps(p, q)))) {
      out.push({ rule: 'es.template-priority', detail: `template [${name}] has the same priority ${priority} as [${o.name}], whose patterns overlap` });
    }
  }
  if (t.data_stream !== undefined) {
    // A data stream needs @timestamp as date or date_nanos in the composed mappings.
    const mapped = [t.template, ...((t.composed_of ?? []) as string[]).map((c) => components.get(c)?.template)]
      .map((x) => x?.mappings?.properties?.['@timestamp']?.type)
      .find((x) => x !== undefined);
    if (mapped !== undefined && !['date', 'date_nanos'].includes(mapped)) out.push({ rule: 'es.data-stream-timestamp', detail: `@timestamp is mapped as ${mapped}` });
  }
  return out;
}

/** Processors Elasticsearch ships (the ones a content pipeline may use without a plugin). */
const PROCESSORS = new Set(['append', 'bytes', 'community_id', 'convert', 'csv', 'date', 'date_index_name', 'dissect', 'dot_expander', 'drop', 'enrich', 'fail',
  'fingerprint', 'foreach', 'geo_grid', 'geoip', 'grok', 'gsub', 'html_strip', 'inference', 'ip_location', 'join', 'json', 'kv', 'lowercase', 'network_direction', 'pipeline',
  'redact', 'registered_domain', 'remove', 'rename', 'reroute', 'script', 'set', 'set_security_user', 'sort', 'split', 'terminate', 'trim', 'uppercase', 'uri_parts',
  'urldecode', 'user_agent']);

/** An ingest pipeline (`PUT _ingest/pipeline/<name>`). */
export function esPipelineProblems(p: Obj): Problem[] {
  const out: Problem[] = [];
  if (!Array.isArray(p.processors)) {
    out.push({ rule: 'es.pipeline-processors', detail: 'processors must be a list' });
    return out;
  }
  const visit = (list: Obj[], where: string): void => {
    list.forEach((entry, i) => {
      const keys = Object.keys(entry);
      if (keys.length !== 1) out.push({ rule: 'es.pipeline-processor-shape', detail: `${where}[${i}] must name exactly one processor` });
      const type = keys[0]!;
      if (!PROCESSORS.has(type)) out.push({ rule: 'es.pipeline-processor-type', detail: `${where}[${i}]: No processor type exists with name [${type}]` });
      const config = (entry[type] ?? {}) as Obj;
      if (Array.isArray(config.on_failure)) {
        if (config.on_failure.length === 0) out.push({ rule: 'es.pipeline-on-failure', detail: `${where}[${i}]: on_failure must not be empty` });
        visit(config.on_failure, `${where}[${i}].on_failure`);
      }
      if (['set', 'append', 'remove', 'rename', 'convert', 'date', 'geoip', 'user_agent', 'lowercase'].includes(type) && config.field === undefined) {
        out.push({ rule: 'es.pipeline-required-option', detail: `${where}[${i}] ${type}: [field] required property is missing` });
      }
      if (type === 'set' && config.value === undefined && config.copy_from === undefined) out.push({ rule: 'es.pipeline-required-option', detail: `${where}[${i}] set: [value] required property is missing` });
      if (type === 'set' && config.value !== undefined && config.copy_from !== undefined) out.push({ rule: 'es.pipeline-required-option', detail: `${where}[${i}] set: [copy_from] cannot be set alongside [value]` });
      if (type === 'date' && !Array.isArray(config.formats)) out.push({ rule: 'es.pipeline-required-option', detail: `${where}[${i}] date: [formats] required property is missing` });
    });
  };
  visit(p.processors, 'processors');
  if (Array.isArray(p.on_failure)) visit(p.on_failure, 'on_failure');
  return out;
}
