/** Small pieces shared by the formatters: the reference's `_clean` test and JSON value spelling. */
import type { OversightEvent, Scalar } from '../../registry/event.js';
import { pyNumber } from '../../registry/pyjson.js';

/** A record is one JSON object, as text. Formatters return text so encoders can frame it without re-serialising. */
export type RecordFormatter = (evt: OversightEvent) => string;

/**
 * An event with each column value already spelled as JSON, or null where the reference's `_clean` drops it.
 * Formatters work from this shape, so values read from SQLite as JSON text (see row-json.ts) go into records
 * without being unquoted and quoted again.
 */
export interface EventJson {
  rowid: number;
  /** The event id as text ('' when the registry has none), and as JSON (null when empty). */
  eventId: string;
  idJson: string | null;
  kind: string;
  occurredUnix: number;
  occurredAt: string;
  registryId: string;
  token: string | null;
  file: string | null;
  recipient: string | null;
  issuer: string | null;
  sourceIp: string | null;
  userAgent: string | null;
  qualifiedTimestamp: string | null;
  tlogIndex: string | null;
  /** Python's compact JSON text of `extra`, as `OversightEvent.extra_json`. */
  extraJson: string | null;
}

/** A formatter over values already written as JSON. */
export type JsonFormatter = (e: EventJson) => string;

export function blankEventJson(): EventJson {
  return {
    rowid: 0, eventId: '', idJson: null, kind: '', occurredUnix: 0, occurredAt: '', registryId: '', token: null, file: null,
    recipient: null, issuer: null, sourceIp: null, userAgent: null, qualifiedTimestamp: null, tlogIndex: null, extraJson: null,
  };
}

/** Spell an event's values as JSON, into `e` (reused by callers that format one event at a time). */
export function eventJson(evt: OversightEvent, e: EventJson = blankEventJson()): EventJson {
  e.rowid = evt.rowid;
  e.eventId = evt.event_id;
  e.idJson = evt.event_id === '' ? null : quote(evt.event_id);
  e.kind = evt.event_kind;
  e.occurredUnix = evt.occurred_unix;
  e.occurredAt = evt.occurred_at;
  e.registryId = evt.registry_id;
  e.token = valueJson(evt.token_id);
  e.file = valueJson(evt.file_id);
  e.recipient = valueJson(evt.recipient_id);
  e.issuer = valueJson(evt.issuer_id);
  e.sourceIp = valueJson(evt.source_ip);
  e.userAgent = valueJson(evt.user_agent);
  e.qualifiedTimestamp = valueJson(evt.qualified_timestamp);
  e.tlogIndex = valueJson(evt.tlog_index);
  e.extraJson = evt.extra_json;
  return e;
}

/** The event formatter for a JSON formatter. */
export function overEvents(format: JsonFormatter): RecordFormatter {
  const e = blankEventJson();
  return (evt) => format(eventJson(evt, e));
}

/** Characters that need more than wrapping in quotes: controls, quote, backslash, and any surrogate half. */
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

/**
 * A JSON string literal. Most registry values need no escaping, and a regex test says so faster than
 * JSON.stringify gets through them; anything else takes JSON.stringify's full path.
 */
export function quote(s: string): string {
  return s.length > 512 || NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/**
 * A number as a JSON value. A REAL column can hold ±Infinity (SQLite stores NaN as NULL), which the reference
 * writes as Python does, a bare `Infinity` no JSON parser accepts; as inside `extra`, it is `null` here.
 */
function numberJson(x: number): string {
  return Number.isFinite(x) ? pyNumber(x) : 'null';
}

/** `prefix` + value when the reference's `_clean` keeps the value, else nothing. `prefix` is `,"key":`. */
export function member(prefix: string, v: Scalar): string {
  return v === null || v === '' ? '' : prefix + (typeof v === 'string' ? quote(v) : numberJson(v));
}

/** `member` for a value already written as JSON (or null when absent). */
export function memberJson(prefix: string, json: string | null): string {
  return json === null ? '' : prefix + json;
}

/** A value as JSON, or null where `_clean` would drop it. */
export function valueJson(v: Scalar): string | null {
  return v === null || v === '' ? null : typeof v === 'string' ? quote(v) : numberJson(v);
}

/**
 * Remembers the fragments computed from the first kinds seen, so the common kinds cost a few comparisons. A
 * registry has a handful of kinds; comparing against them is cheaper than hashing each row's fresh string for a
 * Map. Kinds beyond the first 64 are built each time.
 */
export function kindCache<T = string>(build: (kind: string) => T): (kind: string) => T {
  const kinds: string[] = [];
  const built: T[] = [];
  return (kind) => {
    for (let i = 0; i < kinds.length; i++) if (kinds[i] === kind) return built[i]!;
    const hit = build(kind);
    if (kinds.length < 64) {
      kinds.push(kind);
      built.push(hit);
    }
    return hit;
  };
}

/**
 * The decimal text of a whole number of seconds followed by `tail` ('000' for milliseconds, '.0' for Python's
 * float), for times that arrive in order; `otherwise` spells anything but a safe integer from 100 up. The text
 * of the hundreds is kept from the call before, so a call adds two digits and the tail: converting each event's
 * number costs V8 a cache miss and a new string every time.
 */
export function secondsText(tail: string, otherwise: (unixSeconds: number) => string): (unixSeconds: number) => string {
  const lastTwo = Array.from({ length: 100 }, (_, n) => (n < 10 ? '0' : '') + String(n) + tail);
  let block = NaN;
  let blockText = '';
  return (u) => {
    if (!(u >= 100 && Number.isSafeInteger(u))) return otherwise(u);
    const b = Math.floor(u / 100);
    if (b !== block) {
      block = b;
      blockText = String(b);
    }
    return blockText + lastTwo[u - b * 100]!;
  };
}

/**
 * Remembers what `build` made of the last value, for values that repeat from one event to the next: the
 * registry id, and the pieces of a record that hold it.
 */
export function lastOf<T>(build: (s: string) => T): (s: string) => T {
  let last: string | null = null;
  let made = undefined as T;
  return (s) => {
    if (s !== last) {
      last = s;
      made = build(s);
    }
    return made;
  };
}
