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

/** Secrets registered here are masked in every message the tool prints or writes. */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 4) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('***');
  return out;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
