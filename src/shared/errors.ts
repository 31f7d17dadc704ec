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
 * them back in: as they are, URL-encoded (either hex case, `+` or `%20` for spaces), JSON-escaped, and base64
 * (standard and URL-safe, with or without padding) of the value.
 */
const secrets = new Set<string>();
/** Longest first, so a form that contains another is masked whole. */
let masks: string[] = [];

export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < 4) return;
  for (const form of secretForms(value)) if (form.length >= 4) secrets.add(form);
  masks = [...secrets].sort((a, b) => b.length - a.length);
}

function secretForms(value: string): string[] {
  const url = encodeURIComponent(value);
  const b64 = Buffer.from(value, 'utf8').toString('base64');
  const b64url = b64.replace(/\+/g, '-').replace(/\//g, '_');
  return [
    value,
    url,
    url.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
    url.replace(/%20/g, '+'),
    JSON.stringify(value).slice(1, -1),
    b64,
    b64.replace(/=+$/, ''),
    b64url,
    b64url.replace(/=+$/, ''),
  ];
}

export function redact(text: string): string {
  let out = text;
  for (const s of masks) if (out.includes(s)) out = out.split(s).join('***');
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
