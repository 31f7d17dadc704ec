'use strict';
// Starts one bundle of the command (see bundle.mjs) from the V8 code cache written beside it at build time. Each
// run of the command, and each of its formatting threads, otherwise parses its bundle anew before it reads a row.
// Counted with callgrind, beyond the 502 M instructions of `node -e ''`: `oversight --version` took 145 M instead
// of 202 M, a 10-event export 225 M instead of 308 M (with the command's cache made after a short export:
// warm-cache.cjs). A cache V8 does not accept (another Node or V8 version, a changed bundle) is set aside by V8
// itself, and the bundle is compiled as it would be without one.

const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { createRequire } = require('node:module');

/** The CommonJS wrapper Node puts around a module; the cache is made of, and checked against, this exact text. */
function wrap(source) {
  return `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;
}

/** The compiled bundle at `file`, with its code cache when there is one V8 accepts. */
function compile(file, cachedData) {
  return new vm.Script(wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData });
}

/**
 * Run a compiled bundle as the module `entry`: `__filename` stays the entry, so the command still knows it was
 * started directly, and the paths it resolves from its own location (the formatting thread's entry,
 * ../../package.json) are unchanged.
 */
function runAs(script, entry) {
  const run = script.runInThisContext();
  run.call(entry.exports, entry.exports, createRequire(entry.filename), entry, entry.filename, path.dirname(entry.filename));
}

/** Run the bundle `name`, which sits beside the entry file, as the entry module itself. */
function runBundle(entry, name) {
  const file = path.join(path.dirname(entry.filename), name);
  let cachedData;
  try {
    cachedData = fs.readFileSync(`${file}.cache`);
  } catch {
    cachedData = undefined;
  }
  runAs(compile(file, cachedData), entry);
}

module.exports = { runBundle, compile, runAs };
