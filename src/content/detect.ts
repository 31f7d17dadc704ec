/**
 * Evaluates a detection's declarative logic (content/detections/*.yaml) over registry events, the way a SIEM
 * would over the records we export: a field is absent where the record leaves it out (NULL or the empty string),
 * values compare as the text the record carries, and events are placed in time by `occurred_at`. The sample
 * registries are checked with it, so a sample that should fire a rule and one that should stay quiet are known
 * to do so before a user replays them in a SIEM. It holds the events it is given in memory: it is meant for
 * samples and tests, not for whole registries.
 */
import { actionForKind, SCHEMA_VERSION, type OversightEvent } from '../registry/event.js';
import { pyNumber } from '../registry/pyjson.js';
import { BACKFILL_DELAY, durationSeconds, type Condition, type Detection } from './model.js';

export interface Alert {
  detection: string;
  /** The group the alert is about: the `group_by` / `key` fields and their values (`event_id` for a match). */
  key: Record<string, string>;
  /** The events that made it fire: the one event, or the events of the first window that reached the threshold. */
  events: OversightEvent[];
  /**
   * For a per-callback (`match`) alert of a run with arrival times: the callbacks of its suppression key that
   * arrived within the suppression window up to the run, this one included, each once — the count the alert
   * carries in every SIEM.
   */
  callbacks?: number;
}

export interface EvaluateOptions {
  /**
   * Evaluate as one scheduled run of the rule at this Unix time: only events in the rule's lookback
   * (`now - lookback < occurred ≤ now`) can raise an alert, and earlier events serve only as history for
   * `first_seen`; a counting rule counts over the whole lookback, as the SIEMs' rules do. Without it, every event
   * is in scope and a counting rule's window slides over them: what the definition promises to catch.
   */
  now?: number;
  /**
   * When each event reached the SIEM (Unix seconds); needs `now`. With it, the run reports what the SIEMs'
   * content reports once per run: a per-callback rule (`match`, `first_seen`) takes the callbacks that arrived
   * since the previous run (`now - interval < arrival ≤ now`), whenever they happened, and leaves out backfills
   * (a callback that arrived more than BACKFILL_DELAY after it happened); a counting rule counts the callbacks
   * that have arrived by `now` by their own time, in its window. Without it every event arrived as it happened.
   */
  arrival?: (e: OversightEvent) => number;
}

/** A field as its record carries it: text, or null where the record leaves it out. */
export function fieldValue(evt: OversightEvent, name: string): string | null {
  let v: string | number | null;
  switch (name) {
    case 'occurred_at': v = evt.occurred_at; break;
    case 'schema': v = SCHEMA_VERSION; break;
    case 'registry_id': v = evt.registry_id; break;
    case 'event_id': v = evt.event_id; break;
    case 'kind': v = evt.event_kind; break;
    case 'action': v = actionForKind(evt.event_kind); break;
    case 'token_id': v = evt.token_id; break;
    case 'file_id': v = evt.file_id; break;
    case 'recipient_id': v = evt.recipient_id; break;
    case 'issuer_id': v = evt.issuer_id; break;
    case 'source_ip': v = evt.source_ip; break;
    case 'user_agent': v = evt.user_agent; break;
    case 'qualified_timestamp': v = evt.qualified_timestamp; break;
    case 'tlog_index': v = evt.tlog_index; break;
    case 'extra': v = evt.extra_json; break;
    default: throw new Error(`no event field named ${name}`);
  }
  if (v === null || v === '') return null;
  return typeof v === 'number' ? pyNumber(v) : v;
}

export function holds(evt: OversightEvent, c: Condition): boolean {
  const v = fieldValue(evt, c.field);
  switch (c.op) {
    case 'present': return v !== null;
    case 'absent': return v === null;
    // An absent field is not in the list, as KQL's `!in`, SPL's `NOT … IN` and a `not` query clause agree.
    case 'not_in': return v === null || !c.values.includes(v);
  }
}

function keyOf(evt: OversightEvent, fields: readonly string[]): Record<string, string> | null {
  const key: Record<string, string> = {};
  for (const f of fields) {
    const v = fieldValue(evt, f);
    // A SIEM's group-by leaves out events without the field; every detection asks for it to be present anyway.
    if (v === null) return null;
    key[f] = v;
  }
  return key;
}

function groupBy(events: readonly OversightEvent[], fields: readonly string[]): Map<string, { key: Record<string, string>; events: OversightEvent[] }> {
  const groups = new Map<string, { key: Record<string, string>; events: OversightEvent[] }>();
  for (const evt of events) {
    const key = keyOf(evt, fields);
    if (key === null) continue;
    const id = JSON.stringify(fields.map((f) => key[f]));
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { key, events: [] }));
    g.events.push(evt);
  }
  return groups;
}

/**
 * The first window (`last - first < window` seconds) of time-ordered events in which `reached` holds, found with
 * two pointers: `add` and `remove` keep the caller's running state for the events between them.
 */
function firstWindow(
  events: readonly OversightEvent[],
  windowSeconds: number,
  add: (e: OversightEvent) => void,
  remove: (e: OversightEvent) => void,
  reached: () => boolean,
): OversightEvent[] | null {
  let start = 0;
  for (let end = 0; end < events.length; end++) {
    const e = events[end]!;
    add(e);
    while (e.occurred_unix - events[start]!.occurred_unix >= windowSeconds) remove(events[start++]!);
    if (reached()) return events.slice(start, end + 1);
  }
  return null;
}

export function evaluate(detection: Detection, input: Iterable<OversightEvent>, options: EvaluateOptions = {}): Alert[] {
  const logic = detection.logic;
  // An event without a usable time (timestamp 0 or out of range) has no place in a time window.
  const timed = [...input].filter((e) => e.occurred_at !== '');
  timed.sort((a, b) => a.occurred_unix - b.occurred_unix || a.rowid - b.rowid);
  const passing = timed.filter((e) => logic.where.every((c) => holds(e, c)));
  const now = options.now;
  const lookback = durationSeconds(detection.schedule.lookback);
  const inScope = (e: OversightEvent): boolean => now === undefined || (e.occurred_unix <= now && e.occurred_unix > now - lookback);
  const alert = (key: Record<string, string>, events: OversightEvent[]): Alert => ({ detection: detection.id, key, events });
  if (options.arrival !== undefined) {
    if (now === undefined) throw new Error('arrival times need the time of the run (now)');
    return byArrival(detection, passing, now, options.arrival, alert);
  }

  switch (logic.type) {
    case 'match':
      return passing.filter(inScope).map((e) => alert({ event_id: e.event_id }, [e]));

    case 'first_seen': {
      const history = durationSeconds(logic.history);
      const alerts: Alert[] = [];
      for (const g of groupBy(passing.filter((e) => now === undefined || e.occurred_unix <= now), logic.key).values()) {
        let last: number | null = null;
        for (const e of g.events) {
          const fresh = last === null || e.occurred_unix - last > history;
          last = e.occurred_unix;
          if (fresh && inScope(e)) alerts.push(alert(g.key, [e]));
        }
      }
      return alerts;
    }

    case 'event_count': {
      const window = now === undefined ? durationSeconds(logic.window) : lookback;
      const alerts: Alert[] = [];
      for (const g of groupBy(passing.filter(inScope), logic.group_by).values()) {
        let n = 0;
        const hit = firstWindow(g.events, window, () => n++, () => n--, () => n >= logic.threshold);
        if (hit) alerts.push(alert(g.key, hit));
      }
      return alerts;
    }

    case 'distinct_count': {
      const window = now === undefined ? durationSeconds(logic.window) : lookback;
      const alerts: Alert[] = [];
      for (const g of groupBy(passing.filter(inScope), logic.group_by).values()) {
        const counts = new Map<string, number>();
        const hit = firstWindow(
          g.events,
          window,
          (e) => {
            const v = fieldValue(e, logic.field);
            if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
          },
          (e) => {
            const v = fieldValue(e, logic.field);
            if (v === null) return;
            const n = counts.get(v)! - 1;
            if (n === 0) counts.delete(v);
            else counts.set(v, n);
          },
          () => counts.size >= logic.threshold,
        );
        if (hit) alerts.push(alert(g.key, hit));
      }
      return alerts;
    }
  }
}

/** One run at `now` with arrival times (see EvaluateOptions.arrival). */
function byArrival(
  detection: Detection,
  passing: readonly OversightEvent[],
  now: number,
  arrival: (e: OversightEvent) => number,
  alert: (key: Record<string, string>, events: OversightEvent[]) => Alert,
): Alert[] {
  const logic = detection.logic;
  const interval = durationSeconds(detection.schedule.interval);
  const backfill = durationSeconds(BACKFILL_DELAY);
  const arrived = passing.filter((e) => arrival(e) <= now);
  const sinceLastRun = (t: number): boolean => t > now - interval && t <= now;
  const onTime = (e: OversightEvent): boolean => arrival(e) - e.occurred_unix <= backfill;
  switch (logic.type) {
    case 'match': {
      const window = durationSeconds(detection.suppression.window);
      const counted = groupBy(arrived.filter((e) => arrival(e) > now - window && onTime(e)), detection.suppression.group_by);
      const keyId = (e: OversightEvent): string => JSON.stringify(detection.suppression.group_by.map((f) => fieldValue(e, f)));
      const count = (e: OversightEvent): number => new Set((counted.get(keyId(e))?.events ?? []).map((x) => `${x.registry_id}/${x.event_id}`)).size;
      return arrived
        .filter((e) => sinceLastRun(arrival(e)) && onTime(e))
        .map((e) => ({ ...alert({ event_id: e.event_id }, [e]), callbacks: count(e) }));
    }
    case 'first_seen': {
      // The key is new when its earliest arrival within the history is in this run and that earliest callback
      // is not a backfill.
      const history = durationSeconds(logic.history);
      const alerts: Alert[] = [];
      for (const g of groupBy(arrived.filter((e) => arrival(e) > now - history), logic.key).values()) {
        const firstArrival = Math.min(...g.events.map(arrival));
        const earliest = g.events[0]!;
        if (sinceLastRun(firstArrival) && firstArrival - earliest.occurred_unix <= backfill) alerts.push(alert(g.key, [earliest]));
      }
      return alerts;
    }
    case 'event_count':
    case 'distinct_count':
      // Counted by the callbacks' own time, over what has arrived: the rules without arrival times do that.
      return evaluate(detection, arrived, { now });
  }
}
