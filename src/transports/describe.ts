/**
 * What a transport says about itself. Each transport file exports one of these and `TRANSPORTS` in index.ts
 * lists them; URL detection, `--transport` choices, the transport's flags and help, format checks and batch
 * defaults all come from here.
 */
import type { BatchLimits } from '../batcher.js';
import type { Compression } from '../compress.js';
import type { FlagSpec, FlagValues } from '../flags.js';
import type { FormatDescription, JsonFormatter } from '../formatters/index.js';
import type { HttpOptions } from '../http-client.js';
import type { Transport } from '../transport.js';

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
  /**
   * A transport that adds to every record (a syslog header built from the event) does it in the pure formatter
   * stage, so it also runs on formatting threads: `wrapSettings` checks the flags and returns plain data, and
   * `wrap` (called on whichever thread formats) builds the record formatter around the chosen format's.
   */
  wrapSettings?(ctx: Omit<TransportContext, 'headers' | 'http' | 'compress' | 'env' | 'log'>): unknown;
  wrap?(inner: JsonFormatter, settings: unknown, format: FormatDescription): JsonFormatter;
  create(ctx: TransportContext): Transport;
}
