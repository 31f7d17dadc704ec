/**
 * Every default of the shared options, once, as the user would type it. The option specs (config/options.ts),
 * the library entry points and the help all read them from here; formats and transports state their own
 * defaults once, in their own files.
 */
export const DEFAULTS = {
  /** stdout. */
  output: '-',
  transport: 'auto',
  /** How long one batch may be retried before the export gives up (exit 1, checkpoint before it). */
  retryMaxDuration: '5m',
  /** One request, and any wait on a peer (a socket write, an answer). */
  timeout: '30s',
  threads: 'auto',
  pollInterval: '250ms',
  flushInterval: '500ms',
  /** Under systemd's TimeoutStopSec (15 s in the unit) with room to write the checkpoint. */
  shutdownTimeout: '10s',
  healthStall: '5m',
  logFormat: 'text',
  /** The format a library caller gets when neither it nor the transport names one. */
  format: 'ecs',
  demo: { events: '300', seed: '2026', format: 'splunk' },
} as const;

/** The most events a demo registry holds: about 3 GB on disk, more than a trial or a load test needs. */
export const DEMO_MAX_EVENTS = 10_000_000;
