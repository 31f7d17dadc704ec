/**
 * The detections (`content/detections/*.yaml`) as Splunk saved searches: each logic type rendered to SPL over
 * the `oversight_beacons` macro, with the schedule, time range, severity and throttling taken from the
 * definition. Field names come from the field table, so a renamed field changes every search at once.
 */
import type { ConfStanza } from './splunk-conf.js';
import { BACKFILL_DELAY, durationSeconds, opensAlerts, type Condition, type Detection, type FieldTable, type Severity } from './model.js';

export const BASE_MACRO = 'oversight_beacons';
/** The indexed field transforms.conf sets on events without a usable time (see splunk.ts). */
const TIME_MISSING = 'oversight_time_missing';

/** savedsearches.conf `alert.severity`: 1 debug, 2 info, 3 warning, 4 error, 5 severe, 6 fatal. */
const ALERT_SEVERITY: Record<Severity, number> = { informational: 2, low: 3, medium: 4, high: 5, critical: 6 };

export const splString = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** One `where` condition as an eval expression (also used for the per-rule severity in props.conf). */
export function conditionSpl(c: Condition, fields: FieldTable): string {
  const f = fields.field(c.field).splunk.field;
  switch (c.op) {
    case 'present':
      return `isnotnull(${f}) AND ${f}!=""`;
    case 'absent':
      return `(isnull(${f}) OR ${f}=="")`;
    case 'not_in':
      return `NOT (${c.values.map((v) => `${f}==${splString(v)}`).join(' OR ')})`;
  }
}

export const whereSpl = (where: Condition[], fields: FieldTable): string => where.map((c) => conditionSpl(c, fields)).join(' AND ');

/** "5m" → "-5m": a relative time modifier for the same span. */
const ago = (duration: string): string => `-${duration}`;

/** A cron schedule that runs every `interval`; only intervals that divide an hour or a day evenly. */
export function cronFor(interval: string): string {
  const s = durationSeconds(interval);
  const minutes = s / 60;
  if (s % 60 === 0 && minutes < 60 && 60 % minutes === 0) return minutes === 1 ? '* * * * *' : `*/${minutes} * * * *`;
  const hours = s / 3600;
  if (s % 3600 === 0 && hours < 24 && 24 % hours === 0) return hours === 1 ? '0 * * * *' : `0 */${hours} * * *`;
  if (s === 86400) return '0 0 * * *';
  throw new Error(`schedule interval ${interval} cannot be written as a cron schedule (use a divisor of an hour or a day)`);
}

/** Seconds → the shortest relative-time span that says it exactly ("2d", "25h", "90m"). */
function spanOf(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

function longer(a: string, b: string): string {
  return durationSeconds(a) >= durationSeconds(b) ? a : b;
}

interface Rendered {
  search: string;
  /** How far back each run reads, by the callbacks' own time (`_time`). */
  range: string;
  /** How far back each run reads by arrival (`_indextime`), for the rules that take each callback once as it arrives. */
  indexRange?: string;
  /** Result fields that identify one alert, for throttling. */
  key: string[];
}

function render(d: Detection, fields: FieldTable): Rendered {
  const f = (name: string): string => fields.field(name).splunk.field;
  const kind = f('kind');
  const base = `\`${BASE_MACRO}\``;
  // Only callbacks with a time of their own (an event without one was given its arrival at index time).
  const where = ` | where ${['isnotnull(' + f('occurred_at') + ')', ...(d.logic.where.length > 0 ? [whereSpl(d.logic.where, fields)] : [])].join(' AND ')}`;
  // Splunk has no idempotent write: a batch resent after a crash stores its callbacks twice. Counting rules
  // count each callback once; the first-seen rule's minimum does not care, and skips the cost over its history.
  // keepempty=true: an event whose ids were not extracted is kept, never dropped (dedup drops it by default).
  const once = ` | dedup ${f('registry_id')}, ${f('event_id')} keepempty=true`;
  const conf = (test: string): string =>
    d.dns_confidence === d.confidence
      ? `eval confidence=${splString(d.confidence)}`
      : `eval confidence=if(${test}, ${splString(d.dns_confidence)}, ${splString(d.confidence)})`;
  const logic = d.logic;
  switch (logic.type) {
    case 'match': {
      const shown = ['_time', 'signature', 'severity', 'confidence', 'file_id', 'recipient_id', 'issuer_id', 'token_id', 'kind',
        'src', 'source_ip', 'dest', 'user_agent', 'registry_id', 'event_id'].map((n) => (fields.fields.some((r) => r.name === n) ? f(n) : n));
      const group = d.suppression.group_by.map(f);
      const backfill = durationSeconds(BACKFILL_DELAY);
      // Each run reports the callbacks indexed in its lookback, whenever they happened, except backfills (indexed
      // more than a day after they happened). Throttling keeps the first result per suppression key, so each row
      // carries the count of the key's callbacks indexed within the suppression window, this run's included: the
      // alert says how many callbacks the leak has had so far. The search reads the window by arrival and its
      // callbacks' own times up to a backfill delay before it.
      return {
        search:
          `${base}${where} | where _indextime - _time <= ${backfill}${once}` +
          ` | eventstats count as callbacks by ${group.join(', ')}` +
          ` | where _indextime > relative_time(now(), ${splString(ago(d.schedule.lookback))})` +
          ` | ${conf(`${kind}=="dns"`)} | table ${[...shown, 'callbacks'].join(', ')}`,
        range: spanOf(durationSeconds(d.suppression.window) + backfill),
        indexRange: d.suppression.window,
        key: [f('registry_id'), f('event_id')],
      };
    }
    case 'first_seen': {
      // tstats reads the indexed fields only (HEC's `fields`), so the 14-day history costs an index lookup, not
      // a scan of 14 days of raw events, and no search-time extraction can lose the key.
      const indexedName = (name: string): string => {
        const row = fields.field(name);
        if (!row.splunk.indexed && !row.splunk.indexed_as) throw new Error(`${d.id}: first_seen key ${name} is not an indexed field`);
        return row.splunk.indexed_as ?? row.splunk.field;
      };
      const by = logic.key.map(indexedName);
      const present = logic.where.map((c) => {
        if (c.op !== 'present') throw new Error(`${d.id}: a first_seen rule filters by present indexed fields only`);
        return `${indexedName(c.field)}=*`;
      });
      const firstKind = indexedName('kind');
      const search =
        `| tstats min(_time) as first_seen, min(_indextime) as first_arrived, earliest(${firstKind}) as first_kind, ` +
        `values(${indexedName('recipient_id')}) as recipients, count as callbacks where ${base} ${present.join(' ')} NOT ${TIME_MISSING}=true by ${by.join(', ')}` +
        ` | where first_arrived >= relative_time(now(), ${splString(ago(d.schedule.lookback))})` +
        ` | where first_arrived - first_seen <= ${durationSeconds(BACKFILL_DELAY)}` +
        ` | ${conf('first_kind=="dns"')} | convert ctime(first_seen) ctime(first_arrived)` +
        ` | table first_seen, first_arrived, ${by.join(', ')}, recipients, first_kind, callbacks, confidence`;
      return { search, range: longer(logic.history, d.schedule.lookback), key: by };
    }
    case 'distinct_count':
    case 'event_count': {
      // Counted over the whole lookback, which reaches a window plus an interval back (see model.ts): bins on
      // the clock would cut a burst that falls across two of them.
      const range = d.schedule.lookback;
      const by = logic.group_by.map(f);
      const measure =
        logic.type === 'distinct_count'
          ? { agg: `dc(${f(logic.field)}) as distinct_${f(logic.field)}, values(${f(logic.field)}) as ${f(logic.field)}_values`, test: `distinct_${f(logic.field)}` }
          : { agg: '', test: 'callbacks' };
      const others = ['file_id', 'recipient_id', 'token_id', 'source_ip'].map(f).filter((n) => !by.includes(n) && !(logic.type === 'distinct_count' && n === f(logic.field)));
      const search =
        `${base}${where}${once}` +
        ` | eval dns_callback=if(${kind}=="dns", 1, 0)` +
        ` | stats ${measure.agg ? `${measure.agg}, ` : ''}count as callbacks, sum(dns_callback) as dns_callbacks, min(_time) as first_seen, max(_time) as last_seen, ` +
        `${others.map((n) => `values(${n}) as ${n}_values`).join(', ')} by ${by.join(', ')}` +
        ` | where ${measure.test} >= ${logic.threshold}` +
        ` | ${conf('dns_callbacks > 0')} | convert ctime(first_seen) ctime(last_seen)`;
      return { search, range, key: logic.group_by.map(f) };
    }
  }
}

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** The saved search stanza of one detection: a scheduled alert, disabled until a user turns it on. */
export function savedSearch(d: Detection, fields: FieldTable, app: string): ConfStanza {
  const r = render(d, fields);
  const description = oneLine(
    `${d.description} Severity ${d.severity}, risk score ${d.risk_score}; confidence ${d.confidence}, ${d.dns_confidence} for DNS callbacks.` +
      ` MITRE ATT&CK: ${[...d.tactics, ...d.techniques].join(', ') || 'none'}.` +
      ` False positives: ${d.false_positives.join(' ')} Rule ${d.id} v${d.version}.`,
  );
  return {
    name: d.name,
    settings: [
      ['description', description],
      ['search', r.search],
      ['disabled', '1'],
      ['enableSched', '1'],
      ['cron_schedule', cronFor(d.schedule.interval)],
      ['dispatch.earliest_time', ago(r.range)],
      ['dispatch.latest_time', 'now'],
      ...(r.indexRange ? ([['dispatch.index_earliest', ago(r.indexRange)], ['dispatch.index_latest', 'now']] as [string, string][]) : []),
      ['counttype', 'number of events'],
      ['relation', 'greater than'],
      ['quantity', '0'],
      ['alert.severity', String(ALERT_SEVERITY[d.severity])],
      ['alert.digest_mode', '0'],
      // A building block is a scheduled result kept with the search, not a triggered alert.
      ['alert.track', opensAlerts(d) ? '1' : '0'],
      ['alert.suppress', '1'],
      // One alert per suppression key (a file, a token, an address) per window; the first one opens the case.
      ['alert.suppress.fields', d.suppression.group_by.map((n) => fields.field(n).splunk.field).join(',')],
      ['alert.suppress.period', d.suppression.window],
      ['request.ui_dispatch_app', app],
      ['request.ui_dispatch_view', 'search'],
    ],
  };
}
