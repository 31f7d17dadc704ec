/** Small pieces shared by the formatters: the reference's `_clean` test and JSON value spelling. */
import type { OversightEvent, Scalar } from '../event.js';
import { pyNumber } from '../pyjson.js';

/** A record is one JSON object, as text. Formatters return text so encoders can frame it without re-serialising. */
export type RecordFormatter = (evt: OversightEvent) => string;

/** The reference's `_clean` keeps a value unless it is None or the empty string (0 is kept). */
export function present(v: Scalar | undefined): v is string | number {
  return v !== null && v !== undefined && v !== '';
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

/** A column value as JSON: strings as JSON strings, numbers as Python prints them. */
export function jsonScalar(v: string | number): string {
  return typeof v === 'string' ? quote(v) : pyNumber(v);
}

/** `prefix` + value when the reference's `_clean` keeps the value, else nothing. `prefix` is `,"key":`. */
export function member(prefix: string, v: Scalar): string {
  return v === null || v === '' ? '' : prefix + (typeof v === 'string' ? quote(v) : pyNumber(v));
}

/** `member` for a value already written as JSON (or null when absent). */
export function memberJson(prefix: string, json: string | null): string {
  return json === null ? '' : prefix + json;
}

/** A value as JSON, or null where `_clean` would drop it. */
export function valueJson(v: Scalar): string | null {
  return v === null || v === '' ? null : typeof v === 'string' ? quote(v) : pyNumber(v);
}

/** Remembers the last few fragments computed from a kind, so the common kinds cost one lookup. */
export function kindCache(build: (kind: string) => string): (kind: string) => string {
  const cache = new Map<string, string>();
  return (kind) => {
    let hit = cache.get(kind);
    if (hit === undefined) {
      hit = build(kind);
      if (cache.size < 64) cache.set(kind, hit);
    }
    return hit;
  };
}

/** Remembers the quoted form of the last value, for values that repeat from one event to the next. */
export function lastQuoted(): (s: string) => string {
  let last: string | null = null;
  let quoted = '';
  return (s) => {
    if (s !== last) {
      last = s;
      quoted = quote(s);
    }
    return quoted;
  };
}
