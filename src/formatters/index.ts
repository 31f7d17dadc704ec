/** The format registry, and the reference's object-returning formatter API on top of the text formatters. */
import type { OversightEvent } from '../event.js';
import { ConfigurationError } from '../errors.js';
import { ecsFormatter, ecsJsonFormatter } from './ecs.js';
import { overEvents, type JsonFormatter, type RecordFormatter } from './fields.js';
import { sentinelFormatter, sentinelJsonFormatter } from './sentinel.js';
import { splunkHecFormatter, splunkHecJsonFormatter, type SplunkHecOptions } from './splunk.js';

export type { EventJson, JsonFormatter, RecordFormatter } from './fields.js';
export { eventJson } from './fields.js';
export type { SplunkHecOptions } from './splunk.js';
export { ecsFormatter, sentinelFormatter, splunkHecFormatter };

export type FormatName = 'splunk' | 'ecs' | 'sentinel';

export const FORMATTERS: Readonly<Record<FormatName, (options?: SplunkHecOptions) => RecordFormatter>> = {
  splunk: splunkHecFormatter,
  ecs: () => ecsFormatter(),
  sentinel: () => sentinelFormatter(),
};

export const FORMAT_NAMES = Object.keys(FORMATTERS).sort() as FormatName[];

export function isFormatName(name: string): name is FormatName {
  return Object.prototype.hasOwnProperty.call(FORMATTERS, name);
}

const JSON_FORMATTERS: Readonly<Record<FormatName, (options: SplunkHecOptions) => JsonFormatter>> = {
  splunk: splunkHecJsonFormatter,
  ecs: () => ecsJsonFormatter(),
  sentinel: () => sentinelJsonFormatter(),
};

/** A text formatter for `fmt`; Splunk options apply only to `splunk`, as in the reference. */
export function createFormatter(fmt: string, options: SplunkHecOptions = {}): RecordFormatter {
  return overEvents(createJsonFormatter(fmt, options));
}

/** The same formatter over values already spelled as JSON (see `eventJson`). */
export function createJsonFormatter(fmt: string, options: SplunkHecOptions = {}): JsonFormatter {
  if (!isFormatName(fmt)) {
    throw new ConfigurationError(`unknown SIEM format '${fmt}' (choices: ${FORMAT_NAMES.join(', ')})`);
  }
  return JSON_FORMATTERS[fmt](options);
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

export function formatEvent(evt: OversightEvent, fmt: string, options: SplunkHecOptions = {}): JsonRecord {
  return JSON.parse(createFormatter(fmt, options)(evt)) as JsonRecord;
}
