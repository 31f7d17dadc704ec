/**
 * Shared pieces of the verify tests: registries with recent or long events, made-up records to add to a
 * destination, and reading the verify output.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import { demoRegistry, type CliResult } from './helpers.js';

/** A demo registry whose last `recent` events happened `ageSeconds` ago (the others stay in 2025). */
export function registryWithRecent(n: number, recent: number, ageSeconds = 5): string {
  const file = demoRegistry(n);
  const db = new Database(file);
  db.prepare('UPDATE events SET timestamp = ? WHERE id > ?').run(Math.floor(Date.now() / 1000) - ageSeconds, n - recent);
  db.close();
  return file;
}

/** Give one event a user agent long enough to push later JSON members past 5000 bytes. */
export function lengthenUserAgent(file: string, id: number, length = 6000): void {
  const db = new Database(file);
  db.prepare('UPDATE events SET user_agent = ? WHERE id = ?').run('Mozilla/5.0 ' + 'x'.repeat(length), id);
  db.close();
}

/** The ids a verify line lists for one verdict ("missing (3): 7, 150, 299"), or null when absent. */
export function listed(stderr: string, label: string): string[] | null {
  const line = stderr.split('\n').find((l) => l.startsWith(`${label} (`));
  if (!line) return null;
  return line.slice(line.indexOf(':') + 1).split(',').map((s) => s.trim()).filter((s) => s !== '' && !s.startsWith('…'));
}

/** The count of one verdict in the summary line ("… 3 missing, …"). */
export function counted(stderr: string, label: string): number | null {
  const line = stderr.split('\n').find((l) => l.startsWith('verified '));
  const m = line ? new RegExp(`(\\d+) ${label}`).exec(line) : null;
  return m ? Number(m[1]) : null;
}

function times(db: string): number[] {
  const reg = new Database(db, { readonly: true });
  const t = reg.prepare('SELECT timestamp FROM events ORDER BY id').pluck(true).all() as number[];
  reg.close();
  return t;
}

/**
 * The made-up records: one dated with event 5 (inside the first window of 10), one dated in the gap between two
 * windows of 10 (no registry event in that second), and one under another registry id.
 */
export function forgeries(db: string): { id: string; registry: string; time: number; like: number }[] {
  const t = times(db);
  const b = [10, 20, 30, 40, 50].find((k) => t[k]! - t[k - 1]! >= 2);
  assert.ok(b, 'the demo registry has a gap of two seconds or more between windows');
  return [
    { id: '9001', registry: 'reg', time: t[4]!, like: 5 },
    { id: '9002', registry: 'other', time: t[5]!, like: 6 },
    { id: '9003', registry: 'reg', time: t[b - 1]! + 1, like: b },
  ];
}

/** A registry event whose second is shared with the one before it, from `from` on: the rowid to stop at. */
export function sharedSecond(db: string, from: number): number {
  const t = times(db);
  const k = t.findIndex((s, i) => i >= from && t[i + 1] === s);
  assert.ok(k >= 0, 'the demo registry has events in the same second');
  return k + 1;
}

/**
 * A verify that found the two records `forgeries()` makes up under this registry id (9001 and 9003; 9002 is under
 * another id) beside `present` events stored once: exit 1, both listed, and in the `--report` manifest if given.
 */
export function assertForgeriesFound(r: CliResult, present: number, report?: string): void {
  assert.equal(r.code, 1, r.stderr);
  assert.equal(counted(r.stderr, 'not in the registry'), 2);
  assert.deepEqual(listed(r.stderr, 'not in the registry'), ['9001', '9003']);
  assert.equal(counted(r.stderr, 'present once'), present);
  if (report === undefined) return;
  const m = JSON.parse(fs.readFileSync(report, 'utf8'));
  assert.equal(m.ok, false);
  assert.equal(m.counts.not_in_registry, 2);
  assert.deepEqual(m.ids.not_in_registry, { total: 2, listed: ['9001', '9003'] });
}

/** A verify that stopped at `--to-rowid` in a second later events share: only made-up ids are listed, 9001 among them. */
export function assertOnlyForgeries(r: CliResult): void {
  assert.equal(r.code, 1, r.stderr);
  const ids = listed(r.stderr, 'not in the registry');
  assert.ok(ids !== null && ids.every((id) => id === '9001' || id === '9003'), r.stderr);
  assert.ok(ids.includes('9001'), r.stderr);
}
