/**
 * The second core for large local exports: worker threads read and format alternate rowid ranges, and chunks
 * come back here in registry order, each a JSON-lines body with the count and last rowid it covers. At most a
 * few ranges per worker are in flight, so memory stays bounded whatever the size of the registry.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { ExportError } from './errors.js';
import type { RecordSpec } from './records/spec.js';
import type { RangeRequest, RangeResult, WorkerSetup } from './format-worker.js';

export interface FormattedChunk {
  /** JSON lines. Without `records`, valid until the next chunk is asked for: its memory goes back to the worker. */
  body: Buffer;
  count: number;
  lastRowid: number;
  /** With `records`: each line's rowid and event id. */
  rowids?: Float64Array;
  eventIds?: string[];
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
  /** Rowids per range. */
  rangeSize?: number;
  /** Return rowids and event ids with each chunk, and keep each chunk's memory with the chunk. */
  records?: boolean;
}

/** Worth it only with a second core and enough rows to pay for starting the workers. */
export function workersWorthIt(rows: number): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return cores >= 2 && rows >= 50_000 ? Math.min(cores, 2) : 0;
}

export async function* formatInWorkers(plan: WorkerPlan): AsyncGenerator<FormattedChunk> {
  const n = plan.workers ?? 2;
  const rangeSize = plan.rangeSize ?? 2048;
  const records = plan.records ?? false;
  const setup: WorkerSetup = { db: plan.db, registryId: plan.registryId, spec: plan.spec, since: plan.since, records };
  const workers = Array.from({ length: n }, () =>
    new Worker(new URL('./format-worker.js', import.meta.url), {
      workerData: setup,
      // Nearly every string made while formatting dies young: a roomy young generation, a small old one.
      resourceLimits: { maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 32 },
    }),
  );
  const ranges = Math.ceil(Math.max(0, plan.endRowid - plan.afterRowid) / rangeSize);
  const done = new Map<number, FormattedChunk & { buffer: ArrayBuffer }>();
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  // Ranges go to whichever worker has the fewest in hand (at most two each), and no more than `window`
  // ranges are formatted or waiting at once; written buffers go back to the workers to be filled again.
  const window = 3 * n;
  const inHand = new Map<Worker, number>(workers.map((w) => [w, 0]));
  const spare: ArrayBuffer[] = [];
  let nextSeq = 0;
  let consumed = 0;
  const dispatch = (): void => {
    while (nextSeq < ranges && nextSeq < consumed + window) {
      let best: Worker | null = null;
      for (const [w, k] of inHand) if (k < 2 && (best === null || k < inHand.get(best)!)) best = w;
      if (!best) return;
      const seq = nextSeq++;
      const after = plan.afterRowid + seq * rangeSize;
      const reuse = spare.pop();
      const req: RangeRequest = { seq, after, upTo: Math.min(after + rangeSize, plan.endRowid), ...(reuse ? { reuse } : {}) };
      inHand.set(best, inHand.get(best)! + 1);
      best.postMessage(req, reuse ? [reuse] : []);
    }
  };
  for (const w of workers) {
    w.on('message', (r: RangeResult) => {
      inHand.set(w, inHand.get(w)! - 1);
      done.set(r.seq, {
        body: Buffer.from(r.buffer, 0, r.length), buffer: r.buffer, count: r.count, lastRowid: r.lastRowid,
        ...(r.rowids ? { rowids: r.rowids, eventIds: r.eventIds ?? [] } : {}),
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
    for (let seq = 0; seq < ranges; seq++) {
      while (!done.has(seq)) {
        if (failure) throw new ExportError(`formatting worker failed: ${(failure as Error).message}`);
        await new Promise<void>((resolve) => (wake = resolve));
      }
      const chunk = done.get(seq)!;
      done.delete(seq);
      const { buffer, ...out } = chunk;
      yield out;
      // Records of a SIEM export live on in batches, retries and dead letters, so their memory stays with them.
      if (!records) spare.push(buffer);
      consumed++;
      dispatch();
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
