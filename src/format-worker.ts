/**
 * One formatting worker: reads rowid ranges of the registry on its own read-only connection, formats each row
 * and answers with the range as a buffer of JSON lines. Runs the same source and formatter code as the main
 * thread, so its output is byte for byte what a single-threaded export writes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { fromRegistryValues } from './event.js';
import { createFormatter, type SplunkHecOptions } from './formatters/index.js';
import { PAGE_SIZE, RegistrySource } from './source.js';

export interface WorkerSetup {
  db: string;
  registryId: string;
  format: string;
  splunk: SplunkHecOptions;
  since: number | null;
  /** Also return each record's rowid and event id, for exports that batch records for a SIEM. */
  records: boolean;
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
  /** With `records`: per line, its rowid and its event id. */
  rowids?: Float64Array;
  eventIds?: string[];
}

const setup = workerData as WorkerSetup;
const source = RegistrySource.open(setup.db);
const format = createFormatter(setup.format, setup.splunk);
const spare: ArrayBuffer[] = [];

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
  let lastRowid = req.after;
  const rowids: number[] = [];
  const eventIds: string[] = [];
  for (;;) {
    const rows = source.readRange(lastRowid, req.upTo, PAGE_SIZE, setup.since);
    for (const row of rows) {
    const evt = fromRegistryValues(row, setup.registryId);
    const line = format(evt);
    if (setup.records) {
      rowids.push(evt.rowid);
      eventIds.push(evt.event_id);
    }
    // Three bytes per UTF-16 unit is the most UTF-8 can need.
    if (off + line.length * 3 + 1 > buf.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, off + line.length * 3 + 1));
      buf.copy(bigger, 0, 0, off);
      buf = bigger;
    }
    off += buf.write(line, off);
    buf[off++] = 0x0a;
    lastRowid = Number(row[0]);
    }
    count += rows.length;
    if (rows.length < PAGE_SIZE) break;
  }
  // The whole buffer moves to the main thread without a copy and comes back with a later request.
  const buffer = buf.buffer as ArrayBuffer;
  const result: RangeResult = { seq: req.seq, buffer, length: off, count, lastRowid: count ? lastRowid : req.upTo };
  if (setup.records) {
    const ids = Float64Array.from(rowids);
    result.rowids = ids;
    result.eventIds = eventIds;
    parentPort!.postMessage(result, [buffer, ids.buffer]);
    return;
  }
  parentPort!.postMessage(result, [buffer]);
});
