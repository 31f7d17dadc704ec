#!/usr/bin/env node
// The `oversight` command as two bundled files (dist/bin), built from tsc's output in dist/: the command, and the
// entry of its formatting threads. Every run of the command, and each of its threads, otherwise resolves and
// loads over a hundred modules before it reads a row (measured: a 10-event export took 175 ms from the module
// tree, 140 ms from ESM chunks, 100 ms from this bundle).
//
// Why CommonJS: Node's ESM loader resolves, links and translates every file and every package it imports, and
// reads the exports of each CommonJS package (better-sqlite3, commander) with a lexer first; for a short export
// that was a quarter of its start-up, and the same again at the start of each formatting thread. A CommonJS
// bundle is one file that `require`s its packages. What a command loads on demand stays on demand: a module
// that is only imported dynamically is wrapped and evaluated on first use, and so are the packages it requires.
// The source and the library (dist/index.js and its module tree) stay ESM; `dist/bin/package.json` tells Node
// that the files of dist/bin are CommonJS.
//
// The bundle sits one folder below dist/, as the modules do, so the paths they resolve from their own location
// (../../package.json, ../../content, ./format-worker.js) mean the same files; `import.meta.url` is the URL of
// the entry file that started it (load-bundle.cjs), in the same folder.
//
// Packages stay external (installed, not copied in), but for two that every export loads before it reads a row:
// commander (six files), and the JavaScript of better-sqlite3 (eleven, loaded again by each formatting thread).
// From node_modules each run resolved and compiled them anew; copied into the bundles they are compiled from the
// bundles' code cache. Measured: `oversight --version` took 79 ms instead of 91 ms with commander copied in; with
// better-sqlite3 too, a 10-event export 88 ms instead of 101 ms and a 100,000-event one 560 ms instead of 585 ms.
// better-sqlite3's native addon stays in its package, opened by path (src/registry/sqlite.ts); the `bindings`
// package, which would search for it, stays external and unused. Their licences stay with the installed packages.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { deferredBuiltins } from './deferred-builtins.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'bin');
const { dependencies } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const copiedIn = new Set(['commander', 'better-sqlite3']);
const external = [...Object.keys(dependencies).filter((name) => !copiedIn.has(name)), 'bindings'];
fs.rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: {
    'oversight.bundle': path.join(root, 'dist', 'cli.js'),
    'format-worker.bundle': path.join(root, 'dist', 'pipeline', 'format-worker.js'),
    // Run by the command's entry before its bundle: starts a formatting thread early (src/pipeline/format-thread.ts).
    'prestart.bundle': path.join(root, 'dist', 'pipeline', 'format-thread.js'),
  },
  outdir: out,
  entryNames: '[name]',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external,
  define: { 'import.meta.url': '__bundleUrl' },
  // Packages loaded on demand (`import('undici')`) become `require` calls in a promise: the loader runs each bundle
  // as a script from its code cache, and a script's `import()` would need Node's experimental vm loader.
  supported: { 'dynamic-import': false },
  // The modules were written as ESM, which is always strict; the bundle keeps them so.
  banner: { js: '"use strict";\nconst __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  // Node modules only some commands use are loaded when first used (deferred-builtins.mjs).
  plugins: [deferredBuiltins],
  logLevel: 'warning',
});
fs.writeFileSync(path.join(out, 'package.json'), JSON.stringify({ type: 'commonjs' }, null, 2) + '\n');

// Each bundle starts from a small entry file (the command's, and its formatting threads'), through the loader that
// runs it from V8's code cache: the cache is the bundle compiled once here, so a run skips that parse. The bundle's
// own first line (the command's `#!`) moves to the entry, where Node expects it.
fs.copyFileSync(path.join(root, 'scripts', 'load-bundle.cjs'), path.join(out, 'load-bundle.js'));
const require = createRequire(import.meta.url);
const { compile } = require('./load-bundle.cjs');
for (const [entry, shebang] of [['oversight', true], ['format-worker', false]]) {
  const bundle = path.join(out, `${entry}.bundle.js`);
  fs.writeFileSync(bundle, fs.readFileSync(bundle, 'utf8').replace(/^#!.*\n/, ''));
  fs.chmodSync(bundle, 0o644);
  fs.writeFileSync(path.join(out, `${entry}.bundle.js.cache`), compile(bundle, undefined).createCachedData());
  // The command first starts a formatting thread when its command line asks for a large export, so that the thread
  // boots on the second core while the command loads (format-thread.ts); the prestart bundle is small and plain.
  const early = entry === 'oversight' ? `require('./prestart.bundle.js').prestartFormatThread();\n` : '';
  const start = `'use strict';\n${early}require('./load-bundle.js').runBundle(module, '${entry}.bundle.js');\n`;
  fs.writeFileSync(path.join(out, `${entry}.js`), shebang ? `#!/usr/bin/env node\n${start}` : start, { mode: shebang ? 0o755 : 0o644 });
}
// The command's cache is then made again after a short export has run, with the code of what it called.
const warm = spawnSync(process.execPath, [path.join(root, 'scripts', 'warm-cache.cjs'), out], { stdio: 'inherit' });
if (warm.status !== 0) throw new Error(`bundle: warming the code cache failed (exit ${warm.status})`);
