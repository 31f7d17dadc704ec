/**
 * ArcSight Common Event Format (CEF:0): one line per event, for ArcSight, Sentinel's CommonSecurityLog (through
 * the Azure Monitor Agent), QRadar and syslog relays. Field by field in docs/SIEM.md ("CEF").
 *
 * Escaping is the standard's: in the header `\` and `|` are backslash-escaped; in extension values `\` and `=`
 * are, and CR and LF become the two characters `\r` and `\n`. The standard has no way to write other control
 * characters, and receivers disagree about them (NUL ends a C string, rsyslog rewrites them as #ooo), so every
 * other C0 control character and DEL becomes U+FFFD. C1 characters and all other Unicode pass unchanged: they are
 * valid UTF-8, nothing in CEF or syslog framing reacts to them, and they keep Latin-1-garbled user agents
 * recoverable.
 */
import { actionForKind, nestedExtra } from '../../registry/event.js';
import { eventTimeMs, ipVersion, plain, PRODUCT, PRODUCT_VERSION, severityOf, VENDOR } from './beacon.js';
import { kindCache, lastOf, type EventJson, type JsonFormatter } from './fields.js';
import type { FormatDescription } from './format.js';

const HEADER_SPECIAL = /[\\|\u0000-\u001f\u007f]/;
const VALUE_SPECIAL = /[\\=\u0000-\u001f\u007f]/;

/** A header field: `\` and `|` escaped, control characters (line breaks too: the header cannot carry them) replaced. */
export function cefHeader(s: string, max: number): string {
  const t = s.length > max ? s.slice(0, max) : s;
  if (!HEADER_SPECIAL.test(t)) return t;
  return t.replace(/[\\|\u0000-\u001f\u007f]/g, (c) => (c === '\\' ? '\\\\' : c === '|' ? '\\|' : '\uFFFD'));
}

/** An extension value: `\` and `=` escaped, CR and LF as `\r` and `\n`, other control characters replaced. */
export function cefValue(s: string): string {
  if (!VALUE_SPECIAL.test(s)) return s;
  return s.replace(/[\\=\u0000-\u001f\u007f]/g, (c) =>
    c === '\\' ? '\\\\' : c === '=' ? '\\=' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\uFFFD',
  );
}

/**
 * A value spelled as JSON, escaped for the extension. JSON text without a backslash holds no control character
 * and no backslash, so most values only need a look for `=`.
 */
function jsonValue(json: string): string {
  if (json.charCodeAt(0) !== 34) return json;
  if (json.indexOf('\\') >= 0) return cefValue(JSON.parse(json) as string);
  const s = json.slice(1, -1);
  return s.indexOf('=') < 0 ? s : s.replace(/=/g, '\\=');
}

/**
 * ` key=value` for a value spelled as JSON, or nothing when the registry has none. `at` is ` key=`, written out
 * whole so no record builds it again; for a custom string, with its label before it, as ArcSight and Sentinel's
 * CommonSecurityLog expect them (` cs1Label=TokenId cs1=`).
 */
function pair(at: string, json: string | null): string {
  return json === null ? '' : at + jsonValue(json);
}

export function cefJsonFormatter(): JsonFormatter {
  // Header lengths: the standard's limits (class id 1023, name 512).
  const head = kindCache(
    (kind) =>
      `CEF:0|${VENDOR}|${PRODUCT}|${cefHeader(PRODUCT_VERSION, 31)}|${cefHeader(`beacon:${kind}`, 1023)}|${cefHeader(
        `Leaked document beacon (${kind})`, 512)}|${severityOf(kind)}|`,
  );
  const kindPairs = kindCache((kind) => `cat=${cefValue(`/Oversight/Beacon/${kind}`)} act=${cefValue(actionForKind(kind))}`);
  const registry = lastOf((id) => (id === '' ? '' : ` deviceExternalId=${cefValue(id)}`));
  return (e: EventJson): string => {
    const ip = plain(e.sourceIp);
    const version = ipVersion(ip);
    // `src` is IPv4 in ArcSight and CommonSecurityLog; IPv6 goes to the custom IPv6 address; anything else
    // (the registry's `unknown`) is not an address at all and stays a labelled string.
    const source =
      ip === null ? '' : version === 4 ? ` src=${ip}` : version === 6 ? ` c6a1Label=SourceIPv6 c6a1=${ip}` : ` cs6Label=SourceAddress cs6=${cefValue(ip)}`;
    const tlog = e.tlogIndex;
    const tlogPair =
      tlog === null ? '' : /^-?\d{1,15}$/.test(tlog) ? ` cn1Label=TlogIndex cn1=${tlog}` : pair(' flexString2Label=TlogIndex flexString2=', tlog);
    // The event id goes last: parsers trim the final value, and an id has no spaces to lose.
    // A zero timestamp is the registry's "no time", and so is one outside years 1-9999 (no epoch field reads
    // 1e23): without `rt` the receiver's own time applies.
    const ms = eventTimeMs(e.occurredUnix);
    return `${head(e.kind)}${ms === null ? '' : `rt=${ms} `}${kindPairs(e.kind)}${registry(e.registryId)}${source}${
      pair(' requestClientApplication=', e.userAgent)}${pair(' cs1Label=TokenId cs1=', e.token)}${pair(' cs2Label=FileId cs2=', e.file)}${
      pair(' cs3Label=RecipientId cs3=', e.recipient)}${pair(' cs4Label=IssuerId cs4=', e.issuer)}${
      e.extraJson === null ? '' : ` cs5Label=Extra cs5=${cefValue(nestedExtra(e.extraJson))}`}${tlogPair}${
      pair(' flexString1Label=QualifiedTimestamp flexString1=', e.qualifiedTimestamp)}${e.idJson === null ? '' : ` externalId=${jsonValue(e.idJson)}`}`;
  };
}

export const cefFormat: FormatDescription = {
  name: 'cef',
  summary: 'ArcSight CEF lines (ArcSight, Sentinel CommonSecurityLog, syslog relays)',
  records: 'text',
  create: () => cefJsonFormatter(),
};
