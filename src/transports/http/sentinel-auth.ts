/**
 * The Log Analytics HTTP Data Collector API signature, as the reference's `sentinel_authorization`:
 * `SharedKey <workspace>:<base64(HMAC-SHA256(base64decode(key), string-to-sign))>` over
 * `POST\n<content-length>\napplication/json\nx-ms-date:<RFC 1123 date>\n/api/logs`.
 */
import { createHmac } from 'node:crypto';

export interface SentinelAuthorizationInput {
  workspaceId: string;
  sharedKeyB64: string;
  contentLength: number;
  dateRfc1123: string;
  method?: string;
  contentType?: string;
  resource?: string;
}

export function sentinelAuthorization(input: SentinelAuthorizationInput): string {
  const stringToSign =
    `${input.method ?? 'POST'}\n${input.contentLength}\n${input.contentType ?? 'application/json'}\n` +
    `x-ms-date:${input.dateRfc1123}\n${input.resource ?? '/api/logs'}`;
  const key = Buffer.from(input.sharedKeyB64, 'base64');
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('base64');
  return `SharedKey ${input.workspaceId}:${signature}`;
}

/** The RFC 1123 date the `x-ms-date` header and the signature share. */
export function rfc1123(date: Date = new Date()): string {
  return date.toUTCString();
}
