/**
 * CEF read back by an independent parser: the hostile registry goes over syslog into a real rsyslog, whose
 * mmnormalize (liblognorm's `cef` type) splits and unescapes each record. Every header field and every extension
 * value must come back as docs/SIEM.md says it maps the registry's values.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cefSeverity, expectedCefPairs, hostileRegistry, registryRows } from './formats-support.js';
import { runCli, tempDir } from './helpers.js';
import { Rsyslog, rsyslogMissing } from './peers/rsyslog.js';

const missing = rsyslogMissing();
const REGISTRY_ID = 'reg|1=x\\y';
/** Large enough for the 10 kB user agent of the hostile registry. */
const MAX_MESSAGE = 65_536;

describe('CEF parsed by rsyslog mmnormalize', { skip: missing ?? false }, () => {
  const rsyslog = new Rsyslog(MAX_MESSAGE, { cef: true });
  const db = hostileRegistry();
  const rows = registryRows(db);
  before(async () => {
    await rsyslog.start();
  });
  after(() => rsyslog.stop());

  it('gives back every header field and extension value of the hostile registry', async () => {
    const r = await runCli([
      'siem', 'export', '--db', db, '--registry-id', REGISTRY_ID, '--format', 'cef',
      '--output', `syslog+tcp://127.0.0.1:${rsyslog.ports.tcp}`, '--syslog-max-message', String(MAX_MESSAGE),
      '--state', `${tempDir()}/state.json`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const records = await rsyslog.waitRecords(rows.length);
    assert.equal(records.length, rows.length, rsyslog.log().slice(-2000));
    let compared = 0;
    for (const rec of records) {
      const cef = rec.cef;
      assert.ok(cef?.Extensions, `rsyslog could not parse the CEF of ${rec.msgid}: ${JSON.stringify(rec).slice(0, 400)}`);
      const row = rows.find((x) => String(x.id) === cef.Extensions['externalId']);
      assert.ok(row, `no registry row for externalId ${cef.Extensions['externalId']}`);
      assert.equal(cef.DeviceVendor, 'Oversight');
      assert.equal(cef.DeviceProduct, 'Oversight Registry');
      assert.equal(cef.SignatureID, `beacon:${row.kind}`);
      assert.equal(cef.Name, `Leaked document beacon (${row.kind})`);
      assert.equal(cef.Severity, cefSeverity[row.kind]);
      const want = expectedCefPairs(row, REGISTRY_ID);
      for (const [k, v] of want) {
        assert.equal(cef.Extensions[k], v, `event ${row.id}: ${k}`);
        compared++;
      }
      if (row.extra !== '{}') assert.deepEqual(JSON.parse(cef.Extensions['cs5']!), JSON.parse(row.extra!));
      const known = new Set([...want.keys(), 'act', 'cs5Label', 'cs5']);
      for (const k of Object.keys(cef.Extensions)) assert.ok(known.has(k), `event ${row.id}: unexpected key ${k}`);
    }
    assert.ok(compared > rows.length * 8, `compared ${compared} values`);
  });
});
