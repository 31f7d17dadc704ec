/**
 * What an HTTP header may hold, checked when the settings are read. The HTTP client refuses a bad header on every
 * attempt with an error that looks like a network failure, which would be retried for --retry-max-duration and,
 * under a service manager, restarted for ever; found here, it is a usage error (exit 2) before anything is sent.
 */

/** A header name: an RFC 9110 token. */
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Headers the HTTP client derives from the request itself. undici refuses most of them outright; a Content-Length
 * or Content-Encoding of one's own would describe a body other than the one sent.
 */
const OWNED = new Set([
  'host', 'content-length', 'content-encoding', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'expect', 'te', 'trailer',
]);

/** Why `name` cannot be set by a user, or null. */
export function ownedHeader(name: string): string | null {
  const lower = name.toLowerCase();
  if (!OWNED.has(lower)) return null;
  return lower === 'content-encoding' ? 'is set from --compress' : 'is set by the HTTP client from the request';
}

/**
 * Why `value` cannot be a header value, or null. Values are printable ASCII, spaces and tabs (RFC 9110 without
 * obs-text): undici would send U+0080 to U+00FF as single Latin-1 bytes, not the UTF-8 the user wrote, and refuses
 * anything above (which is also what bytes that are not UTF-8 become when a file is read).
 */
export function headerValueProblem(value: string): string | null {
  if (/[\r\n]/.test(value)) return 'holds more than one line';
  if (/[\x00-\x08\x0b-\x1f\x7f]/.test(value)) return 'holds a control character';
  if (/[^\t\x20-\x7e]/.test(value)) return 'holds text that is not ASCII (or bytes that are not UTF-8)';
  return null;
}
