/** The built CLI against real registries: outputs, flags, the demo, and one-line errors for bad input. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JsonArrayPeer } from './peers/http-json.js';
import { buildProgram, deliveringCommandOf } from '../src/cli/program.js';
import { demoRegistry, jsonLines, outcome, registryIds, runCli, sqlRegistry, tempDir } from './helpers.js';

const SECRET = 'Splunk 5ec2e7-value-never-printed';

describe('oversight siem export to stdout and files', () => {
  const db = demoRegistry(120);

  it('writes one JSON object per line in registry order and a one-line summary', async () => {
    const r = await runCli(['siem', 'export', '--db', db, '--format', 'ecs', '--registry-id', 'reg']);
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stdout);
    assert.deepEqual(lines.map((l) => (l['event'] as Record<string, string>)['id']), registryIds(db));
    assert.equal(r.stderr, 'exported 120 event(s) as ecs\n');
  });

  it('--since keeps events at or after the timestamp, --limit caps the count', async () => {
    const all = jsonLines((await runCli(['siem', 'export', '--db', db, '--format', 'splunk', '--registry-id', 'r'])).stdout);
    const cut = all[50]!['time'] as number;
    const r = await runCli(['siem', 'export', '--db', db, '--format', 'splunk', '--registry-id', 'r', '--since', String(cut), '--limit', '10']);
    assert.equal(r.code, 0, r.stderr);
    const got = jsonLines(r.stdout);
    const want = all.filter((l) => (l['time'] as number) >= cut).slice(0, 10);
    assert.deepEqual(got, want);
    assert.equal(r.stderr, 'exported 10 event(s) as splunk\n');
  });

  it('appends to a file, so a second run adds after the first', async () => {
    const out = path.join(tempDir(), 'events.ndjson');
    for (let i = 0; i < 2; i++) {
      const r = await runCli(['siem', 'export', '--db', db, '--format', 'sentinel', '--registry-id', 'r', '--output', out, '--limit', '7']);
      assert.equal(r.code, 0, r.stderr);
    }
    const lines = jsonLines(fs.readFileSync(out, 'utf8'));
    assert.equal(lines.length, 14);
    assert.deepEqual(lines.slice(0, 7), lines.slice(7));
  });

  it('cuts an incomplete last line left by an interrupted run before appending', async () => {
    const out = path.join(tempDir(), 'events.ndjson');
    fs.writeFileSync(out, '{"complete":true}\n{"torn":');
    const r = await runCli(['siem', 'export', '--db', db, '--format', 'ecs', '--registry-id', 'r', '--output', out, '--limit', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /ended in an incomplete line left by an interrupted run: removed its 8 byte\(s\)/);
    const lines = jsonLines(fs.readFileSync(out, 'utf8'));
    assert.deepEqual(lines[0], { complete: true });
    assert.equal(lines.length, 3);
  });

  it('follows a file that a log rotator moved away', async () => {
    const dir = tempDir();
    const out = path.join(dir, 'events.ndjson');
    const r1 = await runCli(['siem', 'export', '--db', db, '--format', 'ecs', '--registry-id', 'r', '--output', out, '--limit', '3']);
    assert.equal(r1.code, 0);
    fs.renameSync(out, out + '.1');
    const r2 = await runCli(['siem', 'export', '--db', db, '--format', 'ecs', '--registry-id', 'r', '--output', out, '--limit', '2']);
    assert.equal(r2.code, 0);
    assert.equal(jsonLines(fs.readFileSync(out + '.1', 'utf8')).length, 3);
    assert.equal(jsonLines(fs.readFileSync(out, 'utf8')).length, 2);
  });
});

describe('oversight siem export to a generic HTTP collector', () => {
  let peer: JsonArrayPeer;
  before(async () => {
    peer = await new JsonArrayPeer(['Authorization', SECRET]).start();
  });
  after(() => peer.close());

  it('POSTs JSON arrays of --batch-size events with the given headers', async () => {
    const db = demoRegistry(95);
    const r = await runCli(['siem', 'export', '--db', db, '--format', 'ecs', '--registry-id', 'r', '--output', peer.url,
      '--header', `Authorization: ${SECRET}`, '--batch-size', '20']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(peer.batches.map((b) => b.length), [20, 20, 20, 20, 15]);
    assert.deepEqual(peer.records.map((x) => (x['event'] as Record<string, string>)['id']), registryIds(db));
    assert.match(r.stderr, /^exported 95 event\(s\) as ecs via http$/m);
  });

  it('fails loudly on an HTTP error with the status and an excerpt, never the header value', async () => {
    const db = demoRegistry(5);
    const r = await runCli(['siem', 'export', '--db', db, '--format', 'ecs', '--registry-id', 'r', '--output', peer.url,
      '--header', 'Authorization: Splunk wrong-token-value']);
    assert.equal(r.code, 1);
    assert.deepEqual(outcome(r.stderr), ['oversight: 127.0.0.1:' + new URL(peer.url).port + ' answered HTTP 401: {"error":"unauthorized"} (the credentials were refused: check the Authorization header from --header or --header-file)']);
    assert.ok(!r.stderr.includes('wrong-token-value'));
  });

  it('fails with one line when the URL cannot be reached', async () => {
    const db = demoRegistry(5);
    const r = await runCli(['siem', 'export', '--db', db, '--format', 'ecs', '--registry-id', 'r', '--output', 'http://127.0.0.1:9/x',
      '--retry-max-duration', '1s', '--header', `Authorization: ${SECRET}`]);
    assert.equal(r.code, 1);
    const lines = outcome(r.stderr);
    assert.equal(lines.length, 1, r.stderr);
    // The preflight finds the port closed before anything is read or sent.
    assert.match(lines[0]!, /^oversight: http connection: 127\.0\.0\.1:9: connect ECONNREFUSED .*\(nothing was sent; siem check shows every check, --no-preflight skips them\)$/);
    assert.ok(!r.stderr.includes('never-printed'));
    // Without it, the retry budget runs out instead.
    const late = await runCli(['siem', 'export', '--db', db, '--format', 'ecs', '--registry-id', 'r', '--output', 'http://127.0.0.1:9/x',
      '--retry-max-duration', '1s', '--no-preflight', '--header', `Authorization: ${SECRET}`]);
    assert.equal(late.code, 1);
    assert.match(outcome(late.stderr)[0]!, /^oversight: gave up on 5 event\(s\) for http after \d+ attempt\(s\) over 1\.0s \(--retry-max-duration\).*cannot reach 127\.0\.0\.1:9/);
  });
});

describe('bad input gets one line naming the problem, a non-zero exit and no stack trace', () => {
  const dir = tempDir();
  const db = demoRegistry(3);
  const notSqlite = path.join(dir, 'notes.txt');
  fs.writeFileSync(notSqlite, 'this is not a database\n');
  const noEvents = sqlRegistry('CREATE TABLE beacons (token_id TEXT PRIMARY KEY);');
  const aFile = path.join(dir, 'plain-file');
  fs.writeFileSync(aFile, '');
  const ok = ['--format', 'ecs', '--registry-id', 'r'];
  const table: { what: string; args: string[]; code: number; message: RegExp }[] = [
    { what: 'missing database', args: ['--db', path.join(dir, 'nope.sqlite'), ...ok], code: 1, message: /registry database not found: .*nope\.sqlite \(check --db\)/ },
    { what: 'a file that is not SQLite', args: ['--db', notSqlite, ...ok], code: 2, message: /notes\.txt is not a SQLite database/ },
    { what: 'no events table (not ready yet, or not a registry)', args: ['--db', noEvents, ...ok], code: 1, message: /has no events table/ },
    { what: 'unknown format', args: ['--db', db, '--format', 'xml', '--registry-id', 'r'], code: 2, message: /'xml' is invalid\. Allowed choices are cef, ecs, leef, ocsf, sentinel, splunk/ },
    { what: 'malformed header', args: ['--db', db, ...ok, '--header', 'Authorization Splunk s3cr3t-v4lue'], code: 2, message: /--header #1 is malformed: expected 'Name: value' \(the value is not shown\)/ },
    { what: 'negative --since', args: ['--db', db, ...ok, '--since', '-5'], code: 2, message: /--since must be a whole number/ },
    { what: 'non-integer --limit', args: ['--db', db, ...ok, '--limit', '1.5'], code: 2, message: /--limit must be a whole number \(0 or more\), not '1\.5'/ },
    { what: 'output folder missing', args: ['--db', db, ...ok, '--output', path.join(dir, 'missing', 'out.jsonl')], code: 2, message: /folder for --output .* does not exist/ },
    { what: 'output folder is a file', args: ['--db', db, ...ok, '--output', path.join(aFile, 'out.jsonl')], code: 2, message: /is not a folder/ },
    { what: 'state folder missing', args: ['--db', db, ...ok, '--state', path.join(dir, 'missing', 'state.json')], code: 2, message: /^oversight: folder for --state .*state\.json does not exist: create .*missing first$/ },
    { what: 'output folder read-only', args: ['--db', db, ...ok, '--output', '/proc/oversight-out.jsonl'], code: 2, message: /folder \/proc is not writable/ },
    { what: 'unsupported URL scheme', args: ['--db', db, ...ok, '--output', 'ftp://siem.example/x'], code: 2, message: /only http:\/\/ and https:\/\/ URLs/ },
    { what: 'unknown option', args: ['--db', db, ...ok, '--frobnicate'], code: 2, message: /unknown option '--frobnicate'/ },
    { what: 'missing --registry-id', args: ['--db', db, '--format', 'ecs'], code: 2, message: /--registry-id is required: the registry's identifier/ },
    { what: 'missing --format for a file', args: ['--db', db, '--registry-id', 'r'], code: 2, message: /--format is required/ },
    { what: 'bad duration', args: ['--db', db, ...ok, '--retry-max-duration', 'soon'], code: 2, message: /--retry-max-duration must be a duration/ },
    ...['--state', '--dead-letter', '--config', '--header-file', '--ca-file', '--pseudonym-key-file', '--output', '--header'].map((flag) => (
      { what: `empty ${flag}`, args: ['--db', db, ...ok, `${flag}=`], code: 2, message: new RegExp(`^oversight: ${flag} is empty: give it a value, or leave it out$`) }
    )),
  ];
  for (const t of table) {
    it(t.what, async () => {
      const r = await runCli(['siem', 'export', ...t.args]);
      assert.equal(r.code, t.code, r.stderr);
      const lines = r.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, t.message);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assert.ok(!r.stderr.includes('s3cr3t-v4lue'));
      assert.equal(r.stdout, '');
    });
  }

  it('a usage error shows a carriage return or terminal escape in a value instead of obeying it', async () => {
    const r = await runCli(['siem', 'export', '--log-format', 'x\roversight: forged\u001b[2K']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.doesNotMatch(r.stderr, /[\r\u001b]/);
    assert.match(r.stderr, /argument 'x\\roversight: forged\\x1b\[2K' is invalid/);
  });

  it('writes nothing to a file output when the error comes before the first event', async () => {
    const out = path.join(dir, 'never.jsonl');
    const r = await runCli(['siem', 'export', '--db', notSqlite, ...ok, '--output', out]);
    assert.equal(r.code, 2);
    assert.equal(fs.existsSync(out), false);
  });
});

describe('help, version and the demo', () => {
  it('--help and --version exit 0', async () => {
    const h = await runCli(['siem', 'export', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /--registry-id <id>/);
    const v = await runCli(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
    for (const args of [['help'], ['help', 'siem'], ['siem', '--help'], ['siem', 'help', 'export']]) {
      const r = await runCli(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /^Usage: oversight/, args.join(' '));
    }
  });

  it('a command group without its subcommand shows its help and exits 2, as a unit missing a word must not pass', async () => {
    for (const args of [[], ['siem'], ['siem', 'setup'], ['siem', 'config'], ['help', 'nosuch']]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
      assert.match(r.stderr, /^Usage: oversight/, args.join(' '));
    }
  });

  it('oversight demo exports a realistic registry', async () => {
    const r = await runCli(['demo', '--format', 'splunk']);
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stdout);
    assert.equal(lines.length, 300);
    const events = lines.map((l) => l['event'] as Record<string, unknown>);
    assert.deepEqual(new Set(events.map((e) => e['kind'])), new Set(['dns', 'http_img', 'ocsp', 'license']));
    assert.ok(events.some((e) => String(e['source_ip']).includes(':')), 'IPv6 sources');
    assert.ok(events.some((e) => /^\d+\.\d+\.\d+\.\d+$/.test(String(e['source_ip']))), 'IPv4 sources');
    assert.ok(events.some((e) => e['file_id'] === undefined), 'unregistered tokens');
    const dns = events.filter((e) => e['kind'] === 'dns');
    assert.ok(dns.every((e) => typeof (e['extra'] as Record<string, unknown>)['qname'] === 'string'));
    assert.match(r.stderr, /exported 300 event\(s\) as splunk/);
  });

  it('oversight demo --db writes a registry of any size and will not overwrite one', async () => {
    const file = path.join(tempDir(), 'big.sqlite');
    const r = await runCli(['demo', '--db', file, '--events', '2500']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(registryIds(file).length, 2500);
    const again = await runCli(['demo', '--db', file, '--events', '5']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists: demo only creates new registries/);
  });

  it('oversight demo --db shows a control character in the path instead of obeying it', async () => {
    const file = path.join(tempDir(), 'a\noversight: forged\r.sqlite');
    const r = await runCli(['demo', '--db', file, '--events', '5']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(registryIds(file).length, 5);
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 2, r.stderr);
    assert.match(lines[0]!, /^wrote demo registry .*a\\noversight: forged\\r\.sqlite: 5 event\(s\)/);
    assert.doesNotMatch(r.stderr, /\r/);
  });
});

describe('the command tree of one run', () => {
  it('only the delivering command that runs gets its options built; help and other commands get the whole tree', () => {
    const run = (...args: string[]): string | null => deliveringCommandOf(['node', 'oversight', ...args]);
    assert.equal(run('siem', 'export', '--db', 'r.sqlite'), 'export');
    assert.equal(run('siem', 'verify'), 'verify');
    assert.equal(run('siem', 'replay', '--dead-letter', 'd.jsonl'), 'replay');
    assert.equal(run('siem', 'check'), 'check');
    assert.equal(run('siem', 'config', 'print'), 'print');
    for (const args of [['siem', 'export', '--help'], ['siem', 'export', '-h'], ['help', 'siem', 'export'], ['siem', 'help', 'export'], ['siem'], ['siem', 'content'],
      ['demo'], ['completion', 'bash'], ['siem', 'config'], []]) {
      assert.equal(run(...args), null, args.join(' '));
    }
  });

  it('a tree built for one command parses it as the whole tree does', () => {
    const actions = { export: async () => 0, replay: async () => 0, verify: async () => 0, check: async () => 0, demo: async () => 0, content: null };
    const whole = buildProgram(actions);
    for (const name of ['export', 'replay', 'verify', 'check'] as const) {
      const one = buildProgram(actions, undefined, name);
      const options = (p: typeof whole): string[] => p.commands.find((c) => c.name() === 'siem')!.commands.find((c) => c.name() === name)!.options.map((o) => `${o.flags} ${o.envVar ?? ''}`);
      assert.deepEqual(options(one), options(whole), name);
    }
  });
});
