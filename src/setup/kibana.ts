/**
 * `oversight siem setup kibana`: import the dashboard (saved objects) and the Elastic Security detection rules
 * through Kibana's import APIs. What is installed is read first and only what is missing or out of date is
 * imported, so a second run imports nothing:
 *
 * - a saved object is up to date when Kibana holds it with the attributes and references we ship;
 * - a rule is up to date when Kibana holds it at our rule version or a later one (a rule edited in Kibana gets a
 *   later version, and is left alone). A rule that is updated keeps its enabled state and exception lists.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KIBANA_DASHBOARD_FILE, KIBANA_RULES_FILE } from '../content/elastic.js';
import { contentRoot } from '../content/model.js';
import { ExportError } from '../shared/errors.js';
import { excerpt } from '../transports/transport.js';
import type { StepResult } from './elasticsearch.js';
import { covers, multipartFile, type RestClient } from './rest.js';

export const KIBANA_TARGET = {
  name: 'Kibana',
  privileges: 'Kibana privileges "all" on Saved Objects Management, Dashboard and Security (rules), and read on logs-oversight.beacon-*',
};

/** Kibana refuses state-changing requests without it (CSRF protection). */
const XSRF = { 'kbn-xsrf': 'oversight-siem' };
/** The detection engine's public API version. */
const RULES_API = { 'elastic-api-version': '2023-10-31' };

type SavedObject = { id: string; type: string; attributes: Record<string, unknown>; references: { id: string; type: string; name: string }[] };
type Rule = Record<string, unknown> & { rule_id: string; version: number; name: string };

const readLines = <T>(file: string, root: string): T[] =>
  fs.readFileSync(path.join(root, 'elastic', file), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as T);

const ndjson = (items: readonly unknown[]): string => items.map((o) => JSON.stringify(o) + '\n').join('');

const refKey = (r: { id: string; type: string; name: string }): string => `${r.type}\0${r.id}\0${r.name}`;

function sameObject(ours: SavedObject, theirs: SavedObject | undefined): boolean {
  if (!theirs || (theirs as { error?: unknown }).error) return false;
  const a = (ours.references ?? []).map(refKey).sort();
  const b = (theirs.references ?? []).map(refKey).sort();
  return covers(ours.attributes, theirs.attributes) && JSON.stringify(a) === JSON.stringify(b);
}

/** Kibana's import answer: `success`, and per-object or per-rule errors. */
function importErrors(json: unknown): string[] {
  const j = json as { success?: boolean; errors?: unknown } | null;
  const list = (Array.isArray(j?.errors) ? j.errors : []) as ({ id?: string; rule_id?: string; type?: string; error?: { type?: string; message?: string } } | null)[];
  const errors = list.map((e) => `${e?.type ?? 'rule'} ${e?.id ?? e?.rule_id ?? '?'}: ${e?.error?.message ?? e?.error?.type ?? 'refused'}`);
  if (j?.success === false && errors.length === 0) errors.push('the import did not succeed');
  return errors;
}

/**
 * Where Kibana counts what it imported: `successCount` for saved objects, `success_count` for rules. Only an answer
 * with `success: true` and every object sent counted confirms the import.
 */
type CountKey = 'successCount' | 'success_count';

async function importFile(client: RestClient, apiPath: string, filename: string, data: string, headers: Record<string, string>, sent: number, countKey: CountKey): Promise<void> {
  const what = `the import of ${filename}`;
  if (client.dryRun) {
    client.show('POST', apiPath, data, `multipart/form-data, file field "file" named ${filename}; header kbn-xsrf`);
    return;
  }
  const { body, contentType } = multipartFile('file', filename, data);
  const res = await client.request('POST', apiPath, body, { ...XSRF, ...headers, 'content-type': contentType });
  if (res.status !== 200) throw client.refused(what, res);
  const errors = importErrors(res.json);
  if (errors.length) throw new ExportError(`Kibana refused part of ${what}: ${errors.slice(0, 3).join('; ')}${errors.length > 3 ? `; and ${errors.length - 3} more` : ''}`);
  const j = res.json as Record<string, unknown> | null;
  if (j?.['success'] !== true || j[countKey] !== sent) {
    throw new ExportError(
      `Kibana answered ${what} with HTTP 200 but did not confirm that all ${sent} were imported` +
        `${j === null ? '' : `: ${excerpt(JSON.stringify(j))}`}; they may not be installed: run setup again`,
    );
  }
}

async function setupDashboard(client: RestClient, root: string): Promise<StepResult[]> {
  const objects = readLines<SavedObject>(KIBANA_DASHBOARD_FILE, root);
  let stale = objects;
  if (!client.dryRun) {
    const res = await client.request('POST', '/api/saved_objects/_bulk_get', JSON.stringify(objects.map(({ type, id }) => ({ type, id }))), {
      ...XSRF, 'content-type': 'application/json',
    });
    // The bulk read is deprecated in Kibana; where it is gone, everything is imported (overwriting in place).
    if (res.status !== 200 && res.status !== 404) throw client.refused('reading the installed saved objects', res);
    const listed = res.status === 200 ? (res.json as { saved_objects?: unknown } | null)?.saved_objects : [];
    if (!Array.isArray(listed)) throw new ExportError(`Kibana answered POST /api/saved_objects/_bulk_get with HTTP 200 but no saved_objects list: ${excerpt(JSON.stringify(res.json) ?? '')}`);
    const found = (listed as (SavedObject | null)[]).filter((o): o is SavedObject => typeof o === 'object' && o !== null);
    const installed = new Map(found.map((o) => [`${o.type}:${o.id}`, o]));
    stale = objects.filter((o) => !sameObject(o, installed.get(`${o.type}:${o.id}`)));
    const exists = (o: SavedObject): boolean => {
      const t = installed.get(`${o.type}:${o.id}`) as (SavedObject & { error?: unknown }) | undefined;
      return t !== undefined && !t.error;
    };
    if (stale.length === 0) return objects.map((o) => ({ what: o.type, name: String(o.attributes['title'] ?? o.id), outcome: 'unchanged' }));
    await importFile(client, '/api/saved_objects/_import?overwrite=true', 'oversight-dashboard.ndjson', ndjson(stale), {}, stale.length, 'successCount');
    return objects.map((o) => ({
      what: o.type,
      name: String(o.attributes['title'] ?? o.id),
      outcome: !stale.includes(o) ? 'unchanged' : exists(o) ? 'updated' : 'created',
    }));
  }
  await importFile(client, '/api/saved_objects/_import?overwrite=true', 'oversight-dashboard.ndjson', ndjson(stale), {}, stale.length, 'successCount');
  return [];
}

async function setupRules(client: RestClient, root: string): Promise<StepResult[]> {
  const rules = readLines<Rule>(KIBANA_RULES_FILE, root);
  if (client.dryRun) {
    await importFile(client, '/api/detection_engine/rules/_import?overwrite=true', 'oversight-detection-rules.ndjson', ndjson(rules), RULES_API, rules.length, 'success_count');
    return [];
  }
  const results: StepResult[] = [];
  const toImport: Rule[] = [];
  for (const rule of rules) {
    const res = await client.request('GET', `/api/detection_engine/rules?rule_id=${encodeURIComponent(rule.rule_id)}`, undefined, RULES_API);
    if (res.status === 404) {
      toImport.push(rule);
      results.push({ what: 'detection rule', name: rule.name, outcome: 'created' });
      continue;
    }
    if (res.status !== 200) throw client.refused(`reading detection rule ${rule.rule_id}`, res);
    if (typeof res.json !== 'object' || res.json === null || Array.isArray(res.json)) {
      throw new ExportError(`Kibana answered reading detection rule ${rule.rule_id} with HTTP 200 but no rule: ${excerpt(JSON.stringify(res.json) ?? '')}`);
    }
    const installed = res.json as { version?: number; enabled?: boolean; exceptions_list?: unknown[] };
    if (typeof installed.version === 'number' && installed.version >= rule.version) {
      results.push({ what: 'detection rule', name: rule.name, outcome: 'unchanged' });
      continue;
    }
    // Updating a rule must not switch it off again or drop the exceptions a team added.
    toImport.push({ ...rule, enabled: installed.enabled ?? rule['enabled'], ...(installed.exceptions_list?.length ? { exceptions_list: installed.exceptions_list } : {}) });
    results.push({ what: 'detection rule', name: rule.name, outcome: 'updated' });
  }
  if (toImport.length) {
    await importFile(client, '/api/detection_engine/rules/_import?overwrite=true', 'oversight-detection-rules.ndjson', ndjson(toImport), RULES_API, toImport.length, 'success_count');
  }
  return results;
}

export async function setupKibana(client: RestClient, root = contentRoot()): Promise<StepResult[]> {
  return [...(await setupDashboard(client, root)), ...(await setupRules(client, root))];
}
