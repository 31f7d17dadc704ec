/**
 * Elasticsearch `_bulk`: `create` actions into the data stream `logs-oversight.beacon-<namespace>`, each with a
 * deterministic `_id` from registry id and rowid, so a replay into the same backing index is answered 409
 * (already there). Item results are read one by one: 429/5xx items and write blocks are retried alone, a
 * refusal of the key or of the target (item 401/403, 404) stops the export, other failures are dead-lettered, and
 * a document the stream redirected to its failure store (201 with `"failure_store": "used"`) is dead-lettered
 * too: it answered success but is not in the stream.
 *
 * After a rollover the `_id` is only unique within the new backing index, so a replay of events written before
 * it stores a second copy (elastic/elasticsearch#44794). We keep `create` with the fixed `_id` (no search before
 * every write, which would cost a round trip per batch and still race) and make the copy visible instead:
 * `siem verify` reports every event stored more than once.
 */
import { createHash } from 'node:crypto';
import { chooseCompression, wireBody, type Compression } from '../compress.js';
import { elasticAuthHeaders, ES_CREDENTIALS, ES_VARIABLES } from './es-auth.js';
import { bulkEncoder, type Entry } from '../../pipeline/encoder.js';
import { ConfigurationError } from '../../shared/errors.js';
import { option } from '../../shared/options.js';
import { HttpClient, NetworkError, type HttpResponse } from './client.js';
import { parseRetryAfter } from '../../pipeline/retry.js';
import { readBulkAnswer, type BulkItem } from './es-bulk-answer.js';
import { excerpt, refuseOwnHeaders, networkVerdict, protocolError, statusVerdict, type CheckLine, type Rejection, type Transport, type Verdict } from '../transport.js';
import type { TransportDescription } from '../describe.js';

/**
 * elasticsearch-js bulk helper's flushBytes, well under "a couple tens of megabytes"; the hard limit is the
 * `http.max_content_length` default (100mb).
 */
const BATCH = { maxEvents: 5_000, maxBytes: 5_000_000, hardMaxBytes: 100 * 1024 * 1024 };

/** The `_id` of an event: stable across runs, replays and dead-letter replays. */
export function documentId(registryId: string, rowid: number): string {
  return createHash('sha256').update(`${registryId}\n${rowid}`).digest('base64url').slice(0, 32);
}

/** Data stream naming: `logs-<dataset>-<namespace>`, namespace without '-' and at most 100 characters. */
export function dataStreamName(namespace: string): string {
  if (!/^[a-z0-9_.]{1,100}$/.test(namespace) || namespace.startsWith('.') || namespace.startsWith('_')) {
    throw new ConfigurationError(
      `--es-namespace '${namespace}' is not a valid data stream namespace: lowercase letters, digits, '_' and '.', no '-', at most 100`,
    );
  }
  return `logs-oversight.beacon-${namespace}`;
}

export function checkIndexName(name: string): string {
  if (!/^[a-z0-9][a-z0-9_.+-]{0,254}$/.test(name)) {
    throw new ConfigurationError(`--es-index '${name}' is not a valid index name: lowercase, no spaces or \\ / * ? " < > | , #`);
  }
  return name;
}

const CREDENTIAL = 'OVERSIGHT_ES_API_KEY (or OVERSIGHT_ES_USERNAME and OVERSIGHT_ES_PASSWORD, or an Authorization header)';

/**
 * An item refused for what the key may do or for where it goes, not for the document: Elasticsearch answers a
 * `_bulk` request with 200 when the key may write to some index, and refuses each item it may not write with 403
 * `security_exception`; a target that is not there and that it will not create is item 404
 * `index_not_found_exception`. Every document of the batch, and of every batch after it, meets the same refusal,
 * so dead-lettering them would empty the feed into the dead-letter file. The export stops, with the checkpoint
 * before the batch, and a restart once the key or the target is fixed sends it. A `cluster_block_exception`
 * (403 or 429) is not one of these: see `blocked`. Returns the stop's reason, or null.
 */
function destinationRefusal(item: BulkItem, index: string): string | null {
  const { status, type } = item;
  const said = `Elasticsearch answered HTTP ${status} for the documents to ${index}: ${excerpt(item.error ?? `status ${status}`, 400)}`;
  // The default pipeline the stream's template names is gone (deleted, or a setup cut short): no document of
  // any batch can pass it, which is no fault of theirs.
  if (status === 400 && type === 'illegal_argument_exception' && MISSING_PIPELINE.test(item.error ?? '')) {
    return `${said} (the ingest pipeline the index template names is missing: run oversight siem setup elasticsearch)`;
  }
  if (type === 'cluster_block_exception' || (status !== 401 && status !== 403 && status !== 404)) return null;
  if (status === 401) return `${said} (the credentials were refused: check ${CREDENTIAL})`;
  if (status === 403) {
    return `${said} (the credentials work but may not write there: they need the create_doc (or write) privilege on ${index}, and auto_configure where the data stream is still to be created)`;
  }
  return `${said} (it does not exist and Elasticsearch does not create it: run oversight siem setup elasticsearch and allow action.auto_create_index for it, or create it)`;
}

/** IngestService's words for a pipeline that does not exist. */
const MISSING_PIPELINE = /^illegal_argument_exception: pipeline with id \[[^\]]*\] does not exist/;

/**
 * A write block on the target index (`cluster_block_exception`) is retried with backoff, as Logstash does, and as
 * Elasticsearch itself asks for the flood-stage disk block (item 429 since 7.x, lifted by Elasticsearch once disk
 * is freed). A 403 block (`index.blocks.write`, `read_only`, an index being closed) is set by an operator or a
 * maintenance step and lifted the same way: backoff rides out a short one, and --retry-max-duration ends a lasting
 * one with exit 1 and the checkpoint before the batch, naming the block. Never dead-lettered: no document is at fault.
 */
const blocked = (item: BulkItem): boolean => item.type === 'cluster_block_exception';

/** Classify one `_bulk` answer for a batch of `count` documents sent to `index`. */
export function classifyBulkResponse(res: HttpResponse, count: number, index = 'the target index'): Verdict {
  if (res.status < 200 || res.status >= 300) {
    return statusVerdict(res, 'Elasticsearch', {
      credential: CREDENTIAL,
      permission: 'the create_doc (or write) privilege on logs-oversight.beacon-* (or your --es-index)',
    });
  }
  const items = readBulkAnswer(res.body, count);
  if (typeof items === 'string') {
    return protocolError('Elasticsearch', res, `a _bulk answer with one item result per document (${items})`);
  }
  for (const item of items) {
    const refusal = destinationRefusal(item, index);
    if (refusal) return { kind: 'stop', reason: refusal };
  }
  const retry: number[] = [];
  const rejected: Rejection[] = [];
  let duplicates = 0;
  let why = '';
  items.forEach((item, i) => {
    const status = item.status;
    if ((status === 200 || status === 201) && item.failureStore === 'used') {
      rejected.push({
        index: i, status,
        error: 'Elasticsearch redirected the document to the data stream failure store (it failed the mapping or ingest pipeline); it is not in the stream: see <stream>::failures',
      });
      return;
    }
    if (status === 200 || status === 201) return;
    if (status === 409) {
      duplicates++;
      return;
    }
    if (status === 429 || status >= 500 || blocked(item)) {
      retry.push(i);
      why ||= `item ${status}: ${excerpt(item.error ?? `status ${status}`, 400)}`;
    } else rejected.push({ index: i, status, error: `Elasticsearch item ${status}: ${item.error ?? `status ${status}`}` });
  });
  if (retry.length === 0 && rejected.length === 0) return { kind: 'delivered', duplicates };
  const reason = `Elasticsearch refused ${retry.length + rejected.length} of ${count} documents` +
    (retry.length ? ` (${retry.length} to retry; ${why})` : '');
  const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
  return retryAfterMs === undefined
    ? { kind: 'partial', retry, rejected, reason, duplicates }
    : { kind: 'partial', retry, rejected, reason, duplicates, retryAfterMs };
}

/** A 401 or 403 as a check line naming what is needed; null for any other status. */
function authLine(status: number): CheckLine | null {
  if (status === 401) return { what: 'credentials', ok: false, detail: 'refused (HTTP 401): check OVERSIGHT_ES_API_KEY, OVERSIGHT_ES_USERNAME/PASSWORD or the Authorization header' };
  if (status === 403) {
    return { what: 'credentials', ok: false, detail: 'accepted, but not allowed to read the template (HTTP 403): the exporter needs monitor or manage_index_templates to be checked, and create_doc on logs-oversight.beacon-*' };
  }
  return null;
}

export interface ElasticsearchConfig {
  url: string;
  index: string;
  headers: Record<string, string>;
  client: HttpClient;
  compress?: Compression | null;
}

/**
 * Elasticsearch always accepts gzip request bodies (since 5.0), and Elastic's own shippers (Beats, Elastic Agent)
 * compress by default; `http.max_content_length` applies to the decompressed body.
 */
export const ES_COMPRESSION = { default: 'gzip', gzip: true } as const;

export class ElasticsearchTransport implements Transport {
  readonly name = elasticsearchTransport.name;
  readonly encoder;
  readonly defaults = elasticsearchTransport.batch;
  readonly hardMaxBytes = elasticsearchTransport.batch.hardMaxBytes;
  private readonly url: string;
  private readonly headers: Record<string, string>;
  readonly compression: Compression;

  constructor(private readonly config: ElasticsearchConfig) {
    this.compression = chooseCompression(config.compress, 'elasticsearch', ES_COMPRESSION);
    const indexJson = JSON.stringify(config.index);
    this.encoder = bulkEncoder((e) => `{"create":{"_index":${indexJson},"_id":"${documentId(e.registry_id, e.rowid)}"}}`);
    const u = new URL(config.url);
    // Only failures, statuses and failure store redirects come back, which keeps large answers small; a
    // redirect answers 201 with `errors: false`, so dropping `failure_store` would count it as delivered. Set
    // over any filter_path in --output: an answer without every item's status cannot say what is in.
    u.searchParams.set('filter_path', 'errors,items.*.status,items.*.error,items.*.failure_store');
    this.url = u.toString();
    refuseOwnHeaders(config.headers, 'elasticsearch', ['Content-Type']);
    this.headers = { 'content-type': 'application/x-ndjson', ...config.headers };
  }

  /**
   * What `siem setup elasticsearch` installs, read back: the index template and the default pipeline of the
   * data stream. The same requests show whether the credentials work. An --es-index of your own has neither.
   */
  async check(): Promise<CheckLine[]> {
    const base = this.config.url.replace(/\/_bulk\/?(\?.*)?$/, '');
    const headers = { ...this.config.headers };
    delete headers['content-type'];
    if (!this.config.index.startsWith('logs-oversight.beacon-')) {
      const r = await this.config.client.send('GET', `${base}/_security/_authenticate`, headers);
      return [authLine(r.status) ?? { what: 'credentials', ok: true, detail: `accepted (--es-index ${this.config.index}: no template to check)` }];
    }
    const out: CheckLine[] = [];
    for (const [what, path, fix] of [
      ['index template', '/_index_template/logs-oversight.beacon', 'run oversight siem setup elasticsearch'],
      ['ingest pipeline', '/_ingest/pipeline/logs-oversight.beacon@default-pipeline', 'run oversight siem setup elasticsearch'],
    ] as const) {
      const r = await this.config.client.send('GET', `${base}${path}`, headers);
      const auth = authLine(r.status);
      if (auth) return [auth];
      out.push(r.status === 200 ? { what, ok: true, detail: 'installed' } : { what, ok: false, detail: r.status === 404 ? `missing: ${fix}` : `HTTP ${r.status}: ${excerpt(r.body, 120)}` });
    }
    return out;
  }

  async send(entries: readonly Entry[], body: Buffer): Promise<Verdict> {
    const wire = await wireBody(body, this.compression);
    try {
      const res = await this.config.client.post(this.url, { ...this.headers, ...wire.headers }, wire.body);
      return classifyBulkResponse(res, entries.length, this.config.index);
    } catch (err) {
      if (err instanceof NetworkError) return networkVerdict(err);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.config.client.close();
  }
}

const NAMESPACE = option({ flags: '--es-namespace <ns>', description: 'Elasticsearch: data stream namespace (logs-oversight.beacon-<ns>)', default: 'default' });
const INDEX = option({ flags: '--es-index <name>', description: 'Elasticsearch: write to this index or data stream instead' });

export const elasticsearchTransport: TransportDescription = {
  name: 'elasticsearch',
  summary: 'Elasticsearch _bulk into a data stream',
  schemes: ['http', 'https'],
  detect: (u) => /(^|\/)_bulk$/.test(u.pathname.replace(/\/+$/, '')),
  format: 'ecs',
  batch: BATCH,
  credentials: ES_CREDENTIALS,
  env: ES_VARIABLES,
  compression: ES_COMPRESSION,
  flags: [
    NAMESPACE,
    INDEX,
  ],
  create: (ctx) => {
    const esIndex = INDEX.read(ctx.flags);
    const index = esIndex ? checkIndexName(esIndex) : dataStreamName(NAMESPACE.read(ctx.flags)!);
    const headers = elasticAuthHeaders(ctx.headers, ctx.env);
    return new ElasticsearchTransport({ url: ctx.output, index, headers, client: new HttpClient(ctx.http), compress: ctx.compress });
  },
};
