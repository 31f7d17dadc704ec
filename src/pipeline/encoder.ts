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
  /** Per-record framing, computed once when the entry is made (the `_bulk` action line). */
  frame?(entry: Omit<Entry, 'bytes' | 'frame'>): string;
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

/** Make an entry, counting its bytes once: frame, record, terminator and the separator before it. */
export function makeEntry(encoder: Encoder, base: Omit<Entry, 'bytes' | 'frame'>): Entry {
  const entry = base as Entry;
  const r = base.record;
  let bytes = (typeof r === 'string' ? Buffer.byteLength(r) : r.length) + encoder.terminator.length + encoder.separator.length;
  if (encoder.frame) {
    entry.frame = encoder.frame(base);
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
    off += typeof e.record === 'string' ? buf.write(e.record, off) : e.record.copy(buf, off);
    if (encoder.terminator) off += buf.write(encoder.terminator, off, 'latin1');
  }
  off += buf.write(encoder.close, off, 'latin1');
  return off === buf.length ? buf : buf.subarray(0, off);
}
