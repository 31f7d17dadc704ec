/** Test-side readers for the line formats, written from the standards rather than from our formatters. */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { FIXTURES, sqlRegistry } from './helpers.js';

export function hostileRegistry(): string {
  return sqlRegistry(fs.readFileSync(path.join(FIXTURES, 'hostile-registry.sql'), 'utf8'));
}

export interface Row {
  id: number;
  token_id: string | null;
  file_id: string | null;
  recipient_id: string | null;
  issuer_id: string | null;
  kind: string;
  source_ip: string | null;
  user_agent: string | null;
  extra: string | null;
  timestamp: number;
  qualified_timestamp: string | null;
  tlog_index: number | null;
}

/** The registry's rows as SQLite returns them, for comparing records with. */
export function registryRows(file: string): Row[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT * FROM events ORDER BY id').all() as Row[];
  } finally {
    db.close();
  }
}

/**
 * A CEF line per the ArcSight standard: seven header fields split on unescaped `|` (`\|` and `\\` unescaped),
 * then the extension, where every unescaped `=` ends a key (the key runs back to the preceding space) and values
 * unescape `\\`, `\=`, `\n` and `\r`.
 */
export function parseCef(line: string): { header: string[]; ext: Map<string, string> } {
  const header: string[] = [];
  let cur = '';
  let i = 0;
  while (header.length < 7) {
    if (i >= line.length) throw new Error(`CEF header ends early: ${line.slice(0, 80)}`);
    const c = line[i]!;
    if (c === '\\' && (line[i + 1] === '|' || line[i + 1] === '\\')) {
      cur += line[i + 1];
      i += 2;
    } else if (c === '|') {
      header.push(cur);
      cur = '';
      i++;
    } else {
      cur += c;
      i++;
    }
  }
  const ext = line.slice(i);
  const equals: number[] = [];
  for (let j = 0; j < ext.length; j++) {
    if (ext[j] === '\\') j++;
    else if (ext[j] === '=') equals.push(j);
  }
  const out = new Map<string, string>();
  const keyStart = (eq: number): number => ext.lastIndexOf(' ', eq) + 1;
  equals.forEach((eq, n) => {
    const key = ext.slice(keyStart(eq), eq);
    const end = n + 1 < equals.length ? keyStart(equals[n + 1]!) - 1 : ext.length;
    const raw = ext.slice(eq + 1, end);
    if (out.has(key)) throw new Error(`CEF key ${key} twice`);
    out.set(key, raw.replace(/\\([\\=nr])/g, (_m, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c)));
  });
  return { header, ext: out };
}

/** A LEEF 2.0 line per IBM's description: `LEEF:2.0|vendor|product|version|eventID|delimiter|` then key=value pairs. */
export function parseLeef(line: string): { header: string[]; attrs: Map<string, string> } {
  const parts = line.split('|');
  if (parts[0] !== 'LEEF:2.0' || parts.length < 7) throw new Error(`not LEEF 2.0: ${line.slice(0, 80)}`);
  const header = parts.slice(1, 6);
  let delimiter = header[4]!;
  if (/^(0x|x)[0-9a-f]{1,4}$/i.test(delimiter)) delimiter = String.fromCharCode(parseInt(delimiter.replace(/^0?x/i, ''), 16));
  const attrs = new Map<string, string>();
  for (const a of parts.slice(6).join('|').split(delimiter)) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new Error(`LEEF attribute without a key: ${a.slice(0, 80)}`);
    if (attrs.has(a.slice(0, eq))) throw new Error(`LEEF key ${a.slice(0, eq)} twice`);
    attrs.set(a.slice(0, eq), a.slice(eq + 1));
  }
  return { header, attrs };
}

/** CEF, docs/SIEM.md: CR and LF are escaped; every other C0 control and DEL becomes U+FFFD. */
export const cefSanitized = (s: string): string => s.replace(/[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f]/g, '\uFFFD');
export const cefSeverity: Record<string, string> = { http_img: '8', license: '8', ocsp: '7', dns: '6' };

/** The extension pairs docs/SIEM.md promises for a registry row (all but `act` and the `extra` JSON in `cs5`). */
export function expectedCefPairs(r: Row, registryId: string): Map<string, string> {
  const m = new Map<string, string>([
    ['rt', String(r.timestamp * 1000)],
    ['cat', `/Oversight/Beacon/${r.kind}`],
    ['deviceExternalId', registryId],
    ['externalId', String(r.id)],
  ]);
  if (r.source_ip !== null) {
    const v = isIP(r.source_ip);
    if (v === 4) m.set('src', r.source_ip);
    else if (v === 6) m.set('c6a1Label', 'SourceIPv6').set('c6a1', r.source_ip);
    else m.set('cs6Label', 'SourceAddress').set('cs6', r.source_ip);
  }
  if (r.user_agent) m.set('requestClientApplication', cefSanitized(r.user_agent));
  const customs: [string, string, string | null][] = [
    ['cs1', 'TokenId', r.token_id], ['cs2', 'FileId', r.file_id], ['cs3', 'RecipientId', r.recipient_id], ['cs4', 'IssuerId', r.issuer_id],
    ['flexString1', 'QualifiedTimestamp', r.qualified_timestamp],
  ];
  for (const [k, label, v] of customs) if (v !== null) m.set(`${k}Label`, label).set(k, cefSanitized(v));
  if (r.tlog_index !== null) m.set('cn1Label', 'TlogIndex').set('cn1', String(r.tlog_index));
  return m;
}
