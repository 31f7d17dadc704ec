/**
 * The export, end to end: registry pages → formatter → entries → batcher → delivery → checkpoint.
 * The checkpoint only ever moves over a settled prefix of events, so a crash re-sends at most what was in flight.
 */
import { AckWindow } from './ack-window.js';
import { Batcher, type BatchLimits } from './batcher.js';
import type { Checkpoint } from './checkpoint.js';
import type { DeadLetterFile } from './dead-letter.js';
import { Delivery, type DeliveryStats, type SettledEntry } from './delivery.js';
import { bodyOverhead, makeEntry, type Entry } from './encoder.js';
import { fromRegistryValues } from './event.js';
import type { RecordFormatter } from './formatters/index.js';
import type { RetryOptions } from './retry.js';
import { formatInWorkers, workersWorthIt } from './format-workers.js';
import type { SplunkHecOptions } from './formatters/index.js';
import { PAGE_SIZE, type RegistrySource } from './source.js';
import type { Transport } from './transport.js';

/** A formatted record not yet framed: what a non-registry source (a replay, a library caller) provides. */
export type PreparedRecord = Omit<Entry, 'bytes' | 'frame'>;

export interface PipelineOptions {
  /** Where records come from: a registry (formatted here, with follow and checkpoints), or prepared records. */
  source: RegistrySource | Iterable<PreparedRecord>;
  registryId: string;
  formatter: RecordFormatter;
  transport: Transport;
  limits: BatchLimits;
  retry: RetryOptions;
  since?: number | null;
  limit?: number | null;
  follow?: boolean;
  pollIntervalMs?: number;
  flushIntervalMs?: number;
  pageSize?: number;
  checkpoint?: Checkpoint | null;
  deadLetter?: DeadLetterFile | null;
  /** Aborting stops reading; the batch in flight is finished and checkpointed. */
  stop?: AbortSignal;
  log?: (message: string) => void;
  onProgress?: (settled: number) => void;
  /**
   * Lets a large export to stdout or a file read and format on worker threads (same output, same checkpoints).
   * Not used with --follow or --limit, or for HTTP transports, whose pace the SIEM sets.
   */
  parallel?: { db: string; format: string; splunk: SplunkHecOptions; threads?: number | null } | null;
}

export interface PipelineResult extends DeliveryStats {
  /** Events now in the SIEM (not counting dead letters). */
  exported: number;
  /** The checkpoint cursor after the run. */
  lastRowid: number;
}

/** Entries in registry order that the checkpoint has not passed yet. */
class Ledger {
  private queue: SettledEntry[] = [];
  private head = 0;
  committed = 0;

  push(entries: SettledEntry[]): void {
    for (const e of entries) this.queue.push(e);
  }

  /** Drop the settled prefix; returns the last rowid in it and how many entries it held. */
  settledPrefix(): { rowid: number; count: number } | null {
    const start = this.head;
    while (this.head < this.queue.length && this.queue[this.head]!.settled) this.head++;
    if (this.head === start) return null;
    const rowid = this.queue[this.head - 1]!.rowid;
    const count = this.head - start;
    this.committed += count;
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return { rowid, count };
  }
}

export async function runPipeline(o: PipelineOptions): Promise<PipelineResult> {
  const log = o.log ?? (() => undefined);
  const transport = o.transport;
  const delivery = new Delivery(transport, o.retry, o.deadLetter ?? null, log);
  const window = transport.acks ? new AckWindow(transport.acks, delivery) : null;
  const batcher = new Batcher(o.limits, bodyOverhead(transport.encoder));
  const ledger = new Ledger();
  const pageSize = o.pageSize ?? PAGE_SIZE;
  let lastRowid = o.checkpoint?.lastRowid ?? 0;

  const commit = (): void => {
    const p = ledger.settledPrefix();
    if (!p) return;
    lastRowid = p.rowid;
    o.deadLetter?.sync();
    if (o.checkpoint) {
      // Durable output before a durable checkpoint; without one there is nothing to be consistent with.
      transport.sync?.();
      o.checkpoint.commit(p.rowid, p.count);
    }
    o.onProgress?.(ledger.committed);
  };

  // One request in flight at a time, in registry order; while it travels, the next batch is read and formatted.
  let inflight: Promise<void> | null = null;
  const settle = async (): Promise<void> => {
    const p = inflight;
    inflight = null;
    if (p) await p;
  };
  const send = async (batch: SettledEntry[]): Promise<void> => {
    try {
      const tickets = await delivery.deliver(batch);
      if (window) {
        window.add(tickets);
        await window.poll();
        while (window.pending >= window.maxPending) {
          commit();
          await window.waitRound();
        }
      }
    } finally {
      // On failure too: whatever prefix did settle is checkpointed before the error surfaces.
      commit();
    }
  };
  const flush = async (): Promise<void> => {
    const batch = batcher.take();
    await settle();
    if (batch.length === 0) return;
    ledger.push(batch);
    const p = send(batch);
    // Failures surface at the next settle(); until then the rejection counts as handled.
    p.catch(() => undefined);
    inflight = p;
  };

  // Synchronous, so the per-event path makes no promise; the caller awaits only when a batch must go out.
  const add = (prepared: PreparedRecord): boolean => {
    const entry = makeEntry(transport.encoder, prepared);
    if (batcher.wouldOverflow(entry)) {
      pending = entry;
      return true;
    }
    batcher.add(entry);
    return batcher.full;
  };
  let pending: Entry | null = null;
  const flushFull = async (): Promise<void> => {
    await flush();
    if (pending) {
      batcher.add(pending);
      pending = null;
      if (batcher.full) await flush();
    }
  };

  // A large backlog is read and formatted on worker threads. To stdout or a file the formatted chunks are written
  // as they come; for a SIEM they are cut into records and batched like any other.
  let threaded = false;
  if (isRegistry(o.source) && o.parallel && !o.follow && (o.limit ?? null) === null) {
    const end = o.source.maxRowid();
    const workers = o.parallel.threads ?? workersWorthIt(end - lastRowid);
    if (workers > 1) {
      threaded = true;
      const local = LOCAL.has(transport.name);
      const { db, format, splunk } = o.parallel;
      const plan = { db, format, splunk, registryId: o.registryId, since: o.since ?? null, afterRowid: lastRowid, endRowid: end, workers, records: !local };
      let written = 0;
      for await (const chunk of formatInWorkers(plan)) {
        if (local) {
          if (chunk.count > 0) {
            await transport.send([], chunk.body);
            written += chunk.count;
            if (o.checkpoint) {
              transport.sync?.();
              o.checkpoint.commit(chunk.lastRowid, chunk.count);
            }
            o.onProgress?.(written);
          }
          lastRowid = chunk.lastRowid;
        } else {
          const body = chunk.body;
          let start = 0;
          for (let i = 0; i < chunk.count; i++) {
            const end = body.indexOf(0x0a, start);
            const record = body.subarray(start, end);
            start = end + 1;
            if (add({ rowid: chunk.rowids![i]!, event_id: chunk.eventIds![i]!, registry_id: o.registryId, record })) await flushFull();
          }
        }
        if (o.stop?.aborted) break;
      }
      if (local) {
        return { delivered: written, deadLettered: 0, duplicates: 0, requests: 0, retries: 0, bytes: 0, exported: written, lastRowid };
      }
    }
  }

  if (isRegistry(o.source) && !threaded) {
    const source = o.source;
    let cursor = lastRowid;
    let remaining = o.limit ?? Infinity;
    for (;;) {
      if (o.stop?.aborted) break;
      const rows = remaining > 0 ? source.readPage(cursor, Math.min(pageSize, remaining), o.since) : [];
      for (const row of rows) {
        const evt = fromRegistryValues(row, o.registryId);
        if (add({ rowid: evt.rowid, event_id: evt.event_id, registry_id: evt.registry_id, record: o.formatter(evt) })) await flushFull();
      }
      if (rows.length > 0) cursor = Number(rows[rows.length - 1]![0]);
      remaining -= rows.length;
      const caughtUp = rows.length < pageSize;
      if (!o.follow) {
        if (caughtUp || remaining <= 0) break;
        continue;
      }
      if (remaining <= 0) break;
      if (batcher.size > 0 && batcher.ageMs >= (o.flushIntervalMs ?? 500)) await flush();
      // Caught up: nothing to overlap with, so let the request finish and its checkpoint land now.
      if (caughtUp) await settle();
      if (window) {
        await window.poll();
        commit();
      }
      if (caughtUp) await pause(o.pollIntervalMs ?? 250, o.stop);
    }
  } else if (!isRegistry(o.source)) {
    let remaining = o.limit ?? Infinity;
    for (const prepared of o.source) {
      if (remaining-- <= 0 || o.stop?.aborted) break;
      if (add(prepared)) await flushFull();
    }
  }
  await flush();
  await settle();
  if (window) await window.drain(commit);
  commit();

  const s = delivery.stats;
  return { ...s, exported: ledger.committed - s.deadLettered, lastRowid };
}

const LOCAL = new Set(['stdout', 'file']);

function isRegistry(s: PipelineOptions['source']): s is RegistrySource {
  return typeof (s as RegistrySource).readPage === 'function';
}

/** Sleep, waking early when the export is asked to stop. */
function pause(ms: number, stop?: AbortSignal): Promise<void> {
  if (stop?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      stop?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop?.addEventListener('abort', done, { once: true });
  });
}
