/** Shared pieces of the verify tests: registries with recent or long events, and the verify command line. */
import Database from 'better-sqlite3';
import { demoRegistry } from './helpers.js';

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
