/** `oversight demo`: a realistic registry, written to a file or exported from a temporary one. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEMO } from '../config/options.js';
import { DEMO_REGISTRY_ID, writeDemoRegistry } from '../registry/demo.js';
import type { FlagValues } from '../shared/options.js';
import { runExport, type RunContext } from './export.js';

export async function runDemo(values: FlagValues, ctx: RunContext): Promise<number> {
  const events = DEMO.events.read(values)!;
  const seed = DEMO.seed.read(values)!;
  const db = DEMO.db.read(values);
  if (db) {
    const made = writeDemoRegistry(db, { events, seed });
    process.stderr.write(
      `wrote demo registry ${db}: ${made.events} event(s) from ${made.beacons} beacon(s)\n` +
        `export it with: oversight siem export --db ${db} --registry-id ${DEMO_REGISTRY_ID.slice(0, 16)} --format ecs\n`,
    );
    return 0;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oversight-demo-'));
  // `demo | head` ends the process from the write that fails: the folder goes with it whatever way it exits.
  const cleanUp = (): void => fs.rmSync(dir, { recursive: true, force: true });
  process.once('exit', cleanUp);
  const file = path.join(dir, 'registry.sqlite');
  try {
    writeDemoRegistry(file, { events, seed });
    process.stderr.write(`demo registry: ${events} events in a temporary ${file} (oversight demo --db PATH keeps one)\n`);
    return await runExport({ db: file, registryId: DEMO_REGISTRY_ID, format: DEMO.format.read(values), output: DEMO.output.read(values) }, ctx);
  } finally {
    cleanUp();
    process.off('exit', cleanUp);
  }
}
