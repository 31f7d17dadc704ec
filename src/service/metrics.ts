/**
 * What the export has done: the checkpoint, the last delivery and what is in flight (health and the stop
 * report read these), and, when asked for, Prometheus metrics (prometheus.ts). The pipeline and delivery feed
 * it; it knows nothing of HTTP. Gauges about the
 * registry (newest rowid, backlog, age of the oldest undelivered event) are read from it when scraped, so they
 * are right even while delivery is stuck, but at most once per BACKLOG_MIN_AGE_MS, about 2% of the time for a
 * slow count and once a minute for a read held up by a lock: counting a large backlog, or waiting on a locked
 * registry, must not slow the export however often the endpoint is polled.
 */
import type { Registry } from 'prom-client';
import type { Prometheus } from './prometheus.js';

/** How one request ended; `stopped` is an answer that stops the export (credentials, configuration). */
export type RequestOutcome = 'delivered' | 'partial' | 'retried' | 'too-large' | 'rejected' | 'stopped';

/** The registry seen from the checkpoint: what is still to deliver. */
export interface Backlog {
  newestRowid: number;
  /** Events after the checkpoint that the export will deliver. */
  events: number;
  /** Unix seconds of the oldest of them, or null when there are none (or it has no timestamp). */
  oldestTimestamp: number | null;
}

/** Backlog figures are reused for at least this long. */
export const BACKLOG_MIN_AGE_MS = 1000;
/** …and for at least this many times as long as reading them took (a 150 ms count is reused for 7.5 s)… */
const BACKLOG_COST_FACTOR = 50;
/** …but never longer than this. */
const BACKLOG_MAX_AGE_MS = 60_000;

export class ExportMetrics {
  /** When the export started and when a SIEM last took a request; health reads both. */
  readonly startedAt = Date.now();
  lastDeliveryAt: number | null = null;
  checkpointRowid = 0;
  /** Since when events have been read and not yet settled (null: the pipeline holds none). */
  busySince: number | null = null;
  private inPipeline = 0;
  private backlogProbe: ((afterRowid: number) => Backlog) | null = null;
  /** The last figures read (or the error reading them gave), when, and until when they are reused. */
  private cached: { at: number; until: number; settled: number; backlog?: Backlog; error?: unknown } | null = null;
  /** Events settled since the start, to age cached backlog figures between reads. */
  private settledTotal = 0;
  /**
   * The Prometheus metrics, made only when something reads them (--metrics-listen, --verify-every): a plain
   * export does not load prom-client at all, which keeps its start-up shorter and its heap smaller.
   */
  readonly prometheus: Prometheus | null;

  constructor(options: { prometheus?: Prometheus | null } = {}) {
    this.prometheus = options.prometheus ?? null;
  }

  /** The Prometheus registry the metrics are on. */
  get registry(): Registry {
    if (!this.prometheus) throw new Error('this export keeps no Prometheus metrics: pass { prometheus } to ExportMetrics');
    return this.prometheus.registry;
  }

  /** Where backlog gauges come from: the registry, asked at scrape time. */
  watchBacklog(probe: (afterRowid: number) => Backlog): void {
    this.backlogProbe = probe;
  }

  read(events: number): void {
    if (events <= 0) return;
    this.prometheus?.eventsRead.inc(events);
    if (this.inPipeline === 0) this.busySince = Date.now();
    this.inPipeline += events;
  }

  request(transport: string, outcome: RequestOutcome, seconds: number, events: number, bytes: number): void {
    const p = this.prometheus;
    if (!p) return;
    p.requests.inc({ transport, outcome });
    p.duration.observe(seconds);
    p.batchEvents.observe(events);
    p.batchBytes.observe(bytes);
  }

  delivered(events: number): void {
    this.lastDeliveryAt = Date.now();
    this.prometheus?.lastDelivery.set(Math.floor(this.lastDeliveryAt / 1000));
    if (events > 0) this.prometheus?.eventsDelivered.inc(events);
  }

  deadLettered(events: number): void {
    this.prometheus?.eventsDeadLettered.inc(events);
  }

  retried(transport: string): void {
    this.prometheus?.retries.inc({ transport });
  }

  /** The checkpoint moved over `events` settled events ending at `rowid`. */
  committed(rowid: number, events: number): void {
    this.checkpointRowid = rowid;
    this.prometheus?.checkpoint.set(rowid);
    this.settledTotal += events;
    this.inPipeline = Math.max(0, this.inPipeline - events);
    if (this.inPipeline === 0) this.busySince = null;
  }

  acksPending(n: number): void {
    this.prometheus?.acks.set(n);
  }

  /** Update the registry gauges (from figures read at most as often as said above); null when nothing watches the registry. */
  refresh(now = Date.now()): Backlog | null {
    if (!this.backlogProbe) return null;
    const b = this.backlog(now);
    const p = this.prometheus;
    p?.newest.set(b.newestRowid);
    p?.backlog.set(b.events);
    p?.oldestAge.set(b.oldestTimestamp === null ? 0 : Math.max(0, now / 1000 - b.oldestTimestamp));
    return b;
  }

  /** The figures last read while they are fresh, else read now; a read that failed fails again until then. */
  private backlog(now: number): Backlog {
    const c = this.cached;
    if (c && now >= c.at && now < c.until) {
      if (c.error !== undefined) throw c.error;
      // What was settled since the read is no longer waiting; rows written since show at the next read.
      const events = Math.max(0, c.backlog!.events - (this.settledTotal - c.settled));
      return events === c.backlog!.events ? c.backlog! : { ...c.backlog!, events, oldestTimestamp: events === 0 ? null : c.backlog!.oldestTimestamp };
    }
    const started = performance.now();
    try {
      const b = this.backlogProbe!(this.checkpointRowid);
      this.remember(now, started, { backlog: b });
      return b;
    } catch (err) {
      this.remember(now, started, { error: err });
      throw err;
    }
  }

  private remember(now: number, started: number, what: { backlog?: Backlog; error?: unknown }): void {
    this.prometheus?.backlogProbes.inc();
    const took = performance.now() - started;
    const keep = Math.min(BACKLOG_MAX_AGE_MS, Math.max(BACKLOG_MIN_AGE_MS, took * BACKLOG_COST_FACTOR));
    this.cached = { at: now, until: now + keep, settled: this.settledTotal, ...what };
  }

  /** The Prometheus text exposition, registry gauges read just before. */
  async exposition(): Promise<string> {
    this.refresh();
    return this.registry.metrics();
  }
}
