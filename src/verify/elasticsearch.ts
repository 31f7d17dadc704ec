/**
 * Elasticsearch read-back. GET and `_mget` need a backing index, so the stream is searched: one point in time
 * for the whole pass (a stable view), and per window a query for the window's documents, paged with
 * `search_after` on `_shard_doc`. A document counts when it carries our registry and event id, or our
 * deterministic `_id` (then differing fields show as altered). The failure store, `<stream>::failures`, is
 * asked for the same `_id`s: a document redirected there answered 201 but is not in the stream.
 */
import type { HttpClient } from '../transports/http/client.js';
import { safeHost } from '../transports/http/client.js';
import { excerpt } from '../transports/transport.js';
import { documentId } from '../transports/http/elasticsearch.js';
import { QueryError, type VerifyBackend } from './backend.js';
import { foundFor, type ExpectedEvent, type Found } from './compare.js';
import { jsonBody, query } from './http.js';

/** The most copies of one event a search may count: far beyond any number of replays, short of paging for ever. */
const MAX_COPIES = 1000;

export interface ElasticsearchVerifyConfig {
  /** The cluster's base URL (the export's `--output` without `/_bulk`). */
  baseUrl: string;
  index: string;
  registryId: string;
  headers: Record<string, string>;
  client: HttpClient;
  /** Also search `<index>::failures` (needs the `read_failure_store` privilege). */
  failureStore: boolean;
  /** Hits per search request. */
  pageSize?: number;
}

const FIELDS = ['event.id', 'oversight.registry_id', 'oversight.token_id', 'oversight.file_id', '@timestamp'];
const KEEP_ALIVE = '2m';

interface Hit {
  _id?: string;
  fields?: Record<string, unknown[]>;
  sort?: unknown[];
}

interface SearchAnswer {
  pit_id?: string;
  timed_out?: unknown;
  _shards?: { failed?: unknown };
  hits?: { total?: { value?: unknown; relation?: unknown }; hits?: Hit[] };
}

/**
 * A search answered 200 with only part of the documents: a shard failed or the search timed out. What is
 * missing from such an answer may be a second copy in another backing index, so it cannot stand for "once".
 */
function partial(answer: SearchAnswer, what: string): QueryError | null {
  const failed = answer._shards?.failed;
  if (typeof failed === 'number' && failed > 0) return new QueryError(`${what} answered with ${failed} shard(s) failed: the results are partial and prove nothing; try again when the cluster is healthy`);
  if (answer.timed_out === true) return new QueryError(`${what} timed out and answered partial results, which prove nothing: try again, or a smaller --window`);
  return null;
}

/** Base URL of a `_bulk` output. */
export function clusterUrl(bulkUrl: string): string {
  const u = new URL(bulkUrl);
  u.pathname = u.pathname.replace(/\/+$/, '').replace(/\/_bulk$/, '');
  u.search = '';
  return u.toString().replace(/\/+$/, '');
}

export class ElasticsearchVerifier implements VerifyBackend {
  readonly name = 'elasticsearch';
  readonly target: string;
  /** A document is searchable after the next refresh (1 s by default; idle shards refresh on the next search). */
  readonly settleMs = 30_000;
  /** Each search asks for the window's ids: copies of other ids are never returned (see docs/VERIFY.md). */
  readonly seesOthers = false;
  private pit: string | null = null;
  private noStream = false;
  private readonly headers: Record<string, string>;

  constructor(private readonly c: ElasticsearchVerifyConfig) {
    this.target = `${safeHost(c.baseUrl)} ${c.index}`;
    this.headers = { ...c.headers, 'content-type': 'application/json' };
  }

  private denied(status: number, body: string, privilege: string): QueryError {
    if (status === 401) {
      return new QueryError(`Elasticsearch refused the credentials (HTTP 401): set OVERSIGHT_ES_API_KEY (or OVERSIGHT_ES_USERNAME and OVERSIGHT_ES_PASSWORD) as for export`);
    }
    return new QueryError(`Elasticsearch answered HTTP 403: the API key or user needs the '${privilege}' index privilege on ${this.c.index}${
      privilege === 'read_failure_store' ? ' (or pass --es-skip-failure-store)' : ''}: ${excerpt(body, 160)}`);
  }

  async open(): Promise<void> {
    this.noStream = false;
    const url = `${this.c.baseUrl}/${encodeURIComponent(this.c.index)}/_pit?keep_alive=${KEEP_ALIVE}`;
    const res = await query(this.c.client, 'POST', url, this.headers, undefined, 'Elasticsearch point in time');
    if (res.status === 401 || res.status === 403) throw this.denied(res.status, res.body, 'read');
    if (res.status === 404) {
      // No such stream: nothing was delivered there, so every event is missing.
      this.noStream = true;
      return;
    }
    if (res.status !== 200) throw new QueryError(`Elasticsearch answered HTTP ${res.status} to opening a point in time on ${this.c.index}: ${excerpt(res.body)}`);
    const id = jsonBody<{ id?: string }>(res, 'Elasticsearch').id;
    if (typeof id !== 'string') throw new QueryError('Elasticsearch opened a point in time without an id');
    this.pit = id;
  }

  async lookup(window: readonly ExpectedEvent[]): Promise<Map<string, Found>> {
    const found = new Map<string, Found>();
    const byDocId = new Map<string, ExpectedEvent>();
    const byEventId = new Map<string, ExpectedEvent>();
    for (const e of window) {
      byDocId.set(documentId(e.registryId, e.rowid), e);
      byEventId.set(e.eventId, e);
    }
    if (!this.noStream) await this.searchStream(window, byDocId, byEventId, found);
    if (this.c.failureStore) await this.searchFailures(byDocId, found);
    return found;
  }

  private async searchStream(
    window: readonly ExpectedEvent[], byDocId: Map<string, ExpectedEvent>, byEventId: Map<string, ExpectedEvent>, found: Map<string, Found>,
  ): Promise<void> {
    const size = this.c.pageSize ?? 1000;
    const queryBody = {
      bool: {
        should: [
          { ids: { values: [...byDocId.keys()] } },
          { bool: { filter: [{ term: { 'oversight.registry_id': this.c.registryId } }, { terms: { 'event.id': window.map((e) => e.eventId) } }] } },
        ],
        minimum_should_match: 1,
      },
    };
    let after: unknown[] | null = null;
    // The first page counts every match in the point in time; the pages must then hold exactly that many hits.
    let total = 0;
    let seen = 0;
    // Bounded: no more hits than that total are taken, so pages that repeat (search_after ignored) end the run.
    for (;;) {
      const body = {
        size, pit: { id: this.pit, keep_alive: KEEP_ALIVE }, _source: false, fields: FIELDS, track_total_hits: after === null,
        query: queryBody, sort: [{ _shard_doc: 'asc' }], ...(after ? { search_after: after } : {}),
      };
      const res = await query(this.c.client, 'POST', `${this.c.baseUrl}/_search`, this.headers, JSON.stringify(body), 'Elasticsearch search');
      if (res.status === 401 || res.status === 403) throw this.denied(res.status, res.body, 'read');
      if (res.status !== 200) throw new QueryError(`Elasticsearch answered HTTP ${res.status} to a search of ${this.c.index}: ${excerpt(res.body)}`);
      const answer = jsonBody<SearchAnswer>(res, 'Elasticsearch search');
      if (typeof answer.pit_id === 'string') this.pit = answer.pit_id;
      const hits = answer.hits?.hits;
      if (!Array.isArray(hits)) throw new QueryError(`Elasticsearch search answer has no hits: ${excerpt(res.body)}`);
      const cut = partial(answer, 'Elasticsearch search');
      if (cut) throw cut;
      if (after === null) {
        const t = answer.hits?.total;
        if (typeof t?.value !== 'number' || !Number.isInteger(t.value) || t.value < 0 || t.relation !== 'eq') {
          throw new QueryError(`Elasticsearch search answer has no exact hits.total, asked with track_total_hits: ${excerpt(JSON.stringify(t ?? null))}`);
        }
        total = t.value;
        // A count no index of copies comes near would be paged through for ever by a peer that invents pages.
        if (total > window.length * MAX_COPIES) {
          throw new QueryError(`Elasticsearch search counted ${total} hits for ${window.length} events, more than ${MAX_COPIES} copies each: no answer to page through; nothing can be concluded`);
        }
      }
      seen += hits.length;
      if (seen > total) throw new QueryError(`Elasticsearch search returned more hits than the ${total} it counted: pages repeat; nothing can be concluded`);
      for (const hit of hits) {
        const f = hit.fields ?? {};
        const eventId = first(f['event.id']);
        const registry = first(f['oversight.registry_id']);
        const e = registry === this.c.registryId && eventId !== null && byEventId.has(eventId)
          ? byEventId.get(eventId)!
          : hit._id !== undefined ? byDocId.get(hit._id) : undefined;
        if (!e) continue;
        const copy = foundFor(found, e.eventId);
        copy.count++;
        if (registry !== null) copy.registryIds.add(registry);
        // A copy under our _id but with another event id is the same document changed.
        if (eventId !== null && eventId !== e.eventId) copy.registryIds.add(`${registry ?? ''} (event id ${eventId})`);
        const token = first(f['oversight.token_id']);
        const file = first(f['oversight.file_id']);
        if (token !== null) copy.tokens.add(token);
        if (file !== null) copy.files.add(file);
        const ts = first(f['@timestamp']);
        if (ts !== null && Number.isFinite(Date.parse(ts))) copy.times.add(Math.floor(Date.parse(ts) / 1000));
      }
      if (hits.length < size || seen === total) {
        if (seen < total) throw new QueryError(`Elasticsearch search returned ${seen} of the ${total} hits it counted: pages were skipped; nothing can be concluded`);
        return;
      }
      const last = hits[hits.length - 1]!.sort;
      if (!Array.isArray(last)) throw new QueryError('Elasticsearch search hits carry no sort values to page with');
      after = last;
    }
  }

  private async searchFailures(byDocId: Map<string, ExpectedEvent>, found: Map<string, Found>): Promise<void> {
    const ids = [...byDocId.keys()];
    const body = { size: Math.min(10_000, ids.length * 4), _source: false, fields: ['document.id'], track_total_hits: false, query: { terms: { 'document.id': ids } } };
    const url = `${this.c.baseUrl}/${encodeURIComponent(this.c.index)}::failures/_search`;
    const res = await query(this.c.client, 'POST', url, this.headers, JSON.stringify(body), 'Elasticsearch failure store search');
    if (res.status === 401 || res.status === 403) throw this.denied(res.status, res.body, 'read_failure_store');
    // No failure store on this stream (or no stream): nothing was redirected.
    if (res.status === 404) return;
    if (res.status !== 200) throw new QueryError(`Elasticsearch answered HTTP ${res.status} to a search of ${this.c.index}::failures: ${excerpt(res.body)}`);
    const answer = jsonBody<SearchAnswer>(res, 'Elasticsearch failure store search');
    const cut = partial(answer, 'Elasticsearch failure store search');
    if (cut) throw cut;
    const hits = answer.hits?.hits ?? [];
    for (const hit of hits) {
      const e = byDocId.get(first(hit.fields?.['document.id']) ?? '');
      if (e) foundFor(found, e.eventId).failureStore++;
    }
  }

  async close(): Promise<void> {
    const id = this.pit;
    this.pit = null;
    if (id === null) return;
    // A point in time left open expires by itself after keep_alive; closing early frees the cluster's resources.
    await query(this.c.client, 'DELETE', `${this.c.baseUrl}/_pit`, this.headers, JSON.stringify({ id }), 'Elasticsearch close point in time').catch(() => undefined);
  }
}

function first(v: unknown[] | undefined): string | null {
  if (!Array.isArray(v) || v.length === 0 || v[0] === null || v[0] === undefined) return null;
  return String(v[0]);
}
