/**
 * RELP messages written and not yet answered, across batches: which batch (ticket) and entry each transaction
 * number stands for, what each ticket has had answered or lost since it was last asked, and the one clock
 * that fails a connection whose oldest unanswered message has waited --timeout for its answer (counted from
 * the answer to the message before it, or from its sending after a quiet spell). Only an answer to the oldest
 * message restarts the clock: a receiver that answers the messages after one and never that one cannot keep
 * it travelling, and the checkpoint waiting before it, for as long as the export runs.
 */
import type { Entry } from '../../pipeline/encoder.js';

export interface Ticket {
  readonly id: number;
  readonly entries: readonly Entry[];
  /** Written on this connection and not answered yet. */
  open: number;
  /** Indices answered `200`, not yet reported. */
  answered: number[];
  /** Indices refused, or unanswered when the connection ended, not yet reported. */
  lost: number[];
  reason: string | null;
}

interface Slot {
  ticket: Ticket;
  index: number;
}

export class InFlight {
  private readonly slots = new Map<number, Slot>();
  /** Transaction numbers in the order they were sent; those before `head` were answered or lost. */
  private order: number[] = [];
  private head = 0;
  private readonly tickets = new Map<number, Ticket>();
  private lastId = 0;
  private waiters: (() => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private lastProgress = 0;
  private progressed = false;
  /** Why the connection ended, until a new one opens. */
  broken: string | null = null;

  constructor(private readonly where: string, private readonly timeoutMs: number, private readonly onTimeout: () => void) {}

  /** Messages travelling unanswered. */
  get size(): number {
    return this.slots.size;
  }

  ticket(entries: readonly Entry[]): Ticket {
    const t: Ticket = { id: ++this.lastId, entries, open: 0, answered: [], lost: [], reason: null };
    this.tickets.set(t.id, t);
    return t;
  }

  sent(txnr: number, ticket: Ticket, index: number): void {
    if (this.slots.size === 0) this.lastProgress = Date.now();
    this.slots.set(txnr, { ticket, index });
    this.order.push(txnr);
    ticket.open++;
    if (this.timer === null) this.arm();
  }

  /** An `rsp` for a message of ours: false when the number is not one (the answer to `open` or `close`). */
  answer(txnr: number, ok: boolean): boolean {
    const slot = this.slots.get(txnr);
    if (!slot) return false;
    const oldest = this.oldest();
    this.slots.delete(txnr);
    const t = slot.ticket;
    t.open--;
    (ok ? t.answered : t.lost).push(slot.index);
    if (txnr === oldest) this.progressed = true;
    return true;
  }

  /** The transaction number of the oldest message still travelling unanswered. */
  private oldest(): number | undefined {
    while (this.head < this.order.length && !this.slots.has(this.order[this.head]!)) this.head++;
    if (this.head > 4096 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    return this.order[this.head];
  }

  /** After a read that held whole answers: the clock restarts and whoever waits looks again. */
  notify(): void {
    if (this.progressed) {
      this.lastProgress = Date.now();
      this.progressed = false;
    }
    const w = this.waiters;
    if (w.length === 0) return;
    this.waiters = [];
    for (const wake of w) wake();
  }

  /** The connection ended: every unanswered message is lost, to be sent again on a new one. */
  fail(reason: string): void {
    this.broken ??= reason;
    for (const { ticket, index } of this.slots.values()) {
      ticket.open--;
      ticket.lost.push(index);
      ticket.reason = this.broken;
    }
    this.slots.clear();
    this.order = [];
    this.head = 0;
    this.stop();
    this.notify();
  }

  /** A new session: whatever the last one left unanswered is lost (its numbers start over), nothing travels yet. */
  reset(): void {
    if (this.slots.size > 0) this.fail(this.broken ?? 'the session ended with messages unanswered');
    this.broken = null;
  }

  /** Resolves at the next answer or failure; at once when nothing travels. */
  next(): Promise<void> {
    if (this.slots.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves at the next read or failure, or at `deadline` (for the answers to `open` and `close`). */
  change(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  peek(id: number): { open: number; lost: number } {
    const t = this.tickets.get(id);
    return { open: t?.open ?? 0, lost: t?.lost.length ?? 0 };
  }

  /** Answered and lost entries since the last call; a ticket with nothing travelling is forgotten. */
  progress(id: number): { answered: Entry[]; lost: Entry[]; open: number; reason: string } {
    const t = this.tickets.get(id);
    if (!t) return { answered: [], lost: [], open: 0, reason: '' };
    const answered = t.answered.map((i) => t.entries[i]!);
    const lost = t.lost.sort((a, b) => a - b).map((i) => t.entries[i]!);
    t.answered = [];
    t.lost = [];
    if (t.open === 0) this.tickets.delete(id);
    return { answered, lost, open: t.open, reason: t.reason ?? this.refused(lost.length) };
  }

  /** Why messages answered with anything but `200` go again. */
  refused(n: number): string {
    return `${this.where} refused ${n} message(s)`;
  }

  /** Whether every message of the ticket was answered `200` (reported or not). */
  settled(id: number): boolean {
    const t = this.tickets.get(id);
    return !t || (t.open === 0 && t.lost.length === 0);
  }

  /** Forget a ticket whose verdict is given at once: the indices to send again. */
  close(id: number): number[] {
    const t = this.tickets.get(id);
    this.tickets.delete(id);
    return t ? t.lost.sort((a, b) => a - b) : [];
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.slots.size === 0) return;
      if (Date.now() - this.lastProgress >= this.timeoutMs) this.onTimeout();
      else this.arm();
    }, Math.max(1, this.lastProgress + this.timeoutMs - Date.now()));
    // Waiting for answers is what keeps the export alive, not this clock.
    this.timer.unref();
  }
}
