/** Settings as OVERSIGHT_* variables (flags win), and secrets from files and systemd credentials. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EsPeer } from './peers/elasticsearch.js';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, jsonLines, registryIds, runCli, tempDir, withPeer } from './helpers.js';

const TOKEN = '0d5e6f70-1111-2222-3333-444455556666';

describe('settings from the environment', () => {
  const db = demoRegistry(40);

  it('every flag has an OVERSIGHT_ variable, and a flag given on the command line wins', async () => {
    const env = { OVERSIGHT_DB: db, OVERSIGHT_REGISTRY_ID: 'from-env', OVERSIGHT_FORMAT: 'sentinel', OVERSIGHT_LIMIT: '5' };
    const fromEnv = await runCli(['siem', 'export'], { env });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    const rows = jsonLines(fromEnv.stdout);
    assert.equal(rows.length, 5);
    assert.ok(rows.every((r) => r['RegistryId'] === 'from-env' && 'EventId' in r));
    const flags = await runCli(['siem', 'export', '--format', 'ecs', '--limit', '2', '--registry-id', 'from-flag'], { env });
    assert.equal(flags.code, 0, flags.stderr);
    const docs = jsonLines(flags.stdout);
    assert.equal(docs.length, 2);
    assert.ok(docs.every((d) => (d['oversight'] as Record<string, unknown>)['registry_id'] === 'from-flag'));
    const help = await runCli(['siem', 'export', '--help']);
    for (const name of ['OVERSIGHT_DB', 'OVERSIGHT_OUTPUT', 'OVERSIGHT_COMPRESS', 'OVERSIGHT_PSEUDONYMIZE', 'OVERSIGHT_FOLLOW=true']) {
      assert.match(help.stdout.replace(/\s+/g, ' '), new RegExp(`env: ${name}`));
    }
  });

  it("another delivering command's variable is no error (one environment file for all), a misspelt one is", async () => {
    const base = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs', '--limit', '3'];
    // --from-rowid and --dead-letter-out are siem verify's and siem replay's alone.
    const shared = await runCli(base, { env: { OVERSIGHT_FROM_ROWID: '5', OVERSIGHT_DEAD_LETTER_OUT: 'again.jsonl' } });
    assert.equal(shared.code, 0, shared.stderr);
    assert.equal(jsonLines(shared.stdout).length, 3);
    const typo = await runCli(base, { env: { OVERSIGHT_FROM_ROWIDS: '5' } });
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown environment variable OVERSIGHT_FROM_ROWIDS \(did you mean OVERSIGHT_FROM_ROWID\?\)/);
    assert.equal(typo.stdout, '');
  });

  it('switches take true or false; anything else is a usage error', async () => {
    const base = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs'];
    const on = await runCli(base, { env: { OVERSIGHT_QUIET: 'true' } });
    assert.equal(on.code, 0);
    assert.equal(on.stderr, '');
    const off = await runCli(base, { env: { OVERSIGHT_QUIET: 'false' } });
    assert.match(off.stderr, /exported 40 event\(s\) as ecs/);
    const flagWins = await runCli([...base, '--quiet'], { env: { OVERSIGHT_QUIET: 'no' } });
    assert.equal(flagWins.stderr, '');
    const odd = await runCli(base, { env: { OVERSIGHT_QUIET: 'sometimes' } });
    assert.equal(odd.code, 2);
    assert.match(odd.stderr, /OVERSIGHT_QUIET must be true or false, not 'sometimes'/);
    assert.equal(odd.stdout, '');
    const choice = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg'], { env: { OVERSIGHT_FORMAT: 'xml' } });
    assert.equal(choice.code, 2);
    assert.match(choice.stderr, /xml/);
  });

  it('an empty variable is refused by name, not taken for an unset one', async () => {
    const out = path.join(tempDir(), 'out.jsonl');
    const base = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', 'ecs'];
    for (const [name, args] of [['OVERSIGHT_OUTPUT', []], ['OVERSIGHT_STATE', ['--output', out]], ['OVERSIGHT_DEAD_LETTER', ['--output', out]], ['OVERSIGHT_CONFIG', ['--output', out]]] as const) {
      const r = await runCli([...base, ...args], { env: { [name]: '' } });
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.equal(r.stderr, `oversight: ${name} is set but empty: give it a value, or unset it\n`);
      assert.equal(r.stdout, '');
    }
    assert.equal(fs.existsSync(out), false);
    // A flag still wins over an empty variable.
    const flag = await runCli([...base, '--output', out], { env: { OVERSIGHT_OUTPUT: '' } });
    assert.equal(flag.code, 0, flag.stderr);
  });

  it('the HEC token from a file, and from a systemd credential; it is never printed', () =>
    withPeer(new HecPeer({ token: TOKEN }).start(), async (peer) => {
      const creds = tempDir();
      fs.writeFileSync(path.join(creds, 'oversight_hec'), `${TOKEN}\n`, { mode: 0o600 });
      const args = ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url];
      const file = await runCli(args, { env: { OVERSIGHT_SPLUNK_HEC_TOKEN_FILE: path.join(creds, 'oversight_hec') } });
      assert.equal(file.code, 0, file.stderr);
      const cred = await runCli(args, { env: { OVERSIGHT_SPLUNK_HEC_TOKEN_FILE: 'credential:oversight_hec', CREDENTIALS_DIRECTORY: creds } });
      assert.equal(cred.code, 0, cred.stderr);
      assert.deepEqual(peer.eventIds(), [...registryIds(db), ...registryIds(db)]);
      const outside = await runCli(args, { env: { OVERSIGHT_SPLUNK_HEC_TOKEN_FILE: 'credential:oversight_hec' } });
      assert.equal(outside.code, 2);
      assert.match(outside.stderr, /credential:oversight_hec names a systemd credential, but CREDENTIALS_DIRECTORY is not set/);
      for (const r of [file, cred, outside]) assert.ok(!r.stderr.includes(TOKEN));
    }));

  it('headers from a file: an Elasticsearch API key off the command line', () =>
    withPeer(new EsPeer({ dataStream: 'logs-oversight.beacon-default', apiKey: 'es-api-key-value' }).start(), async (peer) => {
      const file = path.join(tempDir(), 'headers');
      fs.writeFileSync(file, '# the API key of the oversight writer role\nAuthorization: ApiKey es-api-key-value\n', { mode: 0o600 });
      const r = await runCli(['siem', 'export', '--output', peer.url], { env: { OVERSIGHT_DB: db, OVERSIGHT_REGISTRY_ID: 'reg', OVERSIGHT_HEADER_FILE: file } });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.eventIds(), registryIds(db));
      assert.ok(!r.stderr.includes('es-api-key-value'));
    }));
});
