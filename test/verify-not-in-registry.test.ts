/**
 * `siem verify` names what the destination holds under this registry id that never happened in the registry: a
 * line added to the file, an event written with the HEC token, a document written with write access to the data
 * stream. Events of another registry, and the registry's own events outside the verified rowids, are not.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, it } from 'node:test';
import { RegistrySource } from '../src/registry/source.js';
import { runVerify } from '../src/verify/index.js';
import { FileVerifier } from '../src/verify/files.js';
import { EsPeer } from './peers/elasticsearch.js';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, runCli, tempDir, withPeer } from './helpers.js';
import { assertForgeriesFound, assertOnlyForgeries, counted, forgeries, listed, sharedSecond } from './verify-support.js';

type Rec = Record<string, any>;
const iso = (s: number): string => new Date(s * 1000).toISOString();

/** Where each JSON format keeps the event id, the registry id and the time. */
const FIELDS: Record<string, { id(r: Rec): string; set(r: Rec, id: string, registry: string, time: number): void }> = {
  ecs: {
    id: (r) => String(r.event.id),
    set: (r, id, registry, time) => ((r.event.id = id), (r.oversight.registry_id = registry), (r['@timestamp'] = iso(time))),
  },
  splunk: {
    id: (r) => String(r.event.event_id),
    set: (r, id, registry, time) => ((r.event.event_id = id), (r.event.registry_id = registry), (r.time = time)),
  },
  sentinel: {
    id: (r) => String(r.EventId),
    set: (r, id, registry, time) => ((r.EventId = id), (r.RegistryId = registry), (r.TimeGenerated = iso(time))),
  },
};

const HEC = '1d6c2a4e-8f3b-4c5d-9e0f-112233445566';
const SEARCH = 'search-token-for-the-not-in-registry-test';

/** 60 demo events exported to a fake Splunk (HEC and search), and the verify command line that asks it. */
function splunkExport(fn: (x: { peer: HecPeer; db: string; env: Record<string, string>; verify: string[] }) => Promise<void>): Promise<void> {
  const env = { OVERSIGHT_SPLUNK_HEC_TOKEN: HEC, OVERSIGHT_SPLUNK_SEARCH_TOKEN: SEARCH };
  return withPeer(new HecPeer({ token: HEC, searchToken: SEARCH }).start(), async (peer) => {
    const db = demoRegistry(60);
    assert.equal((await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url], { env })).code, 0);
    const verify = ['siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--splunk-search-url', peer.peer.url, '--window', '10'];
    await fn({ peer, db, env, verify });
  });
}

describe('siem verify: records not in the registry', () => {
  for (const format of Object.keys(FIELDS)) {
    it(`names ${format} lines under this registry id whose event id the registry does not hold, and fails`, async () => {
      const db = demoRegistry(60);
      const dir = tempDir();
      const out = path.join(dir, `events.${format}.jsonl`);
      const base = ['siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', out, '--format', format];
      assert.equal((await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', out, '--format', format])).code, 0);
      const clean = await runCli([...base, '--window', '10']);
      assert.equal(clean.code, 0, clean.stderr);
      assert.equal(counted(clean.stderr, 'not in the registry'), 0);

      const f = FIELDS[format]!;
      const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec);
      for (const x of forgeries(db)) {
        const copy = structuredClone(lines.find((r) => f.id(r) === String(x.like))!);
        f.set(copy, x.id, x.registry, x.time);
        fs.appendFileSync(out, JSON.stringify(copy) + '\n');
      }
      const report = path.join(dir, 'report.json');
      const r = await runCli([...base, '--window', '10', '--report', report]);
      assertForgeriesFound(r, 60, report);

      // Events of the registry past --to-rowid share the last verified second: they are in the registry, not made up.
      const to = sharedSecond(db, 10);
      const part = await runCli([...base, '--to-rowid', String(to)]);
      assertOnlyForgeries(part);
    });
  }

  for (const format of Object.keys(FIELDS)) {
    it(`names ${format} lines under this registry id without an event id, and still says which lines cannot be placed`, async () => {
      const db = demoRegistry(30);
      const out = path.join(tempDir(), `events.${format}.jsonl`);
      assert.equal((await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', out, '--format', format])).code, 0);
      const f = FIELDS[format]!;
      const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec);
      const time = forgeries(db)[0]!.time;
      // A made-up line that leaves the event id out, as the review found: `{"@timestamp": …, "oversight":
      // {"registry_id": "reg", …}}`. Two of them count two; another registry's does not count.
      const noId = (registry: string): string => {
        const copy = structuredClone(lines[4]!);
        f.set(copy, 'gone', registry, time);
        if (format === 'ecs') delete copy.event.id;
        else if (format === 'splunk') delete copy.event.event_id;
        else delete copy.EventId;
        return JSON.stringify(copy);
      };
      fs.appendFileSync(out, [noId('reg'), noId('reg'), noId('other'), '{"unplaced": true}'].join('\n') + '\n');
      const r = await runCli(['siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', out, '--format', format, '--window', '10']);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(counted(r.stderr, 'not in the registry'), 2);
      assert.deepEqual(listed(r.stderr, 'not in the registry'), ['(no event id)']);
      assert.equal(counted(r.stderr, 'present once'), 30);
      assert.match(r.stderr, / 1 line\(s\) of .* are not records with an event id, nor with a registry id and a time to place them by; they were not counted$/m);
    });
  }

  it('looks from the earliest event of the range on, though the registry times its rows out of rowid order', async () => {
    const db = demoRegistry(30);
    // The last rows carry times before the first ones (a clock stepped back, rows copied in later): the first
    // window's oldest event is not the range's.
    const reg = new Database(db);
    const first = reg.prepare('SELECT min(timestamp) FROM events').pluck(true).get() as number;
    reg.prepare('UPDATE events SET timestamp = ? WHERE id > 25').run(first - 600);
    reg.close();
    const out = path.join(tempDir(), 'events.jsonl');
    const base = ['siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', out, '--format', 'ecs', '--window', '10'];
    assert.equal((await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', out, '--format', 'ecs'])).code, 0);
    const clean = await runCli(base);
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(counted(clean.stderr, 'not in the registry'), 0);

    // Made up, and dated between the moved rows and the first window.
    const copy = JSON.parse(fs.readFileSync(out, 'utf8').split('\n')[2]!) as Rec;
    FIELDS['ecs']!.set(copy, 'made-up-1', 'reg', first - 300);
    fs.appendFileSync(out, JSON.stringify(copy) + '\n');
    const r = await runCli(base);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(counted(r.stderr, 'not in the registry'), 1);
    assert.deepEqual(listed(r.stderr, 'not in the registry'), ['made-up-1']);
  });

  it('asks only about seconds of events a SIEM can hold, whatever times other rows carry', async () => {
    const db = demoRegistry(30);
    const reg = new Database(db);
    const times = reg.prepare('SELECT timestamp FROM events ORDER BY id').pluck(true).all() as number[];
    // Milliseconds where seconds belong and a time before year 1: no time a SIEM holds, so they bound nothing.
    reg.prepare('UPDATE events SET timestamp = ? WHERE id = ?').run(times[29]! * 1000, 30);
    reg.prepare('UPDATE events SET timestamp = ? WHERE id = ?').run(-62200000000, 1);
    reg.close();
    const held = times.slice(1, 29);
    const out = path.join(tempDir(), 'events.jsonl');
    assert.equal((await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', out, '--format', 'ecs'])).code, 0);
    const like = JSON.parse(fs.readFileSync(out, 'utf8').split('\n')[5]!) as Rec;
    const made = (id: string, time: number): string => {
      const copy = structuredClone(like);
      FIELDS['ecs']!.set(copy, id, 'reg', time);
      return JSON.stringify(copy);
    };
    // Within the verified events' seconds, a day after the newest, a day before the oldest.
    fs.appendFileSync(out, [made('made-up-in', held[10]!), made('made-up-after', Math.max(...held) + 86400), made('made-up-before', Math.min(...held) - 86400)].join('\n') + '\n');
    const r = await runCli(['siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', out, '--format', 'ecs', '--window', '10']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(counted(r.stderr, 'present once'), 30);
    assert.equal(counted(r.stderr, 'not in the registry'), 1);
    assert.deepEqual(listed(r.stderr, 'not in the registry'), ['made-up-in']);
  });

  it('keeps a count and the first ids only, however many records were made up', async () => {
    const db = demoRegistry(30);
    const out = path.join(tempDir(), 'events.jsonl');
    assert.equal((await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', out, '--format', 'ecs'])).code, 0);
    const like = JSON.parse(fs.readFileSync(out, 'utf8').split('\n')[3]!) as Rec;
    const made: string[] = [];
    for (let i = 0; i < 1200; i++) {
      const copy = structuredClone(like);
      FIELDS['ecs']!.set(copy, `x-${i}`, 'reg', Date.parse(like['@timestamp']) / 1000);
      made.push(JSON.stringify(copy));
    }
    fs.appendFileSync(out, made.join('\n') + '\n');
    const source = RegistrySource.open(db);
    try {
      const r = await runVerify({ source, registryId: 'reg', backend: new FileVerifier(out, 'ecs', 'reg'), listCap: 7 });
      assert.equal(r.counts.not_in_registry, 1200);
      assert.equal(r.ids.not_in_registry.length, 7);
      assert.equal(r.ok, false);
    } finally {
      source.close();
    }
    const cli = await runCli(['siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', out, '--format', 'ecs', '--list', '3']);
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stderr, /^not in the registry \(1200\): x-\d+, x-\d+, x-\d+, … more \(see --report\)$/m);
  });

  it('names events written to Splunk with the HEC token that never happened in the registry', () =>
    splunkExport(async ({ peer, db, env, verify }) => {
      const clean = await runCli(verify, { env });
      assert.equal(clean.code, 0, clean.stderr);
      assert.equal(counted(clean.stderr, 'not in the registry'), 0);

      for (const x of forgeries(db)) {
        const envelope = structuredClone(peer.events.find((e) => String((e['event'] as Rec).event_id) === String(x.like))!) as Rec;
        FIELDS['splunk']!.set(envelope, x.id, x.registry, x.time);
        const res = await fetch(peer.url, { method: 'POST', headers: { authorization: `Splunk ${HEC}` }, body: JSON.stringify(envelope) });
        assert.equal(res.status, 200);
      }
      const r = await runCli(verify, { env });
      assertForgeriesFound(r, 60);

      const to = sharedSecond(db, 10);
      const part = await runCli([...verify, '--to-rowid', String(to)], { env });
      assertOnlyForgeries(part);
    }));

  it('names Splunk events under this registry id whatever host, source or sourcetype they claim, and those without an event id', () =>
    splunkExport(async ({ peer, db, env, verify }) => {
      const reg = new Database(db, { readonly: true });
      const t = reg.prepare('SELECT timestamp FROM events ORDER BY id').pluck(true).all() as number[];
      reg.close();
      // Anyone with the HEC token chooses host, source and sourcetype; only the registry id says whose it is.
      const write = async (like: number, change: (e: Rec) => void): Promise<void> => {
        const envelope = structuredClone(peer.events.find((e) => String((e['event'] as Rec).event_id) === String(like))!) as Rec;
        change(envelope);
        const res = await fetch(peer.url, { method: 'POST', headers: { authorization: `Splunk ${HEC}` }, body: JSON.stringify(envelope) });
        assert.equal(res.status, 200);
      };
      await write(5, (e) => ((e.event.event_id = '9101'), (e.host = 'evil'), (e.time = t[24])));
      await write(6, (e) => ((e.event.event_id = '9102'), (e.sourcetype = 'oversight:beacon:x'), (e.source = 'elsewhere'), (e.time = t[25])));
      await write(7, (e) => (delete e.event.event_id, (e.time = t[26])));
      await write(8, (e) => (delete e.event.event_id, (e.host = 'evil'), (e.time = t[27])));
      await write(11, (e) => ((e.event.event_id = ''), (e.time = t[27])));
      // A second copy of event 30 under another host is a copy of it, as in the other SIEMs.
      await write(30, (e) => (e.host = 'evil'));
      // Another registry's, whatever they carry, are not this one's.
      await write(9, (e) => ((e.event.event_id = '9103'), (e.event.registry_id = 'other'), (e.host = 'evil'), (e.time = t[28])));
      await write(10, (e) => (delete e.event.event_id, (e.event.registry_id = 'other'), (e.host = 'evil'), (e.time = t[28])));
      const r = await runCli(verify, { env });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(counted(r.stderr, 'not in the registry'), 5);
      assert.deepEqual(listed(r.stderr, 'not in the registry')!.sort(), ['(no event id)', '9101', '9102']);
      assert.deepEqual(listed(r.stderr, 'duplicated'), ['30']);
      assert.equal(counted(r.stderr, 'present once'), 59);
    }));

  const ES_KEY = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==';
  const STREAM = 'logs-oversight.beacon-default';
  const esEnv = { OVERSIGHT_ES_API_KEY: ES_KEY };
  /** Write documents into the stream as anyone with write access can: `_bulk` create, Elasticsearch picks the `_id`. */
  async function esWrite(peer: EsPeer, docs: Rec[]): Promise<void> {
    const body = docs.map((d) => `{"create":{"_index":"${STREAM}"}}\n${JSON.stringify(d)}\n`).join('');
    const res = await fetch(peer.url, { method: 'POST', headers: { authorization: `ApiKey ${ES_KEY}`, 'content-type': 'application/x-ndjson' }, body });
    assert.equal(res.status, 200);
    assert.equal((await res.json() as { errors: boolean }).errors, false);
  }

  it('names documents written to the Elasticsearch stream under this registry id that never happened in the registry', () =>
    withPeer(new EsPeer({ dataStream: STREAM, apiKey: ES_KEY }).start(), async (peer) => {
      const db = demoRegistry(60);
      assert.equal((await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url], { env: esEnv })).code, 0);
      const verify = ['siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--window', '10'];
      const clean = await runCli(verify, { env: esEnv });
      assert.equal(clean.code, 0, clean.stderr);
      assert.equal(counted(clean.stderr, 'not in the registry'), 0);

      const docs = [...peer.docs.values()] as Rec[];
      await esWrite(peer, forgeries(db).map((x) => {
        const copy = structuredClone(docs.find((d) => FIELDS['ecs']!.id(d) === String(x.like))!);
        FIELDS['ecs']!.set(copy, x.id, x.registry, x.time);
        return copy;
      }));
      const r = await runCli(verify, { env: esEnv });
      assertForgeriesFound(r, 60);

      const to = sharedSecond(db, 10);
      const part = await runCli([...verify, '--to-rowid', String(to)], { env: esEnv });
      assertOnlyForgeries(part);
    }));

  it('pages through a flood of made-up Elasticsearch documents to a count and the first ids', () =>
    withPeer(new EsPeer({ dataStream: STREAM, apiKey: ES_KEY }).start(), async (peer) => {
      const db = demoRegistry(30);
      assert.equal((await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url], { env: esEnv })).code, 0);
      const like = [...peer.docs.values()][3] as Rec;
      const made: Rec[] = [];
      for (let i = 0; i < 2500; i++) {
        const copy = structuredClone(like);
        FIELDS['ecs']!.set(copy, `x-${i}`, 'reg', Date.parse(like['@timestamp']) / 1000);
        made.push(copy);
      }
      await esWrite(peer, made);
      const before = peer.searches;
      const r = await runCli(['siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--list', '3', '--es-skip-failure-store'], { env: esEnv });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^not in the registry \(2500\): x-\d+, x-\d+, x-\d+, … more \(see --report\)$/m);
      assert.equal(counted(r.stderr, 'present once'), 30);
      // One search for the window, three pages of 1000 for the others.
      assert.equal(peer.searches - before, 4);
    }));
});
