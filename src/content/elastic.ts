/**
 * Elastic content: what `oversight siem setup elasticsearch|kibana` installs and `oversight siem content elastic`
 * writes, generated from content/fields.yaml and content/detections. The file paths here are also the order
 * and the names under which setup installs them.
 */
import { dashboardNdjson } from './elastic-dashboard.js';
import {
  CUSTOM_COMPONENT, customComponentTemplate, INDEX_TEMPLATE, indexTemplate, PACKAGE_COMPONENT, packageComponentTemplate, PIPELINE,
} from './elastic-mappings.js';
import { ingestPipeline } from './elastic-pipeline.js';
import { rulesNdjson } from './elastic-rules.js';
import type { ContentFile, ContentModel, SiemContent } from './siem.js';

/** One Elasticsearch object setup installs: its REST path, and the content file holding the body. */
export interface ElasticsearchAsset {
  what: string;
  path: string;
  file: string;
  /** Created when missing, never changed afterwards (the user's own). */
  createOnly?: boolean;
}

/** In dependency order: the pipeline and component templates exist before the index template names them. */
export const ELASTICSEARCH_ASSETS: readonly ElasticsearchAsset[] = [
  { what: 'ingest pipeline', path: `/_ingest/pipeline/${PIPELINE}`, file: `elasticsearch/ingest_pipeline/${PIPELINE}.json` },
  { what: 'component template', path: `/_component_template/${PACKAGE_COMPONENT}`, file: `elasticsearch/component_template/${PACKAGE_COMPONENT}.json` },
  { what: 'component template', path: `/_component_template/${CUSTOM_COMPONENT}`, file: `elasticsearch/component_template/${CUSTOM_COMPONENT}.json`, createOnly: true },
  { what: 'index template', path: `/_index_template/${INDEX_TEMPLATE}`, file: `elasticsearch/index_template/${INDEX_TEMPLATE}.json` },
];

export const KIBANA_DASHBOARD_FILE = 'kibana/dashboard.ndjson';
export const KIBANA_RULES_FILE = 'kibana/detection_rules.ndjson';

const json = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';

export const elasticContent: SiemContent = {
  name: 'elastic',
  title: 'Elastic (Elasticsearch, Kibana, Elastic Security)',
  generate(model: ContentModel): ContentFile[] {
    const bodies: Record<string, unknown> = {
      [`/_ingest/pipeline/${PIPELINE}`]: ingestPipeline(model.version),
      [`/_component_template/${PACKAGE_COMPONENT}`]: packageComponentTemplate(model.fields, model.version),
      [`/_component_template/${CUSTOM_COMPONENT}`]: customComponentTemplate(model.version),
      [`/_index_template/${INDEX_TEMPLATE}`]: indexTemplate(model.version),
    };
    return [
      ...ELASTICSEARCH_ASSETS.map((a) => ({ path: a.file, data: json(bodies[a.path]) })),
      { path: KIBANA_DASHBOARD_FILE, data: dashboardNdjson() },
      { path: KIBANA_RULES_FILE, data: rulesNdjson(model.detections, model.fields, model.version) },
    ];
  },
};
