/**
 * The second core for large local exports: worker threads read and format alternate rowid ranges, and chunks
 * come back here in registry order, each a JSON-lines body with the count and last rowid it covers. At most a
 * few ranges per worker are in flight, so memory stays bounded whatever the size of the registry.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { ExportError } from './errors.js';
import type { SplunkHecOptions } from './formatters/index.js';
import type { RangeRequest, RangeResult, WorkerSetup } from './format-worker.js';

export interface FormattedChunk {
  body: Buffer;
  count: number;
  lastRowid: number;
}

export interface WorkerPlan {
  db: string;
  registryId: string;
  format: string;
  splunk: SplunkHecOptions;
  since: number | null;
  /** Export rows with rowid in (afterRowid, endRowid]. */
  afterRowid: number;
  endRowid: number;
  workers?: number;
  /** Rowids per range. */
  rangeSize?: number;
}

/** Worth it only with a second core and enough rows to pay for starting the workers. */
export function workersWorthIt(rows: number): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return cores >= 2 && rows >= 50_000 ? Math.min(cores, 2) : 0;
}

export async function* formatInWorkers(plan: WorkerPlan): AsyncGenerator<FormattedChunk> {
  const n = plan.workers ?? 2;
  const rangeSize = plan.rangeSize ?? 8192;
  const setup: WorkerSetup = { db: plan.db, registryId: plan.registryId, format: plan.format, splunk: plan.splunk, since: plan.since };
  const workers = Array.from({ length: n }, () =>
    new Worker(new URL('./format-worker.js', import.meta.url), {
      workerData: setup,
      // A larger young generation: nearly every string made while formatting dies young.
      resourceLimits: { maxYoungGenerationSizeMb: 48 },
    }),
  );
  const ranges = Math.ceil(Math.max(0, plan.endRowid - plan.afterRowid) / rangeSize);
  const done = new Map<number, FormattedChunk>();
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  // Range `seq` always goes to worker `seq % n`; a new range is asked for only when one is taken, so at
  // most `window` ranges are formatted or waiting at any time.
  const window = 2 * n;
  const request = (seq: number): void => {
    if (seq >= ranges) return;
    const after = plan.afterRowid + seq * rangeSize;
    const req: RangeRequest = { seq, after, upTo: Math.min(after + rangeSize, plan.endRowid) };
    workers[seq % n]!.postMessage(req);
  };
  for (const w of workers) {
    w.on('message', (r: RangeResult) => {
      done.set(r.seq, { body: Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength), count: r.count, lastRowid: r.lastRowid });
      notify();
    });
    w.on('error', (err) => {
      failure = err instanceof Error ? err : new Error(String(err));
      notify();
    });
  }
  try {
    for (let seq = 0; seq < Math.min(window, ranges); seq++) request(seq);
    for (let seq = 0; seq < ranges; seq++) {
      while (!done.has(seq)) {
        if (failure) throw new ExportError(`formatting worker failed: ${(failure as Error).message}`);
        await new Promise<void>((resolve) => (wake = resolve));
      }
      const chunk = done.get(seq)!;
      done.delete(seq);
      request(seq + window);
      yield chunk;
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
