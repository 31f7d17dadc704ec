/**
 * RFC 5424 messages around a formatted record. This runs in the pure formatter stage (also on formatting
 * threads), because the header and the structured data come from the event's fields; transports only frame.
 *
 *   <PRI>1 TIMESTAMP HOSTNAME oversight - beacon-<kind> [oversight@PEN eventId="…" kind="…" …] MSG
 */
import os from 'node:os';
import { ConfigurationError } from '../shared/errors.js';
import { kindCache, lastOf, type EventJson, type JsonFormatter } from './formats/fields.js';

export interface SyslogSettings {
  /** 0–23 (local4 = 20 by default). */
  facility: number;
  hostname: string;
  /** `name@PEN`: the one SD-ELEMENT every message carries. */
  sdId: string;
}

export const FACILITIES: readonly string[] = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp',
  'ntp', 'audit', 'alert', 'clock', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
];

/**
 * Severity by beacon kind, in the same order as the CEF/LEEF/OCSF severities (docs/SIEM.md): an image load or a
 * license check means the document was opened in a viewer; an OCSP check can also come from previews and
 * scanners; a DNS lookup arrives through resolvers and prefetchers.
 */
export const SEVERITY_BY_KIND: ReadonlyMap<string, number> = new Map([
  ['license', 2], // critical
  ['http_img', 2], // critical
  ['ocsp', 3], // error
  ['dns', 4], // warning
]);
/** A kind this version does not know: notice. */
export const DEFAULT_SEVERITY = 5;

/**
 * The default SD-ID. Oversight has no IANA Private Enterprise Number, and borrowing another organization's
 * would claim its namespace; 32473 is the number RFC 5612 reserves for documentation, which no one else's
 * structured data uses, so our element cannot be mistaken for another vendor's. An organization with its own
 * PEN sets `--syslog-sd-id oversight@<its PEN>`.
 */
export const DEFAULT_SD_ID = 'oversight@32473';

export function parseFacility(value: string): number {
  const v = value.trim().toLowerCase();
  const n = /^\d+$/.test(v) ? Number(v) : FACILITIES.indexOf(v);
  if (!(n >= 0 && n <= 23)) {
    throw new ConfigurationError(`--syslog-facility must be a facility name (e.g. local4, daemon) or 0-23, not '${value}'`);
  }
  return n;
}

/** SD-NAME: 1–32 printable ASCII, no `=`, space, `]` or `"`; the PEN part is digits and dots. */
export function parseSdId(value: string): string {
  if (!/^[\x21\x23-\x3c\x3e\x3f\x41-\x5c\x5e-\x7e]+@\d+(\.\d+)*$/.test(value) || value.length > 32) {
    throw new ConfigurationError(
      `--syslog-sd-id must be name@PEN (your IANA Private Enterprise Number), at most 32 characters, e.g. oversight@32473; not '${value}'`,
    );
  }
  return value;
}

/** HOSTNAME: printable ASCII, at most 255; anything else in the machine's name becomes `_`. */
export function parseHostname(value: string | null): string {
  const raw = value ?? os.hostname();
  const h = raw.replace(/[^\x21-\x7e]/g, '_').slice(0, 255);
  if (value !== null && h !== value) {
    throw new ConfigurationError(`--syslog-hostname must be 1-255 printable ASCII characters without spaces, not '${value}'`);
  }
  return h === '' ? '-' : h;
}

/**
 * A PARAM-VALUE: RFC 5424 escapes only `"`, `\` and `]`. Control characters (C0, DEL, C1) are replaced with
 * U+FFFD: a raw line break would split the message under LF framing (and the record contract is one line),
 * and receivers rewrite them anyway (rsyslog turns them into `#012`). The exact value is in MSG.
 */
export function sdValue(s: string): string {
  // Most values hold nothing to escape or replace: one scan says so, and the text is used as it is.
  if (sdPlain(s)) return s;
  return sdText(s).replace(/["\\\]]/g, '\\$&');
}

/**
 * No `"`, `\`, `]` or control character from `from` to `to`: a loop over the few dozen characters of an id,
 * where a regex test costs more in calling than in scanning.
 */
function sdPlain(s: string, from = 0, to = s.length): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c === 0x5d || (c >= 0x7f && c <= 0x9f)) return false;
  }
  return true;
}

/** What a receiver reads back from a PARAM-VALUE once it is unescaped. */
export function sdText(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '\ufffd');
}

/** MSGID `beacon-<kind>`: printable ASCII, at most 32 characters. */
export function msgId(kind: string): string {
  return ('beacon-' + kind.replace(/[^\x21-\x7e]/g, '_')).slice(0, 32);
}

/** RFC 3339 in UTC, or NILVALUE where the event has no time RFC 3339 can spell (years 0001-9999). */
export function timestamp(e: Pick<EventJson, 'occurredUnix' | 'occurredAt'>): string {
  if (e.occurredAt === '') return '-';
  // `occurredAt` is already RFC 3339 for years 1000-9999 (a four-digit year); earlier years need the zero
  // padding RFC 3339 asks for and the reference's spelling leaves out.
  if (Number.isInteger(e.occurredUnix) && e.occurredAt.indexOf('-') === 4) return e.occurredAt;
  return dateTime(e.occurredUnix);
}

/** `timestamp` the long way, through Date. */
function dateTime(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const y = d.getUTCFullYear();
  if (!(y >= 1 && y <= 9999)) return '-';
  // Whole seconds: the registry keeps no fraction (RFC 5424 allows up to six digits; receivers garble more).
  return String(y).padStart(4, '0') + d.toISOString().slice(4, 19) + 'Z';
}

/** A value spelled as JSON (see EventJson) back to text: strings unquoted, numbers as written. */
function plain(json: string): string {
  if (json.charCodeAt(0) !== 34) return json;
  return json.indexOf('\\') < 0 ? json.slice(1, -1) : (JSON.parse(json) as string);
}

/** ` name="value"`, or nothing without a value. `at` is ` name="`, written out whole so no message builds it again. */
function param(at: string, value: string | null): string {
  return value === null || value === '' ? '' : at + sdValue(value) + '"';
}

/** The SD-ELEMENT for one event; absent values leave their parameter out, so empty and missing differ from "". */
export function structuredData(e: EventJson, sdId: string): string {
  return (
    '[' + sdId +
    param(' eventId="', e.eventId) +
    param(' kind="', e.kind) +
    jsonParam(' tokenId=', e.token) +
    jsonParam(' fileId=', e.file) +
    param(' registryId="', e.registryId) +
    ']'
  );
}

/** The record formatter wrapped: each record becomes the MSG of one RFC 5424 message (no BOM: see docs/SIEM.md). */
export function syslogWrap(inner: JsonFormatter, s: SyslogSettings): JsonFormatter {
  // The SD-ELEMENT written as `structuredData` writes it, from fewer, longer pieces: every string joined makes one
  // more piece that writing the message walks. Per kind: the PRI; what follows the time up to the event id's
  // value; the quote that closes it with the kind's parameter; and, for an event without an id, what follows the
  // time up to the kind's parameter included. Per run: the registry's parameter with the end of the element.
  const head = kindCache((kind) => {
    const afterTime = ` ${s.hostname} oversight - ${msgId(kind)} [${s.sdId}`;
    const kindParam = param(' kind="', kind);
    return {
      pri: `<${s.facility * 8 + (SEVERITY_BY_KIND.get(kind) ?? DEFAULT_SEVERITY)}>1 `,
      toId: afterTime + ' eventId="', afterId: '"' + kindParam, noId: afterTime + kindParam,
    };
  });
  const registryEnd = lastOf((id) => param(' registryId="', id) + '] ');
  return (e) => {
    const h = head(e.kind);
    const id = e.eventId;
    return h.pri + timestamp(e) + (id === '' ? h.noId : h.toId + sdValue(id) + h.afterId) +
      jsonParam(' tokenId=', e.token) + jsonParam(' fileId=', e.file) + registryEnd(e.registryId) + inner(e);
  };
}

/**
 * ` name="value"` from a value spelled as JSON, or nothing without one. A JSON string with nothing to escape or
 * replace (no backslash, so no escaped quote either) is the quoted PARAM-VALUE already, quotes included: it is
 * used as it is, without cutting the value out and quoting it again.
 */
function jsonParam(name: string, json: string | null): string {
  if (json === null) return '';
  if (json.charCodeAt(0) === 34 && json.length > 2 && sdPlain(json, 1, json.length - 1)) return name + json;
  return param(name + '"', plain(json));
}
