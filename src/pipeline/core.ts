/**
 * The delivery core: records in, batches out, checkpoint after the SIEM acknowledged. It never formats and never
 * reads the registry; feeds (feeds.ts) hand it records in registry order. The checkpoint only ever moves over a
 * settled prefix of records, so a crash re-sends at most what was in flight. A stop ends reading and sending at
 * once; the request in flight may finish, and the run reports `stopped`.
 */
import { AckWindow } from './ack-window.js';
import { Batcher, type BatchLimits } from './batcher.js';
import type { Checkpoint } from './checkpoint.js';
import type { DeadLetterFile } from './dead-letter.js';
import { Delivery, type DeliveryStats, type SettledEntry } from './delivery.js';
import { BodyWriter, bodyOverhead, countText, makeEntry, makeSpanEntry, makeTextEntry, type Entry } from './encoder.js';
import type { LogFields } from '../shared/log.js';
import type { ExportMetrics } from '../service/metrics.js';
import { Stopped, type RetryOptions } from './retry.js';
import { ROWID_START, type OversizeRow } from '../registry/rows.js';
import type { Transport } from '../transports/transport.js';

/** A formatted record not yet framed. */
export type PreparedRecord = Omit<Entry, 'bytes' | 'frame'>;

export interface CoreOptions {
  transport: Transport;
  limits: BatchLimits;
  retry: RetryOptions;
  checkpoint?: Checkpoint | null;
  /**
   * The digest of the registry row at a rowid as it was read, for the checkpoint, or null when that cannot be
   * vouched for (registry feeds only: see read-digests.ts). Asked only once the SIEM has the row.
   */
  digest?: (rowid: number) => string | null;
  /** Where the checkpoint starts (the state file's cursor; 0 for a first run). */
  startRowid?: number;
  deadLetter?: DeadLetterFile | null;
  /** The flag that gives `deadLetter`, for the message of a refusal that stops a run without it. */
  deadLetterFlag?: string;
  /**
   * Aborting stops the run: nothing more is read or sent, no backoff or acknowledgement wait goes on, the
   * request in flight may finish, and the checkpoint covers what settled.
   */
  stop?: AbortSignal;
  log?: (message: string, fields?: LogFields) => void;
  /** Where retries are reported: something is wrong, and being worked around (default: `log`). */
  warn?: (message: string, fields?: LogFields) => void;
  metrics?: ExportMetrics | null;
  onProgress?: (settled: number) => void;
}

export interface PipelineResult extends DeliveryStats {
  /** Events now in the SIEM (not counting dead letters). */
  exported: number;
  /** The checkpoint cursor after the run. */
  lastRowid: number;
  /** The run ended because it was asked to stop, not because the source ran out. */
  stopped: boolean;
}

/** A closed batch: its entries and the request body written for them. */
interface Batch {
  entries: SettledEntry[];
  body: Buffer;
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

/** One run. Feeds call `add` (and `flushFull` when it says so) and `idle` when caught up; `finish` ends the run. */
export class Core {
  readonly transport: Transport;
  private readonly delivery: Delivery;
  private readonly window: AckWindow | null;
  private readonly batcher: Batcher;
  private readonly ledger = new Ledger();
  private last: number;
  /** The body of the batch being filled, written as entries join it. */
  private readonly writer: BodyWriter;
  /** One request in flight at a time, in registry order; while it travels, the next batch is read and formatted. */
  private inflight: Promise<void> | null = null;
  /** The request in flight has not landed yet (`inflight` stays set until someone waits for it). */
  private sending = false;
  /** Batches closed because the next entry did not fit, waiting for `flushFull` to send them. */
  private readonly ready: Batch[] = [];
  readonly metrics: ExportMetrics | null;
  /** Whether a stop left anything undone; a stop that came after the last event settled leaves the run whole. */
  private cut = false;

  constructor(private readonly o: CoreOptions) {
    this.transport = o.transport;
    this.metrics = o.metrics ?? null;
    const hooks = { ...(o.stop ? { stop: o.stop } : {}), ...(o.deadLetterFlag ? { deadLetterFlag: o.deadLetterFlag } : {}), metrics: this.metrics };
    this.delivery = new Delivery(o.transport, o.retry, o.deadLetter ?? null, o.warn ?? o.log ?? (() => undefined), hooks);
    const warn = o.warn ?? o.log;
    this.window = o.transport.acks ? new AckWindow(o.transport.acks, this.delivery, 256, { ...hooks, ...(warn ? { warn } : {}) }) : null;
    this.batcher = new Batcher(o.limits, bodyOverhead(o.transport.encoder));
    this.writer = new BodyWriter(o.transport.encoder, o.limits.maxBytes);
    this.last = o.startRowid ?? o.checkpoint?.lastRowid ?? ROWID_START;
    this.metrics?.committed(this.last, 0);
  }

  /** The checkpoint cursor: the last rowid whose record, and every one before it, settled. */
  get lastRowid(): number {
    return this.last;
  }

  /** Asked to stop: true from then on, and marks the run as cut short. */
  get stopping(): boolean {
    if (this.o.stop?.aborted) this.cut = true;
    return this.cut;
  }

  get stopSignal(): AbortSignal | undefined {
    return this.o.stop;
  }

  /** Synchronous, so the per-record path makes no promise; true when a batch must go out (`flushFull`). */
  add(prepared: PreparedRecord): boolean {
    const enc = this.transport.encoder;
    return this.admit(typeof prepared.record === 'string' ? makeTextEntry(enc, prepared as PreparedRecord & { record: string }) : makeEntry(enc, prepared));
  }

  /**
   * The same for the record `start`..`end` of `source` (a line of a formatted chunk), copied into the batch's body
   * at once: the entry keeps no reference to `source`, which may be reused as soon as this returns.
   */
  addLine(rowid: number, eventId: string | null, registryId: string, source: Buffer, start: number, end: number): boolean {
    return this.admit(makeSpanEntry(this.transport.encoder, rowid, eventId, registryId, source, start, end));
  }

  private admit(entry: Entry): boolean {
    // The batch that cannot take it closes now; `flushFull` sends it before anything else. A text record's size
    // is an upper bound until it is written, so it is counted exactly before it can close a batch.
    if (this.batcher.wouldOverflow(entry)) {
      countText(entry);
      if (this.batcher.wouldOverflow(entry)) this.ready.push(this.take());
    }
    // Written first: the writer learns a text record's size, which the batcher then counts.
    this.writer.add(entry);
    this.batcher.add(entry);
    return this.ready.length > 0 || this.batcher.full;
  }

  /** Send the batches that closed, and the one being filled if it is full. */
  async flushFull(): Promise<void> {
    while (this.ready.length > 0) await this.ship(this.ready.shift()!);
    if (this.batcher.full) await this.ship(this.take());
  }

  /**
   * Caught up with the source (follow mode): send a partial batch once it is `flushAfterMs` old, let the request
   * in flight land when there is nothing to overlap with, and move the checkpoint over acknowledged batches.
   */
  async idle(flushAfterMs: number, caughtUp: boolean): Promise<void> {
    if (this.batcher.size > 0 && this.batcher.ageMs >= flushAfterMs) await this.flush();
    if (caughtUp) await this.settle();
    // While a batch is still being sent the window is its to poll, once it lands: a poll now could send lost
    // messages again beside it, and RELP has one session, writing one batch at a time.
    if (this.window && !this.sending) {
      try {
        await this.window.poll();
      } finally {
        this.commit();
      }
    }
  }

  /** Records dead-lettered so far. */
  get deadLettered(): number {
    return this.delivery.stats.deadLettered;
  }

  /**
   * A row over the size limit, in its place in registry order: the records before it go out first, then it is
   * dead-lettered unformatted with the reason (so the checkpoint passes it only once it is on disk), or, without
   * a dead-letter file, the export stops there with everything before it settled.
   */
  async setAside(row: OversizeRow, registryId: string): Promise<void> {
    await this.flush();
    // Settled first either way: a record refused in a batch still out would otherwise be dead-lettered after it.
    await this.settle();
    const entry: SettledEntry = { rowid: row.rowid, event_id: row.eventId, registry_id: registryId, record: '', bytes: 0 };
    this.delivery.setAside(entry, row);
    this.ledger.push([entry]);
  }

  /** The same for a row a local copy writes around: dead-lettered at once (the copy stops first without a file). */
  setAsideNow(row: OversizeRow, registryId: string): void {
    this.delivery.setAside({ rowid: row.rowid, event_id: row.eventId, registry_id: registryId, record: '', bytes: 0 }, row);
  }

  /** Send what is left, wait for it (and for acknowledgements), checkpoint, and report. */
  async finish(feed: Promise<void>): Promise<PipelineResult> {
    try {
      await feed;
      await this.flush();
      await this.settle();
      if (this.window) await this.window.drain(() => this.commit());
    } catch (err) {
      // A stop is how a follow run ends: what settled is checkpointed below, the rest goes again next start.
      // A failure checkpoints what settled before it too. Either way the answers a stream has had since it was
      // last asked count (a RELP message answered while a later one waited out a backoff is in the SIEM);
      // nothing is sent again.
      if (!(err instanceof Stopped)) {
        this.window?.settleAnswered();
        this.commit();
        throw err;
      }
      this.cut = true;
      await this.settle().catch((e: unknown) => {
        if (!(e instanceof Stopped)) throw e;
      });
      this.window?.settleAnswered();
    }
    this.commit();
    const s = this.delivery.stats;
    return { ...s, exported: this.ledger.committed - s.deadLettered, lastRowid: this.last, stopped: this.cut };
  }

  /**
   * A chunk written whole (lines for a file, frames for a byte stream: see chunk-copy.ts), `count` records up to
   * rowid `last`: sent as it is, with the retries of any batch. Nothing else may be batched or in flight around it.
   */
  async sendChunk(body: Buffer, count: number, last: number): Promise<void> {
    await this.delivery.deliverWhole(body, count, last);
  }

  /** A record a stream's formatting thread left out: dead-lettered with the reason, or the export stops on it. */
  refuse(entry: SettledEntry, status: number, error: string): void {
    this.delivery.reject(entry, status, error);
  }

  /** Records that settled as a whole chunk (sent, or dead-lettered): the checkpoint moves over them. */
  settledChunk(rowid: number, count: number): void {
    this.ledger.committed += count;
    this.checkpointTo(rowid, count);
    this.o.onProgress?.(this.ledger.committed);
  }

  /**
   * The one way the checkpoint moves: durable output and dead letters first, then the state file, then the
   * figures. Used for settled batches and for chunks written whole.
   */
  checkpointTo(rowid: number, count: number): void {
    this.last = rowid;
    this.metrics?.committed(rowid, count);
    this.o.deadLetter?.sync();
    if (this.o.checkpoint) {
      // Durable output before a durable checkpoint; without one there is nothing to be consistent with.
      this.transport.sync?.();
      this.o.checkpoint.commit(rowid, count, this.o.digest?.(rowid) ?? null);
    }
  }

  /** Move the checkpoint over the settled prefix of records. */
  private commit(): void {
    const p = this.ledger.settledPrefix();
    if (!p) return;
    this.checkpointTo(p.rowid, p.count);
    this.o.onProgress?.(this.ledger.committed);
  }

  private async settle(): Promise<void> {
    const p = this.inflight;
    this.inflight = null;
    if (p) await p;
  }

  private async send(batch: Batch): Promise<void> {
    this.sending = true;
    try {
      const tickets = await this.delivery.deliver(batch.entries, batch.body);
      // Acknowledged batches may be sent again from their body until acknowledged; others are done with it.
      if (this.delivery.bodyDone && !this.window) this.writer.reuse(batch.body, batch.entries);
      const w = this.window;
      if (w) {
        await w.add(tickets);
        await w.poll();
        while (w.pending >= w.maxPending) {
          this.commit();
          await w.waitRound();
        }
      }
    } finally {
      this.sending = false;
      // On failure too: whatever prefix did settle is checkpointed before the error surfaces.
      this.commit();
    }
  }

  /** The entries batched so far, and their body. */
  private take(): Batch {
    const entries: SettledEntry[] = this.batcher.take();
    return { entries, body: this.writer.take(entries) };
  }

  /** Send everything batched so far. */
  private async flush(): Promise<void> {
    while (this.ready.length > 0) await this.ship(this.ready.shift()!);
    await this.ship(this.take());
  }

  private async ship(batch: Batch): Promise<void> {
    await this.settle();
    // After a stop the batch being filled is dropped unsent; it lies after the checkpoint, so it goes next start.
    if (batch.entries.length === 0 || this.stopping) return;
    this.ledger.push(batch.entries);
    const p = this.send(batch);
    // Failures surface at the next settle(); until then the rejection counts as handled.
    p.catch(() => undefined);
    this.inflight = p;
  }
}

/** Sleep, waking early when the run is asked to stop. */
export function pause(ms: number, stop?: AbortSignal): Promise<void> {
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
