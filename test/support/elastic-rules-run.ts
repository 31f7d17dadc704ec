/**
 * Runs our Elastic Security rules (content/elastic/kibana/detection_rules.ndjson) over documents stored by the
 * Elasticsearch simulator, as Kibana's detection engine would run them on schedule: the rule's time field
 * (`timestamp_override`, else `@timestamp`) within `from`..now, the KQL forms our rules use, the rule types
 * query / new_terms / threshold, one alert per source document however often the runs overlap, and alert
 * suppression (group_by within a duration, counting the suppressed documents). Anything else throws.
 */
import { durationSeconds } from '../../src/content/model.js';

type Doc = Record<string, unknown>;
type Rule = Record<string, any>;

export interface ElasticAlert {
  rule: string;
  /** The suppression or threshold group, or the document's event id for a query rule without suppression. */
  key: string;
  docs: Doc[];
  /** Documents folded into this alert by suppression after it was raised. */
  suppressed: number;
}

function get(doc: Doc, path: string): unknown {
  let node: unknown = doc;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Doc)[part];
  }
  return node;
}

const present = (v: unknown): boolean => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);
const text = (v: unknown): string[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

/** Date math `now-<n><unit>` against `now` (ms). */
function dateMath(expr: string, now: number): number {
  const m = /^now-(\d+[smhd])$/.exec(expr);
  if (!m) throw new Error(`date ${expr} is not replayed here`);
  return now - durationSeconds(m[1]!) * 1000;
}

/** The KQL our rules use: clauses joined by `and`; `f:*`, `not f:*`, `not f:("a" or "b")`, `not f:v`, `f >= "now-…"`. */
export function kqlMatches(query: string, doc: Doc, now: number): boolean {
  if (query.trim() === '*' || query.trim() === '') return true;
  return query.split(/\s+and\s+/).every((clause) => {
    let m = /^(not\s+)?([\w.@]+):\*$/.exec(clause);
    if (m) return present(get(doc, m[2]!)) !== Boolean(m[1]);
    m = /^(not\s+)?([\w.@]+):\((.+)\)$/.exec(clause);
    if (m) {
      const values = m[3]!.split(/\s+or\s+/).map((v) => JSON.parse(v) as string);
      return text(get(doc, m[2]!)).some((v) => values.includes(v)) !== Boolean(m[1]);
    }
    m = /^(not\s+)?([\w.@]+):([\w.-]+)$/.exec(clause);
    if (m) return text(get(doc, m[2]!)).includes(m[3]!) !== Boolean(m[1]);
    m = /^([\w.@]+)\s*>=\s*"([^"]+)"$/.exec(clause);
    if (m) {
      const t = Date.parse(String(get(doc, m[1]!)));
      return Number.isFinite(t) && t >= dateMath(m[2]!, now);
    }
    throw new Error(`KQL clause ${clause} is not replayed here`);
  });
}

function durationMs(d: { value: number; unit: string }): number {
  return d.value * { s: 1000, m: 60_000, h: 3_600_000 }[d.unit as 's' | 'm' | 'h'];
}

/** A rule and the alerts it has raised so far, run after run. */
export class ElasticRuleRunner {
  readonly alerts: ElasticAlert[] = [];
  private readonly alerted = new Set<Doc>();
  private readonly open = new Map<string, { alert: ElasticAlert; until: number }>();

  constructor(private readonly rule: Rule) {
    if (!['query', 'new_terms', 'threshold'].includes(rule.type)) throw new Error(`rule type ${rule.type} is not replayed here`);
  }

  private timeOf(doc: Doc): number {
    return Date.parse(String(get(doc, this.rule.timestamp_override ?? '@timestamp')));
  }

  /** One scheduled run at `now` (ms) over every document stored so far; returns the alerts it raised. */
  run(docs: readonly Doc[], now: number): ElasticAlert[] {
    const r = this.rule;
    const from = dateMath(r.from, now);
    const inRange = docs.filter((d) => {
      const t = this.timeOf(d);
      return t > from && t <= now && kqlMatches(r.query, d, now);
    });
    const raised: ElasticAlert[] = [];
    const suppression = r.alert_suppression as { group_by?: string[]; duration?: { value: number; unit: string }; missing_fields_strategy?: string } | undefined;
    const raise = (key: string, group: Doc[]): void => {
      const held = this.open.get(key);
      if (held && now <= held.until) {
        held.alert.suppressed += group.length;
        return;
      }
      const alert: ElasticAlert = { rule: r.rule_id, key, docs: group, suppressed: 0 };
      if (suppression?.duration) this.open.set(key, { alert, until: now + durationMs(suppression.duration) });
      this.alerts.push(alert);
      raised.push(alert);
    };
    if (r.type === 'threshold') {
      const fields = r.threshold.field as string[];
      const groups = new Map<string, Doc[]>();
      for (const d of inRange) {
        const key = JSON.stringify(fields.map((f) => text(get(d, f))[0] ?? null));
        if (fields.some((f) => !present(get(d, f)))) continue;
        groups.set(key, [...(groups.get(key) ?? []), d]);
      }
      for (const [key, group] of groups) {
        if (group.length < r.threshold.value) continue;
        const card = (r.threshold.cardinality ?? []) as { field: string; value: number }[];
        if (card.some((c) => new Set(group.flatMap((d) => text(get(d, c.field)))).size < c.value)) continue;
        raise(key, group);
      }
      return raised;
    }
    let candidates = inRange.filter((d) => !this.alerted.has(d));
    if (r.type === 'new_terms') {
      const fields = r.new_terms_fields as string[];
      const historyStart = dateMath(r.history_window_start, now);
      const termOf = (d: Doc): string => JSON.stringify(fields.map((f) => text(get(d, f))[0] ?? null));
      const seenBefore = new Set(docs.filter((d) => {
        const t = this.timeOf(d);
        return t > historyStart && t <= from && kqlMatches(r.query, d, now);
      }).map(termOf));
      const firsts = new Map<string, Doc>();
      for (const d of candidates.sort((a, b) => this.timeOf(a) - this.timeOf(b))) {
        const term = termOf(d);
        if (!seenBefore.has(term) && !firsts.has(term) && !this.alertedTerms.has(term)) firsts.set(term, d);
      }
      for (const term of firsts.keys()) this.alertedTerms.add(term);
      candidates = [...firsts.values()];
    }
    for (const d of candidates) {
      this.alerted.add(d);
      if (suppression?.group_by) {
        const values = suppression.group_by.map((f) => text(get(d, f))[0] ?? null);
        if (values.includes(null) && suppression.missing_fields_strategy !== 'suppress') raise(`doc:${String(get(d, 'event.id'))}`, [d]);
        else raise(JSON.stringify(values), [d]);
      } else raise(`doc:${String(get(d, 'event.id'))}`, [d]);
    }
    return raised;
  }

  private readonly alertedTerms = new Set<string>();
}
