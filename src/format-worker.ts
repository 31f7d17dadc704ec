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
}

export interface RangeRequest {
  seq: number;
  after: number;
  upTo: number;
}

export interface RangeResult {
  seq: number;
  body: Uint8Array;
  count: number;
  lastRowid: number;
}

const setup = workerData as WorkerSetup;
const source = RegistrySource.open(setup.db);
const format = createFormatter(setup.format, setup.splunk);
let buf = Buffer.allocUnsafe(4 << 20);

parentPort!.on('message', (req: RangeRequest | null) => {
  if (req === null) {
    source.close();
    parentPort!.close();
    return;
  }
  let off = 0;
  let count = 0;
  let lastRowid = req.after;
  for (;;) {
    const rows = source.readRange(lastRowid, req.upTo, PAGE_SIZE, setup.since);
    for (const row of rows) {
    const line = format(fromRegistryValues(row, setup.registryId));
    // Three bytes per UTF-16 unit is the most UTF-8 can need.
    if (off + line.length * 3 + 1 > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, off + line.length * 3 + 1));
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
  // A copy of exactly the used bytes is handed over, so the working buffer stays ours.
  const body = new Uint8Array(off);
  body.set(buf.subarray(0, off));
  const result: RangeResult = { seq: req.seq, body, count, lastRowid: count ? lastRowid : req.upTo };
  parentPort!.postMessage(result, [body.buffer]);
});
