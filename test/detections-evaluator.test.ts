/** The detection evaluator's edges: window boundaries, lookback, history, `not_in`, and absent versus empty. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluate, fieldValue, holds } from '../src/content/detect.js';
import { loadFields, type Detection, type Logic } from '../src/content/model.js';
import { fromRegistryRow, type OversightEvent } from '../src/registry/event.js';

const T = 1795165200; // 2026-11-20T09:00:00Z
let nextId = 1;

function evt(at: number, row: Record<string, unknown> = {}): OversightEvent {
  const id = nextId++;
  return fromRegistryRow(
    { id, token_id: `tok-${id}`, file_id: 'f-1', kind: 'http_img', source_ip: '198.51.100.7', user_agent: 'UA', extra: '{}', timestamp: at, ...row },
    { registryId: 'reg' },
  );
}

function detection(logic: Logic, lookback = '1d'): Detection {
  return {
    id: 'oversight-test', guid: '00000000-0000-0000-0000-000000000000', version: 1, name: 'test', description: 'test',
    severity: 'low', risk_score: 21, confidence: 'high', dns_confidence: 'medium', tactics: [], techniques: [],
    schedule: { interval: '5m', lookback }, suppression: { group_by: ['file_id'], window: '24h' }, logic, false_positives: [],
  };
}

const burst = (threshold: number, window = '5m') =>
  detection({ type: 'event_count', group_by: ['source_ip'], threshold, window, where: [{ field: 'source_ip', op: 'present' }] });

test('event_count: a window holds events less than its length apart, so 300 s apart is not within 5 minutes', () => {
  assert.equal(evaluate(burst(3), [evt(T), evt(T + 100), evt(T + 299)]).length, 1);
  assert.equal(evaluate(burst(3), [evt(T), evt(T + 100), evt(T + 300)]).length, 0);
});

test('event_count: the window slides, so a burst after a quiet spell fires and carries its own events', () => {
  const early = evt(T);
  const late = [evt(T + 1000), evt(T + 1100), evt(T + 1200)];
  const alerts = evaluate(burst(3), [early, ...late]);
  assert.equal(alerts.length, 1);
  assert.deepEqual(alerts[0]!.events, late);
  assert.deepEqual(alerts[0]!.key, { source_ip: '198.51.100.7' });
});

test('event_count: groups are counted apart, and events arrive in any order', () => {
  const a = [evt(T + 20, { source_ip: '192.0.2.1' }), evt(T, { source_ip: '192.0.2.1' }), evt(T + 10, { source_ip: '192.0.2.1' })];
  const b = [evt(T, { source_ip: '192.0.2.2' }), evt(T + 1, { source_ip: '192.0.2.2' })];
  const alerts = evaluate(burst(3), [...b, ...a]);
  assert.deepEqual(alerts.map((x) => x.key), [{ source_ip: '192.0.2.1' }]);
  assert.deepEqual(alerts[0]!.events.map((e) => e.occurred_unix), [T, T + 10, T + 20]);
});

const manyIps = detection({
  type: 'distinct_count', group_by: ['file_id'], field: 'source_ip', threshold: 3, window: '24h',
  where: [{ field: 'file_id', op: 'present' }, { field: 'source_ip', op: 'not_in', values: ['unknown'] }],
});

test('distinct_count: repeats of one address count once; three addresses within 24 hours fire', () => {
  const same = [0, 1, 2, 3, 4].map((i) => evt(T + i * 60, { source_ip: '192.0.2.1' }));
  assert.equal(evaluate(manyIps, same).length, 0);
  const three = [evt(T, { source_ip: '192.0.2.1' }), evt(T + 3600, { source_ip: '192.0.2.2' }), evt(T + 86399, { source_ip: '192.0.2.3' })];
  assert.deepEqual(evaluate(manyIps, three).map((a) => a.key), [{ file_id: 'f-1' }]);
});

test('distinct_count: an address that slid out of the window no longer counts', () => {
  const evts = [
    evt(T, { source_ip: '192.0.2.1' }),
    evt(T + 3600, { source_ip: '192.0.2.2' }),
    evt(T + 86400, { source_ip: '192.0.2.3' }), // exactly 24 h after the first: the first is out
    evt(T + 86400 + 10, { source_ip: '192.0.2.2' }),
  ];
  assert.equal(evaluate(manyIps, evts).length, 0);
  // The same address coming back inside the window brings the count to three.
  assert.equal(evaluate(manyIps, [...evts, evt(T + 86400 + 20, { source_ip: '192.0.2.1' })]).length, 1);
});

test('not_in: the listed value is left out, other values and absent fields pass, and matching is exact', () => {
  const cond = { field: 'source_ip', op: 'not_in', values: ['unknown'] } as const;
  assert.equal(holds(evt(T, { source_ip: 'unknown' }), cond), false);
  assert.equal(holds(evt(T, { source_ip: '192.0.2.1' }), cond), true);
  assert.equal(holds(evt(T, { source_ip: null }), cond), true);
  assert.equal(holds(evt(T, { source_ip: 'Unknown' }), cond), true);
  // 'unknown' and absent addresses never make up the three distinct addresses.
  const evts = [evt(T, { source_ip: '192.0.2.1' }), evt(T + 1, { source_ip: 'unknown' }), evt(T + 2, { source_ip: null }), evt(T + 3, { source_ip: '' })];
  assert.equal(evaluate(manyIps, evts).length, 0);
});

test('absent and present: NULL and the empty string are both absent, as the records leave both out; 0 is present', () => {
  const present = { field: 'file_id', op: 'present' } as const;
  const absent = { field: 'file_id', op: 'absent' } as const;
  for (const v of [null, '']) {
    assert.equal(holds(evt(T, { file_id: v }), absent), true, `file_id ${JSON.stringify(v)} is absent`);
    assert.equal(holds(evt(T, { file_id: v }), present), false);
  }
  assert.equal(holds(evt(T, { file_id: ' ' }), present), true);
  assert.equal(holds(evt(T, { file_id: 0 }), present), true);
  assert.equal(fieldValue(evt(T, { file_id: 0 }), 'file_id'), '0');
  assert.equal(fieldValue(evt(T, { tlog_index: 7 }), 'tlog_index'), '7');
  assert.equal(fieldValue(evt(T, { kind: 'dns' }), 'action'), 'beacon-dns-callback');
  // An empty user agent (every DNS callback) is absent too.
  assert.equal(fieldValue(evt(T, { user_agent: '' }), 'user_agent'), null);
});

test('match: every passing event is one alert; with a run time, only events inside the lookback', () => {
  const unknownToken = detection({ type: 'match', where: [{ field: 'file_id', op: 'absent' }] }, '10m');
  const evts = [evt(T - 601, { file_id: null }), evt(T - 599, { file_id: '' }), evt(T - 10, { file_id: 'f-1' }), evt(T, { file_id: null })];
  assert.equal(evaluate(unknownToken, evts).length, 3);
  const run = evaluate(unknownToken, evts, { now: T });
  assert.deepEqual(run.map((a) => a.events[0]!.occurred_unix), [T - 599, T]);
  // Events after the run time are not seen yet.
  assert.equal(evaluate(unknownToken, evts, { now: T - 1 }).length, 1);
});

const firstSeen = detection({ type: 'first_seen', key: ['file_id'], history: '14d', where: [{ field: 'file_id', op: 'present' }] }, '10m');

test('first_seen: the first event per key fires; a key seen within the history does not; after a longer gap it is new again', () => {
  const day = 86400;
  const evts = [evt(T, { file_id: 'f-a' }), evt(T + 60, { file_id: 'f-a' }), evt(T + 14 * day + 60, { file_id: 'f-a' }), evt(T + 28 * day + 61, { file_id: 'f-a' })];
  // 14 days exactly after the last sighting is still within the history; one second more is not.
  assert.deepEqual(evaluate(firstSeen, evts).map((a) => a.events[0]!.occurred_unix), [T, T + 28 * day + 61]);
});

test('first_seen: as a scheduled run, history before the lookback silences a key, and only in-lookback firsts alert', () => {
  const evts = [
    evt(T - 3 * 3600, { file_id: 'f-old' }),
    evt(T - 120, { file_id: 'f-old' }),
    evt(T - 90, { file_id: 'f-new' }),
    evt(T - 30, { file_id: 'f-new' }),
    evt(T - 20, { file_id: null }),
  ];
  const alerts = evaluate(firstSeen, evts, { now: T });
  assert.deepEqual(alerts.map((a) => [a.key, a.events[0]!.occurred_unix]), [[{ file_id: 'f-new' }, T - 90]]);
  // A first callback older than the lookback was the previous run's to raise.
  assert.equal(evaluate(firstSeen, evts, { now: T + 3600 }).length, 0);
});

test('events without a usable time (timestamp 0 or missing) are left out of every evaluation', () => {
  const match = detection({ type: 'match', where: [{ field: 'file_id', op: 'present' }] });
  assert.equal(evaluate(match, [evt(0), evt(T)]).length, 1);
  assert.equal(evaluate(burst(2), [evt(0), evt(T)]).length, 0);
});

test('fieldValue knows every field of the field table and refuses others', () => {
  const e = evt(T, { qualified_timestamp: '2026-11-20T09:00:00Z', tlog_index: 3, recipient_id: 'r', issuer_id: 'i', extra: '{"qtype": "A"}' });
  for (const row of loadFields().fields) assert.notEqual(fieldValue(e, row.name), null, row.name);
  assert.throws(() => fieldValue(evt(T), 'nope'), /no event field named nope/);
});

test('with arrival times: a per-callback rule alerts once, in the run after the callback arrived, however late it happened', () => {
  const leak = detection({ type: 'match', where: [{ field: 'file_id', op: 'present' }] }, '10m');
  const late = [evt(T - 5 * 3600), evt(T - 120), evt(T - 86400 + 60)];
  const arrival = (): number => T;
  const runs = [T, T + 300, T + 600, T + 3600].map((now) => evaluate(leak, late, { now, arrival }).map((a) => a.events[0]!.occurred_unix));
  assert.deepEqual(runs, [[T - 86400 + 60, T - 5 * 3600, T - 120], [], [], []]);
  // Not before it arrived.
  assert.deepEqual(evaluate(leak, late, { now: T - 1, arrival }), []);
});

test('with arrival times: a callback that arrives more than a day after it happened is a backfill and raises no per-callback alert', () => {
  const leak = detection({ type: 'match', where: [{ field: 'file_id', op: 'present' }] }, '10m');
  const evts = [evt(T - 86400 - 1), evt(T - 3 * 86400), evt(T - 30 * 86400)];
  assert.deepEqual(evaluate(leak, evts, { now: T, arrival: () => T }), []);
  // Each arrived exactly a day after it happened: on time; only the one that arrived since the previous run alerts now.
  assert.deepEqual(evaluate(leak, evts, { now: T, arrival: (e) => e.occurred_unix + 86400 }).map((a) => a.events[0]!.occurred_unix), [T - 86400 - 1]);
  assert.equal(evaluate(leak, [evt(T - 86400)], { now: T, arrival: () => T }).length, 1, 'exactly a day late is still on time');
  const first = detection({ type: 'first_seen', key: ['file_id'], history: '14d', where: [{ field: 'file_id', op: 'present' }] }, '1h');
  const hourly = { ...first, schedule: { interval: '1h', lookback: '1h' } };
  // The file's earliest callback is a backfill: the file is not new, even with a fresh callback beside it.
  assert.deepEqual(evaluate(hourly, [evt(T - 3 * 86400, { file_id: 'f-b' }), evt(T - 60, { file_id: 'f-b' })], { now: T, arrival: () => T }), []);
  assert.equal(evaluate(hourly, [evt(T - 60, { file_id: 'f-c' })], { now: T, arrival: () => T }).length, 1);
  assert.throws(() => evaluate(leak, evts, { arrival: () => T }), /need the time of the run/);
});

test('with arrival times: a per-callback alert counts its file\'s callbacks in the suppression window, each once, backfills and other files left out', () => {
  const leak = detection({ type: 'match', where: [{ field: 'file_id', op: 'present' }] }, '10m');
  const resent = evt(T - 7200);
  const evts = [
    evt(T - 25 * 3600), // arrived more than a day before the run: outside the window
    evt(T - 5 * 86400), // a backfill, arrived an hour ago
    resent, { ...resent }, // one callback stored twice by a resent batch
    evt(T - 200), evt(T - 60),
    evt(T - 60, { file_id: 'f-other' }),
  ];
  const arrival = (e: OversightEvent): number => (e.occurred_unix < T - 86400 && e.occurred_unix > T - 2 * 86400 ? e.occurred_unix : Math.max(e.occurred_unix, T - 3600));
  const alerts = evaluate(leak, evts, { now: T, arrival });
  // This run reports the two callbacks that arrived since the previous one (and the other file's); each says
  // three for f-1: the resent one once, and the two new ones.
  assert.deepEqual(alerts.map((a) => [a.events[0]!.file_id, a.callbacks]), [['f-1', 3], ['f-1', 3], ['f-other', 1]]);
});
