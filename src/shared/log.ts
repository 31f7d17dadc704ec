/**
 * The one way the tool writes to stderr. Text keeps the lines people already grep for; JSON gives a log
 * shipper one object per line with the same message and the fields behind it. Every line goes through
 * redact(), so a secret that reaches a message is masked in both formats.
 */
import { ConfigurationError, escapeControls, redact } from './errors.js';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

export function parseLogFormat(value: string | undefined): LogFormat {
  const v = value ?? 'text';
  if (v === 'text' || v === 'json') return v;
  throw new ConfigurationError(`--log-format must be text or json, not '${v}'`);
}

export class Logger {
  format: LogFormat = 'text';
  /** --quiet: only errors. */
  quiet = false;

  constructor(private readonly write: (line: string) => void = (line) => void process.stderr.write(line)) {}

  info(message: string, fields?: LogFields): void {
    if (!this.quiet) this.emit('info', message, fields, true);
  }

  warn(message: string, fields?: LogFields): void {
    if (!this.quiet) this.emit('warn', message, fields, true);
  }

  error(message: string, fields?: LogFields): void {
    this.emit('error', message, fields, true);
  }

  /** The outcome of a command: a bare line in text ("exported 10 event(s) as ecs"), a record in JSON. */
  result(message: string, fields?: LogFields): void {
    if (!this.quiet) this.emit('info', message, fields, false);
  }

  private emit(level: LogLevel, message: string, fields: LogFields | undefined, prefixed: boolean): void {
    if (this.format === 'text') {
      // One event, one line: a newline or terminal escape from a peer's answer or a registry id is shown, not obeyed.
      this.write(escapeControls(redact(`${prefixed ? 'oversight: ' : ''}${message}`)) + '\n');
      return;
    }
    // Masked before and after quoting: JSON escaping could otherwise hide a secret from the second pass.
    const record: Record<string, unknown> = { time: new Date().toISOString(), level, message: redact(message) };
    for (const [k, v] of Object.entries(fields ?? {})) {
      if (v !== undefined && !(k in record)) record[k] = typeof v === 'string' ? redact(v) : v;
    }
    // JSON escapes C0 controls itself; C1 controls, line separators and bidi overrides are escaped here too.
    this.write(redact(JSON.stringify(record)).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, jsonEscape) + '\n');
  }
}

function jsonEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** The process-wide logger; a command sets its format and quietness before it does anything else. */
export const log = new Logger();

/** "rowids 31–50" as fields a log shipper can filter on. */
export function rowidFields(entries: readonly { rowid: number }[]): LogFields {
  if (entries.length === 0) return {};
  return { events: entries.length, first_rowid: entries[0]!.rowid, last_rowid: entries[entries.length - 1]!.rowid };
}
