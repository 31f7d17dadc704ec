/**
 * The REST calls `siem setup` makes, shared by its targets: credentials from --header or the environment, the
 * same TLS and retry behaviour as `siem export`, one-line errors that name the fix, and `--dry-run`, which prints
 * each request a first install would make and sends nothing.
 */
import { randomBytes } from 'node:crypto';
import { ConfigurationError, ExportError, maskUserinfoLoosely, registerSecret } from '../shared/errors.js';
import { refuseUrlCredentials } from '../shared/url-credentials.js';
import { ES_CREDENTIALS } from '../transports/http/es-auth.js';
import { HttpClient, NetworkError, readCaFile, type HttpOptions } from '../transports/http/client.js';
import { RetryBudget, parseRetryAfter, type RetryOptions } from '../pipeline/retry.js';
import { excerpt, findHeader } from '../transports/transport.js';
import { CERTIFICATE_HINT } from '../transports/tls-failure.js';

export type Method = 'GET' | 'PUT' | 'POST';

export interface RestResponse {
  status: number;
  json: unknown;
}

export interface Target {
  /** "Elasticsearch" or "Kibana", in messages. */
  name: string;
  /** What a 403 means for this target: the privileges setup needs. */
  privileges: string;
}

export { elasticAuthHeaders as authHeaders } from '../transports/http/es-auth.js';

export function baseUrl(url: string, flag = '--url'): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigurationError(`${flag} ${maskUserinfoLoosely(url)} is not a valid URL (for example https://localhost:9200)`);
  }
  refuseUrlCredentials(flag, url, `${ES_CREDENTIALS}, or an Authorization header in --header-file`);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigurationError(`${flag} must be an http:// or https:// URL, not ${u.protocol}`);
  if (u.search || u.hash) throw new ConfigurationError(`${flag} must not carry a query or fragment`);
  return u.toString().replace(/\/+$/, '');
}

/** A multipart/form-data body with one file part, as Kibana's import APIs take it. */
export function multipartFile(field: string, filename: string, data: string): { body: Buffer; contentType: string } {
  const boundary = `oversight-${randomBytes(12).toString('hex')}`;
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: application/ndjson\r\n\r\n`;
  return { body: Buffer.concat([Buffer.from(head), Buffer.from(data, 'utf8'), Buffer.from(`\r\n--${boundary}--\r\n`)]), contentType: `multipart/form-data; boundary=${boundary}` };
}

export interface RestOptions {
  url: string;
  headers: Record<string, string>;
  http: HttpOptions;
  retry: RetryOptions;
  dryRun: boolean;
  /** Where --dry-run prints requests. */
  print: (text: string) => void;
  log: (message: string) => void;
}

export class RestClient {
  private readonly client: HttpClient | null;
  private readonly base: string;

  constructor(readonly target: Target, private readonly options: RestOptions) {
    this.base = baseUrl(options.url);
    // A dry run sends nothing, but checks the settings a real run would use, so it passes only when that run could.
    if (options.dryRun) readCaFile(options.http.caFile);
    this.client = options.dryRun ? null : new HttpClient(options.http);
  }

  get dryRun(): boolean {
    return this.options.dryRun;
  }

  /** Print a request instead of sending it (only with --dry-run). */
  show(method: Method, path: string, body: string, note = ''): void {
    this.options.print(`${method} ${path}${note ? `\n# ${note}` : ''}\n${body.endsWith('\n') ? body : body + '\n'}\n`);
  }

  /**
   * Send one request, retrying what may pass (network errors, 408, 429, 5xx) within --retry-max-duration.
   * 401 and 403 stop at once (an `optional` request gets its 403 back); any other answer is the caller's to read.
   */
  async request(
    method: Method, path: string, body?: string | Buffer, headers: Record<string, string> = {}, { optional = false } = {},
  ): Promise<RestResponse> {
    if (!this.client) throw new Error(`no request may be sent with --dry-run (${method} ${path})`);
    const what = `${method} ${path.split('?')[0]}`;
    const budget = new RetryBudget(this.options.retry, `${this.target.name} ${what}`);
    for (;;) {
      let reason: string;
      let retryAfterMs: number | undefined;
      try {
        const res = await this.client.send(method, this.base + path, { ...this.options.headers, ...headers }, body);
        if (res.status === 401) {
          throw new ExportError(
            `${this.target.name} answered 401 to ${what}: not authenticated; set OVERSIGHT_ES_API_KEY (or OVERSIGHT_ES_USERNAME and OVERSIGHT_ES_PASSWORD) or pass --header 'Authorization: ApiKey <key>'`,
          );
        }
        if (res.status === 403) {
          // A look the setup can do without (a hint) does not need a privilege the install itself does not.
          if (optional) return { status: 403, json: null };
          throw new ExportError(`${this.target.name} answered 403 to ${what}: the credentials lack a privilege; setup needs ${this.target.privileges}`);
        }
        if (res.status !== 408 && res.status !== 429 && (res.status < 500 || res.status === 501)) {
          let json: unknown = null;
          try {
            json = res.body ? JSON.parse(res.body) : null;
          } catch {
            if (res.status < 300) throw new ExportError(`${this.target.name} answered ${what} with a body that is not JSON: ${excerpt(res.body)}`);
            json = { message: res.body };
          }
          return { status: res.status, json };
        }
        reason = `HTTP ${res.status}${res.body ? ': ' + excerpt(res.body) : ''}`;
        retryAfterMs = parseRetryAfter(res.headers['retry-after']);
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err;
        if (err.tls) throw new ExportError(`${err.message} ${CERTIFICATE_HINT}`);
        if (err.final) throw new ExportError(err.message);
        reason = err.message;
      }
      await budget.wait(reason, retryAfterMs, (ms) => this.options.log(`${this.target.name} ${what}: ${reason}; retrying in ${(ms / 1000).toFixed(1)}s`));
    }
  }

  /** A refusal as one line: the target's own reason where it gives one. */
  refused(what: string, res: RestResponse, hint = ''): ExportError {
    const j = res.json as { error?: { type?: string; reason?: string; root_cause?: { reason?: string }[] } | string; message?: string } | null;
    const e = j?.error;
    const reason = typeof e === 'object' && e ? [e.type, e.reason ?? e.root_cause?.[0]?.reason].filter(Boolean).join(': ') : j?.message ?? (typeof e === 'string' ? e : '');
    return new ExportError(`${this.target.name} refused ${what} (HTTP ${res.status})${reason ? `: ${excerpt(String(reason))}` : ''}${hint ? ` ${hint}` : ''}`);
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}

/**
 * Whether what is installed already says what we would send: every key we send is there with the same value.
 * Keys the server adds (defaults such as `data_stream.hidden`, `lifecycle.enabled`, saved-object bookkeeping)
 * do not count, except inside `mappings`, which must match exactly.
 */
export function covers(desired: unknown, actual: unknown, exact = false): boolean {
  if (Array.isArray(desired)) {
    return Array.isArray(actual) && actual.length === desired.length && desired.every((d, i) => covers(d, actual[i], exact));
  }
  if (typeof desired === 'object' && desired !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
    const a = actual as Record<string, unknown>;
    const d = desired as Record<string, unknown>;
    if (exact && Object.keys(a).length !== Object.keys(d).length) return false;
    return Object.entries(d).every(([k, v]) => k in a && covers(v, a[k], exact || k === 'mappings'));
  }
  return desired === actual;
}
