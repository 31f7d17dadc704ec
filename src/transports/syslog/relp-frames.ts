/**
 * RELP frames (rsyslog's Reliable Event Logging Protocol): `TXNR SP COMMAND SP DATALEN [SP DATA] LF`, where
 * DATALEN counts the bytes of DATA. The reader takes the receiver's bytes in whatever pieces TCP delivers them.
 */

export interface RelpFrame {
  txnr: number;
  command: string;
  data: Buffer;
}

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

/** `200 OK` and the like: the status code of an `rsp`, or NaN when there is none. */
export function rspStatus(data: Buffer): number {
  const m = /^(\d{3})/.exec(data.subarray(0, 3).toString('latin1'));
  return m ? Number(m[1]) : NaN;
}

export class RelpReader {
  private buf: Buffer = Buffer.alloc(0);

  /** Frames completed by this chunk; throws on bytes that are not RELP (the connection is then dropped). */
  push(chunk: Buffer): RelpFrame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: RelpFrame[] = [];
    for (;;) {
      const f = this.next();
      if (!f) return out;
      out.push(f);
    }
  }

  private next(): RelpFrame | null {
    const b = this.buf;
    // The header is short; 64 bytes without its end means the peer is not speaking RELP.
    const sp1 = b.indexOf(0x20);
    const sp2 = sp1 < 0 ? -1 : b.indexOf(0x20, sp1 + 1);
    if (sp2 < 0) return this.incomplete(b.length);
    let end = sp2 + 1;
    while (end < b.length && b[end]! >= 0x30 && b[end]! <= 0x39) end++;
    // DATALEN is a NUMBER, at most 9 digits in the RELP grammar.
    if (end - sp2 - 1 > 9) throw new Error('malformed RELP frame from the receiver (DATALEN longer than 9 digits)');
    if (end === b.length) return this.incomplete(b.length);
    const txnr = Number(b.subarray(0, sp1).toString('latin1'));
    const command = b.subarray(sp1 + 1, sp2).toString('latin1');
    const len = Number(b.subarray(sp2 + 1, end).toString('latin1'));
    if (!Number.isInteger(txnr) || !/^[a-z]{1,32}$/.test(command) || end === sp2 + 1) throw new Error('the receiver does not speak RELP');
    if (len > MAX_ANSWER_BYTES) {
      throw new Error(`the receiver announced a ${len}-byte answer; RELP answers are short, at most ${MAX_ANSWER_BYTES} bytes are taken`);
    }
    const start = len > 0 ? end + 1 : end;
    if (b.length < start + len + 1) return null;
    if ((len > 0 && b[end] !== 0x20) || b[start + len] !== 0x0a) throw new Error('malformed RELP frame from the receiver');
    this.buf = b.subarray(start + len + 1);
    return { txnr, command, data: b.subarray(start, start + len) };
  }

  private incomplete(have: number): null {
    if (have > 64) throw new Error('the receiver does not speak RELP');
    return null;
  }
}
