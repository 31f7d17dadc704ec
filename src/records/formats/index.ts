/**
 * The format registry: every record format, one line each. The CLI's `--format` choices, flags and help come
 * from this list, and so do the formatting threads, which build formatters by name. The reference's
 * object-returning formatter API sits on top.
 */
import type { OversightEvent } from '../../registry/event.js';
import { ConfigurationError } from '../../shared/errors.js';
import { cefFormat } from './cef.js';
import { ecsFormat, ecsFormatter } from './ecs.js';
import { overEvents, type JsonFormatter, type RecordFormatter } from './fields.js';
import type { FormatDescription, FormatSettings } from './format.js';
import { leefFormat } from './leef.js';
import { ocsfFormat } from './ocsf.js';
import { sentinelFormat, sentinelFormatter } from './sentinel.js';
import { splunkFormat, splunkHecFormatter, type SplunkHecOptions } from './splunk.js';

export const FORMATS: readonly FormatDescription[] = [
  splunkFormat,
  ecsFormat,
  sentinelFormat,
  cefFormat,
  leefFormat,
  ocsfFormat,
];

export type { EventJson, JsonFormatter, RecordFormatter } from './fields.js';
export type { FormatDescription, FormatSettings } from './format.js';
export { eventJson, overEvents } from './fields.js';
export type { SplunkHecOptions } from './splunk.js';
export { ecsFormatter, sentinelFormatter, splunkHecFormatter };

export type FormatName = string;

export const FORMAT_NAMES: readonly string[] = FORMATS.map((f) => f.name).sort();

const BY_NAME = new Map(FORMATS.map((f) => [f.name, f]));

export function isFormatName(name: string): boolean {
  return BY_NAME.has(name);
}

/** The description of a format, or a usage error naming the choices. */
export function formatByName(name: string): FormatDescription {
  const f = BY_NAME.get(name);
  if (!f) throw new ConfigurationError(`unknown SIEM format '${name}' (choices: ${FORMAT_NAMES.join(', ')})`);
  return f;
}

/** The reference's `FORMATTERS`: a text formatter per format name. */
export const FORMATTERS: Readonly<Record<string, (options?: FormatSettings) => RecordFormatter>> = Object.fromEntries(
  FORMATS.map((f) => [f.name, (options: FormatSettings = {}) => overEvents(f.create(options))]),
);

/** A text formatter for `fmt`; Splunk options apply only to `splunk`, as in the reference. */
export function createFormatter(fmt: string, options: FormatSettings = {}): RecordFormatter {
  return overEvents(createJsonFormatter(fmt, options));
}

/** The same formatter over values already spelled as JSON (see `eventJson`). */
export function createJsonFormatter(fmt: string, options: FormatSettings = {}): JsonFormatter {
  return formatByName(fmt).create(options);
}

export type JsonRecord = Record<string, unknown>;

export function toSplunkHec(evt: OversightEvent, options: SplunkHecOptions = {}): JsonRecord {
  return JSON.parse(splunkHecFormatter(options)(evt)) as JsonRecord;
}

export function toEcs(evt: OversightEvent): JsonRecord {
  return JSON.parse(ecsFormatter()(evt)) as JsonRecord;
}

export function toSentinel(evt: OversightEvent): JsonRecord {
  return JSON.parse(sentinelFormatter()(evt)) as JsonRecord;
}

/** One event as an object, for the JSON formats. */
export function formatEvent(evt: OversightEvent, fmt: string, options: FormatSettings = {}): JsonRecord {
  if (formatByName(fmt).records !== 'json') throw new ConfigurationError(`${fmt} records are text, not JSON objects: use createFormatter`);
  return JSON.parse(createFormatter(fmt, options)(evt)) as JsonRecord;
}
