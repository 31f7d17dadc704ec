/** `oversight demo`: a realistic registry, written to a file or exported from a temporary one. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { DEMO } from '../config/options.js';
import { exportConfig } from '../config/export.js';
import { checkDemoEvents, DEMO_REGISTRY_ID, demoRegistrySteps, type DemoOptions } from '../registry/demo.js';
import { escapeControls } from '../shared/errors.js';
import { log as logger } from '../shared/log.js';
import type { FlagValues } from '../shared/options.js';
import { signalExitCode } from '../service/signals.js';
import { runExport, type RunContext } from './export.js';

const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export async function runDemo(values: FlagValues, ctx: RunContext): Promise<number> {
  // Every option is checked before anything is written: a mistake costs no registry and leaves nothing behind.
  const events = DEMO.events.read(values)!;
  checkDemoEvents(events);
  const seed = DEMO.seed.read(values)!;
  const db = DEMO.db.read(values);
  const exported = { registryId: DEMO_REGISTRY_ID, format: DEMO.format.read(values), output: DEMO.output.read(values) };
  // The export's configuration is checked without its registry, which is still to be written (and not read here).
  exportConfig({ ...exported, db: db ?? 'registry.sqlite' });
  if (db) {
    const made = await write(db, { events, seed });
    if (typeof made === 'number') return made;
    // The path is shown as the logger shows text: a control character in it cannot start a forged line.
    process.stderr.write(
      escapeControls(`wrote demo registry ${db}: ${made.events} event(s) from ${made.beacons} beacon(s)`) + '\n' +
        escapeControls(`export it with: oversight siem export --db ${db} --registry-id ${DEMO_REGISTRY_ID.slice(0, 16)} --format ecs`) + '\n',
    );
    return 0;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oversight-demo-'));
  // `demo | head` ends the process from the write that fails: the folder goes with it whatever way it exits.
  const cleanUp = (): void => fs.rmSync(dir, { recursive: true, force: true });
  process.once('exit', cleanUp);
  const file = path.join(dir, 'registry.sqlite');
  try {
    const made = await write(file, { events, seed });
    if (typeof made === 'number') return made;
    process.stderr.write(escapeControls(`demo registry: ${events} events in a temporary ${file} (oversight demo --db PATH keeps one)`) + '\n');
    return await runExport({ ...exported, db: file }, ctx);
  } finally {
    cleanUp();
    process.off('exit', cleanUp);
  }
}

/**
 * Write the registry a transaction at a time, listening for SIGINT, SIGTERM and SIGHUP in between: a stop
 * removes the unfinished file (Node's own handling would end the process with it still there). Returns what
 * was written, or the exit code of a stop (128 + the signal).
 */
async function write(file: string, options: DemoOptions): Promise<{ events: number; beacons: number } | number> {
  let received: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals): void => {
    received ??= sig;
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  const steps = demoRegistrySteps(file, options);
  try {
    for (let step = steps.next(); ; step = steps.next()) {
      if (step.done) return step.value;
      await nextTurn();
      if (received) {
        steps.return({ events: 0, beacons: 0 });
        logger.warn(`stopped by ${received} before the demo registry was complete: ${file} was removed`);
        return signalExitCode(received);
      }
    }
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
  }
}
