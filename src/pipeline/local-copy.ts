/**
 * The threaded local copy: for stdout and files, chunks of JSON lines formatted on worker threads are written as
 * they are, without cutting them into records and batches again. Each chunk moves the checkpoint through the
 * core's one commit path.
 */
import { formatInWorkers, type WorkerPlan } from '../format-workers.js';
import type { Core, PipelineResult } from './core.js';

export async function copyThreaded(core: Core, plan: WorkerPlan, onProgress?: (written: number) => void): Promise<PipelineResult> {
  let written = 0;
  let bytes = 0;
  for await (const chunk of formatInWorkers(plan)) {
    if (chunk.count > 0) {
      await core.transport.send([], chunk.body);
      written += chunk.count;
      bytes += chunk.body.length;
      core.metrics?.delivered(chunk.count);
    }
    core.metrics?.read(chunk.count);
    core.checkpointTo(chunk.lastRowid, chunk.count);
    if (chunk.count > 0) onProgress?.(written);
    if (core.stopping) break;
  }
  return {
    delivered: written, deadLettered: 0, duplicates: 0, requests: 0, retries: 0, bytes, exported: written, lastRowid: core.lastRowid,
    stopped: core.stopping,
  };
}
