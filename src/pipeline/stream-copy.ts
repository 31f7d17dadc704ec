/**
 * The threaded stream copy, for byte-stream transports (plain syslog over TCP or TLS: see StreamFraming): the
 * formatting threads frame every message, and each chunk goes to the socket as it is, with the retries of any
 * batch, instead of being cut into records and framed again here. That per-record work on this thread was half
 * of what the exporter spent beside the formatting. Records the receiver cannot take are left out by the threads
 * and dead-lettered here; the checkpoint moves over a chunk once the operating system took all of it.
 */
import { formatInWorkers, type WorkerPlan } from './format-workers.js';
import type { Core } from './core.js';

export async function streamThreaded(core: Core, plan: WorkerPlan, hasDeadLetters: boolean): Promise<void> {
  const stream = core.transport.stream!;
  for await (const chunk of formatInWorkers(plan)) {
    const body = chunk.body;
    // Rows over the size limit and records the receiver cannot take, in registry order.
    const out = [...chunk.setAside, ...chunk.refused].sort((a, b) => a.rowid - b.rowid);
    const settled = chunk.count + out.length;
    core.metrics?.read(settled);
    if (out.length > 0 && !hasDeadLetters) {
      // Without a dead-letter file the export stops at the first of them, with the messages before it sent.
      const first = out[0]!;
      if (first.line > 0) {
        await core.sendFramed(body.subarray(0, first.at), first.line, first.before);
        core.settledChunk(first.before, first.line);
      }
    } else if (chunk.count > 0) {
      await core.sendFramed(body, chunk.count, chunk.lastRowid);
    }
    for (const row of out) {
      if ('record' in row) {
        const why = stream.refusal(row.record);
        core.refuse({ rowid: row.rowid, event_id: row.eventId, registry_id: plan.registryId, record: row.record, bytes: Buffer.byteLength(row.record) }, why.status, why.error);
      } else {
        core.setAsideNow(row, plan.registryId);
      }
    }
    core.settledChunk(chunk.lastRowid, settled);
    if (core.stopping) break;
  }
}
