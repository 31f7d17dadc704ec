/** What a record format says about itself: the registry in index.ts lists these, and the CLI is built from them. */
import type { FlagSpec, FlagValues } from '../../shared/options.js';
import type { JsonFormatter } from './fields.js';

/**
 * What a formatter is built from, as plain data (each format defines its own shape, e.g. `SplunkHecOptions`): it
 * travels in a record spec to formatting threads, which build the same formatter again by name.
 */
export type FormatSettings = object;

export interface FormatDescription<S extends FormatSettings = any> {
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
  settings?(flags: FlagValues): S;
  /** The formatter, pure: one event in, one record out, no line breaks inside. */
  create(settings: Partial<S>): JsonFormatter;
}
