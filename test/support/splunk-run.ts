/**
 * Replays the app over exported records without a Splunk: what search sees of an HEC envelope (KV_MODE = json
 * fields, metadata, indexed fields), the props.conf aliases and calculated fields applied to it, and a small
 * interpreter of the commands the saved searches use (search, where, eval, dedup, bin, stats, eventstats, convert,
 * table).
 * It exists so the SPL rendering of each detection can be run over the detection's sample registries and
 * compared with the declarative evaluator; anything it does not know is an error, never a silent pass.
 */
import { parseConf } from '../../src/content/splunk-conf.js';
import { evaluate, parseAggs, parseExpr, splitTop, type Expr, type Fields } from './splunk-spl.js';
import { durationSeconds } from '../../src/content/model.js';

export interface PropsRules {
  aliases: [string, string][];
  evals: [string, Expr][];
  /** EXTRACT-<class> = regex with named groups, applied to all of `_raw` (no byte cutoff). */
  extracts: RegExp[];
}

/**
 * limits.conf `[spath] extraction_cutoff` (default 5000): search-time JSON extraction (`KV_MODE = json`, and
 * `spath` without a path) reads only the first 5000 bytes of an event; a field whose value ends after them is
 * not extracted. Regex extractions (EXTRACT, rex) and indexed fields are not cut.
 */
export const EXTRACTION_CUTOFF = 5000;

/**
 * The INGEST_EVAL assignments transforms.conf runs on the sourcetype at index time (props.conf TRANSFORMS-*),
 * in order; each sees the fields the previous ones set.
 */
export function readIngest(propsText: string, transformsText: string, stanza: string): [string, Expr][] {
  const transforms = parseConf(transformsText, 'transforms.conf');
  const out: [string, Expr][] = [];
  for (const [key, value] of parseConf(propsText, 'props.conf').stanza(stanza)) {
    if (!/^TRANSFORMS-/i.test(key)) continue;
    for (const name of value.split(/\s*,\s*/)) {
      const t = transforms.stanza(name);
      const ingest = t.get('INGEST_EVAL');
      if (ingest === undefined || t.size !== 1) throw new Error(`transforms.conf [${name}]: only INGEST_EVAL is replayed here`);
      for (const assignment of splitTop(ingest, /,/)) {
        const a = /^([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)([\s\S]+)$/.exec(assignment.trim());
        if (!a) throw new Error(`INGEST_EVAL assignment ${assignment} is not replayed here`);
        out.push([a[1]!, parseExpr(a[2]!)]);
      }
    }
  }
  return out;
}

/** Indexed fields (and metadata) of an event, as `tstats` sees them: kept beside the search-time fields. */
const indexedOf = new WeakMap<Fields, Fields>();

/** The FIELDALIAS and EVAL settings of one props.conf stanza, in file order. */
export function readProps(text: string, stanza: string): PropsRules {
  const rules: PropsRules = { aliases: [], evals: [], extracts: [] };
  for (const [key, value] of parseConf(text, 'props.conf').stanza(stanza)) {
    if (/^FIELDALIAS-/i.test(key)) {
      const words = value.split(/\s+/);
      if (words.length % 3 !== 0) throw new Error(`${key}: expected pairs of "field AS alias"`);
      for (let i = 0; i < words.length; i += 3) {
        if (!/^as$/i.test(words[i + 1]!)) throw new Error(`${key}: expected AS after ${words[i]}`);
        rules.aliases.push([words[i]!, words[i + 2]!]);
      }
    } else if (/^EVAL-/i.test(key)) {
      rules.evals.push([key.slice(5), parseExpr(value)]);
    } else if (/^EXTRACT-/i.test(key)) {
      if (/\sin\s+\S+$/.test(value)) throw new Error(`${key}: EXTRACT ... in <field> is not replayed here`);
      rules.extracts.push(new RegExp(value));
    }
  }
  return rules;
}

/**
 * What search sees for one HEC envelope: the event's JSON fields (KV_MODE = json: nested keys joined by dots,
 * arrays as `{}`, JSON null left out), the envelope's metadata, and the indexed `fields` added on top, so a
 * field sent both ways has two equal values (the worst case for the app).
 */
export function searchTimeFields(envelope: Record<string, unknown>, options: { indexTime?: number; ingest?: [string, Expr][] } = {}): Fields {
  const out: Fields = new Map();
  const indexed: Fields = new Map();
  const add = (map: Fields, k: string, v: string): void => {
    const have = map.get(k);
    map.set(k, have === undefined ? v : [...(Array.isArray(have) ? have : [String(have)]), v]);
  };
  // _raw is the event object as HEC stores it; the JSON extraction walks it and stops at the cutoff.
  const raw = JSON.stringify(envelope.event);
  let offset = 0;
  const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');
  const walk = (prefix: string, v: unknown): void => {
    if (v === null || v === undefined) {
      offset += bytes(JSON.stringify(v ?? null));
      return;
    }
    if (Array.isArray(v)) {
      offset += 1;
      v.forEach((x, i) => {
        if (i > 0) offset += 1;
        walk(`${prefix}{}`, x);
      });
      offset += 1;
    } else if (typeof v === 'object') {
      offset += 1;
      Object.entries(v).forEach(([k, x], i) => {
        if (i > 0) offset += 1;
        offset += bytes(JSON.stringify(k)) + 1;
        walk(prefix ? `${prefix}.${k}` : k, x);
      });
      offset += 1;
    } else {
      offset += bytes(JSON.stringify(v));
      if (offset <= EXTRACTION_CUTOFF) add(out, prefix, String(v));
    }
  };
  walk('', envelope.event);
  if (offset !== bytes(raw)) throw new Error('the extraction model lost its place in _raw');
  out.set('_raw', raw);
  for (const k of ['host', 'source', 'sourcetype', 'index']) {
    if (typeof envelope[k] === 'string') add(out, k, envelope[k] as string), add(indexed, k, envelope[k] as string);
  }
  const time = Number(envelope.time);
  const indexTime = options.indexTime ?? time;
  for (const [k, v] of [['_time', time], ['_indextime', indexTime]] as const) out.set(k, v), indexed.set(k, v);
  for (const [k, v] of Object.entries((envelope.fields as Record<string, string> | undefined) ?? {})) add(out, k, v), add(indexed, k, v);
  // Index time: INGEST_EVAL sees _time and the indexed fields; now() is the time of indexing.
  for (const [name, expr] of options.ingest ?? []) {
    const v = evaluate(expr, indexed, { now: indexTime });
    for (const map of [out, indexed]) {
      if (v === null) map.delete(name);
      else map.set(name, typeof v === 'boolean' ? String(v) : v);
    }
  }
  indexedOf.set(out, indexed);
  return out;
}

/** FIELDALIAS first, then every EVAL at once over the aliased fields (Splunk runs calculated fields in parallel). */
export function applyProps(rules: PropsRules, fields: Fields): Fields {
  const out: Fields = new Map(fields);
  const raw = fields.get('_raw');
  for (const re of rules.extracts) {
    const m = typeof raw === 'string' ? re.exec(raw) : null;
    for (const [k, v] of Object.entries(m?.groups ?? {})) if (v !== undefined && !out.has(k)) out.set(k, v);
  }
  for (const [from, to] of rules.aliases) {
    const v = fields.get(from);
    if (v !== undefined) out.set(to, v);
  }
  const input = new Map(out);
  for (const [name, expr] of rules.evals) {
    const v = evaluate(expr, input);
    if (v === null) out.delete(name);
    else if (typeof v === 'boolean') throw new Error(`EVAL-${name} gives a boolean`);
    else out.set(name, v);
  }
  const indexed = indexedOf.get(fields);
  if (indexed) indexedOf.set(out, indexed);
  return out;
}

export interface RunOptions {
  /** The time of the run (Unix seconds); events after it are not searched. */
  now: number;
  /** `dispatch.earliest_time` as a relative modifier such as `-10m`: events at or before now minus it are left out. */
  earliest: string;
  /** `dispatch.index_earliest`: also leave out events indexed at or before now minus it. */
  indexEarliest?: string;
  macros: Map<string, string>;
}

function expandMacros(text: string, macros: Map<string, string>, depth = 0): string {
  if (depth > 10) throw new Error('macros nest too deep');
  return text.replace(/`([A-Za-z0-9_]+)`/g, (_, name: string) => {
    const def = macros.get(name);
    if (def === undefined) throw new Error(`macro ${name} is not defined`);
    return `(${expandMacros(def, macros, depth + 1)})`;
  });
}

const values = (f: Fields, name: string): string[] => {
  const v = f.get(name);
  return v === undefined ? [] : Array.isArray(v) ? v : [String(v)];
};

const num = (f: Fields, name: string): number | null => {
  const [v] = values(f, name);
  const n = Number(v);
  return v === undefined || v.trim() === '' || !Number.isFinite(n) ? null : n;
};

function stats(rows: Fields[], args: string): Fields[] {
  const agg = parseAggs(args);
  const groups = new Map<string, { key: string[]; rows: Fields[] }>();
  for (const row of rows) {
    const key: string[] = [];
    for (const b of agg.by) {
      const vs = values(row, b);
      if (vs.length !== 1) {
        if (vs.length === 0) key.length = 0;
        else throw new Error(`stats by the multivalue field ${b} is not replayed here`);
        break;
      }
      key.push(vs[0]!);
    }
    if (key.length !== agg.by.length) continue;
    const id = JSON.stringify(key);
    if (!groups.has(id)) groups.set(id, { key, rows: [] });
    groups.get(id)!.rows.push(row);
  }
  return [...groups.values()].map(({ key, rows: members }) => {
    const out: Fields = new Map();
    agg.by.forEach((b, i) => out.set(b, key[i]!));
    for (const { fn, arg, name } of agg.items) {
      const all = arg === undefined ? [] : members.flatMap((r) => values(r, arg));
      const nums = arg === undefined ? [] : members.map((r) => num(r, arg)).filter((n): n is number => n !== null);
      switch (fn) {
        case 'count':
          out.set(name, arg === undefined ? members.length : all.length);
          break;
        case 'dc':
          out.set(name, new Set(all).size);
          break;
        case 'values':
          if (all.length > 0) out.set(name, [...new Set(all)].sort());
          break;
        case 'sum':
          out.set(name, nums.reduce((a, b) => a + b, 0));
          break;
        case 'min':
        case 'max':
          if (nums.length > 0) out.set(name, fn === 'min' ? Math.min(...nums) : Math.max(...nums));
          break;
        case 'earliest': {
          const first = members.filter((r) => values(r, arg!).length > 0).sort((a, b) => num(a, '_time')! - num(b, '_time')!)[0];
          if (first) out.set(name, first.get(arg!)!);
          break;
        }
        default:
          throw new Error(`stats function ${fn} is not replayed here`);
      }
    }
    return out;
  });
}

/**
 * The terms of a `search` command as a test on one event. `field=value` terms (a quoted or bare value, matched
 * exactly; `index=*` matches all), joined by AND (or nothing), OR and NOT, grouped by parentheses, in the order
 * Splunk's search command evaluates them: parentheses, then NOT, then OR, then AND, so `a b OR c` is
 * `a AND (b OR c)`.
 */
function searchTerms(text: string): (r: Fields) => boolean {
  const tokens: string[] = [];
  for (const m of text.matchAll(/\s*(\(|\)|[A-Za-z_][A-Za-z0-9_.]*=(?:"(?:[^"\\]|\\.)*"|[^\s()]+)|[^\s()]+)/g)) tokens.push(m[1]!);
  let p = 0;
  type Test = (r: Fields) => boolean;
  const all: Test = () => true;
  const and = (): Test => {
    const parts: Test[] = [];
    while (p < tokens.length && tokens[p] !== ')') {
      if (tokens[p] === 'AND') p++;
      parts.push(or());
    }
    return (r) => parts.every((t) => t(r));
  };
  const or = (): Test => {
    const parts = [not()];
    while (tokens[p] === 'OR') p++, parts.push(not());
    return (r) => parts.some((t) => t(r));
  };
  const not = (): Test => {
    if (tokens[p] !== 'NOT') return primary();
    p++;
    const t = not();
    return (r) => !t(r);
  };
  const primary = (): Test => {
    const tok = tokens[p++];
    if (tok === '(') {
      const t = and();
      if (tokens[p++] !== ')') throw new Error(`unbalanced parentheses in search ${text}`);
      return t;
    }
    const kv = tok === undefined ? null : /^([A-Za-z_][A-Za-z0-9_.]*)=(.+)$/.exec(tok);
    if (!kv) throw new Error(`search term ${tok ?? '(none)'} is not replayed here`);
    if (kv[1] === 'index' && kv[2] === '*') return all;
    const want = kv[2]!.startsWith('"') ? kv[2]!.slice(1, -1).replace(/\\(.)/g, '$1') : kv[2]!;
    return (r) => values(r, kv[1]!).includes(want);
  };
  const test = and();
  if (p !== tokens.length) throw new Error(`unbalanced parentheses in search ${text}`);
  return test;
}

/** Run a search over events (already through props.conf) as one scheduled run; returns its result rows. */
export function runSearch(spl: string, events: Fields[], options: RunOptions): Fields[] {
  const start = options.now - durationSeconds(options.earliest.replace(/^-/, ''));
  const indexStart = options.indexEarliest === undefined ? null : options.now - durationSeconds(options.indexEarliest.replace(/^-/, ''));
  let rows = events.filter((e) => {
    const t = num(e, '_time');
    const it = num(e, '_indextime');
    return t !== null && t > start && t <= options.now && (indexStart === null || (it !== null && it > indexStart && it <= options.now));
  });
  const clock = { now: options.now };
  // A search that starts with a generating command (`| tstats`) has no search segment.
  const segments = splitTop(spl.replace(/^\s*\|\s*/, ''), /\|/);
  const generating = /^\s*\|\s*tstats\b/.test(spl);
  segments.forEach((segment, index) => {
    const m = /^([A-Za-z_]+)\s*([\s\S]*)$/.exec(segment);
    let command = m?.[1] ?? '';
    let args = m?.[2] ?? '';
    if (index === 0 && command !== 'search' && !generating) (command = 'search'), (args = segment);
    if (command === 'tstats' && index !== 0) throw new Error('tstats must be the first command');
    switch (command) {
      case 'tstats': {
        // tstats reads index-time data only: metadata and indexed fields, never the search-time extractions.
        const w = /^([\s\S]*?)\s+where\s+([\s\S]*?)(\s+by\s+[\s\S]*)?$/.exec(args);
        if (!w) throw new Error(`tstats ${args}: expected <aggregations> where <terms> [by <fields>]`);
        let only = rows.map((r) => {
          const indexed = indexedOf.get(r);
          if (!indexed) throw new Error('tstats needs events made by searchTimeFields');
          return indexed;
        });
        let negate = false;
        for (const term of splitTop(expandMacros(w[2]!, options.macros).replace(/[()]/g, ' '), /\s/)) {
          if (term === 'NOT') {
            negate = true;
            continue;
          }
          const kv = /^([A-Za-z_][A-Za-z0-9_.]*)=(.+)$/.exec(term);
          if (!kv) throw new Error(`tstats term ${term} is not replayed here`);
          if (kv[1] === 'index' && kv[2] === '*') continue;
          const want = kv[2]!.replace(/^"|"$/g, '');
          const not = negate;
          negate = false;
          only = only.filter((r) => (want === '*' ? values(r, kv[1]!).length > 0 : values(r, kv[1]!).includes(want)) !== not);
        }
        rows = stats(only, `${w[1]}${w[3] ?? ''}`);
        break;
      }
      case 'search': {
        const keep = searchTerms(expandMacros(args, options.macros));
        rows = rows.filter(keep);
        break;
      }
      case 'where': {
        const e = parseExpr(args);
        rows = rows.filter((r) => evaluate(e, r, clock) === true);
        break;
      }
      case 'eval':
        for (const assignment of splitTop(args, /,/)) {
          const a = /^([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)([\s\S]+)$/.exec(assignment);
          if (!a) throw new Error(`eval assignment ${assignment} is not replayed here`);
          const e = parseExpr(a[2]!);
          rows = rows.map((r) => {
            const v = evaluate(e, r, clock);
            const out = new Map(r);
            if (v === null) out.delete(a[1]!);
            else out.set(a[1]!, typeof v === 'boolean' ? String(v) : v);
            return out;
          });
        }
        break;
      case 'bin': {
        const span = /span=(\S+)/.exec(args)?.[1];
        if (!span || !/^_time\b/.test(args.trim())) throw new Error(`bin ${args} is not replayed here`);
        const s = durationSeconds(span);
        rows = rows.map((r) => new Map(r).set('_time', Math.floor(num(r, '_time')! / s) * s));
        break;
      }
      case 'stats':
        rows = stats(rows, args);
        break;
      case 'eventstats': {
        // The same aggregation, added to every row of its group (rows without a by field get nothing).
        const by = parseAggs(args).by;
        const keyOf = (r: Fields): string | null => {
          const vs = by.map((b) => values(r, b));
          if (vs.some((v) => v.length !== 1)) return null;
          return JSON.stringify(vs.map((v) => v[0]));
        };
        const totals = new Map(stats(rows, args).map((g) => [keyOf(g), g] as const));
        rows = rows.map((r) => {
          const g = totals.get(keyOf(r));
          if (keyOf(r) === null || !g) return r;
          const out = new Map(r);
          for (const [k, v] of g) if (!by.includes(k)) out.set(k, v);
          return out;
        });
        break;
      }
      case 'dedup': {
        const words = args.split(/[\s,]+/).filter((n) => n !== '');
        const keepEmpty = words.includes('keepempty=true');
        const names = words.filter((n) => !n.includes('='));
        const seen = new Set<string>();
        rows = rows.filter((r) => {
          // Splunk's dedup drops an event that lacks any of the fields, unless keepempty=true keeps it.
          if (names.some((n) => values(r, n).length === 0)) return keepEmpty;
          const key = JSON.stringify(names.map((n) => values(r, n)));
          return seen.has(key) ? false : (seen.add(key), true);
        });
        break;
      }
      case 'convert':
        for (const c of args.matchAll(/ctime\(([^)]*)\)/g)) {
          rows = rows.map((r) => {
            const t = num(r, c[1]!);
            return t === null ? r : new Map(r).set(c[1]!, new Date(t * 1000).toISOString());
          });
        }
        break;
      case 'table': {
        const names = args.split(/[\s,]+/).filter((n) => n !== '');
        rows = rows.map((r) => new Map(names.filter((n) => r.has(n)).map((n) => [n, r.get(n)!])));
        break;
      }
      default:
        throw new Error(`the search command ${command} is not replayed here`);
    }
  });
  return rows;
}
