/**
 * Each declarative detection rendered as the KQL of a Sentinel scheduled rule over `Oversight_CL`. Column names
 * come from the field table, so a renamed column changes every rule at once. Every query ends with the same
 * output columns per logic type, and the rule metadata (entity mappings, custom details) names only those.
 */
import { durationSeconds, type Condition, type Detection, type FieldTable } from './model.js';

export const TABLE = 'Oversight_CL';
/** Sentinel runs a scheduled rule over at most this much data. */
export const MAX_QUERY_PERIOD_SECONDS = 14 * 86400;

/** Columns a rule adds beyond the table: the caller address usable as an IP entity, and the recipient split for the Account entity. */
export const DERIVED = {
  ip: 'CallerIp',
  accountName: 'RecipientName',
  accountSuffix: 'RecipientUPNSuffix',
  confidence: 'Confidence',
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
  const [time, registry, event, kind, sourceIp, recipient, fileId] =
    ['occurred_at', 'registry_id', 'event_id', 'kind', 'source_ip', 'recipient_id', 'file_id'].map(c) as [string, string, string, string, string, string, string];
  const where = d.logic.where.map((x) => `| where ${condition(fields, x)}`);
  const frequency = durationSeconds(d.schedule.interval);
  const lookback = durationSeconds(d.schedule.lookback);
  const confidenceIf = (dns: string): string =>
    d.dns_confidence === d.confidence ? kql(d.confidence) : `iff(${dns}, ${kql(d.dns_confidence)}, ${kql(d.confidence)})`;
  const confidence = `${DERIVED.confidence} = ${confidenceIf(`${kind} == "dns"`)}`;
  const perRunConfidence = `${DERIVED.confidence} = ${confidenceIf('set_has_element(BeaconKinds, "dns")')}`;
  const derived = [
    `| extend ${DERIVED.ip} = iff(isnotnull(parse_ipv4(${sourceIp})) or isnotempty(parse_ipv6(${sourceIp})), ${sourceIp}, "")`,
    `    , ${DERIVED.accountName} = tostring(split(${recipient}, "@")[0])`,
    `    , ${DERIVED.accountSuffix} = tostring(split(${recipient}, "@")[1])`,
  ];
  const perEvent = ['occurred_at', 'registry_id', 'event_id', 'kind', 'action', 'token_id', 'file_id', 'recipient_id', 'issuer_id', 'source_ip', 'user_agent'].map(c);
  const header = [`// ${d.name}`, `// Generated from content/detections/${d.id.replace(/^oversight-/, '')}.yaml; edit that file, not this query.`];
  const dedupe = `| summarize arg_min(${time}, *) by ${registry}, ${event} // a resent batch stores a callback twice`;

  switch (d.logic.type) {
    case 'match': {
      const columns = [...perEvent, DERIVED.ip, DERIVED.accountName, DERIVED.accountSuffix, DERIVED.confidence];
      return {
        query: [
          ...header,
          TABLE,
          ...where,
          // Runs overlap (the lookback is longer than the interval, for late arrivals): each run takes only the
          // callbacks that arrived since the previous one, so a callback alerts once.
          `| where ingestion_time() > ago(${timespan(frequency)})`,
          dedupe,
          `| extend ${confidence}`,
          ...derived,
          `| project ${columns.join(', ')}`,
        ].join('\n'),
        columns,
        queryFrequency: frequency,
        queryPeriod: lookback,
        coverage:
          `Runs every ${d.schedule.interval}; each run takes the callbacks that reached the workspace since the previous run and happened ` +
          `within the last ${d.schedule.lookback}, so each callback alerts once. A callback that reaches the workspace up to ` +
          `${timespan(Math.max(lookback - frequency, 0))} after it happened is always covered, one later than ${d.schedule.lookback} never ` +
          '(the hunting query for late arrivals lists those).',
      };
    }
    case 'first_seen': {
      const history = Math.min(durationSeconds(d.logic.history), MAX_QUERY_PERIOD_SECONDS);
      const keys = d.logic.key.map(c);
      const columns = [...perEvent, DERIVED.ip, DERIVED.accountName, DERIVED.accountSuffix, DERIVED.confidence, 'FirstIngestedAt'];
      return {
        query: [
          ...header,
          TABLE,
          ...where,
          '| extend IngestedAt = ingestion_time()',
          // The earliest arrival decides: a late-delivered old callback or a resent copy does not look new.
          `| summarize arg_min(${time}, *), FirstIngestedAt = min(IngestedAt) by ${keys.join(', ')}`,
          // Since the previous run: the runs do not overlap, so a file alerts once.
          `| where FirstIngestedAt > ago(${timespan(frequency)})`,
          `| extend ${confidence}`,
          ...derived,
          `| project ${columns.join(', ')}`,
        ].join('\n'),
        columns,
        queryFrequency: frequency,
        queryPeriod: history,
        coverage:
          `Runs every ${d.schedule.interval} over the last ${timespan(history)} (the longest period a scheduled rule can query) and alerts ` +
          `when the earliest callback of a ${keys.join('/')} in that period reached the workspace since the previous run (by ingestion time, ` +
          'so a late delivery still counts and a resent copy does not alert again); ' +
          `a file whose earlier callbacks are older than ${timespan(history)} looks new again.`,
      };
    }
    case 'distinct_count': {
      const group = d.logic.group_by.map(c);
      const counted = c(d.logic.field);
      const window = durationSeconds(d.logic.window);
      const columns = [...group, 'DistinctCount', 'DistinctValues', 'Callbacks', 'FirstSeen', 'LastSeen', 'BeaconKinds',
        time, ...[registry, recipient, sourceIp].filter((x) => !group.includes(x)), DERIVED.ip, DERIVED.accountName, DERIVED.accountSuffix, DERIVED.confidence];
      return {
        query: [
          ...header,
          TABLE,
          ...where,
          '| extend IngestedAt = ingestion_time()',
          `| summarize DistinctValues = make_set(${counted}), Callbacks = count(), FirstSeen = min(${time}), LastSeen = max(${time}), LastIngestedAt = max(IngestedAt)`,
          `    , BeaconKinds = make_set(${kind}), arg_max(${time}, ${[registry, recipient, sourceIp].filter((x) => !group.includes(x)).join(', ')}) by ${group.join(', ')}`,
          '| extend DistinctCount = array_length(DistinctValues)',
          `| where DistinctCount >= ${d.logic.threshold}`,
          // Alert again only when a new callback arrived since the previous run, not every run for the whole window.
          `| where LastIngestedAt > ago(${timespan(frequency)})`,
          `| extend ${perRunConfidence}`,
          ...derived,
          `| project ${columns.join(', ')}`,
        ].join('\n'),
        columns,
        queryFrequency: frequency,
        queryPeriod: window,
        coverage:
          `Runs every ${d.schedule.interval} over the last ${timespan(window)} and counts distinct ${counted} values exactly ` +
          `(a set, not an estimate) per ${group.join('/')}; it alerts when the count is reached and a callback arrived since the previous run, ` +
          'so an ongoing spread alerts again with each new callback. The IP entity is the latest address; all addresses are in DistinctValues.',
      };
    }
    case 'event_count': {
      const group = d.logic.group_by.map(c);
      const window = durationSeconds(d.logic.window);
      const latest = [registry, recipient, sourceIp].filter((x) => !group.includes(x));
      const columns = [...group, 'Callbacks', 'Files', 'Tokens', 'FirstSeen', 'LastSeen', 'BeaconKinds', time, ...latest,
        DERIVED.ip, DERIVED.accountName, DERIVED.accountSuffix, DERIVED.confidence];
      return {
        query: [
          ...header,
          TABLE,
          ...where,
          dedupe,
          `| summarize Callbacks = count(), Files = make_set(${fileId}, 100), Tokens = make_set(${c('token_id')}, 100), FirstSeen = min(${time}), LastSeen = max(${time})`,
          `    , BeaconKinds = make_set(${kind})${latest.length ? `, arg_max(${time}, ${latest.join(', ')})` : ''} by ${group.join(', ')}`,
          `| where Callbacks >= ${d.logic.threshold}`,
          `| extend ${perRunConfidence}`,
          ...derived,
          `| project ${columns.join(', ')}`,
        ].join('\n'),
        columns,
        queryFrequency: frequency,
        queryPeriod: window,
        coverage:
          `Runs every ${d.schedule.interval} over the last ${timespan(window)} and counts callbacks per ${group.join('/')}, ` +
          'each callback once even when a resent batch stored it twice.',
      };
    }
  }
}
