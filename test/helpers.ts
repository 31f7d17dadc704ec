/** Shared test plumbing: temporary registries, and the built CLI run as a separate process. */
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeDemoRegistry } from '../src/registry/demo.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(ROOT, 'dist', 'bin', 'oversight.js');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

export function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'oversight-test-'));
  dirs.push(d);
  return d;
}

/** A registry built from SQL text. */
export function sqlRegistry(sql: string): string {
  const file = path.join(tempDir(), 'registry.sqlite');
  const db = new Database(file);
  db.exec(sql);
  db.close();
  return file;
}

export function trickyRegistry(): string {
  return sqlRegistry(fs.readFileSync(path.join(FIXTURES, 'tricky-registry.sql'), 'utf8'));
}

/** A demo registry of `n` events. */
export function demoRegistry(n: number, seed = 7): string {
  const file = path.join(tempDir(), 'registry.sqlite');
  writeDemoRegistry(file, { events: n, seed });
  return file;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI to completion (killed after `timeoutMs`, so a hang fails the test instead of the run). */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, options.env);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  // Every flag can be set by an OVERSIGHT_* variable, and the Azure credentials come from AZURE_*: none of the
  // caller's may leak into a test's CLI run.
  const clean = { ...process.env };
  for (const k of Object.keys(clean)) if (/^(OVERSIGHT_|AZURE_)/.test(k) && k !== 'OVERSIGHT_DEBUG') delete clean[k];
  return spawn(process.execPath, [CLI, ...args], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function jsonLines(text: string): Record<string, unknown>[] {
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Lines of stderr that are not retry notices or a follower's startup line: what a user reads as the outcome. */
export function outcome(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !l.includes('retrying in') && !l.startsWith('oversight: oversight-siem '));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it holds or `timeoutMs` passes; bounded so a broken test stops by itself. */
/** The checkpoint a state file holds: its `last_rowid`, or 0 before the export has written one (so waitFor retries). */
export function lastRowid(state: string): number {
  return fs.existsSync(state) ? (JSON.parse(fs.readFileSync(state, 'utf8')) as { last_rowid: number }).last_rowid : 0;
}

export async function waitFor(check: () => boolean, timeoutMs = 10_000, stepMs = 25): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}

/** Event ids of registry rows, in order. */
export function registryIds(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT id FROM events ORDER BY id').all() as { id: number }[]).map((r) => String(r.id));
  } finally {
    db.close();
  }
}

/** Start a fake peer, run `fn` with it, and always close it. */
export async function withPeer<P extends { close(): Promise<void> }>(started: Promise<P>, fn: (peer: P) => Promise<void>): Promise<void> {
  const peer = await started;
  try {
    await fn(peer);
  } finally {
    await peer.close();
  }
}

/** Takes the registry's write lock at once, says `locked`, and holds it until told anything on stdin. */
const HOLDER = `
import Database from 'better-sqlite3';
const con = new Database(process.argv[1]);
con.exec('BEGIN EXCLUSIVE');
process.stdout.write('locked\\n');
process.stdin.once('data', () => { con.exec('COMMIT'); con.close(); process.exit(0); });
`;

/**
 * Switch `db` to a rollback journal and have another process hold its write lock (readers are locked out too)
 * until `release`, which resolves once that process is gone and may be called more than once.
 */
export async function holdRegistryLock(db: string): Promise<{ release: () => Promise<unknown> }> {
  const con = new Database(db);
  con.pragma('journal_mode = DELETE');
  con.close();
  const holder = spawn(process.execPath, ['--input-type=module', '-e', HOLDER, db], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  let said = '';
  holder.stdout!.on('data', (d) => (said += d));
  const gone = new Promise((resolve) => holder.on('close', resolve));
  await waitFor(() => said.includes('locked'));
  return {
    release: () => {
      if (holder.exitCode === null) holder.stdin!.write('release\n');
      return gone;
    },
  };
}
