/**
 * The second core for large local exports: worker threads read and format alternate rowid ranges, and chunks
 * come back here in registry order, each a JSON-lines body with the count and last rowid it covers. At most a
 * few ranges per worker are in flight, so memory stays bounded whatever the size of the registry.
 */
import v8 from 'node:v8';
import { ExportError } from '../shared/errors.js';
import { BUSY_TIMEOUT_MS, LOCK_ATTEMPT_MS, RegistryBusy } from '../registry/source.js';
import type { RecordSpec } from '../records/spec.js';
import type { RangeRequest, RangeResult, RefusedRecord, ThreadReady, WorkerSetup } from './range-formatter.js';
import type { StreamFraming } from '../transports/transport.js';
import type { RowMark } from './event-rows.js';
import { DEFAULT_MAX_ROW_BYTES, OversizeRow } from '../registry/rows.js';
import { adoptPrestarted, availableCores, dropPrestarted, spawnFormatThread, threadLimits, workerHeapMb } from './format-thread.js';
import { InThreadFormatter, type FormatThread } from './in-thread.js';

export { workerHeapMb } from './format-thread.js';

export type { RefusedRecord } from './range-formatter.js';

/** A row over the size limit, unformatted, with the number of lines of its chunk before it, and their bytes. */
export class SetAside extends OversizeRow {
  constructor(rowid: number, eventId: string, bytes: number, limit: number, readonly line: number, readonly at: number, readonly before: number) {
    super(rowid, eventId, bytes, limit);
  }
}

export interface FormattedChunk {
  /** JSON lines, valid until the next chunk is asked for: its memory goes back to a worker to be filled again. */
  body: Buffer;
  count: number;
  lastRowid: number;
  /** With `records`: each line's rowid, and the event ids that are not the rowid in decimal (see RangeResult). */
  rowids?: Float64Array;
  otherIds?: Map<number, string>;
  /** Rows over the size limit, in order, each to be set aside before line `line` of the body. */
  setAside: SetAside[];
  /** With `stream`: records the receiver cannot take, in order, each left out before line `line`. */
  refused: RefusedRecord[];
  /** The last row read for it, digested in the same read (see RangeResult). */
  mark?: RowMark;
}

export interface WorkerPlan {
  db: string;
  registryId: string;
  /** How records are made: the workers build the same formatter from it as the main thread. */
  spec: RecordSpec;
  since: number | null;
  /** Export rows with rowid in (afterRowid, endRowid]. */
  afterRowid: number;
  endRowid: number;
  workers?: number;
  /** Format on this thread, between its writes, instead of in workers (in-thread.ts); `workers` is then 1. */
  inThread?: boolean;
  /** Rowids per range, once the first ranges have grown to it (see rangeSteps). */
  rangeSize?: number;
  /** Return rowids and event ids with each chunk (a SIEM export copies each record into its request body). */
  records?: boolean;
  /** The row size limit (see rows.ts); workers get heap enough to format a row of that size. */
  maxRowBytes?: number;
  /** Write records framed for this byte-stream transport, and leave out those it cannot take (see StreamFraming). */
  stream?: StreamFraming | null;
  /**
   * Waits out a writer's lock on the registry between a thread's reads (its opening included), as the main
   * thread's reads do (see RegistryWait); without it a locked registry fails the export.
   */
  lockWait?: { busy(err: Error): Promise<void>; clear(): void };
}

/**
 * Formatting threads for a backlog of `rows`: none below 50,000 rows, which format before the threads would have
 * started (in ranges on the export's own thread from 10,000 rows for outputs that take chunks, see formatHere).
 * Two with a second core. On one core, one for a local copy: its thread writes whole chunks, with a
 * young generation of 4 MB, where the main thread would batch record by record with V8's 16 MB. A 1,000,000-event
 * export on one core took 20–28% less time and 40–45% less memory that way (measured, ECS and OCSF). A SIEM
 * export batches every record on the main thread either way, and one thread made it 2–3% slower.
 *
 * A byte stream to a receiver on this machine (`receiverHere`: a local rsyslog) leaves the receiver a core: two
 * threads from three cores up; on one or two, none, as its ranges are formatted on the export's own thread
 * (formatHere). On two cores one thread sent 1,000,000 messages into a local rsyslog in 4.41 s against 5.18 s
 * with two, and 100,000 in 0.67 s against 0.75 s (measured, ECS).
 */
export function workersWorthIt(rows: number, localCopy: boolean, cores = availableCores(), receiverHere = false): number {
  if (rows < 50_000) return 0;
  if (receiverHere) return cores >= 3 ? 2 : 0;
  if (cores >= 2) return 2;
  return localCopy ? 1 : 0;
}

/** Below this many rows a backlog without threads is formatted record by record (see formatHere). */
export const RANGES_FROM = 10_000;

/**
 * Whether a backlog that gets no worker thread is read and formatted in ranges all the same, on the export's own
 * thread (in-thread.ts), as a thread does it: for outputs that take whole chunks (a file, stdout, a byte stream),
 * from 10,000 rows. Record by record, each record passes the batcher on its own; in ranges, a thousand records
 * are framed into one buffer in a tight loop. Exports on two cores, alternating runs (ECS): to a file, 10,000
 * events took 220 ms instead of 256 and 35,000 took 403 ms instead of 538; into a TCP socket on this machine,
 * 10,000 took 281 ms instead of 335 and 35,000 434 ms instead of 527; at 1,000 and 5,000 to a file, no
 * difference. A syslog receiver on this machine with one or two cores gets no worker at any size (workersWorthIt),
 * so from 10,000 rows it is fed this way: against one worker, 100,000 messages into a local rsyslog took 1–3% less
 * time and 5–6% less of the exporter's CPU (paired medians, twice 21 alternating runs); 1,000,000 took 6.36 s instead
 * of 6.43 s, with 5.46 s of CPU instead of 5.79 s; on one core, 100,000 took 1.71 s instead of 1.79 s record by
 * record, with 0.94 s of CPU instead of 1.11 s.
 */
export function formatHere(rows: number, chunks: boolean, workers: number): boolean {
  return chunks && workers === 0 && rows >= RANGES_FROM;
}

/** The rowids of the first range; each next one is twice as large, up to the range size. */
export const FIRST_RANGE = 128;

/**
 * Where each range starts (rowids after the plan's first), and how many ranges cover a span. The first ranges are
 * small and grow: a thread's first rows run before V8 has optimized its code (a first range of 1,024 rows took
 * 50 ms where later ones take 4), and whatever takes the chunks — rsyslog, a SIEM, the file — waits for the
 * first one. Ranges of 128, 256 and 512 rows put the first chunk out in a fifth of the time.
 */
export function rangeSteps(rangeSize: number, first = FIRST_RANGE): { start(seq: number): number; count(span: number): number } {
  const starts = [0];
  for (let size = Math.min(first, rangeSize); size < rangeSize; size *= 2) starts.push(starts[starts.length - 1]! + size);
  const grown = starts.length - 1;
  const start = (seq: number): number => (seq <= grown ? starts[seq]! : starts[grown]! + (seq - grown) * rangeSize);
  const count = (span: number): number => {
    if (span <= starts[grown]!) {
      let n = 0;
      while (starts[n]! < span) n++;
      return n;
    }
    return grown + Math.ceil((span - starts[grown]!) / rangeSize);
  };
  return { start, count };
}

export async function* formatInWorkers(plan: WorkerPlan): AsyncGenerator<FormattedChunk> {
  const n = plan.workers ?? 2;
  const rangeSize = plan.rangeSize ?? 1024;
  const records = plan.records ?? false;
  const maxRowBytes = plan.maxRowBytes ?? DEFAULT_MAX_ROW_BYTES;
  // Only the framing's data crosses to the threads; its reasons stay with the transport.
  const stream = plan.stream ? { framing: plan.stream.framing, maxMessage: plan.stream.maxMessage } : null;
  // Threads whose busy answers are waited out here open and read a moment at a time, so that a stop ends them at once.
  const busyTimeoutMs = plan.lockWait ? LOCK_ATTEMPT_MS : BUSY_TIMEOUT_MS;
  const setup: WorkerSetup = { db: plan.db, registryId: plan.registryId, spec: plan.spec, since: plan.since, records, maxRowBytes, stream, busyTimeoutMs };
  singleThreadedScavenges();
  // The threads the command's entry started early, when they have these limits (format-thread.ts); the rest are started now.
  const limits = threadLimits(records, maxRowBytes);
  let workers: FormatThread[];
  if (plan.inThread) {
    dropPrestarted();
    workers = [new InThreadFormatter()];
  } else {
    const early = adoptPrestarted(limits, n);
    workers = Array.from({ length: n }, (_, i) => early[i] ?? spawnFormatThread(limits));
  }
  for (const w of workers) w.postMessage({ setup });
  const steps = rangeSteps(rangeSize);
  const ranges = steps.count(Math.max(0, plan.endRowid - plan.afterRowid));
  const done = new Map<number, FormattedChunk & { buffer: ArrayBuffer; more: boolean; busy?: string }>();
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  // Ranges go to whichever worker has the fewest in hand (at most two each), and no more than `window`
  // ranges are formatted or waiting at once; written buffers go back to the workers to be filled again.
  // Two per worker keeps both busy (one formatting, one handed over) with the least memory held. A SIEM
  // export's main thread takes chunks in bursts between requests, and a worker that got ahead would sit idle
  // behind a slower one: four per worker there (measured against a loopback HEC; no gain for a local copy).
  const window = (records ? 4 : 2) * n;
  // A thread counts as having its hands full until it says it is ready: ranges go first to the threads that can
  // start on them. A thread started early (format-thread.ts) is ready some 50 ms before one started now, and
  // with ranges handed out alike it would soon wait, its window full, for the later one's first answer.
  const inHand = new Map<FormatThread, number>(workers.map((w) => [w, 2]));
  const spare: ArrayBuffer[] = [];
  let nextSeq = 0;
  let consumed = 0;
  /** When each range was last asked for, and when a wait for a writer's lock last ended. */
  const asked = new Map<number, number>();
  let waited = -Infinity;
  const send = (w: FormatThread, req: RangeRequest): void => {
    inHand.set(w, inHand.get(w)! + 1);
    asked.set(req.seq, performance.now());
    w.postMessage(req, req.reuse ? [req.reuse] : []);
  };
  const upTo = (seq: number): number => Math.min(plan.afterRowid + steps.start(seq + 1), plan.endRowid);
  const dispatch = (): void => {
    while (nextSeq < ranges && nextSeq < consumed + window) {
      let best: FormatThread | null = null;
      for (const [w, k] of inHand) if (k < 2 && (best === null || k < inHand.get(best)!)) best = w;
      if (!best) return;
      const seq = nextSeq++;
      const after = plan.afterRowid + steps.start(seq);
      const reuse = spare.pop();
      send(best, { seq, after, upTo: upTo(seq), ...(reuse ? { reuse } : {}) });
    }
  };
  /** The rest of a range that was answered early, asked of the least busy worker. */
  const rest = (seq: number, after: number): void => {
    let best = workers[0]!;
    for (const [w, k] of inHand) if (k < inHand.get(best)!) best = w;
    const reuse = spare.pop();
    send(best, { seq, after, upTo: upTo(seq), ...(reuse ? { reuse } : {}) });
  };
  const exited = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
  for (const w of workers) {
    w.on('message', (r: RangeResult | ThreadReady) => {
      if ('ready' in r) {
        inHand.set(w, inHand.get(w)! - 2);
        dispatch();
        return;
      }
      inHand.set(w, inHand.get(w)! - 1);
      done.set(r.seq, {
        body: Buffer.from(r.buffer, 0, r.length), buffer: r.buffer, count: r.count, lastRowid: r.lastRowid, more: r.more,
        ...(r.busy === undefined ? {} : { busy: r.busy }),
        setAside: r.setAside.map((a) => new SetAside(a.rowid, a.eventId, a.bytes, a.limit, a.line, a.at, a.before)),
        refused: r.refused,
        ...(r.mark ? { mark: r.mark } : {}),
        ...(r.rowids ? { rowids: r.rowids } : {}),
        ...(r.otherIds ? { otherIds: r.otherIds } : {}),
      });
      dispatch();
      notify();
    });
    w.on('error', (err) => {
      failure = err instanceof Error ? err : new Error(String(err));
      notify();
    });
  }
  try {
    dispatch();
    for (let seq = 0; seq < ranges; ) {
      while (!done.has(seq)) {
        if (failure) throw new ExportError(`formatting worker failed: ${(failure as Error).message}${outOfMemory(failure, maxRowBytes)}`);
        await new Promise<void>((resolve) => (wake = resolve));
      }
      const chunk = done.get(seq)!;
      done.delete(seq);
      const askedAt = asked.get(seq)!;
      asked.delete(seq);
      const { buffer, more, busy, ...out } = chunk;
      // Asked before the chunk is handed over, so the worker formats the rest while it is written.
      if (more && busy === undefined) rest(seq, chunk.lastRowid);
      if (busy === undefined) plan.lockWait?.clear();
      yield out;
      // Written, or copied into request bodies: the memory is free to be filled again.
      spare.push(buffer);
      if (busy !== undefined) {
        if (!plan.lockWait) throw new ExportError(busy);
        // A range asked for before the last wait ended met the same lock: it is asked again without another wait.
        if (askedAt >= waited) {
          await plan.lockWait.busy(new RegistryBusy(busy));
          waited = performance.now();
        }
        rest(seq, chunk.lastRowid);
      }
      if (more) continue;
      seq++;
      consumed++;
      dispatch();
    }
  } finally {
    // Each thread is told to close, and ends once it has answered the ranges in its hands (a moment each, even
    // while a writer's lock lasts). Stopped in the middle of a SQLite call that then fails on the lock (opening
    // the registry, measured), a thread would abort the whole process: better-sqlite3 cannot throw into it.
    for (const w of workers) w.postMessage(null);
    await Promise.all(exited);
  }
}

/**
 * Young-generation collections done by the thread that allocates, not shared out to V8's helper threads. With
 * two formatting threads and the main thread on two cores, every scavenge of a few megabytes woke helpers that
 * had no core to run on: a 1M-event ECS export made 7,400–7,900 context switches instead of 3,800–4,000, and
 * took 3–7% longer (measured). V8 reads this flag at each scavenge, so changing it while running is safe; the
 * flags that switch off concurrent marking are not (V8 aborts when marking is under way).
 */
function singleThreadedScavenges(): void {
  v8.setFlagsFromString('--no-parallel-scavenge');
}

/** The fix for a worker that ran out of heap: a lower row limit keeps each row within it. */
function outOfMemory(err: Error, maxRowBytes: number): string {
  return (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY'
    ? ` (rows up to --max-row-bytes ${maxRowBytes} did not fit its ${workerHeapMb(maxRowBytes)} MB heap: lower --max-row-bytes, or pass --threads 1)`
    : '';
}
