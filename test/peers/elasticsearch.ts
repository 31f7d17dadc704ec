/**
 * A fake Elasticsearch in front of one data stream. `_bulk`: NDJSON with a final newline, `create` only (as
 * data streams demand), `@timestamp` required, `_id` unique within the current backing index (409 on a repeat;
 * after `rollover()` a repeat is a second copy, as elastic/elasticsearch#44794), per-item results in request
 * order, `filter_path` applied to the answer, scripted item failures, silent losses (201 and nothing stored),
 * and failure store redirects (201, `"failure_store": "used"`, `"errors": false`). Refusals that are about the
 * key or the target, item by item in a 200 as Elasticsearch gives them: a key that may write other indices but not
 * this stream (403 `security_exception`), a write block on the backing index (403 for `index.blocks.write`, 429 for
 * the flood-stage disk block, both `cluster_block_exception`), and a stream that does not exist with
 * `action.auto_create_index` false (404 `index_not_found_exception`; the fake never creates one). Reads: point in time
 * (`_pit`), `_search` with `pit` + `search_after` on `_shard_doc`, plain `_search` up to 10,000 hits,
 * `<stream>::failures`, and API key privileges (`read`, `read_failure_store`). Queries: `match_all`, `ids`,
 * `term`, `terms` (at most 65,536), `bool`, and `range` on `@timestamp` with the date formats a data stream's
 * `@timestamp` takes (`strict_date_optional_time||epoch_millis` unless `format` says otherwise).
 */
import { randomBytes } from 'node:crypto';
import { Peer, type PeerReply, type PeerRequest } from './peer.js';

/**
 * `write_other_indices`: create_doc on some other index only. Elasticsearch then lets the `_bulk` request through
 * and refuses each item for this stream (403), where a key with no write privilege anywhere gets a 403 for the request.
 */
export type EsPrivilege = 'write' | 'write_other_indices' | 'read' | 'read_failure_store';

/**
 * A block on the stream's write index, with Elasticsearch's status and words: `write` is `index.blocks.write`
 * (an operator's or a maintenance step's), `flood-stage` the one Elasticsearch sets itself when a disk fills past
 * the flood-stage watermark (429 since 7.x, 403 before) and lifts once disk is freed.
 */
export type EsBlock = 'write' | 'flood-stage';
const BLOCKS: Record<EsBlock, { status: number; block: string }> = {
  write: { status: 403, block: 'FORBIDDEN/8/index write (api)' },
  'flood-stage': { status: 429, block: 'TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark, index has read-only-allow-delete block' },
};

export interface EsPeerOptions {
  /** Whether `siem setup elasticsearch` ran (the index template and pipeline exist); default true. */
  setUp?: boolean;
  dataStream: string;
  /** Whether the data stream exists yet; default true. The fake never creates one (`action.auto_create_index: false`). */
  exists?: boolean;
  /**
   * Whether the ingest pipeline the stream's template names as its default exists; default true. Without it
   * Elasticsearch fails every document alike, item 400 `illegal_argument_exception` (IngestService's words).
   */
  pipeline?: boolean;
  /** `ApiKey <key>` expected in Authorization; this key may do everything. */
  apiKey: string;
  /** Other keys and what they may do. */
  limitedKeys?: Record<string, EsPrivilege[]>;
  /** Status to give an item instead of indexing it; `attempt` counts this `_id`'s tries from 0. */
  itemFault?: (doc: Record<string, unknown>, id: string, attempt: number) => number | undefined;
  /** Answer 201 and store nothing: a silent loss. */
  lose?: (doc: Record<string, unknown>, id: string, attempt: number) => boolean;
  /** Redirect to the failure store with this error message (the document failed mapping or pipeline). */
  failureStore?: (doc: Record<string, unknown>, id: string) => string | undefined;
  /** A stored document becomes searchable this long after it was written (refresh interval). */
  visibleAfterMs?: number;
  /** Keep only these source fields of stored documents (benchmarks with millions of documents). */
  keepFields?: string[];
  /** Change a search answer before it is sent (a failed shard, a proxy that repeats or drops pages). */
  searchAnswer?: (answer: Json, request: Json) => Json;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'mapper_parsing_exception',
  429: 'es_rejected_execution_exception',
  503: 'unavailable_shards_exception',
};

interface StoredDoc {
  seq: number;
  index: string;
  id: string;
  source: Record<string, unknown>;
  visibleAt: number;
  /** `@timestamp` in milliseconds, as the date field indexes it. */
  time?: number;
}

type Json = Record<string, unknown>;
const json = (status: number, body: unknown): PeerReply => ({ status, body: JSON.stringify(body) });
const esError = (status: number, type: string, reason: string): PeerReply => json(status, { error: { root_cause: [{ type, reason }], type, reason }, status });

export class EsPeer {
  readonly peer: Peer;
  /** Documents acknowledged (201) by `_id`, in creation order. */
  readonly docs = new Map<string, Record<string, unknown>>();
  readonly attempts = new Map<string, number>();
  actionsSeen = new Set<string>();
  /** What search sees: every stored copy, in every backing index. */
  readonly stored: StoredDoc[] = [];
  /** The failure store's documents. */
  readonly failures: StoredDoc[] = [];
  private generation = 1;
  private current = new Set<string>();
  private seq = 0;
  /** A point in time sees documents written up to `maxSeq` that were searchable when it opened. */
  private readonly pits = new Map<string, { maxSeq: number; openedAt: number }>();
  /** Lookups by `_id` and by `event.id`, so queries for a window do not scan the whole stream. */
  private readonly byId = new Map<string, StoredDoc[]>();
  private readonly byEventId = new Map<string, StoredDoc[]>();
  /** Stored documents with a `@timestamp`, sorted by it when a range query needs it (rebuilt after any change). */
  private byTime: StoredDoc[] = [];
  private timeSorted = true;
  searches = 0;
  /** A block on the write index, for as long as it is set: every item sent meanwhile is refused with it. */
  block: EsBlock | null = null;

  constructor(private readonly options: EsPeerOptions) {
    this.peer = new Peer((req) => this.route(req), /_bulk$/);
  }

  async start(): Promise<this> {
    await this.peer.start();
    return this;
  }

  get url(): string {
    return `${this.peer.url}/_bulk`;
  }

  get backingIndex(): string {
    return `.ds-${this.options.dataStream}-${String(this.generation).padStart(6, '0')}`;
  }

  eventIds(): string[] {
    return [...this.docs.values()].map((d) => String((d['event'] as Record<string, unknown>)['id']));
  }

  /** Roll the stream over to a new backing index: `_id`s written before are no longer checked for repeats. */
  rollover(): void {
    this.generation++;
    this.current = new Set();
  }

  /** Change the stored copies of an event (an edit or a pipeline bug after delivery). */
  alter(eventId: string, change: (doc: Record<string, unknown>) => void): void {
    for (const d of this.stored) {
      if (String(get(d.source, 'event.id')[0]) !== eventId) continue;
      change(d.source);
      d.time = timeOf(d.source);
      this.timeSorted = false;
    }
  }

  /** Delete stored copies of an event (retention, a delete by query). */
  remove(eventId: string): void {
    for (let i = this.stored.length - 1; i >= 0; i--) if (String(get(this.stored[i]!.source, 'event.id')[0]) === eventId) this.stored.splice(i, 1);
    const gone = (d: StoredDoc): boolean => String(get(d.source, 'event.id')[0]) === eventId;
    for (const index of [this.byId, this.byEventId]) for (const [k, docs] of index) index.set(k, docs.filter((d) => !gone(d)));
    this.timeSorted = false;
  }

  private store(d: StoredDoc): void {
    this.stored.push(d);
    d.time = timeOf(d.source);
    this.timeSorted = false;
    const add = (index: Map<string, StoredDoc[]>, key: string): void => {
      const list = index.get(key);
      if (list) list.push(d);
      else index.set(key, [d]);
    };
    add(this.byId, d.id);
    for (const v of get(d.source, 'event.id')) add(this.byEventId, String(v));
  }

  /** The documents a query can match, from the lookups where it names ids or event ids; null: all of them. */
  private candidates(q: Json): StoredDoc[] | null {
    const [kind, arg] = Object.entries(q)[0] ?? ['match_all', {}];
    const a = arg as Json;
    const lookup = (index: Map<string, StoredDoc[]>, keys: unknown[]): StoredDoc[] => keys.flatMap((k) => index.get(String(k)) ?? []);
    if (kind === 'ids') return lookup(this.byId, (a['values'] as unknown[]) ?? []);
    if ((kind === 'terms' || kind === 'term') && Object.keys(a)[0] === 'event.id') {
      const v = Object.values(a)[0];
      return lookup(this.byEventId, Array.isArray(v) ? v : [typeof v === 'object' && v !== null ? (v as Json)['value'] : v]);
    }
    if (kind === 'range' && Object.keys(a)[0] === '@timestamp') {
      const { lo, hi } = dateRange(a);
      if (!this.timeSorted) {
        this.byTime = this.stored.filter((d) => Number.isFinite(d.time)).sort((x, y) => x.time! - y.time!);
        this.timeSorted = true;
      }
      // Every document from the first at or after `lo` to the last at or before `hi`; the query itself decides.
      return this.byTime.slice(firstAt(this.byTime, lo), firstAt(this.byTime, hi + 1));
    }
    if (kind !== 'bool') return null;
    const list = (k: string): Json[] => (a[k] === undefined ? [] : Array.isArray(a[k]) ? (a[k] as Json[]) : [a[k] as Json]);
    for (const c of [...list('must'), ...list('filter')]) {
      const hit = this.candidates(c);
      if (hit) return hit;
    }
    if (list('must').length + list('filter').length > 0) return null;
    const should = list('should').map((c) => this.candidates(c));
    if (should.length === 0 || should.some((c) => c === null)) return null;
    return [...new Set(should.flat() as StoredDoc[])];
  }

  storedIds(): string[] {
    return this.stored.map((d) => String(get(d.source, 'event.id')[0]));
  }

  private privileges(req: PeerRequest): Set<EsPrivilege> | null {
    const auth = req.headers['authorization'];
    if (auth === `ApiKey ${this.options.apiKey}`) return new Set<EsPrivilege>(['write', 'read', 'read_failure_store']);
    for (const [key, privs] of Object.entries(this.options.limitedKeys ?? {})) if (auth === `ApiKey ${key}`) return new Set(privs);
    return null;
  }

  private route(req: PeerRequest): PeerReply {
    const privs = this.privileges(req);
    if (!privs) return json(401, { error: { type: 'security_exception', reason: 'unable to authenticate' }, status: 401 });
    const need = (p: EsPrivilege, index: string, action: string): PeerReply | null =>
      privs.has(p) ? null : esError(403, 'security_exception',
        `action [${action}] is unauthorized for API key id [k1] of user [oversight] on indices [${index}], this action is granted by the index privileges [${p},all]`);
    if (req.path.endsWith('/_bulk')) {
      if (privs.has('write')) return this.bulk(req, true);
      return privs.has('write_other_indices') ? this.bulk(req, false) : need('write', this.options.dataStream, 'indices:data/write/bulk')!;
    }
    // What `siem setup elasticsearch` installs, read back as Elasticsearch answers it.
    if (req.method === 'GET' && req.path === '/_index_template/logs-oversight.beacon') {
      if (this.options.setUp === false) return esError(404, 'resource_not_found_exception', 'index template matching [logs-oversight.beacon] not found');
      return json(200, { index_templates: [{ name: 'logs-oversight.beacon', index_template: { index_patterns: ['logs-oversight.beacon-*'] } }] });
    }
    if (req.method === 'GET' && req.path === '/_ingest/pipeline/logs-oversight.beacon@default-pipeline') {
      return this.options.setUp === false ? json(404, {}) : json(200, { 'logs-oversight.beacon@default-pipeline': { processors: [] } });
    }
    const isJson = /^application\/json/.test(String(req.headers['content-type'] ?? ''));
    if (req.body.length > 0 && !isJson) return json(406, { error: 'Content-Type header [' + String(req.headers['content-type']) + '] is not supported', status: 406 });
    const body = req.body.length > 0 ? (JSON.parse(req.body.toString('utf8')) as Json) : {};
    if (req.method === 'DELETE' && req.path === '/_pit') {
      const freed = this.pits.delete(String(body['id']));
      return json(freed ? 200 : 404, { succeeded: freed, num_freed: freed ? 1 : 0 });
    }
    const pit = /^\/([^/]+)\/_pit$/.exec(req.path);
    if (pit && req.method === 'POST') {
      const index = decodeURIComponent(pit[1]!);
      if (index !== this.options.dataStream) return esError(404, 'index_not_found_exception', `no such index [${index}]`);
      if (!req.url.searchParams.get('keep_alive')) return esError(400, 'action_request_validation_exception', 'Validation Failed: 1: [keep_alive] is not specified;');
      const denied = need('read', index, 'indices:data/read/open_point_in_time');
      if (denied) return denied;
      const id = randomBytes(24).toString('base64');
      // A point in time sees what was searchable when it opened, and nothing written later.
      this.pits.set(id, { maxSeq: this.seq, openedAt: Date.now() });
      return json(200, { id, _shards: { total: 1, successful: 1, skipped: 0, failed: 0 } });
    }
    const search = /^(?:\/([^/]+))?\/_search$/.exec(req.path);
    if (search && (req.method === 'POST' || req.method === 'GET')) {
      this.searches++;
      const index = search[1] ? decodeURIComponent(search[1]) : null;
      if (body['pit']) {
        if (index !== null) return esError(400, 'action_request_validation_exception', 'Validation Failed: 1: [indices] cannot be used with point in time;');
        const pitId = String((body['pit'] as Json)['id']);
        const pitView = this.pits.get(pitId);
        if (!pitView) return esError(404, 'search_context_missing_exception', `No search context found for id [${pitId}]`);
        return this.search((d) => d.seq <= pitView.maxSeq && d.visibleAt <= pitView.openedAt, body, pitId, true);
      }
      if (index === `${this.options.dataStream}::failures`) {
        const now = Date.now();
        return need('read_failure_store', index, 'indices:data/read/search') ?? this.search((d) => d.visibleAt <= now, body, null, false);
      }
      if (index !== this.options.dataStream) return esError(404, 'index_not_found_exception', `no such index [${index}]`);
      const now = Date.now();
      return need('read', index, 'indices:data/read/search') ?? this.search((d) => d.visibleAt <= now, body, null, true);
    }
    return json(404, { error: `no handler found for uri [${req.path}] and method [${req.method}]`, status: 404 });
  }

  private search(inView: (d: StoredDoc) => boolean, body: Json, pitId: string | null, stream: boolean): PeerReply {
    const size = Number(body['size'] ?? 10);
    const from = Number(body['from'] ?? 0);
    if (from + size > 10_000) {
      return esError(400, 'illegal_argument_exception', 'Result window is too large, from + size must be less than or equal to: [10000]');
    }
    let match: (d: StoredDoc) => boolean;
    try {
      match = compile((body['query'] as Json | undefined) ?? { match_all: {} });
    } catch (err) {
      return esError(400, 'parsing_exception', (err as Error).message);
    }
    const sort = body['sort'] as Json[] | undefined;
    if (sort && (sort.length !== 1 || !('_shard_doc' in sort[0]!))) return esError(400, 'parsing_exception', 'this fake sorts by _shard_doc only');
    if (pitId !== null && body['search_after'] !== undefined && !sort) return esError(400, 'illegal_argument_exception', 'search_after needs a sort');
    const after = Array.isArray(body['search_after']) ? Number((body['search_after'] as unknown[])[0]) : -1;
    const pool = (stream ? this.candidates((body['query'] as Json | undefined) ?? { match_all: {} }) : null) ?? (stream ? this.stored : this.failures);
    const matching = pool.filter((d) => inView(d) && match(d));
    const hits = matching.filter((d) => d.seq > after).sort((a, b) => a.seq - b.seq).slice(from, from + size);
    const fields = (body['fields'] as string[] | undefined) ?? [];
    const withSource = body['_source'] !== false;
    // hits.total counts every match of the query, whatever page is asked for (exactly with track_total_hits: true,
    // up to 10,000 by default).
    const counted = body['track_total_hits'] === true ? { value: matching.length, relation: 'eq' }
      : { value: Math.min(matching.length, 10_000), relation: matching.length > 10_000 ? 'gte' : 'eq' };
    const answer: Json = {
      ...(pitId !== null ? { pit_id: pitId } : {}),
      took: 1, timed_out: false, _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
      hits: {
        ...(body['track_total_hits'] === false ? {} : { total: counted }),
        max_score: null,
        hits: hits.map((d) => ({
          _index: d.index, _id: d.id, _score: null,
          ...(withSource ? { _source: d.source } : {}),
          ...(fields.length ? { fields: Object.fromEntries(fields.map((f) => [f, get(d.source, f)]).filter(([, v]) => (v as unknown[]).length > 0)) } : {}),
          ...(sort ? { sort: [d.seq] } : {}),
        })),
      },
    };
    return json(200, this.options.searchAnswer ? this.options.searchAnswer(answer, body) : answer);
  }

  /** `mayWrite`: the key may write this stream; if not, each of its items is refused as Elasticsearch refuses it. */
  private bulk(req: PeerRequest, mayWrite: boolean): PeerReply {
    const ct = String(req.headers['content-type'] ?? '');
    if (!/^application\/(x-ndjson|json)/.test(ct)) return json(406, { error: 'Content-Type header is not supported', status: 406 });
    const text = req.body.toString('utf8');
    if (!text.endsWith('\n')) return esError(400, 'illegal_argument_exception', 'The bulk request must be terminated by a newline [\\n]');
    const lines = text.slice(0, -1).split('\n');
    const items: Record<string, unknown>[] = [];
    const now = Date.now();
    for (let i = 0; i < lines.length; i += 2) {
      const action = JSON.parse(lines[i]!) as Record<string, { _index?: string; _id?: string }>;
      const op = Object.keys(action)[0]!;
      this.actionsSeen.add(op);
      const meta = action[op]!;
      const doc = JSON.parse(lines[i + 1] ?? 'null') as Record<string, unknown>;
      const id = meta._id ?? `auto-${this.docs.size}`;
      const result = (status: number, extra: Record<string, unknown>, index = this.backingIndex): void => {
        items.push({ [op]: { _index: index, _id: id, status, ...extra } });
      };
      const err = (status: number, type: string, reason: string): void => result(status, { error: { type, reason } });
      if (op !== 'create') { err(400, 'illegal_argument_exception', 'only write ops with an op_type of create are allowed in data streams'); continue; }
      if (!mayWrite) {
        err(403, 'security_exception', `action [indices:data/write/bulk[s]] is unauthorized for API key id [k1] of user [oversight] on indices [${meta._index}], this action is granted by the index privileges [create_doc,create,index,write,all]`);
        continue;
      }
      if (meta._index !== this.options.dataStream || this.options.exists === false) {
        err(404, 'index_not_found_exception', `no such index [${meta._index}] and [action.auto_create_index] is [false]`);
        continue;
      }
      if (this.block) {
        const { status, block } = BLOCKS[this.block];
        err(status, 'cluster_block_exception', `index [${this.backingIndex}] blocked by: [${block}];`);
        continue;
      }
      if (this.options.pipeline === false) {
        err(400, 'illegal_argument_exception', 'pipeline with id [logs-oversight.beacon@default-pipeline] does not exist');
        continue;
      }
      if (typeof doc['@timestamp'] !== 'string') { err(400, 'illegal_argument_exception', 'data stream timestamp field [@timestamp] is missing'); continue; }
      const attempt = this.attempts.get(id) ?? 0;
      this.attempts.set(id, attempt + 1);
      const fault = this.options.itemFault?.(doc, id, attempt);
      if (fault) { err(fault, ERROR_TYPES[fault] ?? 'exception', `injected ${fault}`); continue; }
      if (this.current.has(id)) { err(409, 'version_conflict_engine_exception', `[${id}]: version conflict, document already exists (current version [1])`); continue; }
      const redirected = this.options.failureStore?.(doc, id);
      if (redirected !== undefined) {
        const fsIndex = `.fs-${this.options.dataStream}-000001`;
        this.failures.push({
          seq: ++this.seq, index: fsIndex, id: `fs-${this.seq}`, visibleAt: now + (this.options.visibleAfterMs ?? 0),
          source: { '@timestamp': new Date(now).toISOString(), document: { id, index: this.options.dataStream, source: doc }, error: { type: 'document_parsing_exception', message: redirected } },
        });
        result(201, { result: 'created', _version: 1, failure_store: 'used' }, fsIndex);
        continue;
      }
      if (!this.options.keepFields) this.docs.set(id, doc);
      if (!this.options.lose?.(doc, id, attempt)) {
        this.current.add(id);
        const keep = this.options.keepFields;
        const source = keep ? project(doc, keep) : doc;
        this.store({ seq: ++this.seq, index: this.backingIndex, id, source, visibleAt: now + (this.options.visibleAfterMs ?? 0) });
      }
      result(201, { result: 'created', _version: 1 });
    }
    const errors = items.some((it) => ((Object.values(it)[0] as { status: number }).status >= 300));
    return json(200, filterPath({ took: 3, errors, items }, req.url.searchParams.get('filter_path')));
  }

  close(): Promise<void> {
    return this.peer.close();
  }
}

/** Only the named (dotted) fields of a document. */
function project(doc: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = get(doc, f);
    if (v.length === 0) continue;
    const parts = f.split('.');
    let o = out;
    for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Record<string, unknown>;
    o[parts[parts.length - 1]!] = v.length === 1 ? v[0] : v;
  }
  return out;
}

/** A field's values as the `fields` option returns them: always an array. */
function get(source: Record<string, unknown>, field: string): unknown[] {
  let v: unknown = source;
  for (const part of field.split('.')) {
    if (v === null || typeof v !== 'object') return [];
    v = (v as Record<string, unknown>)[part];
  }
  if (v === undefined || v === null) return (field in source ? [source[field]] : []).filter((x) => x !== undefined && x !== null);
  return Array.isArray(v) ? v : [v];
}

/** The query DSL this fake understands; anything else is a parsing_exception, never a silent match. */
function compile(q: Json): (d: StoredDoc) => boolean {
  const [kind, arg] = Object.entries(q)[0] ?? ['match_all', {}];
  const a = arg as Json;
  switch (kind) {
    case 'match_all':
      return () => true;
    case 'ids': {
      const ids = new Set((a['values'] as string[]) ?? []);
      return (d) => ids.has(d.id);
    }
    case 'term': {
      const [field, value] = Object.entries(a)[0]!;
      const want = typeof value === 'object' && value !== null ? (value as Json)['value'] : value;
      return (d) => get(d.source, field).some((v) => String(v) === String(want));
    }
    case 'terms': {
      const [field, values] = Object.entries(a)[0]!;
      if (!Array.isArray(values)) throw new Error('[terms] query does not support lookups here');
      if (values.length > 65_536) throw new Error(`The number of terms [${values.length}] used in the Terms Query request has exceeded the allowed maximum of [65536]`);
      const want = new Set(values.map(String));
      return (d) => get(d.source, field).some((v) => want.has(String(v)));
    }
    case 'range': {
      const { lo, hi } = dateRange(a);
      return (d) => d.time !== undefined && d.time >= lo && d.time <= hi;
    }
    case 'bool': {
      const list = (k: string): ((d: StoredDoc) => boolean)[] => {
        const v = a[k];
        return v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => compile(x as Json));
      };
      const must = [...list('must'), ...list('filter')];
      const should = list('should');
      const not = list('must_not');
      const min = Number(a['minimum_should_match'] ?? (must.length ? 0 : should.length ? 1 : 0));
      return (d) => must.every((m) => m(d)) && !not.some((m) => m(d)) && should.filter((m) => m(d)).length >= min;
    }
    default:
      throw new Error(`unknown query [${kind}]`);
  }
}

/** Elasticsearch's `filter_path`: keep only the listed paths (`*` for any key; arrays are looked through). */
export function filterPath(value: unknown, spec: string | null): unknown {
  if (!spec) return value;
  const paths = spec.split(',').map((p) => p.trim().split('.'));
  const walk = (v: unknown, ps: string[][]): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, ps)).filter((x) => x !== undefined);
    if (v === null || typeof v !== 'object') return undefined;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const here = ps.filter((p) => p[0] === k || p[0] === '*');
      if (here.length === 0) continue;
      if (here.some((p) => p.length === 1)) out[k] = x;
      else {
        const sub = walk(x, here.map((p) => p.slice(1)));
        if (sub !== undefined && !(typeof sub === 'object' && sub !== null && !Array.isArray(sub) && Object.keys(sub).length === 0)) out[k] = sub;
      }
    }
    return out;
  };
  return walk(value, paths) ?? {};
}

/** What a data stream's `@timestamp` (a `date` field) indexes: milliseconds, or NaN for none. */
function timeOf(source: Record<string, unknown>): number {
  const v = get(source, '@timestamp')[0];
  return typeof v === 'string' ? Date.parse(v) : NaN;
}

/** The index of the first document dated at or after `ms` in a list sorted by time. */
function firstAt(sorted: StoredDoc[], ms: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.time! < ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const RANGE_KEYS = new Set(['gt', 'gte', 'lt', 'lte', 'format', 'boost']);

/**
 * A `range` query on `@timestamp` as inclusive milliseconds. Elasticsearch parses each bound with the query's
 * `format` (or the field's, `strict_date_optional_time||epoch_millis`) and refuses one that none of them reads.
 */
function dateRange(a: Json): { lo: number; hi: number } {
  const fields = Object.keys(a);
  if (fields.length !== 1) throw new Error(`[range] query doesn't support multiple fields, found [${fields.join('] and [')}]`);
  const field = fields[0]!;
  if (field !== '@timestamp') throw new Error(`this fake models [range] on [@timestamp] only, not [${field}]`);
  const spec = a[field];
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new Error(`[range] query malformed, no start_object after query name`);
  const r = spec as Json;
  for (const k of Object.keys(r)) if (!RANGE_KEYS.has(k)) throw new Error(`[range] query does not support [${k}]`);
  const format = r['format'] === undefined ? 'strict_date_optional_time||epoch_millis' : String(r['format']);
  const parse = (v: unknown): number => {
    for (const f of format.split('||')) {
      if (f === 'epoch_millis' && (typeof v === 'number' || (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)))) return Math.floor(Number(v));
      if (f === 'epoch_second' && (typeof v === 'number' || (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)))) return Math.floor(Number(v) * 1000);
      if (f === 'strict_date_optional_time' && typeof v === 'string' && STRICT_DATE.test(v)) {
        const ms = Date.parse(v.length === 10 ? `${v}T00:00:00Z` : /(Z|[+-]\d{2}:?\d{2})$/.test(v) ? v : `${v}Z`);
        if (Number.isFinite(ms)) return ms;
      }
      if (!['epoch_millis', 'epoch_second', 'strict_date_optional_time'].includes(f)) throw new Error(`this fake does not model the date format [${f}]`);
    }
    throw new Error(`failed to parse date field [${String(v)}] with format [${format}]`);
  };
  let lo = -Infinity;
  let hi = Infinity;
  if (r['gte'] !== undefined) lo = parse(r['gte']);
  if (r['gt'] !== undefined) lo = Math.max(lo, parse(r['gt']) + 1);
  if (r['lte'] !== undefined) hi = parse(r['lte']);
  if (r['lt'] !== undefined) hi = Math.min(hi, parse(r['lt']) - 1);
  return { lo, hi };
}

const STRICT_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/;
