/**
 * Microsoft Entra ID client-credentials tokens for the Logs Ingestion API, cached and refreshed before they
 * expire. The client secret never leaves this module except in the token request body.
 */
import { registerSecret } from '../../shared/errors.js';
import { HttpClient, NetworkError } from './client.js';
import { excerpt } from '../transport.js';

export interface ClientCredentialConfig {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** Default https://login.microsoftonline.com; sovereign clouds and tests set another. */
  authorityHost: string;
  scope: string;
}

/** Why a token could not be had: `retry` may pass (network, 5xx), `stop` will not (bad credentials). */
export class TokenError extends Error {
  constructor(message: string, readonly retry: boolean) {
    super(message);
  }
}

/** Far longer than any Entra access token (a few KB), short enough to go in a request header. */
const MAX_TOKEN = 32 * 1024;

const kind = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : `${typeof v === 'object' ? 'an' : 'a'} ${typeof v}`);

/**
 * The token and its lifetime from a token endpoint's JSON answer, or what is wrong with it in a few words: the
 * token goes into a header of every request, so it must be one printable word.
 */
function readToken(body: unknown): { accessToken: string; lifetimeMs: number } | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return `the answer is ${kind(body)}, not an object`;
  const t = (body as Record<string, unknown>)['access_token'];
  if (t === undefined) return 'no access_token';
  if (typeof t !== 'string') return `access_token is ${kind(t)}, not a string`;
  if (!/^[\x21-\x7e]+$/.test(t) || t.length > MAX_TOKEN) return `access_token is not one word of printable characters up to ${MAX_TOKEN} long`;
  const e = (body as Record<string, unknown>)['expires_in'] ?? 3600;
  // Entra's v2 endpoint sends a number; older ones a string of digits.
  const seconds = typeof e === 'number' ? e : typeof e === 'string' && /^\d+$/.test(e) ? Number(e) : NaN;
  if (!Number.isFinite(seconds) || seconds <= 0) return 'expires_in is not a positive number of seconds';
  return { accessToken: t, lifetimeMs: seconds * 1000 };
}

/** Refresh this long before expiry, so a request never leaves with a token about to lapse. */
const REFRESH_MARGIN_MS = 5 * 60_000;

export class ClientCredential {
  private token: string | null = null;
  private expiresAt = 0;
  requests = 0;

  constructor(private readonly config: ClientCredentialConfig, private readonly client: HttpClient) {}

  get tokenUrl(): string {
    return `${this.config.authorityHost.replace(/\/+$/, '')}/${encodeURIComponent(this.config.tenantId)}/oauth2/v2.0/token`;
  }

  async getToken(now = Date.now()): Promise<string> {
    if (this.token && now < this.expiresAt) return this.token;
    const form = new URLSearchParams({
      client_id: this.config.clientId,
      client_secret: this.config.clientSecret,
      grant_type: 'client_credentials',
      scope: this.config.scope,
    }).toString();
    this.requests++;
    let res;
    try {
      res = await this.client.post(this.tokenUrl, { 'content-type': 'application/x-www-form-urlencoded' }, form);
    } catch (err) {
      if (err instanceof NetworkError) throw new TokenError(`token request failed: ${err.message}`, !err.tls && !err.final);
      throw err;
    }
    if (res.status !== 200) {
      const retry = res.status === 429 || res.status >= 500;
      throw new TokenError(`Entra ID token endpoint answered HTTP ${res.status}: ${excerpt(res.body)}`, retry);
    }
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      throw new TokenError('Entra ID token endpoint answered with something that is not JSON', true);
    }
    const token = readToken(body);
    if (typeof token === 'string') {
      // The body is not quoted: whatever it holds may be a credential, and none of it is registered as one yet.
      const why = `Entra ID token endpoint answered HTTP 200 without a usable token: ${token}`;
      throw new TokenError(`${why} (is AZURE_AUTHORITY_HOST the Entra ID authority?)`, true);
    }
    const { accessToken, lifetimeMs } = token;
    // The bearer token is a credential like the client secret: masked wherever a message might quote it.
    registerSecret(accessToken);
    registerSecret(`Bearer ${accessToken}`);
    this.token = accessToken;
    // Short-lived tokens are refreshed at half their life, long ones five minutes before the end.
    this.expiresAt = now + Math.max(lifetimeMs / 2, lifetimeMs - REFRESH_MARGIN_MS);
    return this.token;
  }

  /** Forget the cached token, after the API said it is no longer good. */
  invalidate(): void {
    this.token = null;
  }
}
