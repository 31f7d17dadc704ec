// Node's own modules that only some commands use, loaded by the bundles on first use rather than at start-up.
//
// A bundle evaluates every module the command can reach, and with them each `require` of a Node module: a file
// export loaded the socket, TLS, HTTP, UDP, DNS, zlib and child-process modules (commander requires the last at
// its top) although it opens no connection, and each formatting thread loaded `net` for the address check of
// the privacy settings. Node compiles each of these, and the dozens of internal modules behind them, at every
// start. Here each of them is replaced in the bundle by a stand-in with the same property names, whose every
// property loads the real module the first time it is read.
//
// The names are those of the Node that builds the bundle: code that reads a name this Node lacks gets undefined
// from the stand-in, as it would from the module itself.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The modules deferred; any other stays a plain `require` at the top of its importer's code. */
export const DEFERRED = ['child_process', 'dgram', 'dns/promises', 'http', 'net', 'tls', 'v8', 'zlib'];

const NAMESPACE = 'deferred-builtin';

/** The stand-in's code for one module: a getter per property name, each loading the module on first read. */
function standIn(name) {
  const names = Object.getOwnPropertyNames(require(`node:${name}`)).filter((k) => k !== 'default' && k !== '__esModule');
  const getters = names.map((k) => `  ${JSON.stringify(k)}: { enumerable: true, get: () => load()[${JSON.stringify(k)}] },`);
  return [
    `let real;`,
    `const load = () => (real ??= require(${JSON.stringify(`node:${name}`)}));`,
    `module.exports = Object.defineProperties({}, {`,
    ...getters,
    `});`,
  ].join('\n');
}

/** The esbuild plugin: `node:NAME` (or `NAME`) for a deferred module resolves to its stand-in. */
export const deferredBuiltins = {
  name: NAMESPACE,
  setup(build) {
    const filter = new RegExp(`^(node:)?(${DEFERRED.map((n) => n.replace('/', '\\/')).join('|')})$`);
    build.onResolve({ filter }, (args) =>
      // The stand-in's own `require` is the real module.
      args.namespace === NAMESPACE
        ? { path: args.path, external: true }
        : { path: args.path.replace(/^node:/, ''), namespace: NAMESPACE });
    build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({ contents: standIn(args.path), loader: 'js' }));
  },
};
