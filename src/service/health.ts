/**
 * Is the exporter keeping up? Stalled means events are waiting and no SIEM has taken a request for longer
 * than --health-stall. The clock starts at the later of the last delivery and the moment events started
 * waiting, so a quiet registry that gets its first event in an hour is not called stalled the instant it
 * arrives.
 */
import type { ExportMetrics } from './metrics.js';

export interface HealthReport {
  status: 'ok' | 'stalled';
  reason?: string;
  backlog_events: number | null;
  checkpoint_rowid: number;
  registry_newest_rowid: number | null;
  oldest_undelivered_event_age_seconds: number | null;
  last_delivery: string | null;
  stall_after_seconds: number;
}

export class Health {
  /** First time a health check saw a backlog the pipeline had not read yet. */
  private backlogSeenAt: number | null = null;

  constructor(private readonly metrics: ExportMetrics, private readonly stallMs: number) {}

  check(now = Date.now()): { code: 200 | 503; report: HealthReport } {
    const m = this.metrics;
    const b = m.refresh(now);
    const waiting = b ? b.events > 0 : m.busySince !== null;
    if (!waiting) this.backlogSeenAt = null;
    else if (this.backlogSeenAt === null) this.backlogSeenAt = now;
    const report: HealthReport = {
      status: 'ok',
      backlog_events: b ? b.events : null,
      checkpoint_rowid: m.checkpointRowid,
      registry_newest_rowid: b ? b.newestRowid : null,
      oldest_undelivered_event_age_seconds: b && b.oldestTimestamp !== null ? Math.max(0, Math.round(now / 1000 - b.oldestTimestamp)) : null,
      last_delivery: m.lastDeliveryAt === null ? null : new Date(m.lastDeliveryAt).toISOString(),
      stall_after_seconds: this.stallMs / 1000,
    };
    if (waiting) {
      const since = Math.max(m.lastDeliveryAt ?? m.startedAt, m.busySince ?? this.backlogSeenAt ?? now);
      const idle = now - since;
      if (idle > this.stallMs) {
        report.status = 'stalled';
        report.reason =
          `${b ? b.events : 'some'} event(s) waiting and no delivery for ${Math.round(idle / 1000)}s ` +
          `(more than --health-stall ${this.stallMs / 1000}s)`;
        return { code: 503, report };
      }
    }
    return { code: 200, report };
  }
}
