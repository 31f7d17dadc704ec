/**
 * Typed failures, turned into exit codes only at the CLI edge: a ConfigurationError is the user's to fix
 * (exit 2), an ExportError happened while running (exit 1). Messages are one line and name the fix.
 */
export class ConfigurationError extends Error {
  readonly exitCode = 2;
  override name = 'ConfigurationError';
}

export class ExportError extends Error {
  readonly exitCode = 1;
  override name = 'ExportError';
}

/**
 * The registry cannot be opened yet (missing, or its server has not created the WAL files a reader needs): a
 * runtime condition, which follow mode waits out and a one-shot export reports with exit 1.
 */
export class RegistryUnavailable extends ExportError {
  override name = 'RegistryUnavailable';
}

/**
 * Secrets registered here are masked in every message the tool prints or writes, in each form a peer may echo
 * them back in: as they are, JSON-escaped, and base64 (standard and URL-safe, with or without padding) of the
 * value, each also URL-encoded. A peer echoes what our own requests sent, and encoders differ: encodeURIComponent
 * leaves `~!'()*` alone, a form body (URLSearchParams) escapes all but `*` and spells a space `+`, others escape
 * everything but letters and digits, in either hex case. So any character but a letter or digit matches itself or
 * its percent-encoded UTF-8 bytes in either case, and a space also `+`: one pattern covers every such spelling.
 */
const secrets = new Set<string>();
/** Longest first, so a form that contains another is masked whole. */
let masks: RegExp[] = [];

export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < 4) return;
  const known = secrets.size;
  for (const form of secretForms(value)) if (form.length >= 4) secrets.add(form);
  if (secrets.size !== known) masks = [...secrets].sort((a, b) => b.length - a.length).map(anyUrlEncoding);
}

function secretForms(value: string): string[] {
  const b64 = Buffer.from(value, 'utf8').toString('base64');
  const b64url = b64.replace(/\+/g, '-').replace(/\//g, '_');
  return [value, JSON.stringify(value).slice(1, -1), b64, b64.replace(/=+$/, ''), b64url, b64url.replace(/=+$/, '')];
}

function anyUrlEncoding(form: string): RegExp {
  let source = '';
  for (const c of form) {
    if (/^[A-Za-z0-9]$/.test(c)) {
      source += c;
      continue;
    }
    const escaped = [...Buffer.from(c, 'utf8')].map((b) => `%${hexDigit(b >> 4)}${hexDigit(b & 15)}`).join('');
    source += `(?:${c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')}|${escaped}${c === ' ' ? '|\\+' : ''})`;
  }
  return new RegExp(source, 'g');
}

function hexDigit(n: number): string {
  const d = n.toString(16);
  return n < 10 ? d : `[${d}${d.toUpperCase()}]`;
}

/**
 * The user and password of a URL in any text (`scheme://user:password@host`): up to the last @ before the path,
 * query or fragment, as URL parsers read it. Matched on the text, not parsed, so a URL that fails to parse for
 * another reason is masked too. Whitespace ends it: in free text a space more often ends a URL without a path
 * than sits in a password, and running on would mask the words up to the next @ (an e-mail address). A password
 * with a space, given in a URL setting, is masked whole by `maskUrl` and registered as a secret there.
 */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#\\]*@/gi;

export function maskUserinfo(text: string): string {
  return text.replace(USERINFO, '$1***@');
}

/** A scheme at the start of a value, and a user and password given without one (`admin:secret@host:port`). */
const SCHEME = /^(\s*[a-z][a-z0-9+.-]*:\/\/)[^/?#\\]*@/i;
const BARE = /^[^/]*@(?=(?:\[[0-9a-f:.]+\]|[\w.-]+):\d{1,5}(?:\/.*)?$)/is;

/**
 * A whole value given as a URL, its user and password masked: up to the last @ of the authority when it parses
 * as a URL with credentials, else up to its last @, since a `/`, `?` or `#` in a password is what often made it
 * fail. `admin:secret@host:port`, a URL without its scheme, is masked too.
 */
export function maskUrl(value: string): string {
  // `admin:secret@host:9200` parses, as a URL of scheme `admin:` without credentials.
  if (BARE.test(value)) return value.replace(BARE, '***@');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return maskUserinfoLoosely(value);
  }
  if (url.username === '' && url.password === '') return value;
  const masked = value.replace(SCHEME, '$1***@');
  return masked === value ? maskUserinfoLoosely(value) : masked;
}

/** For a whole value that is not a valid URL, or not one we take: up to its last @. */
export function maskUserinfoLoosely(value: string): string {
  return value.replace(/^(\s*[a-z][a-z0-9+.-]*:\/\/)[^]*@/i, '$1***@').replace(BARE, '***@');
}

export function redact(text: string): string {
  let out = maskUserinfo(text);
  for (const re of masks) out = out.replace(re, '***');
  return out;
}

/**
 * Control characters shown as escapes, so text that came from a peer or a registry row cannot end a log line,
 * start a forged one, or colour and move a terminal: C0 and C1 controls, DEL, and the Unicode line and
 * paragraph separators and bidirectional overrides.
 */
export function escapeControls(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
