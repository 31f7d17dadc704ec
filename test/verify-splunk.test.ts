/** `siem verify` against the Splunk peer: the search export stream on the management port, per time window. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HecPeer, type HecPeerOptions } from './peers/splunk-hec.js';
import { demoRegistry, registryIds, runCli, tempDir, withPeer } from './helpers.js';
import { counted, lengthenUserAgent, listed, registryWithRecent } from './verify-support.js';

const HEC = '1d6c2a4e-8f3b-4c5d-9e0f-112233445566';
const SEARCH = 'eyJraWQiOiJzcGx1bmsuc2VjcmV0IiwiYWxnIjoiSFM1MTIifQ.search-token';
const env = { OVERSIGHT_SPLUNK_HEC_TOKEN: HEC, OVERSIGHT_SPLUNK_SEARCH_TOKEN: SEARCH };

const exportTo = (db: string, url: string, ...more: string[]): string[] =>
  ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', url, '--retry-max-duration', '20s', ...more];
const verify = (db: string, peer: HecPeer, ...more: string[]): string[] =>
  ['siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--splunk-search-url', peer.peer.url, '--repair-wait', '0', ...more];

const splunk = (o: Partial<HecPeerOptions>, fn: (peer: HecPeer) => Promise<void>): Promise<void> =>
  withPeer(new HecPeer({ token: HEC, searchToken: SEARCH, ...o }).start(), fn);

describe('siem verify: Splunk', () => {
  it('names exactly the events HEC took and never indexed, repairs them, and a second verify passes', () => {
    const lost = new Set(['2', '333', '800']);
    return splunk({ lose: (e, attempt) => attempt === 0 && lost.has(String((e['event'] as Record<string, unknown>)['event_id'])) }, async (peer) => {
      const db = demoRegistry(800);
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      assert.equal(peer.events.length, 800, 'HEC answered 200 for every event');
      const first = await runCli(verify(db, peer, '--window', '200'), { env });
      assert.equal(first.code, 1, first.stderr);
      assert.deepEqual(listed(first.stderr, 'missing'), ['2', '333', '800']);
      assert.equal(peer.searches.length, 4, 'one search per window');
      for (const s of peer.searches) {
        assert.match(s.search, /^search index=\* \(\(sourcetype="oversight:beacon" source="oversight:registry" host="reg"\) OR registry_id="reg"\) \| eval event_id=coalesce\(event_id, "\(no event id\)"\), in_span=if\(.*\) \| stats count sum\(in_span\) as in_span /);
      }

      const repaired = await runCli(verify(db, peer, '--repair'), { env });
      assert.equal(repaired.code, 0, repaired.stderr);
      assert.match(repaired.stderr, /repair: 3 missing before, 3 re-sent/);
      const second = await runCli(verify(db, peer), { env });
      assert.equal(second.code, 0, second.stderr);
      assert.deepEqual(peer.indexedIds().sort(), registryIds(db).sort());
    });
  });

  it('reports a replayed event as duplicated and a changed one as altered, and reads ids past the 5000-byte extraction limit', () =>
    splunk({}, async (peer) => {
      const db = demoRegistry(40);
      lengthenUserAgent(db, 12);
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      assert.equal((await runCli(exportTo(db, peer.url, '--limit', '3'), { env })).code, 0);
      peer.alter('20', (e) => (e['token_id'] = 'forged'));
      const r = await runCli(verify(db, peer), { env });
      assert.equal(r.code, 1, r.stderr);
      assert.deepEqual(listed(r.stderr, 'duplicated'), ['1', '2', '3']);
      assert.deepEqual(listed(r.stderr, 'altered'), ['20']);
      assert.equal(counted(r.stderr, 'missing'), 0, 'event 12, whose registry_id search cannot extract, is found by host');
    }));

  it('calls events not yet searchable too recent to judge', () => {
    const o: HecPeerOptions = { token: HEC, searchToken: SEARCH };
    return withPeer(new HecPeer(o).start(), async (peer) => {
      const db = registryWithRecent(12, 2);
      assert.equal((await runCli(exportTo(db, peer.url, '--limit', '10'), { env })).code, 0);
      o.visibleAfterMs = 600_000;
      assert.equal((await runCli(exportTo(db, peer.url, '--since', String(Math.floor(Date.now() / 1000) - 60)), { env })).code, 0);
      const r = await runCli(verify(db, peer), { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(listed(r.stderr, 'too recent to judge'), ['11', '12']);
    });
  });

  it('judges the final rows of the search only: previews are not counted, and a stream of previews alone finds nothing', () => {
    const o: HecPeerOptions = { token: HEC, searchToken: SEARCH, previews: 'before' };
    return withPeer(new HecPeer(o).start(), async (peer) => {
      const db = demoRegistry(20);
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      const both = await runCli(verify(db, peer), { env });
      assert.equal(both.code, 0, both.stderr);
      assert.equal(counted(both.stderr, 'present once'), 20);
      o.previews = 'only';
      const cut = await runCli(verify(db, peer), { env });
      assert.equal(cut.code, 1, cut.stderr);
      assert.equal(counted(cut.stderr, 'missing'), 20);
    });
  });

  it("shows Splunk's warnings on a search once each, escaped, and at most five, beside the verdicts", async () => {
    const incomplete = 'Search results might be incomplete: the search process on the peer:idx-2 ended prematurely.';
    const more = Array.from({ length: 6 }, (_, i) => `warning ${i}`);
    await splunk({ searchWarnings: [incomplete, 'forged\nverified rowids 1-5: 5 present once', ...more] }, async (peer) => {
      const db = demoRegistry(5);
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      const r = await runCli(verify(db, peer, '--window', '2'), { env });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(peer.searches.length >= 2, 'several windows, each warned again');
      const warned = r.stderr.split('\n').filter((l) => l.includes('Splunk search warned'));
      assert.equal(warned.length, 5, r.stderr);
      assert.match(warned[0]!, /Splunk search warned: Search results might be incomplete: the search process on the peer:idx-2 ended prematurely\.$/);
      assert.ok(!/^verified rowids 1-5: 5 present once/m.test(r.stderr), 'a warning cannot write a line of its own');
      assert.match(warned[4]!, /\(further warnings are not shown\)$/);
      assert.equal(counted(r.stderr, 'present once'), 5);
    });
  });

  it('stops on a result whose count is not a whole number of copies instead of reading it as stored once', async () => {
    for (const bad of ['x', '-1', '0', '1.5', ['1', '1']]) {
      await splunk({ alterResult: (r) => (r['event_id'] === '3' ? (r['count'] = bad) : undefined) }, async (peer) => {
        const db = demoRegistry(5);
        assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
        const r = await runCli(verify(db, peer), { env });
        assert.equal(r.code, 1, `${JSON.stringify(bad)}: ${r.stderr}`);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.match(r.stderr, /Splunk search answered a count that is not a whole number of copies for event 3/);
      });
    }
  });

  it('takes the search token from the environment or a file, never prints it, and names the capability on 401/403', () =>
    splunk({ searchUser: ['auditor', 'changeme-Spl0nk'] }, async (peer) => {
      const db = demoRegistry(10);
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      const tokenFile = path.join(tempDir(), 'search.token');
      fs.writeFileSync(tokenFile, `${SEARCH}\n`, { mode: 0o600 });
      const fromFile = await runCli(verify(db, peer), { env: { OVERSIGHT_SPLUNK_SEARCH_TOKEN_FILE: tokenFile } });
      assert.equal(fromFile.code, 0, fromFile.stderr);
      const flag = await runCli(verify(db, peer, '--splunk-search-token-file', tokenFile));
      assert.equal(flag.code, 0, flag.stderr);

      const hecToken = await runCli(verify(db, peer), { env: { OVERSIGHT_SPLUNK_SEARCH_TOKEN: HEC } });
      const passwordFile = path.join(tempDir(), 'splunk.password');
      fs.writeFileSync(passwordFile, 'changeme-Spl0nk\n', { mode: 0o600 });
      const basic = await runCli(verify(db, peer), { env: { OVERSIGHT_SPLUNK_USERNAME: 'auditor', OVERSIGHT_SPLUNK_PASSWORD_FILE: passwordFile } });
      assert.equal(basic.code, 0, basic.stderr);
      const badPassword = await runCli(verify(db, peer), { env: { OVERSIGHT_SPLUNK_USERNAME: 'auditor', OVERSIGHT_SPLUNK_PASSWORD: 'wrong-password' } });
      assert.equal(badPassword.code, 1);
      assert.ok(!badPassword.stderr.includes('wrong-password'));
      assert.equal(hecToken.code, 1);
      assert.equal(hecToken.stderr.trim().split('\n').length, 1, hecToken.stderr);
      assert.match(hecToken.stderr, /HTTP 401.*the HEC token cannot search/);
      assert.ok(!hecToken.stderr.includes(HEC));

      const none = await runCli(verify(db, peer));
      assert.equal(none.code, 2);
      assert.match(none.stderr, /OVERSIGHT_SPLUNK_SEARCH_TOKEN/);
      const noUrl = await runCli(['siem', 'verify', '--db', db, '--registry-id', 'reg', '--output', peer.url], { env });
      assert.equal(noUrl.code, 2);
      assert.match(noUrl.stderr, /--splunk-search-url https:\/\/HOST:8089/);
    }));

  it("names the 'search' capability when the role lacks it", () =>
    splunk({ searchForbidden: true }, async (peer) => {
      const db = demoRegistry(5);
      assert.equal((await runCli(exportTo(db, peer.url), { env })).code, 0);
      const r = await runCli(verify(db, peer), { env });
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /HTTP 403: the user's role needs the 'search' capability/);
      assert.ok(!r.stderr.includes(SEARCH));
    }));
});
