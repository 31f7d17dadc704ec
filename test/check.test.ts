/**
 * `siem check` and the preflight of a one-shot export: every destination is checked without sending an event,
 * one line per check, and a wrong or dead destination fails in seconds with the reason.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { AzurePeer } from './peers/azure-logs-ingestion.js';
import { EsPeer } from './peers/elasticsearch.js';
import { HecPeer } from './peers/splunk-hec.js';
import { Peer } from './peers/peer.js';
import { RelpPeer } from './peers/syslog.js';
import { demoRegistry, FIXTURES, outcome, runCli, tempDir, withPeer } from './helpers.js';

const TOKEN = '11111111-2222-3333-4444-555555555555';
const ES_KEY = 'aWQ6c2VjcmV0';
const db = demoRegistry(5);
const check = (...args: string[]): string[] => ['siem', 'check', '--db', db, '--registry-id', 'r1', '--timeout', '3s', ...args];

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const lines = (stdout: string): string[] => stdout.split('\n').filter(Boolean);

describe('siem check', () => {
  it('passes against Splunk HEC with a good token, and fails with a wrong one without sending an event', () =>
    withPeer(new HecPeer({ token: TOKEN, ack: true }).start(), async (peer) => {
      const good = await runCli(check('--output', peer.url, '--splunk-ack'), { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN } });
      assert.equal(good.code, 0, good.stdout + good.stderr);
      assert.deepEqual(lines(good.stdout).map((l) => l.split(':')[0]), ['ok    configuration', 'ok    registry', 'ok    name', 'ok    connection', 'ok    token', 'ok    indexer acknowledgement']);
      const bad = await runCli(check('--output', peer.url), { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: 'wrong-token-value' } });
      assert.equal(bad.code, 1);
      assert.match(bad.stdout, /^FAIL  token: refused \(HTTP 403 code 4: Invalid token\): check OVERSIGHT_SPLUNK_HEC_TOKEN/m);
      assert.doesNotMatch(bad.stdout + bad.stderr, /wrong-token-value/);
      assert.equal(peer.events.length, 0, 'no event was sent');
    }));

  it('quotes a HEC answer\'s text bounded and on one line, however long it is', () =>
    withPeer(new Peer((req) => {
      // HEC's own codes with a line break, an ANSI escape and a long tail in the text: 2 MB in a 200, and in an
      // error answer as much as the exporter keeps of one (64 KiB).
      const text = (words: string, tail: number): string => `${words}\r\n\u001b[31m${'A'.repeat(tail)}`;
      if (req.path.endsWith('/ack')) return { status: 400, body: JSON.stringify({ text: text('ACK is disabled', 60_000), code: 14 }) };
      const auth = req.headers['authorization'];
      if (auth === 'Splunk health-check-token') return { status: 200, body: JSON.stringify({ text: text('HEC is healthy', 2_000_000), code: 17 }) };
      if (auth !== `Splunk ${TOKEN}`) return { status: 403, body: JSON.stringify({ text: text('Invalid token', 60_000), code: 4 }) };
      return { status: 400, body: JSON.stringify({ text: 'No data', code: 5 }) };
    }).start(), async (peer) => {
      const url = `${peer.url}/services/collector/event`;
      const failing = async (token: string, what: string, ...more: string[]): Promise<string> => {
        const r = await runCli(check('--output', url, ...more), { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: token } });
        assert.equal(r.code, 1, r.stdout);
        const line = lines(r.stdout).find((l) => l.startsWith(`FAIL  ${what}:`));
        assert.ok(line !== undefined && line.length < 400, r.stdout.slice(0, 600));
        return line;
      };
      assert.match(await failing('health-check-token', 'token'), /^FAIL  token: not a HEC answer \(HTTP 200 code 17: HEC is healthy \\x1b\[31mA{50,}… .*\): is --output the HEC endpoint/);
      assert.match(await failing('another-token-value', 'token'), /^FAIL  token: refused \(HTTP 403 code 4: Invalid token \\x1b\[31mA{50,}…\): check OVERSIGHT_SPLUNK_HEC_TOKEN/);
      assert.match(await failing(TOKEN, 'indexer acknowledgement', '--splunk-ack'),
        /^FAIL  indexer acknowledgement: HTTP 400: ACK is disabled \\x1b\[31mA{50,}…: turn it on for the token, or drop --splunk-ack$/);
    }));

  it('finds a missing Elasticsearch template and pipeline, and passes once they are installed', async () => {
    for (const setUp of [false, true]) {
      await withPeer(new EsPeer({ dataStream: 'logs-oversight.beacon-default', apiKey: ES_KEY, setUp }).start(), async (peer) => {
        const r = await runCli(check('--output', peer.url), { env: { OVERSIGHT_ES_API_KEY: ES_KEY } });
        if (setUp) assert.equal(r.code, 0, r.stdout);
        else {
          assert.equal(r.code, 1);
          assert.match(r.stdout, /^FAIL  index template: missing: run oversight siem setup elasticsearch$/m);
        }
        assert.equal(peer.docs.size, 0);
      });
    }
  });

  it('names a DCR stream that is not there', async () => {
    const o = { tenantId: 't1', clientId: 'c1', clientSecret: 's3cret-value', dcr: 'dcr-0123456789abcdef0123456789abcdef', stream: 'Custom-Oversight_CL' };
    await withPeer(new AzurePeer(o).start(), async (peer) => {
      const env = { AZURE_TENANT_ID: o.tenantId, AZURE_CLIENT_ID: o.clientId, AZURE_CLIENT_SECRET: o.clientSecret, AZURE_AUTHORITY_HOST: peer.authority };
      const good = await runCli(check('--output', peer.url), { env });
      assert.equal(good.code, 0, good.stdout);
      assert.match(good.stdout, /^ok    DCR stream: accepts records$/m);
      const wrong = await runCli(check('--output', peer.url.replace('Custom-Oversight_CL', 'Custom-Other_CL')), { env });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stdout, /^FAIL  DCR stream: no such DCR or stream \(HTTP 404\)/m);
      assert.equal(peer.records.length, 0);
    });
  });

  it('opens and closes a RELP session', () =>
    withPeer(new RelpPeer().start(), async (peer) => {
      const r = await runCli(check('--output', `relp://127.0.0.1:${peer.port}`));
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^ok    RELP session: opened/m);
      assert.equal(peer.messages.length, 0);
    }));

  it('fails on a dead URL with the reason, and a one-shot export fails the same way before reading anything', async () => {
    const port = await deadPort();
    const url = `http://127.0.0.1:${port}/services/collector/event`;
    const r = await runCli(check('--output', url), { env: { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN } });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^FAIL  connection: 127\.0\.0\.1:\d+: .*ECONNREFUSED/m);
    const state = path.join(tempDir(), 'state.json');
    const e = await runCli(['siem', 'export', '--db', db, '--registry-id', 'r1', '--output', url, '--state', state, '--transport', 'splunk-hec'], {
      env: { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN }, timeoutMs: 30_000,
    });
    assert.equal(e.code, 1, e.stderr);
    assert.match(e.stderr, /^oversight: splunk-hec connection: 127\.0\.0\.1:\d+: .*ECONNREFUSED.* \(nothing was sent; siem check shows every check, --no-preflight skips them\)\n$/);
  });

  it('loads the state file as the export does: one of another registry, or torn, fails with the export\'s message and exit 2', async () => {
    const dir = tempDir();
    const state = path.join(dir, 'state.json');
    const toFile = (registry: string, command: string): string[] =>
      ['siem', command, '--db', db, '--registry-id', registry, '--format', 'ecs', '--output', path.join(dir, 'out.jsonl'), '--state', state];
    assert.equal((await runCli([...toFile('r1', 'export'), '--limit', '2'])).code, 0);
    const good = await runCli(toFile('r1', 'check'));
    assert.equal(good.code, 0, good.stdout);
    assert.match(good.stdout, /^ok    state file: .* is free for this exporter; the export resumes after rowid 2$/m);
    const saved = fs.readFileSync(state, 'utf8');
    for (const [registry, text] of [['r2', saved], ['r1', saved.slice(0, 50)]] as const) {
      fs.writeFileSync(state, text);
      const checked = await runCli(toFile(registry, 'check'));
      const exported = await runCli(toFile(registry, 'export'));
      assert.equal(exported.code, 2, exported.stderr);
      assert.equal(checked.code, 2, checked.stdout);
      assert.ok(checked.stdout.includes(`FAIL  state file: ${outcome(exported.stderr)[0]!.replace(/^oversight: /, '')}\n`), checked.stdout);
    }
  });

  it('makes the TLS handshake of an HTTPS destination with the export\'s TLS settings, sending nothing', async () => {
    const cert = path.join(FIXTURES, 'tls', 'localhost.crt');
    const tls = { key: fs.readFileSync(path.join(FIXTURES, 'tls', 'localhost.key'), 'utf8'), cert: fs.readFileSync(cert, 'utf8') };
    await withPeer(new Peer(() => ({ status: 200 }), /./, tls).start(), async (peer) => {
      const url = `${peer.url}/ingest`;
      const untrusted = await runCli(check('--format', 'ecs', '--output', url));
      assert.equal(untrusted.code, 1, untrusted.stdout);
      assert.match(untrusted.stdout, /^FAIL  connection: 127\.0\.0\.1:\d+: self-signed certificate \(use --ca-file for a private CA; --insecure turns verification off\)$/m);
      const trusted = await runCli(check('--format', 'ecs', '--output', url, '--ca-file', cert));
      assert.equal(trusted.code, 0, trusted.stdout);
      assert.match(trusted.stdout, /^ok    connection: 127\.0\.0\.1:\d+ accepts TLS connections with a trusted certificate$/m);
      assert.equal(peer.requests.length, 0);
    });
  });

  it('exits 2 for a mistake in the destination\'s settings, as the export does', async () => {
    const url = 'https://127.0.0.1:9/services/collector/event';
    for (const [args, env, why] of [
      [[], {}, /^FAIL  destination: Splunk HEC needs a token/m],
      [['--ca-file', path.join(FIXTURES, 'README.md')], { OVERSIGHT_SPLUNK_HEC_TOKEN: TOKEN }, /^FAIL  destination: --ca-file .* holds no PEM certificate$/m],
    ] as const) {
      const checked = await runCli(check('--output', url, ...args), { env });
      assert.equal(checked.code, 2, checked.stdout);
      assert.match(checked.stdout, why);
      const exported = await runCli(['siem', 'export', '--db', db, '--registry-id', 'r1', '--output', url, ...args], { env });
      assert.equal(exported.code, 2, exported.stderr);
    }
  });

  it('reports a configuration mistake as such, with exit 2', async () => {
    const r = await runCli(['siem', 'check', '--db', db, '--registry-id', 'r1', '--output', '127.0.0.1:8088']);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /^FAIL  configuration: /m);
  });
});

describe('siem check against every fake peer', () => {
  it('passes for every registered transport with its peer, sending nothing', async () => {
    const { TRANSPORTS } = await import('../src/transports/index.js');
    const { CONFORMANCE } = await import('./peers/index.js');
    for (const t of TRANSPORTS.filter((x) => x.local !== 'stdout')) {
      const h = await CONFORMANCE[t.name]!();
      try {
        const r = await runCli(['siem', 'check', '--db', db, '--registry-id', 'r1', '--timeout', '5s', ...h.args], { env: h.env ?? {} });
        assert.equal(r.code, 0, `${t.name}: ${r.stdout}${r.stderr}`);
        assert.ok(lines(r.stdout).every((l) => l.startsWith('ok ')), r.stdout);
        assert.equal(h.held(), 0, `${t.name} received nothing`);
      } finally {
        await h.close();
      }
    }
  });
});
