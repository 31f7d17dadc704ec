/**
 * The export's Prometheus metrics, on a registry of their own (a library caller's global registry is never
 * touched). `ExportMetrics` feeds them; this file is loaded only when something serves or reads them.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export class Prometheus {
  readonly registry = new Registry();
  readonly eventsRead: Counter;
  readonly eventsDelivered: Counter;
  readonly eventsDeadLettered: Counter;
  readonly requests: Counter<'transport' | 'outcome'>;
  readonly retries: Counter<'transport'>;
  readonly checkpoint: Gauge;
  readonly newest: Gauge;
  readonly backlog: Gauge;
  readonly oldestAge: Gauge;
  readonly lastDelivery: Gauge;
  readonly acks: Gauge;
  // No transport label on histograms: one process delivers to one destination, and the counters carry it.
  readonly duration: Histogram;
  readonly batchEvents: Histogram;
  readonly batchBytes: Histogram;
  readonly backlogProbes: Counter;

  /** `processMetrics`: also the process's own (CPU, memory, event loop lag), as a service exposes them. */
  constructor(processMetrics = true) {
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
    this.checkpoint = new Gauge({ name: 'oversight_checkpoint_rowid', help: 'Rowid of the last event settled and checkpointed.', registers });
    this.newest = new Gauge({ name: 'oversight_registry_newest_rowid', help: 'Largest rowid in the registry events table.', registers });
    this.backlog = new Gauge({ name: 'oversight_backlog_events', help: 'Events in the registry after the checkpoint.', registers });
    this.oldestAge = new Gauge({
      name: 'oversight_oldest_undelivered_event_age_seconds', help: 'Age of the oldest event not yet delivered (0 when none).', registers,
    });
    this.lastDelivery = new Gauge({
      name: 'oversight_last_delivery_timestamp_seconds', help: 'Unix time of the last request a SIEM accepted (0: none yet).', registers,
    });
    this.acks = new Gauge({ name: 'oversight_splunk_acks_pending', help: 'Splunk HEC batches awaiting indexer acknowledgement.', registers });
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
    if (processMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
