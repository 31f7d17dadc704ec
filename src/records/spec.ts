/**
 * How a record is made, as plain data: the format and its settings, the envelope a transport asks for (an RFC
 * 5424 header around each record), and the privacy rules. `recordFormatter` turns a spec into the one formatter
 * every path uses — the main thread, the formatting threads and library callers — so they write the same bytes.
 * The spec is structured-cloneable: it is what a formatting thread receives, and nothing else.
 */
import { formatByName, type FormatSettings, type JsonFormatter } from './formats/index.js';
import { blankEventJson, overEvents, type EventJson, type RecordFormatter } from './formats/fields.js';
import { pseudonymizer, withPseudonyms, type PrivacySettings } from './pseudonymize.js';
import { syslogWrap, type SyslogSettings } from './rfc5424.js';

/** Envelopes a transport can ask for by kind, with the settings each takes. */
export interface Envelopes {
  /** An RFC 5424 syslog header (PRI, time, host, MSGID, structured data) before each record. */
  rfc5424: SyslogSettings;
  /**
   * The record with the event it was made from, `{"event":{…},"record":"…"}`, for a transport that builds its
   * own wire records from the event's fields (see `readEventEnvelope`).
   */
  event: Record<string, never>;
}
export type EnvelopeKind = keyof Envelopes;
export type EnvelopeSpec = { [K in EnvelopeKind]: { kind: K; settings: Envelopes[K] } }[EnvelopeKind];

const ENVELOPES: { [K in EnvelopeKind]: (inner: JsonFormatter, settings: Envelopes[K]) => JsonFormatter } = {
  rfc5424: syslogWrap,
  event: (inner) => (e) => `{"event":${JSON.stringify(e)},"record":${JSON.stringify(inner(e))}}`,
};

/** A record made with the `event` envelope, taken apart again; null for anything else (a foreign dead letter). */
export function readEventEnvelope(text: string): { event: EventJson; record: string } | null {
  try {
    const v = JSON.parse(text) as { event?: unknown; record?: unknown };
    if (typeof v !== 'object' || v === null || typeof v.record !== 'string' || typeof v.event !== 'object' || v.event === null) return null;
    const e = v.event as Partial<EventJson>;
    if (typeof e.kind !== 'string' || typeof e.eventId !== 'string' || typeof e.occurredUnix !== 'number') return null;
    return { event: { ...blankEventJson(), ...e }, record: v.record };
  } catch {
    return null;
  }
}

export interface RecordSpec {
  /** A registered format name. */
  format: string;
  /** The format's own settings (see its `settings`). */
  settings: FormatSettings;
  envelope: EnvelopeSpec | null;
  privacy: PrivacySettings | null;
}

/** A spec with the format's defaults and no envelope or privacy rules: what a library caller gets by default. */
export function plainSpec(format: string, settings: FormatSettings = {}): RecordSpec {
  return { format, settings, envelope: null, privacy: null };
}

/** The formatter over JSON-spelled events that a spec describes. Pseudonyms replace values before any format sees them. */
export function recordFormatter(spec: RecordSpec): JsonFormatter {
  const inner = formatByName(spec.format).create(spec.settings);
  const enveloped = spec.envelope ? wrap(inner, spec.envelope) : inner;
  return withPseudonyms(enveloped, spec.privacy ? pseudonymizer(spec.privacy) : null);
}

/** The same, over events. */
export function eventFormatter(spec: RecordSpec): RecordFormatter {
  return overEvents(recordFormatter(spec));
}

function wrap(inner: JsonFormatter, e: EnvelopeSpec): JsonFormatter {
  return (ENVELOPES[e.kind] as (i: JsonFormatter, s: typeof e.settings) => JsonFormatter)(inner, e.settings);
}
