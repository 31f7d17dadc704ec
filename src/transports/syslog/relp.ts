/**
 * RELP: syslog with an answer per message. Each message goes out as `syslog` with a transaction number and
 * counts as delivered only when the receiver answers `rsp 200` for that number, so the checkpoint never moves
 * over a message the receiver did not take. Up to `--relp-window` messages travel unanswered; when the
 * connection breaks, the unanswered ones are sent again on a new session: a receiver restart loses nothing
 * and duplicates at most a window of messages.
 */
import type { Encoder, Entry } from '../../pipeline/encoder.js';
import { NetworkError } from '../http/client.js';
import { count, option } from '../../shared/options.js';
import { networkVerdict, type CheckLine, type Transport, type Verdict } from '../transport.js';
import type { TransportDescription } from '../describe.js';
import { MAX_TXNR, openOffer, relpFrame, RelpReader, rspStatus, type RelpFrame } from './relp-frames.js';
import { maxMessage, SYSLOG_FLAGS, syslogEnvelope } from './syslog.js';
import { byteLength, unsendable } from './syslog-frames.js';
import { Connection, endpoint, type Endpoint } from './syslog-socket.js';

/** librelp's own default window. */
export const DEFAULT_WINDOW = 128;
const SOFTWARE = 'oversight-siem,1,https://www.npmjs.com/package/oversight-siem';

/**
 * Batches of RELP are larger than plain syslog's: the window is kept full within a batch, but empties at its
 * end, where rsyslog's last answers wait on our delayed ACK (up to 40 ms) with nothing of ours to carry it.
 * Duplicates after a restart are bounded by the window, not by the batch.
 */
export const RELP_BATCH = { maxEvents: 10_000, maxBytes: 8_000_000, hardMaxBytes: Infinity };

/** Messages are framed one by one in `send`; this only sizes batches (the RELP header is about 20 bytes). */
const relpEncoder: Encoder = { name: 'relp', open: '', close: '', separator: '', terminator: '', frame: () => '0000000000 syslog ' };

export class RelpTransport implements Transport {
  readonly name = relpTransport.name;
  readonly encoder = relpEncoder;
  readonly defaults = RELP_BATCH;
  readonly hardMaxBytes = RELP_BATCH.hardMaxBytes;
  private readonly conn: Connection;
  private reader = new RelpReader();
  private session = false;
  private txnr = 0;
  /** Answers not yet matched to a message, by transaction number, and a wake-up for whoever waits on them. */
  private answers = new Map<number, RelpFrame>();
  private wake: (() => void) | null = null;
  private broken: string | null = null;

  constructor(ep: Endpoint, private readonly max: number, private readonly window: number) {
    this.conn = new Connection(ep);
    this.conn.onData = (chunk) => {
      try {
        const frames = this.reader.push(chunk);
        for (const f of frames) this.take(f);
        // Only a whole answer wakes the sender: bytes trickled one at a time do not restart its wait.
        if (frames.length > 0) this.poke();
      } catch (err) {
        this.fail(`${this.conn.where}: ${(err as Error).message}`);
      }
    };
    this.conn.onEnd = (reason) => this.fail(reason);
  }

  private take(f: RelpFrame): void {
    if (f.command === 'serverclose') this.fail(`${this.conn.where} closed the RELP session`);
    else if (f.command === 'rsp') this.answers.set(f.txnr, f);
  }

  private fail(reason: string): void {
    this.broken ??= reason;
    this.session = false;
    this.conn.drop();
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /**
   * Wait for the next whole answer or a failure until `deadline`; a receiver that has not answered by then
   * counts as broken, however many bytes it trickled meanwhile.
   */
  private async waitEvent(deadline: number): Promise<void> {
    const timeoutMs = this.conn.timeoutMs;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.fail(`no answer from ${this.conn.where} within ${timeoutMs / 1000}s (--timeout)`);
        resolve();
      }, Math.max(0, deadline - Date.now()));
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private nextTxnr(): number {
    this.txnr = this.txnr >= MAX_TXNR ? 1 : this.txnr + 1;
    return this.txnr;
  }

  private async open(timeoutMs: number): Promise<void> {
    this.reader = new RelpReader();
    this.answers.clear();
    this.broken = null;
    this.txnr = 0;
    await this.conn.connect();
    const t = this.nextTxnr();
    await this.conn.write(relpFrame(t, 'open', openOffer(SOFTWARE)));
    const deadline = Date.now() + timeoutMs;
    while (!this.answers.has(t) && this.broken === null) await this.waitEvent(deadline);
    const rsp = this.answers.get(t);
    if (!rsp) {
      throw new NetworkError(`${this.broken ?? 'no answer'} while opening a RELP session (is ${this.conn.where} a RELP port?)`, 'ECONNRESET', false);
    }
    if (rspStatus(rsp.data) !== 200 || !/commands=([^\n]*\b)?syslog\b/.test(rsp.data.toString())) {
      this.fail('refused');
      throw new NetworkError(`${this.conn.where} refused the RELP session: ${rsp.data.toString().split('\n')[0]}`, 'EPROTO', false);
    }
    this.answers.delete(t);
    this.session = true;
  }

  /** A RELP session opened and closed again: the port speaks RELP and takes `syslog` commands. */
  async check(): Promise<CheckLine[]> {
    if (!this.session) await this.open(this.conn.timeoutMs);
    await this.close();
    return [{ what: 'RELP session', ok: true, detail: 'opened (the receiver offers syslog) and closed' }];
  }

  async send(entries: readonly Entry[]): Promise<Verdict> {
    const rejected = unsendable(entries, this.max, false);
    const skip = new Set(rejected.map((r) => r.index));
    const timeoutMs = this.conn.timeoutMs;
    try {
      if (!this.session) await this.open(timeoutMs);
    } catch (err) {
      this.conn.drop();
      return networkVerdict(err as NetworkError);
    }
    const unanswered = new Map<number, number>(); // txnr → entry index
    const failed: number[] = [];
    let next = 0;
    // Each answer has --timeout to arrive, counted from the previous one (or from the first message sent).
    let deadline = Date.now() + timeoutMs;
    while ((next < entries.length || unanswered.size > 0) && this.broken === null) {
      // Top the window up as soon as answers come: waiting for it to half-empty stalls on rsyslog's Nagle
      // waiting for our delayed ACK (40 ms per round; measured four times slower into rsyslog).
      const txnrs: number[] = [];
      const picked: number[] = [];
      let size = 0;
      for (; next < entries.length && unanswered.size < this.window; next++) {
        if (skip.has(next)) continue;
        const t = this.nextTxnr();
        unanswered.set(t, next);
        txnrs.push(t);
        picked.push(next);
        // Room for the header (`TXNR syslog LEN `: 9 + 8 + up to 16 digits + 1 bytes) and the LF.
        size += byteLength(entries[next]!.record) + 40;
      }
      if (unanswered.size === 0) break; // the rest were too large to send
      // One write per top-up, framed straight into one buffer; errors surface through onEnd, and the answers'
      // deadline (not the write) bounds a receiver that stops reading: the window bounds what can be queued.
      if (picked.length > 0) this.conn.push(relpSyslogFrames(entries, picked, txnrs, size));
      if (this.answers.size === 0) await this.waitEvent(deadline);
      for (const [t, rsp] of this.answers) {
        const i = unanswered.get(t);
        if (i === undefined) continue;
        unanswered.delete(t);
        deadline = Date.now() + timeoutMs;
        if (rspStatus(rsp.data) !== 200) failed.push(i);
      }
      this.answers.clear();
    }
    const retry = [...failed, ...unanswered.values(), ...range(next, entries.length).filter((i) => !skip.has(i))].sort((a, b) => a - b);
    if (retry.length === 0 && rejected.length === 0) return { kind: 'delivered' };
    const reason = this.broken ?? `${this.conn.where} refused ${failed.length} message(s)`;
    return { kind: 'partial', retry, rejected, reason: rejected.length > 0 && retry.length === 0 ? `${rejected.length} message(s) cannot be sent` : reason };
  }

  async close(): Promise<void> {
    if (this.session) {
      const t = this.nextTxnr();
      try {
        await this.conn.write(relpFrame(t, 'close', ''));
        const until = Date.now() + this.conn.timeoutMs;
        while (!this.answers.has(t) && this.broken === null && Date.now() < until) await this.waitEvent(until);
      } catch {
        // The receiver is gone already; nothing is unanswered, so nothing is lost.
      }
      this.session = false;
    }
    await this.conn.close();
  }
}

const WINDOW = option({
  flags: '--relp-window <n>',
  description: 'messages sent before the first answer is needed (a receiver restart may duplicate up to this many)',
  default: String(DEFAULT_WINDOW),
  parse: count(1),
});

/** `TXNR syslog LEN MSG LF` for each picked entry, written into one buffer of at most `size` bytes. */
function relpSyslogFrames(entries: readonly Entry[], picked: readonly number[], txnrs: readonly number[], size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let off = 0;
  for (let k = 0; k < picked.length; k++) {
    const r = entries[picked[k]!]!.record;
    off += buf.write(`${txnrs[k]} syslog ${byteLength(r)} `, off, 'latin1');
    off += typeof r === 'string' ? buf.write(r, off) : r.copy(buf, off);
    buf[off++] = 0x0a;
  }
  return buf.subarray(0, off);
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}

export const relpTransport: TransportDescription = {
  name: 'relp',
  summary: 'RFC 5424 syslog over RELP: every message acknowledged by the receiver (rsyslog imrelp)',
  schemes: ['relp'],
  defaultFormat: 'cef',
  batch: RELP_BATCH,
  flags: [...SYSLOG_FLAGS, WINDOW],
  envelope: syslogEnvelope,
  create: (ctx) => new RelpTransport(endpoint(ctx.output, null, false, ctx.http), maxMessage(ctx.flags), WINDOW.read(ctx.flags)!),
};
