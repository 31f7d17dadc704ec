/** Framing and size rules shared by the syslog transports: what goes around a message, and what cannot go at all. */
import { recordBytes, type Encoder, type Entry } from '../../pipeline/encoder.js';
import type { Rejection } from '../transport.js';

/** rsyslog's default maxMessageSize; larger messages come out truncated, the rest as junk records. */
export const DEFAULT_MAX_MESSAGE = 8192;


export const octetCountingEncoder: Encoder = {
  name: 'syslog-octet-counting', open: '', close: '', separator: '', terminator: '', frame: (_e, bytes) => bytes + ' ',
};
export const lfEncoder: Encoder = { name: 'syslog-lf', open: '', close: '', separator: '', terminator: '\n' };

/** Entries the receiver cannot take as they are: too large, or (LF framing) holding a line break. */
export function unsendable(entries: readonly Entry[], max: number, lf: boolean): Rejection[] {
  const out: Rejection[] = [];
  for (let index = 0; index < entries.length; index++) {
    const e = entries[index]!;
    const n = recordBytes(e);
    if (n > max) {
      out.push({ index, status: 413, error: `message is ${n} bytes; --syslog-max-message allows ${max} (rsyslog's default limit is 8192)` });
    } else if (lf && (typeof e.record === 'string' ? e.record.includes('\n') : e.record.includes(0x0a))) {
      out.push({ index, status: 400, error: 'message holds a line break, which LF framing cannot carry; use --syslog-framing octet-counting' });
    }
  }
  return out;
}

/** One batch is one write to the socket: large writes, few system calls; syslog itself has no body limit. */
export const SYSLOG_BATCH = { maxEvents: 1000, maxBytes: 1_000_000, hardMaxBytes: Infinity };
