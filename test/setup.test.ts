/** `siem setup elasticsearch|kibana` end to end: the built CLI against fake Elasticsearch and Kibana peers. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ELASTICSEARCH_ASSETS, KIBANA_DASHBOARD_FILE, KIBANA_RULES_FILE } from '../src/content/elastic.js';
import { CUSTOM_COMPONENT, INDEX_TEMPLATE, PACKAGE_COMPONENT, PIPELINE } from '../src/content/elastic-mappings.js';
import { ROOT, jsonLines, outcome, runCli, tempDir, withPeer } from './helpers.js';
import { EsSetupPeer } from './peers/es-setup.js';
import { KibanaPeer } from './peers/kibana.js';

const KEY = 'c2V0dXAta2V5OnNlY3JldC12YWx1ZS0xMjM0NQ==';
const AUTH = `ApiKey ${KEY}`;
const ELASTIC = path.join(ROOT, 'content', 'elastic');
const content = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(ELASTIC, file), 'utf8')) as Record<string, unknown>;
const lines = (file: string): Record<string, unknown>[] => jsonLines(fs.readFileSync(path.join(ELASTIC, file), 'utf8'));

const es = (fn: (peer: EsSetupPeer) => Promise<void>, options: Partial<ConstructorParameters<typeof EsSetupPeer>[0]> = {}): Promise<void> =>
  withPeer(new EsSetupPeer({ authorization: AUTH, ...options }).start(), fn);
const kibana = (fn: (peer: KibanaPeer) => Promise<void>, options: Partial<ConstructorParameters<typeof KibanaPeer>[0]> = {}): Promise<void> =>
  withPeer(new KibanaPeer({ authorization: AUTH, ...options }).start(), fn);

const setup = (target: string, url: string, ...more: string[]): Promise<Awaited<ReturnType<typeof runCli>>> =>
  runCli(['siem', 'setup', target, '--url', url, '--retry-max-duration', '20s', ...more], { env: { OVERSIGHT_ES_API_KEY: KEY } });

describe('siem setup elasticsearch', () => {
  it('installs pipeline, component templates and index template in order, as JSON, with the credentials', () =>
    es(async (peer) => {
      const r = await setup('elasticsearch', peer.url);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(peer.writes().map((q) => `${q.method} ${decodeURIComponent(q.url.pathname)}${q.url.search}`), [
        `PUT /_ingest/pipeline/${PIPELINE}`,
        `PUT /_component_template/${PACKAGE_COMPONENT}`,
        `PUT /_component_template/${CUSTOM_COMPONENT}?create=true`,
        `PUT /_index_template/${INDEX_TEMPLATE}`,
      ]);
      for (const q of peer.writes()) assert.equal(q.headers['content-type'], 'application/json');
      for (const a of ELASTICSEARCH_ASSETS) {
        const name = decodeURIComponent(a.path.split('/').pop()!);
        const store = a.path.startsWith('/_ingest') ? peer.pipelines : a.path.startsWith('/_component') ? peer.components : peer.indexTemplates;
        assert.deepEqual(store.get(name), content(a.file), a.path);
      }
      assert.match(r.stderr, /elasticsearch setup: 4 created/);
      assert.doesNotMatch(r.stderr + r.stdout, new RegExp(KEY));
    }));

  it('takes the Authorization header from --header-file, so no key shows in ps', () =>
    es(async (peer) => {
      const file = path.join(tempDir(), 'es.headers');
      fs.writeFileSync(file, `# read by siem setup\nAuthorization: ${AUTH}\n`, { mode: 0o600 });
      const r = await runCli(['siem', 'setup', 'elasticsearch', '--url', peer.url, '--header-file', file]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(peer.writes().length > 0);
      assert.doesNotMatch(r.stderr + r.stdout, new RegExp(KEY));
    }));

  it('a second run reads everything, writes nothing and says so', () =>
    es(async (peer) => {
      assert.equal((await setup('elasticsearch', peer.url)).code, 0);
      const before = peer.writes().length;
      const again = await setup('elasticsearch', peer.url);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(peer.writes().length, before, 'no PUT on the second run');
      assert.match(again.stderr, /3 unchanged, 1 kept as you have it \(nothing to change\)/);
    }));

  it('updates only what differs and never touches the @custom component template', () =>
    es(async (peer) => {
      const mine = { template: { settings: { index: { number_of_replicas: 0 } } }, _meta: { owner: 'soc' } };
      peer.components.set(CUSTOM_COMPONENT, mine);
      const r1 = await setup('elasticsearch', peer.url);
      assert.equal(r1.code, 0, r1.stderr);
      const old = structuredClone(peer.pipelines.get(PIPELINE)!);
      (old['processors'] as unknown[]).pop();
      peer.pipelines.set(PIPELINE, old);
      const n = peer.writes().length;
      const r2 = await setup('elasticsearch', peer.url);
      assert.equal(r2.code, 0, r2.stderr);
      assert.deepEqual(peer.writes().slice(n).map((q) => decodeURIComponent(q.path)), [`/_ingest/pipeline/${PIPELINE}`]);
      assert.match(r2.stderr, /ingest pipeline .*: updated/);
      assert.deepEqual(peer.components.get(CUSTOM_COMPONENT), mine);
    }));

  it('names a data stream created before the templates, with the rollover that applies them', () =>
    es(async (peer) => {
      peer.dataStreams.push({ name: 'logs-oversight.beacon-default', template: 'logs' }, { name: 'logs-other-default', template: 'logs' });
      const r = await setup('elasticsearch', peer.url);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /data stream logs-oversight\.beacon-default keeps the mappings of index template logs until it rolls over: POST \/logs-oversight\.beacon-default\/_rollover/);
      assert.doesNotMatch(r.stderr, /logs-other-default/);
      assert.ok(!peer.peer.requests.some((q) => q.path.includes('_rollover')), 'rolling over is left to the user');
      peer.dataStreams[0]!.template = INDEX_TEMPLATE;
      const again = await setup('elasticsearch', peer.url);
      assert.doesNotMatch(again.stderr, /rolls over/);
    }));

  it('shows a data stream name from the server as text: its terminal escapes cannot erase, forge or colour a line', () =>
    es(async (peer) => {
      // Erase the line, back to its start, write a line of our own, in green; NEL (a C1 line break) after it.
      peer.dataStreams.push({ name: 'logs-oversight.beacon-x\u001b[2K\u001b[1Goversight: elasticsearch setup: all checked \u001b[32mOK\u0085', template: 'logs' });
      const r = await setup('elasticsearch', peer.url);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!/[\u001b\u0085]/.test(r.stderr), r.stderr);
      assert.match(r.stderr, /data stream logs-oversight\.beacon-x\\x1b\[2K\\x1b\[1Goversight: elasticsearch setup: all checked \\x1b\[32mOK\\x85 keeps the mappings/);
    }));

  it('--dry-run prints every request with its body and sends nothing', () =>
    es(async (peer) => {
      const r = await setup('elasticsearch', peer.url, '--dry-run');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(peer.peer.requests.length, 0);
      const blocks = r.stdout.split(/\n(?=PUT )/);
      assert.equal(blocks.length, 4);
      ELASTICSEARCH_ASSETS.forEach((a, i) => {
        const [first, ...rest] = blocks[i]!.split('\n');
        assert.equal(first, `PUT ${a.path}${a.createOnly ? '?create=true' : ''}`);
        assert.deepEqual(JSON.parse(rest.filter((l) => !l.startsWith('#')).join('\n')), content(a.file));
      });
      // A dry run passes only when the real one could start: a --ca-file it could not read is the same mistake.
      const missing = await setup('elasticsearch', peer.url, '--dry-run', '--ca-file', path.join(tempDir(), 'no-such-ca.pem'));
      assert.equal(missing.code, 2, missing.stderr);
      assert.match(missing.stderr.trimEnd(), /^oversight: cannot read --ca-file .*no-such-ca\.pem: no such file$/);
      assert.equal(missing.stdout, '');
    }));

  it('401 and 403 stop at once with one line naming the fix', () =>
    es(async (peer) => {
      const bad = await runCli(['siem', 'setup', 'elasticsearch', '--url', peer.url, '--header', 'Authorization: ApiKey d3Jvbmc6a2V5']);
      assert.equal(bad.code, 1);
      assert.equal(outcome(bad.stderr).length, 1, bad.stderr);
      assert.match(bad.stderr, /401 .*OVERSIGHT_ES_API_KEY/);
      assert.equal(peer.peer.requests.length, 1, 'no retry of a 401');
      await withPeer(new EsSetupPeer({ authorization: AUTH, readOnly: true }).start(), async (ro) => {
        const r = await setup('elasticsearch', ro.url);
        assert.equal(r.code, 1);
        assert.equal(outcome(r.stderr).length, 1, r.stderr);
        assert.match(r.stderr, /403 to PUT .*manage_index_templates and manage_pipeline/);
      });
    }));

  it('takes basic credentials from the environment and retries a 503', () =>
    withPeer(new EsSetupPeer({ authorization: `Basic ${Buffer.from('elastic:pa ss').toString('base64')}` }).start(), async (peer) => {
      peer.peer.faults.push({ status: 503, body: '{}', headers: { 'retry-after': '0' } });
      const r = await runCli(['siem', 'setup', 'elasticsearch', '--url', `${peer.url}/`, '--retry-max-duration', '20s'], {
        env: { OVERSIGHT_ES_USERNAME: 'elastic', OVERSIGHT_ES_PASSWORD: 'pa ss' },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(peer.indexTemplates.size, 1);
      assert.match(r.stderr, /retrying/);
    }));

  it('counts a PUT as installed only when Elasticsearch acknowledged it: a 200 without that is a failure, exit 1', () =>
    es(async (peer) => {
      for (const body of ['{"acknowledged":false}', '{"error":{"type":"proxy","reason":"upstream refused"},"status":400}', '']) {
        // The GET finds nothing, the PUT of the pipeline answers 200 without acknowledging it.
        peer.peer.faults.push({ status: 404, body: '{}' }, { status: 200, body });
        const r = await setup('elasticsearch', peer.url);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(outcome(r.stderr).length, 1, r.stderr);
        assert.match(r.stderr, new RegExp(`answered PUT /_ingest/pipeline/${PIPELINE} with HTTP 200 but did not acknowledge the ingest pipeline .*run setup again`));
        assert.doesNotMatch(r.stderr, /created|setup:/);
      }
      assert.equal(peer.writes().length, 3, 'nothing after the unacknowledged PUT');
    }));

  it('a 200 whose JSON is not the answer asked for fails in one line naming it, never as an unexpected error', () =>
    es(async (peer) => {
      for (const body of ['', 'null', '[1]', '{"component_templates":{"a":1}}']) {
        peer.peer.faults.push({ status: 200, body });
        const r = await setup('elasticsearch', peer.url);
        assert.equal(r.code, 1, r.stderr);
        assert.deepEqual(outcome(r.stderr), [`oversight: Elasticsearch answered GET /_ingest/pipeline/${PIPELINE} without ${PIPELINE} in it`]);
      }
      // The data streams are only a hint: a list of another shape names none, and the setup that is done succeeds.
      const route = (peer as unknown as { route(q: unknown): unknown }).route.bind(peer);
      Object.assign(peer, { route: (q: { path: string }) => (q.path.startsWith('/_data_stream/') ? { status: 200, body: '{"data_streams":{"a":[null]}}' } : route(q)) });
      const r = await setup('elasticsearch', peer.url);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /elasticsearch setup: 4 created/);
      assert.doesNotMatch(r.stderr, /unexpected/);
    }));

  it('bad flags are usage errors (exit 2) with one line', async () => {
    for (const args of [
      ['siem', 'setup', 'elasticsearch'],
      ['siem', 'setup', 'elasticsearch', '--url', 'ftp://es:9200'],
      ['siem', 'setup', 'elasticsearch', '--url', 'not a url'],
      ['siem', 'setup', 'elasticsearch', '--url', 'https://es:9200', '--header', 'no colon'],
      ['siem', 'setup', 'elasticsearch', '--url', 'https://es:9200', '--timeout', 'soon'],
      ['siem', 'setup', 'elasticsearch', '--url', 'https://es:9200', '--bogus'],
      ['siem', 'setup', 'splunk', '--url', 'https://es:9200'],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});

describe('siem setup kibana', () => {
  it('imports the dashboard and the rules as multipart NDJSON with kbn-xsrf; every object and rule arrives', () =>
    kibana(async (peer) => {
      const r = await setup('kibana', peer.url);
      assert.equal(r.code, 0, r.stderr);
      const imports = peer.writes();
      assert.deepEqual(imports.map((q) => `${q.path}${q.url.search}`), ['/api/saved_objects/_import?overwrite=true', '/api/detection_engine/rules/_import?overwrite=true']);
      for (const q of imports) {
        assert.ok(q.headers['kbn-xsrf']);
        assert.match(String(q.headers['content-type']), /^multipart\/form-data; boundary=/);
      }
      const objects = lines(KIBANA_DASHBOARD_FILE);
      assert.equal(peer.objects.size, objects.length);
      for (const o of objects) assert.deepEqual(peer.objects.get(`${String(o['type'])}:${String(o['id'])}`)!['attributes'], o['attributes']);
      const rules = lines(KIBANA_RULES_FILE);
      assert.deepEqual([...peer.rules.keys()].sort(), rules.map((x) => String(x['rule_id'])).sort());
      for (const rule of peer.rules.values()) assert.equal(rule['enabled'], false);
      assert.match(r.stderr, new RegExp(`kibana setup: ${objects.length + rules.length} created`));
    }));

  it('a second run imports nothing and says so', () =>
    kibana(async (peer) => {
      assert.equal((await setup('kibana', peer.url)).code, 0);
      const again = await setup('kibana', peer.url);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(peer.imports, 2, 'only the first run imported');
      assert.match(again.stderr, /unchanged \(nothing to change\)/);
    }));

  it('a newer rule version is imported keeping the enabled state and exceptions; a rule edited in Kibana is left alone', () =>
    kibana(async (peer) => {
      assert.equal((await setup('kibana', peer.url)).code, 0);
      const rules = lines(KIBANA_RULES_FILE);
      const older = peer.rules.get(String(rules[0]!['rule_id']))!;
      Object.assign(older, { version: 0, enabled: true, exceptions_list: [{ id: 'x', list_id: 'soc-allow', type: 'detection', namespace_type: 'single' }] });
      const edited = peer.rules.get(String(rules[1]!['rule_id']))!;
      Object.assign(edited, { version: 7, query: 'edited by the SOC' });
      const r = await setup('kibana', peer.url);
      assert.equal(r.code, 0, r.stderr);
      const updated = peer.rules.get(String(rules[0]!['rule_id']))!;
      assert.equal(updated['version'], rules[0]!['version']);
      assert.equal(updated['enabled'], true);
      assert.equal((updated['exceptions_list'] as unknown[]).length, 1);
      assert.equal(peer.rules.get(String(rules[1]!['rule_id']))!['query'], 'edited by the SOC');
      assert.match(r.stderr, /1 updated/);
    }));

  it('a changed dashboard object is re-imported alone', () =>
    kibana(async (peer) => {
      assert.equal((await setup('kibana', peer.url)).code, 0);
      const lens = [...peer.objects.values()].find((o) => o.type === 'lens')!;
      lens.attributes['title'] = 'renamed';
      const before = peer.peer.requests.length;
      const r = await setup('kibana', peer.url);
      assert.equal(r.code, 0, r.stderr);
      const imported = peer.peer.requests.slice(before).filter((q) => q.path === '/api/saved_objects/_import');
      assert.equal(imported.length, 1);
      assert.equal(imported[0]!.body.toString().split('\n').filter((l) => l.startsWith('{')).length, 1);
      assert.notEqual(peer.objects.get(`lens:${lens.id}`)!.attributes['title'], 'renamed');
    }));

  it('counts an import as installed only when Kibana says success for every object sent: a 200 without that fails, exit 1', () =>
    kibana(async (peer) => {
      const objects = lines(KIBANA_DASHBOARD_FILE).length;
      for (const body of ['{"statusCode":400,"error":"Bad Request","message":"refused by the proxy"}', `{"success":true,"successCount":${objects - 1}}`, '']) {
        // The bulk read finds nothing (404: everything is imported); the import answers 200 without confirming it.
        peer.peer.faults.push({ status: 404, body: '{}' }, { status: 200, body });
        const r = await setup('kibana', peer.url);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(outcome(r.stderr).length, 1, r.stderr);
        assert.match(r.stderr, new RegExp(`answered the import of oversight-dashboard\\.ndjson with HTTP 200 but did not confirm that all ${objects} were imported.*run setup again`));
        assert.doesNotMatch(r.stderr, /created|setup:/);
      }
      // The rules import: success, but fewer rules counted than were sent.
      const rules = lines(KIBANA_RULES_FILE).length;
      Object.assign(peer, { importRules: () => ({ status: 200, body: JSON.stringify({ success: true, success_count: 0, rules_count: rules, errors: [] }) }) });
      const r = await setup('kibana', peer.url);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`answered the import of oversight-detection-rules\\.ndjson with HTTP 200 but did not confirm that all ${rules} were imported`));
      assert.doesNotMatch(r.stderr, /detection rule .*: created/);
    }));

  it('a 200 whose JSON is not the answer asked for fails in one line naming it, never as an unexpected error', () =>
    kibana(async (peer) => {
      for (const body of ['null', '{"saved_objects":{"a":1}}']) {
        peer.peer.faults.push({ status: 200, body });
        const r = await setup('kibana', peer.url);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(outcome(r.stderr).length, 1, r.stderr);
        assert.match(r.stderr, /Kibana answered POST \/api\/saved_objects\/_bulk_get with HTTP 200 but no saved_objects list/);
      }
      Object.assign(peer, { getRule: () => ({ status: 200, body: 'null' }) });
      const r = await setup('kibana', peer.url);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(outcome(r.stderr).length, 1, r.stderr);
      assert.match(r.stderr, /Kibana answered reading detection rule \S+ with HTTP 200 but no rule: null/);
    }));

  it('--dry-run sends nothing and prints both imports', () =>
    kibana(async (peer) => {
      const r = await setup('kibana', peer.url, '--dry-run');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(peer.peer.requests.length, 0);
      assert.match(r.stdout, /^POST \/api\/saved_objects\/_import\?overwrite=true$/m);
      assert.match(r.stdout, /^POST \/api\/detection_engine\/rules\/_import\?overwrite=true$/m);
      const json = r.stdout.split('\n').filter((l) => l.startsWith('{'));
      assert.equal(json.length, lines(KIBANA_DASHBOARD_FILE).length + lines(KIBANA_RULES_FILE).length);
    }));

  it('401 and 403 stop with one line naming the fix', () =>
    kibana(async (peer) => {
      const r = await runCli(['siem', 'setup', 'kibana', '--url', peer.url]);
      assert.equal(r.code, 1);
      assert.equal(outcome(r.stderr).length, 1, r.stderr);
      assert.match(r.stderr, /Kibana answered 401 .*OVERSIGHT_ES_API_KEY/);
      await withPeer(new KibanaPeer({ authorization: AUTH, readOnly: true }).start(), async (ro) => {
        const denied = await setup('kibana', ro.url);
        assert.equal(denied.code, 1);
        assert.equal(outcome(denied.stderr).length, 1, denied.stderr);
        assert.match(denied.stderr, /Kibana answered 403 .*privileges/);
      });
    }));
});
