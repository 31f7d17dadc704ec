/**
 * Every SQLite database the tool opens (the registry, a demo registry, verify's index of a file) is opened here,
 * with better-sqlite3's native addon named by its path. The command's bundles carry better-sqlite3's JavaScript
 * (scripts/bundle.mjs) while the addon stays in the installed package; without its path, better-sqlite3 asks the
 * `bindings` package, which searches from the calling file, inside the bundle, and would not find it.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

let addon: string | undefined | null = null;

/** Where node-gyp (and prebuild-install) put the addon; undefined leaves the search to better-sqlite3. */
function addonPath(): string | undefined {
  if (addon === null) {
    const dir = path.dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json'));
    addon = ['Release', 'Debug'].map((b) => path.join(dir, 'build', b, 'better_sqlite3.node')).find((f) => fs.existsSync(f));
  }
  return addon;
}

export function openDatabase(file: string, options: Database.Options = {}): Database.Database {
  const nativeBinding = addonPath();
  return new Database(file, nativeBinding === undefined ? options : { ...options, nativeBinding });
}
