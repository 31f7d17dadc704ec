/**
 * Commander's usage errors, as one line. An unknown option is quoted as typed, so `--hec-token=SECRET` or a curl
 * habit like `-H'Authorization: Bearer …'` would print the secret, and commander's suggestion, made from the
 * whole `--name=value`, finds nothing: the message names the option alone, with a suggestion made from its name.
 */
import type { Command, Option } from 'commander';
import { escapeControls, redact } from '../shared/errors.js';
import { suggest } from './env.js';

const UNKNOWN = /^error: unknown option '(--[^=]*=|-[^-])[\s\S]*$/;

/** The message as one line: commander's own line breaks fold into spaces. */
export function usageErrorLine(message: string, cmd: Command): string {
  return withoutValue(message, cmd).trimEnd().replace(/\n+/g, ' ');
}

/**
 * The line for a terminal: a value quoted in the message (`--log-format $'x\r…'`) has its controls shown, as in
 * every text log line, so it cannot rewrite the line or forge another.
 */
export function usageErrorOutput(cmd: Command): (message: string, write: (text: string) => void) => void {
  return (message, write) => write(escapeControls(redact(usageErrorLine(message, cmd))) + '\n');
}

function withoutValue(message: string, cmd: Command): string {
  const m = UNKNOWN.exec(message);
  if (!m) return message;
  const name = m[1]!.replace(/=$/, '');
  const flags: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) {
    for (const o of c.options as readonly Option[]) if (o.long && !o.hidden) flags.push(o.long);
  }
  if (flags.includes(name)) return `error: option '${name}' takes no value: write it without '=…'`;
  const near = name.startsWith('--') ? suggest(name, flags) : null;
  return `error: unknown option '${name}'${near ? ` (Did you mean ${near}?)` : ''}`;
}
