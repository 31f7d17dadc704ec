/**
 * What the export has done, as Prometheus metrics on a registry of its own (a library caller's global
 * registry is never touched). The pipeline and delivery feed it; it knows nothing of HTTP. Gauges about the
 * registry (newest rowid, backlog, age of the oldest undelivered event) are read from it when scraped, so they
 * are right even while delivery is stuck, but at most once per BACKLOG_MIN_AGE_MS, about 2% of the time for a
 * slow count and once a minute for a read held up by a lock: counting a large backlog, or waiting on a locked
 * registry, must not slow the export however often the endpoint is polled.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

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
  readonly registry = new Registry();
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
  private readonly backlogProbes: Counter;

  private readonly eventsRead: Counter;
  private readonly eventsDelivered: Counter;
  private readonly eventsDeadLettered: Counter;
  private readonly requests: Counter<'transport' | 'outcome'>;
  private readonly retries: Counter<'transport'>;
  private readonly checkpointGauge: Gauge;
  private readonly newestGauge: Gauge;
  private readonly backlogGauge: Gauge;
  private readonly oldestAgeGauge: Gauge;
  private readonly lastDeliveryGauge: Gauge;
  private readonly acksGauge: Gauge;
  // No transport label on histograms: one process delivers to one destination, and the counters carry it.
  private readonly duration: Histogram;
  private readonly batchEvents: Histogram;
  private readonly batchBytes: Histogram;

  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.eventsRead = new Counter({ name: 'oversight_events_read_total', help: 'Events read from the registry and formatted.', registers });
    this.eventsDelivered = new Counter({ name: 'oversight_events_delivered_total', help: 'Events a SIEM accepted.', registers });
    this.eventsDeadLettered = new Counter({
      name: 'oversight_events_dead_lettered_total', help: 'Events a SIEM refused for good, written to the dead-letter file.', registers,
    });
    this.requests = new Counter({
      name: 'oversight_requests_total', help: 'Delivery requests by transport and outcome.', labelNames: ['transport', 'outcome'], registers,
    });
    this.retries = new Counter({ name: 'oversight_retries_total', help: 'Backoff waits before sending a batch again.', labelNames: ['transport'], registers });
    this.checkpointGauge = new Gauge({ name: 'oversight_checkpoint_rowid', help: 'Rowid of the last event settled and checkpointed.', registers });
    this.newestGauge = new Gauge({ name: 'oversight_registry_newest_rowid', help: 'Largest rowid in the registry events table.', registers });
    this.backlogGauge = new Gauge({ name: 'oversight_backlog_events', help: 'Events in the registry after the checkpoint.', registers });
    this.oldestAgeGauge = new Gauge({
      name: 'oversight_oldest_undelivered_event_age_seconds', help: 'Age of the oldest event not yet delivered (0 when none).', registers,
    });
    this.lastDeliveryGauge = new Gauge({
      name: 'oversight_last_delivery_timestamp_seconds', help: 'Unix time of the last request a SIEM accepted (0: none yet).', registers,
    });
    this.acksGauge = new Gauge({ name: 'oversight_splunk_acks_pending', help: 'Splunk HEC batches awaiting indexer acknowledgement.', registers });
    this.duration = new Histogram({
      name: 'oversight_request_duration_seconds', help: 'Time from sending a request to its answer.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers,
    });
    this.batchEvents = new Histogram({
      name: 'oversight_batch_events', help: 'Events per request.',
      buckets: [1, 10, 50, 100, 500, 1000, 5000, 10000], registers,
    });
    this.batchBytes = new Histogram({
      name: 'oversight_batch_bytes', help: 'Uncompressed body bytes per request.',
      buckets: [1e3, 1e4, 1e5, 5e5, 1e6, 5e6, 1e7, 3e7], registers,
    });
    this.backlogProbes = new Counter({
      name: 'oversight_backlog_reads_total', help: 'Times the registry was read for the backlog gauges (cached between reads).', registers,
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Where backlog gauges come from: the registry, asked at scrape time. */
  watchBacklog(probe: (afterRowid: number) => Backlog): void {
    this.backlogProbe = probe;
  }

  read(events: number): void {
    if (events <= 0) return;
    this.eventsRead.inc(events);
    if (this.inPipeline === 0) this.busySince = Date.now();
    this.inPipeline += events;
  }

  request(transport: string, outcome: RequestOutcome, seconds: number, events: number, bytes: number): void {
    this.requests.inc({ transport, outcome });
    this.duration.observe(seconds);
    this.batchEvents.observe(events);
    this.batchBytes.observe(bytes);
  }

  delivered(events: number): void {
    this.lastDeliveryAt = Date.now();
    this.lastDeliveryGauge.set(Math.floor(this.lastDeliveryAt / 1000));
    if (events > 0) this.eventsDelivered.inc(events);
  }

  deadLettered(events: number): void {
    this.eventsDeadLettered.inc(events);
  }

  retried(transport: string): void {
    this.retries.inc({ transport });
  }

  /** The checkpoint moved over `events` settled events ending at `rowid`. */
  committed(rowid: number, events: number): void {
    this.checkpointRowid = rowid;
    this.checkpointGauge.set(rowid);
    this.settledTotal += events;
    this.inPipeline = Math.max(0, this.inPipeline - events);
    if (this.inPipeline === 0) this.busySince = null;
  }

  acksPending(n: number): void {
    this.acksGauge.set(n);
  }

  /** Update the registry gauges (from figures read at most as often as said above); null when nothing watches the registry. */
  refresh(now = Date.now()): Backlog | null {
    if (!this.backlogProbe) return null;
    const b = this.backlog(now);
    this.newestGauge.set(b.newestRowid);
    this.backlogGauge.set(b.events);
    this.oldestAgeGauge.set(b.oldestTimestamp === null ? 0 : Math.max(0, now / 1000 - b.oldestTimestamp));
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
    this.backlogProbes.inc();
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
