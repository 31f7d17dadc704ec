/**
 * The pure configuration step: option values (flags, environment, config file, already merged) in, one checked
 * and typed configuration out. Nothing here opens a file, a port or a socket, so every mistake a restart cannot
 * fix is found before anything is read or sent, and the step can be tested without a disk or a network.
 */
import { chooseCompression, type Compression } from '../transports/compress.js';
import { ConfigurationError } from '../shared/errors.js';
import { withDefaults, type FlagValues } from '../shared/options.js';
import type { FormatDescription } from '../records/formats/index.js';
import type { HttpOptions } from '../transports/http/client.js';
import { parseLogFormat, type LogFormat } from '../shared/log.js';
import type { EnvelopeSpec } from '../records/spec.js';
import { RETRY_DEFAULTS, type RetryOptions } from '../pipeline/retry.js';
import { parseHeaders } from '../transports/transport.js';
import { chooseFormat, resolveTransport, transportByName, type TransportDescription } from '../transports/index.js';
import { DELIVERY } from './options.js';

/** Where records go and how: everything `siem export`, `siem replay` and `siem check` share. */
export interface DeliveryConfig {
  output: string;
  transport: TransportDescription;
  format: FormatDescription;
  /** The transport's own option values, defaults filled in. */
  transportOptions: FlagValues;
  /** `--header` values, checked (and masked from now on). */
  headers: Record<string, string>;
  /** `--header-file`, read when the transport is built. */
  headerFile: string | null;
  /** Batch limits: what was asked, else the transport's defaults; never over what the SIEM takes. */
  limits: { maxEvents: number; maxBytes: number };
  retry: RetryOptions;
  http: HttpOptions;
  /** `--compress`, checked against what the SIEM takes; null for the transport's own default. */
  compress: Compression | null;
  deadLetter: string | null;
  /** The envelope the transport's records need, from its options. */
  envelope: EnvelopeSpec | null;
  quiet: boolean;
  logFormat: LogFormat;
}

/**
 * `format`: the format asked for (by flag, or read from a dead-letter file), or null for the transport's own.
 * `formatByFlag`: whether the user typed it, so a mismatch names the flag to change.
 */
export function deliveryConfig(v: FlagValues, format: string | null, formatByFlag: boolean): DeliveryConfig {
  const output = DELIVERY.output.read(v)!;
  // `admin:secret@siem.example:9200` too is a URL without its scheme, not a file name, and its password is not shown.
  const bare = /^[^/]*@((?:\[[0-9a-f:.]+\]|[\w.-]+):\d{1,5}(?:\/.*)?)$/i.exec(output);
  if (bare) {
    throw new ConfigurationError(
      `--output ***@${bare[1]} looks like user:password@host:port without a scheme: write the URL, e.g. https://${bare[1]}, and move the credentials to the SIEM's variable (OVERSIGHT_SPLUNK_HEC_TOKEN, OVERSIGHT_ES_USERNAME and OVERSIGHT_ES_PASSWORD, …) or --header-file; ./ before a file name writes a file`,
    );
  }
  // `127.0.0.1:8088` or `siem.example:514` would otherwise be taken for a file name.
  if (/^(\[[0-9a-f:.]+\]|[\w.-]+):\d{1,5}(\/.*)?$/i.test(output)) {
    throw new ConfigurationError(
      `--output ${output} looks like host:port without a scheme: write the URL, e.g. https://${output} (Splunk HEC, Elasticsearch, …), relp://${output} or syslog+tls://${output}; ./${output} for a file`,
    );
  }
  const transport = transportByName(resolveTransport(output, DELIVERY.transport.read(v)!));
  const fmt = chooseFormat(transport, format, formatByFlag);
  const transportOptions = withDefaults(transport.flags ?? [], v);
  const maxEvents = DELIVERY.batchSize.read(v) ?? DELIVERY.maxBatchEvents.read(v) ?? transport.batch.maxEvents;
  const maxBytes = DELIVERY.maxBatchBytes.read(v) ?? transport.batch.maxBytes;
  if (maxBytes > transport.batch.hardMaxBytes) {
    throw new ConfigurationError(`--max-batch-bytes ${maxBytes} is over what ${transport.name} accepts (${transport.batch.hardMaxBytes})`);
  }
  return {
    output,
    transport,
    format: fmt,
    transportOptions,
    headers: parseHeaders(DELIVERY.header.read(v)),
    headerFile: DELIVERY.headerFile.read(v),
    limits: { maxEvents, maxBytes },
    retry: { ...RETRY_DEFAULTS, maxDurationMs: DELIVERY.retryMaxDuration.read(v)! },
    http: { caFile: DELIVERY.caFile.read(v), insecure: DELIVERY.insecure.read(v), timeoutMs: DELIVERY.timeout.read(v)! },
    compress: checkCompress(DELIVERY.compress.read(v), transport),
    deadLetter: DELIVERY.deadLetter.read(v),
    envelope: transport.envelope?.(transportOptions) ?? null,
    quiet: DELIVERY.quiet.read(v),
    logFormat: parseLogFormat(DELIVERY.logFormat.read(v) ?? undefined),
  };
}

/** `--compress` means HTTP request bodies: refused for outputs that have none (stdout, files, syslog). */
function checkCompress(value: Compression | null, t: TransportDescription): Compression | null {
  if (value === null) return null;
  if (!t.compression) throw new ConfigurationError(`--compress applies to http(s):// outputs, not to ${t.local ?? `${t.name} outputs`}: drop --compress`);
  chooseCompression(value, t.name, t.compression);
  return value;
}
