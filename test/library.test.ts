/**
 * The library API (src/index.ts) makes the same records as the CLI: a syslog or RELP sink gets its RFC 5424
 * envelope whether the caller is the CLI or code that builds the transport itself.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTransport, exportEvents, iterRegistryEvents, TRANSPORTS } from '../src/index.js';
import { runCli, trickyRegistry, withPeer } from './helpers.js';
import { OctetCountingPeer } from './peers/syslog.js';

describe('library exports through syslog', () => {
  it('carry the same RFC 5424 messages as the CLI sends', async () => {
    const db = trickyRegistry();
    await withPeer(new OctetCountingPeer().start(), async (cliPeer) => {
      const args = ['siem', 'export', '--db', db, '--registry-id', 'r1', '--output', `syslog+tcp://127.0.0.1:${cliPeer.port}`, '--syslog-hostname', 'h1'];
      const r = await runCli(args);
      assert.equal(r.code, 0, r.stderr);
      await withPeer(new OctetCountingPeer().start(), async (libPeer) => {
        const sink = createTransport({ output: `syslog+tcp://127.0.0.1:${libPeer.port}`, transport: 'syslog', flags: { syslogHostname: 'h1' } });
        try {
          const result = await exportEvents({ events: iterRegistryEvents(db, { registryId: 'r1' }), fmt: 'cef', sink });
          assert.equal(result.exported, cliPeer.messages.length);
        } finally {
          await sink.close();
        }
        assert.ok(libPeer.messages.length > 0);
        assert.match(libPeer.messages[0]!, /^<\d+>1 \S+ h1 oversight - beacon-\S+ \[oversight@32473 /);
        assert.deepEqual(libPeer.messages, cliPeer.messages);
      });
    });
  });

  it('every transport that needs an envelope hands it to library callers', () => {
    const enveloped = TRANSPORTS.filter((t) => t.envelope);
    assert.ok(enveloped.length > 0);
    for (const t of enveloped) {
      const sink = createTransport({ output: `${t.schemes![0]}://127.0.0.1:9`, transport: t.name });
      assert.equal(sink.envelope?.kind, t.envelope!({}).kind, t.name);
      void sink.close();
    }
  });
});

describe('the event envelope', () => {
  it('carries the record and the event it was made from, and reads back whole', async () => {
    const { recordFormatter, readEventEnvelope } = await import('../src/records/spec.js');
    const { eventJson } = await import('../src/records/formats/index.js');
    const [evt] = [...iterRegistryEvents(trickyRegistry(), { registryId: 'r1' })];
    const e = eventJson(evt!);
    const plain = recordFormatter({ format: 'cef', settings: {}, envelope: null, privacy: null })(e);
    const wrapped = recordFormatter({ format: 'cef', settings: {}, envelope: { kind: 'event', settings: {} }, privacy: null })(e);
    const back = readEventEnvelope(wrapped);
    assert.ok(back);
    assert.equal(back.record, plain);
    assert.deepEqual(back.event, e);
    assert.equal(readEventEnvelope(plain), null);
    assert.equal(readEventEnvelope('{"record":"x"}'), null);
  });
});
