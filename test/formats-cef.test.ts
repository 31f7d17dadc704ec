/**
 * CEF records read back by a parser written from the standard and cross-checked with nsyslog-parser: every value
 * of the hostile registry comes back (with the documented replacement of control characters), and no value can
 * spill into another field or record.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import nsyslog from 'nsyslog-parser';
import { runCli, trickyRegistry } from './helpers.js';
import { cefSeverity as SEVERITY, expectedCefPairs as expectedPairs, hostileRegistry, parseCef, registryRows } from './formats-support.js';

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
