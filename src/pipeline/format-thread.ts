/**
 * Starting formatting threads, and starting them early. A thread takes 45–60 ms to boot before it can read a row
 * (Node's bootstrap of a new isolate, then its bundle), and the command spent about as long loading and checking
 * its settings before it asked for one, with the other cores idle. So the command's entry starts threads as it
 * starts (`prestartFormatThread`), one per idle core, when its command line and environment make a threaded
 * export likely — a large registry file, two cores or more — and the export adopts them if it wants threads with
 * the same limits, or ends them if it wants none. Settings from a `--config` file are known only later: an export
 * whose settings ask for other limits starts its threads as before.
 */
import fs from 'node:fs';
import os from 'node:os';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { DEFAULT_MAX_ROW_BYTES, parseMaxRowBytes } from '../registry/rows.js';
import { SWITCH_ON, variableOf } from '../shared/options.js';
import { onThisMachine, urlHost } from '../shared/this-machine.js';

/**
 * Old-generation heap of one worker: 32 MB formats ordinary rows with room to spare, and formatting one row
 * takes up to about 24 times its size at once (the value read, its transcoding, the record, the line).
 */
export function workerHeapMb(maxRowBytes: number): number {
  return 32 + Math.ceil((24 * maxRowBytes) / (1 << 20));
}

/**
 * A thread's heap limits. Nearly every string made while formatting dies young, within a few lines: for a local
 * copy 4 MB of young generation formats with the same CPU time as 16 (measured) and keeps 13 MB less resident per
 * worker. A SIEM export (`records`), whose main thread batches and sends on the same two cores, spends 0.2 s less
 * on collection per million events with 16 (measured against a loopback HEC), for 17 MB more.
 */
export function threadLimits(records: boolean, maxRowBytes: number): ResourceLimits {
  return { maxYoungGenerationSizeMb: records ? 16 : 4, maxOldGenerationSizeMb: workerHeapMb(maxRowBytes) };
}

export function availableCores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** A formatting thread, waiting for its setup (format-worker.ts). */
export function spawnFormatThread(limits: ResourceLimits): Worker {
  return new Worker(new URL('./format-worker.js', import.meta.url), { resourceLimits: limits });
}

/** Below this size a registry holds too few rows for threads (50,000 rows take 15 MB and more). */
export const PRESTART_MIN_DB_BYTES = 8 << 20;

const CHUNKED_SCHEMES = new Set(['syslog+tcp', 'syslog+tls', 'relp']);

/** Options after which an export formats on its main thread, or does not export at all. */
const NO_THREADS = new Set(['--follow', '--limit', '--help', '-h', '--version']);

/** The settings read here; each is also an OVERSIGHT_* variable, which a flag on the command line wins over. */
const READ = ['--db', '--output', '--threads', '--max-row-bytes', '--state'];

/**
 * The limits of the threads to start early for this command line and environment, or null when they would not
 * be used: only for `siem export` of a registry file of 8 MiB or more, with two cores or more, without follow
 * mode, `--limit`, `--threads 1`, a state file that exists already, or (on two cores, with threads left to the
 * automatic choice) a syslog or RELP receiver on this machine. A setting only in a `--config` file is not seen here.
 */
export function prestartPlan(
  args: readonly string[], cores: number, fileSize: (path: string) => number | null, env: Readonly<Record<string, string | undefined>> = {},
): ResourceLimits | null {
  if (args[0] !== 'siem' || args[1] !== 'export' || cores < 2) return null;
  if (SWITCH_ON.has(env['OVERSIGHT_FOLLOW']?.trim().toLowerCase() ?? '') || (env['OVERSIGHT_LIMIT'] ?? '') !== '') return null;
  const values = new Map<string, string>();
  for (let i = 2; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    if (NO_THREADS.has(name)) return null;
    if (READ.includes(name)) {
      const value = eq > 0 && a.startsWith('--') ? a.slice(eq + 1) : args[++i];
      if (value === undefined) return null;
      values.set(name, value);
    }
  }
  for (const flag of READ) {
    const v = env[variableOf(flag)];
    if (!values.has(flag) && v !== undefined && v !== '') values.set(flag, v);
  }
  const db = values.get('--db');
  if (db === undefined || (fileSize(db) ?? 0) < PRESTART_MIN_DB_BYTES || values.get('--threads') === '1') return null;
  // A state file that exists continues an export from its checkpoint, usually with a few new events: a thread
  // started and not wanted would cost such a run more than it saves a large one (it waits for the thread to end).
  const state = values.get('--state');
  if (state !== undefined && fileSize(state) !== null) return null;
  let maxRowBytes = DEFAULT_MAX_ROW_BYTES;
  try {
    maxRowBytes = parseMaxRowBytes(values.get('--max-row-bytes'));
  } catch {
    return null;
  }
  // Files, stdout and byte streams (syslog over TCP or TLS, RELP) take whole chunks; any other URL is a SIEM whose
  // records are batched on the main thread.
  const output = values.get('--output') ?? '';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(output)?.[1]?.toLowerCase();
  // A byte stream to a receiver on this machine, on two cores, is formatted on the export's own thread unless a
  // count of threads is asked for (formatHere in format-workers.ts).
  const host = scheme !== undefined && CHUNKED_SCHEMES.has(scheme) ? urlHost(output) : null;
  const auto = (values.get('--threads') ?? 'auto') === 'auto';
  if (auto && cores <= 2 && host !== null && onThisMachine(host)) return null;
  return threadLimits(scheme !== undefined && !CHUNKED_SCHEMES.has(scheme), maxRowBytes);
}

interface Prestarted {
  workers: Worker[];
  limits: ResourceLimits;
  failed: boolean;
}

/** Shared by the entry and the command's bundle, which each have their own copy of this module. */
const SLOT = Symbol.for('oversight.prestarted-format-threads');
const slots = globalThis as unknown as { [SLOT]?: Prestarted };

/**
 * Start the threads the command line says an export will want (see prestartPlan), without holding the process
 * open: one per core the command itself leaves idle while it loads, up to the two an export takes.
 */
export function prestartFormatThread(args: readonly string[] = process.argv.slice(2)): void {
  const cores = availableCores();
  const limits = prestartPlan(args, cores, (p) => {
    try {
      return fs.statSync(p).size;
    } catch {
      return null;
    }
  }, process.env);
  if (limits === null) return;
  const p: Prestarted = { workers: [], limits, failed: false };
  for (let i = 0; i < Math.min(2, cores - 1); i++) {
    const worker = spawnFormatThread(limits);
    // A thread that fails before it is adopted is not adopted; the export starts its own and reports what it meets.
    worker.on('error', () => (p.failed = true));
    worker.unref();
    p.workers.push(worker);
  }
  slots[SLOT] = p;
}

/** Up to `n` of the threads started early, when they have these limits and are well; the others are ended. */
export function adoptPrestarted(limits: ResourceLimits, n: number): Worker[] {
  const p = slots[SLOT];
  if (p === undefined) return [];
  delete slots[SLOT];
  const same = p.limits.maxYoungGenerationSizeMb === limits.maxYoungGenerationSizeMb && p.limits.maxOldGenerationSizeMb === limits.maxOldGenerationSizeMb;
  const adopted = same && !p.failed ? p.workers.slice(0, n) : [];
  for (const w of p.workers) {
    if (adopted.includes(w)) {
      w.removeAllListeners('error');
      w.ref();
    } else {
      void w.terminate();
    }
  }
  return adopted;
}

/** End the threads started early, if the export formats without threads. */
export function dropPrestarted(): void {
  adoptPrestarted({}, 0);
}
