/**
 * A fake Splunk HEC: `/services/collector/event` takes envelopes written back to back, checks the token and
 * each envelope, stops at the first invalid one the way HEC does (`invalid-event-number`), and with indexer
 * acknowledgement hands out ack ids that `/services/collector/ack` confirms after some polls. As in Splunk, ack ids
 * count up from 0 and live in memory only: an id HEC never gave, or already confirmed once, reads false, and a
 * restart forgets every id (numbering starts again from 0) along with the events it had not yet confirmed.
 *
 * Behind it, an index that search reads: events HEC answered 200 for can be lost silently, changed, or become
 * searchable only after a delay, and the management port's `POST /services/search/v2/jobs/export` runs the SPL
 * (through the test SPL interpreter) over what search sees of each event: JSON fields extracted from the first
 * 5000 bytes of the event only (limits.conf `[spath] extraction_cutoff`), metadata and indexed fields. Results
 * stream back as one JSON object per line (`output_mode=json`). The HEC token cannot search.
 */
import { runSearch, searchTimeFields } from '../support/splunk-run.js';
import type { Fields } from '../support/splunk-spl.js';
import { Peer, splitConcatenatedJson, type PeerReply, type PeerRequest } from './peer.js';

export interface HecPeerOptions {
  token: string;
  ack?: boolean;
  /** Polls an ack id needs before it reads true. */
  ackAfterPolls?: number;
  /** Ack ids that never confirm (a lost acknowledgement). */
  loseAck?: (ackId: number) => boolean;
  /** HEC restarts just before it takes event request number `post` (counted from 0). */
  restartBefore?: (post: number) => boolean;
  /** Envelopes HEC refuses as invalid data (code 6). */
  rejectEvent?: (envelope: Record<string, unknown>) => boolean;
  /** Serve HTTPS with this key and certificate. */
  tls?: { key: string; cert: string };
  /** Bearer token the search API takes. */
  searchToken?: string;
  /** User and password the search API takes as Basic authentication. */
  searchUser?: [string, string];
  /** The search user lacks the `search` capability. */
  searchForbidden?: boolean;
  /** Answer 200 and index nothing: a silent loss. `attempt` counts this event id's deliveries from 0. */
  lose?: (envelope: Record<string, unknown>, attempt: number) => boolean;
  /** An indexed event becomes searchable this long after HEC took it. */
  visibleAfterMs?: number;
  /**
   * Stream `preview: true` rows of a transforming search's table before the final rows, as the export endpoint
   * does while the table is built ('before'), or only those, the search ending before its final rows ('only').
   */
  previews?: 'before' | 'only';
  /** Change a final result row before it is sent (a broken proxy or search head). */
  alterResult?: (result: Record<string, unknown>) => void;
  /** Warnings streamed before the results, as a search head does when a peer did not answer. */
  searchWarnings?: string[];
}

/** limits.conf `[spath] extraction_cutoff`: search-time JSON extraction reads this many bytes of an event. */
export const EXTRACTION_CUTOFF = 5000;

interface Indexed {
  envelope: Record<string, unknown>;
  visibleAt: number;
}

const reply = (status: number, body: unknown): PeerReply => ({ status, body: JSON.stringify(body) });

export class HecPeer {
  readonly peer: Peer;
  /** Every envelope HEC accepted, in arrival order. */
  readonly events: Record<string, unknown>[] = [];
  readonly channels = new Set<string>();
  private nextAck = 0;
  /** Polls so far of each ack id HEC gave and has not confirmed yet. */
  private readonly polls = new Map<number, number>();
  /** What each of those ack ids covers: lost in a restart. */
  private readonly unconfirmed = new Map<number, Indexed[]>();
  private posts = 0;
  restarts = 0;
  /** What search sees: every indexed copy. */
  readonly indexed: Indexed[] = [];
  private readonly deliveries = new Map<string, number>();
  searches: { search: string; earliest: string; latest: string }[] = [];

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

  /** Change the indexed copies of an event. */
  alter(eventId: string, change: (event: Record<string, unknown>) => void): void {
    for (const i of this.indexed) if (String((i.envelope['event'] as Record<string, unknown>)['event_id']) === eventId) change(i.envelope['event'] as Record<string, unknown>);
  }

  indexedIds(): string[] {
    return this.indexed.map((i) => String((i.envelope['event'] as Record<string, unknown>)['event_id']));
  }

  private route(req: PeerRequest): PeerReply {
    if (req.path.startsWith('/services/search/')) return this.search(req);
    const denied = this.auth(req);
    if (denied) return denied;
    if (req.path === '/services/collector/ack') return this.ack(req);
    if (req.path !== '/services/collector/event') return reply(404, { text: 'The requested URL was not found on this server.', code: 404 });
    if (this.options.restartBefore?.(this.posts++)) this.restart();
    const text = req.body.toString('utf8');
    if (text.trim() === '') return reply(400, { text: 'No data', code: 5 });
    if (text.trimStart().startsWith('[')) return reply(400, { text: 'Invalid data format', code: 6, 'invalid-event-number': 0 });
    let envelopes: Record<string, unknown>[];
    try {
      envelopes = splitConcatenatedJson(text) as Record<string, unknown>[];
    } catch {
      return reply(400, { text: 'Invalid data format', code: 6, 'invalid-event-number': 0 });
    }
    const taken: Indexed[] = [];
    for (let i = 0; i < envelopes.length; i++) {
      const e = envelopes[i]!;
      if (e['event'] === undefined) return reply(400, { text: 'Event field is required', code: 12, 'invalid-event-number': i });
      if (this.options.rejectEvent?.(e)) return reply(400, { text: 'Invalid data format', code: 6, 'invalid-event-number': i });
      // HEC indexes in order and stops at the first invalid event, so the ones before it are in.
      this.events.push(e);
      const id = String((e['event'] as Record<string, unknown>)?.['event_id']);
      const attempt = this.deliveries.get(id) ?? 0;
      this.deliveries.set(id, attempt + 1);
      if (!this.options.lose?.(e, attempt)) taken.push({ envelope: e, visibleAt: Date.now() + (this.options.visibleAfterMs ?? 0) });
    }
    this.indexed.push(...taken);
    if (!this.options.ack) return reply(200, { text: 'Success', code: 0 });
    const ackId = this.nextAck++;
    this.polls.set(ackId, 0);
    this.unconfirmed.set(ackId, taken);
    return reply(200, { text: 'Success', code: 0, ackId });
  }

  /** A restart: the ack ids HEC gave are forgotten, and so are the events it had not confirmed yet. */
  private restart(): void {
    const lost = new Set([...this.unconfirmed.values()].flat());
    const kept = this.indexed.filter((i) => !lost.has(i));
    this.indexed.splice(0, this.indexed.length, ...kept);
    this.unconfirmed.clear();
    this.polls.clear();
    this.nextAck = 0;
    this.restarts++;
  }

  private ack(req: PeerRequest): PeerReply {
    if (!this.options.ack) return reply(400, { text: 'ACK is disabled', code: 14 });
    const ids = new Set((JSON.parse(req.body.toString('utf8')) as { acks: number[] }).acks);
    const acks: Record<string, boolean> = {};
    for (const id of ids) {
      const seen = this.polls.get(id);
      // An id HEC does not hold (never given, forgotten in a restart, or confirmed already) reads false.
      const n = seen === undefined ? 0 : seen + 1;
      const done = seen !== undefined && n >= (this.options.ackAfterPolls ?? 1) && !this.options.loseAck?.(id);
      if (done) {
        this.polls.delete(id);
        this.unconfirmed.delete(id);
      } else if (seen !== undefined) this.polls.set(id, n);
      acks[String(id)] = done;
    }
    return reply(200, { acks });
  }

  /** `POST /services/search/v2/jobs/export` on the management port. */
  private search(req: PeerRequest): PeerReply {
    const messages = (status: number, type: string, text: string): PeerReply => reply(status, { messages: [{ type, text }] });
    if (req.path !== '/services/search/v2/jobs/export') return messages(404, 'ERROR', 'Not Found');
    if (req.method !== 'POST') return messages(405, 'ERROR', 'Method not allowed: use POST');
    const auth = String(req.headers['authorization'] ?? '');
    const user = this.options.searchUser;
    const basic = user ? `Basic ${Buffer.from(`${user[0]}:${user[1]}`).toString('base64')}` : null;
    const bearer = this.options.searchToken ? `Bearer ${this.options.searchToken}` : null;
    if (auth !== bearer && auth !== basic) return messages(401, 'WARN', 'call not properly authenticated');
    if (this.options.searchForbidden) {
      return messages(403, 'ERROR', "User 'oversight' with roles { user-oversight } cannot search: it lacks the capability 'search'");
    }
    const form = new URLSearchParams(req.body.toString('utf8'));
    const search = form.get('search') ?? '';
    const earliest = Number(form.get('earliest_time'));
    const latest = Number(form.get('latest_time'));
    if (form.get('output_mode') !== 'json') return messages(400, 'ERROR', 'this fake answers output_mode=json only');
    if (!Number.isFinite(earliest) || !Number.isFinite(latest) || latest <= earliest) return messages(400, 'FATAL', 'Invalid earliest_time or latest_time');
    this.searches.push({ search, earliest: String(earliest), latest: String(latest) });
    const now = Date.now();
    // earliest_time is inclusive, latest_time exclusive.
    const events = this.indexed
      .filter((i) => i.visibleAt <= now)
      .map((i) => searchFields(i.envelope))
      .filter((f) => {
        const t = Number(f.get('_time'));
        return t >= earliest && t < latest;
      });
    let rows: Fields[];
    try {
      rows = runSearch(search, events, { now: latest, earliest: `${Math.ceil(latest - earliest) + 1}s`, macros: new Map() });
    } catch (err) {
      return messages(400, 'FATAL', `Error in search: ${(err as Error).message}`);
    }
    const result = (r: Fields): Record<string, unknown> =>
      Object.fromEntries([...r].map(([k, v]) => [k, Array.isArray(v) ? (v.length === 1 ? v[0] : v) : String(v)]));
    const alter = (r: Record<string, unknown>): Record<string, unknown> => (this.options.alterResult?.(r), r);
    const previews = this.options.previews ? rows.map((r, i) => JSON.stringify({ preview: true, offset: i, result: result(r) })) : [];
    const finals = this.options.previews === 'only' ? [] : rows.map((r, i) => JSON.stringify({
      preview: false, offset: i, ...(i === rows.length - 1 ? { lastrow: true } : {}), result: alter(result(r)),
    }));
    const warnings = (this.options.searchWarnings ?? []).map((text) => JSON.stringify({ messages: [{ type: 'WARN', text }] }));
    const lines = [...warnings, ...previews, ...finals];
    return { status: 200, body: lines.join('\n') + (lines.length ? '\n' : '') };
  }

  close(): Promise<void> {
    return this.peer.close();
  }
}

/**
 * What search sees of one event: JSON members that end within the first 5000 bytes of the event text,
 * metadata (the token's default index `main` when none was sent) and indexed fields.
 */
export function searchFields(envelope: Record<string, unknown>): Fields {
  const event = envelope['event'] as Record<string, unknown>;
  const kept: Record<string, unknown> = {};
  let offset = 1;
  for (const [k, v] of Object.entries(event)) {
    const end = offset + Buffer.byteLength(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    if (end > EXTRACTION_CUTOFF) break;
    kept[k] = v;
    offset = end + 1;
  }
  return searchTimeFields({ index: 'main', ...envelope, event: kept });
}
