/**
 * RELP: syslog with an answer per message. Each message goes out as `syslog` with a transaction number and
 * counts as delivered only when the receiver answers `rsp 200` for that number, so the checkpoint never moves
 * over a message the receiver did not take. Up to `--relp-window` messages travel unanswered, across batches:
 * a batch is handed back as soon as its last message is written, and its messages settle one by one as their
 * answers arrive (the acknowledgement window, `acks`). When the connection breaks, the unanswered ones are sent
 * again on a new session: a receiver restart loses nothing and duplicates at most a window of messages.
 */
import { recordBytes, writeRecord, type Encoder, type Entry } from '../../pipeline/encoder.js';
import type { StreamAcks } from '../../pipeline/ack-window.js';
import { NetworkError } from '../http/client.js';
import { count, option } from '../../shared/options.js';
import { networkVerdict, type CheckLine, type Transport, type Verdict } from '../transport.js';
import type { TransportDescription } from '../describe.js';
import { MAX_TXNR, openOffer, relpFrame, RelpReader, rspStatus } from './relp-frames.js';
import { InFlight, type Ticket } from './relp-inflight.js';
import { maxMessage, SYSLOG_FLAGS, syslogEnvelope } from './syslog.js';
import { unsendable } from './syslog-frames.js';
import { Connection, endpoint, type Endpoint } from './syslog-socket.js';

/**
 * Messages that may travel unanswered. rsyslog's imrelp sets no window of its own (the client proposes and
 * manages it, says rsyslog's omrelp documentation): it reads what arrives and answers in order, so the costs of
 * a larger window are ours to bound. A receiver restart may repeat up to this many messages, and up to this many
 * written messages wait in socket buffers (8 MB at the default --syslog-max-message). librelp's own 128 is about
 * 1.5 ms of rsyslog's work on ~1 KB messages: rsyslog idles whenever this process is not scheduled that long, as
 * on two busy cores; 1024 keeps it fed there, and 2048 or 4096 gained nothing more (bench/syslog.mjs).
 */
export const DEFAULT_WINDOW = 1024;
const SOFTWARE = 'oversight-siem,1,https://www.npmjs.com/package/oversight-siem';

/**
 * The window is kept full across batches, so a batch's size no longer costs a pause at its end; batches stay
 * the size of plain syslog's, which keeps the checkpoint moving often and the memory held small.
 */
export const RELP_BATCH = { maxEvents: 1000, maxBytes: 1_000_000, hardMaxBytes: Infinity };

/** A batch being written: its ticket, the indices to send in order, how many went, and who waits for the end. */
interface Feed {
  ticket: Ticket;
  order: number[];
  next: number;
  done: () => void;
}

/** Messages are framed one by one as they are written; this encoder only sizes batches. */
const relpEncoder: Encoder = { name: 'relp', open: '', close: '', separator: '', terminator: '' };

/** Room for the header of one message: `TXNR syslog LEN ` (9 + 8 + up to 16 digits + 1 bytes) and the LF. */
const FRAME_OVERHEAD = 40;

export class RelpTransport implements Transport {
  readonly name = relpTransport.name;
  readonly encoder = relpEncoder;
  readonly defaults = RELP_BATCH;
  readonly hardMaxBytes = RELP_BATCH.hardMaxBytes;
  readonly acks: StreamAcks;
  private readonly conn: Connection;
  private reader = new RelpReader();
  private session = false;
  private txnr = 0;
  private readonly flight: InFlight;
  /** The transaction number of the `open` or `close` waiting for its answer, and that answer once it came. */
  private control: { txnr: number; rsp: Buffer | null } | null = null;
  /** The batch being written as answers make room: its entries in order, and how far it got. */
  private feed: Feed | null = null;
  /** Entries handed back lost: the reason is reported once, as a failed attempt, and then they are sent and waited for. */
  private readonly redo = new WeakMap<Entry, string | null>();
  private redone = false;
  /** The send before this one, once it has ended (`send`). */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(ep: Endpoint, private readonly max: number, private readonly window: number) {
    this.conn = new Connection(ep);
    this.flight = new InFlight(this.conn.where, ep.timeoutMs, () => this.fail(`no answer from ${this.conn.where} within ${ep.timeoutMs / 1000}s (--timeout)`));
    let frames = 0;
    const onFrame = (txnr: number, command: string, data: Buffer): void => {
      frames++;
      if (command === 'rsp') {
        if (this.flight.answer(txnr, rspStatus(data) === 200)) return;
        // Answers to numbers we are not waiting for are dropped: a receiver cannot make us keep them.
        if (this.control?.txnr === txnr) this.control.rsp = Buffer.from(data);
      } else if (command === 'serverclose') {
        this.fail(`${this.conn.where} closed the RELP session`);
      }
    };
    this.conn.onData = (chunk) => {
      frames = 0;
      try {
        this.reader.push(chunk, onFrame);
      } catch (err) {
        this.fail(`${this.conn.where}: ${(err as Error).message}`);
        return;
      }
      // Only whole answers wake anyone: bytes trickled one at a time do not restart the answer clock.
      if (frames === 0) return;
      // Top the window up at once, however little room came free: the write also carries the acknowledgement
      // rsyslog waits for before it sends its next answers (Nagle), so waiting for more room stalls on our
      // delayed ACK (waiting for 16 free places took 100,000 messages 35 s instead of 2).
      this.pump();
      this.flight.notify();
    };
    this.conn.onEnd = (reason) => this.fail(reason);
    this.acks = {
      stream: true,
      pollIntervalMs: 0,
      // The connection's own answer timeout finds a silent receiver; nothing is sent again on a clock.
      timeoutMs: Infinity,
      query: async (ids) => new Map(ids.map((id) => [id, this.flight.settled(id)])),
      next: () => this.flight.next(),
      progress: (id) => {
        const p = this.flight.progress(id);
        for (const e of p.lost) this.redo.set(e, p.reason);
        if (p.lost.length > 0) this.redone = true;
        return p;
      },
    };
  }

  private fail(reason: string): void {
    this.session = false;
    this.conn.drop();
    this.flight.fail(reason);
    this.endFeed();
  }

  private endFeed(): void {
    const f = this.feed;
    this.feed = null;
    f?.done();
  }

  private nextTxnr(): number {
    this.txnr = this.txnr >= MAX_TXNR ? 1 : this.txnr + 1;
    return this.txnr;
  }

  /** Write what the window has room for, framed straight into one buffer: one write per top-up. */
  private pump(): void {
    const f = this.feed;
    if (!f || !this.session) return;
    const end = Math.min(f.order.length, f.next + this.window - this.flight.size);
    if (end <= f.next) return;
    const entries = f.ticket.entries;
    let size = 0;
    for (let k = f.next; k < end; k++) size += recordBytes(entries[f.order[k]!]!) + FRAME_OVERHEAD;
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    for (let k = f.next; k < end; k++) {
      const i = f.order[k]!;
      const e = entries[i]!;
      const t = this.nextTxnr();
      this.flight.sent(t, f.ticket, i);
      off += buf.write(`${t} syslog ${recordBytes(e)} `, off, 'latin1');
      off += writeRecord(buf, off, e);
      buf[off++] = 0x0a;
    }
    f.next = end;
    // Errors surface through onEnd, and the answers' deadline (not the write) bounds a receiver that stops
    // reading: the window bounds what can queue here.
    this.conn.push(buf.subarray(0, off));
    if (end === f.order.length) this.endFeed();
  }

  private async open(timeoutMs: number): Promise<void> {
    this.reader = new RelpReader();
    this.flight.reset();
    this.txnr = 0;
    await this.conn.connect();
    const t = this.nextTxnr();
    const rsp = await this.request(t, relpFrame(t, 'open', openOffer(SOFTWARE)), Date.now() + timeoutMs);
    if (!rsp) {
      throw new NetworkError(`${this.flight.broken ?? 'no answer'} while opening a RELP session (is ${this.conn.where} a RELP port?)`, 'ECONNRESET', false);
    }
    if (rspStatus(rsp) !== 200 || !/commands=([^\n]*\b)?syslog\b/.test(rsp.toString())) {
      this.fail('refused');
      throw new NetworkError(`${this.conn.where} refused the RELP session: ${rsp.toString().split('\n')[0]}`, 'EPROTO', false);
    }
    this.session = true;
  }

  /** Send `open` or `close`; its answer, or null when the connection failed or `deadline` passed first. */
  private async request(txnr: number, frame: Buffer, deadline: number): Promise<Buffer | null> {
    const c = { txnr, rsp: null as Buffer | null };
    this.control = c;
    await this.conn.write(frame);
    while (c.rsp === null && this.flight.broken === null && Date.now() < deadline) await this.flight.change(deadline);
    this.control = null;
    return c.rsp;
  }

  /** A RELP session opened and closed again: the port speaks RELP and takes `syslog` commands. */
  async check(): Promise<CheckLine[]> {
    if (!this.session) await this.open(this.conn.timeoutMs);
    await this.close();
    return [{ what: 'RELP session', ok: true, detail: 'opened (the receiver offers syslog) and closed' }];
  }

  /** The session opened before the first send (connectAhead), as that send's turn. */
  private early: Promise<void> | null = null;

  /** Opens the session in the first send's turn; if that fails, the send opens one itself and meets the failure. */
  connectAhead(): void {
    if (this.session || this.early !== null) return;
    this.early = this.turn.then(() => this.open(this.conn.timeoutMs)).catch(() => this.conn.drop());
    this.turn = this.early;
  }

  /**
   * Sends take turns: a batch is written as answers make room in the one session, and a second send at the same
   * time would take the first one's place there (and leave it waiting for good), or open a second session over it.
   */
  send(entries: readonly Entry[]): Promise<Verdict> {
    const run = this.turn.then(() => this.sendNow(entries));
    this.turn = run.catch(() => undefined);
    return run;
  }

  private async sendNow(entries: readonly Entry[]): Promise<Verdict> {
    // Messages lost on an earlier connection come back here: that failed attempt is reported first (the
    // delivery loop logs it and backs off), then they are sent and their answers waited for.
    const lost = this.redone ? entries.map((e) => this.redo.get(e)).find((r) => typeof r === 'string') : undefined;
    if (lost !== undefined) {
      for (const e of entries) if (this.redo.has(e)) this.redo.set(e, null);
      return { kind: 'retry', reason: lost };
    }
    const rejected = unsendable(entries, this.max, false);
    const skip = new Set(rejected.map((r) => r.index));
    const order: number[] = [];
    for (let i = 0; i < entries.length; i++) if (!skip.has(i)) order.push(i);
    if (order.length === 0) return { kind: 'partial', retry: [], rejected, reason: `${rejected.length} message(s) cannot be sent` };
    try {
      if (!this.session) await this.open(this.conn.timeoutMs);
    } catch (err) {
      this.conn.drop();
      return networkVerdict(err as NetworkError);
    }
    const ticket = this.flight.ticket(entries);
    const feed: Feed = { ticket, order, next: 0, done: () => undefined };
    await new Promise<void>((done) => {
      feed.done = done;
      this.feed = feed;
      this.pump();
    });
    const unsent = order.slice(feed.next);
    // Refusals mixed with deliveries are reported in a partial verdict, which cannot wait on acknowledgements.
    const wait = unsent.length > 0 || rejected.length > 0 || (this.redone && entries.some((e) => this.redo.has(e)));
    if (!wait) {
      const p = this.flight.peek(ticket.id);
      if (p.open > 0 || p.lost > 0) return { kind: 'delivered', ackId: ticket.id };
    }
    while (unsent.length === 0 && this.flight.peek(ticket.id).open > 0) await this.flight.next();
    const failed = this.flight.close(ticket.id);
    const retry = [...failed, ...unsent].sort((a, b) => a - b);
    if (retry.length === 0 && rejected.length === 0) return { kind: 'delivered' };
    const reason = this.flight.broken ?? this.flight.refused(failed.length);
    return { kind: 'partial', retry, rejected, reason: rejected.length > 0 && retry.length === 0 ? `${rejected.length} message(s) cannot be sent` : reason };
  }

  async close(): Promise<void> {
    await this.early;
    if (this.session) {
      const t = this.nextTxnr();
      try {
        await this.request(t, relpFrame(t, 'close', ''), Date.now() + this.conn.timeoutMs);
      } catch {
        // The receiver is gone already; what was unanswered stays unsettled and goes again next start.
      }
      this.session = false;
    }
    this.flight.stop();
    await this.conn.close();
  }
}

const WINDOW = option({
  flags: '--relp-window <n>',
  description: 'messages sent before the first answer is needed (a receiver restart may duplicate up to this many)',
  default: String(DEFAULT_WINDOW),
  parse: count(1),
});

export const relpTransport: TransportDescription = {
  name: 'relp',
  summary: 'RFC 5424 syslog over RELP: every message acknowledged by the receiver (rsyslog imrelp)',
  schemes: ['relp'],
  credentials: 'RELP takes no credentials',
  defaultFormat: 'cef',
  batch: RELP_BATCH,
  flags: [...SYSLOG_FLAGS, WINDOW],
  envelope: syslogEnvelope,
  create: (ctx) => new RelpTransport(endpoint(ctx.output, null, false, ctx.http), maxMessage(ctx.flags), WINDOW.read(ctx.flags)!),
};
