/**
 * A fake Elasticsearch for `siem setup elasticsearch`: the ingest pipeline, component template and index template
 * APIs, checked the way Elasticsearch checks them (credentials, JSON content type on writes, known processor
 * types, `?create=true` on an existing template, component templates an index template names must exist unless
 * listed as ignorable) and answered in Elasticsearch's shapes, including what it adds or rewrites on the way back
 * (settings as strings, data stream and lifecycle defaults).
 */
import { Peer, type PeerReply, type PeerRequest } from './peer.js';

export interface EsSetupOptions {
  /** The exact Authorization header accepted. */
  authorization: string;
  /** Answer 403 to writes: a user who may read but not manage templates. */
  readOnly?: boolean;
}

const PROCESSORS = new Set([
  'append', 'convert', 'date', 'geoip', 'pipeline', 'remove', 'rename', 'set', 'user_agent', 'script', 'grok', 'dissect', 'lowercase', 'json',
]);

const error = (status: number, type: string, reason: string): PeerReply => ({
  status, body: JSON.stringify({ error: { root_cause: [{ type, reason }], type, reason }, status }),
});

/** Elasticsearch prints settings back flattened to strings and nested under `index`. */
function normalizeSettings(settings: Record<string, unknown>): Record<string, unknown> {
  const flat: Record<string, string> = {};
  const walk = (o: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(o)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) walk(v as Record<string, unknown>, key);
      else flat[key.startsWith('index.') ? key : `index.${key}`] = String(v);
    }
  };
  walk(settings, '');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flat)) {
    const parts = k.split('.');
    let node = out;
    parts.slice(0, -1).forEach((p) => (node = (node[p] ??= {}) as Record<string, unknown>));
    node[parts[parts.length - 1]!] = v;
  }
  return out;
}

export class EsSetupPeer {
  readonly peer: Peer;
  readonly pipelines = new Map<string, Record<string, unknown>>();
  readonly components = new Map<string, Record<string, unknown>>();
  readonly indexTemplates = new Map<string, Record<string, unknown>>();
  /** Existing data streams and the index template each was created from. */
  readonly dataStreams: { name: string; template: string }[] = [];

  constructor(private readonly options: EsSetupOptions) {
    this.peer = new Peer((req) => this.route(req));
  }

  async start(): Promise<this> {
    await this.peer.start();
    return this;
  }

  get url(): string {
    return this.peer.url;
  }

  /** Requests that changed something. */
  writes(): PeerRequest[] {
    return this.peer.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
  }

  private route(req: PeerRequest): PeerReply {
    if (req.headers['authorization'] !== this.options.authorization) {
      return { ...error(401, 'security_exception', 'missing authentication credentials for REST request'), headers: { 'www-authenticate': 'ApiKey, Basic realm="security"' } };
    }
    const ds = /^\/_data_stream\/([^/]+)$/.exec(req.path);
    if (ds && req.method === 'GET') {
      const pattern = decodeURIComponent(ds[1]!);
      const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
      if (this.options.readOnly) return error(403, 'security_exception', 'action [indices:admin/data_stream/get] is unauthorized');
      return { status: 200, body: JSON.stringify({ data_streams: this.dataStreams.filter((d) => re.test(d.name)).map((d) => ({ ...d, status: 'GREEN', generation: 1 })) }) };
    }
    const m = /^\/(_ingest\/pipeline|_component_template|_index_template)\/([^/]+)$/.exec(req.path);
    if (!m) return error(404, 'not_found', `no handler for ${req.method} ${req.path}`);
    const [, api, rawName] = m as unknown as [string, string, string];
    const name = decodeURIComponent(rawName);
    const store = api === '_ingest/pipeline' ? this.pipelines : api === '_component_template' ? this.components : this.indexTemplates;
    if (req.method === 'GET') return this.get(api, name, store);
    if (req.method !== 'PUT') return error(405, 'method_not_allowed', `Incorrect HTTP method for uri [${req.path}] and method [${req.method}], allowed: [GET, PUT, DELETE]`);
    if (this.options.readOnly) {
      return error(403, 'security_exception', `action [cluster:admin/${api}/put] is unauthorized for user [reader] with effective roles [viewer]`);
    }
    if (!/^application\/json/.test(String(req.headers['content-type'] ?? ''))) {
      return { status: 406, body: JSON.stringify({ error: `Content-Type header [${String(req.headers['content-type'])}] is not supported`, status: 406 }) };
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(req.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return error(400, 'parse_exception', 'request body is required and must be JSON');
    }
    const refusal = this.check(api, name, body, req.url.searchParams.get('create') === 'true');
    if (refusal) return refusal;
    store.set(name, body);
    return { status: 200, body: '{"acknowledged":true}' };
  }

  private check(api: string, name: string, body: Record<string, unknown>, create: boolean): PeerReply | null {
    if (create && (api === '_component_template' ? this.components : this.indexTemplates).has(name)) {
      return error(400, 'illegal_argument_exception', `${api === '_component_template' ? 'component' : 'index'} template [${name}] already exists`);
    }
    if (api === '_ingest/pipeline') {
      const list = body['processors'];
      if (!Array.isArray(list)) return error(400, 'parse_exception', '[processors] required property is missing');
      for (const p of [...list, ...((body['on_failure'] as unknown[]) ?? [])]) {
        const type = Object.keys(p as object)[0]!;
        if (!PROCESSORS.has(type)) return error(400, 'parse_exception', `No processor type exists with name [${type}]`);
      }
    }
    if (api === '_component_template' && typeof body['template'] !== 'object') {
      return error(400, 'x_content_parse_exception', '[component_template] failed to parse field [template]');
    }
    if (api === '_index_template') {
      const ignorable = (body['ignore_missing_component_templates'] as string[] | undefined) ?? [];
      const missing = ((body['composed_of'] as string[] | undefined) ?? []).filter((c) => !this.components.has(c) && !ignorable.includes(c));
      if (missing.length) return error(400, 'invalid_index_template_exception', `index_template [${name}] invalid, cause [index template [${name}] specifies component templates ${JSON.stringify(missing)} that do not exist]`);
    }
    return null;
  }

  private get(api: string, name: string, store: Map<string, Record<string, unknown>>): PeerReply {
    const body = store.get(name);
    if (!body) {
      return api === '_ingest/pipeline'
        ? { status: 404, body: '{}' }
        : error(404, 'resource_not_found_exception', `${api === '_component_template' ? 'component' : 'index'} template matching [${name}] not found`);
    }
    const shown = structuredClone(body);
    const template = shown['template'] as Record<string, unknown> | undefined;
    if (template?.['settings']) template['settings'] = normalizeSettings(template['settings'] as Record<string, unknown>);
    if (api === '_ingest/pipeline') return { status: 200, body: JSON.stringify({ [name]: shown }) };
    if (api === '_component_template') return { status: 200, body: JSON.stringify({ component_templates: [{ name, component_template: shown }] }) };
    if (shown['data_stream']) shown['data_stream'] = { hidden: false, allow_custom_routing: false, ...(shown['data_stream'] as object) };
    if (template?.['lifecycle']) template['lifecycle'] = { enabled: true, ...(template['lifecycle'] as object) };
    return { status: 200, body: JSON.stringify({ index_templates: [{ name, index_template: shown }] }) };
  }

  close(): Promise<void> {
    return this.peer.close();
  }
}
