/**
 * CEF records read back by a parser written from the standard and cross-checked with nsyslog-parser: every value
 * of the hostile registry comes back (with the documented replacement of control characters), and no value can
 * spill into another field or record.
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import nsyslog from 'nsyslog-parser';
import { runCli, trickyRegistry } from './helpers.js';
import { hostileRegistry, parseCef, registryRows, type Row } from './formats-support.js';

/** docs/SIEM.md: CR and LF are escaped; every other C0 control and DEL becomes U+FFFD. */
const sanitized = (s: string): string => s.replace(/[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f]/g, '\uFFFD');
const SEVERITY: Record<string, string> = { http_img: '8', license: '8', ocsp: '7', dns: '6' };

function expectedPairs(r: Row, registryId: string): Map<string, string> {
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
  if (r.user_agent) m.set('requestClientApplication', sanitized(r.user_agent));
  const customs: [string, string, string | null][] = [
    ['cs1', 'TokenId', r.token_id], ['cs2', 'FileId', r.file_id], ['cs3', 'RecipientId', r.recipient_id], ['cs4', 'IssuerId', r.issuer_id],
    ['flexString1', 'QualifiedTimestamp', r.qualified_timestamp],
  ];
  for (const [k, label, v] of customs) if (v !== null) m.set(`${k}Label`, label).set(k, sanitized(v));
  if (r.tlog_index !== null) m.set('cn1Label', 'TlogIndex').set('cn1', String(r.tlog_index));
  return m;
}

async function exportCef(db: string, registryId: string, extra: string[] = []): Promise<string[]> {
  const r = await runCli(['siem', 'export', '--db', db, '--registry-id', registryId, '--format', 'cef', '--quiet', ...extra]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.endsWith('\n'));
  return r.stdout.slice(0, -1).split('\n');
}

describe('cef', () => {
  const db = hostileRegistry();
  const rows = registryRows(db);
  const registryId = 'reg|1=x\\y';

  it('writes one line per event whatever the values hold', async () => {
    const lines = await exportCef(db, registryId);
    assert.equal(lines.length, rows.length);
    for (const line of lines) {
      assert.match(line, /^CEF:0\|/);
      assert.doesNotMatch(line, /[\u0000-\u001f\u007f]/, 'no control character survives in a record');
    }
  });

  it('gives back every value of the hostile registry, each under its own key', async () => {
    const lines = await exportCef(db, registryId);
    rows.forEach((r, i) => {
      const { header, ext } = parseCef(lines[i]!);
      assert.deepEqual(header, ['CEF:0', 'Oversight', 'Oversight Registry', header[3], `beacon:${r.kind}`, `Leaked document beacon (${r.kind})`, SEVERITY[r.kind]]);
      const want = expectedPairs(r, registryId);
      for (const [k, v] of want) assert.equal(ext.get(k), v, `event ${r.id}: ${k}`);
      assert.ok(ext.get('act')?.startsWith('beacon-'));
      const extra = ext.get('cs5');
      if (r.extra === '{}') assert.equal(extra, undefined);
      else {
        assert.equal(ext.get('cs5Label'), 'Extra');
        assert.deepEqual(JSON.parse(extra!), JSON.parse(r.extra!));
      }
      const known = new Set([...want.keys(), 'act', 'cs5Label', 'cs5']);
      for (const k of ext.keys()) assert.ok(known.has(k), `event ${r.id}: unexpected key ${k}`);
    });
  });

  it('agrees with nsyslog-parser on the header and on every value it can split', async () => {
    const lines = await exportCef(db, registryId);
    let compared = 0;
    for (const line of lines) {
      const ours = parseCef(line);
      const theirs = nsyslog(line, { cef: true }) as { cef: Record<string, string>; fields: Record<string, string> };
      const unescapeHeader = (s: string): string => s.replace(/\\([|\\])/g, '$1');
      assert.equal(unescapeHeader(theirs.cef['deviceEventClassID']!), ours.header[4]);
      assert.equal(unescapeHeader(theirs.cef['name']!), ours.header[5]);
      assert.equal(theirs.cef['severity'], ours.header[6]);
      // nsyslog-parser splits the extension on spaces and takes any token with `=` for a new key, escaped or
      // not, and unescapes nothing; values free of `=` are comparable.
      for (const [k, v] of ours.ext) {
        if (v.includes('=') || /[\\\n\r]/.test(v)) continue;
        assert.equal(theirs.fields[k]?.trimEnd(), v.trimEnd(), k);
        compared++;
      }
    }
    assert.ok(compared > rows.length * 8, `compared ${compared} values`);
  });

  it('formats the tricky registry the same with and without formatting threads', async () => {
    const tricky = trickyRegistry();
    const one = await exportCef(tricky, 'r', ['--threads', '1']);
    const two = await exportCef(tricky, 'r', ['--threads', '2']);
    assert.deepEqual(two, one);
    for (const line of one) parseCef(line);
  });
});
