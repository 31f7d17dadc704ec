/**
 * `siem verify` as a library call: walk the registry in rowid windows (one short read each), ask the
 * destination what it holds for each window, judge every event (and, where the destination can say, count the
 * copies it holds under this registry id that the registry does not), and keep only counts, capped id lists and a
 * running digest, so memory stays flat however many events there are. With `repair`, the missing events are
 * sent again through the ordinary pipeline (formats, batching, retries, dead letters; never a checkpoint) and
 * the range is verified again.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BatchLimits } from '../pipeline/batcher.js';
import type { DeadLetterFile } from '../pipeline/dead-letter.js';
import type { Entry } from '../pipeline/encoder.js';
import { ConfigurationError, ExportError } from '../shared/errors.js';
import { fromRegistryValues } from '../registry/event.js';
import type { RecordFormatter } from '../records/formats/index.js';
import type { PrivacySettings } from '../records/pseudonymize.js';
import type { LogFields } from '../shared/log.js';
import { runPipeline, type PreparedRecord } from '../pipeline/index.js';
import type { RetryOptions } from '../pipeline/retry.js';
import { OversizeRow, ROWID_START } from '../registry/rows.js';
import { rowidOf, type RegistrySource } from '../registry/source.js';
import { whileLocked } from '../registry/wait.js';
import type { Transport } from '../transports/transport.js';
import type { VerifyBackend } from './backend.js';
import { expectation, FAILING, judge, pseudonymInstead, type Verdict } from './compare.js';
import { NotInRegistry } from './others.js';

export type { Others, VerifyBackend } from './backend.js';
export { QueryError } from './backend.js';
export { PeriodicVerifier, registerVerifyGauges, type VerifyGauges } from './periodic.js';

export interface VerifyRange {
  /** First rowid to check (default: the first in the registry). */
  fromRowid?: number | null;
  /** Last rowid to check (default: the largest when the run starts). */
  toRowid?: number | null;
  /** Only events whose timestamp is at or after this Unix time. */
  since?: number | null;
  /** Only events whose timestamp is at or before this Unix time. */
  until?: number | null;
}

export interface RepairOptions {
  transport: Transport;
  formatter: RecordFormatter;
  limits: BatchLimits;
  retry: RetryOptions;
  deadLetter?: DeadLetterFile | null;
  /** Pause between sending and verifying again, for the SIEM to make the records searchable. */
  waitMs?: number;
}

export interface VerifyOptions {
  source: RegistrySource;
  registryId: string;
  backend: VerifyBackend;
  range?: VerifyRange;
  /** Events younger than this are "too recent to judge" when not found (default: the backend's). */
  settleMs?: number;
  /** Registry events per query (default 1000). */
  windowSize?: number;
  /** Ids kept per verdict for the report and output (default 1000); totals are always exact. */
  listCap?: number;
  repair?: RepairOptions | null;
  /**
   * The export's privacy rules, key read: a pseudonymized token is expected as the export wrote it. A repair's
   * formatter is to be made with the same rules, or it sends in clear what the export hid.
   */
  privacy?: PrivacySettings | null;
  now?: () => number;
  log?: (message: string, fields?: LogFields) => void;
  stop?: AbortSignal;
  /**
   * How long a read refused by a writer's lock is tried again, a moment at a time (see `whileLocked`), before the
   * run fails; 0 (the default) leaves the wait to the source's own busy timeout.
   */
  lockWaitMs?: number;
}

export interface VerifyCounts {
  expected: number;
  present: number;
  missing: number;
  duplicated: number;
  altered: number;
  failure_store: number;
  too_recent: number;
  /** Copies under this registry id whose event id the registry does not hold. */
  not_in_registry: number;
}

export interface VerifyResult {
  registryId: string;
  siem: string;
  target: string;
  range: { first_rowid: number | null; last_rowid: number | null; since: number | null; until: number | null };
  settleSeconds: number;
  counts: VerifyCounts;
  /** Event ids per failing or pending verdict, at most `listCap` each, in rowid order (not_in_registry: as found). */
  ids: { missing: string[]; duplicated: string[]; altered: string[]; failure_store: string[]; too_recent: string[]; not_in_registry: string[] };
  /** SHA-256 (hex) of every event id verified present once and unaltered, each followed by "\n", in rowid order. */
  verifiedSha256: string;
  /** Nothing missing, doubled, altered, in a failure store or not in the registry. */
  ok: boolean;
  repair?: { resent: number; dead_lettered: number; before: VerifyCounts };
  /** What the run saw that explains its verdicts and how to act on it, one line each (shown after the summary). */
  notes?: string[];
}

const PSEUDONYMS_UNASKED = "the SIEM holds pseudonyms (ps1:…) where the registry's tokens were expected";
const PSEUDONYMS_FIX = "give verify the export's --pseudonymize, --pseudonym-key-file and --ip-prefix";

const KEY: Record<Verdict, Exclude<keyof VerifyCounts, 'not_in_registry'>> = {
  present: 'present', missing: 'missing', duplicated: 'duplicated', altered: 'altered', 'failure-store': 'failure_store', 'too-recent': 'too_recent',
};

export async function runVerify(options: VerifyOptions): Promise<VerifyResult> {
  // Both passes of a repair cover the same rows, however the registry grows meanwhile.
  const o = { ...options, range: { ...options.range, toRowid: options.range?.toRowid ?? options.source.maxRowid() } };
  const spill = o.repair ? fs.mkdtempSync(path.join(os.tmpdir(), 'oversight-verify-')) : null;
  try {
    const missingFile = spill ? path.join(spill, 'missing') : null;
    const { pseudonymsUnasked, ...first } = await verifyPass(o, missingFile, null);
    // The export hid the tokens, and this run was not told how: every such event reads as altered, and what a
    // repair re-sent would carry them in clear.
    if (pseudonymsUnasked && o.repair && first.counts.missing > 0) throw new ConfigurationError(`${PSEUDONYMS_UNASKED}, so --repair sends nothing: ${PSEUDONYMS_FIX}`);
    if (!o.repair || first.counts.missing === 0) return pseudonymsUnasked ? { ...first, notes: [`${PSEUDONYMS_UNASKED}: ${PSEUDONYMS_FIX}`] } : first;
    const sent = await resend(o, o.repair, missingFile!);
    if (o.repair.waitMs) await new Promise((r) => setTimeout(r, o.repair!.waitMs));
    const { pseudonymsUnasked: _, ...second } = await verifyPass(o, null, { file: missingFile!, refused: sent.refused });
    return { ...second, repair: { resent: sent.exported, dead_lettered: sent.deadLettered, before: first.counts } };
  } finally {
    if (spill) fs.rmSync(spill, { recursive: true, force: true });
  }
}

/** What a repair sent: the spill file of rowids, less those the SIEM refused again (dead-lettered). */
interface Resent {
  file: string;
  refused: ReadonlySet<number>;
}

/** One pass over the range; `pseudonymsUnasked`: some copy holds a pseudonym where a clear token was expected. */
async function verifyPass(o: VerifyOptions, missingOut: string | null, resent: Resent | null): Promise<VerifyResult & { pseudonymsUnasked: boolean }> {
  const now = (o.now ?? Date.now)();
  const settleMs = o.settleMs ?? o.backend.settleMs;
  const settledBefore = (now - settleMs) / 1000;
  const pendingUntil = (now + settleMs) / 1000;
  const windowSize = o.windowSize ?? 1000;
  const cap = o.listCap ?? 1000;
  const range = o.range ?? {};
  const since = range.since ?? null;
  const until = range.until ?? null;
  const upTo = range.toRowid ?? o.source.maxRowid();
  const counts: VerifyCounts = { expected: 0, present: 0, missing: 0, duplicated: 0, altered: 0, failure_store: 0, too_recent: 0, not_in_registry: 0 };
  const ids: VerifyResult['ids'] = { missing: [], duplicated: [], altered: [], failure_store: [], too_recent: [], not_in_registry: [] };
  const digest = createHash('sha256');
  let firstRowid: number | null = null;
  let lastRowid: number | null = null;
  let after = range.fromRowid === null || range.fromRowid === undefined ? ROWID_START : range.fromRowid - 1;
  let missingFd: number | null = null;
  let wasResent: ReturnType<typeof sortedRowids> | null = null;
  // Copies not in the registry are looked for from the range's earliest second on, wherever its row is: with
  // registry times out of rowid order, the first window's oldest event is later, and older seconds went unasked.
  const from = since ?? (await whileLocked(() => o.source.earliestTime(after, upTo, until), o.lockWaitMs ?? 0, o.stop));
  const others = new NotInRegistry((list) => o.source.heldEventIds(list), cap, from);
  const expected = expectation(o.privacy ?? null);
  let pseudonymsUnasked = false;
  try {
    missingFd = missingOut ? fs.openSync(missingOut, 'w', 0o600) : null;
    wasResent = resent ? sortedRowids(resent.file) : null;
    await o.backend.open?.();
    while (after < upTo && !o.stop?.aborted) {
      const rows = await whileLocked(() => o.source.readRange(after, upTo, windowSize, since), o.lockWaitMs ?? 0, o.stop);
      if (rows.length === 0) break;
      after = rowidOf(rows[rows.length - 1]!);
      const window = [];
      for (const row of rows) {
        // A row over the export's size limit was never formatted: the SIEM should not hold it, and it is judged by id.
        if (row instanceof OversizeRow) {
          window.push({ rowid: row.rowid, eventId: row.eventId, registryId: o.registryId, token: null, file: null, time: 0 });
          continue;
        }
        const evt = fromRegistryValues(row, o.registryId);
        if (until === null || evt.occurred_unix <= until) window.push(expected(evt));
      }
      if (window.length === 0) continue;
      const found = await o.backend.lookup(window, others.forWindow(window));
      await whileLocked(() => others.flush(), o.lockWaitMs ?? 0, o.stop);
      for (const e of window) {
        const f = found.get(e.eventId);
        let v = judge(e, f, settledBefore, pendingUntil);
        if (v === 'altered' && !pseudonymsUnasked) pseudonymsUnasked = pseudonymInstead(e, f);
        // Sent again moments ago by --repair: not yet searchable is not yet known, not lost.
        if (v === 'missing' && wasResent?.has(e.rowid) && !resent!.refused.has(e.rowid)) v = 'too-recent';
        counts.expected++;
        counts[KEY[v]]++;
        firstRowid ??= e.rowid;
        lastRowid = e.rowid;
        if (v === 'present') digest.update(`${e.eventId}\n`);
        else {
          const list = ids[KEY[v] as keyof VerifyResult['ids']];
          if (list.length < cap) list.push(e.eventId);
          if (v === 'missing' && missingFd !== null) fs.writeSync(missingFd, `${e.rowid}\n`);
        }
      }
    }
  } finally {
    if (missingFd !== null) fs.closeSync(missingFd);
    wasResent?.close();
    await o.backend.close();
  }
  // Half a range is no verdict: a stopped check says so instead of reporting the part it saw as the whole.
  if (o.stop?.aborted) throw new ExportError('verification stopped before the end of the range');
  counts.not_in_registry = others.count;
  ids.not_in_registry = others.ids;
  return {
    registryId: o.registryId,
    siem: o.backend.name,
    target: o.backend.target,
    range: { first_rowid: firstRowid, last_rowid: lastRowid, since, until },
    settleSeconds: settleMs / 1000,
    counts,
    ids,
    verifiedSha256: digest.digest('hex'),
    ok: [...FAILING].every((v) => counts[KEY[v]] === 0) && counts.not_in_registry === 0,
    pseudonymsUnasked,
  };
}

/** Send the rows listed in `file` (rowids, ascending) through the ordinary pipeline, formatted as export does. */
async function resend(o: VerifyOptions, r: RepairOptions, file: string): Promise<{ exported: number; deadLettered: number; refused: Set<number> }> {
  const source = o.source;
  // Refused again means still missing: remember which, so the second pass does not call them "on their way".
  const refused = new Set<number>();
  const deadLetter = r.deadLetter
    ? Object.assign(Object.create(r.deadLetter) as DeadLetterFile, {
        write(entry: Entry, status: number, error: string): void {
          refused.add(entry.rowid);
          r.deadLetter!.write(entry, status, error);
        },
      })
    : null;
  let setAside = 0;
  const records = (function* (): Generator<PreparedRecord> {
    for (const rowid of readRowids(file)) {
      // Read as the export reads, under the row limit: a row over it was set aside then, and is again now, never
      // read whole into memory and sent.
      const [row] = source.readRange(rowid - 1, rowid, 1);
      if (row === undefined || rowidOf(row) !== rowid) continue;
      if (row instanceof OversizeRow) {
        if (!r.deadLetter) throw new ConfigurationError(row.stop);
        r.deadLetter.writeUnformatted({ rowid, event_id: row.eventId, registry_id: o.registryId }, 413, row.reason);
        refused.add(rowid);
        setAside++;
        continue;
      }
      const evt = fromRegistryValues(row, o.registryId);
      yield { rowid, event_id: evt.event_id, registry_id: o.registryId, record: r.formatter(evt) };
    }
  })();
  const result = await runPipeline({
    source: records, transport: r.transport, limits: r.limits, retry: r.retry,
    deadLetter, ...(o.log ? { log: o.log } : {}), ...(o.stop ? { stop: o.stop } : {}),
  });
  return { exported: result.exported, deadLettered: result.deadLettered + setAside, refused };
}

/** The rowids of a spill file, one a line, read a block at a time. */
function* readRowids(file: string): Generator<number> {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    let rest = '';
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const text = rest + buf.toString('latin1', 0, n);
      const lines = text.split('\n');
      rest = lines.pop()!;
      for (const l of lines) if (l) yield Number(l);
    }
    if (rest) yield Number(rest);
  } finally {
    fs.closeSync(fd);
  }
}

/** Membership for ascending rowids, walking the sorted spill file alongside the registry. */
function sortedRowids(file: string): { has(rowid: number): boolean; close(): void } {
  const it = readRowids(file);
  let head = it.next();
  return {
    close: () => void it.return(undefined),
    has(rowid: number): boolean {
      while (!head.done && head.value < rowid) head = it.next();
      return !head.done && head.value === rowid;
    },
  };
}
