/**
 * The configuration step: a YAML file, OVERSIGHT_* variables and flags give one configuration (flags over
 * variables over the file), mistakes are refused by name before anything is read or sent, and building a
 * configuration touches neither the disk nor the network.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { exportConfig } from '../src/config/export.js';
import { TRANSPORTS } from '../src/transports/index.js';
import { demoRegistry, jsonLines, runCli, tempDir } from './helpers.js';

function yaml(dir: string, text: string): string {
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(file, text);
  return file;
}

describe('--config FILE', () => {
  it('gives the same records as the same options as flags', async () => {
    const db = demoRegistry(30);
    const dir = tempDir();
    const byFlags = path.join(dir, 'flags.jsonl');
    const byFile = path.join(dir, 'file.jsonl');
    const flags = ['--format', 'splunk', '--splunk-index', 'sec', '--limit', '20'];
    assert.equal((await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg1', '--output', byFlags, ...flags])).code, 0);
    const file = yaml(dir, `db: ${db}\nregistry-id: reg1\noutput: ${byFile}\nformat: splunk\nsplunk-index: sec\nlimit: 20\n`);
    const r = await runCli(['siem', 'export', '--config', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.readFileSync(byFile).equals(fs.readFileSync(byFlags)));
  });

  it('flags win over variables, which win over the file', async () => {
    const dir = tempDir();
    const file = yaml(dir, 'format: ecs\nsplunk-index: from-file\nlimit: 1\n');
    const r = await runCli(['siem', 'config', 'print', '--config', file, '--limit', '2'], { env: { OVERSIGHT_SPLUNK_INDEX: 'from-env' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^format: "ecs" {2}# file$/m);
    assert.match(r.stdout, /^splunk-index: "from-env" {2}# env OVERSIGHT_SPLUNK_INDEX$/m);
    assert.match(r.stdout, /^limit: "2" {2}# flag$/m);
  });

  it('a switch variable set to false wins over true in the file, so a shared file cannot keep TLS checks off', async () => {
    const dir = tempDir();
    const file = yaml(dir, 'insecure: true\nfollow: true\nno-preflight: true\nquiet: false\n');
    const env = { OVERSIGHT_INSECURE: 'false', OVERSIGHT_FOLLOW: '0', OVERSIGHT_NO_PREFLIGHT: 'no', OVERSIGHT_QUIET: 'on' };
    const r = await runCli(['siem', 'config', 'print', '--config', file], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^insecure: false {2}# env OVERSIGHT_INSECURE$/m);
    assert.match(r.stdout, /^follow: false {2}# env OVERSIGHT_FOLLOW$/m);
    assert.match(r.stdout, /^no-preflight: false {2}# env OVERSIGHT_NO_PREFLIGHT$/m);
    assert.match(r.stdout, /^quiet: true {2}# env OVERSIGHT_QUIET$/m);
    const flag = await runCli(['siem', 'config', 'print', '--config', file, '--insecure'], { env });
    assert.match(flag.stdout, /^insecure: true {2}# flag$/m);
    // What the export does, not only what config print shows: the summary line is back.
    const db = demoRegistry(4);
    const quiet = yaml(dir, `db: ${db}\nregistry-id: r\nformat: ecs\nquiet: true\n`);
    const loud = await runCli(['siem', 'export', '--config', quiet], { env: { OVERSIGHT_QUIET: 'false' } });
    assert.equal(loud.code, 0, loud.stderr);
    assert.equal(loud.stderr, 'exported 4 event(s) as ecs\n');
  });

  it('refuses an unknown key by name with a suggestion, before reading or writing anything', async () => {
    const dir = tempDir();
    const out = path.join(dir, 'out.jsonl');
    const file = yaml(dir, `db: ${demoRegistry(3)}\nregistry-id: r\noutput: ${out}\npseudonymise: recipient_id\n`);
    const r = await runCli(['siem', 'export', '--config', file, '--format', 'ecs']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `oversight: --config ${file}: unknown option 'pseudonymise' (did you mean 'pseudonymize'?); keys are the long flag names of \`siem export\`\n`);
    assert.equal(fs.existsSync(out), false);
    const printed = await runCli(['siem', 'config', 'print', '--config', file]);
    assert.equal(printed.code, 2);
    assert.match(printed.stderr, /; keys are the long flag names of `siem config print`\n$/);
    const twice = yaml(dir, 'since: 1\nsince: 2\n');
    const dup = await runCli(['siem', 'export', '--config', twice]);
    assert.equal(dup.code, 2);
    assert.equal(dup.stderr, `oversight: --config ${twice} is not valid YAML: Map keys must be unique at line 2, column 1\n`);
  });

  it('reads each value as written, and takes or refuses it as the same flag would be', async () => {
    const db = demoRegistry(20);
    const dir = tempDir();
    for (const id of ['0x1F', '007', '1e3', '12345678901234567890']) {
      const r = await runCli(['siem', 'export', '--config', yaml(dir, `db: ${db}\nregistry-id: ${id}\nformat: ecs\nlimit: 2\nquiet: true\n`)]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      const ids = jsonLines(r.stdout).map((d) => (d['oversight'] as Record<string, unknown>)['registry_id']);
      assert.deepEqual(ids, [id, id]);
    }
    for (const limit of ['0x10', '1e1', '1_0', '.inf']) {
      const byFlag = await runCli(['siem', 'export', '--db', db, '--registry-id', 'r', '--format', 'ecs', '--limit', limit]);
      const byFile = await runCli(['siem', 'export', '--config', yaml(dir, `db: ${db}\nregistry-id: r\nformat: ecs\nlimit: ${limit}\n`)]);
      assert.equal(byFile.code, 2, `${limit}: ${byFile.stderr}`);
      assert.equal(byFile.stdout, '');
      assert.equal(byFile.stderr, byFlag.stderr);
      assert.equal(byFlag.stderr, `oversight: --limit must be a whole number (0 or more), not '${limit}'\n`);
    }
  });

  it('refuses a key with no value or an empty one, naming the file and the key', async () => {
    const dir = tempDir();
    for (const value of ['', ' ~', ' ""']) {
      const file = yaml(dir, `db: ${demoRegistry(3)}\nregistry-id: r\nformat: ecs\nstate:${value}\n`);
      const r = await runCli(['siem', 'export', '--config', file]);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `oversight: --config ${file}: 'state' has no value: write one, or remove the key\n`);
    }
  });

  it('keeps secrets out of the file', async () => {
    const file = yaml(tempDir(), "header: 'Authorization: Splunk abcdef123456'\n");
    const r = await runCli(['siem', 'export', '--config', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /'header' holds secrets; name a file instead \(header-file\)/);
    assert.doesNotMatch(r.stderr, /abcdef123456/);
  });

  it('config print masks every secret value and names where each value came from', async () => {
    const r = await runCli(['siem', 'config', 'print', '--header', 'Authorization: Splunk s3cr3t-t0ken', '--output', 'https://splunk.example:8088'], {
      env: { OVERSIGHT_SPLUNK_HEC_TOKEN: 'an0ther-s3cret' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^header: \*\*\* {2}# flag$/m);
    assert.doesNotMatch(r.stdout + r.stderr, /s3cr3t-t0ken|an0ther-s3cret/);
    assert.match(r.stdout, /^output: "https:\/\/splunk.example:8088" {2}# flag$/m);
  });
});

describe('OVERSIGHT_* variables', () => {
  it('a misspelt one is refused by name with a suggestion, before anything is read or sent', async () => {
    const out = path.join(tempDir(), 'out.jsonl');
    const r = await runCli(['siem', 'export', '--db', demoRegistry(3), '--registry-id', 'r', '--format', 'ecs', '--output', out], {
      env: { OVERSIGHT_PSEUDONYMISE: 'recipient_id', OVERSIGHT_IP_PREFIXES: '24,64' },
    });
    assert.equal(r.code, 2);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1);
    assert.match(r.stderr, /OVERSIGHT_IP_PREFIXES \(did you mean OVERSIGHT_IP_PREFIX\?\), OVERSIGHT_PSEUDONYMISE \(did you mean OVERSIGHT_PSEUDONYMIZE\?\)/);
    assert.equal(fs.existsSync(out), false);
  });
});

describe('building a configuration', () => {
  it('touches neither the disk nor the network, for every transport', () => {
    const saved = { open: fs.openSync, read: fs.readFileSync, stat: fs.statSync, exists: fs.existsSync, connect: net.connect };
    const refuse = (what: string) => (): never => {
      throw new Error(`the configuration step used ${what}`);
    };
    Object.assign(fs, { openSync: refuse('fs.openSync'), readFileSync: refuse('fs.readFileSync'), statSync: refuse('fs.statSync'), existsSync: refuse('fs.existsSync') });
    Object.assign(net, { connect: refuse('net.connect') });
    syncBuiltinESMExports();
    try {
      for (const t of TRANSPORTS) {
        const output = t.local === 'stdout' ? '-' : t.local === 'file' ? '/nonexistent/out.jsonl' : `${t.schemes![0]}://127.0.0.1:9/x`;
        const c = exportConfig({
          db: '/nonexistent/registry.sqlite', registryId: 'r', output, transport: t.local ? 'auto' : t.name, format: t.format ?? t.defaultFormat ?? 'ecs',
          state: '/nonexistent/state', deadLetter: '/nonexistent/dead', headerFile: '/nonexistent/headers', caFile: '/nonexistent/ca.pem',
          pseudonymize: 'recipient_id', pseudonymKeyFile: '/nonexistent/key', header: ['X-Test: yes'],
        });
        assert.equal(c.transport.name, t.name);
        assert.equal(c.state, '/nonexistent/state');
      }
      // An empty value is refused by the configuration step too, for library callers as for the CLI.
      assert.throws(() => exportConfig({ db: '/nonexistent/registry.sqlite', registryId: 'r', format: 'ecs', state: '' }), /^ConfigurationError: --state is empty/);
    } finally {
      Object.assign(fs, { openSync: saved.open, readFileSync: saved.read, statSync: saved.stat, existsSync: saved.exists });
      Object.assign(net, { connect: saved.connect });
      syncBuiltinESMExports();
    }
  });
});
