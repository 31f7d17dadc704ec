/**
 * Framing of formatted records into one request body (or one file write). Records arrive as JSON text, so
 * framing is string joining; each encoder also says how many bytes it adds, which the batcher counts.
 */

/** One formatted event on its way to a SIEM. */
export interface Entry {
  /** Registry rowid: what the checkpoint records once this entry is settled. */
  rowid: number;
  event_id: string;
  registry_id: string;
  /** The formatted record, one JSON object, as text or as its UTF-8 bytes (from a formatting thread). */
  record: string | Buffer;
  /** Per-record framing that precedes it (the `_bulk` action line), if the encoder uses one. */
  frame?: string;
  /** Bytes this entry adds to a body: record, frame and separators. */
  bytes: number;
}

export interface Encoder {
  readonly name: string;
  /** Written before the first entry and after the last (JSON array brackets). */
  readonly open: string;
  readonly close: string;
  /** Between two entries. */
  readonly separator: string;
  /** After each record (newline). */
  readonly terminator: string;
  /** Per-record framing, computed once when the entry is made (the `_bulk` action line); `bytes` is the record's size. */
  frame?(entry: Omit<Entry, 'bytes' | 'frame'>, bytes: number): string;
}

/** Bytes a body carries beyond its entries. */
export function bodyOverhead(e: Encoder): number {
  return e.open.length + e.close.length - e.separator.length;
}

/** One JSON object per line: stdout, files, and anything that tails them. */
export const jsonLinesEncoder: Encoder = { name: 'json-lines', open: '', close: '', separator: '', terminator: '\n' };

/** A JSON array: the reference's generic POST, Sentinel's Data Collector API and Azure's Logs Ingestion API. */
export const jsonArrayEncoder: Encoder = { name: 'json-array', open: '[', close: ']', separator: ',', terminator: '' };

/** Splunk HEC batches: envelopes back to back, no array and no commas. */
export const hecEncoder: Encoder = { name: 'hec', open: '', close: '', separator: '', terminator: '' };

/** Elasticsearch `_bulk` NDJSON: an action line before each document, and a newline after the last line. */
export function bulkEncoder(action: (entry: Omit<Entry, 'bytes' | 'frame'>) => string): Encoder {
  return { name: 'bulk-ndjson', open: '', close: '', separator: '', terminator: '\n', frame: (e) => action(e) + '\n' };
}

/**
 * An entry whose record is a span of a larger buffer, so no Buffer is made per record: a line of a formatted
 * chunk (or a record's text) until a body writer copies it, and from then on its copy in the request body, so
 * the chunk's memory, or the text, is free again once written. Records held as text until their batch settled
 * outlived two young-generation collections and were promoted, which doubled the heap of a single-threaded
 * export. `record` is made only when something reads it (a split, a dead letter).
 */
export class SpanEntry implements Entry {
  frame?: string = undefined;
  /** Set by delivery (see SettledEntry); declared here so every entry keeps one shape. */
  settled?: boolean = undefined;
  /** The record as text, until a body writer has copied it (`length` is its size in UTF-8). */
  text: string | null = null;

  constructor(
    readonly rowid: number,
    /** The event id, or null where it is the rowid in decimal (made only when something reads it). */
    private readonly id: string | null,
    readonly registry_id: string,
    /** Where the record lies: `length` bytes from `at` in `source` (-1 for text not yet counted: see makeTextEntry). */
    public source: Buffer,
    public at: number,
    public length: number,
    public bytes: number,
  ) {}

  get event_id(): string {
    return this.id ?? String(this.rowid);
  }

  get record(): string | Buffer {
    return this.text ?? this.source.subarray(this.at, this.at + this.length);
  }
}

const NO_BYTES = Buffer.alloc(0);

/** An entry for the line `start`..`end` of `source`, with its bytes counted as `makeEntry` counts them. */
export function makeSpanEntry(encoder: Encoder, rowid: number, eventId: string | null, registryId: string, source: Buffer, start: number, end: number): SpanEntry {
  const length = end - start;
  const entry = new SpanEntry(rowid, eventId, registryId, source, start, length, length + encoder.terminator.length + encoder.separator.length);
  if (encoder.frame) {
    entry.frame = encoder.frame(entry, length);
    entry.bytes += Buffer.byteLength(entry.frame);
  }
  return entry;
}

/** Text records up to this many UTF-16 units are sized by writing them (see makeTextEntry). */
const SIZED_BY_WRITING = 1 << 16;

/**
 * An entry for a record formatted as text. Its size in UTF-8 is left to the body writer, which learns it by
 * writing the record: counting it before would be a second pass over every record, 6% of a single-threaded ECS
 * export (measured). Until then `length` is -1 and `bytes` counts the record at three bytes per UTF-16 unit,
 * the most it can be; `countText` counts it exactly where a batch must know before the write. A record of over
 * 64K units is counted first, so that a body is never sized for three times a large record. So is any record
 * for an encoder with a frame (the `_bulk` action line), which is told the size up front, as `makeEntry` tells it.
 */
export function makeTextEntry(encoder: Encoder, prepared: Omit<Entry, 'bytes' | 'frame'> & { record: string }): SpanEntry {
  const text = prepared.record;
  const entry = encoder.frame || text.length > SIZED_BY_WRITING
    ? makeSpanEntry(encoder, prepared.rowid, prepared.event_id, prepared.registry_id, NO_BYTES, 0, Buffer.byteLength(text))
    : new SpanEntry(prepared.rowid, prepared.event_id, prepared.registry_id, NO_BYTES, 0, -1, 3 * text.length + encoder.terminator.length + encoder.separator.length);
  entry.text = text;
  return entry;
}

/** Count a text entry's size exactly, if it is still the upper bound of `makeTextEntry`. */
export function countText(e: Entry): void {
  if (e instanceof SpanEntry && e.length < 0) settleLength(e, Buffer.byteLength(e.text!));
}

function settleLength(e: SpanEntry, length: number): void {
  e.bytes += length - 3 * e.text!.length;
  e.length = length;
}

/** The size of an entry's record in bytes, without making a view of it. */
export function recordBytes(e: Entry): number {
  if (e instanceof SpanEntry) {
    countText(e);
    return e.length;
  }
  const r = e.record;
  return typeof r === 'string' ? Buffer.byteLength(r) : r.length;
}

/** Copy an entry's record into `buf` at `off`, from wherever it lies; returns the bytes written. */
export function writeRecord(buf: Buffer, off: number, e: Entry): number {
  if (e instanceof SpanEntry) return e.text !== null ? buf.write(e.text, off) : e.source.copy(buf, off, e.at, e.at + e.length);
  const r = e.record;
  return typeof r === 'string' ? buf.write(r, off) : r.copy(buf, off);
}

/**
 * Write a short frame or separator. Most are a few ASCII characters (a length and a space), for which a loop is
 * cheaper than a call into the encoder; anything else is written the ordinary way.
 */
function writeShort(buf: Buffer, off: number, s: string): number {
  const n = s.length;
  if (n > 24) return buf.write(s, off);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return buf.write(s, off);
    buf[off + i] = c;
  }
  return n;
}

/** Make an entry, counting its bytes once: frame, record, terminator and the separator before it. */
export function makeEntry(encoder: Encoder, base: Omit<Entry, 'bytes' | 'frame'>): Entry {
  const entry = base as Entry;
  const r = base.record;
  const size = typeof r === 'string' ? Buffer.byteLength(r) : r.length;
  let bytes = size + encoder.terminator.length + encoder.separator.length;
  if (encoder.frame) {
    entry.frame = encoder.frame(base, size);
    bytes += Buffer.byteLength(entry.frame);
  }
  entry.bytes = bytes;
  return entry;
}

/**
 * The request body for these entries, written into one buffer of the exact size, so a batch of thousands of
 * records never becomes one giant string.
 */
export function encode(encoder: Encoder, entries: readonly Entry[]): Buffer {
  let size = encoder.open.length + encoder.close.length - (entries.length > 0 ? encoder.separator.length : 0);
  for (const e of entries) size += e.bytes;
  const buf = Buffer.allocUnsafe(Math.max(size, 0));
  let off = buf.write(encoder.open, 0, 'latin1');
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (i > 0 && encoder.separator) off += buf.write(encoder.separator, off, 'latin1');
    if (e.frame) off += buf.write(e.frame, off);
    off += writeRecord(buf, off, e);
    if (encoder.terminator) off += buf.write(encoder.terminator, off, 'latin1');
  }
  off += buf.write(encoder.close, off, 'latin1');
  return off === buf.length ? buf : buf.subarray(0, off);
}

/** Bodies under this size are not worth keeping a larger buffer for, nor shrinking into a copy. */
const MIN_BODY = 64 * 1024;

/**
 * A request body written as entries join the batch, so each record is copied once, straight from where it was
 * formatted, and the body is ready the moment the batch is: what `encode` makes of the same entries, byte for
 * byte. Span entries are pointed at their copy in the body, so nothing refers to the formatting chunk after it.
 */
export class BodyWriter {
  private buf: Buffer | null = null;
  private off = 0;
  private count = 0;
  /** The last body's size: the next one starts with room for about as much (never more than `maxBytes`). */
  private last = 0;
  /**
   * A body the SIEM has taken in full, to be filled again (see `reuse`). A fresh megabyte costs the kernel a
   * page fault per 4 KB on first write and V8 a collection now and then for the memory outside its heap: over
   * a million HEC events, copying into fresh bodies took four times as long as into one written before.
   */
  private spare: Buffer | null = null;

  constructor(private readonly encoder: Encoder, private readonly maxBytes: number) {}

  add(e: Entry): void {
    const enc = this.encoder;
    const need = this.off + e.bytes + enc.open.length + enc.close.length;
    if (this.buf === null) {
      const size = Math.max(need, Math.min(this.maxBytes + enc.open.length + enc.close.length, Math.max(MIN_BODY, 2 * this.last)));
      const spare = this.spare;
      this.spare = null;
      // A spare that held the last body is large enough for most next ones; one that is not grows as any body does.
      this.buf = spare !== null && spare.length >= Math.max(need, this.last) ? spare : Buffer.allocUnsafeSlow(size);
    } else if (need > this.buf.length) {
      // Earlier span entries keep pointing at the old buffer, whose bytes stay as they were.
      const bigger = Buffer.allocUnsafeSlow(Math.max(need, 2 * this.buf.length));
      this.buf.copy(bigger, 0, 0, this.off);
      this.buf = bigger;
    }
    const buf = this.buf;
    let off = this.off;
    if (this.count === 0) off += buf.write(enc.open, off, 'latin1');
    else if (enc.separator) off += writeShort(buf, off, enc.separator);
    if (e.frame) off += writeShort(buf, off, e.frame);
    const written = writeRecord(buf, off, e);
    off += written;
    if (e instanceof SpanEntry) {
      if (e.length < 0) settleLength(e, written);
      e.source = buf;
      e.at = off - e.length;
      e.text = null;
    }
    if (enc.terminator) off += writeShort(buf, off, enc.terminator);
    this.off = off;
    this.count++;
  }

  /** The body of the entries added since the last call (`entries` are those entries), and a fresh start. */
  take(entries: readonly Entry[]): Buffer {
    if (this.count === 0 || this.buf === null) return encode(this.encoder, []);
    const buf = this.buf;
    const size = this.off + buf.write(this.encoder.close, this.off, 'latin1');
    this.last = size;
    this.off = 0;
    this.count = 0;
    if (size * 4 >= buf.length || buf.length <= MIN_BODY) {
      this.buf = null;
      return size === buf.length ? buf : buf.subarray(0, size);
    }
    // A small batch in a large buffer (a timed flush): it gets a body of its own size, and the buffer is kept.
    const body = Buffer.allocUnsafeSlow(size);
    buf.copy(body, 0, 0, size);
    for (const e of entries) if (e instanceof SpanEntry && e.source === buf) e.source = body;
    return body;
  }

  /**
   * `body`, made by `take` for `entries`, is no longer needed: every entry settled and nothing is writing from it
   * (Delivery.bodyDone). Its memory is kept for the next body; the entries let go of it first, so none of them
   * can ever show another record's bytes.
   */
  reuse(body: Buffer, entries: readonly Entry[]): void {
    // The last entry lies in the buffer the body was taken from (earlier ones may lie in one it outgrew).
    const last = entries[entries.length - 1];
    const filled = last instanceof SpanEntry ? last.source : null;
    if (filled === null || filled.buffer !== body.buffer || filled.byteOffset !== 0 || filled === this.buf) return;
    for (const e of entries) if (e instanceof SpanEntry && e.source === filled) e.source = NO_BYTES;
    // One grown far past the batch limit for a single large record is let go: it would stay resident for the run.
    const usual = 2 * (this.maxBytes + this.encoder.open.length + this.encoder.close.length);
    if (filled.length > MIN_BODY && filled.length <= usual && (this.spare === null || filled.length > this.spare.length)) this.spare = filled;
  }
}
