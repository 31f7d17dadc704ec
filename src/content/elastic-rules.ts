/**
 * Elastic Security detection rules from the declarative detections (content/detections/*.yaml), one JSON rule
 * per line as `POST /api/detection_engine/rules/_import` takes them: `match` → query rule, `first_seen` →
 * new_terms, `distinct_count` → threshold with cardinality, `event_count` → threshold. Field names come
 * through content/fields.yaml; the rules ship disabled.
 */
import net from 'node:net';
import { DATA_STREAM_PATTERN } from './elastic-mappings.js';
import { BACKFILL_DELAY, durationSeconds, opensAlerts, type Condition, type Detection, type FieldTable } from './model.js';

const TACTICS: Readonly<Record<string, string>> = {
  TA0001: 'Initial Access',
  TA0007: 'Discovery',
  TA0009: 'Collection',
  TA0010: 'Exfiltration',
  TA0011: 'Command and Control',
  TA0043: 'Reconnaissance',
};

const TECHNIQUES: Readonly<Record<string, { name: string; tactic: string }>> = {
  T1595: { name: 'Active Scanning', tactic: 'TA0043' },
  T1041: { name: 'Exfiltration Over C2 Channel', tactic: 'TA0010' },
  T1567: { name: 'Exfiltration Over Web Service', tactic: 'TA0010' },
};

const SEVERITY_STEPS = ['low', 'medium', 'high', 'critical'] as const;

/** Callbacks with a time of their own (the pipeline gives one without its arrival, and tags it). */
const TIMED = 'not tags:oversight_timestamp_missing';
/** ... that happened within the backfill delay. */
const ON_TIME = `@timestamp >= "now-${BACKFILL_DELAY}" and ${TIMED}`;
const and = (query: string, more: string): string => (query === '*' ? more : `${query} and ${more}`);

/** Elastic alert suppression: one alert per value per window, with the suppressed count in the alert. */
function suppression(d: Detection, fields: FieldTable): Record<string, unknown> {
  const seconds = durationSeconds(d.suppression.window);
  const duration = seconds % 3600 === 0 ? { value: seconds / 3600, unit: 'h' } : { value: Math.ceil(seconds / 60), unit: 'm' };
  // A threshold rule already groups by its threshold fields; it takes a duration only.
  if (d.logic.type === 'distinct_count' || d.logic.type === 'event_count') return { alert_suppression: { duration } };
  return {
    alert_suppression: {
      group_by: d.suppression.group_by.map((n) => ecsName(fields, n)),
      duration,
      missing_fields_strategy: 'suppress',
    },
  };
}

function elasticSeverity(s: Detection['severity']): (typeof SEVERITY_STEPS)[number] {
  return s === 'informational' ? 'low' : s;
}

function kqlValue(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** One condition as KQL, or null when it can never be false on the stored field. */
function kqlCondition(c: Condition, fields: FieldTable): string | null {
  const row = fields.field(c.field);
  const f = row.ecs.field;
  switch (c.op) {
    case 'present':
      return `${f}:*`;
    case 'absent':
      return `not ${f}:*`;
    case 'not_in': {
      // An `ip` field only ever holds addresses (the pipeline moves anything else to source.address), and KQL
      // refuses a non-address value against it, so excluding such a value is already done.
      const values = row.ecs.type === 'ip' ? c.values.filter((v) => net.isIP(v) !== 0) : c.values;
      return values.length === 0 ? null : `not ${f}:(${values.map(kqlValue).join(' or ')})`;
    }
  }
}

export function kqlQuery(where: readonly Condition[], fields: FieldTable): string {
  const parts = where.map((c) => kqlCondition(c, fields)).filter((q): q is string => q !== null);
  return parts.length === 0 ? '*' : parts.join(' and ');
}

function threat(d: Detection): Record<string, unknown>[] {
  return d.tactics.map((id) => {
    const name = TACTICS[id];
    if (!name) throw new Error(`${d.id}: MITRE tactic ${id} has no name in src/content/elastic-rules.ts`);
    const techniques = d.techniques.filter((t) => {
      const tech = TECHNIQUES[t];
      if (!tech) throw new Error(`${d.id}: MITRE technique ${t} has no name in src/content/elastic-rules.ts`);
      return tech.tactic === id;
    });
    return {
      framework: 'MITRE ATT&CK',
      tactic: { id, name, reference: `https://attack.mitre.org/tactics/${id}/` },
      ...(techniques.length
        ? { technique: techniques.map((t) => ({ id: t, name: TECHNIQUES[t]!.name, reference: `https://attack.mitre.org/techniques/${t}/` })) }
        : {}),
    };
  });
}

function ecsName(fields: FieldTable, name: string): string {
  return fields.field(name).ecs.field;
}

/** The fields a rule reads, as the rule's "required fields" panel shows them. */
function requiredFields(d: Detection, fields: FieldTable): { name: string; type: string; ecs: boolean }[] {
  const names = new Set<string>(d.logic.where.map((c) => c.field));
  if (d.logic.type === 'first_seen') d.logic.key.forEach((k) => names.add(k));
  if (d.logic.type === 'distinct_count') [...d.logic.group_by, d.logic.field].forEach((k) => names.add(k));
  if (d.logic.type === 'event_count') d.logic.group_by.forEach((k) => names.add(k));
  names.add('kind');
  return [...names].sort().map((n) => {
    const row = fields.field(n);
    return { name: row.ecs.field, type: row.ecs.type, ecs: !row.ecs.custom };
  });
}

function logicFields(d: Detection, fields: FieldTable): Record<string, unknown> {
  const logic = d.logic;
  const query = kqlQuery(logic.where, fields);
  // Elastic counts a threshold over the rule's whole look-back, as every SIEM's counting rule does here: the
  // look-back reaches a window plus an interval back, so a window that falls across two runs is counted whole.
  const window = (w: string): void => {
    if (durationSeconds(d.schedule.lookback) < durationSeconds(w) + durationSeconds(d.schedule.interval)) {
      throw new Error(`${d.id}: an Elastic threshold rule needs a look-back of at least ${w} plus the interval ${d.schedule.interval}`);
    }
  };
  switch (logic.type) {
    case 'match':
      // By arrival (timestamp_override below), but only callbacks that happened within a day: an older one is a
      // backfill and raises no alert of its own. A record without a usable time got its arrival as @timestamp.
      return { type: 'query', language: 'kuery', query: and(query, ON_TIME) };
    case 'first_seen':
      return {
        type: 'new_terms', language: 'kuery', query: and(query, ON_TIME),
        new_terms_fields: logic.key.map((k) => ecsName(fields, k)),
        history_window_start: `now-${logic.history}`,
      };
    case 'distinct_count':
      window(logic.window);
      return {
        type: 'threshold', language: 'kuery', query: and(query, TIMED),
        threshold: {
          field: logic.group_by.map((k) => ecsName(fields, k)),
          value: 1,
          cardinality: [{ field: ecsName(fields, logic.field), value: logic.threshold }],
        },
      };
    case 'event_count':
      window(logic.window);
      return {
        type: 'threshold', language: 'kuery', query: and(query, TIMED),
        threshold: { field: logic.group_by.map((k) => ecsName(fields, k)), value: logic.threshold },
      };
  }
}

/** DNS callbacks name the reader's resolver: one severity step lower where the detection says so. */
function severityMapping(d: Detection, fields: FieldTable): Record<string, unknown>[] {
  if (d.logic.type === 'distinct_count' || d.logic.type === 'event_count') return [];
  const order = ['low', 'medium', 'high'];
  if (order.indexOf(d.dns_confidence) >= order.indexOf(d.confidence)) return [];
  const base = SEVERITY_STEPS.indexOf(elasticSeverity(d.severity));
  return [{ field: ecsName(fields, 'kind'), operator: 'equals', value: 'dns', severity: SEVERITY_STEPS[Math.max(0, base - 1)] }];
}

export function elasticRule(d: Detection, fields: FieldTable, version: string): Record<string, unknown> {
  const mapping = severityMapping(d, fields);
  return {
    rule_id: d.id,
    name: d.name,
    description: d.description,
    ...logicFields(d, fields),
    index: [DATA_STREAM_PATTERN],
    interval: d.schedule.interval,
    from: `now-${d.schedule.lookback}`,
    to: 'now',
    // Per-callback rules go by arrival (event.ingested, set by our pipeline), so a callback delivered late is
    // still seen once; counting rules go by the callbacks' own time, so an hourly export is no burst.
    ...(d.logic.type === 'match' || d.logic.type === 'first_seen' ? { timestamp_override: 'event.ingested' } : {}),
    ...suppression(d, fields),
    // A building block's alerts are kept for correlation and hidden from the Alerts table by default.
    ...(opensAlerts(d) ? {} : { building_block_type: 'default' }),
    risk_score: d.risk_score,
    severity: elasticSeverity(d.severity),
    ...(mapping.length ? { severity_mapping: mapping } : {}),
    threat: threat(d),
    tags: ['Data Source: Oversight', 'Use Case: Data Loss Prevention', ...d.tactics.map((t) => `Tactic: ${TACTICS[t]}`)],
    false_positives: d.false_positives,
    required_fields: requiredFields(d, fields),
    references: [],
    author: ['Oversight'],
    license: 'Apache-2.0',
    max_signals: 100,
    enabled: false,
    version: d.version,
    meta: { managed_by: 'oversight-siem', oversight_siem_version: version, confidence: d.confidence, dns_confidence: d.dns_confidence },
  };
}

export function rulesNdjson(detections: readonly Detection[], fields: FieldTable, version: string): string {
  return detections.map((d) => JSON.stringify(elasticRule(d, fields, version)) + '\n').join('');
}
