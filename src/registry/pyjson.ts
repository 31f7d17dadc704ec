/**
 * JSON text exactly as the reference's Python `json` module reads and writes it.
 *
 * The Sentinel `ExtraJson` column is a *string* holding `json.dumps(extra, separators=(",", ":"))`, so its
 * bytes matter, not just its meaning: keys keep their first-seen order (JS objects would move integer-like keys
 * to the front), floats keep Python's repr (`1.0`, `1e-05`), integers keep every digit, and non-ASCII is
 * written as `\uXXXX`. Re-serialising through JSON.parse/JSON.stringify gets all four wrong, so `extra` is
 * transcoded here in one pass, without building objects.
 */

const HEX = '0123456789abcdef';

function escapeAsciiUnit(c: number): string {
  switch (c) {
    case 0x22: return '\\"';
    case 0x5c: return '\\\\';
    case 0x0a: return '\\n';
    case 0x0d: return '\\r';
    case 0x09: return '\\t';
    case 0x08: return '\\b';
    case 0x0c: return '\\f';
    default:
      return '\\u' + HEX[(c >> 12) & 15] + HEX[(c >> 8) & 15] + HEX[(c >> 4) & 15] + HEX[c & 15];
  }
}

/** A JSON string literal as Python's `json.dumps` writes it with `ensure_ascii=True`. */
export function quoteAscii(s: string): string {
  let out = '';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) continue;
    if (i > start) out += s.slice(start, i);
    out += escapeAsciiUnit(c);
    start = i + 1;
  }
  if (start === 0) return '"' + s + '"';
  return '"' + out + s.slice(start) + '"';
}

/** Python's `repr(float)`: shortest round-trip digits, exponent form below 1e-4 and from 1e16 on. */
export function floatRepr(x: number): string {
  // Whole numbers below 1e16 (every Splunk `time`) print as their digits and ".0".
  if (Number.isInteger(x) && x < 1e16 && x > -1e16 && !Object.is(x, -0)) return String(x) + '.0';
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = x.toExponential().split('e') as [string, string];
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const exp = Number(expText);
  const sign = negative ? '-' : '';
  if (exp < -4 || exp >= 16) {
    const frac = digits.length > 1 ? '.' + digits.slice(1) : '';
    const e = Math.abs(exp);
    return sign + digits[0] + frac + 'e' + (exp < 0 ? '-' : '+') + (e < 10 ? '0' + e : String(e));
  }
  if (exp < 0) return sign + '0.' + '0'.repeat(-exp - 1) + digits;
  if (digits.length <= exp + 1) return sign + digits + '0'.repeat(exp + 1 - digits.length) + '.0';
  return sign + digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
}

/** A number as Python would print the value SQLite handed it (INTEGER as an int, REAL as a float). */
export function pyNumber(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e21) return Object.is(x, -0) ? '0' : String(x);
  return floatRepr(x);
}

class InvalidJson extends Error {}
const INVALID = new InvalidJson('invalid JSON');
const MAX_DEPTH = 1000;
/** Keys an object may have before they are looked up in a Map rather than a list. */
const SHORT_OBJECT = 16;

/**
 * One-pass reader of Python's `json.loads` grammar (strict JSON plus NaN, Infinity and -Infinity) that
 * writes Python's compact `json.dumps` text as it goes.
 */
class Transcoder {
  i = 0;
  nonFinite = false;
  constructor(readonly s: string, readonly nonFiniteAsNull: boolean) {}

  ws(): void {
    const s = this.s;
    let c = s.charCodeAt(this.i);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = s.charCodeAt(++this.i);
  }

  value(depth: number): string {
    if (depth > MAX_DEPTH) throw INVALID;
    const s = this.s;
    const c = s.charCodeAt(this.i);
    switch (c) {
      case 0x22: return quoteAscii(this.string());
      case 0x7b: return this.object(depth);
      case 0x5b: return this.array(depth);
      case 0x74: return this.literal('true', 'true');
      case 0x66: return this.literal('false', 'false');
      case 0x6e: return this.literal('null', 'null');
      case 0x4e: return this.nonFiniteLiteral('NaN', 'NaN');
      case 0x49: return this.nonFiniteLiteral('Infinity', 'Infinity');
      default:
        if (c === 0x2d && s.startsWith('-Infinity', this.i)) return this.nonFiniteLiteral('-Infinity', '-Infinity');
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        throw INVALID;
    }
  }

  literal(word: string, out: string): string {
    if (!this.s.startsWith(word, this.i)) throw INVALID;
    this.i += word.length;
    return out;
  }

  nonFiniteLiteral(word: string, out: string): string {
    this.literal(word, out);
    this.nonFinite = true;
    return this.nonFiniteAsNull ? 'null' : out;
  }

  number(): string {
    const s = this.s;
    const start = this.i;
    let i = start;
    if (s.charCodeAt(i) === 0x2d) i++;
    let c = s.charCodeAt(i);
    if (c === 0x30) i++;
    else if (c >= 0x31 && c <= 0x39) { do c = s.charCodeAt(++i); while (c >= 0x30 && c <= 0x39); }
    else throw INVALID;
    const intEnd = i;
    let isFloat = false;
    // Python's NUMBER_RE only takes a fraction or exponent that has digits; a bare '.' or 'e' is left
    // behind and then rejected as extra data, exactly like strict JSON.
    if (s.charCodeAt(i) === 0x2e && isDigit(s.charCodeAt(i + 1))) {
      i += 2;
      while (isDigit(s.charCodeAt(i))) i++;
      isFloat = true;
    }
    c = s.charCodeAt(i);
    if (c === 0x65 || c === 0x45) {
      let j = i + 1;
      const sign = s.charCodeAt(j);
      if (sign === 0x2b || sign === 0x2d) j++;
      if (isDigit(s.charCodeAt(j))) {
        while (isDigit(s.charCodeAt(j))) j++;
        i = j;
        isFloat = true;
      }
    }
    this.i = i;
    if (!isFloat) {
      // An int keeps all its digits; only "-0" changes, because Python's int has no negative zero.
      const text = s.slice(start, intEnd);
      return text === '-0' ? '0' : text;
    }
    const x = Number(s.slice(start, i));
    if (!Number.isFinite(x)) {
      this.nonFinite = true;
      if (this.nonFiniteAsNull) return 'null';
    }
    return floatRepr(x);
  }

  string(): string {
    const s = this.s;
    let i = ++this.i;
    let out = '';
    let start = i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.i = i + 1;
        return out + s.slice(start, i);
      }
      if (c < 0x20 || Number.isNaN(c)) throw INVALID;
      if (c !== 0x5c) { i++; continue; }
      out += s.slice(start, i);
      const e = s.charCodeAt(i + 1);
      switch (e) {
        case 0x22: out += '"'; break;
        case 0x5c: out += '\\'; break;
        case 0x2f: out += '/'; break;
        case 0x62: out += '\b'; break;
        case 0x66: out += '\f'; break;
        case 0x6e: out += '\n'; break;
        case 0x72: out += '\r'; break;
        case 0x74: out += '\t'; break;
        case 0x75: {
          const hex = s.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw INVALID;
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
          break;
        }
        default: throw INVALID;
      }
      i += 2;
      start = i;
    }
  }

  object(depth: number): string {
    const s = this.s;
    this.i++;
    this.ws();
    if (s.charCodeAt(this.i) === 0x7d) { this.i++; return '{}'; }
    // Key → position in `parts`. A short list is searched (cheapest for the few keys real rows have); past
    // SHORT_OBJECT keys a Map takes over, so that objects with 100k+ keys parse in linear time.
    const list: string[] = [];
    let keys: Map<string, number> | null = null;
    const parts: string[] = [];
    for (;;) {
      if (s.charCodeAt(this.i) !== 0x22) throw INVALID;
      const key = this.string();
      this.ws();
      if (s.charCodeAt(this.i) !== 0x3a) throw INVALID;
      this.i++;
      this.ws();
      const val = this.value(depth + 1);
      // A repeated key keeps its first position and takes the last value, as a Python dict does.
      const seen = keys === null ? list.indexOf(key) : keys.get(key) ?? -1;
      if (seen >= 0) parts[seen] = quoteAscii(key) + ':' + val;
      else {
        if (keys !== null) keys.set(key, parts.length);
        else if (list.push(key) === SHORT_OBJECT) keys = new Map(list.map((k, i) => [k, i]));
        parts.push(quoteAscii(key) + ':' + val);
      }
      this.ws();
      const c = s.charCodeAt(this.i++);
      if (c === 0x7d) return '{' + parts.join(',') + '}';
      if (c !== 0x2c) throw INVALID;
      this.ws();
    }
  }

  array(depth: number): string {
    const s = this.s;
    this.i++;
    this.ws();
    if (s.charCodeAt(this.i) === 0x5d) { this.i++; return '[]'; }
    const parts: string[] = [];
    for (;;) {
      parts.push(this.value(depth + 1));
      this.ws();
      const c = s.charCodeAt(this.i++);
      if (c === 0x5d) return '[' + parts.join(',') + ']';
      if (c !== 0x2c) throw INVALID;
      this.ws();
    }
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

export interface Transcoded {
  /** Python's compact, ASCII-only text of the value. */
  text: string;
  /** Whether the top-level value is a JSON object, and whether that object is empty. */
  kind: 'object' | 'empty-object' | 'other';
  /** The value holds NaN or ±Infinity, which Python writes as bare words that are not JSON. */
  nonFinite: boolean;
}

/**
 * `json.dumps(json.loads(text), separators=(",", ":"))`, or null where `json.loads` raises.
 * With `nonFiniteAsNull`, NaN and ±Infinity are written as `null` so the result is valid JSON.
 */
export function transcodePython(text: string, nonFiniteAsNull = false): Transcoded | null {
  const flat = flatStringObject(text);
  if (flat !== null) return { text: flat, kind: 'object', nonFinite: false };
  const t = new Transcoder(text, nonFiniteAsNull);
  try {
    t.ws();
    const first = text.charCodeAt(t.i);
    const out = t.value(0);
    t.ws();
    if (t.i !== text.length) return null;
    const kind = first === 0x7b ? (out === '{}' ? 'empty-object' : 'object') : 'other';
    return { text: out, kind, nonFinite: t.nonFinite };
  } catch (err) {
    if (err instanceof InvalidJson || err instanceof RangeError) return null;
    throw err;
  }
}

/**
 * Python's compact `json.dumps` of a JS value, for events built in code rather than read from a registry.
 * JS cannot tell 1 from 1.0, so integral numbers are written as ints.
 */
export function dumpsPython(value: unknown, nonFiniteAsNull = false): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string': return quoteAscii(value);
    case 'boolean': return value ? 'true' : 'false';
    case 'bigint': return value.toString();
    case 'number':
      if (!Number.isFinite(value) && nonFiniteAsNull) return 'null';
      return pyNumber(value);
    case 'object': {
      if (Array.isArray(value)) return '[' + value.map((v) => dumpsPython(v, nonFiniteAsNull)).join(',') + ']';
      const parts: string[] = [];
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (v === undefined) continue;
        parts.push(quoteAscii(k) + ':' + dumpsPython(v, nonFiniteAsNull));
      }
      return '{' + parts.join(',') + '}';
    }
    default:
      throw new TypeError(`cannot serialise a ${typeof value} as JSON`);
  }
}

/** A character that Python writes as it is inside a string: printable ASCII but the quote and the backslash. */
function plainChar(c: number): boolean {
  return c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c;
}

/** A string of `plainChar`s, quoted. */
const PLAIN_STRING = '"[ !#-\\[\\]-~]*"';
/** `flatStringObject`'s objects of exactly two members. */
const TWO_MEMBERS = new RegExp(`^\\{(${PLAIN_STRING}): ?(${PLAIN_STRING}), ?(${PLAIN_STRING}): ?(${PLAIN_STRING})\\}$`);

/**
 * The common `extra` (a DNS callback's `{"qtype": "A", "qname": "…"}`) without the full reader: an object of
 * distinct keys and string values, all plain printable ASCII, spaced as Python's `json.dumps` spaces it or not
 * at all, has the same members compacted as its `json.dumps` text. Anything else is null, for the reader.
 */
function flatStringObject(s: string): string | null {
  // The registry's own shape, two members, is matched whole: a third faster than the walk below (measured).
  const two = TWO_MEMBERS.exec(s);
  if (two !== null) return two[1] === two[3] ? null : `{${two[1]}:${two[2]},${two[3]}:${two[4]}}`;
  if (s.charCodeAt(0) !== 0x7b || s.charCodeAt(s.length - 1) !== 0x7d) return null;
  const keys: string[] = [];
  let out = '{';
  let i = 1;
  for (;;) {
    // "key": "value"
    if (s.charCodeAt(i) !== 0x22) return null;
    let j = i + 1;
    while (plainChar(s.charCodeAt(j))) j++;
    if (s.charCodeAt(j) !== 0x22 || s.charCodeAt(j + 1) !== 0x3a) return null;
    const key = s.slice(i, j + 1);
    // Python keeps the last value of a repeated key in the first one's place: left to the reader, as are
    // objects of many keys (the reader looks those up in a Map; a list would take quadratic time).
    if (keys.length === SHORT_OBJECT) return null;
    for (const k of keys) if (k === key) return null;
    keys.push(key);
    i = s.charCodeAt(j + 2) === 0x20 ? j + 3 : j + 2;
    if (s.charCodeAt(i) !== 0x22) return null;
    j = i + 1;
    while (plainChar(s.charCodeAt(j))) j++;
    if (s.charCodeAt(j) !== 0x22) return null;
    out += (keys.length > 1 ? ',' : '') + key + ':' + s.slice(i, j + 1);
    i = j + 1;
    if (i === s.length - 1) return out + '}';
    if (s.charCodeAt(i) !== 0x2c) return null;
    i = s.charCodeAt(i + 1) === 0x20 ? i + 2 : i + 1;
  }
}
