/**
 * Each declarative detection rendered as the KQL of a Sentinel scheduled rule over `Oversight_CL`. Column names
 * come from the field table, so a renamed column changes every rule at once. Every query ends with the same
 * output columns per logic type, and the rule metadata (entity mappings, custom details) names only those.
 */
import { OCCURRED_COLUMN } from '../records/formats/sentinel.js';
import { BACKFILL_DELAY, durationSeconds, type Condition, type Detection, type FieldTable } from './model.js';

export const TABLE = 'Oversight_CL';
/** The column the DCR transform fills with the callback's own time (TimeGenerated becomes the arrival time). */
export { OCCURRED_COLUMN };
/** Sentinel runs a scheduled rule over at most this much data. */
export const MAX_QUERY_PERIOD_SECONDS = 14 * 86400;
/** At most this many values of a set go on an alert (Sentinel caps an alert's custom details at 2 KB in all). */
export const SET_LIMIT = 10;

/** The count of the suppression key's callbacks within the suppression window, on a per-callback alert. */
export const WINDOW_COUNT = 'CallbacksInWindow';

/** Columns a rule adds beyond the table: the caller address usable as an IP entity, and the recipient split for the Account entity. */
export const DERIVED = {
  ip: 'CallerIp',
  accountName: 'RecipientName',
  accountSuffix: 'RecipientUPNSuffix',
  confidence: 'Confidence',
  /** The source address as an alert may show it: a DNS callback's address is labelled as the resolver's. */
  origin: 'Origin',
} as const;

export interface RuleQuery {
  query: string;
  /** The columns the query's results carry. */
  columns: string[];
  queryFrequency: number;
  queryPeriod: number;
  /** What the query covers, in words, for the rule description. */
  coverage: string;
}

const kql = (s: string): string => JSON.stringify(s);

function condition(fields: FieldTable, c: Condition): string {
  const col = fields.field(c.field).sentinel.column;
  switch (c.op) {
    case 'present': return `isnotempty(${col})`;
    case 'absent': return `isempty(${col})`;
    case 'not_in': return `${col} !in (${c.values.map(kql).join(', ')})`;
  }
}

/** "5m" → "5m"; the KQL timespan literal for a duration in seconds. */
export function timespan(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

export function renderRuleQuery(fields: FieldTable, d: Detection): RuleQuery {
  const c = (name: string): string => fields.field(name).sentinel.column;
  const [registry, event, kind, sourceIp, recipient, fileId] =
    ['registry_id', 'event_id', 'kind', 'source_ip', 'recipient_id', 'file_id'].map(c) as [string, string, string, string, string, string, string];
  const where = d.logic.where.map((x) => `| where ${condition(fields, x)}`);
  const frequency = durationSeconds(d.schedule.interval);
  const lookback = durationSeconds(d.schedule.lookback);
  const confidenceIf = (dns: string): string =>
    d.dns_confidence === d.confidence ? kql(d.confidence) : `iff(${dns}, ${kql(d.dns_confidence)}, ${kql(d.confidence)})`;
  const confidence = `${DERIVED.confidence} = ${confidenceIf(`${kind} == "dns"`)}`;
  const perRunConfidence = `${DERIVED.confidence} = ${confidenceIf('set_has_element(BeaconKinds, "dns")')}`;
  // A DNS callback's address is the reader's resolver: never put it forward as the reader's address.
  const derived = (dns: string): string[] => [
    `| extend ${DERIVED.ip} = iff(not(${dns}) and (isnotnull(parse_ipv4(${sourceIp})) or isnotempty(parse_ipv6(${sourceIp}))), ${sourceIp}, "")`,
    `    , ${DERIVED.accountName} = tostring(split(${recipient}, "@")[0])`,
    `    , ${DERIVED.accountSuffix} = tostring(split(${recipient}, "@")[1])`,
    `    , ${DERIVED.origin} = iff(${dns}, strcat("DNS resolver ", ${sourceIp}), ${sourceIp})`,
  ];
  const occurred = OCCURRED_COLUMN;
  // TimeGenerated is when the row reached the workspace (the DCR transform sets it); OccurredAt is the callback's own time.
  const onTime = `| where isnotnull(${occurred}) and TimeGenerated - ${occurred} <= ${BACKFILL_DELAY} // older at arrival: a backfill, no per-callback alert`;
  const perEvent = [occurred, ...['occurred_at', 'registry_id', 'event_id', 'kind', 'action', 'token_id', 'file_id', 'recipient_id', 'issuer_id', 'source_ip', 'user_agent'].map(c)];
  const header = [`// ${d.name}`, `// Generated from content/detections/${d.id.replace(/^oversight-/, '')}.yaml; edit that file, not this query.`];
  const dedupe = `| summarize arg_min(${occurred}, *) by ${registry}, ${event} // a resent batch stores a callback twice`;
  const realWindow = (seconds: number): string => `| where ${occurred} > ago(${timespan(seconds)}) // counted by when the callbacks happened, not when they arrived`;

  switch (d.logic.type) {
    case 'match': {
      const group = d.suppression.group_by.map(c);
      const window = durationSeconds(d.suppression.window);
      const columns = [...perEvent, DERIVED.ip, DERIVED.accountName, DERIVED.accountSuffix, DERIVED.confidence, DERIVED.origin, WINDOW_COUNT];
      return {
        query: [
          ...header,
          TABLE,
          ...where,
          // Each run takes only the callbacks that arrived since the previous one, however late they were
          // delivered, so a callback alerts once.
          `| where ingestion_time() > ago(${timespan(frequency)})`,
          onTime,
          dedupe,
          // The incident groups a day's alerts of one file; each alert says how many callbacks the file has had
          // in that day, counted once each however often a batch was resent.
          '| join kind=leftouter (',
          `    ${TABLE}`,
          ...where.map((w) => `    ${w}`),
          `    | where ingestion_time() > ago(${timespan(window)})`,
          `    ${onTime}`,
          `    | summarize ${WINDOW_COUNT} = count_distinct(strcat(${registry}, "/", ${event})) by ${group.join(', ')}`,
          `    ) on ${group.join(', ')}`,
          `| extend ${confidence}`,
          ...derived(`${kind} == "dns"`),
          `| project ${columns.join(', ')}`,
        ].join('\n'),
        columns,
        queryFrequency: frequency,
        queryPeriod: Math.max(lookback, window),
        coverage:
          `Runs every ${d.schedule.interval}; each run takes the callbacks that reached the workspace since the previous run, so each ` +
          `callback alerts once, however late it was delivered, and the alert carries its own time (OccurredAt). A callback that ` +
          `reached the workspace more than ${BACKFILL_DELAY} after it happened is a backfill and raises no alert of its own ` +
          '(the hunting query for late arrivals lists those). The alerts of one ' + group.join('/') + ` go into one incident per ${d.suppression.window}, and each ` +
          `carries ${WINDOW_COUNT}: the callbacks of that ${group.join('/')} that reached the workspace in the last ${timespan(window)}, this one included.`,
      };
    }
    case 'first_seen': {
      const history = Math.min(durationSeconds(d.logic.history), MAX_QUERY_PERIOD_SECONDS);
      const keys = d.logic.key.map(c);
      const columns = [...perEvent, DERIVED.ip, DERIVED.accountName, DERIVED.accountSuffix, DERIVED.confidence, DERIVED.origin, 'FirstIngestedAt'];
      return {
        query: [
          ...header,
          TABLE,
          ...where,
          `| where isnotnull(${occurred})`,
          '| extend IngestedAt = ingestion_time()',
          // The earliest callback decides, and the earliest arrival: a resent copy does not look new.
          `| summarize arg_min(${occurred}, *), FirstIngestedAt = min(IngestedAt) by ${keys.join(', ')}`,
          // Since the previous run: the runs do not overlap, so a file alerts once.
          `| where FirstIngestedAt > ago(${timespan(frequency)})`,
          onTime,
          `| extend ${confidence}`,
          ...derived(`${kind} == "dns"`),
          `| project ${columns.join(', ')}`,
        ].join('\n'),
        columns,
        queryFrequency: frequency,
        queryPeriod: history,
        coverage:
          `Runs every ${d.schedule.interval} over the last ${timespan(history)} (the longest period a scheduled rule can query) and alerts ` +
          `when the earliest callback of a ${keys.join('/')} in that period reached the workspace since the previous run (by ingestion time, ` +
          'so a late delivery still counts and a resent copy does not alert again); a first callback that arrived more than ' +
          `${BACKFILL_DELAY} after it happened is a backfill and raises none; ` +
          `a file whose earlier callbacks are older than ${timespan(history)} looks new again.`,
      };
    }
    case 'distinct_count': {
      const group = d.logic.group_by.map(c);
      const counted = c(d.logic.field);
      // Over the whole lookback, a window plus an interval (see model.ts), so a spread across two runs is counted.
      const window = lookback;
      const columns = [...group, 'DistinctCount', 'DistinctValues', 'Callbacks', 'FirstSeen', 'LastSeen', 'BeaconKinds',
        occurred, ...[registry, recipient, sourceIp].filter((x) => !group.includes(x)), DERIVED.ip, DERIVED.accountName, DERIVED.accountSuffix, DERIVED.confidence, DERIVED.origin];
      return {
        query: [
          ...header,
          TABLE,
          ...where,
          realWindow(window),
          '| extend IngestedAt = ingestion_time()',
          `| summarize DistinctValues = make_set(${counted}, ${SET_LIMIT}), DistinctCount = count_distinct(${counted}), Callbacks = count(), FirstSeen = min(${occurred}), LastSeen = max(${occurred}), LastIngestedAt = max(IngestedAt)`,
          `    , BeaconKinds = make_set(${kind}), arg_max(${occurred}, ${[kind, registry, recipient, sourceIp].filter((x) => !group.includes(x)).join(', ')}) by ${group.join(', ')}`,
          `| where DistinctCount >= ${d.logic.threshold}`,
          // Alert again only when a new callback arrived since the previous run, not every run for the whole window.
          `| where LastIngestedAt > ago(${timespan(frequency)})`,
          `| extend ${perRunConfidence}`,
          ...derived(`${kind} == "dns"`),
          `| project ${columns.join(', ')}`,
        ].join('\n'),
        columns,
        queryFrequency: frequency,
        queryPeriod: window,
        coverage:
          `Runs every ${d.schedule.interval} over the callbacks that happened in the last ${timespan(window)} (by OccurredAt, so a late export is counted where it belongs and an hourly export is no spread; ` +
          `${d.logic.window} plus the interval and ${timespan(window - durationSeconds(d.logic.window) - frequency)} of delivery delay, so a spread across two runs is counted whole) and counts distinct ${counted} values exactly ` +
          `(a set, not an estimate) per ${group.join('/')}; it alerts when the count is reached and a callback arrived since the previous run, ` +
          'so an ongoing spread alerts again with each new callback. The IP entity is the latest address unless it came from a DNS callback (a resolver); ' +
          `up to ${SET_LIMIT} addresses are in DistinctValues.`,
      };
    }
    case 'event_count': {
      const group = d.logic.group_by.map(c);
      const window = lookback;
      const latest = [registry, recipient, sourceIp].filter((x) => !group.includes(x));
      const columns = [...group, 'Callbacks', 'Files', 'Tokens', 'FirstSeen', 'LastSeen', 'BeaconKinds', occurred, ...latest,
        DERIVED.ip, DERIVED.accountName, DERIVED.accountSuffix, DERIVED.confidence, DERIVED.origin];
      return {
        query: [
          ...header,
          TABLE,
          ...where,
          realWindow(window),
          dedupe,
          `| summarize Callbacks = count(), Files = make_set(${fileId}, ${SET_LIMIT}), Tokens = make_set(${c('token_id')}, ${SET_LIMIT}), FirstSeen = min(${occurred}), LastSeen = max(${occurred})`,
          `    , BeaconKinds = make_set(${kind}), arg_max(${occurred}, ${[kind, ...latest].join(', ')}) by ${group.join(', ')}`,
          `| where Callbacks >= ${d.logic.threshold}`,
          `| extend ${perRunConfidence}`,
          ...derived(`set_has_element(BeaconKinds, "dns")`),
          `| project ${columns.join(', ')}`,
        ].join('\n'),
        columns,
        queryFrequency: frequency,
        queryPeriod: window,
        coverage:
          `Runs every ${d.schedule.interval} over the callbacks that happened in the last ${timespan(window)} (by OccurredAt, so an hourly ` +
          `export is no burst; ${d.logic.window} plus the interval and ${timespan(window - durationSeconds(d.logic.window) - frequency)} of delivery delay, so a burst across two runs ` +
          `is counted whole) and counts callbacks per ${group.join('/')}, each callback once even when a resent batch stored it twice.`,
      };
    }
  }
}
