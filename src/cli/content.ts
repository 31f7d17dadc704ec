/**
 * `oversight siem content <siem> --out DIR`: write the content a SIEM needs on its side (the folder
 * `content/<siem>/` as shipped, the detection samples, and whatever its module packages from it) into DIR. Everything is written into
 * a temporary folder beside DIR first, so a failure leaves DIR as it was.
 */
import { Argument, type Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { SIEM_CONTENT } from '../content/index.js';
import { contentRoot } from '../content/model.js';
import type { SiemContent } from '../content/siem.js';
import { ConfigurationError, errorMessage, escapeControls, ExportError } from '../shared/errors.js';

/** Where the detection samples go inside the written folder. */
export const SAMPLES_DIR = 'detection-samples';

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

function siemNames(modules: readonly SiemContent[] = SIEM_CONTENT): string[] {
  return modules.map((m) => m.name);
}

export function findContent(name: string, modules: readonly SiemContent[] = SIEM_CONTENT): SiemContent {
  const module = modules.find((m) => m.name === name);
  if (!module) {
    const names = siemNames(modules);
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

/** What is at --out: nothing yet, an empty folder, or a folder with files (a symlink counts as what it names). */
function outState(dir: string, given: string): 'missing' | 'empty' | 'full' {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    if (!fs.existsSync(dir) && isLink(dir)) {
      throw new ConfigurationError(`--out ${given} is a symlink to nothing: point it at a folder, or name a new or empty folder`);
    }
    return 'missing';
  }
  if (!stat.isDirectory()) throw new ConfigurationError(`--out ${given} is not a folder: name a new or empty folder`);
  return fs.readdirSync(dir).length > 0 ? 'full' : 'empty';
}

function isLink(at: string): boolean {
  try {
    return fs.lstatSync(at).isSymbolicLink();
  } catch {
    return false;
  }
}

/** `modules` and `root` are the package's own unless a test passes others. */
/** A file can be written at `rel` under `out`: nothing on its way is a file, and it is not a folder itself. */
function checkTarget(out: string, rel: string): void {
  const parts = rel.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const at = path.join(out, ...parts.slice(0, i));
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(at);
    } catch {
      return;
    }
    const last = i === parts.length;
    if (last ? stat.isDirectory() : !stat.isDirectory()) {
      throw new ConfigurationError(`--out ${out}: ${at} is in the way of ${rel}; move it aside or name another folder`);
    }
  }
}

/**
 * Move the staged folder's top-level entries into the empty folder `out`, each in one rename. If one fails, the
 * ones already moved are taken out again, so `out` is left empty, as it was.
 */
function moveEntries(staging: string, out: string): void {
  const moved: string[] = [];
  try {
    for (const name of fs.readdirSync(staging)) {
      fs.renameSync(path.join(staging, name), path.join(out, name));
      moved.push(name);
    }
  } catch (err) {
    for (const name of moved) fs.rmSync(path.join(out, name), { recursive: true, force: true });
    throw err;
  }
}

export async function runContent(
  name: string,
  flags: ContentFlags,
  modules: readonly SiemContent[] = SIEM_CONTENT,
  root = contentRoot(),
): Promise<void> {
  const module = findContent(name, modules);
  if (!flags.out) throw new ConfigurationError('no output folder given: pass --out DIR');
  const given = flags.out;
  const state = outState(path.resolve(given), given);
  // An existing folder is written into, never replaced: its owner, group, mode and ACLs are the operator's (a
  // Splunk app folder owned by `splunk`), and a shell may be sitting in it. A symlink is followed to the folder,
  // so the staging folder is made beside the real one, on the same file system.
  const out = state === 'missing' ? path.resolve(given) : fs.realpathSync(given);
  const merge = state === 'full';
  if (merge && !flags.force) {
    throw new ConfigurationError(`--out ${flags.out} is not empty: name a new or empty folder, or pass --force to write into it`);
  }
  const source = path.join(root, module.name);
  if (!fs.existsSync(source)) throw new ExportError(`the ${module.name} content is missing from this installation (${source})`);
  const parent = path.dirname(out);
  let staging: string;
  try {
    fs.mkdirSync(parent, { recursive: true });
    staging = fs.mkdtempSync(path.join(parent, `.${path.basename(out)}.tmp-`));
    // mkdtemp makes a private folder; the content is no secret and is shared with whoever installs it.
    fs.chmodSync(staging, 0o755);
  } catch (err) {
    throw new ConfigurationError(`cannot write beside --out ${flags.out}: ${errorMessage(err)} (name a folder you can write to)`);
  }
  let files: string[];
  try {
    fs.cpSync(source, staging, { recursive: true });
    // The sample registries travel with every SIEM's content, so a user can replay a detection right away.
    const samples = path.join(root, 'detections', 'samples');
    if (fs.existsSync(samples)) fs.cpSync(samples, path.join(staging, SAMPLES_DIR), { recursive: true });
    if (module.package) await module.package(staging);
    files = listFiles(staging);
    if (merge) {
      // Check every target before moving the first file, so a clash leaves DIR untouched.
      for (const rel of files) checkTarget(out, rel);
      for (const rel of files) {
        const target = path.join(out, rel);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.renameSync(path.join(staging, rel), target);
      }
    } else if (state === 'empty') {
      moveEntries(staging, out);
    } else {
      fs.renameSync(staging, out);
    }
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    throw new ExportError(
      `writing the ${module.name} content to ${out} failed: ${errorMessage(err)} (check that the folder can be written to and has room, or name another)`,
    );
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  if (!flags.quiet) {
    // The folder is named as given (a symlink stays a symlink), its controls shown, not obeyed: one line.
    const shown = path.resolve(given);
    process.stderr.write(escapeControls(`wrote ${files.length} files of the ${module.title} content to ${shown}; install steps: ${path.join(shown, 'README.md')}`) + '\n');
  }
}
