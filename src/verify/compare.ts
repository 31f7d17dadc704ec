/**
 * Expected against present: what the registry says an event is, what the SIEM holds under its id, and the one
 * verdict that follows. Backends only collect what they found; every judgement is made here, the same way for
 * every SIEM, so "missing" means the same thing for Splunk, Elasticsearch, Log Analytics and files.
 */
import { hasTime, type OversightEvent, type Scalar } from '../registry/event.js';
import { blankEventJson, eventJson } from '../records/formats/fields.js';
import { PSEUDONYM_PREFIX, pseudonymizer, type PrivacySettings } from '../records/pseudonymize.js';

/** An event as the registry holds it, reduced to the fields that identify it. */
export interface ExpectedEvent {
  rowid: number;
  eventId: string;
  registryId: string;
  token: string | null;
  file: string | null;
  /**
   * Unix seconds of the event as the registry holds it (0 when it has none). Only a time `hasTime` accepts is
   * compared or placed in a span: the ECS and Sentinel formatters leave any other out of the records (a SIEM
   * cannot hold it), so such an event is judged by its ids and fields alone, as one without a time.
   */
  time: number;
}

/**
 * What a SIEM holds under one event id (within the registry's records): how many copies, the distinct values of
 * the identifying fields across them, and how many copies sit in a failure store instead of the stream.
 * Field sets only hold values the SIEM returned; an empty set means the field was absent in every copy.
 */
export interface Found {
  count: number;
  registryIds: Set<string>;
  tokens: Set<string>;
  files: Set<string>;
  times: Set<number>;
  failureStore: number;
  /** Whether times can be compared (Log Analytics replaces a TimeGenerated it finds too old). */
  timeComparable: boolean;
  /**
   * Copies without a registry id or a time, counted by a backend that always has them when they were written (a
   * file): such a copy was changed. A SIEM's search may leave fields out (Splunk's 5000-byte extraction), so
   * elsewhere an absent field is only not compared.
   */
  absent?: { registry: number; time: number };
}

export function emptyFound(): Found {
  return { count: 0, registryIds: new Set(), tokens: new Set(), files: new Set(), times: new Set(), failureStore: 0, timeComparable: true };
}

/** The entry for `eventId` in a window's findings, made on first use. */
export function foundFor(map: Map<string, Found>, eventId: string): Found {
  let f = map.get(eventId);
  if (!f) map.set(eventId, (f = emptyFound()));
  return f;
}

/** A value as the SIEM spells it after JSON: absent for null and '' (the formatters drop both). */
export function textValue(v: Scalar | undefined): string | null {
  if (v === null || v === undefined || v === '') return null;
  return String(v);
}

export function expectedFrom(evt: OversightEvent): ExpectedEvent {
  return {
    rowid: evt.rowid,
    eventId: evt.event_id,
    registryId: evt.registry_id,
    token: textValue(evt.token_id),
    file: textValue(evt.file_id),
    time: evt.occurred_unix,
  };
}

/**
 * The expected event as an export with these privacy rules wrote it. Of the compared fields only the token can be
 * pseudonymized (--ip-prefix and the other pseudonyms touch fields that are not compared); it is made by the
 * export's own pseudonymizer, so the same key gives the same value the SIEM holds.
 */
export function expectation(privacy: PrivacySettings | null): (evt: OversightEvent) => ExpectedEvent {
  if (!privacy?.fields.includes('token_id')) return expectedFrom;
  const hide = pseudonymizer(privacy);
  const scratch = blankEventJson();
  return (evt) => {
    const e = hide(eventJson(evt, scratch));
    return { ...expectedFrom(evt), token: e.token === null ? null : textValue(JSON.parse(e.token) as Scalar) };
  };
}

/** Whether the SIEM holds a pseudonym where the registry's clear token was expected: the export hid the token. */
export function pseudonymInstead(e: ExpectedEvent, f: Found | undefined): boolean {
  return f !== undefined && e.token !== null && !e.token.startsWith(PSEUDONYM_PREFIX) && [...f.tokens].some((t) => t.startsWith(PSEUDONYM_PREFIX));
}

export type Verdict = 'present' | 'missing' | 'duplicated' | 'altered' | 'failure-store' | 'too-recent';

export const VERDICTS: readonly Verdict[] = ['present', 'missing', 'duplicated', 'altered', 'failure-store', 'too-recent'];

/** Differences between the stored copies and the registry, by field name; empty when they agree. */
export function differences(e: ExpectedEvent, f: Found): string[] {
  const out: string[] = [];
  const same = (set: Set<string>, want: string | null): boolean =>
    want === null ? set.size === 0 : set.size === 1 && set.has(want);
  // A registry id the SIEM did not return (Splunk extracts JSON fields only from an event's first 5000 bytes)
  // cannot be compared; one it returned must be ours.
  if ((f.registryIds.size > 0 && !same(f.registryIds, e.registryId)) || (f.absent?.registry ?? 0) > 0) out.push('registry');
  if (!same(f.tokens, e.token)) out.push('token');
  if (!same(f.files, e.file)) out.push('file');
  if (f.timeComparable && hasTime(e.time) && ((f.times.size > 0 && !(f.times.size === 1 && f.times.has(e.time))) || (f.absent?.time ?? 0) > 0)) out.push('time');
  return out;
}

/**
 * The verdict for one event. An event the SIEM does not show yet is "too recent" rather than missing while it
 * is younger than the settle time (ingestion latency, refresh intervals); a copy in the failure store is not
 * in the stream, and is reported as such rather than as missing. Times are Unix seconds: `settledBefore` is now
 * less the settle time, `pendingUntil` now plus it. An event dated later than that (a registry clock far ahead,
 * a forged row) would otherwise be "too recent" until its date comes, so a lost one is missing at once.
 */
export function judge(e: ExpectedEvent, f: Found | undefined, settledBefore: number, pendingUntil: number): Verdict {
  if (!f || f.count === 0) {
    if (f && f.failureStore > 0) return 'failure-store';
    return hasTime(e.time) && e.time > settledBefore && e.time <= pendingUntil ? 'too-recent' : 'missing';
  }
  if (f.count > 1) return 'duplicated';
  return differences(e, f).length > 0 ? 'altered' : 'present';
}

/** Verdicts that make `verify` fail: the SIEM does not hold the registry's events exactly once, unchanged. */
export const FAILING: ReadonlySet<Verdict> = new Set<Verdict>(['missing', 'duplicated', 'altered', 'failure-store']);
