/**
 * Exit codes, decided here and nowhere else: 0 ok, 1 a runtime failure (a restart may fix it), 2 a mistake a
 * restart cannot fix (flags, configuration), 128+n after signal n cut a one-shot export short.
 */
import { CommanderError } from 'commander';
import { ConfigurationError, errorMessage, ExportError } from '../shared/errors.js';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export interface Verdict {
  code: number;
  /** The line to print, if commander has not printed one already. */
  message: string | null;
}

export function exitVerdict(err: unknown): Verdict {
  if (err instanceof CommanderError) {
    // Help asked for (`--help`, `help`) is a success; help shown because a group's subcommand is missing carries
    // exitCode 1 and is a usage mistake, so `ExecStart=oversight siem` cannot pass for a finished export.
    const asked = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || (err.code === 'commander.help' && err.exitCode === 0);
    return { code: asked ? EXIT.ok : EXIT.usage, message: null };
  }
  if (err instanceof ConfigurationError || err instanceof ExportError) return { code: err.exitCode, message: err.message };
  return { code: EXIT.failure, message: `unexpected error: ${errorMessage(err)} (set OVERSIGHT_DEBUG=1 for details)` };
}
