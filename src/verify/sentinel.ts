/**
 * Microsoft Sentinel / Log Analytics read-back through the Log Analytics query API. One KQL query per window
 * for the window's event ids, returning every stored row (so copies count) with `ingestion_time()`. The API's
 * traps are checked, not trusted: a request without `Content-Type: application/json` gets an empty 200, and a
 * partial failure comes as 200 with an `error` beside the tables; both stop the run instead of reading as "none".
 *
 * Beside each window, a second query asks which other event ids this registry has rows for, dated by the
 * callback's own time in the span the verifier names, for "not in the registry" (see othersQuery).
 */
import { OCCURRED_COLUMN } from '../records/formats/sentinel.js';
import { hasTime, MAX_UNIX } from '../registry/event.js';
import { ClientCredential, TokenError } from '../transports/http/azure-auth.js';
import type { HttpClient } from '../transports/http/client.js';
import { excerpt } from '../transports/transport.js';
import { QueryError, type Others, type VerifyBackend } from './backend.js';
import { foundFor, type ExpectedEvent, type Found } from './compare.js';
import { jsonBody, query } from './http.js';

export interface SentinelVerifyConfig {
  /** `https://api.loganalytics.azure.com` (or a sovereign cloud's). */
  apiUrl: string;
  workspaceId: string;
  /** The table the DCR stream writes, e.g. `Oversight_CL`. */
  table: string;
  registryId: string;
  credential: ClientCredential;
  client: HttpClient;
  now?: () => number;
}

/** Azure Monitor replaces a TimeGenerated more than 2 days old or 1 day ahead by the arrival time. */
const PAST_S = 2 * 86400;
const AHEAD_S = 86400;
/** Event ids per page of the query for other records. */
const PAGE = 1000;
/**
 * The most other event ids one span may name: a thousand pages, enough for a flood of made-up records to be counted
 * and named (each id's copies are counted by the workspace, however many); a peer that claims more could invent
 * pages without end.
 */
const MAX_OTHER_IDS = 1_000_000;

/** A KQL string literal. */
export function kqlString(v: string): string {
  return JSON.stringify(v);
}

/**
 * The query for one window. The callback's own time is `OccurredAt` where the data collection rule `siem setup`
 * deploys moved it there (and set `TimeGenerated` to the arrival); a rule of one's own without that step keeps
 * it in `TimeGenerated`, and `column_ifexists` lets one query read both kinds of table.
 */
export function windowQuery(table: string, registryId: string, eventIds: readonly string[]): string {
  return `let ids = dynamic(${JSON.stringify(eventIds)});\n${table}\n| where RegistryId == ${kqlString(registryId)} and EventId in (ids)\n` +
    `| project EventId, RegistryId, TokenId, FileId, ${OCCURRED_COLUMN} = column_ifexists(${kqlString(OCCURRED_COLUMN)}, datetime(null)), ` +
    'TimeGenerated, IngestionTime = ingestion_time()';
}

/**
 * One page of the query for other records beside a window: this registry's rows dated, by the callback's own
 * time, in the seconds after `after` up to `upTo`, whose event id is none of the window's, as one row per event id
 * with its copies, in event id order after `cursor` (the last id of the page before), each row carrying the
 * totals of the whole span so the pages can be checked against them. The own time is `OccurredAt` where the
 * deployed rule wrote it; a table without that column, or a row without a time, is placed by `TimeGenerated`.
 * Nothing here bounds `TimeGenerated` (the arrival): the request carries no timespan, so rows that arrived at any
 * time in the retention are seen.
 */
export function othersQuery(table: string, registryId: string, windowIds: readonly string[], after: number, upTo: number, cursor: string | null, page = PAGE): string {
  return `let ids = dynamic(${JSON.stringify(windowIds)});\n` +
    `let rest = materialize(${table}\n| where RegistryId == ${kqlString(registryId)} and EventId !in (ids)\n` +
    `| extend At = coalesce(column_ifexists(${kqlString(OCCURRED_COLUMN)}, datetime(null)), TimeGenerated)\n` +
    `| where At >= datetime(${iso(after + 1)}) and At < datetime(${spanEnd(upTo)})\n` +
    '| summarize Copies = count() by EventId);\nrest\n' +
    (cursor === null ? '' : `| where strcmp(EventId, ${kqlString(cursor)}) > 0\n`) +
    `| order by EventId asc\n| take ${page}\n| extend Ids = toscalar(rest | count), Total = toscalar(rest | summarize sum(Copies))`;
}

/** A stream name `Custom-<Table>` names its table. */
export function tableFromStream(dcrUrl: string): string | null {
  const m = /\/streams\/([^/?]+)/i.exec(dcrUrl);
  if (!m) return null;
  const stream = decodeURIComponent(m[1]!);
  return stream.startsWith('Custom-') ? stream.slice('Custom-'.length) : null;
}

interface Table {
  name?: string;
  columns?: { name?: string; type?: string }[];
  rows?: unknown[][];
}

export class SentinelVerifier implements VerifyBackend {
  readonly name = 'log-analytics';
  readonly target: string;
  /** Microsoft quotes under 10 s on average, older pages 20 s to 3 min, and a new table adds a one-time delay. */
  readonly settleMs = 300_000;
  private readonly url: string;
  private refused = 0;

  constructor(private readonly c: SentinelVerifyConfig) {
    this.url = `${c.apiUrl.replace(/\/+$/, '')}/v1/workspaces/${encodeURIComponent(c.workspaceId)}/query`;
    this.target = `workspace ${c.workspaceId} table ${c.table}`;
  }

  private async token(): Promise<string> {
    try {
      return await this.c.credential.getToken();
    } catch (err) {
      if (err instanceof TokenError) throw new QueryError(`${err.message} (token for the Log Analytics API)`);
      throw err;
    }
  }

  async lookup(window: readonly ExpectedEvent[], others: Others | null): Promise<Map<string, Found>> {
    const now = (this.c.now ?? Date.now)() / 1000;
    let earliest = Infinity;
    const byId = new Map<string, ExpectedEvent>();
    for (const e of window) {
      // A row sent without a time (none a SIEM can hold) carries its arrival, which may be any time: the
      // timespan then starts at 1970.
      earliest = Math.min(earliest, hasTime(e.time) ? e.time : 0);
      byId.set(e.eventId, e);
    }
    // Rows keep their TimeGenerated, or carry their arrival time when Azure replaced it: cover both (an event
    // more than a day ahead that arrived over two days ago is outside; see docs/VERIFY.md).
    const timespan = `${iso(Math.max(0, Math.min(earliest - AHEAD_S, now - PAST_S)))}/${iso(now + AHEAD_S)}`;
    const table = await this.ask(JSON.stringify({ query: windowQuery(this.c.table, this.c.registryId, [...byId.keys()]), timespan }));
    const found = this.read(table, byId);
    if (others) await this.searchOthers([...byId.keys()], others);
    return found;
  }

  /** One query, its answer checked: a table, or a QueryError naming the fix. */
  private async ask(body: string): Promise<Table> {
    for (;;) {
      const headers = { authorization: `Bearer ${await this.token()}`, 'content-type': 'application/json', prefer: 'wait=600' };
      const res = await query(this.c.client, 'POST', this.url, headers, body, 'Log Analytics query');
      if (res.status === 401 && this.refused++ === 0) {
        this.c.credential.invalidate();
        continue;
      }
      if (res.status === 401) throw new QueryError(`Log Analytics refused the token (HTTP 401): the app's token must be for https://api.loganalytics.io (check AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET): ${excerpt(res.body, 160)}`);
      this.refused = 0;
      if (res.status === 403) {
        throw new QueryError('Log Analytics answered HTTP 403: the app needs the Log Analytics API permission Data.Read (admin-consented) and the Log Analytics Reader role on the workspace');
      }
      if (res.status !== 200) throw new QueryError(`Log Analytics answered HTTP ${res.status}: ${excerpt(res.body)}`);
      return resultTable(res.body, res.status);
    }
  }

  /**
   * The span's other event ids, a page at a time in id order, each reported with its copies. Every page carries the
   * span's totals (ids and copies), which must not change from page to page, and the pages must add up to exactly
   * them: pages that repeat or skip ids, or a table that changed while it was paged through, end the run rather
   * than a count that is not the workspace's.
   */
  private async searchOthers(windowIds: string[], others: Others): Promise<void> {
    const what = 'Log Analytics query for other records';
    let cursor: string | null = null;
    let totals: { ids: number; copies: number } | null = null;
    let ids = 0;
    let copies = 0;
    for (;;) {
      // No timespan: a forged row may have arrived at any time, and the query API's timespan bounds the arrival.
      const table = await this.ask(JSON.stringify({ query: othersQuery(this.c.table, this.c.registryId, windowIds, others.after, others.upTo, cursor) }));
      const [iId, iCopies, iIds, iTotal] = ['EventId', 'Copies', 'Ids', 'Total'].map((name) => column(table, name));
      const rows = table.rows!;
      if (rows.length > PAGE) throw new QueryError(`${what} answered ${rows.length} rows to a page of ${PAGE}: nothing can be concluded`);
      for (const row of rows) {
        if (!Array.isArray(row)) throw new QueryError(`Log Analytics result has a row that is not a list of values: ${excerpt(JSON.stringify(row) ?? '')}`);
        const id = row[iId!] === null || row[iId!] === undefined ? '' : String(row[iId!]);
        const n = whole(row[iCopies!], 1);
        const pageIds = whole(row[iIds!], 1);
        const pageCopies = whole(row[iTotal!], 1);
        if (n === null || pageIds === null || pageCopies === null || pageCopies < pageIds) {
          throw new QueryError(`${what} answered counts that are not whole numbers of copies for event ${excerpt(id, 80)}: ${excerpt(JSON.stringify(row), 160)}`);
        }
        if (totals === null) {
          if (pageIds > MAX_OTHER_IDS) {
            throw new QueryError(`${what} counted ${pageIds} other event ids of this registry dated beside ${windowIds.length} events, more than ${MAX_OTHER_IDS}: too many to page through; nothing can be concluded (query the table for RegistryId and OccurredAt in those times)`);
          }
          totals = { ids: pageIds, copies: pageCopies };
        } else if (pageIds !== totals.ids || pageCopies !== totals.copies) {
          throw new QueryError(`${what} counted ${pageIds} ids and ${pageCopies} copies on one page and ${totals.ids} and ${totals.copies} on the first: the rows changed while they were paged through; run verify again`);
        }
        ids++;
        copies += n;
        if (id === cursor || ids > totals.ids || copies > totals.copies) {
          throw new QueryError(`${what} returned more than the ${totals.ids} event ids and ${totals.copies} copies it counted: pages repeat; nothing can be concluded`);
        }
        // The export writes an event id into every row: one without is no registry event either.
        others.add(id === '' ? '(no EventId)' : id, n);
        cursor = id;
      }
      if (totals === null || ids === totals.ids) {
        if (totals !== null && copies !== totals.copies) throw new QueryError(`${what} returned ${copies} of the ${totals.copies} copies it counted: nothing can be concluded`);
        return;
      }
      if (rows.length < PAGE) throw new QueryError(`${what} returned ${ids} of the ${totals.ids} event ids it counted: pages were skipped; nothing can be concluded`);
    }
  }

  private read(table: Table, byId: Map<string, ExpectedEvent>): Map<string, Found> {
    const [iId, iReg, iTok, iFile, iOccurred, iTime, iIngest] = ['EventId', 'RegistryId', 'TokenId', 'FileId', OCCURRED_COLUMN, 'TimeGenerated', 'IngestionTime'].map((name) => column(table, name));
    const found = new Map<string, Found>();
    for (const row of table.rows!) {
      if (!Array.isArray(row)) throw new QueryError(`Log Analytics result has a row that is not a list of values: ${excerpt(JSON.stringify(row) ?? '')}`);
      const e = byId.get(str(row[iId!]) ?? '');
      if (!e) continue;
      const f = foundFor(found, e.eventId);
      f.count++;
      const reg = str(row[iReg!]);
      if (reg !== null) f.registryIds.add(reg);
      const tok = str(row[iTok!]);
      if (tok !== null) f.tokens.add(tok);
      const file = str(row[iFile!]);
      if (file !== null) f.files.add(file);
      // The callback's time as it was sent, whatever its age: the deployed rule keeps it in OccurredAt.
      const occurred = seconds(row[iOccurred!]);
      if (occurred !== null) {
        f.times.add(occurred);
        continue;
      }
      // Otherwise TimeGenerated holds it, unless Azure replaced it by the arrival time: then it cannot be compared.
      const t = seconds(row[iTime!]);
      const ingested = seconds(row[iIngest!]);
      if (t !== null) f.times.add(t);
      if (ingested !== null && (e.time < ingested - PAST_S || e.time > ingested + AHEAD_S)) f.timeComparable = false;
    }
    return found;
  }

  async close(): Promise<void> {}
}

/**
 * The result table of an answer. An empty 200 (no Content-Type: application/json, or a proxy) and an `error` beside
 * the tables (a partial failure) are not "nothing stored".
 */
function resultTable(text: string, status: number): Table {
  if (text.trim() === '') {
    throw new QueryError('Log Analytics answered an empty 200: it does that when the request is not Content-Type: application/json, or a proxy dropped the body; nothing can be concluded');
  }
  const answer = jsonBody<{ tables?: Table[]; error?: { code?: string; message?: string } }>({ status, headers: {}, body: text }, 'Log Analytics');
  if (answer.error) throw new QueryError(`Log Analytics answered with an error beside the results (partial results are not evidence): ${answer.error.code ?? ''} ${excerpt(answer.error.message ?? '')}`);
  const table = answer.tables?.find((t) => t.name === 'PrimaryResult') ?? answer.tables?.[0];
  if (!table || !Array.isArray(table.columns) || !Array.isArray(table.rows)) throw new QueryError(`Log Analytics answer has no result table: ${excerpt(text)}`);
  return table;
}

function column(table: Table, name: string): number {
  const i = table.columns!.findIndex((c) => c.name === name);
  if (i < 0) throw new QueryError(`Log Analytics result has no column ${name}`);
  return i;
}

/** A whole number of at least `min` (Log Analytics gives a long as a JSON number), or null. */
function whole(v: unknown, min: number): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min ? v : null;
}

/** Log Analytics returns empty strings for absent string values. */
function str(v: unknown): string | null {
  return v === null || v === undefined || v === '' ? null : String(v);
}

function seconds(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

function iso(s: number): string {
  return new Date(Math.floor(s) * 1000).toISOString();
}

/**
 * The exclusive end of a span that ends with second `upTo`: the next second, except after the last second of year
 * 9999, where KQL's datetime ends (a literal in year 10000 is refused): its last instant instead.
 */
function spanEnd(upTo: number): string {
  return upTo < MAX_UNIX ? iso(upTo + 1) : '9999-12-31T23:59:59.9999999Z';
}
