/**
 * Peers that misbehave on purpose, on 127.0.0.1: a syslog receiver that accepts and never reads, a RELP
 * receiver that trickles its answers or announces a gigantic one, and HTTP servers whose answer is endless.
 * Each counts what it managed to do, so a test can show the exporter stopped it early.
 */
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';

abstract class TcpPeer {
  protected readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  /** Connections accepted so far. */
  connections = 0;

  /** With `tlsOptions`, connections are TLS and `accept` sees them once the handshake is done. */
  constructor(tlsOptions?: tls.TlsOptions) {
    const onConnection = (s: net.Socket): void => {
      this.connections++;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
      this.accept(s);
    };
    this.server = tlsOptions ? tls.createServer(tlsOptions, onConnection) : net.createServer(onConnection);
  }

  protected abstract accept(s: net.Socket): void;

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * Accepts a connection and never reads a byte: the kernel's buffers fill, then nothing moves. With `once`, it
 * stops listening after the first connection, as a receiver hung with its one client does once its backlog is
 * full; otherwise every new connection swallows another few megabytes before it stalls too.
 */
export class DeafSyslogPeer extends TcpPeer {
  constructor(private readonly once = false, tlsOptions?: tls.TlsOptions) {
    super(tlsOptions);
  }

  protected accept(s: net.Socket): void {
    s.pause();
    if (this.once) this.server.close();
  }

  override async close(): Promise<void> {
    if (!this.server.listening) {
      this.server.listen(0, '127.0.0.1');
      await new Promise((r) => this.server.once('listening', r));
    }
    await super.close();
  }
}

/** RELP frames as a receiver reads them: `TXNR SP COMMAND SP DATALEN [SP DATA] LF`. */
function* relpFrames(state: { buf: Buffer }): Generator<{ txnr: string; command: string }> {
  for (;;) {
    const m = /^(\d+) ([a-z]+) (\d+)/.exec(state.buf.subarray(0, 64).toString('latin1'));
    if (!m) return;
    const len = Number(m[3]);
    const start = m[0].length + (len > 0 ? 1 : 0);
    if (state.buf.length < start + len + 1) return;
    state.buf = state.buf.subarray(start + len + 1);
    yield { txnr: m[1]!, command: m[2]! };
  }
}

/**
 * A RELP receiver that opens sessions properly and then misbehaves on `syslog` frames: `trickle` sends each
 * `rsp 200` one byte at a time, `giant` answers the first one with a header announcing 900 MB and streams filler.
 */
export class HostileRelpPeer extends TcpPeer {
  /** Bytes of answers sent, over all connections. */
  sent = 0;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly mode: 'trickle' | 'giant', private readonly byteEveryMs = 200) {
    super();
  }

  protected accept(s: net.Socket): void {
    const state = { buf: Buffer.alloc(0) };
    const queue: Buffer[] = [];
    let giantStarted = false;
    s.on('data', (chunk: Buffer) => {
      state.buf = Buffer.concat([state.buf, chunk]);
      for (const f of relpFrames(state)) {
        if (f.command === 'open') {
          const offer = '200 OK\nrelp_version=0\nrelp_software=hostile\ncommands=syslog';
          s.write(`${f.txnr} rsp ${Buffer.byteLength(offer)} ${offer}\n`);
        } else if (f.command === 'syslog' && this.mode === 'trickle') {
          queue.push(Buffer.from(`${f.txnr} rsp 6 200 OK\n`));
        } else if (f.command === 'syslog' && !giantStarted) {
          giantStarted = true;
          this.flood(s, f.txnr);
        }
      }
    });
    if (this.mode === 'trickle') {
      const timer = setInterval(() => {
        const next = queue[0];
        if (!next || s.destroyed) return;
        s.write(next.subarray(0, 1));
        this.sent++;
        if (next.length === 1) queue.shift();
        else queue[0] = next.subarray(1);
      }, this.byteEveryMs);
      this.timers.add(timer);
      s.on('close', () => {
        clearInterval(timer);
        this.timers.delete(timer);
      });
    }
  }

  /** A header announcing 900,000,000 bytes of answer, then filler for as long as the socket takes it. */
  private flood(s: net.Socket, txnr: string): void {
    const filler = Buffer.alloc(64 * 1024, 0x41);
    s.write(`${txnr} rsp 900000000 200 `);
    const pump = (): void => {
      while (!s.destroyed && this.sent < 900_000_000) {
        this.sent += filler.length;
        if (!s.write(filler)) {
          s.once('drain', pump);
          return;
        }
      }
    };
    pump();
  }

  override async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await super.close();
  }
}

/**
 * A RELP receiver that opens sessions properly and answers `syslog` frames selectively: `hole` never answers the
 * first message of a connection and answers the others `rsp 200`, `every` ms in a burst (a receiver that is
 * slow, but answering); `serverclose` answers the first `n` messages of a connection and then sends
 * `serverclose`. `messages` counts the syslog frames read, `answered` the `rsp 200` sent for them.
 */
export class SelectiveRelpPeer extends TcpPeer {
  messages = 0;
  answered = 0;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly mode: 'hole' | 'serverclose', private readonly every = 50, private readonly n = 2) {
    super();
  }

  protected accept(s: net.Socket): void {
    const state = { buf: Buffer.alloc(0) };
    let mine = 0;
    let queue: string[] = [];
    const timer = setInterval(() => {
      if (queue.length === 0 || s.destroyed) return;
      s.write(queue.join(''));
      this.answered += queue.length;
      queue = [];
    }, this.every);
    this.timers.add(timer);
    s.on('close', () => {
      clearInterval(timer);
      this.timers.delete(timer);
    });
    s.on('data', (chunk: Buffer) => {
      state.buf = Buffer.concat([state.buf, chunk]);
      for (const f of relpFrames(state)) {
        if (f.command === 'open') {
          const offer = '200 OK\nrelp_version=0\nrelp_software=selective\ncommands=syslog';
          s.write(`${f.txnr} rsp ${Buffer.byteLength(offer)} ${offer}\n`);
        } else if (f.command === 'syslog') {
          this.messages++;
          mine++;
          if (this.mode === 'hole') {
            if (mine > 1) queue.push(`${f.txnr} rsp 6 200 OK\n`);
          } else if (mine <= this.n) {
            s.write(`${f.txnr} rsp 6 200 OK\n`);
            this.answered++;
          } else if (mine === this.n + 1) {
            s.write('0 serverclose 0\n');
          }
        }
      }
    });
  }

  override async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await super.close();
  }
}

/**
 * An HTTP server that answers every request with `status` and a body of `bytes` bytes, generated as it is sent
 * (it never holds the body). `sent` counts the body bytes the client actually took off the socket.
 */
export class EndlessHttpPeer {
  private readonly server: http.Server;
  private readonly sockets = new Set<net.Socket>();
  url = '';
  requests = 0;
  sent = 0;

  constructor(private readonly status: number, private readonly bytes: number, private readonly contentType = 'text/html') {
    this.server = http.createServer((req, res) => {
      this.requests++;
      req.resume();
      req.on('end', () => this.answer(res));
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  private answer(res: http.ServerResponse): void {
    res.writeHead(this.status, { 'content-type': this.contentType, 'content-length': String(this.bytes) });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    chunk.write('<!DOCTYPE html><html><body>Welcome to the proxy', 'latin1');
    let left = this.bytes;
    const pump = (): void => {
      while (left > 0 && !res.destroyed) {
        const n = Math.min(left, chunk.length);
        left -= n;
        this.sent += n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      if (left === 0) res.end();
    };
    res.on('error', () => undefined);
    pump();
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/services/collector/event`;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * An HTTP server that answers every request with `status` and `start`, then keeps the answer open, one more byte
 * every 100 ms until the client leaves: an error page coming over a link too slow to finish within --timeout.
 */
export class UnfinishedHttpPeer {
  private readonly server: http.Server;
  private readonly sockets = new Set<net.Socket>();
  url = '';
  requests = 0;

  constructor(status: number, start: string) {
    this.server = http.createServer((req, res) => {
      this.requests++;
      req.resume();
      req.on('end', () => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.on('error', () => undefined);
        res.write(start);
        const timer = setInterval(() => res.write('.'), 100);
        res.on('close', () => clearInterval(timer));
      });
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The peak resident memory of a running process (VmHWM), in bytes; null once it has gone. */
export function peakRss(pid: number): number | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

