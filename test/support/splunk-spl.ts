/**
 * Just enough of Splunk's search language to check the app without a Splunk: an evaluator for the small part
 * of the `eval` expression language our props.conf uses (literals, fields, comparison, `.` concatenation,
 * AND/OR/NOT, if, case, coalesce, null, isnull, isnotnull, match, mvdedup, and the now/relative_time of the
 * saved searches), and a reader that walks a search pipeline command by command to list the macros, event
 * types and fields it uses. Both refuse what they do not know, so new SPL in the app fails a test until it is
 * understood here rather than passing unchecked.
 */

export type Expr =
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'field'; name: string }
  | { t: 'call'; name: string; args: Expr[] }
  | { t: 'bin'; op: string; l: Expr; r: Expr }
  | { t: 'not'; e: Expr };

type Tok = { k: 'str' | 'num' | 'field' | 'id' | 'op'; v: string };

function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'") {
      let v = '';
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\' && c === '"' && (text[i + 1] === '"' || text[i + 1] === '\\')) i++;
        v += text[i++];
      }
      if (i >= text.length) throw new Error(`unterminated ${c} quote in ${JSON.stringify(text)}`);
      i++;
      out.push({ k: c === '"' ? 'str' : 'field', v });
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(text.slice(i))!;
      out.push({ k: 'num', v: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      out.push({ k: 'id', v: m[0] });
      i += m[0].length;
    } else {
      const m = /^(==|!=|<=|>=|[=<>(),.+\-*/])/.exec(text.slice(i));
      if (!m) throw new Error(`unexpected ${JSON.stringify(c)} in ${JSON.stringify(text)}`);
      out.push({ k: 'op', v: m[0] });
      i += m[0].length;
    }
  }
  return out;
}

/** Parse an eval/where expression. */
export function parseExpr(text: string): Expr {
  const toks = tokenize(text);
  let p = 0;
  const peek = (): Tok | undefined => toks[p];
  const isWord = (w: string): boolean => peek()?.k === 'id' && peek()!.v.toUpperCase() === w && peek()!.v === w;
  const isOp = (o: string): boolean => peek()?.k === 'op' && peek()!.v === o;
  const expect = (o: string): void => {
    if (!isOp(o)) throw new Error(`expected ${o} at token ${p} of ${JSON.stringify(text)}`);
    p++;
  };
  const orExpr = (): Expr => {
    let l = andExpr();
    while (isWord('OR')) p++, (l = { t: 'bin', op: 'OR', l, r: andExpr() });
    return l;
  };
  const andExpr = (): Expr => {
    let l = notExpr();
    while (isWord('AND')) p++, (l = { t: 'bin', op: 'AND', l, r: notExpr() });
    return l;
  };
  const notExpr = (): Expr => {
    if (isWord('NOT')) return p++, { t: 'not', e: notExpr() };
    return cmpExpr();
  };
  const cmpExpr = (): Expr => {
    const l = catExpr();
    for (const op of ['==', '=', '!=', '<=', '>=', '<', '>']) {
      if (isOp(op)) {
        p++;
        return { t: 'bin', op: op === '=' ? '==' : op, l, r: catExpr() };
      }
    }
    return l;
  };
  const catExpr = (): Expr => {
    let l = primary();
    while (isOp('.') || isOp('+') || isOp('-') || isOp('*') || isOp('/')) {
      const op = toks[p++]!.v;
      l = { t: 'bin', op, l, r: primary() };
    }
    return l;
  };
  const primary = (): Expr => {
    const tok = toks[p++];
    if (!tok) throw new Error(`expression ends early: ${JSON.stringify(text)}`);
    if (tok.k === 'str') return { t: 'str', v: tok.v };
    if (tok.k === 'num') return { t: 'num', v: Number(tok.v) };
    if (tok.k === 'field') return { t: 'field', name: tok.v };
    if (tok.k === 'op' && tok.v === '(') {
      const e = orExpr();
      expect(')');
      return e;
    }
    if (tok.k === 'op' && tok.v === '-' && peek()?.k === 'num') return { t: 'num', v: -Number(toks[p++]!.v) };
    if (tok.k === 'id') {
      if (isOp('(')) {
        p++;
        const args: Expr[] = [];
        if (!isOp(')')) {
          args.push(orExpr());
          while (isOp(',')) p++, args.push(orExpr());
        }
        expect(')');
        return { t: 'call', name: tok.v, args };
      }
      return { t: 'field', name: tok.v };
    }
    throw new Error(`unexpected ${JSON.stringify(tok.v)} in ${JSON.stringify(text)}`);
  };
  const e = orExpr();
  if (p !== toks.length) throw new Error(`unexpected ${JSON.stringify(toks[p]!.v)} after a complete expression in ${JSON.stringify(text)}`);
  return e;
}

/** Every field an expression reads. */
export function fieldRefs(e: Expr, out = new Set<string>()): Set<string> {
  if (e.t === 'field') out.add(e.name);
  else if (e.t === 'call') e.args.forEach((a) => fieldRefs(a, out));
  else if (e.t === 'bin') fieldRefs(e.l, out), fieldRefs(e.r, out);
  else if (e.t === 'not') fieldRefs(e.e, out);
  return out;
}

/** A field value as search sees it: absent (null), one value, or several (a multivalue field). */
export type Value = null | string | number | boolean | string[];
export type Fields = Map<string, string | number | string[]>;

const scalars = (v: Value): (string | number)[] =>
  v === null || typeof v === 'boolean' ? [] : Array.isArray(v) ? v : [v];

function equal(a: Value, b: Value): boolean | null {
  if (a === null || b === null) return null;
  const bs = scalars(b).map(String);
  return scalars(a).some((x) => bs.includes(String(x)));
}

function numeric(v: Value): number | null {
  const [x] = scalars(v);
  if (x === undefined || scalars(v).length !== 1) return null;
  const n = typeof x === 'number' ? x : Number(x);
  return typeof x === 'string' && x.trim() === '' ? null : Number.isFinite(n) ? n : null;
}

/** Evaluate an expression over one event's fields, with Splunk's null semantics (null is not true). */
export function evaluate(e: Expr, fields: Fields, clock: { now?: number } = {}): Value {
  const ev = (x: Expr): Value => evaluate(x, fields, clock);
  switch (e.t) {
    case 'str':
    case 'num':
      return e.v;
    case 'field': {
      const v = fields.get(e.name);
      return v === undefined ? null : Array.isArray(v) && v.length === 1 ? v[0]! : v;
    }
    case 'not': {
      const v = ev(e.e);
      return v === null ? null : v !== true;
    }
    case 'bin': {
      if (e.op === 'AND') return ev(e.l) === true && ev(e.r) === true;
      if (e.op === 'OR') return ev(e.l) === true || ev(e.r) === true;
      const l = ev(e.l);
      const r = ev(e.r);
      if (l === null || r === null) return null;
      if (e.op === '==') return equal(l, r);
      if (e.op === '!=') return !equal(l, r);
      if (e.op === '.') {
        if (Array.isArray(l) || Array.isArray(r)) throw new Error('`.` of a multivalue field');
        return `${String(l)}${String(r)}`;
      }
      const a = numeric(l);
      const b = numeric(r);
      if (a === null || b === null) return null;
      switch (e.op) {
        case '<': return a < b;
        case '>': return a > b;
        case '<=': return a <= b;
        case '>=': return a >= b;
        case '+': return a + b;
        case '-': return a - b;
        case '*': return a * b;
        case '/': return a / b;
      }
      throw new Error(`operator ${e.op} is not supported`);
    }
    case 'call':
      return call(e.name, e.args, ev, clock);
  }
}

function arity(name: string, args: Expr[], n: number): void {
  if (args.length !== n) throw new Error(`${name}() takes ${n} argument(s), got ${args.length}`);
}

/** `relative_time(t, "-10m")`: only a plain offset, without snapping to a unit. */
function relativeTime(t: number, modifier: string): number {
  const m = /^([+-])(\d+)([smhd])$/.exec(modifier);
  if (!m) throw new Error(`relative_time modifier ${modifier} is not understood by this checker`);
  const seconds = Number(m[2]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[3] as 's' | 'm' | 'h' | 'd'];
  return m[1] === '-' ? t - seconds : t + seconds;
}

function call(name: string, args: Expr[], ev: (x: Expr) => Value, clock: { now?: number }): Value {
  switch (name) {
    case 'now':
      arity(name, args, 0);
      if (clock.now === undefined) throw new Error('now() needs the time of the search run');
      return clock.now;
    case 'relative_time': {
      arity(name, args, 2);
      const t = numeric(ev(args[0]!));
      const modifier = ev(args[1]!);
      if (t === null || typeof modifier !== 'string') return null;
      return relativeTime(t, modifier);
    }
    case 'if':
      arity(name, args, 3);
      return ev(args[0]!) === true ? ev(args[1]!) : ev(args[2]!);
    case 'case':
      if (args.length % 2 !== 0 || args.length === 0) throw new Error('case() takes condition/value pairs');
      for (let i = 0; i < args.length; i += 2) if (ev(args[i]!) === true) return ev(args[i + 1]!);
      return null;
    case 'coalesce':
      for (const a of args) {
        const v = ev(a);
        if (v !== null) return v;
      }
      return null;
    case 'null':
      arity(name, args, 0);
      return null;
    case 'true':
      arity(name, args, 0);
      return true;
    case 'isnull':
      arity(name, args, 1);
      return ev(args[0]!) === null;
    case 'isnotnull':
      arity(name, args, 1);
      return ev(args[0]!) !== null;
    case 'match': {
      arity(name, args, 2);
      const v = ev(args[0]!);
      const re = ev(args[1]!);
      if (typeof re !== 'string') throw new Error('match() needs a regular expression string');
      if (v === null) return null;
      return scalars(v).some((x) => new RegExp(re).test(String(x)));
    }
    case 'mvdedup': {
      arity(name, args, 1);
      const v = ev(args[0]!);
      if (!Array.isArray(v)) return v;
      const uniq = [...new Set(v)];
      return uniq.length === 1 ? uniq[0]! : uniq;
    }
  }
  throw new Error(`eval function ${name}() is not supported by this checker`);
}

// ---------------------------------------------------------------------------------------------------------------
// Search pipelines

export interface SplUse {
  macros: Set<string>;
  eventtypes: Set<string>;
  /** Fields read by a command while they were not available at that point of the pipeline. */
  undefinedFields: { field: string; command: string }[];
  /** Every field read anywhere. */
  fieldsRead: Set<string>;
}

/** Split on `sep` outside quotes, backticks and brackets. */
export function splitTop(text: string, sep: RegExp): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === '`' || c === "'") quote = c;
    else if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (depth === 0 && sep.test(c)) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} in ${JSON.stringify(text)}`);
  parts.push(text.slice(start));
  return parts.map((s) => s.trim()).filter((s) => s !== '');
}

/** `a b, c` → [a, b, c] */
const nameList = (text: string): string[] => text.split(/[\s,]+/).filter((s) => s !== '');

const FIELD = /^[A-Za-z_][A-Za-z0-9_.{}]*$/;

export interface Agg {
  items: { fn: string; arg?: string; name: string }[];
  reads: string[];
  makes: string[];
  options: Map<string, string>;
  by: string[];
}

/** `stats`-style arguments: options (k=v), aggregations `fn(field) [as name]`, then an optional `by` list. */
export function parseAggs(args: string): Agg {
  const byAt = args.search(/\s+by\s+/i);
  const head = byAt < 0 ? args : args.slice(0, byAt);
  const by = byAt < 0 ? [] : nameList(args.slice(byAt).replace(/^\s+by\s+/i, ''));
  const items: Agg['items'] = [];
  const reads: string[] = [];
  const makes: string[] = [];
  const options = new Map<string, string>();
  let rest = head.trim();
  while (rest !== '') {
    rest = rest.replace(/^[,\s]+/, '');
    if (rest === '') break;
    const opt = /^([A-Za-z_]+)=("[^"]*"|\S+)/.exec(rest);
    if (opt) {
      options.set(opt[1]!, opt[2]!.replace(/^"|"$/g, ''));
      rest = rest.slice(opt[0].length);
      continue;
    }
    const agg = /^([A-Za-z_]+)(?:\(([^()]*)\))?(?:\s+as\s+([A-Za-z_][A-Za-z0-9_]*))?/i.exec(rest);
    if (!agg || agg[0] === '') throw new Error(`cannot read aggregation at ${JSON.stringify(rest)}`);
    const [, fn, arg, as] = agg;
    if (arg !== undefined) {
      if (!FIELD.test(arg)) throw new Error(`aggregation ${fn}(${arg}) reads something other than a field`);
      reads.push(arg);
    }
    const name = as ?? (arg !== undefined ? `${fn}(${arg})` : fn!);
    makes.push(name);
    items.push(arg === undefined ? { fn: fn!, name } : { fn: fn!, arg, name });
    rest = rest.slice(agg[0].length);
  }
  for (const f of by) if (!FIELD.test(f)) throw new Error(`${JSON.stringify(f)} in a by clause is not a field`);
  return { items, reads, makes, options, by };
}

const METADATA = ['_time', '_indextime', '_raw', 'host', 'source', 'sourcetype', 'index', 'eventtype', 'tag', 'splunk_server'];

/**
 * Walk a search: the first segment is a search (macros, `eventtype=`, `field=value` terms), the others are
 * commands. `available` is what the events carry before the first command (their fields, aliases and evals).
 */
export function analyzeSearch(spl: string, available: Iterable<string>): SplUse {
  const use: SplUse = { macros: new Set(), eventtypes: new Set(), undefinedFields: [], fieldsRead: new Set() };
  let have = new Set<string>([...available, ...METADATA]);
  const read = (field: string, command: string): void => {
    use.fieldsRead.add(field);
    if (!have.has(field)) use.undefinedFields.push({ field, command });
  };
  const generating = /^\s*\|\s*tstats\b/.test(spl);
  const segments = splitTop(spl.replace(/^\s*\|\s*/, ''), /\|/);
  segments.forEach((segment, index) => {
    const m = /^([A-Za-z_]+)\s*([\s\S]*)$/.exec(segment);
    let command = m?.[1] ?? '';
    let args = m?.[2] ?? '';
    if (index === 0 && command !== 'search' && !generating) (command = 'search'), (args = segment);
    switch (command) {
      case 'tstats': {
        // Aggregations over index-time fields, then `where` terms (macros, field=value), then `by`.
        const w = /^([\s\S]*?)\s+where\s+([\s\S]*?)(\s+by\s+[\s\S]*)?$/.exec(args);
        if (!w) throw new Error(`cannot read tstats ${JSON.stringify(args)}`);
        for (const term of splitTop(w[2]!, /\s/)) {
          const macro = /^\(*`([A-Za-z0-9_]+)`\)*$/.exec(term);
          if (macro) use.macros.add(macro[1]!);
          else if (term === 'NOT') continue;
          else {
            const kv = /^([A-Za-z_][A-Za-z0-9_.]*)=(.+)$/.exec(term);
            if (!kv) throw new Error(`cannot read tstats term ${JSON.stringify(term)}`);
            read(kv[1]!, command);
          }
        }
        const agg = parseAggs(`${w[1]}${w[3] ?? ''}`);
        [...agg.reads, ...agg.by].forEach((f) => read(f, command));
        have = new Set([...agg.makes, ...agg.by]);
        break;
      }
      case 'search':
        for (const term of splitTop(args, /\s/)) {
          const t = term.replace(/^\(+|\)+$/g, '');
          const macro = /^`([A-Za-z0-9_]+)(?:\((.*)\))?`$/.exec(t);
          if (macro) {
            use.macros.add(macro[2] === undefined ? macro[1]! : `${macro[1]}(${splitTop(macro[2], /,/).length})`);
            continue;
          }
          if (/^(AND|OR|NOT)$/.test(t) || t === '') continue;
          const kv = /^([A-Za-z_][A-Za-z0-9_.{}]*)(!?=)(.+)$/.exec(t);
          if (!kv) throw new Error(`cannot read search term ${JSON.stringify(t)}`);
          if (kv[1] === 'eventtype') use.eventtypes.add(kv[3]!.replace(/^"|"$/g, ''));
          else if (kv[1] !== 'earliest' && kv[1] !== 'latest') read(kv[1]!, command);
        }
        break;
      case 'where':
        for (const f of fieldRefs(parseExpr(args))) read(f, command);
        break;
      case 'eval': {
        const made: string[] = [];
        for (const assignment of splitTop(args, /,/)) {
          const a = /^([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)([\s\S]+)$/.exec(assignment);
          if (!a) throw new Error(`cannot read eval assignment ${JSON.stringify(assignment)}`);
          for (const f of fieldRefs(parseExpr(a[2]!))) read(f, command);
          made.push(a[1]!);
        }
        made.forEach((f) => have.add(f));
        break;
      }
      case 'stats':
      case 'eventstats':
      case 'streamstats':
      case 'timechart':
      case 'chart':
      case 'geostats': {
        const agg = parseAggs(args);
        if (command === 'geostats') agg.reads.push(agg.options.get('latfield') ?? 'lat', agg.options.get('longfield') ?? 'lon');
        if (command === 'timechart') agg.reads.push('_time');
        [...agg.reads, ...agg.by].forEach((f) => read(f, command));
        if (command === 'stats' || command === 'chart') have = new Set([...agg.makes, ...agg.by]);
        else if (command === 'timechart' || command === 'geostats') have = new Set(['_time', ...agg.makes]);
        else agg.makes.forEach((f) => have.add(f));
        break;
      }
      case 'top':
      case 'rare': {
        const agg = parseAggs(args);
        const fields = agg.makes;
        [...fields, ...agg.by].forEach((f) => read(f, command));
        have = new Set([...fields, ...agg.by, 'count', 'percent']);
        break;
      }
      case 'table':
      case 'fields':
      case 'dedup':
        for (const f of nameList(args.replace(/^[+-]\s+/, ''))) {
          if (f.includes('*') || /^[A-Za-z_]+=/.test(f) || /^\d+$/.test(f)) continue;
          read(f, command);
        }
        if (command === 'table') have = new Set(nameList(args));
        break;
      case 'sort':
        for (const f of nameList(args)) {
          const name = f.replace(/^[+-]/, '');
          if (name === '' || /^\d+$/.test(name)) continue;
          read(name, command);
        }
        break;
      case 'head':
        if (!/^\d*$/.test(args.trim())) throw new Error(`head ${args}: only a count is understood here`);
        break;
      case 'rename':
        for (const pair of splitTop(args, /,/)) {
          const r = /^(\S+)\s+as\s+(\S+)$/i.exec(pair);
          if (!r) throw new Error(`cannot read rename ${JSON.stringify(pair)}`);
          read(r[1]!, command);
          have.delete(r[1]!);
          have.add(r[2]!.replace(/^"|"$/g, ''));
        }
        break;
      case 'iplocation': {
        const words = nameList(args).filter((w) => !w.includes('='));
        if (words.length !== 1) throw new Error(`iplocation ${args}: expected one field`);
        read(words[0]!, command);
        ['City', 'Country', 'Region', 'lat', 'lon'].forEach((f) => have.add(f));
        break;
      }
      case 'bin':
      case 'bucket': {
        const words = nameList(args).filter((w) => !w.includes('='));
        read(words[0] ?? '', command);
        break;
      }
      case 'convert':
        for (const c of args.matchAll(/([a-z]+)\(([^)]*)\)(?:\s+as\s+([A-Za-z_][A-Za-z0-9_]*))?/gi)) {
          read(c[2]!, command);
          if (c[3]) have.add(c[3]);
        }
        break;
      default:
        throw new Error(`the search command ${JSON.stringify(command)} is not understood by this checker`);
    }
  });
  return use;
}
