/**
 * RELP frames (rsyslog's Reliable Event Logging Protocol): `TXNR SP COMMAND SP DATALEN [SP DATA] LF`, where
 * DATALEN counts the bytes of DATA. The reader takes the receiver's bytes in whatever pieces TCP delivers them.
 */

/**
 * The longest answer taken from a receiver. Answers are `rsp` frames of a status line and, for `open`, the
 * offers: librelp's are a few hundred bytes. A frame announced longer is refused before it is read, so a peer
 * cannot make the exporter buffer what it announces.
 */
export const MAX_ANSWER_BYTES = 8 * 1024;

/** Transaction numbers run from 1 to 999,999,999 and then start over at 1. */
export const MAX_TXNR = 999_999_999;

export function relpFrame(txnr: number, command: string, data: string | Buffer): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const head = Buffer.from(body.length > 0 ? `${txnr} ${command} ${body.length} ` : `${txnr} ${command} 0`);
  return Buffer.concat([head, body, Buffer.from('\n')]);
}

/** The `open` offer: protocol version, who we are, and the one command we use. */
export function openOffer(software: string): string {
  return `relp_version=0\nrelp_software=${software}\ncommands=syslog`;
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;

/** `200 OK` and the like: the status code of an `rsp`, or NaN when there is none. */
export function rspStatus(data: Buffer): number {
  if (!isDigit(data[0]) || !isDigit(data[1]) || !isDigit(data[2])) return NaN;
  return (data[0]! - 0x30) * 100 + (data[1]! - 0x30) * 10 + (data[2]! - 0x30);
}

/** Called for each whole frame; `data` is a view into the receiver's bytes, valid during the call. */
export type OnFrame = (txnr: number, command: string, data: Buffer) => void;

/**
 * Frames parsed straight from the bytes: one answer per message arrives, so nothing is copied or matched
 * with a regular expression per frame; only a frame split over two reads keeps a few bytes back.
 */
export class RelpReader {
  private rest: Buffer | null = null;

  /** Calls `each` for the frames this chunk completes; throws on bytes that are not RELP (the connection is then dropped). */
  push(chunk: Buffer, each: OnFrame): void {
    const b = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = null;
    let at = 0;
    while (at < b.length) {
      const next = frameAt(b, at, each);
      if (next < 0) break;
      at = next;
    }
    if (at < b.length) this.rest = b.subarray(at);
  }
}

/** Reads the frame at `at`: its end, or -1 when the bytes so far are only its beginning. */
function frameAt(b: Buffer, at: number, each: OnFrame): number {
  // The header is short; 64 bytes without its end means the peer is not speaking RELP.
  const incomplete = (): number => {
    if (b.length - at > 64) throw new Error('the receiver does not speak RELP');
    return -1;
  };
  let i = at;
  let txnr = 0;
  while (i < b.length && isDigit(b[i])) txnr = txnr * 10 + (b[i++]! - 0x30);
  if (i === b.length) return incomplete();
  if (i === at || i - at > 9 || b[i] !== 0x20) throw new Error('the receiver does not speak RELP');
  const cmdStart = ++i;
  while (i < b.length && b[i]! >= 0x61 && b[i]! <= 0x7a) i++;
  if (i === b.length) return incomplete();
  if (i === cmdStart || i - cmdStart > 32 || b[i] !== 0x20) throw new Error('the receiver does not speak RELP');
  const cmdEnd = i++;
  const lenStart = i;
  let len = 0;
  while (i < b.length && isDigit(b[i])) len = len * 10 + (b[i++]! - 0x30);
  // DATALEN is a NUMBER, at most 9 digits in the RELP grammar.
  if (i - lenStart > 9) throw new Error('malformed RELP frame from the receiver (DATALEN longer than 9 digits)');
  if (i === b.length) return incomplete();
  if (i === lenStart) throw new Error('the receiver does not speak RELP');
  if (len > MAX_ANSWER_BYTES) {
    throw new Error(`the receiver announced a ${len}-byte answer; RELP answers are short, at most ${MAX_ANSWER_BYTES} bytes are taken`);
  }
  const start = len > 0 ? i + 1 : i;
  if (b.length < start + len + 1) return -1;
  if ((len > 0 && b[i] !== 0x20) || b[start + len] !== 0x0a) throw new Error('malformed RELP frame from the receiver');
  each(txnr, command(b, cmdStart, cmdEnd), b.subarray(start, start + len));
  return start + len + 1;
}

/** `rsp` comes once per message: it is recognized without making a string. */
function command(b: Buffer, from: number, to: number): string {
  if (to - from === 3 && b[from] === 0x72 && b[from + 1] === 0x73 && b[from + 2] === 0x70) return 'rsp';
  return b.toString('latin1', from, to);
}
