/**
 * The export, end to end: registry pages → formatter → entries → batcher → delivery → checkpoint.
 * The checkpoint only ever moves over a settled prefix of events, so a crash re-sends at most what was in flight.
 * A stop ends reading and sending at once; the request in flight may finish, and the run returns `stopped`.
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
import { formatInWorkers, workersWorthIt, type WorkerPlan } from './format-workers.js';
import type { LogFields } from './log.js';
import type { ExportMetrics } from './metrics.js';
import { Stopped } from './retry.js';
import type { SplunkHecOptions } from './formatters/index.js';
import { ExportError } from './errors.js';
import { PAGE_SIZE, RegistryBusy, rowidOf, type RegistrySource } from './source.js';
import { RegistryWait } from './registry-wait.js';
import { OversizeRow, ROWID_START } from './rows.js';
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
  /**
   * Aborting stops the run: nothing more is read or sent, no backoff or acknowledgement wait goes on, the
   * request in flight may finish, and the checkpoint covers what settled.
   */
  stop?: AbortSignal;
  log?: (message: string, fields?: LogFields) => void;
  /** Counters and gauges for --metrics-listen. */
  metrics?: ExportMetrics | null;
  onProgress?: (settled: number) => void;
  /**
   * Lets a large backlog be read and formatted on worker threads (same records, same order, same checkpoints).
   * Not used with `follow` or `limit`.
   */
  parallel?: { db: string; format: string; splunk: SplunkHecOptions; threads?: number | null } | null;
}

export interface PipelineResult extends DeliveryStats {
  /** Events now in the SIEM (not counting dead letters). */
  exported: number;
  /** The checkpoint cursor after the run. */
  lastRowid: number;
  /** The run ended because it was asked to stop, not because the source ran out. */
  stopped: boolean;
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

export function runPipeline(o: PipelineOptions): Promise<PipelineResult> {
  return new Pipeline(o).run();
}

const LOCAL = new Set(['stdout', 'file']);

/** One export run. Sources feed `add`; `flush` hands full batches to delivery; `commit` moves the checkpoint. */
class Pipeline {
  private readonly transport: Transport;
  private readonly delivery: Delivery;
  private readonly window: AckWindow | null;
  private readonly batcher: Batcher;
  private readonly ledger = new Ledger();
  private lastRowid: number;
  /** One request in flight at a time, in registry order; while it travels, the next batch is read and formatted. */
  private inflight: Promise<void> | null = null;
  /** An entry that did not fit the batch that just filled up. */
  private pending: Entry | null = null;
  /** The last registry row read and its record, to tell the same registry from a restored or rolled-back one. */
  private lastRead: { rowid: number; record: string | Buffer } | null = null;
  private readonly metrics: ExportMetrics | null;
  /** Whether a stop left anything undone; a stop that came after the last event settled leaves the run whole. */
  private cut = false;

  constructor(private readonly o: PipelineOptions) {
    this.transport = o.transport;
    this.metrics = o.metrics ?? null;
    const hooks = { ...(o.stop ? { stop: o.stop } : {}), metrics: this.metrics };
    this.delivery = new Delivery(o.transport, o.retry, o.deadLetter ?? null, o.log ?? (() => undefined), hooks);
    this.window = o.transport.acks ? new AckWindow(o.transport.acks, this.delivery, 256, hooks) : null;
    this.batcher = new Batcher(o.limits, bodyOverhead(o.transport.encoder));
    this.lastRowid = o.checkpoint?.lastRowid ?? ROWID_START;
    this.metrics?.committed(this.lastRowid, 0);
  }

  /** Asked to stop: true from then on, and marks the run as cut short. */
  private get stopping(): boolean {
    if (this.o.stop?.aborted) this.cut = true;
    return this.cut;
  }

  async run(): Promise<PipelineResult> {
    const o = this.o;
    try {
      if (isRegistry(o.source)) {
        const threads = this.threadPlan(o.source);
        if (threads && LOCAL.has(this.transport.name)) return await this.writeThreaded(threads);
        if (threads) await this.feedThreaded(threads);
        else await this.feedRegistry(o.source);
      } else {
        await this.feedRecords(o.source);
      }
      await this.flush();
      await this.settle();
      if (this.window) await this.window.drain(() => this.commit());
    } catch (err) {
      // A stop is how a follow run ends: what settled is checkpointed below, the rest goes again next start.
      if (!(err instanceof Stopped)) throw err;
      this.cut = true;
      await this.settle().catch((e: unknown) => {
        if (!(e instanceof Stopped)) throw e;
      });
    }
    this.commit();
    const s = this.delivery.stats;
    return { ...s, exported: this.ledger.committed - s.deadLettered, lastRowid: this.lastRowid, stopped: this.cut };
  }

  /** Move the checkpoint over the settled prefix of events. */
  private commit(): void {
    const p = this.ledger.settledPrefix();
    if (!p) return;
    this.lastRowid = p.rowid;
    this.metrics?.committed(p.rowid, p.count);
    this.o.deadLetter?.sync();
    if (this.o.checkpoint) {
      // Durable output before a durable checkpoint; without one there is nothing to be consistent with.
      this.transport.sync?.();
      this.o.checkpoint.commit(p.rowid, p.count, this.digest(p.rowid));
    }
    this.o.onProgress?.(this.ledger.committed);
  }

  /** The registry row's digest for the checkpoint; other sources have none, nor a registry locked right now. */
  private digest(rowid: number): string | null {
    try {
      return isRegistry(this.o.source) ? this.o.source.rowDigest(rowid) : null;
    } catch (err) {
      if (err instanceof RegistryBusy) return null;
      throw err;
    }
  }

  /**
   * A row over the size limit, in its place in registry order: the rows before it go out first, then it is
   * dead-lettered unformatted with the reason (so the checkpoint passes it only once it is on disk), or, without
   * a dead-letter file, the export stops there with everything before it settled.
   */
  private async setAside(row: OversizeRow): Promise<void> {
    await this.flush();
    if (!this.o.deadLetter) await this.settle();
    const entry: SettledEntry = { rowid: row.rowid, event_id: row.eventId, registry_id: this.o.registryId, record: '', bytes: 0 };
    this.delivery.setAside(entry, row);
    this.ledger.push([entry]);
  }

  private async settle(): Promise<void> {
    const p = this.inflight;
    this.inflight = null;
    if (p) await p;
  }

  private async send(batch: SettledEntry[]): Promise<void> {
    try {
      const tickets = await this.delivery.deliver(batch);
      const w = this.window;
      if (w) {
        w.add(tickets);
        await w.poll();
        while (w.pending >= w.maxPending) {
          this.commit();
          await w.waitRound();
        }
      }
    } finally {
      // On failure too: whatever prefix did settle is checkpointed before the error surfaces.
      this.commit();
    }
  }

  private async flush(): Promise<void> {
    const batch = this.batcher.take();
    await this.settle();
    // After a stop the batch being filled is dropped unsent; it lies after the checkpoint, so it goes next start.
    if (batch.length === 0 || this.stopping) return;
    this.ledger.push(batch);
    const p = this.send(batch);
    // Failures surface at the next settle(); until then the rejection counts as handled.
    p.catch(() => undefined);
    this.inflight = p;
  }

  /** Synchronous, so the per-event path makes no promise; true when a batch must go out (`flushFull`). */
  private add(prepared: PreparedRecord): boolean {
    const entry = makeEntry(this.transport.encoder, prepared);
    if (this.batcher.wouldOverflow(entry)) {
      this.pending = entry;
      return true;
    }
    this.batcher.add(entry);
    return this.batcher.full;
  }

  private async flushFull(): Promise<void> {
    await this.flush();
    if (this.pending) {
      this.batcher.add(this.pending);
      this.pending = null;
      if (this.batcher.full) await this.flush();
    }
  }

  /** Records prepared elsewhere: a replay, a library caller. */
  private async feedRecords(records: Iterable<PreparedRecord>): Promise<void> {
    let remaining = this.o.limit ?? Infinity;
    for (const prepared of records) {
      if (remaining-- <= 0 || this.stopping) break;
      this.metrics?.read(1);
      if (this.add(prepared)) await this.flushFull();
    }
  }

  /** The registry, a page at a time, formatted here; with `follow`, on and on. */
  private async feedRegistry(source: RegistrySource): Promise<void> {
    const o = this.o;
    const pageSize = o.pageSize ?? PAGE_SIZE;
    let cursor = this.lastRowid;
    let remaining = o.limit ?? Infinity;
    const lock = new RegistryWait(o.log ?? (() => undefined), o.follow ? Infinity : o.retry.maxDurationMs, o.pollIntervalMs ?? 250, o.stop);
    // Local outputs settle without I/O waits, so formatting would never let a signal in: give way every 50 ms.
    let breathe = performance.now() + 50;
    for (;;) {
      if (this.stopping) break;
      let rows;
      try {
        // Before every read, so no row of a registry that changed under us is read, let alone sent.
        if (o.follow) this.checkContinuity(source, cursor);
        rows = remaining > 0 ? source.readPage(cursor, Math.min(pageSize, remaining), o.since) : [];
      } catch (err) {
        if (!(err instanceof RegistryBusy)) throw err;
        await lock.busy(err);
        continue;
      }
      lock.clear();
      this.metrics?.read(rows.length);
      for (const row of rows) {
        if (this.stopping) break;
        if (row instanceof OversizeRow) {
          await this.setAside(row);
          continue;
        }
        const evt = fromRegistryValues(row, o.registryId);
        const record = o.formatter(evt);
        this.lastRead = { rowid: evt.rowid, record };
        if (this.add({ rowid: evt.rowid, event_id: evt.event_id, registry_id: evt.registry_id, record })) {
          await this.flushFull();
        }
        if (performance.now() > breathe) {
          await new Promise(setImmediate);
          breathe = performance.now() + 50;
        }
      }
      if (this.stopping) break;
      if (rows.length > 0) cursor = rowidOf(rows[rows.length - 1]!);
      remaining -= rows.length;
      const caughtUp = rows.length < pageSize;
      if (!o.follow) {
        if (caughtUp || remaining <= 0) break;
        continue;
      }
      if (remaining <= 0) break;
      if (this.batcher.size > 0 && this.batcher.ageMs >= (o.flushIntervalMs ?? 500)) await this.flush();
      // Caught up: nothing to overlap with, so let the request finish and its checkpoint land now.
      if (caughtUp) await this.settle();
      if (this.window) {
        await this.window.poll();
        this.commit();
      }
      if (caughtUp) await pause(o.pollIntervalMs ?? 250, o.stop);
    }
  }

  /**
   * Follow mode, before each read: is the registry still the one read so far? A restore puts a new file
   * at the path (reopened here); a rollback loses rows. Either is fine only if the last row read is still there
   * unchanged, or was pruned with newer rows after it; otherwise rows would be skipped or sent twice unnoticed.
   */
  private checkContinuity(source: RegistrySource, cursor: number): void {
    const o = this.o;
    const change = source.refresh();
    if (change === 'replaced') o.log?.(`registry ${source.path} was replaced by a new file: reopened it`, { rowid: cursor });
    // Nothing written since the last look: what was checked then still holds, and an idle follower costs nothing.
    if (cursor === ROWID_START || change === 'unchanged') return;
    const fix = `; if the registry was restored from a backup, check which events it lost, then move --state ${o.checkpoint?.file ?? 'FILE'} ` +
      'away to export it from the start (the SIEM may then hold some events twice), or restore the newer registry';
    const row = source.readRow(cursor);
    if (row === undefined) {
      const newest = source.maxRowid();
      if (newest >= cursor) return;
      throw new ExportError(`registry ${source.path} ends at rowid ${newest}, before rowid ${cursor} already read: it was rolled back${fix}`);
    }
    if (this.lastRead === null || this.lastRead.rowid !== cursor) return;
    const now = o.formatter(fromRegistryValues(row, o.registryId));
    if (!sameRecord(now, this.lastRead.record)) {
      throw new ExportError(`registry ${source.path} holds another event at rowid ${cursor} than the one already read: it was replaced or rolled back${fix}`);
    }
  }

  /** Whether a backlog is large enough for worker threads, and the plan for them. */
  private threadPlan(source: RegistrySource): WorkerPlan | null {
    const o = this.o;
    if (!o.parallel || o.follow || (o.limit ?? null) !== null) return null;
    const b = source.bounds();
    if (b === null || b.last <= this.lastRowid) return null;
    // Threads split rowids into ranges: from just before the first row left, and only where rowids are dense.
    const after = Math.max(this.lastRowid, b.first - 1);
    const span = b.last - after;
    const workers = o.parallel.threads ?? workersWorthIt(span);
    if (workers <= 1 || (span > 4 * PAGE_SIZE && span > 4 * source.count(after))) return null;
    const { db, format, splunk } = o.parallel;
    return {
      db, format, splunk, registryId: o.registryId, since: o.since ?? null, afterRowid: after, endRowid: b.last, workers,
      records: !LOCAL.has(this.transport.name), maxRowBytes: source.maxRowBytes,
    };
  }

  /** Threads format records for a SIEM: each chunk is cut into records and batched like any other. */
  private async feedThreaded(plan: WorkerPlan): Promise<void> {
    for await (const chunk of formatInWorkers(plan)) {
      const body = chunk.body;
      const aside = chunk.setAside;
      this.metrics?.read(chunk.count + aside.length);
      let start = 0;
      let k = 0;
      for (let i = 0; i <= chunk.count; i++) {
        // Rows over the size limit come back unformatted, each before the line it preceded in the registry.
        while (k < aside.length && aside[k]!.line === i) await this.setAside(aside[k++]!);
        if (i === chunk.count) break;
        const end = body.indexOf(0x0a, start);
        const record = body.subarray(start, end);
        start = end + 1;
        if (this.add({ rowid: chunk.rowids![i]!, event_id: chunk.eventIds![i]!, registry_id: this.o.registryId, record })) {
          await this.flushFull();
        }
      }
      if (this.stopping) break;
    }
  }

  /** Threads format JSON lines for stdout or a file: each chunk is written as it is and checkpointed. */
  private async writeThreaded(plan: WorkerPlan): Promise<PipelineResult> {
    let written = 0;
    let bytes = 0;
    const commit = (rowid: number, settled: number): void => {
      if (!this.o.checkpoint) return;
      this.transport.sync?.();
      this.o.deadLetter?.sync();
      this.o.checkpoint.commit(rowid, settled, this.digest(rowid));
    };
    for await (const chunk of formatInWorkers(plan)) {
      const body = chunk.body;
      const aside = chunk.setAside;
      if (aside.length > 0 && !this.o.deadLetter) {
        // Without a dead-letter file the export stops at the first such row, with the lines before it written.
        const first = aside[0]!;
        let cut = 0;
        for (let i = 0; i < first.line; i++) cut = body.indexOf(0x0a, cut) + 1;
        if (first.line > 0) {
          await this.transport.send([], body.subarray(0, cut));
          commit(first.before, first.line);
        }
        throw new ExportError(first.stop);
      }
      for (const row of aside) {
        this.delivery.setAside({ rowid: row.rowid, event_id: row.eventId, registry_id: this.o.registryId, record: '', bytes: 0 }, row);
      }
      const settled = chunk.count + aside.length;
      if (chunk.count > 0) {
        await this.transport.send([], body);
        written += chunk.count;
        bytes += body.length;
      }
      if (settled > 0) {
        commit(chunk.lastRowid, settled);
        this.o.onProgress?.(written);
      }
      this.lastRowid = chunk.lastRowid;
      this.metrics?.read(settled);
      this.metrics?.delivered(chunk.count);
      this.metrics?.committed(chunk.lastRowid, settled);
      if (this.stopping) break;
    }
    return {
      delivered: written, deadLettered: this.delivery.stats.deadLettered, duplicates: 0, requests: 0, retries: 0, bytes, exported: written,
      lastRowid: this.lastRowid, stopped: this.cut,
    };
  }
}

function sameRecord(a: string | Buffer, b: string | Buffer): boolean {
  return (typeof a === 'string' ? a : a.toString('utf8')) === (typeof b === 'string' ? b : b.toString('utf8'));
}

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
