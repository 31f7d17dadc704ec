/**
 * The threaded local copy: for stdout and files, chunks of JSON lines formatted on worker threads are written as
 * they are, without cutting them into records and batches again. Each chunk moves the checkpoint through the
 * core's one commit path.
 */
import { ExportError } from '../shared/errors.js';
import { formatInWorkers, type WorkerPlan } from './format-workers.js';
import type { Core, PipelineResult } from './core.js';

export async function copyThreaded(core: Core, plan: WorkerPlan, hasDeadLetters: boolean, onProgress?: (written: number) => void): Promise<PipelineResult> {
  let written = 0;
  let bytes = 0;
  for await (const chunk of formatInWorkers(plan)) {
    const body = chunk.body;
    const aside = chunk.setAside;
    if (aside.length > 0 && !hasDeadLetters) {
      // Without a dead-letter file the export stops at the first such row, with the lines before it written.
      const first = aside[0]!;
      if (first.line > 0) {
        await core.transport.send([], body.subarray(0, first.at));
        core.checkpointTo(first.before, first.line);
      }
      throw new ExportError(first.stop);
    }
    for (const row of aside) core.setAsideNow(row, plan.registryId);
    const settled = chunk.count + aside.length;
    if (chunk.count > 0) {
      await core.transport.send([], body);
      written += chunk.count;
      bytes += body.length;
      core.metrics?.delivered(chunk.count);
    }
    core.metrics?.read(settled);
    core.checkpointTo(chunk.lastRowid, settled);
    if (settled > 0) onProgress?.(written);
    if (core.stopping) break;
  }
  return {
    delivered: written, deadLettered: core.deadLettered, duplicates: 0, requests: 0, retries: 0, bytes, exported: written,
    lastRowid: core.lastRowid, stopped: core.stopping,
  };
}
