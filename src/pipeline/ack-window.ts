/**
 * Batches sent but not yet acknowledged. Splunk's indexer acknowledgement is polled: the window asks the SIEM
 * for its ack ids, settles the ones it confirms, and sends again any batch whose acknowledgement has not come
 * in time, as a retry: all resends of a batch share one --retry-max-duration budget, after which the export
 * fails. Pending ack ids are kept distinct (`admit`), so one confirmation never settles two batches. After a
 * stop no poll starts, and batches still unconfirmed go again next start. RELP's answers come by themselves on
 * the connection (`StreamAcks`): each message settles as its answer arrives, and the window waits on answers
 * rather than on a clock.
 */
import type { AckTicket, Delivery } from './delivery.js';
import type { Entry } from './encoder.js';
import type { ExportMetrics } from '../service/metrics.js';
import type { LogFields } from '../shared/log.js';
import { sleep } from './retry.js';
import type { AckSource } from '../transports/transport.js';

/** What a stream has learnt of one ticket since it was last asked. */
export interface StreamProgress {
  /** Taken by the receiver: settled now. */
  answered: readonly Entry[];
  /** Refused, or unanswered when the connection ended: sent again now, through the delivery loop. */
  lost: readonly Entry[];
  /** Messages of the ticket still travelling unanswered. */
  open: number;
}

/** Acknowledgements that arrive on the connection itself, one per message (RELP). */
export interface StreamAcks extends AckSource {
  readonly stream: true;
  /**
   * Resolves at the next answer or failure, at once when nothing travels unanswered; never rejects. The
   * transport bounds it: a receiver that stops answering fails the connection after --timeout.
   */
  next(): Promise<void>;
  /** Answered and lost entries of the ticket since the last call; a ticket with nothing open is forgotten. */
  progress(ackId: number): StreamProgress;
}

const isStream = (a: AckSource): a is StreamAcks => (a as Partial<StreamAcks>).stream === true;

export class AckWindow {
  private tickets: AckTicket[] = [];
  private lastPoll = 0;
  private readonly stream: StreamAcks | null;
  private taking: Promise<void> | null = null;

  constructor(
    private readonly acks: AckSource,
    private readonly delivery: Delivery,
    readonly maxPending = 256,
    private readonly hooks: { stop?: AbortSignal; metrics?: ExportMetrics | null; warn?: (message: string, fields?: LogFields) => void } = {},
  ) {
    this.stream = isStream(acks) ? acks : null;
  }

  get pending(): number {
    return this.tickets.length;
  }

  /** Tickets of batches just sent, in the order they went; may send older batches again (`admit`). */
  async add(tickets: AckTicket[]): Promise<void> {
    if (this.stream) this.tickets.push(...tickets);
    else await this.inTurn(() => this.admit(tickets));
    this.gauge();
  }

  /**
   * Splunk's admissions and polls one at a time, in the order they were asked for. A poll's answer is about the
   * ack ids it asked for; a batch admitted while that answer is on its way (a follower's idle poll beside the
   * poll after a send) may hold the same id under a numbering HEC started again, and would be settled by it.
   */
  private turn: Promise<void> = Promise.resolve();
  private inTurn(work: () => Promise<void>): Promise<void> {
    const run = this.turn.then(work);
    this.turn = run.catch(() => undefined);
    return run;
  }

  /**
   * Take tickets in the order their batches went, keeping every pending ack id distinct. Splunk numbers a
   * channel's ack ids upwards from 0 and keeps them in memory only, so an id that is not above every one pending
   * means the numbering started again: HEC restarted (dropping what it had not indexed), or a load balancer
   * without sticky sessions took the channel to another indexer. A `true` for that id then says nothing of the
   * batches sent before it, and settling them on it would checkpoint events that may never have been indexed.
   * They go again, as after an acknowledgement timeout: each resend is a retry under the batch's one
   * --retry-max-duration budget. A fresh channel would not spare the resends: those batches' statuses went with
   * the old numbering (or live on an indexer the channel no longer reaches), so they are unknowable on any
   * channel; and their resends, given ids after the new one, keep the ids on this channel distinct.
   */
  private async admit(incoming: AckTicket[]): Promise<void> {
    const queue = [...incoming];
    for (let t = queue.shift(); t; t = queue.shift()) {
      const before = this.tickets;
      let top = -Infinity;
      for (const b of before) top = Math.max(top, b.ackId);
      if (t.ackId > top) {
        before.push(t);
        continue;
      }
      this.tickets = [t];
      const events = before.reduce((n, b) => n + b.entries.length, 0);
      this.hooks.warn?.(
        `Splunk HEC gave ack id ${t.ackId} to a batch while ${before.length} batch(es) sent before it still wait on ack ids up to ${top}: ` +
          'its ack ids started again (HEC restarted, or a load balancer without sticky sessions moved the channel), so those batches go again',
        { ack_id: t.ackId, batches: before.length, events },
      );
      const reason = (b: AckTicket): string =>
        `ack id ${b.ackId} can no longer be confirmed: Splunk HEC's ack ids started again (ack id ${t.ackId} went to a later batch;` +
        ' a load balancer in front of HEC needs sticky sessions for --splunk-ack)';
      // After a restart one round of resends is enough, and goes at once. A batch sent again before waits a
      // backoff first: ids that keep stepping back (a server that reuses them, a channel spread over indexers)
      // must not become a flood of copies before the budget runs out. The resends come back through this loop,
      // after any tickets that went before them.
      for (const b of before) queue.push(...(await this.delivery.resend(b, reason(b), b.budget !== undefined)));
    }
  }

  /** The pending gauge counts Splunk batches; RELP's answers are too quick and too many to be worth one. */
  private gauge(): void {
    if (!this.stream) this.hooks.metrics?.acksPending(this.tickets.length);
  }

  /** Poll if the interval has passed (or `force`), settle what is indexed, resend what timed out. */
  async poll(force = false): Promise<void> {
    if (this.stream) return this.take(this.stream);
    return this.inTurn(() => this.pollOnce(force));
  }

  private async pollOnce(force: boolean): Promise<void> {
    if (this.tickets.length === 0 || this.hooks.stop?.aborted) return;
    if (!force && Date.now() - this.lastPoll < this.acks.pollIntervalMs) return;
    this.lastPoll = Date.now();
    const status = await this.acks.query(this.tickets.map((t) => t.ackId));
    const still: AckTicket[] = [];
    const late: AckTicket[] = [];
    for (const t of this.tickets) {
      if (status.get(t.ackId) === true) {
        for (const e of t.entries) (e as { settled?: boolean }).settled = true;
      } else if (Date.now() - t.sentAt > this.acks.timeoutMs) {
        late.push(t);
      } else {
        still.push(t);
      }
    }
    this.tickets = still;
    for (const t of late) {
      // "false" only means unknown: after the timeout the batch is sent again, as Splunk recommends, under one
      // retry budget for all its resends. Its new ack id is checked like any other: HEC may have restarted.
      const reason = `no indexer acknowledgement for ack id ${t.ackId} within ${this.acks.timeoutMs / 1000}s (--splunk-ack-timeout)`;
      await this.admit(await this.delivery.resend(t, reason));
    }
    this.gauge();
  }

  /**
   * Settle what the stream has answered, even after a stop (the answers are here already: a stop lets the
   * messages in flight finish). Lost messages go again through the delivery loop, which backs off, counts
   * them against the retry budget of their first failure (or a new one) and throws Stopped once the run is asked
   * to stop.
   */
  private take(s: StreamAcks): Promise<void> {
    // One look at a time (a follower's idle poll can meet the one after a batch); tickets added meanwhile wait.
    this.taking ??= this.takeOnce(s).finally(() => (this.taking = null));
    return this.taking;
  }

  private async takeOnce(s: StreamAcks): Promise<void> {
    const mine = this.tickets;
    this.tickets = [];
    const still: AckTicket[] = [];
    let i = 0;
    try {
      for (; i < mine.length; i++) {
        const t = mine[i]!;
        const p = s.progress(t.ackId);
        for (const e of p.answered) (e as { settled?: boolean }).settled = true;
        if (p.open > 0) still.push(t);
        if (p.lost.length > 0) still.push(...(await this.delivery.deliver([...p.lost])));
      }
    } finally {
      // A failed resend (or a stop) keeps the tickets not looked at, in order, before any added meanwhile.
      this.tickets = [...still, ...mine.slice(i + 1), ...this.tickets];
    }
  }

  /**
   * The end of a run cut short (a stop, a failure): settle what the stream has answered since it was last asked,
   * and send nothing again. Lost messages stay unsettled, after the checkpoint, and go again next start.
   */
  settleAnswered(): void {
    const s = this.stream;
    if (!s) return;
    const still: AckTicket[] = [];
    for (const t of this.tickets) {
      const p = s.progress(t.ackId);
      for (const e of p.answered) (e as { settled?: boolean }).settled = true;
      if (p.open > 0) still.push(t);
    }
    this.tickets = still;
  }

  /** One polling round at the SIEM's pace, or, for a stream, until its next answer. */
  async waitRound(): Promise<void> {
    if (this.stream) await this.stream.next();
    else await sleep(this.acks.pollIntervalMs, this.hooks.stop);
    await this.poll(true);
  }

  /** Wait until every ticket is settled. */
  async drain(onProgress: () => void): Promise<void> {
    while (this.tickets.length > 0) {
      await this.waitRound();
      onProgress();
    }
  }
}
