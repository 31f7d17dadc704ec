/**
 * Feeds: where the core's records come from, each in registry order. The registry feed reads pages and formats
 * them (with `follow`, on and on); the threaded feed takes records formatted on worker threads; the records feed
 * takes records prepared elsewhere (a replay, a library caller). Formatting happens here, never in the core.
 */
import { ExportError } from '../shared/errors.js';
import { blankEventJson } from '../records/formats/fields.js';
import type { JsonFormatter } from '../records/formats/index.js';
import { eventOf, readEventPage, type EventRow, type RowMark } from './event-rows.js';
import { formatInWorkers, type WorkerPlan } from './format-workers.js';
import type { LogFields } from '../shared/log.js';
import { RegistryWait } from '../registry/wait.js';
import { OversizeRow, ROWID_START } from '../registry/rows.js';
import { PAGE_SIZE, RegistryBusy, RegistryTorn, type RegistrySource } from '../registry/source.js';
import { pause, type Core, type PreparedRecord } from './core.js';
import type { ReadDigests } from './read-digests.js';

export interface RegistryFeedOptions {
  source: RegistrySource;
  registryId: string;
  /** The record spec's formatter, over events as `eventOf` spells them. */
  formatter: JsonFormatter;
  since?: number | null;
  limit?: number | null;
  follow?: boolean;
  pollIntervalMs: number;
  flushIntervalMs: number;
  pageSize?: number;
  /** The state file, named in the message when the registry changed under a follow run. */
  stateFile?: string | null;
  /** How long a one-shot export waits out a writer's lock on the registry (follow mode waits as long as it takes). */
  lockWaitMs: number;
  log?: (message: string, fields?: LogFields) => void;
  /** Told the last row of each page as it was read, for the checkpoint. */
  digests?: ReadDigests;
}

/** How long a follower waits for a registry that reads as malformed to read whole again. */
export const TORN_WAIT_MS = 60_000;

/** The registry, a page at a time, formatted here; with `follow`, on and on. */
export async function feedRegistry(core: Core, o: RegistryFeedOptions): Promise<void> {
  const source = o.source;
  const pageSize = o.pageSize ?? PAGE_SIZE;
  let cursor = core.lastRowid;
  let remaining = o.limit ?? Infinity;
  /**
   * The last row read, digested in the same read as its page, to tell the same registry from a restored or
   * rolled-back one. Taken after the page was sent, it could be of a row written since, under the same rowid.
   */
  let lastRead: RowMark | null = null;
  const lock = new RegistryWait(o.log ?? (() => undefined), o.follow ? Infinity : o.lockWaitMs, o.pollIntervalMs, core.stopSignal);
  // A follower that reads a registry while a copy is written over it in place sees a torn file for as long as the
  // copy takes; a file still torn after TORN_WAIT_MS is broken, and the export stops on it as on any failed read.
  const torn = new RegistryWait(o.log ?? (() => undefined), TORN_WAIT_MS, o.pollIntervalMs, core.stopSignal, {
    waiting: 'waiting for it to read whole again (a copy written over it in place?)',
    fix: 'check the registry file, then start the export again',
    held: 'unreadable',
  });
  // Local outputs settle without I/O waits, so formatting would never let a signal in: give way every 50 ms.
  let breathe = performance.now() + 50;
  const fields = blankEventJson();
  for (;;) {
    if (core.stopping) break;
    let rows: EventRow[];
    let mark: RowMark | null = null;
    try {
      // Before every read, so no row of a registry that changed under us is read, let alone sent.
      if (o.follow) checkContinuity(o, cursor, lastRead);
      if (remaining > 0) ({ rows, mark } = readEventPage(source, cursor, Infinity, Math.min(pageSize, remaining), o.since ?? null));
      else rows = [];
    } catch (err) {
      if (err instanceof RegistryBusy) await lock.busy(err);
      else if (o.follow && err instanceof RegistryTorn) await torn.busy(err);
      else throw err;
      continue;
    }
    lock.clear();
    torn.clear();
    o.digests?.read(mark);
    core.metrics?.read(rows.length);
    let last = cursor;
    for (const row of rows) {
      if (core.stopping) break;
      const e = eventOf(row, o.registryId, fields);
      last = e.rowid;
      if (e instanceof OversizeRow) {
        await core.setAside(e, o.registryId);
        continue;
      }
      if (core.add({ rowid: e.rowid, event_id: e.eventId, registry_id: e.registryId, record: o.formatter(e) })) {
        await core.flushFull();
      }
      if (performance.now() > breathe) {
        await new Promise(setImmediate);
        breathe = performance.now() + 50;
      }
    }
    if (core.stopping) break;
    if (rows.length > 0) {
      cursor = last;
      lastRead = mark;
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
 * unchanged, or was pruned with newer rows after it or with rowids that are never given again (AUTOINCREMENT);
 * otherwise rows would be skipped or sent twice unnoticed. Rows are compared by digest, so an idle follower
 * formats nothing.
 */
function checkContinuity(o: RegistryFeedOptions, cursor: number, lastRead: RowMark | null): void {
  const source = o.source;
  const change = source.refresh();
  if (change === 'replaced') o.log?.(`registry ${source.path} was replaced by a new file: reopened it`, { rowid: cursor });
  // Nothing written since the last look: what was checked then still holds, and an idle follower costs nothing.
  if (cursor === ROWID_START || change === 'unchanged') return;
  const fix = `; if the registry was restored from a backup, check which events it lost, then move --state ${o.stateFile ?? 'FILE'} ` +
    'away to export it from the start (the SIEM may then hold some events twice), or restore the newer registry';
  const digest = source.rowDigest(cursor);
  if (digest === null) {
    const newest = source.maxRowid();
    if (newest >= cursor) return;
    // With AUTOINCREMENT no rowid up to the highest ever given is given again: the rows were pruned (a retention
    // job on a quiet registry), and new events come after them. A restored backup brings its own, lower, value.
    const assigned = source.lastAssigned();
    if (assigned !== null && assigned >= cursor) return;
    // Without AUTOINCREMENT, deleting the newest rows looks the same, and the next event would take a rowid already read.
    const why = assigned === null ? 'it was rolled back, or its newest events were deleted (its table has no AUTOINCREMENT, so new events would ' +
      'take rowids already read)' : 'it was rolled back';
    throw new ExportError(`registry ${source.path} ends at rowid ${newest}, before rowid ${cursor} already read: ${why}${fix}`);
  }
  if (lastRead === null || lastRead.rowid !== cursor) return;
  if (digest !== lastRead.digest) {
    throw new ExportError(`registry ${source.path} holds another event at rowid ${cursor} than the one already read: it was replaced or rolled back${fix}`);
  }
}

/** Records formatted on worker threads for a SIEM: each chunk is cut into records and batched like any other. */
export async function feedThreaded(core: Core, plan: WorkerPlan, digests: ReadDigests): Promise<void> {
  for await (const chunk of formatInWorkers(plan)) {
    digests.read(chunk.mark);
    const body = chunk.body;
    const aside = chunk.setAside;
    const rowids = chunk.rowids!;
    const otherIds = chunk.otherIds;
    core.metrics?.read(chunk.count + aside.length);
    let start = 0;
    let k = 0;
    for (let i = 0; i <= chunk.count; i++) {
      // Rows over the size limit come back unformatted, each before the line it preceded in the registry.
      while (k < aside.length && aside[k]!.line === i) await core.setAside(aside[k++]!, plan.registryId);
      if (i === chunk.count) break;
      const end = body.indexOf(0x0a, start);
      // Copied into the batch's body here: once the loop is past this chunk, nothing refers to its memory.
      const full = core.addLine(rowids[i]!, otherIds?.get(i) ?? null, plan.registryId, body, start, end);
      start = end + 1;
      if (full) await core.flushFull();
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
