/** A generic collector that takes a JSON array per POST, like the reference's HTTPJSONSink expects. */
import { Peer, type PeerReply, type PeerRequest } from './peer.js';

export class JsonArrayPeer {
  readonly peer: Peer;
  readonly batches: Record<string, unknown>[][] = [];

  constructor(private readonly expectHeader?: [string, string]) {
    this.peer = new Peer((req) => this.route(req));
  }

  async start(): Promise<this> {
    await this.peer.start();
    return this;
  }

  get url(): string {
    return `${this.peer.url}/ingest`;
  }

  get records(): Record<string, unknown>[] {
    return this.batches.flat();
  }

  private route(req: PeerRequest): PeerReply {
    if (this.expectHeader && req.headers[this.expectHeader[0].toLowerCase()] !== this.expectHeader[1]) {
      return { status: 401, body: '{"error":"unauthorized"}' };
    }
    if (req.headers['content-type'] !== 'application/json') return { status: 415, body: '{"error":"want application/json"}' };
    const body = JSON.parse(req.body.toString('utf8')) as unknown;
    if (!Array.isArray(body)) return { status: 400, body: '{"error":"want a JSON array"}' };
    this.batches.push(body as Record<string, unknown>[]);
    return { status: 200, body: '{"ok":true}' };
  }

  close(): Promise<void> {
    return this.peer.close();
  }
}
