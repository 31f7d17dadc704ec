/**
 * One event as an OTLP LogRecord, in the OTLP JSON mapping (lowerCamelCase names, 64-bit integers as decimal
 * strings, the severity as its number). The transport asks for each record with its event (the `event`
 * envelope): the chosen `--format` record becomes the LogRecord body, and the event's fields become attributes
 * named by the OpenTelemetry semantic conventions where one exists and under `oversight.` otherwise
 * (docs/OTLP.md). The transport groups these records under one Resource per registry when it builds a request.
 */
import { SCHEMA_VERSION } from '../../registry/event.js';
import { plain, PRODUCT_VERSION } from '../../records/formats/beacon.js';
import type { EventJson } from '../../records/formats/index.js';
import { DEFAULT_SEVERITY, SEVERITY_BY_KIND } from '../../records/rfc5424.js';

export interface OtlpAnyValue {
  stringValue?: string;
  intValue?: string;
}

export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

/** What `service.name` says for every record: the registry is the service the callbacks were observed by. */
export const SERVICE_NAME = 'oversight-registry';
export const SCOPE = { name: 'oversight-siem', version: PRODUCT_VERSION };

/**
 * The syslog severity of each kind (the order CEF, LEEF, OCSF and syslog already use), as an OpenTelemetry
 * SeverityNumber. A callback is an alert, not a crash, so the highest stays in the ERROR range (FATAL means the
 * emitting program failed); the text is the syslog word, the source's own name for the level.
 */
const OTEL_SEVERITY: ReadonlyMap<number, { number: number; text: string }> = new Map([
  [2, { number: 20, text: 'CRITICAL' }], // ERROR4
  [3, { number: 17, text: 'ERROR' }], // ERROR
  [4, { number: 13, text: 'WARNING' }], // WARN
  [5, { number: 10, text: 'NOTICE' }], // INFO2
]);

export function severityFor(kind: string): { number: number; text: string } {
  return OTEL_SEVERITY.get(SEVERITY_BY_KIND.get(kind) ?? DEFAULT_SEVERITY)!;
}

/** The largest whole second whose nanoseconds fit time_unix_nano (a fixed64). */
const MAX_NANO_SECONDS = 18_446_744_073;
const INT64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };

/** `timeUnixNano` for a registry time, or null where the event has none (0) or one a fixed64 cannot hold. */
export function timeUnixNano(unixSeconds: number): string | null {
  if (!(unixSeconds > 0 && unixSeconds <= MAX_NANO_SECONDS && Number.isInteger(unixSeconds))) return null;
  return `${unixSeconds}000000000`;
}

const text = (value: string): OtlpAnyValue => ({ stringValue: value });

/** An integer column value as intValue; anything else (text in a hostile registry) as its text. */
function integerOrText(json: string): OtlpAnyValue {
  const v = plain(json)!;
  if (json.charCodeAt(0) !== 34 && /^-?\d+$/.test(v)) {
    const n = BigInt(v);
    if (n >= INT64.min && n <= INT64.max) return { intValue: n.toString() };
  }
  return text(v);
}

/** The attributes of one event; absent values leave their attribute out. */
export function eventAttributes(e: EventJson): OtlpKeyValue[] {
  const out: OtlpKeyValue[] = [];
  const add = (key: string, value: OtlpAnyValue | null): void => {
    if (value !== null) out.push({ key, value });
  };
  const str = (json: string | null): OtlpAnyValue | null => (json === null ? null : text(plain(json)!));
  add('event.name', text(eventName(e.kind)));
  add('client.address', str(e.sourceIp));
  add('user_agent.original', str(e.userAgent));
  add('oversight.event.id', e.eventId === '' ? null : text(e.eventId));
  add('oversight.beacon.kind', e.kind === '' ? null : text(e.kind));
  add('oversight.token.id', str(e.token));
  add('oversight.file.id', str(e.file));
  add('oversight.recipient.id', str(e.recipient));
  add('oversight.issuer.id', str(e.issuer));
  add('oversight.qualified_timestamp', str(e.qualifiedTimestamp));
  add('oversight.tlog_index', e.tlogIndex === null ? null : integerOrText(e.tlogIndex));
  // Python's compact JSON text, as the registry's `extra` reads: no digit or key order is lost on the way.
  add('oversight.extra', e.extraJson === null ? null : text(e.extraJson));
  // Only where time_unix_nano cannot carry the registry's time (none, before 1970, or past 2554).
  if (timeUnixNano(e.occurredUnix) === null && e.occurredUnix !== 0) {
    add('oversight.occurred_unix', Number.isSafeInteger(e.occurredUnix) ? { intValue: String(e.occurredUnix) } : text(String(e.occurredUnix)));
  }
  add('oversight.schema', text(SCHEMA_VERSION));
  return out;
}

export function eventName(kind: string): string {
  return kind === '' ? 'oversight.beacon' : `oversight.beacon.${kind}`;
}

/** The LogRecord of one event around its record; observedTimeUnixNano is added by the transport when it sends. */
export function logRecord(e: EventJson, body: string): Record<string, unknown> {
  const time = timeUnixNano(e.occurredUnix);
  const sev = severityFor(e.kind);
  return {
    ...(time === null ? {} : { timeUnixNano: time }),
    severityNumber: sev.number,
    severityText: sev.text,
    body: { stringValue: body },
    attributes: eventAttributes(e),
    eventName: eventName(e.kind),
  };
}

/** The resource every record of one registry shares. */
export function registryResource(registryId: string): { attributes: OtlpKeyValue[] } {
  return {
    attributes: [
      { key: 'service.name', value: text(SERVICE_NAME) },
      ...(registryId === '' ? [] : [
        { key: 'service.instance.id', value: text(registryId) },
        { key: 'oversight.registry.id', value: text(registryId) },
      ]),
    ],
  };
}
