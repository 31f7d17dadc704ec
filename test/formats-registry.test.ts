/**
 * The format and transport lists drive the CLI, and text records travel everywhere JSON ones do: to files, to
 * the generic HTTP transport one per line, through dead-letter files and back with replay.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FORMATS } from '../src/records/formats/index.js';
import { TRANSPORTS } from '../src/transports/index.js';
import { jsonLines, ROOT, runCli, tempDir, withPeer } from './helpers.js';
import { hostileRegistry, parseCef, parseLeef, registryRows } from './formats-support.js';
import { JsonArrayPeer } from './peers/http-json.js';
import { TextLinesPeer } from './peers/http-text.js';

describe('format and transport registry', () => {
  it('the help lists every format and transport with its flags', async () => {
    const r = await runCli(['siem', 'export', '--help']);
    assert.equal(r.code, 0);
    for (const f of FORMATS) {
      assert.match(r.stdout, new RegExp(`^  ${f.name} +\\S`, 'm'), f.name);
      for (const flag of f.flags ?? []) assert.ok(r.stdout.includes(flag.flags), flag.flags);
    }
    for (const t of TRANSPORTS) {
      assert.match(r.stdout, new RegExp(`^  ${t.name} +\\S`, 'm'), t.name);
      for (const flag of t.flags ?? []) assert.ok(r.stdout.includes(flag.flags), flag.flags);
    }
  });

  it('no two transports claim the same URL without telling them apart', () => {
    const catchAll = new Map<string, string>();
    for (const t of TRANSPORTS) {
      if (t.detect) continue;
      for (const s of t.schemes ?? []) {
        assert.equal(catchAll.get(s), undefined, `${s}:// is the catch-all of ${catchAll.get(s)} and ${t.name}`);
        catchAll.set(s, t.name);
      }
    }
  });

  it('a transport that needs one format says so for a text format', async () => {
    const db = hostileRegistry();
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'r', '--format', 'cef', '--output', 'https://splunk.example:8088/services/collector/event']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^oversight: splunk-hec carries splunk records, not cef: use --format splunk or another --transport\n$/);
  });
});

describe('text records', () => {
  const db = hostileRegistry();
  const rows = registryRows(db);

  it('are appended to a file one per line', async () => {
    const out = path.join(tempDir(), 'events.leef');
    for (const limit of ['5', '100']) {
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'r', '--format', 'leef', '--output', out, '--limit', limit]);
      assert.equal(r.code, 0, r.stderr);
    }
    const lines = fs.readFileSync(out, 'utf8').slice(0, -1).split('\n');
    assert.equal(lines.length, 5 + rows.length);
    for (const line of lines) parseLeef(line);
  });

  it('go to the generic HTTP transport as text/plain, one per line, and come back from dead letters with replay', async () => {
    const dir = tempDir();
    const deadLetters = path.join(dir, 'dead.jsonl');
    // The 10 kB user agent makes one record larger than this collector takes.
    await withPeer(new TextLinesPeer(8000).start(), async (peer) => {
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'r', '--format', 'cef', '--output', peer.url, '--dead-letter', deadLetters]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /exported 15 event\(s\) as cef via http \(1 dead-lettered/);
      assert.deepEqual(peer.lines.map((l) => parseCef(l).ext.get('externalId')), rows.filter((x) => x.id !== 6).map((x) => String(x.id)));
    });
    const [letter, ...more] = jsonLines(fs.readFileSync(deadLetters, 'utf8'));
    assert.equal(more.length, 0);
    assert.equal(letter!['format'], 'cef');
    assert.equal(letter!['status'], 413);
    assert.equal(typeof letter!['record'], 'string');
    assert.equal(parseCef(letter!['record'] as string).ext.get('externalId'), '6');
    await withPeer(new TextLinesPeer().start(), async (peer) => {
      const r = await runCli(['siem', 'replay', '--dead-letter', deadLetters, '--output', peer.url]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /replayed 1 event\(s\) as cef via http/);
      assert.deepEqual(peer.lines, [letter!['record']]);
    });
  });
});

describe('OCSF records', () => {
  it('go to the generic HTTP transport as JSON arrays, like the other JSON formats', async () => {
    const db = hostileRegistry();
    await withPeer(new JsonArrayPeer().start(), async (peer) => {
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'r', '--format', 'ocsf', '--output', peer.url, '--batch-size', '5']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(peer.batches.length, 4);
      assert.deepEqual(peer.records.map((x) => (x['metadata'] as Record<string, unknown>)['original_event_uid']), registryRows(db).map((x) => String(x.id)));
    });
  });
});

describe('a transport that wraps records', () => {
  it('wraps them the same on formatting threads as on the main thread', async () => {
    // The built modules: formatting threads run dist/pipeline/format-worker.js.
    const dist = (m: string): Promise<Record<string, any>> => import(path.join(ROOT, 'dist', m));
    const { formatInWorkers } = await dist('pipeline/format-workers.js');
    const { TRANSPORTS: built } = await dist('transports/index.js');
    const { eventFormatter } = await dist('records/spec.js');
    const { withDefaults } = await dist('shared/options.js');
    const { iterRegistryEvents } = await dist('registry/source.js');
    const db = hostileRegistry();
    const wrapping = (built as typeof TRANSPORTS).filter((t) => t.envelope);
    assert.ok(wrapping.length > 0, 'some transport wraps records (syslog)');
    for (const t of wrapping) {
      for (const format of ['cef', 'ocsf']) {
        const spec = { format, settings: {}, envelope: t.envelope!(withDefaults(t.flags ?? [], {})), privacy: null };
        const main = eventFormatter(spec);
        const want = [...iterRegistryEvents(db, { registryId: 'r' })].map((e) => main(e) as string);
        const got: string[] = [];
        const plan = { db, registryId: 'r', spec, since: null, afterRowid: 0, endRowid: 16, workers: 2, rangeSize: 5, records: true };
        for await (const chunk of formatInWorkers(plan)) got.push(...chunk.body.toString('utf8').split('\n').slice(0, -1));
        assert.deepEqual(got, want, `${t.name} with ${format}`);
        assert.notDeepEqual(want, [...iterRegistryEvents(db, { registryId: 'r' })].map((e) => eventFormatter({ ...spec, envelope: null })(e)));
      }
    }
  });
});
