/**
 * Pseudonyms for the personal data in an event, applied to the event's JSON values just before a formatter
 * writes them, so every format, transport and dead-letter file carries the same pseudonyms, on the main thread
 * and on worker threads alike. A keyed HMAC (not a plain hash) so nobody without the key can test a guessed
 * address or id against a pseudonym; the same value always gives the same pseudonym, so SIEM joins and counts
 * still work.
 */
import { createHmac } from 'node:crypto';
import net from 'node:net';
import { checkPrivateFile, readSecretBytes } from '../shared/secrets.js';
import { ConfigurationError, registerSecret } from '../shared/errors.js';
import { quote, type EventJson, type JsonFormatter } from './formats/fields.js';

export const PSEUDONYM_FIELDS = ['source_ip', 'recipient_id', 'issuer_id', 'user_agent', 'token_id'] as const;
export type PseudonymField = (typeof PSEUDONYM_FIELDS)[number];

const SLOT: Readonly<Record<PseudonymField, 'sourceIp' | 'recipient' | 'issuer' | 'userAgent' | 'token'>> = {
  source_ip: 'sourceIp', recipient_id: 'recipient', issuer_id: 'issuer', user_agent: 'userAgent', token_id: 'token',
};

/** Marks a value as a pseudonym; the digit is the scheme, so a later scheme can be told apart. */
export const PSEUDONYM_PREFIX = 'ps1:';
/** 128 bits of the HMAC: no collision in any registry's lifetime (birthday bound 2^64), half the bytes per field. */
const HEX_CHARS = 32;
export const MIN_KEY_BYTES = 32;

export interface PrivacySettings {
  fields: PseudonymField[];
  key: Uint8Array | null;
  /** Network bits kept of IPv4 and IPv6 source addresses. */
  ipPrefix: { v4: number; v6: number } | null;
}

/** The privacy rules as configured: the key is still a file name. */
export interface PrivacyPlan {
  fields: PseudonymField[];
  keyFile: string | null;
  ipPrefix: { v4: number; v6: number } | null;
}

export interface PrivacyFlags {
  pseudonymize?: string;
  pseudonymKeyFile?: string;
  ipPrefix?: string;
}

/** Check the flags (no file is read); null when the export keeps every value. */
export function parsePrivacy(f: PrivacyFlags): PrivacyPlan | null {
  const fields = [...new Set((f.pseudonymize ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''))];
  for (const name of fields) {
    if (!(PSEUDONYM_FIELDS as readonly string[]).includes(name)) {
      throw new ConfigurationError(`--pseudonymize: unknown field '${name}' (choices: ${PSEUDONYM_FIELDS.join(', ')})`);
    }
  }
  if (f.pseudonymize !== undefined && fields.length === 0) throw new ConfigurationError(`--pseudonymize needs a comma list of fields (${PSEUDONYM_FIELDS.join(', ')})`);
  if (fields.length > 0 && !f.pseudonymKeyFile) {
    throw new ConfigurationError(`--pseudonymize needs --pseudonym-key-file FILE holding at least ${MIN_KEY_BYTES} random bytes (e.g. head -c 32 /dev/urandom > FILE)`);
  }
  if (fields.length === 0 && f.pseudonymKeyFile) {
    throw new ConfigurationError('--pseudonym-key-file is set but --pseudonymize names no fields: add --pseudonymize FIELDS or drop the key file');
  }
  const ipPrefix = f.ipPrefix === undefined ? null : parseIpPrefix(f.ipPrefix);
  if (ipPrefix && fields.includes('source_ip')) {
    throw new ConfigurationError('--ip-prefix and --pseudonymize source_ip both rewrite source_ip: choose one');
  }
  if (fields.length === 0 && !ipPrefix) return null;
  return { fields: fields as PseudonymField[], keyFile: fields.length > 0 ? f.pseudonymKeyFile! : null, ipPrefix };
}

/** The privacy rules with their key read (the one step that touches the disk). */
export function loadPrivacy(plan: PrivacyPlan | null): PrivacySettings | null {
  if (!plan) return null;
  return { fields: plan.fields, key: plan.keyFile ? readKey(plan.keyFile) : null, ipPrefix: plan.ipPrefix };
}

function parseIpPrefix(text: string): { v4: number; v6: number } {
  const m = /^\s*(\d{1,2})\s*,\s*(\d{1,3})\s*$/.exec(text);
  if (!m || Number(m[1]) > 32 || Number(m[2]) > 128) {
    throw new ConfigurationError(`--ip-prefix must be IPv4 and IPv6 prefix lengths such as 24,64 (at most 32 and 128), not '${text}'`);
  }
  return { v4: Number(m[1]), v6: Number(m[2]) };
}

/** The key file's bytes; a text key (hex, base64) loses its final newline, a binary key is taken as it is. */
function readKey(file: string): Uint8Array {
  checkPrivateFile(file, '--pseudonym-key-file');
  let bytes = readSecretBytes(file, '--pseudonym-key-file');
  const text = bytes.toString('latin1');
  if (/^[\x20-\x7e]*[\r\n]*$/.test(text)) {
    const trimmed = text.replace(/[\r\n]+$/, '');
    registerSecret(trimmed);
    bytes = Buffer.from(trimmed, 'latin1');
  }
  registerSecret(bytes.toString('hex'));
  if (bytes.length < MIN_KEY_BYTES) {
    throw new ConfigurationError(
      `--pseudonym-key-file names a file of ${bytes.length} byte(s); a key needs at least ${MIN_KEY_BYTES} (e.g. head -c 32 /dev/urandom > FILE)`,
    );
  }
  return new Uint8Array(bytes);
}

/** Rewrites an event's JSON values in place. */
export type Pseudonymizer = (e: EventJson) => EventJson;

export function pseudonymizer(s: PrivacySettings): Pseudonymizer {
  const key = s.key;
  const cache = new Map<string, string>();
  // Recipients, issuers and user agents repeat from event to event; a bounded cache saves most HMACs.
  const pseudonym = (value: string): string => {
    let hit = cache.get(value);
    if (hit === undefined) {
      hit = quote(PSEUDONYM_PREFIX + createHmac('sha256', key!).update(value, 'utf8').digest('hex').slice(0, HEX_CHARS));
      if (cache.size >= 8192) cache.clear();
      cache.set(value, hit);
    }
    return hit;
  };
  const slots = s.fields.map((f) => SLOT[f]);
  const prefix = s.ipPrefix;
  const hidesToken = s.fields.includes('token_id');
  return (e) => {
    for (const slot of slots) {
      const json = e[slot];
      if (json === null) continue;
      const value = plain(json);
      // The registry's marker for "no address known" carries nothing personal and stays readable.
      if (slot === 'sourceIp' && value === 'unknown') continue;
      e[slot] = pseudonym(value);
    }
    if (prefix && e.sourceIp !== null) {
      const value = plain(e.sourceIp);
      if (value !== 'unknown') {
        const network = networkOf(value, prefix.v4, prefix.v6);
        // Text that is no address cannot be cut to a network, and may itself say who it was: left out.
        e.sourceIp = network === null ? null : quote(network);
      }
    }
    // A DNS beacon's query name carries the token: it goes with the token.
    if (hidesToken && e.extraJson !== null && e.extraJson.includes('"qname":')) {
      e.extraJson = e.extraJson.replace(QNAME, (_m, sep: string, q: string) => sep + pseudonym(JSON.parse(q) as string));
    }
    return e;
  };
}

const QNAME = /("qname":\s*)("(?:[^"\\]|\\.)*")/g;

/** A value as the text that is hashed: a JSON string unquoted, a number as written. */
function plain(json: string): string {
  return json.charCodeAt(0) === 34 ? (JSON.parse(json) as string) : json;
}

/** The first address of the network `text` is in, or null when `text` is not an IP address. */
export function networkOf(text: string, v4: number, v6: number): string | null {
  if (net.isIPv4(text)) return maskV4(text, v4);
  const bare = text.split('%')[0]!;
  if (!net.isIPv6(bare)) return null;
  const groups = parseV6(bare);
  // An IPv4 address written as IPv6 (::ffff:a.b.c.d) keeps its IPv4 network.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const dotted = [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join('.');
    return '::ffff:' + maskV4(dotted, v4);
  }
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, v6 - i * 16));
    groups[i] = groups[i]! & (keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff);
  }
  return formatV6(groups);
}

function maskV4(text: string, bits: number): string {
  const n = text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  const masked = bits === 0 ? 0 : n - (n % 2 ** (32 - bits));
  return [masked >>> 24, (masked >>> 16) & 255, (masked >>> 8) & 255, masked & 255].join('.');
}

function parseV6(text: string): number[] {
  // A dotted IPv4 tail becomes its two groups, so only hex groups remain.
  const s = text.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a: string, b: string, c: string, d: string) =>
    ((Number(a) << 8) | Number(b)).toString(16) + ':' + ((Number(c) << 8) | Number(d)).toString(16));
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const gap = s.indexOf('::');
  if (gap < 0) return groups(s);
  const left = groups(s.slice(0, gap));
  const right = groups(s.slice(gap + 2));
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run of two or more zero groups as '::'. */
function formatV6(groups: number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return hex.slice(0, best).join(':') + '::' + hex.slice(best + bestLen).join(':');
}

/** A JSON formatter that writes pseudonyms. */
export function withPseudonyms(format: JsonFormatter, p: Pseudonymizer | null): JsonFormatter {
  return p ? (e) => format(p(e)) : format;
}
