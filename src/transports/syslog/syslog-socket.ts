/**
 * One TCP or TLS connection to a syslog or RELP receiver, kept open between batches and dropped on the first
 * sign of trouble; the next attempt connects again (the delivery loop paces attempts with the shared backoff).
 * TLS follows the HTTPS rules: the certificate is verified unless --insecure, and --ca-file adds a private CA.
 */
import net from 'node:net';
import tls from 'node:tls';
import { ConfigurationError } from '../../shared/errors.js';
import { NetworkError, readCaFile, type HttpOptions } from '../http/client.js';
import { connectProblem, notTlsMessage } from '../tls-failure.js';

export interface Endpoint {
  host: string;
  port: number;
  /** null: plain TCP. */
  tls: tls.ConnectionOptions | null;
  timeoutMs: number;
}

/** Host and port from `scheme://host:port`, with the scheme's default port. */
export function endpoint(output: string, defaultPort: number | null, useTls: boolean, http: HttpOptions): Endpoint {
  const u = new URL(output);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '' || (u.pathname !== '' && u.pathname !== '/') || u.search !== '' || u.username !== '') {
    throw new ConfigurationError(`--output ${u.protocol}//… takes only a host and a port, e.g. ${u.protocol}//siem.example.com:${defaultPort ?? 514}`);
  }
  const port = u.port === '' ? defaultPort : Number(u.port);
  if (port === null) throw new ConfigurationError(`--output ${output} needs a port, e.g. ${u.protocol}//${u.host}:514`);
  return { host, port, tls: useTls ? tlsOptions(host, http) : null, timeoutMs: http.timeoutMs };
}

/** The TLS settings of every TLS connection the export makes: `siem check` makes its handshake with them too. */
export function tlsOptions(host: string, http: HttpOptions): tls.ConnectionOptions {
  const ca = readCaFile(http.caFile);
  // TLS 1.2 stays allowed: rsyslog's anonymous-TLS listener speaks only 1.2 with its default priorities.
  return { ...(ca ? { ca } : {}), rejectUnauthorized: !http.insecure, ...(net.isIP(host) ? {} : { servername: host }), minVersion: 'TLSv1.2' };
}

/**
 * A failure as the delivery loop classifies it: certificate problems are `tls` (stop), a failed handshake or a
 * port that does not speak TLS is `final` (stop), the rest may pass.
 */
export function toNetworkError(err: unknown, where: string): NetworkError {
  if (err instanceof NetworkError) return err;
  const e = err as { code?: string; message?: string };
  const code = e.code ?? 'ERROR';
  const { kind, reason } = connectProblem(code, e.message ?? String(err));
  if (kind === 'not-tls') return new NetworkError(notTlsMessage(where, 'syslog+tcp://'), code, false, true);
  return new NetworkError(`cannot reach ${where}: ${reason}`, code, kind === 'certificate', kind === 'tls');
}

export class Connection {
  readonly where: string;
  private socket: net.Socket | null = null;
  /** Why the connection ended, once it has. */
  private ended: string | null = null;
  /** Called with every chunk the receiver sends (RELP answers; plain syslog receivers send nothing). */
  onData: ((chunk: Buffer) => void) | null = null;
  /** Called once when the connection ends, with the reason. */
  onEnd: ((reason: string) => void) | null = null;

  constructor(private readonly ep: Endpoint) {
    this.where = ep.host.includes(':') ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`;
  }

  get timeoutMs(): number {
    return this.ep.timeoutMs;
  }

  get open(): boolean {
    return this.socket !== null && this.ended === null;
  }

  /** Connect (TLS handshake included) within the timeout; rejects with a NetworkError. */
  connect(): Promise<void> {
    this.drop();
    const ep = this.ep;
    return new Promise((resolve, reject) => {
      const opts = { host: ep.host, port: ep.port };
      const s = ep.tls ? tls.connect({ ...opts, ...ep.tls }) : net.connect(opts);
      const timer = setTimeout(() => fail(new NetworkError(`no answer from ${this.where} within ${ep.timeoutMs / 1000}s (--timeout)`, 'TIMEOUT', false)), ep.timeoutMs);
      const fail = (err: unknown): void => {
        clearTimeout(timer);
        s.destroy();
        reject(toNetworkError(err, this.where));
      };
      s.once('error', fail);
      s.once(ep.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        s.removeListener('error', fail);
        s.setNoDelay(true);
        this.socket = s;
        this.ended = null;
        // Events of a socket already replaced by a newer one are ignored.
        const mine = (): boolean => this.socket === s;
        s.on('data', (d: Buffer) => mine() && this.onData?.(d));
        s.on('error', (err) => mine() && this.end(toNetworkError(err, this.where).message));
        s.on('end', () => mine() && this.end(`${this.where} closed the connection`));
        s.on('close', () => mine() && this.end(`connection to ${this.where} closed`));
        resolve();
      });
    });
  }

  /**
   * Write and wait until Node has handed every byte to the operating system. That is all TCP can tell a sender:
   * bytes still in the kernel's buffers are lost if the receiver goes away now (see docs/SIEM.md, loss window).
   */
  write(data: Buffer): Promise<void> {
    const s = this.socket;
    if (!s || this.ended !== null) return Promise.reject(new NetworkError(this.ended ?? `not connected to ${this.where}`, 'ECONNRESET', false));
    const timeoutMs = this.ep.timeoutMs;
    return new Promise((resolve, reject) => {
      // A receiver that accepts and stops reading fills the kernel's buffers and then takes nothing: the write
      // fails once no byte has left our buffer for --timeout, so the attempt ends and the retry budget applies.
      let left = s.writableLength + data.length;
      let progressAt = Date.now();
      const watch = setInterval(() => {
        if (s.writableLength < left) {
          left = s.writableLength;
          progressAt = Date.now();
        } else if (Date.now() - progressAt >= timeoutMs) {
          settle(new NetworkError(`${this.where} took no data for ${timeoutMs / 1000}s (--timeout): the receiver is not reading`, 'TIMEOUT', false));
          this.end(`${this.where} stopped reading`);
          this.drop();
        }
      }, Math.max(10, Math.min(1000, timeoutMs / 4)));
      let done = false;
      const settle = (err: NetworkError | null): void => {
        if (done) return;
        done = true;
        clearInterval(watch);
        if (err) reject(err);
        else resolve();
      };
      s.write(data, (err) => {
        if (err) settle(toNetworkError(err, this.where));
        else if (this.ended !== null) settle(new NetworkError(this.ended, 'ECONNRESET', false));
        else settle(null);
      });
    });
  }

  /**
   * Write without waiting: for RELP, whose answers (each due within --timeout) are what tells a receiver that
   * stopped reading, and whose window bounds the bytes that can queue here. Failures arrive through `onEnd`.
   */
  push(data: Buffer): void {
    if (this.socket && this.ended === null) this.socket.write(data);
  }

  /** Half-close politely and wait (bounded) for the receiver to close its side. */
  async close(): Promise<void> {
    const s = this.socket;
    if (!s) return;
    if (this.ended === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.ep.timeoutMs);
        s.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        s.end();
      });
    }
    this.drop();
  }

  private end(reason: string): void {
    if (this.ended !== null) return;
    this.ended = reason;
    this.onEnd?.(reason);
  }

  drop(): void {
    this.socket?.destroy();
    this.socket = null;
  }
}
