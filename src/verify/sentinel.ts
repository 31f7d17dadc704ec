/**
 * Microsoft Sentinel / Log Analytics read-back through the Log Analytics query API. One KQL query per window
 * for the window's event ids, returning every stored row (so copies count) with `ingestion_time()`. The API's
 * traps are checked, not trusted: a request without `Content-Type: application/json` gets an empty 200, and a
 * partial failure comes as 200 with an `error` beside the tables; both stop the run instead of reading as "none".
 */
import { OCCURRED_COLUMN } from '../records/formats/sentinel.js';
import { ClientCredential, TokenError } from '../transports/http/azure-auth.js';
import type { HttpClient } from '../transports/http/client.js';
import { excerpt } from '../transports/transport.js';
import { QueryError, type VerifyBackend } from './backend.js';
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
  /** Each query asks for the window's event ids: rows of other ids are never returned (see docs/VERIFY.md). */
  readonly seesOthers = false;
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

  async lookup(window: readonly ExpectedEvent[]): Promise<Map<string, Found>> {
    const now = (this.c.now ?? Date.now)() / 1000;
    let earliest = Infinity;
    const byId = new Map<string, ExpectedEvent>();
    for (const e of window) {
      earliest = Math.min(earliest, e.time);
      byId.set(e.eventId, e);
    }
    // Rows keep their TimeGenerated, or carry their arrival time when Azure replaced it: cover both (an event
    // more than a day ahead that arrived over two days ago is outside; see docs/VERIFY.md).
    const timespan = `${iso(Math.max(0, Math.min(earliest - AHEAD_S, now - PAST_S)))}/${iso(now + AHEAD_S)}`;
    const body = JSON.stringify({ query: windowQuery(this.c.table, this.c.registryId, [...byId.keys()]), timespan });
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
      return this.read(res.body, res.status, byId);
    }
  }

  private read(text: string, status: number, byId: Map<string, ExpectedEvent>): Map<string, Found> {
    if (text.trim() === '') {
      throw new QueryError('Log Analytics answered an empty 200: it does that when the request is not Content-Type: application/json, or a proxy dropped the body; nothing can be concluded');
    }
    const answer = jsonBody<{ tables?: Table[]; error?: { code?: string; message?: string } }>({ status, headers: {}, body: text }, 'Log Analytics');
    if (answer.error) throw new QueryError(`Log Analytics answered with an error beside the results (partial results are not evidence): ${answer.error.code ?? ''} ${excerpt(answer.error.message ?? '')}`);
    const table = answer.tables?.find((t) => t.name === 'PrimaryResult') ?? answer.tables?.[0];
    if (!table || !Array.isArray(table.columns) || !Array.isArray(table.rows)) throw new QueryError(`Log Analytics answer has no result table: ${excerpt(text)}`);
    const col = (name: string): number => {
      const i = table.columns!.findIndex((c) => c.name === name);
      if (i < 0) throw new QueryError(`Log Analytics result has no column ${name}`);
      return i;
    };
    const [iId, iReg, iTok, iFile, iOccurred, iTime, iIngest] = ['EventId', 'RegistryId', 'TokenId', 'FileId', OCCURRED_COLUMN, 'TimeGenerated', 'IngestionTime'].map(col);
    const found = new Map<string, Found>();
    for (const row of table.rows) {
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
