/** What a record format says about itself: the registry in index.ts lists these, and the CLI is built from them. */
import type { FlagSpec, FlagValues } from '../flags.js';
import type { JsonFormatter } from './fields.js';
import type { SplunkHecOptions } from './splunk.js';

/**
 * Everything a formatter is built from, as plain data: it is copied to formatting threads, which build the same
 * formatter again by name. It extends the Splunk options because the pipeline hands it on under that type.
 */
export interface FormatSettings extends SplunkHecOptions {
  /** Settings a format other than `splunk` derives from its own flags. */
  format?: Record<string, unknown>;
  /** A transport that adds something to every record (a syslog header), and its settings. */
  wrap?: { transport: string; settings: unknown };
}

export interface FormatDescription {
  /** The `--format` value. */
  readonly name: string;
  /** One line for the help. */
  readonly summary: string;
  /**
   * `json`: each record is one JSON object. `text`: each record is one line of text (CEF, LEEF), which
   * transports frame as lines rather than as JSON arrays, and dead-letter files keep as a JSON string.
   */
  readonly records: 'json' | 'text';
  /** Flags of its own (only on `siem export`, where records are formatted). */
  readonly flags?: readonly FlagSpec[];
  /** Check the flags and turn them into settings (plain data). */
  settings?(flags: FlagValues): FormatSettings;
  /** The formatter, pure: one event in, one record out, no line breaks inside. */
  create(settings: FormatSettings): JsonFormatter;
}
