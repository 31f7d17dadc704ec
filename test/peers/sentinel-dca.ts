/**
 * A fake Log Analytics HTTP Data Collector API: checks the API version, content type, Log-Type and
 * time-generated-field headers, and recomputes the SharedKey signature from the body it received (uncompressed:
 * a Content-Encoding is refused).
 */
import { createHmac } from 'node:crypto';
import { Peer, type PeerReply, type PeerRequest } from './peer.js';

const err = (status: number, code: string, message: string): PeerReply => ({
  status,
  body: JSON.stringify({ Error: code, Message: message }),
});

export class SentinelPeer {
  readonly peer: Peer;
  readonly records: Record<string, unknown>[] = [];
  readonly logTypes = new Set<string>();
  readonly timeFields = new Set<string>();

  constructor(private readonly workspaceId: string, private readonly sharedKey: string) {
    this.peer = new Peer((req) => this.route(req), /\/api\/logs/);
    // The API documents no compressed bodies; the signature covers the Content-Length of the JSON itself.
    this.peer.acceptsGzip = false;
  }

  async start(): Promise<this> {
    await this.peer.start();
    return this;
  }

  get url(): string {
    return `${this.peer.url}/api/logs?api-version=2016-04-01`;
  }

  private route(req: PeerRequest): PeerReply {
    if (req.path !== '/api/logs') return { status: 404, body: '' };
    if (req.url.searchParams.get('api-version') !== '2016-04-01') return err(400, 'InvalidApiVersion', 'The API version is not supported');
    if (req.headers['content-type'] !== 'application/json') return err(400, 'UnsupportedContentType', 'The content type is not supported');
    const logType = req.headers['log-type'] as string | undefined;
    if (!logType) return err(400, 'MissingLogType', 'The log type is missing');
    if (!/^[A-Za-z0-9_]{1,100}$/.test(logType)) return err(400, 'InvalidLogType', 'The log type is invalid');
    const date = req.headers['x-ms-date'] as string | undefined;
    if (!date || Number.isNaN(Date.parse(date)) || Math.abs(Date.now() - Date.parse(date)) > 15 * 60_000) {
      return err(403, 'InvalidAuthorization', 'x-ms-date is missing or too far from now');
    }
    const stringToSign = `POST\n${req.wire.length}\napplication/json\nx-ms-date:${date}\n/api/logs`;
    const expected = `SharedKey ${this.workspaceId}:` +
      createHmac('sha256', Buffer.from(this.sharedKey, 'base64')).update(stringToSign, 'utf8').digest('base64');
    if (req.headers['authorization'] !== expected) return err(403, 'InvalidAuthorization', 'An invalid scheme was specified in the Authorization header');
    let records: unknown;
    try {
      records = JSON.parse(req.body.toString('utf8'));
    } catch {
      return err(400, 'InvalidDataFormat', 'The body is not valid JSON');
    }
    if (!Array.isArray(records)) return err(400, 'InvalidDataFormat', 'The body must be a JSON array');
    this.logTypes.add(logType);
    this.timeFields.add(String(req.headers['time-generated-field']));
    this.records.push(...(records as Record<string, unknown>[]));
    return { status: 200, body: '' };
  }

  eventIds(): string[] {
    return this.records.map((r) => String(r['EventId']));
  }

  close(): Promise<void> {
    return this.peer.close();
  }
}
