/**
 * Microsoft Sentinel content. Generated: the ingestion template in ARM and Bicep (table, endpoint, Direct rule,
 * role, parser functions), the analytic rules (rule YAML and an ARM template), the parsers as .kql files, and ARM templates
 * for the workbook and the hunting queries. Hand-written beside them: the ASIM parser definitions
 * (parsers/*.yaml, Azure-Sentinel's parser format), the hunting queries, the workbook and the README.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { contentRoot } from './model.js';
import type { ContentFile, ContentModel, SiemContent } from './siem.js';
import { huntingTemplate, ingestionTemplate, workbookTemplate, type HuntingQuery, type ParserFunction } from './sentinel-arm.js';
import { ingestionBicep } from './sentinel-bicep.js';
import { ruleYaml, rulesTemplate, sentinelRule, type SentinelRule } from './sentinel-rules.js';

export function sentinelDir(root = contentRoot()): string {
  return path.join(root, 'sentinel');
}

interface AsimParserFile {
  Parser: { Title: string };
  ParserName: string;
  ParserParams?: { Name: string; Type: string; Default: string | boolean }[];
  ParserQuery: string;
}

/** The ASIM parsers, from their Azure-Sentinel-format definitions under content/sentinel/parsers/. */
export function loadParsers(root = contentRoot()): ParserFunction[] {
  const dir = path.join(sentinelDir(root), 'parsers');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      const p = YAML.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as AsimParserFile;
      if (`${p.ParserName}.yaml` !== f) throw new Error(`content/sentinel/parsers/${f}: ParserName ${p.ParserName} does not match the file name`);
      return {
        name: p.ParserName,
        title: p.Parser.Title,
        parameters: (p.ParserParams ?? []).map((x) => `${x.Name}:${x.Type}=${String(x.Default)}`).join(', '),
        body: p.ParserQuery.trimEnd(),
      };
    });
}

export function loadHunting(root = contentRoot()): HuntingQuery[] {
  const dir = path.join(sentinelDir(root), 'hunting');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => YAML.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as HuntingQuery);
}

export function loadWorkbook(root = contentRoot()): unknown {
  return JSON.parse(fs.readFileSync(path.join(sentinelDir(root), 'workbooks', 'oversight.json'), 'utf8'));
}

export function sentinelRules(model: ContentModel): SentinelRule[] {
  return model.detections.map((d) => sentinelRule(model.fields, d));
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

function parserKql(p: ParserFunction): string {
  return (
    `// ${p.title}\n` +
    `// Function ${p.name}(${p.parameters}). Generated from content/sentinel/parsers/${p.name}.yaml by \`npm run content\`.\n` +
    `// Save it as a workspace function with that alias and those parameters (azuredeploy.json does).\n` +
    `${p.body}\n`
  );
}

export const sentinelContent: SiemContent = {
  name: 'sentinel',
  title: 'Microsoft Sentinel',
  generate(model: ContentModel): ContentFile[] {
    const parsers = loadParsers();
    const rules = sentinelRules(model);
    return [
      { path: 'deploy/azuredeploy.json', data: json(ingestionTemplate(model.fields, parsers)) },
      { path: 'deploy/azuredeploy.bicep', data: ingestionBicep(model.fields, parsers) },
      { path: 'deploy/analytic-rules.json', data: json(rulesTemplate(rules, model.fields)) },
      { path: 'deploy/workbook.json', data: json(workbookTemplate(loadWorkbook())) },
      { path: 'deploy/hunting-queries.json', data: json(huntingTemplate(loadHunting())) },
      ...rules.map((r) => ({ path: `analytic-rules/${r.detection.id.replace(/^oversight-/, '')}.yaml`, data: ruleYaml(r) })),
      ...parsers.map((p) => ({ path: `parsers/${p.name}.kql`, data: parserKql(p) })),
    ];
  },
};
