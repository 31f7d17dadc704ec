/** What each SIEM's content module provides: the files generated from the model, and how to package them. */
import type { Detection, FieldTable } from './model.js';

export interface ContentFile {
  /** Path relative to `content/<siem>/`, with forward slashes. */
  path: string;
  data: string | Buffer;
}

export interface ContentModel {
  fields: FieldTable;
  detections: Detection[];
  /** The package version, stamped into app and rule versions. */
  version: string;
}

export interface SiemContent {
  name: 'elastic' | 'splunk' | 'sentinel';
  title: string;
  /**
   * Files generated from the field table and the detections, written under `content/<name>/` by
   * `npm run content` and kept in the repository. Hand-written files beside them are shipped as they are.
   */
  generate(model: ContentModel): ContentFile[];
  /** Artefacts made when `oversight siem content <name> --out DIR` writes the content (for instance an app archive). */
  package?(outDir: string): Promise<void>;
}
