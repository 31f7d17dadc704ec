/**
 * A fake Splunk HEC: `/services/collector/event` takes envelopes written back to back, checks the token and
 * each envelope, stops at the first invalid one the way HEC does (`invalid-event-number`), and with indexer
 * acknowledgement hands out ack ids that `/services/collector/ack` confirms after some polls.
 */
import { Peer, splitConcatenatedJson, type PeerReply, type PeerRequest } from './peer.js';

export interface HecPeerOptions {
  token: string;
  ack?: boolean;
  /** Polls an ack id needs before it reads true. */
  ackAfterPolls?: number;
  /** Ack ids that never confirm (a lost acknowledgement). */
  loseAck?: (ackId: number) => boolean;
  /** Envelopes HEC refuses as invalid data (code 6). */
  rejectEvent?: (envelope: Record<string, unknown>) => boolean;
  /** Serve HTTPS with this key and certificate. */
  tls?: { key: string; cert: string };
}

const reply = (status: number, body: unknown): PeerReply => ({ status, body: JSON.stringify(body) });

export class HecPeer {
  readonly peer: Peer;
  /** Every envelope HEC accepted, in arrival order. */
  readonly events: Record<string, unknown>[] = [];
  readonly channels = new Set<string>();
  private nextAck = 0;
  private readonly polls = new Map<number, number>();

  constructor(private readonly options: HecPeerOptions) {
    this.peer = new Peer((req) => this.route(req), /\/services\/collector\/event/, options.tls);
  }

  async start(): Promise<this> {
    await this.peer.start();
    return this;
  }

  get url(): string {
    return `${this.peer.url}/services/collector/event`;
  }

  /** Event ids of accepted envelopes, in arrival order. */
  eventIds(): string[] {
    return this.events.map((e) => String((e['event'] as Record<string, unknown>)['event_id']));
  }

  private auth(req: PeerRequest): PeerReply | null {
    const auth = req.headers['authorization'];
    if (!auth) return reply(401, { text: 'Token is required', code: 2 });
    if (!auth.startsWith('Splunk ')) return reply(401, { text: 'Invalid authorization', code: 3 });
    if (auth !== `Splunk ${this.options.token}`) return reply(403, { text: 'Invalid token', code: 4 });
    if (this.options.ack) {
      const channel = (req.headers['x-splunk-request-channel'] as string | undefined) ?? req.url.searchParams.get('channel');
      if (!channel) return reply(400, { text: 'Data channel is missing', code: 10 });
      this.channels.add(channel);
    }
    return null;
  }

  private route(req: PeerRequest): PeerReply {
    const denied = this.auth(req);
    if (denied) return denied;
    if (req.path === '/services/collector/ack') return this.ack(req);
    if (req.path !== '/services/collector/event') return reply(404, { text: 'The requested URL was not found on this server.', code: 404 });
    const text = req.body.toString('utf8');
    if (text.trim() === '') return reply(400, { text: 'No data', code: 5 });
    if (text.trimStart().startsWith('[')) return reply(400, { text: 'Invalid data format', code: 6, 'invalid-event-number': 0 });
    let envelopes: Record<string, unknown>[];
    try {
      envelopes = splitConcatenatedJson(text) as Record<string, unknown>[];
    } catch {
      return reply(400, { text: 'Invalid data format', code: 6, 'invalid-event-number': 0 });
    }
    for (let i = 0; i < envelopes.length; i++) {
      const e = envelopes[i]!;
      if (e['event'] === undefined) return reply(400, { text: 'Event field is required', code: 12, 'invalid-event-number': i });
      if (this.options.rejectEvent?.(e)) return reply(400, { text: 'Invalid data format', code: 6, 'invalid-event-number': i });
      // HEC indexes in order and stops at the first invalid event, so the ones before it are in.
      this.events.push(e);
    }
    if (!this.options.ack) return reply(200, { text: 'Success', code: 0 });
    const ackId = this.nextAck++;
    this.polls.set(ackId, 0);
    return reply(200, { text: 'Success', code: 0, ackId });
  }

  private ack(req: PeerRequest): PeerReply {
    if (!this.options.ack) return reply(400, { text: 'ACK is disabled', code: 14 });
    const ids = (JSON.parse(req.body.toString('utf8')) as { acks: number[] }).acks;
    const acks: Record<string, boolean> = {};
    for (const id of ids) {
      const n = (this.polls.get(id) ?? 0) + 1;
      this.polls.set(id, n);
      acks[String(id)] = this.polls.has(id) && n >= (this.options.ackAfterPolls ?? 1) && !this.options.loseAck?.(id);
    }
    return reply(200, { acks });
  }

  close(): Promise<void> {
    return this.peer.close();
  }
}
