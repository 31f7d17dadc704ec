/**
 * The Elasticsearch side of the data stream `logs-oversight.beacon-*`: explicit mappings for every field our ECS
 * records carry (from content/fields.yaml) and every field the ingest pipeline adds, the `@package` and `@custom`
 * component templates and the index template that composes them.
 */
import type { FieldTable } from './model.js';

export const DATA_STREAM_PATTERN = 'logs-oversight.beacon-*';
export const INDEX_TEMPLATE = 'logs-oversight.beacon';
export const PACKAGE_COMPONENT = 'logs-oversight.beacon@package';
export const CUSTOM_COMPONENT = 'logs-oversight.beacon@custom';
export const PIPELINE = 'logs-oversight.beacon@default-pipeline';
/** A pipeline the user may create for their own processing; ours calls it last when it exists. */
export const CUSTOM_PIPELINE = 'logs-oversight.beacon@custom';
/** Above the stack's built-in `logs` template (100), equal to what Fleet gives integration data streams. */
export const TEMPLATE_PRIORITY = 200;
/** Leak evidence outlives ordinary logs; users change it in the @custom component template. */
export const DATA_RETENTION = '365d';

export interface MappedField {
  field: string;
  type: string;
}

/**
 * Fields the ingest pipeline writes (enrichment, ECS 9 alert semantics), with the type ECS gives them.
 * `oversight.timestamp_original` is ours: an unparseable `@timestamp` is kept there.
 */
export const PIPELINE_FIELDS: readonly MappedField[] = [
  { field: 'message', type: 'match_only_text' },
  { field: 'tags', type: 'keyword' },
  { field: 'error.message', type: 'match_only_text' },
  { field: 'event.severity', type: 'long' },
  { field: 'event.risk_score', type: 'float' },
  { field: 'event.ingested', type: 'date' },
  { field: 'source.address', type: 'keyword' },
  { field: 'source.geo.continent_name', type: 'keyword' },
  { field: 'source.geo.country_iso_code', type: 'keyword' },
  { field: 'source.geo.country_name', type: 'keyword' },
  { field: 'source.geo.region_iso_code', type: 'keyword' },
  { field: 'source.geo.region_name', type: 'keyword' },
  { field: 'source.geo.city_name', type: 'keyword' },
  { field: 'source.geo.location', type: 'geo_point' },
  { field: 'source.as.number', type: 'long' },
  { field: 'source.as.organization.name', type: 'keyword' },
  { field: 'related.ip', type: 'ip' },
  { field: 'related.user', type: 'keyword' },
  { field: 'observer.vendor', type: 'keyword' },
  { field: 'observer.product', type: 'keyword' },
  { field: 'observer.type', type: 'keyword' },
  { field: 'observer.name', type: 'keyword' },
  { field: 'rule.id', type: 'keyword' },
  { field: 'rule.name', type: 'keyword' },
  { field: 'rule.ruleset', type: 'keyword' },
  { field: 'rule.category', type: 'keyword' },
  { field: 'rule.description', type: 'keyword' },
  { field: 'dns.question.name', type: 'keyword' },
  { field: 'dns.question.type', type: 'keyword' },
  { field: 'user_agent.name', type: 'keyword' },
  { field: 'user_agent.version', type: 'keyword' },
  { field: 'user_agent.os.name', type: 'keyword' },
  { field: 'user_agent.os.version', type: 'keyword' },
  { field: 'user_agent.os.full', type: 'keyword' },
  { field: 'user_agent.device.name', type: 'keyword' },
  { field: 'oversight.timestamp_original', type: 'keyword' },
];

/** ECS multi-fields, so full-text search works on the same fields it does in Elastic's own integrations. */
const MULTI_FIELDS: Readonly<Record<string, Record<string, { type: string }>>> = {
  'user_agent.original': { text: { type: 'match_only_text' } },
  'user_agent.os.name': { text: { type: 'match_only_text' } },
  'user_agent.os.full': { text: { type: 'match_only_text' } },
  'source.as.organization.name': { text: { type: 'match_only_text' } },
};

/**
 * Per-type parameters. `ignore_malformed` keeps a document whose value does not fit (the text `unknown` in
 * `source.ip`) and leaves only that field out, in case a document reaches the index without our pipeline.
 * `ignore_above` keeps a very long value out of the index (never out of `_source`): Lucene refuses a term
 * over 32766 bytes, which would refuse the whole document.
 */
function fieldMapping(field: string, type: string): Record<string, unknown> {
  const m: Record<string, unknown> = { type };
  if (type === 'keyword' || type === 'flattened') m['ignore_above'] = 1024;
  if (type === 'ip' || type === 'long' || type === 'float') m['ignore_malformed'] = true;
  const multi = MULTI_FIELDS[field];
  if (multi) m['fields'] = multi;
  return m;
}

/** Every field of our records and of the pipeline's output, path → type. Throws on a field typed twice differently. */
export function mappedFields(fields: FieldTable): MappedField[] {
  const all = [
    ...fields.fields.map((f) => ({ field: f.ecs.field, type: f.ecs.type })),
    ...fields.ecsConstants,
    ...PIPELINE_FIELDS,
  ];
  const seen = new Map<string, string>();
  const out: MappedField[] = [];
  for (const f of all) {
    const before = seen.get(f.field);
    if (before !== undefined) {
      if (before !== f.type) throw new Error(`${f.field} is mapped as both ${before} and ${f.type}`);
      continue;
    }
    seen.set(f.field, f.type);
    out.push(f);
  }
  return out.sort((a, b) => a.field.localeCompare(b.field));
}

type Properties = Record<string, Record<string, unknown>>;

/** Dotted paths → nested `properties`, objects made explicit so no object-vs-value guess is left to ES. */
export function mappingProperties(fields: readonly MappedField[]): Properties {
  const root: Properties = {};
  for (const { field, type } of fields) {
    const parts = field.split('.');
    let props = root;
    parts.forEach((part, i) => {
      if (i === parts.length - 1) {
        if (props[part]) throw new Error(`${field} is both an object and a field`);
        props[part] = fieldMapping(field, type);
        return;
      }
      const node = (props[part] ??= { type: 'object', properties: {} });
      if (node['type'] !== 'object') throw new Error(`${parts.slice(0, i + 1).join('.')} is both a field and an object`);
      props = node['properties'] as Properties;
    });
  }
  return root;
}

function meta(version: string): Record<string, unknown> {
  return { managed_by: 'oversight-siem', managed: true, oversight_siem_version: version };
}

export function packageComponentTemplate(fields: FieldTable, version: string): Record<string, unknown> {
  return {
    template: {
      mappings: {
        // Fields our records do not carry are still indexed (a user's @custom pipeline may add some), mapped
        // from the value the first time; ours never are.
        dynamic: true,
        properties: mappingProperties(mappedFields(fields)),
      },
    },
    _meta: { ...meta(version), description: 'Mappings for Oversight beacon callbacks (ECS), generated from content/fields.yaml' },
  };
}

/** Created once and never overwritten: the place for a user's own mappings, settings and lifecycle. */
export function customComponentTemplate(version: string): Record<string, unknown> {
  return {
    template: { settings: {} },
    _meta: { ...meta(version), managed: false, description: 'Your own mappings, settings or lifecycle for logs-oversight.beacon-*; oversight setup never changes it' },
  };
}

export function indexTemplate(version: string): Record<string, unknown> {
  return {
    index_patterns: [DATA_STREAM_PATTERN],
    priority: TEMPLATE_PRIORITY,
    data_stream: {},
    composed_of: [PACKAGE_COMPONENT, CUSTOM_COMPONENT],
    ignore_missing_component_templates: [CUSTOM_COMPONENT],
    template: {
      settings: { index: { default_pipeline: PIPELINE } },
      lifecycle: { data_retention: DATA_RETENTION },
    },
    _meta: { ...meta(version), description: 'Data streams of Oversight beacon callbacks' },
  };
}
