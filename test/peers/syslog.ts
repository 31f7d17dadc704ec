/**
 * Fake syslog receivers on 127.0.0.1 that are as strict as the strictest real one: the octet-counting peer
 * reads `MSG-LEN SP SYSLOG-MSG` with the length in bytes and drops the connection on anything else (a trailing
 * newline, a character count), as syslog-ng does. The RELP peer speaks the protocol and can be scripted to
 * refuse, forget or hang up, for what a real rsyslog cannot be made to do on cue.
 */
import net from 'node:net';

abstract class TcpPeer {
  protected readonly server = net.createServer((s) => this.accept(s));
  protected readonly sockets = new Set<net.Socket>();
  port = 0;
  connections = 0;

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  private accept(s: net.Socket): void {
    this.connections++;
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
    this.session(s);
  }

  protected abstract session(s: net.Socket): void;

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export class OctetCountingPeer extends TcpPeer {
  readonly messages: string[] = [];
  /** Why a connection was dropped, if one was. */
  readonly errors: string[] = [];

  protected session(s: net.Socket): void {
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const sp = buf.indexOf(0x20);
        if (sp < 0) return;
        const len = buf.subarray(0, sp).toString('latin1');
        if (!/^[1-9]\d{0,8}$/.test(len)) {
          this.errors.push(`invalid frame header ${JSON.stringify(buf.subarray(0, 16).toString())}`);
          s.destroy();
          return;
        }
        const end = sp + 1 + Number(len);
        if (buf.length < end) return;
        const msg = buf.subarray(sp + 1, end);
        if (!msg.toString('latin1').startsWith('<')) {
          this.errors.push('a frame that is not a syslog message (wrong length?)');
          s.destroy();
          return;
        }
        this.messages.push(msg.toString('utf8'));
        buf = buf.subarray(end);
      }
    });
  }
}

export interface RelpScript {
  /** Answer to `open` (default `200 OK` with the commands offer). */
  open?: string;
  /** Status line for a message by its 0-based position over the peer's life (default `200 OK`). */
  answer?: (n: number) => string;
  /** Hang up, without answering it or anything after it, when the message at this position arrives (once). */
  dropAt?: number;
  /** Hang up the same way whenever a message this holds for arrives, as a receiver that crashes on it does. */
  dropWhen?: (message: string) => boolean;
  /** Send `serverclose` and hang up after this many answered messages (once). */
  serverCloseAfter?: number;
  /** Keep the answers to messages until `release()`, as a receiver that is slow to answer does. */
  hold?: boolean;
}

export class RelpPeer extends TcpPeer {
  readonly messages: string[] = [];
  /** The most messages seen unanswered at once. */
  maxUnanswered = 0;
  closes = 0;
  /** Answers kept back (`hold`), and the connection they are due on. */
  private held: Buffer[] = [];
  private holder: net.Socket | null = null;

  constructor(private readonly script: RelpScript = {}) {
    super();
  }

  /** Send the answers kept back, and answer at once from now on; or send the oldest `count` and keep holding. */
  release(count?: number): void {
    if (count === undefined) this.script.hold = false;
    const due = this.held.splice(0, count ?? this.held.length);
    if (due.length > 0) this.holder?.write(Buffer.concat(due));
  }

  protected session(s: net.Socket): void {
    let buf = Buffer.alloc(0);
    let opened = false;
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const pending: Buffer[] = [];
      for (;;) {
        const m = /^(\d+) ([a-z]+) (\d+)/.exec(buf.subarray(0, 40).toString('latin1'));
        if (!m) break;
        const head = m[0].length;
        const len = Number(m[3]);
        const end = head + (len > 0 ? 1 + len : 0);
        if (buf.length < end + 1) break;
        const data = buf.subarray(len > 0 ? head + 1 : head, end).toString('utf8');
        buf = buf.subarray(end + 1);
        const [txnr, cmd] = [m[1]!, m[2]!];
        if (cmd === 'open') {
          opened = true;
          const offer = this.script.open ?? '200 OK\nrelp_version=0\nrelp_software=fake\ncommands=syslog';
          // Held answers are the messages' only: the session opens at once.
          if (this.script.hold) s.write(answer(txnr, offer));
          else pending.push(answer(txnr, offer));
        } else if (cmd === 'close') {
          this.closes++;
          pending.push(answer(txnr, ''));
        } else if (cmd === 'syslog' && opened) {
          const n = this.messages.length;
          if (this.script.dropAt === n || this.script.dropWhen?.(data) === true) {
            // Answers already due go out; this message and whatever follows it are never answered.
            if (this.script.dropAt === n) this.script.dropAt = undefined;
            s.removeAllListeners('data');
            s.end(Buffer.concat(pending));
            return;
          }
          this.messages.push(data);
          pending.push(answer(txnr, this.script.answer?.(n) ?? '200 OK'));
          if (this.script.serverCloseAfter === this.messages.length) {
            this.script.serverCloseAfter = undefined;
            s.end(Buffer.concat([...pending, Buffer.from('0 serverclose 0\n')]));
            return;
          }
        }
      }
      // Everything read in one go is answered in one go: what was read but not yet answered is the window.
      this.maxUnanswered = Math.max(this.maxUnanswered, pending.length + this.held.length);
      if (this.script.hold) {
        this.held.push(...pending);
        this.holder = s;
      } else if (pending.length > 0) s.write(Buffer.concat(pending));
    });
  }
}

function answer(txnr: string, text: string): Buffer {
  const body = Buffer.from(text);
  return Buffer.concat([Buffer.from(`${txnr} rsp ${body.length}${body.length > 0 ? ' ' : ''}`), body, Buffer.from('\n')]);
}
