/**
 * `oversight siem setup elasticsearch`: install the ingest pipeline, the component templates and the index
 * template for `logs-oversight.beacon-*` over the REST API, the way Beats' `setup` loads its templates. Each
 * object is read first and written only when it is missing or differs from what we ship, so a second run
 * changes nothing. The `@custom` component template is the user's: created when missing, never changed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ELASTICSEARCH_ASSETS, type ElasticsearchAsset } from '../content/elastic.js';
import { DATA_STREAM_PATTERN, INDEX_TEMPLATE } from '../content/elastic-mappings.js';
import { contentRoot } from '../content/model.js';
import { ExportError } from '../shared/errors.js';
import { excerpt } from '../transports/transport.js';
import { covers, type RestClient } from './rest.js';

export const ELASTICSEARCH_TARGET = {
  name: 'Elasticsearch',
  privileges: 'the cluster privileges manage_index_templates and manage_pipeline',
};

export type Outcome = 'created' | 'updated' | 'unchanged' | 'kept';

export interface StepResult {
  what: string;
  name: string;
  outcome: Outcome;
}

function readAsset(asset: ElasticsearchAsset, root: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(root, 'elastic', asset.file), 'utf8')) as Record<string, unknown>;
}

/** The installed body out of a GET answer, whose wrapping differs per API. */
function installedBody(asset: ElasticsearchAsset, json: unknown): unknown {
  const name = decodeURIComponent(asset.path.split('/').pop()!);
  // Any other shape (null, a list, a number) is not Elasticsearch's answer: the caller names what is missing.
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const j = json as Record<string, unknown>;
  if (asset.path.startsWith('/_ingest/pipeline/')) return j[name];
  const list = j['component_templates'] ?? j['index_templates'];
  if (!Array.isArray(list)) return undefined;
  const hit = (list as ({ name?: unknown; component_template?: unknown; index_template?: unknown } | null)[]).find((t) => t?.name === name);
  return hit?.component_template ?? hit?.index_template;
}

/** Elasticsearch hands settings back flattened to strings under `index`; compare them that way. */
function flatSettings(settings: unknown, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof settings !== 'object' || settings === null) return out;
  for (const [k, v] of Object.entries(settings)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) Object.assign(out, flatSettings(v, key));
    else out[key.startsWith('index.') ? key : `index.${key}`] = Array.isArray(v) ? JSON.stringify(v.map(String)) : String(v);
  }
  return out;
}

/**
 * Mappings as Elasticsearch may print them back: objects without `type: object`, parameters as strings. Both
 * sides are brought to that form, so only a real difference counts.
 */
function normalMapping(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(normalMapping);
  if (typeof node !== 'object' || node === null) return typeof node === 'boolean' || typeof node === 'number' ? String(node) : node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = normalMapping(v);
  if (out['properties'] !== undefined && out['type'] === 'object') delete out['type'];
  return out;
}

export function sameAsInstalled(desired: Record<string, unknown>, installed: unknown): boolean {
  if (typeof installed !== 'object' || installed === null) return false;
  const d = structuredClone(desired);
  const a = structuredClone(installed) as Record<string, unknown>;
  const dt = d['template'] as Record<string, unknown> | undefined;
  const at = a['template'] as Record<string, unknown> | undefined;
  if (dt?.['mappings'] !== undefined) dt['mappings'] = normalMapping(dt['mappings']);
  if (at?.['mappings'] !== undefined) at['mappings'] = normalMapping(at['mappings']);
  if (dt?.['settings'] !== undefined || at?.['settings'] !== undefined) {
    const want = flatSettings(dt?.['settings']);
    const have = flatSettings(at?.['settings']);
    if (JSON.stringify(Object.entries(want).sort()) !== JSON.stringify(Object.entries(have).sort())) return false;
    delete dt?.['settings'];
    delete at?.['settings'];
  }
  return covers(d, a);
}

/**
 * Data streams keep the mappings of the template they were created from until they roll over: name the ones
 * that predate what was just installed (typically exported to before setup ran, from the stack's `logs`
 * template), with the request that fixes it. Rolling over is left to the user.
 */
async function staleDataStreams(client: RestClient, changed: boolean): Promise<string[]> {
  const res = await client.request('GET', `/_data_stream/${DATA_STREAM_PATTERN}`, undefined, {}, { optional: true });
  if (res.status !== 200) return [];
  const listed = (res.json as { data_streams?: unknown } | null)?.data_streams;
  // Only a hint: an answer of another shape names no stream rather than failing a setup that is done.
  const streams = (Array.isArray(listed) ? listed : []).filter(
    (d): d is { name: string; template?: string } => typeof (d as { name?: unknown } | null)?.name === 'string',
  );
  return streams
    .filter((d) => d.template !== INDEX_TEMPLATE || changed)
    .map((d) => `data stream ${d.name} keeps the mappings of ${d.template === INDEX_TEMPLATE ? 'the previous templates' : `index template ${d.template ?? '?'}`} until it rolls over: POST /${d.name}/_rollover applies these`);
}

export async function setupElasticsearch(client: RestClient, root = contentRoot(), hint: (message: string) => void = () => undefined): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for (const asset of ELASTICSEARCH_ASSETS) {
    const body = readAsset(asset, root);
    const name = decodeURIComponent(asset.path.split('/').pop()!);
    const putPath = asset.createOnly ? `${asset.path}?create=true` : asset.path;
    const text = JSON.stringify(body, null, 2);
    if (client.dryRun) {
      client.show('PUT', putPath, text, asset.createOnly ? 'only when it does not exist yet: it holds your own settings' : '');
      continue;
    }
    const got = await client.request('GET', asset.path);
    let outcome: Outcome;
    if (got.status === 404) outcome = 'created';
    else if (got.status === 200) {
      if (asset.createOnly) {
        results.push({ what: asset.what, name, outcome: 'kept' });
        continue;
      }
      const installed = installedBody(asset, got.json);
      if (installed === undefined) throw new ExportError(`Elasticsearch answered GET ${asset.path} without ${name} in it`);
      if (sameAsInstalled(body, installed)) {
        results.push({ what: asset.what, name, outcome: 'unchanged' });
        continue;
      }
      outcome = 'updated';
    } else throw client.refused(`GET ${asset.path}`, got);
    const put = await client.request('PUT', putPath, text, { 'content-type': 'application/json' });
    if (put.status !== 200 && put.status !== 201) {
      throw client.refused(`the ${asset.what} ${name}`, put, '(the templates need Elasticsearch 8.14 or later: data stream lifecycle)');
    }
    // Elasticsearch answers every one of these PUTs with `acknowledged: true`; anything else is no proof it is in place.
    if ((put.json as { acknowledged?: unknown } | null)?.acknowledged !== true) {
      throw new ExportError(
        `Elasticsearch answered PUT ${asset.path} with HTTP ${put.status} but did not acknowledge the ${asset.what} ${name}` +
          `${put.json === null ? '' : `: ${excerpt(JSON.stringify(put.json))}`}; it may not be installed: run setup again`,
      );
    }
    results.push({ what: asset.what, name, outcome });
  }
  if (!client.dryRun) {
    for (const h of await staleDataStreams(client, results.some((r) => r.outcome === 'updated' || r.outcome === 'created'))) hint(h);
  }
  return results;
}
