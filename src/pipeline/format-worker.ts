/**
 * One formatting worker: reads rowid ranges of the registry on its own read-only connection, formats each row
 * and answers with the range as a buffer of JSON lines. Rows are read and formatted as on the main thread
 * (event-rows.ts, the same record spec), so the output is byte for byte what a single-threaded export writes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { blankEventJson } from '../records/formats/fields.js';
import type { JsonFormatter } from '../records/formats/index.js';
import { recordFormatter, type RecordSpec } from '../records/spec.js';
import { eventOf, readEventRows } from './event-rows.js';
import { OversizeRow } from '../registry/rows.js';
import { PAGE_SIZE, RegistrySource } from '../registry/source.js';

export interface WorkerSetup {
  db: string;
  registryId: string;
  /** How records are made (format, envelope, privacy): the same spec the main thread formats with. */
  spec: RecordSpec;
  since: number | null;
  /** Also return each record's rowid and event id, for exports that batch records for a SIEM. */
  records: boolean;
  /** Rows over this many stored bytes are not read, only reported (see rows.ts). */
  maxRowBytes: number;
}

/** A row over the size limit, reported in place of its line. */
export interface SetAsideRow {
  rowid: number;
  eventId: string;
  bytes: number;
  limit: number;
  /** The number of lines of the range written before it. */
  line: number;
  /** The rowid of the row before it (or the range's start): how far a checkpoint may go without it. */
  before: number;
}

export interface RangeRequest {
  seq: number;
  after: number;
  upTo: number;
  /** A buffer this worker sent earlier, handed back once written, to be filled again. */
  reuse?: ArrayBuffer;
}

export interface RangeResult {
  seq: number;
  /** The JSON lines are the first `length` bytes. */
  buffer: ArrayBuffer;
  length: number;
  count: number;
  lastRowid: number;
  /** With `records`: per line, its rowid. */
  rowids?: Float64Array;
  /**
   * With `records`: the event ids that are not their rowid spelled in decimal, by line. Every other line's event
   * id is its rowid, as on every row of the fast JSON read: thousands of strings per range are not cloned across.
   */
  otherIds?: Map<number, string>;
  /** Rows over the size limit, unformatted. */
  setAside: SetAsideRow[];
  /** The range was answered early: rows after `lastRowid` up to its end are still to be asked for. */
  more: boolean;
}

const setup = workerData as WorkerSetup;
const source = RegistrySource.open(setup.db, { maxRowBytes: setup.maxRowBytes });
const format: JsonFormatter = recordFormatter(setup.spec);
const fields = blankEventJson();
const spare: ArrayBuffer[] = [];
/** Lines are written to the buffer a few dozen at a time: fewer, longer copies out of the JS heap. */
const LINES_PER_WRITE = 32;
/** Text waiting for the buffer is written out beyond this many characters, whatever the number of lines. */
const TEXT_PER_WRITE = 1 << 20;
/**
 * A range answers early, and is asked again for the rest, once its buffer holds this much: ranges of large rows
 * (up to the row limit each) would otherwise make buffers of gigabytes.
 */
const BYTES_PER_ANSWER = 8 << 20;

parentPort!.on('message', (req: RangeRequest | null) => {
  if (req === null) {
    source.close();
    parentPort!.close();
    return;
  }
  if (req.reuse) spare.push(req.reuse);
  const reused = spare.pop();
  let buf = reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(2 << 20);
  let off = 0;
  let count = 0;
  let formatted = 0;
  let more = false;
  let lastRowid = req.after;
  const rowids: number[] = [];
  const otherIds = new Map<number, string>();
  const setAside: SetAsideRow[] = [];
  let text = '';
  let lines = 0;
  const flush = (): void => {
    // Three bytes per UTF-16 unit is the most UTF-8 can need.
    if (off + text.length * 3 > buf.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, off + text.length * 3));
      buf.copy(bigger, 0, 0, off);
      buf = bigger;
    }
    off += buf.write(text, off);
    text = '';
    lines = 0;
  };
  for (;;) {
    const rows = readEventRows(source, lastRowid, req.upTo, PAGE_SIZE, setup.since);
    for (const row of rows) {
      const e = eventOf(row, setup.registryId, fields);
      if (e instanceof OversizeRow) {
        setAside.push({ rowid: e.rowid, eventId: e.eventId, bytes: e.bytes, limit: e.limit, line: formatted, before: lastRowid });
        lastRowid = e.rowid;
        count++;
        continue;
      }
      text += format(e) + '\n';
      if (setup.records) {
        rowids.push(e.rowid);
        // A row of the JSON read has its rowid as its id (row-json.ts); only ordinary rows need the comparison.
        if (typeof row !== 'string' && e.eventId !== String(e.rowid)) otherIds.set(formatted, e.eventId);
      }
      formatted++;
      count++;
      if (++lines === LINES_PER_WRITE || text.length > TEXT_PER_WRITE) flush();
      lastRowid = e.rowid;
      if (off > BYTES_PER_ANSWER) break;
    }
    if (off > BYTES_PER_ANSWER && lastRowid < req.upTo) {
      more = true;
      break;
    }
    if (rows.length < PAGE_SIZE) break;
  }
  if (lines > 0) flush();
  // The whole buffer moves to the main thread without a copy and comes back with a later request.
  const buffer = buf.buffer as ArrayBuffer;
  const result: RangeResult = { seq: req.seq, buffer, length: off, count: formatted, lastRowid: more || count ? lastRowid : req.upTo, setAside, more };
  if (setup.records) {
    const ids = Float64Array.from(rowids);
    result.rowids = ids;
    if (otherIds.size > 0) result.otherIds = otherIds;
    parentPort!.postMessage(result, [buffer, ids.buffer]);
    return;
  }
  parentPort!.postMessage(result, [buffer]);
});
