/**
 * Every detection fires on its fires sample and stays quiet on its quiet sample, evaluated from its declarative
 * definition as one scheduled run at the moment of the sample's last callback; the samples load with SQLite, move
 * to now with the statement the samples README gives, and export with the built CLI.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { evaluate, fieldValue, type Alert } from '../src/content/detect.js';
import { contentRoot, durationSeconds, loadDetections } from '../src/content/model.js';
import type { OversightEvent } from '../src/registry/event.js';
import { iterRegistryEvents } from '../src/registry/source.js';
import { jsonLines, runCli, sqlRegistry, tempDir } from './helpers.js';

const SAMPLES = path.join(contentRoot(), 'detections', 'samples');
const detections = loadDetections();

function sample(id: string, kind: 'fires' | 'quiet'): string {
  return sqlRegistry(fs.readFileSync(path.join(SAMPLES, `${id}.${kind}.sql`), 'utf8'));
}

function events(db: string): OversightEvent[] {
  return [...iterRegistryEvents(db, { registryId: 'sample' })];
}

function lastTime(evts: OversightEvent[]): number {
  return Math.max(...evts.map((e) => e.occurred_unix));
}

/** What each fires sample is built to raise: the alert keys, in order. */
const EXPECTED_FIRES: Record<string, (alerts: Alert[]) => void> = {
  'oversight-leaked-copy-opened': (alerts) => {
    assert.equal(alerts.length, 4);
    assert.deepEqual(new Set(alerts.map((a) => fieldValue(a.events[0]!, 'kind'))), new Set(['dns', 'http_img', 'ocsp', 'license']));
  },
  'oversight-first-callback-for-file': (alerts) => {
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.events[0]!.event_kind, 'dns');
    assert.match(String(alerts[0]!.key['file_id']), /^f-[0-9a-f]{16}$/);
  },
  'oversight-file-opened-from-many-ips': (alerts) => {
    assert.equal(alerts.length, 1);
    const ips = new Set(alerts[0]!.events.map((e) => fieldValue(e, 'source_ip')).filter((ip) => ip !== null && ip !== 'unknown'));
    assert.deepEqual(ips, new Set(['198.51.100.23', '203.0.113.77', '2001:db8:4f1a::1c3']));
  },
  'oversight-unknown-token-callback': (alerts) => {
    assert.equal(alerts.length, 3);
    for (const a of alerts) assert.equal(fieldValue(a.events[0]!, 'file_id'), null);
  },
  'oversight-callback-burst-from-ip': (alerts) => {
    assert.deepEqual(alerts.map((a) => a.key), [{ source_ip: '192.0.2.200' }]);
    assert.ok(alerts[0]!.events.length >= 20);
  },
};

test('every detection has a fires and a quiet sample, and every sample belongs to a detection', () => {
  const expected = detections.flatMap((d) => [`${d.id}.fires.sql`, `${d.id}.quiet.sql`]).sort();
  const present = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.sql')).sort();
  assert.deepEqual(present, expected);
  assert.deepEqual(Object.keys(EXPECTED_FIRES).sort(), detections.map((d) => d.id).sort());
});

for (const d of detections) {
  describe(d.id, () => {
    test('fires on its fires sample', () => {
      const evts = events(sample(d.id, 'fires'));
      const alerts = evaluate(d, evts, { now: lastTime(evts) });
      assert.ok(alerts.length > 0, `${d.id} stayed quiet on its fires sample`);
      EXPECTED_FIRES[d.id]!(alerts);
    });

    test('stays quiet on its quiet sample', () => {
      const evts = events(sample(d.id, 'quiet'));
      assert.ok(evts.length > 0);
      const alerts = evaluate(d, evts, { now: lastTime(evts) });
      assert.deepEqual(alerts.map((a) => a.key), [], `${d.id} fired on its quiet sample`);
      // Over the whole sample too, whatever the lookback, except where the earlier history is the point.
      if (d.logic.type !== 'first_seen') assert.deepEqual(evaluate(d, evts).map((a) => a.key), []);
    });
  });
}

/** One small change to each quiet sample that makes its rule fire: the quiet samples are near misses. */
const TIP_OVER: Record<string, string> = {
  'oversight-leaked-copy-opened': `UPDATE events SET file_id = 'f-2a592b6572f57adc' WHERE id = (SELECT max(id) FROM events);`,
  'oversight-first-callback-for-file': `DELETE FROM events WHERE timestamp < (SELECT max(timestamp) FROM events) - 3600;`,
  'oversight-file-opened-from-many-ips': `UPDATE events SET file_id = (SELECT file_id FROM events WHERE source_ip = '198.51.100.23' LIMIT 1)
    WHERE source_ip = '192.0.2.31';`,
  'oversight-unknown-token-callback': `UPDATE events SET file_id = NULL WHERE id = (SELECT max(id) FROM events);`,
  'oversight-callback-burst-from-ip': `INSERT INTO events (token_id, file_id, kind, source_ip, user_agent, extra, timestamp)
    SELECT token_id, file_id, kind, source_ip, user_agent, extra, timestamp + 2 FROM events
    WHERE source_ip = '192.0.2.200' ORDER BY timestamp LIMIT 1;`,
};

for (const d of detections) {
  test(`${d.id}: the quiet sample is a near miss that one change makes fire`, () => {
    const tweak = TIP_OVER[d.id];
    assert.ok(tweak, `a tipping change for ${d.id}`);
    const sql = fs.readFileSync(path.join(SAMPLES, `${d.id}.quiet.sql`), 'utf8') + tweak;
    const evts = events(sqlRegistry(sql));
    assert.ok(evaluate(d, evts, { now: lastTime(evts) }).length > 0);
  });
}

test('where a sample says its first rows are history, they are exactly the rows before the rule\'s lookback', () => {
  let seen = 0;
  for (const d of detections) {
    for (const kind of ['fires', 'quiet'] as const) {
      const text = fs.readFileSync(path.join(SAMPLES, `${d.id}.${kind}.sql`), 'utf8');
      const n = /The first (\d+) rows are that history/.exec(text.replace(/\n-- /g, ' '))?.[1];
      if (n === undefined) continue;
      seen++;
      const evts = events(sqlRegistry(text));
      const before = lastTime(evts) - durationSeconds(d.schedule.lookback);
      assert.deepEqual(evts.map((e) => e.occurred_unix <= before), evts.map((_, i) => i < Number(n)), `${d.id}.${kind}`);
    }
  }
  assert.ok(seen >= 2, 'the first-callback samples name their history rows');
});

test('a first-callback sample exports in the two steps its README gives: the history, then the rest', async () => {
  const d = detections.find((x) => x.logic.type === 'first_seen')!;
  const db = sample(d.id, 'quiet');
  const dir = tempDir();
  const state = path.join(dir, 'sample.state');
  const out = path.join(dir, 'out.jsonl');
  const args = ['siem', 'export', '--db', db, '--registry-id', 'sample', '--format', 'sentinel', '--state', state, '--output', out];
  const first = await runCli([...args, '--limit', '3']);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(jsonLines(fs.readFileSync(out, 'utf8')).length, 3);
  const second = await runCli(args);
  assert.equal(second.code, 0, second.stderr);
  const ids = jsonLines(fs.readFileSync(out, 'utf8')).map((r) => r['EventId']);
  assert.deepEqual(ids, events(db).map((e) => e.event_id));
});

test('the samples hold the values real registries hold', () => {
  const all = detections.flatMap((d) => [...events(sample(d.id, 'fires')), ...events(sample(d.id, 'quiet'))]);
  assert.ok(all.some((e) => e.source_ip === 'unknown'), "a source_ip of 'unknown'");
  assert.ok(all.some((e) => e.event_kind === 'dns' && e.source_ip === null), 'a DNS callback without an address');
  assert.ok(all.some((e) => typeof e.user_agent === 'string' && /[\u0080-\u009f]/.test(e.user_agent)), 'a user agent with C1 controls');
  assert.ok(all.some((e) => e.file_id === null && e.recipient_id === null && e.issuer_id === null), 'an unknown token');
  for (const d of detections) {
    for (const kind of ['fires', 'quiet'] as const) {
      const times = events(sample(d.id, kind)).map((e) => e.occurred_unix);
      // Azure Monitor restamps records older than two days with their arrival time.
      assert.ok(Math.max(...times) - Math.min(...times) < 2 * 86400, `${d.id}.${kind} spans less than two days`);
    }
  }
});

test('the shift-to-now statement of the samples README moves a sample to now, and the rules fire then', () => {
  const readme = fs.readFileSync(path.join(SAMPLES, 'README.md'), 'utf8');
  const sql = /```sql\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(sql, 'the README has an sql block');
  for (const d of detections) {
    const db = sample(d.id, 'fires');
    const before = events(db);
    const start = Math.floor(Date.now() / 1000);
    const conn = new Database(db);
    conn.exec(sql);
    conn.close();
    const end = Math.floor(Date.now() / 1000);
    const after = events(db);
    const last = lastTime(after);
    assert.ok(last >= start && last <= end, `the last callback is moved to now (${last} not in ${start}..${end})`);
    // Every event moves by the same amount, and a qualified timestamp moves with it.
    const shift = last - lastTime(before);
    after.forEach((e, i) => {
      assert.equal(e.occurred_unix, before[i]!.occurred_unix + shift);
      if (e.qualified_timestamp !== null) assert.equal(e.qualified_timestamp, e.occurred_at);
    });
    assert.ok(evaluate(d, after, { now: end }).length > 0, `${d.id} fires after the shift`);
  }
});

test('every sample exports with the built CLI in every format, one record per row', async () => {
  for (const d of detections) {
    for (const kind of ['fires', 'quiet'] as const) {
      const db = sample(d.id, kind);
      const rows = events(db).length;
      for (const format of ['splunk', 'ecs', 'sentinel']) {
        const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'sample', '--format', format]);
        assert.equal(r.code, 0, `${d.id}.${kind} as ${format}: ${r.stderr}`);
        assert.equal(jsonLines(r.stdout).length, rows);
        assert.equal(r.stderr.trim(), `exported ${rows} event(s) as ${format}`);
      }
    }
  }
});

const sqliteShell = spawnSync('sqlite3', ['-version']).status === 0;

test('the samples load with the sqlite3 shell as the README says, and shift to now there', { skip: sqliteShell ? false : 'no sqlite3 shell here' }, () => {
  const readme = fs.readFileSync(path.join(SAMPLES, 'README.md'), 'utf8');
  const shift = /```sql\n([\s\S]*?)```/.exec(readme)![1]!;
  for (const d of detections) {
    for (const kind of ['fires', 'quiet'] as const) {
      const db = path.join(tempDir(), 'sample.sqlite');
      execFileSync('sqlite3', [db], { input: fs.readFileSync(path.join(SAMPLES, `${d.id}.${kind}.sql`)) });
      execFileSync('sqlite3', [db], { input: shift });
      const now = Math.floor(Date.now() / 1000);
      const alerts = evaluate(d, events(db), { now });
      if (kind === 'fires') assert.ok(alerts.length > 0, `${d.id} fires after loading and shifting with sqlite3`);
      else assert.deepEqual(alerts.map((a) => a.key), [], `${d.id} stays quiet after loading and shifting with sqlite3`);
    }
  }
});
