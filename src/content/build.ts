/**
 * `npm run content`: regenerate the generated files of every SIEM's content under `content/<siem>/` from the
 * field table and the detections. Files a module does not generate (READMEs, hand-made dashboards) are left
 * alone. The generated files are committed; test/content.test.ts fails when one is stale.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SIEM_CONTENT } from './index.js';
import { contentRoot, loadDetections, loadFields } from './model.js';
import type { ContentFile, ContentModel, SiemContent } from './siem.js';

export function loadModel(root = contentRoot()): ContentModel {
  const fields = loadFields(root);
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
  return { fields, detections: loadDetections(fields, root), version: pkg.version };
}

/** Where a generated file lives, refusing paths that would leave the module's folder. */
export function generatedPath(module: SiemContent, file: ContentFile, root = contentRoot()): string {
  const dir = path.join(root, module.name);
  const target = path.resolve(dir, file.path);
  if (file.path.includes('\\') || !target.startsWith(dir + path.sep)) {
    throw new Error(`${module.name}: generated path ${JSON.stringify(file.path)} is not a relative path inside content/${module.name}/`);
  }
  return target;
}

/** Write every module's generated files; returns the paths written (relative to `root`) that changed. */
export function writeContent(modules: readonly SiemContent[] = SIEM_CONTENT, root = contentRoot()): string[] {
  const model = loadModel(root);
  const changed: string[] = [];
  for (const module of modules) {
    for (const file of module.generate(model)) {
      const target = generatedPath(module, file, root);
      const data = typeof file.data === 'string' ? Buffer.from(file.data, 'utf8') : file.data;
      const current = fs.existsSync(target) ? fs.readFileSync(target) : null;
      if (current !== null && current.equals(data)) continue;
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, data);
      changed.push(path.relative(root, target).split(path.sep).join('/'));
    }
  }
  return changed;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const changed = writeContent();
  for (const file of changed) process.stdout.write(`wrote content/${file}\n`);
  process.stdout.write(
    `${SIEM_CONTENT.map((m) => m.name).join(', ') || 'no SIEM modules'}: ${changed.length} generated file(s) changed\n`,
  );
}
