/**
 * Splunk indexer acknowledgement: batches sent but not yet known to be indexed. Polls the SIEM for their ack
 * ids, settles the ones it confirms, and sends again any batch whose acknowledgement has not come in time.
 * After a stop no poll starts: batches still unconfirmed stay after the checkpoint and go again next start.
 */
import type { AckTicket, Delivery } from './delivery.js';
import type { ExportMetrics } from '../service/metrics.js';
import { sleep } from './retry.js';
import type { AckSource } from '../transports/transport.js';

export class AckWindow {
  private tickets: AckTicket[] = [];
  private lastPoll = 0;

  constructor(
    private readonly acks: AckSource,
    private readonly delivery: Delivery,
    readonly maxPending = 256,
    private readonly hooks: { stop?: AbortSignal; metrics?: ExportMetrics | null } = {},
  ) {}

  get pending(): number {
    return this.tickets.length;
  }

  add(tickets: AckTicket[]): void {
    this.tickets.push(...tickets);
    this.hooks.metrics?.acksPending(this.tickets.length);
  }

  /** Poll if the interval has passed (or `force`), settle what is indexed, resend what timed out. */
  async poll(force = false): Promise<void> {
    if (this.tickets.length === 0 || this.hooks.stop?.aborted) return;
    if (!force && Date.now() - this.lastPoll < this.acks.pollIntervalMs) return;
    this.lastPoll = Date.now();
    const status = await this.acks.query(this.tickets.map((t) => t.ackId));
    const still: AckTicket[] = [];
    for (const t of this.tickets) {
      if (status.get(t.ackId) === true) {
        for (const e of t.entries) (e as { settled?: boolean }).settled = true;
      } else if (Date.now() - t.sentAt > this.acks.timeoutMs) {
        // "false" only means unknown: after the timeout the batch is sent again, as Splunk recommends.
        still.push(...(await this.delivery.deliver(t.entries)));
      } else {
        still.push(t);
      }
    }
    this.tickets = still;
    this.hooks.metrics?.acksPending(still.length);
  }

  /** One polling round at the SIEM's pace. */
  async waitRound(): Promise<void> {
    await sleep(this.acks.pollIntervalMs, this.hooks.stop);
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
