/**
 * A fake Kibana for `siem setup kibana`: saved objects `_bulk_get` and `_import`, and the detection engine's rule
 * read and `_import`, checked the way Kibana checks them: credentials, the `kbn-xsrf` header on every write,
 * multipart/form-data with a `file` part whose name ends in `.ndjson`, one JSON object per line, references that
 * must resolve, the fields each rule type requires, and conflicts without `overwrite`.
 */
import { randomUUID } from 'node:crypto';
import { Peer, type PeerReply, type PeerRequest } from './peer.js';

export interface KibanaOptions {
  authorization: string;
  /** Answer 403 to writes (a user with read-only Kibana privileges). */
  readOnly?: boolean;
}

type SavedObject = { id: string; type: string; attributes: Record<string, unknown>; references: { id: string; type: string; name: string }[] } & Record<string, unknown>;
type Rule = Record<string, unknown> & { rule_id: string };

const json = (status: number, body: unknown): PeerReply => ({ status, body: JSON.stringify(body) });
const badRequest = (message: string): PeerReply => json(400, { statusCode: 400, error: 'Bad Request', message });

const SAVED_OBJECT_TYPES = new Set(['index-pattern', 'lens', 'search', 'map', 'dashboard', 'visualization', 'tag']);
const RULE_TYPES = new Set(['query', 'new_terms', 'threshold', 'eql', 'esql', 'saved_query', 'machine_learning', 'threat_match']);

/** The file part of a multipart/form-data body, or why Kibana would refuse it. */
function filePart(req: PeerRequest): { filename: string; text: string } | string {
  const m = /^multipart\/form-data;\s*boundary=("?)([^";]+)\1/i.exec(String(req.headers['content-type'] ?? ''));
  if (!m) return 'expected multipart/form-data with a boundary';
  const boundary = `--${m[2]}`;
  const raw = req.body.toString('utf8');
  if (!raw.startsWith(boundary) || !raw.trimEnd().endsWith(`${boundary}--`)) return 'malformed multipart body';
  for (const part of raw.split(boundary).slice(1, -1)) {
    const sep = part.indexOf('\r\n\r\n');
    if (sep < 0) continue;
    const head = part.slice(0, sep);
    const disposition = /content-disposition:\s*form-data;\s*name="([^"]+)"(?:;\s*filename="([^"]*)")?/i.exec(head);
    if (disposition?.[1] !== 'file') continue;
    if (!part.endsWith('\r\n')) return 'malformed multipart part';
    return { filename: disposition[2] ?? '', text: part.slice(sep + 4, -2) };
  }
  return '[request body.file]: expected value of type [Stream] but got [undefined]';
}

function ndjsonLines(text: string): unknown[] | string {
  const out: unknown[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      return `Unexpected token in JSON: ${line.slice(0, 40)}`;
    }
  }
  return out;
}

function ruleProblem(r: Rule): string | null {
  for (const k of ['rule_id', 'name', 'description', 'risk_score', 'severity', 'type']) if (r[k] === undefined) return `${k}: Required`;
  if (!RULE_TYPES.has(String(r['type']))) return `type: Invalid enum value '${String(r['type'])}'`;
  if (!['low', 'medium', 'high', 'critical'].includes(String(r['severity']))) return 'severity: Invalid enum value';
  const risk = r['risk_score'] as number;
  if (!Number.isInteger(risk) || risk < 0 || risk > 100) return 'risk_score: Number must be between 0 and 100';
  if (r['version'] !== undefined && (!Number.isInteger(r['version']) || (r['version'] as number) < 1)) return 'version: Number must be at least 1';
  if (['query', 'new_terms', 'threshold'].includes(String(r['type'])) && typeof r['query'] !== 'string') return 'query: Required';
  if (r['type'] === 'threshold') {
    const t = r['threshold'] as { field?: unknown; value?: unknown; cardinality?: unknown } | undefined;
    if (!t || !Array.isArray(t.field) || !Number.isInteger(t.value) || (t.value as number) < 1) return 'threshold: Invalid input';
    if (t.cardinality !== undefined && !Array.isArray(t.cardinality)) return 'threshold.cardinality: Expected array';
  }
  if (r['type'] === 'new_terms') {
    const f = r['new_terms_fields'];
    if (!Array.isArray(f) || f.length < 1 || f.length > 3) return 'new_terms_fields: Array must contain between 1 and 3 element(s)';
    if (typeof r['history_window_start'] !== 'string') return 'history_window_start: Required';
  }
  return null;
}

export class KibanaPeer {
  readonly peer: Peer;
  readonly objects = new Map<string, SavedObject>();
  readonly rules = new Map<string, Rule>();
  imports = 0;

  constructor(private readonly options: KibanaOptions) {
    this.peer = new Peer((req) => this.route(req));
  }

  async start(): Promise<this> {
    await this.peer.start();
    return this;
  }

  get url(): string {
    return this.peer.url;
  }

  writes(): PeerRequest[] {
    return this.peer.requests.filter((r) => r.path.endsWith('/_import'));
  }

  private route(req: PeerRequest): PeerReply {
    if (req.headers['authorization'] !== this.options.authorization) {
      return json(401, { statusCode: 401, error: 'Unauthorized', message: '[security_exception]: missing authentication credentials for REST request' });
    }
    if (req.method !== 'GET' && req.headers['kbn-xsrf'] === undefined) return badRequest('Request must contain a kbn-xsrf header.');
    const key = `${req.method} ${req.path}`;
    if (key === 'POST /api/saved_objects/_bulk_get') return this.bulkGet(req);
    if (key === 'GET /api/detection_engine/rules') return this.getRule(req);
    if (this.options.readOnly && req.method === 'POST') return json(403, { statusCode: 403, error: 'Forbidden', message: 'Unable to bulk_create index-pattern,lens,search,map,dashboard' });
    if (key === 'POST /api/saved_objects/_import') return this.importObjects(req);
    if (key === 'POST /api/detection_engine/rules/_import') return this.importRules(req);
    return json(404, { statusCode: 404, error: 'Not Found', message: 'Not Found' });
  }

  private bulkGet(req: PeerRequest): PeerReply {
    let wanted: { type: string; id: string }[];
    try {
      wanted = JSON.parse(req.body.toString('utf8')) as typeof wanted;
    } catch {
      return badRequest('[request body]: expected an array');
    }
    if (!/^application\/json/.test(String(req.headers['content-type'] ?? ''))) return json(415, { statusCode: 415, error: 'Unsupported Media Type', message: 'Unsupported Media Type' });
    return json(200, {
      saved_objects: wanted.map(({ type, id }) => this.objects.get(`${type}:${id}`) ?? {
        id, type, error: { statusCode: 404, error: 'Not Found', message: `Saved object [${type}/${id}] not found` },
      }),
    });
  }

  private importObjects(req: PeerRequest): PeerReply {
    const file = filePart(req);
    if (typeof file === 'string') return badRequest(file);
    if (!file.filename.endsWith('.ndjson')) return json(415, { statusCode: 415, error: 'Unsupported Media Type', message: `Invalid file extension ${file.filename.slice(file.filename.lastIndexOf('.'))}` });
    const lines = ndjsonLines(file.text);
    if (typeof lines === 'string') return badRequest(lines);
    const overwrite = req.url.searchParams.get('overwrite') === 'true';
    const incoming = lines as SavedObject[];
    const available = new Set([...this.objects.keys(), ...incoming.map((o) => `${o.type}:${o.id}`)]);
    const errors: unknown[] = [];
    const ok: SavedObject[] = [];
    for (const o of incoming) {
      if (!SAVED_OBJECT_TYPES.has(o.type) || typeof o.id !== 'string' || typeof o.attributes !== 'object') {
        errors.push({ id: o.id, type: o.type, error: { type: 'unsupported_type' } });
        continue;
      }
      const missing = (o.references ?? []).filter((r) => !available.has(`${r.type}:${r.id}`));
      if (missing.length) {
        errors.push({ id: o.id, type: o.type, title: o.attributes['title'], error: { type: 'missing_references', references: missing.map(({ type, id }) => ({ type, id })) } });
        continue;
      }
      if (this.objects.has(`${o.type}:${o.id}`) && !overwrite) {
        errors.push({ id: o.id, type: o.type, title: o.attributes['title'], error: { type: 'conflict' } });
        continue;
      }
      ok.push(o);
    }
    for (const o of ok) {
      this.objects.set(`${o.type}:${o.id}`, {
        ...structuredClone(o), namespaces: ['default'], updated_at: new Date().toISOString(), version: 'WzEsMV0=', managed: false,
      });
    }
    this.imports++;
    return json(200, {
      success: errors.length === 0, successCount: ok.length,
      successResults: ok.map((o) => ({ type: o.type, id: o.id, meta: { title: o.attributes['title'] }, ...(overwrite ? { overwrite: true } : {}) })),
      ...(errors.length ? { errors } : {}),
    });
  }

  private getRule(req: PeerRequest): PeerReply {
    const id = req.url.searchParams.get('rule_id') ?? '';
    const rule = this.rules.get(id);
    return rule ? json(200, rule) : json(404, { message: `rule_id: "${id}" not found`, status_code: 404 });
  }

  private importRules(req: PeerRequest): PeerReply {
    const file = filePart(req);
    if (typeof file === 'string') return badRequest(file);
    if (!file.filename.endsWith('.ndjson')) return badRequest(`Invalid file extension ${file.filename.slice(file.filename.lastIndexOf('.'))}`);
    const lines = ndjsonLines(file.text);
    if (typeof lines === 'string') return badRequest(lines);
    const overwrite = req.url.searchParams.get('overwrite') === 'true';
    const errors: unknown[] = [];
    let success = 0;
    for (const r of lines as Rule[]) {
      const problem = ruleProblem(r);
      if (problem) {
        errors.push({ rule_id: r.rule_id, error: { status_code: 400, message: problem } });
        continue;
      }
      const existing = this.rules.get(r.rule_id);
      if (existing && !overwrite) {
        errors.push({ rule_id: r.rule_id, error: { status_code: 409, message: `rule_id: "${r.rule_id}" already exists` } });
        continue;
      }
      const now = new Date().toISOString();
      this.rules.set(r.rule_id, {
        ...structuredClone(r), id: existing?.['id'] ?? randomUUID(), enabled: r['enabled'] ?? true, version: r['version'] ?? 1,
        immutable: false, rule_source: { type: 'internal' }, created_at: existing?.['created_at'] ?? now, updated_at: now,
        exceptions_list: r['exceptions_list'] ?? [],
      });
      success++;
    }
    this.imports++;
    return json(200, {
      success: errors.length === 0, success_count: success, rules_count: (lines as unknown[]).length, errors,
      exceptions_success: true, exceptions_success_count: 0, exceptions_errors: [],
      action_connectors_success: true, action_connectors_success_count: 0, action_connectors_errors: [], action_connectors_warnings: [],
    });
  }

  close(): Promise<void> {
    return this.peer.close();
  }
}
