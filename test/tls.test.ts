/** TLS: certificates are verified unless the user says otherwise; a private CA can be trusted explicitly. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HecPeer } from './peers/splunk-hec.js';
import { demoRegistry, FIXTURES, outcome, runCli, withPeer } from './helpers.js';

// A self-signed certificate for 127.0.0.1, made for these tests only:
// openssl req -x509 -newkey rsa:2048 -nodes -keyout localhost.key -out localhost.crt -days 36500 \
//   -subj "/CN=oversight-test-peer" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost"
const CERT = path.join(FIXTURES, 'tls', 'localhost.crt');
const tls = { key: fs.readFileSync(path.join(FIXTURES, 'tls', 'localhost.key'), 'utf8'), cert: fs.readFileSync(CERT, 'utf8') };
const env = { OVERSIGHT_SPLUNK_HEC_TOKEN: 'tls-token' };

describe('TLS', () => {
  const db = demoRegistry(12);
  const args = (url: string): string[] => ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', url, '--retry-max-duration', '5s'];

  it('refuses a certificate it cannot verify, and says how to trust it', () =>
    withPeer(new HecPeer({ token: 'tls-token', tls }).start(), async (peer) => {
      assert.ok(peer.url.startsWith('https://'));
      const r = await runCli(args(peer.url), { env });
      assert.equal(r.code, 1);
      const lines = outcome(r.stderr);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /cannot reach 127\.0\.0\.1:\d+: .*(certificate|self-signed|self signed).*use --ca-file for a private CA/i);
      assert.equal(peer.events.length, 0);
    }));

  it('trusts the CA given with --ca-file', () =>
    withPeer(new HecPeer({ token: 'tls-token', tls }).start(), async (peer) => {
      const r = await runCli([...args(peer.url), '--ca-file', CERT], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(peer.events.length, 12);
    }));

  it('skips verification only with --insecure', () =>
    withPeer(new HecPeer({ token: 'tls-token', tls }).start(), async (peer) => {
      const r = await runCli([...args(peer.url), '--insecure'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(peer.events.length, 12);
    }));

  it('a --ca-file that holds no certificate is a usage error', async () => {
    const r = await runCli([...args('https://127.0.0.1:9/services/collector/event'), '--ca-file', path.join(FIXTURES, 'README.md')], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--ca-file .* holds no PEM certificate/);
  });
});

describe('https:// to a port that speaks plain HTTP', () => {
  const db = demoRegistry(3);
  let server: http.Server;
  let port = 0;
  // Answers every request, as an Elasticsearch or HEC port without TLS would: only the scheme is wrong.
  before(async () => {
    server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const notTls = (): RegExp => new RegExp(`127\\.0\\.0\\.1:${port} does not speak TLS: use http:// or the TLS port$`);
  const noOpenSsl = (text: string): void => {
    assert.doesNotMatch(text, /SSL routines|deps\/openssl|wrong version number|--insecure/, text);
  };

  it('siem setup says so in one line, without the certificate hint', async () => {
    const r = await runCli(['siem', 'setup', 'elasticsearch', '--url', `https://127.0.0.1:${port}`, '--retry-max-duration', '5s']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trim(), notTls());
    noOpenSsl(r.stderr);
  });

  it('siem check says so on its connection line', async () => {
    const r = await runCli(['siem', 'check', '--db', db, '--registry-id', 'reg', '--output', `https://127.0.0.1:${port}/services/collector/event`], { env });
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^FAIL  connection: ${notTls().source}`, 'm'));
    noOpenSsl(r.stdout);
  });

  it('siem export stops at once and says so, sending nothing', async () => {
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', `https://127.0.0.1:${port}/services/collector/event`, '--retry-max-duration', '30s'], { env });
    assert.equal(r.code, 1);
    const lines = outcome(r.stderr);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`127\\.0\\.0\\.1:${port} does not speak TLS: use http:// or the TLS port`));
    assert.doesNotMatch(r.stderr, /retrying/);
    noOpenSsl(r.stderr);
  });
});
