/**
 * A fake Elasticsearch `_bulk` endpoint in front of one data stream: NDJSON with a final newline, `create`
 * only (as data streams demand), `@timestamp` required, `_id` unique (409 on a repeat), per-item results in
 * request order, and scripted item failures.
 */
import { Peer, type PeerReply, type PeerRequest } from './peer.js';

export interface EsPeerOptions {
  dataStream: string;
  /** `ApiKey <key>` expected in Authorization. */
  apiKey: string;
  /** Status to give an item instead of indexing it; `attempt` counts this `_id`'s tries from 0. */
  itemFault?: (doc: Record<string, unknown>, id: string, attempt: number) => number | undefined;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'mapper_parsing_exception',
  429: 'es_rejected_execution_exception',
  503: 'unavailable_shards_exception',
};

export class EsPeer {
  readonly peer: Peer;
  /** Documents by `_id`, in creation order. */
  readonly docs = new Map<string, Record<string, unknown>>();
  readonly attempts = new Map<string, number>();
  actionsSeen = new Set<string>();

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

  eventIds(): string[] {
    return [...this.docs.values()].map((d) => String((d['event'] as Record<string, unknown>)['id']));
  }

  private route(req: PeerRequest): PeerReply {
    if (req.headers['authorization'] !== `ApiKey ${this.options.apiKey}`) {
      return { status: 401, body: JSON.stringify({ error: { type: 'security_exception', reason: 'unable to authenticate' }, status: 401 }) };
    }
    if (!req.path.endsWith('/_bulk')) return { status: 404, body: '{}' };
    const ct = String(req.headers['content-type'] ?? '');
    if (!/^application\/(x-ndjson|json)/.test(ct)) return { status: 406, body: JSON.stringify({ error: 'Content-Type header is not supported', status: 406 }) };
    const text = req.body.toString('utf8');
    if (!text.endsWith('\n')) {
      return {
        status: 400,
        body: JSON.stringify({ error: { type: 'illegal_argument_exception', reason: 'The bulk request must be terminated by a newline [\\n]' }, status: 400 }),
      };
    }
    const lines = text.slice(0, -1).split('\n');
    const items: Record<string, unknown>[] = [];
    for (let i = 0; i < lines.length; i += 2) {
      const action = JSON.parse(lines[i]!) as Record<string, { _index?: string; _id?: string }>;
      const op = Object.keys(action)[0]!;
      this.actionsSeen.add(op);
      const meta = action[op]!;
      const doc = JSON.parse(lines[i + 1] ?? 'null') as Record<string, unknown>;
      const id = meta._id ?? `auto-${this.docs.size}`;
      const result = (status: number, extra: Record<string, unknown>): void => {
        items.push({ [op]: { _index: `.ds-${this.options.dataStream}-000001`, _id: id, status, ...extra } });
      };
      const err = (status: number, type: string, reason: string): void => result(status, { error: { type, reason } });
      if (op !== 'create') { err(400, 'illegal_argument_exception', 'only write ops with an op_type of create are allowed in data streams'); continue; }
      if (meta._index !== this.options.dataStream) { err(404, 'index_not_found_exception', `no such index [${meta._index}]`); continue; }
      if (typeof doc['@timestamp'] !== 'string') { err(400, 'illegal_argument_exception', 'data stream timestamp field [@timestamp] is missing'); continue; }
      const attempt = this.attempts.get(id) ?? 0;
      this.attempts.set(id, attempt + 1);
      const fault = this.options.itemFault?.(doc, id, attempt);
      if (fault) { err(fault, ERROR_TYPES[fault] ?? 'exception', `injected ${fault}`); continue; }
      if (this.docs.has(id)) { err(409, 'version_conflict_engine_exception', `[${id}]: version conflict, document already exists (current version [1])`); continue; }
      this.docs.set(id, doc);
      result(201, { result: 'created', _version: 1 });
    }
    const errors = items.some((it) => ((Object.values(it)[0] as { status: number }).status >= 300));
    return { status: 200, body: JSON.stringify({ took: 3, errors, items }) };
  }

  close(): Promise<void> {
    return this.peer.close();
  }
}
