/**
 * What a formatting thread does: reads rowid ranges of the registry on its own read-only connection, formats each
 * row and answers with the range as a buffer of JSON lines. Rows are read and formatted as on the main thread
 * (event-rows.ts, the same record spec), so the output is byte for byte what a single-threaded export writes.
 * A worker thread runs it (format-worker.ts); so can the export's own thread, between its writes (in-thread.ts).
 */
import { blankEventJson } from '../records/formats/fields.js';
import type { JsonFormatter } from '../records/formats/index.js';
import { recordFormatter, type RecordSpec } from '../records/spec.js';
import { eventOf, readEventPage, readEventRows, type EventRow, type RowMark } from './event-rows.js';
import { OversizeRow } from '../registry/rows.js';
import { PAGE_SIZE, RegistryBusy, RegistrySource } from '../registry/source.js';

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
  /** Frame each record for a byte-stream transport (transport.ts, StreamFraming) instead of ending it with a newline. */
  stream: { framing: 'octet-counting' | 'lf'; maxMessage: number } | null;
  /**
   * How long each read waits for a writer's lock before the range is answered early with `busy`; opening the
   * registry too, so that a lock taken as the thread starts is waited out like one met later.
   */
  busyTimeoutMs: number;
}

/** A row over the size limit, reported in place of its line. */
export interface SetAsideRow {
  rowid: number;
  eventId: string;
  bytes: number;
  limit: number;
  /** The number of lines of the range written before it. */
  line: number;
  /** Where its line would have begun in the buffer: the bytes before it are the lines before it. */
  at: number;
  /** The rowid of the row before it (or the range's start): how far a checkpoint may go without it. */
  before: number;
}

/**
 * With `stream`: a record the receiver cannot take (over its message size, or a line break under LF framing),
 * left out of the buffer and returned as text for the transport to name the reason and dead-letter it.
 */
export interface RefusedRecord {
  rowid: number;
  eventId: string;
  record: string;
  line: number;
  at: number;
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
  /** With `stream`: records the receiver cannot take, unframed. */
  refused: RefusedRecord[];
  /**
   * The last row of the last page read for this answer, digested in the same read: the checkpoint's digest of
   * the rows as they were read (read-digests.ts). It may lie after `lastRowid` when the answer ended mid-page.
   */
  mark?: RowMark;
  /** The range was answered early: rows after `lastRowid` up to its end are still to be asked for. */
  more: boolean;
  /**
   * Set when the range was answered early because a writer holds the registry locked: why, in the words of the
   * main thread's own reads, so that the rest is asked for once the wait the main thread keeps says to.
   */
  busy?: string;
}

/**
 * What a thread is told first, before any range: a thread can be started before the export knows its settings
 * (format-thread.ts), so they come as a message rather than as its start-up data.
 */
export interface ThreadSetup {
  setup: WorkerSetup;
}

/** The answer to the setup: the thread has loaded and takes ranges now. */
export interface ThreadReady {
  ready: true;
}

/** Lines are written to the buffer a few dozen at a time: fewer, longer copies out of the JS heap. */
const LINES_PER_WRITE = 32;
/** Text waiting for the buffer is written out beyond this many characters, whatever the number of lines. */
const TEXT_PER_WRITE = 1 << 20;
/**
 * A range answers early, and is asked again for the rest, once its buffer and the records it left out for the
 * receiver hold this much: ranges of large rows (up to the row limit each) would otherwise make answers of gigabytes.
 */
const BYTES_PER_ANSWER = 8 << 20;

/** Decimal digits of a positive integer. */
function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** An answer, with the buffers it hands over (a worker transfers them; the same thread keeps them). */
export type Reply = (answer: RangeResult | ThreadReady, transfer: ArrayBuffer[]) => void;

/**
 * A formatting thread's handler for its messages: the setup, then ranges, then null to close. Its state — the
 * connection, the formatter, the buffers handed back — lives with the handler.
 */
export function rangeFormatter(reply: Reply, close: () => void): (req: ThreadSetup | RangeRequest | null) => void {
  let setup: WorkerSetup;
  /**
   * The thread's connection, opened at its first range: a writer's lock met while opening answers that range with
   * `busy`, as a lock met by a read does, and the next range tries again.
   */
  let source: RegistrySource | null = null;
  const open = (): RegistrySource =>
    (source ??= RegistrySource.open(setup.db, { maxRowBytes: setup.maxRowBytes, openBusyTimeoutMs: setup.busyTimeoutMs, busyTimeoutMs: setup.busyTimeoutMs }));
  let format: JsonFormatter;
  const fields = blankEventJson();
  let stream: WorkerSetup['stream'] = null;
  let octets = false;
  const spare: ArrayBuffer[] = [];

  return (req: ThreadSetup | RangeRequest | null): void => {
    if (req !== null && 'setup' in req) {
      setup = req.setup;
      format = recordFormatter(setup.spec);
      stream = setup.stream;
      octets = stream?.framing === 'octet-counting';
      reply({ ready: true } satisfies ThreadReady, []);
      return;
    }
    if (req === null) {
      source?.close();
      close();
      return;
    }
    if (req.reuse) spare.push(req.reuse);
    const reused = spare.pop();
    let buf = reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(2 << 20);
    let off = 0;
    let count = 0;
    let formatted = 0;
    let more = false;
    let busy: string | undefined;
    let lastRowid = req.after;
    let mark: RowMark | null = null;
    /** UTF-16 units of the refused records held for the answer: they count toward its size like written bytes. */
    let refusedUnits = 0;
    const rowids: number[] = [];
    const otherIds = new Map<number, string>();
    const setAside: SetAsideRow[] = [];
    const refused: RefusedRecord[] = [];
    let text = '';
    let lines = 0;
    const room = (bytes: number): void => {
      if (off + bytes <= buf.length) return;
      const bigger = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, off + bytes));
      buf.copy(bigger, 0, 0, off);
      buf = bigger;
    };
    const flush = (): void => {
      // Three bytes per UTF-16 unit is the most UTF-8 can need.
      room(text.length * 3);
      off += buf.write(text, off);
      text = '';
      lines = 0;
    };
    /**
     * `MSG-LEN SP MSG`, written straight into the buffer; false, with nothing written, for a record over the
     * receiver's size. Its byte count is known once it is written: room is left for as many digits as it has UTF-16
     * units (it has at least as many bytes, and at most three times as many: one digit more), and in the rare case
     * of one digit more the record moves up a byte.
     */
    const octetFrame = (record: string): boolean => {
      const guess = digits(record.length);
      room(guess + 2 + record.length * 3);
      const at = off + guess + 1;
      const n = buf.write(record, at);
      if (n > stream!.maxMessage) return false;
      const d = digits(n);
      if (d !== guess) buf.copyWithin(off + d + 1, at, at + n);
      for (let i = d - 1, v = n; i >= 0; i--, v = Math.floor(v / 10)) buf[off + i] = 48 + (v % 10);
      buf[off + d] = 0x20;
      off += d + 1 + n;
      return true;
    };
    /** Under LF framing, whether the receiver can take the record: one line, within its size. */
    const oneLine = (record: string): boolean =>
      (record.length * 3 <= stream!.maxMessage || Buffer.byteLength(record) <= stream!.maxMessage) && record.indexOf('\n') < 0;
    const full = (): boolean => off + refusedUnits > BYTES_PER_ANSWER;
    for (;;) {
      let rows: EventRow[];
      try {
        // Only the answer's last row needs its digest as read (the checkpoint moves to it): the page that reaches
        // the range's end is read with it, in one read transaction; the pages before it cost nothing extra.
        if (req.upTo - lastRowid <= PAGE_SIZE) {
          const page = readEventPage(open(), lastRowid, req.upTo, PAGE_SIZE, setup.since);
          rows = page.rows;
          mark = page.mark ?? mark;
        } else {
          rows = readEventRows(open(), lastRowid, req.upTo, PAGE_SIZE, setup.since);
        }
      } catch (err) {
        // A writer's lock: what is done goes back now, and the main thread waits it out before asking for the rest.
        if (!(err instanceof RegistryBusy)) throw err;
        busy = err.message;
        more = true;
        break;
      }
      for (const row of rows) {
        const e = eventOf(row, setup.registryId, fields);
        if (e instanceof OversizeRow) {
          if (lines > 0) flush();
          setAside.push({ rowid: e.rowid, eventId: e.eventId, bytes: e.bytes, limit: e.limit, line: formatted, at: off, before: lastRowid });
          lastRowid = e.rowid;
          count++;
          continue;
        }
        const record = format(e);
        if (stream !== null && !(octets ? octetFrame(record) : oneLine(record))) {
          if (lines > 0) flush();
          refused.push({ rowid: e.rowid, eventId: e.eventId, record, line: formatted, at: off, before: lastRowid });
          refusedUnits += record.length;
          lastRowid = e.rowid;
          count++;
          if (full()) break;
          continue;
        }
        if (!octets) text += record + '\n';
        if (setup.records) {
          rowids.push(e.rowid);
          // A row of the JSON read has its rowid as its id (row-json.ts); only ordinary rows need the comparison.
          if (typeof row !== 'string' && e.eventId !== String(e.rowid)) otherIds.set(formatted, e.eventId);
        }
        formatted++;
        count++;
        if (!octets && (++lines === LINES_PER_WRITE || text.length > TEXT_PER_WRITE)) flush();
        lastRowid = e.rowid;
        if (full()) break;
      }
      if (full() && lastRowid < req.upTo) {
        more = true;
        break;
      }
      if (rows.length < PAGE_SIZE) break;
    }
    if (lines > 0) flush();
    // An answer that ended before its range's last page (rowids with gaps, an answer cut short by its size) has no
    // mark at or after its last row yet: that row's digest is read now, moments after the row itself.
    if (count > 0 && (mark === null || mark.rowid < lastRowid) && busy === undefined) {
      try {
        const digest = open().snapshot(() => open().rowDigest(lastRowid));
        if (digest !== null) mark = { rowid: lastRowid, digest };
      } catch (err) {
        if (!(err instanceof RegistryBusy)) throw err;
      }
    }
    // The whole buffer moves to the main thread without a copy and comes back with a later request.
    const buffer = buf.buffer as ArrayBuffer;
    const result: RangeResult = {
      seq: req.seq, buffer, length: off, count: formatted, lastRowid: more || count ? lastRowid : req.upTo, setAside, refused, more,
      ...(busy === undefined ? {} : { busy }), ...(mark === null ? {} : { mark }),
    };
    if (setup.records) {
      const ids = Float64Array.from(rowids);
      result.rowids = ids;
      if (otherIds.size > 0) result.otherIds = otherIds;
      reply(result, [buffer, ids.buffer]);
      return;
    }
    reply(result, [buffer]);
  };
}
