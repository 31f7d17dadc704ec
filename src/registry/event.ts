/**
 * The normalized Oversight event: one row of the registry's `events` table, mapped exactly as the reference's
 * `from_registry_row` maps it. Field names match the reference so the two can be read side by side.
 */
import { pyNumber, quoteAscii, transcodePython } from './pyjson.js';

export const ECS_VERSION = '8.11.0';
export const SCHEMA_VERSION = 'oversight-siem-1';
export const BEACON_KINDS: ReadonlySet<string> = new Set(['dns', 'http_img', 'ocsp', 'license']);

/** A Map, not an object literal, so that kinds such as "constructor" fall through to `beacon-<kind>`. */
const ACTION_BY_KIND: ReadonlyMap<string, string> = new Map([
  ['dns', 'beacon-dns-callback'],
  ['http_img', 'beacon-http-pixel'],
  ['ocsp', 'beacon-ocsp-callback'],
  ['license', 'beacon-license-check'],
]);

export function actionForKind(kind: string): string {
  return ACTION_BY_KIND.get(kind) ?? `beacon-${kind}`;
}

/** A column value as SQLite stores it; the formatters pass non-string values through with their type. */
export type Scalar = string | number | null;

export interface OversightEvent {
  event_id: string;
  event_kind: string;
  occurred_unix: number;
  occurred_at: string;
  registry_id: string;
  token_id: Scalar;
  file_id: Scalar;
  recipient_id: Scalar;
  issuer_id: Scalar;
  source_ip: Scalar;
  user_agent: Scalar;
  qualified_timestamp: Scalar;
  tlog_index: Scalar;
  /**
   * `extra` as Python's compact JSON text of a non-empty object (what the reference's `json.dumps(evt.extra)`
   * writes), or null where the reference's `extra` is empty. Kept as text so that no digit, key order or float
   * spelling is lost on the way to the SIEM; `parseExtra` gives the object.
   */
  extra_json: string | null;
  /** The row's position in the registry (its rowid, equal to `events.id`): the checkpoint cursor. */
  rowid: number;
}

/** `extra` as a JS object, as the reference's `OversightEvent.extra` holds it. */
export function parseExtra(evt: Pick<OversightEvent, 'extra_json'>): Record<string, unknown> {
  if (evt.extra_json === null) return {};
  return JSON.parse(transcodePython(evt.extra_json, true)?.text ?? '{}') as Record<string, unknown>;
}

/**
 * `extra` as JSON that can be nested inside a record. The reference would write NaN or Infinity here as bare
 * words that no SIEM parses; we write null in their place (the ExtraJson string keeps Python's spelling).
 */
export function nestedExtra(extraJson: string): string {
  if (!/NaN|Infinity/.test(extraJson)) return extraJson;
  return transcodePython(extraJson, true)?.text ?? extraJson;
}

/** "00" to "59": two-digit fields by lookup, not by number-to-text conversion. */
const TWO_DIGITS = Array.from({ length: 60 }, (_, n) => (n < 10 ? '0' : '') + String(n));
/** ":00Z" to ":59Z", the end of every time. */
const SECONDS_Z = TWO_DIGITS.map((d) => ':' + d + 'Z');

let cachedDay = NaN;
let cachedDayText = '';
let cachedMinute = NaN;
let cachedMinuteText = '';

/** RFC 3339 UTC to the second, as the reference's `iso8601` (strftime `%Y` is not zero-padded on glibc). */
export function iso8601(time: number): string {
  // Whole seconds, as strftime's %S truncates a fraction.
  const unixSeconds = Math.floor(time);
  // Events arrive in time order, so the minute, or at least the day, is nearly always the one just computed.
  const minute = Math.floor(unixSeconds / 60);
  if (minute !== cachedMinute) {
    const day = Math.floor(unixSeconds / 86400);
    if (day !== cachedDay) {
      const text = iso8601Full(unixSeconds);
      cachedDay = day;
      cachedDayText = text.slice(0, text.indexOf('T') + 1);
    }
    const m = minute - day * 1440;
    cachedMinute = minute;
    cachedMinuteText = cachedDayText + TWO_DIGITS[Math.floor(m / 60)]! + ':' + TWO_DIGITS[m % 60]!;
  }
  return cachedMinuteText + SECONDS_Z[unixSeconds - minute * 60]!;
}

function iso8601Full(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const year = d.getUTCFullYear();
  return (
    String(year) + '-' + pad2(d.getUTCMonth() + 1) + '-' + pad2(d.getUTCDate()) + 'T' +
    pad2(d.getUTCHours()) + ':' + pad2(d.getUTCMinutes()) + ':' + pad2(d.getUTCSeconds()) + 'Z'
  );
}

function pad2(n: number): string {
  return TWO_DIGITS[n]!;
}

/**
 * Python's datetime covers years 1 to 9999; the reference aborts the whole export outside them. Exported for
 * SQL that must apply `hasTime` to a column without reading every row into JavaScript.
 */
export const MIN_UNIX = -62135596800;
export const MAX_UNIX = 253402300799;

/** Whether an event has a time: not 0 (the reference's falsy timestamp), and within years 1 to 9999. */
export function hasTime(unixSeconds: number): boolean {
  return unixSeconds !== 0 && unixSeconds >= MIN_UNIX && unixSeconds <= MAX_UNIX;
}

/** `occurred_at`: empty for 0 (the reference's falsy timestamp) and outside the years Python's datetime covers. */
export function occurredAt(unixSeconds: number): string {
  return hasTime(unixSeconds) ? iso8601(unixSeconds) : '';
}

/** `int(value or 0)` as Python computes it; values Python would raise on count as 0 (see docs/SIEM.md). */
export function unixSeconds(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : 0;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') {
    const m = /^\s*([+-]?\d+(?:_\d+)*)\s*$/.exec(value);
    return m ? Number(m[1]!.replace(/_/g, '')) : 0;
  }
  return 0;
}

function scalar(value: unknown): Scalar {
  if (typeof value === 'string' || typeof value === 'number' || value === null) return value;
  if (value === undefined) return null;
  if (typeof value === 'bigint') return Number(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}

/** The reference's `extra` rules: empty → nothing, a JSON object → itself, other JSON → `{"raw": value}`,
 * anything unparseable → `{"raw": the text}`. */
export function extraJsonFromColumn(value: unknown): string | null {
  // What the registry writes for every non-DNS callback.
  if (value === '{}') return null;
  if (value === null || value === undefined || value === '' || value === 0) return null;
  if (typeof value === 'number') return '{"raw":' + pyNumber(value) + '}';
  const text = typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  if (text === '') return null;
  const t = transcodePython(text);
  if (t === null) return '{"raw":' + quoteAscii(text) + '}';
  if (t.kind === 'object') return t.text;
  if (t.kind === 'empty-object') return null;
  return '{"raw":' + t.text + '}';
}

/**
 * Column order of the registry reader's SELECT, after the rowid. `id` comes last and is left out when it is the
 * rowid itself (the registry's `INTEGER PRIMARY KEY`), which saves reading the same number twice.
 */
export const EVENT_COLUMNS = [
  'kind', 'timestamp', 'token_id', 'file_id', 'recipient_id', 'issuer_id',
  'source_ip', 'user_agent', 'qualified_timestamp', 'tlog_index', 'extra', 'id',
] as const;

/**
 * Map one row, given as its rowid followed by values in `EVENT_COLUMNS` order; without a 13th value the rowid is
 * the id. An `id` of undefined means the table has no such column (event_id "", as `d.get("id", "")` gives);
 * null means SQL NULL ("None", as `str(None)`).
 */
export function fromRegistryValues(v: readonly unknown[], registryId: string): OversightEvent {
  const rowid = v[0];
  const id = v.length > 12 ? v[12] : rowid;
  const occurred = unixSeconds(v[2] || 0);
  const kind = v[1];
  const ua = v[8];
  return {
    event_id: eventIdOf(id),
    event_kind: typeof kind === 'string' ? kind : kind ? String(scalar(kind)) : '',
    occurred_unix: occurred,
    occurred_at: occurredAt(occurred),
    registry_id: registryId,
    token_id: scalar(v[3]),
    file_id: scalar(v[4]),
    recipient_id: scalar(v[5]),
    issuer_id: scalar(v[6]),
    source_ip: scalar(v[7]),
    user_agent: ua ? scalar(ua) : null,
    qualified_timestamp: scalar(v[9]),
    tlog_index: scalar(v[10]),
    extra_json: extraJsonFromColumn(v[11]),
    rowid: Number(rowid ?? 0),
  };
}

/** An `id` value as the event id the exporter writes (see `fromRegistryValues`). */
export function eventIdOf(id: unknown): string {
  return id === undefined ? '' : id === null ? 'None' : typeof id === 'number' ? String(id) : String(scalar(id));
}

/** The reference's `from_registry_row`: map a `SELECT * FROM events` row given as an object. */
export function fromRegistryRow(row: Readonly<Record<string, unknown>>, options: { registryId: string }): OversightEvent {
  const values: unknown[] = [row['rowid'] ?? row['id'] ?? 0];
  for (const col of EVENT_COLUMNS) values.push(Object.prototype.hasOwnProperty.call(row, col) ? row[col] : undefined);
  // Always 13 values here: an object row says for itself whether it has an id.
  return fromRegistryValues(values, options.registryId);
}
