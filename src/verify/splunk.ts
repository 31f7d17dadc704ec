/**
 * Splunk read-back through the search export endpoint on the management port (not the HEC port; the HEC token
 * cannot search). One search per window, bounded by the window's event times, that returns one small row per
 * event id: `stats count values(...) by event_id`. Results stream back as one JSON object per line. The search
 * returns every event id of the export's host and of this registry id in those times, not only the window's, so it
 * also counts, per id, the copies of this registry dated in the span the verifier asks about (`in_span`).
 */
import type { HttpClient } from '../transports/http/client.js';
import { safeHost } from '../transports/http/client.js';
import { excerpt } from '../transports/transport.js';
import { NO_EVENT_ID, QueryError, type Others, type VerifyBackend } from './backend.js';
import { foundFor, type ExpectedEvent, type Found } from './compare.js';
import { query } from './http.js';

export interface SplunkVerifyConfig {
  /** `https://HOST:8089`. */
  searchUrl: string;
  /** `Authorization` for the search API (Bearer token, Splunk session key or Basic). */
  authorization: string;
  client: HttpClient;
  registryId: string;
  /** The export's `--splunk-index` (null: every index the user may search). */
  index: string | null;
  sourcetype: string;
  source: string;
  /** HEC `host`: the export's `--splunk-host`, else the registry id. Indexed, so it narrows the search cheaply. */
  host: string;
  /** Where Splunk's warnings on a search are shown. */
  warn?: (message: string) => void;
}

/** An SPL string literal. */
export function splQuote(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The search for one window; the time bounds go in earliest_time/latest_time. It reads the export's events (its
 * host, source and sourcetype) and every event whose registry_id is ours, whatever host, source or sourcetype it
 * was given: anyone with the HEC token chooses those. With a span, `in_span` counts the copies of the registry
 * dated in its seconds: those whose registry_id is ours, or that have none extracted (past the 5000-byte limit)
 * when the host is the registry id; an event without an event id is counted under NO_EVENT_ID, since
 * `stats … by event_id` leaves out events that lack the field.
 */
export function splunkSearch(c: Pick<SplunkVerifyConfig, 'index' | 'sourcetype' | 'source' | 'host' | 'registryId'>, span: { after: number; upTo: number } | null = null): string {
  const index = c.index === null ? 'index=*' : `index=${splQuote(c.index)}`;
  const ours = `registry_id==${splQuote(c.registryId)}${c.host === c.registryId ? ' OR isnull(registry_id)' : ''}`;
  const inSpan = span
    ? ` | eval event_id=coalesce(event_id, ${splQuote(NO_EVENT_ID)}), in_span=if(_time>=${span.after + 1} AND _time<${span.upTo + 1} AND (${ours}), 1, 0)`
    : '';
  // Splunk's search evaluates OR before AND: the parentheses keep the export's three terms together.
  return `search ${index} ((sourcetype=${splQuote(c.sourcetype)} source=${splQuote(c.source)} host=${splQuote(c.host)}) OR registry_id=${splQuote(c.registryId)})${inSpan}` +
    ` | stats count${span ? ' sum(in_span) as in_span' : ''} values(registry_id) as registry_id values(token_id) as token_id values(file_id) as file_id values(_time) as time by event_id`;
}

type ResultValue = string | string[] | undefined;

export class SplunkVerifier implements VerifyBackend {
  readonly name = 'splunk';
  readonly target: string;
  /** HEC answers before indexing; events are normally searchable within seconds, later under load. */
  readonly settleMs = 120_000;
  private readonly url: string;
  private readonly warnings = new Set<string>();

  constructor(private readonly c: SplunkVerifyConfig) {
    const u = new URL(c.searchUrl);
    u.pathname = u.pathname.replace(/\/+$/, '') + '/services/search/v2/jobs/export';
    u.search = '';
    this.url = u.toString();
    this.target = `${safeHost(c.searchUrl)} ${c.index === null ? 'index=*' : `index=${c.index}`} sourcetype=${c.sourcetype}`;
  }

  async lookup(window: readonly ExpectedEvent[], others: Others | null): Promise<Map<string, Found>> {
    let earliest = Infinity;
    let latest = -Infinity;
    const wanted = new Set<string>();
    for (const e of window) {
      earliest = Math.min(earliest, e.time);
      latest = Math.max(latest, e.time);
      wanted.add(e.eventId);
    }
    // The span may start before the window's oldest event (a gap after the previous window).
    if (others) earliest = Math.min(earliest, others.after + 1);
    const form = new URLSearchParams({
      search: splunkSearch(this.c, others ?? null), earliest_time: String(earliest), latest_time: String(latest + 1), output_mode: 'json',
    }).toString();
    const headers = { authorization: this.c.authorization, 'content-type': 'application/x-www-form-urlencoded' };
    const res = await query(this.c.client, 'POST', this.url, headers, form, 'Splunk search');
    if (res.status === 401) {
      throw new QueryError('Splunk refused the search credentials (HTTP 401): set OVERSIGHT_SPLUNK_SEARCH_TOKEN (an authentication token; the HEC token cannot search) or OVERSIGHT_SPLUNK_USERNAME and OVERSIGHT_SPLUNK_PASSWORD');
    }
    if (res.status === 403) {
      throw new QueryError(`Splunk answered HTTP 403: the user's role needs the 'search' capability and read access to ${this.c.index ?? 'the index the events go to'}`);
    }
    if (res.status !== 200) throw new QueryError(`Splunk search answered HTTP ${res.status}: ${messages(res.body) ?? excerpt(res.body)}`);
    const found = new Map<string, Found>();
    for (const line of res.body.split('\n')) {
      if (line.trim() === '') continue;
      let row: { preview?: unknown; result?: Record<string, ResultValue>; messages?: { type?: string; text?: string }[] };
      try {
        row = JSON.parse(line) as typeof row;
      } catch {
        throw new QueryError(`Splunk search answered a line that is not JSON: ${excerpt(line)}`);
      }
      const fatal = row.messages?.find((m) => m.type === 'FATAL' || m.type === 'ERROR');
      if (fatal) throw new QueryError(`Splunk search failed: ${excerpt(fatal.text ?? '')}`);
      for (const m of row.messages ?? []) if (m.type === 'WARN') this.warned(String(m.text ?? ''));
      const r = row.result;
      // A transforming search streams previews of a table still being built; only final rows are evidence, and a
      // stream that ends with previews alone (a search cut short) leaves nothing found rather than a guess.
      if (!r || row.preview === true) continue;
      const id = one(r['event_id']);
      if (id === null) continue;
      // `stats count by event_id` gives one row per id seen, counting its copies: anything but a whole number of
      // at least 1 is not that answer, and must not stand for "stored once".
      const count = one(r['count']);
      if (count === null || !/^[1-9][0-9]{0,8}$/.test(count)) {
        throw new QueryError(`Splunk search answered a count that is not a whole number of copies for event ${excerpt(id, 80)}: ${excerpt(JSON.stringify(r['count'] ?? null), 80)}`);
      }
      // The time bounds also catch other events of those seconds: the window's are judged here, the others are
      // counted in the span, at most as many as the copies.
      if (!wanted.has(id)) {
        if (!others) continue;
        const inSpan = one(r['in_span']);
        if (inSpan === null || !/^(0|[1-9][0-9]{0,8})$/.test(inSpan) || Number(inSpan) > Number(count)) {
          throw new QueryError(`Splunk search answered an in_span that is not a whole number of at most ${count} copies for event ${excerpt(id, 80)}: ${excerpt(JSON.stringify(r['in_span'] ?? null), 80)}`);
        }
        others.add(id === '' ? NO_EVENT_ID : id, Number(inSpan));
        continue;
      }
      const f = foundFor(found, id);
      f.count += Number(count);
      for (const v of all(r['registry_id'])) f.registryIds.add(v);
      for (const v of all(r['token_id'])) f.tokens.add(v);
      for (const v of all(r['file_id'])) f.files.add(v);
      for (const v of all(r['time'])) if (Number.isFinite(Number(v))) f.times.add(Math.floor(Number(v)));
    }
    return found;
  }

  /**
   * Splunk's warnings on a search (a peer that did not answer: "results might be incomplete") are shown, each text
   * once and at most MAX_WARNINGS of them, so whoever reads the verdicts knows they may rest on partial results.
   * They do not fail the run: Splunk also warns of harmless things, and its exact words are not a stable API.
   */
  private warned(text: string): void {
    if (this.warnings.has(text) || this.warnings.size >= MAX_WARNINGS) return;
    this.warnings.add(text);
    this.c.warn?.(`Splunk search warned: ${excerpt(text)}${this.warnings.size === MAX_WARNINGS ? ' (further warnings are not shown)' : ''}`);
  }

  async close(): Promise<void> {}
}

const MAX_WARNINGS = 5;

function all(v: ResultValue): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
}

function one(v: ResultValue): string | null {
  const a = all(v);
  return a.length === 1 ? a[0]! : null;
}

/** Splunk's own words from an error answer (`{"messages":[{"type","text"}]}`), if it gave any. */
function messages(body: string): string | null {
  try {
    const m = (JSON.parse(body) as { messages?: { text?: string }[] }).messages;
    return m && m.length ? excerpt(m.map((x) => x.text ?? '').join('; ')) : null;
  } catch {
    return null;
  }
}
