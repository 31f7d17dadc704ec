/**
 * The Splunk app `oversight_beacon`: search-time field mapping of our HEC events to the CIM Intrusion_Detection
 * model (props.conf), the detections as alerts (savedsearches.conf), the app's identity (app.conf,
 * app.manifest) and indexed-field hints (fields.conf) are generated here from the field table and the
 * detections; event types, tags, macros, metadata, the dashboard and the navigation are written by hand beside
 * them under `content/splunk/oversight_beacon/`. `package()` makes the installable `oversight_beacon.tgz`.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';
import type { ContentFile, ContentModel, SiemContent } from './siem.js';
import { writeConf, type ConfStanza } from './splunk-conf.js';
import { conditionSpl, savedSearch, splString } from './splunk-searches.js';

export const APP = 'oversight_beacon';
export const SOURCETYPE = 'oversight:beacon';
const HEADER = (what: string): string[] => [
  `Generated from content/${what} by \`npm run content\` (src/content/splunk.ts): change the source, not this file.`,
];

/**
 * Where the beacon protocol sends each kind of callback by default: these fill the CIM `transport` and
 * `dest_port`, which the registry does not record for a callback.
 */
export const KIND_DEFAULTS: Record<string, { transport: string; port: number }> = {
  dns: { transport: 'udp', port: 53 },
  http_img: { transport: 'tcp', port: 443 },
  ocsp: { transport: 'tcp', port: 443 },
  license: { transport: 'tcp', port: 443 },
};

/** Constant CIM fields every callback carries. */
export const CIM_CONSTANTS: Record<string, string> = {
  action: 'allowed',
  category: 'leaked_document_beacon',
  ids_type: 'network',
  vendor: 'Oversight',
  product: 'Oversight Registry',
  vendor_product: 'Oversight Registry',
};

/** Accepts IPv4 and IPv6 text, so the registry's `unknown` (and anything else that is no address) stays out of `src`. */
const IP_TEST = (f: string): string =>
  `match(${f}, "^([0-9]{1,3}[.]){3}[0-9]{1,3}$") OR match(${f}, "^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$")`;

/** `case(kind=="dns", "udp", kind=="http_img" OR …, "tcp")`, one branch per distinct value. */
function perKind(kind: string, value: (d: { transport: string; port: number }) => string): string {
  const byValue = new Map<string, string[]>();
  for (const [k, d] of Object.entries(KIND_DEFAULTS)) byValue.set(value(d), [...(byValue.get(value(d)) ?? []), k]);
  const branches = [...byValue].map(([v, kinds]) => `${kinds.map((k) => `${kind}==${splString(k)}`).join(' OR ')}, ${v}`);
  return `case(${branches.join(', ')})`;
}

/** Fields the searches need that come after the User-Agent in the event and are not indexed. */
const RAW_FALLBACK = ['registry_id'];

export function propsConf(model: ContentModel): string {
  const { fields, detections } = model;
  const f = (name: string): string => fields.field(name).splunk.field;
  const kind = f('kind');
  const aliases: string[] = [];
  const evals: [string, string][] = [];

  // KV_MODE = json extracts only the first 5000 bytes of an event (limits.conf [spath] extraction_cutoff), and
  // whoever opens a leaked copy chooses the User-Agent that comes before these fields. A regex over all of _raw
  // finds them wherever they are: keys of the event object follow `{` or `,`, and a quote inside a JSON string
  // is escaped, so a value cannot fake them.
  const extracts: [string, string][] = RAW_FALLBACK.map((name) => [
    `EXTRACT-oversight_raw_${name}`,
    `[{,]"${f(name)}":"(?<raw_${f(name)}>[^"\\\\]*(?:\\\\.[^"\\\\]*)*)"`,
  ]);
  for (const name of RAW_FALLBACK) evals.push([f(name), `coalesce(${f(name)}, raw_${f(name)})`]);

  // HEC sends file_id, recipient_id and issuer_id twice: inside the event (extracted by KV_MODE = json) and as
  // indexed fields. Where search sees both copies it makes a two-valued field; collapse it to one value.
  for (const row of fields.fields) {
    if (row.splunk.indexed) evals.push([row.splunk.field, `mvdedup(${row.splunk.field})`]);
  }
  // Our own field names that CIM uses with another meaning keep their value under beacon_<name>.
  for (const row of fields.fields) {
    if (row.splunk.field in CIM_CONSTANTS) aliases.push(`${row.splunk.field} AS beacon_${row.splunk.field}`);
  }
  aliases.push(`${f('action')} AS signature_id`);
  for (const row of fields.fields) {
    if (!row.cim) continue;
    const src = row.splunk.field;
    if (row.ecs.type === 'ip') evals.push([row.cim, `if(${IP_TEST(src)}, ${src}, null())`]);
    else if (RAW_FALLBACK.includes(row.name)) evals.push([row.cim, `coalesce(${src}, raw_${src})`]);
    else if (row.splunk.indexed) evals.push([row.cim, `mvdedup(${src})`]);
    else aliases.push(`${src} AS ${row.cim}`);
  }
  for (const [name, value] of Object.entries(CIM_CONSTANTS)) evals.push([name, splString(value)]);

  const matchRules = detections.filter((d) => d.logic.type === 'match');
  const severity = matchRules.map((d) => `${d.logic.where.map((c) => conditionSpl(c, fields)).join(' AND ')}, ${splString(d.severity)}`);
  evals.push(['severity', `case(${[...severity, 'true(), "informational"'].join(', ')})`]);
  evals.push(['signature', `"Oversight beacon (" . coalesce(${kind}, "unknown") . ")"`]);
  // The DNS query name sits in `extra`, after the User-Agent: past the cutoff, the regex extraction finds it.
  const qname = `coalesce('extra.qname', raw_qname)`;
  extracts.push(['EXTRACT-oversight_raw_qname', `"extra":\\{(?:[^{}"]|"(?:[^"\\\\]|\\\\.)*")*?"qname":"(?<raw_qname>[^"\\\\]*(?:\\\\.[^"\\\\]*)*)"`]);
  evals.push(['dest', `case(${kind}=="dns" AND match(${qname}, "[.]"), ${qname}, true(), host)`]);
  evals.push(['transport', perKind(kind, (d) => splString(d.transport))]);
  evals.push(['dest_port', perKind(kind, (d) => String(d.port))]);

  const stanza: ConfStanza = {
    name: SOURCETYPE,
    settings: [
      ['description', 'Oversight registry beacon callbacks, one JSON object per event, sent by oversight siem export to HEC'],
      ['category', 'Structured'],
      ['pulldown_type', '1'],
      ['SHOULD_LINEMERGE', 'false'],
      ['LINE_BREAKER', '([\\r\\n]+)'],
      ['TRUNCATE', '100000'],
      ['CHARSET', 'UTF-8'],
      ['TIME_PREFIX', '"occurred_at":\\s*"'],
      ['TIME_FORMAT', '%Y-%m-%dT%H:%M:%SZ'],
      ['MAX_TIMESTAMP_LOOKAHEAD', '32'],
      ['TZ', 'UTC'],
      ['KV_MODE', 'json'],
      [`TRANSFORMS-${TIME_TRANSFORM}`, TIME_TRANSFORM],
      ...extracts,
      ['FIELDALIAS-oversight_cim', aliases.join(' ')],
      ...evals.map(([name, expr]): [string, string] => [`EVAL-${name}`, expr]),
    ],
  };
  return writeConf(
    [
      ...HEADER('fields.yaml and content/detections'),
      '',
      'Ingestion: events come through HEC /services/collector/event, one JSON object per event, and take their',
      'time from the envelope\'s "time". LINE_BREAKER and TIME_PREFIX/TIME_FORMAT only matter for bare event',
      'objects (the envelope\'s "event") sent to /services/collector/raw.',
      'Search time: KV_MODE = json extracts the event fields in the first 5000 bytes (limits.conf [spath]',
      'extraction_cutoff); EXTRACT finds registry_id anywhere in _raw, so a long User-Agent cannot hide it;',
      'FIELDALIAS and EVAL map the fields to CIM',
      'Intrusion_Detection (IDS_Attacks). transport and dest_port are the beacon protocol\'s defaults per kind,',
      'not observed values; src_port is not set because the registry does not record the caller\'s port.',
    ],
    [stanza],
  );
}

/**
 * A registry row without a usable time comes with HEC `time` 0 (the reference's record), which Splunk would file
 * at 1970. At index time the app gives such an event its arrival as `_time` and marks it with an indexed field,
 * so it is found where it arrived and every rule can leave it out, as the other SIEMs do.
 */
export const TIME_MISSING_FIELD = 'oversight_time_missing';
export const TIME_TRANSFORM = 'oversight_time_from_arrival';

export function transformsConf(): string {
  return writeConf(
    [
      'Generated by `npm run content` (src/content/splunk.ts): change the source, not this file.',
      '',
      'Index time (install the app on the indexers or heavy forwarders that receive HEC): an event without a',
      `usable time (HEC "time" 0) gets its arrival as _time and the indexed field ${TIME_MISSING_FIELD}=true.`,
    ],
    [{ name: TIME_TRANSFORM, settings: [['INGEST_EVAL', `${TIME_MISSING_FIELD}=if(_time<=0, "true", null()), _time=if(_time<=0, now(), _time)`]] }],
  );
}

export function fieldsConf(model: ContentModel): string {
  const stanzas: ConfStanza[] = [{ name: TIME_MISSING_FIELD, settings: [['INDEXED', 'true']] }];
  for (const row of model.fields.fields) {
    if (row.splunk.indexed) stanzas.push({ name: row.splunk.field, settings: [['INDEXED', 'true']] });
    if (row.splunk.indexed_as) stanzas.push({ name: row.splunk.indexed_as, settings: [['INDEXED', 'true']] });
  }
  return writeConf(
    [
      ...HEADER('fields.yaml'),
      '',
      'Fields HEC indexes (the envelope\'s "fields"): a search such as file_id=f-1 then looks the value up in the',
      'index (file_id::f-1) instead of as a word of the raw JSON, where a non-ASCII value is \\u-escaped and so',
      'never matches. Exported to this app only (metadata/default.meta); see README.md.',
    ],
    stanzas,
  );
}

export function savedSearchesConf(model: ContentModel): string {
  return writeConf(
    [
      ...HEADER('detections/*.yaml'),
      '',
      'Every detection is a scheduled alert, disabled until you enable it (Settings > Searches, reports, and',
      'alerts, or set disabled = 0 in local/savedsearches.conf). No alert action is configured; triggered alerts',
      'are listed under Activity > Triggered Alerts. Add email, notable or risk actions in local/.',
    ],
    model.detections.map((d) => savedSearch(d, model.fields, APP)),
  );
}

export function appConf(model: ContentModel): string {
  return writeConf(HEADER('fields.yaml and package.json (version)'), [
    { name: 'install', settings: [['is_configured', '1'], ['state', 'enabled']] },
    {
      name: 'launcher',
      settings: [
        ['author', 'Oversight'],
        ['version', model.version],
        ['description', 'CIM mapping (Intrusion Detection), detections and a dashboard for Oversight registry beacon callbacks.'],
      ],
    },
    { name: 'ui', settings: [['is_visible', '1'], ['label', 'Oversight Beacon']] },
    { name: 'package', settings: [['id', APP], ['check_for_updates', '0']] },
    { name: 'id', settings: [['name', APP], ['version', model.version]] },
  ]);
}

export function appManifest(model: ContentModel): string {
  const manifest = {
    schemaVersion: '2.0.0',
    info: {
      title: 'Oversight Beacon',
      id: { group: null, name: APP, version: model.version },
      author: [{ name: 'Oversight', email: null, company: null }],
      releaseDate: null,
      description: 'CIM mapping (Intrusion Detection), detections and a dashboard for Oversight registry beacon callbacks.',
      classification: { intendedAudience: 'Security', categories: ['Security, Fraud & Compliance'], developmentStatus: 'Production/Stable' },
      commonInformationModels: { Intrusion_Detection: '>=4.0.0' },
      license: { name: 'Apache-2.0', text: null, uri: 'https://www.apache.org/licenses/LICENSE-2.0' },
      privacyPolicy: { name: null, text: null, uri: null },
      releaseNotes: { name: null, text: null, uri: null },
    },
    dependencies: null,
    tasks: null,
    inputGroups: null,
    incompatibleApps: null,
    platformRequirements: null,
    supportedDeployments: ['_standalone', '_distributed', '_search_head_clustering'],
    targetWorkloads: ['_search_heads', '_indexers'],
  };
  return JSON.stringify(manifest, null, 2) + '\n';
}

/** Fixed metadata for every archive entry, so two builds of the same content are the same bytes. */
const ARCHIVE_MTIME = new Date('2000-01-01T00:00:00Z');

/** The files and folders under `dir` (relative, forward slashes), folders before their contents, sorted. */
function archiveEntries(root: string, rel: string): string[] {
  const out = [rel];
  const names = fs.readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of names) {
    const child = `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...archiveEntries(root, child));
    else if (e.isFile()) out.push(child);
  }
  return out;
}

/** Write `<outDir>/oversight_beacon.tgz` from the app folder `<outDir>/oversight_beacon`. */
export async function packageApp(outDir: string): Promise<string> {
  if (!fs.existsSync(path.join(outDir, APP, 'default', 'app.conf'))) throw new Error(`${path.join(outDir, APP)} is not the ${APP} app folder`);
  const file = path.join(outDir, `${APP}.tgz`);
  await tar.create(
    {
      gzip: true,
      file,
      cwd: outDir,
      portable: true,
      noDirRecurse: true,
      mtime: ARCHIVE_MTIME,
      onWriteEntry: (entry) => {
        if (entry.stat) entry.stat.mode = (entry.stat.mode & ~0o7777) | (entry.type === 'Directory' ? 0o755 : 0o644);
      },
    },
    archiveEntries(outDir, APP),
  );
  return file;
}

export const splunkContent: SiemContent = {
  name: 'splunk',
  title: 'Splunk app',
  generate(model: ContentModel): ContentFile[] {
    return [
      { path: `${APP}/app.manifest`, data: appManifest(model) },
      { path: `${APP}/default/app.conf`, data: appConf(model) },
      { path: `${APP}/default/props.conf`, data: propsConf(model) },
      { path: `${APP}/default/fields.conf`, data: fieldsConf(model) },
      { path: `${APP}/default/transforms.conf`, data: transformsConf() },
      { path: `${APP}/default/savedsearches.conf`, data: savedSearchesConf(model) },
    ];
  },
  async package(outDir: string): Promise<void> {
    await packageApp(outDir);
  },
};
