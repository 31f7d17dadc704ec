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
  /** The formatted record, one JSON object as text. */
  record: string;
  /** Per-record framing that precedes it (the `_bulk` action line), if the encoder uses one. */
  frame?: string;
  /** Bytes this entry adds to a body: record, frame and separators. */
  bytes: number;
}

export interface Encoder {
  readonly name: string;
  /** Bytes a body carries beyond its entries (brackets). */
  readonly bodyOverhead: number;
  /** Bytes each entry carries beyond its record and frame (separator or newline). */
  readonly entryOverhead: number;
  /** Per-record framing, computed once when the entry is made. */
  frame?(entry: Omit<Entry, 'bytes' | 'frame'>): string;
  encode(entries: readonly Entry[]): string;
}

/** One JSON object per line: stdout, files, and anything that tails them. */
export const jsonLinesEncoder: Encoder = {
  name: 'json-lines',
  bodyOverhead: 0,
  entryOverhead: 1,
  encode(entries) {
    let out = '';
    for (const e of entries) out += e.record + '\n';
    return out;
  },
};

/** A JSON array: the reference's generic POST, Sentinel's Data Collector API and Azure's Logs Ingestion API. */
export const jsonArrayEncoder: Encoder = {
  name: 'json-array',
  bodyOverhead: 2,
  entryOverhead: 1,
  encode(entries) {
    let out = '[';
    for (let i = 0; i < entries.length; i++) out += (i === 0 ? '' : ',') + entries[i]!.record;
    return out + ']';
  },
};

/** Splunk HEC batches: envelopes back to back, no array and no commas. */
export const hecEncoder: Encoder = {
  name: 'hec',
  bodyOverhead: 0,
  entryOverhead: 0,
  encode(entries) {
    let out = '';
    for (const e of entries) out += e.record;
    return out;
  },
};

/** Elasticsearch `_bulk` NDJSON: an action line before each document, and a newline after the last line. */
export function bulkEncoder(action: (entry: Omit<Entry, 'bytes' | 'frame'>) => string): Encoder {
  return {
    name: 'bulk-ndjson',
    bodyOverhead: 0,
    entryOverhead: 2,
    frame: action,
    encode(entries) {
      let out = '';
      for (const e of entries) out += e.frame + '\n' + e.record + '\n';
      return out;
    },
  };
}

/** Make an entry, counting its bytes once. */
export function makeEntry(encoder: Encoder, base: Omit<Entry, 'bytes' | 'frame'>): Entry {
  const entry = base as Entry;
  let bytes = Buffer.byteLength(base.record) + encoder.entryOverhead;
  if (encoder.frame) {
    entry.frame = encoder.frame(base);
    bytes += Buffer.byteLength(entry.frame);
  }
  entry.bytes = bytes;
  return entry;
}
