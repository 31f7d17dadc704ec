/** `oversight siem replay`: dead letters go out again once the cause is fixed, without duplicates. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EsPeer } from './peers/elasticsearch.js';
import { HecPeer } from './peers/splunk-hec.js';
import Database from 'better-sqlite3';
import { demoRegistry, jsonLines, registryIds, runCli, spawnCli, tempDir, waitFor, withPeer } from './helpers.js';
import { setExtra, wideObject } from './rows-support.js';

const KEY = 'cmVwbGF5LWtleQ==';
const auth = ['--header', `Authorization: ApiKey ${KEY}`];

describe('oversight siem replay', () => {
  it('sends dead letters again once the SIEM takes them, and a second replay duplicates nothing', async () => {
    let mappingFixed = false;
    await withPeer(new EsPeer({
      dataStream: 'logs-oversight.beacon-default',
      apiKey: KEY,
      itemFault: (doc) => (!mappingFixed && ['7', '19'].includes((doc['event'] as Record<string, string>)['id']!) ? 400 : undefined),
    }).start(), async (peer) => {
      const db = demoRegistry(30);
      const dlq = path.join(tempDir(), 'dead.jsonl');
      const first = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, ...auth, '--dead-letter', dlq]);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(jsonLines(fs.readFileSync(dlq, 'utf8')).map((d) => d['event_id']), ['7', '19']);
      assert.equal(peer.docs.size, 28);

      mappingFixed = true;
      const replay = await runCli(['siem', 'replay', '--dead-letter', dlq, '--output', peer.url, ...auth]);
      assert.equal(replay.code, 0, replay.stderr);
      assert.equal(replay.stderr, 'replayed 2 event(s) as ecs via elasticsearch\n');
      assert.deepEqual(peer.eventIds().sort(), registryIds(db).sort());

      const again = await runCli(['siem', 'replay', '--dead-letter', dlq, '--output', peer.url, ...auth]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /2 already present/);
      assert.equal(peer.docs.size, 30);
    });
  });

  it('records refused again go to --dead-letter-out; the input file is left as it was', () =>
    withPeer(new HecPeer({ token: 'tok', rejectEvent: (e) => (e['event'] as Record<string, unknown>)['event_id'] === '4' }).start(), async (peer) => {
      const db = demoRegistry(6);
      const dir = tempDir();
      const dlq = path.join(dir, 'dead.jsonl');
      const env = { OVERSIGHT_SPLUNK_HEC_TOKEN: 'tok' };
      assert.equal((await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--dead-letter', dlq], { env })).code, 0);
      const before = fs.readFileSync(dlq);
      const out = path.join(dir, 'still-dead.jsonl');
      const r = await runCli(['siem', 'replay', '--dead-letter', dlq, '--output', peer.url, '--dead-letter-out', out], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(jsonLines(fs.readFileSync(out, 'utf8')).map((d) => d['event_id']), ['4']);
      assert.ok(fs.readFileSync(dlq).equals(before));
      const noOut = await runCli(['siem', 'replay', '--dead-letter', dlq, '--output', peer.url], { env });
      assert.equal(noOut.code, 1);
      // Replay's own flag: --dead-letter names the file it reads.
      assert.match(noOut.stderr, /refused event 4 .*; pass --dead-letter-out FILE to set refused events aside and keep going\n$/);
      // A link to the input is the input: refused records appended to it would be read and sent again.
      const link = path.join(dir, 'link.jsonl');
      fs.symlinkSync(dlq, link);
      const linked = await runCli(['siem', 'replay', '--dead-letter', dlq, '--output', peer.url, '--dead-letter-out', link], { env });
      assert.equal(linked.code, 2, linked.stderr);
      assert.equal(linked.stderr, 'oversight: --dead-letter-out must be another file than --dead-letter\n');
      assert.ok(fs.readFileSync(dlq).equals(before));
    }));

  it('a folder or a line that is no dead letter is refused with one line naming it, exit 2 (a restart cannot fix it)', async () => {
    const dir = tempDir();
    const folder = path.join(dir, 'letters');
    fs.mkdirSync(folder);
    const bad = path.join(dir, 'bad.jsonl');
    const good = '{"rowid":1,"event_id":"1","registry_id":"reg","format":"splunk","status":400,"error":"x","record":{"event":{}}}';
    const cases: [string, string, RegExp][] = [
      [folder, '', new RegExp(`^oversight: --dead-letter ${folder} is not a regular file \\(a folder\\): give the dead-letter file an export wrote\n$`)],
      [bad, `${good}\n{"record":"x"}\n`, new RegExp(`^oversight: dead-letter file ${bad}, line 2: not a dead letter \\(needs record and format\\)\n$`)],
      [bad, `${good}\n\n{not json\n`, new RegExp(`^oversight: dead-letter file ${bad}, line 3: not valid JSON\n$`)],
      // Elasticsearch's document id is the registry id and the rowid: without them two events would share one.
      [bad, `${good.replace('"registry_id":"reg",', '')}\n`,
        new RegExp(`^oversight: dead-letter file ${bad}, line 1: registry_id must be the registry id and is missing: give the line as the export wrote it\n$`)],
      [bad, `${good}\n${good.replace('"rowid":1', '"rowid":"1"')}\n`,
        new RegExp(`^oversight: dead-letter file ${bad}, line 2: rowid must be a whole number \\(the registry row\\), not "1": give the line as the export wrote it\n$`)],
      [bad, `${good.replace('"event_id":"1"', '"event_id":null')}\n`,
        new RegExp(`^oversight: dead-letter file ${bad}, line 1: event_id must be the event id as text, not null: give the line as the export wrote it\n$`)],
    ];
    for (const [file, text, message] of cases) {
      if (text) fs.writeFileSync(file, text);
      const r = await runCli(['siem', 'replay', '--dead-letter', file, '--output', path.join(dir, 'out.jsonl')]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(fs.existsSync(path.join(dir, 'out.jsonl')), false, 'nothing sent');
    }
  });

  it('a dead-letter file that is a device, a named pipe or one endless line fails at once with one line, exit 2', async () => {
    const dir = tempDir();
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Sparse: 200 MiB of NUL bytes and no newline, so one line longer than any dead letter.
    const endless = path.join(dir, 'endless.jsonl');
    fs.closeSync(fs.openSync(endless, 'w'));
    fs.truncateSync(endless, 200 * 1024 * 1024);
    const cases: [string, string][] = [
      ['/dev/zero', '--dead-letter /dev/zero is not a regular file (a device): give the dead-letter file an export wrote'],
      [fifo, `--dead-letter ${fifo} is not a regular file (a named pipe): give the dead-letter file an export wrote`],
      [endless, `dead-letter file ${endless}, line 1: longer than 134217728 bytes, so not a line this tool writes: is it the right file?`],
    ];
    for (const [file, message] of cases) {
      const r = await runCli(['siem', 'replay', '--dead-letter', file, '--output', path.join(dir, 'out.jsonl')], { timeoutMs: 15_000 });
      assert.equal(r.signal, null, `${file}: did not end by itself`);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `oversight: ${message}\n`);
    }
    assert.equal(fs.existsSync(path.join(dir, 'out.jsonl')), false, 'nothing was written');
  });

  it('a line edited since the export (a field after the record, a "record" key inside it) still sends its record whole', async () => {
    const dir = tempDir();
    const dlq = path.join(dir, 'dead.jsonl');
    const out = path.join(dir, 'out.jsonl');
    const head = '"format":"splunk","registry_id":"reg","status":400,"error":"x"';
    fs.writeFileSync(dlq, [
      `{${head},"rowid":1,"event_id":"1","record":{"time":1763856000.0,"event":{"event_id":"1"}},"note":"mapping fixed"}`,
      `{"record":{"event":{"event_id":"2","record":"kept"}},${head},"rowid":2,"event_id":"2"}`,
      `{${head},"rowid":3,"event_id":"3","record":{"time":1763856000.0,"event":{"event_id":"3"}}}`,
    ].join('\n') + '\n');
    const r = await runCli(['siem', 'replay', '--dead-letter', dlq, '--output', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readFileSync(out, 'utf8'), [
      '{"time":1763856000,"event":{"event_id":"1"}}',
      '{"event":{"event_id":"2","record":"kept"}}',
      // As the export wrote it, byte for byte.
      '{"time":1763856000.0,"event":{"event_id":"3"}}',
    ].join('\n') + '\n');
  });

  it('a dead letter written after a line cut short by a crash starts a line of its own, so it can be read back', async () => {
    const db = demoRegistry(4);
    setExtra(db, 3, wideObject(100, 40));
    const dir = tempDir();
    const dlq = path.join(dir, 'dead.jsonl');
    const cut = '{"dead_lettered_at":"2026-01-01T00:00:00.000Z","transport":"file","format":"ecs","registry_id":"re';
    fs.writeFileSync(dlq, cut);
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--output', path.join(dir, 'out.jsonl'),
      '--dead-letter', dlq, '--max-row-bytes', '1KiB']);
    assert.equal(r.code, 0, r.stderr);
    const lines = fs.readFileSync(dlq, 'utf8').split('\n');
    assert.equal(lines[0], cut);
    assert.deepEqual(jsonLines(lines.slice(1).join('\n')).map((d) => [d['rowid'], d['status']]), [[3, 413]]);
  });

  it('an event dead-lettered by two runs of an export is replayed once', () => {
    let fixed = false;
    return withPeer(new HecPeer({ token: 'tok', rejectEvent: (e) => !fixed && (e['event'] as Record<string, unknown>)['event_id'] === '4' }).start(), async (peer) => {
      const db = demoRegistry(6);
      const dlq = path.join(tempDir(), 'dead.jsonl');
      const env = { OVERSIGHT_SPLUNK_HEC_TOKEN: 'tok' };
      // Without --state each run starts from the first event, and sets event 4 aside again.
      for (let run = 0; run < 2; run++) {
        const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--dead-letter', dlq], { env });
        assert.equal(r.code, 0, r.stderr);
      }
      assert.deepEqual(jsonLines(fs.readFileSync(dlq, 'utf8')).map((d) => d['event_id']), ['4', '4']);
      fixed = true;
      const before = peer.eventIds().length;
      const r = await runCli(['siem', 'replay', '--dead-letter', dlq, '--output', peer.url], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, 'replayed 1 event(s) as splunk via splunk-hec; 1 dead letter(s) for an event already in the file left out\n');
      assert.deepEqual(peer.eventIds().slice(before), ['4']);
    });
  });

  it('a following export makes the dead-letter file again at its path after a rotator moved it away', () =>
    withPeer(new HecPeer({ token: 'tok', rejectEvent: () => true }).start(), async (peer) => {
      const db = demoRegistry(3);
      const dir = tempDir();
      const dlq = path.join(dir, 'dead.jsonl');
      const child = spawnCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--state', path.join(dir, 'state.json'),
        '--follow', '--dead-letter', dlq], { OVERSIGHT_SPLUNK_HEC_TOKEN: 'tok' });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const ended = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        const lines = (file: string): number => (fs.existsSync(file) ? jsonLines(fs.readFileSync(file, 'utf8')).length : 0);
        await waitFor(() => lines(dlq) === 3, 15_000);
        fs.renameSync(dlq, `${dlq}.1`);
        const con = new Database(db);
        con.prepare("INSERT INTO events (token_id,kind,source_ip,user_agent,extra,timestamp) VALUES ('live','dns','192.0.2.9','','{}',1763856000)").run();
        con.close();
        await waitFor(() => lines(dlq) === 1, 15_000);
        assert.equal(lines(`${dlq}.1`), 3);
        assert.equal(jsonLines(fs.readFileSync(dlq, 'utf8'))[0]!['rowid'], 4);
        assert.equal(fs.statSync(dlq).mode & 0o777, 0o600);
      } finally {
        child.kill('SIGTERM');
      }
      assert.equal(await ended, 0, stderr);
    }));

  it('a stop signal ends a replay waiting on a busy SIEM with one line saying how far it got', () =>
    withPeer(new HecPeer({ token: 'tok' }).start(), async (peer) => {
      for (let i = 0; i < 1000; i++) peer.peer.faults.push({ status: 503, body: '{"text":"Server is busy","code":9}' });
      const dlq = path.join(tempDir(), 'dead.jsonl');
      fs.writeFileSync(dlq, '{"format":"splunk","registry_id":"reg","rowid":1,"event_id":"1","status":400,"error":"x","record":{"event":{"event_id":"1"}}}\n');
      const child = spawnCli(['siem', 'replay', '--dead-letter', dlq, '--output', peer.url, '--retry-max-duration', '10m'], { OVERSIGHT_SPLUNK_HEC_TOKEN: 'tok' });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const ended = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, sig) => resolve([code, sig])));
      try {
        await waitFor(() => stderr.includes('retrying in'), 15_000);
      } finally {
        child.kill('SIGTERM');
      }
      assert.deepEqual(await ended, [143, null], stderr);
      assert.match(stderr, new RegExp(`\noversight: stopped by SIGTERM with 0 dead letter\\(s\\) of ${dlq} sent or set aside: the others were not sent, and a new replay sends every line again\n$`));
    }));
});
