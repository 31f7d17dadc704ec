/** A log collector's HTTP input that takes text records one per line (CEF, LEEF), like a syslog or Vector HTTP source. */
import { Peer, type PeerReply, type PeerRequest } from './peer.js';

export class TextLinesPeer {
  readonly peer: Peer;
  readonly lines: string[] = [];

  /** Bodies larger than `maxBodyBytes` are refused with 413, as a collector's size limit does. */
  constructor(private readonly maxBodyBytes = Infinity) {
    this.peer = new Peer((req) => this.route(req));
  }

  async start(): Promise<this> {
    await this.peer.start();
    return this;
  }

  get url(): string {
    return `${this.peer.url}/ingest`;
  }

  private route(req: PeerRequest): PeerReply {
    if (req.headers['content-type'] !== 'text/plain; charset=utf-8') return { status: 415, body: 'want text/plain; charset=utf-8' };
    if (req.body.length > this.maxBodyBytes) return { status: 413, body: 'request entity too large' };
    const text = req.body.toString('utf8');
    if (!text.endsWith('\n')) return { status: 400, body: 'every record ends with a line feed' };
    this.lines.push(...text.slice(0, -1).split('\n'));
    return { status: 200, body: 'ok' };
  }

  close(): Promise<void> {
    return this.peer.close();
  }
}
