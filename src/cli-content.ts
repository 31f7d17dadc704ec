/**
 * `oversight siem content <siem> --out DIR`: write the content a SIEM needs on its side (the folder
 * `content/<siem>/` as shipped, plus whatever its module packages from it) into DIR. Everything is written into
 * a temporary folder beside DIR first, so a failure leaves DIR as it was.
 */
import { Argument, type Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { SIEM_CONTENT } from './content/index.js';
import { contentRoot } from './content/model.js';
import type { SiemContent } from './content/siem.js';
import { ConfigurationError, errorMessage, ExportError } from './errors.js';

export interface ContentFlags {
  out?: string;
  force?: boolean;
  quiet?: boolean;
}

export function addContentCommand(siem: Command): Command {
  return siem
    .command('content')
    .description('write the SIEM side (tables, templates, app, parsers, rules, dashboards) for one SIEM into a folder')
    .addArgument(new Argument('<siem>', `one of: ${siemNames().join(', ')}`))
    .requiredOption('--out <dir>', 'folder to write; must be new or empty')
    .option('--force', 'write into a non-empty folder, replacing files of the same name (other files stay)', false)
    .option('--quiet', 'print nothing but errors', false)
    .action(async (name: string, opts: ContentFlags) => {
      await runContent(name, opts);
    });
}

function siemNames(): string[] {
  return SIEM_CONTENT.map((m) => m.name);
}

export function findContent(name: string): SiemContent {
  const module = SIEM_CONTENT.find((m) => m.name === name);
  if (!module) {
    const names = siemNames();
    throw new ConfigurationError(
      names.length === 0
        ? `no SIEM content is built into this package, so there is nothing to write for '${name}'`
        : `unknown SIEM '${name}': choose one of ${names.join(', ')}`,
    );
  }
  return module;
}

/** The files under `dir`, relative to it with forward slashes, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) out.push(child);
    }
  };
  walk('');
  return out.sort();
}

function isNonEmptyDir(dir: string): boolean {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    return false;
  }
  if (!stat.isDirectory()) throw new ConfigurationError(`--out ${dir} is not a folder: name a new or empty folder`);
  return fs.readdirSync(dir).length > 0;
}

export async function runContent(name: string, flags: ContentFlags): Promise<void> {
  const module = findContent(name);
  const out = path.resolve(flags.out ?? '');
  if (!flags.out) throw new ConfigurationError('no output folder given: pass --out DIR');
  const merge = isNonEmptyDir(out);
  if (merge && !flags.force) {
    throw new ConfigurationError(`--out ${flags.out} is not empty: name a new or empty folder, or pass --force to write into it`);
  }
  const source = path.join(contentRoot(), module.name);
  if (!fs.existsSync(source)) throw new ExportError(`the ${module.name} content is missing from this installation (${source})`);
  const parent = path.dirname(out);
  try {
    fs.mkdirSync(parent, { recursive: true });
  } catch (err) {
    throw new ConfigurationError(`cannot create ${parent} for --out: ${errorMessage(err)}`);
  }

  const staging = fs.mkdtempSync(path.join(parent, `.${path.basename(out)}.tmp-`));
  let files: string[];
  try {
    fs.cpSync(source, staging, { recursive: true });
    if (module.package) await module.package(staging);
    files = listFiles(staging);
    if (merge) {
      for (const rel of files) {
        const target = path.join(out, rel);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.renameSync(path.join(staging, rel), target);
      }
    } else {
      if (fs.existsSync(out)) fs.rmdirSync(out);
      fs.renameSync(staging, out);
    }
  } catch (err) {
    throw new ExportError(`writing the ${module.name} content to ${out} failed: ${errorMessage(err)}`);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  if (!flags.quiet) {
    process.stderr.write(`wrote ${files.length} files of the ${module.title} content to ${out}; install steps: ${path.join(out, 'README.md')}\n`);
  }
}
