/** Framing and size rules shared by the syslog transports: what goes around a message, and what cannot go at all. */
import { recordBytes, type Encoder, type Entry } from '../../pipeline/encoder.js';
import type { Rejection } from '../transport.js';

/** rsyslog's default maxMessageSize; larger messages come out truncated, the rest as junk records. */
export const DEFAULT_MAX_MESSAGE = 8192;


export const octetCountingEncoder: Encoder = {
  name: 'syslog-octet-counting', open: '', close: '', separator: '', terminator: '', frame: (_e, bytes) => bytes + ' ',
};
export const lfEncoder: Encoder = { name: 'syslog-lf', open: '', close: '', separator: '', terminator: '\n' };

/** Why the receiver cannot take a message of `bytes` bytes (holding a line break or not), or null if it can. */
export function messageRefusal(bytes: number, lineBreak: () => boolean, max: number, lf: boolean): { status: number; error: string } | null {
  if (bytes > max) return { status: 413, error: `message is ${bytes} bytes; --syslog-max-message allows ${max} (rsyslog's default limit is 8192)` };
  if (lf && lineBreak()) return { status: 400, error: 'message holds a line break, which LF framing cannot carry; use --syslog-framing octet-counting' };
  return null;
}

/** Entries the receiver cannot take as they are: too large, or (LF framing) holding a line break. */
export function unsendable(entries: readonly Entry[], max: number, lf: boolean): Rejection[] {
  const out: Rejection[] = [];
  for (let index = 0; index < entries.length; index++) {
    const e = entries[index]!;
    const why = messageRefusal(recordBytes(e), () => (typeof e.record === 'string' ? e.record.includes('\n') : e.record.includes(0x0a)), max, lf);
    if (why) out.push({ index, ...why });
  }
  return out;
}

/** One batch is one write to the socket: large writes, few system calls; syslog itself has no body limit. */
export const SYSLOG_BATCH = { maxEvents: 1000, maxBytes: 1_000_000, hardMaxBytes: Infinity };
