/**
 * The flush-and-retry loop: one batch goes out, and comes back settled. Every entry ends delivered, awaiting an
 * indexer acknowledgement, or dead-lettered; anything else throws and leaves the checkpoint where it was.
 * A stop throws Stopped before the next attempt or out of a backoff wait, never in the middle of a request.
 */
import type { DeadLetterFile } from './dead-letter.js';
import { bodyOverhead, encode, type Entry } from './encoder.js';
import { ConfigurationError, ExportError } from '../shared/errors.js';
import type { OversizeRow } from '../registry/rows.js';
import { rowidFields, type LogFields } from '../shared/log.js';
import type { ExportMetrics, RequestOutcome } from '../service/metrics.js';
import { RetryBudget, Stopped, type RetryOptions } from './retry.js';
import type { Transport, Verdict } from '../transports/transport.js';

export interface DeliveryStats {
  delivered: number;
  deadLettered: number;
  /** Entries the SIEM already had (Elasticsearch 409 on a replayed `_id`). */
  duplicates: number;
  requests: number;
  retries: number;
  bytes: number;
}

/** Entries sent under one HEC ack id. */
export interface AckTicket {
  entries: Entry[];
  ackId: number;
  sentAt: number;
  /**
   * Set once the batch was sent again for want of an acknowledgement: every later resend and retry of it spends
   * this one budget, so a SIEM that takes batches and never confirms them cannot keep an export going forever.
   */
  budget?: RetryBudget;
}

/** An entry is settled once it is in the SIEM or in the dead-letter file. */
export type SettledEntry = Entry & { settled?: boolean };

export interface DeliveryHooks {
  /** Aborted: no new attempt starts and no backoff wait continues. */
  stop?: AbortSignal;
  metrics?: ExportMetrics | null;
  /** The flag that gives the dead-letter file, named when a refusal stops a run without one (replay's is another). */
  deadLetterFlag?: string;
}

const OUTCOMES: Record<Verdict['kind'], RequestOutcome> = {
  delivered: 'delivered', partial: 'partial', retry: 'retried', 'too-large': 'too-large', rejected: 'rejected', stop: 'stopped',
};

export class Delivery {
  readonly stats: DeliveryStats = { delivered: 0, deadLettered: 0, duplicates: 0, requests: 0, retries: 0, bytes: 0 };
  /**
   * The budget each entry has retried under since its first failed attempt. A RELP message can fail with its
   * batch, be handed back with a later attempt and then be lost when its connection ends: it comes back here on
   * its own and retries under the same budget, so no later loss of it starts the clock again.
   */
  private readonly budgets = new WeakMap<Entry, RetryBudget>();
  private retried = false;
  /**
   * The body the last `deliver` was given went out once and the SIEM took all of it (a 2xx, no acknowledgement to
   * wait for): the peer read every byte, so nothing can still be writing from it, and it may be filled again.
   */
  bodyDone = false;

  constructor(
    private readonly transport: Transport,
    private readonly retry: RetryOptions,
    private readonly deadLetter: DeadLetterFile | null,
    private readonly log: (message: string, fields?: LogFields) => void,
    private readonly hooks: DeliveryHooks = {},
  ) {}

  /**
   * Send `entries` until each is settled or awaiting acknowledgement; returns the ack tickets to wait for.
   * `written` is their body when it is already made (what `encode` would make of them); parts are encoded anew.
   * `spent` is the budget `entries` already retry under (a batch sent again for want of an acknowledgement);
   * without it, entries that failed before (a RELP message lost again) keep the budget of their first failure.
   */
  async deliver(entries: SettledEntry[], written?: Buffer, spent?: RetryBudget): Promise<AckTicket[]> {
    const tickets: AckTicket[] = [];
    const queue: SettledEntry[][] = [entries];
    const t = this.transport;
    let ready = written ?? null;
    let carried = spent ?? this.budgetOf(entries);
    this.bodyDone = false;
    let first = true;
    while (queue.length > 0) {
      let batch = queue.shift()!;
      // The body made for a batch goes again unchanged when the same batch is retried.
      let body = ready;
      ready = null;
      // Halves of a split batch start budgets of their own: each split is progress, and splits end.
      const shared = carried;
      carried = null;
      const budget = shared ?? new RetryBudget(this.retry, `${batch.length} event(s) for ${t.name}`);
      for (;;) {
        if (batch.length === 1 && batch[0]!.bytes + bodyOverhead(t.encoder) > t.hardMaxBytes) {
          this.reject(batch[0]!, 413, `record is ${batch[0]!.bytes} bytes; ${t.name} accepts at most ${t.hardMaxBytes} bytes per request`);
          break;
        }
        if (this.hooks.stop?.aborted) throw new Stopped();
        if (body === null) body = encode(t.encoder, batch);
        this.stats.requests++;
        this.stats.bytes += body.length;
        const started = performance.now();
        const v = await t.send(batch, body);
        const once = first;
        first = false;
        const m = this.hooks.metrics;
        m?.request(t.name, OUTCOMES[v.kind], (performance.now() - started) / 1000, batch.length, body.length);
        if (v.kind === 'delivered') {
          this.stats.duplicates += v.duplicates ?? 0;
          this.stats.delivered += batch.length;
          m?.delivered(batch.length);
          if (v.ackId === undefined) {
            for (const e of batch) e.settled = true;
            this.bodyDone = once && body === written;
          } else tickets.push({ entries: batch, ackId: v.ackId, sentAt: Date.now(), ...(shared ? { budget: shared } : {}) });
          break;
        }
        if (v.kind === 'partial') {
          this.stats.duplicates += v.duplicates ?? 0;
          const unsettled = new Set(v.retry);
          for (const r of v.rejected) unsettled.add(r.index);
          // Settle what arrived before dead-lettering, so a refusal without a dead-letter file still
          // checkpoints the events the SIEM took.
          let took = 0;
          batch.forEach((e, i) => {
            if (!unsettled.has(i)) {
              e.settled = true;
              took++;
            }
          });
          this.stats.delivered += took;
          m?.delivered(took);
          for (const r of v.rejected) this.reject(batch[r.index]!, r.status, r.error);
          const rest = [...new Set(v.retry)].map((i) => batch[i]).filter((e): e is SettledEntry => e !== undefined && !e.settled);
          if (rest.length === 0) break;
          // Entries come in unsettled, so any settled now is this round's progress, and the rest is smaller.
          const progressed = batch.some((e) => e.settled);
          batch = rest;
          body = null;
          // What the SIEM never looked at (HEC stops at the event it refuses) is not a failure: it goes again at
          // once and spends no budget. Every such round settles an event, so the rounds end.
          if (v.unexamined === true && progressed) continue;
          await this.again(budget, batch, v.reason, v.retryAfterMs);
          continue;
        }
        if (v.kind === 'retry') {
          await this.again(budget, batch, v.reason, v.retryAfterMs);
          continue;
        }
        if (v.kind === 'too-large' || v.kind === 'rejected') {
          const status = v.kind === 'too-large' ? 413 : v.status;
          if (batch.length === 1) {
            this.reject(batch[0]!, status, v.reason);
          } else {
            // Halve, keeping order, until the refused record stands alone.
            const mid = batch.length >> 1;
            queue.unshift(batch.slice(0, mid), batch.slice(mid));
          }
          break;
        }
        throw new ExportError(v.reason);
      }
    }
    return tickets;
  }

  /**
   * A chunk written whole (chunk-copy.ts), `count` records up to rowid `last`: sent as it is until the transport
   * took it, with the same retries as any batch. Nothing in it can be refused on its own: files refuse nothing,
   * and the formatting threads left out what a stream's receiver cannot take.
   */
  async deliverWhole(body: Buffer, count: number, last: number): Promise<void> {
    const t = this.transport;
    const fields: LogFields = { events: count, last_rowid: last };
    const budget = new RetryBudget(this.retry, `${count} event(s) for ${t.name}`);
    for (;;) {
      if (this.hooks.stop?.aborted) throw new Stopped();
      this.stats.requests++;
      this.stats.bytes += body.length;
      const started = performance.now();
      const v = await t.send([], body);
      this.hooks.metrics?.request(t.name, OUTCOMES[v.kind], (performance.now() - started) / 1000, count, body.length);
      if (v.kind === 'delivered') {
        this.stats.delivered += count;
        this.hooks.metrics?.delivered(count);
        return;
      }
      if (v.kind === 'retry') {
        await this.backoff(budget, fields, v.reason, v.retryAfterMs);
        continue;
      }
      throw new ExportError(v.kind === 'stop' ? v.reason : `${t.name} answered a whole chunk with '${v.kind}'`);
    }
  }

  /**
   * A batch whose acknowledgement cannot come (`reason` says why: not in time, or its ack id lost its meaning),
   * sent again: a retry like any other, logged and counted, under the batch's own budget, which every later
   * resend of it shares. It goes at once, as a wait already passed, unless `backoff` asks for one first. Throws
   * once that budget is spent, leaving the checkpoint before the batch.
   */
  async resend(ticket: AckTicket, reason: string, backoff = false): Promise<AckTicket[]> {
    const budget = ticket.budget ?? new RetryBudget(this.retry, `${ticket.entries.length} event(s) for ${this.transport.name}`);
    if (backoff) {
      await this.backoff(budget, rowidFields(ticket.entries), reason);
    } else {
      this.count();
      budget.spend(reason);
      this.say(budget, rowidFields(ticket.entries), reason, 0);
    }
    return this.deliver(ticket.entries, undefined, budget);
  }

  /** A failed attempt of `batch`: its entries retry under `budget` from now on, wherever they come back from. */
  private async again(budget: RetryBudget, batch: readonly Entry[], reason: string, retryAfterMs?: number): Promise<void> {
    this.retried = true;
    for (const e of batch) this.budgets.set(e, budget);
    await this.backoff(budget, rowidFields(batch), reason, retryAfterMs);
  }

  /** The budget that ends first among those `entries` already retried under: none of them outlasts its own. */
  private budgetOf(entries: readonly Entry[]): RetryBudget | null {
    if (!this.retried) return null;
    let first: RetryBudget | null = null;
    for (const e of entries) {
      const b = this.budgets.get(e);
      if (b && (!first || b.deadline < first.deadline)) first = b;
    }
    return first;
  }

  /** Wait before the next attempt, logging why; `fields` say which events wait (rowidFields). */
  private async backoff(budget: RetryBudget, fields: LogFields, reason: string, retryAfterMs?: number): Promise<void> {
    this.count();
    await budget.wait(reason, retryAfterMs, (ms) => this.say(budget, fields, reason, ms), this.hooks.stop);
  }

  private count(): void {
    this.stats.retries++;
    this.hooks.metrics?.retried(this.transport.name);
  }

  /** The line for one retry, with the events it is for, `ms` before it starts. */
  private say(budget: RetryBudget, fields: LogFields, reason: string, ms: number): void {
    const status = /\bHTTP (\d{3})\b/.exec(reason)?.[1];
    this.log(`retrying in ${(ms / 1000).toFixed(1)}s: ${reason}`, {
      transport: this.transport.name, attempt: budget.attempts, delay_ms: ms, status: status ? Number(status) : undefined, ...fields,
    });
  }

  /**
   * A registry row too large to format, in place of its record: dead-lettered with the reason (status 413, no
   * record) and counted, or, without a dead-letter file, the export stops with one line naming it and the fix.
   * That stop is exit 2: a restart meets the same row again, so only a new setting gets past it.
   */
  setAside(entry: SettledEntry, row: OversizeRow): void {
    if (!this.deadLetter) throw new ConfigurationError(row.stop);
    this.deadLetter.writeUnformatted(entry, 413, row.reason);
    entry.settled = true;
    this.stats.deadLettered++;
    this.hooks.metrics?.deadLettered(1);
  }

  /** A record the SIEM refused: dead-lettered with the reason, or, without a dead-letter file, the export stops naming it. */
  reject(entry: SettledEntry, status: number, error: string): void {
    if (!this.deadLetter) {
      throw new ExportError(
        `${this.transport.name} refused event ${entry.event_id} (HTTP ${status}): ${error}; ` +
          `pass ${this.hooks.deadLetterFlag ?? '--dead-letter'} FILE to set refused events aside and keep going`,
      );
    }
    this.deadLetter.write(entry, status, error);
    entry.settled = true;
    this.stats.deadLettered++;
    this.hooks.metrics?.deadLettered(1);
  }
}
