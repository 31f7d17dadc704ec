/**
 * The folder tree is the architecture: the CLI on top, the configuration step and the services below it, the
 * pipeline and transports below those, records and the registry reader at the bottom, `shared/` under all.
 * These tests read every module's imports and hold the layers to that, with no import cycles.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from './helpers.js';

const SRC = path.join(ROOT, 'src');

function modules(dir = SRC): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? modules(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

interface Import {
  spec: string;
  /** The module it resolves to, relative to src/, or null for a package. */
  target: string | null;
  /** Loaded when the module loads (not `import type`, not a dynamic `import()`). */
  eager: boolean;
}

function importsOf(file: string): Import[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: Import[] = [];
  const add = (spec: string, eager: boolean): void => {
    const target = spec.startsWith('.') ? path.relative(SRC, path.resolve(path.dirname(file), spec)).replace(/\.js$/, '.ts') : null;
    out.push({ spec, target, eager });
  };
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^'";]*?from\s+'([^']+)'/gms)) add(m[3]!, !m[2]);
  for (const m of text.matchAll(/^import\s+'([^']+)'/gm)) add(m[1]!, true);
  for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) add(m[1]!, false);
  return out;
}

const rel = (f: string): string => path.relative(SRC, f);
const GRAPH = new Map(modules().map((f) => [rel(f), importsOf(f)]));
const layer = (m: string): string => (m.includes('/') ? m.split('/')[0]! : m.replace(/\.ts$/, ''));

/** Which layers each layer may import (its own always). */
const ALLOWED: Record<string, readonly string[]> = {
  shared: [],
  registry: ['shared'],
  records: ['shared', 'registry'],
  transports: ['shared', 'registry', 'records', 'pipeline', 'config'],
  pipeline: ['shared', 'registry', 'records', 'transports', 'service'],
  config: ['shared', 'registry', 'records', 'transports', 'pipeline'],
  service: ['shared', 'registry', 'pipeline', 'config', 'transports'],
  verify: ['shared', 'registry', 'records', 'pipeline', 'transports', 'config'],
  setup: ['shared', 'config', 'transports', 'pipeline', 'content'],
  content: ['shared', 'registry', 'records'],
  cli: ['shared', 'registry', 'records', 'pipeline', 'transports', 'config', 'service', 'verify', 'setup', 'content'],
  index: ['shared', 'registry', 'records', 'pipeline', 'transports', 'config', 'service'],
};

describe('layers', () => {
  it('every module sits in a known layer', () => {
    for (const m of GRAPH.keys()) if (m !== 'cli.ts') assert.ok(ALLOWED[layer(m)], `${m}: unknown layer ${layer(m)}`);
  });

  it('each layer imports only the layers below it', () => {
    const wrong: string[] = [];
    for (const [m, imports] of GRAPH) {
      if (m === 'cli.ts') continue;
      for (const i of imports) {
        if (i.target === null || !i.eager) continue;
        const to = layer(i.target);
        if (to !== layer(m) && !ALLOWED[layer(m)]!.includes(to)) wrong.push(`${m} → ${i.target}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('nothing below the CLI knows the command-line parser', () => {
    const wrong = [...GRAPH].filter(([m, imports]) => layer(m) !== 'cli' && m !== 'cli.ts' && imports.some((i) => i.spec === 'commander')).map(([m]) => m);
    assert.deepEqual(wrong, []);
  });

  it('formatting (records, formatting threads) loads no transport code', () => {
    const reach = (start: string, seen = new Set<string>()): Set<string> => {
      for (const i of GRAPH.get(start) ?? []) {
        if (i.target && !seen.has(i.target)) {
          seen.add(i.target);
          reach(i.target, seen);
        }
      }
      return seen;
    };
    for (const m of [...GRAPH.keys()].filter((k) => k.startsWith('records/') || k === 'pipeline/format-worker.ts')) {
      const loaded = [...reach(m)].filter((t) => t.startsWith('transports/') || t.startsWith('cli/'));
      assert.deepEqual(loaded, [], `${m} loads ${loaded.join(', ')}`);
    }
  });

  it('no import cycles among the modules loaded at start', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (m: string, trail: string[]): void => {
      state.set(m, 'open');
      for (const i of GRAPH.get(m) ?? []) {
        if (!i.target || !i.eager || !GRAPH.has(i.target)) continue;
        const s = state.get(i.target);
        if (s === 'open') cycles.push([...trail.slice(trail.indexOf(i.target)), i.target].join(' → '));
        else if (s === undefined) visit(i.target, [...trail, i.target]);
      }
      state.set(m, 'done');
    };
    for (const m of GRAPH.keys()) if (!state.has(m)) visit(m, [m]);
    assert.deepEqual(cycles, []);
  });

  it('a lower layer that imports the CLI fails this test', () => {
    // The checks above are only as good as the import reading: a known import must be seen.
    const spec = GRAPH.get('cli/main.ts')!.find((i) => i.target === 'cli/program.ts');
    assert.ok(spec?.eager, 'cli/main.ts imports cli/program.ts');
  });
});
