/**
 * A REAL column holding ±Infinity (what SQLite stores for 1e999; NaN it stores as NULL): every JSON format still
 * writes lines a JSON parser reads, with the value as null.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli, sqlRegistry } from './helpers.js';

const db = sqlRegistry(`CREATE TABLE events (id INTEGER PRIMARY KEY, token_id TEXT, file_id TEXT, recipient_id TEXT, issuer_id TEXT,
  kind TEXT, source_ip TEXT, user_agent TEXT, extra TEXT, timestamp INTEGER, qualified_timestamp TEXT, tlog_index INTEGER);
INSERT INTO events (id, token_id, kind, source_ip, user_agent, extra, timestamp, tlog_index) VALUES
  (1, 't1', 'dns', '192.0.2.1', '', '{}', 1763856000, 7),
  (2, 't2', 'dns', '192.0.2.1', '', '{}', 1763856001, 1e999),
  (3, 't3', 'dns', '192.0.2.1', '', '{}', 1763856002, -1e999);`);

describe('infinite numbers in registry columns', () => {
  for (const format of ['ecs', 'ocsf', 'splunk', 'sentinel']) {
    it(`${format}: every line is JSON, an infinite tlog_index is null and the finite one stays`, async () => {
      const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--format', format]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 3);
      for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line);
      assert.match(lines[0]!, /[Tt]log_?[Ii]ndex":7[,}]/);
      for (const line of lines.slice(1)) {
        assert.doesNotMatch(line, /Infinity/);
        assert.match(line, /[Tt]log_?[Ii]ndex":null[,}]/);
      }
    });
  }
});
