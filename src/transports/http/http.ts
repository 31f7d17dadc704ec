/**
 * The reference's generic HTTP output: each batch POSTed as a JSON array to any collector URL. Text records
 * (CEF, LEEF) cannot go in a JSON array; they are POSTed one per line as text/plain, the body a syslog or
 * log collector's HTTP input splits on newlines.
 */
import { chooseCompression, wireBody, type Compression } from '../compress.js';
import { jsonArrayEncoder, type Encoder, type Entry } from '../../pipeline/encoder.js';
import { HttpClient, NetworkError, safeHost } from './client.js';
import { networkVerdict, statusVerdict, type Transport, type Verdict } from '../transport.js';
import type { TransportDescription } from '../describe.js';

const textLinesEncoder: Encoder = { name: 'text-lines', open: '', close: '', separator: '', terminator: '\n' };
const BATCH = { maxEvents: 500, maxBytes: 5_000_000, hardMaxBytes: Infinity };
/** Off unless asked: an unknown collector may not decompress, and would store the gzip bytes or refuse them. */
const HTTP_COMPRESSION = { default: 'none', gzip: true } as const;

export class HttpJsonTransport implements Transport {
  readonly name = httpTransport.name;
  readonly encoder: Encoder;
  readonly defaults = httpTransport.batch;
  readonly hardMaxBytes = httpTransport.batch.hardMaxBytes;
  private readonly headers: Record<string, string>;
  readonly compression: Compression;

  constructor(
    private readonly url: string,
    headers: Record<string, string>,
    private readonly client: HttpClient,
    text = false,
    compress?: Compression | null,
  ) {
    this.encoder = text ? textLinesEncoder : jsonArrayEncoder;
    this.headers = { 'content-type': text ? 'text/plain; charset=utf-8' : 'application/json', ...headers };
    this.compression = chooseCompression(compress, 'http', HTTP_COMPRESSION);
  }

  async send(_entries: readonly Entry[], body: Buffer): Promise<Verdict> {
    const wire = await wireBody(body, this.compression);
    try {
      return statusVerdict(await this.client.post(this.url, { ...this.headers, ...wire.headers }, wire.body), safeHost(this.url));
    } catch (err) {
      if (err instanceof NetworkError) return networkVerdict(err);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

export const httpTransport: TransportDescription = {
  name: 'http',
  summary: 'POST each batch to any collector URL (a JSON array, or one text record per line)',
  schemes: ['http', 'https'],
  batch: BATCH,
  compression: HTTP_COMPRESSION,
  create: (ctx) => new HttpJsonTransport(ctx.output, ctx.headers, new HttpClient(ctx.http), ctx.format.records === 'text', ctx.compress),
};
