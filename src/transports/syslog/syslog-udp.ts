/**
 * Syslog over UDP (RFC 5426): one message per datagram, no framing and no answer. Only on request
 * (`syslog+udp://`): a receiver's full socket buffer drops datagrams without anyone knowing.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { ConfigurationError } from '../../shared/errors.js';
import { NetworkError } from '../http/client.js';
import type { Encoder, Entry } from '../../pipeline/encoder.js';
import { networkVerdict, type Transport, type Verdict } from '../transport.js';
import { toNetworkError, type Endpoint } from './syslog-socket.js';
import { SYSLOG_BATCH, unsendable } from './syslog-frames.js';

/** The largest UDP payload over IPv4. */
const MAX_DATAGRAM = 65_507;

/** Entries are sent one by one; the encoder only sizes batches. */
const datagramEncoder: Encoder = { name: 'syslog-datagram', open: '', close: '', separator: '', terminator: '' };

export class SyslogUdpTransport implements Transport {
  readonly name = 'syslog+udp';
  readonly encoder = datagramEncoder;
  readonly defaults = SYSLOG_BATCH;
  readonly hardMaxBytes = SYSLOG_BATCH.hardMaxBytes;
  private socket: dgram.Socket | null = null;
  private readonly where: string;

  constructor(private readonly ep: Endpoint, private readonly max: number) {
    if (max > MAX_DATAGRAM) throw new ConfigurationError(`--syslog-max-message cannot exceed ${MAX_DATAGRAM} bytes over UDP`);
    this.where = `${ep.host}:${ep.port}`;
  }

  private connect(): Promise<dgram.Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    const s = dgram.createSocket(net.isIPv6(this.ep.host) ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      s.once('error', (err) => {
        s.close();
        reject(toNetworkError(err, this.where));
      });
      s.connect(this.ep.port, this.ep.host, () => {
        s.removeAllListeners('error');
        // An ICMP "port unreachable" comes back as an error on a later send; the next batch reconnects.
        s.on('error', () => this.drop());
        this.socket = s;
        resolve(s);
      });
    });
  }

  async send(entries: readonly Entry[]): Promise<Verdict> {
    const rejected = unsendable(entries, this.max, false);
    const out = new Set(rejected.map((r) => r.index));
    try {
      const s = await this.bounded(this.connect());
      for (let i = 0; i < entries.length; i++) {
        if (out.has(i)) continue;
        const r = entries[i]!.record;
        await this.bounded(new Promise<void>((resolve, reject) => s.send(r, (err) => (err ? reject(toNetworkError(err, this.where)) : resolve()))));
      }
    } catch (err) {
      this.drop();
      return networkVerdict(toNetworkError(err, this.where));
    }
    if (rejected.length === 0) return { kind: 'delivered' };
    return { kind: 'partial', retry: [], rejected, reason: `${rejected.length} message(s) cannot be sent` };
  }

  /** A name lookup or a send that does not complete within --timeout fails the attempt instead of holding it. */
  private bounded<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new NetworkError(`${this.where} did not take a datagram within ${this.ep.timeoutMs / 1000}s (--timeout)`, 'TIMEOUT', false)), this.ep.timeoutMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  private drop(): void {
    try {
      this.socket?.close();
    } catch {
      // already closed
    }
    this.socket = null;
  }

  async close(): Promise<void> {
    this.drop();
  }
}
