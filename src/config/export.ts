/** The configuration of `siem export`, built purely from option values (see delivery.ts). */
import { ConfigurationError } from '../shared/errors.js';
import { withDefaults, type FlagValues } from '../shared/options.js';
import { formatByName, type FormatSettings } from '../records/formats/index.js';
import { parsePrivacy, type PrivacyPlan } from '../records/pseudonymize.js';
import { DEFAULT_MAX_ROW_BYTES } from '../registry/rows.js';
import { deliveryConfig, type DeliveryConfig } from './delivery.js';
import { EXPORT, PRIVACY } from './options.js';

export interface ExportConfig extends DeliveryConfig {
  db: string;
  registryId: string;
  /** The format's own settings (Splunk source, sourcetype, …). */
  formatSettings: FormatSettings;
  privacy: PrivacyPlan | null;
  since: number | null;
  limit: number | null;
  /** Rows larger than this are set aside (dead-lettered unformatted, or the export stops). */
  maxRowBytes: number;
  /** Check the destination before sending (one-shot: fail fast; follow: log and go on). */
  preflight: boolean;
  /** Formatting threads: null for automatic. */
  threads: number | null;
  state: string | null;
  follow: boolean;
  pollIntervalMs: number;
  flushIntervalMs: number;
  shutdownTimeoutMs: number;
  metricsListen: string | null;
  /** With --follow: how often to verify, in the background, what the SIEM holds (null: never). */
  verifyEveryMs: number | null;
  healthStallMs: number;
}

export function exportConfig(v: FlagValues): ExportConfig {
  const db = EXPORT.db.read(v);
  if (!db) throw new ConfigurationError('--db is required: the registry SQLite file (e.g. --db /var/lib/oversight/registry.sqlite)');
  const registryId = EXPORT.registryId.read(v);
  if (!registryId) {
    throw new ConfigurationError("--registry-id is required: the registry's identifier (its Ed25519 public key hex, or a short id of your choosing)");
  }
  // The export's own options first, so their mistakes are reported before the destination's.
  const own = {
    since: EXPORT.since.read(v),
    limit: EXPORT.limit.read(v),
    maxRowBytes: EXPORT.maxRowBytes.read(v) ?? DEFAULT_MAX_ROW_BYTES,
    threads: EXPORT.threads.read(v),
    preflight: EXPORT.preflight.read(v),
    state: EXPORT.state.read(v),
    follow: EXPORT.follow.read(v),
    pollIntervalMs: EXPORT.pollInterval.read(v)!,
    flushIntervalMs: EXPORT.flushInterval.read(v)!,
    shutdownTimeoutMs: EXPORT.shutdownTimeout.read(v)!,
    metricsListen: EXPORT.metricsListen.read(v),
    verifyEveryMs: EXPORT.verifyEvery.read(v),
    healthStallMs: EXPORT.healthStall.read(v)!,
    privacy: privacyPlan(v),
  };
  if (own.verifyEveryMs !== null && !own.follow) throw new ConfigurationError('--verify-every checks a following export: add --follow, or run siem verify');
  const asked = EXPORT.format.read(v);
  if (asked !== null) formatByName(asked);
  const d = deliveryConfig(v, asked, asked !== null);
  return {
    ...d,
    ...own,
    db,
    registryId,
    formatSettings: d.format.settings?.(withDefaults(d.format.flags ?? [], v)) ?? {},
  };
}

/** The privacy rules of an export, checked without reading the key: `siem verify` reads them the same way. */
export function privacyPlan(v: FlagValues): PrivacyPlan | null {
  return parsePrivacy({
    pseudonymize: PRIVACY.pseudonymize.read(v) ?? undefined,
    pseudonymKeyFile: PRIVACY.pseudonymKeyFile.read(v) ?? undefined,
    ipPrefix: PRIVACY.ipPrefix.read(v) ?? undefined,
  });
}
