/**
 * Settings are untrusted too: zero waits and waits longer than a timer can hold, world-readable keys, secret
 * variables pointing at anything, headers HTTP cannot carry, and thread counts that would fill memory.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, registryIds, runCli, tempDir, withPeer } from './helpers.js';

const db = demoRegistry(3);
const hec = ['siem', 'export', '--db', db, '--registry-id', 'r', '--output', 'http://127.0.0.1:9/services/collector/event', '--no-preflight'];

describe('hostile settings', () => {
  it('zero or negative durations are refused, not spun on', async () => {
    for (const [flag, value] of [['--splunk-ack-timeout', '0'], ['--timeout', '0s'], ['--poll-interval', '0ms'], ['--retry-max-duration', '-5s']] as const) {
      const r = await runCli([...hec, '--splunk-ack', flag, value], { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: 'tok-1234567' } });
      assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^oversight: ${flag} must be (more than 0|a duration)`), r.stderr);
    }
  });

  it('durations longer than a timer can wait are refused by name, with the longest taken', async () => {
    const flags = ['--timeout', '--poll-interval', '--flush-interval', '--retry-max-duration', '--shutdown-timeout', '--health-stall', '--verify-every',
      '--splunk-ack-interval', '--splunk-ack-timeout'];
    for (const flag of flags) {
      const follow = flag === '--verify-every' ? ['--follow'] : [];
      const r = await runCli([...hec, '--splunk-ack', ...follow, flag, '597h'], { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: 'tok-1234567' } });
      assert.equal(r.code, 2, `${flag}: ${r.stderr}`);
      assert.equal(r.stderr, `oversight: ${flag} must be at most 596h (24.8 days), not '597h'\n`);
    }
    const out = path.join(tempDir(), 'out.jsonl');
    for (const flag of ['--settle', '--repair-wait']) {
      const r = await runCli(['siem', 'verify', '--db', db, '--registry-id', 'r', '--format', 'ecs', '--output', out, '--repair', flag, '597h']);
      assert.equal(r.code, 2, `${flag}: ${r.stderr}`);
      assert.equal(r.stderr, `oversight: ${flag} must be at most 596h (24.8 days), not '597h'\n`);
    }
  });

  it('the longest durations taken work: no request times out at once, no warning is printed', () =>
    withPeer(new HecPeer({ token: 'tok-1234567' }).start(), async (peer) => {
      const args = ['--db', db, '--registry-id', 'r', '--output', peer.url, '--timeout', '596h', '--retry-max-duration', '596h'];
      const env = { OVERSIGHT_SPLUNK_HEC_TOKEN: 'tok-1234567' };
      const check = await runCli(['siem', 'check', ...args], { env });
      assert.equal(check.code, 0, check.stdout + check.stderr);
      assert.equal(check.stderr, '');
      const r = await runCli(['siem', 'export', ...args], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, 'exported 3 event(s) as splunk via splunk-hec\n');
      assert.deepEqual(peer.eventIds(), registryIds(db));
    }));

  it('more than 16 formatting threads are refused, not started', async () => {
    const base = ['siem', 'export', '--db', db, '--registry-id', 'r', '--format', 'ecs', '--output', path.join(tempDir(), 'out.jsonl')];
    const r = await runCli([...base, '--threads', '100']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^oversight: --threads must be at most 16 \(.*\), not '100'\n$/);
    assert.equal((await runCli([...base, '--threads', '16'])).code, 0);
  });

  it('a header or token HTTP cannot carry is refused at once by name, its value never shown, and siem check says so', async () => {
    const dir = tempDir();
    const file = (name: string, text: string | Buffer): string => {
      fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 });
      return path.join(dir, name);
    };
    const twoTokens = file('tokens', 'tok-first-1234\ntok-second-5678\n');
    const cases: { args?: string[]; env?: NodeJS.ProcessEnv; message: RegExp }[] = [
      { env: { OVERSIGHT_SPLUNK_HEC_TOKEN_FILE: twoTokens }, message: /^OVERSIGHT_SPLUNK_HEC_TOKEN_FILE holds more than one line/ },
      { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: 'tok-first\u0001-1234' }, message: /^OVERSIGHT_SPLUNK_HEC_TOKEN holds a control character/ },
      { args: ['--header', 'Authorization: Splunk tok-first\u0001-1234'], message: /^--header #1: the value of Authorization holds a control character/ },
      { args: ['--header', 'Authorization: Splunk tok-first-1234', '--header', 'X-Team: Zürich-1234'], message: /^--header #2: the value of X-Team holds text that is not ASCII/ },
      { args: ['--header-file', file('latin1', Buffer.from('Authorization: Splunk tok-first-1234\nX-Team: Z\xfcrich-1234\n', 'latin1'))], message: /^--header-file #2: the value of X-Team holds text that is not ASCII \(or bytes that are not UTF-8\)/ },
      { args: ['--header-file', file('length', 'Content-Length: 5\n')], message: /^--header-file #1: Content-Length is set by the HTTP client from the request, not by a header: remove it$/ },
      { args: ['--header', 'Host: tok-first-1234'], message: /^--header #1: Host is set by the HTTP client/ },
    ];
    for (const c of cases) {
      const r = await runCli([...hec, '--retry-max-duration', '2s', ...(c.args ?? [])], { env: c.env ?? { OVERSIGHT_SPLUNK_HEC_TOKEN: 'tok-1234567' } });
      assert.equal(r.code, 2, r.stderr);
      const lines = r.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!.replace(/^oversight: /, ''), c.message);
      assert.doesNotMatch(r.stderr, /tok-first|tok-second|rich-1234/);
    }
    const check = await runCli(['siem', 'check', ...hec.slice(2, -1)], { env: { OVERSIGHT_SPLUNK_HEC_TOKEN_FILE: twoTokens } });
    assert.equal(check.code, 2, check.stdout);
    assert.match(check.stdout, /^FAIL {2}destination: OVERSIGHT_SPLUNK_HEC_TOKEN_FILE holds more than one line/m);
    assert.doesNotMatch(check.stdout + check.stderr, /tok-first|tok-second/);
  });

  it('a pseudonym key others can read is refused, as ssh refuses such a key', async () => {
    const key = path.join(tempDir(), 'key');
    fs.writeFileSync(key, 'k'.repeat(40), { mode: 0o644 });
    fs.chmodSync(key, 0o644);
    const args = ['siem', 'export', '--db', db, '--registry-id', 'r', '--format', 'ecs', '--pseudonymize', 'recipient_id', '--pseudonym-key-file', key];
    const r = await runCli(args);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'oversight: --pseudonym-key-file names a file others can read (mode 644): chmod 600 it\n');
    fs.chmodSync(key, 0o600);
    assert.equal((await runCli(args)).code, 0);
  });

  it('a secret variable pointing at /dev/zero or a large file fails at once, without reading it all', async () => {
    const big = path.join(tempDir(), 'big');
    fs.writeFileSync(big, 'x'.repeat(200_000));
    for (const [file, why] of [['/dev/zero', /is not a regular file/], [big, /is larger than 65536 bytes/]] as const) {
      const r = await runCli(hec, { env: { OVERSIGHT_SPLUNK_HEC_TOKEN_FILE: file }, timeoutMs: 10_000 });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, why);
    }
  });

  it('a URL with a user or password is refused with where they go instead, and no message shows the password', async () => {
    const pw = 'S3cretPassw0rd';
    const base = ['--db', db, '--registry-id', 'r', '--format', 'ecs'];
    const cases: [string[], RegExp][] = [
      [['siem', 'export', ...base, '--output', `https://admin:${pw}@127.0.0.1:9200/_bulk`],
        /^oversight: --output https:\/\/\*\*\*@127\.0\.0\.1:9200\/_bulk has a user or password in it, .*: remove it; a user and password go in OVERSIGHT_ES_USERNAME and OVERSIGHT_ES_PASSWORD/],
      [['siem', 'export', ...base, '--output', `https://admin:${pw}@127.0.0.1:8088/services/collector/event`], /\/\/\*\*\*@127\.0\.0\.1:8088\/.* the HEC token goes in OVERSIGHT_SPLUNK_HEC_TOKEN/],
      [['siem', 'export', ...base, '--output', `http://admin:${pw}@127.0.0.1:99999/x`], /^oversight: --output http:\/\/\*\*\*@127\.0\.0\.1:99999\/x is not a valid URL$/],
      // A `/` in the password is what makes this one fail to parse.
      [['siem', 'export', ...base, '--output', 'http://admin:S3cret/Passw0rd@127.0.0.1:9200/x'], /^oversight: --output http:\/\/\*\*\*@127\.0\.0\.1:9200\/x is not a valid URL$/],
      [['siem', 'export', ...base, '--output', `ftp://admin:${pw}@127.0.0.1/`], /^oversight: --output ftp:\/\/\*\*\*@127\.0\.0\.1\/: only http:\/\/ and https:\/\/ URLs/],
      [['siem', 'export', ...base, '--output', `admin:${pw}@127.0.0.1:18090`],
        /^oversight: --output \*\*\*@127\.0\.0\.1:18090 looks like user:password@host:port without a scheme: write the URL, e\.g\. https:\/\/127\.0\.0\.1:18090, and move the credentials/],
      [['siem', 'check', ...base, '--output', `https://admin:${pw}@127.0.0.1:9200/_bulk`], /^FAIL {2}configuration: --output https:\/\/\*\*\*@127\.0\.0\.1:9200\/_bulk has a user or password/],
      [['siem', 'setup', 'elasticsearch', '--url', `http://admin:${pw}@127.0.0.1:9200`], /^oversight: --url http:\/\/\*\*\*@127\.0\.0\.1:9200 has a user or password in it, .* OVERSIGHT_ES_PASSWORD/],
      [['siem', 'verify', '--db', db, '--registry-id', 'r', '--output', 'https://127.0.0.1:8088/services/collector/event', '--splunk-search-url', `https://admin:${pw}@127.0.0.1:8089`],
        /^oversight: --splunk-search-url https:\/\/\*\*\*@127\.0\.0\.1:8089 has a user or password in it, .* OVERSIGHT_SPLUNK_USERNAME and OVERSIGHT_SPLUNK_PASSWORD$/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match((r.stdout + r.stderr).split('\n').filter(Boolean).find((l) => message.test(l)) ?? r.stdout + r.stderr, message);
      assert.doesNotMatch(r.stdout + r.stderr, /S3cret|Passw0rd/, args.join(' '));
    }
    assert.equal(fs.existsSync(`admin:${pw}@127.0.0.1:18090`), false, 'not taken as a file name');

    const print = await runCli(['siem', 'config', 'print', ...base, '--output', `https://admin:${pw}@127.0.0.1:9200/_bulk`, '--splunk-search-url', `https://u:${pw}@h:8089`]);
    assert.equal(print.code, 0, print.stderr);
    assert.match(print.stdout, /^output: "https:\/\/\*\*\*@127\.0\.0\.1:9200\/_bulk" {2}# flag$/m);
    assert.match(print.stdout, /^splunk-search-url: "https:\/\/\*\*\*@h:8089" {2}# flag$/m);
    assert.doesNotMatch(print.stdout + print.stderr, /S3cret|Passw0rd/);
  });

  it('a secret given where its file belongs is never shown, in any message or in config print', async () => {
    const token = '8f2c1e6a-55aa-4d1e-9b1e-0c1d2e3f4a5b';
    // Longer than a file name may be: the system refuses it rather than finding no such file.
    const jwt = `eyJhbGciOiJIUzI1NiJ9.${'eyJzdWIiOiJvdmVyc2lnaHQifQ'.repeat(12)}.c2lnbmF0dXJl`;
    const config = path.join(tempDir(), 'oversight.yaml');
    fs.writeFileSync(config, `header-file: "Authorization: Splunk ${token}"\n`);
    const ecs = ['--db', db, '--registry-id', 'r', '--format', 'ecs'];
    const hint = (name: string): string => `the value is not shown; if it is the secret itself, use ${name} instead`;
    const cases: { args: string[]; env?: NodeJS.ProcessEnv; code: number; line: string }[] = [
      // Not there yet may be a credential store mounted late: the next start may find it, so exit 1.
      { args: hec, env: { OVERSIGHT_SPLUNK_HEC_TOKEN_FILE: token }, code: 1,
        line: `oversight: OVERSIGHT_SPLUNK_HEC_TOKEN_FILE names no readable file (no such file): ${hint('OVERSIGHT_SPLUNK_HEC_TOKEN')}` },
      { args: hec, env: { OVERSIGHT_SPLUNK_HEC_TOKEN_FILE: jwt }, code: 2,
        line: `oversight: OVERSIGHT_SPLUNK_HEC_TOKEN_FILE names no readable file (ENAMETOOLONG: name too long): ${hint('OVERSIGHT_SPLUNK_HEC_TOKEN')}` },
      { args: ['siem', 'setup', 'elasticsearch', '--url', 'http://127.0.0.1:9'], env: { OVERSIGHT_ES_API_KEY_FILE: token }, code: 1,
        line: `oversight: OVERSIGHT_ES_API_KEY_FILE names no readable file (no such file): ${hint('OVERSIGHT_ES_API_KEY')}` },
      { args: ['siem', 'check', '--config', config, ...hec.slice(2)], code: 1,
        line: `FAIL  destination: --header-file names no readable file (no such file): ${hint('OVERSIGHT_HEADER')}` },
      { args: ['siem', 'export', ...ecs, '--pseudonymize', 'source_ip', '--pseudonym-key-file', token], code: 2,
        line: 'oversight: --pseudonym-key-file names no readable file (ENOENT: no such file or directory): the value is not shown; if it is the secret itself, write it to a file of mode 600 and give its path' },
    ];
    for (const c of cases) {
      const r = await runCli(c.args, { env: c.env });
      assert.equal(r.code, c.code, r.stdout + r.stderr);
      assert.ok((r.stdout + r.stderr).split('\n').includes(c.line), r.stdout + r.stderr);
      assert.doesNotMatch(r.stdout + r.stderr, /8f2c1e6a|eyJ/);
    }

    const print = await runCli(['siem', 'config', 'print', '--config', config, ...ecs, '--sentinel-shared-key-file', token]);
    assert.equal(print.code, 0, print.stderr);
    assert.match(print.stdout, /^header-file: \*\*\* {2}# file$/m);
    assert.match(print.stdout, /^sentinel-shared-key-file: \*\*\* {2}# flag$/m);
    assert.doesNotMatch(print.stdout + print.stderr, /8f2c1e6a/);
  });

  it('a password with a space or a tab in a URL is masked whole, and config print masks user:password@host:port', async () => {
    const ecs = ['--db', db, '--registry-id', 'r', '--format', 'ecs'];
    for (const pw of ['hun ter2', 'hun\tter2', 'hun ter2/x']) {
      const shown = pw.includes('/') ? 'is not a valid URL' : 'has a user or password in it';
      const cases: [string[], string][] = [
        [['siem', 'export', ...ecs, '--output', `https://elastic:${pw}@127.0.0.1:9/_bulk`], `oversight: --output https://***@127.0.0.1:9/_bulk ${shown}`],
        [['siem', 'check', ...ecs, '--output', `https://elastic:${pw}@127.0.0.1:9/_bulk`], `FAIL  configuration: --output https://***@127.0.0.1:9/_bulk ${shown}`],
        [['siem', 'setup', 'elasticsearch', '--url', `http://user:${pw}@127.0.0.1:1`], `oversight: --url http://***@127.0.0.1:1 ${shown.replace('a valid URL', 'a valid URL (for example')}`],
      ];
      // With a `/` it is a path to a file, as `./` before it would make it.
      if (!pw.includes('/')) cases.push([['siem', 'export', ...ecs, '--output', `elastic:${pw}@127.0.0.1:9200`], 'oversight: --output ***@127.0.0.1:9200 looks like user:password@host:port without a scheme']);
      for (const [args, start] of cases) {
        const r = await runCli(args);
        assert.equal(r.code, 2, r.stdout + r.stderr);
        assert.ok((r.stdout + r.stderr).split('\n').some((l) => l.startsWith(start)), `${start}\n${r.stdout + r.stderr}`);
        assert.doesNotMatch(r.stdout + r.stderr, /hun|ter2/);
      }
    }
    const print = await runCli(['siem', 'config', 'print', ...ecs, '--output', 'elastic:hunter2@127.0.0.1:9200', '--splunk-search-url', 'https://u:hun\tter2@127.0.0.1:8089']);
    assert.equal(print.code, 0, print.stderr);
    assert.match(print.stdout, /^output: "\*\*\*@127\.0\.0\.1:9200" {2}# flag$/m);
    assert.match(print.stdout, /^splunk-search-url: "https:\/\/\*\*\*@127\.0\.0\.1:8089" {2}# flag$/m);
    assert.doesNotMatch(print.stdout + print.stderr, /hun|ter2/);
  });

  it('a state or CA file that is a device, a named pipe, a folder or too large fails at once with one line, exit 2', async () => {
    const dir = tempDir();
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Sparse: 3 GB to a reader, nothing on disk.
    const huge = path.join(dir, 'huge.state');
    fs.closeSync(fs.openSync(huge, 'w'));
    fs.truncateSync(huge, 3 * 1024 ** 3);
    const toFile = ['siem', 'export', '--db', db, '--registry-id', 'r', '--format', 'ecs', '--output', path.join(dir, 'out.jsonl')];
    const cases: [string[], string][] = [
      [[...toFile, '--state', fifo], `state file ${fifo} is not a regular file (a named pipe): give --state the path of a file (it is created at the first checkpoint)`],
      [[...toFile, '--state', dir], `state file ${dir} is not a regular file (a folder): give --state the path of a file (it is created at the first checkpoint)`],
      [[...toFile, '--state', huge], `state file ${huge} is larger than 65536 bytes: is it the right file?`],
      [[...hec, '--ca-file', '/dev/zero'], '--ca-file /dev/zero is not a regular file (a device): give the path of a PEM file of CA certificates'],
      [[...hec, '--ca-file', fifo], `--ca-file ${fifo} is not a regular file (a named pipe): give the path of a PEM file of CA certificates`],
      [[...hec, '--ca-file', huge], `--ca-file ${huge} is larger than 1048576 bytes: is it the right file?`],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: 'tok-1234567' }, timeoutMs: 10_000 });
      assert.equal(r.signal, null, `${message}: did not end by itself`);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `oversight: ${message}\n`);
    }
    assert.equal(fs.existsSync(path.join(dir, 'out.jsonl')), false, 'nothing was written');
  });

  it('siem verify reading back a device, a named pipe or a folder fails at once with one line, exit 2', async () => {
    const dir = tempDir();
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    for (const [output, kind] of [['/dev/zero', 'a device'], [fifo, 'a named pipe'], [dir, 'a folder']] as const) {
      const r = await runCli(['siem', 'verify', '--db', db, '--registry-id', 'r', '--format', 'ecs', '--output', output], { timeoutMs: 10_000 });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `oversight: --output ${output} is not a regular file (${kind}): verify reads back the file the export wrote\n`);
    }
    const report = await runCli(['siem', 'verify', '--db', db, '--registry-id', 'r', '--format', 'ecs', '--output', fifo, '--report', '/dev/null']);
    assert.equal(report.code, 2);
    assert.equal(report.stderr, 'oversight: --report /dev/null is not a regular file: name a new file or a report written before\n');
  });

  it('a Content-Type (or other header a SIEM transport sets itself) from --header is refused, exit 2, nothing sent', async () => {
    const base = ['siem', 'export', '--db', db, '--registry-id', 'r', '--no-preflight'];
    const cases: [string, string, NodeJS.ProcessEnv, string][] = [
      ['http://127.0.0.1:9/services/collector/event', 'content-type: text/plain', { OVERSIGHT_SPLUNK_HEC_TOKEN: 'tok-1234567' }, 'splunk-hec sets Content-Type itself'],
      ['http://127.0.0.1:9/_bulk', 'Content-Type: application/json', {}, 'elasticsearch sets Content-Type itself'],
      ['https://0123abcd-0000-0000-0000-000000000000.ods.opinsights.azure.com/api/logs?api-version=2016-04-01', 'Log-Type: Other',
        { OVERSIGHT_SENTINEL_SHARED_KEY: Buffer.from('k'.repeat(32)).toString('base64') }, 'sentinel-dca sets Log-Type itself'],
    ];
    for (const [output, header, env, message] of cases) {
      const r = await runCli([...base, '--output', output, '--header', header], { env, timeoutMs: 10_000 });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `oversight: ${message}: remove the ${message.split(' sets ')[1]!.replace(' itself', '')} header from --header or --header-file\n`);
    }
  });
});
