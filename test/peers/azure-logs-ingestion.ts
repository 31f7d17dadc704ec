/**
 * A fake Entra ID token endpoint and Azure Monitor Logs Ingestion API on one server: client-credentials tokens
 * that expire, a DCR stream that takes JSON arrays of at most 1 MiB with a valid bearer token, and answers 204.
 */
import { Peer, type PeerReply, type PeerRequest } from './peer.js';

export interface AzurePeerOptions {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  dcr: string;
  stream: string;
  /** Token lifetime in seconds. */
  expiresIn?: number;
}

export const MAX_BODY = 1024 * 1024;

export class AzurePeer {
  readonly peer: Peer;
  readonly records: Record<string, unknown>[] = [];
  readonly tokens = new Map<string, number>();
  tokenRequests = 0;
  expiredTokenUses = 0;
  largestBody = 0;

  constructor(private readonly o: AzurePeerOptions) {
    this.peer = new Peer((req) => this.route(req), /\/streams\//);
  }

  async start(): Promise<this> {
    await this.peer.start();
    return this;
  }

  get authority(): string {
    return this.peer.url;
  }

  get url(): string {
    return `${this.peer.url}/dataCollectionRules/${this.o.dcr}/streams/${this.o.stream}?api-version=2023-01-01`;
  }

  private route(req: PeerRequest): PeerReply {
    if (req.path === `/${this.o.tenantId}/oauth2/v2.0/token`) return this.token(req);
    if (req.path === `/dataCollectionRules/${this.o.dcr}/streams/${this.o.stream}`) return this.ingest(req);
    return { status: 404, body: JSON.stringify({ error: { code: 'NotFound', message: 'Data collection rule or stream not found' } }) };
  }

  private token(req: PeerRequest): PeerReply {
    this.tokenRequests++;
    const form = new URLSearchParams(req.body.toString('utf8'));
    if (form.get('grant_type') !== 'client_credentials' || form.get('scope') !== 'https://monitor.azure.com//.default') {
      return { status: 400, body: JSON.stringify({ error: 'invalid_request', error_description: 'AADSTS900144: bad grant or scope' }) };
    }
    if (form.get('client_id') !== this.o.clientId || form.get('client_secret') !== this.o.clientSecret) {
      return { status: 401, body: JSON.stringify({ error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' }) };
    }
    const expiresIn = this.o.expiresIn ?? 3600;
    const token = `at-${this.tokenRequests}-${Math.random().toString(36).slice(2)}`;
    this.tokens.set(token, Date.now() + expiresIn * 1000);
    return { status: 200, body: JSON.stringify({ token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: token }) };
  }

  private ingest(req: PeerRequest): PeerReply {
    if (req.url.searchParams.get('api-version') !== '2023-01-01') return { status: 400, body: '{"error":{"code":"InvalidApiVersion"}}' };
    const token = String(req.headers['authorization'] ?? '').replace(/^Bearer /, '');
    const expires = this.tokens.get(token);
    if (expires === undefined) return { status: 401, body: '{"error":{"code":"InvalidToken","message":"The provided token is invalid"}}' };
    if (Date.now() > expires) {
      this.expiredTokenUses++;
      return { status: 401, body: '{"error":{"code":"ExpiredToken","message":"The provided token has expired"}}' };
    }
    // The 1 MB limit holds for the body as sent and as decompressed.
    const size = Math.max(req.body.length, req.wire.length);
    this.largestBody = Math.max(this.largestBody, size);
    if (size > MAX_BODY) {
      return {
        status: 413,
        body: JSON.stringify({ error: { code: 'ContentLengthLimitExceeded', message: `Maximum allowed content length: ${MAX_BODY} bytes (1 MB). Provided content length: ${size} bytes.` } }),
      };
    }
    let records: unknown;
    try {
      records = JSON.parse(req.body.toString('utf8'));
    } catch {
      return { status: 400, body: '{"error":{"code":"InvalidContent","message":"body is not JSON"}}' };
    }
    if (!Array.isArray(records)) return { status: 400, body: '{"error":{"code":"InvalidContent","message":"body must be a JSON array"}}' };
    this.records.push(...(records as Record<string, unknown>[]));
    return { status: 204 };
  }

  eventIds(): string[] {
    return this.records.map((r) => String(r['EventId']));
  }

  close(): Promise<void> {
    return this.peer.close();
  }
}
