/**
 * An export run, end to end: a feed (registry pages, worker threads, or prepared records) → the core (batches,
 * delivery, checkpoint). This file only picks the feed.
 */
import { DEFAULTS } from '../shared/defaults.js';
import { parseDuration } from '../shared/options.js';
import { formatHere, workersWorthIt, type WorkerPlan } from './format-workers.js';
import { dropPrestarted } from './format-thread.js';
import { recordFormatter, type RecordSpec } from '../records/spec.js';
import { PAGE_SIZE, RegistryBusy, type RegistrySource } from '../registry/source.js';
import { Core, type CoreOptions, type PipelineResult, type PreparedRecord } from './core.js';
import { feedRecords, feedRegistry, feedThreaded } from './feeds.js';
import { ReadDigests } from './read-digests.js';
import { RegistryWait } from '../registry/wait.js';
import { copyChunks } from './chunk-copy.js';

export type { PipelineResult, PreparedRecord } from './core.js';

/** What every run gives the core (its digest and start come from the feed), and how many records at most. */
interface Common extends Omit<CoreOptions, 'digest' | 'startRowid'> {
  limit?: number | null;
}

export interface RegistryRun extends Common {
  source: RegistrySource;
  registryId: string;
  /** How each record is made (format, envelope, privacy): formatted by the feed, here or on worker threads. */
  spec: RecordSpec;
  since?: number | null;
  follow?: boolean;
  pollIntervalMs?: number;
  flushIntervalMs?: number;
  pageSize?: number;
  /**
   * Lets a large backlog be read and formatted on worker threads (same records, same order, same checkpoints):
   * the registry file they open, and how many (null: decide by the backlog and the cores; 1: none). Not used
   * with `follow` or `limit`.
   */
  threads?: { db: string; count: number | null } | null;
}

export interface RecordsRun extends Common {
  source: Iterable<PreparedRecord>;
}

export type PipelineOptions = RegistryRun | RecordsRun;

const LOCAL = new Set(['stdout', 'file']);

export async function runPipeline(o: PipelineOptions): Promise<PipelineResult> {
  if (!isRegistryRun(o)) {
    const core = new Core(o);
    return core.finish(feedRecords(core, o.source, o.limit));
  }
  // The checkpoint keeps the digest of its row as it was read, which the feeds note page by page.
  const digests = new ReadDigests(o.source);
  const core = new Core({ ...o, digest: (rowid) => digests.at(rowid) });
  const plan = threadPlanUnlessLocked(o, core.lastRowid, core.stopSignal);
  // A large backlog's first chunk is ready within milliseconds: the connection is made meanwhile, not after it.
  if (plan) o.transport.connectAhead?.();
  // A file, stdout or a byte stream takes the threads' chunks whole; other SIEMs batch each record here.
  if (plan && !plan.records) return core.finish(copyChunks(core, plan, !!o.deadLetter, digests));
  if (plan) return core.finish(feedThreaded(core, plan, digests));
  // A thread the command's entry started in case the export wanted one is ended (format-thread.ts).
  dropPrestarted();
  return core.finish(
    feedRegistry(core, {
      source: o.source, registryId: o.registryId, formatter: recordFormatter(o.spec), since: o.since ?? null, limit: o.limit ?? null,
      follow: o.follow ?? false, pollIntervalMs: o.pollIntervalMs ?? parseDuration(DEFAULTS.pollInterval, '--poll-interval'),
      flushIntervalMs: o.flushIntervalMs ?? parseDuration(DEFAULTS.flushInterval, '--flush-interval'),
      ...(o.pageSize ? { pageSize: o.pageSize } : {}), stateFile: o.checkpoint?.file ?? null, ...(o.log ? { log: o.log } : {}),
      lockWaitMs: o.retry.maxDurationMs, digests,
    }),
  );
}

function isRegistryRun(o: PipelineOptions): o is RegistryRun {
  return typeof (o.source as RegistrySource).readPage === 'function';
}

/** The plan, or none while a writer holds the registry locked: this thread then reads, waiting the lock out. */
function threadPlanUnlessLocked(o: RegistryRun, after: number, stop: AbortSignal | undefined): WorkerPlan | null {
  try {
    return threadPlan(o, after, stop);
  } catch (err) {
    if (err instanceof RegistryBusy) return null;
    throw err;
  }
}

/** Whether a backlog is large enough for worker threads, and the plan for them. */
function threadPlan(o: RegistryRun, after: number, stop: AbortSignal | undefined): WorkerPlan | null {
  if (!o.threads || o.follow || (o.limit ?? null) !== null) return null;
  const b = o.source.bounds();
  if (b === null || b.last <= after) return null;
  // From just before the first row left.
  const from = Math.max(after, b.first - 1);
  const span = b.last - from;
  const local = LOCAL.has(o.transport.name);
  // A file, stdout or a byte stream takes the formatted chunks whole; other SIEMs batch each record here.
  const chunks = local || !!o.transport.stream;
  // The automatic choice formats in ranges on this thread where it takes no worker (formatHere); a count names
  // worker threads, and `--threads 1` formats record by record.
  const auto = o.threads.count === null ? workersWorthIt(span, local, undefined, o.transport.stream?.receiverHere ?? false) : null;
  const inThread = auto !== null && formatHere(span, chunks, auto);
  const workers = inThread ? 1 : o.threads.count ?? auto!;
  // Threads split rowids into ranges, which pays only where rowids are dense: a span far beyond what the file can
  // hold is sparse for sure. Counting the rows instead would read the whole table once more before the first
  // record; this bound costs nothing, and the empty ranges it can let through are bounded by the file's size.
  // A count of one asks for no thread (`--threads 1`); only the automatic choice takes a single one.
  if (workers < 1 || (workers === 1 && o.threads.count !== null) || (span > 4 * PAGE_SIZE && span > 4 * o.source.rowsAtMost())) return null;
  return {
    db: o.threads.db, spec: o.spec, registryId: o.registryId, since: o.since ?? null, afterRowid: from, endRowid: b.last, workers, inThread,
    // A byte stream's chunks are framed on the threads.
    records: !chunks, stream: o.transport.stream ?? null, maxRowBytes: o.source.maxRowBytes,
    // A one-shot export waits out a writer's lock for as long as it retries a batch, whichever thread meets it.
    lockWait: new RegistryWait(o.log ?? (() => undefined), o.retry.maxDurationMs,
      o.pollIntervalMs ?? parseDuration(DEFAULTS.pollInterval, '--poll-interval'), stop),
  };
}
