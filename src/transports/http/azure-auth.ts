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
      if (err instanceof NetworkError) throw new TokenError(`token request failed: ${err.message}`, !err.tls);
      throw err;
    }
    if (res.status !== 200) {
      const retry = res.status === 429 || res.status >= 500;
      throw new TokenError(`Entra ID token endpoint answered HTTP ${res.status}: ${excerpt(res.body)}`, retry);
    }
    let body: { access_token?: string; expires_in?: number | string };
    try {
      body = JSON.parse(res.body) as typeof body;
    } catch {
      throw new TokenError('Entra ID token endpoint answered with something that is not JSON', true);
    }
    if (!body.access_token) throw new TokenError('Entra ID token response has no access_token', false);
    const lifetimeMs = Number(body.expires_in ?? 3600) * 1000;
    // The bearer token is a credential like the client secret: masked wherever a message might quote it.
    registerSecret(body.access_token);
    registerSecret(`Bearer ${body.access_token}`);
    this.token = body.access_token;
    // Short-lived tokens are refreshed at half their life, long ones five minutes before the end.
    this.expiresAt = now + Math.max(lifetimeMs / 2, lifetimeMs - REFRESH_MARGIN_MS);
    return this.token;
  }

  /** Forget the cached token, after the API said it is no longer good. */
  invalidate(): void {
    this.token = null;
  }
}
