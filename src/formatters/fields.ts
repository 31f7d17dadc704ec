/** Small pieces shared by the formatters: the reference's `_clean` test and JSON value spelling. */
import type { Scalar } from '../event.js';
import { pyNumber } from '../pyjson.js';

/** A record is one JSON object, as text. Formatters return text so encoders can frame it without re-serialising. */
export type RecordFormatter = (evt: import('../event.js').OversightEvent) => string;

/** The reference's `_clean` keeps a value unless it is None or the empty string (0 is kept). */
export function present(v: Scalar | undefined): v is string | number {
  return v !== null && v !== undefined && v !== '';
}

/** A column value as JSON: strings as JSON strings, numbers as Python prints them. */
export function jsonScalar(v: string | number): string {
  return typeof v === 'string' ? JSON.stringify(v) : pyNumber(v);
}

/** `,"key":value` when the reference's `_clean` keeps the value, else nothing. */
export function member(key: string, v: Scalar): string {
  return present(v) ? ',"' + key + '":' + jsonScalar(v) : '';
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
