/**
 * The content model: the field table (`content/fields.yaml`) and the detection definitions
 * (`content/detections/*.yaml`), read and checked once. Every SIEM's content is generated from these two, so a
 * mistake here is reported by name instead of surfacing as a broken rule inside a SIEM.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export interface FieldRow {
  name: string;
  description: string;
  splunk: { field: string; indexed?: boolean; indexed_as?: string };
  ecs: { field: string; type: string; custom?: boolean };
  sentinel: { column: string; type: string };
  cim?: string;
}

export interface FieldTable {
  schemaVersion: string;
  fields: FieldRow[];
  ecsConstants: { field: string; type: string }[];
  /** A row by event field name; throws for a name the table does not have. */
  field(name: string): FieldRow;
}

export type Condition =
  | { field: string; op: 'present' }
  | { field: string; op: 'absent' }
  | { field: string; op: 'not_in'; values: string[] };

export type Logic =
  | { type: 'match'; where: Condition[] }
  | { type: 'first_seen'; key: string[]; history: string; where: Condition[] }
  | { type: 'distinct_count'; group_by: string[]; field: string; threshold: number; window: string; where: Condition[] }
  | { type: 'event_count'; group_by: string[]; threshold: number; window: string; where: Condition[] };

export type Severity = 'informational' | 'low' | 'medium' | 'high' | 'critical';

export interface Detection {
  id: string;
  guid: string;
  version: number;
  name: string;
  description: string;
  severity: Severity;
  risk_score: number;
  confidence: 'high' | 'medium' | 'low';
  dns_confidence: 'high' | 'medium' | 'low';
  tactics: string[];
  techniques: string[];
  schedule: { interval: string; lookback: string };
  /** One alert (Elastic, Splunk) or incident (Sentinel) per value of these fields per window, with the count in it. */
  suppression: { group_by: string[]; window: string };
  /**
   * `alert` (the default): each finding opens an alert (Splunk, Elastic) or an incident (Sentinel).
   * `building_block`: the finding is recorded where the SIEM keeps such signals (an Elastic building-block alert,
   * a Sentinel alert that opens no incident, a Splunk result that is not a triggered alert) and opens nothing of
   * its own, because another detection already alerts on the same callbacks.
   */
  alerting?: 'alert' | 'building_block';
  logic: Logic;
  false_positives: string[];
}

/** The package's `content/` folder, from `src/content` (tests, tsx) and `dist/content` (installed) alike. */
export function contentRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'content');
}

function fail(file: string, message: string): never {
  throw new Error(`${file}: ${message}`);
}

export function loadFields(root = contentRoot()): FieldTable {
  const file = path.join(root, 'fields.yaml');
  const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as {
    schema_version: string;
    fields: FieldRow[];
    ecs_constants: { field: string; type: string }[];
  };
  const byName = new Map<string, FieldRow>();
  for (const row of doc.fields) {
    if (!row.name || !row.splunk?.field || !row.ecs?.field || !row.ecs.type || !row.sentinel?.column || !row.sentinel.type) {
      fail(file, `field row ${JSON.stringify(row.name)} lacks name, splunk.field, ecs.field/type or sentinel.column/type`);
    }
    if (byName.has(row.name)) fail(file, `field ${row.name} is listed twice`);
    byName.set(row.name, row);
  }
  return {
    schemaVersion: doc.schema_version,
    fields: doc.fields,
    ecsConstants: doc.ecs_constants,
    field(name: string): FieldRow {
      const row = byName.get(name);
      if (!row) throw new Error(`${file}: no field named ${name}`);
      return row;
    },
  };
}

/**
 * A callback that reaches the SIEM more than this long after it happened is a backfill (an old registry exported
 * for the first time, an exporter that was down for days): it raises no per-callback alert, in any SIEM.
 */
export const BACKFILL_DELAY = '1d';

/** Whether a detection opens alerts (incidents in Sentinel) of its own. */
export const opensAlerts = (d: Detection): boolean => (d.alerting ?? 'alert') === 'alert';

const SEVERITIES: readonly Severity[] = ['informational', 'low', 'medium', 'high', 'critical'];
const LOGIC_TYPES = ['match', 'first_seen', 'distinct_count', 'event_count'];

/** "5m", "24h", "14d" → seconds. */
export function durationSeconds(text: string): number {
  const m = /^(\d+)([smhd])$/.exec(text);
  if (!m) throw new Error(`'${text}' is not a duration such as 5m, 24h or 14d`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

export function loadDetections(fields: FieldTable = loadFields(), root = contentRoot()): Detection[] {
  const dir = path.join(root, 'detections');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((name) => {
      const file = path.join(dir, name);
      const d = YAML.parse(fs.readFileSync(file, 'utf8')) as Detection;
      if (`${d.id}.yaml` !== `oversight-${name}`) fail(file, `id ${d.id} does not match the file name`);
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(d.guid)) fail(file, 'guid is not a GUID');
      if (!SEVERITIES.includes(d.severity)) fail(file, `severity ${d.severity} is not one of ${SEVERITIES.join(', ')}`);
      if (!LOGIC_TYPES.includes(d.logic?.type)) fail(file, `logic.type ${d.logic?.type} is not one of ${LOGIC_TYPES.join(', ')}`);
      durationSeconds(d.schedule.interval);
      durationSeconds(d.schedule.lookback);
      if (!d.suppression?.group_by?.length) fail(file, 'suppression.group_by names no field');
      if (d.alerting !== undefined && d.alerting !== 'alert' && d.alerting !== 'building_block') fail(file, `alerting ${String(d.alerting)} is not alert or building_block`);
      durationSeconds(d.suppression.window);
      const named = [...d.logic.where.map((c) => c.field), ...d.suppression.group_by];
      if (d.logic.type === 'first_seen') named.push(...d.logic.key), durationSeconds(d.logic.history);
      if (d.logic.type === 'distinct_count') named.push(...d.logic.group_by, d.logic.field);
      if (d.logic.type === 'event_count') named.push(...d.logic.group_by);
      if (d.logic.type === 'distinct_count' || d.logic.type === 'event_count') {
        // Each run counts what happened in its lookback. A window that ends between two runs is seen whole only
        // by the next run, and only if the lookback reaches back over it: window + interval at least.
        const need = durationSeconds(d.logic.window) + durationSeconds(d.schedule.interval);
        if (durationSeconds(d.schedule.lookback) < need) {
          fail(file, `lookback ${d.schedule.lookback} is shorter than window ${d.logic.window} plus interval ${d.schedule.interval}: a burst across two runs would be missed`);
        }
      }
      for (const f of named) fields.field(f);
      return d;
    });
}
