/**
 * What a transport says about itself. Each transport file exports one of these and `TRANSPORTS` in index.ts
 * lists them; URL detection, `--transport` choices, the transport's flags and help, format checks and batch
 * defaults all come from here.
 */
import type { BatchLimits } from '../pipeline/batcher.js';
import type { Compression } from './compress.js';
import type { FlagSpec, FlagValues } from '../shared/options.js';
import type { FormatDescription } from '../records/formats/index.js';
import type { HttpOptions } from './http/client.js';
import type { EnvelopeSpec } from '../records/spec.js';
import type { Transport } from './transport.js';

/** An environment variable a transport reads. */
export interface EnvVar {
  name: string;
  description: string;
  /** A secret: also read from the file NAME_FILE names, and never printed. */
  secret?: boolean;
}

/** What `create` gets: the output, every flag value (defaults filled in), and the shared settings already checked. */
export interface TransportContext {
  output: string;
  flags: FlagValues;
  /** `--header` values, checked (and registered as secrets). */
  headers: Record<string, string>;
  /** `--ca-file`, `--insecure`, `--timeout`: the same TLS and timeout rules for every network transport. */
  http: HttpOptions;
  /** The record format chosen: text records (CEF, LEEF) need other framing than JSON ones. */
  format: FormatDescription;
  /** `--compress`: null for the transport's own default (see `compression`). */
  compress: Compression | null;
  env: NodeJS.ProcessEnv;
  log: (message: string) => void;
}

export interface TransportDescription {
  /** The `--transport` value and the name in summaries and dead letters. */
  readonly name: string;
  readonly summary: string;
  /**
   * How `--output` selects it. `local`: not a URL (stdout for '-', a file otherwise; not a `--transport` choice).
   * `schemes`: URL schemes it takes (lower case, no `://`). With `detect`, auto picks it for URLs it recognizes;
   * without, it is the catch-all for its schemes (the generic HTTP POST for http/https).
   */
  readonly local?: 'stdout' | 'file';
  readonly schemes?: readonly string[];
  detect?(url: URL): boolean;
  /** Refuse a URL that is a mistake for this SIEM whatever `--transport` says (e.g. HEC's raw endpoint). */
  vetUrl?(output: string): void;
  /** The record format it needs (also the default), or the formats it accepts (default: all) and a default. */
  readonly format?: string;
  readonly accepts?: readonly string[];
  readonly defaultFormat?: string;
  /** Batch limits: defaults and the most the receiver ever takes. */
  readonly batch: BatchLimits & { hardMaxBytes: number };
  /**
   * Request body compression for `--compress`: the default this SIEM's own clients use, and whether it takes
   * gzip at all. Absent: the transport writes no HTTP bodies and `--compress` is refused.
   */
  readonly compression?: { default: Compression; gzip: boolean; why?: string };
  /** Flags of its own, on `siem export` and `siem replay`. */
  readonly flags?: readonly FlagSpec[];
  /** Where its credentials go, for the error refusing a URL with a user or password: "the HEC token goes in …". */
  readonly credentials?: string;
  /** Variables it reads secrets or settings from (each secret also as NAME_FILE): named in the help, known to the checks. */
  readonly env?: readonly EnvVar[];
  /**
   * The envelope it needs around every record (a syslog header built from the event), by kind, from its flags.
   * It is added in the record stage (records/spec.ts), so formatting threads and library callers add it too.
   */
  envelope?(flags: FlagValues): EnvelopeSpec;
  create(ctx: TransportContext): Transport;
}
