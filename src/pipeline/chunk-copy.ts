/**
 * Chunks from the formatting threads written whole: for stdout and files (lines) and for byte-stream transports
 * (plain syslog over TCP or TLS, whose messages the threads frame: see StreamFraming). Each chunk goes out as it
 * is, with the retries of any batch (a named pipe with no reader, a refused connection), instead of being cut into
 * records and batched again here; for syslog that per-record work was half of what this thread spent beside the
 * formatting. Rows over the size limit, and messages the receiver cannot take (left out by the threads), are
 * dead-lettered here. The checkpoint moves over a chunk once all of it was written.
 */
import { formatInWorkers, type WorkerPlan } from './format-workers.js';
import type { Core } from './core.js';
import type { ReadDigests } from './read-digests.js';

export async function copyChunks(core: Core, plan: WorkerPlan, hasDeadLetters: boolean, digests: ReadDigests): Promise<void> {
  const stream = core.transport.stream;
  for await (const chunk of formatInWorkers(plan)) {
    digests.read(chunk.mark);
    const body = chunk.body;
    // Rows over the size limit and records the receiver cannot take, in registry order.
    const out = [...chunk.setAside, ...chunk.refused].sort((a, b) => a.rowid - b.rowid);
    const settled = chunk.count + out.length;
    core.metrics?.read(settled);
    if (out.length > 0 && !hasDeadLetters) {
      // Without a dead-letter file the export stops at the first of them, with the records before it written.
      const first = out[0]!;
      if (first.line > 0) {
        await core.sendChunk(body.subarray(0, first.at), first.line, first.before);
        core.settledChunk(first.before, first.line);
      }
    } else if (chunk.count > 0) {
      await core.sendChunk(body, chunk.count, chunk.lastRowid);
    }
    for (const row of out) {
      if ('record' in row) {
        // Only a stream's threads leave records out.
        const why = stream!.refusal(row.record);
        core.refuse({ rowid: row.rowid, event_id: row.eventId, registry_id: plan.registryId, record: row.record, bytes: Buffer.byteLength(row.record) }, why.status, why.error);
      } else {
        core.setAsideNow(row, plan.registryId);
      }
    }
    // A range that held no row leaves the checkpoint at the last row read: its end has no row, so no digest, and
    // the next start reads past an empty range as fast as this one did.
    if (settled > 0) core.settledChunk(chunk.lastRowid, settled);
    if (core.stopping) break;
  }
}
