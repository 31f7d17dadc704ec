/** The reference's generic HTTP output: each batch POSTed as a JSON array to any collector URL. */
import { chooseCompression, wireBody, type Compression } from '../compress.js';
import { jsonArrayEncoder, type Entry } from '../encoder.js';
import { NetworkError, safeHost, type HttpClient } from '../http-client.js';
import { networkVerdict, statusVerdict, type Transport, type Verdict } from '../transport.js';

export class HttpJsonTransport implements Transport {
  readonly name = 'http';
  readonly encoder = jsonArrayEncoder;
  readonly defaults = { maxEvents: 500, maxBytes: 5_000_000 };
  readonly hardMaxBytes = Infinity;
  private readonly headers: Record<string, string>;
  readonly compression: Compression;

  constructor(private readonly url: string, headers: Record<string, string>, private readonly client: HttpClient, compress?: Compression | null) {
    this.headers = { 'content-type': 'application/json', ...headers };
    // Off unless asked: an unknown collector may not decompress, and would store the gzip bytes or refuse them.
    this.compression = chooseCompression(compress, 'http', { default: 'none', gzip: true });
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
