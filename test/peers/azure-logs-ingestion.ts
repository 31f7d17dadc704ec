/**
 * A fake Entra ID token endpoint and Azure Monitor Logs Ingestion API on one server: client-credentials tokens
 * that expire, a DCR stream that takes JSON arrays of at most 1 MiB with a valid bearer token, and answers 204.
 *
 * Behind the stream, the workspace table: rows get their ingestion time, and the deployed data collection rule's
 * transformation moves TimeGenerated to OccurredAt and sets TimeGenerated to the arrival (without that rule, a
 * TimeGenerated more than 2 days old or 1 day ahead is replaced by the arrival: Azure Monitor's rule); rows can be
 * lost silently (204, nothing stored),
 * changed, or become visible only after a delay, and a Log Analytics query API (`/v1/workspaces/{id}/query`)
 * answers the two verify queries (a window's ids, and a span's other ids a page at a time) in the tables JSON,
 * evaluated over the table, with its traps: a request without `Content-Type:
 * application/json` gets an empty 200, a token for another audience gets 401, and an app without Data.Read 403.
 */
import { Peer, type PeerReply, type PeerRequest } from './peer.js';

export interface AzurePeerOptions {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  dcr: string;
  stream: string;
  /** Token lifetime in seconds. */
  expiresIn?: number;
  /** The Log Analytics workspace behind the DCR, and the table the stream writes. */
  workspaceId?: string;
  table?: string;
  /** Answer 204 and store nothing: a silent loss. `attempt` counts this event id's deliveries from 0. */
  lose?: (record: Record<string, unknown>, attempt: number) => boolean;
  /** Rows become visible to queries this long after ingestion. */
  visibleAfterMs?: number;
  /** The app may not read the workspace (no Data.Read). */
  queryForbidden?: boolean;
  /**
   * The data collection rule's transformation (default true: the rule `siem setup` deploys, `source | extend
   * OccurredAt = TimeGenerated | extend TimeGenerated = now()`). false: a rule of one's own that stores the rows as
   * sent, with no OccurredAt column, where Azure's 2-day rule then applies to TimeGenerated.
   */
  transform?: boolean;
}

const INGEST_SCOPE = 'https://monitor.azure.com//.default';
const QUERY_SCOPE = 'https://api.loganalytics.io/.default';
/** A KQL string literal as the verifier writes it (JSON's quoting). */
const STRING = '("(?:[^"\\\\]|\\\\.)*")';
/**
 * An ISO 8601 datetime literal as the verifier writes it, within KQL's datetime range (years 0001 to 9999): Kusto
 * refuses a literal outside it, such as JavaScript's `+057863-…` or `-000001-…`.
 */
const DATETIME = '((?!0000)[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]{1,7})?Z)';
/** The query for a window's event ids, as src/verify/sentinel.ts writes it. */
const WINDOW = /^let ids = dynamic\((\[.*\])\);\n([A-Za-z_][A-Za-z0-9_]*)\n\| where RegistryId == ("(?:[^"\\]|\\.)*") and EventId in \(ids\)\n\| project EventId, RegistryId, TokenId, FileId, (OccurredAt = column_ifexists\("OccurredAt", datetime\(null\)\), )?TimeGenerated, IngestionTime = ingestion_time\(\)$/;
/** The query for a span's other event ids, one page after an optional cursor. */
const OTHERS = new RegExp('^let ids = dynamic\\((\\[.*\\])\\);\\nlet rest = materialize\\(([A-Za-z_][A-Za-z0-9_]*)\\n' +
  `\\| where RegistryId == ${STRING} and EventId !in \\(ids\\)\\n` +
  '\\| extend At = coalesce\\(column_ifexists\\("OccurredAt", datetime\\(null\\)\\), TimeGenerated\\)\\n' +
  `\\| where At >= datetime\\(${DATETIME}\\) and At < datetime\\(${DATETIME}\\)\\n` +
  '\\| summarize Copies = count\\(\\) by EventId\\);\\nrest\\n' +
  `(?:\\| where strcmp\\(EventId, ${STRING}\\) > 0\\n)?` +
  '\\| order by EventId asc\\n\\| take ([1-9][0-9]*)\\n\\| extend Ids = toscalar\\(rest \\| count\\), Total = toscalar\\(rest \\| summarize sum\\(Copies\\)\\)$');
const DAY_MS = 86_400_000;

interface TableRow {
  row: Record<string, unknown>;
  ingestedAt: number;
  visibleAt: number;
}

export const MAX_BODY = 1024 * 1024;

export class AzurePeer {
  readonly peer: Peer;
  readonly records: Record<string, unknown>[] = [];
  readonly tokens = new Map<string, number>();
  private readonly audiences = new Map<string, string>();
  /** The workspace table as queries see it. */
  readonly table: TableRow[] = [];
  private readonly deliveries = new Map<string, number>();
  /** Answers to give the next queries instead of running them (a proxy, a partial failure). */
  readonly queryFaults: PeerReply[] = [];
  /** Answers to give the next queries for other records instead of running them (a peer that invents pages). */
  readonly othersFaults: PeerReply[] = [];
  /** Answers to give the next token requests instead of a token (a proxy, a broken identity provider). */
  readonly tokenFaults: PeerReply[] = [];
  queries: { query: string; timespan: string }[] = [];
  tokenRequests = 0;
  expiredTokenUses = 0;
  largestBody = 0;

  constructor(private readonly o: AzurePeerOptions) {
    this.peer = new Peer((req) => this.route(req), /\/streams\//);
  }

  async start(): Promise<this> {
    await this.peer.start();
    return this;
  }

  get authority(): string {
    return this.peer.url;
  }

  get url(): string {
    return `${this.peer.url}/dataCollectionRules/${this.o.dcr}/streams/${this.o.stream}?api-version=2023-01-01`;
  }

  private route(req: PeerRequest): PeerReply {
    if (req.path === `/${this.o.tenantId}/oauth2/v2.0/token`) return this.token(req);
    if (req.path === `/dataCollectionRules/${this.o.dcr}/streams/${this.o.stream}`) return this.ingest(req);
    if (/^\/v1\/workspaces\/[^/]+\/query$/.test(req.path)) return this.query(req);
    return { status: 404, body: JSON.stringify({ error: { code: 'NotFound', message: 'Data collection rule or stream not found' } }) };
  }

  private token(req: PeerRequest): PeerReply {
    this.tokenRequests++;
    const fault = this.tokenFaults.shift();
    if (fault) return fault;
    const form = new URLSearchParams(req.body.toString('utf8'));
    const scope = form.get('scope');
    if (form.get('grant_type') !== 'client_credentials' || (scope !== INGEST_SCOPE && scope !== QUERY_SCOPE)) {
      return { status: 400, body: JSON.stringify({ error: 'invalid_request', error_description: 'AADSTS900144: bad grant or scope' }) };
    }
    if (form.get('client_id') !== this.o.clientId || form.get('client_secret') !== this.o.clientSecret) {
      return { status: 401, body: JSON.stringify({ error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' }) };
    }
    const expiresIn = this.o.expiresIn ?? 3600;
    const token = `at-${this.tokenRequests}-${Math.random().toString(36).slice(2)}`;
    this.tokens.set(token, Date.now() + expiresIn * 1000);
    this.audiences.set(token, scope!);
    return { status: 200, body: JSON.stringify({ token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: token }) };
  }

  private ingest(req: PeerRequest): PeerReply {
    if (req.url.searchParams.get('api-version') !== '2023-01-01') return { status: 400, body: '{"error":{"code":"InvalidApiVersion"}}' };
    const token = String(req.headers['authorization'] ?? '').replace(/^Bearer /, '');
    const expires = this.tokens.get(token);
    if (expires === undefined || this.audiences.get(token) !== INGEST_SCOPE) return { status: 401, body: '{"error":{"code":"InvalidToken","message":"The provided token is invalid"}}' };
    if (Date.now() > expires) {
      this.expiredTokenUses++;
      return { status: 401, body: '{"error":{"code":"ExpiredToken","message":"The provided token has expired"}}' };
    }
    // The 1 MB limit holds for the body as sent and as decompressed.
    const size = Math.max(req.body.length, req.wire.length);
    this.largestBody = Math.max(this.largestBody, size);
    if (size > MAX_BODY) {
      return {
        status: 413,
        body: JSON.stringify({ error: { code: 'ContentLengthLimitExceeded', message: `Maximum allowed content length: ${MAX_BODY} bytes (1 MB). Provided content length: ${size} bytes.` } }),
      };
    }
    let records: unknown;
    try {
      records = JSON.parse(req.body.toString('utf8'));
    } catch {
      return { status: 400, body: '{"error":{"code":"InvalidContent","message":"body is not JSON"}}' };
    }
    if (!Array.isArray(records)) return { status: 400, body: '{"error":{"code":"InvalidContent","message":"body must be a JSON array"}}' };
    this.records.push(...(records as Record<string, unknown>[]));
    const now = Date.now();
    for (const r of records as Record<string, unknown>[]) {
      const id = String(r['EventId']);
      const attempt = this.deliveries.get(id) ?? 0;
      this.deliveries.set(id, attempt + 1);
      if (this.o.lose?.(r, attempt)) continue;
      const arrival = new Date(now).toISOString();
      let row: Record<string, unknown>;
      if (this.o.transform ?? true) {
        row = { ...r, OccurredAt: r['TimeGenerated'] ?? null, TimeGenerated: arrival };
      } else {
        const t = Date.parse(String(r['TimeGenerated']));
        // Azure Monitor's rule: a TimeGenerated more than 2 days old or 1 day ahead becomes the arrival time.
        row = { ...r, TimeGenerated: Number.isFinite(t) && t >= now - 2 * DAY_MS && t <= now + DAY_MS ? String(r['TimeGenerated']) : arrival };
      }
      this.table.push({ row, ingestedAt: now, visibleAt: now + (this.o.visibleAfterMs ?? 0) });
    }
    return { status: 204 };
  }

  /** Change the stored rows of an event. */
  alter(eventId: string, change: (row: Record<string, unknown>) => void): void {
    for (const t of this.table) if (String(t.row['EventId']) === eventId) change(t.row);
  }

  /** `POST /v1/workspaces/{id}/query`: runs the verify queries, and only those, over the visible rows. */
  private query(req: PeerRequest): PeerReply {
    const bad = (code: string, message: string, status = 400): PeerReply =>
      ({ status, body: JSON.stringify({ error: { code: status === 400 ? 'BadArgumentError' : code, message, innererror: { code, message } } }) });
    const token = String(req.headers['authorization'] ?? '').replace(/^Bearer /, '');
    const expires = this.tokens.get(token);
    if (expires === undefined || Date.now() > expires) return bad('InvalidAuthenticationToken', 'Valid authentication was not provided', 401);
    if (this.audiences.get(token) !== QUERY_SCOPE) return bad('InvalidAuthenticationTokenAudience', 'The access token is for the wrong audience or resource.', 401);
    if (this.o.queryForbidden) return bad('InsufficientAccessError', 'The provided credentials have insufficient access to perform the requested operation', 403);
    if (req.path !== `/v1/workspaces/${this.o.workspaceId ?? 'ws-1'}/query`) return bad('WorkspaceNotFoundError', 'Workspace could not be found', 404);
    // The API's trap: without a JSON content type the body is not read, and the answer is an empty 200.
    if (!/^application\/json/i.test(String(req.headers['content-type'] ?? ''))) return { status: 200, body: '', headers: { 'content-type': 'text/plain' } };
    const fault = this.queryFaults.shift();
    if (fault) return fault;
    const body = JSON.parse(req.body.toString('utf8')) as { query?: string; timespan?: string };
    this.queries.push({ query: body.query ?? '', timespan: body.timespan ?? '' });
    // The timespan is optional, and bounds TimeGenerated (the arrival where the deployed rule runs).
    let from = -Infinity;
    let to = Infinity;
    if (body.timespan !== undefined) {
      [from, to] = body.timespan.split('/').map((x) => Date.parse(x)) as [number, number];
      if (!Number.isFinite(from) || !Number.isFinite(to)) return bad('InvalidTimespan', 'timespan must be an ISO 8601 interval start/end');
    }
    const now = Date.now();
    const visible = this.table.filter((t) => {
      const tg = Date.parse(String(t.row['TimeGenerated']));
      return t.visibleAt <= now && tg >= from && tg < to;
    });
    const text = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
    const q = body.query ?? '';
    const others = OTHERS.exec(q);
    if (others) {
      if (others[2] !== (this.o.table ?? 'Oversight_CL')) return bad('SemanticError', `'where' operator: Failed to resolve table or column expression named '${others[2]}'`);
      const fault = this.othersFaults.shift();
      if (fault) return fault;
      return this.others(visible, others, text);
    }
    const m = WINDOW.exec(q);
    if (!m) return bad('SyntaxError', 'this fake workspace runs the verify queries only');
    if (m[2] !== (this.o.table ?? 'Oversight_CL')) return bad('SemanticError', `'where' operator: Failed to resolve table or column expression named '${m[2]}'`);
    const occurred = m[4] !== undefined;
    const ids = new Set((JSON.parse(m[1]!) as string[]).map(String));
    const registry = JSON.parse(m[3]!) as string;
    const rows = visible
      .filter((t) => t.row['RegistryId'] === registry && ids.has(text(t.row['EventId'])))
      .map((t) => [text(t.row['EventId']), text(t.row['RegistryId']), text(t.row['TokenId']), text(t.row['FileId']),
        // column_ifexists: the column's value where the table has it, else the default (null).
        ...(occurred ? [t.row['OccurredAt'] === null || t.row['OccurredAt'] === undefined ? null : new Date(Date.parse(String(t.row['OccurredAt']))).toISOString()] : []),
        new Date(Date.parse(String(t.row['TimeGenerated']))).toISOString(), new Date(t.ingestedAt).toISOString()]);
    const columns = [['EventId', 'string'], ['RegistryId', 'string'], ['TokenId', 'string'], ['FileId', 'string'],
      ...(occurred ? [['OccurredAt', 'datetime']] : []), ['TimeGenerated', 'datetime'], ['IngestionTime', 'datetime']]
      .map(([name, type]) => ({ name, type }));
    return { status: 200, body: JSON.stringify({ tables: [{ name: 'PrimaryResult', columns, rows }] }) };
  }

  /**
   * The query for other records, evaluated: the registry's rows whose event id is none of the window's, placed by
   * `coalesce(column_ifexists("OccurredAt", datetime(null)), TimeGenerated)` (the column exists where the deployed
   * rule writes it), counted per event id, then the page after the cursor in ordinal order (strcmp), with the totals.
   */
  private others(visible: TableRow[], m: RegExpExecArray, text: (v: unknown) => string): PeerReply {
    const ids = new Set((JSON.parse(m[1]!) as string[]).map(String));
    const registry = JSON.parse(m[3]!) as string;
    const [lo, hi] = [Date.parse(m[4]!), Date.parse(m[5]!)];
    const cursor = m[6] === undefined ? null : (JSON.parse(m[6]) as string);
    const take = Number(m[7]);
    const hasOccurred = this.o.transform ?? true;
    const copies = new Map<string, number>();
    for (const t of visible) {
      const id = text(t.row['EventId']);
      if (t.row['RegistryId'] !== registry || ids.has(id)) continue;
      const own = hasOccurred && t.row['OccurredAt'] !== null && t.row['OccurredAt'] !== undefined ? t.row['OccurredAt'] : t.row['TimeGenerated'];
      const at = Date.parse(String(own));
      if (!(at >= lo && at < hi)) continue;
      copies.set(id, (copies.get(id) ?? 0) + 1);
    }
    const total = [...copies.values()].reduce((a, b) => a + b, 0);
    const rows = [...copies.entries()]
      .filter(([id]) => cursor === null || id > cursor)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, take)
      .map(([id, n]) => [id, n, copies.size, total]);
    const columns = [['EventId', 'string'], ['Copies', 'long'], ['Ids', 'long'], ['Total', 'long']].map(([name, type]) => ({ name, type }));
    return { status: 200, body: JSON.stringify({ tables: [{ name: 'PrimaryResult', columns, rows }] }) };
  }

  eventIds(): string[] {
    return this.records.map((r) => String(r['EventId']));
  }

  close(): Promise<void> {
    return this.peer.close();
  }
}
