/**
 * IBM QRadar's Log Event Extended Format, version 2.0: one line per event. Field by field in docs/SIEM.md ("LEEF").
 *
 * LEEF defines no escaping, so nothing in a value may look like a separator. Attributes are separated by `^`,
 * declared in the header (IBM's own example; printable, so syslog relays that rewrite control characters leave
 * it alone). IBM advises against tab, pipe and caret in values, and parsers that count the header's pipes
 * misread a record with a pipe after them, so in values and header fields `^`, `|` and every C0 control character
 * and DEL (tab, CR, LF, NUL among them) become U+FFFD. `=` needs nothing: a value runs from the first `=` after
 * its key to the next `^`. C1 characters and all other Unicode pass unchanged, as in CEF.
 */
import { actionForKind, nestedExtra } from '../../registry/event.js';
import { epochMs, ipVersion, plain, PRODUCT, PRODUCT_VERSION, severityOf, VENDOR } from './beacon.js';
import { timestamp } from '../rfc5424.js';
import { kindCache, lastOf, type EventJson, type JsonFormatter } from './fields.js';
import type { FormatDescription } from './format.js';

export const LEEF_DELIMITER = '^';
const SPECIAL = /[|\^\u0000-\u001f\u007f]/;

/** A value with everything that could end it replaced. */
export function leefValue(s: string): string {
  return SPECIAL.test(s) ? s.replace(/[|\^\u0000-\u001f\u007f]/g, '\uFFFD') : s;
}

/** A header field: the same replacements, at most `max` characters. */
export function leefHeader(s: string, max: number): string {
  return leefValue(s.length > max ? s.slice(0, max) : s);
}

/**
 * QRadar reads `devTime` without a `devTimeFormat` only as an epoch of 10 or 13 digits (IBM, predefined LEEF
 * event attributes): milliseconds of these seconds, 2001-09-09T01:46:40Z to 2286-11-20T17:46:39Z.
 */
const DEVTIME_MIN = 1_000_000_000;
const DEVTIME_MAX = 9_999_999_999;

/** `^key=value`, or nothing without a value. `at` is `^key=`, written out whole so no record builds it again. */
function attr(at: string, v: string | null): string {
  return v === null || v === '' ? '' : at + leefValue(v);
}

/**
 * `attr` for a value spelled as JSON. JSON text without a backslash holds no control character, so most values
 * only need a look for `^` and `|`.
 */
function jsonAttr(at: string, json: string | null): string {
  if (json === null) return '';
  if (json.charCodeAt(0) !== 34) return at + json;
  if (json.indexOf('\\') >= 0) return attr(at, JSON.parse(json) as string);
  const s = json.slice(1, -1);
  return s.indexOf('^') < 0 && s.indexOf('|') < 0 ? at + s : at + leefValue(s);
}

export function leefJsonFormatter(): JsonFormatter {
  // EventID is at most 255 characters.
  const head = kindCache(
    (kind) =>
      `LEEF:2.0|${VENDOR}|${PRODUCT}|${leefHeader(PRODUCT_VERSION, 255)}|${leefHeader(`beacon-${kind}`, 255)}|${LEEF_DELIMITER}|`,
  );
  const kindAttrs = kindCache((kind) => `cat=${leefValue(actionForKind(kind))}^sev=${severityOf(kind)}${attr('^beaconKind=', kind)}`);
  const registry = lastOf((id) => attr('^registryId=', id));
  return (e: EventJson): string => {
    const ip = plain(e.sourceIp);
    // `src` must be an IP address in QRadar; the registry's `unknown` keeps its own key.
    const source = ip === null ? '' : ipVersion(ip) !== 0 ? `^src=${ip}` : attr('^sourceAddress=', ip);
    // A time QRadar cannot read as a 13-digit epoch (before 2001, after 2286) is left out of `devTime`, so QRadar
    // uses the syslog header's, and kept as RFC 3339 under `occurredAt`; a zero timestamp, the registry's "no
    // time", and one outside years 1-9999 leave both out.
    const t = e.occurredUnix;
    const time = t >= DEVTIME_MIN && t <= DEVTIME_MAX ? `devTime=${epochMs(t)}^` : '';
    const occurred = time === '' && e.occurredAt !== '' ? attr('^occurredAt=', timestamp(e)) : '';
    return `${head(e.kind)}${time}${kindAttrs(e.kind)}${occurred}${source}${jsonAttr('^eventId=', e.idJson)}${
      registry(e.registryId)}${jsonAttr('^tokenId=', e.token)}${jsonAttr('^fileId=', e.file)}${jsonAttr('^recipientId=', e.recipient)}${
      jsonAttr('^issuerId=', e.issuer)}${jsonAttr('^userAgent=', e.userAgent)}${jsonAttr('^qualifiedTimestamp=', e.qualifiedTimestamp)}${
      jsonAttr('^tlogIndex=', e.tlogIndex)}${attr('^extra=', e.extraJson === null ? null : nestedExtra(e.extraJson))}`;
  };
}

export const leefFormat: FormatDescription = {
  name: 'leef',
  summary: 'IBM QRadar LEEF 2.0 lines',
  records: 'text',
  create: () => leefJsonFormatter(),
};
