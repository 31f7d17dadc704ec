/**
 * What the CEF, LEEF and OCSF formats share: who the product is, how severe each beacon kind is, and the
 * values of an event as plain text (EventJson carries them already spelled as JSON).
 */
import { hasTime } from '../../registry/event.js';
import { secondsText } from './fields.js';

export const VENDOR = 'Oversight';
export const PRODUCT = 'Oversight Registry';
/** The registry does not report its own version, so the records carry the exporter's. */
export { VERSION as PRODUCT_VERSION } from '../../shared/version.js';
export { ipVersion } from './ip-text.js';

/**
 * Severity 0–10 (CEF, LEEF) by beacon kind. A pixel or a license check means the document was opened in a viewer;
 * an OCSP check comes from a crypto stack that may also run when a file is only previewed or scanned; a DNS
 * callback arrives through the reader's resolver (or a scanner's prefetch), so it says least about who opened it.
 */
const SEVERITY: ReadonlyMap<string, number> = new Map([
  ['http_img', 8],
  ['license', 8],
  ['ocsp', 7],
  ['dns', 6],
]);
export const UNKNOWN_KIND_SEVERITY = 5;

export function severityOf(kind: string): number {
  return SEVERITY.get(kind) ?? UNKNOWN_KIND_SEVERITY;
}

/** A value spelled as JSON (see EventJson) as plain text: strings unquoted, numbers as written; null stays null. */
export function plain(json: string | null): string | null {
  if (json === null) return null;
  if (json.charCodeAt(0) !== 34) return json;
  return json.indexOf('\\') < 0 ? json.slice(1, -1) : (JSON.parse(json) as string);
}

const milliseconds = secondsText('000', (u) => `${u}000`);

/** Epoch milliseconds of a whole-second time, as text: the seconds' digits and three zeros. */
export function epochMs(unixSeconds: number): string {
  return unixSeconds === 0 ? '0' : milliseconds(unixSeconds);
}

/**
 * `epochMs` of an event's time, or null when it has none a SIEM can read: 0, or outside years 1 to 9999
 * (1e23 seconds would print as `1e+23000`, which no epoch field parses; such a time is left out, not invented).
 */
export function eventTimeMs(unixSeconds: number): string | null {
  return hasTime(unixSeconds) ? epochMs(unixSeconds) : null;
}

