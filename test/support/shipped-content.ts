/**
 * The three SIEMs' content as shipped, read from content/: the Splunk app's props, transforms, macros and saved
 * searches, the Elasticsearch assets and Kibana rules, and Sentinel's analytic rules. Tests that replay
 * detections against records read them from here, so they check the files a user installs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ELASTICSEARCH_ASSETS, KIBANA_RULES_FILE } from '../../src/content/elastic.js';
import { contentRoot, loadDetections, type Detection } from '../../src/content/model.js';
import { APP, SOURCETYPE } from '../../src/content/splunk.js';
import { parseConf } from '../../src/content/splunk-conf.js';
import { jsonLines } from '../helpers.js';
import { readIngest, readProps } from './splunk-run.js';

export const ROOT = contentRoot();
export const detections = loadDetections();
export const byId = (id: string): Detection => detections.find((d) => d.id === id)!;

const APP_DIR = path.join(ROOT, 'splunk', APP);
const splunkFile = (f: string): string => fs.readFileSync(path.join(APP_DIR, f), 'utf8');
export const props = readProps(splunkFile('default/props.conf'), SOURCETYPE);
export const ingest = readIngest(splunkFile('default/props.conf'), splunkFile('default/transforms.conf'), SOURCETYPE);
const macrosConf = parseConf(splunkFile('default/macros.conf'));
export const macros = new Map(macrosConf.stanzas.map((s) => [s.name, macrosConf.stanza(s.name).get('definition')!]));
export const saved = parseConf(splunkFile('default/savedsearches.conf'));

const elasticFile = (f: string): Record<string, any> => JSON.parse(fs.readFileSync(path.join(ROOT, 'elastic', f), 'utf8'));
export const asset = (p: string): Record<string, any> => elasticFile(ELASTICSEARCH_ASSETS.find((a) => a.path === p)!.file);
export const kibanaRules = jsonLines(fs.readFileSync(path.join(ROOT, 'elastic', KIBANA_RULES_FILE), 'utf8'));

/** A detection's Sentinel analytic rule, as the YAML file we ship. */
export const sentinelRule = (d: Detection): string =>
  fs.readFileSync(path.join(ROOT, 'sentinel', 'analytic-rules', `${d.id.replace(/^oversight-/, '')}.yaml`), 'utf8');
