/**
 * Elasticsearch and Kibana credentials, the same for `siem export` and `siem setup`: an `Authorization` from
 * --header wins, else an API key, else a user and password, each from the environment or a `<NAME>_FILE`.
 */
import { secretFromEnv } from '../../shared/secrets.js';
import { ConfigurationError, registerSecret } from '../../shared/errors.js';
import { findHeader } from '../transport.js';

/** The variables Elasticsearch and Kibana credentials come from. */
export const ES_VARIABLES = [
  { name: 'OVERSIGHT_ES_API_KEY', description: 'an Elasticsearch API key (encoded form)', secret: true },
  { name: 'OVERSIGHT_ES_USERNAME', description: 'a user, with OVERSIGHT_ES_PASSWORD, where there is no API key' },
  { name: 'OVERSIGHT_ES_PASSWORD', description: "that user's password", secret: true },
] as const;

/** Where Elasticsearch and Kibana credentials go instead of a URL. */
export const ES_CREDENTIALS = 'a user and password go in OVERSIGHT_ES_USERNAME and OVERSIGHT_ES_PASSWORD (or OVERSIGHT_ES_PASSWORD_FILE), an API key in OVERSIGHT_ES_API_KEY';

export function elasticAuthHeaders(headers: Record<string, string>, env: NodeJS.ProcessEnv): Record<string, string> {
  if (findHeader(headers, 'authorization')) return headers;
  const apiKey = secretFromEnv(env, 'OVERSIGHT_ES_API_KEY', true);
  if (apiKey) {
    registerSecret(apiKey);
    const authorization = /^ApiKey\s/i.test(apiKey) ? apiKey : `ApiKey ${apiKey}`;
    // The whole header value too: its base64 or URL-encoded form differs from the key's.
    registerSecret(authorization);
    return { ...headers, authorization };
  }
  const user = env['OVERSIGHT_ES_USERNAME']?.trim();
  const password = secretFromEnv(env, 'OVERSIGHT_ES_PASSWORD');
  if (user || password) {
    if (!user || !password) throw new ConfigurationError('set both OVERSIGHT_ES_USERNAME and OVERSIGHT_ES_PASSWORD, or neither');
    registerSecret(password);
    const basic = Buffer.from(`${user}:${password}`).toString('base64');
    registerSecret(basic);
    registerSecret(`${user}:${password}`);
    registerSecret(`Basic ${basic}`);
    return { ...headers, authorization: `Basic ${basic}` };
  }
  return headers;
}
