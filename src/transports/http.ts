/** The reference's generic HTTP output: each batch POSTed as a JSON array to any collector URL. */
import { jsonArrayEncoder, type Entry } from '../encoder.js';
import { NetworkError, safeHost, type HttpClient } from '../http-client.js';
import { networkVerdict, statusVerdict, type Transport, type Verdict } from '../transport.js';

export class HttpJsonTransport implements Transport {
  readonly name = 'http';
  readonly encoder = jsonArrayEncoder;
  readonly defaults = { maxEvents: 500, maxBytes: 5_000_000 };
  readonly hardMaxBytes = Infinity;
  private readonly headers: Record<string, string>;

  constructor(private readonly url: string, headers: Record<string, string>, private readonly client: HttpClient) {
    this.headers = { 'content-type': 'application/json', ...headers };
  }

  async send(_entries: readonly Entry[], body: Buffer): Promise<Verdict> {
    try {
      return statusVerdict(await this.client.post(this.url, this.headers, body), safeHost(this.url));
    } catch (err) {
      if (err instanceof NetworkError) return networkVerdict(err);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
