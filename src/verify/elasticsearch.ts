/**
 * Elasticsearch read-back. GET and `_mget` need a backing index, so the stream is searched: one point in time
 * for the whole pass (a stable view), and per window a query for the window's documents, paged with
 * `search_after` on `_shard_doc`. A document counts when it carries our registry and event id, or our
 * deterministic `_id` (then differing fields show as altered). The failure store, `<stream>::failures`, is
 * asked for the same `_id`s: a document redirected there answered 201 but is not in the stream.
 *
 * Beside each window, a second paged search asks for this registry's documents dated in the span the verifier
 * names that are none of the window's, for "not in the registry". The failure store is not asked for those: its
 * documents are not in the stream (no search or rule sees them as callbacks), and their `@timestamp` is when they
 * failed, not the event's time, so they cannot be placed in a span.
 */
import type { HttpClient } from '../transports/http/client.js';
import { safeHost } from '../transports/http/client.js';
import { excerpt } from '../transports/transport.js';
import { documentId } from '../transports/http/elasticsearch.js';
import { QueryError, type Others, type VerifyBackend } from './backend.js';
import { foundFor, type ExpectedEvent, type Found } from './compare.js';
import { jsonBody, query } from './http.js';

/** The most copies of one event a search may count: far beyond any number of replays, short of paging for ever. */
const MAX_COPIES = 1000;
/**
 * The most documents of this registry, beside the window's, that one span may count: a thousand pages, enough for
 * a flood of made-up records to be counted and named; a peer that claims more could invent pages without end.
 */
const MAX_OTHERS = 1_000_000;

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

  async lookup(window: readonly ExpectedEvent[], others: Others | null): Promise<Map<string, Found>> {
    const found = new Map<string, Found>();
    const byDocId = new Map<string, ExpectedEvent>();
    const byEventId = new Map<string, ExpectedEvent>();
    for (const e of window) {
      byDocId.set(documentId(e.registryId, e.rowid), e);
      byEventId.set(e.eventId, e);
    }
    if (!this.noStream) {
      await this.searchStream(window, byDocId, byEventId, found);
      if (others) await this.searchOthers(window, byDocId, others);
    }
    if (this.c.failureStore) await this.searchFailures(byDocId, found);
    return found;
  }

  private async searchStream(
    window: readonly ExpectedEvent[], byDocId: Map<string, ExpectedEvent>, byEventId: Map<string, ExpectedEvent>, found: Map<string, Found>,
  ): Promise<void> {
    const queryBody = {
      bool: {
        should: [
          { ids: { values: [...byDocId.keys()] } },
          { bool: { filter: [{ term: { 'oversight.registry_id': this.c.registryId } }, { terms: { 'event.id': window.map((e) => e.eventId) } }] } },
        ],
        minimum_should_match: 1,
      },
    };
    // A count no index of copies comes near would be paged through for ever by a peer that invents pages.
    const tooMany = (total: number): string | null => total > window.length * MAX_COPIES
      ? `Elasticsearch search counted ${total} hits for ${window.length} events, more than ${MAX_COPIES} copies each: no answer to page through; nothing can be concluded`
      : null;
    await this.pages(queryBody, FIELDS, 'Elasticsearch search', tooMany, (hit) => {
      const f = hit.fields ?? {};
      const eventId = first(f['event.id']);
      const registry = first(f['oversight.registry_id']);
      const e = registry === this.c.registryId && eventId !== null && byEventId.has(eventId)
        ? byEventId.get(eventId)!
        : hit._id !== undefined ? byDocId.get(hit._id) : undefined;
      if (!e) return;
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
    });
  }

  /**
   * The documents of this registry dated in the span that are none of the window's (neither its event ids nor its
   * `_id`s, which the window's search judges): each is reported with its event id for the registry to look up.
   */
  private async searchOthers(window: readonly ExpectedEvent[], byDocId: Map<string, ExpectedEvent>, others: Others): Promise<void> {
    const queryBody = {
      bool: {
        filter: [
          { term: { 'oversight.registry_id': this.c.registryId } },
          // Whole seconds after `after` up to `upTo`, as the registry dates its events.
          { range: { '@timestamp': { gte: (others.after + 1) * 1000, lt: (others.upTo + 1) * 1000, format: 'epoch_millis' } } },
        ],
        must_not: [{ terms: { 'event.id': window.map((e) => e.eventId) } }, { ids: { values: [...byDocId.keys()] } }],
      },
    };
    const tooMany = (total: number): string | null => total > MAX_OTHERS
      ? `Elasticsearch search for other records counted ${total} documents of this registry dated beside ${window.length} events, more than ${MAX_OTHERS}: too many to page through; nothing can be concluded (search the stream for oversight.registry_id in those times)`
      : null;
    await this.pages(queryBody, ['event.id'], 'Elasticsearch search for other records', tooMany, (hit) => {
      // The export writes an event id into every document: one without is no registry event either.
      others.add(first(hit.fields?.['event.id']) ?? `(no event.id, _id ${hit._id ?? '?'})`, 1);
    });
  }

  /**
   * Every hit of a query in the point in time, paged with `search_after`. The first page counts every match
   * (`track_total_hits`), which `tooMany` may refuse; the pages must then hold exactly that many hits, so pages
   * that repeat (search_after ignored) or are skipped end the run instead of looping or passing.
   */
  private async pages(queryBody: object, fields: string[], what: string, tooMany: (total: number) => string | null, onHit: (hit: Hit) => void): Promise<void> {
    const size = this.c.pageSize ?? 1000;
    let after: unknown[] | null = null;
    let total = 0;
    let seen = 0;
    for (;;) {
      const body = {
        size, pit: { id: this.pit, keep_alive: KEEP_ALIVE }, _source: false, fields, track_total_hits: after === null,
        query: queryBody, sort: [{ _shard_doc: 'asc' }], ...(after ? { search_after: after } : {}),
      };
      const res = await query(this.c.client, 'POST', `${this.c.baseUrl}/_search`, this.headers, JSON.stringify(body), what);
      if (res.status === 401 || res.status === 403) throw this.denied(res.status, res.body, 'read');
      if (res.status !== 200) throw new QueryError(`Elasticsearch answered HTTP ${res.status} to a search of ${this.c.index}: ${excerpt(res.body)}`);
      const answer = jsonBody<SearchAnswer>(res, what);
      if (typeof answer.pit_id === 'string') this.pit = answer.pit_id;
      const hits = answer.hits?.hits;
      if (!Array.isArray(hits)) throw new QueryError(`${what} answer has no hits: ${excerpt(res.body)}`);
      const cut = partial(answer, what);
      if (cut) throw cut;
      if (after === null) {
        const t = answer.hits?.total;
        if (typeof t?.value !== 'number' || !Number.isInteger(t.value) || t.value < 0 || t.relation !== 'eq') {
          throw new QueryError(`${what} answer has no exact hits.total, asked with track_total_hits: ${excerpt(JSON.stringify(t ?? null))}`);
        }
        total = t.value;
        const refused = tooMany(total);
        if (refused) throw new QueryError(refused);
      }
      seen += hits.length;
      if (seen > total) throw new QueryError(`${what} returned more hits than the ${total} it counted: pages repeat; nothing can be concluded`);
      for (const hit of hits) onHit(hit);
      if (hits.length < size || seen === total) {
        if (seen < total) throw new QueryError(`${what} returned ${seen} of the ${total} hits it counted: pages were skipped; nothing can be concluded`);
        return;
      }
      const last = hits[hits.length - 1]!.sort;
      if (!Array.isArray(last)) throw new QueryError(`${what} hits carry no sort values to page with`);
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
