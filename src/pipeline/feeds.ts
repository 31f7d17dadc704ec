/**
 * Feeds: where the core's records come from, each in registry order. The registry feed reads pages and formats
 * them (with `follow`, on and on); the threaded feed takes records formatted on worker threads; the records feed
 * takes records prepared elsewhere (a replay, a library caller). Formatting happens here, never in the core.
 */
import { fromRegistryValues } from '../event.js';
import { ExportError } from '../errors.js';
import type { RecordFormatter } from '../formatters/index.js';
import { formatInWorkers, type WorkerPlan } from '../format-workers.js';
import type { LogFields } from '../log.js';
import { PAGE_SIZE, type RegistrySource } from '../source.js';
import { pause, type Core, type PreparedRecord } from './core.js';

export interface RegistryFeedOptions {
  source: RegistrySource;
  registryId: string;
  formatter: RecordFormatter;
  since?: number | null;
  limit?: number | null;
  follow?: boolean;
  pollIntervalMs: number;
  flushIntervalMs: number;
  pageSize?: number;
  /** The state file, named in the message when the registry changed under a follow run. */
  stateFile?: string | null;
  log?: (message: string, fields?: LogFields) => void;
}

/** The registry, a page at a time, formatted here; with `follow`, on and on. */
export async function feedRegistry(core: Core, o: RegistryFeedOptions): Promise<void> {
  const source = o.source;
  const pageSize = o.pageSize ?? PAGE_SIZE;
  let cursor = core.lastRowid;
  let remaining = o.limit ?? Infinity;
  /** The digest of the last row read, to tell the same registry from a restored or rolled-back one. */
  let lastRead: { rowid: number; digest: string | null } | null = null;
  for (;;) {
    if (core.stopping) break;
    // Before every read, so no row of a registry that changed under us is read, let alone sent.
    if (o.follow) checkContinuity(o, cursor, lastRead);
    const rows = remaining > 0 ? source.readPage(cursor, Math.min(pageSize, remaining), o.since) : [];
    core.metrics?.read(rows.length);
    for (const row of rows) {
      if (core.stopping) break;
      const evt = fromRegistryValues(row, o.registryId);
      if (core.add({ rowid: evt.rowid, event_id: evt.event_id, registry_id: evt.registry_id, record: o.formatter(evt) })) {
        await core.flushFull();
      }
    }
    if (core.stopping) break;
    if (rows.length > 0) {
      cursor = Number(rows[rows.length - 1]![0]);
      if (o.follow) lastRead = { rowid: cursor, digest: source.rowDigest(cursor) };
    }
    remaining -= rows.length;
    const caughtUp = rows.length < pageSize;
    if (!o.follow) {
      if (caughtUp || remaining <= 0) break;
      continue;
    }
    if (remaining <= 0) break;
    await core.idle(o.flushIntervalMs, caughtUp);
    if (caughtUp) await pause(o.pollIntervalMs, core.stopSignal);
  }
}

/**
 * Follow mode, before each read: is the registry still the one read so far? A restore puts a new file at the
 * path (reopened here); a rollback loses rows. Either is fine only if the last row read is still there
 * unchanged, or was pruned with newer rows after it; otherwise rows would be skipped or sent twice unnoticed.
 * Rows are compared by digest, so an idle follower formats nothing.
 */
function checkContinuity(o: RegistryFeedOptions, cursor: number, lastRead: { rowid: number; digest: string | null } | null): void {
  const source = o.source;
  const change = source.refresh();
  if (change === 'replaced') o.log?.(`registry ${source.path} was replaced by a new file: reopened it`, { rowid: cursor });
  if (cursor === 0) return;
  const fix = `; if the registry was restored from a backup, check which events it lost, then move --state ${o.stateFile ?? 'FILE'} ` +
    'away to export it from the start (the SIEM may then hold some events twice), or restore the newer registry';
  const digest = source.rowDigest(cursor);
  if (digest === null) {
    const newest = source.maxRowid();
    if (newest >= cursor) return;
    throw new ExportError(`registry ${source.path} ends at rowid ${newest}, before rowid ${cursor} already read: it was rolled back${fix}`);
  }
  if (lastRead === null || lastRead.rowid !== cursor) return;
  if (digest !== lastRead.digest) {
    throw new ExportError(`registry ${source.path} holds another event at rowid ${cursor} than the one already read: it was replaced or rolled back${fix}`);
  }
}

/** Records formatted on worker threads for a SIEM: each chunk is cut into records and batched like any other. */
export async function feedThreaded(core: Core, plan: WorkerPlan): Promise<void> {
  for await (const chunk of formatInWorkers(plan)) {
    core.metrics?.read(chunk.count);
    const body = chunk.body;
    let start = 0;
    for (let i = 0; i < chunk.count; i++) {
      const end = body.indexOf(0x0a, start);
      const record = body.subarray(start, end);
      start = end + 1;
      if (core.add({ rowid: chunk.rowids![i]!, event_id: chunk.eventIds![i]!, registry_id: plan.registryId, record })) {
        await core.flushFull();
      }
    }
    if (core.stopping) break;
  }
}

/** Records prepared elsewhere: a replay, a library caller. */
export async function feedRecords(core: Core, records: Iterable<PreparedRecord>, limit?: number | null): Promise<void> {
  let remaining = limit ?? Infinity;
  for (const prepared of records) {
    if (remaining-- <= 0 || core.stopping) break;
    core.metrics?.read(1);
    if (core.add(prepared)) await core.flushFull();
  }
}
