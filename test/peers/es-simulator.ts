/**
 * A small stand-in for the parts of Elasticsearch our Elastic content relies on, for tests where no cluster runs:
 *
 * - index templates composed from component templates, and a data stream's default pipeline;
 * - the ingest processors and options our pipeline uses (set, append, remove, rename, convert to ip, date with
 *   strict_date_optional_time, geoip, user_agent, pipeline), `if` conditions in the one Painless form the
 *   pipeline uses, processor and pipeline `on_failure`, and `{{{field}}}` templates;
 * - mapping a document: explicit field types (keyword, match_only_text, long, float, ip, date, geo_point,
 *   flattened, object), `ignore_malformed`, `ignore_above`, the 32766-byte term limit, dynamic mapping of fields
 *   without a mapping (object vs value and number vs text conflicts across documents), and the `@timestamp` a
 *   data stream requires.
 *
 * Anything else (another processor, option or condition form, a field type we do not use) throws, so content
 * that starts relying on more than this models fails its tests instead of passing untested. GeoIP and user-agent
 * parsing are given as fakes: the simulator knows which fields those processors write, not real lookups.
 */
import net from 'node:net';

export type Doc = Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

class IngestFailure extends Error {
  constructor(message: string, readonly processorType: string, readonly tag: string) {
    super(message);
  }
}

// ---- field access -------------------------------------------------------------------------------------------

function getPath(doc: Doc, path: string): unknown {
  let node: unknown = doc;
  for (const part of path.split('.')) {
    if (!isObject(node) || !Object.prototype.hasOwnProperty.call(node, part)) return undefined;
    node = node[part];
  }
  return node;
}

function setPath(doc: Doc, path: string, value: unknown): void {
  const parts = path.split('.');
  let node: Record<string, unknown> = doc;
  parts.slice(0, -1).forEach((part) => {
    const next = node[part];
    if (next === undefined || next === null) node[part] = {};
    else if (!isObject(node[part])) throw new Error(`cannot set [${path}]: [${part}] is not an object`);
    node = node[part] as Record<string, unknown>;
  });
  node[parts[parts.length - 1]!] = value;
}

function removePath(doc: Doc, path: string): boolean {
  const parts = path.split('.');
  const parent = parts.length === 1 ? doc : getPath(doc, parts.slice(0, -1).join('.'));
  const last = parts[parts.length - 1]!;
  if (!isObject(parent) || !Object.prototype.hasOwnProperty.call(parent, last)) return false;
  delete parent[last];
  return true;
}

// ---- the Painless form our conditions use ---------------------------------------------------------------------

type Token = { t: 'op' | 'str' | 'id' | 'num'; v: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  const re = /\s*(?:(\?\.|==|!=|&&|\|\||[.!()[\]])|'((?:[^'\\]|\\.)*)'|([A-Za-z_][A-Za-z0-9_]*)|(\d+))/y;
  let i = 0;
  while (i < src.length) {
    if (/^\s*$/.test(src.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m) throw new Error(`condition form not modelled at ${JSON.stringify(src.slice(i))} in: ${src}`);
    if (m[1] !== undefined) out.push({ t: 'op', v: m[1] });
    else if (m[2] !== undefined) out.push({ t: 'str', v: m[2].replace(/\\(.)/g, '$1') });
    else if (m[3] !== undefined) out.push({ t: 'id', v: m[3] });
    else out.push({ t: 'num', v: m[4]! });
    i = re.lastIndex;
  }
  return out;
}

const INSTANCE_CHECKS: Record<string, (v: unknown) => boolean> = {
  String: (v) => typeof v === 'string',
  Map: (v) => isObject(v),
  List: (v) => Array.isArray(v),
  Number: (v) => typeof v === 'number',
};

export function evalCondition(src: string, ctx: Doc): boolean {
  const toks = tokenize(src);
  let p = 0;
  const peek = (): Token | undefined => toks[p];
  const take = (v?: string): Token => {
    const t = toks[p++];
    if (!t || (v !== undefined && t.v !== v)) throw new Error(`condition form not modelled (expected ${v ?? 'a token'}): ${src}`);
    return t;
  };
  const member = (base: unknown, key: string, nullSafe: boolean): unknown => {
    if (base === null || base === undefined) {
      if (nullSafe) return null;
      throw new Error(`null pointer: [${key}] of null in: ${src}`);
    }
    if (!isObject(base)) throw new Error(`cannot access [${key}] on a ${Array.isArray(base) ? 'list' : typeof base} in: ${src}`);
    const v = Object.prototype.hasOwnProperty.call(base, key) ? base[key] : null;
    return v === undefined ? null : v;
  };
  const primary = (): unknown => {
    const t = take();
    if (t.t === 'str') return t.v;
    if (t.t === 'num') return Number(t.v);
    if (t.t === 'op' && t.v === '(') {
      const v = or();
      take(')');
      return v;
    }
    if (t.t === 'id' && t.v === 'null') return null;
    if (t.t === 'id' && t.v === 'ctx') {
      let v: unknown = ctx;
      for (;;) {
        const n = peek();
        if (n?.v === '.' || n?.v === '?.') {
          p++;
          v = member(v, take().v, n.v === '?.');
        } else if (n?.v === '[') {
          p++;
          const key = take();
          if (key.t !== 'str') throw new Error(`condition form not modelled (bracket key): ${src}`);
          take(']');
          v = member(v, key.v, false);
        } else return v;
      }
    }
    throw new Error(`condition form not modelled at ${t.v}: ${src}`);
  };
  const comparison = (): unknown => {
    const left = primary();
    const n = peek();
    if (n?.v === '==' || n?.v === '!=') {
      p++;
      const right = primary();
      const eq = left === right;
      return n.v === '==' ? eq : !eq;
    }
    if (n?.t === 'id' && n.v === 'instanceof') {
      p++;
      const check = INSTANCE_CHECKS[take().v];
      if (!check) throw new Error(`instanceof type not modelled: ${src}`);
      return check(left);
    }
    return left;
  };
  const unary = (): unknown => {
    if (peek()?.v === '!') {
      p++;
      return !asBool(unary());
    }
    return comparison();
  };
  const asBool = (v: unknown): boolean => {
    if (typeof v !== 'boolean') throw new Error(`condition does not evaluate to a boolean: ${src}`);
    return v;
  };
  const and = (): unknown => {
    let v = unary();
    while (peek()?.v === '&&') {
      p++;
      if (!asBool(v)) {
        // Short-circuit: the right side is parsed but not evaluated, as in Painless.
        skipOperand();
        v = false;
      } else v = asBool(unary());
    }
    return v;
  };
  const or = (): unknown => {
    let v = and();
    while (peek()?.v === '||') {
      p++;
      const right = and();
      v = asBool(v) || asBool(right);
    }
    return v;
  };
  const skipOperand = (): void => {
    let depth = 0;
    while (p < toks.length) {
      const v = toks[p]!.v;
      if (depth === 0 && (v === '&&' || v === '||' || v === ')')) return;
      if (v === '(' || v === '[') depth++;
      if (v === ')' || v === ']') depth--;
      p++;
    }
  };
  const result = asBool(or());
  if (p !== toks.length) throw new Error(`condition form not modelled (trailing tokens): ${src}`);
  return result;
}

// ---- templates -----------------------------------------------------------------------------------------------

function render(template: string, doc: Doc, meta: Record<string, string>): string {
  if (/\{\{(?!\{)/.test(template.replace(/\{\{\{[^}]*\}\}\}/g, ''))) throw new Error(`only {{{field}}} templates are modelled: ${template}`);
  return template.replace(/\{\{\{\s*([^}\s]+)\s*\}\}\}/g, (_, path: string) => {
    if (path.startsWith('_ingest.')) return meta[path.slice(8)] ?? '';
    const v = getPath(doc, path);
    if (v === undefined || v === null) return '';
    if (typeof v === 'object') throw new Error(`template {{{${path}}}} of an object or list is not modelled`);
    return String(v);
  });
}

function renderValue(value: unknown, doc: Doc, meta: Record<string, string>): unknown {
  if (typeof value === 'string') return render(value, doc, meta);
  if (Array.isArray(value)) return value.map((v) => renderValue(v, doc, meta));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderValue(v, doc, meta)]));
  return value;
}

// ---- processors ----------------------------------------------------------------------------------------------

export interface GeoRecord {
  city?: Record<string, unknown>;
  asn?: { asn: number; organization_name: string; network?: string };
}

export interface SimulatorOptions {
  /** Fake GeoLite2 lookups by address; an address not listed has no record (like a private address). */
  geo?: ReadonlyMap<string, GeoRecord>;
  /** Fake user-agent parser: the fields the processor writes under `user_agent` besides `original`. */
  userAgent?: (ua: string) => Record<string, unknown>;
  /** The ingest timestamp `{{{_ingest.timestamp}}}` renders. */
  now?: string;
}

const COMMON = new Set(['tag', 'if', 'on_failure', 'ignore_failure', 'description']);
const OPTIONS: Record<string, Set<string>> = {
  set: new Set(['field', 'value', 'copy_from', 'override', 'ignore_empty_value']),
  append: new Set(['field', 'value', 'allow_duplicates']),
  remove: new Set(['field', 'ignore_missing']),
  rename: new Set(['field', 'target_field', 'ignore_missing']),
  convert: new Set(['field', 'type', 'ignore_missing', 'target_field']),
  date: new Set(['field', 'target_field', 'formats']),
  geoip: new Set(['field', 'target_field', 'database_file', 'properties', 'ignore_missing']),
  user_agent: new Set(['field', 'ignore_missing', 'target_field']),
  pipeline: new Set(['name', 'ignore_missing_pipeline']),
};

const STRICT_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/;

function strictDate(v: unknown): number | null {
  if (typeof v !== 'string' || !STRICT_DATE.test(v)) return null;
  const ms = Date.parse(v.length === 10 ? `${v}T00:00:00Z` : /(Z|[+-]\d{2}:?\d{2})$/.test(v) ? v : `${v}Z`);
  return Number.isNaN(ms) ? null : ms;
}

type Pipeline = { processors: Record<string, Record<string, unknown>>[]; on_failure?: Record<string, Record<string, unknown>>[] };

export class IngestSimulator {
  readonly pipelines = new Map<string, Pipeline>();
  constructor(private readonly options: SimulatorOptions = {}) {}

  /** Run a pipeline over a copy of `doc`; throws when the document would be refused. */
  run(name: string, doc: Doc): Doc {
    const pipeline = this.pipelines.get(name);
    if (!pipeline) throw new Error(`pipeline with id [${name}] does not exist`);
    const out = structuredClone(doc);
    const meta: Record<string, string> = { timestamp: this.options.now ?? '2026-01-01T00:00:00.000Z', pipeline: name };
    try {
      this.processors(pipeline.processors, out, meta);
    } catch (err) {
      if (!(err instanceof IngestFailure) || !pipeline.on_failure?.length) throw err;
      const failMeta = { ...meta, on_failure_message: err.message, on_failure_processor_type: err.processorType, on_failure_processor_tag: err.tag, on_failure_pipeline: name };
      this.processors(pipeline.on_failure, out, failMeta);
    }
    return out;
  }

  private processors(list: readonly Record<string, Record<string, unknown>>[], doc: Doc, meta: Record<string, string>): void {
    for (const entry of list) {
      const [type, config] = Object.entries(entry)[0] as [string, Record<string, unknown>];
      const allowed = OPTIONS[type];
      if (!allowed) throw new Error(`processor [${type}] is not modelled by the simulator`);
      for (const k of Object.keys(config)) {
        if (!allowed.has(k) && !COMMON.has(k)) throw new Error(`option [${k}] of processor [${type}] is not modelled by the simulator`);
      }
      const tag = String(config['tag'] ?? '');
      try {
        if (typeof config['if'] === 'string' && !evalCondition(config['if'], doc)) continue;
        this.processor(type, config, doc, meta);
      } catch (err) {
        const failure = err instanceof IngestFailure ? err : new IngestFailure((err as Error).message, type, tag);
        const handlers = config['on_failure'] as Record<string, Record<string, unknown>>[] | undefined;
        if (handlers?.length) {
          this.processors(handlers, doc, { ...meta, on_failure_message: failure.message, on_failure_processor_type: type, on_failure_processor_tag: tag });
        } else if (config['ignore_failure'] !== true) throw failure;
      }
    }
  }

  private processor(type: string, c: Record<string, unknown>, doc: Doc, meta: Record<string, string>): void {
    const field = String(c['field'] ?? '');
    const present = (): boolean => getPath(doc, field) !== undefined && getPath(doc, field) !== null;
    switch (type) {
      case 'set': {
        if (c['override'] === false && present()) return;
        if (c['copy_from'] !== undefined) {
          const v = getPath(doc, String(c['copy_from']));
          if (v === undefined) throw new Error(`field [${String(c['copy_from'])}] not present as part of path`);
          setPath(doc, field, structuredClone(v));
        } else {
          const v = renderValue(c['value'], doc, meta);
          if (c['ignore_empty_value'] === true && (v === '' || v === null)) return;
          setPath(doc, field, v);
        }
        return;
      }
      case 'append': {
        const values = ([] as unknown[]).concat(renderValue(c['value'], doc, meta));
        const current = getPath(doc, field);
        const list = current === undefined || current === null ? [] : Array.isArray(current) ? [...current] : [current];
        for (const v of values) if (c['allow_duplicates'] !== false || !list.includes(v)) list.push(v);
        setPath(doc, field, list);
        return;
      }
      case 'remove':
        for (const f of ([] as unknown[]).concat(c['field'])) {
          if (!removePath(doc, String(f)) && c['ignore_missing'] !== true) throw new Error(`field [${String(f)}] not present as part of path`);
        }
        return;
      case 'rename': {
        if (!present()) {
          if (c['ignore_missing'] === true) return;
          throw new Error(`field [${field}] doesn't exist`);
        }
        const target = String(c['target_field']);
        if (getPath(doc, target) !== undefined) throw new Error(`field [${target}] already exists`);
        const v = getPath(doc, field);
        removePath(doc, field);
        setPath(doc, target, v);
        return;
      }
      case 'convert': {
        if (c['type'] !== 'ip') throw new Error(`convert type [${String(c['type'])}] is not modelled`);
        if (!present()) {
          if (c['ignore_missing'] === true) return;
          throw new Error(`field [${field}] not present as part of path`);
        }
        const v = getPath(doc, field);
        if (typeof v !== 'string' || net.isIP(v) === 0) throw new Error(`'${String(v)}' is not a valid ip address`);
        setPath(doc, String(c['target_field'] ?? field), v);
        return;
      }
      case 'date': {
        const formats = c['formats'] as string[];
        if (formats.length !== 1 || formats[0] !== 'strict_date_optional_time') throw new Error(`date formats ${JSON.stringify(formats)} not modelled`);
        const ms = strictDate(getPath(doc, field));
        if (ms === null) throw new Error(`unable to parse date [${String(getPath(doc, field))}]`);
        setPath(doc, String(c['target_field'] ?? '@timestamp'), new Date(ms).toISOString());
        return;
      }
      case 'geoip': {
        if (!present()) {
          if (c['ignore_missing'] === true) return;
          throw new Error(`field [${field}] is null, cannot extract geoip information.`);
        }
        const ip = getPath(doc, field);
        if (typeof ip !== 'string' || net.isIP(ip) === 0) throw new Error(`'${String(ip)}' is not an IP string literal.`);
        const db = String(c['database_file'] ?? 'GeoLite2-City.mmdb');
        const rec = this.options.geo?.get(ip);
        const found: Record<string, unknown> | undefined = db === 'GeoLite2-ASN.mmdb' ? rec?.asn : db === 'GeoLite2-City.mmdb' ? rec?.city : undefined;
        if (db !== 'GeoLite2-ASN.mmdb' && db !== 'GeoLite2-City.mmdb') throw new Error(`database ${db} not modelled`);
        if (!found) return;
        const props = c['properties'] as string[] | undefined;
        const out = props ? Object.fromEntries(Object.entries(found).filter(([k]) => props.includes(k))) : found;
        if (Object.keys(out).length) setPath(doc, String(c['target_field'] ?? 'geoip'), structuredClone(out));
        return;
      }
      case 'user_agent': {
        if (!present()) {
          if (c['ignore_missing'] === true) return;
          throw new Error(`field [${field}] is null, cannot parse user-agent.`);
        }
        const ua = getPath(doc, field);
        if (typeof ua !== 'string') throw new Error(`field [${field}] of type [${typeof ua}] cannot be cast to [java.lang.String]`);
        const parsed = this.options.userAgent?.(ua) ?? { name: 'Other', device: { name: 'Other' } };
        setPath(doc, String(c['target_field'] ?? 'user_agent'), { ...parsed, original: ua });
        return;
      }
      case 'pipeline': {
        const name = String(c['name']);
        if (!this.pipelines.has(name)) {
          if (c['ignore_missing_pipeline'] === true) return;
          throw new Error(`Pipeline processor configured for non-existent pipeline [${name}]`);
        }
        const result = this.run(name, doc);
        for (const k of Object.keys(doc)) delete doc[k];
        Object.assign(doc, result);
        return;
      }
    }
  }
}

// ---- mappings ------------------------------------------------------------------------------------------------

export type Mapping = Record<string, unknown>;

export interface IndexResult {
  /** Fields left out of the index by ignore_malformed (Elasticsearch's `_ignored`). */
  ignored: string[];
  /** Fields mapped dynamically by this document. */
  dynamic: string[];
}

export class MappingRefused extends Error {}

const MAX_TERM_BYTES = 32766;

/** A data stream's mappings: explicit ones from the templates, dynamic ones added as documents arrive. */
export class SimulatedMappings {
  private readonly root: Mapping;

  constructor(mappings: Mapping) {
    this.root = structuredClone({ type: 'object', dynamic: mappings['dynamic'] ?? true, properties: mappings['properties'] ?? {} });
  }

  /** Index one document (after its pipeline): accepted with what was left out, or MappingRefused. */
  index(doc: Doc, { dataStream = true } = {}): IndexResult {
    if (dataStream && (doc['@timestamp'] === undefined || doc['@timestamp'] === null)) {
      throw new MappingRefused('data stream timestamp field [@timestamp] is missing');
    }
    // Dynamic mappings are kept only when the whole document is accepted.
    const draft = structuredClone(this.root);
    const result: IndexResult = { ignored: [], dynamic: [] };
    this.object(draft, doc, '', result);
    Object.assign(this.root, draft);
    return result;
  }

  typeOf(path: string): string | undefined {
    let node: Mapping | undefined = this.root;
    for (const part of path.split('.')) node = (node?.['properties'] as Record<string, Mapping> | undefined)?.[part];
    return node?.['type'] as string | undefined;
  }

  private object(mapping: Mapping, value: Record<string, unknown>, path: string, r: IndexResult): void {
    const props = (mapping['properties'] ??= {}) as Record<string, Mapping>;
    for (const [key, v] of Object.entries(value)) {
      const child = path ? `${path}.${key}` : key;
      let m = props[key];
      if (m === undefined) {
        if (v === null || (Array.isArray(v) && v.every((x) => x === null))) continue;
        if (mapping['dynamic'] === false) continue;
        if (mapping['dynamic'] === 'strict') throw new MappingRefused(`mapping set to strict, dynamic introduction of [${key}] within [${path || '_doc'}] is not allowed`);
        m = dynamicMapping(Array.isArray(v) ? v.find((x) => x !== null) : v);
        props[key] = m;
        r.dynamic.push(child);
      }
      this.value(m, v, child, r);
    }
  }

  private value(m: Mapping, v: unknown, path: string, r: IndexResult): void {
    if (v === null) return;
    if (Array.isArray(v)) {
      for (const x of v) this.value(m, x, path, r);
      return;
    }
    const type = (m['type'] as string | undefined) ?? (m['properties'] ? 'object' : undefined);
    if (type === 'object') {
      if (!isObject(v)) throw new MappingRefused(`object mapping for [${path}] tried to parse field [${path}] as object, but found a concrete value`);
      this.object(m, v, path, r);
      return;
    }
    if (type === 'flattened') {
      if (!isObject(v)) throw new MappingRefused(`failed to parse field [${path}] of type [flattened]: expected an object`);
      if (depth(v) > 20) throw new MappingRefused(`the provided [flattened] field [${path}] exceeds the maximum depth limit of [20]`);
      return;
    }
    const fits = type === 'geo_point' ? geoPointFits(v) : !isObject(v) && valueFits(type, v, m);
    if (isObject(v) && type !== 'geo_point') throw new MappingRefused(`failed to parse field [${path}] of type [${type}]: found an object`);
    if (fits) return;
    if (m['ignore_malformed'] === true) {
      if (!r.ignored.includes(path)) r.ignored.push(path);
      return;
    }
    throw new MappingRefused(`failed to parse field [${path}] of type [${type}]: value ${JSON.stringify(v)}`);
  }
}

function depth(v: unknown): number {
  if (Array.isArray(v)) return Math.max(0, ...v.map(depth));
  if (isObject(v)) return 1 + Math.max(0, ...Object.values(v).map(depth));
  return 0;
}

function dynamicMapping(v: unknown): Mapping {
  if (isObject(v)) return { type: 'object', properties: {} };
  if (typeof v === 'boolean') return { type: 'boolean' };
  if (typeof v === 'number') return { type: Number.isInteger(v) ? 'long' : 'float' };
  // Elasticsearch's default for a string is text with a keyword sub-field; both take any scalar.
  return { type: 'keyword', dynamic_string: true };
}

function valueFits(type: string | undefined, v: unknown, m: Mapping): boolean {
  switch (type) {
    case 'keyword': {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return false;
      const s = String(v);
      if (typeof m['ignore_above'] === 'number' && s.length > m['ignore_above']) return true;
      if (Buffer.byteLength(s, 'utf8') > MAX_TERM_BYTES) throw new MappingRefused(`Document contains at least one immense term (over ${MAX_TERM_BYTES} bytes)`);
      return true;
    }
    case 'match_only_text':
      return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
    case 'boolean':
      return typeof v === 'boolean' || v === 'true' || v === 'false';
    case 'long': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
      return Number.isFinite(n) && Math.abs(n) <= 9.223372036854776e18;
    }
    case 'float':
      return (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)));
    case 'ip':
      return typeof v === 'string' && net.isIP(v) !== 0;
    case 'date':
      return strictDate(v) !== null || (typeof v === 'number' && Number.isInteger(v));
    default:
      throw new Error(`field type [${type}] is not modelled by the simulator`);
  }
}

/** geo_point as the geoip processor writes it: {lat, lon}. */
function geoPointFits(v: unknown): boolean {
  return isObject(v) && typeof v['lat'] === 'number' && typeof v['lon'] === 'number' && Math.abs(v['lat']) <= 90 && Math.abs(v['lon']) <= 180;
}

// ---- templates and data streams ------------------------------------------------------------------------------

function mergeProperties(into: Record<string, Mapping>, from: Record<string, Mapping>): void {
  for (const [k, v] of Object.entries(from)) {
    const cur = into[k];
    if (cur && isObject(cur['properties']) && isObject(v['properties'])) {
      mergeProperties(cur['properties'] as Record<string, Mapping>, v['properties'] as Record<string, Mapping>);
    } else into[k] = structuredClone(v);
  }
}

/** The mappings and default pipeline an index template gives a new data stream, as Elasticsearch composes them. */
export function composeTemplate(
  indexTemplate: Record<string, unknown>,
  components: ReadonlyMap<string, Record<string, unknown>>,
): { mappings: Mapping; defaultPipeline: string | undefined } {
  const properties: Record<string, Mapping> = {};
  let dynamic: unknown = true;
  let defaultPipeline: string | undefined;
  const ignoreMissing = (indexTemplate['ignore_missing_component_templates'] as string[] | undefined) ?? [];
  const templates = [
    ...((indexTemplate['composed_of'] as string[]) ?? []).map((name) => {
      const c = components.get(name);
      if (!c && !ignoreMissing.includes(name)) throw new Error(`index template composed of missing component template [${name}]`);
      return (c?.['template'] ?? {}) as Record<string, unknown>;
    }),
    (indexTemplate['template'] ?? {}) as Record<string, unknown>,
  ];
  for (const t of templates) {
    const m = t['mappings'] as Mapping | undefined;
    if (m?.['dynamic'] !== undefined) dynamic = m['dynamic'];
    if (m?.['properties']) mergeProperties(properties, m['properties'] as Record<string, Mapping>);
    const s = t['settings'] as { index?: { default_pipeline?: string } } | undefined;
    if (s?.index?.default_pipeline) defaultPipeline = s.index.default_pipeline;
  }
  return { mappings: { dynamic, properties }, defaultPipeline };
}

/** A data stream: the default pipeline, then the mappings. */
export class SimulatedDataStream {
  readonly mappings: SimulatedMappings;
  readonly docs: Doc[] = [];

  constructor(mappings: Mapping, private readonly ingest: IngestSimulator | null, private readonly defaultPipeline?: string) {
    this.mappings = new SimulatedMappings(mappings);
  }

  /** Index like `_bulk` create: the stored `_source` and what was left out, or MappingRefused / an ingest error. */
  index(doc: Doc): { source: Doc } & IndexResult {
    const source = this.ingest && this.defaultPipeline ? this.ingest.run(this.defaultPipeline, doc) : structuredClone(doc);
    const result = this.mappings.index(source);
    this.docs.push(source);
    return { source, ...result };
  }
}
